//! Answering an AdmissionReview: the verdict of the model, written as an AdmissionReview response.

use std::borrow::Cow;

use albatross_k8s::route::RouteKind;
use albatross_model::defaults::PatchOp;
use albatross_model::validate::Cancel;
use albatross_model::{Catalog, FieldError, Operation, Outcome, Validator};
use base64::Engine;
use serde::Serialize;
use serde_json::{Value, json};

use crate::envelope::{self, Malformed, Request};

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

/// Metric labels besides the route kinds, whose names are k8s's.
const KINDS: [&str; 10] = [
    "GatewayClass",
    "Gateway",
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
    match RouteKind::from_kind(kind) {
        Some(route) => route.as_str(),
        None => KINDS.iter().find(|k| **k == kind).copied().unwrap_or("other"),
    }
}

/// An answer before it is written: borrows the review's uid from the body. Fields are in the
/// order a `Value` writes its keys, so the bytes are those of `Answer::body`.
pub(crate) struct Reply<'a> {
    status: u16,
    body: Body<'a>,
    kind: &'static str,
    operation: &'static str,
    verdict: &'static str,
}

#[derive(Serialize)]
#[serde(untagged)]
enum Body<'a> {
    Review {
        #[serde(rename = "apiVersion")]
        api_version: &'static str,
        kind: &'static str,
        response: Response<'a>,
    },
    Error {
        error: String,
    },
}

#[derive(Serialize)]
struct Response<'a> {
    allowed: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    patch: Option<String>,
    #[serde(rename = "patchType", skip_serializing_if = "Option::is_none")]
    patch_type: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    status: Option<Status>,
    uid: Cow<'a, str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    warnings: Vec<String>,
}

#[derive(Serialize)]
struct Status {
    code: u16,
    message: String,
    reason: &'static str,
}

impl<'a> Response<'a> {
    fn new(uid: Cow<'a, str>, allowed: bool) -> Self {
        Self { allowed, patch: None, patch_type: None, status: None, uid, warnings: Vec::new() }
    }

    fn denied(uid: Cow<'a, str>, message: String) -> Self {
        Self { status: Some(Status { code: 422, message, reason: "Invalid" }), ..Self::new(uid, false) }
    }
}

/// An answer as it goes on the wire.
pub(crate) struct Written {
    pub status: u16,
    pub body: Vec<u8>,
    pub kind: &'static str,
    pub operation: &'static str,
    pub verdict: &'static str,
}

impl Reply<'_> {
    fn answer(self) -> Answer {
        // Plain data with string keys: serializing cannot fail.
        let body = serde_json::to_value(&self.body).unwrap_or_default();
        Answer { status: self.status, body, kind: self.kind, operation: self.operation, verdict: self.verdict }
    }

    pub(crate) fn written(self) -> Written {
        let mut body = Vec::with_capacity(256);
        // Writing plain data into a Vec cannot fail.
        let _ = serde_json::to_writer(&mut body, &self.body);
        Written { status: self.status, body, kind: self.kind, operation: self.operation, verdict: self.verdict }
    }
}

fn bad_request(Malformed(reason): Malformed) -> Reply<'static> {
    Reply { status: 400, body: Body::Error { error: reason }, kind: "other", operation: "other", verdict: "invalid" }
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
    reply(validator, catalog, pod_gates, endpoint, body, cancel).answer()
}

/// `review`, before the answer is written.
pub(crate) fn reply<'a>(
    validator: &Validator,
    catalog: &Catalog,
    pod_gates: Option<&PodGates>,
    endpoint: Endpoint,
    body: &'a [u8],
    cancel: &Cancel,
) -> Reply<'a> {
    let mut request = match envelope::read(body) {
        Ok(request) => request,
        Err(malformed) => return bad_request(malformed),
    };
    match decide(validator, catalog, pod_gates, endpoint, &mut request, cancel) {
        Ok((response, verdict)) => Reply {
            status: 200,
            body: Body::Review { api_version: "admission.k8s.io/v1", kind: "AdmissionReview", response },
            kind: kind_label(&request.kind),
            operation: request.operation_label,
            verdict,
        },
        Err(malformed) => bad_request(malformed),
    }
}

