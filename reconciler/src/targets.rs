//! The targets a target group should have, from the watch caches: ready endpoint addresses of
//! the backend Service (IP targets), or every ready node on the Service's NodePort (instance
//! targets).

use std::collections::{BTreeMap, BTreeSet};

use albatross_aws::targets::Target;
use albatross_k8s::route::ObjectKey;
use albatross_model::plan::selector_matches;
use albatross_model::plan::types::TargetGroupPlan;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use serde_json::Value;

use crate::cache::{Cache, Kind};

/// Nodes carrying this label are left out of load balancers, as Kubernetes' service controller
/// does.
const EXCLUDE_LABEL: &str = "node.kubernetes.io/exclude-from-external-load-balancers";

/// `None` while the caches that decide it are not synced: nothing is deregistered on a guess.
pub fn wanted(cache: &Cache, tg: &TargetGroupPlan) -> Option<BTreeSet<Target>> {
    if !cache.synced(Kind::Service) || !cache.synced(Kind::EndpointSlice) || !cache.synced(Kind::Node) {
        return None;
    }
    let key = ObjectKey::new(tg.backend.namespace.clone(), tg.backend.name.clone());
    let Some(service) = cache.get(Kind::Service, &key) else { return Some(BTreeSet::new()) };
    let Some(port) = service
        .pointer("/spec/ports")
        .and_then(Value::as_array)
        .and_then(|ports| ports.iter().find(|p| p["port"].as_i64() == Some(i64::from(tg.backend.port))))
    else {
        return Some(BTreeSet::new());
    };
    match tg.target_type.as_str() {
        "ip" => Some(ip_targets(&cache.slices_of(&key), port.get("name").and_then(Value::as_str).unwrap_or(""))),
        "instance" => {
            let Some(node_port) = port.get("nodePort").and_then(Value::as_i64) else { return Some(BTreeSet::new()) };
            Some(instance_targets(&cache.list(Kind::Node), node_port as i32, tg.backend.node_selector.as_ref()))
        }
        // An ALB as an NLB target is registered by the load balancer's ARN, not from Kubernetes.
        _ => None,
    }
}

/// Ready endpoints (a missing `ready` counts as ready, as the API documents) on the slice port
/// named like the Service port.
pub fn ip_targets(slices: &[std::sync::Arc<Value>], port_name: &str) -> BTreeSet<Target> {
    let mut out = BTreeSet::new();
    for_each_endpoint(slices, port_name, |endpoint, target| {
        if endpoint.pointer("/conditions/ready").and_then(Value::as_bool) != Some(false) {
            out.insert(target);
        }
    });
    out
}

/// An endpoint that is not ready, of a pod that is not terminating: its pod may be waiting for
/// our readiness gate, which only opens once the target is registered and healthy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Waiting {
    pub pod: String,
    pub target: Target,
}

/// Not-ready, not-terminating pod endpoints of a target group's Service.
pub fn waiting(cache: &Cache, tg: &TargetGroupPlan) -> Vec<Waiting> {
    let key = ObjectKey::new(tg.backend.namespace.clone(), tg.backend.name.clone());
    let Some(port_name) = service_port_name(cache, &key, tg.backend.port) else { return Vec::new() };
    let mut out = Vec::new();
    for_each_endpoint(&cache.slices_of(&key), &port_name, |endpoint, target| {
        let conditions = endpoint.get("conditions");
        let flag = |name: &str| conditions.and_then(|c| c.get(name)).and_then(Value::as_bool);
        let pod = endpoint
            .get("targetRef")
            .filter(|r| r.get("kind").and_then(Value::as_str) == Some("Pod"))
            .and_then(|r| r.get("name").and_then(Value::as_str));
        if let (Some(false), false, Some(pod)) = (flag("ready"), flag("terminating") == Some(true), pod) {
            out.push(Waiting { pod: pod.to_owned(), target });
        }
    });
    out
}

