//! Pod readiness gates. In a namespace labelled `gateway.k8s.aws/pod-readiness-gate-inject:
//! enabled`, a new pod that a route's backend Service selects gets the readiness gate
//! `target-health.gateway.k8s.aws/<service>` from the webhook, if a build of our Gateways plans a
//! target group for that Service: only backends of routes the build accepted whose references
//! resolved (ReferenceGrant included), so a route cannot hold back pods of a namespace that did
//! not let it send traffic there. Its endpoint is then not ready
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

use albatross_k8s::route::ObjectKey;
use albatross_model::Controllers;
use albatross_model::plan::{self, Env, Snapshot};
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
    /// The controller's default target type: which backends get target groups depends on it.
    default_target_type: plan::wire::TargetType,
    /// Services our Gateways' target groups serve, and the generation of the kinds that decide
    /// it.
    backends: Mutex<Option<(u64, Arc<HashSet<ObjectKey>>)>>,
}

/// The Services behind the target groups a build of every cached Gateway of our classes plans.
/// The build is the controller's own (`model::build`): a target group exists only for a backend
/// of an accepted route that resolved, across namespaces only with a ReferenceGrant. Every
/// replica answers pod admissions but only the leader reconciles, so each builds for itself.
pub fn resolved_backends(
    cache: &Cache,
    controllers: &Controllers,
    default_target_type: plan::wire::TargetType,
) -> HashSet<ObjectKey> {
    let objects: Vec<Value> = Kind::BUILD_INPUTS.iter().flat_map(|k| cache.list(*k)).map(|v| (*v).clone()).collect();
    let (snapshot, _) = Snapshot::from_objects(objects);
    let env = Env { controllers: controllers.clone(), default_target_type, ..Env::default() };
    let build = plan::build(&snapshot, &env);
    // A Gateway in dry run registers no target: its pods would wait on a gate nobody opens.
    let dry_run: HashSet<String> = cache
        .list(Kind::Gateway)
        .iter()
        .filter(|gw| albatross_model::dry_run::requested(gw))
        .map(|gw| crate::cache::key_of(Kind::Gateway, gw).to_string())
        .collect();
    let groups = build.stacks.into_iter().filter(|s| !dry_run.contains(&s.gateway)).flat_map(|s| s.target_groups);
    groups.map(|tg| ObjectKey::new(tg.backend.namespace, tg.backend.name)).collect()
}

impl Injector {
    pub fn new(controllers: Controllers) -> Self {
        Self { controllers, default_target_type: plan::wire::TargetType::Ip, backends: Mutex::new(None) }
    }

    /// The same default target type as the controller's (`--default-target-type`).
    pub fn with_default_target_type(mut self, target_type: plan::wire::TargetType) -> Self {
        self.default_target_type = target_type;
        self
    }

    /// The gates a new pod in `namespace` gets: one per Service of its namespace that selects it
    /// and that one of our Gateways' target groups serves, leaving out gates it already has.
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
        let generation = cache.generation(&Kind::BUILD_INPUTS);
        let mut held = self.backends.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((seen, set)) = held.as_ref()
            && *seen == generation
        {
            return set.clone();
        }
        let set = resolved_backends(cache, &self.controllers, self.default_target_type);
        let set = Arc::new(set);
        *held = Some((generation, set.clone()));
        set
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
    use albatross_k8s::route::RouteKind;

    const GW: &str = "gateway.networking.k8s.io/v1";

    fn store(cache: &Cache, kind: Kind, value: Value) {
        let meta = &value["metadata"];
        let key = ObjectKey::new(meta["namespace"].as_str().unwrap_or(""), meta["name"].as_str().unwrap());
        cache.store(kind, key, Some(value));
    }

    fn namespace(name: &str, label: Option<&str>) -> Value {
        let mut ns = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": {}}});
        if let Some(v) = label {
            ns["metadata"]["labels"][INJECT_LABEL] = json!(v);
        }
        ns
    }

