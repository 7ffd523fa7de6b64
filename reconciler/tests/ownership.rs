//! What is ours to delete: GatewayClass finalizers, missing classes, deletion protection.

mod common;

use common::*;

fn class_finalizers(api: &FakeApiServer) -> Option<Value> {
    api.get(GW, "GatewayClass", None, "alb").map(|c| c.pointer("/metadata/finalizers").cloned().unwrap_or(json!([])))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gateway_class_in_use_gets_the_finalizer() {
    let c = cluster(world("All")).await;
    eventually("the class finalizer", || (class_finalizers(&c.api)? == json!([CLASS_FINALIZER])).then_some(())).await;
    // Deleting the class waits for its Gateway.
    c.api.delete(GW, "GatewayClass", None, "alb");
    let class = c.api.get(GW, "GatewayClass", None, "alb").expect("kept while a Gateway uses it");
    assert!(class.pointer("/metadata/deletionTimestamp").is_some());

    c.api.delete(GW, "Gateway", Some("gw"), "web");
    eventually("the Gateway gone", || c.api.get(GW, "Gateway", Some("gw"), "web").is_none().then_some(())).await;
    eventually("the class gone with its last Gateway", || {
        c.api.get(GW, "GatewayClass", None, "alb").is_none().then_some(())
    })
    .await;
    assert_granted_by_shipped_rbac(&c.api);
}

fn gateway_condition(api: &FakeApiServer, kind: &str) -> Option<Value> {
    let gw = api.get(GW, "Gateway", Some("gw"), "web")?;
    condition(gw.pointer("/status/conditions")?, kind).cloned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_gateway_class_keeps_the_load_balancer() {
    let c = cluster(world("All")).await;
    let address = eventually("Programmed", || programmed_address(&c.api)).await;
    eventually("the class finalizer", || (class_finalizers(&c.api)? == json!([CLASS_FINALIZER])).then_some(())).await;
    settled(&c).await;

    // The class goes anyway: deleted, and its finalizer taken off by hand.
    c.proxy.clear_calls();
    c.api.delete(GW, "GatewayClass", None, "alb");
    let mut stripped = class();
    stripped["metadata"]["finalizers"] = json!([]);
    c.api.apply(stripped);
    assert!(c.api.get(GW, "GatewayClass", None, "alb").is_none());

    let accepted = eventually("the Gateway saying why", || {
        gateway_condition(&c.api, "Accepted").filter(|a| a["reason"] == "GatewayClassNotFound")
    })
    .await;
    assert_eq!(accepted["status"], "False");
    settled(&c).await;
    assert_eq!(load_balancer_dns(&c.aws).await, vec![address.clone()], "the load balancer is kept");
    assert_eq!(c.proxy.mutating_calls(), vec![], "nothing in AWS changed");
    let gw = c.api.get(GW, "Gateway", Some("gw"), "web").unwrap();
    assert_eq!(gw.pointer("/metadata/finalizers"), Some(&json!([FINALIZER])));

    // The class is back: the same load balancer serves it again.
    c.api.apply(class());
    eventually("accepted again", || gateway_condition(&c.api, "Accepted").filter(|a| a["status"] == "True")).await;
    assert_eq!(programmed_address(&c.api), Some(address.clone()));
    assert_eq!(load_balancer_dns(&c.aws).await, vec![address]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gateway_moved_to_another_controllers_class_loses_its_stack() {
    let c = cluster(world("All")).await;
    eventually("Programmed", || programmed_address(&c.api)).await;
    c.api.apply(json!({"apiVersion": GW, "kind": "GatewayClass", "metadata": {"name": "other"},
                       "spec": {"controllerName": "example.com/other"}}));
    let mut moved = gateway("All");
    moved["spec"]["gatewayClassName"] = json!("other");
    moved["metadata"]["finalizers"] = json!([FINALIZER]);
    c.api.apply(moved);
    eventually("our finalizer off", || {
        let gw = c.api.get(GW, "Gateway", Some("gw"), "web")?;
        (gw.pointer("/metadata/finalizers") == Some(&json!([]))).then_some(())
    })
    .await;
    assert!(load_balancer_dns(&c.aws).await.is_empty());
    eventually("the class it left free to go", || (class_finalizers(&c.api)? == json!([])).then_some(())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deletion_protected_load_balancer_is_never_deleted() {
    let c = cluster(world("All")).await;
    eventually("Programmed", || programmed_address(&c.api)).await;
    settled(&c).await;
    let lbs = c.aws.elbv2.describe_load_balancers().send().await.unwrap();
    let arn = lbs.load_balancers()[0].load_balancer_arn().unwrap().to_owned();
    let protection = aws_sdk_elasticloadbalancingv2::types::LoadBalancerAttribute::builder()
        .key("deletion_protection.enabled")
        .value("true")
        .build();
    c.aws.elbv2.modify_load_balancer_attributes().load_balancer_arn(&arn).attributes(protection).send().await.unwrap();

    c.proxy.clear_calls();
    c.api.delete(GW, "Gateway", Some("gw"), "web");
    let programmed = eventually("the Gateway saying why", || {
        gateway_condition(&c.api, "Programmed").filter(|p| p["reason"] == "DeletionProtected")
    })
    .await;
    assert_eq!(programmed["status"], "False");
    assert!(programmed["message"].as_str().unwrap().contains(&arn), "{programmed}");
    settled(&c).await;
    assert_eq!(c.proxy.mutating_calls(), vec![], "nothing of the stack is deleted");
    assert_eq!(load_balancer_dns(&c.aws).await.len(), 1);
    let tgs = c.aws.elbv2.describe_target_groups().send().await.unwrap();
    assert_eq!(tgs.target_groups().len(), 2, "its target groups stay with it");
    let gw = c.api.get(GW, "Gateway", Some("gw"), "web").expect("held while its stack stays");
    assert_eq!(gw.pointer("/metadata/finalizers"), Some(&json!([FINALIZER])));
    let event = c.api.list("Event").into_iter().find(|e| e["reason"] == "DeletionProtected");
    assert!(event.is_some(), "a DeletionProtected event");
}
