//! The controllers against a fake Kubernetes API server (real HTTP, real kube-rs client,
//! watches included) and a real moto behind the AWS-rules proxy.

use std::sync::Arc;
use std::time::Duration;

use albatross_aws::deploy::Deployer;
use albatross_aws::resolve::{ResolveSettings, Resolver};
use albatross_aws::{Aws, AwsSettings, RateLimits};
use albatross_model::Controllers;
use albatross_model::validate::AwsLimits;
use albatross_reconciler::controller::CLASS_FINALIZER;
use albatross_reconciler::{Controller, Elector, FIELD_MANAGER, FINALIZER, LeaseSettings, Settings};
use albatross_test_support::kube_api::{FakeApiServer, Recorded, ResourceDef};
use albatross_test_support::rbac::Rbac;
use albatross_test_support::{Moto, Proxy, ProxyOptions};
use serde_json::{Value, json};
use tokio::sync::watch;

const CLUSTER: &str = "component";
const GW: &str = "gateway.networking.k8s.io/v1";

struct Cluster {
    api: FakeApiServer,
    _moto: Moto,
    proxy: Proxy,
    /// Straight to moto, for looking at what exists.
    aws: Aws,
    controller: Arc<Controller>,
    _stop: watch::Sender<bool>,
}

async fn cluster(objects: Vec<Value>) -> Cluster {
    cluster_with(objects, true, &[]).await
}

/// `crds`: whether the Gateway API and our CRDs are served from the start; `certificates`:
/// hostnames that get a certificate in ACM before the controller starts.
async fn cluster_with(objects: Vec<Value>, crds: bool, certificates: &[&str]) -> Cluster {
    // The controller's log, shown with a failing test's output.
    let _ = tracing_subscriber::fmt().with_env_filter("info,albatross_aws=warn").with_test_writer().try_init();
    let moto = tokio::task::spawn_blocking(Moto::start).await.unwrap();
    let proxy = Proxy::start(moto.endpoint(), ProxyOptions::default()).await;
    let connect = |endpoint: String| async move {
        Aws::connect(&AwsSettings { endpoint: Some(endpoint), limits: RateLimits::unlimited(), ..Default::default() })
            .await
    };
    let aws = connect(moto.endpoint().into()).await;
    albatross_test_support::network::load_balancer_subnets(&aws.ec2).await;
    for host in certificates {
        albatross_test_support::acm::import_self_signed(&aws.acm, host, &[host]).await;
    }

    let api = FakeApiServer::start().await;
    if crds {
        install_crds(&api);
    }
    for object in objects {
        api.apply(object);
    }
    let client = kube::Client::try_from(kube::Config::new(api.url().parse().unwrap())).unwrap();
    let through_proxy = connect(proxy.endpoint().into()).await;
    let resolver = Resolver::new(through_proxy.clone(), ResolveSettings::new(CLUSTER));
    let deployer = Deployer::new(through_proxy, resolver, CLUSTER);
    let lease = LeaseSettings {
        namespace: "albatross-system".into(),
        name: "albatross-leader".into(),
        identity: "replica-a".into(),
        // Long enough that a loaded CI machine never drops it by accident.
        duration: Duration::from_secs(10),
    };
    let (elector, leadership) = Elector::new(client.clone(), lease, deployer.aws.fence.clone());
    let (stop, stopped) = watch::channel(false);
    tokio::spawn(elector.run(stopped));
    let settings = Settings {
        cluster_name: CLUSTER.into(),
        controllers: Controllers::default(),
        limits: AwsLimits::default(),
        resync: Duration::from_secs(600),
        concurrency: 2,
        instance: Some("replica-a".into()),
        rediscover: Duration::from_secs(1),
    };
    let controller = Controller::new(client, deployer, leadership, settings);
    tokio::spawn(controller.clone().run());
    Cluster { api, _moto: moto, proxy, aws, controller, _stop: stop }
}

/// The objects of a multi-document YAML manifest (a golden case's input).
fn documents(yaml: &str) -> Vec<Value> {
    yaml.split("\n---").map(|doc| serde_norway::from_str::<Value>(doc).unwrap()).filter(|v| !v.is_null()).collect()
}

fn install_crds(api: &FakeApiServer) {
    for def in ResourceDef::gateway_api().into_iter().chain(ResourceDef::aws()) {
        api.register(def);
    }
}