    fn service(namespace: &str, name: &str, app: &str) -> Value {
        json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": namespace},
               "spec": {"type": "ClusterIP", "selector": {"app": app},
                        "ports": [{"name": "http", "port": 80, "targetPort": 8080, "protocol": "TCP"}]}})
    }

    /// An HTTPRoute in `namespace` attached to Gateway `gw` of namespace `apps`.
    fn route(namespace: &str, name: &str, backends: Value) -> Value {
        json!({"apiVersion": GW, "kind": "HTTPRoute", "metadata": {"name": name, "namespace": namespace},
               "spec": {"parentRefs": [{"name": "gw", "namespace": "apps"}], "rules": [{"backendRefs": backends}]}})
    }

    /// Gateway `apps/gw` of class `alb`, whose listener admits routes `from` (`Same` or `All`).
    fn gateway(from: &str) -> Value {
        json!({"apiVersion": GW, "kind": "Gateway", "metadata": {"name": "gw", "namespace": "apps"},
               "spec": {"gatewayClassName": "alb", "listeners": [{"name": "http", "port": 80, "protocol": "HTTP",
                        "allowedRoutes": {"namespaces": {"from": from}}}]}})
    }

    fn cache(label: Option<&str>) -> Cache {
        let cache = Cache::default();
        store(&cache, Kind::Namespace, namespace("apps", label));
        store(&cache, Kind::Namespace, namespace("tenant", None));
        for (name, app) in [("web", "web"), ("unrouted", "web"), ("api", "api")] {
            store(&cache, Kind::Service, service("apps", name, app));
        }
        let backends = json!([{"name": "web", "port": 80}, {"name": "api", "port": 80}]);
        store(&cache, Kind::Route(RouteKind::Http), route("apps", "r", backends));
        store(&cache, Kind::Gateway, gateway("Same"));
        let class = json!({"apiVersion": GW, "kind": "GatewayClass", "metadata": {"name": "alb"},
                           "spec": {"controllerName": "gateway.k8s.aws/alb"}});
        store(&cache, Kind::GatewayClass, class);
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

    /// With instance targets by default, a Service without a NodePort gets no target group, so its
    /// pods must get no gate either: nobody would ever open it.
    #[test]
    fn the_gates_follow_the_controllers_default_target_type() {
        let injector = Injector::new(Controllers::default()).with_default_target_type(plan::wire::TargetType::Instance);
        assert!(injector.gates(&cache(Some("enabled")), "apps", &pod("web")).is_empty());
    }

    #[test]
    fn services_behind_other_controllers_gateways_get_no_gate() {
        let injector = Injector::new(Controllers::default());
        let cache = cache(Some("enabled"));
        let class = json!({"apiVersion": GW, "kind": "GatewayClass", "metadata": {"name": "alb"},
                           "spec": {"controllerName": "example.com/other"}});
        store(&cache, Kind::GatewayClass, class);
        assert!(injector.gates(&cache, "apps", &pod("web")).is_empty(), "nobody of ours would open it");
    }

    #[test]
    fn services_behind_a_gateway_in_dry_run_get_no_gate() {
        let injector = Injector::new(Controllers::default());
        let cache = cache(Some("enabled"));
        let mut gw = gateway("Same");
        gw["metadata"]["annotations"] = json!({"gateway.k8s.aws/dry-run": "true"});
        store(&cache, Kind::Gateway, gw);
        assert!(injector.gates(&cache, "apps", &pod("web")).is_empty(), "a dry run registers no target");
        store(&cache, Kind::Gateway, gateway("Same"));
        assert_eq!(injector.gates(&cache, "apps", &pod("web")), vec![gate("web")]);
    }

    #[test]
    fn the_backends_follow_route_changes() {
        let injector = Injector::new(Controllers::default());
        let cache = cache(Some("enabled"));
        assert_eq!(injector.gates(&cache, "apps", &pod("api")), vec![gate("api")]);
        store(&cache, Kind::Route(RouteKind::Http), route("apps", "r", json!([{"name": "web", "port": 80}])));
        assert!(injector.gates(&cache, "apps", &pod("api")).is_empty());
    }

    #[test]
    fn cross_namespace_route_cannot_lock_out_pods_without_reference_grant() {
        let injector = Injector::new(Controllers::default());
        let cache = cache(Some("enabled"));
        store(&cache, Kind::Route(RouteKind::Http), route("apps", "r", json!([{"name": "web", "port": 80}])));
        store(&cache, Kind::Gateway, gateway("All"));
        // A route in another namespace, attached and accepted, names the opted-in namespace's
        // Service: without a ReferenceGrant there it sends no traffic there, and gates nothing.
        let lure = json!([{"name": "api", "namespace": "apps", "port": 80}]);
        store(&cache, Kind::Route(RouteKind::Http), route("tenant", "lure", lure));
        assert!(injector.gates(&cache, "apps", &pod("api")).is_empty(), "no ReferenceGrant");
        let grant = json!({"apiVersion": "gateway.networking.k8s.io/v1beta1", "kind": "ReferenceGrant",
                           "metadata": {"name": "from-tenant", "namespace": "apps"},
                           "spec": {"from": [{"group": "gateway.networking.k8s.io", "kind": "HTTPRoute", "namespace": "tenant"}],
                                    "to": [{"group": "", "kind": "Service"}]}});
        store(&cache, Kind::ReferenceGrant, grant);
        assert_eq!(injector.gates(&cache, "apps", &pod("api")), vec![gate("api")], "granted and accepted");
    }

    #[test]
    fn rejected_route_does_not_gate_pods() {
        let injector = Injector::new(Controllers::default());
        let cache = cache(Some("enabled"));
        store(&cache, Kind::Route(RouteKind::Http), route("apps", "r", json!([{"name": "web", "port": 80}])));
        // The listener admits routes of its own namespace only: this one is not accepted, though
        // its backend is in the pod's namespace and needs no grant.
        let route_elsewhere = json!([{"name": "api", "namespace": "apps", "port": 80}]);
        let grant = json!({"apiVersion": "gateway.networking.k8s.io/v1beta1", "kind": "ReferenceGrant",
                           "metadata": {"name": "from-tenant", "namespace": "apps"},
                           "spec": {"from": [{"group": "gateway.networking.k8s.io", "kind": "HTTPRoute", "namespace": "tenant"}],
                                    "to": [{"group": "", "kind": "Service"}]}});
        store(&cache, Kind::ReferenceGrant, grant);
        store(&cache, Kind::Route(RouteKind::Http), route("tenant", "rejected", route_elsewhere));
        assert!(injector.gates(&cache, "apps", &pod("api")).is_empty(), "not allowed by the listener");
        store(&cache, Kind::Gateway, gateway("All"));
        assert_eq!(injector.gates(&cache, "apps", &pod("api")), vec![gate("api")], "accepted once allowed");
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
