//! Restart in seconds: a second `albatross reconcile --once` over converged stacks confirms each
//! by its load balancer's fingerprint (one tag query per class, one DescribeLoadBalancers per 20
//! load balancers) instead of reading listeners, rules and target groups; `--full-check` reads
//! everything; a changed stack, or one left half-changed, is read and converged in full.

mod local;

use std::time::Duration;

use albatross_aws::census::{CHANGING, FINGERPRINT_TAG};
use local::*;

const LB: &str = "my-example-gateway-alb";

/// Reads only a full check makes.
const FULL_READS: [&str; 5] =
    ["DescribeListeners", "DescribeRules", "DescribeTargetGroups", "DescribeLoadBalancerAttributes", "DescribeTags"];

fn full_reads(world: &World) -> Vec<String> {
    world.proxy.calls().into_iter().map(|c| c.action).filter(|a| FULL_READS.contains(&a.as_str())).collect()
}

async fn fingerprint(aws: &Aws) -> Option<String> {
    let arn = load_balancer_arn(aws, LB).await;
    let tags = aws.elbv2.describe_tags().resource_arns(arn).send().await.unwrap();
    let description = tags.tag_descriptions().first().cloned()?;
    description.tags().iter().find(|t| t.key() == Some(FINGERPRINT_TAG)).and_then(|t| t.value().map(str::to_owned))
}

#[tokio::test]
async fn a_restart_over_unchanged_stacks_reads_no_listener_rule_or_target_group() {
    let world = world().await;
    let out = reconcile(&world, Path::new(EXAMPLE), &[]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let stamped = fingerprint(&world.aws).await.expect("the converged stack carries its fingerprint");
    assert_ne!(stamped, CHANGING);

    let out = reconcile_again_writes_nothing(&world, Path::new(EXAMPLE), &[]).await;
    assert_eq!(full_reads(&world), Vec::<String>::new(), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("type: Hostname"), "the status still carries the address: {stdout}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("fingerprint confirmed"), "{}", text(&out));

    let out = reconcile_again_writes_nothing(&world, Path::new(EXAMPLE), &["--full-check"]).await;
    assert!(full_reads(&world).iter().any(|a| a == "DescribeRules"), "{}", text(&out));
}

#[tokio::test]
async fn a_changed_route_gets_a_full_check_and_a_new_fingerprint() {
    let world = world().await;
    let dir = tempfile::tempdir().unwrap();
    copy_dir(Path::new(EXAMPLE), dir.path());
    let out = reconcile(&world, dir.path(), &[]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let before = fingerprint(&world.aws).await;

    let routes = dir.path().join("routes.yaml");
    let changed = std::fs::read_to_string(&routes).unwrap().replace("/alb-response", "/alb-answer");
    std::fs::write(&routes, changed).unwrap();
    world.proxy.clear_calls();
    let out = reconcile(&world, dir.path(), &[]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    // Marked changing before the change, stamped after it.
    assert_eq!(mutations(&world), ["AddTags", "ModifyRule", "AddTags"], "{}", text(&out));
    assert!(full_reads(&world).iter().any(|a| a == "DescribeRules"), "{}", text(&out));
    let after = fingerprint(&world.aws).await;
    assert!(after.is_some() && after != before && after.as_deref() != Some(CHANGING), "{before:?} -> {after:?}");

    world.proxy.clear_calls();
    let out = reconcile(&world, dir.path(), &[]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(full_reads(&world), Vec::<String>::new(), "{}", text(&out));
}

#[tokio::test]
async fn a_change_made_by_hand_is_repaired_by_the_full_check() {
    let world = world().await;
    let out = reconcile(&world, Path::new(EXAMPLE), &[]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let arn = load_balancer_arn(&world.aws, LB).await;
    let listeners = world.aws.elbv2.describe_listeners().load_balancer_arn(&arn).send().await.unwrap();
    let http = listeners.listeners().iter().find(|l| l.port() == Some(80)).unwrap().listener_arn().unwrap();
    let rules = world.aws.elbv2.describe_rules().listener_arn(http).send().await.unwrap();
    let rule = rules.rules().iter().find(|r| r.is_default() != Some(true)).unwrap();
    world.aws.elbv2.delete_rule().rule_arn(rule.rule_arn().unwrap()).send().await.unwrap();

    // The fingerprint says nothing of hand-made changes: the full check finds them.
    let out = reconcile(&world, Path::new(EXAMPLE), &[]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(state(&world.aws, LB).await.1, vec![(80, 1), (443, 1)]);
    world.proxy.clear_calls();
    let out = reconcile(&world, Path::new(EXAMPLE), &["--full-check"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(mutations(&world), ["CreateRule"], "{}", text(&out));
    assert_eq!(state(&world.aws, LB).await.1, vec![(80, 2), (443, 1)]);
}

#[tokio::test]
async fn a_crash_in_the_middle_of_a_change_is_never_confirmed_by_the_old_fingerprint() {
    let world = world().await;
    let dir = tempfile::tempdir().unwrap();
    copy_dir(Path::new(EXAMPLE), dir.path());
    let out = reconcile(&world, dir.path(), &[]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let routes = dir.path().join("routes.yaml");
    let original = std::fs::read_to_string(&routes).unwrap();

    // The process dies once the fingerprint is marked changing, before the rule changes.
    std::fs::write(&routes, original.replace("/alb-response", "/alb-answer")).unwrap();
    world.proxy.clear_calls();
    world.proxy.hold_after_mutations(Some(world.proxy.mutations() + 1));
    let mut cmd = reconcile_command(&world, dir.path(), &[]);
    cmd.stdout(std::process::Stdio::null()).stderr(std::process::Stdio::null());
    let mut child = cmd.spawn().unwrap();
    tokio::time::timeout(Duration::from_secs(120), world.proxy.wait_for_hold()).await.expect("a write was held");
    child.kill().unwrap();
    child.wait().unwrap();
    world.proxy.drop_held();
    world.proxy.hold_after_mutations(None);
    assert_eq!(fingerprint(&world.aws).await.as_deref(), Some(CHANGING));

    // Back to the original manifests: the old fingerprint would match them, but the tag says
    // changing, so the stack is read and converged in full.
    std::fs::write(&routes, original).unwrap();
    world.proxy.clear_calls();
    let out = reconcile(&world, dir.path(), &[]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(full_reads(&world).iter().any(|a| a == "DescribeRules"), "{}", text(&out));
    let stamped = fingerprint(&world.aws).await;
    assert!(stamped.is_some() && stamped.as_deref() != Some(CHANGING), "{stamped:?}");
}
