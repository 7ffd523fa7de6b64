//! Finds one stack's resources by their ownership tags and reads them in the plan's shapes.
//! Reads per resync do not grow per rule: one tag query (100 resources a page), then paginated
//! describes per load balancer and listener.

use std::collections::HashMap;

use albatross_model::plan::naming::{CLUSTER_TAG, stack_tag_prefix};
use albatross_model::plan::types::{Attribute, Certificate, Stack, SubnetMapping, Tag};
use aws_sdk_resourcegroupstagging::types::TagFilter;

use crate::census::FINGERPRINT_TAG;
use crate::client::{Api, Aws, AwsError};
use crate::observed::{
    CreatedWith, ListenerObserved, LoadBalancerObserved, RuleObserved, StackObserved, TargetGroupObserved,
};
use crate::{listener_settings, sdk};

/// A stack as found: the load balancer that carries the planned name, type and scheme, plus
/// any other load balancer with the same stack tag (one being replaced) and the target groups
/// bound to those, to delete once the successor serves. `stack.target_groups` holds the rest.
#[derive(Clone, Debug, Default)]
pub struct Observation {
    pub stack: StackObserved,
    pub stale_load_balancers: Vec<String>,
    pub stale_target_groups: Vec<TargetGroupObserved>,
}

/// Tagged resources of one stack (or of every stack of the cluster when `stack` is `None`):
/// `(arn, tags)` of load balancers and of target groups.
pub async fn tagged(
    aws: &Aws,
    cluster: &str,
    alb: bool,
    stack: Option<&str>,
) -> Result<(Vec<(String, Vec<Tag>)>, Vec<(String, Vec<Tag>)>), AwsError> {
    tagged_of(aws, cluster, alb, stack, Tagged::Everything).await
}

/// Which resources a tag query asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tagged {
    LoadBalancers,
    Everything,
}

/// [`tagged`], asking for load balancers only when target groups are not needed: a fleet's
/// target groups outnumber its load balancers, and each page holds 100.
pub async fn tagged_of(
    aws: &Aws,
    cluster: &str,
    alb: bool,
    stack: Option<&str>,
    what: Tagged,
) -> Result<(Vec<(String, Vec<Tag>)>, Vec<(String, Vec<Tag>)>), AwsError> {
    let mut filters = vec![TagFilter::builder().key(CLUSTER_TAG).values(cluster).build()];
    let stack_key = format!("{}/stack", stack_tag_prefix(alb));
    filters.push(match stack {
        Some(s) => TagFilter::builder().key(&stack_key).values(s).build(),
        None => TagFilter::builder().key(&stack_key).build(),
    });
    let mut lbs = Vec::new();
    let mut tgs = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let mut request = aws
            .tagging
            .get_resources()
            .set_tag_filters(Some(filters.clone()))
            .resource_type_filters("elasticloadbalancing:loadbalancer");
        if what == Tagged::Everything {
            request = request.resource_type_filters("elasticloadbalancing:targetgroup");
        }
        let request = request.resources_per_page(100).set_pagination_token(token.clone());
        let page = aws.call(Api::Tagging, "GetResources", request.send()).await?;
        for mapping in page.resource_tag_mapping_list() {
            let Some(arn) = mapping.resource_arn() else { continue };
            let tags: Vec<Tag> =
                mapping.tags().iter().map(|t| Tag { key: t.key().to_owned(), value: t.value().to_owned() }).collect();
            // Defence in depth: the filter already asked for our cluster.
            if !tags.iter().any(|t| t.key == CLUSTER_TAG && t.value == cluster) {
                continue;
            }
            if arn.contains(":loadbalancer/") {
                lbs.push((arn.to_owned(), tags));
            } else if arn.contains(":targetgroup/") {
                tgs.push((arn.to_owned(), tags));
            }
        }
        match page.pagination_token() {
            Some(t) if !t.is_empty() => token = Some(t.to_owned()),
            _ => break,
        }
    }
    Ok((lbs, tgs))
}

pub fn tag_value<'a>(tags: &'a [Tag], key: &str) -> Option<&'a str> {
    tags.iter().find(|t| t.key == key).map(|t| t.value.as_str())
}

