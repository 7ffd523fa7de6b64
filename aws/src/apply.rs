//! Runs the diff's operations in stages (see [`stages`]): the lanes of a stage concurrently, up
//! to a bound, every call still under the client's rate limits. Creation is idempotent across
//! crashes: a load balancer name already in use is adopted only when it carries this stack's
//! tags, and a target group or listener that a lost response already created is found again
//! instead of duplicated.

mod lanes;
mod stages;

use std::collections::HashMap;
use std::sync::Mutex;

use albatross_model::plan::naming::{CLUSTER_TAG, stack_tag_prefix};
use albatross_model::plan::types::{Stack, Tag, TargetGroupPlan};
use aws_sdk_elasticloadbalancingv2::types::{
    Certificate as SdkCertificate, IpAddressType, LoadBalancerSchemeEnum, LoadBalancerTypeEnum, Matcher,
    MutualAuthenticationAttributes, ProtocolEnum, RulePriorityPair, TargetGroupIpAddressTypeEnum, TargetTypeEnum,
};

use crate::client::{Api, Aws, AwsError, ErrorClass};
pub use crate::delete::delete_target_group;
use crate::delete::{delete_load_balancer, deletion_protected, protected};
use crate::diff::{ATTRIBUTES_TAG, Op, attributes_hash, target_group_ids};
use crate::listener_settings;
use crate::observe::tag_value;
use crate::observed::StackObserved;
use crate::sdk;
use lanes::lock;
pub use stages::{Stage, Step, stages};

/// Operations of one stack in flight at once by default. The client's rate limiter paces them
/// further: ELBv2 writes share one account-wide bucket with every other stack and tool.
pub const DEFAULT_CONCURRENCY: usize = 8;

/// What an apply leaves behind for the Gateway's status.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Applied {
    pub load_balancer_arn: String,
    pub dns_name: String,
    /// Target group ARNs by the plan's target group id.
    pub target_groups: std::collections::BTreeMap<String, String>,
}

/// What the operations learn (new ARNs), shared by the lanes that run at once.
struct State<'a> {
    aws: &'a Aws,
    stack: &'a Stack,
    cluster: &'a str,
    vpc_id: &'a str,
    lb: Mutex<Option<Applied>>,
    target_groups: Mutex<HashMap<String, String>>,
    listeners: Mutex<HashMap<i32, String>>,
}

/// Runs `ops` (the diff of `stack` against `observed`) stage by stage, at most `concurrency`
/// operations at once. The first failure stops the apply: operations in flight finish, no
/// new one starts, and that error is returned; the next attempt starts from a fresh observation.
pub async fn apply(
    aws: &Aws,
    cluster: &str,
    vpc_id: &str,
    stack: &Stack,
    observed: &StackObserved,
    ops: &[Op],
    concurrency: usize,
) -> Result<Applied, AwsError> {
    let ids = target_group_ids(stack, observed);
    let state = State {
        aws,
        stack,
        cluster,
        vpc_id,
        lb: Mutex::new(observed.load_balancer.as_ref().map(|lb| Applied {
            load_balancer_arn: lb.arn.clone(),
            dns_name: lb.dns_name.clone(),
            target_groups: Default::default(),
        })),
        target_groups: Mutex::new(ids.iter().map(|(arn, id)| (id.clone(), arn.clone())).collect()),
        listeners: Mutex::new(observed.listeners.iter().map(|l| (l.port, l.arn.clone())).collect()),
    };
    for stage in stages(ops, observed, &ids) {
        state.run_stage(&stage, concurrency).await?;
        // Nothing references a target group we "created" before it is known to be ours.
        let created: Vec<String> = stage
            .lanes
            .iter()
            .flatten()
            .filter_map(|op| match op {
                Op::CreateTargetGroup { id } => state.tg_arn(id),
                _ => None,
            })
            .collect();
        if !created.is_empty() {
            state.verify_owned(&created).await?;
        }
    }
    let target_groups = {
        let arns = lock(&state.target_groups);
        stack.target_groups.iter().filter_map(|tg| arns.get(&tg.id).map(|arn| (tg.id.clone(), arn.clone()))).collect()
    };
    let lb = state
        .lb
        .into_inner()
        .unwrap_or_else(|e| e.into_inner())
        .ok_or_else(|| AwsError::new("Apply", "LoadBalancerMissing", "no load balancer", ErrorClass::Transient))?;
    Ok(Applied { target_groups, ..lb })
}

