//! One Gateway's stack end to end: resolve what the plan left open (subnets, security groups),
//! observe by tags, diff, apply; retried from a fresh observation when AWS changed under us
//! (a lost response, a throttled burst); and deletion of whole stacks, including orphans.

use std::collections::BTreeSet;
use std::time::Duration;

use albatross_model::plan::naming::{stack_tag_prefix, successor_target_group_name};
use albatross_model::plan::types::{LoadBalancerPlan, Stack};

use crate::apply::{Applied, DEFAULT_CONCURRENCY, apply, delete_target_group};
use crate::census::{CHANGING, FINGERPRINT_TAG, Fingerprint};
use crate::client::{Aws, AwsError, ErrorClass};
use crate::delete::{delete_load_balancer, deletion_protected, is_deletion_protected, protected};
use crate::diff::{Op, diff, target_group_ids};
use crate::lb_settings;
use crate::observe::{Observation, load_balancers, observe, tag_value, tagged};
use crate::resolve::{Resolver, ingress_sources, user_tags};

/// How many times a stack is observed and applied again after a transient failure.
const ATTEMPTS: u32 = 6;

#[derive(Clone)]
pub struct Deployer {
    pub aws: Aws,
    pub resolver: Resolver,
    pub cluster: String,
    /// Operations of one stack in flight at once ([`DEFAULT_CONCURRENCY`]).
    pub apply_concurrency: usize,
}

/// What deleting one stack did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Deletion {
    /// Resources deleted.
    pub deleted: usize,
    /// Load balancers with deletion protection on. While there is one, nothing of the stack is
    /// deleted: its listeners, target groups and security group serve it.
    pub protected: Vec<String>,
    /// ARNs of the target groups deleted (what the reconciler kept about them can go too).
    pub target_groups: Vec<String>,
}

/// What an orphan sweep did: one stack's failure does not stop the others, and none is dropped.
#[derive(Debug, Default)]
pub struct Sweep {
    /// Gateways whose stack was deleted.
    pub deleted: Vec<String>,
    /// Gateways whose stack is kept, with its load balancers that have deletion protection on.
    pub protected: Vec<(String, Vec<String>)>,
    /// Stacks (by Gateway) and security groups (by id) whose deletion failed.
    pub failed: Vec<(String, AwsError)>,
    /// ARNs of the target groups deleted.
    pub target_groups: Vec<String>,
}

/// The result of converging one stack.
#[derive(Clone, Debug)]
pub struct Deployed {
    pub applied: Applied,
    /// Operations run, over all attempts.
    pub operations: Vec<&'static str>,
    /// A replaced stack still serving: [`Deployer::retire`] deletes it once the Gateway's status
    /// carries the successor's address.
    pub retiring: Retiring,
    /// What the load balancer's [`FINGERPRINT_TAG`] holds now.
    pub fingerprint: Option<String>,
    /// Fields the plan wants that the existing load balancer was created without (they take a
    /// new load balancer; [`lb_settings::set_at_creation`]): for the status, not applied.
    pub set_at_creation: Vec<String>,
    /// ARNs of the target groups the diff deleted (over all attempts).
    pub deleted_target_groups: Vec<String>,
}

/// The load balancers a successor replaces (a new name, type or scheme) and their target groups.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Retiring {
    pub load_balancers: Vec<String>,
    pub target_groups: Vec<String>,
}

impl Deployer {
    pub fn new(aws: Aws, resolver: Resolver, cluster: impl Into<String>) -> Self {
        Self { aws, resolver, cluster: cluster.into(), apply_concurrency: DEFAULT_CONCURRENCY }
    }

    /// Fills in subnets and security groups the configuration left to us.
    pub async fn resolve(&self, stack: &Stack, existing: bool) -> Result<Stack, AwsError> {
        let mut stack = stack.clone();
        self.resolve_subnets(&mut stack.load_balancer, existing).await?;
        self.resolver.trust_store_arns(&mut stack).await?;
        let lb = &mut stack.load_balancer;
        if lb.settings.disable_security_group {
            // An NLB without security groups: none managed, none given.
        } else if lb.security_groups.is_empty() {
            let alb = lb.r#type == albatross_model::plan::types::LoadBalancerType::Application;
            let ports: Vec<(i32, &str)> = stack.listeners.iter().map(|l| (l.port, l.protocol.as_str())).collect();
            let lb = &stack.load_balancer;
            let groups = self
                .resolver
                .managed_security_groups_from(
                    &stack.gateway,
                    alb,
                    lb.managed_security_group_name.as_deref().unwrap_or(&lb.load_balancer_name),
                    &ports,
                    &ingress_sources(lb),
                    &user_tags(lb),
                )
                .await?;
            stack.load_balancer.security_groups = groups;
        } else if lb.settings.manage_backend_security_group_rules {
            // Node and pod rules admit the backend group: the load balancer joins it.
            lb.security_groups.push(self.resolver.backend_security_group().await?);
        }
        Ok(stack)
    }

