//! Managed security groups: a frontend group per load balancer (ingress exactly on its listener
//! ports) and one shared backend group per cluster, both found by their ownership tags.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::time::{Duration, Instant};

use albatross_model::plan::naming::{self, CLUSTER_TAG, stack_tag_prefix};
use aws_sdk_ec2::types::{
    Filter, IpPermission, IpRange, Ipv6Range, PrefixListId, ResourceType, SecurityGroup, Tag, TagSpecification,
    UserIdGroupPair,
};
use sha2::{Digest, Sha256};

mod preview;
mod tags;

pub use tags::{ingress_sources, user_tags};

use super::{BACKEND_SG_RESOURCE, BACKEND_SG_RESOURCE_TAG, MANAGED_SG_RESOURCE, Resolver, user_error};
use crate::client::{Api, AwsError, ErrorClass};

/// Where an ingress rule lets traffic in from.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum IngressSource {
    Ipv4(String),
    Ipv6(String),
    /// Another security group (rules we never create, but revoke when found on ours).
    Group(String),
    PrefixList(String),
}

/// One ingress permission, one source: what AWS's grouped `IpPermissions` flatten to.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct IngressRule {
    /// `tcp`, `udp`, `icmp`, `-1`, ...
    pub protocol: String,
    pub from_port: Option<i32>,
    pub to_port: Option<i32>,
    pub source: IngressSource,
}

/// Where the managed group lets traffic in from (the LoadBalancerConfiguration's `sourceRanges`,
/// `securityGroupPrefixes` and `enableICMP`).
#[derive(Clone, Copy, Debug, Default)]
pub struct IngressSources<'a> {
    pub ranges: &'a [String],
    /// Managed prefix lists (`pl-...`).
    pub prefix_lists: &'a [String],
    /// ICMP fragmentation-needed (IPv4 type 3 code 4) and ICMPv6 packet-too-big (type 2 code 0)
    /// from every source, for path MTU discovery.
    pub icmp: bool,
}

/// Ingress for listeners `(port, protocol)`: tcp for HTTP/HTTPS/TCP/TLS, udp for UDP, both for
/// TCP_UDP, from each source range (none means `0.0.0.0/0`; IPv6 ranges contain `:`).
pub fn desired_ingress(listeners: &[(i32, &str)], source_ranges: &[String]) -> BTreeSet<IngressRule> {
    desired_ingress_from(listeners, &IngressSources { ranges: source_ranges, ..IngressSources::default() })
}

/// [`desired_ingress`] from ranges and prefix lists: `0.0.0.0/0` only when neither is given.
pub fn desired_ingress_from(listeners: &[(i32, &str)], from: &IngressSources<'_>) -> BTreeSet<IngressRule> {
    let default = ["0.0.0.0/0".to_owned()];
    let sources: &[String] = match (from.ranges.is_empty(), from.prefix_lists.is_empty()) {
        (true, true) => &default,
        _ => from.ranges,
    };
    let mut rules = BTreeSet::new();
    for &(port, protocol) in listeners {
        let protocols: &[&str] = match protocol.to_ascii_uppercase().as_str() {
            "UDP" => &["udp"],
            "TCP_UDP" => &["tcp", "udp"],
            _ => &["tcp"],
        };
        for ip_protocol in protocols {
            for list in from.prefix_lists {
                rules.insert(IngressRule {
                    protocol: (*ip_protocol).to_owned(),
                    from_port: Some(port),
                    to_port: Some(port),
                    source: IngressSource::PrefixList(list.clone()),
                });
            }
        }
    }
    if from.icmp {
        // EC2 keeps the ICMP type in FromPort and the code in ToPort.
        let icmp = |source: IngressSource| match source {
            IngressSource::Ipv6(_) => {
                IngressRule { protocol: "icmpv6".into(), from_port: Some(2), to_port: Some(0), source }
            }
            _ => IngressRule { protocol: "icmp".into(), from_port: Some(3), to_port: Some(4), source },
        };
        for range in sources {
            let range = canonical_cidr(range.trim());
            rules.insert(icmp(if range.contains(':') {
                IngressSource::Ipv6(range)
            } else {
                IngressSource::Ipv4(range)
            }));
        }
        for list in from.prefix_lists {
            rules.insert(icmp(IngressSource::PrefixList(list.clone())));
        }
    }
    for &(port, protocol) in listeners {
        let protocols: &[&str] = match protocol.to_ascii_uppercase().as_str() {
            "UDP" => &["udp"],
            "TCP_UDP" => &["tcp", "udp"],
            _ => &["tcp"],
        };
        for ip_protocol in protocols {
            for range in sources {
                let range = canonical_cidr(range.trim());
                let source = if range.contains(':') { IngressSource::Ipv6(range) } else { IngressSource::Ipv4(range) };
                rules.insert(IngressRule {
                    protocol: (*ip_protocol).to_owned(),
                    from_port: Some(port),
                    to_port: Some(port),
                    source,
                });
            }
        }
    }
    rules
}

