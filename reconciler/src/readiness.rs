//! Pod readiness gates. In a namespace labelled `gateway.k8s.aws/pod-readiness-gate-inject:
//! enabled`, a new pod that a route's backend Service selects gets the readiness gate
//! `target-health.gateway.k8s.aws/<service>` from the webhook. Its endpoint is then not ready
//! until the controller has registered the pod in the Service's IP target groups and the load
//! balancer reports it healthy, so a rolling update never removes old pods before the load
//! balancer sends traffic to new ones.
//!
//! There is no Pod watch (its cache is what makes the original controller's memory grow with
//! the cluster): the controller reads, by name, only the pods behind not-ready endpoints of
//! labelled namespaces, and looks again every few seconds while a gate is closed.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use albatross_k8s::route::{AnyRoute, ObjectKey};
use albatross_model::Controllers;
use serde_json::{Value, json};

use crate::cache::{Cache, Kind};

pub const GATE_PREFIX: &str = "target-health.gateway.k8s.aws/";
pub const INJECT_LABEL: &str = "gateway.k8s.aws/pod-readiness-gate-inject";
pub const INJECT_LABEL_VALUE: &str = "enabled";

/// How often a closed gate is looked at again (its pod may have started, its target turned
/// healthy: neither changes an EndpointSlice).
pub const GATE_POLL: Duration = Duration::from_secs(5);

/// The readiness gate of pods behind a Service.
pub fn gate(service: &str) -> String {
    format!("{GATE_PREFIX}{service}")
}

/// Whether pods of this namespace get gates.
pub fn injected(cache: &Cache, namespace: &str) -> bool {
    cache
        .get(Kind::Namespace, &ObjectKey::new("", namespace))
        .and_then(|ns| ns.pointer("/metadata/labels").and_then(|l| l.get(INJECT_LABEL)).cloned())
        .is_some_and(|v| v == INJECT_LABEL_VALUE)
}

/// Chooses the gates of new pods from the watch caches, for the webhook.
pub struct Injector {
    controllers: Controllers,
    /// Services that routes attached to our Gateways send traffic to, and the generation of the
    /// kinds that decide it.
    backends: Mutex<Option<(u64, Arc<HashSet<ObjectKey>>)>>,
}

/// What decides which Services are backends of ours.
const BACKEND_KINDS: [Kind; 8] = [
    Kind::HttpRoute,
    Kind::GrpcRoute,
    Kind::TlsRoute,
    Kind::TcpRoute,
    Kind::UdpRoute,
    Kind::Gateway,
    Kind::GatewayClass,
    Kind::ListenerSet,
];

impl Injector {
    pub fn new(controllers: Controllers) -> Self {
        Self { controllers, backends: Mutex::new(None) }
    }

    /// The gates a new pod in `namespace` gets: one per Service of its namespace that selects it
    /// and that a route attached to one of our Gateways sends traffic to, leaving out gates it
    /// already has.
    pub fn gates(&self, cache: &Cache, namespace: &str, pod: &Value) -> Vec<String> {
        if !injected(cache, namespace) {
            return Vec::new();
        }
        let backends = self.backends(cache);
        let labels = pod.pointer("/metadata/labels").and_then(Value::as_object);
        let present: HashSet<&str> = pod
            .pointer("/spec/readinessGates")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|g| g.get("conditionType").and_then(Value::as_str))
            .collect();
        let mut out = Vec::new();
        for service in cache.list_in(Kind::Service, namespace) {
            let name = service.pointer("/metadata/name").and_then(Value::as_str).unwrap_or("");
            if !backends.contains(&ObjectKey::new(namespace, name)) {
                continue;
            }
            let Some(selector) = service.pointer("/spec/selector").and_then(Value::as_object) else { continue };
            let selects =
                !selector.is_empty() && selector.iter().all(|(k, v)| labels.and_then(|l| l.get(k)) == Some(v));
            let gate = gate(name);
            if selects && !present.contains(gate.as_str()) {
                out.push(gate);
            }
        }
        out.sort();
        out
    }

    fn backends(&self, cache: &Cache) -> Arc<HashSet<ObjectKey>> {
        let generation = cache.generation(&BACKEND_KINDS);
        let mut held = self.backends.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((seen, set)) = held.as_ref()
            && *seen == generation
        {
            return set.clone();
        }
        let mut set = HashSet::new();
        for kind in Kind::ROUTES {
            for value in cache.list(kind) {
                let Ok(route) = AnyRoute::from_value(&value) else { continue };
                let ns = &route.key.namespace;
                if !route.parent_refs.iter().any(|p| self.ours(cache, &p.kind, &p.key(ns))) {
                    continue;
                }
                for backend in route.rules.iter().flat_map(|r| &r.backend_refs) {
                    if backend.group.is_empty() && backend.kind == "Service" {
                        set.insert(backend.key(ns));
                    }
                }
            }
        }
        let set = Arc::new(set);
        *held = Some((generation, set.clone()));
        set
    }

    /// Whether a route parent is a Gateway of our classes, directly or through a ListenerSet.
    fn ours(&self, cache: &Cache, kind: &str, key: &ObjectKey) -> bool {
        let gateway = match kind {
            "Gateway" => key.clone(),
            "ListenerSet" => {
                let Some(set) = cache.get(Kind::ListenerSet, key) else { return false };
                let Some(parent) = set.pointer("/spec/parentRef") else { return false };
                let text = |k: &str| parent.get(k).and_then(Value::as_str);
                ObjectKey::new(text("namespace").unwrap_or(&key.namespace), text("name").unwrap_or(""))
            }
            _ => return false,
        };
        let Some(gw) = cache.get(Kind::Gateway, &gateway) else { return false };
        let class = gw.pointer("/spec/gatewayClassName").and_then(Value::as_str).unwrap_or("");
        let Some(class) = cache.get(Kind::GatewayClass, &ObjectKey::new("", class)) else { return false };
        let controller = class.pointer("/spec/controllerName").and_then(Value::as_str);
        controller.is_some_and(|c| c == self.controllers.alb || c == self.controllers.nlb)
    }
}