fn namespace(name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
}

fn class() -> Value {
    json!({"apiVersion": GW, "kind": "GatewayClass", "metadata": {"name": "alb"},
           "spec": {"controllerName": "gateway.k8s.aws/alb"}})
}

fn gateway(from: &str) -> Value {
    json!({"apiVersion": GW, "kind": "Gateway", "metadata": {"name": "web", "namespace": "gw"},
           "spec": {"gatewayClassName": "alb", "listeners": [
               {"name": "http", "port": 80, "protocol": "HTTP", "allowedRoutes": {"namespaces": {"from": from}}}]}})
}

fn route(name: &str, path: &str, service: &str) -> Value {
    json!({"apiVersion": GW, "kind": "HTTPRoute", "metadata": {"name": name, "namespace": "apps"},
           "spec": {"parentRefs": [{"name": "web", "namespace": "gw"}],
                    "rules": [{"matches": [{"path": {"type": "PathPrefix", "value": path}}],
                               "backendRefs": [{"name": service, "port": 80}]}]}})
}

fn service(name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": "apps"},
           "spec": {"type": "ClusterIP", "ports": [{"name": "http", "port": 80, "targetPort": 8080}]}})
}

fn slice(service: &str, endpoints: Value) -> Value {
    json!({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
           "metadata": {"name": format!("{service}-1"), "namespace": "apps",
                        "labels": {"kubernetes.io/service-name": service}},
           "addressType": "IPv4", "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
           "endpoints": endpoints})
}

fn world(from: &str) -> Vec<Value> {
    vec![
        namespace("gw"),
        namespace("apps"),
        namespace("albatross-system"),
        class(),
        gateway(from),
        route("r1", "/a", "svc-a"),
        route("r2", "/b", "svc-b"),
        service("svc-a"),
        service("svc-b"),
        slice(
            "svc-a",
            json!([{"addresses": ["10.0.0.10"], "conditions": {"ready": true}},
                   {"addresses": ["10.0.0.11"], "conditions": {"ready": false}}]),
        ),
        slice("svc-b", json!([{"addresses": ["10.0.1.20"]}])),
    ]
}

/// Waits until the controller has no work queued or running. Call it after seeing an effect of
/// the work (so its cause has reached the queue), before counting what that work did.
async fn settled(c: &Cluster) {
    eventually("the controller idle", || c.controller.idle().then_some(())).await;
}

/// Polls until `f` gives a value, failing after 60 s with `what`.
async fn eventually<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn condition<'a>(conditions: &'a Value, kind: &str) -> Option<&'a Value> {
    conditions.as_array()?.iter().find(|c| c["type"] == kind)
}

fn programmed_address(api: &FakeApiServer) -> Option<String> {
    let gw = api.get(GW, "Gateway", Some("gw"), "web")?;
    let programmed = condition(gw.pointer("/status/conditions")?, "Programmed")?;
    (programmed["status"] == "True").then(|| gw.pointer("/status/addresses/0/value")?.as_str().map(str::to_owned))?
}

fn route_condition(api: &FakeApiServer, name: &str, kind: &str) -> Option<Value> {
    let r = api.get(GW, "HTTPRoute", Some("apps"), name)?;
    let parent =
        r.pointer("/status/parents")?.as_array()?.iter().find(|p| p["controllerName"] == "gateway.k8s.aws/alb")?;
    condition(&parent["conditions"], kind).cloned()
}

/// Writes the controller sent, lease renewals left out, as `METHOD path`.
fn writes(requests: &[Recorded]) -> Vec<String> {
    let mut out: Vec<String> = requests
        .iter()
        .filter(|r| r.method != "GET" && !r.path.contains("/leases"))
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    out.sort();
    out
}

async fn load_balancer_dns(aws: &Aws) -> Vec<String> {
    let out = aws.elbv2.describe_load_balancers().send().await.unwrap();
    out.load_balancers().iter().filter_map(|lb| lb.dns_name().map(str::to_owned)).collect()
}

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
    assert_eq!(mutations, vec!["ModifyRule"]);
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
    let actions: Vec<String> = c.proxy.calls().into_iter().map(|call| call.action).collect();
    assert_eq!(actions, vec!["DescribeTargetHealth", "RegisterTargets"]);
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

