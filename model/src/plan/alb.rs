//! ALB listeners and rules: routes become conditions (here), actions and transforms (`actions`),
//! in precedence order, within the ALB's quotas.

use std::collections::{BTreeMap, BTreeSet};

use albatross_k8s::aws::ListenerRuleConfigurationSpec;
use albatross_k8s::aws::load_balancer_configuration::LoadBalancerConfigurationSpec;
use albatross_k8s::gateway_api::v1::grpcroutes::GrpcRouteRulesMatches;
use albatross_k8s::gateway_api::v1::httproutes::HttpRouteRulesMatches;
use albatross_k8s::route::{AnyRoute, ObjectKey, RouteMatch, RouteRule};

use super::actions::{self, RuleActions};
use super::attach::{self, Attachment, Failure};
use super::config::{self, AWS_GROUP};
use super::env::Env;
use super::gateway::Planned;
use super::limits;
use super::listeners::ListenerState;
use super::naming;
use super::precedence::{self, RuleKey};
use super::snapshot::Snapshot;
use super::target_group::{self, TargetGroupInput};
use super::types::{
    Condition, HttpHeaderConfig, KeyValue, ListenerPlan, QueryStringConfig, RulePlan, TargetGroupPlan, Transform,
    Values,
};
use super::wire::Protocol;
use crate::validate::Flavor;

pub fn enum_text<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_value(v).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default()
}

/// Header match values: ALB ORs the values of one condition, Gateway API lists one value; a
/// comma-separated value becomes several, `\,` escaping a comma.
fn split_values(value: &str) -> Vec<String> {
    let mut out = vec![String::new()];
    let mut escaped = false;
    for c in value.chars() {
        match c {
            '\\' if !escaped => escaped = true,
            ',' if !escaped => out.push(String::new()),
            _ => {
                if escaped && c != ',' {
                    out.last_mut().unwrap().push('\\');
                }
                escaped = false;
                out.last_mut().unwrap().push(c);
            }
        }
    }
    out
}

/// ALB query-string values treat `*` and `?` as wildcards unless escaped; Gateway API matches
/// them literally.
fn literal_query(value: &str) -> String {
    value.chars().fold(String::new(), |mut out, c| {
        if c == '*' || c == '?' {
            out.push('\\');
        }
        out.push(c);
        out
    })
}

fn path_condition(values: Vec<String>, regex: Vec<String>) -> Condition {
    Condition {
        field: "path-pattern".into(),
        path_pattern_config: Some(Values { values, regex_values: regex }),
        ..Condition::default()
    }
}

fn header_condition(name: &str, value: &str, regex: bool) -> Condition {
    let (values, regex_values) =
        if regex { (Vec::new(), vec![value.to_owned()]) } else { (split_values(value), Vec::new()) };
    Condition {
        field: "http-header".into(),
        http_header_config: Some(HttpHeaderConfig { http_header_name: name.to_owned(), values, regex_values }),
        ..Condition::default()
    }
}

/// The ordering key and conditions of one HTTPRoute match.
fn http_match(m: &HttpRouteRulesMatches) -> (u8, usize, bool, usize, usize, Vec<Condition>) {
    let mut conditions = Vec::new();
    let (mut path_type, mut path_len) = (0, 0);
    if let Some(path) = &m.path {
        let value = path.value.clone().unwrap_or_else(|| "/".into());
        path_len = value.len();
        match path.r#type.as_ref().map(enum_text).as_deref() {
            Some("Exact") => {
                path_type = 3;
                conditions.push(path_condition(vec![value], Vec::new()));
            }
            Some("RegularExpression") => {
                path_type = 1;
                conditions.push(path_condition(Vec::new(), vec![value]));
            }
            _ => {
                path_type = 2;
                let trimmed = value.trim_end_matches('/');
                let values = if trimmed.is_empty() {
                    vec!["/*".into()]
                } else {
                    vec![trimmed.to_owned(), format!("{trimmed}/*")]
                };
                conditions.push(path_condition(values, Vec::new()));
            }
        }
    }
    let headers = m.headers.as_deref().unwrap_or_default();
    for h in headers {
        let regex = h.r#type.as_ref().map(enum_text).as_deref() == Some("RegularExpression");
        conditions.push(header_condition(&h.name, &h.value, regex));
    }
    let queries = m.query_params.as_deref().unwrap_or_default();
    for q in queries {
        conditions.push(Condition {
            field: "query-string".into(),
            query_string_config: Some(QueryStringConfig {
                values: vec![KeyValue { key: Some(literal_query(&q.name)), value: literal_query(&q.value) }],
            }),
            ..Condition::default()
        });
    }
    if let Some(method) = &m.method {
        conditions.push(Condition {
            field: "http-request-method".into(),
            http_request_method_config: Some(Values { values: vec![enum_text(method)], regex_values: Vec::new() }),
            ..Condition::default()
        });
    }
    (path_type, path_len, m.method.is_some(), headers.len(), queries.len(), conditions)
}

