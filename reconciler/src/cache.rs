//! Watch caches: one watcher per kind the controller reads, objects kept as JSON (the model reads
//! JSON, and a kind whose CRD version we do not know still decodes), stripped of what no build
//! reads. Every change is handed on to the index as a [`Change`].

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use albatross_k8s::route::{ObjectKey, RouteKind};
use futures::StreamExt;
use kube::api::{ApiResource, DynamicObject, GroupVersionKind};
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher;
use kube::{Api, Client};
use serde_json::Value;
use tokio::sync::mpsc;

/// The kinds the controller watches.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    GatewayClass,
    Gateway,
    /// Every route kind: the list is k8s's.
    Route(RouteKind),
    ReferenceGrant,
    ListenerSet,
    LoadBalancerConfiguration,
    TargetGroupConfiguration,
    ListenerRuleConfiguration,
    Service,
    EndpointSlice,
    Namespace,
    Node,
}

pub use albatross_k8s::route::GATEWAY_GROUP;
pub const AWS_GROUP: &str = "gateway.k8s.aws";

impl Kind {
    /// Every kind watched: the others, then each of k8s's route kinds.
    pub const ALL: [Kind; 16] = {
        const OTHERS: [Kind; 11] = [
            Kind::GatewayClass,
            Kind::Gateway,
            Kind::ReferenceGrant,
            Kind::ListenerSet,
            Kind::LoadBalancerConfiguration,
            Kind::TargetGroupConfiguration,
            Kind::ListenerRuleConfiguration,
            Kind::Service,
            Kind::EndpointSlice,
            Kind::Namespace,
            Kind::Node,
        ];
        let mut all = [Kind::GatewayClass; 16];
        let mut i = 0;
        while i < OTHERS.len() {
            all[i] = OTHERS[i];
            i += 1;
        }
        let mut r = 0;
        while r < RouteKind::ALL.len() {
            all[OTHERS.len() + r] = Kind::Route(RouteKind::ALL[r]);
            r += 1;
        }
        assert!(OTHERS.len() + RouteKind::ALL.len() == 16);
        all
    };

    /// What a build reads: everything but endpoints and nodes (target registration reads those).
    pub const BUILD_INPUTS: [Kind; 14] = {
        let mut out = [Kind::GatewayClass; 14];
        let (mut i, mut n) = (0, 0);
        while i < Kind::ALL.len() {
            if !matches!(Kind::ALL[i], Kind::EndpointSlice | Kind::Node) {
                out[n] = Kind::ALL[i];
                n += 1;
            }
            i += 1;
        }
        assert!(n == out.len());
        out
    };

    pub fn group(self) -> &'static str {
        match self {
            Kind::Service | Kind::Namespace | Kind::Node => "",
            Kind::EndpointSlice => "discovery.k8s.io",
            Kind::LoadBalancerConfiguration | Kind::TargetGroupConfiguration | Kind::ListenerRuleConfiguration => {
                AWS_GROUP
            }
            _ => GATEWAY_GROUP,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Kind::GatewayClass => "GatewayClass",
            Kind::Gateway => "Gateway",
            Kind::Route(route) => route.as_str(),
            Kind::ReferenceGrant => "ReferenceGrant",
            Kind::ListenerSet => "ListenerSet",
            Kind::LoadBalancerConfiguration => "LoadBalancerConfiguration",
            Kind::TargetGroupConfiguration => "TargetGroupConfiguration",
            Kind::ListenerRuleConfiguration => "ListenerRuleConfiguration",
            Kind::Service => "Service",
            Kind::EndpointSlice => "EndpointSlice",
            Kind::Namespace => "Namespace",
            Kind::Node => "Node",
        }
    }

    pub fn from_name(group: &str, kind: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.group() == group && k.name() == kind)
    }

    pub fn namespaced(self) -> bool {
        !matches!(self, Kind::GatewayClass | Kind::Namespace | Kind::Node)
    }

    pub fn is_route(self) -> bool {
        matches!(self, Kind::Route(_))
    }

    /// Kinds every cluster serves at a fixed version; the rest come from CRDs and are found by
    /// discovery.
    fn builtin(self) -> Option<ApiResource> {
        let (version, plural) = match self {
            Kind::Service => ("v1", "services"),
            Kind::Namespace => ("v1", "namespaces"),
            Kind::Node => ("v1", "nodes"),
            Kind::EndpointSlice => ("v1", "endpointslices"),
            _ => return None,
        };
        let gvk = GroupVersionKind::gvk(self.group(), version, self.name());
        Some(ApiResource::from_gvk_with_plural(&gvk, plural))
    }
}

