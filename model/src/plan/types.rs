//! The plan in the ELBv2 API's own shapes and field names, as `aws elbv2 describe-*` prints them.
//! Actions name target groups by their stack `Id` where the API puts `TargetGroupArn`.

use serde::{Deserialize, Serialize};

pub use super::wire::{LoadBalancerType, Protocol, Scheme, TargetType};

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Tag {
    pub key: String,
    pub value: String,
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Attribute {
    pub key: String,
    pub value: String,
}

/// One Gateway's AWS resources.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Stack {
    /// `namespace/name` of the Gateway.
    pub gateway: String,
    pub load_balancer: LoadBalancerPlan,
    pub listeners: Vec<ListenerPlan>,
    pub target_groups: Vec<TargetGroupPlan>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct LoadBalancerPlan {
    pub load_balancer_name: String,
    pub r#type: LoadBalancerType,
    pub scheme: Scheme,
    pub ip_address_type: String,
    /// Subnet IDs or names from the configuration or the environment; empty when they are
    /// discovered at apply time.
    pub subnets: Vec<String>,
    /// Security groups from the configuration; empty means a managed group per load balancer.
    pub security_groups: Vec<String>,
    /// The name of that managed group, as LBC names it; absent with configured groups.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub managed_security_group_name: Option<String>,
    /// Subnet tags to select subnets by when the configuration names none (discovered at apply).
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty", default)]
    pub subnet_selector: std::collections::BTreeMap<String, Vec<String>>,
    /// CIDRs the managed security group opens the listener ports to; empty means anywhere.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub source_ranges: Vec<String>,
    pub attributes: Vec<Attribute>,
    pub tags: Vec<Tag>,
    /// LoadBalancerConfiguration settings beyond the basics (`plan/lb_settings.rs`).
    #[serde(flatten)]
    pub settings: LoadBalancerSettings,
}

/// What a LoadBalancerConfiguration sets besides name, scheme, subnets and attributes, in the
/// shapes of the API that applies each (ELBv2, EC2, WAFv2, Shield). Unset fields are not shown.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct LoadBalancerSettings {
    /// [NLB] CreateLoadBalancer `SubnetMappings`: the addresses per subnet.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subnet_mappings: Vec<SubnetMapping>,
    /// [ALB on Outposts] CreateLoadBalancer `CustomerOwnedIpv4Pool`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_owned_ipv4_pool: Option<String>,
    /// [ALB] `IpamPools` (CreateLoadBalancer, then ModifyIpPools).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ipam_pools: Option<IpamPools>,
    /// [NLB] SetSecurityGroups `EnforceSecurityGroupInboundRulesOnPrivateLinkTraffic` (`on`/`off`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enforce_security_group_inbound_rules_on_private_link_traffic: Option<String>,
    /// ModifyCapacityReservation; `None` resets a reservation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub minimum_load_balancer_capacity: Option<MinimumLoadBalancerCapacity>,
    /// Managed prefix lists the managed security group lets in (with or instead of CIDRs).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub security_group_prefixes: Vec<String>,
    /// [NLB] No security groups at all.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub disable_security_group: bool,
    /// [NLB] ICMP destination-unreachable/fragmentation-needed (and ICMPv6 packet-too-big) into
    /// the managed security group, for path MTU discovery.
    #[serde(default, skip_serializing_if = "std::ops::Not::not", rename = "EnableICMP")]
    pub enable_icmp: bool,
    /// With `SecurityGroups` given, the cluster's backend security group is added to them so
    /// node and pod rules that admit it still apply.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub manage_backend_security_group_rules: bool,
    /// [ALB] wafv2 AssociateWebACL: the regional web ACL's ARN or name.
    #[serde(default, skip_serializing_if = "Option::is_none", rename = "WebACL")]
    pub web_acl: Option<String>,
    /// [ALB] Shield Advanced CreateProtection for the load balancer.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub shield_protection: bool,
}

