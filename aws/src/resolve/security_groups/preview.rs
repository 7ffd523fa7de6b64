//! The managed security groups of a dry run: found as [`Resolver::managed_security_groups`]
//! finds them, with what it would create, authorize and revoke written as steps instead.

use std::collections::BTreeSet;

use albatross_model::plan::types::Stack;

use super::{
    IngressRule, IngressSource, backend_security_group_name, desired_ingress_from, filter, group_id, ingress_sources,
    name_taken, observed_ingress, tags, user_tags,
};
use crate::client::AwsError;
use crate::preview::{Change, Resource, Step};
use crate::resolve::{BACKEND_SG_RESOURCE, BACKEND_SG_RESOURCE_TAG, Resolver};
use albatross_model::plan::naming::CLUSTER_TAG;

fn rules(rules: &[&IngressRule]) -> String {
    let text: Vec<String> = rules
        .iter()
        .map(|r| {
            let source = match &r.source {
                IngressSource::Ipv4(c) | IngressSource::Ipv6(c) => c.clone(),
                IngressSource::Group(g) => g.clone(),
                IngressSource::PrefixList(p) => p.clone(),
            };
            let ports = match (r.from_port, r.to_port) {
                (Some(a), Some(b)) if a == b => a.to_string(),
                (Some(a), Some(b)) => format!("{a}-{b}"),
                _ => "all".into(),
            };
            format!("{} {ports} from {source}", r.protocol)
        })
        .collect();
    text.join(", ")
}

impl Resolver {
    /// `[frontend, backend]` as the real run would give the load balancer (a group it would
    /// create by its symbolic name), and the steps that make them so.
    pub(crate) async fn preview_managed_security_groups(
        &self,
        stack: &Stack,
    ) -> Result<(Vec<String>, Vec<Step>), AwsError> {
        let lb = &stack.load_balancer;
        let alb = lb.r#type == albatross_model::plan::types::LoadBalancerType::Application;
        let ports: Vec<(i32, &str)> = stack.listeners.iter().map(|l| (l.port, l.protocol.as_str())).collect();
        // The same sources and tags the real run converges to.
        let desired = desired_ingress_from(&ports, &ingress_sources(lb));
        let wanted_tags = user_tags(lb);
        let vpc = self.vpc_id().await?;
        let mut steps = Vec::new();

        let mut filters = self.frontend_filters(&stack.gateway, alb);
        filters.push(filter("vpc-id", &vpc));
        let found = self.describe_security_groups(filters).await?;
        let name = lb.managed_security_group_name.as_deref().unwrap_or(&lb.load_balancer_name);
        let existing = found.iter().find(|g| g.group_name() == Some(name)).or(found.first());
        let frontend = match existing {
            Some(group) => {
                let id = group_id(group);
                let missing_tags = tags::missing(group, &wanted_tags);
                if !missing_tags.is_empty() {
                    let keys: Vec<&str> = missing_tags.iter().filter_map(|t| t.key()).collect();
                    let detail = format!("tags {}", keys.join(", "));
                    steps.push(Step::new("CreateTags", Resource::SecurityGroup, Change::Tag, &id, detail));
                }
                let observed = observed_ingress(group);
                let missing: Vec<&IngressRule> = desired.difference(&observed).collect();
                let extra: Vec<&IngressRule> = observed.difference(&desired).collect();
                if !missing.is_empty() {
                    let detail = rules(&missing);
                    steps.push(Step::new(
                        "AuthorizeSecurityGroupIngress",
                        Resource::SecurityGroup,
                        Change::Modify,
                        &id,
                        detail,
                    ));
                }
                if !extra.is_empty() {
                    let detail = rules(&extra);
                    steps.push(Step::new(
                        "RevokeSecurityGroupIngress",
                        Resource::SecurityGroup,
                        Change::Modify,
                        &id,
                        detail,
                    ));
                }
                id
            }
            None => {
                let same_name =
                    self.describe_security_groups(vec![filter("vpc-id", &vpc), filter("group-name", name)]).await?;
                if let Some(group) = same_name.first() {
                    return Err(name_taken(name, &vpc, Some(group)));
                }
                let id = format!("<new security group {name}>");
                steps.push(Step::new(
                    "CreateSecurityGroup",
                    Resource::SecurityGroup,
                    Change::Create,
                    &id,
                    format!("{name} in {vpc}, for Gateway {}", stack.gateway),
                ));
                let all: Vec<&IngressRule> = desired.iter().collect();
                steps.push(Step::new(
                    "AuthorizeSecurityGroupIngress",
                    Resource::SecurityGroup,
                    Change::Create,
                    &id,
                    rules(&all),
                ));
                id
            }
        };

        let backend = self.preview_backend_security_group(&vpc, &mut steps).await?;
        Ok((vec![frontend, backend], steps))
    }

    /// The cluster's shared backend group as the real run would find it, or the step that would
    /// create it.
    pub(crate) async fn preview_backend_security_group(
        &self,
        vpc: &str,
        steps: &mut Vec<Step>,
    ) -> Result<String, AwsError> {
        let cached = self.inner.backend_sg.lock().await.clone();
        Ok(match cached {
            Some(id) => id,
            None => {
                let cluster = self.cluster();
                let by_tags = vec![
                    filter("vpc-id", vpc),
                    filter(&format!("tag:{CLUSTER_TAG}"), cluster),
                    filter(&format!("tag:{BACKEND_SG_RESOURCE_TAG}"), BACKEND_SG_RESOURCE),
                ];
                match self.describe_security_groups(by_tags).await?.first() {
                    Some(group) => group_id(group),
                    None => {
                        let name = backend_security_group_name(cluster);
                        let same_name = self
                            .describe_security_groups(vec![filter("vpc-id", vpc), filter("group-name", &name)])
                            .await?;
                        if let Some(group) = same_name.first() {
                            return Err(name_taken(&name, vpc, Some(group)));
                        }
                        let id = format!("<new security group {name}>");
                        steps.push(Step::new(
                            "CreateSecurityGroup",
                            Resource::SecurityGroup,
                            Change::Create,
                            &id,
                            format!("{name} in {vpc}: the cluster's shared backend group"),
                        ));
                        id
                    }
                }
            }
        })
    }

    /// The frontend groups a deletion of the stack would delete.
    pub(crate) async fn preview_managed_security_groups_of(
        &self,
        stack: &str,
        alb: bool,
    ) -> Result<BTreeSet<String>, AwsError> {
        let groups = self.describe_security_groups(self.frontend_filters(stack, alb)).await?;
        Ok(groups.iter().map(group_id).collect())
    }
}