/// One object added, changed or removed. `old` and `new` are the cached values around it.
#[derive(Clone, Debug)]
pub struct Change {
    pub kind: Kind,
    pub key: ObjectKey,
    pub old: Option<Arc<Value>>,
    pub new: Option<Arc<Value>>,
}

#[derive(Default)]
struct Inner {
    /// Compact JSON text: a decoded `Value` tree takes ten to twenty times the memory, and a
    /// reconcile decodes only the few objects its Gateway reads.
    objects: HashMap<Kind, BTreeMap<ObjectKey, Box<str>>>,
    /// Changes per kind, so readers can tell nothing of what they read moved.
    generations: HashMap<Kind, u64>,
    /// The version each CRD kind is watched at.
    resources: HashMap<Kind, ApiResource>,
    synced: HashSet<Kind>,
    discovered: bool,
    /// EndpointSlices by the Service they belong to.
    slices: HashMap<ObjectKey, Vec<ObjectKey>>,
}

fn decode(text: &str) -> Arc<Value> {
    // The text was encoded from a `Value` by this module: it always decodes.
    Arc::new(serde_json::from_str(text).unwrap_or(Value::Null))
}

/// The objects of every watched kind. Cheap to clone; reads never wait for the API server.
#[derive(Clone, Default)]
pub struct Cache {
    inner: Arc<RwLock<Inner>>,
}

/// The key of an object: cluster-scoped objects have an empty namespace.
pub fn key_of(kind: Kind, value: &Value) -> ObjectKey {
    let text = |p: &str| value.pointer(p).and_then(Value::as_str).unwrap_or("").to_owned();
    let namespace = if kind.namespaced() { text("/metadata/namespace") } else { String::new() };
    ObjectKey::new(namespace, text("/metadata/name"))
}

const SERVICE_NAME_LABEL: &str = "kubernetes.io/service-name";

impl Cache {
    fn read(&self) -> std::sync::RwLockReadGuard<'_, Inner> {
        self.inner.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Inner> {
        self.inner.write().unwrap_or_else(|e| e.into_inner())
    }

    pub fn get(&self, kind: Kind, key: &ObjectKey) -> Option<Arc<Value>> {
        self.read().objects.get(&kind)?.get(key).map(|t| decode(t))
    }

    pub fn list(&self, kind: Kind) -> Vec<Arc<Value>> {
        self.read().objects.get(&kind).map(|m| m.values().map(|t| decode(t)).collect()).unwrap_or_default()
    }

    /// Changes so far to these kinds: equal numbers mean equal contents.
    pub fn generation(&self, kinds: &[Kind]) -> u64 {
        let inner = self.read();
        kinds.iter().map(|k| inner.generations.get(k).copied().unwrap_or(0)).sum()
    }

    /// Objects of a kind in one namespace.
    pub fn list_in(&self, kind: Kind, namespace: &str) -> Vec<Arc<Value>> {
        let inner = self.read();
        let Some(map) = inner.objects.get(&kind) else { return Vec::new() };
        let from = ObjectKey::new(namespace, "");
        map.range(from..).take_while(|(k, _)| k.namespace == namespace).map(|(_, t)| decode(t)).collect()
    }

    pub fn keys(&self, kind: Kind) -> Vec<ObjectKey> {
        self.read().objects.get(&kind).map(|m| m.keys().cloned().collect()).unwrap_or_default()
    }

    pub fn len(&self, kind: Kind) -> usize {
        self.read().objects.get(&kind).map_or(0, BTreeMap::len)
    }

    /// EndpointSlices of a Service.
    pub fn slices_of(&self, service: &ObjectKey) -> Vec<Arc<Value>> {
        let inner = self.read();
        let Some(keys) = inner.slices.get(service) else { return Vec::new() };
        let slices = inner.objects.get(&Kind::EndpointSlice);
        keys.iter().filter_map(|k| slices?.get(k).map(|t| decode(t))).collect()
    }

    /// Whether the kind's initial list has been read (it may be absent from the cluster, then
    /// never).
    pub fn synced(&self, kind: Kind) -> bool {
        self.read().synced.contains(&kind)
    }

