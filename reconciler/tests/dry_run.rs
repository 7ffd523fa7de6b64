//! A Gateway annotated `gateway.k8s.aws/dry-run: "true"` in `serve`: planned against AWS with
//! reads only, its operations in `gateway.k8s.aws/dry-run-plan`, `Programmed` saying so; its
//! deletion keeps its stack; without the annotation it converges.

mod common;

use common::*;

const PLAN: &str = "/metadata/annotations/gateway.k8s.aws~1dry-run-plan";

fn annotated(mut gw: Value) -> Value {
    gw["metadata"]["annotations"] = json!({"gateway.k8s.aws/dry-run": "true"});
    gw
}

fn current(api: &FakeApiServer) -> Value {
    api.get(GW, "Gateway", Some("gw"), "web").unwrap()
}

fn programmed(api: &FakeApiServer) -> Option<Value> {
    condition(current(api).pointer("/status/conditions")?, "Programmed").cloned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dry_run_gateway_gets_its_plan_and_no_aws_write_until_the_annotation_goes() {
    let objects: Vec<Value> =
        world("All").into_iter().map(|o| if o["kind"] == "Gateway" { annotated(o) } else { o }).collect();
    let c = cluster(objects).await;
    let plan = eventually("the plan annotation", || current(&c.api).pointer(PLAN)?.as_str().map(str::to_owned)).await;
    let plan: Value = serde_json::from_str(&plan).unwrap();
    let summary = &plan["summary"];
    assert_eq!(summary["loadBalancersReplaced"], 0, "{plan:#}");
    assert_eq!(summary["loadBalancers"]["created"], 1, "{plan:#}");
    assert_eq!(summary["targetGroups"]["created"], 2, "{plan:#}");
    // Ready endpoints: 10.0.0.10 of svc-a and 10.0.1.20 of svc-b, into groups not created yet.
    assert_eq!(summary["targetsRegistered"], 2, "{plan:#}");
    let steps = plan["steps"].as_array().unwrap();
    assert!(
        steps.iter().any(|s| s["operation"] == "RegisterTargets"
            && s["resource"].as_str().unwrap().starts_with("<new target group ")),
        "{plan:#}"
    );
    let condition =
        eventually("Programmed in dry run", || programmed(&c.api).filter(|p| p["reason"] == "DryRun")).await;
    assert_eq!(condition["status"], "False");
    assert!(condition["message"].as_str().unwrap().contains("0 load balancers replaced"), "{condition}");
    settled(&c).await;
    assert_eq!(c.proxy.mutating_calls(), vec![], "a dry run writes nothing to AWS");
    // The finalizer, then the plan once: an unchanged plan is not written again.
    let metadata_writes = c.api.requests_matching("PATCH", "/namespaces/gw/gateways/web");
    let metadata_writes: Vec<_> = metadata_writes.iter().filter(|r| !r.path.ends_with("/status")).collect();
    assert_eq!(metadata_writes.len(), 2, "{metadata_writes:?}");
    assert_eq!(current(&c.api).pointer("/metadata/finalizers"), Some(&json!([FINALIZER])));

    // Without the annotation it converges, and the plan, which no longer says what is
    // deployed, goes.
    let mut gw = current(&c.api);
    gw["metadata"]["annotations"] = json!({});
    c.api.apply(gw);
    let address = eventually("Programmed", || programmed_address(&c.api)).await;
    eventually("the plan annotation gone", || current(&c.api).pointer(PLAN).is_none().then_some(())).await;
    assert!(!c.proxy.mutating_calls().is_empty());
    settled(&c).await;

    // In dry run again and then deleted: the stack is kept and the deletion waits.
    c.api.apply(annotated(current(&c.api)));
    eventually("the plan annotation", || current(&c.api).pointer(PLAN).map(|_| ())).await;
    settled(&c).await;
    c.proxy.clear_calls();
    c.api.delete(GW, "Gateway", Some("gw"), "web");
    let condition = eventually("the deletion waiting", || {
        programmed(&c.api).filter(|p| p["message"].as_str().is_some_and(|m| m.contains("being deleted")))
    })
    .await;
    assert_eq!(condition["reason"], "DryRun");
    settled(&c).await;
    assert_eq!(c.proxy.mutating_calls(), vec![], "{:?}", c.proxy.mutating_calls());
    assert_eq!(load_balancer_dns(&c.aws).await, vec![address]);
    assert!(c.api.get(GW, "Gateway", Some("gw"), "web").is_some(), "kept by the finalizer");
    assert_granted_by_shipped_rbac(&c.api);
}
