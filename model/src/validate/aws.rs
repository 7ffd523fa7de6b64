//! What AWS load balancers can and cannot do, checked on objects of our classes.
//!
//! Errors where the object can never work on AWS as written; warnings where part of it is
//! ignored. The counts follow how routes map to ALB rules: one rule per match and hostname.

use albatross_k8s::route::{AnyRoute, RouteKind};
use serde_json::Value;

use super::catalog::{AWS_GROUP, Catalog, Flavor, GATEWAY_GROUP};
use super::path::{child, index};
use super::{Controllers, FieldError, Outcome, TypeMeta};

/// AWS quotas, with the defaults AWS gives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AwsLimits {
    pub rules_per_alb: usize,
    pub target_groups_per_alb: usize,
    pub condition_values_per_rule: usize,
    pub target_groups_per_action: usize,
    pub listeners_per_lb: usize,
    pub certificates_per_lb: usize,
    pub max_weight: i64,
}

impl Default for AwsLimits {
    fn default() -> Self {
        Self {
            rules_per_alb: 100,
            target_groups_per_alb: 100,
            condition_values_per_rule: 5,
            target_groups_per_action: 5,
            listeners_per_lb: 50,
            certificates_per_lb: 25,
            max_weight: 999,
        }
    }
}

const ALB_UNSUPPORTED_FILTERS: [&str; 5] =
    ["RequestHeaderModifier", "ResponseHeaderModifier", "RequestMirror", "CORS", "ExternalAuth"];

pub fn check(meta: &TypeMeta, object: &Value, catalog: &Catalog, controllers: &Controllers, out: &mut Outcome) {
    let limits = AwsLimits::default();
    match (meta.group, meta.kind) {
        (GATEWAY_GROUP, "GatewayClass") => check_class(object, controllers, out),
        (GATEWAY_GROUP, "Gateway") => {
            let class = object.pointer("/spec/gatewayClassName").and_then(Value::as_str).unwrap_or("");
            if let Some(flavor) = catalog.flavor_of_class(class) {
                check_gateway(object, flavor, &limits, out);
            }
        }
        (GATEWAY_GROUP, kind) if RouteKind::from_kind(kind).is_some() => {
            let parents = catalog.route_parents(object);
            for (i, flavor) in &parents {
                check_route_kind(kind, *i, *flavor, out);
            }
            if parents.iter().any(|(_, f)| *f == Flavor::Alb) {
                match kind {
                    "HTTPRoute" => check_http_route(object, None, &limits, Scope::LoadBalancer, out),
                    "GRPCRoute" => check_grpc_route(object, None, &limits, Scope::LoadBalancer, out),
                    _ => {}
                }
            }
        }
        _ => {}
    }
}

/// What a route of `kind` needs that the load balancer cannot do: the same checks validation
/// runs, for the plan to refuse the route alone. The per-rule limits checked here are fixed by
/// AWS; the load-balancer-wide quotas (rules, target groups) are adjustable, and the plan
/// enforces them itself with its environment's values. `view` is the route already decoded, when
/// the caller has it.
pub fn route_support(kind: &str, route: &Value, view: Option<&AnyRoute>, flavor: Flavor) -> Vec<FieldError> {
    let limits = AwsLimits::default();
    let mut out = Outcome::default();
    match (flavor, kind) {
        (Flavor::Alb, "HTTPRoute") => check_http_route(route, view, &limits, Scope::Rules, &mut out),
        (Flavor::Alb, "GRPCRoute") => check_grpc_route(route, view, &limits, Scope::Rules, &mut out),
        _ => {}
    }
    out.errors
}

fn check_class(object: &Value, controllers: &Controllers, out: &mut Outcome) {
    if !controllers.owns_class(object) {
        return;
    }
    if let Some(reference) = object.pointer("/spec/parametersRef") {
        check_config_kind(reference, "spec.parametersRef", out);
        if reference.get("namespace").is_none() {
            out.errors.push(FieldError::new(
                "spec.parametersRef.namespace",
                "Required value: a LoadBalancerConfiguration is namespaced; name its namespace",
            ));
        }
    }
}

