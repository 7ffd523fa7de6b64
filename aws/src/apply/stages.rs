//! Which of a diff's operations may run at once. The diff lists them in an order that is safe
//! one at a time; here they are grouped into stages that run one after another, and each stage
//! into lanes that run concurrently, the operations of one lane in the diff's order.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::diff::Op;
use crate::observed::StackObserved;

/// The steps of an apply, in the order they run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Step {
    /// The load balancer and its settings, one lane. First: the operation most likely to be
    /// refused for good (a name taken, a quota), and then nothing else is made.
    LoadBalancer,
    /// New target groups, a lane each.
    NewTargetGroups,
    /// Health checks, attributes and tags of target groups, a lane per target group: only once
    /// the new ones are verified ours.
    TargetGroups,
    /// Listeners, a lane per port: create or modify, then attributes and certificates. Every
    /// listener exists before any rule changes, so a redirect to another port finds it.
    Listeners,
    /// One SetRulePriorities per listener: kept rules move before any rule is created.
    RuleMoves,
    /// Rule creations and in-place modifications. A listener without rules serves no route
    /// yet, so each of its rules is a lane of its own. In a listener that serves routes they
    /// stay one lane in ascending priority, as the diff lists them: a new rule never catches,
    /// even for a moment, a request meant for a new rule ahead of it.
    Rules,
    /// Rules, SNI certificates and listeners the plan no longer has, each a lane: only once
    /// their replacements exist.
    Removals,
    /// Target groups the plan no longer has: only once nothing forwards to them.
    TargetGroupDeletions,
    LoadBalancerDeletions,
}

/// Operations that run in order, one after the other.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Lane {
    LoadBalancer,
    /// A target group by its id (by ARN when no id is known).
    TargetGroup(String),
    Listener(i32),
    /// An operation with a lane of its own, by its index in the diff.
    Alone(usize),
}

/// Lanes that may run at once.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stage {
    pub step: Step,
    pub lanes: Vec<Vec<Op>>,
}

/// Groups `ops` (a diff against `observed`) into stages. `target_groups` maps the observed
/// target group ARNs to their stack ids.
pub fn stages(ops: &[Op], observed: &StackObserved, target_groups: &HashMap<String, String>) -> Vec<Stage> {
    let lb_arn = observed.load_balancer.as_ref().map(|lb| lb.arn.as_str());
    let serving: BTreeSet<i32> = observed.listeners.iter().filter(|l| !l.rules.is_empty()).map(|l| l.port).collect();
    let tg = |key: &str| Lane::TargetGroup(target_groups.get(key).map_or(key, String::as_str).to_owned());
    let rules = |port: i32, i: usize| if serving.contains(&port) { Lane::Listener(port) } else { Lane::Alone(i) };
    let mut steps: BTreeMap<Step, Lanes> = BTreeMap::new();
    for (i, op) in ops.iter().enumerate() {
        let (step, lane) = match op {
            Op::CreateLoadBalancer
            | Op::SetSubnets { .. }
            | Op::SetSecurityGroups { .. }
            | Op::ModifyLoadBalancerAttributes { .. } => (Step::LoadBalancer, Lane::LoadBalancer),
            Op::AddTags { arn, .. } if Some(arn.as_str()) == lb_arn => (Step::LoadBalancer, Lane::LoadBalancer),
            Op::CreateTargetGroup { .. } => (Step::NewTargetGroups, Lane::Alone(i)),
            Op::ModifyTargetGroup { id } | Op::ModifyTargetGroupAttributes { id } => (Step::TargetGroups, tg(id)),
            Op::AddTags { arn, .. } => (Step::TargetGroups, tg(arn)),
            Op::CreateListener { port }
            | Op::ModifyListener { port }
            | Op::ModifyListenerAttributes { port, .. }
            | Op::AddListenerCertificates { port, .. }
            | Op::TagListener { port, .. } => (Step::Listeners, Lane::Listener(*port)),
            Op::SetRulePriorities { port, .. } => (Step::RuleMoves, Lane::Listener(*port)),
            Op::CreateRule { port, .. } | Op::ModifyRule { port, .. } | Op::TagRule { port, .. } => {
                (Step::Rules, rules(*port, i))
            }
            Op::DeleteRule { .. } | Op::RemoveListenerCertificates { .. } | Op::DeleteListener { .. } => {
                (Step::Removals, Lane::Alone(i))
            }
            Op::DeleteTargetGroup { .. } => (Step::TargetGroupDeletions, Lane::Alone(i)),
            Op::DeleteLoadBalancer { .. } => (Step::LoadBalancerDeletions, Lane::Alone(i)),
        };
        steps.entry(step).or_default().push(lane, op.clone());
    }
    steps.into_iter().map(|(step, lanes)| Stage { step, lanes: lanes.lanes }).collect()
}

