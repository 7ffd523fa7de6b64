//! `Resolver` against a real moto server through the recording proxy.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use albatross_aws::resolve::{IngressSources, ResolveSettings, Resolver};
use albatross_aws::{Aws, AwsSettings, ErrorClass, RateLimits};
use albatross_test_support::{Moto, Proxy, ProxyOptions};
use aws_sdk_ec2::types::{Filter, IpPermission, IpRange, ResourceType, SecurityGroup, Tag, TagSpecification};

const CLUSTER: &str = "c1";

struct World {
    proxy: Proxy,
    aws: Aws,
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
    World { proxy, aws, _moto: moto }
}

impl World {
    fn resolver(&self) -> Resolver {
        self.resolver_with(ResolveSettings::new(CLUSTER))
    }

    fn resolver_with(&self, settings: ResolveSettings) -> Resolver {
        Resolver::new(self.aws.clone(), settings)
    }

    async fn vpc(&self, cidr: &str) -> String {
        let out = self.aws.ec2.create_vpc().cidr_block(cidr).send().await.expect("CreateVpc");
        out.vpc().and_then(|v| v.vpc_id()).expect("vpc id").to_owned()
    }

    async fn subnet(&self, vpc: &str, cidr: &str, zone: &str, tags: &[(&str, &str)]) -> String {
        let mut request = self.aws.ec2.create_subnet().vpc_id(vpc).cidr_block(cidr).availability_zone(zone);
        if !tags.is_empty() {
            // EC2 refuses a tag specification without tags.
            let spec =
                tags.iter().fold(TagSpecification::builder().resource_type(ResourceType::Subnet), |b, (k, v)| {
                    b.tags(Tag::builder().key(*k).value(*v).build())
                });
            request = request.tag_specifications(spec.build());
        }
        let out = request.send().await.expect("CreateSubnet");
        out.subnet().and_then(|s| s.subnet_id()).expect("subnet id").to_owned()
    }

    async fn group(&self, id: &str) -> Option<SecurityGroup> {
        let out = self
            .aws
            .ec2
            .describe_security_groups()
            .filters(Filter::builder().name("group-id").values(id).build())
            .send()
            .await
            .expect("DescribeSecurityGroups");
        out.security_groups().first().cloned()
    }

    async fn foreign_group(&self, vpc: &str, name: &str, tags: &[(&str, &str)]) -> String {
        let mut request =
            self.aws.ec2.create_security_group().vpc_id(vpc).group_name(name).description("someone else's");
        if !tags.is_empty() {
            let spec = tags
                .iter()
                .fold(TagSpecification::builder().resource_type(ResourceType::SecurityGroup), |b, (k, v)| {
                    b.tags(Tag::builder().key(*k).value(*v).build())
                });
            request = request.tag_specifications(spec.build());
        }
        let id = request.send().await.expect("CreateSecurityGroup").group_id().expect("group id").to_owned();
        self.aws
            .ec2
            .authorize_security_group_ingress()
            .group_id(&id)
            .ip_permissions(
                IpPermission::builder()
                    .ip_protocol("tcp")
                    .from_port(22)
                    .to_port(22)
                    .ip_ranges(IpRange::builder().cidr_ip("192.0.2.0/24").build())
                    .build(),
            )
            .send()
            .await
            .expect("AuthorizeSecurityGroupIngress");
        id
    }

    fn mutating(&self) -> Vec<String> {
        self.proxy.mutating_calls().into_iter().map(|c| c.action).collect()
    }
}

fn tags(group: &SecurityGroup) -> BTreeMap<String, String> {
    group
        .tags()
        .iter()
        .map(|t| (t.key().unwrap_or_default().to_owned(), t.value().unwrap_or_default().to_owned()))
        .collect()
}

