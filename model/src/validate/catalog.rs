//! What is known about classes, Gateways and configurations beyond the object being validated:
//! the other objects of a `validate` run, or (in the cluster) the watch caches.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::path::{child, index};
use super::{Controllers, FieldError, Outcome, TypeMeta};

pub const GATEWAY_GROUP: &str = "gateway.networking.k8s.io";
pub const AWS_GROUP: &str = "gateway.k8s.aws";
pub const ROUTE_KINDS: [&str; 5] = ["HTTPRoute", "GRPCRoute", "TCPRoute", "UDPRoute", "TLSRoute"];

/// Which load balancer a class of ours provisions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flavor {
    Alb,
    Nlb,
}

#[derive(Clone, Debug)]
struct GatewayEntry {
    class: String,
    /// (name, port) of each listener.
    listeners: Vec<(String, i64)>,
}

#[derive(Clone, Debug, Default)]
pub struct Catalog {
    controllers: Controllers,
    /// `None` where the input defines the same name twice differently: references to it are
    /// ambiguous and not checked.
    classes: BTreeMap<String, Option<String>>,
    gateways: BTreeMap<(String, String), Option<GatewayEntry>>,
    configs: BTreeSet<(String, String)>,
}

/// Namespace of an object, `default` when unset (as kubectl fills it).
pub fn namespace_of(object: &Value) -> &str {
    object.pointer("/metadata/namespace").and_then(Value::as_str).unwrap_or("default")
}

pub fn name_of(object: &Value) -> &str {
    object.pointer("/metadata/name").and_then(Value::as_str).unwrap_or("")
}

impl Catalog {
    pub fn new(controllers: &Controllers) -> Self {
        Self { controllers: controllers.clone(), ..Self::default() }
    }