fn check_config_kind(reference: &Value, field: &str, out: &mut Outcome) {
    let group = reference.get("group").and_then(Value::as_str).unwrap_or("");
    let kind = reference.get("kind").and_then(Value::as_str).unwrap_or("");
    if group != AWS_GROUP || kind != "LoadBalancerConfiguration" {
        out.errors.push(FieldError::new(
            field,
            format!("Unsupported value: {group}/{kind}: parameters come from a LoadBalancerConfiguration of group {AWS_GROUP}"),
        ));
    }
}

fn check_gateway(object: &Value, flavor: Flavor, limits: &AwsLimits, out: &mut Outcome) {
    let listeners = object.pointer("/spec/listeners").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
    let mut ports = std::collections::BTreeSet::new();
    for (i, listener) in listeners.iter().enumerate() {
        let field = index("spec.listeners", i);
        let protocol = listener.get("protocol").and_then(Value::as_str).unwrap_or("");
        let (allowed, other): (&[&str], &str) = match flavor {
            Flavor::Alb => (&["HTTP", "HTTPS"], "an NLB class for TCP, UDP and TLS"),
            Flavor::Nlb => (&["TCP", "UDP", "TLS"], "an ALB class for HTTP and HTTPS"),
        };
        if !allowed.contains(&protocol) {
            out.errors.push(FieldError::new(
                &child(&field, "protocol"),
                format!(
                    "Unsupported value: {protocol:?}: an {} Gateway listens on {}; use {other}",
                    lb_name(flavor),
                    allowed.join(", ")
                ),
            ));
        }
        if let Some(port) = listener.get("port").and_then(Value::as_i64) {
            ports.insert(port);
        }
    }
    if ports.len() > limits.listeners_per_lb {
        out.errors.push(FieldError::new(
            "spec.listeners",
            format!(
                "Too many: {} ports: an {} has at most {} listeners",
                ports.len(),
                lb_name(flavor),
                limits.listeners_per_lb
            ),
        ));
    }
    if let Some(reference) = object.pointer("/spec/infrastructure/parametersRef") {
        check_config_kind(reference, "spec.infrastructure.parametersRef", out);
    }
    if object.pointer("/spec/addresses").and_then(Value::as_array).is_some_and(|a| !a.is_empty()) {
        out.warnings.push(FieldError::new(
            "spec.addresses",
            format!("ignored: an {} gets its addresses from AWS", lb_name(flavor)),
        ));
    }
    for (i, listener) in listeners.iter().enumerate() {
        if listener.pointer("/tls/certificateRefs").and_then(Value::as_array).is_some_and(|c| !c.is_empty()) {
            out.warnings.push(FieldError::new(
                &format!("spec.listeners[{i}].tls.certificateRefs"),
                "ignored: AWS load balancers take ACM certificates, from a LoadBalancerConfiguration or found in ACM by hostname",
            ));
        }
    }
}

fn lb_name(flavor: Flavor) -> &'static str {
    match flavor {
        Flavor::Alb => "ALB",
        Flavor::Nlb => "NLB",
    }
}

fn check_route_kind(kind: &str, parent: usize, flavor: Flavor, out: &mut Outcome) {
    let fits = match flavor {
        Flavor::Alb => matches!(kind, "HTTPRoute" | "GRPCRoute"),
        Flavor::Nlb => matches!(kind, "TCPRoute" | "UDPRoute" | "TLSRoute"),
    };
    if !fits {
        let takes = match flavor {
            Flavor::Alb => "HTTPRoute and GRPCRoute",
            Flavor::Nlb => "TCPRoute, UDPRoute and TLSRoute",
        };
        out.errors.push(FieldError::new(
            &index("spec.parentRefs", parent),
            format!("Unsupported value: {kind} on an {} Gateway, which takes only {takes}", lb_name(flavor)),
        ));
    }
}

fn array<'a>(value: &'a Value, key: &str) -> &'a [Value] {
    value.get(key).and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default()
}