/// gRPC methods are HTTP/2 paths `/<service>/<method>`.
fn grpc_match(m: &GrpcRouteRulesMatches) -> (u8, usize, usize, usize, Vec<Condition>) {
    let mut conditions = Vec::new();
    let method = m.method.as_ref();
    let service = method.and_then(|x| x.service.clone());
    let name = method.and_then(|x| x.method.clone());
    let regex = method.and_then(|x| x.r#type.as_ref()).map(enum_text).as_deref() == Some("RegularExpression");
    let (path_type, service_len, method_len) = match (&service, &name) {
        (None, None) => (0, 0, 0),
        (s, n) => (if regex { 1 } else { 3 }, s.as_ref().map_or(0, String::len), n.as_ref().map_or(0, String::len)),
    };
    let path = if regex {
        vec![format!("^/{}/{}$", service.as_deref().unwrap_or("[^/]+"), name.as_deref().unwrap_or("[^/]+"))]
    } else {
        vec![format!("/{}/{}", service.as_deref().unwrap_or("*"), name.as_deref().unwrap_or("*"))]
    };
    conditions.push(if regex { path_condition(Vec::new(), path) } else { path_condition(path, Vec::new()) });
    let headers = m.headers.as_deref().unwrap_or_default();
    for h in headers {
        let regex = h.r#type.as_ref().map(enum_text).as_deref() == Some("RegularExpression");
        conditions.push(header_condition(&h.name, &h.value, regex));
    }
    (path_type, service_len, method_len, headers.len(), conditions)
}

/// One candidate ALB rule before priorities are given.
#[derive(Clone, Debug)]
pub struct Candidate {
    pub id: String,
    pub key: RuleKey,
    pub conditions: Vec<Condition>,
    pub actions: Vec<super::types::Action>,
    pub transforms: Vec<Transform>,
    /// The ListenerRuleConfiguration's tags.
    pub tags: std::collections::BTreeMap<String, String>,
}

/// The stable id of a rule: route, rule (name or index), match, hostname.
pub fn rule_id(route: &AnyRoute, rule_index: usize, rule: &RouteRule, match_index: usize, hostname: &str) -> String {
    let rule_part = rule.name.clone().unwrap_or_else(|| rule_index.to_string());
    let host = if hostname.is_empty() { "*" } else { hostname };
    format!("{}/{}/{}/{}/{}/{}", route.kind.as_str(), route.key.namespace, route.key.name, rule_part, match_index, host)
}

/// Conditions, precedence facts and the match count of one (rule, match index, hostname).
pub fn conditions(route: &AnyRoute, rule: &RouteRule, match_index: usize, hostname: &str) -> (RuleKey, Vec<Condition>) {
    let mut key = RuleKey {
        hostname: hostname.to_owned(),
        path_type: 0,
        path_len: 0,
        grpc_method_len: 0,
        has_method: false,
        headers: 0,
        query_params: 0,
        created: route.created.clone(),
        kind: route.kind,
        route: route.key.clone(),
        rule: 0,
        matcher: match_index,
    };
    let mut conditions = Vec::new();
    if !hostname.is_empty() {
        conditions.push(Condition {
            field: "host-header".into(),
            host_header_config: Some(Values { values: vec![hostname.to_owned()], regex_values: Vec::new() }),
            ..Condition::default()
        });
    }
    match rule.matches.get(match_index) {
        Some(RouteMatch::Http(m)) => {
            let (pt, pl, method, headers, queries, c) = http_match(m);
            (key.path_type, key.path_len, key.has_method, key.headers, key.query_params) =
                (pt, pl, method, headers, queries);
            conditions.extend(c);
        }
        Some(RouteMatch::Grpc(m)) => {
            let (pt, service_len, method_len, headers, c) = grpc_match(m);
            (key.path_type, key.path_len, key.grpc_method_len, key.headers) = (pt, service_len, method_len, headers);
            conditions.extend(c);
        }
        None => {}
    }
    if conditions.is_empty() {
        conditions.push(path_condition(vec!["/*".into()], Vec::new()));
    }
    (key, conditions)
}

/// The rules and target groups one attachment adds, or why ALB cannot serve it.
#[derive(Default)]
struct RouteRules {
    candidates: Vec<(i32, Candidate)>,
    groups: Vec<TargetGroupPlan>,
    /// Why the route is not accepted: ALB cannot do what it asks.
    refused: Option<Failure>,
    /// A backend that resolved to a Service but cannot become a target group.
    unresolved: Option<Failure>,
}

/// The ListenerRuleConfiguration a rule names, if any; `Err` when it cannot be used.
fn rule_config<'a>(
    snapshot: &'a Snapshot,
    namespace: &str,
    rule: &RouteRule,
) -> Result<Option<&'a ListenerRuleConfigurationSpec>, String> {
    let names: Vec<String> = rule
        .filters
        .iter()
        .filter_map(|f| f.extension_ref())
        .filter(|(g, k, _)| g == AWS_GROUP && k == "ListenerRuleConfiguration")
        .map(|(_, _, name)| name)
        .collect();
    let Some(name) = names.first() else { return Ok(None) };
    if names.len() > 1 {
        return Err("a rule takes one ListenerRuleConfiguration".into());
    }
    // Never skipped: it may hold authentication, and skipping it would serve the rule without.
    let config = snapshot
        .rule_configs
        .get(&ObjectKey::new(namespace, name.clone()))
        .ok_or_else(|| format!("ListenerRuleConfiguration {namespace}/{name} not found"))?;
    Ok(Some(&config.spec))
}

