//! One Gateway: configuration, listeners, attached routes, then its ALB or NLB stack and status.

use std::collections::BTreeMap;

use albatross_k8s::gateway_api::v1::gatewayclasses::GatewayClassSpec;
use albatross_k8s::gateway_api::v1::gateways::GatewaySpec;
use albatross_k8s::route::ObjectKey;
use serde_json::{Value, json};

use super::attach::{self, Failure};
use super::config;
use super::env::Env;
use super::listener_config;
use super::listener_sets::{self, listener_status};
use super::listeners::{self, ListenerState};
use super::snapshot::{Object, Snapshot};
use super::status::{RouteParent, StatusEntry, condition, condition_with};
use super::types::{ListenerPlan, Stack, TargetGroupPlan};
use super::{alb, load_balancer, nlb};
use crate::validate::Flavor;

pub struct GatewayOutcome {
    pub stack: Option<Stack>,
    pub status: StatusEntry,
    /// Statuses of the ListenerSets that name the Gateway.
    pub sets: Vec<StatusEntry>,
    pub routes: Vec<RouteParent>,
}

/// What one load balancer's planner gives: listeners (with rules) and target groups by id.
pub struct Planned {
    pub listeners: Vec<ListenerPlan>,
    pub target_groups: BTreeMap<String, TargetGroupPlan>,
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
    let (set_verdicts, set_listeners) = listener_sets::gather(snapshot, key, &gw.spec);
    let mut all = gw.spec.listeners.clone();
    all.extend(set_listeners.iter().map(|(l, _)| l.clone()));
    let mut states = listeners::evaluate(&all, flavor);
    for (state, (_, origin)) in states.iter_mut().skip(gw.spec.listeners.len()).zip(&set_listeners) {
        state.origin = Some(origin.clone());
    }
    let set_keys: Vec<ObjectKey> = set_verdicts.iter().map(|v| v.key.clone()).collect();
    limit_ports(&mut states, env.limits.listeners_per_lb);
    let config = match class_failure {
        Some((_, message)) => {
            Err(("InvalidParameters", format!("GatewayClass {} is not accepted: {message}", class.meta.key.name)))
        }
        None => config::merged(snapshot, key, &gw.spec, &class.spec),
    };
    let mut attachments = attach::attach(snapshot, key, &set_keys, &mut states);

    // What the load balancer cannot do fails the route alone.
    for a in attachments.iter_mut().filter(|a| a.accepted.is_ok()) {
        let problems = match flavor {
            Flavor::Alb => snapshot.alb_problems[a.route].as_slice(),
            Flavor::Nlb => &[],
        };
        if !problems.is_empty() {
            let message = problems.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ");
            a.accepted = Err(("UnsupportedValue", message));
        }
    }
    attach::settle_kind_conflicts(snapshot, &mut attachments);

    let mut stack = None;
    let mut unresolved_listeners: BTreeMap<usize, Failure> = BTreeMap::new();
    // The load balancer first: a configuration field that cannot apply refuses the Gateway.
    let config = config.and_then(|c| listener_config::check(&c, flavor).map(|()| c));
    let config = match flavor {
        Flavor::Nlb => config.and_then(|c| listener_config::check_quic(&c, &states).map(|()| c)),
        Flavor::Alb => config,
    };
    let config = config.and_then(|c| load_balancer::plan(env, key, gw, &c, flavor).map(|lb| (c, lb)));
    if let Ok((config, lb)) = &config {
        let default_tgc = config
            .default_target_group_configuration
            .as_ref()
            .map(|d| ObjectKey::new(key.namespace.clone(), d.name.clone()));
        // Both planners take the same inputs; the load balancer type picks one.
        let plan = match flavor {
            Flavor::Alb => alb::plan,
            Flavor::Nlb => nlb::plan,
        };
        let planned = plan(
            snapshot,
            env,
            key,
            config,
            &states,
            &mut attachments,
            default_tgc.as_ref(),
            &mut unresolved_listeners,
        );
        stack = Some(Stack {
            gateway: key.to_string(),
            load_balancer: lb.clone(),
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
    let sets = listener_sets::statuses(snapshot, &set_verdicts, &states, config.is_ok());
    let attached_sets = set_verdicts
        .iter()
        .filter(|v| v.accepted.is_ok() && states.iter().any(|s| s.origin.as_ref() == Some(&v.key) && s.usable()))
        .count();
    let own = &states[..gw.spec.listeners.len()];
    let mut status = gateway_status(gw, own, &config.as_ref().map(|_| ()).map_err(Clone::clone));
    if !set_verdicts.is_empty() {
        status.status["attachedListenerSets"] = json!(attached_sets);
    }
    GatewayOutcome { status, sets, stack, routes }
}

/// A load balancer has a fixed number of listeners (one per port): ports past the quota, in
/// listener order (the Gateway's, then ListenerSets' oldest first), are refused.
fn limit_ports(states: &mut [ListenerState], limit: usize) {
    let mut ports: Vec<i32> = Vec::new();
    for state in states.iter_mut().filter(|s| s.usable()) {
        if ports.contains(&state.spec.port) {
            continue;
        }
        if ports.len() == limit {
            state.rejected =
                Some(("PortUnavailable", format!("the load balancer already has its quota of {limit} listeners")));
            continue;
        }
        ports.push(state.spec.port);
    }
}

fn gateway_status(gw: &Object<GatewaySpec>, states: &[ListenerState], config: &Result<(), Failure>) -> StatusEntry {
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
    let listeners: Vec<Value> = states.iter().map(|s| listener_status(s, generation)).collect();
    StatusEntry {
        api_version: gw.meta.api_version.clone(),
        kind: "Gateway".into(),
        namespace: Some(gw.meta.key.namespace.clone()),
        name: gw.meta.key.name.clone(),
        status: json!({ "conditions": [accepted, programmed], "listeners": listeners }),
    }
}
