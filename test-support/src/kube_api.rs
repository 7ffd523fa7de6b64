//! A fake Kubernetes API server for component tests: a real HTTP/1.1 server that a kube-rs
//! client talks to exactly as to a real API server (discovery, list, watch, get, create,
//! replace, the four patch types, delete with finalizers, the status subresource), keeping
//! objects in memory, recording every request and injecting faults.
//!
//! # Running it
//! [`FakeApiServer::start`] runs it on the caller's tokio runtime (like [`crate::Proxy::start`]),
//! listening on `127.0.0.1:0` (plain HTTP); [`FakeApiServer::url`] gives `http://127.0.0.1:PORT`
//! for `kube::Config::new(url.parse()?)`. All other methods are synchronous and thread-safe.
//! Dropping the server stops it: open watches end and connections close.
//!
//! ```no_run
//! # async fn demo() {
//! use albatross_test_support::{FakeApiServer, ResourceDef};
//! let server = FakeApiServer::start().await;
//! for def in ResourceDef::gateway_api() {
//!     server.register(def); // "install the CRDs"
//! }
//! // let client = kube::Client::try_from(kube::Config::new(server.url().parse().unwrap())).unwrap();
//! server.apply(serde_json::json!({
//!     "apiVersion": "gateway.networking.k8s.io/v1", "kind": "GatewayClass",
//!     "metadata": {"name": "alb"}, "spec": {"controllerName": "gateway.k8s.aws/alb"},
//! }));
//! assert!(server.requests_matching("PATCH", "/status").is_empty());
//! # }
//! ```
//!
//! # Resource types
//! The built-in types ([`ResourceDef::builtin`]) are served from the start; [`FakeApiServer::register`]
//! adds one at any time (how a test installs a CRD; discovery shows it at once), and so does
//! storing a `CustomResourceDefinition` object (its served versions, highest priority first; the
//! CRD is marked `Established`; deleting it deletes its objects and unserves the types). Objects
//! are stored per (group, kind) and served at every registered version of the kind, with
//! `apiVersion` rewritten, as the API server does for versions with identical schemas. A path
//! of an unregistered type is 404 with a `Status` body, for watches too (how a controller
//! notices a missing CRD).
//!
//! # Semantics
//! - Every stored change takes the next value of one global resourceVersion counter and is
//!   kept in a history that watches replay.
//! - create: `uid`, `creationTimestamp`, `resourceVersion`, `generation: 1`, the namespace from
//!   the path, `generateName`; 409 `AlreadyExists`; `.status` dropped when the type has a status
//!   subresource (as the API server does). The namespace need not exist.
//! - replace and patch: 409 `Conflict` when the body's (or patched) `metadata.resourceVersion`
//!   is set and differs (a PUT without one is unconditional); server-managed metadata (uid,
//!   creationTimestamp, generation, deletionTimestamp, managedFields) cannot be changed;
//!   `metadata.generation` grows when anything outside `metadata` and `status` changes.
//! - The status subresource (`.../{name}/status`) changes only `.status`; the main path ignores
//!   `.status` for types with a status subresource.
//! - A write that changes nothing stores nothing and emits no watch event.
//! - delete: with finalizers, sets `deletionTimestamp` once (and `generation` + 1, as the API
//!   server does) and emits MODIFIED; without, removes and emits DELETED. Any write that leaves
//!   a deleting object without finalizers removes it; adding a finalizer to a deleting object
//!   is refused (422). `propagationPolicy` is ignored (there is no garbage collector).
//! - Patches: merge (RFC 7386), strategic merge (treated as a merge patch: lists replaced whole,
//!   no directives), JSON patch (RFC 6902; an operation that does not apply, like a failed
//!   `test`, is 422 `Invalid`), and server-side apply, **simplified**: `fieldManager` is
//!   required (422); a missing object is created; otherwise the applied object is deep-merged
//!   into the stored one (maps merge recursively, lists and scalars replace, `null` removes);
//!   a `metadata.resourceVersion` in it that differs is 409. There is no field ownership: no
//!   conflicts between managers (`force` is accepted and ignored) and fields a manager stops
//!   applying are not removed. `metadata.managedFields` gets one entry per manager, operation
//!   (`Apply`, or `Update` for other writes with `fieldManager`) and subresource, without
//!   field sets.
//! - `dryRun=All` computes the answer and stores nothing.
//! - Lists: sorted by namespace and name; `labelSelector` (`a=b`, `a==b`, `a!=b`, `a`, `!a`,
//!   `a in (x,y)`, `a notin (x)`), `fieldSelector` (`=`, `==`, `!=` on any dotted path, e.g.
//!   `metadata.name`), `limit`/`continue` (later pages are read at the time they are asked
//!   for, not from a snapshot). `Accept: ...;as=PartialObjectMetadata[List]` answers metadata
//!   only (kube's `*_metadata` calls and metadata watches).
//! - Discovery answers legacy JSON, or aggregated discovery (`APIGroupDiscoveryList`) when the
//!   `Accept` header asks for it first; `/version` says v1.33.0.
//! - Bodies up to 3 MiB (413 beyond); malformed JSON is 400; unknown paths 404; all errors
//!   are `Status` objects with the API server's reasons.
//!
//! # Watches
//! `?watch=true` (or `1`) answers a chunked stream of newline-delimited
//! `{"type": "ADDED|MODIFIED|DELETED|BOOKMARK|ERROR", "object": ...}` events for the path's
//! namespace and the `labelSelector`/`fieldSelector` (a change that makes an object start or
//! stop matching is an ADDED or DELETED, as from the API server's watch cache). A watch from
//! resourceVersion `""` or `"0"`, or with `sendInitialEvents=true`, first gets a synthetic ADDED
//! per current object (for `sendInitialEvents`, then a BOOKMARK annotated
//! `k8s.io/initial-events-end: "true"`); a watch from a resourceVersion replays every kept change
//! after it (the whole history is kept until [`FakeApiServer::expire_watch_history`]; older is an
//! ERROR event with 410 `Expired`). Then live changes, and with `allowWatchBookmarks=true` a
//! BOOKMARK every [`FakeApiServer::set_bookmark_interval`], until `timeoutSeconds` (default 300),
//! the client goes away, [`FakeApiServer::close_watches`] or the server is dropped.
//!
//! # Recording and faults
//! Every request except discovery, `/version` and watches is recorded as a [`Recorded`]
//! ([`FakeApiServer::requests`]); watches are recorded apart ([`FakeApiServer::watches`]).
//! [`FakeApiServer::fail_requests`] makes the next matching requests fail with a status code;
//! [`FakeApiServer::stall_requests`] makes them hang, unanswered, until the server is dropped.
//! Note that kube's default client retries 429, 503 and 504 by itself (up to 15 times,
//! honouring `Retry-After`, which a 429 here carries as 1 s): inject 500, or set
//! `kube::Config::default_retry = false`, for the error to reach the code under test; the
//! retries show in [`FakeApiServer::requests`].