    /// Subnet names and selectors to ids (reads only; a dry run shares it).
    pub(crate) async fn resolve_subnets(&self, lb: &mut LoadBalancerPlan, existing: bool) -> Result<(), AwsError> {
        if !lb.subnets.is_empty() {
            lb.subnets = self.resolver.subnet_ids(&lb.subnets).await?;
        } else if !existing && !lb.subnet_selector.is_empty() {
            lb.subnets = self.resolver.subnets_by_selector(&lb.subnet_selector).await?;
        } else if !existing {
            lb.subnets = self.resolver.discover_subnets(lb.scheme.as_str()).await?;
        }
        for m in &mut lb.settings.subnet_mappings {
            let ids = self.resolver.subnet_ids(std::slice::from_ref(&m.subnet_id)).await?;
            m.subnet_id = ids.into_iter().next().unwrap_or_else(|| m.subnet_id.clone());
        }
        Ok(())
    }

    /// Converges AWS to `stack`.
    pub async fn deploy(&self, stack: &Stack) -> Result<Deployed, AwsError> {
        self.deploy_stamped(stack, None).await
    }

    /// Converges AWS to `stack`, which `fingerprint` (if any) describes: a load balancer whose
    /// [`FINGERPRINT_TAG`] says otherwise has it set to [`CHANGING`] before anything is written,
    /// so that only [`Deployer::stamp`] after the whole convergence makes it true again.
    pub async fn deploy_stamped(&self, stack: &Stack, fingerprint: Option<&Fingerprint>) -> Result<Deployed, AwsError> {
        let vpc = self.resolver.vpc_id().await?;
        let mut operations = Vec::new();
        let mut deleted_target_groups = Vec::new();
        let mut wait = Duration::from_millis(200);
        let mut attempt = 0;
        loop {
            attempt += 1;
            let result = self.deploy_once(stack, fingerprint, &vpc, &mut operations, &mut deleted_target_groups).await;
            match result {
                Ok((applied, retiring, fingerprint, set_at_creation)) => {
                    return Ok(Deployed {
                        applied,
                        operations,
                        retiring,
                        fingerprint,
                        set_at_creation,
                        deleted_target_groups,
                    });
                }
                Err(e) if e.class == ErrorClass::Transient && attempt < ATTEMPTS => {
                    tracing::warn!(gateway = %stack.gateway, error = %e, attempt, "apply interrupted; observing again");
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(Duration::from_secs(10));
                }
                Err(e) if e.class == ErrorClass::NotFound && attempt < ATTEMPTS => {
                    tracing::warn!(gateway = %stack.gateway, error = %e, attempt, "a resource vanished; observing again");
                }
                Err(e) => return Err(e),
            }
        }
    }

