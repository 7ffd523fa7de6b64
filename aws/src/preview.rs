//! Dry run: what converging or deleting a stack would do, as a list of the AWS calls it would
//! make, found with reads only. A [`DryRun`] holds only a read-only client ([`Aws::read_only`]):
//! a mutating call on any path fails before it is sent, so a dry run cannot change AWS.
//!
//! The steps follow [`Deployer::deploy`] and [`Deployer::delete`]: the same observation, the
//! same subnet resolution, the same [`diff`], the same name checks before a create. What a real
//! run would only learn from AWS's answer (the ARN of a load balancer, target group, listener or
//! rule it creates) is written symbolically: `<new target group k8s-...>`.

mod render;

use std::collections::{BTreeMap, BTreeSet};

use albatross_model::plan::naming::{CLUSTER_TAG, stack_tag_prefix};
use albatross_model::plan::types::{Stack, Tag};
use serde::Serialize;

use crate::client::{Api, Aws, AwsError, ErrorClass};
use crate::delete::{deletion_protected, protected};
use crate::deploy::Deployer;
use crate::diff::diff;
use crate::observe::{observe, tag_value, tagged};
use crate::observed::StackObserved;
use crate::resolve::Resolver;
use crate::sdk;
use crate::targets::Target;

/// The kind of AWS resource a step changes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Resource {
    LoadBalancer,
    Listener,
    Rule,
    TargetGroup,
    SecurityGroup,
    Targets,
}

/// What a step does to its resource.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Change {
    Create,
    Modify,
    /// Tags added to an existing resource.
    Tag,
    Delete,
    /// Deleted because a new load balancer of the same stack takes its place (new name,
    /// scheme or type): a new DNS name.
    Replace,
    Register,
    Deregister,
}

/// One AWS call a real run would make.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Step {
    /// The API operation, e.g. `CreateRule`.
    pub operation: &'static str,
    pub kind: Resource,
    pub change: Change,
    /// An ARN or id that exists, or `<new ...>` for what an earlier step creates.
    pub resource: String,
    /// What changes, in a few words.
    pub detail: String,
    /// Targets registered or deregistered by this call.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub targets: Option<usize>,
}

impl Step {
    pub fn new(
        operation: &'static str,
        kind: Resource,
        change: Change,
        resource: impl Into<String>,
        detail: impl Into<String>,
    ) -> Self {
        Self { operation, kind, change, resource: resource.into(), detail: detail.into(), targets: None }
    }
}

/// Created, modified and deleted resources of one kind (distinct resources, not calls).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Counts {
    pub created: usize,
    pub modified: usize,
    pub deleted: usize,
}

/// What a dry run would change, counted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    /// Load balancers deleted for a successor of the same stack (a new DNS name).
    pub load_balancers_replaced: usize,
    pub load_balancers: Counts,
    pub listeners: Counts,
    pub rules: Counts,
    pub target_groups: Counts,
    pub security_groups: Counts,
    /// Existing resources that get tags added.
    pub tagged: usize,
    pub targets_registered: usize,
    pub targets_deregistered: usize,
}

impl Summary {
    pub fn of(steps: &[Step]) -> Self {
        let mut distinct: BTreeMap<(Resource, Change), BTreeSet<&str>> = BTreeMap::new();
        let mut out = Summary::default();
        for step in steps {
            distinct.entry((step.kind, step.change)).or_default().insert(&step.resource);
            match step.change {
                Change::Register => out.targets_registered += step.targets.unwrap_or(0),
                Change::Deregister => out.targets_deregistered += step.targets.unwrap_or(0),
                _ => {}
            }
        }
        let count = |kind, change| distinct.get(&(kind, change)).map_or(0, BTreeSet::len);
        let counts = |kind| Counts {
            created: count(kind, Change::Create),
            modified: count(kind, Change::Modify),
            deleted: count(kind, Change::Delete),
        };
        out.load_balancers_replaced = count(Resource::LoadBalancer, Change::Replace);
        out.load_balancers = counts(Resource::LoadBalancer);
        // The successor of a replaced load balancer is counted as the replacement.
        out.load_balancers.created = out.load_balancers.created.saturating_sub(out.load_balancers_replaced);
        out.listeners = counts(Resource::Listener);
        out.rules = counts(Resource::Rule);
        out.target_groups = counts(Resource::TargetGroup);
        out.security_groups = counts(Resource::SecurityGroup);
        out.tagged = distinct.iter().filter(|((_, c), _)| *c == Change::Tag).map(|(_, r)| r.len()).sum();
        out
    }

