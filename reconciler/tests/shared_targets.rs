//! `enableMultiCluster`: the record of the targets this cluster registered in a target group
//! shared with other clusters lives in a ConfigMap in the controller's namespace, so a restart
//! or a failover still deregisters ours, and only ours.

mod common;

use std::collections::BTreeSet;

use albatross_aws::targets::Target;
use albatross_reconciler::shared_targets::{self, Held, RecordError, Records};
use aws_sdk_elasticloadbalancingv2::types::TargetDescription;
use common::*;

const HOME: &str = "albatross-system";

fn shared_config() -> Value {
    json!({"apiVersion": "gateway.k8s.aws/v1", "kind": "TargetGroupConfiguration",
           "metadata": {"name": "svc-a", "namespace": "apps"},
           "spec": {"targetReference": {"name": "svc-a"}, "defaultConfiguration": {"enableMultiCluster": true}}})
}

fn ready(ips: &[&str]) -> Value {
    Value::Array(ips.iter().map(|ip| json!({"addresses": [ip], "conditions": {"ready": true}})).collect())
}

/// The world of the other tests, svc-a's target group shared, with these pods behind svc-a.
fn shared_world(ips: &[&str]) -> Vec<Value> {
    let mut objects: Vec<Value> = world("All").into_iter().filter(|o| o["metadata"]["name"] != "svc-a-1").collect();
    objects.push(slice("svc-a", ready(ips)));
    objects.push(shared_config());
    objects
}

/// `ip:port` of each target registered in a target group.
async fn targets_of(aws: &Aws, arn: &str) -> BTreeSet<String> {
    let health = aws.elbv2.describe_target_health().target_group_arn(arn).send().await.unwrap();
    health
        .target_health_descriptions()
        .iter()
        .filter_map(|d| Some(format!("{}:{}", d.target()?.id()?, d.target()?.port()?)))
        .collect()
}

/// The target group that holds `target` (`ip:port`).
async fn group_holding(aws: &Aws, target: &str) -> Option<String> {
    let tgs = aws.elbv2.describe_target_groups().send().await.unwrap();
    for tg in tgs.target_groups() {
        let arn = tg.target_group_arn().unwrap();
        if targets_of(aws, arn).await.contains(target) {
            return Some(arn.to_owned());
        }
    }
    None
}