fn service_port_name(cache: &Cache, service: &ObjectKey, port: i32) -> Option<String> {
    let service = cache.get(Kind::Service, service)?;
    let ports = service.pointer("/spec/ports").and_then(Value::as_array)?;
    let port = ports.iter().find(|p| p["port"].as_i64() == Some(i64::from(port)))?;
    Some(port.get("name").and_then(Value::as_str).unwrap_or("").to_owned())
}

/// Every endpoint address on the slice port named `port_name`, with its endpoint.
fn for_each_endpoint(slices: &[std::sync::Arc<Value>], port_name: &str, mut f: impl FnMut(&Value, Target)) {
    for slice in slices {
        let Some(port) = slice
            .get("ports")
            .and_then(Value::as_array)
            .and_then(|ps| ps.iter().find(|p| p.get("name").and_then(Value::as_str).unwrap_or("") == port_name))
            .and_then(|p| p.get("port").and_then(Value::as_i64))
        else {
            continue;
        };
        for endpoint in slice.get("endpoints").and_then(Value::as_array).into_iter().flatten() {
            for address in endpoint.get("addresses").and_then(Value::as_array).into_iter().flatten() {
                if let Some(ip) = address.as_str() {
                    f(endpoint, Target { id: ip.to_owned(), port: port as i32 });
                }
            }
        }
    }
}