    async fn deploy_once(
        &self,
        stack: &Stack,
        fingerprint: Option<&Fingerprint>,
        vpc: &str,
        operations: &mut Vec<&'static str>,
        deleted_target_groups: &mut Vec<String>,
    ) -> Result<(Applied, Retiring, Option<String>, Vec<String>), AwsError> {
        let mut observation = observe(&self.aws, &self.cluster, stack).await?;
        let mut stamped = None;
        if let Some(lb) = &observation.stack.load_balancer {
            stamped = tag_value(&lb.tags, FINGERPRINT_TAG).map(str::to_owned);
            let stale = stamped.as_deref().is_some_and(|v| v != CHANGING && Some(v) != fingerprint.map(|f| f.as_str()));
            if stale {
                self.stamp(&lb.arn, CHANGING).await?;
                stamped = Some(CHANGING.to_owned());
            }
        }
        // As LBC: only what is in our VPC is the stack's.
        observation.stack.target_groups.retain(|t| t.vpc_id.is_empty() || t.vpc_id == vpc);
        // A replaced load balancer keeps serving until its successor does; one that may never
        // be deleted gets no successor at all.
        for arn in &observation.stale_load_balancers {
            if deletion_protected(&self.aws, arn).await? {
                return Err(protected(arn, None));
            }
        }
        let mut resolved = self.resolve(stack, observation.stack.load_balancer.is_some()).await?;
        successor_names(&mut resolved, &observation);
        let set_at_creation = match &observation.stack.load_balancer {
            Some(o) if o.name == resolved.load_balancer.load_balancer_name => {
                lb_settings::set_at_creation(&resolved.load_balancer, &o.created_with)
            }
            _ => Vec::new(),
        };
        if !set_at_creation.is_empty() {
            tracing::warn!(gateway = %stack.gateway, fields = ?set_at_creation, "set at creation only: not applied");
        }
        let ops = diff(&resolved, &observation.stack);
        operations.extend(ops.iter().map(Op::operation));
        // Listed before they run: only a successful deploy reports them, when all ran.
        deleted_target_groups.extend(ops.iter().filter_map(|op| match op {
            Op::DeleteTargetGroup { arn } => Some(arn.clone()),
            _ => None,
        }));
        if !ops.is_empty() {
            tracing::info!(gateway = %stack.gateway, operations = ops.len(), "converging");
        }
        let concurrency = self.apply_concurrency;
        let applied = apply(&self.aws, &self.cluster, vpc, &resolved, &observation.stack, &ops, concurrency).await?;
        let tags = observation.stack.load_balancer.as_ref().map(|o| o.tags.as_slice()).unwrap_or_default();
        let lb = &resolved.load_balancer;
        operations.extend(lb_settings::converge(&self.aws, &self.cluster, lb, &applied.load_balancer_arn, tags).await?);
        let retiring = Retiring {
            load_balancers: observation.stale_load_balancers,
            target_groups: observation.stale_target_groups.into_iter().map(|t| t.arn).collect(),
        };
        Ok((applied, retiring, stamped, set_at_creation))
    }

    /// Deletes a replaced stack once its successor serves: call it after the Gateway's status
    /// carries the successor's address. Its load balancers go first (their listeners and rules
    /// with them), then their target groups. A protected one is never deleted; one still found
    /// after a restart is retired by the next deploy, since it carries our tags.
    pub async fn retire(&self, deployed: &Deployed) -> Result<usize, AwsError> {
        let retiring = &deployed.retiring;
        if retiring.load_balancers.is_empty() && retiring.target_groups.is_empty() {
            return Ok(0);
        }
        let successor = &deployed.applied.load_balancer_arn;
        let state = load_balancers(&self.aws, std::slice::from_ref(successor)).await?;
        if state.first().map(|lb| lb.state.as_str()) != Some("active") {
            return Err(AwsError::new(
                "DeleteLoadBalancer",
                "SuccessorNotActive",
                format!("load balancer {successor} is not active yet: its predecessor keeps serving"),
                ErrorClass::Transient,
            ));
        }
        let mut deleted = 0;
        for arn in &retiring.load_balancers {
            if deletion_protected(&self.aws, arn).await? {
                return Err(protected(arn, None));
            }
            tracing::info!(load_balancer = %arn, successor = %successor, "deleting a replaced load balancer");
            delete_load_balancer(&self.aws, arn).await?;
            deleted += 1;
        }
        for arn in &retiring.target_groups {
            delete_target_group(&self.aws, arn).await?;
            deleted += 1;
        }
        Ok(deleted)
    }

    /// Deletes everything of one stack (`namespace/name` of the Gateway): load balancers, then
    /// target groups, then the managed security group. Nothing without our tags is touched, and
    /// nothing at all while one of its load balancers has deletion protection on.
    pub async fn delete(&self, gateway: &str, alb: bool) -> Result<Deletion, AwsError> {
        let (lbs, tgs) = tagged(&self.aws, &self.cluster, alb, Some(gateway)).await?;
        let mut out = Deletion::default();
        for (arn, _) in &lbs {
            if deletion_protected(&self.aws, arn).await? {
                out.protected.push(arn.clone());
            }
        }
        if !out.protected.is_empty() {
            return Ok(out);
        }
        for (arn, _) in &lbs {
            match delete_load_balancer(&self.aws, arn).await {
                Ok(()) => out.deleted += 1,
                Err(e) if is_deletion_protected(&e) => out.protected.push(arn.clone()),
                Err(e) => return Err(e),
            }
        }
        if !out.protected.is_empty() {
            return Ok(out);
        }
        for (arn, _) in &tgs {
            delete_target_group(&self.aws, arn).await?;
            out.deleted += 1;
            out.target_groups.push(arn.clone());
        }
        if self.resolver.delete_managed_security_group(gateway, alb).await? {
            out.deleted += 1;
        }
        Ok(out)
    }

