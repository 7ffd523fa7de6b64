//! Target groups: one per (route, Service, port), settings from TargetGroupConfigurations.

use albatross_k8s::route::{AnyRoute, ObjectKey, RouteKind};
use serde_json::{Map, Value};

use super::attach::ResolvedBackend;
use super::env::Env;
use super::naming;
use super::snapshot::Snapshot;
use super::types::{Attribute, Backend, Matcher, TargetGroupPlan};
use crate::validate::Flavor;

/// Overlays `high` on `low`: whole top-level fields, except tags and attributes per key.
fn merge(low: &Value, high: &Value) -> Value {
    let mut out = low.as_object().cloned().unwrap_or_default();
    for (key, value) in high.as_object().into_iter().flatten() {
        match (key.as_str(), out.get(key)) {
            ("tags", Some(Value::Object(old))) => {
                let mut tags = old.clone();
                tags.extend(value.as_object().cloned().unwrap_or_default());
                out.insert(key.clone(), Value::Object(tags));
            }
            ("targetGroupAttributes", Some(Value::Array(old))) => {
                let mut by_key: std::collections::BTreeMap<String, Value> = old
                    .iter()
                    .chain(value.as_array().into_iter().flatten())
                    .map(|a| (a.get("key").and_then(Value::as_str).unwrap_or("").to_owned(), a.clone()))
                    .collect();
                out.insert(key.clone(), Value::Array(std::mem::take(&mut by_key).into_values().collect()));
            }
            _ => {
                out.insert(key.clone(), value.clone());
            }
        }
    }
    Value::Object(out)
}

