//! `albatross reconcile` against a real moto server behind the proxy that refuses what AWS
//! would refuse and counts every call.

mod local;

use local::*;

#[tokio::test]
async fn the_announcement_example_converges_and_a_second_run_makes_no_mutating_call() {
    let world = world().await;
    let out = reconcile(&world, Path::new(EXAMPLE), &[]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("type: Hostname"), "{stdout}");
    let (lbs, rules, tgs) = state(&world.aws, "my-example-gateway-alb").await;
    assert_eq!(lbs, 1);
    assert_eq!(rules, vec![(80, 2), (443, 1)]);
    assert_eq!(tgs, 2);

    let out = reconcile_again_writes_nothing(&world, Path::new(EXAMPLE), &[]).await;
    assert!(String::from_utf8_lossy(&out.stderr).contains("0 mutating"), "{}", text(&out));
}

#[tokio::test]
async fn changing_one_route_touches_only_that_routes_rule() {
    let world = world().await;
    let dir = tempfile::tempdir().unwrap();
    copy_dir(Path::new(EXAMPLE), dir.path());
    let out = reconcile(&world, dir.path(), &[]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));

    let routes = dir.path().join("routes.yaml");
    let changed = std::fs::read_to_string(&routes).unwrap().replace("/alb-response", "/alb-answer");
    std::fs::write(&routes, changed).unwrap();
    world.proxy.clear_calls();
    let out = reconcile(&world, dir.path(), &[]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    // The stack's fingerprint is marked changing first and written again after.
    assert_eq!(mutations(&world), ["AddTags", "ModifyRule", "AddTags"], "{}", text(&out));
}

#[tokio::test]
async fn deleting_a_route_removes_only_its_rules_and_target_group() {
    let world = world().await;
    let dir = tempfile::tempdir().unwrap();
    copy_dir(Path::new(EXAMPLE), dir.path());
    let out = reconcile(&world, dir.path(), &[]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));

    let routes = dir.path().join("routes.yaml");
    let all = std::fs::read_to_string(&routes).unwrap();
    let kept: Vec<&str> = all.split("\n---\n").filter(|d| !d.contains("name: http-route-orange")).collect();
    std::fs::write(&routes, kept.join("\n---\n")).unwrap();
    world.proxy.clear_calls();
    let out = reconcile(&world, dir.path(), &[]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(mutations(&world), ["AddTags", "DeleteRule", "DeleteTargetGroup", "AddTags"], "{}", text(&out));
    let (_, rules, tgs) = state(&world.aws, "my-example-gateway-alb").await;
    assert_eq!(rules, vec![(80, 2), (443, 0)]);
    assert_eq!(tgs, 1);
}

