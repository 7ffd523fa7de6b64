//! `diff(plan, observed) -> Vec<Op>`: pure, ordered so that traffic never loses a route:
//! load balancer, then target groups, then listeners, then per listener rule moves, creations and
//! in-place modifications, then deletions of rules, certificates, listeners and target groups
//! that the plan no longer has. Existing rule priorities are kept wherever the desired order
//! allows, so one route change touches only that route's rules.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use albatross_model::plan::naming::CLUSTER_TAG;
use albatross_model::plan::types::{Action, Attribute, ListenerPlan, RulePlan, Stack, Tag, TargetGroupPlan};
use sha2::{Digest, Sha256};

use crate::observed::{ListenerObserved, RuleObserved, StackObserved, TargetGroupObserved};
use crate::sdk::{canonical_actions, canonical_rule};

/// Tag holding a hash of the target group attributes we last set: reading attributes back would
/// cost one call per target group on every resync.
pub const ATTRIBUTES_TAG: &str = "albatross.k8s.aws/attributes";

/// The highest rule priority ALB accepts.
pub const MAX_PRIORITY: u32 = 50_000;

/// `TagListener` and `TagRule` bring the tags of an existing listener or rule to the plan's,
/// only where they were read (LBC's rule resource tag is `<port>:<priority>`, ours the rule id).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Op {
    CreateLoadBalancer,
    SetSubnets { subnets: Vec<String> },
    SetSecurityGroups { groups: Vec<String> },
    ModifyLoadBalancerAttributes { attributes: Vec<Attribute> },
    AddTags { arn: String, tags: Vec<Tag> },
    CreateTargetGroup { id: String },
    ModifyTargetGroup { id: String },
    ModifyTargetGroupAttributes { id: String },
    CreateListener { port: i32 },
    ModifyListener { port: i32 },
    ModifyListenerAttributes { port: i32, attributes: Vec<Attribute> },
    AddListenerCertificates { port: i32, certificates: Vec<String> },
    SetRulePriorities { port: i32, priorities: Vec<(String, u32)> },
    CreateRule { port: i32, id: String, priority: u32 },
    ModifyRule { port: i32, arn: String, id: String },
    TagListener { port: i32, arn: String, tags: Vec<Tag> },
    TagRule { port: i32, arn: String, tags: Vec<Tag> },
    DeleteRule { arn: String },
    RemoveListenerCertificates { port: i32, certificates: Vec<String> },
    DeleteListener { arn: String },
    DeleteTargetGroup { arn: String },
    DeleteLoadBalancer { arn: String },
}

impl Op {
    pub fn operation(&self) -> &'static str {
        match self {
            Op::CreateLoadBalancer => "CreateLoadBalancer",
            Op::SetSubnets { .. } => "SetSubnets",
            Op::SetSecurityGroups { .. } => "SetSecurityGroups",
            Op::ModifyLoadBalancerAttributes { .. } => "ModifyLoadBalancerAttributes",
            Op::AddTags { .. } | Op::TagListener { .. } | Op::TagRule { .. } => "AddTags",
            Op::CreateTargetGroup { .. } => "CreateTargetGroup",
            Op::ModifyTargetGroup { .. } => "ModifyTargetGroup",
            Op::ModifyTargetGroupAttributes { .. } => "ModifyTargetGroupAttributes",
            Op::CreateListener { .. } => "CreateListener",
            Op::ModifyListener { .. } => "ModifyListener",
            Op::ModifyListenerAttributes { .. } => "ModifyListenerAttributes",
            Op::AddListenerCertificates { .. } => "AddListenerCertificates",
            Op::SetRulePriorities { .. } => "SetRulePriorities",
            Op::CreateRule { .. } => "CreateRule",
            Op::ModifyRule { .. } => "ModifyRule",
            Op::DeleteRule { .. } => "DeleteRule",
            Op::RemoveListenerCertificates { .. } => "RemoveListenerCertificates",
            Op::DeleteListener { .. } => "DeleteListener",
            Op::DeleteTargetGroup { .. } => "DeleteTargetGroup",
            Op::DeleteLoadBalancer { .. } => "DeleteLoadBalancer",
        }
    }
}

