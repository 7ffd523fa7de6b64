//! The load balancer of a Gateway from its merged LoadBalancerConfiguration, and the refusal of
//! fields that cannot apply to its type, scheme or address type (named by their field path).

use albatross_k8s::aws::load_balancer_configuration::{
    LoadBalancerConfigurationSpec, LoadBalancerIpAddressType, LoadBalancerScheme, SubnetConfiguration,
};
use albatross_k8s::gateway_api::v1::gateways::GatewaySpec;
use albatross_k8s::route::ObjectKey;

use super::alb::enum_text;
use super::attach::Failure;
use super::env::Env;
use super::naming;
use super::snapshot::Object;
use super::types::{
    Attribute, IpamPools, LoadBalancerPlan, LoadBalancerSettings, MinimumLoadBalancerCapacity, SubnetMapping,
};
use super::wire;
use crate::validate::Flavor;

/// Marker tags of a load balancer whose setting we manage: put on while the configuration asks
/// for it, never taken off, so that removing the field undoes the setting.
pub const WEB_ACL_TAG: &str = "albatross.k8s.aws/web-acl";
pub const SHIELD_TAG: &str = "albatross.k8s.aws/shield";
pub const CAPACITY_TAG: &str = "albatross.k8s.aws/capacity-reservation";
pub const IPAM_TAG: &str = "albatross.k8s.aws/ipam-pool";
/// Value of the marker tags.
pub const MANAGED: &str = "managed";
/// Tag keys under this prefix are Albatross's records of what it manages; a user tag of that
/// kind would make it undo a web ACL, protection or reservation someone else set up.
pub const RESERVED_TAG_PREFIX: &str = "albatross.k8s.aws/";

