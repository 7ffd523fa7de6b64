//! `LoadBalancerConfiguration`: load balancer and listener settings of a Gateway, attached through
//! the Gateway's `spec.infrastructure.parametersRef` or the GatewayClass's `spec.parametersRef`.
//!
//! Field names, enums and the mutual-authentication rules are those of the AWS Load Balancer
//! Controller (`apis/gateway/v1/loadbalancerconfig_types.go`); the further bounds and CEL rules
//! reject, at admission, settings that AWS or the controller would refuse or silently ignore.

use std::collections::BTreeMap;

use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::common::{Attribute, ELB_NAME_PATTERN, OBJECT_NAME_PATTERN, subnet_selector_schema, tags_schema};

/// Load balancer settings of a Gateway (or of every Gateway of a GatewayClass).
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[kube(
    group = "gateway.k8s.aws",
    version = "v1",
    kind = "LoadBalancerConfiguration",
    namespaced,
    status = "LoadBalancerConfigurationStatus",
    shortname = "lbconfig",
    derive = "PartialEq",
    doc = "LoadBalancerConfiguration holds the AWS load balancer and listener settings of a Gateway or GatewayClass.",
    printcolumn(name = "SCHEME", type_ = "string", json_path = ".spec.scheme"),
    printcolumn(name = "AGE", type_ = "date", json_path = ".metadata.creationTimestamp")
)]
#[serde(rename_all = "camelCase")]
#[x_kube(
    validation = Rule::new(
        "!has(self.loadBalancerSubnets) || !has(self.scheme) || self.scheme == 'internet-facing' || !self.loadBalancerSubnets.exists(s, has(s.eipAllocation))"
    ).message("eipAllocation requires scheme internet-facing").field_path(".loadBalancerSubnets"),
    validation = Rule::new(
        "!has(self.loadBalancerSubnets) || !has(self.scheme) || self.scheme == 'internal' || !self.loadBalancerSubnets.exists(s, has(s.privateIPv4Allocation))"
    ).message("privateIPv4Allocation requires scheme internal").field_path(".loadBalancerSubnets"),
    validation = Rule::new(
        "!has(self.loadBalancerSubnets) || !has(self.ipAddressType) || self.ipAddressType != 'ipv4' || !self.loadBalancerSubnets.exists(s, has(s.ipv6Allocation) || has(s.sourceNatIPv6Prefix))"
    ).message("ipv6Allocation and sourceNatIPv6Prefix require a dualstack ipAddressType").field_path(".loadBalancerSubnets"),
    validation = Rule::new(
        "!has(self.disableSecurityGroup) || !self.disableSecurityGroup || ((!has(self.securityGroups) || size(self.securityGroups) == 0) && (!has(self.securityGroupPrefixes) || size(self.securityGroupPrefixes) == 0) && (!has(self.sourceRanges) || size(self.sourceRanges) == 0))"
    ).message("disableSecurityGroup cannot be combined with securityGroups, securityGroupPrefixes or sourceRanges").field_path(".disableSecurityGroup"),
    validation = Rule::new(
        "!has(self.securityGroups) || size(self.securityGroups) == 0 || ((!has(self.securityGroupPrefixes) || size(self.securityGroupPrefixes) == 0) && (!has(self.sourceRanges) || size(self.sourceRanges) == 0))"
    ).message("securityGroupPrefixes and sourceRanges configure the managed security group, which securityGroups replaces; set the rules on your own security groups instead").field_path(".securityGroups"),
)]
pub struct LoadBalancerConfigurationSpec {
    /// How this configuration merges with the Gateway's own when attached to a GatewayClass:
    /// which side wins for fields both set. Honored only on the GatewayClass's configuration;
    /// defaults to prefer-gateway-class.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub merging_mode: Option<MergingMode>,

