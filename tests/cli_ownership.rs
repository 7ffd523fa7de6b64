//! `albatross reconcile` deletes only what is provably ours: an explicit cluster name, a missing
//! class keeps its stack, deletion protection holds, every deletion error is reported.

mod local;

use local::*;

#[tokio::test]
async fn two_clusters_on_the_default_name_cannot_start() {
    let world = world().await;
    for args in [&["reconcile", "--manifests", EXAMPLE, "--aws-unlimited"][..], &["serve"][..]] {
        let out = output(albatross(&world, args)).await;
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", text(&out));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("--cluster-name or ALBATROSS_CLUSTER_NAME"), "{args:?}: {}", text(&out));
    }
    assert_eq!(world.proxy.calls(), vec![], "no AWS call without a cluster name");

    // The environment still names it.
    let mut cmd = albatross(&world, &["reconcile", "--manifests", EXAMPLE, "--aws-unlimited", "--vpc-id", &world.vpc]);
    cmd.env("ALBATROSS_CLUSTER_NAME", CLUSTER);
    let out = output(cmd).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
}

#[tokio::test]
async fn iam_policy_prints_the_policy_for_the_cluster_name_given() {
    let world = world().await;
    let out = output(albatross(&world, &["iam-policy", "--cluster-name", "prod-eu"])).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout), albatross_aws::iam::policy_text("prod-eu"));
    for args in
        [&["iam-policy"][..], &["iam-policy", "--cluster-name", ""][..], &["iam-policy", "--cluster-name", "a\"b"]]
    {
        let out = output(albatross(&world, args)).await;
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", text(&out));
    }
}

#[tokio::test]
async fn missing_gateway_class_keeps_the_load_balancer() {
    let world = world().await;
    let out = reconcile(&world, Path::new(EXAMPLE), &[]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));

    let dir = tempfile::tempdir().unwrap();
    example_with_class(dir.path(), None);
    world.proxy.clear_calls();
    let out = reconcile(&world, dir.path(), &[]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("reason: GatewayClassNotFound"), "{}", text(&out));
    assert_eq!(mutations(&world), Vec::<String>::new(), "{}", text(&out));
    assert_eq!(state(&world.aws, "my-example-gateway-alb").await, (1, vec![(80, 2), (443, 1)], 2));

    // Given to another controller, the Gateway is no longer ours: its stack goes.
    let dir = tempfile::tempdir().unwrap();
    example_with_class(dir.path(), Some("example.com/other"));
    let out = reconcile(&world, dir.path(), &[]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(state(&world.aws, "my-example-gateway-alb").await, (0, vec![], 0), "{}", text(&out));
}

#[tokio::test]
async fn deletion_protected_load_balancer_is_never_deleted() {
    let world = world().await;
    let out = reconcile(&world, Path::new(EXAMPLE), &[]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    protect(&world.aws, &load_balancer_arn(&world.aws, "my-example-gateway-alb").await).await;
    let whole = (1, vec![(80, 2), (443, 1)], 2);

    world.proxy.clear_calls();
    let out = reconcile(&world, Path::new(EXAMPLE), &["--delete"]).await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("deletion protection is on"), "{}", text(&out));
    assert_eq!(mutations(&world), Vec::<String>::new(), "{}", text(&out));
    assert_eq!(state(&world.aws, "my-example-gateway-alb").await, whole);

    // Its Gateway gone from the manifests: the orphan sweep keeps it too, and says so.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("class.yaml"), NLB.split("\n---\n").next().unwrap()).unwrap();
    let out = reconcile(&world, dir.path(), &[]).await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("example-ns/my-alb-gateway: not in the manifests, but deletion protection"), "{stderr}");
    assert_eq!(state(&world.aws, "my-example-gateway-alb").await.0, 1);
}

#[tokio::test]
async fn failed_stale_load_balancer_delete_is_reported() {
    let world = world().await;
    let out = reconcile(&world, Path::new(EXAMPLE), &[]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    // A load balancer of the same stack under another name (left by a rename), that AWS will
    // not delete: the proxy refuses it as AWS does while deletion protection is on.
    let current = load_balancer_arn(&world.aws, "my-example-gateway-alb").await;
    let tags = world.aws.elbv2.describe_tags().resource_arns(&current).send().await.unwrap();
    let subnets = world.aws.ec2.describe_subnets().send().await.unwrap();
    let ids: Vec<String> = subnets.subnets().iter().filter_map(|s| s.subnet_id().map(str::to_owned)).collect();
    let stale = world
        .aws
        .elbv2
        .create_load_balancer()
        .name("my-example-gateway-old")
        .set_subnets(Some(ids))
        .set_tags(Some(tags.tag_descriptions()[0].tags().to_vec()))
        .send()
        .await
        .unwrap();
    let stale = stale.load_balancers()[0].load_balancer_arn().unwrap().to_owned();
    protect(&world.aws, &stale).await;

    let out = reconcile(&world, Path::new(EXAMPLE), &[]).await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("reason: DeletionProtected") && stdout.contains(&stale), "{}", text(&out));
    let left = world.aws.elbv2.describe_load_balancers().load_balancer_arns(&stale).send().await.unwrap();
    assert_eq!(left.load_balancers().len(), 1);
}

#[tokio::test]
async fn a_protected_orphan_does_not_stop_the_sweep_of_the_others() {
    let world = world().await;
    let dir = tempfile::tempdir().unwrap();
    copy_dir(Path::new(EXAMPLE), dir.path());
    std::fs::write(dir.path().join("nlb.yaml"), NLB).unwrap();
    let out = reconcile(&world, dir.path(), &["--channel", "experimental"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    protect(&world.aws, &load_balancer_arn(&world.aws, "my-example-gateway-alb").await).await;

    // Neither Gateway is in the manifests any more; the protected stack comes first.
    let empty = tempfile::tempdir().unwrap();
    std::fs::write(empty.path().join("class.yaml"), NLB.split("\n---\n").next().unwrap()).unwrap();
    let out = reconcile(&world, empty.path(), &[]).await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("example-ns/my-alb-gateway: not in the manifests, but deletion protection"), "{stderr}");
    assert!(stderr.contains("shop/edge: not in the manifests or moved to another controller"), "{stderr}");
    let lbs = world.aws.elbv2.describe_load_balancers().send().await.unwrap();
    let names: Vec<&str> = lbs.load_balancers().iter().filter_map(|l| l.load_balancer_name()).collect();
    assert_eq!(names, ["my-example-gateway-alb"], "{}", text(&out));
}
