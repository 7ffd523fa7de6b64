//! LoadBalancerConfiguration fields from manifest to (moto or proxy-emulated) AWS: `Deployer`
//! against moto through the proxy, the stack built by the model from YAML.

use albatross_aws::deploy::Deployer;
use albatross_aws::resolve::{ResolveSettings, Resolver};
use albatross_aws::{Aws, AwsSettings, RateLimits};
use albatross_model::plan::{Env, Snapshot, Stack, build};
use albatross_test_support::network::load_balancer_subnets;
use albatross_test_support::{Moto, Proxy, ProxyOptions};
use aws_sdk_wafv2::types::{DefaultAction, Scope, VisibilityConfig};

const CLUSTER: &str = "c1";

struct World {
    proxy: Proxy,
    aws: Aws,
    deployer: Deployer,
    // Last: the proxy and the clients go before moto.
    _moto: Moto,
}

async fn world() -> World {
    let moto = Moto::start();
    let proxy = Proxy::start(moto.endpoint(), ProxyOptions::default()).await;
    let aws = Aws::connect(&AwsSettings {
        endpoint: Some(proxy.endpoint().into()),
        limits: RateLimits::unlimited(),
        ..Default::default()
    })
    .await;
    load_balancer_subnets(&aws.ec2).await;
    let resolver = Resolver::new(aws.clone(), ResolveSettings::new(CLUSTER));
    let deployer = Deployer::new(aws.clone(), resolver, CLUSTER);
    World { proxy, aws, deployer, _moto: moto }
}

/// The stack of Gateway `shop/web` of class `flavor` whose LoadBalancerConfiguration has `spec`.
fn stack(flavor: &str, spec: &str) -> Stack {
    let protocol = if flavor == "alb" { "HTTP" } else { "TCP" };
    let spec = spec.trim_end().lines().map(|l| format!("  {l}")).collect::<Vec<_>>().join("\n");
    let text = format!(
        "apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {{name: {flavor}}}
spec: {{controllerName: gateway.k8s.aws/{flavor}}}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {{name: web, namespace: shop, uid: 0b6f1c2e}}
spec:
  gatewayClassName: {flavor}
  infrastructure:
    parametersRef: {{group: gateway.k8s.aws, kind: LoadBalancerConfiguration, name: lbc}}
  listeners:
  - {{name: l, protocol: {protocol}, port: 80}}
---
apiVersion: gateway.k8s.aws/v1beta1
kind: LoadBalancerConfiguration
metadata: {{name: lbc, namespace: shop}}
spec:
{spec}
"
    );
    let objects = albatross_model::manifest::parse(&text).into_iter().map(|d| d.unwrap().value);
    let (snapshot, skipped) = Snapshot::from_objects(objects);
    assert!(skipped.is_empty(), "{skipped:?}");
    let env = Env { cluster_name: CLUSTER.into(), ..Env::default() };
    let out = build(&snapshot, &env);
    assert_eq!(out.stacks.len(), 1, "{:#?}", out.statuses);
    out.stacks.into_iter().next().unwrap()
}

impl World {
    async fn web_acl(&self, name: &str) -> String {
        let visibility = VisibilityConfig::builder()
            .sampled_requests_enabled(false)
            .cloud_watch_metrics_enabled(false)
            .metric_name(name);
        let out = self
            .aws
            .wafv2
            .create_web_acl()
            .name(name)
            .scope(Scope::Regional)
            .default_action(
                DefaultAction::builder().allow(aws_sdk_wafv2::types::AllowAction::builder().build()).build(),
            )
            .visibility_config(visibility.build().unwrap())
            .send()
            .await
            .expect("CreateWebACL");
        out.summary().and_then(|s| s.arn()).unwrap().to_owned()
    }

    async fn load_balancer(&self, arn: &str) -> aws_sdk_elasticloadbalancingv2::types::LoadBalancer {
        let out = self.aws.elbv2.describe_load_balancers().load_balancer_arns(arn).send().await.unwrap();
        out.load_balancers()[0].clone()
    }

    async fn associated_acl(&self, arn: &str) -> Option<String> {
        let out = self.aws.wafv2.get_web_acl_for_resource().resource_arn(arn).send().await.unwrap();
        out.web_acl().map(|w| w.arn().to_owned())
    }

    async fn protection(&self, arn: &str) -> Option<String> {
        match self.aws.shield.describe_protection().resource_arn(arn).send().await {
            Ok(out) => out.protection().and_then(|p| p.name()).map(str::to_owned),
            Err(_) => None,
        }
    }

