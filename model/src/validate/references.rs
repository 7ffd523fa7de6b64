//! Checks across the objects of one input: what a route, Gateway or configuration names must
//! exist and fit. Missing objects are warnings (the cluster may have them); conflicts among
//! the given objects are errors.

use std::collections::{HashMap, HashSet};

use serde_json::Value;

use albatross_k8s::route::RouteKind;

use super::catalog::{AWS_GROUP, Catalog, Flavor, GATEWAY_GROUP, namespace_of, parent_gateways};
use super::path::{child, index};
use super::{FieldError, Outcome, TypeMeta};

/// A Gateway's listeners, indexed for the checks of many parentRefs.
struct Listeners<'a> {
    names: HashSet<&'a str>,
    ports: HashSet<i64>,
    /// The names for a message: the first few, then how many more.
    shown: String,
}

impl<'a> Listeners<'a> {
    const SHOWN: usize = 16;

    fn of(listeners: &'a [(String, i64)]) -> Self {
        let mut shown: Vec<&str> = listeners.iter().take(Self::SHOWN).map(|(n, _)| n.as_str()).collect();
        let more = listeners.len().saturating_sub(Self::SHOWN);
        let more_text = format!("and {more} more");
        if more > 0 {
            shown.push(&more_text);
        }
        Self {
            names: listeners.iter().map(|(n, _)| n.as_str()).collect(),
            ports: listeners.iter().map(|(_, p)| *p).collect(),
            shown: shown.join(", "),
        }
    }
}

impl Catalog {
    /// Cross-object checks for `object` against everything the catalog holds.
    pub fn check_references(&self, object: &Value, outcome: &mut Outcome) {
        let Some(meta) = TypeMeta::of(object) else { return };
        let namespace = namespace_of(object);
        match (meta.group, meta.kind) {
            (GATEWAY_GROUP, kind) if RouteKind::from_kind(kind).is_some() => {
                self.check_parents(object, outcome);
                self.check_rule_configs(object, outcome);
                self.check_backend_protocols(object, outcome);
            }
            (GATEWAY_GROUP, "Gateway") => {
                if let Some(reference) = object.pointer("/spec/infrastructure/parametersRef") {
                    self.check_config_ref(reference, namespace, "spec.infrastructure.parametersRef", outcome);
                }
            }
            (GATEWAY_GROUP, "GatewayClass") => {
                if let Some(reference) = object.pointer("/spec/parametersRef") {
                    let ns = reference.get("namespace").and_then(Value::as_str).unwrap_or("default");
                    self.check_config_ref(reference, ns, "spec.parametersRef", outcome);
                }
            }
            (AWS_GROUP, "TargetGroupConfiguration") => self.check_duplicate_target(object, namespace, outcome),
            (AWS_GROUP, "LoadBalancerConfiguration") => self.check_default_target_group(object, namespace, outcome),
            _ => {}
        }
    }

