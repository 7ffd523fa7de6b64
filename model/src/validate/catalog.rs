//! What is known about classes, Gateways and configurations beyond the object being validated:
//! the other objects of a `validate` run, or (in the cluster) the watch caches.

use std::collections::{BTreeMap, BTreeSet};

use albatross_k8s::route::{ObjectKey, ParentRef};
use serde_json::Value;

use super::{Controllers, TypeMeta};

pub const GATEWAY_GROUP: &str = "gateway.networking.k8s.io";
pub const AWS_GROUP: &str = "gateway.k8s.aws";

/// Which load balancer a class of ours provisions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flavor {
    Alb,
    Nlb,
}

#[derive(Clone, Debug)]
pub(super) struct GatewayEntry {
    pub(super) class: String,
    /// (name, port) of each listener.
    pub(super) listeners: Vec<(String, i64)>,
}

/// A TargetGroupConfiguration, as far as references to it matter.
#[derive(Clone, Debug)]
pub(super) struct TargetGroupConfig {
    pub(super) name: String,
    /// `(kind, name)` of its `targetReference`.
    pub(super) target: Option<(String, String)>,
    /// Every protocol it sets, default and per route.
    pub(super) protocols: Vec<String>,
}

#[derive(Clone, Debug, Default)]
pub struct Catalog {
    controllers: Controllers,
    /// `None` where the input defines the same name twice differently: references to it are
    /// ambiguous and not checked.
    pub(super) classes: BTreeMap<String, Option<String>>,
    pub(super) gateways: BTreeMap<(String, String), Option<GatewayEntry>>,
    pub(super) configs: BTreeSet<(String, String)>,
    /// TargetGroupConfigurations by namespace, in name order.
    pub(super) target_group_configs: BTreeMap<String, Vec<TargetGroupConfig>>,
    /// ListenerRuleConfigurations by (namespace, name): whether one has a `redirect` action.
    pub(super) rule_configs: BTreeMap<(String, String), bool>,
}

/// Namespace of an object, `default` when unset (as kubectl fills it).
pub fn namespace_of(object: &Value) -> &str {
    object.get("metadata").and_then(|m| m.get("namespace")).and_then(Value::as_str).unwrap_or("default")
}

pub fn name_of(object: &Value) -> &str {
    object.get("metadata").and_then(|m| m.get("name")).and_then(Value::as_str).unwrap_or("")
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
            (AWS_GROUP, "TargetGroupConfiguration") => {
                let target = object.pointer("/spec/targetReference").map(|r| {
                    let kind = r.get("kind").and_then(Value::as_str).unwrap_or("Service").to_owned();
                    (kind, r.get("name").and_then(Value::as_str).unwrap_or("").to_owned())
                });
                let mut protocols: Vec<String> = Vec::new();
                let mut props = vec![object.pointer("/spec/defaultConfiguration")];
                if let Some(routes) = object.pointer("/spec/routeConfigurations").and_then(Value::as_array) {
                    props.extend(routes.iter().map(|r| r.get("targetGroupProps")));
                }
                for p in props.into_iter().flatten() {
                    if let Some(protocol) = p.get("protocol").and_then(Value::as_str) {
                        protocols.push(protocol.to_owned());
                    }
                }
                let list = self.target_group_configs.entry(key.0).or_default();
                // Kept in name order as it grows, rather than sorted again on every insert.
                let at = list.partition_point(|c| c.name <= key.1);
                list.insert(at, TargetGroupConfig { name: key.1, target, protocols });
            }
            (AWS_GROUP, "ListenerRuleConfiguration") => {
                let redirect = object.pointer("/spec/actions").and_then(Value::as_array).is_some_and(|actions| {
                    actions.iter().any(|a| a.get("type").and_then(Value::as_str) == Some("redirect"))
                });
                self.rule_configs.insert(key, redirect);
            }
            _ => {}
        }
    }

    pub fn flavor_of_class(&self, class: &str) -> Option<Flavor> {
        self.flavor_of_controller(self.classes.get(class)?.as_ref()?)
    }

    pub fn flavor_of_controller(&self, controller: &str) -> Option<Flavor> {
        self.controllers.flavor_of(controller)
    }

    pub fn flavor_of_gateway(&self, namespace: &str, name: &str) -> Option<Flavor> {
        let entry = self.gateways.get(&(namespace.to_owned(), name.to_owned()))?.as_ref()?;
        self.flavor_of_class(&entry.class)
    }

    /// The Gateways of ours that a route's `parentRefs` name, with the index of each ref.
    pub fn route_parents(&self, route: &Value) -> Vec<(usize, Flavor)> {
        parent_gateways(route)
            .filter_map(|(i, key, _)| Some((i, self.flavor_of_gateway(&key.namespace, &key.name)?)))
            .collect()
    }
}

/// `(index, Gateway, ref)` of each parentRef that names a Gateway.
pub(super) fn parent_gateways(route: &Value) -> impl Iterator<Item = (usize, ObjectKey, ParentRef)> + '_ {
    let route_ns = namespace_of(route);
    ParentRef::all_of(route)
        .enumerate()
        .filter_map(move |(i, r)| r.filter(ParentRef::is_gateway).map(|r| (i, r.key(route_ns), r)))
}
