//! The controllers against a fake Kubernetes API server (real HTTP, real kube-rs client,
//! watches included) and a real moto behind the AWS-rules proxy.

mod common;

use common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gateway_with_two_routes_is_programmed_with_its_load_balancers_dns_name() {
    let mut objects = world("All");
    // r1 is also attached to another controller's Gateway, which has written its entry.
    let other = json!({"parentRef": {"name": "edge", "namespace": "gw"}, "controllerName": "example.com/other",
                       "conditions": [{"type": "Accepted", "status": "True", "reason": "Accepted", "message": "",
                                       "lastTransitionTime": "2026-01-01T00:00:00Z"}]});
    for o in objects.iter_mut().filter(|o| o["metadata"]["name"] == "r1") {
        o["spec"]["parentRefs"].as_array_mut().unwrap().push(json!({"name": "edge", "namespace": "gw"}));
        o["status"] = json!({"parents": [other.clone()]});
    }
    let c = cluster(objects).await;
    let address = eventually("Programmed with an address", || programmed_address(&c.api)).await;
    assert_eq!(load_balancer_dns(&c.aws).await, vec![address.clone()]);
    for r in ["r1", "r2"] {
        let accepted = eventually("route accepted", || route_condition(&c.api, r, "Accepted")).await;
        assert_eq!(accepted["status"], "True", "{r}: {accepted}");
        assert!(accepted["lastTransitionTime"].is_string());
    }
    let r1 = c.api.get(GW, "HTTPRoute", Some("apps"), "r1").unwrap();
    let parents = r1.pointer("/status/parents").unwrap().as_array().unwrap();
    assert_eq!(parents.len(), 2, "{parents:?}");
    assert_eq!(parents[0], other, "another controller's entry is kept as it was");
    let gw = c.api.get(GW, "Gateway", Some("gw"), "web").unwrap();
    assert_eq!(gw.pointer("/metadata/finalizers"), Some(&json!([FINALIZER])));
    assert_eq!(gw.pointer("/status/addresses/0/type"), Some(&json!("Hostname")));

    // Only ready endpoints become targets.
    let tgs = c.aws.elbv2.describe_target_groups().send().await.unwrap();
    assert_eq!(tgs.target_groups().len(), 2);
    let mut targets = Vec::new();
    for tg in tgs.target_groups() {
        let health =
            c.aws.elbv2.describe_target_health().target_group_arn(tg.target_group_arn().unwrap()).send().await.unwrap();
        for d in health.target_health_descriptions() {
            let t = d.target().unwrap();
            targets.push(format!("{}:{}", t.id().unwrap(), t.port().unwrap()));
        }
    }
    targets.sort();
    assert_eq!(targets, vec!["10.0.0.10:8080", "10.0.1.20:8080"]);

    // The reconcile has finished: look at every write it made.
    settled(&c).await;
    let requests = c.api.requests();
    let events: Vec<String> = c.api.list("Event").iter().map(|e| format!("{}: {}", e["reason"], e["note"])).collect();
    assert_eq!(events.len(), 1, "one event: {events:?}");
    assert_eq!(
        writes(&requests),
        vec![
            "PATCH /apis/gateway.networking.k8s.io/v1/gatewayclasses/alb",
            "PATCH /apis/gateway.networking.k8s.io/v1/gatewayclasses/alb/status",
            "PATCH /apis/gateway.networking.k8s.io/v1/namespaces/apps/httproutes/r1/status",
            "PATCH /apis/gateway.networking.k8s.io/v1/namespaces/apps/httproutes/r2/status",
            "PATCH /apis/gateway.networking.k8s.io/v1/namespaces/gw/gateways/web",
            "PATCH /apis/gateway.networking.k8s.io/v1/namespaces/gw/gateways/web/status",
            "POST /apis/events.k8s.io/v1/namespaces/gw/events",
        ]
    );
    for r in requests.iter().filter(|r| r.path.ends_with("/status")) {
        assert_eq!(r.content_type.as_deref(), Some("application/apply-patch+yaml"), "{}", r.path);
        assert_eq!(r.field_manager(), Some(FIELD_MANAGER));
        assert_eq!(r.query.get("force").map(String::as_str), Some("true"));
    }
    let finalizer = requests.iter().find(|r| r.path.ends_with("/gateways/web")).unwrap();
    assert_eq!(finalizer.content_type.as_deref(), Some("application/json-patch+json"));
    let event = c.api.list("Event").into_iter().find(|e| e["reason"] == "Programmed").expect("a Programmed event");
    assert_eq!(event.pointer("/regarding/name"), Some(&json!("web")));

    // A change to one route reconciles its Gateway: one rule modified, one status written.
    c.api.clear_requests();
    c.proxy.clear_calls();
    c.api.apply(route("r1", "/changed", "svc-a"));
    eventually("the new path in AWS", || c.proxy.calls().iter().any(|call| call.action == "ModifyRule").then_some(()))
        .await;
    settled(&c).await;
    let mutations: Vec<String> = c.proxy.mutating_calls().into_iter().map(|call| call.action).collect();
    // The stack's fingerprint is marked changing first and written again after.
    assert_eq!(mutations, vec!["AddTags", "ModifyRule", "AddTags"]);
    // Only the changed route's status (its observedGeneration moved) and the event.
    assert_eq!(
        writes(&c.api.requests()),
        vec![
            "PATCH /apis/gateway.networking.k8s.io/v1/namespaces/apps/httproutes/r1/status",
            "POST /apis/events.k8s.io/v1/namespaces/gw/events",
        ]
    );
    let r1 = c.api.get(GW, "HTTPRoute", Some("apps"), "r1").unwrap();
    let accepted = route_condition(&c.api, "r1", "Accepted").unwrap();
    assert_eq!(accepted["observedGeneration"], r1["metadata"]["generation"]);

    // A pod turning ready touches only its target group: no load balancer reads at all.
    c.proxy.clear_calls();
    c.api.apply(slice(
        "svc-a",
        json!([{"addresses": ["10.0.0.10"], "conditions": {"ready": true}},
               {"addresses": ["10.0.0.11"], "conditions": {"ready": true}}]),
    ));
    eventually("the new target", || c.proxy.calls().iter().any(|call| call.action == "RegisterTargets").then_some(()))
        .await;
    settled(&c).await;
    // The resync's orphan sweep (tag queries) runs once the queue first drains: whenever.
    let actions: Vec<String> =
        c.proxy.calls().into_iter().map(|call| call.action).filter(|a| a != "GetResources").collect();
    // The fingerprint covers the targets too: marked changing before, written after.
    assert_eq!(actions, vec!["DescribeTargetHealth", "AddTags", "RegisterTargets", "AddTags"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_route_from_a_namespace_the_listener_does_not_allow_is_refused_and_builds_nothing() {
    let c = cluster(world("Same")).await;
    eventually("Programmed", || programmed_address(&c.api)).await;
    for r in ["r1", "r2"] {
        let accepted = eventually("route status", || route_condition(&c.api, r, "Accepted")).await;
        assert_eq!(accepted["status"], "False");
        assert_eq!(accepted["reason"], "NotAllowedByListeners");
    }
    let tgs = c.aws.elbv2.describe_target_groups().send().await.unwrap();
    assert!(tgs.target_groups().is_empty(), "no target group for refused routes");
    let lbs = c.aws.elbv2.describe_load_balancers().send().await.unwrap();
    let lb = lbs.load_balancers()[0].load_balancer_arn().unwrap();
    let listeners = c.aws.elbv2.describe_listeners().load_balancer_arn(lb).send().await.unwrap();
    let listener = listeners.listeners()[0].listener_arn().unwrap();
    let rules = c.aws.elbv2.describe_rules().listener_arn(listener).send().await.unwrap();
    assert_eq!(rules.rules().len(), 1, "only the default rule");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_a_gateway_removes_its_stack_before_its_finalizer() {
    let c = cluster(world("All")).await;
    eventually("Programmed", || programmed_address(&c.api)).await;
    settled(&c).await;

    // Hold the first AWS deletion: the Gateway must stay while its stack exists.
    c.proxy.hold_after_mutations(Some(c.proxy.mutations()));
    c.api.delete(GW, "Gateway", Some("gw"), "web");
    c.proxy.wait_for_hold().await;
    let gw = c.api.get(GW, "Gateway", Some("gw"), "web").expect("still there while AWS is being cleaned");
    assert!(gw.pointer("/metadata/deletionTimestamp").is_some());
    assert_eq!(gw.pointer("/metadata/finalizers"), Some(&json!([FINALIZER])));
    c.proxy.hold_after_mutations(None);

    eventually("the Gateway gone", || c.api.get(GW, "Gateway", Some("gw"), "web").is_none().then_some(())).await;
    assert!(load_balancer_dns(&c.aws).await.is_empty());
    let tgs = c.aws.elbv2.describe_target_groups().send().await.unwrap();
    assert!(tgs.target_groups().is_empty());
    let removal = c
        .api
        .requests_matching("PATCH", "/namespaces/gw/gateways/web")
        .into_iter()
        .rfind(|r| !r.path.ends_with("/status"))
        .unwrap();
    assert_eq!(removal.body.as_ref().unwrap()[1]["value"], json!([]));
    let event = c.api.list("Event").into_iter().find(|e| e["reason"] == "Deleted").expect("a Deleted event");
    assert_eq!(event.pointer("/regarding/name"), Some(&json!("web")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_that_loses_its_lease_stops_writing_at_once() {
    let c = cluster(world("All")).await;
    eventually("Programmed", || programmed_address(&c.api)).await;
    settled(&c).await;

    let now = k8s_openapi::jiff::Timestamp::now().to_string();
    let mut lease = c.api.get("coordination.k8s.io/v1", "Lease", Some("albatross-system"), "albatross-leader").unwrap();
    lease["spec"]["holderIdentity"] = json!("replica-b");
    lease["spec"]["renewTime"] = json!(now);
    lease["spec"]["leaseDurationSeconds"] = json!(60);
    c.api.apply(lease);
    eventually("leadership lost", || (!c.controller.leadership.is_leader()).then_some(())).await;
    assert!(!c.controller.deployer.aws.fence.is_open(), "AWS writes fenced");

    c.api.clear_requests();
    c.proxy.clear_calls();
    c.api.apply(route("r1", "/changed", "svc-a"));
    c.api.delete(GW, "HTTPRoute", Some("apps"), "r2");
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(c.proxy.mutating_calls().is_empty(), "{:?}", c.proxy.mutating_calls());
    assert!(writes(&c.api.requests()).is_empty(), "{:?}", writes(&c.api.requests()));
    let lease = c.api.get("coordination.k8s.io/v1", "Lease", Some("albatross-system"), "albatross-leader").unwrap();
    assert_eq!(lease["spec"]["holderIdentity"], "replica-b", "the follower does not take a live lease");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_request_of_a_gateways_life_is_granted_by_the_shipped_rbac() {
    let c = cluster(world("All")).await;
    eventually("Programmed", || programmed_address(&c.api)).await;
    c.api.apply(route("r1", "/changed", "svc-a"));
    c.api.delete(GW, "Gateway", Some("gw"), "web");
    eventually("the Gateway gone", || c.api.get(GW, "Gateway", Some("gw"), "web").is_none().then_some(())).await;
    assert_granted_by_shipped_rbac(&c.api);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crds_installed_after_the_start_are_watched_once_they_appear() {
    let (gateway_api, core): (Vec<Value>, Vec<Value>) = world("All")
        .into_iter()
        .partition(|o| o["apiVersion"].as_str().unwrap().starts_with("gateway.networking.k8s.io"));
    let c = cluster_with(core, false, &[]).await;
    eventually("ready without the Gateway API", || c.controller.synced().then_some(())).await;
    install_crds(&c.api);
    for object in gateway_api {
        c.api.apply(object);
    }
    let address = eventually("Programmed once the CRDs appeared", || programmed_address(&c.api)).await;
    assert_eq!(load_balancer_dns(&c.aws).await, vec![address]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_route_that_does_not_decode_is_left_out_and_the_rest_is_served() {
    let mut objects = world("All");
    let mut broken = route("broken", "/x", "svc-a");
    broken["spec"]["rules"] = json!("not a list");
    objects.push(broken);
    let c = cluster(objects).await;
    eventually("Programmed", || programmed_address(&c.api)).await;
    for r in ["r1", "r2"] {
        let accepted = eventually("route accepted", || route_condition(&c.api, r, "Accepted")).await;
        assert_eq!(accepted["status"], "True");
    }
    let tgs = c.aws.elbv2.describe_target_groups().send().await.unwrap();
    assert_eq!(tgs.target_groups().len(), 2, "the two good routes' backends");
    // The watch goes on: a later change still arrives.
    c.api.apply(route("r3", "/c", "svc-b"));
    eventually("a route added after the broken one", || route_condition(&c.api, "r3", "Accepted")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instance_targets_follow_node_readiness_on_the_node_port() {
    let mut objects = documents(include_str!("../../model/tests/golden/tgc-instance-target-nodeport/input.yaml"));
    objects.extend([namespace("albatross-system"), node("n1", "i-0000000000000000a", "True")]);
    objects.push(node("n2", "i-0000000000000000b", "False"));
    // A pod with our readiness gate: behind nodes it has no health of its own to wait for.
    objects.push(json!({"apiVersion": "v1", "kind": "Namespace",
                        "metadata": {"name": "shop", "labels": {"gateway.k8s.aws/pod-readiness-gate-inject": "enabled"}}}));
    let gate = albatross_reconciler::readiness::gate("store");
    objects.push(json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "store-1", "namespace": "shop"},
                        "spec": {"containers": [{"name": "app", "image": "app"}], "readinessGates": [{"conditionType": gate}]},
                        "status": {"podIP": "10.0.0.40", "conditions": [{"type": "ContainersReady", "status": "True"}]}}));
    objects.push(json!({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
                        "metadata": {"name": "store-1", "namespace": "shop", "labels": {"kubernetes.io/service-name": "store"}},
                        "addressType": "IPv4", "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
                        "endpoints": [{"addresses": ["10.0.0.40"], "conditions": {"ready": false},
                                       "targetRef": {"kind": "Pod", "name": "store-1", "namespace": "shop"}}]}));
    let c = cluster(objects).await;
    eventually("Programmed", || {
        let gw = c.api.get(GW, "Gateway", Some("shop"), "web")?;
        gw.pointer("/status/addresses/0/value").map(|_| ())
    })
    .await;
    let opened = eventually("the pod's gate open", || {
        let pod = c.api.get("v1", "Pod", Some("shop"), "store-1")?;
        condition(pod.pointer("/status/conditions")?, &gate).cloned()
    })
    .await;
    assert_eq!(opened["status"], "True");
    let tgs = c.aws.elbv2.describe_target_groups().send().await.unwrap();
    assert_eq!(tgs.target_groups()[0].target_type().map(|t| t.as_str()), Some("instance"));
    assert_eq!(registered(&c.aws).await, vec!["i-0000000000000000a:30080"]);

    settled(&c).await;
    c.proxy.clear_calls();
    c.api.apply(node("n2", "i-0000000000000000b", "True"));
    eventually("the node that turned ready", || {
        c.proxy.calls().iter().any(|call| call.action == "RegisterTargets").then_some(())
    })
    .await;
    assert_eq!(registered(&c.aws).await, vec!["i-0000000000000000a:30080", "i-0000000000000000b:30080"]);
    c.api.apply(node("n1", "i-0000000000000000a", "False"));
    eventually("the node that went away deregistered", || {
        c.proxy.calls().iter().any(|call| call.action == "DeregisterTargets").then_some(())
    })
    .await;
    // The resync's orphan sweep (tag queries, the managed security groups) runs once the queue
    // first drains: whenever, and not because of the nodes.
    let sweep = ["GetResources", "DescribeSecurityGroups"];
    let actions: Vec<String> =
        c.proxy.calls().into_iter().map(|call| call.action).filter(|a| !sweep.contains(&a.as_str())).collect();
    assert!(
        actions.iter().all(|a| ["DescribeTargetHealth", "RegisterTargets", "DeregisterTargets"].contains(&a.as_str())),
        "node changes read no load balancer: {actions:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gated_pod_is_registered_before_it_is_ready_and_its_gate_opens_once_healthy() {
    let mut objects = world("All");
    objects.retain(|o| o["metadata"]["name"] != "apps" && o["metadata"]["name"] != "svc-a-1");
    objects.push(json!({"apiVersion": "v1", "kind": "Namespace",
                        "metadata": {"name": "apps", "labels": {"gateway.k8s.aws/pod-readiness-gate-inject": "enabled"}}}));
    let pod_ref = |name: &str| json!({"kind": "Pod", "name": name, "namespace": "apps"});
    objects.push(slice(
        "svc-a",
        json!([{"addresses": ["10.0.0.10"], "conditions": {"ready": true}},
               // Held back by the gate only: a target before it is ready.
               {"addresses": ["10.0.0.30"], "conditions": {"ready": false}, "targetRef": pod_ref("gated")},
               // Its containers are still starting.
               {"addresses": ["10.0.0.31"], "conditions": {"ready": false}, "targetRef": pod_ref("starting")},
               // Not ready and without our gate: left alone.
               {"addresses": ["10.0.0.32"], "conditions": {"ready": false}, "targetRef": pod_ref("plain")}]),
    ));
    objects.push(gated_pod("gated", "10.0.0.30", true));
    objects.push(gated_pod("starting", "10.0.0.31", false));
    let mut plain = gated_pod("plain", "10.0.0.32", true);
    plain["spec"]["readinessGates"] = json!([]);
    objects.push(plain);
    let c = cluster(objects).await;
    eventually("Programmed", || programmed_address(&c.api)).await;

    let opened = eventually("the gate of the healthy target open", || gate_condition(&c.api, "gated")).await;
    assert_eq!(opened["status"], "True");
    assert_eq!(opened["reason"], "TargetHealthy");
    let pod = c.api.get("v1", "Pod", Some("apps"), "gated").unwrap();
    let types: Vec<&str> =
        pod["status"]["conditions"].as_array().unwrap().iter().filter_map(|c| c["type"].as_str()).collect();
    assert!(types.contains(&"ContainersReady"), "the kubelet's conditions stay: {types:?}");
    let svc_a_targets =
        || async { registered(&c.aws).await.into_iter().filter(|t| t.starts_with("10.0.0.")).collect::<Vec<_>>() };
    assert_eq!(svc_a_targets().await, vec!["10.0.0.10:8080", "10.0.0.30:8080"]);
    assert!(gate_condition(&c.api, "starting").is_none());

    // Containers turning ready changes no EndpointSlice: the controller looks again by itself.
    c.api.apply(gated_pod("starting", "10.0.0.31", true));
    eventually("the gate of the started pod open", || gate_condition(&c.api, "starting")).await;
    assert_eq!(svc_a_targets().await, vec!["10.0.0.10:8080", "10.0.0.30:8080", "10.0.0.31:8080"]);
    assert_granted_by_shipped_rbac(&c.api);
}
