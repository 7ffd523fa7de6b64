//! The HTTP layer: one request in, one response out. Routing, query parameters, bodies,
//! `Status` errors, recording and injected faults; the semantics live in [`super::store`].

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use http_body_util::{BodyExt, Limited};
use hyper::body::{Body, Bytes, Frame, Incoming, SizeHint};
use hyper::header::{ACCEPT, CONTENT_TYPE, HeaderValue, RETRY_AFTER};
use hyper::{Request, Response, StatusCode};
use serde_json::{Value, json};
use tokio::sync::mpsc;

use super::patch::PatchType;
use super::path::{self, ResourcePath, Route};
use super::select::{FieldSelector, Filter, LabelSelector};
use super::store::{ApiError, Mode, Preconditions, Store, WriteOpts};
use super::{Recorded, ResourceDef, Shared, discovery, watch};

/// Largest request body accepted (the API server's limit is 3 MiB too).
const MAX_BODY: usize = 3 * 1024 * 1024;

/// A response body: complete, or streamed from a watch task.
pub(crate) enum ApiBody {
    Full(Option<Bytes>),
    Stream(mpsc::Receiver<Bytes>),
}

impl Body for ApiBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        match self.get_mut() {
            ApiBody::Full(bytes) => Poll::Ready(bytes.take().map(|b| Ok(Frame::data(b)))),
            ApiBody::Stream(lines) => lines.poll_recv(cx).map(|line| line.map(|l| Ok(Frame::data(l)))),
        }
    }

    fn is_end_stream(&self) -> bool {
        matches!(self, ApiBody::Full(None))
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            ApiBody::Full(bytes) => SizeHint::with_exact(bytes.as_ref().map_or(0, |b| b.len() as u64)),
            ApiBody::Stream(_) => SizeHint::default(),
        }
    }
}

pub(crate) fn json_response(status: u16, body: &Value, content_type: &str) -> Response<ApiBody> {
    let bytes = serde_json::to_vec(body).expect("JSON values serialize");
    let mut response = Response::new(ApiBody::Full(Some(Bytes::from(bytes))));
    *response.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let content_type = HeaderValue::from_str(content_type).unwrap_or(HeaderValue::from_static("application/json"));
    response.headers_mut().insert(CONTENT_TYPE, content_type);
    response
}

pub(crate) fn error_response(error: &ApiError) -> Response<ApiBody> {
    let mut response = json_response(error.code, &error.to_status(), "application/json");
    if error.code == 429 {
        response.headers_mut().insert(RETRY_AFTER, HeaderValue::from_static("1"));
    }
    response
}

/// The `Status` of an injected fault, with the reason the API server uses for that code.
fn injected(status: u16) -> ApiError {
    let reason = match status {
        400 => "BadRequest",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "NotFound",
        405 => "MethodNotAllowed",
        409 => "Conflict",
        410 => "Expired",
        422 => "Invalid",
        429 => "TooManyRequests",
        500 => "InternalError",
        503 => "ServiceUnavailable",
        504 => "Timeout",
        _ => "",
    };
    ApiError::new(status, reason, format!("fake API server: injected fault ({status})"))
}

pub(crate) fn is_true(value: Option<&String>) -> bool {
    matches!(value.map(String::as_str), Some("true" | "1"))
}

/// Whether the client asked for `PartialObjectMetadata` (kube's `*_metadata` calls).
pub(crate) fn wants_metadata_only(accept: &str) -> bool {
    accept.split(',').next().is_some_and(|first| first.contains("as=PartialObjectMetadata"))
}

/// An object reduced to `PartialObjectMetadata`.
pub(crate) fn metadata_only(object: &Value) -> Value {
    json!({
        "apiVersion": "meta.k8s.io/v1",
        "kind": "PartialObjectMetadata",
        "metadata": object.get("metadata").cloned().unwrap_or_else(|| json!({})),
    })
}