/// `(protocol, port, cidr)` of every ingress rule, sorted.
fn ingress(group: &SecurityGroup) -> Vec<(String, i32, String)> {
    let mut rules = Vec::new();
    for p in group.ip_permissions() {
        let protocol = p.ip_protocol().unwrap_or_default().to_owned();
        let port = p.from_port().unwrap_or(-1);
        assert_eq!(p.from_port(), p.to_port(), "single-port rules only");
        for r in p.ip_ranges() {
            rules.push((protocol.clone(), port, r.cidr_ip().unwrap_or_default().to_owned()));
        }
        for r in p.ipv6_ranges() {
            rules.push((protocol.clone(), port, r.cidr_ipv6().unwrap_or_default().to_owned()));
        }
        for g in p.user_id_group_pairs() {
            rules.push((protocol.clone(), port, g.group_id().unwrap_or_default().to_owned()));
        }
    }
    rules.sort();
    rules
}

fn rule(protocol: &str, port: i32, cidr: &str) -> (String, i32, String) {
    (protocol.to_owned(), port, cidr.to_owned())
}

fn sorted(mut ids: Vec<String>) -> Vec<String> {
    ids.sort();
    ids
}

/// A VPC with two subnets tagged for internet-facing load balancers in two zones.
async fn tagged_vpc(world: &World) -> (String, Vec<String>) {
    let vpc = world.vpc("10.0.0.0/16").await;
    let a = world.subnet(&vpc, "10.0.1.0/24", "us-east-1a", &[("kubernetes.io/role/elb", "1")]).await;
    let b = world.subnet(&vpc, "10.0.2.0/24", "us-east-1b", &[("kubernetes.io/role/elb", "1")]).await;
    (vpc, vec![a, b])
}

// ---------------------------------------------------------------- subnets

#[tokio::test]
async fn subnets_are_discovered_by_role_tag_one_per_zone_and_other_clusters_subnets_excluded() {
    let w = world().await;
    let vpc = w.vpc("10.0.0.0/16").await;
    let elb = ("kubernetes.io/role/elb", "1");
    let a_plain = w.subnet(&vpc, "10.0.1.0/24", "us-east-1a", &[elb]).await;
    let a_ours = w
        .subnet(
            &vpc,
            "10.0.2.0/24",
            "us-east-1a",
            &[("kubernetes.io/role/elb", ""), ("kubernetes.io/cluster/c1", "shared")],
        )
        .await;
    let b1 = w.subnet(&vpc, "10.0.3.0/24", "us-east-1b", &[elb]).await;
    let b2 = w.subnet(&vpc, "10.0.4.0/24", "us-east-1b", &[elb]).await;
    let _c_other = w.subnet(&vpc, "10.0.5.0/24", "us-east-1c", &[elb, ("kubernetes.io/cluster/other", "owned")]).await;
    let _d_off = w.subnet(&vpc, "10.0.6.0/24", "us-east-1d", &[("kubernetes.io/role/elb", "0")]).await;
    let i1 = w.subnet(&vpc, "10.0.7.0/24", "us-east-1a", &[("kubernetes.io/role/internal-elb", "1")]).await;
    let i2 = w.subnet(&vpc, "10.0.8.0/24", "us-east-1b", &[("kubernetes.io/role/internal-elb", "1")]).await;
    let _untagged = w.subnet(&vpc, "10.0.9.0/24", "us-east-1c", &[]).await;
    w.proxy.clear_calls();

    let resolver = w.resolver();
    assert_eq!(resolver.vpc_id().await.unwrap(), vpc);
    let public = resolver.discover_subnets("internet-facing").await.unwrap();
    assert_eq!(public, sorted(vec![a_ours.clone(), b1.clone().min(b2.clone())]), "a_plain={a_plain}");
    let internal = resolver.discover_subnets("internal").await.unwrap();
    assert_eq!(internal, sorted(vec![i1, i2]));
    // Clones share the cache: one DescribeSubnets per role tag, for the VPC and both schemes.
    assert_eq!(resolver.clone().discover_subnets("internet-facing").await.unwrap(), public);
    assert_eq!(resolver.vpc_id().await.unwrap(), vpc);
    assert_eq!(w.proxy.count("DescribeSubnets"), 2);

    let err = resolver.discover_subnets("public").await.unwrap_err();
    assert_eq!((err.code.as_str(), err.class), ("InvalidScheme", ErrorClass::Permanent));
}

