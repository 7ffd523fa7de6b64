//! The adversarial corpus (`albatross_webhook::adversarial`): every hostile review is answered,
//! with the offending field named, and the work it can cause is bounded (deadline, duplicates
//! found by hashing). No test here measures time; BENCHMARKS.md does.

mod common;

use std::sync::Arc;
use std::time::Duration;

use albatross_model::{Channel, Validator, ValidatorOptions};
use albatross_webhook::adversarial::{self, Expect};
use albatross_webhook::{ConnectionLimits, MAX_BODY_BYTES, ReviewLimits, Webhook};
use axum::body::Body;
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;

use common::{Client, allowed, start_with};

/// Limits that let every verdict finish even in an unoptimized test build.
fn patient() -> ReviewLimits {
    ReviewLimits { deadline: Duration::from_secs(600), ..ReviewLimits::default() }
}

async fn through_router(webhook: &Arc<Webhook>, path: &str, body: Vec<u8>) -> (u16, Value) {
    let request = axum::http::Request::post(path).header("content-type", "application/json").body(Body::from(body));
    let response = albatross_webhook::router(webhook.clone()).oneshot(request.unwrap()).await.unwrap();
    let status = response.status().as_u16();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

fn message(body: &Value) -> &str {
    body["response"]["status"]["message"].as_str().unwrap_or("")
}

#[tokio::test]
async fn every_adversarial_review_is_answered_with_its_field_named() {
    let options = ValidatorOptions { channel: Channel::Experimental, ..ValidatorOptions::default() };
    let webhook = Arc::new(Webhook::with_limits(Validator::new(options), patient()));
    for attack in adversarial::corpus() {
        assert!(attack.body.len() < MAX_BODY_BYTES, "{}: {} bytes", attack.name, attack.body.len());
        let (status, body) = through_router(&webhook, "/validate", attack.body.clone()).await;
        match attack.expect {
            Expect::Denied(field) => {
                assert_eq!(status, 200, "{}", attack.name);
                assert!(!allowed(&body), "{}: {body}", attack.name);
                assert!(message(&body).contains(field), "{}: {field} not in {}", attack.name, message(&body));
            }
            Expect::BadRequest => assert_eq!(status, 400, "{}", attack.name),
        }
        let (status, body) = through_router(&webhook, "/mutate", attack.body).await;
        match attack.expect {
            Expect::Denied(_) => assert!(status == 200 && allowed(&body), "{}: {status} {body}", attack.name),
            Expect::BadRequest => assert_eq!(status, 400, "{}", attack.name),
        }
    }
}

fn attack(name: &str) -> Vec<u8> {
    adversarial::corpus().into_iter().find(|a| a.name == name).unwrap().body
}

#[tokio::test]
async fn thirty_thousand_parent_refs_are_answered() {
    let options = ValidatorOptions::default();
    let server = start_with(options, patient(), ConnectionLimits::default()).await;
    let mut client = Client::connect(&server).await;
    let (status, body) = client.post("/validate", attack("thirty_thousand_parent_refs")).await;
    assert_eq!(status, 200);
    assert!(!allowed(&body));
    let text = message(&body);
    assert!(text.contains("spec.parentRefs: Too many: 30000: must have at most 32 items"), "{text}");
    // As the API server: no CEL rule runs over a list past its maxItems.
    assert!(text.contains("some validation rules were not checked"), "{text}");
}

#[tokio::test]
async fn twenty_thousand_listeners_are_answered_and_duplicates_among_them_found() {
    let server = start_with(ValidatorOptions::default(), patient(), ConnectionLimits::default()).await;
    let mut client = Client::connect(&server).await;
    let (_, body) = client.post("/validate", attack("twenty_thousand_listeners")).await;
    assert!(message(&body).contains("spec.listeners: Too many: 20000: must have at most 64 items"), "{body}");

    let (_, body) = client.post("/validate", attack("twenty_thousand_listeners_of_one_name")).await;
    let text = message(&body);
    // Listeners are a list-type map keyed by name: every one after the first is a duplicate,
    // found by hashing (the count of errors shows all 19,999 were compared).
    assert!(text.contains(r#"spec.listeners[1]: Duplicate value: {"name":"l"}"#), "{text}");
    assert!(text.contains("more errors"), "{text}");
}

#[tokio::test]
async fn a_review_past_its_deadline_is_denied_and_a_mutation_passes_unchanged() {
    let limits = ReviewLimits { deadline: Duration::ZERO, ..ReviewLimits::default() };
    let webhook = Arc::new(Webhook::with_limits(Validator::new(ValidatorOptions::default()), limits));
    let body = attack("thirty_thousand_parent_refs");
    let (status, answer) = through_router(&webhook, "/validate", body.clone()).await;
    assert_eq!(status, 200);
    assert!(!allowed(&answer), "{answer}");
    assert_eq!(answer["response"]["uid"], "00000000-0000-0000-0000-00000000a77a");
    assert!(message(&answer).contains("was not validated within the webhook's deadline of 0 ms"), "{answer}");

    let (status, answer) = through_router(&webhook, "/mutate", body).await;
    assert_eq!(status, 200);
    assert!(allowed(&answer), "{answer}");
    assert!(answer["response"].get("patch").is_none(), "past the deadline the object passes unchanged: {answer}");
    let metrics = webhook.metrics.encode();
    assert!(metrics.contains(r#"verdict="deadline""#), "{metrics}");
}