    pub fn add(&mut self, other: &Summary) {
        let add = |a: &mut Counts, b: &Counts| {
            a.created += b.created;
            a.modified += b.modified;
            a.deleted += b.deleted;
        };
        self.load_balancers_replaced += other.load_balancers_replaced;
        add(&mut self.load_balancers, &other.load_balancers);
        add(&mut self.listeners, &other.listeners);
        add(&mut self.rules, &other.rules);
        add(&mut self.target_groups, &other.target_groups);
        add(&mut self.security_groups, &other.security_groups);
        self.tagged += other.tagged;
        self.targets_registered += other.targets_registered;
        self.targets_deregistered += other.targets_deregistered;
    }

    /// One line, the replacements first: what a team checks before switching.
    pub fn line(&self) -> String {
        let c = |name: &str, c: &Counts| {
            format!("{name}: {} created, {} modified, {} deleted", c.created, c.modified, c.deleted)
        };
        format!(
            "{} load balancers replaced, {} created, {} modified, {} deleted; {}; {}; {}; {}; {} resources tagged; \
             targets: {} registered, {} deregistered",
            self.load_balancers_replaced,
            self.load_balancers.created,
            self.load_balancers.modified,
            self.load_balancers.deleted,
            c("listeners", &self.listeners),
            c("rules", &self.rules),
            c("target groups", &self.target_groups),
            c("security groups", &self.security_groups),
            self.tagged,
            self.targets_registered,
            self.targets_deregistered,
        )
    }
}

/// What a real run would do to one Gateway's stack.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Preview {
    /// `namespace/name` of the Gateway.
    pub gateway: String,
    pub steps: Vec<Step>,
    /// Load balancers with deletion protection on that keep a deletion from happening at all.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub protected: Vec<String>,
    /// The ARN of each planned target group that exists, or its symbolic name, by plan id:
    /// where target registrations would go.
    #[serde(skip)]
    pub target_groups: BTreeMap<String, String>,
}

impl Preview {
    pub fn summary(&self) -> Summary {
        Summary::of(&self.steps)
    }

    /// The target registrations a sync of `target_group` (a plan id) to `wanted` would make.
    /// `registered` is what the group has now (`None` for a group this run creates).
    pub fn targets(&mut self, target_group: &str, registered: Option<&BTreeSet<Target>>, wanted: &BTreeSet<Target>) {
        let Some(resource) = self.target_groups.get(target_group).cloned() else { return };
        let empty = BTreeSet::new();
        let current = registered.unwrap_or(&empty);
        let list = |targets: Vec<&Target>| {
            let shown: Vec<String> = targets.iter().take(5).map(|t| format!("{}:{}", t.id, t.port)).collect();
            let more = targets.len().saturating_sub(shown.len());
            if more > 0 { format!("{} and {more} more", shown.join(", ")) } else { shown.join(", ") }
        };
        let add: Vec<&Target> = wanted.difference(current).collect();
        let remove: Vec<&Target> = current.difference(wanted).collect();
        if !add.is_empty() {
            let mut step =
                Step::new("RegisterTargets", Resource::Targets, Change::Register, resource.clone(), list(add.clone()));
            step.targets = Some(add.len());
            self.steps.push(step);
        }
        if !remove.is_empty() {
            let mut step =
                Step::new("DeregisterTargets", Resource::Targets, Change::Deregister, resource, list(remove.clone()));
            step.targets = Some(remove.len());
            self.steps.push(step);
        }
    }
}

/// A deployer that can only read. Built from a [`Deployer`], it shares its settings but none of
/// its write paths: its client refuses every mutating call.
#[derive(Clone)]
pub struct DryRun {
    aws: Aws,
    resolver: Resolver,
    deployer: Deployer,
}

impl DryRun {
    pub fn new(deployer: &Deployer) -> Self {
        let aws = deployer.aws.read_only();
        let resolver = Resolver::new(aws.clone(), deployer.resolver.settings().clone());
        let deployer = Deployer::new(aws.clone(), resolver.clone(), deployer.cluster.clone());
        Self { aws, resolver, deployer }
    }

    pub fn aws(&self) -> &Aws {
        &self.aws
    }

    pub fn resolver(&self) -> &Resolver {
        &self.resolver
    }

    fn cluster(&self) -> &str {
        &self.deployer.cluster
    }

