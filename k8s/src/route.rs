//! One view over the five route kinds, so attachment, precedence and planning are written once.
//!
//! Every served version of a route kind has the same field layout, so the v1 types read them all.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::gateway_api::v1::{grpcroutes, httproutes, tcproutes, tlsroutes, udproutes};

pub const GATEWAY_GROUP: &str = "gateway.networking.k8s.io";

/// `namespace/name` of a namespaced object.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ObjectKey {
    pub namespace: String,
    pub name: String,
}

impl ObjectKey {
    pub fn new(namespace: impl Into<String>, name: impl Into<String>) -> Self {
        Self { namespace: namespace.into(), name: name.into() }
    }
}

impl std::fmt::Display for ObjectKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.namespace, self.name)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RouteKind {
    Http,
    Grpc,
    Tcp,
    Udp,
    Tls,
}

impl RouteKind {
    /// Every route kind, in the order status and metrics list them.
    pub const ALL: [RouteKind; 5] = [Self::Http, Self::Grpc, Self::Tcp, Self::Udp, Self::Tls];

    pub fn from_kind(kind: &str) -> Option<Self> {
        Some(match kind {
            "HTTPRoute" => Self::Http,
            "GRPCRoute" => Self::Grpc,
            "TCPRoute" => Self::Tcp,
            "UDPRoute" => Self::Udp,
            "TLSRoute" => Self::Tls,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Http => "HTTPRoute",
            Self::Grpc => "GRPCRoute",
            Self::Tcp => "TCPRoute",
            Self::Udp => "UDPRoute",
            Self::Tls => "TLSRoute",
        }
    }
}

/// A route's reference to its parent, defaults applied.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ParentRef {
    pub group: String,
    pub kind: String,
    pub namespace: Option<String>,
    pub name: String,
    pub section_name: Option<String>,
    pub port: Option<i32>,
}

impl ParentRef {
    /// The one place parentRef defaults are applied: group `gateway.networking.k8s.io`, kind
    /// `Gateway` (the namespace defaults to the route's in [`ParentRef::key`]).
    pub fn new(
        group: Option<String>,
        kind: Option<String>,
        namespace: Option<String>,
        name: String,
        section_name: Option<String>,
        port: Option<i32>,
    ) -> Self {
        Self {
            group: group.unwrap_or_else(|| GATEWAY_GROUP.into()),
            kind: kind.unwrap_or_else(|| "Gateway".into()),
            namespace,
            name,
            section_name,
            port,
        }
    }

    /// A parentRef as JSON (a route's `spec.parentRefs[]`, a ListenerSet's `spec.parentRef`, a
    /// status entry's `parentRef`), defaults applied; `None` without a name.
    pub fn from_json(value: &Value) -> Option<Self> {
        let text = |k: &str| value.get(k).and_then(Value::as_str).map(str::to_owned);
        let port = value.get("port").and_then(Value::as_i64).and_then(|p| i32::try_from(p).ok());
        Some(Self::new(text("group"), text("kind"), text("namespace"), text("name")?, text("sectionName"), port))
    }

    /// The `parentRefs` of a route as JSON, in order; `None` for an entry without a name.
    pub fn all_of(route: &Value) -> impl Iterator<Item = Option<Self>> + '_ {
        let refs = route.get("spec").and_then(|s| s.get("parentRefs")).and_then(Value::as_array);
        refs.into_iter().flatten().map(Self::from_json)
    }

    /// Whether it names a Gateway of the Gateway API.
    pub fn is_gateway(&self) -> bool {
        self.group == GATEWAY_GROUP && self.kind == "Gateway"
    }

    /// Whether it names a ListenerSet of the Gateway API.
    pub fn is_listener_set(&self) -> bool {
        self.group == GATEWAY_GROUP && self.kind == "ListenerSet"
    }

    /// The parent's key, the namespace defaulting to the route's.
    pub fn key(&self, route_namespace: &str) -> ObjectKey {
        ObjectKey::new(self.namespace.clone().unwrap_or_else(|| route_namespace.to_owned()), self.name.clone())
    }

    /// With the namespace defaulted to the route's: two references name the same parent, section
    /// and port exactly when these are equal.
    pub fn resolved(&self, route_namespace: &str) -> Self {
        Self { namespace: Some(self.namespace.clone().unwrap_or_else(|| route_namespace.to_owned())), ..self.clone() }
    }
}