#[tokio::test]
async fn several_tagged_vpcs_need_the_vpc_id_setting() {
    let w = world().await;
    let (vpc1, subnets1) = tagged_vpc(&w).await;
    let vpc2 = w.vpc("10.1.0.0/16").await;
    w.subnet(&vpc2, "10.1.1.0/24", "us-east-1a", &[("kubernetes.io/role/elb", "1")]).await;

    let err = w.resolver().vpc_id().await.unwrap_err();
    assert_eq!((err.code.as_str(), err.class), ("VpcAmbiguous", ErrorClass::Permanent));
    assert!(err.message.contains("--vpc-id") && err.message.contains(&vpc1) && err.message.contains(&vpc2), "{err}");

    let pinned = w.resolver_with(ResolveSettings { vpc_id: Some(vpc1.clone()), ..ResolveSettings::new(CLUSTER) });
    w.proxy.clear_calls();
    assert_eq!(pinned.vpc_id().await.unwrap(), vpc1);
    assert_eq!(pinned.discover_subnets("internet-facing").await.unwrap(), sorted(subnets1));
    assert_eq!(w.proxy.count("DescribeSubnets"), 1);
    let err = pinned.discover_subnets("internal").await.unwrap_err();
    assert_eq!((err.code.as_str(), err.class), ("SubnetsNotFound", ErrorClass::Permanent));
    assert!(err.message.contains("kubernetes.io/role/internal-elb") && err.message.contains(&vpc1), "{err}");
}

#[tokio::test]
async fn no_tagged_subnets_is_a_user_error_that_names_the_tags() {
    let w = world().await;
    let err = w.resolver().discover_subnets("internal").await.unwrap_err();
    assert_eq!((err.code.as_str(), err.class), ("VpcNotFound", ErrorClass::Permanent));
    assert!(err.message.contains("kubernetes.io/role/elb") && err.message.contains("--vpc-id"), "{err}");
}

#[tokio::test]
async fn subnet_names_are_resolved_to_ids_with_one_call_and_unknown_names_reported() {
    let w = world().await;
    let vpc = w.vpc("10.0.0.0/16").await;
    let a = w.subnet(&vpc, "10.0.1.0/24", "us-east-1a", &[("Name", "public-a")]).await;
    let b = w.subnet(&vpc, "10.0.2.0/24", "us-east-1b", &[("Name", "public-b")]).await;
    w.proxy.clear_calls();
    let resolver = w.resolver();

    let given = ["public-b".to_owned(), "subnet-0123456789abcdef0".to_owned(), "public-a".to_owned(), b.clone()];
    let ids = resolver.subnet_ids(&given).await.unwrap();
    assert_eq!(ids, [b.clone(), "subnet-0123456789abcdef0".to_owned(), a.clone()]);
    assert_eq!(w.proxy.count("DescribeSubnets"), 1);

    // Ids only: no call. Names already resolved: no call.
    resolver.subnet_ids(std::slice::from_ref(&a)).await.unwrap();
    resolver.subnet_ids(&["public-a".to_owned()]).await.unwrap();
    assert_eq!(w.proxy.count("DescribeSubnets"), 1);

    let err = resolver.subnet_ids(&["public-a".into(), "nope-1".into(), "nope-2".into()]).await.unwrap_err();
    assert_eq!((err.code.as_str(), err.class), ("SubnetsNotFound", ErrorClass::Permanent));
    assert!(err.message.contains("nope-1, nope-2") && !err.message.contains("public-a"), "{err}");
}

