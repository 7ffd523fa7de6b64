//! LoadBalancerConfiguration settings converged once the load balancer exists: its capacity
//! reservation, IPAM pool, PrivateLink enforcement, and (in `protection`) WAF and Shield.
//!
//! As for WAF and Shield, a setting is managed only while the plan asks for it or the load
//! balancer carries its marker tag, so load balancers that never asked cost no call and removing
//! a field undoes it (a capacity reservation is reset, an IPAM pool removed).

use albatross_model::plan::types::{LoadBalancerPlan, Tag};
use albatross_model::plan::{CAPACITY_TAG, IPAM_TAG, MANAGED};
use aws_sdk_elasticloadbalancingv2::types::{
    EnforceSecurityGroupInboundRulesOnPrivateLinkTrafficEnum, IpamPools, MinimumLoadBalancerCapacity,
    RemoveIpamPoolEnum,
};

use crate::client::{Api, Aws, AwsError};
use crate::protection;

/// Converges every setting of `plan` on the load balancer `arn`; returns the mutating operations.
pub async fn converge(
    aws: &Aws,
    cluster: &str,
    plan: &LoadBalancerPlan,
    arn: &str,
    observed_tags: &[Tag],
) -> Result<Vec<&'static str>, AwsError> {
    let marked = |key: &str| plan.tags.iter().chain(observed_tags).any(|t| t.key == key && t.value == MANAGED);
    let settings = &plan.settings;
    let mut ops = Vec::new();
    if settings.minimum_load_balancer_capacity.is_some() || marked(CAPACITY_TAG) {
        let wanted = settings.minimum_load_balancer_capacity.as_ref().map(|c| c.capacity_units);
        let current = aws
            .call(
                Api::Elbv2Read,
                "DescribeCapacityReservation",
                aws.elbv2.describe_capacity_reservation().load_balancer_arn(arn).send(),
            )
            .await?
            .minimum_load_balancer_capacity()
            .and_then(|c| c.capacity_units());
        if current != wanted {
            let op = "ModifyCapacityReservation";
            let request = aws.elbv2.modify_capacity_reservation().load_balancer_arn(arn);
            let request = match wanted {
                Some(units) => request.minimum_load_balancer_capacity(
                    MinimumLoadBalancerCapacity::builder().capacity_units(units).build(),
                ),
                None => request.reset_capacity_reservation(true),
            };
            aws.write(Api::Elbv2Write, op, request.send()).await?;
            ops.push(op);
        }
    }
    let ipam = settings.ipam_pools.is_some() || marked(IPAM_TAG);
    let enforce = settings.enforce_security_group_inbound_rules_on_private_link_traffic.as_deref();
    if ipam || enforce.is_some() {
        let described = aws
            .call(
                Api::Elbv2Read,
                "DescribeLoadBalancers",
                aws.elbv2.describe_load_balancers().load_balancer_arns(arn).send(),
            )
            .await?;
        let Some(lb) = described.load_balancers().first() else { return Ok(ops) };
        if ipam {
            let wanted = settings.ipam_pools.as_ref().map(|p| p.ipv4_ipam_pool_id.as_str());
            let current = lb.ipam_pools().and_then(|p| p.ipv4_ipam_pool_id());
            if current != wanted {
                let op = "ModifyIpPools";
                let request = aws.elbv2.modify_ip_pools().load_balancer_arn(arn);
                let request = match wanted {
                    Some(pool) => request.ipam_pools(IpamPools::builder().ipv4_ipam_pool_id(pool).build()),
                    None => request.remove_ipam_pools(RemoveIpamPoolEnum::Ipv4),
                };
                aws.write(Api::Elbv2Write, op, request.send()).await?;
                ops.push(op);
            }
        }
        if let Some(wanted) = enforce
            && lb.enforce_security_group_inbound_rules_on_private_link_traffic() != Some(wanted)
        {
            let op = "SetSecurityGroups";
            let groups = lb.security_groups().to_vec();
            let request = aws
                .elbv2
                .set_security_groups()
                .load_balancer_arn(arn)
                .set_security_groups(Some(groups))
                .enforce_security_group_inbound_rules_on_private_link_traffic(
                    EnforceSecurityGroupInboundRulesOnPrivateLinkTrafficEnum::from(wanted),
                );
            aws.write(Api::Elbv2Write, op, request.send()).await?;
            ops.push(op);
        }
    }
    if plan.r#type == albatross_model::plan::types::LoadBalancerType::Application {
        ops.extend(protection::converge(aws, cluster, plan, arn, observed_tags).await?);
    }
    Ok(ops)
}
