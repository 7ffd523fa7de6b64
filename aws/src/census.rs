//! Restart in seconds: each load balancer carries a fingerprint of the stack applied to it and
//! of the targets registered in its target groups ([`FINGERPRINT_TAG`]), written once both
//! converged and overwritten with [`CHANGING`] before any write that changes them. A
//! [`Census`] finds every stack of the cluster with one paginated tag query per class (100 load
//! balancers a page) and one DescribeLoadBalancers per 20, so a new leader confirms each
//! unchanged stack without reading its listeners, rules or target groups.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use albatross_model::plan::naming::stack_tag_prefix;
use albatross_model::plan::types::{LoadBalancerType, Stack, Tag};
use sha2::{Digest, Sha256};

use crate::client::{Api, AwsError};
use crate::deploy::Deployer;
use crate::observe::{Tagged, load_balancers, tag_value, tagged_of};
use crate::targets::Target;

/// The load balancer tag holding the fingerprint (under the prefix users may not tag with).
pub const FINGERPRINT_TAG: &str = "albatross.k8s.aws/fingerprint";

/// The tag's value while a change is being applied: matches no fingerprint, so a crash part-way
/// is followed by a full check, never by a confirmation of a half-applied stack.
pub const CHANGING: &str = "changing";

/// What was applied, as kept in [`FINGERPRINT_TAG`]: this build's version (an upgrade checks
/// every stack in full once), a hash of the stack and a hash of the wanted targets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fingerprint(String);

impl Fingerprint {
    /// `None` for a stack with OIDC client credentials: their values come from Secrets at apply
    /// time and go nowhere else, not even hashed into a tag, so such a stack is always checked.
    pub fn of(stack: &Stack, targets: &BTreeMap<String, BTreeSet<Target>>) -> Option<Self> {
        Some(Self::with(&stack_hash(stack)?, targets))
    }

