//! Statuses as the API would store them (without `lastTransitionTime`, which the writer sets).

use std::collections::BTreeMap;

use albatross_k8s::route::ParentRef;
use serde::Serialize;
use serde_json::{Value, json};

use super::attach::Failure;
use super::env::Env;
use super::snapshot::{Object, Snapshot};
use albatross_k8s::gateway_api::v1::gatewayclasses::GatewayClassSpec;

/// The status one object would get.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StatusEntry {
    #[serde(rename = "apiVersion")]
    pub api_version: String,
    pub kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    pub name: String,
    pub status: Value,
}

pub fn condition(kind: &str, ok: Result<&str, &Failure>, generation: Option<i64>) -> Value {
    let (status, reason, message) = match ok {
        Ok(reason) => ("True", reason.to_owned(), String::new()),
        Err((reason, message)) => ("False", (*reason).to_owned(), message.clone()),
    };
    condition_with(kind, status, &reason, &message, generation)
}

pub fn condition_with(kind: &str, status: &str, reason: &str, message: &str, generation: Option<i64>) -> Value {
    let mut c = json!({ "type": kind, "status": status, "reason": reason, "message": message });
    if let Some(g) = generation {
        c["observedGeneration"] = json!(g);
    }
    c
}

pub fn gateway_class(class: &Object<GatewayClassSpec>, accepted: &Result<(), Failure>) -> StatusEntry {
    let generation = class.meta.generation;
    StatusEntry {
        api_version: class.meta.api_version.clone(),
        kind: "GatewayClass".into(),
        namespace: None,
        name: class.meta.key.name.clone(),
        status: json!({ "conditions": [condition("Accepted", accepted.as_ref().map(|_| "Accepted"), generation)] }),
    }
}

/// One route parentRef's verdict on a Gateway of ours.
#[derive(Clone, Debug)]
pub struct RouteParent {
    pub route: usize,
    pub parent_index: usize,
    pub parent: ParentRef,
    pub controller: String,
    pub accepted: Result<(), Failure>,
    pub resolved: Result<(), Failure>,
}

#[derive(Default)]
pub struct RouteParents(BTreeMap<usize, Vec<RouteParent>>);

impl RouteParents {
    pub fn extend(&mut self, parents: Vec<RouteParent>) {
        for p in parents {
            self.0.entry(p.route).or_default().push(p);
        }
    }

    pub fn into_statuses(self, snapshot: &Snapshot, _env: &Env) -> Vec<StatusEntry> {
        let mut out = Vec::new();
        for (index, mut parents) in self.0 {
            let route = &snapshot.routes[index];
            parents.sort_by_key(|p| p.parent_index);
            let generation = route.meta.generation;
            let entries: Vec<Value> = parents
                .iter()
                .map(|p| {
                    let mut parent_ref =
                        json!({ "group": p.parent.group, "kind": p.parent.kind, "name": p.parent.name });
                    if let Some(ns) = &p.parent.namespace {
                        parent_ref["namespace"] = json!(ns);
                    }
                    if let Some(section) = &p.parent.section_name {
                        parent_ref["sectionName"] = json!(section);
                    }
                    if let Some(port) = p.parent.port {
                        parent_ref["port"] = json!(port);
                    }
                    json!({
                        "parentRef": parent_ref,
                        "controllerName": p.controller,
                        "conditions": [
                            condition("Accepted", p.accepted.as_ref().map(|_| "Accepted"), generation),
                            condition("ResolvedRefs", p.resolved.as_ref().map(|_| "ResolvedRefs"), generation),
                        ],
                    })
                })
                .collect();
            out.push(StatusEntry {
                api_version: route.meta.api_version.clone(),
                kind: route.spec.kind.as_str().into(),
                namespace: Some(route.meta.key.namespace.clone()),
                name: route.meta.key.name.clone(),
                status: json!({ "parents": entries }),
            });
        }
        out
    }
}
