//! Each LoadBalancerConfiguration field reaches the plan, or refuses the Gateway by field path.

use serde_json::Value;

use crate::plan::{Build, Env, Snapshot, build};

fn class(flavor: &str, parameters: Option<&str>) -> String {
    let reference = parameters.map_or_else(String::new, |name| {
        format!("\n  parametersRef: {{group: gateway.k8s.aws, kind: LoadBalancerConfiguration, name: {name}, namespace: shop}}")
    });
    format!(
        "apiVersion: gateway.networking.k8s.io/v1\nkind: GatewayClass\nmetadata: {{name: {flavor}}}\nspec:\n  controllerName: gateway.k8s.aws/{flavor}{reference}\n"
    )
}

fn gateway(flavor: &str) -> String {
    let protocol = if flavor == "alb" { "HTTP" } else { "TCP" };
    format!(
        "apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata: {{name: web, namespace: shop}}\nspec:\n  gatewayClassName: {flavor}\n  infrastructure:\n    parametersRef: {{group: gateway.k8s.aws, kind: LoadBalancerConfiguration, name: lbc}}\n  listeners:\n  - {{name: l, protocol: {protocol}, port: 80}}\n"
    )
}

fn config(name: &str, spec: &str) -> String {
    let spec = spec.trim_end().lines().map(|l| format!("  {l}")).collect::<Vec<_>>().join("\n");
    format!(
        "apiVersion: gateway.k8s.aws/v1beta1\nkind: LoadBalancerConfiguration\nmetadata: {{name: {name}, namespace: shop}}\nspec:\n{spec}\n"
    )
}

fn plan(docs: &[String]) -> Build {
    let text = docs.join("\n---\n");
    let objects: Vec<Value> = crate::manifest::parse(&text).into_iter().map(|d| d.unwrap().value).collect();
    let (snapshot, skipped) = Snapshot::from_objects(objects.iter().cloned());
    assert!(skipped.is_empty(), "{skipped:?}");
    build(&snapshot, &Env::default())
}

/// The load balancer as `albatross plan --output json` prints it.
fn load_balancer(flavor: &str, spec: &str) -> Value {
    let build = plan(&[class(flavor, None), gateway(flavor), config("lbc", spec)]);
    assert_eq!(build.stacks.len(), 1, "{:#?}", build.statuses);
    serde_json::to_value(&build.stacks[0].load_balancer).unwrap()
}

/// The Gateway's `Accepted` condition: (status, reason, message).
fn refusal(docs: &[String]) -> (String, String, String) {
    let build = plan(docs);
    let gw = build.statuses.iter().find(|s| s.kind == "Gateway").unwrap();
    let c = gw.status["conditions"].as_array().unwrap().iter().find(|c| c["type"] == "Accepted").unwrap().clone();
    assert!(build.stacks.is_empty(), "a refused Gateway has no stack");
    let text = |k: &str| c[k].as_str().unwrap().to_owned();
    (text("status"), text("reason"), text("message"))
}

#[test]
fn alb_fields_reach_the_plan() {
    let lb = load_balancer(
        "alb",
        "wafV2: {webACL: shop-acl}
shieldConfiguration: {enabled: true}
customerOwnedIpv4Pool: ipv4pool-coip-0123
ipv4IPAMPoolId: ipam-pool-0abc
minimumLoadBalancerCapacity: {capacityUnits: 100}
securityGroupPrefixes: [pl-0123456789abcdef0]
",
    );
    assert_eq!(lb["WebACL"], "shop-acl");
    assert_eq!(lb["ShieldProtection"], true);
    assert_eq!(lb["CustomerOwnedIpv4Pool"], "ipv4pool-coip-0123");
    assert_eq!(lb["IpamPools"]["Ipv4IpamPoolId"], "ipam-pool-0abc");
    assert_eq!(lb["MinimumLoadBalancerCapacity"]["CapacityUnits"], 100);
    assert_eq!(lb["SecurityGroupPrefixes"], serde_json::json!(["pl-0123456789abcdef0"]));
    // Marker tags: removing a field later undoes it (see aws/src/lb_settings.rs).
    let tags = lb["Tags"].as_array().unwrap();
    for marker in [super::WEB_ACL_TAG, super::SHIELD_TAG, super::CAPACITY_TAG, super::IPAM_TAG] {
        assert!(tags.iter().any(|t| t["Key"] == marker && t["Value"] == super::MANAGED), "{marker}: {tags:?}");
    }
}

#[test]
fn unset_fields_are_not_shown() {
    let lb = load_balancer("alb", "scheme: internal\n");
    for key in ["WebACL", "ShieldProtection", "SubnetMappings", "IpamPools", "EnableICMP", "DisableSecurityGroup"] {
        assert!(lb.get(key).is_none(), "{key} in {lb}");
    }
}

