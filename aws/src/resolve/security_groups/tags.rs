//! The managed frontend group carries the LoadBalancerConfiguration's `tags`, as LBC tags it
//! (with the load balancer and its listeners): given on create, added where they are missing or
//! differ on an existing group. Never the tracking tags; never removed (a key dropped from the
//! configuration stays on the group, as we cannot tell it from a tag someone else put there).

use std::collections::BTreeMap;

use albatross_model::plan::RESERVED_TAG_PREFIX;
use albatross_model::plan::naming::{CLUSTER_TAG, stack_tag_prefix};
use albatross_model::plan::types::{LoadBalancerPlan, LoadBalancerType};
use aws_sdk_ec2::types::{SecurityGroup, Tag};

use super::{IngressSources, Resolver, tag};
use crate::client::{Api, AwsError};

/// The load balancer's tags that came from its configuration.
pub fn user_tags(lb: &LoadBalancerPlan) -> BTreeMap<String, String> {
    let stack = format!("{}/", stack_tag_prefix(lb.r#type == LoadBalancerType::Application));
    lb.tags
        .iter()
        .filter(|t| t.key != CLUSTER_TAG && !t.key.starts_with(&stack) && !t.key.starts_with(RESERVED_TAG_PREFIX))
        .map(|t| (t.key.clone(), t.value.clone()))
        .collect()
}

/// Where the load balancer's managed group lets traffic in from.
pub fn ingress_sources(lb: &LoadBalancerPlan) -> IngressSources<'_> {
    IngressSources {
        ranges: &lb.source_ranges,
        prefix_lists: &lb.settings.security_group_prefixes,
        icmp: lb.settings.enable_icmp,
    }
}

/// Tags of `wanted` the group lacks or holds with another value.
pub(super) fn missing(group: &SecurityGroup, wanted: &BTreeMap<String, String>) -> Vec<Tag> {
    let held: BTreeMap<&str, &str> =
        group.tags().iter().filter_map(|t| Some((t.key()?, t.value().unwrap_or_default()))).collect();
    wanted.iter().filter(|(k, v)| held.get(k.as_str()) != Some(&v.as_str())).map(|(k, v)| tag(k, v)).collect()
}

impl Resolver {
    /// Adds `tags` to a group of ours (no call when there are none).
    pub(super) async fn tag_group(&self, id: &str, tags: Vec<Tag>) -> Result<(), AwsError> {
        if tags.is_empty() {
            return Ok(());
        }
        let keys: Vec<&str> = tags.iter().filter_map(Tag::key).collect();
        tracing::info!(group = id, ?keys, "tagging security group");
        let request = self.aws().ec2.create_tags().resources(id).set_tags(Some(tags.clone()));
        self.aws().call(Api::Ec2, "CreateTags", request.send()).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use albatross_model::plan::types::Tag as PlanTag;

    use super::*;

    #[test]
    fn user_tags_leave_out_tracking_tags_and_records() {
        let mut lb: LoadBalancerPlan = serde_json::from_value(serde_json::json!({
            "LoadBalancerName": "k8s-a-b-0123456789", "Type": "application", "Scheme": "internal",
            "IpAddressType": "ipv4", "Subnets": [], "SecurityGroups": [], "Attributes": [], "Tags": []
        }))
        .unwrap();
        for (key, value) in [
            (CLUSTER_TAG, "c"),
            ("gateway.k8s.aws.alb/stack", "a/b"),
            ("gateway.k8s.aws.alb/resource", "LoadBalancer"),
            ("albatross.k8s.aws/web-acl", "managed"),
            ("team", "shop"),
            ("gateway.k8s.aws.nlb/stack", "x"),
        ] {
            lb.tags.push(PlanTag { key: key.into(), value: value.into() });
        }
        let user = user_tags(&lb);
        assert_eq!(
            user.into_iter().collect::<Vec<_>>(),
            [("gateway.k8s.aws.nlb/stack".to_owned(), "x".to_owned()), ("team".into(), "shop".into())]
        );
        let group = SecurityGroup::builder().tags(tag("team", "ops")).tags(tag("cost", "1")).build();
        let wanted = BTreeMap::from([("team".to_owned(), "shop".to_owned()), ("cost".to_owned(), "1".to_owned())]);
        assert_eq!(missing(&group, &wanted), vec![tag("team", "shop")]);
    }
}