    /// What [`Deployer::deploy`] would do to converge AWS to `stack`. An error is the one the
    /// real run would stop with (a protected load balancer it would replace, a name taken by
    /// someone else).
    pub async fn converge(&self, stack: &Stack) -> Result<Preview, AwsError> {
        let mut preview = Preview { gateway: stack.gateway.clone(), ..Preview::default() };
        let mut observation = observe(&self.aws, self.cluster(), stack).await?;
        // As the real run: only what is in our VPC is the stack's.
        let vpc = self.resolver.vpc_id().await?;
        observation.stack.target_groups.retain(|t| t.vpc_id.is_empty() || t.vpc_id == vpc);
        for arn in &observation.stale_load_balancers {
            if deletion_protected(&self.aws, arn).await? {
                return Err(protected(arn, None));
            }
        }
        let existing = observation.stack.load_balancer.is_some();
        let mut resolved = stack.clone();
        self.deployer.resolve_subnets(&mut resolved.load_balancer, existing).await?;
        self.resolver.trust_store_arns(&mut resolved).await?;
        let lb = &resolved.load_balancer;
        if !lb.settings.disable_security_group && lb.security_groups.is_empty() {
            let (groups, steps) = self.resolver.preview_managed_security_groups(&resolved).await?;
            resolved.load_balancer.security_groups = groups;
            preview.steps.extend(steps);
        } else if !lb.settings.disable_security_group && lb.settings.manage_backend_security_group_rules {
            // As the real run: the given groups and the cluster's backend group.
            let backend = self.resolver.preview_backend_security_group(&vpc, &mut preview.steps).await?;
            resolved.load_balancer.security_groups.push(backend);
        }
        crate::deploy::successor_names(&mut resolved, &observation);
        let observed = &observation.stack;
        let ops = diff(&resolved, observed);
        self.check_names(&resolved, &ops).await?;
        render::steps(&resolved, observed, &ops, &mut preview);
        self.settings_steps(&resolved, observed, &mut preview).await?;
        // Make before break: a replaced stack is retired only once its successor serves.
        let successor = &stack.load_balancer.load_balancer_name;
        for arn in &observation.stale_load_balancers {
            preview.steps.push(Step::new(
                "DeleteLoadBalancer",
                Resource::LoadBalancer,
                Change::Replace,
                arn,
                format!(
                    "replaced by {successor} (its name, scheme or type is not the planned one: a new DNS name); \
                     deleted only once {successor} is active"
                ),
            ));
        }
        for tg in &observation.stale_target_groups {
            preview.steps.push(Step::new(
                "DeleteTargetGroup",
                Resource::TargetGroup,
                Change::Delete,
                &tg.arn,
                format!("of the replaced load balancer; deleted only once {successor} is active"),
            ));
        }
        Ok(preview)
    }

    /// The settings converged once the load balancer exists (capacity, IPAM, PrivateLink, WAF,
    /// Shield): on an existing one, the same pass as the real run with its writes not sent; on a
    /// new one, what the plan asks for.
    async fn settings_steps(
        &self,
        stack: &Stack,
        observed: &StackObserved,
        preview: &mut Preview,
    ) -> Result<(), AwsError> {
        let lb = &stack.load_balancer;
        let (resource, change, ops) = match &observed.load_balancer {
            Some(o) => {
                let ops = crate::lb_settings::converge(&self.aws, self.cluster(), lb, &o.arn, &o.tags).await?;
                (o.arn.clone(), Change::Modify, ops)
            }
            None => {
                let s = &lb.settings;
                let ops = [
                    (s.minimum_load_balancer_capacity.is_some(), "ModifyCapacityReservation"),
                    (s.web_acl.is_some(), "AssociateWebACL"),
                    (s.shield_protection, "CreateProtection"),
                ];
                let ops = ops.into_iter().filter(|(set, _)| *set).map(|(_, op)| op).collect();
                (format!("<new load balancer {}>", lb.load_balancer_name), Change::Create, ops)
            }
        };
        for op in ops {
            preview.steps.push(Step::new(op, Resource::LoadBalancer, change, &resource, settings_detail(op, lb)));
        }
        Ok(())
    }

