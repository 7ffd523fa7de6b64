//! A Gateway's stack made in moto exactly as the AWS Load Balancer Controller v3.5 names and
//! tags it (`shared/reference/lbc-compat.md`): the load balancer, its managed and shared backend
//! security groups, listeners, rules at priorities 1..N and target groups. The formulas are
//! written out here, from LBC's, not taken from the code under test; only the hash primitive
//! (SHA-256 of the parts one after another, hex, first 10) is shared.

use albatross_model::plan::naming::hash10;
use aws_sdk_ec2::types::{IpPermission, IpRange};
use aws_sdk_elasticloadbalancingv2::types::{
    Action, ActionTypeEnum, FixedResponseActionConfig, ForwardActionConfig, LoadBalancerSchemeEnum,
    LoadBalancerTypeEnum, Matcher, PathPatternConditionConfig, ProtocolEnum, RuleCondition, Tag as ElbTag,
    TargetGroupTuple, TargetTypeEnum,
};

use crate::local::{Aws, Filter, ResourceType, Tag, TagSpecification};

fn clean(s: &str, n: usize) -> String {
    s.chars().filter(char::is_ascii_alphanumeric).take(n).collect()
}

fn name(a: &str, b: &str, hashed: &[&str]) -> String {
    format!("k8s-{}-{}-{}", clean(a, 8), clean(b, 8), hash10(hashed))
}

/// One backend of one route, behind one listener.
pub struct LbcBackend {
    pub route: (&'static str, &'static str),
    /// `HTTPRoute`, `TCPRoute`, ...
    pub kind: &'static str,
    pub service: (&'static str, &'static str),
    pub target_port: i32,
    pub listener_port: i32,
    /// ALB: the rule's path-pattern values (one rule per backend, in priority order).
    pub paths: Vec<&'static str>,
}

pub struct LbcGateway {
    pub namespace: &'static str,
    pub name: &'static str,
    pub uid: &'static str,
    pub alb: bool,
    pub scheme: &'static str,
    /// `loadBalancerName` of its LoadBalancerConfiguration, if any.
    pub load_balancer_name: Option<&'static str>,
    /// `(port, protocol)`.
    pub listeners: Vec<(i32, &'static str)>,
    pub backends: Vec<LbcBackend>,
}

/// What the seeding made, by ARN.
#[derive(Debug, PartialEq)]
pub struct Seeded {
    pub load_balancer: String,
    pub dns_name: String,
    /// `(port, arn)`.
    pub listeners: Vec<(i32, String)>,
    /// `(resource id, arn)`.
    pub target_groups: Vec<(String, String)>,
}

impl LbcGateway {
    fn prefix(&self) -> &'static str {
        if self.alb { "gateway.k8s.aws.alb" } else { "gateway.k8s.aws.nlb" }
    }

    fn tags(&self, cluster: &str, resource: &str) -> Vec<(String, String)> {
        vec![
            ("elbv2.k8s.aws/cluster".into(), cluster.into()),
            (format!("{}/stack", self.prefix()), format!("{}/{}", self.namespace, self.name)),
            (format!("{}/resource", self.prefix()), resource.into()),
        ]
    }

    fn elb_tags(&self, cluster: &str, resource: &str) -> Vec<ElbTag> {
        self.tags(cluster, resource).into_iter().map(|(k, v)| ElbTag::builder().key(k).value(v).build()).collect()
    }

    fn resource_id(&self, b: &LbcBackend) -> String {
        format!(
            "{}/{}:{}-{}:{}-{}-{}:{}",
            self.namespace, self.name, b.route.0, b.route.1, b.kind, b.service.0, b.service.1, b.target_port
        )
    }

    fn target_group_name(&self, cluster: &str, b: &LbcBackend) -> String {
        let port = b.target_port.to_string();
        let mut hashed = vec![
            cluster,
            self.namespace,
            self.name,
            b.route.0,
            b.route.1,
            b.kind,
            b.service.0,
            b.service.1,
            &port,
            "ip",
            if self.alb { "HTTP" } else { "TCP" },
        ];
        if self.alb {
            hashed.push("HTTP1");
        }
        name(b.route.0, b.route.1, &hashed)
    }

