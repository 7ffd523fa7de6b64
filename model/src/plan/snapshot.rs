//! The objects one build reads, decoded once from manifests or watch caches.

use std::collections::BTreeMap;

use albatross_k8s::aws::{ListenerRuleConfigurationSpec, LoadBalancerConfigurationSpec, TargetGroupConfigurationSpec};
use albatross_k8s::gateway_api::v1::listenersets::ListenerSetSpec;
use albatross_k8s::gateway_api::v1::{
    gatewayclasses::GatewayClassSpec, gateways::GatewaySpec, referencegrants::ReferenceGrantSpec,
};
use albatross_k8s::route::{AnyRoute, GATEWAY_GROUP, ObjectKey, RouteError, RouteKind};
use k8s_openapi::api::core::v1::ServiceSpec;
use serde_json::Value;

/// Identity and generation of an object, for status.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Meta {
    pub api_version: String,
    pub key: ObjectKey,
    pub generation: Option<i64>,
    pub uid: Option<String>,
    pub created: String,
}

impl Meta {
    fn of(value: &Value) -> Self {
        let m = value.get("metadata").cloned().unwrap_or(Value::Null);
        let text = |k: &str| m.get(k).and_then(Value::as_str).map(str::to_owned);
        Self {
            api_version: value.get("apiVersion").and_then(Value::as_str).unwrap_or("").to_owned(),
            key: ObjectKey::new(
                text("namespace").unwrap_or_else(|| "default".into()),
                text("name").unwrap_or_default(),
            ),
            // Objects read from files have no generation yet; the API server starts them at 1.
            generation: m.get("generation").and_then(Value::as_i64).or(Some(1)),
            uid: text("uid"),
            created: text("creationTimestamp").unwrap_or_default(),
        }
    }
}

#[derive(Clone, Debug)]
pub struct Object<T> {
    pub meta: Meta,
    pub spec: T,
    /// The object as given, for checks shared with validation; shared, not copied.
    pub raw: std::sync::Arc<Value>,
}

#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    pub classes: BTreeMap<String, Object<GatewayClassSpec>>,
    pub gateways: BTreeMap<ObjectKey, Object<GatewaySpec>>,
    /// Routes, sorted by kind and key. Their JSON is not kept (`raw` is null): what validation
    /// finds ALB cannot do of each is computed once, into `alb_problems`, at the same index.
    pub routes: Vec<Object<AnyRoute>>,
    pub alb_problems: Vec<Vec<crate::validate::FieldError>>,
    pub grants: Vec<Object<ReferenceGrantSpec>>,
    pub listener_sets: BTreeMap<ObjectKey, Object<ListenerSetSpec>>,
    /// Namespace labels; namespaces not given have only `kubernetes.io/metadata.name`.
    pub namespaces: BTreeMap<String, BTreeMap<String, String>>,
    pub services: BTreeMap<ObjectKey, Object<ServiceSpec>>,
    pub lb_configs: BTreeMap<ObjectKey, Object<LoadBalancerConfigurationSpec>>,
    pub tg_configs: BTreeMap<ObjectKey, Object<TargetGroupConfigurationSpec>>,
    pub rule_configs: BTreeMap<ObjectKey, Object<ListenerRuleConfigurationSpec>>,
}

/// An object that could not be read into the snapshot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Skipped {
    pub key: ObjectKey,
    pub kind: String,
    pub reason: String,
}