/// A route's reference to a backend, defaults applied.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct BackendRef {
    pub group: String,
    pub kind: String,
    pub namespace: Option<String>,
    pub name: String,
    pub port: Option<i32>,
    pub weight: i32,
}

impl BackendRef {
    fn new(
        group: Option<String>,
        kind: Option<String>,
        namespace: Option<String>,
        name: String,
        port: Option<i32>,
        weight: Option<i32>,
    ) -> Self {
        Self {
            group: group.unwrap_or_default(),
            kind: kind.unwrap_or_else(|| "Service".into()),
            namespace,
            name,
            port,
            weight: weight.unwrap_or(1),
        }
    }

    pub fn key(&self, route_namespace: &str) -> ObjectKey {
        ObjectKey::new(self.namespace.clone().unwrap_or_else(|| route_namespace.to_owned()), self.name.clone())
    }

    /// A backendRef as JSON, defaults applied as the typed decode applies them; `None` without
    /// a name.
    pub fn from_json(value: &Value) -> Option<Self> {
        let text = |k: &str| value.get(k).and_then(Value::as_str).map(str::to_owned);
        let int = |k: &str| value.get(k).and_then(Value::as_i64).and_then(|p| i32::try_from(p).ok());
        Some(Self::new(text("group"), text("kind"), text("namespace"), text("name")?, int("port"), int("weight")))
    }

    /// Whether it names a core Service (the only backend kind resolved).
    pub fn is_service(&self) -> bool {
        self.group.is_empty() && self.kind == "Service"
    }
}