/// The lanes of one step in the order their first operation appears, so stages are
/// deterministic.
#[derive(Default)]
struct Lanes {
    index: HashMap<Lane, usize>,
    lanes: Vec<Vec<Op>>,
}

impl Lanes {
    fn push(&mut self, lane: Lane, op: Op) {
        let lanes = &mut self.lanes;
        let at = *self.index.entry(lane).or_insert_with(|| {
            lanes.push(Vec::new());
            lanes.len() - 1
        });
        lanes[at].push(op);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::observed::{ListenerObserved, LoadBalancerObserved, RuleObserved};

    fn listener(port: i32, rules: &[&str]) -> ListenerObserved {
        ListenerObserved {
            arn: format!("arn:listener/{port}"),
            port,
            protocol: "HTTP".into(),
            ssl_policy: None,
            certificates: vec![],
            alpn_policy: vec![],
            default_actions: vec![],
            rules: rules
                .iter()
                .enumerate()
                .map(|(i, r)| RuleObserved {
                    arn: format!("arn:rule/{r}"),
                    priority: 10 * (i as u32 + 1),
                    conditions: vec![],
                    actions: vec![],
                    transforms: vec![],
                    tags: None,
                })
                .collect(),
            mutual_authentication: None,
            attributes: vec![],
            tags: None,
        }
    }

    fn existing(listeners: Vec<ListenerObserved>) -> StackObserved {
        StackObserved {
            load_balancer: Some(LoadBalancerObserved {
                arn: "arn:lb".into(),
                name: "lb".into(),
                dns_name: "lb.example".into(),
                state: "active".into(),
                r#type: "application".into(),
                scheme: "internal".into(),
                ip_address_type: "ipv4".into(),
                subnets: vec![],
                security_groups: vec![],
                attributes: vec![],
                tags: vec![],
                created_with: Default::default(),
            }),
            listeners,
            target_groups: vec![],
        }
    }

    fn create_rule(port: i32, id: &str, priority: u32) -> Op {
        Op::CreateRule { port, id: id.into(), priority }
    }

    fn steps(stages: &[Stage]) -> Vec<Step> {
        stages.iter().map(|s| s.step).collect()
    }

    #[test]
    fn a_new_stack_creates_its_target_groups_after_the_load_balancer_and_every_rule_at_once() {
        let ops = vec![
            Op::CreateLoadBalancer,
            Op::ModifyLoadBalancerAttributes { attributes: vec![] },
            Op::CreateTargetGroup { id: "x".into() },
            Op::CreateTargetGroup { id: "y".into() },
            Op::ModifyTargetGroupAttributes { id: "x".into() },
            Op::CreateListener { port: 80 },
            Op::ModifyListenerAttributes { port: 80, attributes: vec![] },
            Op::CreateListener { port: 443 },
            create_rule(80, "a", 10),
            create_rule(80, "b", 20),
            create_rule(443, "c", 10),
        ];
        let stages = stages(&ops, &StackObserved::default(), &HashMap::new());
        assert_eq!(
            steps(&stages),
            [Step::LoadBalancer, Step::NewTargetGroups, Step::TargetGroups, Step::Listeners, Step::Rules]
        );
        assert_eq!(stages[0].lanes, [ops[..2].to_vec()], "the load balancer's settings follow it in one lane");
        assert_eq!(stages[1].lanes, [vec![ops[2].clone()], vec![ops[3].clone()]]);
        assert_eq!(stages[2].lanes, [vec![ops[4].clone()]]);
        assert_eq!(stages[3].lanes, [ops[5..7].to_vec(), vec![ops[7].clone()]]);
        assert_eq!(stages[4].lanes, [vec![ops[8].clone()], vec![ops[9].clone()], vec![ops[10].clone()]]);
    }

    #[test]
    fn rules_of_a_listener_that_serves_routes_keep_their_order_and_deletions_come_after() {
        let observed = existing(vec![listener(80, &["old", "kept"]), listener(8080, &[])]);
        let ops = vec![
            Op::SetRulePriorities { port: 80, priorities: vec![("arn:rule/kept".into(), 40)] },
            create_rule(80, "n1", 5),
            create_rule(80, "n2", 7),
            Op::ModifyRule { port: 80, arn: "arn:rule/old".into(), id: "m".into() },
            create_rule(8080, "p", 10),
            create_rule(8080, "q", 20),
            Op::DeleteRule { arn: "arn:rule/gone".into() },
            Op::DeleteRule { arn: "arn:rule/gone2".into() },
            Op::RemoveListenerCertificates { port: 80, certificates: vec!["c".into()] },
            Op::DeleteListener { arn: "arn:listener/9".into() },
            Op::DeleteTargetGroup { arn: "arn:tg/z".into() },
        ];
        let stages = stages(&ops, &observed, &HashMap::new());
        assert_eq!(steps(&stages), [Step::RuleMoves, Step::Rules, Step::Removals, Step::TargetGroupDeletions]);
        assert_eq!(
            stages[1].lanes,
            [ops[1..4].to_vec(), vec![ops[4].clone()], vec![ops[5].clone()]],
            "port 80 serves routes: one lane in priority order; port 8080 has no rule yet"
        );
        assert_eq!(stages[2].lanes.len(), 4, "each removal is a lane of its own");
        assert_eq!(stages[3].lanes, [vec![ops[10].clone()]]);
    }

    #[test]
    fn changes_to_one_target_group_share_a_lane_and_load_balancer_tags_stay_with_the_load_balancer() {
        let observed = existing(vec![]);
        let ids = HashMap::from([("arn:tg/x".to_owned(), "x".to_owned())]);
        let ops = vec![
            Op::AddTags { arn: "arn:lb".into(), tags: vec![] },
            Op::ModifyTargetGroup { id: "x".into() },
            Op::ModifyTargetGroup { id: "y".into() },
            Op::AddTags { arn: "arn:tg/x".into(), tags: vec![] },
        ];
        let stages = stages(&ops, &observed, &ids);
        assert_eq!(steps(&stages), [Step::LoadBalancer, Step::TargetGroups]);
        assert_eq!(stages[0].lanes, [vec![ops[0].clone()]]);
        assert_eq!(stages[1].lanes, [vec![ops[1].clone(), ops[3].clone()], vec![ops[2].clone()]]);
    }

    #[test]
    fn every_operation_lands_in_exactly_one_lane() {
        let observed = existing(vec![listener(80, &["a"])]);
        let ops = vec![
            Op::SetSubnets { subnets: vec![] },
            Op::CreateTargetGroup { id: "x".into() },
            Op::ModifyListener { port: 80 },
            create_rule(80, "b", 20),
            Op::DeleteRule { arn: "arn:rule/a".into() },
            Op::DeleteLoadBalancer { arn: "arn:old".into() },
        ];
        let stages = stages(&ops, &observed, &HashMap::new());
        let flat: Vec<Op> = stages.iter().flat_map(|s| s.lanes.iter().flatten().cloned()).collect();
        assert_eq!(flat, ops);
    }
}