    pub fn from_objects<'a>(objects: impl IntoIterator<Item = &'a Value>, controllers: &Controllers) -> Self {
        let mut catalog = Self::new(controllers);
        for object in objects {
            catalog.insert(object);
        }
        catalog
    }

    /// Records a GatewayClass, Gateway or LoadBalancerConfiguration; ignores anything else.
    pub fn insert(&mut self, object: &Value) {
        let Some(meta) = TypeMeta::of(object) else { return };
        let key = (namespace_of(object).to_owned(), name_of(object).to_owned());
        match (meta.group, meta.kind) {
            (GATEWAY_GROUP, "GatewayClass") => {
                if let Some(controller) = object.pointer("/spec/controllerName").and_then(Value::as_str) {
                    let entry = Some(controller.to_owned());
                    let merged = match self.classes.get(&key.1) {
                        Some(existing) if *existing != entry => None,
                        _ => entry,
                    };
                    self.classes.insert(key.1, merged);
                }
            }
            (GATEWAY_GROUP, "Gateway") => {
                let class = object.pointer("/spec/gatewayClassName").and_then(Value::as_str).unwrap_or("");
                let listeners = object
                    .pointer("/spec/listeners")
                    .and_then(Value::as_array)
                    .map(|ls| {
                        ls.iter()
                            .map(|l| {
                                let name = l.get("name").and_then(Value::as_str).unwrap_or("").to_owned();
                                (name, l.get("port").and_then(Value::as_i64).unwrap_or(0))
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                let entry = GatewayEntry { class: class.to_owned(), listeners };
                let merged = match self.gateways.get(&key) {
                    Some(_) => None,
                    None => Some(entry),
                };
                self.gateways.insert(key, merged);
            }
            (AWS_GROUP, "LoadBalancerConfiguration") => {
                self.configs.insert(key);
            }
            _ => {}
        }
    }

    pub fn flavor_of_class(&self, class: &str) -> Option<Flavor> {
        self.flavor_of_controller(self.classes.get(class)?.as_ref()?)
    }

    pub fn flavor_of_controller(&self, controller: &str) -> Option<Flavor> {
        if controller == self.controllers.alb {
            Some(Flavor::Alb)
        } else if controller == self.controllers.nlb {
            Some(Flavor::Nlb)
        } else {
            None
        }
    }

    pub fn flavor_of_gateway(&self, namespace: &str, name: &str) -> Option<Flavor> {
        let entry = self.gateways.get(&(namespace.to_owned(), name.to_owned()))?.as_ref()?;
        self.flavor_of_class(&entry.class)
    }

    /// The Gateways of ours that a route's `parentRefs` name, with the index of each ref.
    pub fn route_parents(&self, route: &Value) -> Vec<(usize, Flavor)> {
        parent_gateways(route).filter_map(|(i, ns, name, _)| Some((i, self.flavor_of_gateway(&ns, &name)?))).collect()
    }

    /// Cross-object checks among the objects of one input: route parents and configuration refs.
    pub fn check_references(&self, object: &Value, outcome: &mut Outcome) {
        let Some(meta) = TypeMeta::of(object) else { return };
        match (meta.group, meta.kind) {
            (GATEWAY_GROUP, kind) if ROUTE_KINDS.contains(&kind) => self.check_parents(object, outcome),
            (GATEWAY_GROUP, "Gateway") => {
                if let Some(reference) = object.pointer("/spec/infrastructure/parametersRef") {
                    self.check_config_ref(
                        reference,
                        namespace_of(object),
                        "spec.infrastructure.parametersRef",
                        outcome,
                    );
                }
            }
            (GATEWAY_GROUP, "GatewayClass") => {
                if let Some(reference) = object.pointer("/spec/parametersRef") {
                    let ns = reference.get("namespace").and_then(Value::as_str).unwrap_or("default");
                    self.check_config_ref(reference, ns, "spec.parametersRef", outcome);
                }
            }
            _ => {}
        }
    }

    fn check_parents(&self, route: &Value, outcome: &mut Outcome) {
        for (i, ns, name, reference) in parent_gateways(route) {
            let Some(Some(gateway)) = self.gateways.get(&(ns.clone(), name.clone())) else { continue };
            let field = index("spec.parentRefs", i);
            let names: Vec<&str> = gateway.listeners.iter().map(|(n, _)| n.as_str()).collect();
            if let Some(section) = reference.get("sectionName").and_then(Value::as_str)
                && !names.contains(&section)
            {
                outcome.errors.push(FieldError::new(
                    &child(&field, "sectionName"),
                    format!(
                        "Gateway {ns}/{name} has no listener named {section:?} (its listeners: {})",
                        names.join(", ")
                    ),
                ));
            }
            if let Some(port) = reference.get("port").and_then(Value::as_i64)
                && !gateway.listeners.iter().any(|(_, p)| *p == port)
            {
                outcome.errors.push(FieldError::new(
                    &child(&field, "port"),
                    format!("Gateway {ns}/{name} has no listener on port {port}"),
                ));
            }
        }
    }

    fn check_config_ref(&self, reference: &Value, namespace: &str, field: &str, outcome: &mut Outcome) {
        let group = reference.get("group").and_then(Value::as_str).unwrap_or("");
        let kind = reference.get("kind").and_then(Value::as_str).unwrap_or("");
        let name = reference.get("name").and_then(Value::as_str).unwrap_or("");
        if group == AWS_GROUP
            && kind == "LoadBalancerConfiguration"
            && !self.configs.contains(&(namespace.to_owned(), name.to_owned()))
        {
            outcome.warnings.push(FieldError::new(
                field,
                format!("LoadBalancerConfiguration {namespace}/{name} is not among the validated objects; it must exist in the cluster"),
            ));
        }
    }
}

/// `(index, namespace, name, ref)` of each parentRef that names a Gateway.
fn parent_gateways(route: &Value) -> impl Iterator<Item = (usize, String, String, &Value)> {
    let route_ns = namespace_of(route).to_owned();
    route.pointer("/spec/parentRefs").and_then(Value::as_array).into_iter().flatten().enumerate().filter_map(
        move |(i, r)| {
            let group = r.get("group").and_then(Value::as_str).unwrap_or(GATEWAY_GROUP);
            let kind = r.get("kind").and_then(Value::as_str).unwrap_or("Gateway");
            if group != GATEWAY_GROUP || kind != "Gateway" {
                return None;
            }
            let ns = r.get("namespace").and_then(Value::as_str).unwrap_or(&route_ns).to_owned();
            let name = r.get("name").and_then(Value::as_str)?.to_owned();
            Some((i, ns, name, r))
        },
    )
}
