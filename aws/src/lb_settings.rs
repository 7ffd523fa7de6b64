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
use crate::observed::CreatedWith;
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

/// Fields of `plan` that AWS takes only in CreateLoadBalancer and that the existing load
/// balancer holds otherwise: no call changes them, so each is named (for the status) instead of
/// being dropped. Only what the plan sets is compared (AWS picks private addresses of its own).
pub fn set_at_creation(plan: &LoadBalancerPlan, observed: &CreatedWith) -> Vec<String> {
    let mut out = Vec::new();
    let shown = |v: Option<&String>| v.map_or_else(|| "none".to_owned(), Clone::clone);
    let wanted = &plan.settings.customer_owned_ipv4_pool;
    if wanted.is_some() && *wanted != observed.customer_owned_ipv4_pool {
        out.push(format!(
            "customerOwnedIpv4Pool {} (the load balancer has {})",
            shown(wanted.as_ref()),
            shown(observed.customer_owned_ipv4_pool.as_ref())
        ));
    }
    for m in &plan.settings.subnet_mappings {
        let have = observed.subnet_mappings.iter().find(|o| o.subnet_id == m.subnet_id);
        let fields = [
            ("eipAllocation", &m.allocation_id, have.and_then(|h| h.allocation_id.as_ref())),
            ("privateIPv4Allocation", &m.private_ipv4_address, have.and_then(|h| h.private_ipv4_address.as_ref())),
            ("ipv6Allocation", &m.ipv6_address, have.and_then(|h| h.ipv6_address.as_ref())),
            ("sourceNatIPv6Prefix", &m.source_nat_ipv6_prefix, have.and_then(|h| h.source_nat_ipv6_prefix.as_ref())),
        ];
        for (field, want, has) in fields {
            if want.is_some() && want.as_ref() != has {
                out.push(format!(
                    "loadBalancerSubnets[{}].{field} {} (the load balancer has {})",
                    m.subnet_id,
                    shown(want.as_ref()),
                    shown(has)
                ));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use albatross_model::plan::types::SubnetMapping;

    use super::*;

    #[test]
    fn only_what_the_plan_sets_and_the_load_balancer_lacks_is_named() {
        let mut plan: LoadBalancerPlan = serde_json::from_value(serde_json::json!({
            "LoadBalancerName": "lb", "Type": "network", "Scheme": "internet-facing", "IpAddressType": "ipv4",
            "Subnets": [], "SecurityGroups": [], "Attributes": [], "Tags": []
        }))
        .unwrap();
        let mapping = |subnet: &str, eip: Option<&str>, private: Option<&str>| SubnetMapping {
            subnet_id: subnet.into(),
            allocation_id: eip.map(str::to_owned),
            private_ipv4_address: private.map(str::to_owned),
            ipv6_address: None,
            source_nat_ipv6_prefix: None,
        };
        let observed = CreatedWith {
            customer_owned_ipv4_pool: None,
            subnet_mappings: vec![mapping("subnet-a", Some("eipalloc-1"), Some("10.0.0.5"))],
        };
        assert!(set_at_creation(&plan, &observed).is_empty(), "nothing asked, nothing named");
        plan.settings.subnet_mappings = vec![mapping("subnet-a", Some("eipalloc-1"), None)];
        assert!(set_at_creation(&plan, &observed).is_empty(), "AWS's own private address is not a difference");
        plan.settings.subnet_mappings = vec![mapping("subnet-a", Some("eipalloc-2"), None)];
        plan.settings.customer_owned_ipv4_pool = Some("ipv4pool-coip-2".into());
        assert_eq!(
            set_at_creation(&plan, &observed),
            [
                "customerOwnedIpv4Pool ipv4pool-coip-2 (the load balancer has none)",
                "loadBalancerSubnets[subnet-a].eipAllocation eipalloc-2 (the load balancer has eipalloc-1)"
            ]
        );
    }
}