fn conflict(operation: &'static str, message: String) -> AwsError {
    AwsError::new(operation, "Conflict", message, ErrorClass::Transient)
}

impl State<'_> {
    fn lb_arn(&self) -> Result<String, AwsError> {
        lock(&self.lb)
            .as_ref()
            .map(|l| l.load_balancer_arn.clone())
            .ok_or_else(|| conflict("Apply", "the load balancer does not exist yet".into()))
    }

    fn tg_arn(&self, id: &str) -> Option<String> {
        lock(&self.target_groups).get(id).cloned()
    }

    fn listener(&self, port: i32) -> Result<String, AwsError> {
        lock(&self.listeners)
            .get(&port)
            .cloned()
            .ok_or_else(|| conflict("Apply", format!("no listener on port {port}")))
    }

    fn target_group_plan(&self, id: &str) -> &TargetGroupPlan {
        self.stack.target_groups.iter().find(|t| t.id == id).expect("diff names planned target groups")
    }

    fn actions(
        &self,
        actions: &[albatross_model::plan::types::Action],
        operation: &'static str,
    ) -> Result<Vec<aws_sdk_elasticloadbalancingv2::types::Action>, AwsError> {
        actions
            .iter()
            .map(|a| sdk::action_to_sdk(a, &|id| self.tg_arn(id)))
            .collect::<Result<_, _>>()
            .map_err(|m| AwsError::new(operation, "UnresolvedTargetGroup", m, ErrorClass::Transient))
    }

    fn owned(&self, tags: &[Tag]) -> bool {
        let alb = self.stack.load_balancer.r#type == albatross_model::plan::types::LoadBalancerType::Application;
        tag_value(tags, CLUSTER_TAG) == Some(self.cluster)
            && tag_value(tags, &format!("{}/stack", stack_tag_prefix(alb))) == Some(self.stack.gateway.as_str())
    }

    async fn tags_of(&self, arn: &str) -> Result<Vec<Tag>, AwsError> {
        let out = self
            .aws
            .call(Api::Elbv2Read, "DescribeTags", self.aws.elbv2.describe_tags().resource_arns(arn).send())
            .await?;
        Ok(out.tag_descriptions().iter().flat_map(|d| sdk::tags_from_sdk(d.tags())).collect())
    }

    /// AWS answers a CreateTargetGroup whose name and settings match an existing group with
    /// that group: make sure every group we just "created" is really ours before using it.
    async fn verify_owned(&self, arns: &[String]) -> Result<(), AwsError> {
        for (arn, tags) in crate::observe::describe_tags(self.aws, arns).await? {
            if !self.owned(&tags) {
                lock(&self.target_groups).retain(|_, a| *a != arn);
                return Err(AwsError::new(
                    "CreateTargetGroup",
                    "TargetGroupNameTaken",
                    format!("target group {arn} has the planned name but is not owned by this Gateway"),
                    ErrorClass::Permanent,
                ));
            }
        }
        Ok(())
    }

    async fn run(&self, op: &Op) -> Result<(), AwsError> {
        let aws = self.aws;
        let elbv2 = &aws.elbv2;
        let name = op.operation();
        match op {
            Op::CreateLoadBalancer => {
                let plan = &self.stack.load_balancer;
                // A name in use is adopted only when it is this stack's; AWS would otherwise
                // answer a create with someone else's load balancer.
                match aws
                    .call(
                        Api::Elbv2Read,
                        "DescribeLoadBalancers",
                        elbv2.describe_load_balancers().names(&plan.load_balancer_name).send(),
                    )
                    .await
                {
                    Ok(found) => {
                        if let Some(lb) = found.load_balancers().first() {
                            let arn = lb.load_balancer_arn().unwrap_or_default().to_owned();
                            let same_kind = lb.r#type().map(|t| t.as_str()) == Some(plan.r#type.as_str())
                                && lb.scheme().map(|s| s.as_str()) == Some(plan.scheme.as_str());
                            let owned = self.owned(&self.tags_of(&arn).await?);
                            if owned && !same_kind {
                                // Names are unique: the successor cannot be made while the
                                // predecessor, which must serve until then, holds the name.
                                return Err(AwsError::new(
                                    name,
                                    "ReplacementNameTaken",
                                    format!(
                                        "the {} change needs a new load balancer, but its name {} is held by the one it replaces ({arn}), which keeps serving; set another loadBalancerName to replace it without downtime",
                                        if lb.r#type().map(|t| t.as_str()) == Some(plan.r#type.as_str()) {
                                            "scheme"
                                        } else {
                                            "type"
                                        },
                                        plan.load_balancer_name
                                    ),
                                    ErrorClass::Permanent,
                                ));
                            }
                            if !owned {
                                return Err(AwsError::new(
                                    name,
                                    "LoadBalancerNameTaken",
                                    format!(
                                        "a load balancer named {} exists and is not owned by this Gateway; set loadBalancerName in a LoadBalancerConfiguration or remove it",
                                        plan.load_balancer_name
                                    ),
                                    ErrorClass::Permanent,
                                ));
                            }
                            return Err(conflict(name, "the load balancer exists already; observing again".into()));
                        }
                    }
                    Err(e) if e.class == ErrorClass::NotFound => {}
                    Err(e) => return Err(e),
                }
                let out = aws
                    .call(
                        Api::Elbv2Write,
                        name,
                        elbv2
                            .create_load_balancer()
                            .name(&plan.load_balancer_name)
                            .r#type(LoadBalancerTypeEnum::from(plan.r#type.as_str()))
                            .scheme(LoadBalancerSchemeEnum::from(plan.scheme.as_str()))
                            .ip_address_type(IpAddressType::from(plan.ip_address_type.as_str()))
                            .set_subnets(plan.settings.subnet_mappings.is_empty().then(|| plan.subnets.clone()))
                            .set_subnet_mappings(sdk::subnet_mappings_to_sdk(&plan.settings.subnet_mappings))
                            .set_customer_owned_ipv4_pool(plan.settings.customer_owned_ipv4_pool.clone())
                            .set_ipam_pools(sdk::ipam_pools_to_sdk(plan.settings.ipam_pools.as_ref()))
                            .set_security_groups(
                                (!plan.security_groups.is_empty()).then(|| plan.security_groups.clone()),
                            )
                            .set_tags(Some(sdk::tags_to_sdk(&plan.tags)))
                            .send(),
                    )
                    .await?;
                let lb = out.load_balancers().first().ok_or_else(|| conflict(name, "empty answer".into()))?;
                *lock(&self.lb) = Some(Applied {
                    load_balancer_arn: lb.load_balancer_arn().unwrap_or_default().to_owned(),
                    dns_name: lb.dns_name().unwrap_or_default().to_owned(),
                    target_groups: Default::default(),
                });
            }
            Op::SetSubnets { subnets } => {
                let arn = self.lb_arn()?;
                aws.call(
                    Api::Elbv2Write,
                    name,
                    elbv2.set_subnets().load_balancer_arn(arn).set_subnets(Some(subnets.clone())).send(),
                )
                .await?;
            }
            Op::SetSecurityGroups { groups } => {
                let arn = self.lb_arn()?;
                aws.call(
                    Api::Elbv2Write,
                    name,
                    elbv2.set_security_groups().load_balancer_arn(arn).set_security_groups(Some(groups.clone())).send(),
                )
                .await?;
            }
            Op::ModifyLoadBalancerAttributes { attributes } => {
                let arn = self.lb_arn()?;
                let attributes = sdk::lb_attributes_to_sdk(attributes);
                aws.call(
                    Api::Elbv2Write,
                    name,
                    elbv2
                        .modify_load_balancer_attributes()
                        .load_balancer_arn(arn)
                        .set_attributes(Some(attributes))
                        .send(),
                )
                .await?;
            }
            Op::AddTags { arn, tags } | Op::TagListener { arn, tags, .. } | Op::TagRule { arn, tags, .. } => {
                aws.call(
                    Api::Elbv2Write,
                    name,
                    elbv2.add_tags().resource_arns(arn).set_tags(Some(sdk::tags_to_sdk(tags))).send(),
                )
                .await?;
            }
            Op::CreateTargetGroup { id } => {
                let tg = self.target_group_plan(id);
                let mut tags = tg.tags.clone();
                tags.push(Tag { key: ATTRIBUTES_TAG.into(), value: attributes_hash(&tg.attributes) });
                let http = matches!(tg.protocol.as_str(), "HTTP" | "HTTPS");
                let hc_http = matches!(tg.health_check_protocol.as_str(), "HTTP" | "HTTPS");
                let request = elbv2
                    .create_target_group()
                    .name(&tg.target_group_name)
                    .protocol(ProtocolEnum::from(tg.protocol.as_str()))
                    .set_protocol_version(tg.protocol_version.clone().filter(|_| http))
                    .port(tg.port)
                    .vpc_id(self.vpc_id)
                    .target_type(TargetTypeEnum::from(tg.target_type.as_str()))
                    .set_ip_address_type(tg.ip_address_type.as_deref().map(TargetGroupIpAddressTypeEnum::from))
                    .set_target_control_port(tg.target_control_port)
                    .health_check_protocol(ProtocolEnum::from(tg.health_check_protocol.as_str()))
                    .health_check_port(&tg.health_check_port)
                    .set_health_check_path(tg.health_check_path.clone().filter(|_| hc_http))
                    .health_check_interval_seconds(tg.health_check_interval_seconds)
                    .health_check_timeout_seconds(tg.health_check_timeout_seconds)
                    .healthy_threshold_count(tg.healthy_threshold_count)
                    .unhealthy_threshold_count(tg.unhealthy_threshold_count)
                    .set_matcher(matcher(tg).filter(|_| hc_http))
                    .set_tags(Some(sdk::tags_to_sdk(&tags)));
                match aws.call(Api::Elbv2Write, name, request.send()).await {
                    Ok(out) => {
                        let arn = out
                            .target_groups()
                            .first()
                            .and_then(|t| t.target_group_arn())
                            .ok_or_else(|| conflict(name, "empty answer".into()))?;
                        lock(&self.target_groups).insert(id.clone(), arn.to_owned());
                    }
                    Err(e) if e.code == "DuplicateTargetGroupName" => {
                        let found = aws
                            .call(
                                Api::Elbv2Read,
                                "DescribeTargetGroups",
                                elbv2.describe_target_groups().names(&tg.target_group_name).send(),
                            )
                            .await?;
                        let existing = found.target_groups().first();
                        let arn = existing.and_then(|t| t.target_group_arn()).unwrap_or_default().to_owned();
                        // Same name, other immutable control port: no make-before-break is possible.
                        if existing.is_some_and(|t| t.target_control_port() != tg.target_control_port) {
                            return Err(AwsError::new(
                                name,
                                "TargetControlPortImmutable",
                                format!(
                                    "target group {} exists with another targetControlPort, which ELBv2 cannot change; \
                                     give it a new targetGroupName to replace it",
                                    tg.target_group_name
                                ),
                                ErrorClass::Permanent,
                            ));
                        }
                        if !self.owned(&self.tags_of(&arn).await?) {
                            return Err(AwsError::new(
                                name,
                                "TargetGroupNameTaken",
                                format!(
                                    "a target group named {} exists and is not owned by this Gateway",
                                    tg.target_group_name
                                ),
                                ErrorClass::Permanent,
                            ));
                        }
                        lock(&self.target_groups).insert(id.clone(), arn);
                    }
                    Err(e) => return Err(e),
                }
            }
            Op::ModifyTargetGroup { id } => {
                let tg = self.target_group_plan(id);
                let arn = self.tg_arn(id).ok_or_else(|| conflict(name, format!("no target group {id}")))?;
                let hc_http = matches!(tg.health_check_protocol.as_str(), "HTTP" | "HTTPS");
                aws.call(
                    Api::Elbv2Write,
                    name,
                    elbv2
                        .modify_target_group()
                        .target_group_arn(arn)
                        .health_check_protocol(ProtocolEnum::from(tg.health_check_protocol.as_str()))
                        .health_check_port(&tg.health_check_port)
                        .set_health_check_path(tg.health_check_path.clone().filter(|_| hc_http))
                        .health_check_interval_seconds(tg.health_check_interval_seconds)
                        .health_check_timeout_seconds(tg.health_check_timeout_seconds)
                        .healthy_threshold_count(tg.healthy_threshold_count)
                        .unhealthy_threshold_count(tg.unhealthy_threshold_count)
                        .set_matcher(matcher(tg).filter(|_| hc_http))
                        .send(),
                )
                .await?;
            }
            Op::ModifyTargetGroupAttributes { id } => {
                let tg = self.target_group_plan(id);
                let arn = self.tg_arn(id).ok_or_else(|| conflict(name, format!("no target group {id}")))?;
                let attributes = sdk::tg_attributes_to_sdk(&tg.attributes);
                aws.call(
                    Api::Elbv2Write,
                    name,
                    elbv2
                        .modify_target_group_attributes()
                        .target_group_arn(&arn)
                        .set_attributes(Some(attributes))
                        .send(),
                )
                .await?;
                let checkpoint = Tag { key: ATTRIBUTES_TAG.into(), value: attributes_hash(&tg.attributes) };
                aws.call(
                    Api::Elbv2Write,
                    "AddTags",
                    elbv2.add_tags().resource_arns(arn).set_tags(Some(sdk::tags_to_sdk(&[checkpoint]))).send(),
                )
                .await?;
            }
            Op::CreateListener { port } => {
                let listener = self.planned_listener(*port);
                let lb = self.lb_arn()?;
                let default_cert = listener.certificates.iter().find(|c| c.is_default);
                let request = elbv2
                    .create_listener()
                    .load_balancer_arn(lb)
                    .port(*port)
                    .protocol(ProtocolEnum::from(listener.protocol.as_str()))
                    .set_ssl_policy(listener.ssl_policy.clone())
                    .set_certificates(
                        default_cert
                            .map(|c| vec![SdkCertificate::builder().certificate_arn(&c.certificate_arn).build()]),
                    )
                    .set_alpn_policy((!listener.alpn_policy.is_empty()).then(|| listener.alpn_policy.clone()))
                    .set_mutual_authentication(
                        listener.mutual_authentication.as_ref().map(listener_settings::mutual_authentication_to_sdk),
                    )
                    .set_default_actions(Some(self.actions(&listener.default_actions, name)?))
                    .set_tags(Some(sdk::tags_to_sdk(&listener.tags)));
                match aws.call(Api::Elbv2Write, name, request.send()).await {
                    Ok(out) => {
                        let arn = out.listeners().first().and_then(|l| l.listener_arn()).unwrap_or_default();
                        lock(&self.listeners).insert(*port, arn.to_owned());
                    }
                    Err(e) if e.code == "DuplicateListener" => {
                        return Err(conflict(
                            name,
                            format!("a listener on port {port} exists already; observing again"),
                        ));
                    }
                    Err(e) => return Err(e),
                }
            }
            Op::ModifyListener { port } => {
                let listener = self.planned_listener(*port);
                let arn = self.listener(*port)?;
                let default_cert = listener.certificates.iter().find(|c| c.is_default);
                // A removed mutualAuthentication is turned off, not left as it was.
                let mutual_authentication = match &listener.mutual_authentication {
                    Some(m) => Some(listener_settings::mutual_authentication_to_sdk(m)),
                    None if listener.protocol == albatross_model::plan::types::Protocol::Https => {
                        Some(MutualAuthenticationAttributes::builder().mode("off").build())
                    }
                    None => None,
                };
                aws.call(
                    Api::Elbv2Write,
                    name,
                    elbv2
                        .modify_listener()
                        .listener_arn(arn)
                        .port(*port)
                        .protocol(ProtocolEnum::from(listener.protocol.as_str()))
                        .set_ssl_policy(listener.ssl_policy.clone())
                        .set_certificates(
                            default_cert
                                .map(|c| vec![SdkCertificate::builder().certificate_arn(&c.certificate_arn).build()]),
                        )
                        .set_alpn_policy((!listener.alpn_policy.is_empty()).then(|| listener.alpn_policy.clone()))
                        .set_mutual_authentication(mutual_authentication)
                        .set_default_actions(Some(self.actions(&listener.default_actions, name)?))
                        .send(),
                )
                .await?;
            }
            Op::ModifyListenerAttributes { port, attributes } => {
                let arn = self.listener(*port)?;
                listener_settings::modify_attributes(aws, name, &arn, attributes).await?;
            }
            Op::AddListenerCertificates { port, certificates }
            | Op::RemoveListenerCertificates { port, certificates } => {
                let arn = self.listener(*port)?;
                let certs: Vec<SdkCertificate> =
                    certificates.iter().map(|c| SdkCertificate::builder().certificate_arn(c).build()).collect();
                if matches!(op, Op::AddListenerCertificates { .. }) {
                    aws.call(
                        Api::Elbv2Write,
                        name,
                        elbv2.add_listener_certificates().listener_arn(arn).set_certificates(Some(certs)).send(),
                    )
                    .await?;
                } else {
                    aws.call(
                        Api::Elbv2Write,
                        name,
                        elbv2.remove_listener_certificates().listener_arn(arn).set_certificates(Some(certs)).send(),
                    )
                    .await?;
                }
            }
            Op::SetRulePriorities { priorities, .. } => {
                let pairs = priorities
                    .iter()
                    .map(|(arn, p)| RulePriorityPair::builder().rule_arn(arn).priority(*p as i32).build())
                    .collect();
                aws.call(Api::Elbv2Write, name, elbv2.set_rule_priorities().set_rule_priorities(Some(pairs)).send())
                    .await?;
            }
            Op::CreateRule { port, id, priority } => {
                let rule = self.planned_rule(*port, id);
                let listener = self.listener(*port)?;
                let result = aws
                    .call(
                        Api::Elbv2Write,
                        name,
                        elbv2
                            .create_rule()
                            .listener_arn(listener)
                            .priority(*priority as i32)
                            .set_conditions(Some(rule.conditions.iter().map(sdk::condition_to_sdk).collect()))
                            .set_actions(Some(self.actions(&rule.actions, name)?))
                            .set_transforms(
                                (!rule.transforms.is_empty())
                                    .then(|| rule.transforms.iter().map(sdk::transform_to_sdk).collect()),
                            )
                            .set_tags(Some(sdk::tags_to_sdk(&rule.tags)))
                            .send(),
                    )
                    .await;
                match result {
                    Ok(_) => {}
                    // A retried create whose first attempt went through, or a rule moved in
                    // meanwhile: observe again.
                    Err(e) if e.code == "PriorityInUse" => return Err(conflict(name, e.to_string())),
                    Err(e) => return Err(e),
                }
            }
            Op::ModifyRule { port, arn, id } => {
                let rule = self.planned_rule(*port, id);
                aws.call(
                    Api::Elbv2Write,
                    name,
                    elbv2
                        .modify_rule()
                        .rule_arn(arn)
                        .set_conditions(Some(rule.conditions.iter().map(sdk::condition_to_sdk).collect()))
                        .set_actions(Some(self.actions(&rule.actions, name)?))
                        .set_transforms(
                            (!rule.transforms.is_empty())
                                .then(|| rule.transforms.iter().map(sdk::transform_to_sdk).collect()),
                        )
                        .set_reset_transforms(rule.transforms.is_empty().then_some(true))
                        .send(),
                )
                .await?;
            }
            Op::DeleteRule { arn } => {
                ignore_not_found(aws.call(Api::Elbv2Write, name, elbv2.delete_rule().rule_arn(arn).send()).await)?;
            }
            Op::DeleteListener { arn } => {
                ignore_not_found(
                    aws.call(Api::Elbv2Write, name, elbv2.delete_listener().listener_arn(arn).send()).await,
                )?;
            }
            Op::DeleteTargetGroup { arn } => delete_target_group(aws, arn).await?,
            Op::DeleteLoadBalancer { arn } => {
                if deletion_protected(aws, arn).await? {
                    return Err(protected(arn, None));
                }
                delete_load_balancer(aws, arn).await?;
            }
        }
        Ok(())
    }

    fn planned_listener(&self, port: i32) -> &albatross_model::plan::types::ListenerPlan {
        self.stack.listeners.iter().find(|l| l.port == port).expect("diff names planned listeners")
    }

    fn planned_rule(&self, port: i32, id: &str) -> &albatross_model::plan::types::RulePlan {
        self.planned_listener(port).rules.iter().find(|r| r.id == id).expect("diff names planned rules")
    }
}

fn matcher(tg: &TargetGroupPlan) -> Option<Matcher> {
    tg.matcher.as_ref().map(sdk::matcher_to_sdk)
}

fn ignore_not_found<T>(result: Result<T, AwsError>) -> Result<(), AwsError> {
    match result {
        Ok(_) => Ok(()),
        Err(e) if e.class == ErrorClass::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}