/// A CIDR as EC2 describes it (host bits cleared, IPv6 compressed and lower case), so a range
/// written another way does not look like a change at every resync. Unparsable input is kept
/// for EC2 to refuse with its own message.
fn canonical_cidr(cidr: &str) -> String {
    let Some((address, prefix)) = cidr.split_once('/') else { return cidr.to_owned() };
    let Ok(prefix) = prefix.parse::<u32>() else { return cidr.to_owned() };
    if let Ok(v4) = address.parse::<std::net::Ipv4Addr>()
        && prefix <= 32
    {
        let mask = u32::MAX.checked_shl(32 - prefix).unwrap_or(0);
        return format!("{}/{prefix}", std::net::Ipv4Addr::from(u32::from(v4) & mask));
    }
    if let Ok(v6) = address.parse::<std::net::Ipv6Addr>()
        && prefix <= 128
    {
        let mask = u128::MAX.checked_shl(128 - prefix).unwrap_or(0);
        return format!("{}/{prefix}", std::net::Ipv6Addr::from(u128::from(v6) & mask));
    }
    cidr.to_owned()
}

fn normalize_protocol(protocol: &str) -> String {
    match protocol.to_ascii_lowercase().as_str() {
        "6" => "tcp".into(),
        "17" => "udp".into(),
        "1" => "icmp".into(),
        "58" => "icmpv6".into(),
        other => other.into(),
    }
}

fn observed_ingress(group: &SecurityGroup) -> BTreeSet<IngressRule> {
    let mut rules = BTreeSet::new();
    for permission in group.ip_permissions() {
        let protocol = normalize_protocol(permission.ip_protocol().unwrap_or("-1"));
        let (from_port, to_port) = (permission.from_port(), permission.to_port());
        let rule = |source| IngressRule { protocol: protocol.clone(), from_port, to_port, source };
        for range in permission.ip_ranges() {
            if let Some(cidr) = range.cidr_ip() {
                rules.insert(rule(IngressSource::Ipv4(cidr.to_owned())));
            }
        }
        for range in permission.ipv6_ranges() {
            if let Some(cidr) = range.cidr_ipv6() {
                rules.insert(rule(IngressSource::Ipv6(cidr.to_owned())));
            }
        }
        for pair in permission.user_id_group_pairs() {
            if let Some(id) = pair.group_id() {
                rules.insert(rule(IngressSource::Group(id.to_owned())));
            }
        }
        for prefix in permission.prefix_list_ids() {
            if let Some(id) = prefix.prefix_list_id() {
                rules.insert(rule(IngressSource::PrefixList(id.to_owned())));
            }
        }
    }
    rules
}