// ---------------------------------------------------------------- certificates

async fn import(aws: &Aws, common_name: &str, sans: &[&str]) -> String {
    albatross_test_support::acm::import_self_signed(&aws.acm, common_name, sans).await
}

#[tokio::test]
async fn certificates_are_listed_once_and_cached_with_sans_from_describe() {
    let w = world().await;
    let api = import(&w.aws, "api.example.com", &["api.example.com", "*.api.example.com"]).await;
    let www = import(&w.aws, "www.example.com", &["www.example.com"]).await;
    let requested = w
        .aws
        .acm
        .request_certificate()
        .domain_name("shop.example.org")
        .subject_alternative_names("shop.example.org")
        .subject_alternative_names("*.shop.example.org")
        .send()
        .await
        .expect("RequestCertificate")
        .certificate_arn()
        .expect("arn")
        .to_owned();
    w.proxy.clear_calls();

    let resolver = w.resolver();
    let certificates = resolver.certificates().await.unwrap();
    let by_arn: BTreeMap<&str, _> = certificates.iter().map(|c| (c.certificate_arn.as_str(), c)).collect();
    assert_eq!(by_arn.len(), 3, "{certificates:#?}");
    assert_eq!(by_arn[api.as_str()].domain_name, "api.example.com");
    assert_eq!(by_arn[api.as_str()].subject_alternative_names, ["api.example.com", "*.api.example.com"]);
    assert_eq!(by_arn[www.as_str()].subject_alternative_names, ["www.example.com"]);
    assert_eq!(by_arn[requested.as_str()].domain_name, "shop.example.org");
    // moto keeps a requested certificate's names in a set: compare them unordered.
    let requested_sans: BTreeSet<&str> =
        by_arn[requested.as_str()].subject_alternative_names.iter().map(String::as_str).collect();
    assert_eq!(requested_sans, BTreeSet::from(["shop.example.org", "*.shop.example.org"]));
    for c in &certificates {
        assert_eq!(c.status, "ISSUED");
        let not_after = c.not_after.as_deref().expect("NotAfter");
        assert!(not_after.len() >= 20 && not_after.as_bytes()[10] == b'T' && not_after.ends_with('Z'), "{not_after}");
    }
    assert_eq!((w.proxy.count("ListCertificates"), w.proxy.count("DescribeCertificate")), (1, 3));

    // Served from the cache, also to clones.
    assert_eq!(resolver.certificates().await.unwrap(), certificates);
    assert_eq!(resolver.clone().certificates().await.unwrap(), certificates);
    assert_eq!((w.proxy.count("ListCertificates"), w.proxy.count("DescribeCertificate")), (1, 3));
}

#[tokio::test]
async fn a_refresh_describes_only_new_certificates_and_drops_deleted_ones() {
    let w = world().await;
    let first = import(&w.aws, "a.example.com", &["a.example.com"]).await;
    let second = import(&w.aws, "b.example.com", &["b.example.com"]).await;
    let resolver = w.resolver_with(ResolveSettings {
        certificate_refresh: Duration::from_millis(1500),
        ..ResolveSettings::new(CLUSTER)
    });
    assert_eq!(resolver.certificates().await.unwrap().len(), 2);
    w.proxy.clear_calls();

    let third = import(&w.aws, "c.example.com", &["c.example.com", "www.c.example.com"]).await;
    w.aws.acm.delete_certificate().certificate_arn(&first).send().await.expect("DeleteCertificate");
    // Within the refresh interval the cache answers, stale.
    assert_eq!(resolver.certificates().await.unwrap().len(), 2);
    assert_eq!(w.proxy.count("ListCertificates"), 0);

    let arns = |list: Vec<albatross_model::plan::AcmCertificate>| -> BTreeSet<String> {
        list.into_iter().map(|c| c.certificate_arn).collect()
    };
    let refreshed = resolver.refresh_certificates().await.unwrap();
    let sans = refreshed.iter().find(|c| c.certificate_arn == third).unwrap().subject_alternative_names.clone();
    assert_eq!(sans, ["c.example.com", "www.c.example.com"]);
    assert_eq!(arns(refreshed), BTreeSet::from([second.clone(), third.clone()]));
    assert_eq!((w.proxy.count("ListCertificates"), w.proxy.count("DescribeCertificate")), (1, 1));

    // After the interval, the next call lists again (and describes nothing new).
    let fourth = import(&w.aws, "d.example.com", &["d.example.com"]).await;
    tokio::time::sleep(Duration::from_millis(1600)).await;
    assert_eq!(arns(resolver.certificates().await.unwrap()), BTreeSet::from([second, third, fourth]));
    assert_eq!((w.proxy.count("ListCertificates"), w.proxy.count("DescribeCertificate")), (2, 2));
}