/// Condition limits of every match, checked on the very conditions the plan would build.
fn check_match_conditions(route: &Value, view: Option<&AnyRoute>, limits: &AwsLimits, out: &mut Outcome) {
    let decoded;
    let view = match view {
        Some(view) => view,
        None => {
            let Ok(route) = AnyRoute::from_value(route) else { return };
            decoded = route;
            &decoded
        }
    };
    // Each generated rule carries one hostname value; which one does not change the count.
    let host = view.hostnames.first().cloned().unwrap_or_default();
    for (i, rule) in view.rules.iter().enumerate() {
        for j in 0..rule.matches.len() {
            let (_, conditions) = crate::plan::alb::conditions(view, rule, j, &host);
            if let Err(message) = crate::plan::limits::check_conditions(&conditions, limits) {
                out.errors
                    .push(FieldError::new(&format!("spec.rules[{i}].matches[{j}]"), format!("Too many: {message}")));
            }
        }
    }
}

/// Which limits a route check applies: per rule only, or also the load balancer's quotas.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Scope {
    Rules,
    LoadBalancer,
}

fn check_http_route(route: &Value, view: Option<&AnyRoute>, limits: &AwsLimits, scope: Scope, out: &mut Outcome) {
    let spec = route.get("spec").unwrap_or(&Value::Null);
    let hostnames = array(spec, "hostnames").len().max(1);
    check_match_conditions(route, view, limits, out);
    let mut alb_rules = 0;
    for (i, rule) in array(spec, "rules").iter().enumerate() {
        let field = index("spec.rules", i);
        let matches = array(rule, "matches");
        alb_rules += matches.len().max(1) * hostnames;
        for (j, m) in matches.iter().enumerate() {
            let mfield = index(&child(&field, "matches"), j);
            // `get` over `pointer`, which allocates per segment: this runs for every match of every review.
            let path = m.get("path");
            let path_type = path.and_then(|p| p.get("type")).and_then(Value::as_str);
            let path_value = path.and_then(|p| p.get("value")).and_then(Value::as_str).unwrap_or("");
            if path_value.contains(['*', '?']) {
                let pfield = child(&child(&mfield, "path"), "value");
                match path_type {
                    Some("PathPrefix") => out.errors.push(FieldError::new(
                        &pfield,
                        format!("Invalid value: {path_value:?}: ALB path patterns treat '*' and '?' as wildcards, so a PathPrefix cannot contain them"),
                    )),
                    Some("Exact") => out.warnings.push(FieldError::new(
                        &pfield,
                        format!("{path_value:?}: ALB treats '*' and '?' as wildcards, so this Exact match also matches other paths"),
                    )),
                    _ => {}
                }
            }
            for (k, q) in array(m, "queryParams").iter().enumerate() {
                if q.get("type").and_then(Value::as_str) == Some("RegularExpression") {
                    out.warnings.push(FieldError::new(
                        &format!("{mfield}.queryParams[{k}].type"),
                        "ALB compares query parameters by value with '*' and '?' wildcards, not by regular expression",
                    ));
                }
            }
        }
        check_filters(rule, &field, Flavor::Alb, out);
        check_backends(rule, &field, limits, out);
        for ignored in ["timeouts", "retry", "sessionPersistence"] {
            if rule.get(ignored).is_some() {
                out.warnings.push(FieldError::new(&child(&field, ignored), "ignored: ALB has no per-rule equivalent"));
            }
        }
    }
    if scope == Scope::LoadBalancer && alb_rules > limits.rules_per_alb {
        out.errors.push(FieldError::new(
            "spec.rules",
            format!(
                "Too many: this route needs {alb_rules} ALB rules (one per match and hostname); an ALB holds {}",
                limits.rules_per_alb
            ),
        ));
    }
    if scope == Scope::LoadBalancer {
        check_target_group_count(spec, limits, out);
    }
}

fn check_grpc_route(route: &Value, view: Option<&AnyRoute>, limits: &AwsLimits, scope: Scope, out: &mut Outcome) {
    let spec = route.get("spec").unwrap_or(&Value::Null);
    check_match_conditions(route, view, limits, out);
    for (i, rule) in array(spec, "rules").iter().enumerate() {
        let field = index("spec.rules", i);
        check_filters(rule, &field, Flavor::Alb, out);
        check_backends(rule, &field, limits, out);
    }
    if scope == Scope::LoadBalancer {
        check_target_group_count(spec, limits, out);
    }
}