mod discovery;
mod http;
mod patch;
mod path;
mod select;
mod store;
mod watch;

use std::collections::BTreeMap;
use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::watch as signal;

use path::Route;
use store::{Mode, Preconditions, Store, WriteOpts, split_api_version};

/// A resource type the server serves at one version.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ResourceDef {
    /// API group; `""` for the core group (`/api/v1`).
    pub group: String,
    pub version: String,
    pub kind: String,
    /// The resource name in paths, e.g. `gateways`.
    pub plural: String,
    pub namespaced: bool,
    /// Whether it has a status subresource.
    pub status: bool,
}

impl ResourceDef {
    pub fn new(group: &str, version: &str, kind: &str, plural: &str, namespaced: bool, status: bool) -> ResourceDef {
        ResourceDef {
            group: group.to_owned(),
            version: version.to_owned(),
            kind: kind.to_owned(),
            plural: plural.to_owned(),
            namespaced,
            status,
        }
    }

    /// `group/version`, or `version` for the core group.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() { self.version.clone() } else { format!("{}/{}", self.group, self.version) }
    }

    /// The lower-case kind, as discovery's `singularName`.
    pub fn singular(&self) -> String {
        self.kind.to_lowercase()
    }

    /// `plural` for the core group, `plural.group` otherwise (as in the API server's messages).
    fn resource_name(&self) -> String {
        if self.group.is_empty() { self.plural.clone() } else { format!("{}.{}", self.plural, self.group) }
    }

    /// The types every server serves from the start.
    pub fn builtin() -> Vec<ResourceDef> {
        let d = ResourceDef::new;
        vec![
            d("", "v1", "Namespace", "namespaces", false, true),
            d("", "v1", "Service", "services", true, true),
            d("", "v1", "Secret", "secrets", true, false),
            d("", "v1", "Event", "events", true, false),
            d("", "v1", "ConfigMap", "configmaps", true, false),
            d("", "v1", "Endpoints", "endpoints", true, false),
            d("", "v1", "Node", "nodes", false, true),
            d("", "v1", "Pod", "pods", true, true),
            d("discovery.k8s.io", "v1", "EndpointSlice", "endpointslices", true, false),
            d("events.k8s.io", "v1", "Event", "events", true, false),
            d("coordination.k8s.io", "v1", "Lease", "leases", true, false),
            d(
                "admissionregistration.k8s.io",
                "v1",
                "ValidatingWebhookConfiguration",
                "validatingwebhookconfigurations",
                false,
                false,
            ),
            d(
                "admissionregistration.k8s.io",
                "v1",
                "MutatingWebhookConfiguration",
                "mutatingwebhookconfigurations",
                false,
                false,
            ),
            d("apiextensions.k8s.io", "v1", "CustomResourceDefinition", "customresourcedefinitions", false, true),
        ]
    }

    /// The Gateway API (v1.6.1) kinds and versions a cluster with the experimental channel's
    /// CRDs serves (`manifests/gateway-api/experimental`, `gateway.networking.k8s.io` only; the
    /// standard channel serves a subset: the same without TCPRoute/TLSRoute/UDPRoute v1alpha2,
    /// TLSRoute v1alpha3 and BackendTLSPolicy v1alpha3). The preferred version comes first.
    pub fn gateway_api() -> Vec<ResourceDef> {
        const G: &str = "gateway.networking.k8s.io";
        let d = |version: &str, kind: &str, plural: &str, namespaced: bool, status: bool| {
            ResourceDef::new(G, version, kind, plural, namespaced, status)
        };
        vec![
            d("v1", "GatewayClass", "gatewayclasses", false, true),
            d("v1", "Gateway", "gateways", true, true),
            d("v1", "HTTPRoute", "httproutes", true, true),
            d("v1", "GRPCRoute", "grpcroutes", true, true),
            d("v1", "ReferenceGrant", "referencegrants", true, false),
            d("v1", "TLSRoute", "tlsroutes", true, true),
            d("v1", "TCPRoute", "tcproutes", true, true),
            d("v1", "UDPRoute", "udproutes", true, true),
            d("v1", "ListenerSet", "listenersets", true, true),
            d("v1", "BackendTLSPolicy", "backendtlspolicies", true, true),
            d("v1beta1", "GatewayClass", "gatewayclasses", false, true),
            d("v1beta1", "Gateway", "gateways", true, true),
            d("v1beta1", "HTTPRoute", "httproutes", true, true),
            d("v1beta1", "ReferenceGrant", "referencegrants", true, false),
            d("v1alpha3", "TLSRoute", "tlsroutes", true, true),
            d("v1alpha3", "BackendTLSPolicy", "backendtlspolicies", true, true),
            d("v1alpha2", "TLSRoute", "tlsroutes", true, true),
            d("v1alpha2", "TCPRoute", "tcproutes", true, true),
            d("v1alpha2", "UDPRoute", "udproutes", true, true),
        ]
    }

    /// Albatross' own CRDs (`manifests/crds/gateway.k8s.aws_crds.yaml`): `gateway.k8s.aws` v1
    /// (stored, preferred) and v1beta1 (served, deprecated).
    pub fn aws() -> Vec<ResourceDef> {
        const G: &str = "gateway.k8s.aws";
        let kinds = [
            ("LoadBalancerConfiguration", "loadbalancerconfigurations"),
            ("TargetGroupConfiguration", "targetgroupconfigurations"),
            ("ListenerRuleConfiguration", "listenerruleconfigurations"),
        ];
        ["v1", "v1beta1"]
            .iter()
            .flat_map(|version| {
                kinds.iter().map(move |(kind, plural)| ResourceDef::new(G, version, kind, plural, true, true))
            })
            .collect()
    }
}

