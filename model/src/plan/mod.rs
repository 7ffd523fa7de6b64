//! `build(snapshot, env) -> Build { stacks, statuses }`: the AWS resources each Gateway of our
//! classes needs and the status every GatewayClass, Gateway and route gets. Pure: the same code
//! backs `albatross plan` and the reconciler.

mod actions;
pub(crate) mod alb;
mod attach;
mod config;
mod env;
pub mod features;
mod gateway;
mod hostname;
pub(crate) mod limits;
mod listener_config;
mod listener_sets;
mod listeners;
mod load_balancer;
pub mod naming;
mod nlb;
mod precedence;
mod snapshot;
mod status;
mod target_group;
pub mod types;
pub mod wire;

pub use env::{AcmCertificate, DEFAULT_SSL_POLICY, Env, ExistingLoadBalancer};
pub use listeners::selector_matches;
pub use load_balancer::{CAPACITY_TAG, IPAM_TAG, MANAGED, RESERVED_TAG_PREFIX, SHIELD_TAG, WEB_ACL_TAG};
pub use precedence::{RuleKey, compare};
pub use snapshot::{Meta, Object, Skipped, Snapshot};
pub use status::{StatusEntry, not_applied, programmed};
pub use types::Stack;

use serde::Serialize;

/// The plan and the statuses of one build.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Build {
    pub stacks: Vec<Stack>,
    pub statuses: Vec<StatusEntry>,
}

pub fn build(snapshot: &Snapshot, env: &Env) -> Build {
    let mut stacks = Vec::new();
    let mut statuses = Vec::new();
    let mut route_parents = status::RouteParents::default();
    for (name, class) in &snapshot.classes {
        let Some(flavor) = env.controllers.flavor_of(&class.spec.controller_name) else { continue };
        let accepted = config::check_class(snapshot, class);
        statuses.push(status::gateway_class(class, flavor, &accepted));
        for (key, gw) in snapshot.gateways.iter().filter(|(_, g)| g.spec.gateway_class_name == *name) {
            let outcome = gateway::build(snapshot, env, key, gw, class, flavor, accepted.as_ref().err());
            statuses.push(outcome.status);
            statuses.extend(outcome.sets);
            route_parents.extend(outcome.routes);
            stacks.extend(outcome.stack);
        }
    }
    statuses.extend(route_parents.into_statuses(snapshot, env));
    stacks.sort_by(|a, b| a.gateway.cmp(&b.gateway));
    statuses.sort_by(|a, b| (&a.kind, &a.namespace, &a.name).cmp(&(&b.kind, &b.namespace, &b.name)));
    Build { stacks, statuses }
}

#[cfg(test)]
mod tests;