    async fn capacity(&self, arn: &str) -> Option<i32> {
        let out = self.aws.elbv2.describe_capacity_reservation().load_balancer_arn(arn).send().await.unwrap();
        out.minimum_load_balancer_capacity().and_then(|c| c.capacity_units())
    }

    fn mutations(&self) -> Vec<String> {
        self.proxy.mutating_calls().into_iter().map(|c| c.action).collect()
    }
}

#[tokio::test]
async fn alb_settings_reach_aws_then_undo_when_removed() {
    let w = world().await;
    let acl = w.web_acl("shop-acl").await;
    let with = stack(
        "alb",
        "wafV2: {webACL: shop-acl}
shieldConfiguration: {enabled: true}
minimumLoadBalancerCapacity: {capacityUnits: 100}
ipv4IPAMPoolId: ipam-pool-0abc
customerOwnedIpv4Pool: ipv4pool-coip-0123
",
    );
    let deployed = w.deployer.deploy(&with).await.unwrap();
    let arn = deployed.applied.load_balancer_arn.clone();
    for op in ["AssociateWebACL", "CreateProtection", "ModifyCapacityReservation"] {
        assert!(deployed.operations.contains(&op), "{op} not in {:?}", deployed.operations);
    }
    assert_eq!(w.associated_acl(&arn).await, Some(acl));
    assert_eq!(w.protection(&arn).await.as_deref(), Some("albatross cluster c1"));
    assert_eq!(w.capacity(&arn).await, Some(100));
    let lb = w.load_balancer(&arn).await;
    assert_eq!(lb.ipam_pools().and_then(|p| p.ipv4_ipam_pool_id()), Some("ipam-pool-0abc"));
    assert_eq!(lb.customer_owned_ipv4_pool(), Some("ipv4pool-coip-0123"));

    w.proxy.clear_calls();
    w.deployer.deploy(&with).await.unwrap();
    assert_eq!(w.mutations(), Vec::<String>::new(), "a second run changes nothing");

    // The fields removed: what they did is undone (the marker tags say it was ours).
    let without = stack("alb", "scheme: internal\n");
    let deployed = w.deployer.deploy(&without).await.unwrap();
    for op in ["DisassociateWebACL", "DeleteProtection", "ModifyCapacityReservation", "ModifyIpPools"] {
        assert!(deployed.operations.contains(&op), "{op} not in {:?}", deployed.operations);
    }
    assert_eq!(w.associated_acl(&arn).await, None);
    assert_eq!(w.protection(&arn).await, None);
    assert_eq!(w.capacity(&arn).await, None);
    assert_eq!(w.load_balancer(&arn).await.ipam_pools(), None);
    w.proxy.clear_calls();
    w.deployer.deploy(&without).await.unwrap();
    assert_eq!(w.mutations(), Vec::<String>::new(), "a second run changes nothing");
}

/// A field AWS takes only at creation, changed on an existing load balancer, is named for the
/// status instead of being dropped, and nothing is written for it.
#[tokio::test]
async fn a_changed_creation_only_field_is_named_and_nothing_is_written_for_it() {
    let w = world().await;
    let first = stack("alb", "customerOwnedIpv4Pool: ipv4pool-coip-0123\n");
    let deployed = w.deployer.deploy(&first).await.unwrap();
    assert!(deployed.set_at_creation.is_empty(), "{:?}", deployed.set_at_creation);
    w.proxy.clear_calls();
    let changed = stack("alb", "customerOwnedIpv4Pool: ipv4pool-coip-9999\n");
    let deployed = w.deployer.deploy(&changed).await.unwrap();
    assert_eq!(
        deployed.set_at_creation,
        ["customerOwnedIpv4Pool ipv4pool-coip-9999 (the load balancer has ipv4pool-coip-0123)"]
    );
    assert_eq!(w.mutations(), Vec::<String>::new());
    let lb = w.load_balancer(&deployed.applied.load_balancer_arn).await;
    assert_eq!(lb.customer_owned_ipv4_pool(), Some("ipv4pool-coip-0123"));
}