/// The request body as JSON; for server-side apply also YAML.
fn parse_body(bytes: &[u8], yaml: bool) -> Result<Value, ApiError> {
    if bytes.is_empty() {
        return Err(ApiError::bad_request("the request body is empty"));
    }
    match serde_json::from_slice(bytes) {
        Ok(value) => Ok(value),
        Err(e) if yaml => serde_norway::from_slice(bytes)
            .map_err(|y| ApiError::bad_request(format!("the request body is neither JSON ({e}) nor YAML ({y})"))),
        Err(e) => Err(ApiError::bad_request(format!("the request body is not valid JSON: {e}"))),
    }
}

/// What is recorded of a body: JSON (or YAML) as a value, anything else as a string.
fn recorded_body(bytes: &[u8]) -> Option<Value> {
    if bytes.is_empty() {
        return None;
    }
    Some(parse_body(bytes, true).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(bytes).into_owned())))
}

pub(crate) async fn handle(shared: Arc<Shared>, request: Request<Incoming>) -> Result<Response<ApiBody>, Infallible> {
    let (parts, body) = request.into_parts();
    let header = |name| parts.headers.get(name).and_then(|v: &HeaderValue| v.to_str().ok()).map(str::to_owned);
    let accept = header(ACCEPT).unwrap_or_default();
    let query: BTreeMap<String, String> =
        parts.uri.query().map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect()).unwrap_or_default();
    let route = path::parse(parts.uri.path());
    let is_watch =
        parts.method == hyper::Method::GET && matches!(route, Route::Resource(_)) && is_true(query.get("watch"));
    let mut record = Recorded {
        method: parts.method.as_str().to_owned(),
        path: parts.uri.path().to_owned(),
        query,
        content_type: header(CONTENT_TYPE),
        body: None,
        status: 0,
    };

    let bytes = match Limited::new(body, MAX_BODY).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(e) => {
            let error = if e.downcast_ref::<http_body_util::LengthLimitError>().is_some() {
                ApiError::new(413, "RequestEntityTooLarge", "the request body is larger than 3 MiB")
            } else {
                ApiError::bad_request(format!("reading the request body: {e}"))
            };
            record.status = error.code;
            if !route.is_discovery() {
                shared.record(record, is_watch);
            }
            return Ok(error_response(&error));
        }
    };
    record.body = recorded_body(&bytes);

    if shared.take_stall(&record.method, &record.path) {
        shared.until_stopped().await;
        return Ok(error_response(&injected(503)));
    }

    if let Some(status) = shared.take_fault(&record.method, &record.path) {
        record.status = status;
        if !route.is_discovery() {
            shared.record(record, is_watch);
        }
        return Ok(error_response(&injected(status)));
    }

    if route.is_discovery() {
        if record.method != "GET" {
            return Ok(error_response(&ApiError::method_not_allowed()));
        }
        let defs = shared.state().store.defs().to_vec();
        return Ok(match discovery::respond(&route, &accept, &defs, &shared.address) {
            Ok(document) => json_response(200, &document.body, &document.content_type),
            Err(error) => error_response(&error),
        });
    }

    if is_watch && let Route::Resource(resource) = &route {
        let response = watch::start(&shared, resource, &record.query, wants_metadata_only(&accept));
        record.status = response.status().as_u16();
        shared.record(record, true);
        return Ok(response);
    }

    let result = match &route {
        Route::Resource(resource) => {
            let content_type = record.content_type.as_deref().unwrap_or_default();
            shared.write(|store| serve(store, &record.method, resource, &record.query, content_type, &bytes))
        }
        _ => Err(ApiError::no_such_path()),
    };
    let (status, mut body) = match result {
        Ok(answer) => answer,
        Err(error) => (error.code, error.to_status()),
    };
    if wants_metadata_only(&accept) && status < 300 {
        body = match body.get("items").and_then(Value::as_array) {
            Some(items) => {
                let mut list = body.clone();
                list["apiVersion"] = json!("meta.k8s.io/v1");
                list["kind"] = json!("PartialObjectMetadataList");
                list["items"] = items.iter().map(metadata_only).collect();
                list
            }
            None => metadata_only(&body),
        };
    }
    record.status = status;
    shared.record(record, false);
    Ok(json_response(status, &body, "application/json"))
}