/// The TargetGroupProps that apply to `service` for `route`, as JSON.
pub fn props(snapshot: &Snapshot, default_config: Option<&ObjectKey>, service: &ObjectKey, route: &AnyRoute) -> Value {
    let to_value = |v: &Option<albatross_k8s::aws::target_group_configuration::TargetGroupProps>| {
        v.as_ref().and_then(|p| serde_json::to_value(p).ok()).unwrap_or(Value::Null)
    };
    let mut merged = default_config
        .and_then(|k| snapshot.tg_configs.get(k))
        .map(|c| to_value(&c.spec.default_configuration))
        .unwrap_or(Value::Object(Map::new()));
    let own = snapshot.tg_configs.values().filter(|c| c.meta.key.namespace == service.namespace).find(|c| {
        c.spec
            .target_reference
            .as_ref()
            .is_some_and(|t| t.name == service.name && t.kind.as_deref().unwrap_or("Service") == "Service")
    });
    if let Some(own) = own {
        merged = merge(&merged, &to_value(&own.spec.default_configuration));
        // Most specific route identifier wins: kind+namespace+name, then kind+namespace, then kind.
        let kind = route.kind.as_str();
        let mut best: Option<(u8, Value)> = None;
        for rc in own.spec.route_configurations.iter().flatten() {
            let id = serde_json::to_value(&rc.route_identifier).unwrap_or(Value::Null);
            let get = |k: &str| id.get(k).and_then(Value::as_str);
            if get("kind").is_some_and(|k| k != kind) {
                continue;
            }
            let rank = match (get("namespace"), get("name")) {
                (Some(ns), Some(n)) if ns == route.key.namespace && n == route.key.name => 3,
                (Some(ns), None) if ns == route.key.namespace => 2,
                (None, None) => 1,
                _ => continue,
            };
            if best.as_ref().is_none_or(|(r, _)| rank > *r) {
                best = Some((rank, serde_json::to_value(&rc.target_group_props).unwrap_or(Value::Null)));
            }
        }
        if let Some((_, p)) = best {
            merged = merge(&merged, &p);
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
    pub props: &'a Value,
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

/// A backend no target group can reach.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TargetGroupError {
    /// Instance targets are reached on a node port, which this Service does not have.
    #[error("Service {service} is {service_type}: instance targets need a NodePort or LoadBalancer Service")]
    NoNodePort { service: ObjectKey, service_type: String },
}

pub fn plan(env: &Env, input: &TargetGroupInput) -> Result<TargetGroupPlan, TargetGroupError> {
    let p = input.props;
    let text = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).map(str::to_owned);
    let int = |v: &Value, k: &str| v.get(k).and_then(Value::as_i64).map(|n| n as i32);
    let target_type = text(p, "targetType").unwrap_or_else(|| env.default_target_type.clone());
    let port = match target_type.as_str() {
        "instance" => input.backend.port.node_port.ok_or_else(|| TargetGroupError::NoNodePort {
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
            let protocol = text(p, "protocol").filter(|x| x == "HTTP" || x == "HTTPS").unwrap_or_else(|| "HTTP".into());
            let own = if let Some(v) = text(p, "protocolVersion") {
                v
            } else if input.route.kind == RouteKind::Grpc {
                "GRPC".into()
            } else if input.backend.port.app_protocol.as_deref() == Some("kubernetes.io/h2c") {
                "HTTP2".into()
            } else {
                "HTTP1".into()
            };
            // ALB speaks HTTP/2 to clients over TLS only.
            let version = if input.listener_protocol == "HTTPS" { own.clone() } else { "HTTP1".to_owned() };
            let forced = (version != own).then(|| version.clone());
            (protocol, Some(version), forced)
        }
        Flavor::Nlb => {
            let own = text(p, "protocol").unwrap_or_else(|| {
                match (input.route.kind, input.listener_protocol) {
                    (RouteKind::Udp, _) => "UDP".into(),
                    // Passthrough TLS reaches targets as plain TCP; only a TLS listener re-encrypts.
                    (RouteKind::Tls, "TLS") => "TLS".into(),
                    _ => "TCP".into(),
                }
            });
            let protocol = if input.listener_protocol == "TCP_UDP" { "TCP_UDP".to_owned() } else { own.clone() };
            let forced = (protocol != own).then(|| protocol.clone());
            (protocol, None, forced)
        }
    };
    let hc = p.get("healthCheckConfig").cloned().unwrap_or(Value::Null);
    let grpc = version.as_deref() == Some("GRPC");
    let hc_protocol = text(&hc, "healthCheckProtocol").unwrap_or_else(|| match input.flavor {
        Flavor::Alb => protocol.clone(),
        Flavor::Nlb => "TCP".into(),
    });
    let http_check = hc_protocol == "HTTP" || hc_protocol == "HTTPS";
    let matcher = http_check.then(|| {
        let m = hc.get("matcher").cloned().unwrap_or(Value::Null);
        match (text(&m, "httpCode"), text(&m, "grpcCode")) {
            (Some(code), _) => Matcher { http_code: Some(code), grpc_code: None },
            (None, Some(code)) => Matcher { http_code: None, grpc_code: Some(code) },
            (None, None) if grpc => Matcher { http_code: None, grpc_code: Some("12".into()) },
            (None, None) => Matcher { http_code: Some("200-399".into()), grpc_code: None },
        }
    });
    let id = id(input.gateway, input.route, input.backend, forced.as_deref());
    let name = text(p, "targetGroupName").unwrap_or_else(|| {
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
                target_type: &target_type,
                protocol: &protocol,
                protocol_version: version.as_deref(),
                target_control_port: None,
            },
        )
    });
    let user_tags = p
        .get("tags")
        .and_then(Value::as_object)
        .map(|m| m.iter().map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_owned())).collect())
        .unwrap_or_default();
    let mut attributes: Vec<Attribute> = p
        .get("targetGroupAttributes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|a| Attribute { key: text(a, "key").unwrap_or_default(), value: text(a, "value").unwrap_or_default() })
        .collect();
    attributes.sort();
    Ok(TargetGroupPlan {
        tags: naming::tags(&env.cluster_name, input.flavor == Flavor::Alb, &input.gateway.to_string(), &id, &user_tags),
        id,
        target_group_name: name,
        protocol,
        protocol_version: version,
        port,
        target_type,
        health_check_port: text(&hc, "healthCheckPort").unwrap_or_else(|| "traffic-port".into()),
        health_check_path: http_check.then(|| {
            text(&hc, "healthCheckPath")
                .unwrap_or_else(|| if grpc { "/AWS.ALB/healthcheck".into() } else { "/".into() })
        }),
        health_check_protocol: hc_protocol,
        health_check_interval_seconds: int(&hc, "healthCheckInterval").unwrap_or(15),
        health_check_timeout_seconds: int(&hc, "healthCheckTimeout").unwrap_or(5),
        healthy_threshold_count: int(&hc, "healthyThresholdCount").unwrap_or(3),
        unhealthy_threshold_count: int(&hc, "unhealthyThresholdCount").unwrap_or(3),
        matcher,
        attributes,
        backend: Backend {
            namespace: input.backend.service.namespace.clone(),
            name: input.backend.service.name.clone(),
            port: input.backend.port.port,
        },
    })
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::core::v1::ServicePort;
    use serde_json::json;

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
            port: ServicePort { port: 80, app_protocol: app_protocol.map(str::to_owned), ..ServicePort::default() },
            weight: 1,
            service_type: "ClusterIP".into(),
        }
    }

    fn planned(listener: &str, backend: &ResolvedBackend, props: Value) -> Result<TargetGroupPlan, TargetGroupError> {
        let (route, gateway) = (route(), ObjectKey::new("ns", "gw"));
        let input = TargetGroupInput {
            gateway: &gateway,
            flavor: Flavor::Alb,
            route: &route,
            backend,
            listener_protocol: listener,
            props: &props,
        };
        plan(&Env::default(), &input)
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
        let err = planned("HTTP", &backend(None), json!({"targetType": "instance"})).unwrap_err();
        assert!(matches!(err, TargetGroupError::NoNodePort { .. }), "{err}");
    }
}