/// A dry run lists the WAF, Shield and capacity changes it would make, for a new load balancer
/// and for an existing one, and sends none of them.
#[tokio::test]
async fn a_dry_run_lists_waf_shield_and_capacity_changes_without_making_them() {
    use albatross_aws::preview::DryRun;
    let w = world().await;
    w.web_acl("shop-acl").await;
    let with = stack(
        "alb",
        "wafV2: {webACL: shop-acl}
shieldConfiguration: {enabled: true}
minimumLoadBalancerCapacity: {capacityUnits: 100}
",
    );
    let dry = DryRun::new(&w.deployer);
    let ops = |p: &albatross_aws::preview::Preview| p.steps.iter().map(|s| s.operation).collect::<Vec<_>>();
    w.proxy.clear_calls();
    let preview = dry.converge(&with).await.unwrap();
    for op in ["AssociateWebACL", "CreateProtection", "ModifyCapacityReservation"] {
        assert!(ops(&preview).contains(&op), "{op} not in {:?}", ops(&preview));
    }
    assert_eq!(w.mutations(), Vec::<String>::new());

    let arn = w.deployer.deploy(&with).await.unwrap().applied.load_balancer_arn;
    let without = stack("alb", "scheme: internal\n");
    w.proxy.clear_calls();
    let preview = dry.converge(&without).await.unwrap();
    for op in ["DisassociateWebACL", "DeleteProtection", "ModifyCapacityReservation"] {
        assert!(ops(&preview).contains(&op), "{op} not in {:?}", ops(&preview));
    }
    assert_eq!(w.mutations(), Vec::<String>::new(), "the dry run sent no write");
    assert!(w.associated_acl(&arn).await.is_some(), "the web ACL is still associated");
    assert_eq!(w.protection(&arn).await.as_deref(), Some("albatross cluster c1"));
    assert_eq!(w.capacity(&arn).await, Some(100));
}

#[tokio::test]
async fn a_load_balancer_that_never_asked_costs_no_protection_call() {
    let w = world().await;
    w.deployer.deploy(&stack("alb", "scheme: internal\n")).await.unwrap();
    for action in ["GetWebACLForResource", "DescribeProtection", "DescribeCapacityReservation"] {
        assert_eq!(w.proxy.count(action), 0, "{action}");
    }
}

#[tokio::test]
async fn a_someone_elses_shield_protection_is_left_alone() {
    let w = world().await;
    let deployed = w.deployer.deploy(&stack("alb", "shieldConfiguration: {enabled: true}\n")).await.unwrap();
    let arn = deployed.applied.load_balancer_arn;
    let id = w.aws.shield.describe_protection().resource_arn(&arn).send().await.unwrap();
    let id = id.protection().and_then(|p| p.id()).unwrap().to_owned();
    w.aws.shield.delete_protection().protection_id(id).send().await.unwrap();
    w.aws.shield.create_protection().name("security team").resource_arn(&arn).send().await.unwrap();
    let deployed = w.deployer.deploy(&stack("alb", "shieldConfiguration: {enabled: false}\n")).await.unwrap();
    assert!(!deployed.operations.contains(&"DeleteProtection"), "{:?}", deployed.operations);
    assert_eq!(w.protection(&arn).await.as_deref(), Some("security team"));
}

#[tokio::test]
async fn nlb_addresses_icmp_and_private_link_enforcement_reach_aws() {
    let w = world().await;
    let subnets = w.aws.ec2.describe_subnets().send().await.unwrap();
    let ids: Vec<String> = subnets.subnets().iter().filter_map(|s| s.subnet_id()).map(str::to_owned).collect();
    let eip = |_: &str| async {
        let out = w.aws.ec2.allocate_address().domain(aws_sdk_ec2::types::DomainType::Vpc).send().await.unwrap();
        out.allocation_id().unwrap().to_owned()
    };
    let (a, b) = (eip("a").await, eip("b").await);
    let spec = format!(
        "scheme: internet-facing
loadBalancerSubnets:
- {{identifier: {}, eipAllocation: {a}}}
- {{identifier: {}, eipAllocation: {b}}}
enforceSecurityGroupInboundRulesOnPrivateLinkTraffic: 'off'
enableICMP: true
securityGroupPrefixes: [pl-0123456789abcdef0]
",
        ids[0], ids[1]
    );
    let nlb = stack("nlb", &spec);
    let deployed = w.deployer.deploy(&nlb).await.unwrap();
    let lb = w.load_balancer(&deployed.applied.load_balancer_arn).await;
    let mut allocations: Vec<&str> = lb
        .availability_zones()
        .iter()
        .flat_map(|z| z.load_balancer_addresses())
        .filter_map(|x| x.allocation_id())
        .collect();
    allocations.sort();
    let mut wanted = [a.as_str(), b.as_str()];
    wanted.sort();
    assert_eq!(allocations, wanted);
    assert_eq!(lb.enforce_security_group_inbound_rules_on_private_link_traffic(), Some("off"));
    let group = &lb.security_groups()[0];
    let groups = w.aws.ec2.describe_security_groups().group_ids(group).send().await.unwrap();
    let permissions = groups.security_groups()[0].ip_permissions();
    // No route, so no listener: the group holds only the ICMP rule, from the prefix list.
    let icmp = permissions.iter().find(|p| p.ip_protocol() == Some("icmp")).expect("an ICMP rule");
    assert_eq!((icmp.from_port(), icmp.to_port()), (Some(3), Some(4)));
    let lists: Vec<&str> = icmp.prefix_list_ids().iter().filter_map(|p| p.prefix_list_id()).collect();
    assert_eq!(lists, ["pl-0123456789abcdef0"]);

    w.proxy.clear_calls();
    w.deployer.deploy(&nlb).await.unwrap();
    assert_eq!(w.mutations(), Vec::<String>::new(), "a second run changes nothing");
}