// ---------------------------------------------------------------- security groups

const STACK: &str = "team-a/web";
const LB_NAME: &str = "k8s-teama-web-0123456789";

#[tokio::test]
async fn managed_security_groups_are_created_once_with_exactly_the_listener_ports() {
    let w = world().await;
    let (vpc, _) = tagged_vpc(&w).await;
    let resolver = w.resolver();
    w.proxy.clear_calls();

    let ids =
        resolver.managed_security_groups(STACK, true, LB_NAME, &[(80, "HTTP"), (443, "HTTPS")], &[]).await.unwrap();
    let [frontend, backend] = <[String; 2]>::try_from(ids).unwrap();
    assert_eq!(w.proxy.count("CreateSecurityGroup"), 2);

    let group = w.group(&frontend).await.expect("frontend exists");
    assert_eq!(group.group_name(), Some(LB_NAME));
    assert_eq!(group.vpc_id(), Some(vpc.as_str()));
    assert!(group.description().unwrap_or_default().contains("Gateway team-a/web"), "{:?}", group.description());
    assert_eq!(
        tags(&group),
        BTreeMap::from([
            ("elbv2.k8s.aws/cluster".to_owned(), CLUSTER.to_owned()),
            ("gateway.k8s.aws.alb/stack".to_owned(), STACK.to_owned()),
            ("gateway.k8s.aws.alb/resource".to_owned(), "ManagedLBSecurityGroup".to_owned()),
        ])
    );
    assert_eq!(ingress(&group), [rule("tcp", 80, "0.0.0.0/0"), rule("tcp", 443, "0.0.0.0/0")]);

    let shared = w.group(&backend).await.expect("backend exists");
    assert!(shared.group_name().unwrap_or_default().starts_with("k8s-traffic-c1-"), "{:?}", shared.group_name());
    assert_eq!(
        tags(&shared),
        BTreeMap::from([
            ("elbv2.k8s.aws/cluster".to_owned(), CLUSTER.to_owned()),
            ("elbv2.k8s.aws/resource".to_owned(), "backend-sg".to_owned()),
        ])
    );
    assert!(ingress(&shared).is_empty());

    // A resync with nothing changed reads the frontend once and changes nothing.
    w.proxy.clear_calls();
    let again =
        resolver.managed_security_groups(STACK, true, LB_NAME, &[(443, "HTTPS"), (80, "HTTP")], &[]).await.unwrap();
    assert_eq!(again, [frontend.clone(), backend.clone()]);
    assert!(w.mutating().is_empty(), "{:?}", w.mutating());
    assert_eq!(w.proxy.calls().len(), 1, "{:?}", w.proxy.calls());
    assert_eq!(w.proxy.count("DescribeSecurityGroups"), 1);

    // A new resolver (a restart) finds both by their tags instead of creating them again.
    w.proxy.clear_calls();
    let restarted = w.resolver();
    let found =
        restarted.managed_security_groups(STACK, true, LB_NAME, &[(80, "HTTP"), (443, "HTTPS")], &[]).await.unwrap();
    assert_eq!(found, [frontend.clone(), backend.clone()]);
    assert!(w.mutating().is_empty(), "{:?}", w.mutating());

    // Another Gateway gets its own frontend and shares the backend.
    let other = resolver
        .managed_security_groups("team-b/api", false, "k8s-teamb-api-0123456789", &[(53, "UDP")], &[])
        .await
        .unwrap();
    assert_ne!(other[0], frontend);
    assert_eq!(other[1], backend);
    let nlb = w.group(&other[0]).await.unwrap();
    assert_eq!(tags(&nlb).get("gateway.k8s.aws.nlb/stack").map(String::as_str), Some("team-b/api"));
    assert_eq!(ingress(&nlb), [rule("udp", 53, "0.0.0.0/0")]);
}