/// Hash of a target group's desired attributes, as kept in [`ATTRIBUTES_TAG`].
pub fn attributes_hash(attributes: &[Attribute]) -> String {
    let mut sorted: Vec<&Attribute> = attributes.iter().collect();
    sorted.sort();
    let mut hasher = Sha256::new();
    for a in sorted {
        hasher.update(a.key.as_bytes());
        hasher.update([0]);
        hasher.update(a.value.as_bytes());
        hasher.update([0]);
    }
    hasher.finalize().iter().take(8).map(|b| format!("{b:02x}")).collect()
}

/// Maps observed target group ARNs to stack ids as LBC pairs them: by the resource tag, kept
/// only while what a target group cannot change (target type, protocol, protocol version, port, target control port)
/// matches the plan. Names are not compared: LBC's groups, and a successor's, keep theirs. Of
/// duplicates (a crash between create and use), one serving our load balancer wins.
pub fn target_group_ids(stack: &Stack, observed: &StackObserved) -> HashMap<String, String> {
    let planned: HashMap<&str, &TargetGroupPlan> = stack.target_groups.iter().map(|t| (t.id.as_str(), t)).collect();
    let lb = observed.load_balancer.as_ref().map(|l| l.arn.as_str());
    let mut candidates: Vec<&TargetGroupObserved> = observed.target_groups.iter().collect();
    candidates.sort_by_key(|t| {
        (!lb.is_some_and(|lb| t.load_balancer_arns.iter().any(|a| a == lb)), t.load_balancer_arns.is_empty())
    });
    let mut taken = BTreeSet::new();
    let mut out = HashMap::new();
    for t in candidates {
        let Some(plan) = planned.get(t.id.as_str()) else { continue };
        if immutable_equal(plan, t) && taken.insert(t.id.as_str()) {
            out.insert(t.arn.clone(), t.id.clone());
        }
    }
    out
}

/// What only a new target group can change. The version is only HTTP's (apply sends no other).
pub fn immutable_equal(plan: &TargetGroupPlan, o: &TargetGroupObserved) -> bool {
    let http = matches!(plan.protocol.as_str(), "HTTP" | "HTTPS");
    plan.target_type.as_str() == o.target_type
        && plan.protocol.as_str() == o.protocol
        && plan.port == o.port
        && (!http || plan.protocol_version == o.protocol_version)
        && plan.target_control_port == o.target_control_port
}