/// Rules grouped back into AWS's `IpPermissions` (one per protocol and port range).
fn permissions<'a>(rules: impl IntoIterator<Item = &'a IngressRule>) -> Vec<IpPermission> {
    type PortRange<'r> = (&'r str, Option<i32>, Option<i32>);
    let mut grouped: BTreeMap<PortRange, Vec<&IngressSource>> = BTreeMap::new();
    for rule in rules {
        grouped.entry((rule.protocol.as_str(), rule.from_port, rule.to_port)).or_default().push(&rule.source);
    }
    grouped
        .into_iter()
        .map(|((protocol, from, to), sources)| {
            let mut b = IpPermission::builder().ip_protocol(protocol).set_from_port(from).set_to_port(to);
            for source in sources {
                b = match source {
                    IngressSource::Ipv4(cidr) => b.ip_ranges(IpRange::builder().cidr_ip(cidr).build()),
                    IngressSource::Ipv6(cidr) => b.ipv6_ranges(Ipv6Range::builder().cidr_ipv6(cidr).build()),
                    IngressSource::Group(id) => b.user_id_group_pairs(UserIdGroupPair::builder().group_id(id).build()),
                    IngressSource::PrefixList(id) => {
                        b.prefix_list_ids(PrefixListId::builder().prefix_list_id(id).build())
                    }
                };
            }
            b.build()
        })
        .collect()
}

fn filter(name: &str, value: &str) -> Filter {
    Filter::builder().name(name).values(value).build()
}

fn tag(key: &str, value: &str) -> Tag {
    Tag::builder().key(key).value(value).build()
}

fn tag_value<'a>(group: &'a SecurityGroup, key: &str) -> Option<&'a str> {
    group.tags().iter().find(|t| t.key() == Some(key)).map(|t| t.value().unwrap_or_default())
}

fn group_id(group: &SecurityGroup) -> String {
    group.group_id().unwrap_or_default().to_owned()
}

/// `k8s-traffic-<cluster[:16]>-<sha256(cluster)[:10]>`.
pub fn backend_security_group_name(cluster: &str) -> String {
    // LBC's formula: letters and digits of the cluster name (at most 232), then its hash.
    let short: String = cluster.chars().filter(char::is_ascii_alphanumeric).take(232).collect();
    let digest = Sha256::digest(cluster.as_bytes());
    let hash: String = digest.iter().take(5).map(|b| format!("{b:02x}")).collect();
    format!("k8s-traffic-{short}-{hash}")
}

/// Retries `op` while it fails with `DependencyViolation`, with exponential backoff from
/// `initial` (doubling, at most 8 s per wait) until `timeout` has passed; then the last
/// `DependencyViolation` is returned as a Transient error.
pub(crate) async fn retry_dependency_violation<T, F, Fut>(
    timeout: Duration,
    initial: Duration,
    mut op: F,
) -> Result<T, AwsError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, AwsError>>,
{
    let deadline = Instant::now() + timeout;
    let mut wait = initial;
    loop {
        match op().await {
            Err(err) if err.code == "DependencyViolation" => {
                let now = Instant::now();
                if now >= deadline {
                    return Err(AwsError {
                        class: ErrorClass::Transient,
                        message: format!("{} (still in use after {timeout:?})", err.message),
                        ..err
                    });
                }
                tokio::time::sleep(wait.min(deadline - now)).await;
                wait = (wait * 2).min(Duration::from_secs(8));
            }
            other => return other,
        }
    }
}

