//! One Gateway: configuration, listeners, attached routes, then its ALB or NLB stack and status.

use std::collections::{BTreeMap, BTreeSet};

use albatross_k8s::gateway_api::v1::gatewayclasses::GatewayClassSpec;
use albatross_k8s::gateway_api::v1::gateways::GatewaySpec;
use albatross_k8s::route::{ObjectKey, RouteFilter};
use serde_json::{Value, json};

use super::alb::{self, Candidate, RuleActions};
use super::attach::{self, Attachment, Failure};
use super::env::Env;
use super::hostname;
use super::listeners::{self, ListenerState};
use super::naming;
use super::precedence;
use super::snapshot::{Object, Snapshot};
use super::status::{RouteParent, StatusEntry, condition, condition_with};
use super::target_group::{self, TargetGroupInput};
use super::types::{Attribute, Certificate, ListenerPlan, LoadBalancerPlan, RulePlan, Stack, TargetGroupPlan};
use crate::validate::Flavor;

const AWS_GROUP: &str = "gateway.k8s.aws";
const LBC_KIND: &str = "LoadBalancerConfiguration";

pub struct GatewayOutcome {
    pub stack: Option<Stack>,
    pub status: StatusEntry,
    pub routes: Vec<RouteParent>,
}

pub fn check_class(snapshot: &Snapshot, class: &Object<GatewayClassSpec>) -> Result<(), Failure> {
    let Some(r) = &class.spec.parameters_ref else { return Ok(()) };
    if r.group != AWS_GROUP || r.kind != LBC_KIND {
        return Err(("InvalidParameters", format!("parametersRef must name a {LBC_KIND} of group {AWS_GROUP}")));
    }
    let Some(ns) = &r.namespace else {
        return Err(("InvalidParameters", format!("parametersRef must give the namespace of {LBC_KIND} {}", r.name)));
    };
    if !snapshot.lb_configs.contains_key(&ObjectKey::new(ns.clone(), r.name.clone())) {
        return Err(("InvalidParameters", format!("{LBC_KIND} {ns}/{} not found", r.name)));
    }
    Ok(())
}

/// The effective LoadBalancerConfiguration spec: the class's and the Gateway's, merged the way
/// the class's `mergingMode` says (the class wins by default).
fn merged_config(
    snapshot: &Snapshot,
    key: &ObjectKey,
    gw: &GatewaySpec,
    class: &GatewayClassSpec,
) -> Result<Value, Failure> {
    let class_config = class
        .parameters_ref
        .as_ref()
        .and_then(|r| snapshot.lb_configs.get(&ObjectKey::new(r.namespace.clone().unwrap_or_default(), r.name.clone())))
        .map(|c| c.raw.get("spec").cloned().unwrap_or(Value::Null));
    let gateway_config = match gw.infrastructure.as_ref().and_then(|i| i.parameters_ref.as_ref()) {
        Some(r) if r.group == AWS_GROUP && r.kind == LBC_KIND => {
            let k = ObjectKey::new(key.namespace.clone(), r.name.clone());
            let c = snapshot
                .lb_configs
                .get(&k)
                .ok_or_else(|| ("InvalidParameters", format!("{LBC_KIND} {k} not found")))?;
            Some(c.raw.get("spec").cloned().unwrap_or(Value::Null))
        }
        Some(r) => {
            return Err((
                "InvalidParameters",
                format!("infrastructure.parametersRef {}/{} is not a {LBC_KIND}", r.group, r.kind),
            ));
        }
        None => None,
    };
    Ok(match (class_config, gateway_config) {
        (None, None) => json!({}),
        (Some(c), None) => c,
        (None, Some(g)) => g,
        (Some(c), Some(g)) => {
            let gateway_wins = c.get("mergingMode").and_then(Value::as_str) == Some("prefer-gateway");
            let (low, high) = if gateway_wins { (c, g) } else { (g, c) };
            merge_configs(&low, &high)
        }
    })
}

