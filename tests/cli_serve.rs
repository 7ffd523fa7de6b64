//! `albatross serve` as a process, against a fake Kubernetes API server and moto: certificate
//! bootstrap, readiness, a Gateway programmed, the webhook answering over TLS with the CA the
//! Secret holds, one `/metrics` for everything, and a clean stop that hands the lease back.

use albatross_test_support::loopback::http_get;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use albatross_aws::{Aws, AwsSettings, RateLimits};
use albatross_test_support::kube_api::{FakeApiServer, ResourceDef};
use albatross_test_support::serve::ServeProcess;
use albatross_test_support::{Moto, Proxy, ProxyOptions};
use serde_json::{Value, json};

const GW: &str = "gateway.networking.k8s.io/v1";

/// POSTs `body` to the webhook over TLS, trusting only `ca_pem`, as the API server would.
fn admission(port: u16, ca_pem: &[u8], path: &str, body: &Value) -> String {
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
    let socket = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let mut tls = rustls::StreamOwned::new(connection, socket);
    let body = body.to_string();
    write!(
        tls,
        "POST {path} HTTP/1.1\r\nHost: albatross-webhook.albatross-system.svc\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut response = String::new();
    let _ = tls.read_to_string(&mut response);
    response
}

async fn wait_for<T>(what: &'static str, mut f: impl FnMut() -> Option<T> + Send + 'static) -> T
where
    T: Send + 'static,
{
    tokio::task::spawn_blocking(move || {
        let deadline = Instant::now() + Duration::from_secs(90);
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
        json!({"apiVersion": "v1", "kind": "Namespace",
               "metadata": {"name": "apps", "labels": {"gateway.k8s.aws/pod-readiness-gate-inject": "enabled"}}}),
        hooks("ValidatingWebhookConfiguration"),
        hooks("MutatingWebhookConfiguration"),
        json!({"apiVersion": GW, "kind": "GatewayClass", "metadata": {"name": "alb"},
               "spec": {"controllerName": "gateway.k8s.aws/alb"}}),
        json!({"apiVersion": GW, "kind": "Gateway", "metadata": {"name": "web", "namespace": "apps"},
               "spec": {"gatewayClassName": "alb", "listeners": [{"name": "http", "port": 80, "protocol": "HTTP"}]}}),
        json!({"apiVersion": GW, "kind": "HTTPRoute", "metadata": {"name": "r", "namespace": "apps"},
               "spec": {"parentRefs": [{"name": "web"}], "rules": [{"backendRefs": [{"name": "svc", "port": 80}]}]}}),
        json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "svc", "namespace": "apps"},
               "spec": {"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 8080}]}}),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_bootstraps_certificates_programs_gateways_answers_admission_and_hands_back_its_lease() {
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
        ("ALBATROSS_CLUSTER_NAME", "serve-test"),
        ("ALBATROSS_POD_NAME", "replica-a"),
        ("ALBATROSS_LEASE_DURATION_SECONDS", "3"),
    ];
    let mut serve =
        ServeProcess::start(env!("CARGO_BIN_EXE_albatross"), &api, proxy.endpoint(), dir.path(), &env, Stdio::null());
    let (tls, admin) = (serve.tls, serve.admin);

    wait_for("ready", move || (http_get(admin, "/readyz")?.0 == 200).then_some(())).await;
    let watched = api.clone();
    let address = wait_for("Programmed", move || {
        let gw = watched.get(GW, "Gateway", Some("apps"), "web")?;
        let conditions = gw.pointer("/status/conditions")?.as_array()?;
        let programmed = conditions.iter().find(|c| c["type"] == "Programmed")?;
        (programmed["status"] == "True").then(|| gw.pointer("/status/addresses/0/value").cloned())?
    })
    .await;
    let lbs = aws.elbv2.describe_load_balancers().send().await.unwrap();
    assert_eq!(json!(lbs.load_balancers()[0].dns_name().unwrap()), address);
    // Every watched kind is served, so discovery is over: that is no dead core task.
    let health = tokio::task::spawn_blocking(move || http_get(admin, "/healthz").unwrap()).await.unwrap();
    assert_eq!(health.0, 200, "{}", health.1);

    let secret = api.get("v1", "Secret", Some("albatross-system"), "albatross-webhook-tls").expect("bootstrap Secret");
    let config =
        api.get("admissionregistration.k8s.io/v1", "ValidatingWebhookConfiguration", None, "albatross").unwrap();
    assert_eq!(config.pointer("/webhooks/0/clientConfig/caBundle"), secret.pointer("/data/ca.crt"));
    let ca_b64 = secret.pointer("/data/ca.crt").unwrap().as_str().unwrap().to_owned();
    let ca = base64_decode(&ca_b64);
    let review = json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {
        "uid": "u-1", "kind": {"group": "gateway.networking.k8s.io", "version": "v1", "kind": "Gateway"},
        "resource": {"group": "gateway.networking.k8s.io", "version": "v1", "resource": "gateways"},
        "operation": "CREATE", "namespace": "apps", "name": "bad",
        "object": {"apiVersion": GW, "kind": "Gateway", "metadata": {"name": "bad", "namespace": "apps"},
                   "spec": {"gatewayClassName": "alb", "listeners": [{"name": "x", "port": 70000, "protocol": "HTTP"}]}}}});
    let trusted = ca.clone();
    let answer = tokio::task::spawn_blocking(move || admission(tls, &trusted, "/validate", &review)).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains("\"uid\":\"u-1\"") && answer.contains("\"allowed\":false"), "{answer}");

    // A new pod behind the route's Service, in a namespace that opts in, gets the readiness gate.
    let review = json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {
        "uid": "u-2", "kind": {"group": "", "version": "v1", "kind": "Pod"},
        "resource": {"group": "", "version": "v1", "resource": "pods"},
        "operation": "CREATE", "namespace": "apps",
        "object": {"apiVersion": "v1", "kind": "Pod", "metadata": {"generateName": "web-", "labels": {"app": "web"}},
                   "spec": {"containers": [{"name": "app", "image": "app"}]}}}});
    let answer = tokio::task::spawn_blocking(move || admission(tls, &ca, "/mutate", &review)).await.unwrap();
    let body: Value = serde_json::from_str(answer.split("\r\n\r\n").nth(1).unwrap_or("")).expect("a JSON answer");
    assert_eq!(body.pointer("/response/patchType"), Some(&json!("JSONPatch")), "{answer}");
    let patch: Value = serde_json::from_slice(&base64_decode(body["response"]["patch"].as_str().unwrap())).unwrap();
    assert_eq!(
        patch,
        json!([{"op": "add", "path": "/spec/readinessGates",
                "value": [{"conditionType": "target-health.gateway.k8s.aws/svc"}]}])
    );

    let (_, metrics) = tokio::task::spawn_blocking(move || http_get(admin, "/metrics").unwrap()).await.unwrap();
    for family in [
        "albatross_reconciles_total",
        "albatross_aws_api_calls_total",
        "albatross_webhook_reviews_total",
        "albatross_leader",
    ] {
        assert!(metrics.contains(family), "{family} missing from /metrics");
    }
    assert_eq!(metrics.matches("# EOF").count(), 1, "one exposition");

    let pid = serve.child.id().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    let status = tokio::task::spawn_blocking(move || {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = serve.child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "serve did not stop after SIGTERM");
            std::thread::sleep(Duration::from_millis(50));
        }
    })
    .await
    .unwrap();
    assert!(status.success(), "{status:?}");
    let lease = api.get("coordination.k8s.io/v1", "Lease", Some("albatross-system"), "albatross-leader").unwrap();
    assert!(lease.pointer("/spec/holderIdentity").is_none_or(Value::is_null), "lease handed back: {lease}");
}

fn base64_decode(text: &str) -> Vec<u8> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = Vec::new();
    let (mut buffer, mut bits) = (0u32, 0);
    for c in text.bytes().filter(|c| *c != b'=') {
        let v = ALPHABET.iter().position(|a| *a == c).expect("base64") as u32;
        buffer = (buffer << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
        }
    }
    out
}
