//! The status writer: server-side apply of each object's status under one field manager, only
//! by the leader and only when something changed (conditions compared without
//! `lastTransitionTime`, which is kept while a condition's status stays). Route `parents[]`
//! entries of other controllers are kept, and so are ours for other Gateways.

use albatross_aws::delete::is_deletion_protected;
use albatross_aws::{AwsError, ErrorClass};
use albatross_k8s::route::{ObjectKey, ParentRef};
use albatross_model::Controllers;
use albatross_model::plan::StatusEntry;
use k8s_openapi::jiff::Timestamp;
use kube::Client;
use kube::api::{Api, DynamicObject, Patch, PatchParams};
use serde_json::{Value, json};

use crate::cache::{Cache, Kind, key_of};
use crate::leader::Leadership;

pub struct StatusWriter {
    pub client: Client,
    pub cache: Cache,
    pub leadership: Leadership,
    pub field_manager: String,
    /// Our controller names: route parent entries with any other name belong to others.
    pub controllers: Controllers,
}

#[derive(Debug, PartialEq, Eq)]
pub enum Written {
    Patched,
    Unchanged,
    /// The object is gone or its kind is not watched.
    Gone,
    NotLeader,
}

impl StatusWriter {
    pub async fn write(&self, entry: &StatusEntry, gateway: Option<&ObjectKey>) -> Result<Written, kube::Error> {
        let group = entry.api_version.rsplit_once('/').map_or("", |(g, _)| g);
        let Some(kind) = Kind::from_name(group, &entry.kind) else { return Ok(Written::Gone) };
        let key = ObjectKey::new(entry.namespace.clone().unwrap_or_default(), entry.name.clone());
        let (Some(resource), Some(current)) = (self.cache.resource(kind), self.cache.get(kind, &key)) else {
            return Ok(Written::Gone);
        };
        let now = Timestamp::now().to_string();
        let current_status = current.get("status").cloned().unwrap_or(Value::Null);
        let mut desired = entry.status.clone();
        if kind.is_route() {
            desired = merge_parents(&current, &desired, &self.controllers, gateway);
        }
        stamp(&mut desired, &current_status, &now);
        if without_times(&desired) == without_times(&current_status) {
            return Ok(Written::Unchanged);
        }
        if !self.leadership.is_leader() {
            return Ok(Written::NotLeader);
        }
        let api: Api<DynamicObject> = if kind.namespaced() {
            Api::namespaced_with(self.client.clone(), &key.namespace, &resource)
        } else {
            Api::all_with(self.client.clone(), &resource)
        };
        let mut metadata = json!({ "name": key.name });
        if kind.namespaced() {
            metadata["namespace"] = json!(key.namespace);
        }
        if kind.is_route() {
            // Other controllers' entries were read from the cache: refuse to overwrite a newer list.
            if let Some(rv) = current.pointer("/metadata/resourceVersion") {
                metadata["resourceVersion"] = rv.clone();
            }
        }
        let patch = json!({
            "apiVersion": resource.api_version,
            "kind": resource.kind,
            "metadata": metadata,
            "status": desired,
        });
        let params = PatchParams::apply(&self.field_manager).force();
        let stored = api.patch_status(&key.name, &params, &Patch::Apply(&patch)).await?;
        if let Ok(mut value) = serde_json::to_value(&stored) {
            value["apiVersion"] = json!(resource.api_version);
            value["kind"] = json!(resource.kind);
            // The watch brings the same object; storing it now keeps the next compare current.
            self.cache.store(kind, key_of(kind, &value), Some(value));
        }
        Ok(Written::Patched)
    }
}

/// Why a Gateway's AWS stack is kept although the Gateway asks otherwise: a condition reason.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kept {
    /// Its GatewayClass does not exist; the class may be recreated (`Accepted` False).
    GatewayClassNotFound,
    /// A load balancer of the stack has deletion protection on (`Programmed` False).
    DeletionProtected,
    /// The Gateway is annotated for a dry run: AWS is only read (`Programmed` False).
    DryRun,
}

impl Kept {
    pub fn reason(self) -> &'static str {
        match self {
            Kept::GatewayClassNotFound => "GatewayClassNotFound",
            Kept::DeletionProtected => "DeletionProtected",
            Kept::DryRun => albatross_model::dry_run::REASON,
        }
    }
}