    /// Stacks of this cluster that exist in AWS, by `(gateway, alb)`.
    pub async fn stacks(&self) -> Result<BTreeSet<(String, bool)>, AwsError> {
        let mut out = BTreeSet::new();
        for alb in [true, false] {
            let key = format!("{}/stack", stack_tag_prefix(alb));
            let (lbs, tgs) = tagged(&self.aws, &self.cluster, alb, None).await?;
            for (_, tags) in lbs.iter().chain(tgs.iter()) {
                if let Some(stack) = tag_value(tags, &key) {
                    out.insert((stack.to_owned(), alb));
                }
            }
        }
        Ok(out)
    }

    /// Deletes the stacks whose Gateway is not in `live` (deleted while we were not looking).
    /// Only call with the complete set of Gateways of this cluster. A failed or protected stack
    /// is reported and the sweep goes on; it stops only when the stacks cannot be listed or the
    /// write fence closed.
    pub async fn delete_orphans(&self, live: &BTreeSet<String>) -> Result<Sweep, AwsError> {
        let mut sweep = Sweep::default();
        // Stacks that keep something: their security group stays with them.
        let mut kept = live.clone();
        for (gateway, alb) in self.stacks().await? {
            if live.contains(&gateway) {
                continue;
            }
            tracing::info!(%gateway, "deleting the stack of a Gateway that no longer exists");
            match self.delete(&gateway, alb).await {
                Ok(d) if d.protected.is_empty() => {
                    sweep.target_groups.extend(d.target_groups);
                    sweep.deleted.push(gateway);
                }
                Ok(d) => {
                    kept.insert(gateway.clone());
                    sweep.protected.push((gateway, d.protected));
                }
                Err(e) if e.class == ErrorClass::Fenced => return Err(e),
                Err(e) => {
                    kept.insert(gateway.clone());
                    sweep.failed.push((gateway, e));
                }
            }
        }
        // A crash between deleting a stack's load balancer and its security group leaves the
        // group alone, with nothing else to find it by.
        for group in self.resolver.orphan_security_groups(&kept).await? {
            tracing::info!(%group, "deleting an orphaned managed security group");
            match self.resolver.delete_security_group(&group).await {
                Ok(_) => {}
                Err(e) if e.class == ErrorClass::Fenced => return Err(e),
                Err(e) => sweep.failed.push((group, e)),
            }
        }
        Ok(sweep)
    }

    /// The DNS name of a stack's load balancer, if it exists.
    pub async fn address(&self, stack: &Stack) -> Result<Option<String>, AwsError> {
        let alb = stack.load_balancer.r#type == albatross_model::plan::types::LoadBalancerType::Application;
        let (lbs, _) = tagged(&self.aws, &self.cluster, alb, Some(&stack.gateway)).await?;
        let arns: Vec<String> = lbs.into_iter().map(|(a, _)| a).collect();
        if arns.is_empty() {
            return Ok(None);
        }
        Ok(load_balancers(&self.aws, &arns)
            .await?
            .into_iter()
            .find(|lb| lb.name == stack.load_balancer.load_balancer_name)
            .map(|lb| lb.dns_name))
    }
}

/// A target group to create whose planned name another group of ours still holds (one bound
/// to a load balancer being replaced, or one whose immutable settings changed under a fixed
/// `targetGroupName`) gets a successor's name instead: ELBv2 names are unique per region.
pub(crate) fn successor_names(stack: &mut Stack, observation: &Observation) {
    let paired = target_group_ids(stack, &observation.stack);
    let held: BTreeSet<&str> = observation
        .stack
        .target_groups
        .iter()
        .filter(|t| !paired.contains_key(&t.arn))
        .chain(&observation.stale_target_groups)
        .map(|t| t.name.as_str())
        .collect();
    let paired_ids: BTreeSet<&String> = paired.values().collect();
    let lb = stack.load_balancer.load_balancer_name.clone();
    for tg in &mut stack.target_groups {
        if !paired_ids.contains(&tg.id) && held.contains(tg.target_group_name.as_str()) {
            tg.target_group_name = successor_target_group_name(&tg.target_group_name, &lb);
        }
    }
}