#[test]
fn nlb_fields_reach_the_plan() {
    let lb = load_balancer(
        "nlb",
        "scheme: internet-facing
ipAddressType: dualstack
loadBalancerSubnets:
- {identifier: subnet-a, eipAllocation: eipalloc-0a, ipv6Allocation: '2600:1f18::10', sourceNatIPv6Prefix: auto_assigned}
- {identifier: subnet-b, eipAllocation: eipalloc-0b, ipv6Allocation: '2600:1f18:0:1::10', sourceNatIPv6Prefix: auto_assigned}
enforceSecurityGroupInboundRulesOnPrivateLinkTraffic: 'off'
enableICMP: true
minimumLoadBalancerCapacity: {capacityUnits: 5500}
",
    );
    assert_eq!(lb["Subnets"], serde_json::json!(["subnet-a", "subnet-b"]));
    assert_eq!(
        lb["SubnetMappings"][0],
        serde_json::json!({"SubnetId": "subnet-a", "AllocationId": "eipalloc-0a", "IPv6Address": "2600:1f18::10", "SourceNatIpv6Prefix": "auto_assigned"})
    );
    assert_eq!(lb["SubnetMappings"][1]["AllocationId"], "eipalloc-0b");
    assert_eq!(lb["EnforceSecurityGroupInboundRulesOnPrivateLinkTraffic"], "off");
    assert_eq!(lb["EnableICMP"], true);
    assert_eq!(lb["MinimumLoadBalancerCapacity"]["CapacityUnits"], 5500);
}

#[test]
fn internal_nlb_private_addresses_reach_the_plan() {
    let lb = load_balancer(
        "nlb",
        "scheme: internal
loadBalancerSubnets:
- {identifier: subnet-a, privateIPv4Allocation: 10.0.1.10}
",
    );
    assert_eq!(lb["SubnetMappings"], serde_json::json!([{"SubnetId": "subnet-a", "PrivateIPv4Address": "10.0.1.10"}]));
}

#[test]
fn nlb_without_security_groups_reaches_the_plan() {
    let lb = load_balancer("nlb", "disableSecurityGroup: true\n");
    assert_eq!(lb["DisableSecurityGroup"], true);
    assert_eq!(lb["SecurityGroups"], serde_json::json!([]));
}

#[test]
fn backend_rules_with_user_security_groups_reach_the_plan() {
    let lb = load_balancer("alb", "securityGroups: [sg-0123]\nmanageBackendSecurityGroupRules: true\n");
    assert_eq!(lb["ManageBackendSecurityGroupRules"], true);
    assert_eq!(lb["SecurityGroups"], serde_json::json!(["sg-0123"]));
}

#[test]
fn alb_only_fields_refuse_an_nlb_gateway_by_field_path() {
    let (status, reason, message) = refusal(&[
        class("nlb", None),
        gateway("nlb"),
        config(
            "lbc",
            "wafV2: {webACL: acl}\nshieldConfiguration: {enabled: true}\ncustomerOwnedIpv4Pool: ipv4pool-coip-1\nipv4IPAMPoolId: ipam-pool-1\n",
        ),
    ]);
    assert_eq!((status.as_str(), reason.as_str()), ("False", "InvalidParameters"));
    for field in ["spec.wafV2", "spec.shieldConfiguration", "spec.customerOwnedIpv4Pool", "spec.ipv4IPAMPoolId"] {
        assert!(message.contains(&format!("{field}: applies only to ALB Gateways")), "{field}: {message}");
    }
}

#[test]
fn nlb_only_fields_refuse_an_alb_gateway_by_field_path() {
    let (status, reason, message) = refusal(&[
        class("alb", None),
        gateway("alb"),
        config(
            "lbc",
            "enforceSecurityGroupInboundRulesOnPrivateLinkTraffic: 'on'
disableSecurityGroup: true
enableICMP: true
scheme: internet-facing
loadBalancerSubnets:
- {identifier: subnet-a, eipAllocation: eipalloc-0a}
",
        ),
    ]);
    assert_eq!((status.as_str(), reason.as_str()), ("False", "InvalidParameters"));
    for field in [
        "spec.enforceSecurityGroupInboundRulesOnPrivateLinkTraffic",
        "spec.disableSecurityGroup",
        "spec.enableICMP",
        "spec.loadBalancerSubnets[0].eipAllocation",
    ] {
        assert!(message.contains(&format!("{field}: applies only to NLB Gateways")), "{field}: {message}");
    }
}

