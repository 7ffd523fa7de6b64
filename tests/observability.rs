//! The Grafana dashboard and the PrometheusRule the chart ships name only metrics the binary
//! exports: `albatross serve` runs against the fake API server, its `/metrics` is scraped, and
//! every metric in the dashboard's queries and the rules' expressions must be among them.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use std::io::{Read, Write};

use albatross_aws::{Aws, AwsSettings, RateLimits};
use albatross_test_support::kube_api::{FakeApiServer, ResourceDef};
use albatross_test_support::loopback::http_get;
use albatross_test_support::proxy::Faults;
use albatross_test_support::serve::ServeProcess;
use albatross_test_support::{Moto, Proxy, ProxyOptions};
use base64::Engine;
use serde_json::{Value, json};

const DASHBOARD: &str = "charts/albatross/dashboards/albatross.json";
const RULES: &str = "charts/albatross/rules/albatross.rules.yaml";

fn read(path: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(path);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn dashboard() -> Value {
    serde_json::from_str(&read(DASHBOARD)).expect("dashboard JSON")
}

fn rules() -> Value {
    let value: serde_norway::Value = serde_norway::from_str(&read(RULES)).expect("rules YAML");
    serde_json::to_value(value).unwrap()
}

/// Every PromQL expression of the dashboard: panel targets and templating queries.
fn dashboard_queries(dashboard: &Value) -> Vec<String> {
    let mut out = Vec::new();
    for panel in dashboard["panels"].as_array().unwrap() {
        for target in panel["targets"].as_array().into_iter().flatten() {
            out.push(target["expr"].as_str().expect("target expr").to_string());
        }
    }
    for variable in dashboard["templating"]["list"].as_array().unwrap() {
        if let Some(query) = variable["query"]["query"].as_str() {
            out.push(query.to_string());
        }
    }
    out
}

fn rule_expressions(rules: &Value) -> Vec<(String, String)> {
    rules["groups"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|g| g["rules"].as_array().unwrap().iter())
        .map(|r| (r["alert"].as_str().unwrap().to_string(), r["expr"].as_str().unwrap().to_string()))
        .collect()
}

/// The metric names in a PromQL expression: identifiers outside quotes and braces that start
/// with `albatross_` (our prefix; every metric the binary exports has it).
fn metrics_in(expr: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let (mut quoted, mut braces) = (None, 0);
    let mut word = String::new();
    for c in expr.chars().chain([' ']) {
        if let Some(q) = quoted {
            if c == q {
                quoted = None;
            }
            continue;
        }
        if c.is_ascii_alphanumeric() || c == '_' || c == ':' {
            word.push(c);
            continue;
        }
        if braces == 0 && word.starts_with("albatross_") {
            out.insert(word.clone());
        }
        word.clear();
        match c {
            '"' | '\'' | '`' => quoted = Some(c),
            '{' => braces += 1,
            '}' => braces -= 1,
            _ => {}
        }
    }
    out
}

/// The sample names a scrape can hold, from its `# TYPE` lines (printed also for families with
/// no samples yet) and its sample lines: a counter `x` is `x_total`, a histogram `x` is
/// `x_bucket`, `x_sum` and `x_count`.
fn exported_names(exposition: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for line in exposition.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let mut parts = rest.split_whitespace();
            let (name, kind) = (parts.next().unwrap(), parts.next().unwrap());
            match kind {
                "counter" => {
                    out.insert(format!("{name}_total"));
                }
                "histogram" => {
                    for suffix in ["_bucket", "_sum", "_count"] {
                        out.insert(format!("{name}{suffix}"));
                    }
                }
                _ => {
                    out.insert(name.to_string());
                }
            }
        } else if !line.starts_with('#') && !line.is_empty() {
            let name: String = line.chars().take_while(|c| *c != '{' && *c != ' ').collect();
            out.insert(name);
        }
    }
    out
}

const GW: &str = "gateway.networking.k8s.io/v1";