    /// The API resource (served version) a kind is watched at, once known.
    pub fn resource(&self, kind: Kind) -> Option<ApiResource> {
        kind.builtin().or_else(|| self.read().resources.get(&kind).cloned())
    }

    /// Stores `value` (or removes the key when `None`) and says what changed; equal values
    /// (a resync, a status write of our own that changed nothing) are not changes.
    pub fn store(&self, kind: Kind, key: ObjectKey, value: Option<Value>) -> Option<Change> {
        let new = value.map(slim);
        let text: Option<Box<str>> = new.as_ref().map(|v| v.to_string().into_boxed_str());
        self.store_text(kind, key, text, new)
    }

    /// Stores compact JSON text; `value` is the same object decoded, when the caller has it.
    fn store_text(&self, kind: Kind, key: ObjectKey, text: Option<Box<str>>, value: Option<Value>) -> Option<Change> {
        let mut inner = self.write();
        let map = inner.objects.entry(kind).or_default();
        let old = match text {
            Some(t) => map.insert(key.clone(), t),
            None => map.remove(&key),
        };
        let now = map.get(&key);
        if old.as_deref() == now.map(|t| &**t) {
            return None;
        }
        let new = value.map(Arc::new).or_else(|| now.map(|t| decode(t)));
        *inner.generations.entry(kind).or_default() += 1;
        let old = old.map(|t| decode(&t));
        if kind == Kind::EndpointSlice {
            index_slice(&mut inner, &key, old.as_deref(), new.as_deref());
        }
        Some(Change { kind, key, old, new })
    }

    /// Replaces every object of a kind after a (re)list, handing each change to `send` as it is
    /// made (so a large list is never decoded all at once): objects gone during a watch gap
    /// show up as removals.
    async fn relist<F, Fut>(&self, kind: Kind, listed: Vec<(ObjectKey, Box<str>)>, mut send: F) -> bool
    where
        F: FnMut(Change) -> Fut,
        Fut: std::future::Future<Output = bool>,
    {
        let keys: HashSet<&ObjectKey> = listed.iter().map(|(k, _)| k).collect();
        let gone: Vec<ObjectKey> = self.keys(kind).into_iter().filter(|k| !keys.contains(k)).collect();
        for key in gone {
            if let Some(change) = self.store_text(kind, key, None, None)
                && !send(change).await
            {
                return false;
            }
        }
        for (key, text) in listed {
            if let Some(change) = self.store_text(kind, key, Some(text), None)
                && !send(change).await
            {
                return false;
            }
        }
        self.write().synced.insert(kind);
        true
    }

    fn set_resource(&self, kind: Kind, resource: ApiResource) {
        self.write().resources.insert(kind, resource);
    }

    fn set_discovered(&self) {
        self.write().discovered = true;
    }

    /// Whether API discovery has run once: until then it is unknown which kinds exist.
    pub fn discovered(&self) -> bool {
        self.read().discovered
    }
}

fn index_slice(inner: &mut Inner, key: &ObjectKey, old: Option<&Value>, new: Option<&Value>) {
    let service = |v: &Value| {
        v.pointer("/metadata/labels")
            .and_then(|l| l.get(SERVICE_NAME_LABEL))
            .and_then(Value::as_str)
            .map(|s| ObjectKey::new(key.namespace.clone(), s))
    };
    if let Some(s) = old.and_then(service)
        && let Some(list) = inner.slices.get_mut(&s)
    {
        list.retain(|k| k != key);
        if list.is_empty() {
            inner.slices.remove(&s);
        }
    }
    if let Some(s) = new.and_then(service) {
        inner.slices.entry(s).or_default().push(key.clone());
    }
}

/// Drops what no build reads and what makes every object several times larger: managed fields
/// and the last-applied annotation.
fn slim(mut value: Value) -> Value {
    if let Some(meta) = value.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.remove("managedFields");
        if let Some(annotations) = meta.get_mut("annotations").and_then(Value::as_object_mut) {
            annotations.remove("kubectl.kubernetes.io/last-applied-configuration");
        }
    }
    value
}

/// Watches every kind, starting the CRD kinds as discovery finds them, and sends each change.
pub struct Watches {
    pub client: Client,
    pub cache: Cache,
    pub changes: mpsc::Sender<Change>,
    /// How often discovery looks for CRDs that were missing.
    pub rediscover: Duration,
}