pub async fn observe(aws: &Aws, cluster: &str, stack: &Stack) -> Result<Observation, AwsError> {
    let alb = stack.load_balancer.r#type == albatross_model::plan::types::LoadBalancerType::Application;
    let (lbs, tgs) = tagged(aws, cluster, alb, Some(&stack.gateway)).await?;
    let mut observation = Observation::default();
    if !lbs.is_empty() {
        let arns: Vec<String> = lbs.iter().map(|(a, _)| a.clone()).collect();
        for lb in load_balancers(aws, &arns).await? {
            let tags = lbs.iter().find(|(a, _)| *a == lb.arn).map(|(_, t)| t.clone()).unwrap_or_default();
            if lb.name == stack.load_balancer.load_balancer_name
                && lb.scheme == stack.load_balancer.scheme.as_str()
                && lb.r#type == stack.load_balancer.r#type.as_str()
                && observation.stack.load_balancer.is_none()
            {
                observation.stack.load_balancer = Some(LoadBalancerObserved { tags, ..lb });
            } else {
                observation.stale_load_balancers.push(lb.arn);
            }
        }
    }
    if let Some(lb) = &mut observation.stack.load_balancer {
        lb.attributes = load_balancer_attributes(aws, &lb.arn).await?;
        let arn = lb.arn.clone();
        let with_attributes: Vec<i32> =
            stack.listeners.iter().filter(|l| !l.attributes.is_empty()).map(|l| l.port).collect();
        observation.stack.listeners = listeners(aws, &arn, &with_attributes).await?;
        // Tags of listeners and rules LBC made (or a crash left unstamped) are brought to ours.
        if tag_value(&lb.tags, FINGERPRINT_TAG).is_none() {
            listener_and_rule_tags(aws, &mut observation.stack.listeners).await?;
        }
    }
    // A target group serves one load balancer: those of a predecessor stay with it.
    let (stale, current): (Vec<_>, Vec<_>) = target_groups(aws, alb, &tgs)
        .await?
        .into_iter()
        .partition(|t| t.load_balancer_arns.iter().any(|lb| observation.stale_load_balancers.contains(lb)));
    observation.stack.target_groups = current;
    observation.stale_target_groups = stale;
    Ok(observation)
}

pub async fn load_balancers(aws: &Aws, arns: &[String]) -> Result<Vec<LoadBalancerObserved>, AwsError> {
    let mut out = Vec::new();
    for chunk in arns.chunks(20) {
        let page = aws
            .call(
                Api::Elbv2Read,
                "DescribeLoadBalancers",
                aws.elbv2.describe_load_balancers().set_load_balancer_arns(Some(chunk.to_vec())).send(),
            )
            .await;
        let page = match page {
            Ok(p) => p,
            // One of them was deleted between the tag query and now.
            Err(e) if e.class == crate::ErrorClass::NotFound => continue,
            Err(e) => return Err(e),
        };
        out.extend(page.load_balancers().iter().map(|lb| LoadBalancerObserved {
            arn: lb.load_balancer_arn().unwrap_or_default().to_owned(),
            name: lb.load_balancer_name().unwrap_or_default().to_owned(),
            dns_name: lb.dns_name().unwrap_or_default().to_owned(),
            state: lb.state().and_then(|s| s.code()).map(|c| c.as_str().to_owned()).unwrap_or_default(),
            r#type: lb.r#type().map(|t| t.as_str().to_owned()).unwrap_or_default(),
            scheme: lb.scheme().map(|t| t.as_str().to_owned()).unwrap_or_default(),
            ip_address_type: lb.ip_address_type().map(|t| t.as_str().to_owned()).unwrap_or_default(),
            subnets: lb.availability_zones().iter().filter_map(|z| z.subnet_id().map(str::to_owned)).collect(),
            security_groups: lb.security_groups().to_vec(),
            attributes: Vec::new(),
            tags: Vec::new(),
            created_with: created_with(lb),
        }));
    }
    Ok(out)
}

fn created_with(lb: &aws_sdk_elasticloadbalancingv2::types::LoadBalancer) -> CreatedWith {
    let subnet_mappings = lb
        .availability_zones()
        .iter()
        .map(|z| {
            let address = z.load_balancer_addresses().first();
            SubnetMapping {
                subnet_id: z.subnet_id().unwrap_or_default().to_owned(),
                allocation_id: address.and_then(|a| a.allocation_id()).map(str::to_owned),
                private_ipv4_address: address.and_then(|a| a.private_ipv4_address()).map(str::to_owned),
                ipv6_address: address.and_then(|a| a.ipv6_address()).map(str::to_owned),
                source_nat_ipv6_prefix: z.source_nat_ipv6_prefixes().first().cloned(),
            }
        })
        .collect();
    CreatedWith { customer_owned_ipv4_pool: lb.customer_owned_ipv4_pool().map(str::to_owned), subnet_mappings }
}

async fn load_balancer_attributes(aws: &Aws, arn: &str) -> Result<Vec<Attribute>, AwsError> {
    let out = aws
        .call(
            Api::Elbv2Read,
            "DescribeLoadBalancerAttributes",
            aws.elbv2.describe_load_balancer_attributes().load_balancer_arn(arn).send(),
        )
        .await?;
    Ok(sdk::lb_attributes_from_sdk(out.attributes()))
}

