//! Watches: a chunked response of newline-delimited `{"type": ..., "object": ...}` events,
//! written by a task on the server's runtime.
//!
//! A watch from resourceVersion `""` or `"0"`, or with `sendInitialEvents=true`, first gets a
//! synthetic ADDED per current object (then, for `sendInitialEvents`, a BOOKMARK annotated
//! `k8s.io/initial-events-end: "true"`); a watch from a resourceVersion replays the kept history
//! after it (410 Gone as an ERROR event when that is older than the history). Then live changes,
//! with a BOOKMARK every [`crate::kube_api::FakeApiServer::set_bookmark_interval`] when
//! `allowWatchBookmarks=true`, until `timeoutSeconds` (default 300), the client goes away,
//! [`crate::kube_api::FakeApiServer::close_watches`] or the server is dropped.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use hyper::Response;
use hyper::body::Bytes;
use hyper::header::{CONTENT_TYPE, HeaderValue};
use serde_json::{Value, json};
use tokio::sync::mpsc;

use super::http::{ApiBody, error_response, filter, is_true, metadata_only, resolve};
use super::path::ResourcePath;
use super::select::Filter;
use super::store::{ApiError, ChangeType, Store, present};
use super::{ResourceDef, Shared};

const DEFAULT_TIMEOUT: Duration = Duration::from_secs(300);

/// One open watch.
struct Watch {
    def: ResourceDef,
    filter: Filter,
    metadata_only: bool,
    bookmarks: bool,
    bookmark_interval: Duration,
    timeout: Duration,
    /// Changes after this resourceVersion are still to be sent.
    after: u64,
    /// Lines to send first (initial events, or the 410 error).
    initial: Vec<Bytes>,
    /// End after the initial lines (the 410 case).
    ended: bool,
}

