//! What exists in AWS for one stack, found by its ownership tags, in the plan's own shapes so the
//! diff compares like with like. Actions name target groups by stack id where the id is known.

use albatross_model::plan::types::{
    Action, Attribute, Certificate, Condition, MutualAuthenticationPlan, SubnetMapping, Tag, Transform,
};

#[derive(Clone, Debug, Default, PartialEq)]
pub struct StackObserved {
    pub load_balancer: Option<LoadBalancerObserved>,
    pub listeners: Vec<ListenerObserved>,
    pub target_groups: Vec<TargetGroupObserved>,
}

impl StackObserved {
    pub fn is_empty(&self) -> bool {
        self.load_balancer.is_none() && self.listeners.is_empty() && self.target_groups.is_empty()
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct LoadBalancerObserved {
    pub arn: String,
    pub name: String,
    pub dns_name: String,
    /// `provisioning`, `active`, ...
    pub state: String,
    pub r#type: String,
    pub scheme: String,
    pub ip_address_type: String,
    pub subnets: Vec<String>,
    pub security_groups: Vec<String>,
    pub attributes: Vec<Attribute>,
    pub tags: Vec<Tag>,
    pub created_with: CreatedWith,
}

/// What a load balancer was created with that no later ELBv2 call changes.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CreatedWith {
    pub customer_owned_ipv4_pool: Option<String>,
    /// Per subnet, the addresses AWS shows (it fills in private IPv4 addresses of its own
    /// choosing, so only what the plan names is compared).
    pub subnet_mappings: Vec<SubnetMapping>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ListenerObserved {
    pub arn: String,
    pub port: i32,
    pub protocol: String,
    pub ssl_policy: Option<String>,
    /// The default certificate first (`IsDefault`), then the SNI certificates.
    pub certificates: Vec<Certificate>,
    pub alpn_policy: Vec<String>,
    pub default_actions: Vec<Action>,
    /// Non-default rules in priority order.
    pub rules: Vec<RuleObserved>,
    pub mutual_authentication: Option<MutualAuthenticationPlan>,
    /// Read only for listeners whose plan sets attributes (else empty).
    pub attributes: Vec<Attribute>,
    /// Read only while the load balancer has no fingerprint (an adoption, a first convergence);
    /// `None` otherwise, so confirmed stacks cost no tag reads.
    pub tags: Option<Vec<Tag>>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct RuleObserved {
    pub arn: String,
    pub priority: u32,
    pub conditions: Vec<Condition>,
    pub actions: Vec<Action>,
    pub transforms: Vec<Transform>,
    /// As [`ListenerObserved::tags`].
    pub tags: Option<Vec<Tag>>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct TargetGroupObserved {
    pub arn: String,
    /// The stack id from the resource tag.
    pub id: String,
    pub name: String,
    pub protocol: String,
    pub protocol_version: Option<String>,
    pub port: i32,
    pub target_type: String,
    pub target_control_port: Option<i32>,
    pub health_check_protocol: String,
    pub health_check_port: String,
    pub health_check_path: Option<String>,
    pub health_check_interval_seconds: i32,
    pub health_check_timeout_seconds: i32,
    pub healthy_threshold_count: i32,
    pub unhealthy_threshold_count: i32,
    pub matcher_http_code: Option<String>,
    pub matcher_grpc_code: Option<String>,
    pub vpc_id: String,
    /// The load balancers whose listeners or rules forward to it.
    pub load_balancer_arns: Vec<String>,
    pub tags: Vec<Tag>,
}

impl TargetGroupObserved {
    pub fn tag(&self, key: &str) -> Option<&str> {
        self.tags.iter().find(|t| t.key == key).map(|t| t.value.as_str())
    }
}