#[tokio::test]
async fn deleting_the_gateway_leaves_nothing_of_ours() {
    let world = world().await;
    let out = reconcile(&world, Path::new(EXAMPLE), &[]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let out = reconcile(&world, Path::new(EXAMPLE), &["--delete"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(state(&world.aws, "my-example-gateway-alb").await, (0, vec![], 0));
    let groups = world
        .aws
        .ec2
        .describe_security_groups()
        .filters(Filter::builder().name("tag:elbv2.k8s.aws/cluster").values(CLUSTER).build())
        .send()
        .await
        .unwrap();
    let frontends: Vec<_> = groups
        .security_groups()
        .iter()
        .filter(|g| g.tags().iter().any(|t| t.key() == Some("gateway.k8s.aws.alb/stack")))
        .collect();
    assert!(frontends.is_empty(), "{frontends:?}");
}

#[tokio::test]
async fn a_foreign_load_balancer_with_the_same_name_is_never_adopted_or_deleted() {
    let world = world().await;
    let subnets = world.aws.ec2.describe_subnets().send().await.unwrap();
    let ids: Vec<String> = subnets.subnets().iter().filter_map(|s| s.subnet_id().map(str::to_owned)).collect();
    let foreign = world
        .aws
        .elbv2
        .create_load_balancer()
        .name("my-example-gateway-alb")
        .set_subnets(Some(ids))
        .send()
        .await
        .unwrap();
    let foreign_arn = foreign.load_balancers()[0].load_balancer_arn().unwrap().to_owned();

    let out = reconcile(&world, Path::new(EXAMPLE), &[]).await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("LoadBalancerNameTaken"), "{}", text(&out));
    let out = reconcile(&world, Path::new(EXAMPLE), &["--delete"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let left = world.aws.elbv2.describe_load_balancers().load_balancer_arns(&foreign_arn).send().await.unwrap();
    assert_eq!(left.load_balancers().len(), 1);
    let listeners = world.aws.elbv2.describe_listeners().load_balancer_arn(&foreign_arn).send().await.unwrap();
    assert!(listeners.listeners().is_empty());
}

#[tokio::test]
async fn an_nlb_gets_tcp_and_udp_listeners_and_converges_to_no_change() {
    let world = world().await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("nlb.yaml"), NLB).unwrap();
    let out = reconcile(&world, dir.path(), &["--channel", "experimental"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let lbs = world.aws.elbv2.describe_load_balancers().send().await.unwrap();
    let lb = &lbs.load_balancers()[0];
    assert_eq!(lb.r#type().map(|t| t.as_str()), Some("network"));
    let listeners =
        world.aws.elbv2.describe_listeners().load_balancer_arn(lb.load_balancer_arn().unwrap()).send().await.unwrap();
    let mut ports: Vec<(i32, String)> =
        listeners.listeners().iter().map(|l| (l.port().unwrap(), l.protocol().unwrap().as_str().to_owned())).collect();
    ports.sort();
    assert_eq!(ports, vec![(53, "UDP".to_owned()), (5432, "TCP".to_owned())]);
    world.proxy.clear_calls();
    let out = reconcile(&world, dir.path(), &["--channel", "experimental"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(mutations(&world), Vec::<String>::new());
}

#[tokio::test]
async fn throttling_server_errors_and_dropped_connections_still_converge_without_leaks() {
    let world = world().await;
    world.proxy.set_faults(Faults { throttle: 0.1, server_error: 0.05, drop_before: 0.05, drop_after: 0.05, seed: 7 });
    let mut last = None;
    for _ in 0..3 {
        let out = reconcile(&world, Path::new(EXAMPLE), &[]).await;
        let ok = out.status.code() == Some(0);
        last = Some(out);
        if ok {
            break;
        }
    }
    let out = last.unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(world.proxy.calls().iter().any(|c| c.injected.is_some()));
    world.proxy.set_faults(Faults::default());
    world.proxy.clear_calls();
    let out = reconcile(&world, Path::new(EXAMPLE), &[]).await;
    assert_eq!(mutations(&world), Vec::<String>::new(), "{}", text(&out));
    assert_eq!(state(&world.aws, "my-example-gateway-alb").await, (1, vec![(80, 2), (443, 1)], 2));
}

#[tokio::test]
async fn a_run_killed_at_any_mutation_and_restarted_converges_without_duplicates() {
    let world = world().await;
    let dir = tempfile::tempdir().unwrap();
    copy_dir(Path::new(EXAMPLE), dir.path());
    std::fs::write(dir.path().join("more.yaml"), MORE_ROUTES).unwrap();
    let manifests = dir.path().to_str().unwrap();
    // The shared backend security group outlives stacks: create it once, then count how many
    // mutations a full convergence takes.
    let out = reconcile(&world, dir.path(), &[]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let out = reconcile(&world, dir.path(), &["--delete"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    world.proxy.clear_calls();
    let out = reconcile(&world, dir.path(), &[]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let total = world.proxy.mutating_calls().len();
    let expected = state(&world.aws, "my-example-gateway-alb").await;
    let out = reconcile(&world, dir.path(), &["--delete"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));

    // Killed after k mutations, for every k before the last.
    let points: Vec<usize> = (0..total).collect();
    assert!(points.len() >= 20, "{total}");
    eprintln!("killing the run after each of 0..{total} mutations");
    let mut killed = 0;
    for k in points {
        let started = world.proxy.mutations();
        world.proxy.hold_after_mutations(Some(started + k));
        let mut cmd = reconcile_command(&world, Path::new(manifests), &[]);
        cmd.stdout(std::process::Stdio::null()).stderr(std::process::Stdio::null());
        let mut child = cmd.spawn().unwrap();
        // Concurrent writes can all be in flight past mutation k: then the run ends by itself.
        let held = tokio::time::timeout(std::time::Duration::from_secs(60), async {
            loop {
                if world.proxy.held() > 0 {
                    return true;
                }
                if child.try_wait().unwrap().is_some() {
                    return false;
                }
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            }
        })
        .await;
        child.kill().unwrap();
        let status = child.wait().unwrap();
        world.proxy.hold_after_mutations(None);
        world.proxy.drop_held();
        match held {
            Ok(true) => killed += 1,
            Ok(false) => assert!(
                status.success() && world.proxy.mutations() - started > k,
                "the run ended before mutation {k} ({status})"
            ),
            Err(_) => panic!("the run never reached mutation {k}"),
        }

        let out = reconcile(&world, dir.path(), &[]).await;
        assert_eq!(out.status.code(), Some(0), "after a kill at mutation {k}: {}", text(&out));
        assert_eq!(state(&world.aws, "my-example-gateway-alb").await, expected, "after a kill at mutation {k}");
        world.proxy.clear_calls();
        let out = reconcile(&world, dir.path(), &[]).await;
        assert_eq!(mutations(&world), Vec::<String>::new(), "after a kill at mutation {k}: {}", text(&out));
        let out = reconcile(&world, dir.path(), &["--delete"]).await;
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
        assert_eq!(state(&world.aws, "my-example-gateway-alb").await, (0, vec![], 0), "leak after a kill at {k}");
    }
    // Only kill points in the last burst of concurrent writes can be passed without a kill.
    assert!(killed + albatross_aws::apply::DEFAULT_CONCURRENCY >= total, "{killed} of {total} runs killed");
}

#[tokio::test]
async fn watch_reconciles_again_when_a_manifest_changes() {
    use std::io::{BufRead, BufReader};
    let world = world().await;
    let dir = tempfile::tempdir().unwrap();
    copy_dir(Path::new(EXAMPLE), dir.path());
    let mut child = reconcile_command(&world, dir.path(), &["--watch"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let wait_programmed = |rx: &std::sync::mpsc::Receiver<String>| loop {
        let line = rx.recv_timeout(std::time::Duration::from_secs(60)).expect("a reconcile within 60 s");
        if line.contains("programmed") {
            return line;
        }
    };
    // The proxy runs on this test's runtime: wait off it.
    let rx = tokio::task::spawn_blocking(move || {
        wait_programmed(&rx);
        rx
    })
    .await
    .unwrap();
    world.proxy.clear_calls();
    // Modification times are compared, so give the clock a moment to move on.
    std::thread::sleep(std::time::Duration::from_millis(50));
    let routes = dir.path().join("routes.yaml");
    let changed = std::fs::read_to_string(&routes).unwrap().replace("/alb-response", "/alb-answer");
    std::fs::write(&routes, changed).unwrap();
    let line = tokio::task::spawn_blocking(move || wait_programmed(&rx)).await.unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(line.contains("(1 changes)"), "{line}");
    assert_eq!(mutations(&world), ["AddTags", "ModifyRule", "AddTags"]);
}

#[tokio::test]
async fn configured_subnet_selector_and_source_ranges_shape_the_load_balancer_and_its_security_group() {
    let world = world().await;
    let mut edge = Vec::new();
    for (i, zone) in ["us-east-1a", "us-east-1c"].iter().enumerate() {
        let subnet = world
            .aws
            .ec2
            .create_subnet()
            .vpc_id(&world.vpc)
            .cidr_block(format!("10.0.{}.0/24", 10 + i))
            .availability_zone(*zone)
            .tag_specifications(
                TagSpecification::builder()
                    .resource_type(ResourceType::Subnet)
                    .tags(Tag::builder().key("tier").value("edge").build())
                    .build(),
            )
            .send()
            .await
            .unwrap();
        edge.push(subnet.subnet().unwrap().subnet_id().unwrap().to_owned());
    }
    let dir = tempfile::tempdir().unwrap();
    copy_dir(Path::new(EXAMPLE), dir.path());
    let gateway = dir.path().join("gateway.yaml");
    let configured = std::fs::read_to_string(&gateway).unwrap().replace(
        "  scheme: internet-facing\n",
        "  scheme: internet-facing\n  loadBalancerSubnetsSelector:\n    tier: [edge]\n  sourceRanges: [10.1.0.0/16]\n",
    );
    std::fs::write(&gateway, configured).unwrap();
    let out = reconcile(&world, dir.path(), &[]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));

    let lbs = world.aws.elbv2.describe_load_balancers().names("my-example-gateway-alb").send().await.unwrap();
    let lb = &lbs.load_balancers()[0];
    let mut subnets: Vec<String> =
        lb.availability_zones().iter().filter_map(|z| z.subnet_id().map(str::to_owned)).collect();
    subnets.sort();
    edge.sort();
    assert_eq!(subnets, edge);
    let groups = world.aws.ec2.describe_security_groups().set_group_ids(Some(lb.security_groups().to_vec())).send();
    let groups = groups.await.unwrap();
    let frontend = groups
        .security_groups()
        .iter()
        .find(|g| g.tags().iter().any(|t| t.value() == Some("ManagedLBSecurityGroup")))
        .expect("a managed frontend group");
    let mut opened: Vec<(i32, String)> = frontend
        .ip_permissions()
        .iter()
        .flat_map(|p| p.ip_ranges().iter().map(move |r| (p.from_port().unwrap(), r.cidr_ip().unwrap().to_owned())))
        .collect();
    opened.sort();
    assert_eq!(opened, vec![(80, "10.1.0.0/16".to_owned()), (443, "10.1.0.0/16".to_owned())]);
}

#[tokio::test]
async fn oidc_client_credentials_come_from_a_secret_in_the_manifests() {
    let world = world().await;
    albatross_test_support::acm::import_self_signed(&world.aws.acm, "shop.example.com", &["shop.example.com"]).await;
    let dir = tempfile::tempdir().unwrap();
    let golden =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("model/tests/golden/lrc-authenticate-oidc-https/input.yaml");
    std::fs::copy(golden, dir.path().join("input.yaml")).unwrap();

    // Without the Secret nothing half-configured reaches AWS: the Gateway is not programmed.
    let out = reconcile(&world, dir.path(), &[]).await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("shop/oidc-client"), "{}", text(&out));
    assert!(!world.proxy.calls().iter().any(|c| c.action == "CreateRule"));

    let secret = "apiVersion: v1\nkind: Secret\nmetadata: {name: oidc-client, namespace: shop}\n\
                  stringData: {clientID: my-client-id, clientSecret: my-client-secret}\n";
    std::fs::write(dir.path().join("secret.yaml"), secret).unwrap();
    let out = reconcile(&world, dir.path(), &[]).await;
    assert!(out.status.success(), "{}", text(&out));
    let lbs = world.aws.elbv2.describe_load_balancers().send().await.unwrap();
    let lb = lbs.load_balancers()[0].load_balancer_arn().unwrap();
    let listeners = world.aws.elbv2.describe_listeners().load_balancer_arn(lb).send().await.unwrap();
    let https = listeners.listeners().iter().find(|l| l.port() == Some(443)).unwrap();
    let rules = world.aws.elbv2.describe_rules().listener_arn(https.listener_arn().unwrap()).send().await.unwrap();
    let oidc = rules.rules().iter().flat_map(|r| r.actions()).find_map(|a| a.authenticate_oidc_config()).unwrap();
    assert_eq!(oidc.client_id(), Some("my-client-id"));

    world.proxy.clear_calls();
    let out = reconcile(&world, dir.path(), &[]).await;
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(mutations(&world), Vec::<String>::new(), "a resolved id compares equal to AWS's");
}

#[path = "../reconciler/tests/fixtures/lures.rs"]
mod lures;

#[tokio::test]
async fn secret_reference_text_is_sent_literally_in_local_mode() {
    let world = world().await;
    albatross_test_support::acm::import_self_signed(&world.aws.acm, "shop.example.com", &["shop.example.com"]).await;
    let dir = tempfile::tempdir().unwrap();
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("reconciler/tests/fixtures/secret-lures.yaml");
    std::fs::copy(&fixture, dir.path().join("input.yaml")).unwrap();
    // The victim's Secret is in the manifests too: only the typed OIDC reference is resolved.
    let out = reconcile(&world, dir.path(), &[]).await;
    assert!(out.status.success(), "{}", text(&out));
    lures::assert_sent_literally(&world.aws).await;
    assert!(!text(&out).contains(lures::PASSWORD), "{}", text(&out));

    // The plan shows the reference, never a value.
    let certificates =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("model/tests/golden/lrc-authenticate-oidc-https/certificates.yaml");
    let plan = Command::new(env!("CARGO_BIN_EXE_albatross"))
        .args(["plan", "--output", "json", "--certificates"])
        .args([&certificates, &fixture])
        .output();
    let plan = String::from_utf8(plan.unwrap().stdout).unwrap();
    assert!(plan.contains(r#""SecretRef""#) && plan.contains(lures::LURE), "{plan}");
    assert!(!plan.contains("my-client-id") && !plan.contains(lures::PASSWORD), "{plan}");
}

/// The class's configuration sets the scheme, the Gateway's an Elastic IP: each is valid alone,
/// together the build refuses the Gateway (`Accepted=False`, `InvalidParameters`).
const REFUSED_NLB: &str = r#"
apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: nlb}
spec:
  controllerName: gateway.k8s.aws/nlb
  parametersRef: {group: gateway.k8s.aws, kind: LoadBalancerConfiguration, name: platform, namespace: shop}
---
apiVersion: gateway.k8s.aws/v1beta1
kind: LoadBalancerConfiguration
metadata: {name: platform, namespace: shop}
spec: {scheme: internal}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: edge, namespace: shop}
spec:
  gatewayClassName: nlb
  infrastructure:
    parametersRef: {group: gateway.k8s.aws, kind: LoadBalancerConfiguration, name: edge}
  listeners:
  - {name: db, protocol: TCP, port: 5432}
---
apiVersion: gateway.k8s.aws/v1beta1
kind: LoadBalancerConfiguration
metadata: {name: edge, namespace: shop}
spec:
  loadBalancerSubnets:
  - {identifier: subnet-a, eipAllocation: eipalloc-0a}
"#;

#[tokio::test]
async fn a_gateway_the_build_refuses_makes_the_exit_code_1() {
    let world = world().await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("edge.yaml"), REFUSED_NLB).unwrap();
    let out = reconcile(&world, dir.path(), &[]).await;
    assert!(String::from_utf8_lossy(&out.stdout).contains("reason: InvalidParameters"), "{}", text(&out));
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert_eq!(mutations(&world), Vec::<String>::new(), "{}", text(&out));
}