/// One request the server answered.
#[derive(Clone, Debug, PartialEq)]
pub struct Recorded {
    pub method: String,
    /// The path, without the query.
    pub path: String,
    pub query: BTreeMap<String, String>,
    pub content_type: Option<String>,
    /// The body parsed as JSON (or YAML); a body that is neither is kept as a JSON string.
    pub body: Option<Value>,
    /// The status code answered (for a watch, the status of its start).
    pub status: u16,
}

impl Recorded {
    /// The Kubernetes RBAC verb of the request: `get`, `list`, `watch`, `create`, `update`,
    /// `patch`, `delete`, `deletecollection` (`""` for other methods).
    pub fn verb(&self) -> &'static str {
        let named = match path::parse(&self.path) {
            Route::Resource(resource) => resource.name.is_some(),
            _ => false,
        };
        let watch = matches!(self.query.get("watch").map(String::as_str), Some("true" | "1"));
        match (self.method.as_str(), named) {
            ("GET", _) if watch => "watch",
            ("GET", true) => "get",
            ("GET", false) => "list",
            ("POST", _) => "create",
            ("PUT", _) => "update",
            ("PATCH", _) => "patch",
            ("DELETE", true) => "delete",
            ("DELETE", false) => "deletecollection",
            _ => "",
        }
    }

    /// The RBAC resource: (API group, plural, subresource), e.g.
    /// `("gateway.networking.k8s.io", "gateways", Some("status"))`; `("", "", None)` for a path
    /// that names no resource.
    pub fn resource(&self) -> (String, String, Option<String>) {
        match path::parse(&self.path) {
            Route::Resource(resource) => (resource.group, resource.plural, resource.subresource),
            _ => (String::new(), String::new(), None),
        }
    }

    /// The namespace and name the path addresses (`None` for cluster scope or a collection).
    pub fn target(&self) -> (Option<String>, Option<String>) {
        match path::parse(&self.path) {
            Route::Resource(resource) => (resource.namespace, resource.name),
            _ => (None, None),
        }
    }

    /// The `fieldManager` query parameter.
    pub fn field_manager(&self) -> Option<&str> {
        self.query.get("fieldManager").map(String::as_str)
    }
}

