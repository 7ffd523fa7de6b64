//! What the controller component tests share: a fake API server and moto behind the proxy,
//! the objects of a small world, and waiting helpers.

#![allow(dead_code, unused_imports)]

pub use std::sync::Arc;
pub use std::time::Duration;

pub use albatross_aws::deploy::Deployer;
pub use albatross_aws::resolve::{ResolveSettings, Resolver};
pub use albatross_aws::{Aws, AwsSettings, RateLimits};
pub use albatross_model::Controllers;
pub use albatross_model::validate::AwsLimits;
pub use albatross_reconciler::controller::CLASS_FINALIZER;
pub use albatross_reconciler::{Controller, Elector, FIELD_MANAGER, FINALIZER, LeaseSettings, Settings};
pub use albatross_test_support::kube_api::{FakeApiServer, Recorded, ResourceDef};
pub use albatross_test_support::rbac::Rbac;
pub use albatross_test_support::{Moto, Proxy, ProxyOptions};
pub use serde_json::{Value, json};
pub use tokio::sync::watch;

pub const CLUSTER: &str = "component";
pub const GW: &str = "gateway.networking.k8s.io/v1";

pub struct Cluster {
    pub api: FakeApiServer,
    pub _moto: Moto,
    pub proxy: Proxy,
    /// Straight to moto, for looking at what exists.
    pub aws: Aws,
    pub controller: Arc<Controller>,
    pub _stop: watch::Sender<bool>,
}

pub async fn cluster(objects: Vec<Value>) -> Cluster {
    cluster_with(objects, true, &[]).await
}

/// `crds`: whether the Gateway API and our CRDs are served from the start; `certificates`:
/// hostnames that get a certificate in ACM before the controller starts.
pub async fn cluster_with(objects: Vec<Value>, crds: bool, certificates: &[&str]) -> Cluster {
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
    let (controller, stop) = replica(&api, &proxy, "replica-a", Duration::from_secs(5)).await;
    Cluster { api, _moto: moto, proxy, aws, controller, _stop: stop }
}

/// A controller replica with its own AWS client and lease elector, started.
pub async fn replica(
    api: &FakeApiServer,
    proxy: &Proxy,
    identity: &str,
    drift_interval: Duration,
) -> (Arc<Controller>, watch::Sender<bool>) {
    let client = kube::Client::try_from(kube::Config::new(api.url().parse().unwrap())).unwrap();
    let through_proxy = Aws::connect(&AwsSettings {
        endpoint: Some(proxy.endpoint().into()),
        limits: RateLimits::unlimited(),
        ..Default::default()
    })
    .await;
    let resolver = Resolver::new(through_proxy.clone(), ResolveSettings::new(CLUSTER));
    let deployer = Deployer::new(through_proxy, resolver, CLUSTER);
    let lease = LeaseSettings {
        namespace: "albatross-system".into(),
        name: "albatross-leader".into(),
        identity: identity.into(),
        // Long enough that a loaded CI machine never drops it by accident.
        duration: Duration::from_secs(10),
    };
    let (elector, leadership) = Elector::new(client.clone(), lease, deployer.aws.fence.clone());
    let (stop, stopped) = watch::channel(false);
    tokio::spawn(elector.run(stopped));
    let settings = Settings {
        cluster_name: CLUSTER.into(),
        namespace: "albatross-system".into(),
        controllers: Controllers::default(),
        limits: AwsLimits::default(),
        default_ssl_policy: albatross_model::plan::DEFAULT_SSL_POLICY.into(),
        default_target_type: albatross_model::plan::wire::TargetType::Ip,
        resync: Duration::from_secs(600),
        concurrency: 2,
        instance: Some(identity.into()),
        rediscover: Duration::from_secs(1),
        drift_interval,
    };
    let controller = Controller::new(client, deployer, leadership, settings);
    tokio::spawn(controller.clone().run());
    (controller, stop)
}

/// The objects of a multi-document YAML manifest (a golden case's input).
pub fn documents(yaml: &str) -> Vec<Value> {
    yaml.split("\n---").map(|doc| serde_norway::from_str::<Value>(doc).unwrap()).filter(|v| !v.is_null()).collect()
}

pub fn install_crds(api: &FakeApiServer) {
    for def in ResourceDef::gateway_api().into_iter().chain(ResourceDef::aws()) {
        api.register(def);
    }
}

pub fn namespace(name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
}

pub fn class() -> Value {
    json!({"apiVersion": GW, "kind": "GatewayClass", "metadata": {"name": "alb"},
           "spec": {"controllerName": "gateway.k8s.aws/alb"}})
}

pub fn gateway(from: &str) -> Value {
    json!({"apiVersion": GW, "kind": "Gateway", "metadata": {"name": "web", "namespace": "gw"},
           "spec": {"gatewayClassName": "alb", "listeners": [
               {"name": "http", "port": 80, "protocol": "HTTP", "allowedRoutes": {"namespaces": {"from": from}}}]}})
}

