//! Target groups: one per (route, Service, port), settings from TargetGroupConfigurations.

use std::collections::BTreeMap;

use albatross_k8s::aws::Attribute as AttributeSpec;
use albatross_k8s::aws::target_group_configuration::{
    HealthCheckConfig, HealthCheckMatcher, HealthCheckProtocol, ProtocolVersion, RouteIdentifier,
    TargetGroupIpAddressType, TargetGroupProps, TargetGroupProtocol, TargetType,
};
use albatross_k8s::route::{AnyRoute, ObjectKey, RouteKind};

use super::alb::enum_text as wire;
use super::attach::ResolvedBackend;
use super::env::Env;
use super::naming;
use super::snapshot::Snapshot;
use super::types::{Attribute, Backend, Matcher, TargetGroupPlan};
use super::wire::{Protocol, TargetType as WireTargetType};
use crate::validate::Flavor;

/// Overlays `high` on `low`: whole fields, except tags and attributes per key. Destructured
/// without `..`: a field added to the CRD must be merged here before the build passes.
fn merge(low: TargetGroupProps, high: &TargetGroupProps) -> TargetGroupProps {
    let TargetGroupProps {
        target_group_name,
        ip_address_type,
        health_check_config,
        node_selector,
        target_group_attributes,
        target_type,
        protocol,
        protocol_version,
        target_control_port,
        enable_multi_cluster,
        tags,
    } = high.clone();
    let tags = match (low.tags, tags) {
        (Some(mut old), Some(new)) => {
            old.extend(new);
            Some(old)
        }
        (old, new) => new.or(old),
    };
    let target_group_attributes = match (low.target_group_attributes, target_group_attributes) {
        (Some(old), Some(new)) => {
            let by_key: BTreeMap<String, AttributeSpec> =
                old.into_iter().chain(new).map(|a| (a.key.clone(), a)).collect();
            Some(by_key.into_values().collect())
        }
        (old, new) => new.or(old),
    };
    TargetGroupProps {
        target_group_name: target_group_name.or(low.target_group_name),
        ip_address_type: ip_address_type.or(low.ip_address_type),
        health_check_config: health_check_config.or(low.health_check_config),
        node_selector: node_selector.or(low.node_selector),
        target_group_attributes,
        target_type: target_type.or(low.target_type),
        protocol: protocol.or(low.protocol),
        protocol_version: protocol_version.or(low.protocol_version),
        target_control_port: target_control_port.or(low.target_control_port),
        enable_multi_cluster: enable_multi_cluster.or(low.enable_multi_cluster),
        tags,
    }
}

/// How well a route identifier matches a route: kind+namespace+name 3, kind+namespace 2, kind 1.
fn rank(id: &RouteIdentifier, route: &AnyRoute) -> Option<u8> {
    let RouteIdentifier { kind, namespace, name } = id;
    if serde_json::to_value(kind).ok()?.as_str() != Some(route.kind.as_str()) {
        return None;
    }
    match (namespace.as_deref(), name.as_deref()) {
        (Some(ns), Some(n)) if ns == route.key.namespace && n == route.key.name => Some(3),
        (Some(ns), None) if ns == route.key.namespace => Some(2),
        (None, None) => Some(1),
        _ => None,
    }
}

/// The TargetGroupProps that apply to `service` for `route`: the Gateway-wide defaults, the
/// Service's defaults, then its most specific route configuration.
pub fn props(
    snapshot: &Snapshot,
    default_config: Option<&ObjectKey>,
    service: &ObjectKey,
    route: &AnyRoute,
) -> TargetGroupProps {
    let mut merged = default_config
        .and_then(|k| snapshot.tg_configs.get(k))
        .and_then(|c| c.spec.default_configuration.clone())
        .unwrap_or_default();
    let own = snapshot.tg_configs.values().filter(|c| c.meta.key.namespace == service.namespace).find(|c| {
        c.spec
            .target_reference
            .as_ref()
            .is_some_and(|t| t.name == service.name && t.kind.as_deref().unwrap_or("Service") == "Service")
    });
    if let Some(own) = own {
        if let Some(defaults) = &own.spec.default_configuration {
            merged = merge(merged, defaults);
        }
        let mut best: Option<(u8, &TargetGroupProps)> = None;
        for rc in own.spec.route_configurations.iter().flatten() {
            let Some(r) = rank(&rc.route_identifier, route) else { continue };
            if best.is_none_or(|(b, _)| r > b) {
                best = Some((r, &rc.target_group_props));
            }
        }
        if let Some((_, p)) = best {
            merged = merge(merged, p);
        }
    }
    merged
}