pub fn diff(stack: &Stack, observed: &StackObserved) -> Vec<Op> {
    let mut ops = Vec::new();
    let lb = &stack.load_balancer;
    match &observed.load_balancer {
        None => {
            ops.push(Op::CreateLoadBalancer);
            if !lb.attributes.is_empty() {
                ops.push(Op::ModifyLoadBalancerAttributes { attributes: lb.attributes.clone() });
            }
        }
        Some(o) => {
            if !lb.subnets.is_empty() && sorted(&lb.subnets) != sorted(&o.subnets) {
                ops.push(Op::SetSubnets { subnets: lb.subnets.clone() });
            }
            if !lb.security_groups.is_empty() && sorted(&lb.security_groups) != sorted(&o.security_groups) {
                ops.push(Op::SetSecurityGroups { groups: lb.security_groups.clone() });
            }
            let changed: Vec<Attribute> = lb
                .attributes
                .iter()
                .filter(|a| !o.attributes.iter().any(|b| b.key == a.key && b.value == a.value))
                .cloned()
                .collect();
            if !changed.is_empty() {
                ops.push(Op::ModifyLoadBalancerAttributes { attributes: changed });
            }
            let missing = missing_tags(&lb.tags, &o.tags);
            if !missing.is_empty() {
                ops.push(Op::AddTags { arn: o.arn.clone(), tags: missing });
            }
        }
    }

    let by_id: HashMap<&str, &TargetGroupObserved> = {
        let ids = target_group_ids(stack, observed);
        observed.target_groups.iter().filter(|t| ids.contains_key(&t.arn)).map(|t| (t.id.as_str(), t)).collect()
    };
    // Creations first, together: apply checks their ownership in one batch before anything
    // else touches them.
    let mut tg_changes = Vec::new();
    for tg in &stack.target_groups {
        match by_id.get(tg.id.as_str()) {
            None => {
                ops.push(Op::CreateTargetGroup { id: tg.id.clone() });
                if !tg.attributes.is_empty() {
                    tg_changes.push(Op::ModifyTargetGroupAttributes { id: tg.id.clone() });
                }
            }
            Some(o) => {
                if !health_check_equal(tg, o) {
                    tg_changes.push(Op::ModifyTargetGroup { id: tg.id.clone() });
                }
                let want = attributes_hash(&tg.attributes);
                let have = o.tag(ATTRIBUTES_TAG);
                if have != Some(want.as_str()) && !(have.is_none() && tg.attributes.is_empty()) {
                    tg_changes.push(Op::ModifyTargetGroupAttributes { id: tg.id.clone() });
                }
                let missing = missing_tags(&tg.tags, &o.tags);
                if !missing.is_empty() {
                    tg_changes.push(Op::AddTags { arn: o.arn.clone(), tags: missing });
                }
            }
        }
    }
    ops.extend(tg_changes);

    let ids = target_group_ids(stack, observed);
    let observed_listeners: BTreeMap<i32, &ListenerObserved> = observed.listeners.iter().map(|l| (l.port, l)).collect();
    let mut rule_ops = Vec::new();
    let mut late = Vec::new();
    for listener in &stack.listeners {
        match observed_listeners.get(&listener.port) {
            None => {
                ops.push(Op::CreateListener { port: listener.port });
                if !listener.attributes.is_empty() {
                    ops.push(Op::ModifyListenerAttributes {
                        port: listener.port,
                        attributes: listener.attributes.clone(),
                    });
                }
                let extra = extra_certificates(listener);
                if !extra.is_empty() {
                    ops.push(Op::AddListenerCertificates { port: listener.port, certificates: extra });
                }
                rule_ops.extend(diff_rules(listener, &[], &ids));
            }
            Some(o) => {
                if !listener_equal(listener, o, &ids) {
                    ops.push(Op::ModifyListener { port: listener.port });
                }
                let changed: Vec<Attribute> =
                    listener.attributes.iter().filter(|a| !o.attributes.contains(a)).cloned().collect();
                if !changed.is_empty() {
                    ops.push(Op::ModifyListenerAttributes { port: listener.port, attributes: changed });
                }
                if let Some(tags) = retag(&listener.tags, o.tags.as_deref()) {
                    ops.push(Op::TagListener { port: listener.port, arn: o.arn.clone(), tags });
                }
                let want: BTreeSet<String> = extra_certificates(listener).into_iter().collect();
                let have: BTreeSet<String> =
                    o.certificates.iter().filter(|c| !c.is_default).map(|c| c.certificate_arn.clone()).collect();
                let add: Vec<String> = want.difference(&have).cloned().collect();
                let remove: Vec<String> = have.difference(&want).cloned().collect();
                if !add.is_empty() {
                    ops.push(Op::AddListenerCertificates { port: listener.port, certificates: add });
                }
                rule_ops.extend(diff_rules(listener, &o.rules, &ids));
                if !remove.is_empty() {
                    late.push(Op::RemoveListenerCertificates { port: listener.port, certificates: remove });
                }
            }
        }
    }
    ops.extend(rule_ops);
    ops.extend(late);
    let desired_ports: BTreeSet<i32> = stack.listeners.iter().map(|l| l.port).collect();
    for o in &observed.listeners {
        if !desired_ports.contains(&o.port) {
            ops.push(Op::DeleteListener { arn: o.arn.clone() });
        }
    }
    for o in &observed.target_groups {
        if !ids.contains_key(&o.arn) {
            ops.push(Op::DeleteTargetGroup { arn: o.arn.clone() });
        }
    }
    ops
}

