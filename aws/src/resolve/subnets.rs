//! VPC and subnet discovery by the Kubernetes role tags, and subnet names to ids.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use aws_sdk_ec2::types::{Filter, Subnet};

use super::{ELB_ROLE_TAG, INTERNAL_ELB_ROLE_TAG, Resolver, SUBNET_CLUSTER_TAG_PREFIX, user_error};
use crate::client::{Api, AwsError};

/// Subnets with fewer free addresses are not used (a load balancer needs 8 to scale).
const MIN_FREE_ADDRESSES: i32 = 8;

/// What discovery needs of a subnet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SubnetInfo {
    pub id: String,
    pub vpc_id: String,
    pub availability_zone: String,
    pub available_addresses: Option<i32>,
    pub tags: BTreeMap<String, String>,
}

impl SubnetInfo {
    fn from_sdk(subnet: &Subnet) -> Self {
        Self {
            id: subnet.subnet_id().unwrap_or_default().to_owned(),
            vpc_id: subnet.vpc_id().unwrap_or_default().to_owned(),
            availability_zone: subnet.availability_zone().unwrap_or_default().to_owned(),
            available_addresses: subnet.available_ip_address_count(),
            tags: subnet
                .tags()
                .iter()
                .filter_map(|t| Some((t.key()?.to_owned(), t.value().unwrap_or_default().to_owned())))
                .collect(),
        }
    }

    /// Untagged for any cluster, or tagged for ours: the AWS Load Balancer Controller's rule.
    fn usable_by(&self, cluster: &str) -> bool {
        self.tagged_for(cluster) || !self.tags.keys().any(|k| k.starts_with(SUBNET_CLUSTER_TAG_PREFIX))
    }

    fn tagged_for(&self, cluster: &str) -> bool {
        self.tags.contains_key(&format!("{SUBNET_CLUSTER_TAG_PREFIX}{cluster}"))
    }

    fn has_role(&self, role_tag: &str) -> bool {
        self.tags.get(role_tag).is_some_and(|v| v.is_empty() || v == "1")
    }
}

/// The role tag of a scheme: `internet-facing` or `internal`.
pub fn role_tag(scheme: &str) -> Option<&'static str> {
    match scheme {
        "internet-facing" => Some(ELB_ROLE_TAG),
        "internal" => Some(INTERNAL_ELB_ROLE_TAG),
        _ => None,
    }
}

/// Subnets of `vpc` with the role tag (value `1` or empty), not reserved for another cluster,
/// with enough free addresses; one per availability zone (a subnet tagged for `cluster` first,
/// then the lowest id); sorted by id.
pub fn select_subnets(subnets: &[SubnetInfo], vpc: &str, role_tag: &str, cluster: &str) -> Vec<String> {
    let mut by_zone: BTreeMap<&str, &SubnetInfo> = BTreeMap::new();
    let candidates = subnets.iter().filter(|s| {
        s.vpc_id == vpc
            && s.has_role(role_tag)
            && s.usable_by(cluster)
            && s.available_addresses.is_none_or(|n| n >= MIN_FREE_ADDRESSES)
    });
    for subnet in candidates {
        let rank = |s: &SubnetInfo| (!s.tagged_for(cluster), s.id.clone());
        by_zone
            .entry(subnet.availability_zone.as_str())
            .and_modify(|best| {
                if rank(subnet) < rank(best) {
                    *best = subnet;
                }
            })
            .or_insert(subnet);
    }
    let mut ids: Vec<String> = by_zone.into_values().map(|s| s.id.clone()).collect();
    ids.sort();
    ids
}

fn filter(name: &str, values: impl IntoIterator<Item = impl Into<String>>) -> Filter {
    values.into_iter().fold(Filter::builder().name(name), |b, v| b.values(v)).build()
}