/// A Gateway's status as it is (addresses, listeners: the load balancer still serves), with
/// condition `kind` False for `reason`.
pub fn kept_status(gateway: &Value, kind: &str, reason: Kept, message: &str) -> Value {
    let mut status = gateway.get("status").cloned().filter(Value::is_object).unwrap_or_else(|| json!({}));
    let mut condition = json!({ "type": kind, "status": "False", "reason": reason.reason(), "message": message });
    if let Some(generation) = gateway.pointer("/metadata/generation") {
        condition["observedGeneration"] = generation.clone();
    }
    let mut conditions: Vec<Value> = status.get("conditions").and_then(Value::as_array).cloned().unwrap_or_default();
    // In place, so an unchanged status compares equal.
    match conditions.iter_mut().find(|c| c["type"] == kind) {
        Some(c) => *c = condition,
        None => conditions.push(condition),
    }
    status["conditions"] = Value::Array(conditions);
    status
}

/// The `Programmed` reason of a stack that failed to apply.
pub fn not_programmed_reason(error: &AwsError) -> &'static str {
    if is_deletion_protected(error) {
        Kept::DeletionProtected.reason()
    } else if error.class == ErrorClass::Permanent {
        "Invalid"
    } else {
        "Pending"
    }
}

/// A parentRef with its defaults, for comparing entries.
fn parent_identity(parent: Option<&Value>, route_namespace: &str) -> Option<ParentRef> {
    parent.and_then(ParentRef::from_json).map(|p| p.resolved(route_namespace))
}

/// The route's `parents[]`: other controllers' entries as they are, ours for other parents as
/// long as the route still names them, and this build's.
fn merge_parents(current: &Value, built: &Value, controllers: &Controllers, gateway: Option<&ObjectKey>) -> Value {
    let namespace = current.pointer("/metadata/namespace").and_then(Value::as_str).unwrap_or("default");
    let named: Vec<ParentRef> = ParentRef::all_of(current).flatten().map(|p| p.resolved(namespace)).collect();
    let new: Vec<Value> = built.get("parents").and_then(Value::as_array).cloned().unwrap_or_default();
    let new_ids: Vec<Option<ParentRef>> = new.iter().map(|e| parent_identity(e.get("parentRef"), namespace)).collect();
    let this_gateway = |id: &ParentRef| gateway.is_some_and(|g| id.is_gateway() && id.key(namespace) == *g);
    let mut parents: Vec<Value> = Vec::new();
    for entry in current.pointer("/status/parents").and_then(Value::as_array).into_iter().flatten() {
        let controller = entry.get("controllerName").and_then(Value::as_str).unwrap_or("");
        if !controllers.owns(controller) {
            parents.push(entry.clone());
            continue;
        }
        let id = parent_identity(entry.get("parentRef"), namespace);
        if let Some(id) = id.filter(|id| named.contains(id))
            && !new_ids.contains(&Some(id.clone()))
            && !this_gateway(&id)
        {
            parents.push(entry.clone());
        }
    }
    parents.extend(new);
    let mut status = current.get("status").cloned().unwrap_or_else(|| json!({}));
    status["parents"] = Value::Array(parents);
    status
}

/// Sets `lastTransitionTime` on every condition: kept from the current one of the same type
/// while its status is unchanged, `now` otherwise. Listeners match by name, route parents by
/// parentRef and controller.
fn stamp(desired: &mut Value, current: &Value, now: &str) {
    let Some(map) = desired.as_object_mut() else { return };
    if let Some(conditions) = map.get_mut("conditions").and_then(Value::as_array_mut) {
        let old = current.get("conditions").and_then(Value::as_array);
        for c in conditions {
            let previous = old.and_then(|o| o.iter().find(|p| p["type"] == c["type"]));
            let time = match previous {
                Some(p) if p["status"] == c["status"] && p.get("lastTransitionTime").is_some() => {
                    p["lastTransitionTime"].clone()
                }
                _ => json!(now),
            };
            c["lastTransitionTime"] = time;
        }
    }
    for (list, id) in [("listeners", &["name"][..]), ("parents", &["parentRef", "controllerName"][..])] {
        let Some(items) = map.get_mut(list).and_then(Value::as_array_mut) else { continue };
        let old = current.get(list).and_then(Value::as_array);
        for item in items {
            let matching = old.and_then(|o| o.iter().find(|p| id.iter().all(|k| p.get(*k) == item.get(*k))));
            stamp(item, matching.unwrap_or(&Value::Null), now);
        }
    }
}

