//! Which Gateways (and classes) an event touches, and the objects one Gateway's build reads.
//!
//! Routes and ListenerSets are indexed by the parents they name, so a route change reconciles
//! only its Gateways. Everything else a build read (classes, configurations, Services, grants,
//! namespaces) is recorded per Gateway by [`gather`]; a change to one of those reconciles the
//! Gateways that read it, including references to objects that did not exist yet.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::{Arc, Mutex};

use albatross_k8s::route::{BackendRef, ObjectKey, ParentRef};
use serde_json::Value;

use crate::cache::{Cache, Change, Kind, key_of};
use crate::controller::FINALIZER;

/// A unit of work: one class's status, one Gateway end to end, or only the registered targets
/// of a Gateway's target groups (endpoints and nodes come and go far more often than anything
/// else, and need no look at the load balancer).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Key {
    Class(String),
    Gateway(ObjectKey),
    /// The Gateway, and the backend Service whose endpoints changed (`None`: nodes changed,
    /// every instance target group).
    Targets(ObjectKey, Option<ObjectKey>),
}

impl std::fmt::Display for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Key::Class(name) => write!(f, "GatewayClass {name}"),
            Key::Gateway(key) => write!(f, "Gateway {key}"),
            Key::Targets(key, Some(service)) => write!(f, "targets of Service {service} in Gateway {key}"),
            Key::Targets(key, None) => write!(f, "instance targets of Gateway {key}"),
        }
    }
}

/// Something a build read.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Dep {
    Object(Kind, ObjectKey),
    /// Every object of a kind in a namespace.
    AnyIn(Kind, String),
    /// The cluster's nodes (instance targets).
    Nodes,
}

type Node = (Kind, ObjectKey);

#[derive(Default)]
pub struct Index {
    readers: HashMap<Dep, HashSet<ObjectKey>>,
    recorded: HashMap<ObjectKey, Vec<Dep>>,
    /// Gateway or ListenerSet -> routes and ListenerSets naming it as parent.
    children: HashMap<Node, BTreeSet<Node>>,
    parents: HashMap<Node, Vec<Node>>,
    /// What each route refers to, read from its JSON when it changed, so that a build's gather
    /// decodes no route to find its dependencies.
    refs: HashMap<Node, RouteRefs>,
}

/// A route's references that a build follows.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RouteRefs {
    /// Backend Services, namespaces defaulted.
    pub services: Vec<ObjectKey>,
    /// Whether a filter names an ExtensionRef (a ListenerRuleConfiguration of its namespace).
    pub extension_refs: bool,
}

impl RouteRefs {
    fn of(route: &Value) -> Self {
        let namespace = route.pointer("/metadata/namespace").and_then(Value::as_str).unwrap_or("default");
        let rules = route.pointer("/spec/rules").and_then(Value::as_array).into_iter().flatten();
        let mut refs = Self::default();
        for rule in rules {
            let list = |k: &str| rule.get(k).and_then(Value::as_array).into_iter().flatten();
            for backend in list("backendRefs").filter_map(BackendRef::from_json).filter(BackendRef::is_service) {
                refs.services.push(backend.key(namespace));
            }
            refs.extension_refs |= list("filters").any(|f| f.get("extensionRef").is_some_and(|e| !e.is_null()));
        }
        refs
    }
}