fn merge_configs(low: &Value, high: &Value) -> Value {
    let mut out = low.as_object().cloned().unwrap_or_default();
    for (k, v) in high.as_object().into_iter().flatten() {
        let merged = match (k.as_str(), out.get(k)) {
            ("tags", Some(Value::Object(old))) => {
                let mut m = old.clone();
                m.extend(v.as_object().cloned().unwrap_or_default());
                Value::Object(m)
            }
            (key @ ("loadBalancerAttributes" | "listenerConfigurations"), Some(Value::Array(old))) => {
                let field = if key == "listenerConfigurations" { "protocolPort" } else { "key" };
                let mut by: BTreeMap<String, Value> = BTreeMap::new();
                for item in old.iter().chain(v.as_array().into_iter().flatten()) {
                    by.insert(item.get(field).and_then(Value::as_str).unwrap_or("").to_lowercase(), item.clone());
                }
                Value::Array(by.into_values().collect())
            }
            _ => v.clone(),
        };
        out.insert(k.clone(), merged);
    }
    Value::Object(out)
}

fn text_list(v: &Value, key: &str) -> Vec<String> {
    v.get(key).and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).map(str::to_owned).collect()
}

fn string_map(v: Option<&Value>) -> BTreeMap<String, String> {
    v.and_then(Value::as_object)
        .map(|m| m.iter().map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_owned())).collect())
        .unwrap_or_default()
}

/// The LoadBalancerConfiguration's listener configuration for `PROTOCOL:port`.
fn listener_config<'a>(config: &'a Value, protocol: &str, port: i32) -> Option<&'a Value> {
    let wanted = format!("{protocol}:{port}").to_lowercase();
    config
        .get("listenerConfigurations")
        .and_then(Value::as_array)?
        .iter()
        .find(|l| l.get("protocolPort").and_then(Value::as_str).is_some_and(|p| p.to_lowercase() == wanted))
}

/// Certificates of a TLS listener: configured ARNs, else ACM certificates found by hostname.
fn certificates(env: &Env, config: Option<&Value>, hosts: &BTreeSet<String>) -> Result<Vec<Certificate>, Failure> {
    if let Some(c) = config {
        let mut arns: Vec<String> =
            c.get("defaultCertificate").and_then(Value::as_str).map(str::to_owned).into_iter().collect();
        arns.extend(text_list(c, "certificates"));
        arns.dedup();
        if !arns.is_empty() {
            return Ok(arns
                .into_iter()
                .enumerate()
                .map(|(i, arn)| Certificate { certificate_arn: arn, is_default: i == 0 })
                .collect());
        }
    }
    if hosts.is_empty() {
        return Err((
            "InvalidCertificateRef",
            "no certificate: give the listener a hostname or set certificates in a LoadBalancerConfiguration".into(),
        ));
    }
    let mut chosen: Vec<String> = Vec::new();
    for host in hosts {
        let usable = env
            .certificates
            .iter()
            .filter(|c| c.status == "ISSUED" && c.not_after.as_deref().is_none_or(|t| t > env.now.as_str()));
        let mut matches: Vec<_> = usable
            .filter_map(|c| {
                let names = std::iter::once(&c.domain_name).chain(c.subject_alternative_names.iter());
                let mut exact = false;
                let mut any = false;
                for n in names {
                    if n.eq_ignore_ascii_case(host) {
                        exact = true;
                    }
                    if hostname::certificate_covers(n, host) {
                        any = true;
                    }
                }
                any.then_some((!exact, std::cmp::Reverse(c.not_after.clone()), c.certificate_arn.clone()))
            })
            .collect();
        // Exact names beat wildcards, then the longest-lived, then the ARN: deterministic.
        matches.sort();
        let Some((_, _, arn)) = matches.into_iter().next() else {
            return Err(("InvalidCertificateRef", format!("no ISSUED, unexpired ACM certificate covers {host}")));
        };
        if !chosen.contains(&arn) {
            chosen.push(arn);
        }
    }
    Ok(chosen
        .into_iter()
        .enumerate()
        .map(|(i, arn)| Certificate { certificate_arn: arn, is_default: i == 0 })
        .collect())
}