fn check_filters(rule: &Value, field: &str, flavor: Flavor, out: &mut Outcome) {
    for (k, filter) in array(rule, "filters").iter().enumerate() {
        let ffield = index(&child(field, "filters"), k);
        let kind = filter.get("type").and_then(Value::as_str).unwrap_or("");
        if ALB_UNSUPPORTED_FILTERS.contains(&kind) {
            out.errors.push(FieldError::new(
                &child(&ffield, "type"),
                format!("Unsupported value: {kind:?}: an {} rule cannot do this; supported filters are RequestRedirect, URLRewrite and ExtensionRef to a ListenerRuleConfiguration", lb_name(flavor)),
            ));
        }
        if kind == "RequestRedirect"
            && let Some(code) = filter.pointer("/requestRedirect/statusCode").and_then(Value::as_i64)
            && code != 301
            && code != 302
        {
            out.errors.push(FieldError::new(
                &format!("{ffield}.requestRedirect.statusCode"),
                format!("Unsupported value: {code}: ALB redirects with 301 or 302 only"),
            ));
        }
        if kind == "ExtensionRef" {
            let group = filter.pointer("/extensionRef/group").and_then(Value::as_str).unwrap_or("");
            let ext_kind = filter.pointer("/extensionRef/kind").and_then(Value::as_str).unwrap_or("");
            if group != AWS_GROUP || ext_kind != "ListenerRuleConfiguration" {
                out.errors.push(FieldError::new(
                    &child(&ffield, "extensionRef"),
                    format!("Unsupported value: {group}/{ext_kind}: extension filters must name a ListenerRuleConfiguration of group {AWS_GROUP}"),
                ));
            }
        }
    }
}

fn check_backends(rule: &Value, field: &str, limits: &AwsLimits, out: &mut Outcome) {
    let backends = array(rule, "backendRefs");
    if backends.len() > limits.target_groups_per_action {
        out.errors.push(FieldError::new(
            &child(field, "backendRefs"),
            format!(
                "Too many: {}: an ALB rule forwards to at most {} target groups",
                backends.len(),
                limits.target_groups_per_action
            ),
        ));
    }
    for (k, backend) in backends.iter().enumerate() {
        if let Some(weight) = backend.get("weight").and_then(Value::as_i64)
            && weight > limits.max_weight
        {
            out.errors.push(FieldError::new(
                &format!("{field}.backendRefs[{k}].weight"),
                format!("Invalid value: {weight}: ALB target group weights go up to {}", limits.max_weight),
            ));
        }
    }
}

/// Distinct backends become target groups; an ALB holds a fixed number of them.
fn check_target_group_count(spec: &Value, limits: &AwsLimits, out: &mut Outcome) {
    let mut distinct = std::collections::BTreeSet::new();
    for rule in array(spec, "rules") {
        for backend in array(rule, "backendRefs") {
            distinct.insert((
                backend.get("namespace").map(Value::to_string),
                backend.get("name").map(Value::to_string),
                backend.get("port").map(Value::to_string),
            ));
        }
    }
    if distinct.len() > limits.target_groups_per_alb {
        out.errors.push(FieldError::new(
            "spec.rules",
            format!(
                "Too many: {} distinct backends: an ALB holds {} target groups",
                distinct.len(),
                limits.target_groups_per_alb
            ),
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_match_over_five_condition_values_is_refused_with_the_plan_s_own_conditions() {
        let route = json!({
            "apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
            "metadata": {"name": "r", "namespace": "ns"},
            "spec": {"hostnames": ["a.io"], "rules": [{"matches": [{
                "path": {"type": "PathPrefix", "value": "/api"},
                "headers": [{"type": "Exact", "name": "x", "value": "1,2,3"}]
            }]}]}
        });
        let errors = route_support("HTTPRoute", &route, None, Flavor::Alb);
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!(errors[0].field, "spec.rules[0].matches[0]");
        assert!(errors[0].message.contains("6 condition values"), "{}", errors[0].message);
    }

    #[test]
    fn redirects_other_than_301_and_302_are_refused() {
        let route = json!({
            "apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
            "metadata": {"name": "r", "namespace": "ns"},
            "spec": {"rules": [{"filters": [{"type": "RequestRedirect", "requestRedirect": {"statusCode": 307}}]}]}
        });
        let errors = route_support("HTTPRoute", &route, None, Flavor::Alb);
        assert!(errors.iter().any(|e| e.field == "spec.rules[0].filters[0].requestRedirect.statusCode"), "{errors:?}");
    }
}