/// The targets the record of `arn` holds, read as the controller reads it.
async fn recorded(api: &FakeApiServer, arn: &str) -> Result<BTreeSet<String>, RecordError> {
    let client = kube::Client::try_from(kube::Config::new(api.url().parse().unwrap())).unwrap();
    let held = Records::new(client, HOME, CLUSTER).read(arn).await?;
    Ok(held.targets.iter().map(|t| format!("{}:{}", t.id, t.port)).collect())
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_target_of_ours_that_left_while_we_were_down_is_deregistered_after_a_restart() {
    let c = cluster(shared_world(&["10.0.0.10", "10.0.0.12"])).await;
    let arn = eventually_async("svc-a's pods registered", || group_holding(&c.aws, "10.0.0.12:8080")).await;
    // Another cluster's pod in the same target group.
    let theirs = TargetDescription::builder().id("10.1.0.9").port(8080).build();
    c.aws.elbv2.register_targets().target_group_arn(&arn).targets(theirs).send().await.unwrap();
    eventually_async("both of ours registered", || async {
        (targets_of(&c.aws, &arn).await == set(&["10.0.0.10:8080", "10.0.0.12:8080", "10.1.0.9:8080"])).then_some(())
    })
    .await;
    settled(&c).await;
    assert_eq!(recorded(&c.api, &arn).await.unwrap(), set(&["10.0.0.10:8080", "10.0.0.12:8080"]));

    // The leader goes; while no one leads, one of our pods goes away.
    c._stop.send(true).unwrap();
    eventually("the old leader stepped down", || (!c.controller.leadership.is_leader()).then_some(())).await;
    c.api.apply(slice("svc-a", ready(&["10.0.0.10"])));

    // A new process, with nothing in memory, takes over: it deregisters ours and only ours.
    let (next, _stop_next) = replica(&c.api, &c.proxy, "replica-b", Duration::from_secs(3600)).await;
    eventually_async("the pod that left deregistered", || async {
        (targets_of(&c.aws, &arn).await == set(&["10.0.0.10:8080", "10.1.0.9:8080"])).then_some(())
    })
    .await;
    eventually("the new leader idle", || next.idle().then_some(())).await;
    assert_eq!(recorded(&c.api, &arn).await.unwrap(), set(&["10.0.0.10:8080"]));
    assert_eq!(targets_of(&c.aws, &arn).await, set(&["10.0.0.10:8080", "10.1.0.9:8080"]), "theirs stays");
    assert_granted_by_shipped_rbac(&c.api);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_target_is_recorded_before_it_is_registered() {
    let c = cluster(shared_world(&["10.0.0.10"])).await;
    let arn = eventually_async("svc-a's pod registered", || group_holding(&c.aws, "10.0.0.10:8080")).await;
    settled(&c).await;

    // A new pod: its registration is held in flight, as if the process died there.
    c.proxy.hold_action(Some("RegisterTargets"));
    c.api.apply(slice("svc-a", ready(&["10.0.0.10", "10.0.0.13"])));
    c.proxy.wait_for_hold().await;
    assert_eq!(targets_of(&c.aws, &arn).await, set(&["10.0.0.10:8080"]), "not registered yet");
    assert_eq!(
        recorded(&c.api, &arn).await.unwrap(),
        set(&["10.0.0.10:8080", "10.0.0.13:8080"]),
        "the record already holds the target being registered"
    );
    c.proxy.hold_action(None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_record_goes_with_its_target_group() {
    let c = cluster(shared_world(&["10.0.0.10"])).await;
    let arn = eventually_async("svc-a's pod registered", || group_holding(&c.aws, "10.0.0.10:8080")).await;
    settled(&c).await;
    let name = shared_targets::name(&arn);
    assert!(c.api.get("v1", "ConfigMap", Some(HOME), &name).is_some());

    c.api.delete(GW, "Gateway", Some("gw"), "web");
    eventually("the Gateway gone", || c.api.get(GW, "Gateway", Some("gw"), "web").is_none().then_some(())).await;
    let tgs = c.aws.elbv2.describe_target_groups().send().await.unwrap();
    assert!(tgs.target_groups().is_empty());
    assert_eq!(c.api.get("v1", "ConfigMap", Some(HOME), &name), None, "the record of a deleted group is deleted");
}

#[tokio::test]
async fn a_config_map_under_the_record_name_that_is_not_ours_is_refused_and_left_as_it_is() {
    let api = FakeApiServer::start().await;
    let client = kube::Client::try_from(kube::Config::new(api.url().parse().unwrap())).unwrap();
    let records = Records::new(client, HOME, CLUSTER);
    let arn = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/shared/0123456789abcdef";
    let name = shared_targets::name(arn);
    let targets: BTreeSet<Target> = [Target { id: "10.0.0.1".into(), port: 8080 }].into();

    // A failed read is an error, never an empty record.
    api.fail_requests("GET", "/configmaps/", 500, 1);
    assert!(matches!(records.read(arn).await, Err(e @ RecordError::Kube { .. }) if e.is_transient()));
    // Nothing there: an empty record, written by create.
    assert_eq!(records.read(arn).await.unwrap(), Held::default());
    let held = records.write(arn, &Held::default(), &targets).await.unwrap();
    assert_eq!(records.read(arn).await.unwrap(), held);
    // A write over a version that is not the one read is refused (another writer came first).
    assert!(matches!(records.write(arn, &Held::default(), &targets).await, Err(RecordError::Kube { .. })));
    records.delete(arn).await.unwrap();
    assert_eq!(api.get("v1", "ConfigMap", Some(HOME), &name), None);

    // Someone's ConfigMap under that name.
    let foreign = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": HOME},
                         "data": {"targets.json": "{}", "theirs": "keep"}});
    api.apply(foreign);
    assert!(matches!(records.read(arn).await, Err(RecordError::Foreign { .. })));
    assert!(matches!(records.delete(arn).await, Err(RecordError::Foreign { .. })));
    assert!(records.write(arn, &Held::default(), &targets).await.is_err());
    let kept = api.get("v1", "ConfigMap", Some(HOME), &name).unwrap();
    assert_eq!(kept["data"]["theirs"], "keep");

    // Ours by its labels, but another cluster's.
    let labels =
        json!({shared_targets::MANAGED_BY: "albatross", shared_targets::RECORD_LABEL: shared_targets::RECORD_KIND});
    let other = json!({"apiVersion": "v1", "kind": "ConfigMap",
                       "metadata": {"name": name, "namespace": HOME, "labels": labels,
                                    "annotations": {shared_targets::CLUSTER_ANNOTATION: "other",
                                                    shared_targets::TARGET_GROUP_ANNOTATION: arn}},
                       "data": {"targets.json": "{}"}});
    api.apply(other.clone());
    assert!(matches!(records.read(arn).await, Err(RecordError::Foreign { why: "another cluster's", .. })));

    // Ours, unreadable: an error, never an empty record.
    let mut corrupt = other;
    corrupt["metadata"]["annotations"][shared_targets::CLUSTER_ANNOTATION] = json!(CLUSTER);
    corrupt["data"]["targets.json"] = json!("{\"version\":1}");
    api.apply(corrupt);
    assert!(matches!(records.read(arn).await, Err(RecordError::Corrupt { .. })));
}

#[tokio::test]
async fn a_record_over_the_config_map_limit_is_an_error_and_nothing_is_written() {
    let api = FakeApiServer::start().await;
    let client = kube::Client::try_from(kube::Config::new(api.url().parse().unwrap())).unwrap();
    let records = Records::new(client, HOME, CLUSTER);
    let arn = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/big/0123456789abcdef";
    let many: BTreeSet<Target> = (0..40_000u32)
        .map(|i| Target { id: format!("10.{}.{}.{}", i >> 16, (i >> 8) & 255, i & 255), port: 8080 })
        .collect();
    let error = records.write(arn, &Held::default(), &many).await.unwrap_err();
    assert!(matches!(error, RecordError::TooLarge { targets: 40_000, .. }), "{error}");
    assert_eq!(api.get("v1", "ConfigMap", Some(HOME), &shared_targets::name(arn)), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dry_run_of_a_shared_group_would_deregister_only_our_targets() {
    const PLAN: &str = "/metadata/annotations/gateway.k8s.aws~1dry-run-plan";
    let c = cluster(shared_world(&["10.0.0.10", "10.0.0.12"])).await;
    let arn = eventually_async("svc-a's pods registered", || group_holding(&c.aws, "10.0.0.12:8080")).await;
    let theirs = TargetDescription::builder().id("10.1.0.9").port(8080).build();
    c.aws.elbv2.register_targets().target_group_arn(&arn).targets(theirs).send().await.unwrap();
    settled(&c).await;

    let mut gw = c.api.get(GW, "Gateway", Some("gw"), "web").unwrap();
    gw["metadata"]["annotations"] = json!({"gateway.k8s.aws/dry-run": "true"});
    c.api.apply(gw);
    let plan_of = || {
        let gw = c.api.get(GW, "Gateway", Some("gw"), "web")?;
        serde_json::from_str::<Value>(gw.pointer(PLAN)?.as_str()?).ok()
    };
    eventually("the dry run's plan", plan_of).await;
    c.api.apply(slice("svc-a", ready(&["10.0.0.10"])));
    let plan = eventually("a deregistration planned", || {
        plan_of().filter(|p| p["steps"].as_array().unwrap().iter().any(|s| s["operation"] == "DeregisterTargets"))
    })
    .await;
    let steps: Vec<&Value> =
        plan["steps"].as_array().unwrap().iter().filter(|s| s["operation"] == "DeregisterTargets").collect();
    assert_eq!(steps.len(), 1, "{plan:#}");
    assert_eq!(steps[0]["targets"], 1, "only ours, not the other cluster's: {plan:#}");
    assert!(steps[0].to_string().contains("10.0.0.12:8080"), "{plan:#}");
    assert_eq!(targets_of(&c.aws, &arn).await, set(&["10.0.0.10:8080", "10.0.0.12:8080", "10.1.0.9:8080"]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_foreign_config_map_under_the_record_name_stops_registration_loudly_and_stays() {
    let c = cluster(shared_world(&[])).await;
    eventually("Programmed", || programmed_address(&c.api)).await;
    let svc_b = eventually_async("svc-b's pod registered", || group_holding(&c.aws, "10.0.1.20:8080")).await;
    settled(&c).await;
    let tgs = c.aws.elbv2.describe_target_groups().send().await.unwrap();
    let arn = tgs.target_groups().iter().filter_map(|t| t.target_group_arn()).find(|a| *a != svc_b).unwrap().to_owned();
    let name = shared_targets::name(&arn);
    let theirs = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": HOME},
                        "data": {"anything": "theirs"}});
    c.api.apply(theirs);

    c.api.apply(slice("svc-a", ready(&["10.0.0.10"])));
    let event = eventually("a warning on the Gateway", || {
        c.api.list("Event").into_iter().find(|e| e["reason"] == "TargetRecordFailed")
    })
    .await;
    assert!(event["note"].as_str().unwrap().contains("is not Albatross' record"), "{event}");
    assert_eq!(event["regarding"]["name"], "web");
    assert_eq!(targets_of(&c.aws, &arn).await, BTreeSet::new(), "nothing registered without a record");
    let kept = c.api.get("v1", "ConfigMap", Some(HOME), &name).unwrap();
    assert_eq!(kept["data"], json!({"anything": "theirs"}));
    assert_eq!(kept["metadata"].get("labels"), None);
}