fn route_rules(
    snapshot: &Snapshot,
    env: &Env,
    key: &ObjectKey,
    states: &[ListenerState],
    a: &Attachment,
    default_tgc: Option<&ObjectKey>,
) -> RouteRules {
    let route = &snapshot.routes[a.route];
    let mut out = RouteRules::default();
    for (li, hosts) in &a.listeners {
        let state = &states[*li];
        let protocol = state.spec.protocol.as_str();
        for (ri, rule) in route.spec.rules.iter().enumerate() {
            let mut targets = Vec::new();
            for backend in &rule.backend_refs {
                let Ok(resolved) = attach::resolve(snapshot, &route.spec, backend) else { continue };
                let props = target_group::props(snapshot, default_tgc, &resolved.service, &route.spec);
                let input = TargetGroupInput {
                    gateway: key,
                    flavor: Flavor::Alb,
                    route: &route.spec,
                    backend: &resolved,
                    listener_protocol: protocol,
                    props: &props,
                };
                match target_group::plan(env, &input) {
                    Ok(tg) => {
                        targets.push((tg.id.clone(), resolved.weight));
                        out.groups.push(tg);
                    }
                    Err(message) => {
                        out.unresolved.get_or_insert(("UnsupportedValue", message.to_string()));
                    }
                }
            }
            let config = match rule_config(snapshot, &route.meta.key.namespace, rule) {
                Ok(c) => c,
                Err(message) => {
                    out.refused = Some(("IncompatibleFilters", format!("spec.rules[{ri}]: {message}")));
                    return out;
                }
            };
            let hostnames: Vec<&str> =
                if hosts.is_empty() { vec![""] } else { hosts.iter().map(String::as_str).collect() };
            for mi in 0..rule.matches.len().max(1) {
                for host in &hostnames {
                    let (mut rule_key, mut conditions) = conditions(&route.spec, rule, mi, host);
                    rule_key.rule = ri;
                    let parts = actions::actions(&RuleActions {
                        rule,
                        match_index: mi,
                        config,
                        namespace: &route.meta.key.namespace,
                        listener_protocol: protocol,
                        listener_port: state.spec.port,
                        targets: targets.clone(),
                    })
                    .and_then(|parts| {
                        conditions.extend(parts.conditions.iter().cloned());
                        limits::check_conditions(&conditions, &env.limits)
                            .map(|()| parts)
                            .map_err(actions::ActionError::from)
                    });
                    let parts = match parts {
                        Ok(parts) => parts,
                        Err(message) => {
                            out.refused =
                                Some(("UnsupportedValue", format!("spec.rules[{ri}].matches[{mi}]: {message}")));
                            return out;
                        }
                    };
                    let id = rule_id(&route.spec, ri, rule, mi, host);
                    let tags = config.and_then(|c| c.tags.clone()).unwrap_or_default();
                    if let Some(problem) = naming::reserved_tag(tags.keys()) {
                        out.refused = Some(("UnsupportedValue", format!("ListenerRuleConfiguration {problem}")));
                        return out;
                    }
                    let candidate = Candidate {
                        id,
                        key: rule_key,
                        conditions,
                        actions: parts.actions,
                        transforms: parts.transforms,
                        tags,
                    };
                    out.candidates.push((state.spec.port, candidate));
                }
            }
        }
    }
    out
}

