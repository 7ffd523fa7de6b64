//! What the `albatross reconcile` tests share: moto behind the proxy, the binary, helpers.

#![allow(dead_code, unused_imports)]

pub use std::path::Path;
pub use std::process::{Command, Output};

pub use albatross_aws::{Aws, AwsSettings, RateLimits};
pub use albatross_test_support::{Faults, Moto, Proxy, ProxyOptions};
pub use aws_sdk_ec2::types::{Filter, ResourceType, Tag, TagSpecification};

pub const CLUSTER: &str = "test";
pub const EXAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/blue-orange");

pub struct World {
    pub _moto: Moto,
    pub proxy: Proxy,
    pub aws: Aws,
    pub vpc: String,
}

pub async fn world() -> World {
    let moto = tokio::task::spawn_blocking(Moto::start).await.unwrap();
    let proxy = Proxy::start(moto.endpoint(), ProxyOptions::default()).await;
    let aws = Aws::connect(&AwsSettings {
        endpoint: Some(moto.endpoint().into()),
        limits: RateLimits::unlimited(),
        ..Default::default()
    })
    .await;
    let vpc = albatross_test_support::network::load_balancer_subnets(&aws.ec2).await;
    albatross_test_support::acm::import_self_signed(&aws.acm, "sample.com", &["sample.com"]).await;
    World { _moto: moto, proxy, aws, vpc }
}

pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
    }
}

/// `albatross reconcile` of `manifests` against the world's proxy, not started.
pub fn reconcile_command(world: &World, manifests: &Path, extra: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_albatross"));
    cmd.args(["reconcile", "--manifests"])
        .arg(manifests)
        .args(["--aws-endpoint", world.proxy.endpoint(), "--cluster-name", CLUSTER, "--aws-unlimited"])
        .args(["--vpc-id", &world.vpc])
        .args(extra)
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env_remove("AWS_PROFILE");
    cmd
}

pub async fn reconcile(world: &World, manifests: &Path, extra: &[&str]) -> Output {
    let mut cmd = reconcile_command(world, manifests, extra);
    tokio::task::spawn_blocking(move || cmd.output().unwrap()).await.unwrap()
}

/// `reconcile` again over what the last run converged: it succeeds and writes nothing.
pub async fn reconcile_again_writes_nothing(world: &World, manifests: &Path, extra: &[&str]) -> Output {
    world.proxy.clear_calls();
    let out = reconcile(world, manifests, extra).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(mutations(world), Vec::<String>::new(), "{}", text(&out));
    out
}

pub fn text(out: &Output) -> String {
    format!("stdout:\n{}\nstderr:\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

pub fn mutations(world: &World) -> Vec<String> {
    world.proxy.mutating_calls().into_iter().map(|c| c.action).collect()
}

/// `(load balancers named name, rules per listener port, target groups)` in AWS.
pub async fn state(aws: &Aws, name: &str) -> (usize, Vec<(i32, usize)>, usize) {
    let lbs = aws.elbv2.describe_load_balancers().send().await.unwrap();
    let ours: Vec<_> = lbs.load_balancers().iter().filter(|l| l.load_balancer_name() == Some(name)).collect();
    let mut rules = Vec::new();
    for lb in &ours {
        let listeners =
            aws.elbv2.describe_listeners().load_balancer_arn(lb.load_balancer_arn().unwrap()).send().await.unwrap();
        for l in listeners.listeners() {
            let r = aws.elbv2.describe_rules().listener_arn(l.listener_arn().unwrap()).page_size(400).send().await;
            let n = r.unwrap().rules().iter().filter(|r| r.is_default() != Some(true)).count();
            rules.push((l.port().unwrap(), n));
        }
    }
    rules.sort();
    let tgs = aws.elbv2.describe_target_groups().send().await.unwrap().target_groups().len();
    (ours.len(), rules, tgs)
}

pub const NLB: &str = r#"
apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: nlb}
spec: {controllerName: gateway.k8s.aws/nlb}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: edge, namespace: shop}
spec:
  gatewayClassName: nlb
  listeners:
  - {name: db, protocol: TCP, port: 5432}
  - {name: dns, protocol: UDP, port: 53}
