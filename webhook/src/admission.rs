//! Reading an AdmissionReview and writing its response.

use std::borrow::Cow;

use albatross_model::defaults::PatchOp;
use albatross_model::validate::Cancel;
use albatross_model::{Catalog, FieldError, Operation, Outcome, Validator};
use base64::Engine;
use serde_json::{Value, json};

/// Which webhook path a review came in on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Endpoint {
    Validate,
    Mutate,
}

/// The answer to one review: HTTP status and body, plus labels for metrics.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub body: Value,
    pub kind: &'static str,
    pub operation: &'static str,
    pub verdict: &'static str,
}

/// The readiness gates a new pod gets, from its namespace and object; set by `serve`, where the
/// watch caches know Services and routes.
pub type PodGates = dyn Fn(&str, &Value) -> Vec<String> + Send + Sync;

const KINDS: [&str; 15] = [
    "GatewayClass",
    "Gateway",
    "HTTPRoute",
    "GRPCRoute",
    "TCPRoute",
    "UDPRoute",
    "TLSRoute",
    "ReferenceGrant",
    "ListenerSet",
    "BackendTLSPolicy",
    "LoadBalancerConfiguration",
    "TargetGroupConfiguration",
    "ListenerRuleConfiguration",
    "Pod",
    "other",
];

fn kind_label(kind: &str) -> &'static str {
    KINDS.iter().find(|k| **k == kind).copied().unwrap_or("other")
}

fn operation(op: &str) -> Option<(Operation, &'static str)> {
    Some(match op {
        "CREATE" => (Operation::Create, "CREATE"),
        "UPDATE" => (Operation::Update, "UPDATE"),
        "DELETE" => (Operation::Delete, "DELETE"),
        "CONNECT" => (Operation::Connect, "CONNECT"),
        _ => return None,
    })
}

fn bad_request(reason: String) -> Answer {
    Answer { status: 400, body: json!({ "error": reason }), kind: "other", operation: "other", verdict: "invalid" }
}