#[test]
fn an_allocation_that_does_not_fit_the_merged_scheme_is_refused() {
    // The class's configuration sets the scheme, the Gateway's the addresses: no one object's
    // CEL rule sees both.
    let (_, reason, message) = refusal(&[
        class("nlb", Some("platform")),
        config("platform", "scheme: internal\n"),
        gateway("nlb"),
        config("lbc", "loadBalancerSubnets:\n- {identifier: subnet-a, eipAllocation: eipalloc-0a}\n"),
    ]);
    assert_eq!(reason, "InvalidParameters");
    assert!(
        message.contains(
            "spec.loadBalancerSubnets[0].eipAllocation: requires scheme internet-facing; the scheme is internal"
        ),
        "{message}"
    );
}

#[test]
fn ipv6_allocations_need_a_dual_stack_load_balancer() {
    let (_, _, message) = refusal(&[
        class("nlb", None),
        gateway("nlb"),
        config("lbc", "loadBalancerSubnets:\n- {identifier: subnet-a, ipv6Allocation: '2600:1f18::10'}\n"),
    ]);
    assert!(
        message.contains("spec.loadBalancerSubnets[0].ipv6Allocation: requires a dualstack ipAddressType"),
        "{message}"
    );
}

#[test]
fn managed_group_settings_with_merged_user_groups_are_refused() {
    let (_, _, message) = refusal(&[
        class("nlb", Some("platform")),
        config("platform", "securityGroups: [sg-0123]\n"),
        gateway("nlb"),
        config("lbc", "securityGroupPrefixes: [pl-0123456789abcdef0]\nenableICMP: true\n"),
    ]);
    assert!(message.contains("spec.securityGroupPrefixes: configures the managed security group"), "{message}");
    assert!(message.contains("spec.enableICMP: configures the managed security group"), "{message}");
}

#[test]
fn no_security_groups_leaves_no_room_for_private_link_enforcement() {
    let (_, _, message) = refusal(&[
        class("nlb", Some("platform")),
        config("platform", "disableSecurityGroup: true\n"),
        gateway("nlb"),
        config("lbc", "enforceSecurityGroupInboundRulesOnPrivateLinkTraffic: 'on'\n"),
    ]);
    assert!(
        message.contains("spec.enforceSecurityGroupInboundRulesOnPrivateLinkTraffic: needs security groups"),
        "{message}"
    );
}

/// A tenant's tag must not pose as our record of a web ACL (or protection, reservation, pool) we
/// set: with it, removing nothing would make Albatross detach a web ACL the platform attached.
#[test]
fn a_user_tag_cannot_claim_albatross_manages_a_web_acl() {
    let (status, reason, message) = refusal(&[
        class("alb", None),
        gateway("alb"),
        config("lbc", "tags: {\"albatross.k8s.aws/web-acl\": managed, team: shop}\n"),
    ]);
    assert_eq!((status.as_str(), reason.as_str()), ("False", "InvalidParameters"));
    assert!(
        message.contains("spec.tags[albatross.k8s.aws/web-acl]: tag keys under albatross.k8s.aws/ are reserved"),
        "{message}"
    );
}

/// A tenant's tag must not forge the stack fingerprint: a planted value matching a later plan
/// would let a restart confirm a stack that was never converged to it.
#[test]
fn a_user_tag_cannot_forge_the_stack_fingerprint() {
    let (status, reason, message) = refusal(&[
        class("alb", None),
        gateway("alb"),
        config("lbc", "tags: {\"albatross.k8s.aws/fingerprint\": v1-forged}\n"),
    ]);
    assert_eq!((status.as_str(), reason.as_str()), ("False", "InvalidParameters"));
    assert!(
        message.contains("spec.tags[albatross.k8s.aws/fingerprint]: tag keys under albatross.k8s.aws/ are reserved"),
        "{message}"
    );
}

/// A tenant's tags must not make its load balancer pass for another Gateway's NLB stack: the
/// victim's reconcile finds its stack by those tags and would adopt, replace or delete it.
#[test]
fn a_user_tag_cannot_make_a_load_balancer_pass_for_another_gateways_stack() {
    for key in ["gateway.k8s.aws.nlb/stack", "elbv2.k8s.aws/cluster", "ingress.k8s.aws/stack", "AWS:cloudformation"] {
        let (status, reason, message) = refusal(&[
            class("alb", None),
            gateway("alb"),
            config("lbc", &format!("tags: {{\"{key}\": victim/edge}}\n")),
        ]);
        assert_eq!((status.as_str(), reason.as_str()), ("False", "InvalidParameters"));
        assert!(message.contains(&format!("spec.tags[{key}]: tag keys under")), "{message}");
    }
}
