//! Target registration: one target group's registered targets converged to the ready endpoints
//! (IP targets) or nodes (instance targets) Kubernetes reports.

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_elasticloadbalancingv2::types::TargetDescription;
pub use aws_sdk_elasticloadbalancingv2::types::TargetHealthStateEnum;

use crate::client::{Api, Aws, AwsError};

/// An IP address or instance id, and the port traffic goes to.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Target {
    pub id: String,
    pub port: i32,
}

/// What one sync changed, and the health AWS reported before it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TargetChanges {
    pub registered: usize,
    pub deregistered: usize,
    /// Every target registered before the sync with its state (`initial`, `healthy`, ...;
    /// `None` when AWS gave none). Targets registered by this sync are not in it.
    pub health: BTreeMap<Target, Option<TargetHealthStateEnum>>,
}

/// RegisterTargets and DeregisterTargets take at most this many targets a call.
const BATCH: usize = 200;

async fn health(
    aws: &Aws,
    target_group_arn: &str,
) -> Result<BTreeMap<Target, Option<TargetHealthStateEnum>>, AwsError> {
    let out = aws
        .call(
            Api::Elbv2Read,
            "DescribeTargetHealth",
            aws.elbv2.describe_target_health().target_group_arn(target_group_arn).send(),
        )
        .await?;
    Ok(out
        .target_health_descriptions()
        .iter()
        .filter_map(|d| {
            let t = d.target()?;
            let state = d.target_health().and_then(|h| h.state()).cloned();
            Some((Target { id: t.id()?.to_owned(), port: t.port().unwrap_or_default() }, state))
        })
        .collect())
}

/// The targets a group has, draining ones left out (a dry run's view of [`sync`]'s start).
pub async fn registered(aws: &Aws, target_group_arn: &str) -> Result<BTreeSet<Target>, AwsError> {
    let draining = Some(TargetHealthStateEnum::Draining);
    Ok(health(aws, target_group_arn).await?.into_iter().filter(|(_, s)| *s != draining).map(|(t, _)| t).collect())
}

/// Whose targets a target group holds.
#[derive(Debug)]
pub enum Ownership<'a> {
    /// Only this cluster's: whatever is registered and not wanted is deregistered.
    Exclusive,
    /// Shared with other clusters (`enableMultiCluster`): only targets in this record, the ones
    /// this cluster registered, are ever deregistered. The sync leaves `wanted` in it.
    Shared(&'a mut BTreeSet<Target>),
}

/// Registers what is wanted and missing, then deregisters what is registered and not wanted
/// (and, for a shared group, ours): new targets take traffic before old ones drain.
pub async fn sync(
    aws: &Aws,
    target_group_arn: &str,
    wanted: &BTreeSet<Target>,
    ownership: Ownership<'_>,
) -> Result<TargetChanges, AwsError> {
    let health = health(aws, target_group_arn).await?;
    // A draining target is on its way out: one that is wanted again must be registered again.
    let draining = Some(TargetHealthStateEnum::Draining);
    let current: BTreeSet<Target> = health.iter().filter(|(_, s)| **s != draining).map(|(t, _)| t.clone()).collect();
    let add: Vec<&Target> = wanted.difference(&current).collect();
    let remove: Vec<&Target> = match &ownership {
        Ownership::Exclusive => current.difference(wanted).collect(),
        Ownership::Shared(ours) => current.difference(wanted).filter(|t| ours.contains(*t)).collect(),
    };
    let describe = |t: &&Target| TargetDescription::builder().id(&t.id).port(t.port).build();
    for batch in add.chunks(BATCH) {
        aws.call(
            Api::Elbv2Registration,
            "RegisterTargets",
            aws.elbv2
                .register_targets()
                .target_group_arn(target_group_arn)
                .set_targets(Some(batch.iter().map(describe).collect()))
                .send(),
        )
        .await?;
    }
    for batch in remove.chunks(BATCH) {
        aws.call(
            Api::Elbv2Registration,
            "DeregisterTargets",
            aws.elbv2
                .deregister_targets()
                .target_group_arn(target_group_arn)
                .set_targets(Some(batch.iter().map(describe).collect()))
                .send(),
        )
        .await?;
    }
    if let Ownership::Shared(ours) = ownership {
        ours.clone_from(wanted);
    }
    Ok(TargetChanges { registered: add.len(), deregistered: remove.len(), health })
}