struct Planned {
    listeners: Vec<ListenerPlan>,
    target_groups: BTreeMap<String, TargetGroupPlan>,
}

/// The candidate rules and target groups one attachment adds on an ALB.
fn alb_candidates(
    snapshot: &Snapshot,
    env: &Env,
    key: &ObjectKey,
    states: &[ListenerState],
    a: &Attachment,
    default_tgc: Option<&ObjectKey>,
) -> (Vec<(i32, Candidate)>, Vec<TargetGroupPlan>) {
    let route = &snapshot.routes[a.route];
    let mut out = Vec::new();
    let mut groups = Vec::new();
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
                if let Ok(tg) = target_group::plan(env, &input) {
                    targets.push((tg.id.clone(), resolved.weight));
                    groups.push(tg);
                }
            }
            let config = rule.filters.iter().find_map(|f| match f {
                RouteFilter::Http(_) | RouteFilter::Grpc(_) => {
                    f.extension_ref().filter(|(g, k, _)| g == AWS_GROUP && k == "ListenerRuleConfiguration")
                }
            });
            let config = config
                .and_then(|(_, _, name)| {
                    snapshot.rule_configs.get(&ObjectKey::new(route.meta.key.namespace.clone(), name))
                })
                .and_then(|c| c.raw.get("spec"));
            let hostnames: Vec<&str> =
                if hosts.is_empty() { vec![""] } else { hosts.iter().map(String::as_str).collect() };
            for mi in 0..rule.matches.len().max(1) {
                for host in &hostnames {
                    let (mut rule_key, mut conditions) = alb::conditions(&route.spec, rule, mi, host);
                    rule_key.rule = ri;
                    let (actions, transforms, extra) = alb::actions(&RuleActions {
                        rule,
                        match_index: mi,
                        config,
                        listener_protocol: protocol,
                        targets: targets.clone(),
                    });
                    conditions.extend(extra);
                    let id = alb::rule_id(&route.spec, ri, rule, mi, host);
                    out.push((state.spec.port, Candidate { id, key: rule_key, conditions, actions, transforms }));
                }
            }
        }
    }
    (out, groups)
}

pub fn build(
    snapshot: &Snapshot,
    env: &Env,
    key: &ObjectKey,
    gw: &Object<GatewaySpec>,
    class: &Object<GatewayClassSpec>,
    flavor: Flavor,
    class_failure: Option<&Failure>,
) -> GatewayOutcome {
    let controller = match flavor {
        Flavor::Alb => env.controllers.alb.clone(),
        Flavor::Nlb => env.controllers.nlb.clone(),
    };
    let mut states = listeners::evaluate(&gw.spec.listeners, flavor);
    let config = match class_failure {
        Some((_, message)) => {
            Err(("InvalidParameters", format!("GatewayClass {} is not accepted: {message}", class.meta.key.name)))
        }
        None => merged_config(snapshot, key, &gw.spec, &class.spec),
    };
    let mut attachments = attach::attach(snapshot, key, &mut states);

    // What the load balancer cannot do fails the route alone.
    for a in attachments.iter_mut().filter(|a| a.accepted.is_ok()) {
        let route = &snapshot.routes[a.route];
        let problems = crate::validate::aws::route_support(route.spec.kind.as_str(), &route.raw, flavor);
        if !problems.is_empty() {
            let message = problems.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ");
            a.accepted = Err(("UnsupportedValue", message));
        }
    }

    let mut stack = None;
    let mut unresolved_listeners: BTreeMap<usize, Failure> = BTreeMap::new();
    if let Ok(config) = &config {
        let default_tgc = config
            .pointer("/defaultTargetGroupConfiguration/name")
            .and_then(Value::as_str)
            .map(|n| ObjectKey::new(key.namespace.clone(), n));
        let planned = match flavor {
            Flavor::Alb => plan_alb(
                snapshot,
                env,
                key,
                config,
                &states,
                &mut attachments,
                default_tgc.as_ref(),
                &mut unresolved_listeners,
            ),
            Flavor::Nlb => plan_nlb(
                snapshot,
                env,
                key,
                config,
                &states,
                &attachments,
                default_tgc.as_ref(),
                &mut unresolved_listeners,
            ),
        };
        stack = Some(Stack {
            gateway: key.to_string(),
            load_balancer: load_balancer(env, key, gw, config, flavor),
            listeners: planned.listeners,
            target_groups: planned.target_groups.into_values().collect(),
        });
    }
    for (index, failure) in unresolved_listeners {
        states[index].unresolved = Some(failure);
    }
    for a in attachments.iter().filter(|a| a.accepted.is_ok()) {
        for (li, _) in &a.listeners {
            states[*li].attached += 1;
        }
    }
    let routes = attachments
        .iter()
        .map(|a| RouteParent {
            route: a.route,
            parent_index: a.parent_index,
            parent: a.parent.clone(),
            controller: controller.clone(),
            accepted: a.accepted.clone(),
            resolved: a.resolved.clone(),
        })
        .collect();
    GatewayOutcome { status: gateway_status(gw, &states, &config), stack, routes }
}