    /// Makes the stack; panics when moto refuses (a test cannot go on without it).
    pub async fn seed(&self, aws: &Aws, vpc: &str, cluster: &str) -> Seeded {
        let subnets = aws.ec2.describe_subnets().filters(Filter::builder().name("vpc-id").values(vpc).build());
        let subnets = subnets.send().await.unwrap();
        let subnets: Vec<String> = subnets.subnets().iter().filter_map(|s| s.subnet_id().map(str::to_owned)).collect();

        // The managed group (cluster, Gateway name, namespace, uid) and the shared backend group.
        let managed = name(self.namespace, self.name, &[cluster, self.name, self.namespace, self.uid]);
        let managed_tags = self.tags(cluster, "ManagedLBSecurityGroup");
        let managed = self
            .security_group(aws, vpc, &managed, "[k8s] Managed SecurityGroup for LoadBalancer", &managed_tags)
            .await;
        for (port, protocol) in &self.listeners {
            let ip_protocol = if *protocol == "UDP" { "udp" } else { "tcp" };
            let permission = IpPermission::builder()
                .ip_protocol(ip_protocol)
                .from_port(*port)
                .to_port(*port)
                .ip_ranges(IpRange::builder().cidr_ip("0.0.0.0/0").build())
                .build();
            let ingress = aws.ec2.authorize_security_group_ingress().group_id(&managed).ip_permissions(permission);
            ingress.send().await.unwrap();
        }
        let backend = format!("k8s-traffic-{}-{}", clean(cluster, 232), hash10(&[cluster]));
        let backend_tags = vec![
            ("elbv2.k8s.aws/cluster".to_owned(), cluster.to_owned()),
            ("elbv2.k8s.aws/resource".into(), "backend-sg".into()),
        ];
        let backend = self
            .security_group(aws, vpc, &backend, "[k8s] Shared Backend SecurityGroup for LoadBalancer", &backend_tags)
            .await;

        let lb_name = self
            .load_balancer_name
            .map(str::to_owned)
            .unwrap_or_else(|| name(self.namespace, self.name, &[cluster, self.uid, self.scheme]));
        let lb = aws
            .elbv2
            .create_load_balancer()
            .name(&lb_name)
            .r#type(if self.alb { LoadBalancerTypeEnum::Application } else { LoadBalancerTypeEnum::Network })
            .scheme(LoadBalancerSchemeEnum::from(self.scheme))
            .set_subnets(Some(subnets))
            .security_groups(managed)
            .security_groups(backend)
            .set_tags(Some(self.elb_tags(cluster, "LoadBalancer")))
            .send()
            .await
            .unwrap();
        let lb = &lb.load_balancers()[0];
        let lb_arn = lb.load_balancer_arn().unwrap().to_owned();

        let mut target_groups = Vec::new();
        for b in &self.backends {
            let request = aws
                .elbv2
                .create_target_group()
                .name(self.target_group_name(cluster, b))
                .port(b.target_port)
                .vpc_id(vpc)
                .target_type(TargetTypeEnum::Ip)
                .health_check_port("traffic-port")
                .health_check_interval_seconds(15)
                .health_check_timeout_seconds(5)
                .healthy_threshold_count(3)
                .unhealthy_threshold_count(3)
                .set_tags(Some(self.elb_tags(cluster, &self.resource_id(b))));
            let request = if self.alb {
                request
                    .protocol(ProtocolEnum::Http)
                    .protocol_version("HTTP1")
                    .health_check_protocol(ProtocolEnum::Http)
                    .health_check_path("/")
                    .matcher(Matcher::builder().http_code("200-399").build())
            } else {
                request.protocol(ProtocolEnum::Tcp).health_check_protocol(ProtocolEnum::Tcp)
            };
            let tg = request.send().await.unwrap();
            target_groups.push((self.resource_id(b), tg.target_groups()[0].target_group_arn().unwrap().to_owned()));
        }
        let forward = |arn: &str| {
            let group = TargetGroupTuple::builder().target_group_arn(arn).weight(1).build();
            Action::builder()
                .r#type(ActionTypeEnum::Forward)
                .order(1)
                .forward_config(ForwardActionConfig::builder().target_groups(group).build())
                .build()
        };

        let mut listeners = Vec::new();
        for (port, protocol) in &self.listeners {
            let default = if self.alb {
                let response =
                    FixedResponseActionConfig::builder().status_code("404").content_type("text/plain").build();
                Action::builder().r#type(ActionTypeEnum::FixedResponse).order(1).fixed_response_config(response).build()
            } else {
                let (_, (_, arn)) =
                    self.backends.iter().zip(&target_groups).find(|(b, _)| b.listener_port == *port).unwrap();
                forward(arn)
            };
            let listener = aws
                .elbv2
                .create_listener()
                .load_balancer_arn(&lb_arn)
                .port(*port)
                .protocol(ProtocolEnum::from(*protocol))
                .default_actions(default)
                .set_tags(Some(self.elb_tags(cluster, &port.to_string())))
                .send()
                .await
                .unwrap();
            let arn = listener.listeners()[0].listener_arn().unwrap().to_owned();
            if self.alb {
                let on_port = self.backends.iter().zip(&target_groups).filter(|(b, _)| b.listener_port == *port);
                for (priority, (b, (_, tg))) in (1..).zip(on_port) {
                    let paths = PathPatternConditionConfig::builder()
                        .set_values(Some(b.paths.iter().map(|p| p.to_string()).collect()));
                    let condition =
                        RuleCondition::builder().field("path-pattern").path_pattern_config(paths.build()).build();
                    aws.elbv2
                        .create_rule()
                        .listener_arn(&arn)
                        .priority(priority)
                        .conditions(condition)
                        .actions(forward(tg))
                        .set_tags(Some(self.elb_tags(cluster, &format!("{port}:{priority}"))))
                        .send()
                        .await
                        .unwrap();
                }
            }
            listeners.push((*port, arn));
        }
        Seeded { load_balancer: lb_arn, dns_name: lb.dns_name().unwrap().to_owned(), listeners, target_groups }
    }