/// `with_attributes`: ports whose listener attributes are read too.
async fn listeners(aws: &Aws, lb: &str, with_attributes: &[i32]) -> Result<Vec<ListenerObserved>, AwsError> {
    let mut out = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        let page = aws
            .call(
                Api::Elbv2Read,
                "DescribeListeners",
                aws.elbv2.describe_listeners().load_balancer_arn(lb).page_size(400).set_marker(marker.clone()).send(),
            )
            .await?;
        for l in page.listeners() {
            let arn = l.listener_arn().unwrap_or_default().to_owned();
            let protocol = l.protocol().map(|p| p.as_str().to_owned()).unwrap_or_default();
            let mut certificates: Vec<Certificate> = l
                .certificates()
                .iter()
                .filter_map(|c| c.certificate_arn())
                .map(|c| Certificate { certificate_arn: c.to_owned(), is_default: true })
                .collect();
            if protocol == "HTTPS" || protocol == "TLS" {
                certificates.extend(listener_certificates(aws, &arn).await?);
            }
            let port = l.port().unwrap_or_default();
            let attributes = if with_attributes.contains(&port) {
                listener_settings::attributes(aws, &arn).await?
            } else {
                Vec::new()
            };
            out.push(ListenerObserved {
                tags: None,
                mutual_authentication: l.mutual_authentication().map(listener_settings::mutual_authentication_from_sdk),
                attributes,
                rules: rules(aws, &arn).await?,
                arn,
                port: l.port().unwrap_or_default(),
                protocol,
                ssl_policy: l.ssl_policy().map(str::to_owned),
                certificates,
                alpn_policy: l.alpn_policy().to_vec(),
                default_actions: l
                    .default_actions()
                    .iter()
                    .map(|a| sdk::action_from_sdk(a, &|arn| arn.to_owned()))
                    .collect(),
            });
        }
        match page.next_marker() {
            Some(m) if !m.is_empty() => marker = Some(m.to_owned()),
            _ => break,
        }
    }
    Ok(out)
}

/// The SNI certificates (the default one comes with the listener).
async fn listener_certificates(aws: &Aws, listener: &str) -> Result<Vec<Certificate>, AwsError> {
    let mut out = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        let page = aws
            .call(
                Api::Elbv2Read,
                "DescribeListenerCertificates",
                aws.elbv2
                    .describe_listener_certificates()
                    .listener_arn(listener)
                    .page_size(400)
                    .set_marker(marker.clone())
                    .send(),
            )
            .await?;
        out.extend(
            page.certificates()
                .iter()
                .filter(|c| c.is_default() != Some(true))
                .filter_map(|c| c.certificate_arn())
                .map(|c| Certificate { certificate_arn: c.to_owned(), is_default: false }),
        );
        match page.next_marker() {
            Some(m) if !m.is_empty() => marker = Some(m.to_owned()),
            _ => break,
        }
    }
    Ok(out)
}

async fn rules(aws: &Aws, listener: &str) -> Result<Vec<RuleObserved>, AwsError> {
    let mut out = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        let page = aws
            .call(
                Api::Elbv2Read,
                "DescribeRules",
                aws.elbv2.describe_rules().listener_arn(listener).page_size(400).set_marker(marker.clone()).send(),
            )
            .await?;
        for r in page.rules() {
            if r.is_default() == Some(true) {
                continue;
            }
            let Some(priority) = r.priority().and_then(|p| p.parse::<u32>().ok()) else { continue };
            out.push(RuleObserved {
                arn: r.rule_arn().unwrap_or_default().to_owned(),
                priority,
                conditions: r.conditions().iter().map(sdk::condition_from_sdk).collect(),
                actions: r.actions().iter().map(|a| sdk::action_from_sdk(a, &|arn| arn.to_owned())).collect(),
                transforms: r.transforms().iter().map(sdk::transform_from_sdk).collect(),
                tags: None,
            });
        }
        match page.next_marker() {
            Some(m) if !m.is_empty() => marker = Some(m.to_owned()),
            _ => break,
        }
    }
    out.sort_by_key(|r| r.priority);
    Ok(out)
}

/// The tags of `arns`, in AWS's answer order: one DescribeTags per 20 ARNs (its limit). An ARN
/// AWS does not answer for is not in the list.
pub async fn describe_tags(aws: &Aws, arns: &[String]) -> Result<Vec<(String, Vec<Tag>)>, AwsError> {
    let mut found = Vec::new();
    for chunk in arns.chunks(20) {
        let out = aws
            .call(
                Api::Elbv2Read,
                "DescribeTags",
                aws.elbv2.describe_tags().set_resource_arns(Some(chunk.to_vec())).send(),
            )
            .await?;
        found.extend(
            out.tag_descriptions()
                .iter()
                .map(|d| (d.resource_arn().unwrap_or_default().to_owned(), sdk::tags_from_sdk(d.tags()))),
        );
    }
    Ok(found)
}