#[allow(clippy::too_many_arguments)]
fn plan_alb(
    snapshot: &Snapshot,
    env: &Env,
    key: &ObjectKey,
    config: &Value,
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
        let (candidates, tgs) = alb_candidates(snapshot, env, key, states, &attachments[i], default_tgc);
        let new_rules = candidates
            .iter()
            .filter(|(port, c)| !per_port.get(port).is_some_and(|l| l.iter().any(|x| x.id == c.id)))
            .count();
        let new_groups: BTreeSet<&str> =
            tgs.iter().map(|t| t.id.as_str()).filter(|id| !groups.contains_key(*id)).collect();
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
    for port in ports {
        let on_port: Vec<&ListenerState> = states.iter().filter(|s| s.usable() && s.spec.port == port).collect();
        let protocol = on_port[0].spec.protocol.clone();
        let lc = listener_config(config, &protocol, port);
        let mut plan = ListenerPlan {
            port,
            protocol: protocol.clone(),
            ssl_policy: None,
            certificates: Vec::new(),
            alpn_policy: Vec::new(),
            default_actions: vec![alb::fixed_response("404", "text/plain", None)],
            rules: Vec::new(),
        };
        plan.default_actions[0].order = 1;
        let mut candidates = per_port.remove(&port).unwrap_or_default();
        if protocol == "HTTPS" {
            let mut hosts: BTreeSet<String> = on_port.iter().filter_map(|s| s.spec.hostname.clone()).collect();
            for c in &candidates {
                if !c.key.hostname.is_empty() {
                    hosts.insert(c.key.hostname.clone());
                }
            }
            match certificates(env, lc, &hosts) {
                Ok(certs) => {
                    plan.certificates = certs;
                    plan.ssl_policy = Some(
                        lc.and_then(|c| c.get("sslPolicy"))
                            .and_then(Value::as_str)
                            .map_or_else(|| env.default_ssl_policy.clone(), str::to_owned),
                    );
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

#[allow(clippy::too_many_arguments)]
fn plan_nlb(
    snapshot: &Snapshot,
    env: &Env,
    key: &ObjectKey,
    config: &Value,
    states: &[ListenerState],
    attachments: &[Attachment],
    default_tgc: Option<&ObjectKey>,
    unresolved: &mut BTreeMap<usize, Failure>,
) -> Planned {
    let mut listeners = Vec::new();
    let mut groups = BTreeMap::new();
    let ports: BTreeSet<i32> = states.iter().filter(|s| s.usable()).map(|s| s.spec.port).collect();
    for port in ports {
        let on_port: Vec<&ListenerState> = states.iter().filter(|s| s.usable() && s.spec.port == port).collect();
        let protocols: BTreeSet<&str> = on_port
            .iter()
            .map(|s| match (s.spec.protocol.as_str(), s.tls_mode()) {
                ("TLS", "Passthrough") => "TCP",
                (p, _) => p,
            })
            .collect();
        let protocol = if protocols.contains("TCP") && protocols.contains("UDP") {
            "TCP_UDP".to_owned()
        } else {
            protocols.iter().next().copied().unwrap_or("TCP").to_owned()
        };
        // NLB listeners do not route: the oldest attached route serves the port.
        let indexes: BTreeSet<usize> = on_port.iter().map(|s| s.index).collect();
        let mut routes: Vec<&Attachment> = attachments
            .iter()
            .filter(|a| a.accepted.is_ok() && a.listeners.iter().any(|(li, _)| indexes.contains(li)))
            .collect();
        routes.sort_by(|a, b| {
            let (x, y) = (&snapshot.routes[a.route], &snapshot.routes[b.route]);
            (&x.spec.created, &x.meta.key).cmp(&(&y.spec.created, &y.meta.key))
        });
        let mut targets: Vec<(String, i32)> = Vec::new();
        if let Some(a) = routes.first() {
            let route = &snapshot.routes[a.route];
            for backend in route.spec.rules.iter().flat_map(|r| r.backend_refs.iter()) {
                let Ok(resolved) = attach::resolve(snapshot, &route.spec, backend) else { continue };
                let props = target_group::props(snapshot, default_tgc, &resolved.service, &route.spec);
                let input = TargetGroupInput {
                    gateway: key,
                    flavor: Flavor::Nlb,
                    route: &route.spec,
                    backend: &resolved,
                    listener_protocol: &protocol,
                    props: &props,
                };
                if let Ok(tg) = target_group::plan(env, &input) {
                    targets.push((tg.id.clone(), resolved.weight));
                    groups.entry(tg.id.clone()).or_insert(tg);
                }
            }
        }
        if targets.iter().all(|(_, w)| *w == 0) {
            // Nothing to forward to: NLB listeners have no fixed response, so the port stays closed.
            continue;
        }
        let lc = listener_config(config, &protocol, port);
        let mut plan = ListenerPlan {
            port,
            protocol: protocol.clone(),
            ssl_policy: None,
            certificates: Vec::new(),
            alpn_policy: Vec::new(),
            default_actions: Vec::new(),
            rules: Vec::new(),
        };
        if protocol == "TLS" {
            let mut hosts: BTreeSet<String> = on_port.iter().filter_map(|s| s.spec.hostname.clone()).collect();
            if let Some(a) = routes.first() {
                hosts.extend(snapshot.routes[a.route].spec.hostnames.iter().cloned());
            }
            match certificates(env, lc, &hosts) {
                Ok(certs) => {
                    plan.certificates = certs;
                    plan.ssl_policy = Some(
                        lc.and_then(|c| c.get("sslPolicy"))
                            .and_then(Value::as_str)
                            .map_or_else(|| env.default_ssl_policy.clone(), str::to_owned),
                    );
                    if let Some(alpn) = lc.and_then(|c| c.get("alpnPolicy")).and_then(Value::as_str) {
                        plan.alpn_policy = vec![alpn.to_owned()];
                    }
                }
                Err(failure) => {
                    for s in &on_port {
                        unresolved.insert(s.index, failure.clone());
                    }
                    continue;
                }
            }
        }
        let (actions, _, _) = alb::actions(&RuleActions {
            rule: &albatross_k8s::route::RouteRule {
                name: None,
                matches: Vec::new(),
                filters: Vec::new(),
                backend_refs: Vec::new(),
            },
            match_index: 0,
            config: None,
            listener_protocol: &protocol,
            targets,
        });
        plan.default_actions = actions;
        listeners.push(plan);
    }
    Planned { listeners, target_groups: groups }
}

fn load_balancer(
    env: &Env,
    key: &ObjectKey,
    gw: &Object<GatewaySpec>,
    config: &Value,
    flavor: Flavor,
) -> LoadBalancerPlan {
    let scheme = config.get("scheme").and_then(Value::as_str).map_or_else(|| env.default_scheme.clone(), str::to_owned);
    let identity = gw.meta.uid.clone().unwrap_or_else(|| key.to_string());
    let name =
        config.get("loadBalancerName").and_then(Value::as_str).map(str::to_owned).unwrap_or_else(|| {
            naming::resource_name(&key.namespace, &key.name, &[&env.cluster_name, &identity, &scheme])
        });
    let subnets: Vec<String> = config
        .get("loadBalancerSubnets")
        .and_then(Value::as_array)
        .map(|s| s.iter().filter_map(|x| x.get("identifier").and_then(Value::as_str)).map(str::to_owned).collect())
        .unwrap_or_else(|| env.subnets.clone());
    let mut attributes: Vec<Attribute> = config
        .get("loadBalancerAttributes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|a| Attribute {
            key: a.get("key").and_then(Value::as_str).unwrap_or("").to_owned(),
            value: a.get("value").and_then(Value::as_str).unwrap_or("").to_owned(),
        })
        .collect();
    attributes.sort();
    LoadBalancerPlan {
        load_balancer_name: name,
        r#type: match flavor {
            Flavor::Alb => "application".into(),
            Flavor::Nlb => "network".into(),
        },
        scheme,
        ip_address_type: config.get("ipAddressType").and_then(Value::as_str).unwrap_or("ipv4").to_owned(),
        subnets,
        security_groups: text_list(config, "securityGroups"),
        attributes,
        tags: naming::tags(
            &env.cluster_name,
            flavor == Flavor::Alb,
            &key.to_string(),
            "LoadBalancer",
            &string_map(config.get("tags")),
        ),
    }
}

fn gateway_status(gw: &Object<GatewaySpec>, states: &[ListenerState], config: &Result<Value, Failure>) -> StatusEntry {
    let generation = gw.meta.generation;
    let valid = states.iter().filter(|s| s.usable()).count();
    let accepted = match config {
        Err(failure) => condition("Accepted", Err(failure), generation),
        Ok(_) if valid == 0 => {
            condition("Accepted", Err(&("ListenersNotValid", "no listener is valid".to_owned())), generation)
        }
        Ok(_) if valid < states.len() => {
            condition_with("Accepted", "True", "ListenersNotValid", "some listeners are not valid", generation)
        }
        Ok(_) => condition("Accepted", Ok("Accepted"), generation),
    };
    let programmed = match config {
        Err(_) => condition_with("Programmed", "False", "Invalid", "the Gateway is not accepted", generation),
        Ok(_) => {
            condition_with("Programmed", "False", "Pending", "the load balancer is not provisioned yet", generation)
        }
    };
    let listeners: Vec<Value> = states
        .iter()
        .map(|s| {
            let supported: Vec<Value> = s
                .supported
                .iter()
                .map(|k| json!({ "group": albatross_k8s::route::GATEWAY_GROUP, "kind": k.as_str() }))
                .collect();
            let accepted_ok = s.rejected.as_ref().map_or(Ok("Accepted"), Err);
            let programmed = match (&s.rejected, &s.conflicted, &s.unresolved) {
                (Some(f), _, _) | (None, Some(f), _) => condition("Programmed", Err(f), generation),
                (None, None, Some(f)) if f.0 == "InvalidCertificateRef" => condition("Programmed", Err(f), generation),
                _ => condition_with(
                    "Programmed",
                    "False",
                    "Pending",
                    "the load balancer is not provisioned yet",
                    generation,
                ),
            };
            json!({
                "name": s.spec.name,
                "supportedKinds": supported,
                "attachedRoutes": s.attached,
                "conditions": [
                    condition("Accepted", accepted_ok, generation),
                    programmed,
                    condition("ResolvedRefs", s.unresolved.as_ref().map_or(Ok("ResolvedRefs"), Err), generation),
                    match &s.conflicted {
                        Some((reason, message)) => condition_with("Conflicted", "True", reason, message, generation),
                        None => condition_with("Conflicted", "False", "NoConflicts", "", generation),
                    },
                ],
            })
        })
        .collect();
    StatusEntry {
        api_version: gw.meta.api_version.clone(),
        kind: "Gateway".into(),
        namespace: Some(gw.meta.key.namespace.clone()),
        name: gw.meta.key.name.clone(),
        status: json!({ "conditions": [accepted, programmed], "listeners": listeners }),
    }
}