fn sorted(v: &[String]) -> Vec<&String> {
    let mut s: Vec<&String> = v.iter().collect();
    s.sort();
    s
}

fn missing_tags(want: &[Tag], have: &[Tag]) -> Vec<Tag> {
    want.iter().filter(|t| !have.iter().any(|h| h.key == t.key && h.value == t.value)).cloned().collect()
}

/// The plan's tags an existing listener or rule lacks, when its tags were read. Never the
/// cluster tag: ownership is not rewritten (nor may the IAM policy write it on existing
/// resources). Keys the plan does not have (a user's own) are left alone.
fn retag(want: &[Tag], have: Option<&[Tag]>) -> Option<Vec<Tag>> {
    let missing: Vec<Tag> = missing_tags(want, have?).into_iter().filter(|t| t.key != CLUSTER_TAG).collect();
    (!missing.is_empty()).then_some(missing)
}

fn health_check_equal(tg: &TargetGroupPlan, o: &TargetGroupObserved) -> bool {
    let matcher = tg.matcher.as_ref();
    tg.health_check_protocol == o.health_check_protocol
        && tg.health_check_port == o.health_check_port
        && (tg.health_check_path.is_none() || tg.health_check_path == o.health_check_path)
        && tg.health_check_interval_seconds == o.health_check_interval_seconds
        && tg.health_check_timeout_seconds == o.health_check_timeout_seconds
        && tg.healthy_threshold_count == o.healthy_threshold_count
        && tg.unhealthy_threshold_count == o.unhealthy_threshold_count
        && matcher.and_then(|m| m.http_code.as_ref()).is_none_or(|c| Some(c) == o.matcher_http_code.as_ref())
        && matcher.and_then(|m| m.grpc_code.as_ref()).is_none_or(|c| Some(c) == o.matcher_grpc_code.as_ref())
}

fn extra_certificates(listener: &ListenerPlan) -> Vec<String> {
    listener.certificates.iter().filter(|c| !c.is_default).map(|c| c.certificate_arn.clone()).collect()
}

/// Observed actions name target groups by ARN; the plan by id.
fn with_ids(actions: &[Action], ids: &HashMap<String, String>) -> Vec<Action> {
    let mut actions = actions.to_vec();
    for action in &mut actions {
        if let Some(forward) = &mut action.forward_config {
            for tg in &mut forward.target_groups {
                if let Some(id) = ids.get(&tg.target_group_arn) {
                    tg.target_group_arn = id.clone();
                }
            }
        }
    }
    canonical_actions(&actions)
}

fn listener_equal(listener: &ListenerPlan, o: &ListenerObserved, ids: &HashMap<String, String>) -> bool {
    let default_cert = |certs: &[albatross_model::plan::types::Certificate]| {
        certs.iter().find(|c| c.is_default).map(|c| c.certificate_arn.clone())
    };
    listener.protocol.as_str() == o.protocol
        && (listener.ssl_policy.is_none() || listener.ssl_policy == o.ssl_policy)
        && default_cert(&listener.certificates) == default_cert(&o.certificates)
        && listener.alpn_policy.iter().filter(|p| *p != "None").collect::<Vec<_>>()
            == o.alpn_policy.iter().filter(|p| *p != "None").collect::<Vec<_>>()
        && canonical_actions(&listener.default_actions) == with_ids(&o.default_actions, ids)
        && crate::listener_settings::mutual_authentication_equal(
            listener.mutual_authentication.as_ref(),
            o.mutual_authentication.as_ref(),
        )
}

type RuleContent = String;

fn desired_content(rule: &RulePlan) -> RuleContent {
    let (c, a, t) = canonical_rule(&rule.conditions, &rule.actions, &rule.transforms);
    serde_json::to_string(&(c, a, t)).expect("plan types serialize")
}