impl Resolver {
    async fn describe_security_groups(&self, filters: Vec<Filter>) -> Result<Vec<SecurityGroup>, AwsError> {
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let request = self
                .aws()
                .ec2
                .describe_security_groups()
                .set_filters(Some(filters.clone()))
                .set_next_token(token.take());
            let page = self.aws().call(Api::Ec2, "DescribeSecurityGroups", request.send()).await?;
            out.extend(page.security_groups().iter().cloned());
            match page.next_token() {
                Some(next) if !next.is_empty() => token = Some(next.to_owned()),
                _ => {
                    out.sort_by(|a, b| a.group_id().cmp(&b.group_id()));
                    return Ok(out);
                }
            }
        }
    }

    fn frontend_filters(&self, stack: &str, alb: bool) -> Vec<Filter> {
        let prefix = stack_tag_prefix(alb);
        vec![
            filter(&format!("tag:{CLUSTER_TAG}"), self.cluster()),
            filter(&format!("tag:{prefix}/stack"), stack),
            filter(&format!("tag:{prefix}/resource"), MANAGED_SG_RESOURCE),
        ]
    }

    /// `[frontend, backend]` security group ids for a load balancer: the stack's own frontend
    /// group (created if absent, its ingress converged to exactly the listener ports from
    /// `source_ranges`) and the cluster's shared backend group. A resync with nothing to change
    /// makes one DescribeSecurityGroups call (the VPC and the backend group are cached).
    pub async fn managed_security_groups(
        &self,
        stack: &str,
        alb: bool,
        lb_name: &str,
        listeners: &[(i32, &str)],
        source_ranges: &[String],
    ) -> Result<Vec<String>, AwsError> {
        let from = IngressSources { ranges: source_ranges, ..IngressSources::default() };
        self.managed_security_groups_from(stack, alb, lb_name, listeners, &from, &BTreeMap::new()).await
    }

    /// [`Resolver::managed_security_groups`] with prefix lists, ICMP and the configuration's
    /// user tags on the frontend group.
    pub async fn managed_security_groups_from(
        &self,
        stack: &str,
        alb: bool,
        lb_name: &str,
        listeners: &[(i32, &str)],
        from: &IngressSources<'_>,
        user_tags: &BTreeMap<String, String>,
    ) -> Result<Vec<String>, AwsError> {
        let vpc = self.vpc_id().await?;
        let desired = desired_ingress_from(listeners, from);
        let frontend = self.frontend_security_group(&vpc, stack, alb, lb_name, &desired, user_tags).await?;
        let backend = self.backend_security_group().await?;
        Ok(vec![frontend, backend])
    }

    async fn frontend_security_group(
        &self,
        vpc: &str,
        stack: &str,
        alb: bool,
        lb_name: &str,
        desired: &BTreeSet<IngressRule>,
        user_tags: &BTreeMap<String, String>,
    ) -> Result<String, AwsError> {
        let mut filters = self.frontend_filters(stack, alb);
        filters.push(filter("vpc-id", vpc));
        let found = self.describe_security_groups(filters.clone()).await?;
        // Several only if the load balancer name changed and a crash left the old group: use
        // the one with the current name, else the oldest id; the others become orphans' kin.
        let existing = found.iter().find(|g| g.group_name() == Some(lb_name)).or(found.first());
        let group = match existing {
            Some(group) => group.clone(),
            None => match self.create_frontend(vpc, stack, alb, lb_name, user_tags).await? {
                Some(group) => group,
                // Lost a race with another creator: it is ours, read it back.
                None => self
                    .describe_security_groups(filters)
                    .await?
                    .into_iter()
                    .next()
                    .ok_or_else(|| name_taken(lb_name, vpc, None))?,
            },
        };
        let id = group_id(&group);
        self.tag_group(&id, tags::missing(&group, user_tags)).await?;
        self.converge_ingress(&id, &observed_ingress(&group), desired).await?;
        Ok(id)
    }

    /// Creates the frontend group unless its name is taken. `Ok(None)` when the create lost a
    /// race (`InvalidGroup.Duplicate`) with a group that carries our tags.
    async fn create_frontend(
        &self,
        vpc: &str,
        stack: &str,
        alb: bool,
        lb_name: &str,
        user_tags: &BTreeMap<String, String>,
    ) -> Result<Option<SecurityGroup>, AwsError> {
        let same_name =
            self.describe_security_groups(vec![filter("vpc-id", vpc), filter("group-name", lb_name)]).await?;
        if let Some(group) = same_name.first() {
            return Err(name_taken(lb_name, vpc, Some(group)));
        }
        // The stack's ownership tags and the user's, as every resource of the stack has them.
        let all = naming::tags(self.cluster(), alb, stack, MANAGED_SG_RESOURCE, user_tags);
        let tags: Vec<Tag> = all.iter().map(|t| tag(&t.key, &t.value)).collect();
        let description = format!("[k8s] Managed SecurityGroup for Gateway {stack}");
        match self.create_group(vpc, lb_name, &description, &tags).await {
            Ok(group) => Ok(Some(group)),
            Err(err) if err.code == "InvalidGroup.Duplicate" => Ok(None),
            Err(err) => Err(err),
        }
    }

    async fn create_group(
        &self,
        vpc: &str,
        name: &str,
        description: &str,
        tags: &[Tag],
    ) -> Result<SecurityGroup, AwsError> {
        let spec = TagSpecification::builder()
            .resource_type(ResourceType::SecurityGroup)
            .set_tags(Some(tags.to_vec()))
            .build();
        let request = self
            .aws()
            .ec2
            .create_security_group()
            .vpc_id(vpc)
            .group_name(name)
            .description(description)
            .tag_specifications(spec);
        let output = self.aws().call(Api::Ec2, "CreateSecurityGroup", request.send()).await?;
        let id = output.group_id().unwrap_or_default();
        tracing::info!(group = id, name, vpc, "created security group");
        Ok(SecurityGroup::builder().group_id(id).group_name(name).vpc_id(vpc).set_tags(Some(tags.to_vec())).build())
    }

    /// Authorizes the missing rules, then revokes the extra ones (so traffic that stays allowed
    /// is never interrupted).
    async fn converge_ingress(
        &self,
        group: &str,
        observed: &BTreeSet<IngressRule>,
        desired: &BTreeSet<IngressRule>,
    ) -> Result<(), AwsError> {
        let missing: Vec<&IngressRule> = desired.difference(observed).collect();
        let extra: Vec<&IngressRule> = observed.difference(desired).collect();
        if !missing.is_empty() {
            let request = self
                .aws()
                .ec2
                .authorize_security_group_ingress()
                .group_id(group)
                .set_ip_permissions(Some(permissions(missing)));
            self.aws()
                .call(Api::Ec2, "AuthorizeSecurityGroupIngress", request.send())
                .await
                .map_err(retry_later_on("InvalidPermission.Duplicate"))?;
        }
        if !extra.is_empty() {
            let request = self
                .aws()
                .ec2
                .revoke_security_group_ingress()
                .group_id(group)
                .set_ip_permissions(Some(permissions(extra)));
            self.aws()
                .call(Api::Ec2, "RevokeSecurityGroupIngress", request.send())
                .await
                .map_err(retry_later_on("InvalidPermission.NotFound"))?;
        }
        Ok(())
    }

    /// The cluster's shared backend group (no ingress rules: node and pod groups allow traffic
    /// from it), found by its tags or created; cached.
    pub async fn backend_security_group(&self) -> Result<String, AwsError> {
        let mut cache = self.inner.backend_sg.lock().await;
        if let Some(id) = cache.as_ref() {
            return Ok(id.clone());
        }
        let vpc = self.vpc_id().await?;
        let cluster = self.cluster();
        let by_tags = vec![
            filter("vpc-id", &vpc),
            filter(&format!("tag:{CLUSTER_TAG}"), cluster),
            filter(&format!("tag:{BACKEND_SG_RESOURCE_TAG}"), BACKEND_SG_RESOURCE),
        ];
        let id = match self.describe_security_groups(by_tags.clone()).await?.first() {
            Some(group) => group_id(group),
            None => {
                let name = backend_security_group_name(cluster);
                let same_name =
                    self.describe_security_groups(vec![filter("vpc-id", &vpc), filter("group-name", &name)]).await?;
                if let Some(group) = same_name.first() {
                    return Err(name_taken(&name, &vpc, Some(group)));
                }
                let tags = [tag(CLUSTER_TAG, cluster), tag(BACKEND_SG_RESOURCE_TAG, BACKEND_SG_RESOURCE)];
                let description = "[k8s] Shared Backend SecurityGroup for LoadBalancer";
                match self.create_group(&vpc, &name, description, &tags).await {
                    Ok(group) => group_id(&group),
                    Err(err) if err.code == "InvalidGroup.Duplicate" => self
                        .describe_security_groups(by_tags)
                        .await?
                        .first()
                        .map(group_id)
                        .ok_or_else(|| name_taken(&name, &vpc, None))?,
                    Err(err) => return Err(err),
                }
            }
        };
        *cache = Some(id.clone());
        Ok(id)
    }

    /// Deletes the stack's frontend group(s) carrying our cluster tag. `Ok(false)` when there
    /// was none. `DependencyViolation` is retried for [`super::ResolveSettings::security_group_delete_timeout`].
    pub async fn delete_managed_security_group(&self, stack: &str, alb: bool) -> Result<bool, AwsError> {
        let groups = self.describe_security_groups(self.frontend_filters(stack, alb)).await?;
        let mut deleted = false;
        for group in groups {
            deleted |= self.delete_owned_group(&group_id(&group)).await?;
        }
        Ok(deleted)
    }

    /// Deletes a security group by id if it carries our cluster tag (for orphans found by
    /// [`Resolver::orphan_security_groups`]). `Ok(false)` when it is absent or not ours.
    pub async fn delete_security_group(&self, group: &str) -> Result<bool, AwsError> {
        let found = self
            .describe_security_groups(vec![
                filter("group-id", group),
                filter(&format!("tag:{CLUSTER_TAG}"), self.cluster()),
            ])
            .await?;
        if found.is_empty() {
            return Ok(false);
        }
        self.delete_owned_group(group).await
    }

    async fn delete_owned_group(&self, group: &str) -> Result<bool, AwsError> {
        let timeout = self.settings().security_group_delete_timeout;
        let result = retry_dependency_violation(timeout, Duration::from_millis(500), || {
            let request = self.aws().ec2.delete_security_group().group_id(group);
            self.aws().call(Api::Ec2, "DeleteSecurityGroup", request.send())
        })
        .await;
        match result {
            Ok(_) => {
                tracing::info!(group, "deleted security group");
                let mut backend = self.inner.backend_sg.lock().await;
                if backend.as_deref() == Some(group) {
                    *backend = None;
                }
                Ok(true)
            }
            Err(err) if err.class == ErrorClass::NotFound => Ok(false),
            Err(err) => Err(err),
        }
    }

    /// Frontend groups with our cluster tag whose stack (ALB or NLB) is not in `live_stacks`,
    /// sorted by id: what cleanup should delete.
    pub async fn orphan_security_groups(&self, live_stacks: &BTreeSet<String>) -> Result<Vec<String>, AwsError> {
        let groups = self.describe_security_groups(vec![filter(&format!("tag:{CLUSTER_TAG}"), self.cluster())]).await?;
        let orphan = |group: &SecurityGroup| {
            [true, false].into_iter().any(|alb| {
                let prefix = stack_tag_prefix(alb);
                tag_value(group, &format!("{prefix}/resource")) == Some(MANAGED_SG_RESOURCE)
                    && tag_value(group, &format!("{prefix}/stack")).is_some_and(|stack| !live_stacks.contains(stack))
            })
        };
        Ok(groups.iter().filter(|g| orphan(g)).map(group_id).collect())
    }
}