#[tokio::test]
async fn changed_ports_and_ranges_converge_the_rules_with_one_authorize_and_one_revoke() {
    let w = world().await;
    tagged_vpc(&w).await;
    let resolver = w.resolver();
    let ids =
        resolver.managed_security_groups(STACK, true, LB_NAME, &[(80, "HTTP"), (443, "HTTPS")], &[]).await.unwrap();
    // Someone adds a rule by hand: it goes at the next resync.
    w.aws
        .ec2
        .authorize_security_group_ingress()
        .group_id(&ids[0])
        .ip_permissions(
            IpPermission::builder()
                .ip_protocol("tcp")
                .from_port(22)
                .to_port(22)
                .ip_ranges(IpRange::builder().cidr_ip("198.51.100.0/24").build())
                .build(),
        )
        .send()
        .await
        .unwrap();
    w.proxy.clear_calls();

    let ranges = ["10.0.0.0/8".to_owned(), "2001:db8::/32".to_owned()];
    let again = resolver
        .managed_security_groups(STACK, true, LB_NAME, &[(443, "HTTPS"), (53, "TCP_UDP")], &ranges)
        .await
        .unwrap();
    assert_eq!(again, ids);
    assert_eq!(w.mutating(), ["AuthorizeSecurityGroupIngress", "RevokeSecurityGroupIngress"]);
    let group = w.group(&ids[0]).await.unwrap();
    assert_eq!(
        ingress(&group),
        [
            rule("tcp", 53, "10.0.0.0/8"),
            rule("tcp", 53, "2001:db8::/32"),
            rule("tcp", 443, "10.0.0.0/8"),
            rule("tcp", 443, "2001:db8::/32"),
            rule("udp", 53, "10.0.0.0/8"),
            rule("udp", 53, "2001:db8::/32"),
        ]
    );

    // And back: only the difference moves.
    w.proxy.clear_calls();
    resolver.managed_security_groups(STACK, true, LB_NAME, &[(443, "HTTPS")], &ranges).await.unwrap();
    assert_eq!(w.mutating(), ["RevokeSecurityGroupIngress"]);
    let group = w.group(&ids[0]).await.unwrap();
    assert_eq!(ingress(&group), [rule("tcp", 443, "10.0.0.0/8"), rule("tcp", 443, "2001:db8::/32")]);

    // The same ranges written differently are no change.
    w.proxy.clear_calls();
    let respelled = ["10.9.9.9/8".to_owned(), "2001:DB8:0::/32".to_owned()];
    resolver.managed_security_groups(STACK, true, LB_NAME, &[(443, "HTTPS")], &respelled).await.unwrap();
    assert!(w.mutating().is_empty(), "{:?}", w.mutating());
}

