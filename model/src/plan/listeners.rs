//! Gateway listeners: which are valid on this load balancer type, which conflict, which route
//! kinds each takes.

use std::collections::BTreeMap;

use albatross_k8s::gateway_api::v1::gateways::{GatewayListeners, GatewayListenersAllowedRoutesNamespacesFrom};
use albatross_k8s::route::{GATEWAY_GROUP, RouteKind};

use crate::validate::Flavor;

/// A listener with its verdict.
#[derive(Clone, Debug)]
pub struct ListenerState {
    pub index: usize,
    pub spec: GatewayListeners,
    pub supported: Vec<RouteKind>,
    /// `(reason, message)` when the listener is not accepted.
    pub rejected: Option<(&'static str, String)>,
    pub conflicted: Option<(&'static str, String)>,
    /// `(reason, message)` when a reference (kind, certificate) does not resolve.
    pub unresolved: Option<(&'static str, String)>,
    pub attached: u32,
    /// The ListenerSet the listener comes from; `None` for the Gateway's own.
    pub origin: Option<albatross_k8s::route::ObjectKey>,
}

impl ListenerState {
    pub fn usable(&self) -> bool {
        self.rejected.is_none() && self.conflicted.is_none()
    }

    pub fn tls_mode(&self) -> &'static str {
        match self.spec.tls.as_ref().and_then(|t| t.mode.as_ref()).map(|m| format!("{m:?}")) {
            Some(m) if m == "Passthrough" => "Passthrough",
            _ => "Terminate",
        }
    }
}

fn default_kinds(protocol: &str) -> Vec<RouteKind> {
    match protocol {
        "HTTP" => vec![RouteKind::Http],
        "HTTPS" => vec![RouteKind::Http, RouteKind::Grpc],
        "TCP" => vec![RouteKind::Tcp],
        "UDP" => vec![RouteKind::Udp],
        "TLS" => vec![RouteKind::Tls, RouteKind::Tcp],
        _ => Vec::new(),
    }
}

fn valid_kinds(flavor: Flavor) -> &'static [RouteKind] {
    match flavor {
        Flavor::Alb => &[RouteKind::Http, RouteKind::Grpc],
        Flavor::Nlb => &[RouteKind::Tcp, RouteKind::Udp, RouteKind::Tls],
    }
}

pub fn evaluate(listeners: &[GatewayListeners], flavor: Flavor) -> Vec<ListenerState> {
    let protocols: &[&str] = match flavor {
        Flavor::Alb => &["HTTP", "HTTPS"],
        Flavor::Nlb => &["TCP", "UDP", "TLS"],
    };
    let mut states: Vec<ListenerState> = Vec::new();
    for (index, spec) in listeners.iter().enumerate() {
        let mut state = ListenerState {
            index,
            spec: spec.clone(),
            supported: Vec::new(),
            rejected: None,
            conflicted: None,
            unresolved: None,
            attached: 0,
            origin: None,
        };
        if !protocols.contains(&spec.protocol.as_str()) {
            state.rejected = Some((
                "UnsupportedProtocol",
                format!("protocol {} is not supported here; use one of {}", spec.protocol, protocols.join(", ")),
            ));
        }
        // Kinds: the listed ones this load balancer can serve, or the protocol's defaults.
        let listed = spec.allowed_routes.as_ref().and_then(|a| a.kinds.clone()).unwrap_or_default();
        if listed.is_empty() {
            state.supported = default_kinds(&spec.protocol);
        } else {
            let mut invalid = Vec::new();
            for k in &listed {
                let group_ok = k.group.as_deref().is_none_or(|g| g == GATEWAY_GROUP);
                match RouteKind::from_kind(&k.kind).filter(|kind| group_ok && valid_kinds(flavor).contains(kind)) {
                    Some(kind) if default_kinds(&spec.protocol).contains(&kind) => state.supported.push(kind),
                    _ => invalid.push(k.kind.clone()),
                }
            }
            state.supported.sort();
            state.supported.dedup();
            if !invalid.is_empty() {
                state.unresolved = Some((
                    "InvalidRouteKinds",
                    format!("route kinds not supported on this listener: {}", invalid.join(", ")),
                ));
            }
        }
        state.supported.retain(|k| valid_kinds(flavor).contains(k));
        // Conflicts with an earlier listener on the same port.
        for earlier in states.iter().filter(|e| e.spec.port == spec.port && e.rejected.is_none()) {
            let tcp_udp = flavor == Flavor::Nlb
                && matches!((earlier.spec.protocol.as_str(), spec.protocol.as_str()), ("TCP", "UDP") | ("UDP", "TCP"));
            if earlier.spec.protocol != spec.protocol && !tcp_udp {
                state.conflicted = Some((
                    "ProtocolConflict",
                    format!(
                        "port {} is already used with protocol {} by listener {}",
                        spec.port, earlier.spec.protocol, earlier.spec.name
                    ),
                ));
                break;
            }
            if earlier.spec.protocol == spec.protocol && earlier.spec.hostname == spec.hostname {
                state.conflicted = Some((
                    "HostnameConflict",
                    format!("listener {} already serves port {} for this hostname", earlier.spec.name, spec.port),
                ));
                break;
            }
        }
        states.push(state);
    }
    states
}

/// Whether a route in `route_namespace` may attach, per `allowedRoutes.namespaces`.
pub fn namespace_allowed(
    listener: &GatewayListeners,
    gateway_namespace: &str,
    route_namespace: &str,
    labels: &BTreeMap<String, String>,
) -> bool {
    let namespaces = listener.allowed_routes.as_ref().and_then(|a| a.namespaces.as_ref());
    match namespaces.and_then(|n| n.from.as_ref()) {
        Some(GatewayListenersAllowedRoutesNamespacesFrom::All) => true,
        Some(GatewayListenersAllowedRoutesNamespacesFrom::Selector) => {
            let Some(selector) = namespaces.and_then(|n| n.selector.as_ref()) else { return false };
            selector_matches(
                selector.match_labels.as_ref(),
                selector.match_expressions.iter().flatten().map(|e| (&e.key, &e.operator, e.values.as_deref())),
                labels,
            )
        }
        Some(GatewayListenersAllowedRoutesNamespacesFrom::Same) | None => gateway_namespace == route_namespace,
    }
}

/// A Kubernetes label selector (`matchLabels` and `matchExpressions`) over namespace labels.
/// Each selector type of the generated API has its own expression struct, hence the tuples.
pub fn selector_matches<'a>(
    match_labels: Option<&BTreeMap<String, String>>,
    expressions: impl IntoIterator<Item = (&'a String, &'a String, Option<&'a [String]>)>,
    labels: &BTreeMap<String, String>,
) -> bool {
    match_labels.into_iter().flatten().all(|(k, v)| labels.get(k) == Some(v))
        && expressions.into_iter().all(|(key, operator, values)| {
            let values = values.unwrap_or_default();
            let have = labels.get(key);
            match operator.as_str() {
                "In" => have.is_some_and(|v| values.contains(v)),
                "NotIn" => have.is_none_or(|v| !values.contains(v)),
                "Exists" => have.is_some(),
                "DoesNotExist" => have.is_none(),
                _ => false,
            }
        })
}