/// The running server; dropping it stops it.
pub struct FakeApiServer {
    url: String,
    shared: Arc<Shared>,
}

impl fmt::Debug for FakeApiServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FakeApiServer").field("url", &self.url).finish()
    }
}

impl FakeApiServer {
    /// Starts the server on the caller's tokio runtime, with the built-in types. Panics if it
    /// cannot bind.
    pub async fn start() -> FakeApiServer {
        let listener =
            TcpListener::bind("127.0.0.1:0").await.unwrap_or_else(|e| panic!("fake API server cannot bind: {e}"));
        let address = listener.local_addr().expect("fake API server local address").to_string();
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                store: Store::new(ResourceDef::builtin()),
                requests: Vec::new(),
                watches: Vec::new(),
                faults: Vec::new(),
                stalls: Vec::new(),
                bookmark_interval: Duration::from_secs(2),
            }),
            changes: signal::Sender::new(0),
            closes: signal::Sender::new(0),
            stopped: signal::Sender::new(false),
            open_watches: Arc::new(AtomicUsize::new(0)),
            address: address.clone(),
        });
        tokio::spawn(serve(listener, shared.clone()));
        FakeApiServer { url: format!("http://{address}"), shared }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        self.url.clone()
    }

    /// Writes a kubeconfig that points kubectl or any client at this server (no credentials),
    /// for processes started with `KUBECONFIG` set to `path`.
    pub fn write_kubeconfig(&self, path: &std::path::Path) -> std::io::Result<()> {
        std::fs::write(
            path,
            format!(
                "apiVersion: v1\nkind: Config\nclusters: [{{name: fake, cluster: {{server: \"{}\"}}}}]\n\
                 users: [{{name: fake, user: {{}}}}]\ncontexts: [{{name: fake, context: {{cluster: fake, user: fake}}}}]\n\
                 current-context: fake\n",
                self.url
            ),
        )
    }

    /// Serves a resource type (replacing one with the same group, version and plural).
    /// Discovery shows it at once.
    pub fn register(&self, def: ResourceDef) {
        self.shared.state().store.register(def);
    }

    /// The types served now, in registration order.
    pub fn resources(&self) -> Vec<ResourceDef> {
        self.shared.state().store.defs().to_vec()
    }

    /// The resourceVersion of the latest stored change.
    pub fn resource_version(&self) -> u64 {
        self.shared.state().store.resource_version()
    }

    /// Every recorded request (not discovery, not watches), in the order they were answered.
    pub fn requests(&self) -> Vec<Recorded> {
        self.shared.state().requests.clone()
    }

    /// The recorded requests with this method (case-insensitive; `"*"`: any) whose path
    /// contains `path_contains`.
    pub fn requests_matching(&self, method: &str, path_contains: &str) -> Vec<Recorded> {
        let state = self.shared.state();
        state
            .requests
            .iter()
            .filter(|r| method_matches(method, &r.method) && r.path.contains(path_contains))
            .cloned()
            .collect()
    }

    /// Every watch request, in the order they started (their status is the start's: 200, or
    /// e.g. 404 for an unregistered type).
    pub fn watches(&self) -> Vec<Recorded> {
        self.shared.state().watches.clone()
    }

    /// Forgets the recorded requests and watches.
    pub fn clear_requests(&self) {
        let mut state = self.shared.state();
        state.requests.clear();
        state.watches.clear();
    }

    /// Creates or replaces an object as a user's `kubectl apply` would: spec and metadata from
    /// `value`, `.status` from `value` or, when it has none, kept; server-managed metadata kept;
    /// a namespaced object without a namespace goes to `default`. Returns the stored object
    /// (its last state if the write completed a deletion). Watches see the change.
    ///
    /// # Panics
    /// When the type (`apiVersion`, `kind`) is not registered, the value has no name, or the
    /// write is refused (adding a finalizer to a deleting object).
    pub fn apply(&self, value: Value) -> Value {
        self.shared
            .write(|store| store.user_apply(value))
            .unwrap_or_else(|e| panic!("FakeApiServer::apply: {}", e.message))
    }

    /// The object, at `api_version`'s presentation; `None` if missing or the type is not
    /// registered.
    pub fn get(&self, api_version: &str, kind: &str, namespace: Option<&str>, name: &str) -> Option<Value> {
        let state = self.shared.state();
        let def = find_kind(&state.store, api_version, kind)?;
        state.store.get(&def, namespace, name).ok()
    }

    /// Every object of every group whose kind is `kind` (e.g. `"Gateway"`; `"Event"` gives the
    /// core and `events.k8s.io` ones), sorted by group, namespace and name.
    pub fn list(&self, kind: &str) -> Vec<Value> {
        self.shared.state().store.list_kind(kind)
    }

    /// Deletes as a DELETE request would: with finalizers the object only gets a
    /// `deletionTimestamp`. Returns the object as it is after the call (`None` if it is missing).
    pub fn delete(&self, api_version: &str, kind: &str, namespace: Option<&str>, name: &str) -> Option<Value> {
        self.shared.write(|store| {
            let def = find_kind(store, api_version, kind)?;
            store.delete(&def, namespace, name, &Preconditions::default(), false).ok()
        })
    }

    /// Replaces `.status` as a PUT on the status subresource would (whether or not the type
    /// has one). Returns the stored object, `None` if it is missing.
    pub fn set_status(
        &self,
        api_version: &str,
        kind: &str,
        namespace: Option<&str>,
        name: &str,
        status: Value,
    ) -> Option<Value> {
        self.shared.write(|store| {
            let def = find_kind(store, api_version, kind)?;
            let body = serde_json::json!({ "status": status });
            store.update(&def, namespace, name, Mode::Status, body, &WriteOpts::default()).ok()
        })
    }

    /// The next `times` requests with this method (case-insensitive; `"*"`: any) whose path
    /// contains `path_contains` are answered `status` with a `Status` body (429 also gets
    /// `Retry-After: 1`), without touching the store. Applies to every request, discovery and
    /// watches included; rules are tried in the order they were added.
    pub fn fail_requests(&self, method: &str, path_contains: &str, status: u16, times: usize) {
        self.shared.state().faults.push(FaultRule {
            method: method.to_owned(),
            path_contains: path_contains.to_owned(),
            status,
            remaining: times,
        });
    }

    /// The next `times` requests with this method (as in [`FakeApiServer::fail_requests`]) whose
    /// path contains `path_contains` get no answer until the server is dropped: a hung API
    /// server. They are not recorded. Stalls are tried before faults.
    pub fn stall_requests(&self, method: &str, path_contains: &str, times: usize) {
        self.shared.state().stalls.push(FaultRule {
            method: method.to_owned(),
            path_contains: path_contains.to_owned(),
            status: 0,
            remaining: times,
        });
    }

    /// How many watch streams are open now.
    pub fn open_watches(&self) -> usize {
        self.shared.open_watches.load(Ordering::SeqCst)
    }

    /// Ends every open watch stream, as the API server does when a watch times out or the
    /// server restarts; clients re-watch from their last resourceVersion.
    pub fn close_watches(&self) {
        self.shared.closes.send_modify(|n| *n += 1);
    }

    /// Forgets the watch history: a watch from an older resourceVersion then gets an ERROR event
    /// with 410 Gone (the client has to list again), as after an etcd compaction.
    pub fn expire_watch_history(&self) {
        self.shared.state().store.expire_history();
    }

    /// How often a watch with `allowWatchBookmarks=true` gets a BOOKMARK (default 2 s; for
    /// watches started afterwards).
    pub fn set_bookmark_interval(&self, interval: Duration) {
        self.shared.state().bookmark_interval = interval;
    }
}