/// Every request sent, watches included, is granted to the controller's ServiceAccount by the
/// shipped RBAC manifests.
fn assert_granted_by_shipped_rbac(api: &FakeApiServer) {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../manifests/deploy/rbac.yaml");
    let rbac = Rbac::load(&[path]).unwrap().for_service_account("albatross-system", "albatross");
    let requests: Vec<Recorded> = api.requests().into_iter().chain(api.watches()).collect();
    assert!(requests.len() > 10);
    assert_eq!(rbac.denied(&requests), Vec::<String>::new(), "not granted by manifests/deploy/rbac.yaml");
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
async fn oidc_client_credentials_are_read_from_their_secret_when_the_stack_is_applied() {
    let mut objects = documents(include_str!("../../model/tests/golden/lrc-authenticate-oidc-https/input.yaml"));
    objects.push(namespace("shop"));
    objects.push(namespace("albatross-system"));
    // "my-client-id" and "my-client-secret", base64.
    objects
        .push(json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "oidc-client", "namespace": "shop"},
                        "data": {"clientID": "bXktY2xpZW50LWlk", "clientSecret": "bXktY2xpZW50LXNlY3JldA=="}}));
    let c = cluster_with(objects, true, &["shop.example.com"]).await;
    eventually("Programmed", || {
        let gw = c.api.get(GW, "Gateway", Some("shop"), "web")?;
        gw.pointer("/status/addresses/0/value").map(|_| ())
    })
    .await;
    let lbs = c.aws.elbv2.describe_load_balancers().send().await.unwrap();
    let lb = lbs.load_balancers()[0].load_balancer_arn().unwrap();
    let listeners = c.aws.elbv2.describe_listeners().load_balancer_arn(lb).send().await.unwrap();
    let https = listeners.listeners().iter().find(|l| l.port() == Some(443)).unwrap();
    let rules = c.aws.elbv2.describe_rules().listener_arn(https.listener_arn().unwrap()).send().await.unwrap();
    let oidc = rules
        .rules()
        .iter()
        .flat_map(|r| r.actions())
        .find_map(|a| a.authenticate_oidc_config())
        .expect("an authenticate-oidc action");
    assert_eq!(oidc.client_id(), Some("my-client-id"));
    // A resync leaves the rule alone: the resolved id compares equal to what AWS holds.
    c.proxy.clear_calls();
    c.api.apply(json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "store", "namespace": "shop",
                       "labels": {"touched": "yes"}},
                       "spec": {"selector": {"app": "store"}, "ports": [{"name": "http", "port": 80, "targetPort": 8080}]}}));
    eventually("a reconcile", || c.proxy.calls().iter().any(|call| call.action == "DescribeRules").then_some(())).await;
    settled(&c).await;
    assert!(c.proxy.mutating_calls().is_empty(), "{:?}", c.proxy.mutating_calls());
    assert_granted_by_shipped_rbac(&c.api);
}

fn node(name: &str, instance: &str, ready: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": name},
           "spec": {"providerID": format!("aws:///us-east-1a/{instance}")},
           "status": {"conditions": [{"type": "Ready", "status": ready}]}})
}

async fn registered(aws: &Aws) -> Vec<String> {
    let tgs = aws.elbv2.describe_target_groups().send().await.unwrap();
    let mut out = Vec::new();
    for tg in tgs.target_groups() {
        let arn = tg.target_group_arn().unwrap();
        let health = aws.elbv2.describe_target_health().target_group_arn(arn).send().await.unwrap();
        for d in health.target_health_descriptions() {
            let t = d.target().unwrap();
            out.push(format!("{}:{}", t.id().unwrap(), t.port().unwrap()));
        }
    }
    out.sort();
    out
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
    let actions: Vec<String> = c.proxy.calls().into_iter().map(|call| call.action).collect();
    assert!(
        actions.iter().all(|a| ["DescribeTargetHealth", "RegisterTargets", "DeregisterTargets"].contains(&a.as_str())),
        "node changes read no load balancer: {actions:?}"
    );
}