/// POSTs an AdmissionReview to the webhook over TLS, trusting only `ca_pem`, as the API server would.
fn admission(port: u16, ca_pem: &[u8], body: &Value) -> String {
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls::pki_types::CertificateDer::pem_slice_iter(ca_pem) {
        roots.add(cert.unwrap()).unwrap();
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let name = "albatross-webhook.albatross-system.svc".try_into().unwrap();
    let connection = rustls::ClientConnection::new(Arc::new(config), name).unwrap();
    let socket = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    let mut tls = rustls::StreamOwned::new(connection, socket);
    let body = body.to_string();
    write!(
        tls,
        "POST /validate HTTP/1.1\r\nHost: albatross-webhook.albatross-system.svc\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut response = String::new();
    let _ = tls.read_to_string(&mut response);
    response
}

/// The exposition of `/metrics` (the body of the HTTP answer).
fn scrape(admin: u16) -> Option<String> {
    let (status, response) = http_get(admin, "/metrics")?;
    (status == 200).then(|| response.split_once("\r\n\r\n").map_or(response.clone(), |(_, body)| body.to_string()))
}

async fn wait_for<T: Send + 'static>(what: &'static str, mut f: impl FnMut() -> Option<T> + Send + 'static) -> T {
    tokio::task::spawn_blocking(move || {
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            if let Some(v) = f() {
                return v;
            }
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            std::thread::sleep(Duration::from_millis(100));
        }
    })
    .await
    .unwrap()
}

fn objects() -> Vec<Value> {
    let hooks = |kind: &str| {
        json!({"apiVersion": "admissionregistration.k8s.io/v1", "kind": kind, "metadata": {"name": "albatross"},
               "webhooks": [{"name": "gateway-api.albatross.gateway.k8s.aws", "sideEffects": "None",
                             "admissionReviewVersions": ["v1"],
                             "clientConfig": {"service": {"name": "albatross-webhook", "namespace": "albatross-system"}}}]})
    };
    vec![
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "albatross-system"}}),
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "apps"}}),
        hooks("ValidatingWebhookConfiguration"),
        hooks("MutatingWebhookConfiguration"),
        json!({"apiVersion": GW, "kind": "GatewayClass", "metadata": {"name": "alb"},
               "spec": {"controllerName": "gateway.k8s.aws/alb"}}),
        json!({"apiVersion": GW, "kind": "Gateway", "metadata": {"name": "web", "namespace": "apps"},
               "spec": {"gatewayClassName": "alb", "listeners": [{"name": "http", "port": 80, "protocol": "HTTP"}]}}),
        json!({"apiVersion": GW, "kind": "HTTPRoute", "metadata": {"name": "r", "namespace": "apps"},
               "spec": {"parentRefs": [{"name": "web"}], "rules": [{"backendRefs": [{"name": "svc", "port": 80}]}]}}),
        json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "svc", "namespace": "apps"},
               "spec": {"type": "ClusterIP", "ports": [{"name": "http", "port": 80, "targetPort": 8080}]}}),
        json!({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
               "metadata": {"name": "svc-1", "namespace": "apps", "labels": {"kubernetes.io/service-name": "svc"}},
               "addressType": "IPv4", "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
               "endpoints": [{"addresses": ["10.0.1.20"]}]}),
    ]
}