/// Starts a watch: 200 with a streaming body, or the error (404 for an unregistered type).
pub(crate) fn start(
    shared: &Arc<Shared>,
    resource: &ResourcePath,
    query: &BTreeMap<String, String>,
    metadata_only: bool,
) -> Response<ApiBody> {
    let watch = match prepare(shared, resource, query, metadata_only) {
        Ok(watch) => watch,
        Err(error) => return error_response(&error),
    };
    let (lines, body) = mpsc::channel(64);
    let open = OpenWatch::new(&shared.open_watches);
    tokio::spawn(run(shared.clone(), watch, lines, open));
    let mut response = Response::new(ApiBody::Stream(body));
    response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

fn prepare(
    shared: &Shared,
    resource: &ResourcePath,
    query: &BTreeMap<String, String>,
    metadata_only: bool,
) -> Result<Watch, ApiError> {
    let state = shared.state();
    let store = &state.store;
    let def = resolve(store, resource)?;
    if resource.subresource.is_some() {
        return Err(ApiError::method_not_allowed());
    }
    let filter = filter(resource, query)?;
    let timeout = query
        .get("timeoutSeconds")
        .and_then(|t| t.parse::<u64>().ok())
        .filter(|t| *t > 0)
        .map_or(DEFAULT_TIMEOUT, Duration::from_secs);
    let mut watch = Watch {
        def,
        filter,
        metadata_only,
        bookmarks: is_true(query.get("allowWatchBookmarks")),
        bookmark_interval: state.bookmark_interval,
        timeout,
        after: store.resource_version(),
        initial: Vec::new(),
        ended: false,
    };
    let from = query.get("resourceVersion").map_or("", String::as_str);
    let send_initial = is_true(query.get("sendInitialEvents"));
    if send_initial || from.is_empty() || from == "0" {
        for object in store.list(&watch.def, &watch.filter) {
            watch.initial.push(watch.line("ADDED", &object));
        }
        if send_initial {
            watch.initial.push(watch.bookmark(store.resource_version(), true));
        }
    } else {
        let from: u64 = from
            .parse()
            .map_err(|_| ApiError::bad_request(format!("invalid resourceVersion {from:?}: not a number")))?;
        if from < store.expired_below() {
            let gone =
                ApiError::new(410, "Expired", format!("too old resource version: {from} ({})", store.expired_below()));
            watch.initial.push(event_line("ERROR", gone.to_status()));
            watch.ended = true;
        }
        watch.after = from;
    }
    Ok(watch)
}

async fn run(shared: Arc<Shared>, mut watch: Watch, lines: mpsc::Sender<Bytes>, _open: OpenWatch) {
    // Subscribed before the first read of the history, so no change is missed.
    let mut changes = shared.changes.subscribe();
    let mut closes = shared.closes.subscribe();
    let mut stopped = shared.stopped.subscribe();
    for line in std::mem::take(&mut watch.initial) {
        if lines.send(line).await.is_err() {
            return;
        }
    }
    if watch.ended {
        return;
    }
    let deadline = tokio::time::Instant::now() + watch.timeout;
    let mut bookmarks = tokio::time::interval_at(
        tokio::time::Instant::now() + watch.bookmark_interval,
        watch.bookmark_interval.max(Duration::from_millis(10)),
    );
    loop {
        changes.borrow_and_update();
        let pending = {
            let state = shared.state();
            let pending = watch.pending(&state.store);
            watch.after = state.store.resource_version();
            pending
        };
        for line in pending {
            if lines.send(line).await.is_err() {
                return;
            }
        }
        // (The awaits stay outside `select!`: its output may hold a non-Send watch guard.)
        let bookmark_due = tokio::select! {
            // Ending first: a closed watch delivers nothing more.
            biased;
            _ = stopped.wait_for(|s| *s) => return,
            _ = closes.changed() => return,
            _ = lines.closed() => return,
            _ = tokio::time::sleep_until(deadline) => return,
            changed = changes.changed() => {
                if changed.is_err() {
                    return;
                }
                false
            }
            _ = bookmarks.tick(), if watch.bookmarks => true,
        };
        if bookmark_due && lines.send(watch.bookmark(watch.after, false)).await.is_err() {
            return;
        }
    }
}

impl Watch {
    /// The events for the changes after `self.after`. A change that makes an object start or
    /// stop matching the selectors is an ADDED or DELETED, as the API server's watch cache does.
    fn pending(&self, store: &Store) -> Vec<Bytes> {
        let mut lines = Vec::new();
        for change in store.history_after(self.after) {
            if change.group != self.def.group || change.kind != self.def.kind {
                continue;
            }
            let matches_now = self.filter.matches(&change.object);
            let event = match change.change {
                ChangeType::Added | ChangeType::Deleted => matches_now.then_some(change.change),
                ChangeType::Modified => {
                    let matched = change.previous.as_ref().is_some_and(|p| self.filter.matches(p));
                    match (matched, matches_now) {
                        (true, true) => Some(ChangeType::Modified),
                        (false, true) => Some(ChangeType::Added),
                        (true, false) => Some(ChangeType::Deleted),
                        (false, false) => None,
                    }
                }
            };
            if let Some(event) = event {
                lines.push(self.line(event.as_str(), &present(&self.def, &change.object)));
            }
        }
        lines
    }

    fn line(&self, event: &str, object: &Value) -> Bytes {
        event_line(event, if self.metadata_only { metadata_only(object) } else { object.clone() })
    }

    fn bookmark(&self, rv: u64, initial_events_end: bool) -> Bytes {
        let (api_version, kind) = if self.metadata_only {
            ("meta.k8s.io/v1".to_owned(), "PartialObjectMetadata".to_owned())
        } else {
            (self.def.api_version(), self.def.kind.clone())
        };
        let mut metadata = json!({"resourceVersion": rv.to_string()});
        if initial_events_end {
            metadata["annotations"] = json!({"k8s.io/initial-events-end": "true"});
        }
        event_line("BOOKMARK", json!({"apiVersion": api_version, "kind": kind, "metadata": metadata}))
    }
}

fn event_line(event: &str, object: Value) -> Bytes {
    let mut line = serde_json::to_vec(&json!({"type": event, "object": object})).expect("JSON values serialize");
    line.push(b'\n');
    Bytes::from(line)
}

/// Counts a watch as open while its task lives.
struct OpenWatch(Arc<AtomicUsize>);

impl OpenWatch {
    fn new(count: &Arc<AtomicUsize>) -> OpenWatch {
        count.fetch_add(1, Ordering::SeqCst);
        OpenWatch(count.clone())
    }
}

impl Drop for OpenWatch {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}