/// Parents a route or ListenerSet names (Gateways and ListenerSets of the Gateway API group).
fn parents_of(kind: Kind, value: &Value) -> Vec<Node> {
    let namespace = value.pointer("/metadata/namespace").and_then(Value::as_str).unwrap_or("default");
    if kind == Kind::ListenerSet {
        let parent = value.pointer("/spec/parentRef").and_then(ParentRef::from_json);
        return parent
            .filter(ParentRef::is_gateway)
            .map(|p| vec![(Kind::Gateway, p.key(namespace))])
            .unwrap_or_default();
    }
    let mut out: Vec<Node> = ParentRef::all_of(value)
        .flatten()
        .filter_map(|p| {
            if p.is_gateway() {
                Some((Kind::Gateway, p.key(namespace)))
            } else if p.is_listener_set() {
                Some((Kind::ListenerSet, p.key(namespace)))
            } else {
                None
            }
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

/// What of a Node matters to instance targets; heartbeats change nothing here.
fn node_fingerprint(node: &Value) -> Value {
    let ready = node
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .and_then(|c| c.iter().find(|c| c["type"] == "Ready"))
        .map(|c| c["status"].clone());
    serde_json::json!([
        node.pointer("/spec/providerID"),
        node.pointer("/spec/unschedulable"),
        node.pointer("/metadata/labels"),
        ready,
    ])
}

/// Whether a change leaves every build input as it was: only the status (our writes, other
/// controllers'), the resourceVersion or finalizers moved. Adding our finalizer is the first
/// step of a reconcile and must not cause a second one; losing it (by hand) does count, so it
/// is put back before anything is created.
fn no_input_changed(change: &Change) -> bool {
    let (Some(old), Some(new)) = (&change.old, &change.new) else { return false };
    let holds = |v: &Value| {
        v.pointer("/metadata/finalizers")
            .and_then(Value::as_array)
            .is_some_and(|f| f.iter().any(|f| f.as_str() == Some(FINALIZER)))
    };
    if holds(old) && !holds(new) {
        return false;
    }
    let strip = |v: &Value| {
        let mut v = v.clone();
        if let Some(map) = v.as_object_mut() {
            map.remove("status");
        }
        if let Some(meta) = v.get_mut("metadata").and_then(Value::as_object_mut) {
            meta.remove("resourceVersion");
            meta.remove("managedFields");
            meta.remove("finalizers");
        }
        v
    };
    strip(old) == strip(new)
}

impl Index {
    /// Updates the parent index with a change and returns the work it causes.
    pub fn affected(&mut self, cache: &Cache, change: &Change) -> Vec<Key> {
        // Nodes report readiness in their status.
        if change.kind != Kind::Node && no_input_changed(change) {
            return Vec::new();
        }
        let mut keys: BTreeSet<Key> = BTreeSet::new();
        let node = (change.kind, change.key.clone());
        match change.kind {
            Kind::GatewayClass => {
                keys.insert(Key::Class(change.key.name.clone()));
                for gw in cache.list(Kind::Gateway) {
                    if gw.pointer("/spec/gatewayClassName").and_then(Value::as_str) == Some(&change.key.name) {
                        keys.insert(Key::Gateway(key_of(Kind::Gateway, &gw)));
                    }
                }
            }
            Kind::Gateway => {
                keys.insert(Key::Gateway(change.key.clone()));
                // Its class, and the one it left, hold the gateway-exists finalizer while in use.
                for value in change.old.iter().chain(change.new.iter()) {
                    if let Some(class) = value.pointer("/spec/gatewayClassName").and_then(Value::as_str) {
                        keys.insert(Key::Class(class.to_owned()));
                    }
                }
            }
            kind if kind.is_route() || kind == Kind::ListenerSet => {
                let mut touched: Vec<Node> = self.parents.remove(&node).unwrap_or_default();
                self.refs.remove(&node);
                for parent in &touched {
                    if let Some(children) = self.children.get_mut(parent) {
                        children.remove(&node);
                    }
                }
                if let Some(new) = &change.new {
                    let parents = parents_of(kind, new);
                    for parent in &parents {
                        self.children.entry(parent.clone()).or_default().insert(node.clone());
                    }
                    touched.extend(parents.iter().cloned());
                    self.parents.insert(node.clone(), parents);
                    if kind.is_route() {
                        self.refs.insert(node.clone(), RouteRefs::of(new));
                    }
                }
                for parent in touched {
                    keys.extend(self.gateways_of(&parent).into_iter().map(Key::Gateway));
                }
                if kind == Kind::ListenerSet {
                    keys.extend(self.readers_of(&Dep::Object(kind, change.key.clone())));
                }
            }
            Kind::Node => {
                let relevant = match (&change.old, &change.new) {
                    (Some(a), Some(b)) => node_fingerprint(a) != node_fingerprint(b),
                    _ => true,
                };
                if relevant {
                    keys.extend(self.targets_of(&Dep::Nodes, None));
                }
            }
            Kind::EndpointSlice => {
                for value in change.old.iter().chain(change.new.iter()) {
                    if let Some(service) = value
                        .pointer("/metadata/labels")
                        .and_then(|l| l.get("kubernetes.io/service-name"))
                        .and_then(Value::as_str)
                    {
                        let key = ObjectKey::new(change.key.namespace.clone(), service);
                        keys.extend(self.targets_of(&Dep::Object(Kind::Service, key.clone()), Some(key)));
                    }
                }
            }
            kind => {
                if kind == Kind::LoadBalancerConfiguration {
                    // Classes name their configuration in parametersRef.
                    for class in cache.list(Kind::GatewayClass) {
                        let p = class.pointer("/spec/parametersRef");
                        let names =
                            p.and_then(|p| p.get("name")).and_then(Value::as_str) == Some(change.key.name.as_str());
                        let namespace = p.and_then(|p| p.get("namespace")).and_then(Value::as_str)
                            == Some(change.key.namespace.as_str());
                        if names && namespace {
                            keys.insert(Key::Class(key_of(Kind::GatewayClass, &class).name));
                        }
                    }
                }
                keys.extend(self.readers_of(&Dep::Object(kind, change.key.clone())));
                keys.extend(self.readers_of(&Dep::AnyIn(kind, change.key.namespace.clone())));
            }
        }
        keys.into_iter().collect()
    }

    fn targets_of(&self, dep: &Dep, service: Option<ObjectKey>) -> Vec<Key> {
        let gateways = self.readers.get(dep).into_iter().flatten();
        gateways.map(|g| Key::Targets(g.clone(), service.clone())).collect()
    }

    fn readers_of(&self, dep: &Dep) -> Vec<Key> {
        self.readers.get(dep).map(|s| s.iter().cloned().map(Key::Gateway).collect()).unwrap_or_default()
    }

    /// The Gateway a parent node stands for: itself, or a ListenerSet's parent.
    fn gateways_of(&self, parent: &Node) -> Vec<ObjectKey> {
        match parent.0 {
            Kind::Gateway => vec![parent.1.clone()],
            Kind::ListenerSet => self
                .parents
                .get(parent)
                .map(|ps| ps.iter().filter(|p| p.0 == Kind::Gateway).map(|p| p.1.clone()).collect())
                .unwrap_or_default(),
            _ => Vec::new(),
        }
    }

    /// Routes and ListenerSets attached to a Gateway, directly or through its ListenerSets.
    pub fn attached(&self, gateway: &ObjectKey) -> BTreeSet<Node> {
        let mut out = BTreeSet::new();
        let mut stack = vec![(Kind::Gateway, gateway.clone())];
        while let Some(parent) = stack.pop() {
            for child in self.children.get(&parent).into_iter().flatten() {
                if out.insert(child.clone()) && child.0 == Kind::ListenerSet {
                    stack.push(child.clone());
                }
            }
        }
        out
    }

    /// Remembers what a Gateway's last build read.
    pub fn record(&mut self, gateway: &ObjectKey, deps: Vec<Dep>) {
        if let Some(old) = self.recorded.remove(gateway) {
            for dep in old {
                if let Some(set) = self.readers.get_mut(&dep) {
                    set.remove(gateway);
                    if set.is_empty() {
                        self.readers.remove(&dep);
                    }
                }
            }
        }
        for dep in &deps {
            self.readers.entry(dep.clone()).or_default().insert(gateway.clone());
        }
        if !deps.is_empty() {
            self.recorded.insert(gateway.clone(), deps);
        }
    }
}

/// The objects one Gateway's build reads, as the model takes them, and what was read.
pub struct Gathered {
    pub objects: Vec<Value>,
    pub deps: Vec<Dep>,
}

fn push(objects: &mut Vec<Value>, value: Option<Arc<Value>>) {
    if let Some(v) = value {
        objects.push((*v).clone());
    }
}

/// What the index knows of one Gateway's attachments: all a gather needs from it.
type Attached = Vec<(Node, Option<RouteRefs>)>;

impl Index {
    fn attached_with_refs(&self, gateway: &ObjectKey) -> Attached {
        self.attached(gateway).into_iter().map(|node| (node.clone(), self.refs.get(&node).cloned())).collect()
    }
}

/// Tries at reading the caches outside the index lock before one read is made holding it.
const GATHER_TRIES: usize = 3;

/// Everything [`albatross_model::plan::build`] needs for one Gateway, and records what it read.
/// The caches are read (and their JSON decoded) outside the index lock; the read counts only if
/// no build input changed before the deps are recorded (a change after that finds them), else
/// it is read again, the last time holding the lock.
pub fn gather(cache: &Cache, index: &Mutex<Index>, gateway: &ObjectKey) -> Option<Gathered> {
    let lock = || index.lock().unwrap_or_else(|e| e.into_inner());
    for _ in 1..GATHER_TRIES {
        let generation = cache.generation(&Kind::BUILD_INPUTS);
        let attached = lock().attached_with_refs(gateway);
        let gathered = read(cache, gateway, attached);
        let mut index = lock();
        if cache.generation(&Kind::BUILD_INPUTS) == generation {
            if let Some(g) = &gathered {
                index.record(gateway, g.deps.clone());
            }
            return gathered;
        }
    }
    let mut index = lock();
    let gathered = read(cache, gateway, index.attached_with_refs(gateway))?;
    index.record(gateway, gathered.deps.clone());
    Some(gathered)
}

/// The Gateway, its class and configurations, attached ListenerSets and routes, the Services
/// they send to with their TargetGroupConfigurations, ListenerRuleConfigurations, ReferenceGrants
/// of every namespace referred into, and the labels of every namespace involved.
fn read(cache: &Cache, gateway: &ObjectKey, attached: Attached) -> Option<Gathered> {
    let gw = cache.get(Kind::Gateway, gateway)?;
    let mut objects = Vec::new();
    let mut deps = vec![];
    let mut namespaces: BTreeSet<String> = BTreeSet::from([gateway.namespace.clone()]);
    let mut referred: BTreeSet<String> = BTreeSet::new();

    let class_name = gw.pointer("/spec/gatewayClassName").and_then(Value::as_str).unwrap_or("").to_owned();
    let class_key = ObjectKey::new("", class_name);
    deps.push(Dep::Object(Kind::GatewayClass, class_key.clone()));
    let class = cache.get(Kind::GatewayClass, &class_key);
    let mut config_refs = Vec::new();
    if let Some(p) = class.as_ref().and_then(|c| c.pointer("/spec/parametersRef")) {
        let text = |k: &str| p.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
        config_refs.push(ObjectKey::new(text("namespace"), text("name")));
    }
    if let Some(name) = gw.pointer("/spec/infrastructure/parametersRef/name").and_then(Value::as_str) {
        config_refs.push(ObjectKey::new(gateway.namespace.clone(), name));
    }
    push(&mut objects, class);
    for key in config_refs {
        deps.push(Dep::Object(Kind::LoadBalancerConfiguration, key.clone()));
        push(&mut objects, cache.get(Kind::LoadBalancerConfiguration, &key));
    }
    // Certificate references to Secrets in other namespaces need grants there.
    for listener in gw.pointer("/spec/listeners").and_then(Value::as_array).into_iter().flatten() {
        for cert in listener.pointer("/tls/certificateRefs").and_then(Value::as_array).into_iter().flatten() {
            if let Some(ns) = cert.get("namespace").and_then(Value::as_str) {
                referred.insert(ns.to_owned());
            }
        }
    }
    objects.push((*gw).clone());

    for ((kind, key), refs) in attached {
        let Some(value) = cache.get(kind, &key) else { continue };
        namespaces.insert(key.namespace.clone());
        if let Some(refs) = refs {
            for service in refs.services {
                referred.insert(service.namespace.clone());
                deps.push(Dep::Object(Kind::Service, service.clone()));
                push(&mut objects, cache.get(Kind::Service, &service));
            }
            if refs.extension_refs {
                deps.push(Dep::AnyIn(Kind::ListenerRuleConfiguration, key.namespace.clone()));
            }
        }
        objects.push((*value).clone());
    }
    let rule_namespaces: BTreeSet<String> = deps
        .iter()
        .filter_map(|d| match d {
            Dep::AnyIn(Kind::ListenerRuleConfiguration, ns) => Some(ns.clone()),
            _ => None,
        })
        .collect();
    for ns in rule_namespaces {
        objects.extend(cache.list_in(Kind::ListenerRuleConfiguration, &ns).into_iter().map(|v| (*v).clone()));
    }
    for ns in &referred {
        deps.push(Dep::AnyIn(Kind::ReferenceGrant, ns.clone()));
        objects.extend(cache.list_in(Kind::ReferenceGrant, ns).into_iter().map(|v| (*v).clone()));
        deps.push(Dep::AnyIn(Kind::TargetGroupConfiguration, ns.clone()));
        objects.extend(cache.list_in(Kind::TargetGroupConfiguration, ns).into_iter().map(|v| (*v).clone()));
    }
    // The labels of every namespace involved: allowedRoutes selectors match on them. A namespace
    // created later is a dependency too.
    for name in namespaces.union(&referred) {
        let key = ObjectKey::new("", name.clone());
        push(&mut objects, cache.get(Kind::Namespace, &key));
        deps.push(Dep::Object(Kind::Namespace, key));
    }
    deps.push(Dep::Nodes);
    deps.sort();
    deps.dedup();
    Some(Gathered { objects, deps })
}

#[cfg(test)]
mod tests {
    use super::*;
    use albatross_k8s::route::RouteKind;
    use serde_json::json;

    fn route(name: &str, parents: Value) -> Value {
        json!({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
               "metadata": {"name": name, "namespace": "apps"}, "spec": {"parentRefs": parents}})
    }

    fn apply(index: &mut Index, cache: &Cache, kind: Kind, value: Value) -> Vec<Key> {
        let key = key_of(kind, &value);
        let change = cache.store(kind, key, Some(value)).expect("a change");
        index.affected(cache, &change)
    }

    fn gw(ns: &str, name: &str) -> Key {
        Key::Gateway(ObjectKey::new(ns, name))
    }

    #[test]
    fn a_route_change_reconciles_only_its_gateways_old_and_new() {
        let (mut index, cache) = (Index::default(), Cache::default());
        let keys = apply(
            &mut index,
            &cache,
            Kind::Route(RouteKind::Http),
            route("r", json!([{"name": "a", "namespace": "gw"}])),
        );
        assert_eq!(keys, vec![gw("gw", "a")]);
        let keys = apply(
            &mut index,
            &cache,
            Kind::Route(RouteKind::Http),
            route("r", json!([{"name": "b", "namespace": "gw"}])),
        );
        assert_eq!(keys, vec![gw("gw", "a"), gw("gw", "b")], "the Gateway it left must drop its rules");
        assert!(index.attached(&ObjectKey::new("gw", "a")).is_empty());
        assert_eq!(index.attached(&ObjectKey::new("gw", "b")).len(), 1);
    }

    #[test]
    fn a_route_attached_through_a_listener_set_reaches_the_gateway() {
        let (mut index, cache) = (Index::default(), Cache::default());
        let set = json!({"metadata": {"name": "ls", "namespace": "apps"},
                         "spec": {"parentRef": {"name": "a", "namespace": "gw"}}});
        apply(&mut index, &cache, Kind::ListenerSet, set);
        let keys = apply(
            &mut index,
            &cache,
            Kind::Route(RouteKind::Http),
            route("r", json!([{"kind": "ListenerSet", "name": "ls"}])),
        );
        assert_eq!(keys, vec![gw("gw", "a")]);
        assert_eq!(index.attached(&ObjectKey::new("gw", "a")).len(), 2);
    }

    #[test]
    fn a_service_reconciles_the_gateways_that_read_it_even_before_it_existed() {
        let (mut index, cache) = (Index::default(), Cache::default());
        index.record(&ObjectKey::new("gw", "a"), vec![Dep::Object(Kind::Service, ObjectKey::new("apps", "web"))]);
        let svc = json!({"metadata": {"name": "web", "namespace": "apps"}});
        assert_eq!(apply(&mut index, &cache, Kind::Service, svc), vec![gw("gw", "a")]);
        let other = json!({"metadata": {"name": "db", "namespace": "apps"}});
        assert!(apply(&mut index, &cache, Kind::Service, other).is_empty());
        index.record(&ObjectKey::new("gw", "a"), vec![]);
        let svc = json!({"metadata": {"name": "web", "namespace": "apps", "labels": {"x": "y"}}});
        assert!(apply(&mut index, &cache, Kind::Service, svc).is_empty(), "a new build no longer reads it");
    }

    #[test]
    fn a_status_only_change_reconciles_nothing() {
        let (mut index, cache) = (Index::default(), Cache::default());
        let g = json!({"metadata": {"name": "a", "namespace": "gw", "resourceVersion": "1"}, "spec": {}});
        assert_eq!(apply(&mut index, &cache, Kind::Gateway, g.clone()), vec![gw("gw", "a")]);
        let mut written = g.clone();
        written["metadata"]["resourceVersion"] = json!("2");
        written["status"] = json!({"conditions": []});
        assert!(apply(&mut index, &cache, Kind::Gateway, written.clone()).is_empty());
        written["metadata"]["deletionTimestamp"] = json!("now");
        assert_eq!(apply(&mut index, &cache, Kind::Gateway, written), vec![gw("gw", "a")]);
    }

    #[test]
    fn adding_our_finalizer_reconciles_nothing_but_losing_it_does() {
        let (mut index, cache) = (Index::default(), Cache::default());
        let mut g = json!({"metadata": {"name": "a", "namespace": "gw", "resourceVersion": "1"}, "spec": {}});
        assert_eq!(apply(&mut index, &cache, Kind::Gateway, g.clone()), vec![gw("gw", "a")]);
        g["metadata"]["resourceVersion"] = json!("2");
        g["metadata"]["finalizers"] = json!(["example.com/other", FINALIZER]);
        assert!(apply(&mut index, &cache, Kind::Gateway, g.clone()).is_empty(), "our own first write");
        g["metadata"]["resourceVersion"] = json!("3");
        g["metadata"]["finalizers"] = json!([FINALIZER]);
        assert!(apply(&mut index, &cache, Kind::Gateway, g.clone()).is_empty(), "another controller's");
        g["metadata"]["resourceVersion"] = json!("4");
        g["metadata"]["finalizers"] = json!([]);
        assert_eq!(apply(&mut index, &cache, Kind::Gateway, g), vec![gw("gw", "a")], "removed by hand");
    }

    #[test]
    fn node_heartbeats_reconcile_nothing_but_readiness_does() {
        let (mut index, cache) = (Index::default(), Cache::default());
        index.record(&ObjectKey::new("gw", "a"), vec![Dep::Nodes]);
        let node = |ready: &str, beat: &str| {
            json!({"metadata": {"name": "n1"}, "spec": {"providerID": "aws:///us-east-1a/i-1"},
                   "status": {"conditions": [{"type": "Ready", "status": ready, "lastHeartbeatTime": beat}]}})
        };
        let targets = vec![Key::Targets(ObjectKey::new("gw", "a"), None)];
        assert_eq!(apply(&mut index, &cache, Kind::Node, node("True", "1")), targets);
        assert!(apply(&mut index, &cache, Kind::Node, node("True", "2")).is_empty());
        assert_eq!(apply(&mut index, &cache, Kind::Node, node("False", "3")), targets);
    }

    #[test]
    fn gather_reads_the_gateway_its_class_routes_and_their_services() {
        let (mut index, cache) = (Index::default(), Cache::default());
        let class = json!({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "GatewayClass",
                           "metadata": {"name": "alb"}, "spec": {"controllerName": "gateway.k8s.aws/alb"}});
        cache.store(Kind::GatewayClass, ObjectKey::new("", "alb"), Some(class));
        let gateway = json!({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
                             "metadata": {"name": "a", "namespace": "gw"},
                             "spec": {"gatewayClassName": "alb", "listeners": []}});
        cache.store(Kind::Gateway, ObjectKey::new("gw", "a"), Some(gateway));
        let mut r = route("r", json!([{"name": "a", "namespace": "gw"}]));
        r["spec"]["rules"] = json!([{"backendRefs": [{"name": "web", "port": 80}]}]);
        apply(&mut index, &cache, Kind::Route(RouteKind::Http), r);
        apply(
            &mut index,
            &cache,
            Kind::Route(RouteKind::Http),
            route("other", json!([{"name": "b", "namespace": "gw"}])),
        );
        let svc = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "apps"}});
        cache.store(Kind::Service, ObjectKey::new("apps", "web"), Some(svc));
        for ns in ["apps", "unrelated"] {
            let value = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}});
            cache.store(Kind::Namespace, ObjectKey::new("", ns), Some(value));
        }
        let gathered = gather(&cache, &Mutex::new(index), &ObjectKey::new("gw", "a")).unwrap();
        let names: Vec<&str> =
            gathered.objects.iter().map(|o| o.pointer("/metadata/name").and_then(Value::as_str).unwrap()).collect();
        assert_eq!(names, vec!["alb", "a", "web", "r", "apps"]);
        assert!(gathered.deps.contains(&Dep::Object(Kind::Service, ObjectKey::new("apps", "web"))));
        // The Gateway's namespace is read even before it exists; one nothing refers to is not.
        assert!(gathered.deps.contains(&Dep::Object(Kind::Namespace, ObjectKey::new("", "gw"))));
        assert!(!gathered.deps.contains(&Dep::Object(Kind::Namespace, ObjectKey::new("", "unrelated"))));
    }

    #[test]
    fn a_route_change_is_decoded_once_on_its_way_to_the_plan() {
        use albatross_k8s::route::decodes_on_this_thread;
        use albatross_model::plan::{self, Env, Snapshot};
        let (index, cache) = (Index::default(), Cache::default());
        let class = json!({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "GatewayClass",
                           "metadata": {"name": "alb"}, "spec": {"controllerName": "gateway.k8s.aws/alb"}});
        cache.store(Kind::GatewayClass, ObjectKey::new("", "alb"), Some(class));
        let gateway = json!({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
                             "metadata": {"name": "a", "namespace": "gw"},
                             "spec": {"gatewayClassName": "alb", "listeners": [
                                 {"name": "http", "port": 80, "protocol": "HTTP",
                                  "allowedRoutes": {"namespaces": {"from": "All"}}}]}});
        cache.store(Kind::Gateway, ObjectKey::new("gw", "a"), Some(gateway));
        let svc = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "apps"},
                         "spec": {"ports": [{"port": 80}]}});
        cache.store(Kind::Service, ObjectKey::new("apps", "web"), Some(svc));
        let index = Mutex::new(index);
        for path in ["/a", "/b"] {
            let mut r = route("r", json!([{"name": "a", "namespace": "gw"}]));
            r["spec"]["rules"] = json!([{"matches": [{"path": {"type": "PathPrefix", "value": path}}],
                                         "backendRefs": [{"name": "web", "port": 80}]}]);
            let before = decodes_on_this_thread();
            let change = cache.store(Kind::Route(RouteKind::Http), ObjectKey::new("apps", "r"), Some(r)).unwrap();
            let keys = index.lock().unwrap().affected(&cache, &change);
            assert_eq!(keys, vec![gw("gw", "a")]);
            let gathered = gather(&cache, &index, &ObjectKey::new("gw", "a")).unwrap();
            assert!(gathered.deps.contains(&Dep::Object(Kind::Service, ObjectKey::new("apps", "web"))));
            assert_eq!(decodes_on_this_thread() - before, 0, "the index and gather decode no route");
            let (snapshot, skipped) = Snapshot::from_objects(gathered.objects);
            assert!(skipped.is_empty());
            let build = plan::build(&snapshot, &Env::default());
            assert_eq!(build.stacks.len(), 1);
            assert_eq!(build.stacks[0].target_groups.len(), 1, "the route was planned");
            assert_eq!(decodes_on_this_thread() - before, 1, "one typed decode of the changed route, change {path}");
        }
    }
}