#[tokio::test]
async fn a_foreign_group_with_the_same_name_is_refused_and_left_untouched() {
    let w = world().await;
    let (vpc, _) = tagged_vpc(&w).await;
    let untagged = w.foreign_group(&vpc, LB_NAME, &[]).await;
    let other_cluster = w
        .foreign_group(
            &vpc,
            "k8s-teamb-api-0123456789",
            &[
                ("elbv2.k8s.aws/cluster", "other"),
                ("gateway.k8s.aws.alb/stack", "team-b/api"),
                ("gateway.k8s.aws.alb/resource", "ManagedLBSecurityGroup"),
            ],
        )
        .await;
    let before = (w.group(&untagged).await.unwrap(), w.group(&other_cluster).await.unwrap());
    w.proxy.clear_calls();

    let resolver = w.resolver();
    for (stack, name, holder) in
        [(STACK, LB_NAME, &untagged), ("team-b/api", "k8s-teamb-api-0123456789", &other_cluster)]
    {
        let err = resolver.managed_security_groups(stack, true, name, &[(80, "HTTP")], &[]).await.unwrap_err();
        assert_eq!((err.code.as_str(), err.class), ("SecurityGroupNameTaken", ErrorClass::Permanent));
        assert!(err.message.contains(name) && err.message.contains(holder.as_str()), "{err}");
    }
    assert!(w.mutating().is_empty(), "{:?}", w.mutating());
    let after = (w.group(&untagged).await.unwrap(), w.group(&other_cluster).await.unwrap());
    assert_eq!(after, before);
}

#[tokio::test]
async fn a_crash_between_create_and_authorize_does_not_create_a_second_group() {
    let w = world().await;
    tagged_vpc(&w).await;
    let resolver = w.resolver();
    // The next mutation is the frontend's CreateSecurityGroup; the AuthorizeSecurityGroupIngress
    // after it is held, and the task dies there.
    w.proxy.hold_after_mutations(Some(w.proxy.mutations() + 1));
    let task = tokio::spawn({
        let resolver = resolver.clone();
        async move { resolver.managed_security_groups(STACK, true, LB_NAME, &[(80, "HTTP")], &[]).await }
    });
    w.proxy.wait_for_hold().await;
    task.abort();
    let _ = task.await;
    w.proxy.drop_held();
    w.proxy.hold_after_mutations(None);
    assert_eq!(w.proxy.count("CreateSecurityGroup"), 1);

    let restarted = w.resolver();
    let ids = restarted.managed_security_groups(STACK, true, LB_NAME, &[(80, "HTTP")], &[]).await.unwrap();
    // One more create: the backend group. The frontend was found by its tags and completed.
    assert_eq!(w.proxy.count("CreateSecurityGroup"), 2);
    assert_eq!(ingress(&w.group(&ids[0]).await.unwrap()), [rule("tcp", 80, "0.0.0.0/0")]);
}

#[tokio::test]
async fn delete_removes_only_our_stacks_group() {
    let w = world().await;
    let (vpc, _) = tagged_vpc(&w).await;
    let resolver = w.resolver();
    let a = resolver.managed_security_groups("ns/a", true, "k8s-ns-a-0000000000", &[(80, "HTTP")], &[]).await.unwrap();
    let b = resolver.managed_security_groups("ns/b", true, "k8s-ns-b-0000000000", &[(80, "HTTP")], &[]).await.unwrap();
    let foreign = w
        .foreign_group(
            &vpc,
            "other-cluster-ns-a",
            &[
                ("elbv2.k8s.aws/cluster", "other"),
                ("gateway.k8s.aws.alb/stack", "ns/a"),
                ("gateway.k8s.aws.alb/resource", "ManagedLBSecurityGroup"),
            ],
        )
        .await;

    // The NLB tags of the same stack name nothing.
    assert!(!resolver.delete_managed_security_group("ns/a", false).await.unwrap());
    assert!(resolver.delete_managed_security_group("ns/a", true).await.unwrap());
    assert!(w.group(&a[0]).await.is_none());
    assert!(w.group(&b[0]).await.is_some());
    assert!(w.group(&a[1]).await.is_some(), "the shared backend group stays");
    assert!(w.group(&foreign).await.is_some());
    // Gone already: nothing to do, no mutation.
    w.proxy.clear_calls();
    assert!(!resolver.delete_managed_security_group("ns/a", true).await.unwrap());
    assert!(w.mutating().is_empty());
}