pub struct TargetGroupInput<'a> {
    pub gateway: &'a ObjectKey,
    pub flavor: Flavor,
    pub route: &'a AnyRoute,
    pub backend: &'a ResolvedBackend,
    /// The ELB listener protocol it serves (`HTTPS`, `TCP_UDP`, ...).
    pub listener_protocol: &'a str,
    pub props: &'a TargetGroupProps,
}

/// LBC's resource id (`<gateway>:<route>:<kind>-<service>:<targetPort>`), plus `:<protocol or
/// version>` when the listener forces one other than the backend's own (HTTP/1.1 behind plain
/// HTTP, TCP_UDP), so that the target groups of one backend behind different listeners stay
/// distinct.
pub fn id(gateway: &ObjectKey, route: &AnyRoute, backend: &ResolvedBackend, forced: Option<&str>) -> String {
    use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
    let target_port = match &backend.port.target_port {
        Some(IntOrString::Int(n)) => n.to_string(),
        Some(IntOrString::String(s)) => s.clone(),
        None => backend.port.port.to_string(),
    };
    let base = naming::target_group_resource_id(
        (&gateway.namespace, &gateway.name),
        (&route.key.namespace, &route.key.name),
        route.kind.as_str(),
        (&backend.service.namespace, &backend.service.name),
        &target_port,
    );
    match forced {
        Some(variant) => format!("{base}:{variant}"),
        None => base,
    }
}

/// A backend no target group can reach, or a TargetGroupConfiguration field that cannot apply.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TargetGroupError {
    /// Instance targets are reached on a node port, which this Service does not have.
    #[error("Service {service} is {service_type}: instance targets need a NodePort or LoadBalancer Service")]
    NoNodePort { service: ObjectKey, service_type: String },
    /// A field that only an Application Load Balancer's target groups take.
    #[error("TargetGroupConfiguration {field}: applies only to target groups of an Application Load Balancer")]
    AlbOnly { field: &'static str },
    /// A field that needs another target type than the one in effect (possibly the default).
    #[error("TargetGroupConfiguration {field}: applies only to targetType {needs}, not {actual}")]
    TargetType { field: &'static str, needs: &'static str, actual: String },
    /// A protocol ELBv2 has no target group of (listener checks keep any from getting here).
    #[error("no ELBv2 target group protocol {protocol}")]
    Protocol { protocol: String },
    /// A user tag key under an ownership prefix ([`naming::RESERVED_TAG_PREFIXES`]).
    #[error("TargetGroupConfiguration {problem}")]
    ReservedTag { problem: String },
}