#[tokio::test]
async fn prefix_lists_replace_the_open_range_of_the_managed_group() {
    let w = world().await;
    let alb = stack("alb", "securityGroupPrefixes: [pl-0123456789abcdef0]\n");
    let deployed = w.deployer.deploy(&alb).await.unwrap();
    let lb = w.load_balancer(&deployed.applied.load_balancer_arn).await;
    let groups = w.aws.ec2.describe_security_groups().set_group_ids(Some(lb.security_groups().to_vec())).send().await;
    let groups = groups.unwrap();
    let frontend =
        groups.security_groups().iter().find(|g| !g.ip_permissions().is_empty()).expect("the managed frontend group");
    let tcp = &frontend.ip_permissions()[0];
    assert_eq!((tcp.ip_protocol(), tcp.from_port()), (Some("tcp"), Some(80)));
    let lists: Vec<&str> = tcp.prefix_list_ids().iter().filter_map(|p| p.prefix_list_id()).collect();
    assert_eq!(lists, ["pl-0123456789abcdef0"]);
    assert!(tcp.ip_ranges().is_empty(), "prefix lists replace 0.0.0.0/0: {tcp:?}");
    w.proxy.clear_calls();
    w.deployer.deploy(&alb).await.unwrap();
    assert_eq!(w.mutations(), Vec::<String>::new(), "a second run changes nothing");
}

#[tokio::test]
async fn an_nlb_without_security_groups_has_none() {
    let w = world().await;
    let deployed = w.deployer.deploy(&stack("nlb", "disableSecurityGroup: true\n")).await.unwrap();
    let lb = w.load_balancer(&deployed.applied.load_balancer_arn).await;
    assert!(lb.security_groups().is_empty(), "{:?}", lb.security_groups());
    assert_eq!(w.proxy.count("CreateSecurityGroup"), 0);
}

#[tokio::test]
async fn user_security_groups_join_the_backend_group_when_asked() {
    let w = world().await;
    let vpc = w.aws.ec2.describe_vpcs().send().await.unwrap().vpcs()[0].vpc_id().unwrap().to_owned();
    let mine = w.aws.ec2.create_security_group().vpc_id(&vpc).group_name("mine").description("mine").send().await;
    let mine = mine.unwrap().group_id().unwrap().to_owned();
    let spec = format!("securityGroups: [{mine}]\nmanageBackendSecurityGroupRules: true\n");
    let deployed = w.deployer.deploy(&stack("alb", &spec)).await.unwrap();
    let lb = w.load_balancer(&deployed.applied.load_balancer_arn).await;
    let backend = w.deployer.resolver.backend_security_group().await.unwrap();
    let mut groups = lb.security_groups().to_vec();
    groups.sort();
    let mut wanted = vec![mine, backend];
    wanted.sort();
    assert_eq!(groups, wanted);
    // The dry run sees the same groups: nothing to change.
    let fresh = Deployer::new(w.aws.clone(), Resolver::new(w.aws.clone(), ResolveSettings::new(CLUSTER)), CLUSTER);
    let preview = albatross_aws::preview::DryRun::new(&fresh).converge(&stack("alb", &spec)).await.unwrap();
    let steps: Vec<&str> = preview.steps.iter().map(|s| s.operation).collect();
    assert_eq!(steps, Vec::<&str>::new());
}
