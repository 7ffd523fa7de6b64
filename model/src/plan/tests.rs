//! Builds from objects validation would refuse (the webhook fails open for shared Gateway API
//! kinds, and objects may predate it): the plan must still fail them alone. The golden cases
//! plan validated objects only, so these paths are checked here.

use serde_json::Value;

use super::{Build, Env, Snapshot, build};

const CLASS: &str = "
apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: alb}
spec: {controllerName: gateway.k8s.aws/alb}
";

const GATEWAY: &str = "
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: web, namespace: shop}
spec:
  gatewayClassName: alb
  listeners:
  - {name: http, protocol: HTTP, port: 80}
";

const SERVICE: &str = "
apiVersion: v1
kind: Service
metadata: {name: store, namespace: shop}
spec:
  ports: [{port: 80, targetPort: 8080}]
";

fn plan(docs: &[&str]) -> Build {
    plan_with(docs, &Env::default())
}

fn plan_with(docs: &[&str], env: &Env) -> Build {
    let text = docs.join("\n---\n");
    let objects: Vec<Value> = crate::manifest::parse(&text).into_iter().map(|d| d.unwrap().value).collect();
    let (snapshot, skipped) = Snapshot::from_objects(objects.iter().cloned());
    assert!(skipped.is_empty(), "{skipped:?}");
    build(&snapshot, env)
}

fn status<'a>(build: &'a Build, kind: &str, name: &str) -> &'a Value {
    &build.statuses.iter().find(|s| s.kind == kind && s.name == name).unwrap_or_else(|| panic!("{kind} {name}")).status
}

fn condition<'a>(conditions: &'a Value, kind: &str) -> (&'a str, &'a str) {
    let c = conditions.as_array().unwrap().iter().find(|c| c["type"] == kind).unwrap();
    (c["status"].as_str().unwrap(), c["reason"].as_str().unwrap())
}

fn route(name: &str, rule: &str) -> String {
    format!(
        "
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {{name: {name}, namespace: shop}}
spec:
  parentRefs: [{{name: web}}]
  rules:
  - {rule}
"
    )
}

#[test]
fn a_class_whose_parameters_have_no_namespace_is_not_accepted() {
    let class = CLASS.replace(
        "spec: {controllerName: gateway.k8s.aws/alb}",
        "spec:\n  controllerName: gateway.k8s.aws/alb\n  parametersRef: {group: gateway.k8s.aws, kind: LoadBalancerConfiguration, name: lbc}",
    );
    let build = plan(&[&class, GATEWAY]);
    assert_eq!(
        condition(&status(&build, "GatewayClass", "alb")["conditions"], "Accepted"),
        ("False", "InvalidParameters")
    );
    assert_eq!(condition(&status(&build, "Gateway", "web")["conditions"], "Accepted"), ("False", "InvalidParameters"));
    assert!(build.stacks.is_empty());
}

#[test]
fn a_class_whose_parameters_do_not_exist_is_not_accepted() {
    let class = CLASS.replace(
        "spec: {controllerName: gateway.k8s.aws/alb}",
        "spec:\n  controllerName: gateway.k8s.aws/alb\n  parametersRef: {group: gateway.k8s.aws, kind: LoadBalancerConfiguration, name: lbc, namespace: platform}",
    );
    let build = plan(&[&class, GATEWAY]);
    let accepted = &status(&build, "GatewayClass", "alb")["conditions"][0];
    assert_eq!((accepted["status"].as_str(), accepted["reason"].as_str()), (Some("False"), Some("InvalidParameters")));
    assert!(accepted["message"].as_str().unwrap().contains("platform/lbc not found"));
    assert!(build.stacks.is_empty());
}

#[test]
fn an_unsupported_listener_protocol_fails_that_listener_alone() {
    let gateway = format!("{GATEWAY}  - {{name: raw, protocol: TCP, port: 5432}}\n");
    let build = plan(&[CLASS, &gateway, SERVICE, &route("store", "backendRefs: [{name: store, port: 80}]")]);
    let gw = status(&build, "Gateway", "web");
    assert_eq!(condition(&gw["conditions"], "Accepted"), ("True", "ListenersNotValid"));
    assert_eq!(condition(&gw["listeners"][1]["conditions"], "Accepted"), ("False", "UnsupportedProtocol"));
    assert_eq!(condition(&gw["listeners"][0]["conditions"], "Accepted"), ("True", "Accepted"));
    let ports: Vec<i32> = build.stacks[0].listeners.iter().map(|l| l.port).collect();
    assert_eq!(ports, [80]);
}

#[test]
fn a_route_with_a_filter_alb_cannot_apply_is_refused_alone() {
    let bad = route(
        "bad",
        "filters: [{type: RequestHeaderModifier, requestHeaderModifier: {set: [{name: x, value: y}]}}]\n    backendRefs: [{name: store, port: 80}]",
    );
    let good = route("good", "backendRefs: [{name: store, port: 80}]");
    let build = plan(&[CLASS, GATEWAY, SERVICE, &bad, &good]);
    let bad_parent = &status(&build, "HTTPRoute", "bad")["parents"][0];
    assert_eq!(condition(&bad_parent["conditions"], "Accepted"), ("False", "UnsupportedValue"));
    let good_parent = &status(&build, "HTTPRoute", "good")["parents"][0];
    assert_eq!(condition(&good_parent["conditions"], "Accepted"), ("True", "Accepted"));
    let rules: Vec<&str> = build.stacks[0].listeners[0].rules.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(rules, ["HTTPRoute/shop/good/0/0/*"]);
}