pub fn plan(env: &Env, input: &TargetGroupInput) -> Result<TargetGroupPlan, TargetGroupError> {
    let TargetGroupProps {
        target_group_name,
        ip_address_type,
        health_check_config,
        node_selector,
        target_group_attributes,
        target_type,
        protocol: wanted_protocol,
        protocol_version,
        target_control_port,
        enable_multi_cluster,
        tags,
    } = input.props;
    let target_type = match target_type {
        Some(TargetType::Instance) => WireTargetType::Instance,
        Some(TargetType::Ip) => WireTargetType::Ip,
        None => env.default_target_type,
    };
    let actual = target_type.to_string();
    if node_selector.is_some() && target_type != WireTargetType::Instance {
        return Err(TargetGroupError::TargetType { field: "nodeSelector", needs: "instance", actual });
    }
    if target_control_port.is_some() {
        if input.flavor != Flavor::Alb {
            return Err(TargetGroupError::AlbOnly { field: "targetControlPort" });
        }
        if target_type != WireTargetType::Ip {
            return Err(TargetGroupError::TargetType { field: "targetControlPort", needs: "ip", actual });
        }
    }
    if matches!(input.listener_protocol, "QUIC" | "TCP_QUIC") && target_type != WireTargetType::Ip {
        return Err(TargetGroupError::TargetType {
            field: "targetType (behind a quicEnabled listener)",
            needs: "ip",
            actual,
        });
    }
    let port = match target_type {
        WireTargetType::Instance => input.backend.port.node_port.ok_or_else(|| TargetGroupError::NoNodePort {
            service: input.backend.service.clone(),
            service_type: input.backend.service_type.clone(),
        })?,
        _ => match &input.backend.port.target_port {
            Some(k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::Int(n)) => *n,
            Some(k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::String(_)) => 1,
            None => input.backend.port.port,
        },
    };
    // What the backend asks for, then what the listener allows.
    let (protocol, version, forced) = match input.flavor {
        Flavor::Alb => {
            let protocol = match wanted_protocol {
                Some(p @ (TargetGroupProtocol::Http | TargetGroupProtocol::Https)) => wire(p),
                _ => "HTTP".into(),
            };
            let own = if let Some(v) = protocol_version {
                wire(v)
            } else if input.route.kind == RouteKind::Grpc {
                wire(&ProtocolVersion::Grpc)
            } else if input.backend.port.app_protocol.as_deref() == Some("kubernetes.io/h2c") {
                wire(&ProtocolVersion::Http2)
            } else {
                wire(&ProtocolVersion::Http1)
            };
            // ALB speaks HTTP/2 to clients over TLS only.
            let version = if input.listener_protocol == "HTTPS" { own.clone() } else { wire(&ProtocolVersion::Http1) };
            let forced = (version != own).then(|| version.clone());
            (protocol, Some(version), forced)
        }
        Flavor::Nlb => {
            let own = wanted_protocol.as_ref().map(wire).unwrap_or_else(|| {
                match (input.route.kind, input.listener_protocol) {
                    (RouteKind::Udp, _) => "UDP".into(),
                    // Passthrough TLS reaches targets as plain TCP; only a TLS listener re-encrypts.
                    (RouteKind::Tls, "TLS") => "TLS".into(),
                    _ => "TCP".into(),
                }
            });
            let protocol = match input.listener_protocol {
                p @ ("TCP_UDP" | "QUIC" | "TCP_QUIC") => p.to_owned(),
                _ => own.clone(),
            };
            let forced = (protocol != own).then(|| protocol.clone());
            (protocol, None, forced)
        }
    };
    let HealthCheckConfig {
        healthy_threshold_count,
        health_check_interval,
        health_check_path,
        health_check_port,
        health_check_protocol,
        health_check_timeout,
        unhealthy_threshold_count,
        matcher,
    } = health_check_config.clone().unwrap_or_default();
    let grpc = version.as_deref() == Some("GRPC");
    let hc_protocol = health_check_protocol.as_ref().map(wire).unwrap_or_else(|| match input.flavor {
        Flavor::Alb => protocol.clone(),
        Flavor::Nlb => wire(&HealthCheckProtocol::Tcp),
    });
    let http_check = hc_protocol == "HTTP" || hc_protocol == "HTTPS";
    let matcher = http_check.then(|| {
        let HealthCheckMatcher { http_code, grpc_code } = matcher.unwrap_or_default();
        match (http_code, grpc_code) {
            (Some(code), _) => Matcher { http_code: Some(code), grpc_code: None },
            (None, Some(code)) => Matcher { http_code: None, grpc_code: Some(code) },
            (None, None) if grpc => Matcher { http_code: None, grpc_code: Some("12".into()) },
            (None, None) => Matcher { http_code: Some("200-399".into()), grpc_code: None },
        }
    });
    let id = id(input.gateway, input.route, input.backend, forced.as_deref());
    let gateway = input.gateway.to_string();
    // Immutable in ELBv2: a new control port is a new target group, so a new name.
    let name = target_group_name.clone().unwrap_or_else(|| {
        naming::target_group_name(
            &env.cluster_name,
            &naming::TargetGroupNameParts {
                gateway_namespace: &input.gateway.namespace,
                gateway_name: &input.gateway.name,
                route_namespace: &input.route.key.namespace,
                route_name: &input.route.key.name,
                route_kind: input.route.kind.as_str(),
                service_namespace: &input.backend.service.namespace,
                service_name: &input.backend.service.name,
                port,
                target_type: target_type.as_str(),
                protocol: &protocol,
                protocol_version: version.as_deref(),
                target_control_port: *target_control_port,
            },
        )
    });
    let user_tags = tags.clone().unwrap_or_default();
    if let Some(problem) = naming::reserved_tag(user_tags.keys()) {
        return Err(TargetGroupError::ReservedTag { problem });
    }
    let mut attributes: Vec<Attribute> = target_group_attributes
        .iter()
        .flatten()
        .map(|a| Attribute { key: a.key.clone(), value: a.value.clone() })
        .collect();
    attributes.sort();
    let protocol = Protocol::from_wire(&protocol).ok_or(TargetGroupError::Protocol { protocol })?;
    Ok(TargetGroupPlan {
        tags: naming::tags(&env.cluster_name, input.flavor == Flavor::Alb, &gateway, &id, &user_tags),
        id,
        target_group_name: name,
        protocol,
        protocol_version: version,
        port,
        target_type,
        ip_address_type: ip_address_type.map(|t: TargetGroupIpAddressType| wire(&t)),
        target_control_port: *target_control_port,
        health_check_port: health_check_port.unwrap_or_else(|| "traffic-port".into()),
        health_check_path: http_check.then(|| {
            health_check_path.unwrap_or_else(|| if grpc { "/AWS.ALB/healthcheck".into() } else { "/".into() })
        }),
        health_check_protocol: hc_protocol,
        health_check_interval_seconds: health_check_interval.unwrap_or(15),
        health_check_timeout_seconds: health_check_timeout.unwrap_or(5),
        healthy_threshold_count: healthy_threshold_count.unwrap_or(3),
        unhealthy_threshold_count: unhealthy_threshold_count.unwrap_or(3),
        matcher,
        attributes,
        backend: Backend {
            namespace: input.backend.service.namespace.clone(),
            name: input.backend.service.name.clone(),
            port: input.backend.port.port,
            node_selector: node_selector.clone(),
            multi_cluster: enable_multi_cluster.unwrap_or(false),
        },
    })
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::core::v1::ServicePort;
    use serde_json::{Value, json};

    use super::*;

    fn route() -> AnyRoute {
        AnyRoute::from_value(&json!({
            "apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
            "metadata": {"name": "r", "namespace": "ns"}, "spec": {}
        }))
        .unwrap()
    }

    fn backend(app_protocol: Option<&str>) -> ResolvedBackend {
        ResolvedBackend {
            service: ObjectKey::new("ns", "svc"),
            port: ServicePort {
                port: 80,
                node_port: Some(30080),
                app_protocol: app_protocol.map(str::to_owned),
                ..ServicePort::default()
            },
            weight: 1,
            service_type: "NodePort".into(),
        }
    }

    fn planned_on(
        flavor: Flavor,
        listener: &str,
        backend: &ResolvedBackend,
        props: Value,
    ) -> Result<TargetGroupPlan, TargetGroupError> {
        let (route, gateway) = (route(), ObjectKey::new("ns", "gw"));
        let props: TargetGroupProps = serde_json::from_value(props).expect("valid TargetGroupProps");
        let input = TargetGroupInput {
            gateway: &gateway,
            flavor,
            route: &route,
            backend,
            listener_protocol: listener,
            props: &props,
        };
        plan(&Env::default(), &input)
    }

    fn planned(listener: &str, backend: &ResolvedBackend, props: Value) -> Result<TargetGroupPlan, TargetGroupError> {
        planned_on(Flavor::Alb, listener, backend, props)
    }

    #[test]
    fn a_backend_behind_http_and_https_gets_two_target_groups_when_versions_differ() {
        let h2c = backend(Some("kubernetes.io/h2c"));
        let https = planned("HTTPS", &h2c, json!({})).unwrap();
        let http = planned("HTTP", &h2c, json!({})).unwrap();
        assert_eq!(
            (https.id.as_str(), https.protocol_version.as_deref()),
            ("ns/gw:ns-r:HTTPRoute-ns-svc:80", Some("HTTP2"))
        );
        assert_eq!(
            (http.id.as_str(), http.protocol_version.as_deref()),
            ("ns/gw:ns-r:HTTPRoute-ns-svc:80:HTTP1", Some("HTTP1"))
        );
        // Plain HTTP/1.1 backends are the same target group behind either listener.
        assert_eq!(planned("HTTP", &backend(None), json!({})).unwrap().id, "ns/gw:ns-r:HTTPRoute-ns-svc:80");
    }

    /// LBC keys a target group by the Service's targetPort and names it by the port it sends to.
    #[test]
    fn ip_targets_are_keyed_and_named_by_the_target_port() {
        let mut b = backend(None);
        b.port.target_port = Some(k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::Int(8080));
        let tg = planned("HTTP", &b, json!({})).unwrap();
        assert_eq!((tg.id.as_str(), tg.port), ("ns/gw:ns-r:HTTPRoute-ns-svc:8080", 8080));
        let parts = naming::TargetGroupNameParts {
            gateway_namespace: "ns",
            gateway_name: "gw",
            route_namespace: "ns",
            route_name: "r",
            route_kind: "HTTPRoute",
            service_namespace: "ns",
            service_name: "svc",
            port: 8080,
            target_type: "ip",
            protocol: "HTTP",
            protocol_version: Some("HTTP1"),
            target_control_port: None,
        };
        assert_eq!(tg.target_group_name, naming::target_group_name(&Env::default().cluster_name, &parts));
    }

    #[test]
    fn instance_targets_need_a_node_port() {
        let mut cluster_ip = backend(None);
        cluster_ip.port.node_port = None;
        let err = planned("HTTP", &cluster_ip, json!({"targetType": "instance"})).unwrap_err();
        assert!(matches!(err, TargetGroupError::NoNodePort { .. }), "{err}");
    }

    #[test]
    fn target_control_port_is_planned_and_renames_the_target_group() {
        let plain = planned("HTTP", &backend(None), json!({})).unwrap();
        let controlled = planned("HTTP", &backend(None), json!({"targetControlPort": 9000})).unwrap();
        assert_eq!((plain.target_control_port, controlled.target_control_port), (None, Some(9000)));
        assert_eq!(plain.id, controlled.id, "the same stack resource");
        assert_ne!(plain.target_group_name, controlled.target_group_name, "an immutable change is a new group");
        let other = planned("HTTP", &backend(None), json!({"targetControlPort": 9001})).unwrap();
        assert_ne!(controlled.target_group_name, other.target_group_name);
    }

    #[test]
    fn target_control_port_is_refused_where_elbv2_cannot_take_it() {
        let nlb = planned_on(Flavor::Nlb, "TCP", &backend(None), json!({"targetControlPort": 9000})).unwrap_err();
        assert_eq!(nlb, TargetGroupError::AlbOnly { field: "targetControlPort" });
        assert!(nlb.to_string().contains("targetControlPort"), "{nlb}");
        let instance = planned("HTTP", &backend(None), json!({"targetControlPort": 9000, "targetType": "instance"}));
        assert!(
            matches!(instance, Err(TargetGroupError::TargetType { field: "targetControlPort", .. })),
            "{instance:?}"
        );
    }

    #[test]
    fn node_selector_and_multi_cluster_reach_the_backend() {
        let selector = json!({"matchLabels": {"pool": "edge"}});
        let tg = planned(
            "HTTP",
            &backend(None),
            json!({"targetType": "instance", "nodeSelector": selector, "enableMultiCluster": true}),
        )
        .unwrap();
        assert_eq!(serde_json::to_value(&tg.backend.node_selector).unwrap(), selector);
        assert!(tg.backend.multi_cluster);
        let json = serde_json::to_value(&tg).unwrap();
        assert_eq!(json["Backend"]["nodeSelector"], selector, "the plan shows it");
        assert_eq!(json["Backend"]["multiCluster"], true);
        // ip targets (the default here) have no nodes to select.
        let err = planned("HTTP", &backend(None), json!({"nodeSelector": selector})).unwrap_err();
        assert!(matches!(err, TargetGroupError::TargetType { field: "nodeSelector", .. }), "{err}");
    }

    #[test]
    fn route_configurations_merge_over_defaults_per_key() {
        let low: TargetGroupProps = serde_json::from_value(json!({
            "tags": {"a": "1", "b": "1"}, "targetGroupAttributes": [{"key": "x", "value": "1"}],
            "targetControlPort": 9000, "enableMultiCluster": true
        }))
        .unwrap();
        let high: TargetGroupProps = serde_json::from_value(json!({
            "tags": {"b": "2"}, "targetGroupAttributes": [{"key": "x", "value": "2"}, {"key": "y", "value": "3"}],
            "targetControlPort": 9001
        }))
        .unwrap();
        let merged = serde_json::to_value(merge(low, &high)).unwrap();
        assert_eq!(
            merged,
            json!({"tags": {"a": "1", "b": "2"},
                   "targetGroupAttributes": [{"key": "x", "value": "2"}, {"key": "y", "value": "3"}],
                   "targetControlPort": 9001, "enableMultiCluster": true})
        );
    }
}