fn observed_content(rule: &RuleObserved, ids: &HashMap<String, String>) -> RuleContent {
    let actions = with_ids(&rule.actions, ids);
    let (c, a, t) = canonical_rule(&rule.conditions, &actions, &rule.transforms);
    serde_json::to_string(&(c, a, t)).expect("plan types serialize")
}

/// Rule operations for one listener, in the order they must run: moves, creations, in-place
/// modifications, then deletions.
pub fn diff_rules(listener: &ListenerPlan, observed: &[RuleObserved], ids: &HashMap<String, String>) -> Vec<Op> {
    let port = listener.port;
    let desired = &listener.rules;
    let mut by_content: HashMap<RuleContent, Vec<usize>> = HashMap::new();
    let mut observed_sorted: Vec<&RuleObserved> = observed.iter().collect();
    observed_sorted.sort_by_key(|r| r.priority);
    for (i, r) in observed_sorted.iter().enumerate() {
        by_content.entry(observed_content(r, ids)).or_default().push(i);
    }
    for list in by_content.values_mut() {
        list.reverse();
    }
    let matched: Vec<Option<usize>> =
        desired.iter().map(|d| by_content.get_mut(&desired_content(d)).and_then(Vec::pop)).collect();
    let anchored = longest_increasing(&matched, &observed_sorted);
    let occupied: BTreeSet<u32> = observed_sorted.iter().map(|r| r.priority).collect();

    match place(desired, &matched, &anchored, &observed_sorted, &occupied) {
        Some(placements) => emit(port, desired, &observed_sorted, &matched, placements),
        None => renumber(port, desired, &observed_sorted, &matched, &occupied),
    }
}