#[test]
fn ports_past_the_listener_quota_are_refused_in_listener_order() {
    let gateway = "
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: web, namespace: shop}
spec:
  gatewayClassName: alb
  listeners:
  - {name: a, protocol: HTTP, port: 8081}
  - {name: b, protocol: HTTP, port: 80}
  - {name: c, protocol: HTTP, port: 8080}
";
    let mut env = Env::default();
    env.limits.listeners_per_lb = 2;
    let build = plan_with(&[CLASS, gateway], &env);
    let ports: Vec<i32> = build.stacks[0].listeners.iter().map(|l| l.port).collect();
    assert_eq!(ports, [80, 8081]);
    let listeners = status(&build, "Gateway", "web")["listeners"].as_array().unwrap();
    assert_eq!(condition(&listeners[2]["conditions"], "Accepted"), ("False", "PortUnavailable"));
}

#[test]
fn certificates_past_the_quota_fail_that_listener_alone() {
    let gateway = "
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: web, namespace: shop}
spec:
  gatewayClassName: alb
  listeners:
  - {name: http, protocol: HTTP, port: 80}
  - {name: a, protocol: HTTPS, port: 443, hostname: a.example.com}
  - {name: b, protocol: HTTPS, port: 443, hostname: b.example.com}
";
    let certificate = |host: &str| super::AcmCertificate {
        certificate_arn: format!("arn:aws:acm:us-west-2:111122223333:certificate/{host}"),
        domain_name: host.into(),
        subject_alternative_names: Vec::new(),
        status: "ISSUED".into(),
        not_after: None,
    };
    let mut env =
        Env { certificates: vec![certificate("a.example.com"), certificate("b.example.com")], ..Env::default() };
    env.limits.certificates_per_lb = 0;
    let build = plan_with(&[CLASS, gateway], &env);
    let ports: Vec<i32> = build.stacks[0].listeners.iter().map(|l| l.port).collect();
    assert_eq!(ports, [80], "the HTTPS listener needs a second certificate");
    env.limits.certificates_per_lb = 1;
    let build = plan_with(&[CLASS, gateway], &env);
    assert_eq!(build.stacks[0].listeners[1].certificates.len(), 2);
}

#[test]
fn an_existing_load_balancer_keeps_its_subnets_while_its_scheme_stays() {
    let mut env = Env { subnets: vec!["subnet-new-a".into(), "subnet-new-b".into()], ..Env::default() };
    env.existing.insert(
        "shop/web".into(),
        super::ExistingLoadBalancer {
            scheme: "internal".into(),
            subnets: vec!["subnet-old-a".into(), "subnet-old-b".into()],
        },
    );
    let build = plan_with(&[CLASS, GATEWAY], &env);
    assert_eq!(build.stacks[0].load_balancer.subnets, ["subnet-old-a", "subnet-old-b"]);
    env.existing.get_mut("shop/web").unwrap().scheme = "internet-facing".into();
    let build = plan_with(&[CLASS, GATEWAY], &env);
    assert_eq!(build.stacks[0].load_balancer.subnets, ["subnet-new-a", "subnet-new-b"]);
}

#[test]
fn a_raised_rule_quota_lets_one_large_route_through() {
    // 16 hostnames x 7 matches = 112 ALB rules: over the default 100, within a raised 200.
    let hosts: Vec<String> = (0..16).map(|i| format!("h{i}.example.com")).collect();
    let matches: Vec<String> = (0..7).map(|i| format!("{{path: {{type: Exact, value: /p{i}}}}}")).collect();
    let large = format!(
        "
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {{name: large, namespace: shop}}
spec:
  parentRefs: [{{name: web}}]
  hostnames: [{}]
  rules:
  - matches: [{}]
    backendRefs: [{{name: store, port: 80}}]
",
        hosts.join(", "),
        matches.join(", ")
    );
    let build = plan(&[CLASS, GATEWAY, SERVICE, &large]);
    assert_eq!(
        condition(&status(&build, "HTTPRoute", "large")["parents"][0]["conditions"], "Accepted"),
        ("False", "UnsupportedValue")
    );
    let mut env = Env::default();
    env.limits.rules_per_alb = 200;
    let build = plan_with(&[CLASS, GATEWAY, SERVICE, &large], &env);
    assert_eq!(
        condition(&status(&build, "HTTPRoute", "large")["parents"][0]["conditions"], "Accepted"),
        ("True", "Accepted")
    );
    assert_eq!(build.stacks[0].listeners[0].rules.len(), 112);
}

#[test]
fn a_class_status_lists_its_supported_features_sorted() {
    let build = plan(&[CLASS, GATEWAY]);
    let listed: Vec<&str> = status(&build, "GatewayClass", "alb")["supportedFeatures"]
        .as_array()
        .expect("supportedFeatures is set")
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert!(listed.contains(&"HTTPRoute") && listed.contains(&"Gateway"), "{listed:?}");
    assert!(!listed.contains(&"TCPRoute"), "an ALB class takes no TCPRoute: {listed:?}");
    assert!(listed.windows(2).all(|w| w[0] < w[1]), "sorted and unique: {listed:?}");
}
