//! The webhook over real TLS on loopback: the upstream examples, bad input, metrics, defaulting.

mod common;

use std::path::{Path, PathBuf};

use albatross_model::validate::Cancel;
use albatross_model::{Channel, Validator, ValidatorOptions, manifest};
use base64::Engine;
use serde_json::{Value, json};

use common::{Client, allowed, review, start};

fn examples(dir: &str) -> Vec<(PathBuf, Value)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/gateway-api/examples").join(dir);
    let mut files = Vec::new();
    let mut stack = vec![root];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "yaml") {
                files.push(path);
            }
        }
    }
    files.sort();
    let mut out = Vec::new();
    for file in files {
        for doc in manifest::parse(&std::fs::read_to_string(&file).unwrap()) {
            out.push((file.clone(), doc.unwrap().value));
        }
    }
    out
}

#[tokio::test]
async fn upstream_valid_examples_are_allowed_over_tls() {
    let server = start(Channel::Experimental).await;
    let mut client = Client::connect(&server).await;
    for dir in ["valid/standard", "valid/experimental"] {
        for (file, object) in examples(dir) {
            let (status, body) = client.post("/validate", review("CREATE", &object)).await;
            assert_eq!(status, 200);
            assert!(allowed(&body), "{}: {body}", file.display());
            assert_eq!(body["response"]["uid"], "705ab4f5-6393-11e8-b7cc-42010a800002");
        }
    }
}

#[tokio::test]
async fn upstream_invalid_examples_are_denied_over_tls_with_every_field_named() {
    for (channel, dirs) in [
        (Channel::Standard, &["invalid/standard"][..]),
        (Channel::Experimental, &["invalid/standard", "invalid/experimental"][..]),
    ] {
        let server = start(channel).await;
        let mut client = Client::connect(&server).await;
        for dir in dirs {
            let mut by_file: std::collections::BTreeMap<PathBuf, bool> = Default::default();
            for (file, object) in examples(dir) {
                let (status, body) = client.post("/validate", review("CREATE", &object)).await;
                assert_eq!(status, 200);
                let denied = !allowed(&body);
                if denied {
                    let message = body["response"]["status"]["message"].as_str().unwrap();
                    assert!(message.contains("is invalid: [spec."), "{message}");
                    assert_eq!(body["response"]["status"]["code"], 422);
                }
                *by_file.entry(file).or_default() |= denied;
            }
            let accepted: Vec<_> = by_file.iter().filter(|(_, denied)| !**denied).map(|(f, _)| f).collect();
            assert!(accepted.is_empty(), "{channel:?}: not denied: {accepted:#?}");
        }
    }
}