impl Watches {
    pub async fn run(self) {
        let mut started: HashSet<Kind> = HashSet::new();
        for kind in Kind::ALL {
            if let Some(resource) = kind.builtin() {
                self.spawn(kind, resource);
                started.insert(kind);
            }
        }
        loop {
            match self.discover().await {
                Ok(found) => {
                    let missing: Vec<Kind> = Kind::ALL.into_iter().filter(|k| !started.contains(k)).collect();
                    // Every kind found counts as unsynced before any of them starts: a Gateway
                    // must never be built while its routes' watch is still being set up.
                    let mut starting = Vec::new();
                    for kind in missing {
                        match found.get(&kind) {
                            Some(resource) => {
                                tracing::info!(kind = kind.name(), version = %resource.version, "watching");
                                self.cache.set_resource(kind, resource.clone());
                                starting.push((kind, resource.clone()));
                            }
                            None => tracing::info!(
                                kind = kind.name(),
                                "not served by the cluster (CRD not installed); watching once it appears"
                            ),
                        }
                    }
                    self.cache.set_discovered();
                    for (kind, resource) in starting {
                        self.spawn(kind, resource);
                        started.insert(kind);
                    }
                }
                Err(error) => tracing::warn!(%error, "API discovery failed; trying again"),
            }
            if started.len() == Kind::ALL.len() {
                // The watches run on; ending here would read as a dead core task in /healthz.
                return std::future::pending().await;
            }
            tokio::time::sleep(self.rediscover).await;
        }
    }

    /// The preferred served version of each CRD kind present in the cluster.
    async fn discover(&self) -> Result<HashMap<Kind, ApiResource>, kube::Error> {
        let discovery = kube::Discovery::new(self.client.clone()).filter(&[GATEWAY_GROUP, AWS_GROUP]).run().await?;
        let mut found = HashMap::new();
        for group in discovery.groups() {
            for kind in Kind::ALL.into_iter().filter(|k| k.group() == group.name()) {
                if let Some((resource, _)) = group.recommended_kind(kind.name()) {
                    found.insert(kind, resource);
                }
            }
        }
        Ok(found)
    }

    fn spawn(&self, kind: Kind, resource: ApiResource) {
        let api: Api<DynamicObject> = Api::all_with(self.client.clone(), &resource);
        let cache = self.cache.clone();
        let changes = self.changes.clone();
        tokio::spawn(async move {
            let api_version = resource.api_version.clone();
            let mut stream = watcher(api, watcher::Config::default()).default_backoff().boxed();
            // The initial list, as compact text until it is complete.
            let mut buffer: Vec<(ObjectKey, Box<str>)> = Vec::new();
            let send = |change: Change| {
                let changes = changes.clone();
                async move { changes.send(change).await.is_ok() }
            };
            while let Some(event) = stream.next().await {
                let event = match event {
                    Ok(event) => event,
                    Err(error) => {
                        tracing::warn!(kind = kind.name(), %error, "watch failed; retrying with backoff");
                        continue;
                    }
                };
                let change = match event {
                    watcher::Event::Init => {
                        buffer.clear();
                        None
                    }
                    watcher::Event::InitApply(obj) => {
                        if let Some(v) = to_value(kind, &api_version, obj).map(slim) {
                            buffer.push((key_of(kind, &v), v.to_string().into_boxed_str()));
                        }
                        None
                    }
                    watcher::Event::InitDone => {
                        if !cache.relist(kind, std::mem::take(&mut buffer), send).await {
                            return;
                        }
                        None
                    }
                    watcher::Event::Apply(obj) => {
                        to_value(kind, &api_version, obj).and_then(|v| cache.store(kind, key_of(kind, &v), Some(v)))
                    }
                    watcher::Event::Delete(obj) => {
                        to_value(kind, &api_version, obj).and_then(|v| cache.store(kind, key_of(kind, &v), None))
                    }
                };
                if let Some(change) = change
                    && !send(change).await
                {
                    return;
                }
            }
        });
    }
}