    /// Name of the load balancer; generated when unset. At most 32 characters: letters, digits
    /// and hyphens, not starting or ending with a hyphen, not starting with `internal-`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 32), pattern(ELB_NAME_PATTERN))]
    #[x_kube(
        validation = Rule::new("!self.startsWith('internal-')").message("loadBalancerName must not start with 'internal-'")
    )]
    pub load_balancer_name: Option<String>,

    /// Whether the load balancer is reachable from the internet; defaults to the controller's
    /// `--default-load-balancer-scheme` (internal).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scheme: Option<LoadBalancerScheme>,

    /// IP address type of the load balancer; defaults to ipv4.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip_address_type: Option<LoadBalancerIpAddressType>,

    /// [NLB] Whether inbound security group rules apply to traffic arriving through AWS
    /// PrivateLink.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enforce_security_group_inbound_rules_on_private_link_traffic: Option<OnOff>,

    /// [ALB on Outposts] ID of the customer-owned IPv4 address pool.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 256), pattern(r"^ipv4pool-coip-[a-zA-Z0-9]+$"))]
    pub customer_owned_ipv4_pool: Option<String>,

    /// [ALB] ID of the IPAM pool the load balancer's IPv4 addresses come from.
    #[serde(rename = "ipv4IPAMPoolId", skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 1000), pattern(r"^ipam-pool-[a-zA-Z0-9]+$"))]
    pub ipv4_ipam_pool_id: Option<String>,

    /// Subnets of the load balancer, one per Availability Zone. Takes precedence over
    /// loadBalancerSubnetsSelector. A per-subnet allocation must be set on every subnet or on none.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 32))]
    #[x_kube(
        merge_strategy = ListMerge::Map(vec!["identifier".into()]),
        validation = Rule::new("self.all(s, has(s.eipAllocation)) || self.all(s, !has(s.eipAllocation))").message("eipAllocation must be set on every subnet or on none"),
        validation = Rule::new("self.all(s, has(s.privateIPv4Allocation)) || self.all(s, !has(s.privateIPv4Allocation))").message("privateIPv4Allocation must be set on every subnet or on none"),
        validation = Rule::new("self.all(s, has(s.ipv6Allocation)) || self.all(s, !has(s.ipv6Allocation))").message("ipv6Allocation must be set on every subnet or on none"),
        validation = Rule::new("self.all(s, has(s.sourceNatIPv6Prefix)) || self.all(s, !has(s.sourceNatIPv6Prefix))").message("sourceNatIPv6Prefix must be set on every subnet or on none"),
    )]
    pub load_balancer_subnets: Option<Vec<SubnetConfiguration>>,

    /// Selects subnets by tag: tag key to accepted values.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "subnet_selector_schema")]
    pub load_balancer_subnets_selector: Option<BTreeMap<String, Vec<String>>>,

    /// Settings per listener, keyed by `protocolPort` (for example `HTTPS:443`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 50))]
    #[x_kube(merge_strategy = ListMerge::Map(vec!["protocolPort".into()]))]
    pub listener_configurations: Option<Vec<ListenerConfiguration>>,

    /// [NLB] Provision the load balancer without security groups.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disable_security_group: Option<bool>,

    /// Security groups (IDs or names) of the load balancer, instead of the managed one (an
    /// empty list means the managed one, as when unset).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 5), inner(length(min = 1, max = 255)))]
    #[x_kube(merge_strategy = ListMerge::Set)]
    pub security_groups: Option<Vec<String>>,

    /// Managed prefix lists (`pl-...`) allowed in by the managed security group.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 60), inner(pattern(r"^pl-[0-9a-f]{8,17}$")))]
    #[x_kube(merge_strategy = ListMerge::Set)]
    pub security_group_prefixes: Option<Vec<String>>,

    /// CIDRs allowed in by the managed security group; defaults to 0.0.0.0/0 (and ::/0 when
    /// dual-stack).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 1000), inner(length(max = 43)))]
    #[x_kube(
        merge_strategy = ListMerge::Set,
        validation = Rule::new("self.all(r, isCIDR(r))").message("every sourceRanges entry must be a CIDR such as 10.0.0.0/16 or 2001:db8::/32"),
    )]
    pub source_ranges: Option<Vec<String>>,

    /// Raw ELBv2 load balancer attributes.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 64))]
    #[x_kube(merge_strategy = ListMerge::Map(vec!["key".into()]))]
    pub load_balancer_attributes: Option<Vec<Attribute>>,

    /// AWS tags of the load balancer, its listeners and the managed security group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "tags_schema")]
    pub tags: Option<BTreeMap<String, String>>,

    /// [NLB] Allow ICMP into the managed security group, for path MTU discovery.
    #[serde(rename = "enableICMP", skip_serializing_if = "Option::is_none")]
    pub enable_icmp: Option<bool>,

    /// When securityGroups is set, still manage the node and pod security group rules for the
    /// load balancer's traffic.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub manage_backend_security_group_rules: Option<bool>,

    /// Capacity reservation of the load balancer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub minimum_load_balancer_capacity: Option<MinimumLoadBalancerCapacity>,

    /// [ALB] AWS WAF web ACL associated with the load balancer.
    #[serde(rename = "wafV2", skip_serializing_if = "Option::is_none")]
    pub waf_v2: Option<WafV2Configuration>,

    /// [ALB] AWS Shield Advanced protection of the load balancer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shield_configuration: Option<ShieldConfiguration>,

    /// A TargetGroupConfiguration in this namespace whose settings are the defaults of every
    /// target group of the Gateway; a Service's own TargetGroupConfiguration overrides them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default_target_group_configuration: Option<DefaultTargetGroupConfigurationReference>,
}