fn gated_pod(name: &str, ip: &str, containers_ready: bool) -> Value {
    let gate = albatross_reconciler::readiness::gate("svc-a");
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "apps", "labels": {"app": "a"}},
           "spec": {"containers": [{"name": "app", "image": "app"}], "readinessGates": [{"conditionType": gate}]},
           "status": {"podIP": ip, "conditions": [
               {"type": "ContainersReady", "status": if containers_ready { "True" } else { "False" }},
               {"type": "Ready", "status": "False"}]}})
}

fn gate_condition(api: &FakeApiServer, pod: &str) -> Option<Value> {
    let pod = api.get("v1", "Pod", Some("apps"), pod)?;
    let gate = albatross_reconciler::readiness::gate("svc-a");
    condition(pod.pointer("/status/conditions")?, &gate).cloned()
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

#[path = "fixtures/lures.rs"]
mod lures;

/// `GET`s of Secrets, as `namespace/name`.
fn secrets_read(api: &FakeApiServer) -> Vec<String> {
    let reads = api.requests().into_iter().filter(|r| r.resource().1 == "secrets");
    let mut out: Vec<String> = reads
        .map(|r| {
            let (namespace, name) = r.target();
            format!("{} {}/{}", r.verb(), namespace.unwrap_or_default(), name.unwrap_or_default())
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secret_reference_text_in_user_fields_is_sent_literally_and_no_other_secret_is_read() {
    let mut objects = documents(include_str!("fixtures/secret-lures.yaml"));
    objects.extend([namespace("shop"), namespace("albatross-system")]);
    let c = cluster_with(objects, true, &["shop.example.com"]).await;
    eventually("Programmed", || {
        let gw = c.api.get(GW, "Gateway", Some("shop"), "web")?;
        gw.pointer("/status/addresses/0/value").map(|_| ())
    })
    .await;
    lures::assert_sent_literally(&c.aws).await;
    assert_eq!(secrets_read(&c.api), ["get shop/oidc-client"]);
}

fn programmed_message(api: &FakeApiServer) -> Option<String> {
    let gw = api.get(GW, "Gateway", Some("shop"), "web")?;
    let programmed = condition(gw.pointer("/status/conditions")?, "Programmed")?;
    (programmed["status"] == "False").then(|| programmed["message"].as_str().map(str::to_owned))?
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreadable_oidc_secret_gives_one_message_whether_missing_keyless_or_forbidden() {
    let mut objects = documents(include_str!("../../model/tests/golden/lrc-authenticate-oidc-https/input.yaml"));
    objects.extend([namespace("shop"), namespace("albatross-system")]);
    let c = cluster_with(objects, true, &["shop.example.com"]).await;
    let missing = eventually("Programmed False", || programmed_message(&c.api)).await;
    assert!(
        missing.contains("Secret shop/oidc-client with keys clientID and clientSecret cannot be read"),
        "{missing}"
    );
    assert!(!c.proxy.calls().iter().any(|call| call.action == "CreateRule"), "nothing half-configured");

    // A Secret without the client secret.
    let keyless = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "oidc-client", "namespace": "shop"},
                         "data": {"clientID": "bXktY2xpZW50LWlk"}});
    settled(&c).await;
    c.api.clear_requests();
    c.api.apply(keyless);
    // No Secret watch: a change to the Gateway's Service brings the next reconcile.
    c.api.apply(json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "store", "namespace": "shop",
                       "labels": {"touched": "1"}},
                       "spec": {"selector": {"app": "store"}, "ports": [{"name": "http", "port": 80, "targetPort": 8080}]}}));
    eventually("the keyless Secret read", || (!secrets_read(&c.api).is_empty()).then_some(())).await;
    settled(&c).await;
    assert_eq!(programmed_message(&c.api).as_deref(), Some(missing.as_str()), "missing key");

    // Reading it forbidden.
    c.api.fail_requests("GET", "/secrets/oidc-client", 403, 1000);
    c.api.clear_requests();
    c.api.apply(json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "store", "namespace": "shop",
                       "labels": {"touched": "2"}},
                       "spec": {"selector": {"app": "store"}, "ports": [{"name": "http", "port": 80, "targetPort": 8080}]}}));
    eventually("the forbidden read", || (!secrets_read(&c.api).is_empty()).then_some(())).await;
    settled(&c).await;
    assert_eq!(programmed_message(&c.api).as_deref(), Some(missing.as_str()), "forbidden");
}

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