/// The object as JSON with its type filled in (list items come without it). An object that
/// does not serialize is reported and skipped; the watch goes on.
fn to_value(kind: Kind, api_version: &str, obj: DynamicObject) -> Option<Value> {
    let name = obj.metadata.name.clone().unwrap_or_default();
    match serde_json::to_value(&obj) {
        Ok(mut v) => {
            v["apiVersion"] = Value::String(api_version.to_owned());
            v["kind"] = Value::String(kind.name().to_owned());
            Some(v)
        }
        Err(error) => {
            tracing::warn!(kind = kind.name(), name, %error, "object skipped");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_kind_is_watched_once_and_the_route_kinds_are_k8s_s() {
        let all: std::collections::BTreeSet<Kind> = Kind::ALL.into_iter().collect();
        assert_eq!(all.len(), Kind::ALL.len(), "no kind twice");
        for route in RouteKind::ALL {
            assert!(all.contains(&Kind::Route(route)));
            assert_eq!(Kind::from_name(GATEWAY_GROUP, route.as_str()), Some(Kind::Route(route)));
        }
        assert_eq!(Kind::ALL.iter().filter(|k| k.is_route()).count(), RouteKind::ALL.len());
        for kind in Kind::ALL {
            assert_eq!(Kind::from_name(kind.group(), kind.name()), Some(kind));
        }
    }

    fn slice(name: &str, service: &str) -> Value {
        json!({"metadata": {"name": name, "namespace": "ns", "labels": {SERVICE_NAME_LABEL: service}}})
    }

    #[test]
    fn an_equal_value_is_not_a_change() {
        let cache = Cache::default();
        let v = json!({"metadata": {"name": "a", "namespace": "ns", "managedFields": [{"manager": "x"}]}});
        assert!(cache.store(Kind::Gateway, ObjectKey::new("ns", "a"), Some(v.clone())).is_some());
        assert!(cache.store(Kind::Gateway, ObjectKey::new("ns", "a"), Some(v)).is_none());
        let stored = cache.get(Kind::Gateway, &ObjectKey::new("ns", "a")).unwrap();
        assert!(stored.pointer("/metadata/managedFields").is_none(), "managed fields are dropped");
    }

    #[test]
    fn endpoint_slices_are_found_by_their_service_and_follow_relabels() {
        let cache = Cache::default();
        cache.store(Kind::EndpointSlice, ObjectKey::new("ns", "s1"), Some(slice("s1", "web")));
        cache.store(Kind::EndpointSlice, ObjectKey::new("ns", "s2"), Some(slice("s2", "web")));
        assert_eq!(cache.slices_of(&ObjectKey::new("ns", "web")).len(), 2);
        cache.store(Kind::EndpointSlice, ObjectKey::new("ns", "s2"), Some(slice("s2", "api")));
        assert_eq!(cache.slices_of(&ObjectKey::new("ns", "web")).len(), 1);
        assert_eq!(cache.slices_of(&ObjectKey::new("ns", "api")).len(), 1);
        cache.store(Kind::EndpointSlice, ObjectKey::new("ns", "s1"), None);
        assert!(cache.slices_of(&ObjectKey::new("ns", "web")).is_empty());
    }

    #[tokio::test]
    async fn a_relist_reports_objects_deleted_during_a_watch_gap() {
        let cache = Cache::default();
        let a = json!({"metadata": {"name": "a", "namespace": "ns"}});
        let b = json!({"metadata": {"name": "b", "namespace": "ns"}});
        cache.store(Kind::Route(RouteKind::Http), ObjectKey::new("ns", "a"), Some(a.clone()));
        cache.store(Kind::Route(RouteKind::Http), ObjectKey::new("ns", "b"), Some(b));
        let mut changes = Vec::new();
        let listed = vec![(ObjectKey::new("ns", "a"), a.to_string().into_boxed_str())];
        let collect = |c: Change| {
            changes.push(c);
            async { true }
        };
        assert!(cache.relist(Kind::Route(RouteKind::Http), listed, collect).await);
        assert_eq!(changes.len(), 1);
        assert_eq!(changes[0].key, ObjectKey::new("ns", "b"));
        assert!(changes[0].new.is_none());
        assert!(cache.synced(Kind::Route(RouteKind::Http)));
    }

    #[test]
    fn list_in_returns_only_that_namespace() {
        let cache = Cache::default();
        for (ns, name) in [("a", "x"), ("b", "x"), ("b", "y"), ("c", "x")] {
            cache.store(Kind::Service, ObjectKey::new(ns, name), Some(json!({"metadata": {"name": name}})));
        }
        assert_eq!(cache.list_in(Kind::Service, "b").len(), 2);
    }
}