/// Which configuration wins when both the GatewayClass and the Gateway have one.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MergingMode {
    #[serde(rename = "prefer-gateway")]
    PreferGateway,
    #[serde(rename = "prefer-gateway-class")]
    PreferGatewayClass,
}

/// Scheme of a load balancer.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LoadBalancerScheme {
    #[serde(rename = "internal")]
    Internal,
    #[serde(rename = "internet-facing")]
    InternetFacing,
}

/// IP address type of a load balancer.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LoadBalancerIpAddressType {
    #[serde(rename = "ipv4")]
    Ipv4,
    #[serde(rename = "dualstack")]
    Dualstack,
    #[serde(rename = "dualstack-without-public-ipv4")]
    DualstackWithoutPublicIpv4,
}

/// `on` or `off`.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OnOff {
    #[serde(rename = "on")]
    On,
    #[serde(rename = "off")]
    Off,
}

/// One subnet of the load balancer and, for NLBs, the addresses it uses there.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct SubnetConfiguration {
    /// Subnet ID (`subnet-...`) or the value of the subnet's Name tag.
    #[schemars(length(min = 1, max = 256))]
    pub identifier: String,

    /// [NLB, internet-facing] Elastic IP allocation (`eipalloc-...`) for this subnet.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 64), pattern(r"^eipalloc-[0-9a-f]+$"))]
    pub eip_allocation: Option<String>,

    /// [NLB, internal] Private IPv4 address of the load balancer in this subnet.
    #[serde(rename = "privateIPv4Allocation", skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 15))]
    #[x_kube(
        validation = Rule::new("isIP(self) && ip(self).family() == 4").message("privateIPv4Allocation must be an IPv4 address")
    )]
    pub private_ipv4_allocation: Option<String>,

    /// [NLB, dual-stack] IPv6 address of the load balancer in this subnet.
    #[serde(rename = "ipv6Allocation", skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 45))]
    #[x_kube(
        validation = Rule::new("isIP(self) && ip(self).family() == 6").message("ipv6Allocation must be an IPv6 address")
    )]
    pub ipv6_allocation: Option<String>,

    /// [NLB, dual-stack] IPv6 prefix (/80) from the subnet for source NAT, or `auto_assigned`.
    #[serde(rename = "sourceNatIPv6Prefix", skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 49))]
    #[x_kube(
        validation = Rule::new("self == 'auto_assigned' || (isCIDR(self) && cidr(self).ip().family() == 6 && cidr(self).prefixLength() == 80)").message("sourceNatIPv6Prefix must be an IPv6 /80 prefix or auto_assigned")
    )]
    pub source_nat_ipv6_prefix: Option<String>,
}

