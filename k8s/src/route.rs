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
    fn new(
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

    /// The parent's key, the namespace defaulting to the route's.
    pub fn key(&self, route_namespace: &str) -> ObjectKey {
        ObjectKey::new(self.namespace.clone().unwrap_or_else(|| route_namespace.to_owned()), self.name.clone())
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
