//! The diff's operations as steps a person can read: resources by ARN where they exist, by a
//! symbolic `<new ...>` name where an earlier step creates them, and what each call changes.
//! Secret values (OIDC client credentials) are never shown.

use std::collections::HashMap;

use albatross_model::plan::types::{Action, Attribute, Condition, RulePlan, Stack, Tag, Values};

use super::{Change, Preview, Resource, Step};
use crate::diff::{ATTRIBUTES_TAG, Op, attributes_hash, target_group_ids};
use crate::observed::StackObserved;

/// How a step names the resources it touches.
struct Names<'a> {
    stack: &'a Stack,
    load_balancer: String,
    /// By plan id: the ARN of an existing group, else its symbolic name.
    target_groups: HashMap<String, String>,
    /// By port.
    listeners: HashMap<i32, String>,
    /// Rule ARN to the priority it has, for moves.
    rules: HashMap<String, u32>,
}

impl<'a> Names<'a> {
    fn new(stack: &'a Stack, observed: &StackObserved) -> Self {
        let existing: HashMap<String, String> =
            target_group_ids(stack, observed).into_iter().map(|(arn, id)| (id, arn)).collect();
        let target_groups = stack
            .target_groups
            .iter()
            .map(|tg| {
                let name = existing
                    .get(&tg.id)
                    .cloned()
                    .unwrap_or_else(|| format!("<new target group {}>", tg.target_group_name));
                (tg.id.clone(), name)
            })
            .collect();
        let load_balancer = observed
            .load_balancer
            .as_ref()
            .map(|lb| lb.arn.clone())
            .unwrap_or_else(|| format!("<new load balancer {}>", stack.load_balancer.load_balancer_name));
        let mut listeners: HashMap<i32, String> =
            stack.listeners.iter().map(|l| (l.port, format!("<new listener {}:{}>", l.protocol, l.port))).collect();
        let mut rules = HashMap::new();
        for l in &observed.listeners {
            listeners.insert(l.port, l.arn.clone());
            rules.extend(l.rules.iter().map(|r| (r.arn.clone(), r.priority)));
        }
        Self { stack, load_balancer, target_groups, listeners, rules }
    }

    fn target_group(&self, id: &str) -> String {
        self.target_groups.get(id).cloned().unwrap_or_else(|| id.to_owned())
    }

    fn listener(&self, port: i32) -> String {
        self.listeners.get(&port).cloned().unwrap_or_else(|| format!("<listener {port}>"))
    }

    fn rule(&self, port: i32, id: &str) -> Option<&RulePlan> {
        self.stack.listeners.iter().find(|l| l.port == port)?.rules.iter().find(|r| r.id == id)
    }

    fn actions(&self, actions: &[Action]) -> String {
        let text: Vec<String> = actions.iter().map(|a| self.action(a)).collect();
        text.join(", then ")
    }

    fn action(&self, action: &Action) -> String {
        if let Some(forward) = &action.forward_config {
            let groups: Vec<String> = forward
                .target_groups
                .iter()
                .map(|t| format!("{} (weight {})", self.target_group(&t.target_group_arn), t.weight))
                .collect();
            return format!("forward to {}", groups.join(", "));
        }
        if let Some(r) = &action.redirect_config {
            return format!(
                "redirect {} to {}://{}:{}{}?{}",
                r.status_code, r.protocol, r.host, r.port, r.path, r.query
            );
        }
        if let Some(f) = &action.fixed_response_config {
            return format!("fixed-response {}", f.status_code);
        }
        if let Some(oidc) = &action.authenticate_oidc_config {
            return format!("authenticate-oidc with {}", oidc.issuer);
        }
        action.r#type.clone()
    }
}

fn values(v: &Option<Values>) -> Vec<String> {
    v.iter().flat_map(|v| v.values.iter().chain(v.regex_values.iter()).cloned()).collect()
}