/// Settings of one listener.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
#[x_kube(
    validation = Rule::new(
        "(!has(self.defaultCertificate) && !has(self.certificates) && !has(self.sslPolicy)) || self.protocolPort.startsWith('HTTPS:') || self.protocolPort.startsWith('TLS:')"
    ).message("defaultCertificate, certificates and sslPolicy apply only to HTTPS and TLS listeners"),
    validation = Rule::new(
        "!has(self.alpnPolicy) || self.alpnPolicy == 'None' || self.protocolPort.startsWith('TLS:')"
    ).message("alpnPolicy applies only to TLS listeners").field_path(".alpnPolicy"),
    validation = Rule::new(
        "!has(self.mutualAuthentication) || !has(self.mutualAuthentication.mode) || self.mutualAuthentication.mode == 'off' || self.protocolPort.startsWith('HTTPS:')"
    ).message("mutualAuthentication applies only to HTTPS listeners").field_path(".mutualAuthentication"),
    validation = Rule::new(
        "!has(self.quicEnabled) || !self.quicEnabled || self.protocolPort.startsWith('UDP:') || self.protocolPort.startsWith('TCP_UDP:')"
    ).message("quicEnabled applies only to UDP and TCP_UDP listeners").field_path(".quicEnabled"),
)]
pub struct ListenerConfiguration {
    /// The listener this applies to, as PROTOCOL:PORT (`HTTP:80`, `HTTPS:443`, `TLS:8443`,
    /// `TCP:5432`, `UDP:53`, `TCP_UDP:53`), compared with the listener's effective protocol and
    /// port.
    #[schemars(length(max = 16), pattern(
        r"^(HTTP|HTTPS|TLS|TCP|UDP|TCP_UDP):(6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[1-9][0-9]{0,3})$"
    ))]
    pub protocol_port: String,

    /// ARN of the default certificate (ACM or IAM server certificate).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 2048), pattern(CERTIFICATE_ARN_PATTERN))]
    pub default_certificate: Option<String>,

    /// ARNs of further certificates for SNI.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 25), inner(length(max = 2048), pattern(CERTIFICATE_ARN_PATTERN)))]
    #[x_kube(merge_strategy = ListMerge::Set)]
    pub certificates: Option<Vec<String>>,

    /// Security policy of an HTTPS or TLS listener; defaults to the controller's
    /// `--default-ssl-policy`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 128), pattern(r"^ELBSecurityPolicy-[A-Za-z0-9-]+$"))]
    pub ssl_policy: Option<String>,

    /// [NLB, TLS] ALPN policy of the listener.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = "None"))]
    pub alpn_policy: Option<AlpnPolicy>,

    /// [NLB] Sticky routing when the default action forwards to weighted target groups.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_group_stickiness: Option<bool>,

    /// [ALB, HTTPS] Mutual TLS.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mutual_authentication: Option<MutualAuthentication>,

    /// Raw ELBv2 listener attributes.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 64))]
    #[x_kube(merge_strategy = ListMerge::Map(vec!["key".into()]))]
    pub listener_attributes: Option<Vec<Attribute>>,

    /// [NLB] Upgrade UDP to QUIC and TCP_UDP to TCP_QUIC.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quic_enabled: Option<bool>,
}

/// ARN of an ACM certificate or an IAM server certificate.
const CERTIFICATE_ARN_PATTERN: &str =
    r"^arn:aws[a-z-]*:(acm:[a-z0-9-]+:[0-9]{12}:certificate/[A-Za-z0-9-]+|iam::[0-9]{12}:server-certificate/.+)$";