    /// AWS answers a create with an existing resource of the same name: the real run refuses
    /// one that is not this stack's, and so does the dry run.
    async fn check_names(&self, stack: &Stack, ops: &[crate::diff::Op]) -> Result<(), AwsError> {
        use crate::diff::Op;
        for op in ops {
            match op {
                Op::CreateLoadBalancer => {
                    let name = &stack.load_balancer.load_balancer_name;
                    let request = self.aws.elbv2.describe_load_balancers().names(name);
                    let found = match self.aws.call(Api::Elbv2Read, "DescribeLoadBalancers", request.send()).await {
                        Ok(found) => found,
                        Err(e) if e.class == ErrorClass::NotFound => continue,
                        Err(e) => return Err(e),
                    };
                    let Some(arn) = found.load_balancers().first().and_then(|l| l.load_balancer_arn()) else {
                        continue;
                    };
                    if !self.owned(stack, &self.tags_of(arn).await?) {
                        return Err(AwsError::new(
                            "CreateLoadBalancer",
                            "LoadBalancerNameTaken",
                            format!(
                                "a load balancer named {name} exists and is not owned by this Gateway; set \
                                 loadBalancerName in a LoadBalancerConfiguration or remove it"
                            ),
                            ErrorClass::Permanent,
                        ));
                    }
                }
                Op::CreateTargetGroup { id } => {
                    let Some(tg) = stack.target_groups.iter().find(|t| &t.id == id) else { continue };
                    let request = self.aws.elbv2.describe_target_groups().names(&tg.target_group_name);
                    let found = match self.aws.call(Api::Elbv2Read, "DescribeTargetGroups", request.send()).await {
                        Ok(found) => found,
                        Err(e) if e.class == ErrorClass::NotFound => continue,
                        Err(e) => return Err(e),
                    };
                    let Some(arn) = found.target_groups().first().and_then(|t| t.target_group_arn()) else {
                        continue;
                    };
                    if !self.owned(stack, &self.tags_of(arn).await?) {
                        return Err(AwsError::new(
                            "CreateTargetGroup",
                            "TargetGroupNameTaken",
                            format!(
                                "a target group named {} exists and is not owned by this Gateway",
                                tg.target_group_name
                            ),
                            ErrorClass::Permanent,
                        ));
                    }
                }
                _ => {}
            }
        }
        Ok(())
    }

    fn owned(&self, stack: &Stack, tags: &[Tag]) -> bool {
        let alb = stack.load_balancer.r#type == albatross_model::plan::types::LoadBalancerType::Application;
        tag_value(tags, CLUSTER_TAG) == Some(self.cluster())
            && tag_value(tags, &format!("{}/stack", stack_tag_prefix(alb))) == Some(stack.gateway.as_str())
    }

    async fn tags_of(&self, arn: &str) -> Result<Vec<Tag>, AwsError> {
        let request = self.aws.elbv2.describe_tags().resource_arns(arn);
        let out = self.aws.call(Api::Elbv2Read, "DescribeTags", request.send()).await?;
        Ok(out.tag_descriptions().iter().flat_map(|d| sdk::tags_from_sdk(d.tags())).collect())
    }

    /// What [`Deployer::delete`] would delete of one stack (`namespace/name`): nothing at all
    /// while one of its load balancers has deletion protection on.
    pub async fn delete(&self, gateway: &str, alb: bool) -> Result<Preview, AwsError> {
        let mut preview = Preview { gateway: gateway.to_owned(), ..Preview::default() };
        let (lbs, tgs) = tagged(&self.aws, self.cluster(), alb, Some(gateway)).await?;
        for (arn, _) in &lbs {
            if deletion_protected(&self.aws, arn).await? {
                preview.protected.push(arn.clone());
            }
        }
        if !preview.protected.is_empty() {
            return Ok(preview);
        }
        let delete = |operation, kind, arn: &String| Step::new(operation, kind, Change::Delete, arn, "");
        preview.steps.extend(lbs.iter().map(|(arn, _)| delete("DeleteLoadBalancer", Resource::LoadBalancer, arn)));
        preview.steps.extend(tgs.iter().map(|(arn, _)| delete("DeleteTargetGroup", Resource::TargetGroup, arn)));
        for group in self.resolver.preview_managed_security_groups_of(gateway, alb).await? {
            preview.steps.push(delete("DeleteSecurityGroup", Resource::SecurityGroup, &group));
        }
        Ok(preview)
    }