/// Ready, schedulable nodes with an AWS instance id, not excluded by label, and matching the
/// TargetGroupConfiguration's `nodeSelector` when it has one.
pub fn instance_targets(
    nodes: &[std::sync::Arc<Value>],
    node_port: i32,
    selector: Option<&LabelSelector>,
) -> BTreeSet<Target> {
    let mut out = BTreeSet::new();
    for node in nodes {
        if let Some(selector) = selector {
            let labels: BTreeMap<String, String> = node
                .pointer("/metadata/labels")
                .and_then(|l| serde_json::from_value(l.clone()).ok())
                .unwrap_or_default();
            let expressions =
                selector.match_expressions.iter().flatten().map(|e| (&e.key, &e.operator, e.values.as_deref()));
            if !selector_matches(selector.match_labels.as_ref(), expressions, &labels) {
                continue;
            }
        }
        let ready = node
            .pointer("/status/conditions")
            .and_then(Value::as_array)
            .is_some_and(|cs| cs.iter().any(|c| c["type"] == "Ready" && c["status"] == "True"));
        let excluded = node.pointer("/metadata/labels").and_then(|l| l.get(EXCLUDE_LABEL)).is_some();
        let cordoned = node.pointer("/spec/unschedulable").and_then(Value::as_bool) == Some(true);
        // providerID looks like aws:///us-east-1a/i-0123456789abcdef0
        let instance = node
            .pointer("/spec/providerID")
            .and_then(Value::as_str)
            .and_then(|p| p.rsplit('/').next())
            .filter(|id| id.starts_with("i-"));
        if let (true, false, false, Some(id)) = (ready, excluded, cordoned, instance) {
            out.insert(Target { id: id.to_owned(), port: node_port });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::sync::Arc;

    #[test]
    fn only_ready_endpoints_on_the_named_port_are_targets() {
        let slice = Arc::new(json!({
            "ports": [{"name": "metrics", "port": 9090}, {"name": "http", "port": 8080}],
            "endpoints": [
                {"addresses": ["10.0.0.1"], "conditions": {"ready": true}},
                {"addresses": ["10.0.0.2"], "conditions": {"ready": false, "terminating": true}},
                {"addresses": ["10.0.0.3"]},
            ]
        }));
        let targets = ip_targets(&[slice], "http");
        let ids: Vec<(&str, i32)> = targets.iter().map(|t| (t.id.as_str(), t.port)).collect();
        assert_eq!(ids, vec![("10.0.0.1", 8080), ("10.0.0.3", 8080)]);
    }

    #[test]
    fn waiting_endpoints_are_the_not_ready_pods_that_are_not_terminating() {
        let cache = Cache::default();
        let svc = json!({"metadata": {"name": "web", "namespace": "apps"},
                         "spec": {"ports": [{"name": "http", "port": 80, "targetPort": 8080}]}});
        cache.store(Kind::Service, ObjectKey::new("apps", "web"), Some(svc));
        let pod = |name: &str| json!({"kind": "Pod", "name": name});
        let slice = json!({"metadata": {"name": "web-1", "namespace": "apps",
                                    "labels": {"kubernetes.io/service-name": "web"}},
        "ports": [{"name": "http", "port": 8080}],
        "endpoints": [
            {"addresses": ["10.0.0.1"], "conditions": {"ready": true}, "targetRef": pod("ready")},
            {"addresses": ["10.0.0.2"], "conditions": {"ready": false}, "targetRef": pod("starting")},
            {"addresses": ["10.0.0.3"], "conditions": {"ready": false, "terminating": true},
             "targetRef": pod("leaving")},
            {"addresses": ["10.0.0.4"], "conditions": {"ready": false}},
        ]});
        cache.store(Kind::EndpointSlice, ObjectKey::new("apps", "web-1"), Some(slice));
        let tg: TargetGroupPlan = serde_json::from_value(json!({
            "Id": "t", "TargetGroupName": "t", "Protocol": "HTTP", "Port": 8080, "TargetType": "ip",
            "HealthCheckProtocol": "HTTP", "HealthCheckPort": "traffic-port", "HealthCheckIntervalSeconds": 15,
            "HealthCheckTimeoutSeconds": 5, "HealthyThresholdCount": 3, "UnhealthyThresholdCount": 3, "Tags": [],
            "Backend": {"namespace": "apps", "name": "web", "port": 80}}))
        .expect("a target group plan");
        assert_eq!(
            waiting(&cache, &tg),
            vec![Waiting { pod: "starting".into(), target: Target { id: "10.0.0.2".into(), port: 8080 } }]
        );
    }

    #[test]
    fn nodes_that_are_not_ready_cordoned_or_excluded_are_not_targets() {
        let node = |name: &str, ready: &str, extra: Value| {
            let mut n = json!({"metadata": {"name": name, "labels": {}},
                               "spec": {"providerID": format!("aws:///us-east-1a/i-{name}")},
                               "status": {"conditions": [{"type": "Ready", "status": ready}]}});
            if let Some(labels) = extra.get("labels") {
                n["metadata"]["labels"] = labels.clone();
            }
            if extra.get("cordoned").is_some() {
                n["spec"]["unschedulable"] = json!(true);
            }
            Arc::new(n)
        };
        let nodes = vec![
            node("a", "True", json!({})),
            node("b", "False", json!({})),
            node("c", "True", json!({"cordoned": true})),
            node("d", "True", json!({"labels": {EXCLUDE_LABEL: ""}})),
        ];
        let targets = instance_targets(&nodes, 30080, None);
        assert_eq!(targets.into_iter().collect::<Vec<_>>(), vec![Target { id: "i-a".into(), port: 30080 }]);
    }

    #[test]
    fn a_node_selector_keeps_only_the_nodes_it_matches() {
        let node = |name: &str, labels: Value| {
            Arc::new(json!({"metadata": {"name": name, "labels": labels},
                            "spec": {"providerID": format!("aws:///us-east-1a/i-{name}")},
                            "status": {"conditions": [{"type": "Ready", "status": "True"}]}}))
        };
        let nodes = vec![
            node("edge", json!({"pool": "edge", "zone": "a"})),
            node("edge-b", json!({"pool": "edge", "zone": "b"})),
            node("core", json!({"pool": "core"})),
        ];
        let selector: LabelSelector = serde_json::from_value(json!({
            "matchLabels": {"pool": "edge"},
            "matchExpressions": [{"key": "zone", "operator": "NotIn", "values": ["b"]}]
        }))
        .unwrap();
        let ids: Vec<String> = instance_targets(&nodes, 30080, Some(&selector)).into_iter().map(|t| t.id).collect();
        assert_eq!(ids, ["i-edge"]);
        assert_eq!(instance_targets(&nodes, 30080, None).len(), 3);
    }
}
