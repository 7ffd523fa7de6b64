//! An ALB's WAF web ACL association and Shield Advanced protection, converged once the load
//! balancer exists (`WebACL` and `ShieldProtection` of the plan).
//!
//! Each is managed only for a load balancer that asks for it now or carries its marker tag (put
//! there by the plan while it asked): removing the field undoes what we did, and load balancers
//! that never asked cost no call. A Shield protection is ours by its name; it carries the cluster
//! tag too, which the IAM policy conditions its deletion on.

use albatross_model::plan::naming::CLUSTER_TAG;
use albatross_model::plan::types::{LoadBalancerPlan, Tag};
use albatross_model::plan::{MANAGED, SHIELD_TAG, WEB_ACL_TAG};
use aws_sdk_wafv2::types::Scope;

use crate::client::{Api, Aws, AwsError, ErrorClass};

/// Name of the Shield protection we create for a load balancer of `cluster`.
pub fn protection_name(cluster: &str) -> String {
    format!("albatross cluster {cluster}")
}

/// Associates, replaces or removes the web ACL and creates or deletes our Shield protection, as
/// the plan says; returns the mutating operations run.
pub async fn converge(
    aws: &Aws,
    cluster: &str,
    plan: &LoadBalancerPlan,
    arn: &str,
    observed_tags: &[Tag],
) -> Result<Vec<&'static str>, AwsError> {
    let marked = |key: &str| plan.tags.iter().chain(observed_tags).any(|t| t.key == key && t.value == MANAGED);
    let mut ops = Vec::new();
    if plan.settings.web_acl.is_some() || marked(WEB_ACL_TAG) {
        ops.extend(web_acl(aws, plan.settings.web_acl.as_deref(), arn).await?);
    }
    if plan.settings.shield_protection || marked(SHIELD_TAG) {
        ops.extend(shield(aws, cluster, plan.settings.shield_protection, arn).await?);
    }
    Ok(ops)
}

async fn web_acl(aws: &Aws, wanted: Option<&str>, arn: &str) -> Result<Option<&'static str>, AwsError> {
    let current = aws
        .call(Api::Protection, "GetWebACLForResource", aws.wafv2.get_web_acl_for_resource().resource_arn(arn).send())
        .await?
        .web_acl()
        .map(|w| w.arn().to_owned());
    let Some(wanted) = wanted else {
        if current.is_none() {
            return Ok(None);
        }
        let op = "DisassociateWebACL";
        aws.write(Api::Protection, op, aws.wafv2.disassociate_web_acl().resource_arn(arn).send()).await?;
        return Ok(Some(op));
    };
    let target = if wanted.starts_with("arn:") { wanted.to_owned() } else { web_acl_arn(aws, wanted).await? };
    if current.as_deref() == Some(target.as_str()) {
        return Ok(None);
    }
    let op = "AssociateWebACL";
    aws.write(Api::Protection, op, aws.wafv2.associate_web_acl().web_acl_arn(target).resource_arn(arn).send()).await?;
    Ok(Some(op))
}

/// The ARN of the regional web ACL named `name`.
async fn web_acl_arn(aws: &Aws, name: &str) -> Result<String, AwsError> {
    let mut marker: Option<String> = None;
    loop {
        let page = aws
            .call(
                Api::Protection,
                "ListWebACLs",
                aws.wafv2.list_web_acls().scope(Scope::Regional).limit(100).set_next_marker(marker.take()).send(),
            )
            .await?;
        if let Some(found) = page.web_acls().iter().find(|w| w.name() == Some(name)) {
            return Ok(found.arn().unwrap_or_default().to_owned());
        }
        match page.next_marker() {
            Some(next) if !next.is_empty() => marker = Some(next.to_owned()),
            _ => {
                return Err(AwsError::new(
                    "ListWebACLs",
                    "WebACLNotFound",
                    format!("no regional web ACL is named {name:?} (wafV2.webACL)"),
                    ErrorClass::Permanent,
                ));
            }
        }
    }
}

async fn shield(aws: &Aws, cluster: &str, wanted: bool, arn: &str) -> Result<Option<&'static str>, AwsError> {
    let found = match aws
        .call(Api::Protection, "DescribeProtection", aws.shield.describe_protection().resource_arn(arn).send())
        .await
    {
        Ok(out) => out.protection().cloned(),
        Err(e) if e.class == ErrorClass::NotFound => None,
        Err(e) => return Err(e),
    };
    let name = protection_name(cluster);
    match (wanted, found) {
        (true, None) => {
            let op = "CreateProtection";
            let tag = aws_sdk_shield::types::Tag::builder().key(CLUSTER_TAG).value(cluster).build();
            let request = aws.shield.create_protection().name(name).resource_arn(arn).tags(tag);
            aws.write(Api::Protection, op, request.send()).await?;
            Ok(Some(op))
        }
        // Someone else's protection is left alone; it protects the load balancer all the same.
        (true, Some(_)) => Ok(None),
        (false, Some(p)) if p.name() == Some(name.as_str()) => {
            let op = "DeleteProtection";
            let id = p.id().unwrap_or_default().to_owned();
            aws.write(Api::Protection, op, aws.shield.delete_protection().protection_id(id).send()).await?;
            Ok(Some(op))
        }
        (false, _) => Ok(None),
    }
}