    /// What [`Deployer::delete_orphans`] would delete: the stacks whose Gateway is not in
    /// `live` (each as a preview; a failed one as its error), then the managed security groups
    /// left without a stack (one more preview, gateway empty).
    pub async fn orphans(&self, live: &BTreeSet<String>) -> Result<Vec<Result<Preview, AwsError>>, AwsError> {
        let mut out = Vec::new();
        let mut kept = live.clone();
        for (gateway, alb) in self.deployer.stacks().await? {
            if live.contains(&gateway) {
                continue;
            }
            let preview = self.delete(&gateway, alb).await;
            if !matches!(&preview, Ok(p) if p.protected.is_empty()) {
                kept.insert(gateway.clone());
            }
            out.push(preview);
        }
        // Groups a stack deletion above already takes along are gone by then.
        let listed: BTreeSet<String> = out
            .iter()
            .flatten()
            .flat_map(|p: &Preview| p.steps.iter().filter(|s| s.kind == Resource::SecurityGroup))
            .map(|s| s.resource.clone())
            .collect();
        let groups = self.resolver.orphan_security_groups(&kept).await?;
        let groups: Vec<String> = groups.into_iter().filter(|g| !listed.contains(g)).collect();
        if !groups.is_empty() {
            let steps = groups
                .iter()
                .map(|g| {
                    Step::new("DeleteSecurityGroup", Resource::SecurityGroup, Change::Delete, g, "no stack uses it")
                })
                .collect();
            out.push(Ok(Preview { steps, ..Preview::default() }));
        }
        Ok(out)
    }

    /// The targets registered in an existing target group (draining ones are on their way out).
    pub async fn registered(&self, target_group_arn: &str) -> Result<BTreeSet<Target>, AwsError> {
        crate::targets::registered(&self.aws, target_group_arn).await
    }
}

/// What a settings step sets, from the plan.
fn settings_detail(op: &str, lb: &albatross_model::plan::types::LoadBalancerPlan) -> String {
    let s = &lb.settings;
    match op {
        "ModifyCapacityReservation" => match &s.minimum_load_balancer_capacity {
            Some(c) => format!("minimum capacity {} units", c.capacity_units),
            None => "capacity reservation reset".into(),
        },
        "ModifyIpPools" => match &s.ipam_pools {
            Some(p) => format!("IPv4 addresses from IPAM pool {}", p.ipv4_ipam_pool_id),
            None => "IPAM pool removed".into(),
        },
        "SetSecurityGroups" => format!(
            "PrivateLink traffic enforcement {}",
            s.enforce_security_group_inbound_rules_on_private_link_traffic.as_deref().unwrap_or("-")
        ),
        "AssociateWebACL" => format!("web ACL {}", s.web_acl.as_deref().unwrap_or("-")),
        "DisassociateWebACL" => "web ACL removed".into(),
        "CreateProtection" => "Shield Advanced protection".into(),
        "DeleteProtection" => "our Shield Advanced protection removed".into(),
        other => other.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(kind: Resource, change: Change, resource: &str) -> Step {
        Step::new("Op", kind, change, resource, "")
    }

    #[test]
    fn a_replaced_load_balancer_is_counted_once_as_replaced_not_as_created() {
        let steps = [
            step(Resource::LoadBalancer, Change::Replace, "arn:old"),
            step(Resource::LoadBalancer, Change::Create, "<new load balancer x>"),
            step(Resource::Listener, Change::Create, "<new listener HTTP:80>"),
        ];
        let summary = Summary::of(&steps);
        assert_eq!(summary.load_balancers_replaced, 1);
        assert_eq!(summary.load_balancers.created, 0);
        assert_eq!(summary.listeners.created, 1);
        assert!(summary.line().starts_with("1 load balancers replaced, 0 created"), "{}", summary.line());
    }

    #[test]
    fn several_calls_on_one_resource_count_it_once() {
        let steps = [
            step(Resource::Listener, Change::Modify, "arn:l"),
            step(Resource::Listener, Change::Modify, "arn:l"),
            step(Resource::TargetGroup, Change::Tag, "arn:t"),
            step(Resource::LoadBalancer, Change::Tag, "arn:lb"),
        ];
        let summary = Summary::of(&steps);
        assert_eq!(summary.listeners.modified, 1);
        assert_eq!(summary.tagged, 2);
    }

    #[test]
    fn target_registrations_are_counted_by_target() {
        let mut preview = Preview::default();
        preview.target_groups.insert("tg".into(), "arn:tg".into());
        let t = |id: &str| Target { id: id.into(), port: 80 };
        let registered: BTreeSet<Target> = [t("10.0.0.1"), t("10.0.0.2")].into();
        let wanted: BTreeSet<Target> = [t("10.0.0.2"), t("10.0.0.3"), t("10.0.0.4")].into();
        preview.targets("tg", Some(&registered), &wanted);
        preview.targets("unknown", None, &wanted);
        let summary = preview.summary();
        assert_eq!((summary.targets_registered, summary.targets_deregistered), (2, 1));
        assert_eq!(preview.steps[0].detail, "10.0.0.3:80, 10.0.0.4:80");
    }
}