/// ALPN policy of a TLS listener.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AlpnPolicy {
    #[serde(rename = "HTTP1Only")]
    Http1Only,
    #[serde(rename = "HTTP2Only")]
    Http2Only,
    #[serde(rename = "HTTP2Optional")]
    Http2Optional,
    #[serde(rename = "HTTP2Preferred")]
    Http2Preferred,
    #[serde(rename = "None")]
    None,
}

/// Mutual TLS of an ALB HTTPS listener.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
#[x_kube(
    validation = Rule::new("!(has(self.mode) && self.mode == 'verify' && !has(self.trustStore))").message("trustStore is required when mutualAuthentication mode is 'verify'"),
    validation = Rule::new("!(has(self.mode) && self.mode != 'verify' && has(self.trustStore))").message("Mutual Authentication mode 'off' or 'passthrough' does not support 'trustStore'"),
    validation = Rule::new("!(has(self.mode) && self.mode != 'verify' && has(self.ignoreClientCertificateExpiry))").message("Mutual Authentication mode 'off' or 'passthrough' does not support 'ignoreClientCertificateExpiry'"),
    validation = Rule::new("!(has(self.mode) && self.mode != 'verify' && has(self.advertiseTrustStoreCaNames))").message("Mutual Authentication mode 'off' or 'passthrough' does not support 'advertiseTrustStoreCaNames'"),
)]
pub struct MutualAuthentication {
    /// Whether the names of the trust store's CA certificates are advertised to clients.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub advertise_trust_store_ca_names: Option<OnOff>,

    /// Accept expired client certificates.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ignore_client_certificate_expiry: Option<bool>,

    /// How client certificates are handled.
    pub mode: MutualAuthenticationMode,

    /// Name or ARN of the ELBv2 trust store (mode verify).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(
        length(min = 1, max = 2048),
        pattern(r"^(arn:aws[a-z-]*:elasticloadbalancing:[a-z0-9-]+:[0-9]{12}:truststore/.+|[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?)$")
    )]
    pub trust_store: Option<String>,
}

/// Client certificate handling of a listener.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MutualAuthenticationMode {
    #[serde(rename = "off")]
    Off,
    #[serde(rename = "passthrough")]
    Passthrough,
    #[serde(rename = "verify")]
    Verify,
}

/// Capacity reservation of a load balancer.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct MinimumLoadBalancerCapacity {
    /// Reserved capacity units.
    #[schemars(range(min = 1))]
    pub capacity_units: i32,
}

/// AWS WAF association of an ALB.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Eq)]
pub struct WafV2Configuration {
    /// The regional web ACL: its ARN, or its name.
    #[serde(rename = "webACL")]
    #[schemars(
        length(min = 1, max = 2048),
        pattern(r"^(arn:aws[a-z-]*:wafv2:[a-z0-9-]+:[0-9]{12}:regional/webacl/[A-Za-z0-9_-]+/[A-Za-z0-9-]+|[A-Za-z0-9_-]{1,128})$")
    )]
    pub web_acl: String,
}

/// AWS Shield Advanced protection of an ALB.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, Default, PartialEq, Eq)]
pub struct ShieldConfiguration {
    /// Whether Shield Advanced protects the load balancer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
}

/// A TargetGroupConfiguration in the same namespace.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Eq)]
pub struct DefaultTargetGroupConfigurationReference {
    /// Name of the TargetGroupConfiguration.
    #[schemars(length(min = 1, max = 253), pattern(OBJECT_NAME_PATTERN))]
    pub name: String,
}

/// Observed state of a LoadBalancerConfiguration.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct LoadBalancerConfigurationStatus {
    /// Generation of the configuration last applied to a Gateway.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub observed_gateway_configuration_generation: Option<i64>,

    /// Generation of the configuration last applied to a GatewayClass.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub observed_gateway_class_configuration_generation: Option<i64>,
}