/// The registered type a resource path names, checked against its scope and subresource.
pub(crate) fn resolve(store: &Store, resource: &ResourcePath) -> Result<ResourceDef, ApiError> {
    let def = store.find(&resource.group, &resource.version, &resource.plural).ok_or_else(ApiError::no_such_path)?;
    let scope_ok = if def.namespaced {
        resource.namespace.is_some() || resource.name.is_none()
    } else {
        resource.namespace.is_none()
    };
    let subresource_ok = match resource.subresource.as_deref() {
        None => true,
        Some("status") => def.status,
        Some(_) => false,
    };
    if scope_ok && subresource_ok { Ok(def) } else { Err(ApiError::no_such_path()) }
}

/// The namespace, name and selectors of a list, watch or deletecollection.
pub(crate) fn filter(resource: &ResourcePath, query: &BTreeMap<String, String>) -> Result<Filter, ApiError> {
    let labels = LabelSelector::parse(query.get("labelSelector").map_or("", String::as_str))
        .map_err(|e| ApiError::bad_request(format!("unable to parse requirement: {e}")))?;
    let fields = FieldSelector::parse(query.get("fieldSelector").map_or("", String::as_str))
        .map_err(|e| ApiError::bad_request(format!("invalid field selector: {e}")))?;
    Ok(Filter { namespace: resource.namespace.clone(), name: resource.name.clone(), labels, fields })
}

/// Everything but watches and discovery: `(status code, body)`.
fn serve(
    store: &mut Store,
    method: &str,
    resource: &ResourcePath,
    query: &BTreeMap<String, String>,
    content_type: &str,
    body: &[u8],
) -> Result<(u16, Value), ApiError> {
    let def = resolve(store, resource)?;
    let namespace = resource.namespace.as_deref();
    let mode = if resource.subresource.is_some() { Mode::Status } else { Mode::Main };
    let mut opts = WriteOpts {
        dry_run: query.get("dryRun").is_some_and(|d| d == "All"),
        field_manager: query.get("fieldManager").filter(|m| !m.is_empty()).cloned(),
        apply: false,
    };
    match (method, resource.name.as_deref()) {
        ("GET", None) => list(store, &def, resource, query).map(|l| (200, l)),
        ("GET", Some(name)) => store.get(&def, namespace, name).map(|o| (200, o)),
        ("POST", None) => {
            if def.namespaced && namespace.is_none() {
                return Err(ApiError::method_not_allowed());
            }
            let object = parse_body(body, false)?;
            store.create(&def, namespace, object, mode, &opts).map(|o| (201, o))
        }
        ("PUT", Some(name)) => {
            let object = parse_body(body, false)?;
            store.update(&def, namespace, name, mode, object, &opts).map(|o| (200, o))
        }
        ("PATCH", Some(name)) => {
            let Some(kind) = PatchType::from_content_type(content_type) else {
                return Err(ApiError::new(
                    415,
                    "UnsupportedMediaType",
                    format!(
                        "the body of the request was in an unknown format ({content_type:?}); accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml"
                    ),
                ));
            };
            if kind == PatchType::Apply {
                if opts.field_manager.is_none() {
                    return Err(ApiError::invalid(
                        "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch",
                    ));
                }
                opts.apply = true;
            }
            let patch = parse_body(body, kind == PatchType::Apply)?;
            let (object, created) = store.patch(&def, namespace, name, mode, kind, patch, &opts)?;
            Ok((if created { 201 } else { 200 }, object))
        }
        ("DELETE", Some(name)) => {
            let (preconditions, body_dry_run) = delete_options(body)?;
            store.delete(&def, namespace, name, &preconditions, opts.dry_run || body_dry_run).map(|o| (200, o))
        }
        ("DELETE", None) => {
            let (_, body_dry_run) = delete_options(body)?;
            let filter = filter(resource, query)?;
            let deleted = store.delete_collection(&def, &filter, opts.dry_run || body_dry_run)?;
            let list = json!({
                "apiVersion": def.api_version(),
                "kind": format!("{}List", def.kind),
                "metadata": {"resourceVersion": store.resource_version().to_string()},
                "items": deleted,
            });
            Ok((200, list))
        }
        _ => Err(ApiError::method_not_allowed()),
    }
}

