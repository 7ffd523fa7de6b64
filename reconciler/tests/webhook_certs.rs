//! Serving-certificate bootstrap against a fake API server: the Secret, the files and the
//! `caBundle` patch, with several replicas starting at once.

use albatross_reconciler::webhook_certs::Bootstrap;
use albatross_test_support::kube_api::FakeApiServer;
use albatross_test_support::rbac::Rbac;
use serde_json::{Value, json};

fn webhook_configuration(kind: &str) -> Value {
    let hook = |name: &str, service: &str| {
        json!({"name": name, "sideEffects": "None", "admissionReviewVersions": ["v1"],
               "clientConfig": {"service": {"name": service, "namespace": "albatross-system", "path": "/validate"}}})
    };
    json!({"apiVersion": "admissionregistration.k8s.io/v1", "kind": kind, "metadata": {"name": "albatross"},
           "webhooks": [hook("a.albatross.gateway.k8s.aws", "albatross-webhook"),
                        hook("other.example.com", "someone-else")]})
}

fn bootstrap(dir: &std::path::Path) -> Bootstrap {
    Bootstrap {
        namespace: "albatross-system".into(),
        secret: "albatross-webhook-tls".into(),
        service: "albatross-webhook".into(),
        configuration: "albatross".into(),
        dir: dir.to_owned(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_starting_together_share_one_pair_and_patch_only_our_webhooks() {
    let api = FakeApiServer::start().await;
    api.apply(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "albatross-system"}}));
    api.apply(webhook_configuration("ValidatingWebhookConfiguration"));
    api.apply(webhook_configuration("MutatingWebhookConfiguration"));
    let client = kube::Client::try_from(kube::Config::new(api.url().parse().unwrap())).unwrap();
    let dirs: Vec<tempfile::TempDir> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    let runs = dirs.iter().map(|d| {
        let (b, client) = (bootstrap(d.path()), client.clone());
        async move { b.ensure(&client).await.unwrap() }
    });
    let files = futures::future::join_all(runs).await;

    let certs: Vec<String> = files.iter().map(|f| std::fs::read_to_string(&f.cert).unwrap()).collect();
    assert!(certs.iter().all(|c| *c == certs[0]), "every replica serves the same pair");
    albatross_certs::load(&files[0]).unwrap();
    let secret = api.get("v1", "Secret", Some("albatross-system"), "albatross-webhook-tls").unwrap();
    let ca = secret.pointer("/data/ca.crt").unwrap().clone();
    for kind in ["ValidatingWebhookConfiguration", "MutatingWebhookConfiguration"] {
        let config = api.get("admissionregistration.k8s.io/v1", kind, None, "albatross").unwrap();
        assert_eq!(config.pointer("/webhooks/0/clientConfig/caBundle"), Some(&ca), "{kind}");
        assert!(config.pointer("/webhooks/1/clientConfig/caBundle").is_none(), "another service's webhook");
    }
    let rbac = concat!(env!("CARGO_MANIFEST_DIR"), "/../manifests/deploy/rbac.yaml");
    let rbac = Rbac::load(&[rbac]).unwrap().for_service_account("albatross-system", "albatross");
    assert_eq!(rbac.denied(&api.requests()), Vec::<String>::new(), "not granted by the shipped RBAC");
    let created = api.requests_matching("POST", "/secrets").into_iter().filter(|r| r.status == 201).count();
    assert_eq!(created, 1, "one replica creates the Secret, the others take it");

    // A restart finds everything in place and writes nothing.
    api.clear_requests();
    let again = tempfile::tempdir().unwrap();
    bootstrap(again.path()).ensure(&client).await.unwrap();
    let writes: Vec<_> = api.requests().into_iter().filter(|r| r.method != "GET").collect();
    assert!(writes.is_empty(), "{writes:?}");
    assert_eq!(std::fs::read_to_string(again.path().join("tls.crt")).unwrap(), certs[0]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_webhook_configuration_does_not_stop_serving() {
    let api = FakeApiServer::start().await;
    let client = kube::Client::try_from(kube::Config::new(api.url().parse().unwrap())).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let files = bootstrap(dir.path()).ensure(&client).await.unwrap();
    albatross_certs::load(&files).unwrap();
}