impl Resolver {
    async fn describe_subnets(&self, filters: Vec<Filter>) -> Result<Vec<SubnetInfo>, AwsError> {
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let request =
                self.aws().ec2.describe_subnets().set_filters(Some(filters.clone())).set_next_token(token.take());
            let page = self.aws().call(Api::Ec2, "DescribeSubnets", request.send()).await?;
            out.extend(page.subnets().iter().map(SubnetInfo::from_sdk));
            match page.next_token() {
                Some(next) if !next.is_empty() => token = Some(next.to_owned()),
                _ => return Ok(out),
            }
        }
    }

    /// Every subnet with the role tag `role` (in the configured VPC, if any): one DescribeSubnets
    /// per role, cached. (One call per role rather than one `tag-key` filter with both keys:
    /// moto matches a multi-valued `tag-key` filter as "the subnet's keys are a subset or a
    /// superset of the values", which drops subnets with other tags.)
    async fn role_subnets(&self, role: &'static str) -> Result<Arc<Vec<SubnetInfo>>, AwsError> {
        let mut cache = self.inner.role_subnets.lock().await;
        if let Some(subnets) = cache.get(role) {
            return Ok(subnets.clone());
        }
        let mut filters = vec![filter("tag-key", [role])];
        if let Some(vpc) = &self.settings().vpc_id {
            filters.push(filter("vpc-id", [vpc.as_str()]));
        }
        let mut subnets = self.describe_subnets(filters).await?;
        subnets.sort_by(|a, b| a.id.cmp(&b.id));
        let subnets = Arc::new(subnets);
        cache.insert(role, subnets.clone());
        Ok(subnets)
    }

    /// The configured VPC, else the one VPC holding the role-tagged subnets usable by this
    /// cluster. Cached.
    pub async fn vpc_id(&self) -> Result<String, AwsError> {
        if let Some(vpc) = &self.settings().vpc_id {
            return Ok(vpc.clone());
        }
        if let Some(vpc) = self.inner.vpc.lock().await.as_ref() {
            return Ok(vpc.clone());
        }
        let cluster = self.cluster();
        let mut vpcs = BTreeSet::new();
        for role in [ELB_ROLE_TAG, INTERNAL_ELB_ROLE_TAG] {
            let subnets = self.role_subnets(role).await?;
            vpcs.extend(subnets.iter().filter(|s| s.has_role(role) && s.usable_by(cluster)).map(|s| s.vpc_id.clone()));
        }
        let mut vpcs = vpcs.into_iter();
        match (vpcs.next(), vpcs.next()) {
            (Some(vpc), None) => {
                *self.inner.vpc.lock().await = Some(vpc.clone());
                Ok(vpc)
            }
            (None, _) => Err(user_error(
                "DescribeSubnets",
                "VpcNotFound",
                format!(
                    "no subnet tagged {ELB_ROLE_TAG} or {INTERNAL_ELB_ROLE_TAG} usable by cluster {cluster} \
                     (untagged for clusters, or tagged {SUBNET_CLUSTER_TAG_PREFIX}{cluster}), so the VPC is unknown: \
                     tag the load balancer subnets or set --vpc-id"
                ),
            )),
            (Some(first), Some(second)) => {
                let all: Vec<String> = [first, second].into_iter().chain(vpcs).collect();
                Err(user_error(
                    "DescribeSubnets",
                    "VpcAmbiguous",
                    format!(
                        "subnets tagged {ELB_ROLE_TAG} or {INTERNAL_ELB_ROLE_TAG} usable by cluster {cluster} are in \
                         several VPCs ({}): set --vpc-id",
                        all.join(", ")
                    ),
                ))
            }
        }
    }

    /// Subnets for a load balancer of `scheme` (`internet-facing` or `internal`), found by their
    /// role tag in the VPC: one per availability zone, sorted by id. Fewer than two zones is
    /// returned as is (whether that is enough is the caller's decision); none is an error.
    pub async fn discover_subnets(&self, scheme: &str) -> Result<Vec<String>, AwsError> {
        let Some(role) = role_tag(scheme) else {
            return Err(user_error(
                "DescribeSubnets",
                "InvalidScheme",
                format!("scheme {scheme:?} is neither internet-facing nor internal"),
            ));
        };
        let vpc = self.vpc_id().await?;
        let subnets = self.role_subnets(role).await?;
        let cluster = self.cluster();
        let ids = select_subnets(&subnets, &vpc, role, cluster);
        if ids.is_empty() {
            return Err(user_error(
                "DescribeSubnets",
                "SubnetsNotFound",
                format!(
                    "no subnet for {scheme} load balancers in {vpc}: looked for subnets tagged {role} (value 1 or \
                     empty), not tagged for another cluster than {SUBNET_CLUSTER_TAG_PREFIX}{cluster}, with at least \
                     {MIN_FREE_ADDRESSES} free addresses; tag subnets or name them in the LoadBalancerConfiguration"
                ),
            ));
        }
        Ok(ids)
    }

    /// Configured subnets to ids: `subnet-...` pass through, anything else is a `Name` tag value
    /// (in the VPC when it is known), resolved with one DescribeSubnets for all names not cached.
    /// The result keeps the input order (a name matching several subnets gives them all, by id),
    /// without duplicates.
    pub async fn subnet_ids(&self, identifiers: &[String]) -> Result<Vec<String>, AwsError> {
        let names: BTreeSet<&str> =
            identifiers.iter().map(String::as_str).filter(|i| !i.starts_with("subnet-")).collect();
        let mut resolved = BTreeMap::new();
        if !names.is_empty() {
            let mut cache = self.inner.names.lock().await;
            let missing: Vec<&str> = names.iter().copied().filter(|n| !cache.contains_key(*n)).collect();
            if !missing.is_empty() {
                let mut filters = vec![filter("tag:Name", missing.iter().copied())];
                let vpc = match &self.settings().vpc_id {
                    Some(vpc) => Some(vpc.clone()),
                    None => self.inner.vpc.lock().await.clone(),
                };
                if let Some(vpc) = vpc {
                    filters.push(filter("vpc-id", [vpc]));
                }
                let mut found: BTreeMap<String, Vec<String>> = BTreeMap::new();
                for subnet in self.describe_subnets(filters).await? {
                    if let Some(name) = subnet.tags.get("Name") {
                        found.entry(name.clone()).or_default().push(subnet.id.clone());
                    }
                }
                let unknown: Vec<&str> = missing.iter().copied().filter(|n| !found.contains_key(*n)).collect();
                if !unknown.is_empty() {
                    return Err(user_error(
                        "DescribeSubnets",
                        "SubnetsNotFound",
                        format!("no subnet has the Name tag {}", unknown.join(", ")),
                    ));
                }
                for (name, mut ids) in found {
                    ids.sort();
                    cache.insert(name, ids);
                }
            }
            for name in names {
                resolved.insert(name, cache[name].clone());
            }
        }
        let mut out: Vec<String> = Vec::new();
        for identifier in identifiers {
            let ids = match resolved.get(identifier.as_str()) {
                Some(ids) => ids.clone(),
                None => vec![identifier.clone()],
            };
            for id in ids {
                if !out.contains(&id) {
                    out.push(id);
                }
            }
        }
        Ok(out)
    }

    /// Subnets matching a configuration's tag selector (`key: [values]`; no values means the key
    /// alone) in the VPC: one per availability zone, the lowest id, sorted by id.
    pub async fn subnets_by_selector(&self, selector: &BTreeMap<String, Vec<String>>) -> Result<Vec<String>, AwsError> {
        let vpc = self.vpc_id().await?;
        let mut filters = vec![filter("vpc-id", [vpc.clone()])];
        for (key, values) in selector {
            if values.is_empty() {
                filters.push(filter("tag-key", [key.clone()]));
            } else {
                filters.push(filter(&format!("tag:{key}"), values.iter().cloned()));
            }
        }
        let mut by_zone: BTreeMap<String, String> = BTreeMap::new();
        for subnet in self.describe_subnets(filters).await? {
            let entry = by_zone.entry(subnet.availability_zone.clone()).or_insert_with(|| subnet.id.clone());
            if subnet.id < *entry {
                *entry = subnet.id.clone();
            }
        }
        let mut ids: Vec<String> = by_zone.into_values().collect();
        ids.sort();
        if ids.is_empty() {
            let wanted: Vec<String> = selector.iter().map(|(k, v)| format!("{k}={}", v.join("|"))).collect();
            return Err(user_error(
                "DescribeSubnets",
                "SubnetsNotFound",
                format!("no subnet in {vpc} matches loadBalancerSubnetsSelector {}", wanted.join(", ")),
            ));
        }
        Ok(ids)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subnet(id: &str, vpc: &str, az: &str, tags: &[(&str, &str)]) -> SubnetInfo {
        SubnetInfo {
            id: id.into(),
            vpc_id: vpc.into(),
            availability_zone: az.into(),
            available_addresses: Some(250),
            tags: tags.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        }
    }

    #[test]
    fn one_subnet_per_zone_preferring_our_cluster_tag_then_the_lowest_id() {
        let ours = "kubernetes.io/cluster/c1";
        let subnets = [
            subnet("subnet-b", "vpc-1", "a", &[(ELB_ROLE_TAG, "1")]),
            subnet("subnet-c", "vpc-1", "a", &[(ELB_ROLE_TAG, ""), (ours, "shared")]),
            subnet("subnet-a", "vpc-1", "a", &[(ELB_ROLE_TAG, "1")]),
            subnet("subnet-e", "vpc-1", "b", &[(ELB_ROLE_TAG, "1")]),
            subnet("subnet-d", "vpc-1", "b", &[(ELB_ROLE_TAG, "1")]),
            subnet("subnet-f", "vpc-1", "c", &[(ELB_ROLE_TAG, "1"), ("kubernetes.io/cluster/other", "owned")]),
            subnet("subnet-g", "vpc-1", "d", &[(ELB_ROLE_TAG, "0")]),
            subnet("subnet-h", "vpc-2", "e", &[(ELB_ROLE_TAG, "1")]),
            subnet("subnet-i", "vpc-1", "f", &[(INTERNAL_ELB_ROLE_TAG, "1")]),
        ];
        assert_eq!(select_subnets(&subnets, "vpc-1", ELB_ROLE_TAG, "c1"), ["subnet-c", "subnet-d"]);
        assert_eq!(select_subnets(&subnets, "vpc-1", INTERNAL_ELB_ROLE_TAG, "c1"), ["subnet-i"]);
    }

    #[test]
    fn subnets_nearly_full_are_skipped() {
        let mut full = subnet("subnet-a", "vpc-1", "a", &[(ELB_ROLE_TAG, "1")]);
        full.available_addresses = Some(7);
        let spare = subnet("subnet-b", "vpc-1", "a", &[(ELB_ROLE_TAG, "1")]);
        assert_eq!(select_subnets(&[full, spare], "vpc-1", ELB_ROLE_TAG, "c1"), ["subnet-b"]);
    }
}