/// `DeleteOptions` from a DELETE body (optional): preconditions and `dryRun: ["All"]`.
fn delete_options(body: &[u8]) -> Result<(Preconditions, bool), ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok((Preconditions::default(), false));
    }
    let options = parse_body(body, false)?;
    let text = |pointer: &str| options.pointer(pointer).and_then(Value::as_str).map(str::to_owned);
    let preconditions =
        Preconditions { uid: text("/preconditions/uid"), resource_version: text("/preconditions/resourceVersion") };
    let dry_run = options.get("dryRun").and_then(Value::as_array).is_some_and(|d| d.iter().any(|v| v == "All"));
    Ok((preconditions, dry_run))
}

/// A list, with `limit`/`continue` pagination. Later pages show the objects as they are when
/// that page is read (the API server serves a snapshot at the first page's resourceVersion);
/// every page answers the first page's resourceVersion, so a watch from it replays whatever
/// changed in between.
fn list(
    store: &Store,
    def: &ResourceDef,
    resource: &ResourcePath,
    query: &BTreeMap<String, String>,
) -> Result<Value, ApiError> {
    let filter = filter(resource, query)?;
    let mut items = store.list(def, &filter);
    let mut rv = store.resource_version();
    if let Some(token) = query.get("continue").filter(|t| !t.is_empty()) {
        let (token_rv, after) =
            decode_continue(token).ok_or_else(|| ApiError::bad_request(format!("invalid continue token {token:?}")))?;
        rv = token_rv;
        items.retain(|item| item_key(item) > after);
    }
    let limit = query.get("limit").and_then(|l| l.parse::<usize>().ok()).filter(|l| *l > 0);
    let mut metadata = json!({"resourceVersion": rv.to_string()});
    if let Some(limit) = limit
        && items.len() > limit
    {
        let remaining = items.len() - limit;
        items.truncate(limit);
        metadata["continue"] = json!(encode_continue(rv, &item_key(&items[limit - 1])));
        metadata["remainingItemCount"] = json!(remaining);
    }
    Ok(json!({
        "apiVersion": def.api_version(),
        "kind": format!("{}List", def.kind),
        "metadata": metadata,
        "items": items,
    }))
}

fn item_key(item: &Value) -> (String, String) {
    let text = |pointer: &str| item.pointer(pointer).and_then(Value::as_str).unwrap_or_default().to_owned();
    (text("/metadata/namespace"), text("/metadata/name"))
}

/// An opaque continue token: hex of `rv/namespace/name`.
fn encode_continue(rv: u64, (namespace, name): &(String, String)) -> String {
    format!("{rv}/{namespace}/{name}").bytes().map(|b| format!("{b:02x}")).collect()
}

fn decode_continue(token: &str) -> Option<(u64, (String, String))> {
    if !token.len().is_multiple_of(2) {
        return None;
    }
    let bytes: Option<Vec<u8>> =
        (0..token.len()).step_by(2).map(|i| u8::from_str_radix(token.get(i..i + 2)?, 16).ok()).collect();
    let text = String::from_utf8(bytes?).ok()?;
    let mut parts = text.splitn(3, '/');
    let rv = parts.next()?.parse().ok()?;
    Some((rv, (parts.next()?.to_owned(), parts.next()?.to_owned())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn continue_tokens_round_trip() {
        let key = ("ns".to_owned(), "a/b".to_owned());
        let token = encode_continue(42, &key);
        assert_eq!(decode_continue(&token), Some((42, key)));
        assert_eq!(decode_continue("zz"), None);
        assert_eq!(decode_continue("abc"), None);
    }

    #[test]
    fn apply_bodies_may_be_yaml_other_bodies_must_be_json() {
        let yaml = b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n";
        assert_eq!(parse_body(yaml, true).unwrap()["metadata"]["name"], "x");
        assert_eq!(parse_body(yaml, false).unwrap_err().code, 400);
        assert_eq!(parse_body(b"", true).unwrap_err().code, 400);
        assert_eq!(recorded_body(b"{\"a\":1}"), Some(json!({"a": 1})));
    }

    #[test]
    fn metadata_only_is_asked_with_the_as_parameter() {
        assert!(wants_metadata_only("application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1"));
        assert!(!wants_metadata_only("application/json"));
    }
}