#[allow(clippy::too_many_arguments)]
pub fn plan(
    snapshot: &Snapshot,
    env: &Env,
    key: &ObjectKey,
    config: &LoadBalancerConfigurationSpec,
    states: &[ListenerState],
    attachments: &mut [Attachment],
    default_tgc: Option<&ObjectKey>,
    unresolved: &mut BTreeMap<usize, Failure>,
) -> Planned {
    let mut per_port: BTreeMap<i32, Vec<Candidate>> = BTreeMap::new();
    let mut groups: BTreeMap<String, TargetGroupPlan> = BTreeMap::new();
    let mut rule_count = 0;
    // Oldest routes keep their place when a quota is reached: deterministic and stable.
    let mut order: Vec<usize> = (0..attachments.len()).collect();
    order.sort_by(|x, y| {
        let (a, b) = (&snapshot.routes[attachments[*x].route], &snapshot.routes[attachments[*y].route]);
        (&a.spec.created, a.spec.kind, &a.meta.key, attachments[*x].parent_index).cmp(&(
            &b.spec.created,
            b.spec.kind,
            &b.meta.key,
            attachments[*y].parent_index,
        ))
    });
    for i in order {
        if attachments[i].accepted.is_err() {
            continue;
        }
        let rules = route_rules(snapshot, env, key, states, &attachments[i], default_tgc);
        if let Some(refused) = rules.refused {
            attachments[i].accepted = Err(refused);
            continue;
        }
        if let (Some(failure), Ok(())) = (rules.unresolved, &attachments[i].resolved) {
            attachments[i].resolved = Err(failure);
        }
        let (candidates, tgs) = (rules.candidates, rules.groups);
        let new_rules = candidates
            .iter()
            .filter(|(port, c)| !per_port.get(port).is_some_and(|l| l.iter().any(|x| x.id == c.id)))
            .count();
        let new_groups: BTreeSet<&str> =
            tgs.iter().map(|t| t.id.as_str()).filter(|id| !groups.contains_key(*id)).collect();
        // ELBv2 names are unique per account and Region: an explicit targetGroupName used for two
        // different target groups would make the second creation fail.
        let clash = tgs.iter().find_map(|t| {
            let other = groups
                .values()
                .chain(tgs.iter())
                .find(|g| g.id != t.id && g.target_group_name == t.target_group_name)?;
            Some((t.target_group_name.clone(), other.id.clone()))
        });
        if let Some((name, other)) = clash {
            attachments[i].accepted = Err((
                "UnsupportedValue",
                format!(
                    "target group name {name:?} (from a TargetGroupConfiguration) is also wanted by {other}; names must be unique"
                ),
            ));
            continue;
        }
        if rule_count + new_rules > env.limits.rules_per_alb {
            attachments[i].accepted = Err((
                "UnsupportedValue",
                format!(
                    "the ALB would exceed its quota of {} rules: this route needs {new_rules} and {rule_count} are in use",
                    env.limits.rules_per_alb
                ),
            ));
            continue;
        }
        if groups.len() + new_groups.len() > env.limits.target_groups_per_alb {
            attachments[i].accepted = Err((
                "UnsupportedValue",
                format!(
                    "the ALB would exceed its quota of {} target groups: this route needs {} more",
                    env.limits.target_groups_per_alb,
                    new_groups.len()
                ),
            ));
            continue;
        }
        rule_count += new_rules;
        for (port, c) in candidates {
            let list = per_port.entry(port).or_default();
            if !list.iter().any(|x| x.id == c.id) {
                list.push(c);
            }
        }
        for tg in tgs {
            groups.entry(tg.id.clone()).or_insert(tg);
        }
    }

    let mut listeners = Vec::new();
    let ports: BTreeSet<i32> = states.iter().filter(|s| s.usable()).map(|s| s.spec.port).collect();
    // Certificates besides each listener's default count against the load balancer's quota.
    let mut extra_certificates = 0;
    for port in ports {
        let on_port: Vec<&ListenerState> = states.iter().filter(|s| s.usable() && s.spec.port == port).collect();
        let protocol = on_port[0].spec.protocol.clone();
        let lc = config::listener_config(config, &protocol, port);
        // A usable listener's protocol is one this load balancer has (UnsupportedProtocol otherwise).
        let Some(wire_protocol) = Protocol::from_wire(&protocol) else { continue };
        let mut plan = ListenerPlan {
            port,
            protocol: wire_protocol,
            ssl_policy: None,
            certificates: Vec::new(),
            alpn_policy: Vec::new(),
            default_actions: vec![actions::fixed_response("404", "text/plain", None)],
            rules: Vec::new(),
            tags: naming::tags(
                &env.cluster_name,
                true,
                &key.to_string(),
                &port.to_string(),
                &config.tags.clone().unwrap_or_default(),
            ),
            mutual_authentication: None,
            attributes: Vec::new(),
        };
        super::listener_config::apply(lc, &mut plan);
        plan.default_actions[0].order = 1;
        let mut candidates = per_port.remove(&port).unwrap_or_default();
        if wire_protocol == Protocol::Https {
            let mut hosts: BTreeSet<String> = on_port.iter().filter_map(|s| s.spec.hostname.clone()).collect();
            for c in &candidates {
                if !c.key.hostname.is_empty() {
                    hosts.insert(c.key.hostname.clone());
                }
            }
            match config::listener_certificates(env, lc, &hosts, &mut extra_certificates) {
                Ok(certs) => {
                    plan.certificates = certs;
                    plan.ssl_policy = Some(config::ssl_policy(env, lc));
                }
                Err(failure) => {
                    // Only this listener fails; the rest of the Gateway is still planned.
                    for s in &on_port {
                        unresolved.insert(s.index, failure.clone());
                    }
                    continue;
                }
            }
        }
        candidates.sort_by(|a, b| precedence::compare(&a.key, &b.key));
        plan.rules = candidates
            .into_iter()
            .enumerate()
            .map(|(i, c)| RulePlan {
                tags: naming::tags(&env.cluster_name, true, &key.to_string(), &c.id, &c.tags),
                id: c.id,
                priority: (i as u32 + 1) * 10,
                conditions: c.conditions,
                actions: c.actions,
                transforms: c.transforms,
            })
            .collect();
        listeners.push(plan);
    }
    // Target groups no planned listener uses are dropped (a failed HTTPS listener's, say).
    let used: BTreeSet<String> = listeners
        .iter()
        .flat_map(|l| l.rules.iter())
        .flat_map(|r| r.actions.iter())
        .filter_map(|a| a.forward_config.as_ref())
        .flat_map(|f| f.target_groups.iter().map(|t| t.target_group_arn.clone()))
        .collect();
    groups.retain(|id, _| used.contains(id));
    Planned { listeners, target_groups: groups }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_values_split_on_unescaped_commas() {
        assert_eq!(split_values("a,b"), ["a", "b"]);
        assert_eq!(split_values(r"a\,b"), ["a,b"]);
    }

    #[test]
    fn query_values_match_wildcard_characters_literally() {
        assert_eq!(literal_query("a*b?c"), r"a\*b\?c");
        assert_eq!(limits::wildcards(&literal_query("a*b?c")), 0);
    }
}
