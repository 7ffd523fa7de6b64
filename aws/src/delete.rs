//! Deletion: a load balancer never while deletion protection is on (AWS's own refusal, the
//! attribute turned on between the check and the call, reads the same); a target group once free.

use std::time::Duration;

use crate::client::{Api, Aws, AwsError, ErrorClass};

/// The code of the error a load balancer with deletion protection on gives when asked to go.
pub const DELETION_PROTECTED: &str = "DeletionProtected";

/// Whether `error` is a refused deletion of a load balancer with deletion protection on.
pub fn is_deletion_protected(error: &AwsError) -> bool {
    error.code == DELETION_PROTECTED
}

pub(crate) fn protected(arn: &str, aws_says: Option<&str>) -> AwsError {
    let detail = aws_says.map(|m| format!(" (AWS: {m})")).unwrap_or_default();
    AwsError::new(
        "DeleteLoadBalancer",
        DELETION_PROTECTED,
        format!(
            "load balancer {arn} has deletion protection on{detail}: it is kept, with the listeners, target \
             groups and security group of its stack; turn deletion_protection.enabled off to let it go"
        ),
        ErrorClass::Permanent,
    )
}

/// Whether a load balancer has `deletion_protection.enabled` on (a vanished one has not).
pub async fn deletion_protected(aws: &Aws, arn: &str) -> Result<bool, AwsError> {
    let request = aws.elbv2.describe_load_balancer_attributes().load_balancer_arn(arn);
    match aws.call(Api::Elbv2Read, "DescribeLoadBalancerAttributes", request.send()).await {
        Ok(out) => Ok(out
            .attributes()
            .iter()
            .any(|a| a.key() == Some("deletion_protection.enabled") && a.value() == Some("true"))),
        Err(e) if e.class == ErrorClass::NotFound => Ok(false),
        Err(e) => Err(e),
    }
}

/// Deletes a load balancer; callers check [`deletion_protected`] first (so nothing else of the
/// stack goes), and AWS's own refusal (protection turned on meanwhile) maps to the same error.
pub async fn delete_load_balancer(aws: &Aws, arn: &str) -> Result<(), AwsError> {
    let request = aws.elbv2.delete_load_balancer().load_balancer_arn(arn);
    match aws.call(Api::Elbv2Write, "DeleteLoadBalancer", request.send()).await {
        Ok(_) => Ok(()),
        Err(e) if e.class == ErrorClass::NotFound => Ok(()),
        Err(e) if e.code == "OperationNotPermitted" => Err(protected(arn, Some(&e.message))),
        Err(e) => Err(e),
    }
}

/// A target group stays in use for a moment after the listener or load balancer that used it
/// is deleted.
pub async fn delete_target_group(aws: &Aws, arn: &str) -> Result<(), AwsError> {
    let mut wait = Duration::from_millis(200);
    for attempt in 0.. {
        match aws
            .call(Api::Elbv2Write, "DeleteTargetGroup", aws.elbv2.delete_target_group().target_group_arn(arn).send())
            .await
        {
            Ok(_) => return Ok(()),
            Err(e) if e.class == ErrorClass::NotFound => return Ok(()),
            Err(e) if e.code == "ResourceInUse" && attempt < 8 => {
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(Duration::from_secs(10));
            }
            Err(e) => return Err(e),
        }
    }
    unreachable!("the loop returns")
}