fn without_times(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(k, _)| k.as_str() != "lastTransitionTime")
                .map(|(k, v)| (k.clone(), without_times(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(without_times).collect()),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cond(kind: &str, status: &str, time: Option<&str>) -> Value {
        let mut c = json!({"type": kind, "status": status, "reason": "R", "message": ""});
        if let Some(t) = time {
            c["lastTransitionTime"] = json!(t);
        }
        c
    }

    #[test]
    fn an_unchanged_condition_keeps_its_transition_time_and_a_flipped_one_gets_now() {
        let current =
            json!({"conditions": [cond("Accepted", "True", Some("t0")), cond("Programmed", "False", Some("t0"))]});
        let mut desired = json!({"conditions": [cond("Accepted", "True", None), cond("Programmed", "True", None)]});
        stamp(&mut desired, &current, "t1");
        assert_eq!(desired["conditions"][0]["lastTransitionTime"], "t0");
        assert_eq!(desired["conditions"][1]["lastTransitionTime"], "t1");
    }

    #[test]
    fn a_status_equal_but_for_transition_times_compares_equal() {
        let current = json!({"listeners": [{"name": "http", "conditions": [cond("Accepted", "True", Some("t0"))]}]});
        let mut desired = json!({"listeners": [{"name": "http", "conditions": [cond("Accepted", "True", None)]}]});
        stamp(&mut desired, &current, "t1");
        assert_eq!(without_times(&desired), without_times(&current));
        assert_eq!(desired, current);
    }

    fn route_with(parents: Value, status: Value) -> Value {
        json!({"metadata": {"name": "r", "namespace": "apps"}, "spec": {"parentRefs": parents}, "status": status})
    }

    fn entry(name: &str, controller: &str) -> Value {
        json!({"parentRef": {"name": name, "namespace": "gw"}, "controllerName": controller, "conditions": []})
    }

    #[test]
    fn other_controllers_parents_and_ours_for_other_gateways_are_kept() {
        let ours = Controllers::default();
        let current = route_with(
            json!([{"name": "a", "namespace": "gw"}, {"name": "b", "namespace": "gw"}, {"name": "x", "namespace": "gw"}]),
            json!({"parents": [entry("x", "example.com/other"), entry("b", "gateway.k8s.aws/alb"),
                               entry("a", "gateway.k8s.aws/alb")]}),
        );
        let mut fresh = entry("a", "gateway.k8s.aws/alb");
        fresh["conditions"] = json!([cond("Accepted", "True", None)]);
        let built = json!({"parents": [fresh.clone()]});
        let merged = merge_parents(&current, &built, &ours, Some(&ObjectKey::new("gw", "a")));
        let parents = merged["parents"].as_array().unwrap();
        assert_eq!(parents.len(), 3);
        assert_eq!(parents[0]["controllerName"], "example.com/other");
        assert_eq!(parents[1]["parentRef"]["name"], "b");
        assert_eq!(parents[2], fresh);
    }

    #[test]
    fn our_entry_for_a_parent_the_route_dropped_goes() {
        let ours = Controllers::default();
        let current = route_with(
            json!([{"name": "a", "namespace": "gw"}]),
            json!({"parents": [entry("b", "gateway.k8s.aws/alb"), entry("a", "gateway.k8s.aws/alb")]}),
        );
        let built = json!({"parents": [entry("a", "gateway.k8s.aws/alb")]});
        let merged = merge_parents(&current, &built, &ours, Some(&ObjectKey::new("gw", "a")));
        assert_eq!(merged["parents"].as_array().unwrap().len(), 1);
    }

    #[test]
    fn a_route_detached_from_this_gateway_loses_our_entry_for_it() {
        let ours = Controllers::default();
        // Still named, but the build for Gateway a produced nothing for it (class not ours now).
        let current = route_with(
            json!([{"name": "a", "namespace": "gw"}]),
            json!({"parents": [entry("a", "gateway.k8s.aws/alb")]}),
        );
        let merged = merge_parents(&current, &json!({"parents": []}), &ours, Some(&ObjectKey::new("gw", "a")));
        assert!(merged["parents"].as_array().unwrap().is_empty());
    }

    #[test]
    fn a_kept_stack_changes_one_condition_in_place_and_keeps_the_address() {
        let gateway = json!({"metadata": {"generation": 3}, "status": {
            "addresses": [{"type": "Hostname", "value": "lb.example"}],
            "conditions": [cond("Accepted", "True", Some("t0")), cond("Programmed", "True", Some("t0"))]}});
        let status = kept_status(&gateway, "Accepted", Kept::GatewayClassNotFound, "gone");
        assert_eq!(status["addresses"], gateway["status"]["addresses"]);
        let conditions = status["conditions"].as_array().unwrap();
        assert_eq!(conditions.len(), 2);
        assert_eq!(conditions[0]["reason"], "GatewayClassNotFound");
        assert_eq!(conditions[0]["status"], "False");
        assert_eq!(conditions[0]["observedGeneration"], 3);
        assert_eq!(conditions[1], gateway["status"]["conditions"][1]);
    }
}