#[tokio::test]
async fn orphan_groups_are_ours_whose_stack_is_gone() {
    let w = world().await;
    let (vpc, _) = tagged_vpc(&w).await;
    let resolver = w.resolver();
    let live = resolver
        .managed_security_groups("ns/live", true, "k8s-ns-live-0000000000", &[(80, "HTTP")], &[])
        .await
        .unwrap();
    let gone_alb = resolver
        .managed_security_groups("ns/gone", true, "k8s-ns-gone-0000000000", &[(80, "HTTP")], &[])
        .await
        .unwrap();
    let gone_nlb =
        resolver.managed_security_groups("ns/tcp", false, "k8s-ns-tcp-0000000000", &[(22, "TCP")], &[]).await.unwrap();
    let foreign = w
        .foreign_group(
            &vpc,
            "other-cluster-gone",
            &[
                ("elbv2.k8s.aws/cluster", "other"),
                ("gateway.k8s.aws.alb/stack", "ns/gone"),
                ("gateway.k8s.aws.alb/resource", "ManagedLBSecurityGroup"),
            ],
        )
        .await;

    let live_stacks = BTreeSet::from(["ns/live".to_owned()]);
    let orphans = resolver.orphan_security_groups(&live_stacks).await.unwrap();
    assert_eq!(orphans, sorted(vec![gone_alb[0].clone(), gone_nlb[0].clone()]));
    assert!(!orphans.contains(&live[0]) && !orphans.contains(&live[1]) && !orphans.contains(&foreign));

    for orphan in &orphans {
        assert!(resolver.delete_security_group(orphan).await.unwrap());
    }
    // Not ours: refused without a mutation.
    w.proxy.clear_calls();
    assert!(!resolver.delete_security_group(&foreign).await.unwrap());
    assert!(w.mutating().is_empty());
    assert!(w.group(&foreign).await.is_some());
    assert!(resolver.orphan_security_groups(&live_stacks).await.unwrap().is_empty());
}

#[tokio::test]
async fn the_managed_group_carries_the_configuration_tags_and_gets_changed_ones_without_losing_ours() {
    let w = world().await;
    tagged_vpc(&w).await;
    let resolver = w.resolver();
    let sources = IngressSources::default();
    let wanted = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    };
    let ports = [(80, "HTTP")];
    let first = wanted(&[("team", "shop")]);
    let ids = resolver.managed_security_groups_from(STACK, true, LB_NAME, &ports, &sources, &first).await.unwrap();
    let group = w.group(&ids[0]).await.unwrap();
    assert_eq!(tags(&group).get("team").map(String::as_str), Some("shop"), "given on create");
    assert_eq!(w.proxy.count("CreateTags"), 0, "on create, not after");

    w.proxy.clear_calls();
    let changed = wanted(&[("team", "ops"), ("cost-center", "42")]);
    resolver.managed_security_groups_from(STACK, true, LB_NAME, &ports, &sources, &changed).await.unwrap();
    assert_eq!(w.mutating(), ["CreateTags"]);
    let all = tags(&w.group(&ids[0]).await.unwrap());
    assert_eq!((all["team"].as_str(), all["cost-center"].as_str()), ("ops", "42"));
    assert_eq!(all["gateway.k8s.aws.alb/stack"], STACK, "the tracking tags stay");
    assert_eq!(all["elbv2.k8s.aws/cluster"], CLUSTER);

    w.proxy.clear_calls();
    resolver.managed_security_groups_from(STACK, true, LB_NAME, &ports, &sources, &changed).await.unwrap();
    assert!(w.mutating().is_empty(), "{:?}", w.mutating());
}