/// Where a pod stands with one gate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GateState {
    /// Its containers are not ready yet: not a target.
    Starting,
    /// Its containers are ready: a target, waiting for the load balancer's health check.
    Closed,
    /// Already set True: a target until the endpoint turns ready.
    Open,
}

/// `None` when the pod does not carry the gate or is being deleted.
pub fn gate_state(pod: &Value, gate: &str) -> Option<GateState> {
    let has_gate = pod
        .pointer("/spec/readinessGates")
        .and_then(Value::as_array)
        .is_some_and(|gs| gs.iter().any(|g| g.get("conditionType").and_then(Value::as_str) == Some(gate)));
    if !has_gate || pod.pointer("/metadata/deletionTimestamp").is_some_and(|t| !t.is_null()) {
        return None;
    }
    let condition = |kind: &str| {
        pod.pointer("/status/conditions")
            .and_then(Value::as_array)
            .and_then(|cs| cs.iter().find(|c| c.get("type").and_then(Value::as_str) == Some(kind)))
            .and_then(|c| c.get("status").and_then(Value::as_str))
            == Some("True")
    };
    Some(if condition(gate) {
        GateState::Open
    } else if condition("ContainersReady") {
        GateState::Closed
    } else {
        GateState::Starting
    })
}

/// A JSON patch for the status subresource setting the gate's condition True, guarded by the
/// resourceVersion it was computed from (the kubelet writes the other conditions).
pub fn open_patch(pod: &Value, gate: &str, now: &str) -> Value {
    let version = pod.pointer("/metadata/resourceVersion").cloned().unwrap_or(Value::Null);
    let mut conditions: Vec<Value> = pod
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .map(|cs| cs.iter().filter(|c| c.get("type").and_then(Value::as_str) != Some(gate)).cloned().collect())
        .unwrap_or_default();
    conditions.push(json!({
        "type": gate,
        "status": "True",
        "reason": "TargetHealthy",
        "message": "the load balancer reports the target healthy",
        "lastProbeTime": null,
        "lastTransitionTime": now,
    }));
    let mut ops = vec![json!({ "op": "test", "path": "/metadata/resourceVersion", "value": version })];
    if pod.get("status").is_none_or(Value::is_null) {
        ops.push(json!({ "op": "add", "path": "/status", "value": {} }));
    }
    ops.push(json!({ "op": "add", "path": "/status/conditions", "value": conditions }));
    Value::Array(ops)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cache(label: Option<&str>) -> Cache {
        let cache = Cache::default();
        let mut ns = json!({"metadata": {"name": "apps", "labels": {}}});
        if let Some(v) = label {
            ns["metadata"]["labels"][INJECT_LABEL] = json!(v);
        }
        cache.store(Kind::Namespace, ObjectKey::new("", "apps"), Some(ns));
        for (name, app) in [("web", "web"), ("unrouted", "web"), ("api", "api")] {
            let svc = json!({"metadata": {"name": name, "namespace": "apps"},
                             "spec": {"selector": {"app": app}, "ports": [{"port": 80}]}});
            cache.store(Kind::Service, ObjectKey::new("apps", name), Some(svc));
        }
        let route = json!({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
                           "metadata": {"name": "r", "namespace": "apps"},
                           "spec": {"parentRefs": [{"name": "gw"}],
                                    "rules": [{"backendRefs": [{"name": "web", "port": 80},
                                                               {"name": "api", "port": 80}]}]}});
        cache.store(Kind::HttpRoute, ObjectKey::new("apps", "r"), Some(route));
        let gw = json!({"metadata": {"name": "gw", "namespace": "apps"}, "spec": {"gatewayClassName": "alb"}});
        cache.store(Kind::Gateway, ObjectKey::new("apps", "gw"), Some(gw));
        let class = json!({"metadata": {"name": "alb"}, "spec": {"controllerName": "gateway.k8s.aws/alb"}});
        cache.store(Kind::GatewayClass, ObjectKey::new("", "alb"), Some(class));
        cache
    }

    fn pod(app: &str) -> Value {
        json!({"metadata": {"generateName": "web-", "labels": {"app": app, "tier": "front"}}, "spec": {}})
    }

    #[test]
    fn a_pod_gets_a_gate_per_routed_service_selecting_it_in_a_labelled_namespace() {
        let injector = Injector::new(Controllers::default());
        let gates = injector.gates(&cache(Some("enabled")), "apps", &pod("web"));
        assert_eq!(gates, vec![gate("web")], "the unrouted Service selects it too, but carries no traffic of ours");
        assert!(injector.gates(&cache(None), "apps", &pod("web")).is_empty(), "namespace not labelled");
        assert!(injector.gates(&cache(Some("disabled")), "apps", &pod("web")).is_empty());
        let mut gated = pod("web");
        gated["spec"]["readinessGates"] = json!([{"conditionType": gate("web")}]);
        assert!(injector.gates(&cache(Some("enabled")), "apps", &gated).is_empty(), "already there");
    }

    #[test]
    fn services_behind_other_controllers_gateways_get_no_gate() {
        let injector = Injector::new(Controllers::default());
        let cache = cache(Some("enabled"));
        let class = json!({"metadata": {"name": "alb"}, "spec": {"controllerName": "example.com/other"}});
        cache.store(Kind::GatewayClass, ObjectKey::new("", "alb"), Some(class));
        assert!(injector.gates(&cache, "apps", &pod("web")).is_empty(), "nobody of ours would open it");
    }

    #[test]
    fn the_backends_follow_route_changes() {
        let injector = Injector::new(Controllers::default());
        let cache = cache(Some("enabled"));
        assert_eq!(injector.gates(&cache, "apps", &pod("api")), vec![gate("api")]);
        let route = json!({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
                           "metadata": {"name": "r", "namespace": "apps"},
                           "spec": {"parentRefs": [{"name": "gw"}], "rules": [{"backendRefs": [{"name": "web", "port": 80}]}]}});
        cache.store(Kind::HttpRoute, ObjectKey::new("apps", "r"), Some(route));
        assert!(injector.gates(&cache, "apps", &pod("api")).is_empty());
    }

    #[test]
    fn a_gate_is_starting_closed_or_open_and_absent_on_a_deleted_pod() {
        let g = gate("web");
        let with = |conditions: Value| {
            json!({"metadata": {"name": "p", "resourceVersion": "7"},
                   "spec": {"readinessGates": [{"conditionType": g}]}, "status": {"conditions": conditions}})
        };
        assert_eq!(gate_state(&with(json!([])), &g), Some(GateState::Starting));
        let ready = json!([{"type": "ContainersReady", "status": "True"}, {"type": "Ready", "status": "False"}]);
        assert_eq!(gate_state(&with(ready.clone()), &g), Some(GateState::Closed));
        let mut open = with(ready);
        open["status"]["conditions"].as_array_mut().unwrap().push(json!({"type": g, "status": "True"}));
        assert_eq!(gate_state(&open, &g), Some(GateState::Open));
        assert_eq!(gate_state(&pod("web"), &g), None, "no gate");
        open["metadata"]["deletionTimestamp"] = json!("2026-11-27T00:00:00Z");
        assert_eq!(gate_state(&open, &g), None);
    }

    #[test]
    fn opening_a_gate_keeps_the_kubelets_conditions_and_is_guarded_by_the_version() {
        let g = gate("web");
        let pod = json!({"metadata": {"name": "p", "resourceVersion": "7"},
                         "status": {"conditions": [{"type": "ContainersReady", "status": "True"},
                                                   {"type": g, "status": "False"}]}});
        let patch = open_patch(&pod, &g, "2026-11-27T10:00:00Z");
        assert_eq!(patch[0], json!({"op": "test", "path": "/metadata/resourceVersion", "value": "7"}));
        let conditions = &patch[1]["value"];
        assert_eq!(conditions.as_array().map(Vec::len), Some(2));
        assert_eq!(conditions[0]["type"], "ContainersReady");
        assert_eq!(conditions[1]["type"], g.as_str());
        assert_eq!(conditions[1]["status"], "True");
    }
}