    async fn security_group(
        &self,
        aws: &Aws,
        vpc: &str,
        name: &str,
        description: &str,
        tags: &[(String, String)],
    ) -> String {
        let spec = TagSpecification::builder()
            .resource_type(ResourceType::SecurityGroup)
            .set_tags(Some(tags.iter().map(|(k, v)| Tag::builder().key(k).value(v).build()).collect()))
            .build();
        let group = aws
            .ec2
            .create_security_group()
            .group_name(name)
            .description(description)
            .vpc_id(vpc)
            .tag_specifications(spec)
            .send()
            .await
            .unwrap();
        group.group_id().unwrap().to_owned()
    }
}

/// What exists now of a seeded stack's kind: the same shape as [`Seeded`], read from AWS.
pub async fn observed(aws: &Aws, load_balancer: &str) -> Seeded {
    let lb = aws.elbv2.describe_load_balancers().load_balancer_arns(load_balancer).send().await.unwrap();
    let lb = &lb.load_balancers()[0];
    let listeners = aws.elbv2.describe_listeners().load_balancer_arn(load_balancer).send().await.unwrap();
    let mut listeners: Vec<(i32, String)> =
        listeners.listeners().iter().map(|l| (l.port().unwrap(), l.listener_arn().unwrap().to_owned())).collect();
    listeners.sort();
    let groups = aws.elbv2.describe_target_groups().send().await.unwrap();
    let mut target_groups = Vec::new();
    for g in groups.target_groups() {
        let arn = g.target_group_arn().unwrap();
        let tags = aws.elbv2.describe_tags().resource_arns(arn).send().await.unwrap();
        let id = tags.tag_descriptions()[0]
            .tags()
            .iter()
            .find(|t| t.key().is_some_and(|k| k.ends_with("/resource")))
            .and_then(|t| t.value())
            .unwrap_or_default()
            .to_owned();
        target_groups.push((id, arn.to_owned()));
    }
    target_groups.sort();
    Seeded {
        load_balancer: lb.load_balancer_arn().unwrap().to_owned(),
        dns_name: lb.dns_name().unwrap().to_owned(),
        listeners,
        target_groups,
    }
}