/// Answers one AdmissionReview body; a validation stops early once `cancel` is set.
pub fn review(
    validator: &Validator,
    catalog: &Catalog,
    pod_gates: Option<&PodGates>,
    endpoint: Endpoint,
    body: &[u8],
    cancel: &Cancel,
) -> Answer {
    let review: Value = match serde_json::from_slice(body) {
        Ok(v) => v,
        Err(e) => return bad_request(format!("body is not JSON: {e}")),
    };
    if review.get("kind").and_then(Value::as_str) != Some("AdmissionReview") {
        return bad_request("body is not an AdmissionReview (kind must be AdmissionReview)".into());
    }
    let api_version = review.get("apiVersion").and_then(Value::as_str).unwrap_or("");
    if api_version != "admission.k8s.io/v1" {
        return bad_request(format!(
            "unsupported AdmissionReview apiVersion {api_version:?}; expected admission.k8s.io/v1"
        ));
    }
    let Some(request) = review.get("request").filter(|r| r.is_object()) else {
        return bad_request("AdmissionReview has no request".into());
    };
    let Some(uid) = request.get("uid").and_then(Value::as_str) else {
        return bad_request("AdmissionReview request has no uid".into());
    };
    let op_text = request.get("operation").and_then(Value::as_str).unwrap_or("");
    let Some((op, op_label)) = operation(op_text) else {
        return bad_request(format!("AdmissionReview request has an unknown operation {op_text:?}"));
    };
    let request_kind = request.pointer("/kind/kind").and_then(Value::as_str).unwrap_or("");
    let kind = kind_label(request_kind);
    let answer = |response: Value, verdict: &'static str| Answer {
        status: 200,
        body: json!({ "apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "response": response }),
        kind,
        operation: op_label,
        verdict,
    };
    let allowed = json!({ "uid": uid, "allowed": true });
    if matches!(op, Operation::Delete | Operation::Connect) {
        return answer(allowed, "allowed");
    }
    let Some(object) = request.get("object").filter(|o| o.is_object()) else {
        return bad_request(format!("AdmissionReview request for {op_label} has no object"));
    };
    let object = with_type_meta(object, request);
    let old = request.get("oldObject").filter(|o| o.is_object()).map(|o| with_type_meta(o, request));

    match endpoint {
        Endpoint::Validate => {
            let outcome = validator.validate_cancellable(&object, old.as_deref(), op, catalog, cancel);
            if !outcome.handled {
                return answer(allowed, "ignored");
            }
            let mut response = json!({ "uid": uid, "allowed": outcome.allowed() });
            if !outcome.warnings.is_empty() {
                response["warnings"] = json!(outcome.warnings.iter().map(ToString::to_string).collect::<Vec<_>>());
            }
            if outcome.allowed() {
                return answer(response, "allowed");
            }
            response["status"] = json!({
                "code": 422,
                "reason": "Invalid",
                "message": denial_message(request_kind, &object, &outcome),
            });
            answer(response, "denied")
        }
        Endpoint::Mutate => {
            let core = request.pointer("/kind/group").and_then(Value::as_str).unwrap_or("").is_empty();
            let patch = if core && request_kind == "Pod" {
                let namespace = request
                    .get("namespace")
                    .or_else(|| object.pointer("/metadata/namespace"))
                    .and_then(Value::as_str)
                    .unwrap_or("default");
                let gates = match (op, pod_gates) {
                    (Operation::Create, Some(gates)) => gates(namespace, &object),
                    _ => Vec::new(),
                };
                readiness_gate_patch(&object, &gates)
            } else {
                validator.defaults(&object)
            };
            if patch.is_empty() {
                return answer(allowed, "allowed");
            }
            let mut response = allowed;
            let bytes = serde_json::to_vec(&patch).unwrap_or_default();
            response["patchType"] = json!("JSONPatch");
            response["patch"] = json!(base64::engine::general_purpose::STANDARD.encode(bytes));
            answer(response, "patched")
        }
    }
}

/// JSON patch operations adding readiness gates to a pod's spec.
fn readiness_gate_patch(pod: &Value, gates: &[String]) -> Vec<PatchOp> {
    let entries = gates.iter().map(|g| json!({ "conditionType": g }));
    let add = |path: &str, value| PatchOp { op: "add", path: path.into(), value };
    match pod.pointer("/spec/readinessGates") {
        Some(Value::Array(_)) => entries.map(|e| add("/spec/readinessGates/-", e)).collect(),
        _ if gates.is_empty() => Vec::new(),
        _ => vec![add("/spec/readinessGates", Value::Array(entries.collect()))],
    }
}

/// Objects in a review normally carry apiVersion and kind; fill them from the request if not.
fn with_type_meta<'a>(object: &'a Value, request: &Value) -> Cow<'a, Value> {
    // The API server sends both; copy the object only when one is missing.
    if object.get("apiVersion").is_some() && object.get("kind").is_some() {
        return Cow::Borrowed(object);
    }
    let mut object = object.clone();
    if let Some(map) = object.as_object_mut() {
        if !map.contains_key("apiVersion") {
            let group = request.pointer("/kind/group").and_then(Value::as_str).unwrap_or("");
            let version = request.pointer("/kind/version").and_then(Value::as_str).unwrap_or("");
            let api_version = if group.is_empty() { version.to_owned() } else { format!("{group}/{version}") };
            map.insert("apiVersion".into(), json!(api_version));
        }
        if !map.contains_key("kind")
            && let Some(kind) = request.pointer("/kind/kind")
        {
            map.insert("kind".into(), kind.clone());
        }
    }
    Cow::Owned(object)
}

/// Errors listed in a denial at most; a hostile object can have tens of thousands.
const LISTED_ERRORS: usize = 100;

fn denial_message(kind: &str, object: &Value, outcome: &Outcome) -> String {
    let name = object.pointer("/metadata/name").and_then(Value::as_str).unwrap_or("");
    let mut problems: Vec<String> = outcome.errors.iter().take(LISTED_ERRORS).map(FieldError::to_string).collect();
    if outcome.errors.len() > LISTED_ERRORS {
        problems.push(format!("and {} more errors", outcome.errors.len() - LISTED_ERRORS));
    }
    format!("{kind} {name:?} is invalid: [{}]", problems.join(", "))
}