fn conditions(conditions: &[Condition]) -> String {
    let text: Vec<String> = conditions
        .iter()
        .map(|c| {
            let mut shown = values(&c.host_header_config);
            shown.extend(values(&c.path_pattern_config));
            shown.extend(values(&c.http_request_method_config));
            shown.extend(values(&c.source_ip_config));
            if let Some(h) = &c.http_header_config {
                let v: Vec<&String> = h.values.iter().chain(h.regex_values.iter()).collect();
                shown.push(format!(
                    "{}: {}",
                    h.http_header_name,
                    v.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(" | ")
                ));
            }
            if let Some(q) = &c.query_string_config {
                shown.extend(q.values.iter().map(|kv| format!("{}={}", kv.key.as_deref().unwrap_or(""), kv.value)));
            }
            format!("{} {}", c.field, shown.join(" | "))
        })
        .collect();
    if text.is_empty() { "always".into() } else { text.join(" and ") }
}

fn pairs(items: &[Attribute]) -> String {
    items.iter().map(|a| format!("{}={}", a.key, a.value)).collect::<Vec<_>>().join(", ")
}

fn tags(items: &[Tag]) -> String {
    items.iter().map(|t| format!("{}={}", t.key, t.value)).collect::<Vec<_>>().join(", ")
}

