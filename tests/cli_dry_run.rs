//! `albatross reconcile --dry-run` and the `gateway.k8s.aws/dry-run` annotation against moto
//! behind the proxy, which counts every mutating call that reaches AWS: a dry run makes none,
//! and what it prints is what the real run then does.

mod local;

use local::*;
use serde_json::Value;

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(out)))
}

/// `(operation, resource)` of every step of every Gateway in a JSON report.
fn operations(report: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for gateway in report["gateways"].as_array().unwrap() {
        for step in gateway["steps"].as_array().unwrap() {
            out.push((step["operation"].as_str().unwrap().into(), step["resource"].as_str().unwrap().into()));
        }
    }
    out
}

#[tokio::test]
async fn a_dry_run_of_a_new_stack_lists_every_create_and_changes_nothing() {
    let world = world().await;
    let out = reconcile(&world, Path::new(EXAMPLE), &["--dry-run"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(mutations(&world), Vec::<String>::new(), "{}", text(&out));
    assert!(!world.proxy.calls().is_empty(), "the dry run read AWS through the proxy");
    assert_eq!(state(&world.aws, "my-example-gateway-alb").await, (0, vec![], 0));

    let printed = stdout(&out);
    for expected in [
        // The managed group is named by LBC's formula, k8s-<namespace[:8]>-<name[:8]>-<hash>.
        "CreateSecurityGroup <new security group k8s-examplen-myalbgat-",
        "CreateLoadBalancer <new load balancer my-example-gateway-alb>",
        "CreateListener <new listener HTTP:80>: on <new load balancer my-example-gateway-alb>",
        "CreateListener <new listener HTTPS:443>",
        "forward to <new target group",
        "Summary: 0 load balancers replaced, 1 created, 0 modified, 0 deleted; listeners: 2 created",
    ] {
        assert!(printed.contains(expected), "{expected:?} missing from:\n{printed}");
    }
    assert!(String::from_utf8_lossy(&out.stderr).contains("0 mutating"), "{}", text(&out));

    // The JSON report counts the same, and the real run then makes each create it listed.
    let out = reconcile(&world, Path::new(EXAMPLE), &["--dry-run", "--output", "json"]).await;
    let report = json(&out);
    let summary = &report["summary"];
    assert_eq!(summary["loadBalancersReplaced"], 0);
    assert_eq!(summary["loadBalancers"]["created"], 1);
    assert_eq!(summary["targetGroups"]["created"], 2);
    assert_eq!(summary["rules"]["created"], 3);
    let listed: Vec<String> = operations(&report).into_iter().map(|(op, _)| op).collect();
    assert_eq!(mutations(&world), Vec::<String>::new());
    let out = reconcile(&world, Path::new(EXAMPLE), &[]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let mut made = mutations(&world);
    // The last write is the stack's fingerprint (bookkeeping for restarts, not a change the dry
    // run lists).
    assert_eq!(made.pop().as_deref(), Some("AddTags"));
    let mut listed = listed;
    made.sort();
    listed.sort();
    assert_eq!(made, listed, "the dry run listed exactly the calls the real run made");
}

#[tokio::test]
async fn a_dry_run_of_a_changed_route_shows_its_one_rule_by_arn_and_the_real_run_agrees() {
    let world = world().await;
    let dir = tempfile::tempdir().unwrap();
    copy_dir(Path::new(EXAMPLE), dir.path());
    let out = reconcile(&world, dir.path(), &[]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));

    let out = reconcile(&world, dir.path(), &["--dry-run"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(stdout(&out).contains("no change"), "{}", text(&out));
    assert!(stdout(&out).contains("Summary: 0 load balancers replaced, 0 created, 0 modified, 0 deleted"));

    let routes = dir.path().join("routes.yaml");
    let changed = std::fs::read_to_string(&routes).unwrap().replace("/alb-response", "/alb-answer");
    std::fs::write(&routes, changed).unwrap();
    world.proxy.clear_calls();
    let out = reconcile(&world, dir.path(), &["--dry-run", "--output", "json"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(mutations(&world), Vec::<String>::new(), "{}", text(&out));
    let report = json(&out);
    let steps = operations(&report);
    assert_eq!(steps.len(), 1, "{steps:?}");
    assert_eq!(steps[0].0, "ModifyRule");
    assert!(steps[0].1.starts_with("arn:aws:elasticloadbalancing:"), "an existing rule, by ARN: {steps:?}");
    assert_eq!(report["summary"]["rules"]["modified"], 1);
    assert_eq!(report["summary"]["loadBalancersReplaced"], 0);

    let out = reconcile(&world, dir.path(), &[]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    // Around the listed change, the fingerprint marked changing and written again.
    assert_eq!(mutations(&world), ["AddTags", "ModifyRule", "AddTags"], "{}", text(&out));
}

#[tokio::test]
async fn a_dry_run_lists_the_orphan_sweep_and_the_deletion_without_deleting() {
    let world = world().await;
    let out = reconcile(&world, Path::new(EXAMPLE), &[]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    world.proxy.clear_calls();

    // The Gateway is not in these manifests: a real run would sweep its stack.
    let other = tempfile::tempdir().unwrap();
    std::fs::write(other.path().join("nlb.yaml"), NLB).unwrap();
    let out = reconcile(&world, other.path(), &["--dry-run", "--channel", "experimental"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let printed = stdout(&out);
    assert!(printed.contains("Gateway example-ns/my-alb-gateway (not in the manifests"), "{printed}");
    assert!(printed.contains("DeleteLoadBalancer arn:"), "{printed}");
    assert_eq!(printed.matches("DeleteSecurityGroup sg-").count(), 1, "{printed}");

    let out = reconcile(&world, Path::new(EXAMPLE), &["--delete", "--dry-run", "--output", "json"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let report = json(&out);
    assert_eq!(report["summary"]["loadBalancers"]["deleted"], 1);
    assert_eq!(report["summary"]["targetGroups"]["deleted"], 2);

    assert_eq!(mutations(&world), Vec::<String>::new(), "{}", text(&out));
    assert_eq!(state(&world.aws, "my-example-gateway-alb").await.0, 1);
}

#[tokio::test]
async fn a_gateway_annotated_dry_run_is_previewed_not_applied_until_the_annotation_goes() {
    let world = world().await;
    let dir = tempfile::tempdir().unwrap();
    copy_dir(Path::new(EXAMPLE), dir.path());
    let gateway = dir.path().join("gateway.yaml");
    let original = std::fs::read_to_string(&gateway).unwrap();
    let annotated = original.replace(
        "  name: my-alb-gateway\n  namespace: example-ns\n",
        "  name: my-alb-gateway\n  namespace: example-ns\n  annotations:\n    gateway.k8s.aws/dry-run: \"true\"\n",
    );
    assert_ne!(annotated, original);
    std::fs::write(&gateway, &annotated).unwrap();

    let out = reconcile(&world, dir.path(), &[]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(mutations(&world), Vec::<String>::new(), "{}", text(&out));
    assert!(stdout(&out).contains("reason: DryRun"), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("dry run: CreateLoadBalancer"), "{}", text(&out));

    std::fs::write(&gateway, &original).unwrap();
    let out = reconcile(&world, dir.path(), &[]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(state(&world.aws, "my-example-gateway-alb").await.0, 1);

    // Annotated again, `--delete` keeps its stack and says so.
    std::fs::write(&gateway, &annotated).unwrap();
    world.proxy.clear_calls();
    let out = reconcile(&world, dir.path(), &["--delete"]).await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("its stack is kept"), "{}", text(&out));
    assert_eq!(mutations(&world), Vec::<String>::new(), "{}", text(&out));
    assert_eq!(state(&world.aws, "my-example-gateway-alb").await.0, 1);
}

#[tokio::test]
async fn output_needs_dry_run() {
    let world = world().await;
    let out = reconcile(&world, Path::new(EXAMPLE), &["--output", "json"]).await;
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert_eq!(mutations(&world), Vec::<String>::new());
}

/// The `albatross` commands of a doc's `sh` blocks, without output redirections and pipes.
fn doc_commands(doc: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let mut in_sh = false;
    for line in doc.lines() {
        match line.trim() {
            "```sh" => in_sh = true,
            "```" => in_sh = false,
            l if in_sh && l.starts_with("albatross ") => {
                let command = l.split(" | ").next().unwrap().split(" > ").next().unwrap();
                out.push(command.split_whitespace().skip(1).map(str::to_owned).collect());
            }
            _ => {}
        }
    }
    out
}

#[tokio::test]
async fn the_migration_guides_commands_run_as_written_and_show_no_replacement_of_an_adopted_stack() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let doc = std::fs::read_to_string(root.join("docs/migrating-from-lbc.md")).unwrap();
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    assert!(readme.contains("(docs/migrating-from-lbc.md)"), "the README links the guide");
    // The in-cluster steps name the annotations and chart values that exist.
    for text in [
        "gateway.k8s.aws/dry-run=true",
        "gateway.k8s.aws/dry-run-",
        r"gateway\.k8s\.aws/dry-run-plan",
        "ALBGatewayAPI=false",
        "NLBGatewayAPI=false",
        "controllerConfig.featureGates",
        "aws.clusterName",
    ] {
        assert!(doc.contains(text), "{text}");
    }
    assert_eq!(albatross_model::dry_run::ANNOTATION, "gateway.k8s.aws/dry-run");
    assert_eq!(albatross_model::dry_run::PLAN_ANNOTATION, "gateway.k8s.aws/dry-run-plan");
    let values = std::fs::read_to_string(root.join("charts/albatross/values.yaml")).unwrap();
    assert!(values.contains("  clusterName:") && values.contains("replicaCount:"));

    // A stack made under the guide's cluster name, as LBC names and tags it.
    let world = world().await;
    let manifests = tempfile::tempdir().unwrap();
    copy_dir(Path::new(EXAMPLE), manifests.path());
    let dir = manifests.path().to_str().unwrap().to_owned();
    let seed = albatross(&world, &["reconcile", "--manifests", &dir, "--cluster-name", "my-cluster"]);
    let out = output(seed).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    world.proxy.clear_calls();

    let commands = doc_commands(&doc);
    assert_eq!(commands.len(), 4, "{commands:?}");
    for args in commands {
        let args: Vec<String> = args.into_iter().map(|a| a.replace("./gateway-manifests/", &dir)).collect();
        let strs: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = output(albatross(&world, &strs)).await;
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", text(&out));
        match (args[0].as_str(), args.contains(&"json".to_owned())) {
            ("iam-policy", _) => {
                let printed: Value = serde_json::from_slice(&out.stdout).unwrap();
                let committed: Value =
                    serde_json::from_str(&std::fs::read_to_string(root.join("manifests/iam-policy.json")).unwrap())
                        .unwrap();
                assert_eq!(printed, committed);
            }
            ("reconcile", false) => {
                let printed = stdout(&out);
                assert!(printed.contains("Summary: 0 load balancers replaced, 0 created"), "{printed}");
                assert!(printed.contains("no change"), "{printed}");
            }
            ("reconcile", true) => assert_eq!(json(&out)["summary"]["loadBalancersReplaced"], 0),
            _ => {}
        }
    }
    assert_eq!(mutations(&world), Vec::<String>::new());
}