/// The load balancer, or why the configuration cannot apply to it (every problem, `; `-joined).
pub fn plan(
    env: &Env,
    key: &ObjectKey,
    gw: &Object<GatewaySpec>,
    config: &LoadBalancerConfigurationSpec,
    flavor: Flavor,
) -> Result<LoadBalancerPlan, Failure> {
    // Every field named, none skipped with `..`: a field added to the CRD fails the build here
    // until the model handles it.
    let LoadBalancerConfigurationSpec {
        // Read by `config::merged` only.
        merging_mode: _,
        load_balancer_name,
        scheme,
        ip_address_type,
        enforce_security_group_inbound_rules_on_private_link_traffic,
        customer_owned_ipv4_pool,
        ipv4_ipam_pool_id,
        load_balancer_subnets,
        load_balancer_subnets_selector,
        // Read per listener by the ALB and NLB planners.
        listener_configurations: _,
        disable_security_group,
        security_groups,
        security_group_prefixes,
        source_ranges,
        load_balancer_attributes,
        tags,
        enable_icmp,
        manage_backend_security_group_rules,
        minimum_load_balancer_capacity,
        waf_v2,
        shield_configuration,
        // Read by `gateway::build`: the default of every target group.
        default_target_group_configuration: _,
    } = config;
    let scheme = match scheme {
        Some(LoadBalancerScheme::InternetFacing) => wire::Scheme::InternetFacing,
        Some(LoadBalancerScheme::Internal) => wire::Scheme::Internal,
        None => env.default_scheme,
    };
    let scheme_text = scheme.as_str();
    let internet_facing = scheme == wire::Scheme::InternetFacing;
    let dual_stack = ip_address_type.is_some_and(|t| t != LoadBalancerIpAddressType::Ipv4);
    let user_groups = security_groups.as_ref().is_some_and(|g| !g.is_empty());
    let disabled = disable_security_group.unwrap_or(false);
    let subnet_configs: &[SubnetConfiguration] = load_balancer_subnets.as_deref().unwrap_or_default();

    let mut problems: Vec<String> = Vec::new();
    let mut refuse = |field: &str, message: &str| problems.push(format!("spec.{field}: {message}"));
    let (alb_only, nlb_only) = match flavor {
        Flavor::Alb => ("", "applies only to NLB Gateways; this Gateway's class provisions an ALB"),
        Flavor::Nlb => ("applies only to ALB Gateways; this Gateway's class provisions an NLB", ""),
    };
    if flavor == Flavor::Nlb {
        for (set, field) in [
            (waf_v2.is_some(), "wafV2"),
            (shield_configuration.as_ref().and_then(|s| s.enabled) == Some(true), "shieldConfiguration"),
            (customer_owned_ipv4_pool.is_some(), "customerOwnedIpv4Pool"),
            (ipv4_ipam_pool_id.is_some(), "ipv4IPAMPoolId"),
        ] {
            if set {
                refuse(field, alb_only);
            }
        }
    }
    if flavor == Flavor::Alb {
        for (set, field) in [
            (
                enforce_security_group_inbound_rules_on_private_link_traffic.is_some(),
                "enforceSecurityGroupInboundRulesOnPrivateLinkTraffic",
            ),
            (disabled, "disableSecurityGroup"),
            (enable_icmp.unwrap_or(false), "enableICMP"),
        ] {
            if set {
                refuse(field, nlb_only);
            }
        }
    }
    for (i, s) in subnet_configs.iter().enumerate() {
        let at = |field: &str| format!("loadBalancerSubnets[{i}].{field}");
        let allocations = [
            (s.eip_allocation.is_some(), "eipAllocation"),
            (s.private_ipv4_allocation.is_some(), "privateIPv4Allocation"),
            (s.ipv6_allocation.is_some(), "ipv6Allocation"),
            (s.source_nat_ipv6_prefix.is_some(), "sourceNatIPv6Prefix"),
        ];
        for (set, field) in allocations {
            if set && flavor == Flavor::Alb {
                refuse(&at(field), nlb_only);
            }
        }
        if flavor == Flavor::Nlb {
            if s.eip_allocation.is_some() && !internet_facing {
                refuse(&at("eipAllocation"), &format!("requires scheme internet-facing; the scheme is {scheme_text}"));
            }
            if s.private_ipv4_allocation.is_some() && internet_facing {
                refuse(&at("privateIPv4Allocation"), "requires scheme internal; the scheme is internet-facing");
            }
            for (set, field) in allocations.into_iter().skip(2) {
                if set && !dual_stack {
                    refuse(&at(field), "requires a dualstack ipAddressType");
                }
            }
        }
    }
    // The managed group's settings mean nothing where there is no managed group.
    let managed_group_fields = [
        (security_group_prefixes.as_ref().is_some_and(|p| !p.is_empty()), "securityGroupPrefixes"),
        (enable_icmp.unwrap_or(false) && flavor == Flavor::Nlb, "enableICMP"),
        (source_ranges.as_ref().is_some_and(|r| !r.is_empty()), "sourceRanges"),
    ];
    for (set, field) in managed_group_fields {
        if set && user_groups {
            refuse(field, "configures the managed security group, which securityGroups replaces");
        }
        if set && disabled && flavor == Flavor::Nlb {
            refuse(field, "configures the managed security group, which disableSecurityGroup turns off");
        }
    }
    if disabled && flavor == Flavor::Nlb {
        if user_groups {
            refuse("disableSecurityGroup", "cannot be combined with securityGroups");
        }
        if enforce_security_group_inbound_rules_on_private_link_traffic.is_some() {
            refuse(
                "enforceSecurityGroupInboundRulesOnPrivateLinkTraffic",
                "needs security groups, which disableSecurityGroup turns off",
            );
        }
    }
    for key in tags.iter().flatten().map(|(k, _)| k) {
        if let Some(problem) = naming::reserved_tag([key]) {
            problems.push(problem);
        }
    }
    if !problems.is_empty() {
        return Err(("InvalidParameters", format!("LoadBalancerConfiguration {}", problems.join("; "))));
    }

    let identity = gw.meta.uid.clone().unwrap_or_else(|| key.to_string());
    let name = load_balancer_name.clone().unwrap_or_else(|| {
        naming::load_balancer_name(&env.cluster_name, &key.namespace, &key.name, &identity, scheme_text)
    });
    let subnets: Vec<String> = load_balancer_subnets
        .as_ref()
        .map(|s| s.iter().map(|x| x.identifier.clone()).collect())
        .or_else(|| {
            // Subnets chosen once stay chosen while the scheme does not change.
            env.existing.get(&key.to_string()).filter(|e| e.scheme == scheme_text).map(|e| e.subnets.clone())
        })
        .unwrap_or_else(|| env.subnets.clone());
    let mut attributes: Vec<Attribute> = load_balancer_attributes
        .iter()
        .flatten()
        .map(|a| Attribute { key: a.key.clone(), value: a.value.clone() })
        .collect();
    attributes.sort();
    let allocated = subnet_configs.iter().any(|s| {
        s.eip_allocation.is_some()
            || s.private_ipv4_allocation.is_some()
            || s.ipv6_allocation.is_some()
            || s.source_nat_ipv6_prefix.is_some()
    });
    let settings = LoadBalancerSettings {
        subnet_mappings: if allocated {
            subnet_configs
                .iter()
                .map(|s| SubnetMapping {
                    subnet_id: s.identifier.clone(),
                    allocation_id: s.eip_allocation.clone(),
                    private_ipv4_address: s.private_ipv4_allocation.clone(),
                    ipv6_address: s.ipv6_allocation.clone(),
                    source_nat_ipv6_prefix: s.source_nat_ipv6_prefix.clone(),
                })
                .collect()
        } else {
            Vec::new()
        },
        customer_owned_ipv4_pool: customer_owned_ipv4_pool.clone(),
        ipam_pools: ipv4_ipam_pool_id.clone().map(|id| IpamPools { ipv4_ipam_pool_id: id }),
        enforce_security_group_inbound_rules_on_private_link_traffic:
            enforce_security_group_inbound_rules_on_private_link_traffic.as_ref().map(enum_text),
        minimum_load_balancer_capacity: minimum_load_balancer_capacity
            .as_ref()
            .map(|c| MinimumLoadBalancerCapacity { capacity_units: c.capacity_units }),
        security_group_prefixes: security_group_prefixes.clone().unwrap_or_default(),
        disable_security_group: disabled,
        enable_icmp: enable_icmp.unwrap_or(false),
        manage_backend_security_group_rules: manage_backend_security_group_rules.unwrap_or(false),
        web_acl: waf_v2.as_ref().map(|w| w.web_acl.clone()),
        shield_protection: shield_configuration.as_ref().and_then(|s| s.enabled).unwrap_or(false),
    };
    let mut user_tags = tags.clone().unwrap_or_default();
    for (set, marker) in [
        (settings.web_acl.is_some(), WEB_ACL_TAG),
        (settings.shield_protection, SHIELD_TAG),
        (settings.minimum_load_balancer_capacity.is_some(), CAPACITY_TAG),
        (settings.ipam_pools.is_some(), IPAM_TAG),
    ] {
        if set {
            user_tags.insert(marker.to_owned(), MANAGED.to_owned());
        }
    }
    Ok(LoadBalancerPlan {
        load_balancer_name: name,
        r#type: match flavor {
            Flavor::Alb => wire::LoadBalancerType::Application,
            Flavor::Nlb => wire::LoadBalancerType::Network,
        },
        scheme,
        ip_address_type: ip_address_type.as_ref().map_or_else(|| "ipv4".to_owned(), enum_text),
        subnets,
        security_groups: security_groups.clone().unwrap_or_default(),
        managed_security_group_name: (!user_groups && !settings.disable_security_group)
            .then(|| naming::security_group_name(&env.cluster_name, &key.namespace, &key.name, &identity)),
        subnet_selector: load_balancer_subnets_selector.clone().unwrap_or_default(),
        source_ranges: source_ranges.clone().unwrap_or_default(),
        attributes,
        tags: naming::tags(&env.cluster_name, flavor == Flavor::Alb, &key.to_string(), "LoadBalancer", &user_tags),
        settings,
    })
}

#[cfg(test)]
#[path = "load_balancer_tests.rs"]
mod tests;