    /// From a [`stack_hash`] kept since the stack was applied, with the targets wanted now.
    pub fn with(stack_hash: &str, targets: &BTreeMap<String, BTreeSet<Target>>) -> Self {
        let mut h = Sha256::new();
        for (id, set) in targets {
            h.update(id.as_bytes());
            h.update([0]);
            for t in set {
                h.update(t.id.as_bytes());
                h.update([0]);
                h.update(t.port.to_be_bytes());
            }
            h.update([1]);
        }
        Self(format!("v1-{}-{stack_hash}-{}", env!("CARGO_PKG_VERSION"), hex(&h.finalize())))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A hash of the stack as planned (before subnets and security groups are resolved from AWS,
/// which a full check compares).
pub fn stack_hash(stack: &Stack) -> Option<String> {
    let oidc = stack
        .listeners
        .iter()
        .flat_map(|l| l.default_actions.iter().chain(l.rules.iter().flat_map(|r| r.actions.iter())))
        .any(|a| a.authenticate_oidc_config.is_some());
    if oidc {
        return None;
    }
    // The plan serialises deterministically (vectors and sorted maps only).
    let json = serde_json::to_vec(stack).ok()?;
    Some(hex(&Sha256::digest(&json)))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().take(16).map(|b| format!("{b:02x}")).collect()
}

/// One load balancer of a stack, as the census found it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Counted {
    pub arn: String,
    pub name: String,
    pub r#type: String,
    pub scheme: String,
    pub dns_name: String,
    pub state: String,
    pub fingerprint: Option<String>,
}

/// Every stack of the cluster by `(gateway, alb)`: its load balancers.
#[derive(Clone, Debug, Default)]
pub struct Census {
    stacks: HashMap<(String, bool), Vec<Counted>>,
}

impl Census {
    /// The DNS name of `stack`'s load balancer when the census shows it unchanged since the
    /// fingerprint was written: one load balancer for the stack (no predecessor waiting to be
    /// retired), with the planned name, type and scheme, active, carrying `fingerprint`.
    pub fn confirm(&self, stack: &Stack, fingerprint: &Fingerprint) -> Option<&Counted> {
        let lb = &stack.load_balancer;
        let alb = lb.r#type == LoadBalancerType::Application;
        let [found] = self.stacks.get(&(stack.gateway.clone(), alb))?.as_slice() else { return None };
        let same = found.name == lb.load_balancer_name
            && found.r#type == lb.r#type.as_str()
            && found.scheme == lb.scheme.as_str()
            && found.state == "active"
            && found.fingerprint.as_deref() == Some(fingerprint.as_str());
        if !same {
            tracing::info!(
                gateway = %stack.gateway,
                found = ?found.fingerprint,
                wanted = fingerprint.as_str(),
                state = %found.state,
                "stack changed since its fingerprint was written: checking it in full"
            );
        }
        same.then_some(found)
    }

    /// Drops a stack's entry: after a full check, what the census saw is out of date.
    pub fn forget(&mut self, stack: &Stack) {
        self.stacks.remove(&(stack.gateway.clone(), stack.load_balancer.r#type == LoadBalancerType::Application));
    }

    /// Stacks counted.
    pub fn len(&self) -> usize {
        self.stacks.len()
    }

    pub fn is_empty(&self) -> bool {
        self.stacks.is_empty()
    }
}

impl Deployer {
    /// Counts every stack of the cluster: load balancers by tags, then their state and DNS names.
    pub async fn census(&self) -> Result<Census, AwsError> {
        let mut census = Census::default();
        for alb in [true, false] {
            let key = format!("{}/stack", stack_tag_prefix(alb));
            let (lbs, _) = tagged_of(&self.aws, &self.cluster, alb, None, Tagged::LoadBalancers).await?;
            let tags: HashMap<String, Vec<Tag>> = lbs.into_iter().collect();
            let arns: Vec<String> = tags.keys().cloned().collect();
            for lb in load_balancers(&self.aws, &arns).await? {
                let Some(lb_tags) = tags.get(&lb.arn) else { continue };
                let Some(gateway) = tag_value(lb_tags, &key) else { continue };
                census.stacks.entry((gateway.to_owned(), alb)).or_default().push(Counted {
                    fingerprint: tag_value(lb_tags, FINGERPRINT_TAG).map(str::to_owned),
                    arn: lb.arn,
                    name: lb.name,
                    r#type: lb.r#type,
                    scheme: lb.scheme,
                    dns_name: lb.dns_name,
                    state: lb.state,
                });
            }
        }
        Ok(census)
    }

    /// Writes `value` into a load balancer's [`FINGERPRINT_TAG`].
    pub async fn stamp(&self, load_balancer_arn: &str, value: &str) -> Result<(), AwsError> {
        let tag = aws_sdk_elasticloadbalancingv2::types::Tag::builder().key(FINGERPRINT_TAG).value(value).build();
        self.aws
            .call(
                Api::Elbv2Write,
                "AddTags",
                self.aws.elbv2.add_tags().resource_arns(load_balancer_arn).tags(tag).send(),
            )
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn targets(ips: &[&str]) -> BTreeMap<String, BTreeSet<Target>> {
        let set = ips.iter().map(|ip| Target { id: (*ip).into(), port: 80 }).collect();
        BTreeMap::from([("tg-1".to_owned(), set)])
    }

    #[test]
    fn the_fingerprint_changes_with_the_targets_and_the_stack() {
        let a = Fingerprint::with("stack", &targets(&["10.0.0.1"]));
        assert_eq!(a, Fingerprint::with("stack", &targets(&["10.0.0.1"])));
        assert_ne!(a, Fingerprint::with("stack", &targets(&["10.0.0.2"])));
        assert_ne!(a, Fingerprint::with("stack", &targets(&["10.0.0.1", "10.0.0.2"])));
        assert_ne!(a, Fingerprint::with("other", &targets(&["10.0.0.1"])));
        assert_ne!(a.as_str(), CHANGING);
        assert!(a.as_str().len() <= 256, "an ELBv2 tag value holds 256 characters");
    }
}