impl Drop for FakeApiServer {
    fn drop(&mut self) {
        self.shared.stopped.send_replace(true);
    }
}

fn method_matches(wanted: &str, method: &str) -> bool {
    wanted == "*" || wanted.eq_ignore_ascii_case(method)
}

fn find_kind(store: &Store, api_version: &str, kind: &str) -> Option<ResourceDef> {
    let (group, version) = split_api_version(api_version);
    store.find_kind(group, version, kind)
}

fn take_rule(rules: &mut [FaultRule], method: &str, path: &str) -> Option<u16> {
    let rule = rules
        .iter_mut()
        .find(|f| f.remaining > 0 && method_matches(&f.method, method) && path.contains(&f.path_contains))?;
    rule.remaining -= 1;
    Some(rule.status)
}

struct FaultRule {
    method: String,
    path_contains: String,
    status: u16,
    remaining: usize,
}

pub(crate) struct State {
    store: Store,
    requests: Vec<Recorded>,
    watches: Vec<Recorded>,
    faults: Vec<FaultRule>,
    stalls: Vec<FaultRule>,
    bookmark_interval: Duration,
}

/// What the server's tasks share with the [`FakeApiServer`] handle.
pub(crate) struct Shared {
    state: Mutex<State>,
    /// The latest resourceVersion: watches wait for it to change.
    changes: signal::Sender<u64>,
    /// Bumped by [`FakeApiServer::close_watches`].
    closes: signal::Sender<u64>,
    /// Set when the [`FakeApiServer`] is dropped.
    stopped: signal::Sender<bool>,
    open_watches: Arc<AtomicUsize>,
    /// `127.0.0.1:PORT`.
    address: String,
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Runs `write` on the store and wakes the watches if it stored a change.
    fn write<T>(&self, write: impl FnOnce(&mut Store) -> T) -> T {
        let mut state = self.state();
        let before = state.store.resource_version();
        let out = write(&mut state.store);
        let after = state.store.resource_version();
        if after != before {
            self.changes.send_replace(after);
        }
        out
    }

    fn record(&self, recorded: Recorded, watch: bool) {
        let mut state = self.state();
        if watch { state.watches.push(recorded) } else { state.requests.push(recorded) }
    }

    /// The status of the first fault rule that matches, consuming one of its times.
    fn take_fault(&self, method: &str, path: &str) -> Option<u16> {
        take_rule(&mut self.state().faults, method, path)
    }

    /// Whether a stall rule matches, consuming one of its times.
    fn take_stall(&self, method: &str, path: &str) -> bool {
        take_rule(&mut self.state().stalls, method, path).is_some()
    }

    /// Waits until the server is dropped.
    async fn until_stopped(&self) {
        let _ = self.stopped.subscribe().wait_for(|s| *s).await;
    }
}

async fn serve(listener: TcpListener, shared: Arc<Shared>) {
    let stopped = shared.stopped.subscribe();
    crate::http1::serve(listener, "fake API server", stopped, move |request| http::handle(shared.clone(), request))
        .await;
}