/// Fills in the tags of `listeners` and their rules.
async fn listener_and_rule_tags(aws: &Aws, listeners: &mut [ListenerObserved]) -> Result<(), AwsError> {
    let arns: Vec<String> = listeners
        .iter()
        .flat_map(|l| std::iter::once(l.arn.clone()).chain(l.rules.iter().map(|r| r.arn.clone())))
        .collect();
    let mut found: HashMap<String, Vec<Tag>> = describe_tags(aws, &arns).await?.into_iter().collect();
    // One missing from the answer stays unknown: nothing is written on a guess.
    for l in listeners {
        l.tags = found.remove(&l.arn);
        for r in &mut l.rules {
            r.tags = found.remove(&r.arn);
        }
    }
    Ok(())
}

async fn target_groups(
    aws: &Aws,
    alb: bool,
    tagged: &[(String, Vec<Tag>)],
) -> Result<Vec<TargetGroupObserved>, AwsError> {
    let resource_key = format!("{}/resource", stack_tag_prefix(alb));
    let mut out = Vec::new();
    for chunk in tagged.chunks(100) {
        let arns: Vec<String> = chunk.iter().map(|(a, _)| a.clone()).collect();
        let page = aws
            .call(
                Api::Elbv2Read,
                "DescribeTargetGroups",
                aws.elbv2.describe_target_groups().set_target_group_arns(Some(arns)).page_size(400).send(),
            )
            .await;
        let page = match page {
            Ok(p) => p,
            Err(e) if e.class == crate::ErrorClass::NotFound => {
                // One was deleted since the tag query: fall back to one by one for this chunk.
                let mut groups = Vec::new();
                for (arn, _) in chunk {
                    match aws
                        .call(
                            Api::Elbv2Read,
                            "DescribeTargetGroups",
                            aws.elbv2.describe_target_groups().target_group_arns(arn).send(),
                        )
                        .await
                    {
                        Ok(p) => groups.extend(p.target_groups().iter().cloned()),
                        Err(e) if e.class == crate::ErrorClass::NotFound => {}
                        Err(e) => return Err(e),
                    }
                }
                out.extend(groups.iter().map(|g| target_group(g, chunk, &resource_key)));
                continue;
            }
            Err(e) => return Err(e),
        };
        out.extend(page.target_groups().iter().map(|g| target_group(g, chunk, &resource_key)));
    }
    Ok(out)
}

fn target_group(
    g: &aws_sdk_elasticloadbalancingv2::types::TargetGroup,
    tagged: &[(String, Vec<Tag>)],
    resource_key: &str,
) -> TargetGroupObserved {
    let arn = g.target_group_arn().unwrap_or_default().to_owned();
    let tags = tagged.iter().find(|(a, _)| *a == arn).map(|(_, t)| t.clone()).unwrap_or_default();
    TargetGroupObserved {
        id: tag_value(&tags, resource_key).unwrap_or_default().to_owned(),
        arn,
        name: g.target_group_name().unwrap_or_default().to_owned(),
        protocol: g.protocol().map(|p| p.as_str().to_owned()).unwrap_or_default(),
        protocol_version: g.protocol_version().map(str::to_owned),
        port: g.port().unwrap_or_default(),
        target_type: g.target_type().map(|p| p.as_str().to_owned()).unwrap_or_default(),
        target_control_port: g.target_control_port(),
        health_check_protocol: g.health_check_protocol().map(|p| p.as_str().to_owned()).unwrap_or_default(),
        health_check_port: g.health_check_port().unwrap_or_default().to_owned(),
        health_check_path: g.health_check_path().map(str::to_owned),
        health_check_interval_seconds: g.health_check_interval_seconds().unwrap_or_default(),
        health_check_timeout_seconds: g.health_check_timeout_seconds().unwrap_or_default(),
        healthy_threshold_count: g.healthy_threshold_count().unwrap_or_default(),
        unhealthy_threshold_count: g.unhealthy_threshold_count().unwrap_or_default(),
        matcher_http_code: g.matcher().and_then(|m| m.http_code()).map(str::to_owned),
        matcher_grpc_code: g.matcher().and_then(|m| m.grpc_code()).map(str::to_owned),
        vpc_id: g.vpc_id().unwrap_or_default().to_owned(),
        load_balancer_arns: g.load_balancer_arns().to_vec(),
        tags,
    }
}