pub fn route(name: &str, path: &str, service: &str) -> Value {
    json!({"apiVersion": GW, "kind": "HTTPRoute", "metadata": {"name": name, "namespace": "apps"},
           "spec": {"parentRefs": [{"name": "web", "namespace": "gw"}],
                    "rules": [{"matches": [{"path": {"type": "PathPrefix", "value": path}}],
                               "backendRefs": [{"name": service, "port": 80}]}]}})
}

pub fn service(name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": "apps"},
           "spec": {"type": "ClusterIP", "ports": [{"name": "http", "port": 80, "targetPort": 8080}]}})
}

pub fn slice(service: &str, endpoints: Value) -> Value {
    json!({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
           "metadata": {"name": format!("{service}-1"), "namespace": "apps",
                        "labels": {"kubernetes.io/service-name": service}},
           "addressType": "IPv4", "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
           "endpoints": endpoints})
}

pub fn world(from: &str) -> Vec<Value> {
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
pub async fn settled(c: &Cluster) {
    eventually("the controller idle", || c.controller.idle().then_some(())).await;
}

/// Polls until `f` gives a value, failing after 60 s with `what`.
pub async fn eventually<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// [`eventually`] for an async probe.
pub async fn eventually_async<T, F: Future<Output = Option<T>>>(what: &str, mut f: impl FnMut() -> F) -> T {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

pub fn condition<'a>(conditions: &'a Value, kind: &str) -> Option<&'a Value> {
    conditions.as_array()?.iter().find(|c| c["type"] == kind)
}

pub fn programmed_address(api: &FakeApiServer) -> Option<String> {
    let gw = api.get(GW, "Gateway", Some("gw"), "web")?;
    let programmed = condition(gw.pointer("/status/conditions")?, "Programmed")?;
    (programmed["status"] == "True").then(|| gw.pointer("/status/addresses/0/value")?.as_str().map(str::to_owned))?
}

pub fn route_condition(api: &FakeApiServer, name: &str, kind: &str) -> Option<Value> {
    let r = api.get(GW, "HTTPRoute", Some("apps"), name)?;
    let parent =
        r.pointer("/status/parents")?.as_array()?.iter().find(|p| p["controllerName"] == "gateway.k8s.aws/alb")?;
    condition(&parent["conditions"], kind).cloned()
}

/// Writes the controller sent, lease renewals left out, as `METHOD path`.
pub fn writes(requests: &[Recorded]) -> Vec<String> {
    let mut out: Vec<String> = requests
        .iter()
        .filter(|r| r.method != "GET" && !r.path.contains("/leases"))
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    out.sort();
    out
}

pub async fn load_balancer_dns(aws: &Aws) -> Vec<String> {
    let out = aws.elbv2.describe_load_balancers().send().await.unwrap();
    out.load_balancers().iter().filter_map(|lb| lb.dns_name().map(str::to_owned)).collect()
}

/// Every request sent, watches included, is granted to the controller's ServiceAccount by the
/// shipped RBAC manifests.
pub fn assert_granted_by_shipped_rbac(api: &FakeApiServer) {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../manifests/deploy/rbac.yaml");
    let rbac = Rbac::load(&[path]).unwrap().for_service_account("albatross-system", "albatross");
    let requests: Vec<Recorded> = api.requests().into_iter().chain(api.watches()).collect();
    assert!(requests.len() > 10);
    assert_eq!(rbac.denied(&requests), Vec::<String>::new(), "not granted by manifests/deploy/rbac.yaml");
}

pub fn node(name: &str, instance: &str, ready: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": name},
           "spec": {"providerID": format!("aws:///us-east-1a/{instance}")},
           "status": {"conditions": [{"type": "Ready", "status": ready}]}})
}

pub async fn registered(aws: &Aws) -> Vec<String> {
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

pub fn gated_pod(name: &str, ip: &str, containers_ready: bool) -> Value {
    let gate = albatross_reconciler::readiness::gate("svc-a");
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "apps", "labels": {"app": "a"}},
           "spec": {"containers": [{"name": "app", "image": "app"}], "readinessGates": [{"conditionType": gate}]},
           "status": {"podIP": ip, "conditions": [
               {"type": "ContainersReady", "status": if containers_ready { "True" } else { "False" }},
               {"type": "Ready", "status": "False"}]}})
}

pub fn gate_condition(api: &FakeApiServer, pod: &str) -> Option<Value> {
    let pod = api.get("v1", "Pod", Some("apps"), pod)?;
    let gate = albatross_reconciler::readiness::gate("svc-a");
    condition(pod.pointer("/status/conditions")?, &gate).cloned()
}