/// Which matched desired rules keep their observed priority: the longest run whose observed
/// priorities increase in desired order.
fn longest_increasing(matched: &[Option<usize>], observed: &[&RuleObserved]) -> Vec<bool> {
    let items: Vec<(usize, u32)> =
        matched.iter().enumerate().filter_map(|(d, o)| o.map(|o| (d, observed[o].priority))).collect();
    // Patience sorting with back-pointers.
    let mut tails: Vec<usize> = Vec::new();
    let mut prev: Vec<Option<usize>> = vec![None; items.len()];
    for i in 0..items.len() {
        let pos = tails.partition_point(|&t| items[t].1 < items[i].1);
        if pos > 0 {
            prev[i] = Some(tails[pos - 1]);
        }
        if pos == tails.len() {
            tails.push(i);
        } else {
            tails[pos] = i;
        }
    }
    let mut keep = vec![false; matched.len()];
    let mut cursor = tails.last().copied();
    while let Some(i) = cursor {
        keep[items[i].0] = true;
        cursor = prev[i];
    }
    keep
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Placement {
    Keep(u32),
    Move(u32),
    Modify(usize),
    Create(u32),
}

fn place(
    desired: &[RulePlan],
    matched: &[Option<usize>],
    anchored: &[bool],
    observed: &[&RuleObserved],
    occupied: &BTreeSet<u32>,
) -> Option<Vec<Placement>> {
    let used: BTreeSet<usize> = matched.iter().flatten().copied().collect();
    let mut free_observed: Vec<usize> = (0..observed.len()).filter(|i| !used.contains(i)).collect();
    free_observed.reverse();
    let mut out = Vec::with_capacity(desired.len());
    let mut lo = 0u32;
    let mut d = 0;
    while d < desired.len() {
        if anchored[d] {
            let p = observed[matched[d]?].priority;
            out.push(Placement::Keep(p));
            lo = p;
            d += 1;
            continue;
        }
        // A segment of rules up to the next anchor.
        let end = (d..desired.len()).find(|&i| anchored[i]).unwrap_or(desired.len());
        let hi = if end < desired.len() { observed[matched[end]?].priority } else { MAX_PRIORITY + 1 };
        for i in d..end {
            let remaining = (end - i) as u32;
            if matched[i].is_none() {
                // Reuse the next unmatched observed rule in this gap in place.
                while free_observed.last().is_some_and(|&o| observed[o].priority <= lo) {
                    free_observed.pop();
                }
                if let Some(&o) = free_observed.last() {
                    let p = observed[o].priority;
                    if p < hi && (hi - p) > remaining - 1 {
                        free_observed.pop();
                        out.push(Placement::Modify(o));
                        lo = p;
                        continue;
                    }
                }
            }
            let p = pick(desired[i].priority, lo, hi, remaining, occupied)?;
            out.push(if matched[i].is_some() { Placement::Move(p) } else { Placement::Create(p) });
            lo = p;
        }
        d = end;
    }
    Some(out)
}

/// A free priority in `(lo, hi)` leaving room for `remaining - 1` more after it: the plan's own
/// priority when it fits, else a spread one.
fn pick(planned: u32, lo: u32, hi: u32, remaining: u32, occupied: &BTreeSet<u32>) -> Option<u32> {
    let room = |p: u32| p > lo && p < hi && hi - p > remaining - 1 && !occupied.contains(&p);
    if room(planned) {
        return Some(planned);
    }
    let step = ((hi - lo) / (remaining + 1)).max(1);
    let start = lo + step;
    (start..hi).chain(lo + 1..start).find(|&p| room(p))
}

fn emit(
    port: i32,
    desired: &[RulePlan],
    observed: &[&RuleObserved],
    matched: &[Option<usize>],
    placements: Vec<Placement>,
) -> Vec<Op> {
    let mut moves = Vec::new();
    let mut creates = Vec::new();
    let mut modifies = Vec::new();
    let mut tags = Vec::new();
    let mut kept = BTreeSet::new();
    for (d, placement) in placements.into_iter().enumerate() {
        let o = match placement {
            Placement::Keep(_) => matched[d].expect("kept rules are matched"),
            Placement::Move(p) => {
                let o = matched[d].expect("moved rules are matched");
                moves.push((observed[o].arn.clone(), p));
                o
            }
            Placement::Modify(o) => {
                modifies.push(Op::ModifyRule { port, arn: observed[o].arn.clone(), id: desired[d].id.clone() });
                o
            }
            Placement::Create(p) => {
                creates.push(Op::CreateRule { port, id: desired[d].id.clone(), priority: p });
                continue;
            }
        };
        kept.insert(o);
        if let Some(added) = retag(&desired[d].tags, observed[o].tags.as_deref()) {
            tags.push(Op::TagRule { port, arn: observed[o].arn.clone(), tags: added });
        }
    }
    let mut ops = Vec::new();
    if !moves.is_empty() {
        ops.push(Op::SetRulePriorities { port, priorities: moves });
    }
    ops.extend(creates);
    ops.extend(modifies);
    ops.extend(tags);
    for (i, r) in observed.iter().enumerate() {
        if !kept.contains(&i) {
            ops.push(Op::DeleteRule { arn: r.arn.clone() });
        }
    }
    ops
}

/// No room between kept priorities: move every rule to a fresh range clear of all current
/// priorities, in desired order, then create and delete as usual.
fn renumber(
    port: i32,
    desired: &[RulePlan],
    observed: &[&RuleObserved],
    matched: &[Option<usize>],
    occupied: &BTreeSet<u32>,
) -> Vec<Op> {
    let n = desired.len() as u32;
    let max = occupied.last().copied().unwrap_or(0);
    let min = occupied.first().copied().unwrap_or(MAX_PRIORITY + 1);
    let (base, step) = if max + 10 * n <= MAX_PRIORITY {
        (max, 10)
    } else if 10 * n < min {
        (0, 10)
    } else if max + n <= MAX_PRIORITY {
        (max, 1)
    } else {
        (0, ((min - 1) / n.max(1)).max(1))
    };
    let placements = (0..desired.len())
        .map(|d| {
            let p = base + step * (d as u32 + 1);
            if matched[d].is_some() { Placement::Move(p) } else { Placement::Create(p) }
        })
        .collect();
    emit(port, desired, observed, matched, placements)
}

#[cfg(test)]
mod tests;