/// What a review gets when its verdict is not ready by the deadline: `/validate` denies (the
/// object was not checked), `/mutate` lets the object through unchanged.
pub fn past_deadline(endpoint: Endpoint, body: &[u8], deadline: std::time::Duration) -> Answer {
    #[derive(serde::Deserialize)]
    struct Envelope {
        request: Request,
    }
    #[derive(serde::Deserialize)]
    struct Request {
        uid: String,
        #[serde(default)]
        kind: Option<Kind>,
        #[serde(default)]
        operation: String,
        #[serde(default)]
        name: String,
    }
    #[derive(serde::Deserialize)]
    struct Kind {
        kind: String,
    }
    let Ok(Envelope { request }) = serde_json::from_slice::<Envelope>(body) else {
        return bad_request("body is not an AdmissionReview with a request uid".into());
    };
    let request_kind = request.kind.map(|k| k.kind).unwrap_or_default();
    let (kind, operation) = (kind_label(&request_kind), operation(&request.operation).map_or("other", |(_, l)| l));
    let response = match endpoint {
        Endpoint::Mutate => json!({ "uid": request.uid, "allowed": true }),
        Endpoint::Validate => json!({ "uid": request.uid, "allowed": false, "status": {
            "code": 422,
            "reason": "Invalid",
            "message": format!(
                "{request_kind} {:?} was not validated within the webhook's deadline of {} ms, so it is refused; \
                 an object this costly to check (very long lists or strings) cannot be admitted",
                request.name,
                deadline.as_millis()
            ),
        }}),
    };
    Answer {
        status: 200,
        body: json!({ "apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "response": response }),
        kind,
        operation,
        verdict: "deadline",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use albatross_model::ValidatorOptions;

    fn pod_review(operation: &str, spec: Value) -> Vec<u8> {
        serde_json::to_vec(&json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {
            "uid": "u", "kind": {"group": "", "version": "v1", "kind": "Pod"}, "operation": operation,
            "namespace": "apps", "object": {"apiVersion": "v1", "kind": "Pod", "metadata": {}, "spec": spec}}}))
        .unwrap()
    }

    fn patch_of(answer: &Answer) -> Option<Value> {
        let patch = answer.body.pointer("/response/patch")?.as_str()?;
        serde_json::from_slice(&base64::engine::general_purpose::STANDARD.decode(patch).ok()?).ok()
    }

    #[test]
    fn a_new_pod_gets_the_gates_the_caches_choose_appended_to_its_own() {
        let validator = Validator::new(ValidatorOptions::default());
        let catalog = Catalog::default();
        let cancel = Cancel::default();
        let gates: Box<PodGates> = Box::new(|namespace, _| vec![format!("example.com/{namespace}")]);
        let gates = Some(gates.as_ref());

        let answer = review(&validator, &catalog, gates, Endpoint::Mutate, &pod_review("CREATE", json!({})), &cancel);
        assert_eq!((answer.kind, answer.verdict), ("Pod", "patched"));
        let added =
            json!([{"op": "add", "path": "/spec/readinessGates", "value": [{"conditionType": "example.com/apps"}]}]);
        assert_eq!(patch_of(&answer), Some(added));

        let own = json!({"readinessGates": [{"conditionType": "mine"}]});
        let answer = review(&validator, &catalog, gates, Endpoint::Mutate, &pod_review("CREATE", own), &cancel);
        let appended =
            json!([{"op": "add", "path": "/spec/readinessGates/-", "value": {"conditionType": "example.com/apps"}}]);
        assert_eq!(patch_of(&answer), Some(appended), "the pod's own gates stay");

        let answer = review(&validator, &catalog, gates, Endpoint::Mutate, &pod_review("UPDATE", json!({})), &cancel);
        assert_eq!(answer.verdict, "allowed", "gates are set at creation only");
        let answer = review(&validator, &catalog, None, Endpoint::Mutate, &pod_review("CREATE", json!({})), &cancel);
        assert_eq!(answer.verdict, "allowed", "the webhook alone knows no Services");
    }
}