---
apiVersion: v1
kind: Service
metadata: {name: db, namespace: shop}
spec:
  ports: [{port: 5432, targetPort: 5432, protocol: TCP}]
---
apiVersion: v1
kind: Service
metadata: {name: dns, namespace: shop}
spec:
  ports: [{port: 53, targetPort: 53, protocol: UDP}]
---
apiVersion: gateway.networking.k8s.io/v1alpha2
kind: TCPRoute
metadata: {name: db, namespace: shop}
spec:
  parentRefs: [{name: edge, sectionName: db}]
  rules: [{backendRefs: [{name: db, port: 5432}]}]
---
apiVersion: gateway.networking.k8s.io/v1alpha2
kind: UDPRoute
metadata: {name: dns, namespace: shop}
spec:
  parentRefs: [{name: edge, sectionName: dns}]
  rules: [{backendRefs: [{name: dns, port: 53}]}]
"#;

/// Eight more rules and a target group, so a full convergence has more than 20 mutations.
pub const MORE_ROUTES: &str = r#"
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: more, namespace: example-ns}
spec:
  parentRefs: [{name: my-alb-gateway, sectionName: http}]
  rules:
  - {matches: [{path: {value: /a}}], backendRefs: [{name: service-blue, port: 80}]}
  - {matches: [{path: {value: /b}}], backendRefs: [{name: service-blue, port: 80}]}
  - {matches: [{path: {value: /c}}], backendRefs: [{name: service-blue, port: 80}]}
  - {matches: [{path: {value: /d}}], backendRefs: [{name: service-blue, port: 80}]}
  - {matches: [{path: {value: /e}}], backendRefs: [{name: service-blue, port: 80}]}
  - {matches: [{path: {value: /f}}], backendRefs: [{name: service-blue, port: 80}]}
  - {matches: [{path: {value: /g}}], backendRefs: [{name: service-blue, port: 80}]}
  - {matches: [{path: {value: /h}}], backendRefs: [{name: service-blue, port: 80}]}
"#;

pub fn albatross(world: &World, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_albatross"));
    cmd.args(args)
        .env("ALBATROSS_AWS_ENDPOINT", world.proxy.endpoint())
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("KUBECONFIG", "/nonexistent/kubeconfig")
        .env_remove("ALBATROSS_CLUSTER_NAME")
        .env_remove("AWS_PROFILE");
    cmd
}

pub async fn output(mut cmd: Command) -> Output {
    tokio::task::spawn_blocking(move || cmd.output().unwrap()).await.unwrap()
}

/// The example with its GatewayClass left out (`None`) or given to `controller`.
pub fn example_with_class(dir: &Path, controller: Option<&str>) {
    copy_dir(Path::new(EXAMPLE), dir);
    let path = dir.join("gateway.yaml");
    let all = std::fs::read_to_string(&path).unwrap();
    let docs: Vec<String> = all
        .split("\n---\n")
        .filter_map(|d| match (d.contains("kind: GatewayClass"), controller) {
            (false, _) => Some(d.to_owned()),
            (true, None) => None,
            (true, Some(c)) => Some(d.replace("gateway.k8s.aws/alb", c)),
        })
        .collect();
    std::fs::write(&path, docs.join("\n---\n")).unwrap();
}

pub async fn protect(aws: &Aws, arn: &str) {
    let protection = aws_sdk_elasticloadbalancingv2::types::LoadBalancerAttribute::builder()
        .key("deletion_protection.enabled")
        .value("true")
        .build();
    aws.elbv2.modify_load_balancer_attributes().load_balancer_arn(arn).attributes(protection).send().await.unwrap();
}

pub async fn load_balancer_arn(aws: &Aws, name: &str) -> String {
    let lbs = aws.elbv2.describe_load_balancers().names(name).send().await.unwrap();
    lbs.load_balancers()[0].load_balancer_arn().unwrap().to_owned()
}