/// Why an object was left out of the snapshot.
#[derive(Debug, thiserror::Error)]
pub enum Unreadable {
    /// Its spec (or labels) do not decode as its kind.
    #[error(transparent)]
    Decode(#[from] serde_json::Error),
    /// A route that does not read as one.
    #[error(transparent)]
    Route(#[from] RouteError),
}

fn spec_of<T: serde::de::DeserializeOwned>(value: &Value) -> Result<T, serde_json::Error> {
    serde_json::from_value(value.get("spec").cloned().unwrap_or_else(|| Value::Object(Default::default())))
}

impl Snapshot {
    /// Reads every object it knows; others are ignored, unreadable ones reported.
    pub fn from_objects(objects: impl IntoIterator<Item = Value>) -> (Self, Vec<Skipped>) {
        let mut snapshot = Self::default();
        let mut skipped = Vec::new();
        for owned in objects {
            let raw = std::sync::Arc::new(owned);
            let value: &Value = &raw;
            let meta = Meta::of(value);
            let api_version = value.get("apiVersion").and_then(Value::as_str).unwrap_or("");
            let group = api_version.rsplit_once('/').map_or("", |(g, _)| g);
            let kind = value.get("kind").and_then(Value::as_str).unwrap_or("").to_owned();
            let result: Result<(), Unreadable> = (|| {
                match (group, kind.as_str()) {
                    (GATEWAY_GROUP, "GatewayClass") => {
                        let spec = spec_of(value)?;
                        snapshot
                            .classes
                            .insert(meta.key.name.clone(), Object { meta: meta.clone(), spec, raw: raw.clone() });
                    }
                    (GATEWAY_GROUP, "Gateway") => {
                        let spec = spec_of(value)?;
                        snapshot
                            .gateways
                            .insert(meta.key.clone(), Object { meta: meta.clone(), spec, raw: raw.clone() });
                    }
                    (GATEWAY_GROUP, route) if RouteKind::from_kind(route).is_some() => {
                        let spec = AnyRoute::from_value(value)?;
                        snapshot.routes.push(Object { meta: meta.clone(), spec, raw: raw.clone() });
                    }
                    (GATEWAY_GROUP, "ListenerSet") => {
                        let spec = spec_of(value)?;
                        snapshot
                            .listener_sets
                            .insert(meta.key.clone(), Object { meta: meta.clone(), spec, raw: raw.clone() });
                    }
                    (GATEWAY_GROUP, "ReferenceGrant") => {
                        let spec = spec_of(value)?;
                        snapshot.grants.push(Object { meta: meta.clone(), spec, raw: raw.clone() });
                    }
                    ("", "Namespace") => {
                        let labels: BTreeMap<String, String> = value
                            .pointer("/metadata/labels")
                            .cloned()
                            .map(serde_json::from_value)
                            .transpose()?
                            .unwrap_or_default();
                        snapshot.namespaces.insert(meta.key.name.clone(), labels);
                    }
                    ("", "Service") => {
                        let spec = spec_of(value)?;
                        snapshot
                            .services
                            .insert(meta.key.clone(), Object { meta: meta.clone(), spec, raw: raw.clone() });
                    }
                    ("gateway.k8s.aws", "LoadBalancerConfiguration") => {
                        let spec = spec_of(value)?;
                        snapshot
                            .lb_configs
                            .insert(meta.key.clone(), Object { meta: meta.clone(), spec, raw: raw.clone() });
                    }
                    ("gateway.k8s.aws", "TargetGroupConfiguration") => {
                        let spec = spec_of(value)?;
                        snapshot
                            .tg_configs
                            .insert(meta.key.clone(), Object { meta: meta.clone(), spec, raw: raw.clone() });
                    }
                    ("gateway.k8s.aws", "ListenerRuleConfiguration") => {
                        let spec = spec_of(value)?;
                        snapshot
                            .rule_configs
                            .insert(meta.key.clone(), Object { meta: meta.clone(), spec, raw: raw.clone() });
                    }
                    _ => {}
                }
                Ok(())
            })();
            if let Err(reason) = result {
                skipped.push(Skipped { key: meta.key, kind, reason: reason.to_string() });
            }
        }
        // Deterministic whatever the input order.
        snapshot.routes.sort_by(|a, b| (a.spec.kind, &a.meta.key).cmp(&(b.spec.kind, &b.meta.key)));
        let empty = std::sync::Arc::new(Value::Null);
        snapshot.alb_problems = snapshot
            .routes
            .iter_mut()
            .map(|r| {
                let problems = crate::validate::aws::route_support(
                    r.spec.kind.as_str(),
                    &r.raw,
                    Some(&r.spec),
                    crate::validate::Flavor::Alb,
                );
                r.raw = empty.clone();
                problems
            })
            .collect();
        snapshot.grants.sort_by(|a, b| a.meta.key.cmp(&b.meta.key));
        (snapshot, skipped)
    }

    /// Labels of a namespace, with the label the API server always sets.
    pub fn namespace_labels(&self, namespace: &str) -> BTreeMap<String, String> {
        let mut labels = self.namespaces.get(namespace).cloned().unwrap_or_default();
        labels.insert("kubernetes.io/metadata.name".into(), namespace.to_owned());
        labels
    }

    /// Whether a ReferenceGrant in `to_namespace` lets `from` (group, kind, namespace) refer to
    /// `to` (group, kind, name).
    pub fn granted(&self, from: (&str, &str, &str), to_namespace: &str, to: (&str, &str, &str)) -> bool {
        self.grants.iter().filter(|g| g.meta.key.namespace == to_namespace).any(|g| {
            g.spec.from.iter().any(|f| f.group == from.0 && f.kind == from.1 && f.namespace == from.2)
                && g.spec
                    .to
                    .iter()
                    .any(|t| t.group == to.0 && t.kind == to.1 && t.name.as_deref().is_none_or(|n| n == to.2))
        })
    }
}