/// One entry of CreateLoadBalancer `SubnetMappings`; `SubnetId` may be a subnet's Name tag
/// until apply resolves it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SubnetMapping {
    pub subnet_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allocation_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none", rename = "PrivateIPv4Address")]
    pub private_ipv4_address: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none", rename = "IPv6Address")]
    pub ipv6_address: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_nat_ipv6_prefix: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct IpamPools {
    pub ipv4_ipam_pool_id: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct MinimumLoadBalancerCapacity {
    pub capacity_units: i32,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListenerPlan {
    pub port: i32,
    pub protocol: Protocol,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssl_policy: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub certificates: Vec<Certificate>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub alpn_policy: Vec<String>,
    pub default_actions: Vec<Action>,
    pub rules: Vec<RulePlan>,
    pub tags: Vec<Tag>,
    /// Mutual TLS of an ALB HTTPS listener.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mutual_authentication: Option<MutualAuthenticationPlan>,
    /// Listener attributes (`ModifyListenerAttributes`), sorted by key.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attributes: Vec<Attribute>,
}

/// ELBv2's listener `MutualAuthentication`; the trust store settings only in mode `verify`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct MutualAuthenticationPlan {
    /// `off`, `passthrough` or `verify`.
    pub mode: String,
    /// The trust store's ARN, or its name until apply looks it up (DescribeTrustStores).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trust_store_arn: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ignore_client_certificate_expiry: Option<bool>,
    /// `on` or `off`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub advertise_trust_store_ca_names: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Certificate {
    pub certificate_arn: String,
    pub is_default: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RulePlan {
    /// Stable identity: the same route rule, match and hostname give the same id whatever else
    /// changes.
    pub id: String,
    pub priority: u32,
    pub conditions: Vec<Condition>,
    pub actions: Vec<Action>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub transforms: Vec<Transform>,
    pub tags: Vec<Tag>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct Condition {
    pub field: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_header_config: Option<Values>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path_pattern_config: Option<Values>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_header_config: Option<HttpHeaderConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query_string_config: Option<QueryStringConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_request_method_config: Option<Values>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_ip_config: Option<Values>,
}

impl Condition {
    /// How many of the rule's 5 condition values this condition uses.
    pub fn value_count(&self) -> usize {
        let values = |v: &Option<Values>| v.as_ref().map_or(0, |v| v.values.len() + v.regex_values.len());
        values(&self.host_header_config)
            + values(&self.path_pattern_config)
            + values(&self.http_request_method_config)
            + values(&self.source_ip_config)
            + self.http_header_config.as_ref().map_or(0, |h| h.values.len() + h.regex_values.len())
            + self.query_string_config.as_ref().map_or(0, |q| q.values.len())
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct Values {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub regex_values: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct HttpHeaderConfig {
    pub http_header_name: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub regex_values: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct QueryStringConfig {
    pub values: Vec<KeyValue>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct KeyValue {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    pub value: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct Action {
    pub r#type: String,
    pub order: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forward_config: Option<ForwardConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redirect_config: Option<RedirectConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fixed_response_config: Option<FixedResponseConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authenticate_oidc_config: Option<AuthenticateOidcConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authenticate_cognito_config: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwt_validation_config: Option<serde_json::Value>,
}

/// ELBv2's `AuthenticateOidcConfig`. The client credentials are [`Credential`]s: the plan names
/// the Secret keys, and only these two fields are ever resolved to values.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AuthenticateOidcConfig {
    pub issuer: String,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    pub user_info_endpoint: String,
    pub client_id: Credential,
    /// Absent when the rule keeps the secret AWS already holds (`UseExistingClientSecret`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<Credential>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_cookie_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_timeout: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authentication_request_extra_params: Option<std::collections::BTreeMap<String, String>>,
    /// `deny`, `allow` or `authenticate`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_unauthenticated_request: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub use_existing_client_secret: Option<bool>,
}

/// An OIDC client credential: in the plan, where to read it (`{"SecretRef": {...}}`, which no
/// user string can be mistaken for); on its way to AWS, and as AWS describes the client id, the
/// value. `Debug` never prints a value.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Credential {
    SecretRef(SecretKeyRef),
    Value(String),
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Credential::SecretRef(r) => f.debug_tuple("SecretRef").field(r).finish(),
            Credential::Value(_) => f.write_str("Value(<redacted>)"),
        }
    }
}

/// A key of a Secret. The model sets `namespace` to that of the ListenerRuleConfiguration
/// naming the Secret, never from user text.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct SecretKeyRef {
    pub namespace: String,
    pub name: String,
    pub key: String,
}

impl std::fmt::Display for SecretKeyRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "key {} of Secret {}/{}", self.key, self.namespace, self.name)
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ForwardConfig {
    pub target_groups: Vec<WeightedTargetGroup>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_group_stickiness_config: Option<StickinessConfig>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct WeightedTargetGroup {
    /// The target group's stack `Id` (an ARN once it exists).
    pub target_group_arn: String,
    pub weight: i32,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct StickinessConfig {
    pub enabled: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_seconds: Option<i32>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct RedirectConfig {
    pub protocol: String,
    pub port: String,
    pub host: String,
    pub path: String,
    pub query: String,
    pub status_code: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct FixedResponseConfig {
    pub status_code: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_body: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Transform {
    pub r#type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url_rewrite_config: Option<RewriteConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_header_rewrite_config: Option<RewriteConfig>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RewriteConfig {
    pub rewrites: Vec<Rewrite>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Rewrite {
    pub regex: String,
    pub replace: String,
}

/// The Kubernetes backend a target group serves.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Backend {
    pub namespace: String,
    pub name: String,
    pub port: i32,
    /// Instance targets: only nodes this selector matches are registered.
    #[serde(rename = "nodeSelector", default, skip_serializing_if = "Option::is_none")]
    pub node_selector: Option<k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector>,
    /// The target group is shared with other clusters: only targets this cluster registered are
    /// ever deregistered.
    #[serde(rename = "multiCluster", default, skip_serializing_if = "std::ops::Not::not")]
    pub multi_cluster: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TargetGroupPlan {
    pub id: String,
    pub target_group_name: String,
    pub protocol: Protocol,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol_version: Option<String>,
    pub port: i32,
    pub target_type: TargetType,
    /// `ipv4` or `ipv6`; unset leaves ELBv2's default (`ipv4`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_address_type: Option<String>,
    /// Port of the targets' control agent (ALB, ip targets); immutable in ELBv2.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_control_port: Option<i32>,
    pub health_check_protocol: String,
    pub health_check_port: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health_check_path: Option<String>,
    pub health_check_interval_seconds: i32,
    pub health_check_timeout_seconds: i32,
    pub healthy_threshold_count: i32,
    pub unhealthy_threshold_count: i32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub matcher: Option<Matcher>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attributes: Vec<Attribute>,
    pub tags: Vec<Tag>,
    pub backend: Backend,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Matcher {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grpc_code: Option<String>,
}