/// `/metrics` of a real `albatross serve` (fake API server, moto behind the test proxy) after
/// it has done everything its metrics count: a Gateway programmed and its target registered,
/// AWS calls throttled, a reconcile failed, an admission review denied. Families without samples
/// are not printed, so each has to have happened.
async fn scrape_serve() -> String {
    let moto = tokio::task::spawn_blocking(Moto::start).await.unwrap();
    let proxy = Proxy::start(moto.endpoint(), ProxyOptions::default()).await;
    let aws = Aws::connect(&AwsSettings {
        endpoint: Some(moto.endpoint().into()),
        limits: RateLimits::unlimited(),
        ..Default::default()
    })
    .await;
    albatross_test_support::network::load_balancer_subnets(&aws.ec2).await;
    let api = Arc::new(FakeApiServer::start().await);
    for def in ResourceDef::gateway_api().into_iter().chain(ResourceDef::aws()) {
        api.register(def);
    }
    for object in objects() {
        api.apply(object);
    }
    let dir = tempfile::tempdir().unwrap();
    let env = [
        ("ALBATROSS_CLUSTER_NAME", "metrics-test"),
        ("ALBATROSS_NAMESPACE", "albatross-system"),
        ("ALBATROSS_POD_NAME", "replica-a"),
    ];
    let serve =
        ServeProcess::start(env!("CARGO_BIN_EXE_albatross"), &api, proxy.endpoint(), dir.path(), &env, Stdio::null());
    let (tls, admin) = (serve.tls, serve.admin);
    wait_for("ready", move || (http_get(admin, "/readyz")?.0 == 200).then_some(())).await;
    // Programmed, and the endpoint registered as a target.
    wait_for("a target registered", move || scrape(admin)?.contains("albatross_targets_changed_total{").then_some(()))
        .await;

    // AWS throttles for a while: a call ends throttled after the SDK's retries.
    proxy.set_faults(Faults { throttle: 1.0, ..Faults::default() });
    api.apply(json!({"apiVersion": GW, "kind": "Gateway", "metadata": {"name": "other", "namespace": "apps"},
                     "spec": {"gatewayClassName": "alb", "listeners": [{"name": "http", "port": 80, "protocol": "HTTP"}]}}));
    wait_for("a throttled AWS call", move || scrape(admin)?.contains(r#"outcome="throttled""#).then_some(())).await;
    proxy.set_faults(Faults::default());

    // A Gateway whose configuration names a subnet that does not exist: a permanent failure.
    api.apply(json!({"apiVersion": "gateway.k8s.aws/v1beta1", "kind": "LoadBalancerConfiguration",
                     "metadata": {"name": "lost", "namespace": "apps"},
                     "spec": {"loadBalancerSubnets": [{"identifier": "no-such-subnet"}]}}));
    api.apply(json!({"apiVersion": GW, "kind": "Gateway", "metadata": {"name": "lost", "namespace": "apps"},
                     "spec": {"gatewayClassName": "alb",
                              "infrastructure": {"parametersRef": {"group": "gateway.k8s.aws",
                                                 "kind": "LoadBalancerConfiguration", "name": "lost"}},
                              "listeners": [{"name": "http", "port": 80, "protocol": "HTTP"}]}}));
    wait_for("a failed reconcile", move || scrape(admin)?.contains("albatross_reconcile_errors_total{").then_some(()))
        .await;

    // An admission review the webhook denies.
    let secret = api.get("v1", "Secret", Some("albatross-system"), "albatross-webhook-tls").expect("bootstrap Secret");
    let ca = base64::engine::general_purpose::STANDARD.decode(secret["data"]["ca.crt"].as_str().unwrap()).unwrap();
    let review = json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {
        "uid": "u-1", "kind": {"group": "gateway.networking.k8s.io", "version": "v1", "kind": "Gateway"},
        "resource": {"group": "gateway.networking.k8s.io", "version": "v1", "resource": "gateways"},
        "operation": "CREATE", "namespace": "apps", "name": "bad",
        "object": {"apiVersion": GW, "kind": "Gateway", "metadata": {"name": "bad", "namespace": "apps"},
                   "spec": {"gatewayClassName": "alb", "listeners": [{"name": "x", "port": 70000, "protocol": "HTTP"}]}}}});
    let answer = tokio::task::spawn_blocking(move || admission(tls, &ca, &review)).await.unwrap();
    assert!(answer.contains("\"allowed\":false"), "{answer}");

    let metrics = wait_for("the final scrape", move || scrape(admin)).await;
    drop(serve);
    drop(moto);
    metrics
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_metric_the_dashboard_and_alerts_name_is_one_serve_exports() {
    let exposition = scrape_serve().await;
    let exported = exported_names(&exposition);
    // The label values the alerts select on are the ones the binary writes.
    let outcomes: BTreeSet<&str> = exposition
        .lines()
        .filter(|l| l.starts_with("albatross_aws_api_calls_total{"))
        .filter_map(|l| l.split("outcome=\"").nth(1)?.split('"').next())
        .collect();
    assert!(outcomes.contains("throttled"), "no throttled outcome for AlbatrossAwsThrottling to match: {outcomes:?}");
    assert!(read(RULES).contains(r#"outcome="throttled""#));
    assert!(exposition.contains(r#"verdict="denied""#), "{exposition}");
    // The scrape itself covers every family the README documents.
    for family in [
        "albatross_webhook_reviews_total",
        "albatross_webhook_review_duration_seconds_bucket",
        "albatross_reconciles_total",
        "albatross_reconcile_errors_total",
        "albatross_reconcile_duration_seconds_bucket",
        "albatross_queue_depth",
        "albatross_status_patches_total",
        "albatross_leader",
        "albatross_targets_changed_total",
        "albatross_aws_api_calls_total",
        "albatross_aws_api_call_duration_seconds_bucket",
        "albatross_aws_rate_limit_wait_seconds_total",
    ] {
        assert!(exported.contains(family), "serve does not export {family}: {exported:#?}");
    }

    let mut named = BTreeSet::new();
    let mut unknown = Vec::new();
    let dashboard = dashboard();
    let queries = dashboard_queries(&dashboard).into_iter().map(|q| ("dashboard".to_string(), q));
    let alerts = rule_expressions(&rules()).into_iter().map(|(alert, expr)| (format!("alert {alert}"), expr));
    for (place, expr) in queries.chain(alerts) {
        let metrics = metrics_in(&expr);
        assert!(!metrics.is_empty(), "{place}: no albatross metric in {expr}");
        for metric in metrics {
            if !exported.contains(&metric) {
                unknown.push(format!("{place}: {metric}"));
            }
            named.insert(metric);
        }
    }
    assert!(unknown.is_empty(), "not exported by albatross serve:\n{}", unknown.join("\n"));
    // The dashboard and the alerts between them cover every family serve exports.
    let families = |names: &BTreeSet<String>| -> BTreeSet<String> {
        names
            .iter()
            .filter(|n| n.starts_with("albatross_"))
            .map(|n| n.trim_end_matches("_bucket").trim_end_matches("_sum").trim_end_matches("_count").to_string())
            .collect()
    };
    let missing: Vec<String> = families(&exported).difference(&families(&named)).cloned().collect();
    assert!(missing.is_empty(), "exported but on no panel or alert: {missing:?}");
}

#[test]
fn metric_names_are_read_outside_label_matchers_and_strings() {
    let expr = r#"sum by (kind) (rate(albatross_reviews_total{verdict="albatross_x", a=~"albatross_y"}[5m])) / albatross_leader"#;
    assert_eq!(metrics_in(expr), BTreeSet::from(["albatross_reviews_total".into(), "albatross_leader".into()]));
    let exposition =
        "# HELP a_b x\n# TYPE a_b counter\n# TYPE h histogram\n# TYPE g gauge\ng 1\nh_sum{le=\"1\"} 0\n# EOF\n";
    let names = exported_names(exposition);
    assert!(
        names.contains("a_b_total") && names.contains("h_bucket") && names.contains("h_count") && names.contains("g")
    );
    assert!(!names.contains("a_b"));
}

#[test]
fn the_alerts_cover_what_operators_page_on_and_each_has_severity_summary_and_runbook() {
    let rules = rules();
    let alerts: Vec<&Value> =
        rules["groups"].as_array().unwrap().iter().flat_map(|g| g["rules"].as_array().unwrap().iter()).collect();
    let names: BTreeSet<&str> = alerts.iter().map(|a| a["alert"].as_str().unwrap()).collect();
    for expected in [
        "AlbatrossDown",
        "AlbatrossNoLeader",
        "AlbatrossReconcileErrors",
        "AlbatrossAwsThrottling",
        "AlbatrossWebhookSlow",
        "AlbatrossWebhookDenials",
    ] {
        assert!(names.contains(expected), "no alert {expected}");
    }
    for alert in alerts {
        let name = &alert["alert"];
        assert!(
            ["critical", "warning", "info"].contains(&alert["labels"]["severity"].as_str().unwrap_or("")),
            "{name}: severity"
        );
        assert!(alert["annotations"]["summary"].is_string(), "{name}: summary");
        assert!(alert["annotations"]["runbook_url"].as_str().is_some_and(|u| u.contains("/docs/")), "{name}: runbook");
    }
    // The runbooks named by anchor exist in docs/operations.md.
    let operations = read("docs/operations.md").to_lowercase();
    for name in &names {
        let anchor = name.to_lowercase();
        if read(RULES).contains(&format!("operations.md#{anchor}")) {
            assert!(operations.contains(&format!("### {anchor}")), "docs/operations.md has no section {name}");
        }
    }
}

#[test]
fn the_chart_ships_the_dashboard_and_rules_behind_values_that_default_off() {
    let values: serde_norway::Value = serde_norway::from_str(&read("charts/albatross/values.yaml")).unwrap();
    let values = serde_json::to_value(values).unwrap();
    assert_eq!(values["prometheusRule"]["enabled"], false);
    assert_eq!(values["grafanaDashboard"]["enabled"], false);
    assert_eq!(values["grafanaDashboard"]["label"], "grafana_dashboard");
    let dashboard_template = read("charts/albatross/templates/grafana-dashboard.yaml");
    assert!(dashboard_template.contains("{{- if .Values.grafanaDashboard.enabled }}"));
    assert!(dashboard_template.contains(r#".Files.Get "dashboards/albatross.json""#));
    assert!(dashboard_template.contains("kind: ConfigMap"));
    let rule_template = read("charts/albatross/templates/prometheusrule.yaml");
    assert!(rule_template.contains("{{- if .Values.prometheusRule.enabled }}"));
    assert!(rule_template.contains(r#".Files.Get "rules/albatross.rules.yaml""#));
    assert!(rule_template.contains("kind: PrometheusRule"));
    // Grafana needs unique panel ids and a uid to import and update the dashboard in place.
    let dashboard = dashboard();
    assert_eq!(dashboard["uid"], "albatross-overview");
    let ids: Vec<u64> = dashboard["panels"].as_array().unwrap().iter().map(|p| p["id"].as_u64().unwrap()).collect();
    assert_eq!(ids.iter().collect::<BTreeSet<_>>().len(), ids.len(), "panel ids repeat");
}

/// Condition reasons the planner sets: `("Reason", message)` failures and the third argument of
/// `condition_with(type, status, reason, ...)`, in model/src/plan.
fn planner_reasons() -> BTreeSet<String> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("model/src/plan");
    let mut out = BTreeSet::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "rs") || path.file_name().is_some_and(|n| n == "tests.rs") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let text = text.split("#[cfg(test)]").next().unwrap();
        let pascal = |s: &str| {
            s.len() > 2 && s.starts_with(|c: char| c.is_ascii_uppercase()) && s.chars().all(|c| c.is_ascii_alphabetic())
        };
        // ("Reason", ...
        for (at, _) in text.match_indices('"') {
            let before = text[..at].trim_end();
            let rest = &text[at + 1..];
            let Some(end) = rest.find('"') else { continue };
            let word = &rest[..end];
            if before.ends_with('(') && rest[end + 1..].starts_with(',') && pascal(word) {
                out.insert(word.to_string());
            }
        }
        // condition_with(kind, status, "Reason", ...
        for piece in text.split("condition_with(").skip(1) {
            if let Some(reason) = piece.split(',').nth(2).map(|a| a.trim().trim_matches('"'))
                && pascal(reason)
            {
                out.insert(reason.to_string());
            }
        }
    }
    // Condition types and protocol names caught by the same shapes.
    for not_a_reason in ["True", "False", "HTTP", "HTTPS", "TCP", "UDP", "TLS", "Accepted", "Programmed", "Conflicted"]
    {
        out.remove(not_a_reason);
    }
    out
}

#[test]
fn the_troubleshooting_page_explains_every_reason_the_planner_sets() {
    let reasons = planner_reasons();
    for known in ["NoMatchingParent", "BackendNotFound", "InvalidCertificateRef", "Pending", "ListenersNotValid"] {
        assert!(reasons.contains(known), "reason extraction missed {known}: {reasons:?}");
    }
    let page = read("docs/troubleshooting.md");
    let missing: Vec<&String> = reasons.iter().filter(|r| !page.contains(&format!("`{r}`"))).collect();
    assert!(missing.is_empty(), "docs/troubleshooting.md does not explain {missing:?}");
    // Accepted and Programmed, the reasons of a success, too.
    for ok in ["`Accepted`", "`Programmed`", "`ResolvedRefs`"] {
        assert!(page.contains(ok));
    }
}