thread_local! {
    static DECODES: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// Typed route decodes ([`AnyRoute::from_value`]) made on this thread so far: tests count them
/// per change, so that a second decode of the same route does not creep back in.
pub fn decodes_on_this_thread() -> u64 {
    DECODES.with(std::cell::Cell::get)
}

#[derive(Clone, Debug, PartialEq)]
pub enum RouteMatch {
    Http(httproutes::HttpRouteRulesMatches),
    Grpc(grpcroutes::GrpcRouteRulesMatches),
}

#[derive(Clone, Debug, PartialEq)]
pub enum RouteFilter {
    Http(Box<httproutes::HttpRouteRulesFilters>),
    Grpc(Box<grpcroutes::GrpcRouteRulesFilters>),
}

impl RouteFilter {
    /// The filter's `type` as written.
    pub fn type_name(&self) -> String {
        let value = match self {
            Self::Http(f) => serde_json::to_value(&f.r#type),
            Self::Grpc(f) => serde_json::to_value(&f.r#type),
        };
        value.ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default()
    }

    /// `(group, kind, name)` of an ExtensionRef filter.
    pub fn extension_ref(&self) -> Option<(String, String, String)> {
        match self {
            Self::Http(f) => f.extension_ref.as_ref().map(|e| (e.group.clone(), e.kind.clone(), e.name.clone())),
            Self::Grpc(f) => f.extension_ref.as_ref().map(|e| (e.group.clone(), e.kind.clone(), e.name.clone())),
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct RouteRule {
    pub name: Option<String>,
    pub matches: Vec<RouteMatch>,
    pub filters: Vec<RouteFilter>,
    pub backend_refs: Vec<BackendRef>,
}

/// Any route kind, reduced to what attachment and planning read.
#[derive(Clone, Debug, PartialEq)]
pub struct AnyRoute {
    pub kind: RouteKind,
    pub api_version: String,
    pub key: ObjectKey,
    pub generation: Option<i64>,
    /// RFC 3339, so it sorts as text; empty when unknown (offline input).
    pub created: String,
    pub hostnames: Vec<String>,
    pub parent_refs: Vec<ParentRef>,
    pub rules: Vec<RouteRule>,
}

#[derive(Debug, thiserror::Error)]
pub enum RouteError {
    /// The object is not one of the five route kinds.
    #[error("not a route kind: {0}")]
    NotARoute(String),
    /// The object does not decode as its route kind.
    #[error("{kind}: {source}")]
    Decode { kind: &'static str, source: serde_json::Error },
}

/// Every route kind's generated parentRef type has the same fields.
macro_rules! parent_refs {
    ($refs:expr) => {
        $refs
            .unwrap_or_default()
            .into_iter()
            .map(|p| ParentRef::new(p.group, p.kind, p.namespace, p.name, p.section_name, p.port))
            .collect()
    };
}

/// Every route kind's generated backendRef type has the same fields.
macro_rules! backend_ref {
    ($b:expr) => {{
        let b = $b;
        BackendRef::new(b.group, b.kind, b.namespace, b.name, b.port, b.weight)
    }};
}

fn decode<T: serde::de::DeserializeOwned>(kind: RouteKind, value: &Value) -> Result<T, RouteError> {
    serde_json::from_value(value.clone()).map_err(|source| RouteError::Decode { kind: kind.as_str(), source })
}

impl AnyRoute {
    pub fn from_value(value: &Value) -> Result<Self, RouteError> {
        DECODES.with(|d| d.set(d.get() + 1));
        let kind_text = value.get("kind").and_then(Value::as_str).unwrap_or("");
        let kind = RouteKind::from_kind(kind_text).ok_or_else(|| RouteError::NotARoute(kind_text.to_owned()))?;
        let meta = value.get("metadata").cloned().unwrap_or(Value::Null);
        let key = ObjectKey::new(
            meta.get("namespace").and_then(Value::as_str).unwrap_or("default"),
            meta.get("name").and_then(Value::as_str).unwrap_or(""),
        );
        let mut route = Self {
            kind,
            api_version: value.get("apiVersion").and_then(Value::as_str).unwrap_or("").to_owned(),
            key,
            generation: meta.get("generation").and_then(Value::as_i64).or(Some(1)),
            created: meta.get("creationTimestamp").and_then(Value::as_str).unwrap_or("").to_owned(),
            hostnames: Vec::new(),
            parent_refs: Vec::new(),
            rules: Vec::new(),
        };
        let spec = value.get("spec").cloned().unwrap_or_else(|| Value::Object(Default::default()));
        match kind {
            RouteKind::Http => {
                let spec: httproutes::HttpRouteSpec = decode(kind, &spec)?;
                route.hostnames = spec.hostnames.unwrap_or_default();
                route.parent_refs = parent_refs!(spec.parent_refs);
                route.rules = spec
                    .rules
                    .unwrap_or_default()
                    .into_iter()
                    .map(|r| RouteRule {
                        name: r.name,
                        matches: r.matches.unwrap_or_default().into_iter().map(RouteMatch::Http).collect(),
                        filters: r
                            .filters
                            .unwrap_or_default()
                            .into_iter()
                            .map(|f| RouteFilter::Http(Box::new(f)))
                            .collect(),
                        backend_refs: r.backend_refs.unwrap_or_default().into_iter().map(|b| backend_ref!(b)).collect(),
                    })
                    .collect();
            }
            RouteKind::Grpc => {
                let spec: grpcroutes::GrpcRouteSpec = decode(kind, &spec)?;
                route.hostnames = spec.hostnames.unwrap_or_default();
                route.parent_refs = parent_refs!(spec.parent_refs);
                route.rules = spec
                    .rules
                    .unwrap_or_default()
                    .into_iter()
                    .map(|r| RouteRule {
                        name: r.name,
                        matches: r.matches.unwrap_or_default().into_iter().map(RouteMatch::Grpc).collect(),
                        filters: r
                            .filters
                            .unwrap_or_default()
                            .into_iter()
                            .map(|f| RouteFilter::Grpc(Box::new(f)))
                            .collect(),
                        backend_refs: r.backend_refs.unwrap_or_default().into_iter().map(|b| backend_ref!(b)).collect(),
                    })
                    .collect();
            }
            RouteKind::Tcp => {
                let spec: tcproutes::TcpRouteSpec = decode(kind, &spec)?;
                route.parent_refs = parent_refs!(spec.parent_refs);
                route.rules = spec
                    .rules
                    .into_iter()
                    .map(|r| l4_rule(r.name, r.backend_refs.into_iter().map(|b| backend_ref!(b))))
                    .collect();
            }
            RouteKind::Udp => {
                let spec: udproutes::UdpRouteSpec = decode(kind, &spec)?;
                route.parent_refs = parent_refs!(spec.parent_refs);
                route.rules = spec
                    .rules
                    .into_iter()
                    .map(|r| l4_rule(r.name, r.backend_refs.into_iter().map(|b| backend_ref!(b))))
                    .collect();
            }
            RouteKind::Tls => {
                // v1alpha2 does not require hostnames; v1 does.
                let mut spec = spec;
                if let Some(map) = spec.as_object_mut() {
                    map.entry("hostnames").or_insert_with(|| Value::Array(Vec::new()));
                }
                let spec: tlsroutes::TlsRouteSpec = decode(kind, &spec)?;
                route.hostnames = spec.hostnames;
                route.parent_refs = parent_refs!(spec.parent_refs);
                route.rules = spec
                    .rules
                    .into_iter()
                    .map(|r| l4_rule(r.name, r.backend_refs.into_iter().map(|b| backend_ref!(b))))
                    .collect();
            }
        }
        Ok(route)
    }
}

fn l4_rule(name: Option<String>, backends: impl Iterator<Item = BackendRef>) -> RouteRule {
    RouteRule { name, matches: Vec::new(), filters: Vec::new(), backend_refs: backends.collect() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn route(parents: Value) -> Value {
        json!({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
               "metadata": {"name": "r", "namespace": "apps"}, "spec": {"parentRefs": parents}})
    }

    #[test]
    fn parent_ref_defaults_group_kind_and_namespace_once() {
        let bare = ParentRef::from_json(&json!({"name": "gw"})).unwrap();
        assert_eq!((bare.group.as_str(), bare.kind.as_str()), (GATEWAY_GROUP, "Gateway"));
        assert!(bare.is_gateway() && !bare.is_listener_set());
        assert_eq!(bare.namespace, None);
        assert_eq!(bare.key("apps"), ObjectKey::new("apps", "gw"));
        assert_eq!(bare.resolved("apps").namespace.as_deref(), Some("apps"));
        // Written out in full, it is the same parent.
        let full = json!({"group": GATEWAY_GROUP, "kind": "Gateway", "namespace": "apps", "name": "gw"});
        assert_eq!(ParentRef::from_json(&full).unwrap().resolved("apps"), bare.resolved("apps"));
        // An explicit namespace wins over the route's.
        let other = ParentRef::from_json(&json!({"name": "gw", "namespace": "infra"})).unwrap();
        assert_eq!(other.key("apps"), ObjectKey::new("infra", "gw"));
        assert_ne!(other.resolved("apps"), bare.resolved("apps"));
    }

    #[test]
    fn parent_ref_keeps_section_port_and_foreign_groups_apart() {
        let section = ParentRef::from_json(&json!({"name": "gw", "sectionName": "https", "port": 443})).unwrap();
        assert_eq!((section.section_name.as_deref(), section.port), (Some("https"), Some(443)));
        let bare = ParentRef::from_json(&json!({"name": "gw"})).unwrap();
        assert_ne!(section.resolved("apps"), bare.resolved("apps"), "a section is a different parent entry");
        let set = ParentRef::from_json(&json!({"kind": "ListenerSet", "name": "ls"})).unwrap();
        assert!(set.is_listener_set() && !set.is_gateway());
        // An empty group is the core group, not the default one.
        let core = ParentRef::from_json(&json!({"group": "", "kind": "Gateway", "name": "gw"})).unwrap();
        assert!(!core.is_gateway());
        let foreign = ParentRef::from_json(&json!({"group": "example.com", "kind": "Gateway", "name": "gw"})).unwrap();
        assert!(!foreign.is_gateway());
        assert_eq!(ParentRef::from_json(&json!({"namespace": "apps"})), None, "a name is required");
        assert_eq!(ParentRef::from_json(&json!({"name": "gw", "port": 1_i64 << 40})).unwrap().port, None);
    }

    #[test]
    fn the_json_and_the_typed_decode_default_alike() {
        let parents = json!([{"name": "a"}, {"kind": "ListenerSet", "name": "ls", "namespace": "x"},
                             {"name": "b", "sectionName": "http", "port": 80}, {"group": "", "name": "c"}]);
        let value = route(parents);
        let from_json: Vec<ParentRef> = ParentRef::all_of(&value).map(Option::unwrap).collect();
        assert_eq!(from_json, AnyRoute::from_value(&value).unwrap().parent_refs);
        assert_eq!(ParentRef::all_of(&route(json!([{"sectionName": "x"}]))).collect::<Vec<_>>(), vec![None]);
    }

    #[test]
    fn route_kinds_round_trip_their_names() {
        for kind in RouteKind::ALL {
            assert_eq!(RouteKind::from_kind(kind.as_str()), Some(kind));
        }
        assert_eq!(RouteKind::from_kind("Gateway"), None);
    }
}