fn name_taken(name: &str, vpc: &str, group: Option<&SecurityGroup>) -> AwsError {
    let holder = group.map(|g| format!(" by {}", group_id(g))).unwrap_or_default();
    user_error(
        "CreateSecurityGroup",
        "SecurityGroupNameTaken",
        format!(
            "security group name {name} in {vpc} is taken{holder}, which does not carry this stack's ownership \
             tags; it is left untouched: rename or delete it, or give the load balancer security groups explicitly"
        ),
    )
}

/// A conflict caused by someone changing the group meanwhile: the next reconcile re-reads.
fn retry_later_on(code: &'static str) -> impl Fn(AwsError) -> AwsError {
    move |err| if err.code == code { AwsError { class: ErrorClass::Transient, ..err } } else { err }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[test]
    fn listener_protocols_map_to_ip_protocols_and_ranges_to_families() {
        let rules = desired_ingress(&[(80, "HTTP"), (443, "HTTPS"), (53, "TCP_UDP"), (514, "UDP")], &[]);
        let summary: Vec<(String, i32)> = rules.iter().map(|r| (r.protocol.clone(), r.from_port.unwrap())).collect();
        assert_eq!(
            summary,
            [("tcp", 53), ("tcp", 80), ("tcp", 443), ("udp", 53), ("udp", 514)].map(|(p, n)| (p.to_owned(), n))
        );
        assert!(rules.iter().all(|r| r.source == IngressSource::Ipv4("0.0.0.0/0".into())));
        let rules = desired_ingress(&[(80, "HTTP")], &["10.0.0.0/8".into(), "2001:db8::/32".into()]);
        let sources: Vec<IngressSource> = rules.into_iter().map(|r| r.source).collect();
        assert_eq!(sources, [IngressSource::Ipv4("10.0.0.0/8".into()), IngressSource::Ipv6("2001:db8::/32".into())]);
    }

    #[test]
    fn source_ranges_are_compared_in_ec2s_canonical_form() {
        assert_eq!(canonical_cidr("10.1.2.3/8"), "10.0.0.0/8");
        assert_eq!(canonical_cidr("0.0.0.0/0"), "0.0.0.0/0");
        assert_eq!(canonical_cidr("192.0.2.7/32"), "192.0.2.7/32");
        assert_eq!(canonical_cidr("2001:DB8:0:0::1/32"), "2001:db8::/32");
        assert_eq!(canonical_cidr("::/0"), "::/0");
        assert_eq!(canonical_cidr("nonsense"), "nonsense");
    }

    #[test]
    fn permissions_group_sources_by_protocol_and_port() {
        let rules = desired_ingress(&[(80, "HTTP"), (443, "HTTPS")], &["10.0.0.0/8".into(), "::/0".into()]);
        let perms = permissions(&rules);
        assert_eq!(perms.len(), 2);
        assert!(perms.iter().all(|p| p.ip_ranges().len() == 1 && p.ipv6_ranges().len() == 1));
    }

    #[test]
    fn backend_name_is_the_load_balancer_controllers() {
        let name = backend_security_group_name("a-very-long-cluster-name-indeed");
        let hash: String =
            Sha256::digest(b"a-very-long-cluster-name-indeed").iter().take(5).map(|b| format!("{b:02x}")).collect();
        assert_eq!(name, format!("k8s-traffic-averylongclusternameindeed-{hash}"));
    }

    fn violation() -> AwsError {
        AwsError::new("DeleteSecurityGroup", "DependencyViolation", "in use", ErrorClass::Permanent)
    }

    #[tokio::test]
    async fn dependency_violation_is_retried_until_it_clears() {
        let attempts = AtomicUsize::new(0);
        let result = retry_dependency_violation(Duration::from_secs(5), Duration::from_millis(5), || {
            let n = attempts.fetch_add(1, Ordering::SeqCst);
            async move { if n < 3 { Err(violation()) } else { Ok(n) } }
        })
        .await;
        assert_eq!(result.unwrap(), 3);
    }

    #[tokio::test]
    async fn dependency_violation_past_the_bound_is_transient() {
        let attempts = AtomicUsize::new(0);
        let started = Instant::now();
        let result: Result<(), AwsError> =
            retry_dependency_violation(Duration::from_millis(100), Duration::from_millis(10), || {
                attempts.fetch_add(1, Ordering::SeqCst);
                async { Err(violation()) }
            })
            .await;
        let err = result.unwrap_err();
        assert_eq!((err.code.as_str(), err.class), ("DependencyViolation", ErrorClass::Transient));
        assert!(attempts.load(Ordering::SeqCst) >= 3);
        assert!(started.elapsed() < Duration::from_secs(2));
    }

    #[tokio::test]
    async fn other_errors_are_not_retried() {
        let attempts = AtomicUsize::new(0);
        let result: Result<(), AwsError> =
            retry_dependency_violation(Duration::from_secs(5), Duration::from_millis(5), || {
                attempts.fetch_add(1, Ordering::SeqCst);
                async {
                    Err(AwsError::new("DeleteSecurityGroup", "UnauthorizedOperation", "no", ErrorClass::Permanent))
                }
            })
            .await;
        assert!(result.is_err());
        assert_eq!(attempts.load(Ordering::SeqCst), 1);
    }
}
