//! Statuses as the API would store them (without `lastTransitionTime`, which the writer sets).

use std::collections::BTreeMap;

use albatross_k8s::route::ParentRef;
use serde::Serialize;
use serde_json::{Value, json};

use super::attach::Failure;
use super::env::Env;
use super::features;
use super::snapshot::{Object, Snapshot};
use albatross_k8s::gateway_api::v1::gatewayclasses::GatewayClassSpec;

use crate::validate::Flavor;

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

/// A class of ours: `Accepted`, and what a class of its load balancer type supports (GEP-2162).
pub fn gateway_class(class: &Object<GatewayClassSpec>, flavor: Flavor, accepted: &Result<(), Failure>) -> StatusEntry {
    let generation = class.meta.generation;
    let features: Vec<Value> = features::supported(flavor).into_iter().map(|f| json!({ "name": f.name() })).collect();
    StatusEntry {
        api_version: class.meta.api_version.clone(),
        kind: "GatewayClass".into(),
        namespace: None,
        name: class.meta.key.name.clone(),
        status: json!({
            "conditions": [condition("Accepted", accepted.as_ref().map(|_| "Accepted"), generation)],
            "supportedFeatures": features,
        }),
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

/// Folds the outcome of applying a Gateway's stack into its status: `Programmed` with the load
/// balancer's DNS name as address (and every listener that was only waiting for it), or not
/// programmed with the reason and the AWS error in the message.
pub fn programmed(entry: &mut StatusEntry, outcome: Result<&str, (&str, &str)>) {
    let set = |conditions: Option<&mut Vec<Value>>, status: &str, reason: &str, message: &str, only_pending: bool| {
        for c in conditions.into_iter().flatten() {
            if c["type"] == "Programmed" && (!only_pending || c["reason"] == "Pending") {
                c["status"] = json!(status);
                c["reason"] = json!(reason);
                c["message"] = json!(message);
            }
        }
    };
    let status = &mut entry.status;
    match outcome {
        Ok(dns) => {
            set(status.get_mut("conditions").and_then(Value::as_array_mut), "True", "Programmed", "", false);
            for l in status.get_mut("listeners").and_then(Value::as_array_mut).into_iter().flatten() {
                set(l.get_mut("conditions").and_then(Value::as_array_mut), "True", "Programmed", "", true);
            }
            status["addresses"] = json!([{ "type": "Hostname", "value": dns }]);
        }
        Err((reason, message)) => {
            set(status.get_mut("conditions").and_then(Value::as_array_mut), "False", reason, message, false);
        }
    }
}

/// Names, in a programmed Gateway's `Programmed` message, the fields its load balancer was
/// created without: they take a new load balancer, so they are not applied.
pub fn not_applied(entry: &mut StatusEntry, fields: &[String]) {
    if fields.is_empty() {
        return;
    }
    let message = format!(
        "programmed, but not with these fields: AWS sets them only when it creates a load balancer, and \
         this one was created otherwise (a new loadBalancerName makes a new load balancer with them): {}",
        fields.join("; ")
    );
    for c in entry.status.get_mut("conditions").and_then(Value::as_array_mut).into_iter().flatten() {
        if c["type"] == "Programmed" && c["status"] == "True" {
            c["message"] = json!(message);
        }
    }
}

#[cfg(test)]
mod programmed_tests {
    use super::*;

    fn entry() -> StatusEntry {
        StatusEntry {
            api_version: "gateway.networking.k8s.io/v1".into(),
            kind: "Gateway".into(),
            namespace: Some("ns".into()),
            name: "gw".into(),
            status: json!({
                "conditions": [condition_with("Accepted", "True", "Accepted", "", Some(1)),
                               condition_with("Programmed", "False", "Pending", "wait", Some(1))],
                "listeners": [
                    {"name": "ok", "conditions": [condition_with("Programmed", "False", "Pending", "wait", Some(1))]},
                    {"name": "bad", "conditions": [condition_with("Programmed", "False", "Invalid", "no cert", Some(1))]},
                ],
            }),
        }
    }

    #[test]
    fn a_converged_stack_programs_the_gateway_and_its_waiting_listeners_but_not_invalid_ones() {
        let mut e = entry();
        programmed(&mut e, Ok("lb-1.elb.amazonaws.com"));
        assert_eq!(e.status["conditions"][1]["status"], "True");
        assert_eq!(e.status["conditions"][1]["observedGeneration"], 1);
        assert_eq!(e.status["addresses"][0]["value"], "lb-1.elb.amazonaws.com");
        assert_eq!(e.status["listeners"][0]["conditions"][0]["status"], "True");
        assert_eq!(e.status["listeners"][1]["conditions"][0]["reason"], "Invalid");
    }

    #[test]
    fn an_aws_failure_names_its_code_in_the_gateway_condition() {
        let mut e = entry();
        programmed(&mut e, Err(("Invalid", "CreateRule: TooManyRules: quota")));
        assert_eq!(e.status["conditions"][1]["status"], "False");
        assert_eq!(e.status["conditions"][1]["message"], "CreateRule: TooManyRules: quota");
        assert!(e.status.get("addresses").is_none());
    }

    #[test]
    fn fields_set_at_creation_only_are_named_in_the_programmed_message() {
        let mut e = entry();
        programmed(&mut e, Ok("lb-1.elb.amazonaws.com"));
        not_applied(&mut e, &[]);
        assert_eq!(e.status["conditions"][1]["message"], "");
        not_applied(&mut e, &["customerOwnedIpv4Pool p-2 (the load balancer has p-1)".to_owned()]);
        let message = e.status["conditions"][1]["message"].as_str().unwrap();
        assert!(message.ends_with("): customerOwnedIpv4Pool p-2 (the load balancer has p-1)"), "{message}");
        assert_eq!(e.status["conditions"][1]["status"], "True");
    }
}