#[tokio::test]
async fn bad_input_gets_clear_http_errors_and_never_a_panic() {
    let server = start(Channel::Standard).await;
    let mut client = Client::connect(&server).await;

    let (status, body) = client.post("/validate", b"not json".to_vec()).await;
    assert_eq!(status, 400);
    assert!(body["error"].as_str().unwrap().contains("not JSON"));

    let (status, body) = client.post("/validate", br#"{"kind":"Pod","apiVersion":"v1"}"#.to_vec()).await;
    assert_eq!(status, 400);
    assert!(body["error"].as_str().unwrap().contains("not an AdmissionReview"));

    let no_uid =
        json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {"operation": "CREATE"}});
    let (status, body) = client.post("/mutate", serde_json::to_vec(&no_uid).unwrap()).await;
    assert_eq!(status, 400);
    assert!(body["error"].as_str().unwrap().contains("uid"));

    let mut huge = review("CREATE", &json!({"apiVersion": "v1", "kind": "ConfigMap"}));
    huge.extend(std::iter::repeat_n(b' ', 3 * 1024 * 1024));
    let mut fresh = Client::connect(&server).await;
    let (status, _) = fresh.post("/validate", huge).await;
    assert_eq!(status, 413);

    // The connection that got errors still serves.
    let route = json!({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute", "metadata": {"name": "r"}, "spec": {}});
    let (status, body) = client.post("/validate", review("CREATE", &route)).await;
    assert_eq!(status, 200);
    assert!(allowed(&body));
}

#[tokio::test]
async fn unknown_kinds_and_deletes_are_allowed() {
    let server = start(Channel::Standard).await;
    let mut client = Client::connect(&server).await;
    let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {"bogus": 1}});
    let (_, body) = client.post("/validate", review("CREATE", &pod)).await;
    assert!(allowed(&body));
    let broken =
        json!({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway", "metadata": {"name": "g"}, "spec": {}});
    let (_, body) = client.post("/validate", review("DELETE", &broken)).await;
    assert!(allowed(&body));
    let (_, body) = client.post("/validate", review("CREATE", &broken)).await;
    assert!(!allowed(&body));
    let message = body["response"]["status"]["message"].as_str().unwrap();
    assert!(message.contains("spec.gatewayClassName: Required value"), "{message}");
    assert!(message.contains("spec.listeners: Required value"), "{message}");
}

#[tokio::test]
async fn defaulting_patches_only_missing_fields_and_is_idempotent() {
    let server = start(Channel::Standard).await;
    let mut client = Client::connect(&server).await;
    let gateway = json!({
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "Gateway",
        "metadata": {"name": "g", "namespace": "default"},
        "spec": {"gatewayClassName": "aws-alb", "listeners": [{"name": "http", "port": 80, "protocol": "HTTP"}]}
    });
    let (status, body) = client.post("/mutate", review("CREATE", &gateway)).await;
    assert_eq!(status, 200);
    assert_eq!(body["response"]["patchType"], "JSONPatch");
    let patch_bytes =
        base64::engine::general_purpose::STANDARD.decode(body["response"]["patch"].as_str().unwrap()).unwrap();
    let patch: Value = serde_json::from_slice(&patch_bytes).unwrap();
    let ops = patch.as_array().unwrap();
    assert!(ops.iter().all(|op| op["op"] == "add"), "{patch}");
    assert!(
        ops.iter()
            .any(|op| op["path"] == "/spec/listeners/0/allowedRoutes" && op["value"]["namespaces"]["from"] == "Same"),
        "{patch}"
    );

    let mut patched = gateway.clone();
    for op in ops {
        let pointer = op["path"].as_str().unwrap();
        let (parent, key) = pointer.rsplit_once('/').unwrap();
        patched
            .pointer_mut(parent)
            .unwrap()
            .as_object_mut()
            .unwrap()
            .insert(key.replace("~1", "/"), op["value"].clone());
    }
    let (_, again) = client.post("/mutate", review("CREATE", &patched)).await;
    assert!(again["response"].get("patch").is_none(), "second pass patched again: {again}");
}

#[tokio::test]
async fn metrics_count_reviews_by_kind_operation_and_verdict() {
    let server = start(Channel::Standard).await;
    let mut client = Client::connect(&server).await;
    let class = json!({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "GatewayClass", "metadata": {"name": "c"}, "spec": {"controllerName": "example"}});
    client.post("/validate", review("CREATE", &class)).await;
    let text = server.webhook.metrics.encode();
    assert!(
        text.contains(r#"albatross_webhook_reviews_total{endpoint="validate",kind="GatewayClass",operation="CREATE",verdict="denied"} 1"#),
        "{text}"
    );
    assert!(text.contains("albatross_webhook_review_duration_seconds_bucket"), "{text}");
}

#[tokio::test]
async fn trusting_the_api_server_keeps_only_albatross_checks() {
    // The API server rejects schema violations before calling the webhook; what reaches us then
    // is valid, so only AWS and reference checks run.
    let options = ValidatorOptions { api_server_checks: false, ..ValidatorOptions::default() };
    let validator = Validator::new(options);
    let mut catalog = albatross_model::Catalog::new(&albatross_model::Controllers::default());
    catalog.insert(&json!({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "GatewayClass", "metadata": {"name": "alb"}, "spec": {"controllerName": "gateway.k8s.aws/alb"}}));
    let gateway = json!({
        "apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway", "metadata": {"name": "g", "namespace": "default"},
        "spec": {"gatewayClassName": "alb", "listeners": [{"name": "pg", "port": 5432, "protocol": "TCP"}]}
    });
    let answer = albatross_webhook::review(
        &validator,
        &catalog,
        None,
        albatross_webhook::Endpoint::Validate,
        &review("CREATE", &gateway),
        &Cancel::default(),
    );
    assert_eq!(answer.body["response"]["allowed"], false, "{}", answer.body);
    let schema_only =
        json!({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway", "metadata": {"name": "g"}, "spec": {}});
    let answer = albatross_webhook::review(
        &validator,
        &catalog,
        None,
        albatross_webhook::Endpoint::Validate,
        &review("CREATE", &schema_only),
        &Cancel::default(),
    );
    assert_eq!(answer.body["response"]["allowed"], true, "{}", answer.body);
}