fn decide<'a>(
    validator: &Validator,
    catalog: &Catalog,
    pod_gates: Option<&PodGates>,
    endpoint: Endpoint,
    request: &mut Request<'a>,
    cancel: &Cancel,
) -> Result<(Response<'a>, &'static str), Malformed> {
    let uid = request.uid.clone();
    let op = request.operation;
    if matches!(op, Operation::Delete | Operation::Connect) {
        return Ok((Response::new(uid, true), "allowed"));
    }
    let Some(object) = request.object.take() else {
        return Err(Malformed(format!("AdmissionReview request for {} has no object", request.operation_label)));
    };
    let object = with_type_meta(object, request);

    match endpoint {
        Endpoint::Validate => {
            // Only the API server's rules (CEL transition rules) compare with the old object.
            let old = match validator.options().api_server_checks {
                true => request.old_object()?.map(|o| with_type_meta(o, request)),
                false => None,
            };
            let outcome = validator.validate_cancellable(&object, old.as_ref(), op, catalog, cancel);
            if !outcome.handled {
                return Ok((Response::new(uid, true), "ignored"));
            }
            let warnings = outcome.warnings.iter().map(ToString::to_string).collect();
            if outcome.allowed() {
                return Ok((Response { warnings, ..Response::new(uid, true) }, "allowed"));
            }
            let message = denial_message(&request.kind, &object, &outcome);
            Ok((Response { warnings, ..Response::denied(uid, message) }, "denied"))
        }
        Endpoint::Mutate => {
            let patch = if request.group.is_empty() && request.kind == "Pod" {
                let namespace = match &request.namespace {
                    Some(given) => given.as_deref(),
                    None => object.pointer("/metadata/namespace").and_then(Value::as_str),
                };
                let gates = match (op, pod_gates) {
                    (Operation::Create, Some(gates)) => gates(namespace.unwrap_or("default"), &object),
                    _ => Vec::new(),
                };
                readiness_gate_patch(&object, &gates)
            } else {
                validator.defaults(&object)
            };
            if patch.is_empty() {
                return Ok((Response::new(uid, true), "allowed"));
            }
            let bytes = serde_json::to_vec(&patch).unwrap_or_default();
            let patch = base64::engine::general_purpose::STANDARD.encode(bytes);
            Ok((Response { patch: Some(patch), patch_type: Some("JSONPatch"), ..Response::new(uid, true) }, "patched"))
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
fn with_type_meta(mut object: Value, request: &Request) -> Value {
    if let Some(map) = object.as_object_mut() {
        if !map.contains_key("apiVersion") {
            let (group, version) = (&request.group, &request.version);
            let api_version = if group.is_empty() { version.to_string() } else { format!("{group}/{version}") };
            map.insert("apiVersion".into(), json!(api_version));
        }
        if !map.contains_key("kind")
            && let Some(kind) = request.kind_member()
        {
            map.insert("kind".into(), kind);
        }
    }
    object
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
    late(endpoint, body, deadline).answer()
}

/// `past_deadline`, before the answer is written.
pub(crate) fn late(endpoint: Endpoint, body: &[u8], deadline: std::time::Duration) -> Reply<'_> {
    #[derive(serde::Deserialize)]
    struct Envelope<'a> {
        #[serde(borrow)]
        request: Late<'a>,
    }
    #[derive(serde::Deserialize)]
    struct Late<'a> {
        #[serde(borrow)]
        uid: Cow<'a, str>,
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
        return bad_request(Malformed("body is not an AdmissionReview with a request uid".into()));
    };
    let request_kind = request.kind.map(|k| k.kind).unwrap_or_default();
    let response = match endpoint {
        Endpoint::Mutate => Response::new(request.uid, true),
        Endpoint::Validate => Response::denied(
            request.uid,
            format!(
                "{request_kind} {:?} was not validated within the webhook's deadline of {} ms, so it is refused; \
                 an object this costly to check (very long lists or strings) cannot be admitted",
                request.name,
                deadline.as_millis()
            ),
        ),
    };
    Reply {
        status: 200,
        body: Body::Review { api_version: "admission.k8s.io/v1", kind: "AdmissionReview", response },
        kind: kind_label(&request_kind),
        operation: envelope::operation_label(&request.operation),
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