/// Appends the steps of `ops` (in their order) to `preview`, and records where each planned
/// target group is (ARN or symbolic name).
pub(super) fn steps(stack: &Stack, observed: &StackObserved, ops: &[Op], preview: &mut Preview) {
    let names = Names::new(stack, observed);
    let lb = &stack.load_balancer;
    let out = &mut preview.steps;
    for op in ops {
        let operation = op.operation();
        let step = |kind, change, resource: &str, detail: String| Step::new(operation, kind, change, resource, detail);
        match op {
            Op::CreateLoadBalancer => out.push(step(
                Resource::LoadBalancer,
                Change::Create,
                &names.load_balancer,
                format!(
                    "{} {} {}; subnets {}; security groups {}",
                    lb.r#type,
                    lb.scheme,
                    lb.ip_address_type,
                    lb.subnets.join(", "),
                    lb.security_groups.join(", ")
                ),
            )),
            Op::SetSubnets { subnets } => out.push(step(
                Resource::LoadBalancer,
                Change::Modify,
                &names.load_balancer,
                format!("subnets {}", subnets.join(", ")),
            )),
            Op::SetSecurityGroups { groups } => out.push(step(
                Resource::LoadBalancer,
                Change::Modify,
                &names.load_balancer,
                format!("security groups {}", groups.join(", ")),
            )),
            Op::ModifyLoadBalancerAttributes { attributes } => {
                // On a new load balancer these are part of its creation.
                let change = if observed.load_balancer.is_some() { Change::Modify } else { Change::Create };
                out.push(step(Resource::LoadBalancer, change, &names.load_balancer, pairs(attributes)));
            }
            Op::AddTags { arn, tags: added } => {
                let kind = if Some(arn) == observed.load_balancer.as_ref().map(|l| &l.arn) {
                    Resource::LoadBalancer
                } else {
                    Resource::TargetGroup
                };
                out.push(step(kind, Change::Tag, arn, tags(added)));
            }
            Op::TagListener { port, tags: added, .. } => {
                out.push(step(Resource::Listener, Change::Tag, &names.listener(*port), tags(added)));
            }
            Op::TagRule { arn, tags: added, .. } => out.push(step(Resource::Rule, Change::Tag, arn, tags(added))),
            Op::CreateTargetGroup { id } => {
                let Some(tg) = stack.target_groups.iter().find(|t| &t.id == id) else { continue };
                out.push(step(
                    Resource::TargetGroup,
                    Change::Create,
                    &names.target_group(id),
                    format!(
                        "{}:{} {} targets, for Service {}/{} port {}",
                        tg.protocol, tg.port, tg.target_type, tg.backend.namespace, tg.backend.name, tg.backend.port
                    ),
                ));
            }
            Op::ModifyTargetGroup { id } => {
                let Some(tg) = stack.target_groups.iter().find(|t| &t.id == id) else { continue };
                out.push(step(
                    Resource::TargetGroup,
                    Change::Modify,
                    &names.target_group(id),
                    format!(
                        "health check {} port {} path {} every {}s, timeout {}s, {}/{} to turn healthy/unhealthy",
                        tg.health_check_protocol,
                        tg.health_check_port,
                        tg.health_check_path.as_deref().unwrap_or("-"),
                        tg.health_check_interval_seconds,
                        tg.health_check_timeout_seconds,
                        tg.healthy_threshold_count,
                        tg.unhealthy_threshold_count
                    ),
                ));
            }
            Op::ModifyTargetGroupAttributes { id } => {
                let Some(tg) = stack.target_groups.iter().find(|t| &t.id == id) else { continue };
                let resource = names.target_group(id);
                let new = resource.starts_with('<');
                let change = if new { Change::Create } else { Change::Modify };
                out.push(step(Resource::TargetGroup, change, &resource, pairs(&tg.attributes)));
                // The apply records what it set in a tag (see `ATTRIBUTES_TAG`).
                let checkpoint = format!("{ATTRIBUTES_TAG}={}", attributes_hash(&tg.attributes));
                let change = if new { Change::Create } else { Change::Tag };
                out.push(Step::new("AddTags", Resource::TargetGroup, change, resource, checkpoint));
            }
            Op::CreateListener { port } => {
                let Some(l) = stack.listeners.iter().find(|l| l.port == *port) else { continue };
                out.push(step(
                    Resource::Listener,
                    Change::Create,
                    &names.listener(*port),
                    format!("on {}; default: {}", names.load_balancer, names.actions(&l.default_actions)),
                ));
            }
            Op::ModifyListenerAttributes { port, attributes } => {
                // On a new listener these are part of its creation.
                let listener = names.listener(*port);
                let change = if listener.starts_with('<') { Change::Create } else { Change::Modify };
                out.push(step(Resource::Listener, change, &listener, pairs(attributes)));
            }
            Op::ModifyListener { port } => {
                let Some(l) = stack.listeners.iter().find(|l| l.port == *port) else { continue };
                let certificate = l.certificates.iter().find(|c| c.is_default).map(|c| c.certificate_arn.as_str());
                out.push(step(
                    Resource::Listener,
                    Change::Modify,
                    &names.listener(*port),
                    format!(
                        "{} port {}; SSL policy {}; certificate {}; default: {}",
                        l.protocol,
                        l.port,
                        l.ssl_policy.as_deref().unwrap_or("-"),
                        certificate.unwrap_or("-"),
                        names.actions(&l.default_actions)
                    ),
                ));
            }
            Op::AddListenerCertificates { port, certificates }
            | Op::RemoveListenerCertificates { port, certificates } => {
                let resource = names.listener(*port);
                let change = if resource.starts_with('<') { Change::Create } else { Change::Modify };
                out.push(step(Resource::Listener, change, &resource, certificates.join(", ")));
            }
            Op::SetRulePriorities { port, priorities } => {
                for (arn, priority) in priorities {
                    let from = names.rules.get(arn).map(|p| p.to_string()).unwrap_or_else(|| "?".into());
                    let detail = format!("priority {from} -> {priority} on {}", names.listener(*port));
                    out.push(step(Resource::Rule, Change::Modify, arn, detail));
                }
            }
            Op::CreateRule { port, id, priority } => {
                let Some(rule) = names.rule(*port, id) else { continue };
                out.push(step(
                    Resource::Rule,
                    Change::Create,
                    &format!("<new rule {port}:{priority}>"),
                    format!(
                        "on {}: if {} then {}",
                        names.listener(*port),
                        conditions(&rule.conditions),
                        names.actions(&rule.actions)
                    ),
                ));
            }
            Op::ModifyRule { port, arn, id } => {
                let Some(rule) = names.rule(*port, id) else { continue };
                out.push(step(
                    Resource::Rule,
                    Change::Modify,
                    arn,
                    format!("if {} then {}", conditions(&rule.conditions), names.actions(&rule.actions)),
                ));
            }
            Op::DeleteRule { arn } => out.push(step(Resource::Rule, Change::Delete, arn, String::new())),
            Op::DeleteListener { arn } => out.push(step(Resource::Listener, Change::Delete, arn, String::new())),
            Op::DeleteTargetGroup { arn } => {
                out.push(step(Resource::TargetGroup, Change::Delete, arn, "no route uses it".into()))
            }
            Op::DeleteLoadBalancer { arn } => {
                out.push(step(Resource::LoadBalancer, Change::Delete, arn, String::new()))
            }
        }
    }
    preview.target_groups = names.target_groups.into_iter().collect();
}