    fn check_parents(&self, route: &Value, outcome: &mut Outcome) {
        // Each Gateway's listener names and ports are indexed once, not once per parentRef.
        let mut indexed: HashMap<(String, String), Listeners<'_>> = HashMap::new();
        for (i, gateway_key, reference) in parent_gateways(route) {
            let key = (gateway_key.namespace, gateway_key.name);
            let Some(Some(gateway)) = self.gateways.get(&key) else { continue };
            let listeners = indexed.entry(key.clone()).or_insert_with(|| Listeners::of(&gateway.listeners));
            let (ns, name) = &key;
            let field = index("spec.parentRefs", i);
            if let Some(section) = reference.section_name.as_deref()
                && !listeners.names.contains(section)
            {
                outcome.errors.push(FieldError::new(
                    &child(&field, "sectionName"),
                    format!(
                        "Gateway {ns}/{name} has no listener named {section:?} (its listeners: {})",
                        listeners.shown
                    ),
                ));
            }
            if let Some(port) = reference.port.map(i64::from)
                && !listeners.ports.contains(&port)
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
                format!(
                    "LoadBalancerConfiguration {namespace}/{name} is not among the validated objects; it must exist in the cluster"
                ),
            ));
        }
    }

    /// ExtensionRefs to ListenerRuleConfigurations: one per rule, present, and a `redirect`
    /// action only where the rule redirects.
    fn check_rule_configs(&self, route: &Value, outcome: &mut Outcome) {
        let namespace = namespace_of(route);
        let rules = route.pointer("/spec/rules").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
        for (i, rule) in rules.iter().enumerate() {
            let filters = rule.get("filters").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
            let redirects = filters.iter().any(|f| f.get("type").and_then(Value::as_str) == Some("RequestRedirect"));
            let mut seen = 0;
            for (k, filter) in filters.iter().enumerate() {
                let Some(ext) = filter.get("extensionRef") else { continue };
                if ext.get("group").and_then(Value::as_str) != Some(AWS_GROUP)
                    || ext.get("kind").and_then(Value::as_str) != Some("ListenerRuleConfiguration")
                {
                    continue;
                }
                let field = format!("spec.rules[{i}].filters[{k}].extensionRef");
                seen += 1;
                if seen > 1 {
                    outcome.errors.push(FieldError::new(
                        &field,
                        "Invalid value: a rule takes one ListenerRuleConfiguration; merge their actions into one",
                    ));
                }
                let name = ext.get("name").and_then(Value::as_str).unwrap_or("");
                match self.rule_configs.get(&(namespace.to_owned(), name.to_owned())) {
                    None => outcome.warnings.push(FieldError::new(
                        &field,
                        format!("ListenerRuleConfiguration {namespace}/{name} is not among the validated objects; it must exist in the cluster"),
                    )),
                    Some(true) if !redirects => outcome.errors.push(FieldError::new(
                        &field,
                        format!("Invalid value: ListenerRuleConfiguration {namespace}/{name} has a redirect action, which only sets the query of a RequestRedirect filter; this rule has none"),
                    )),
                    Some(_) => {}
                }
            }
        }
    }

    /// A Service's TargetGroupConfiguration must set a protocol the route's load balancer takes.
    fn check_backend_protocols(&self, route: &Value, outcome: &mut Outcome) {
        let parents = self.route_parents(route);
        let Some((_, flavor)) = parents.first() else { return };
        if parents.iter().any(|(_, f)| f != flavor) {
            return;
        }
        let allowed: &[&str] = match flavor {
            Flavor::Alb => &["HTTP", "HTTPS"],
            Flavor::Nlb => &["TCP", "UDP", "TCP_UDP", "TLS"],
        };
        let route_ns = namespace_of(route);
        let rules = route.pointer("/spec/rules").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
        for (i, rule) in rules.iter().enumerate() {
            let backends = rule.get("backendRefs").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
            for (j, backend) in backends.iter().enumerate() {
                if backend.get("kind").and_then(Value::as_str).is_some_and(|k| k != "Service") {
                    continue;
                }
                let ns = backend.get("namespace").and_then(Value::as_str).unwrap_or(route_ns);
                let name = backend.get("name").and_then(Value::as_str).unwrap_or("");
                let Some(config) = self.service_config(ns, name) else { continue };
                if let Some(bad) = config.protocols.iter().find(|p| !allowed.contains(&p.as_str())) {
                    outcome.errors.push(FieldError::new(
                        &format!("spec.rules[{i}].backendRefs[{j}]"),
                        format!(
                            "Unsupported value: TargetGroupConfiguration {ns}/{} gives Service {name} protocol {bad}; an {} target group takes {}",
                            config.name,
                            match flavor {
                                Flavor::Alb => "ALB",
                                Flavor::Nlb => "NLB",
                            },
                            allowed.join(", ")
                        ),
                    ));
                }
            }
        }
    }

    /// The TargetGroupConfiguration that applies to a Service: the first by name, as the
    /// controller picks it.
    fn service_config(&self, namespace: &str, service: &str) -> Option<&super::catalog::TargetGroupConfig> {
        self.target_group_configs
            .get(namespace)?
            .iter()
            .find(|c| c.target.as_ref().is_some_and(|(kind, name)| kind == "Service" && name == service))
    }

    fn check_duplicate_target(&self, object: &Value, namespace: &str, outcome: &mut Outcome) {
        let Some(reference) = object.pointer("/spec/targetReference") else { return };
        let kind = reference.get("kind").and_then(Value::as_str).unwrap_or("Service");
        let target = reference.get("name").and_then(Value::as_str).unwrap_or("");
        let own = object.pointer("/metadata/name").and_then(Value::as_str).unwrap_or("");
        let first = self
            .target_group_configs
            .get(namespace)
            .and_then(|list| list.iter().find(|c| c.target.as_ref().is_some_and(|(k, n)| k == kind && n == target)));
        if let Some(first) = first
            && first.name != own
        {
            outcome.errors.push(FieldError::new(
                "spec.targetReference",
                format!(
                    "Duplicate value: TargetGroupConfiguration {namespace}/{} already configures {kind} {target}; only the first by name applies, so this one would be ignored",
                    first.name
                ),
            ));
        }
    }

    fn check_default_target_group(&self, object: &Value, namespace: &str, outcome: &mut Outcome) {
        let Some(name) = object.pointer("/spec/defaultTargetGroupConfiguration/name").and_then(Value::as_str) else {
            return;
        };
        let field = "spec.defaultTargetGroupConfiguration.name";
        match self.target_group_configs.get(namespace).and_then(|l| l.iter().find(|c| c.name == name)) {
            None => outcome.warnings.push(FieldError::new(
                field,
                format!("TargetGroupConfiguration {namespace}/{name} is not among the validated objects; it must exist in the cluster"),
            )),
            Some(config) if config.target.is_some() => outcome.errors.push(FieldError::new(
                field,
                format!("Invalid value: TargetGroupConfiguration {namespace}/{name} has a targetReference; a default target group configuration must not name a target"),
            )),
            Some(_) => {}
        }
    }
}
