//! `TargetGroupConfiguration`: target group settings of a Service (or of a Gateway behind an NLB),
//! optionally per route, or the Gateway-wide defaults named by a LoadBalancerConfiguration's
//! `defaultTargetGroupConfiguration`.
//!
//! Field names and enums are those of the AWS Load Balancer Controller
//! (`apis/gateway/v1/targetgroupconfig_types.go`); the bounds are the ELBv2 API's, and the CEL
//! rules reject combinations ELBv2 refuses or the controller can never match.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::common::{Attribute, ELB_NAME_PATTERN, NAMESPACE_PATTERN, tags_schema};

/// Target group settings for the backends of a Service.
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[kube(
    group = "gateway.k8s.aws",
    version = "v1",
    kind = "TargetGroupConfiguration",
    namespaced,
    status = "TargetGroupConfigurationStatus",
    shortname = "tgconfig",
    derive = "PartialEq",
    doc = "TargetGroupConfiguration holds the AWS target group settings of a Service's backends, by default and per route.",
    printcolumn(
        name = "SERVICE-NAME",
        type_ = "string",
        json_path = ".spec.targetReference.name",
        description = "The Kubernetes Service's name"
    ),
    printcolumn(name = "AGE", type_ = "date", json_path = ".metadata.creationTimestamp")
)]
#[serde(rename_all = "camelCase")]
pub struct TargetGroupConfigurationSpec {
    /// The object whose target groups this configures: a Service, or a Gateway served through
    /// an NLB. Without it the configuration only serves as Gateway-wide defaults, named by a
    /// LoadBalancerConfiguration's defaultTargetGroupConfiguration.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_reference: Option<TargetReference>,

    /// Settings for every route, unless a routeConfigurations entry overrides them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default_configuration: Option<TargetGroupProps>,

    /// Settings for particular routes, merged over defaultConfiguration. The most specific
    /// identifier wins: kind, namespace and name; then kind and namespace; then kind alone.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 64))]
    #[x_kube(
        validation = Rule::new("self.all(a, self.exists_one(b, b.routeIdentifier == a.routeIdentifier))").message("each routeIdentifier may appear only once in routeConfigurations")
    )]
    pub route_configurations: Option<Vec<RouteConfiguration>>,
}

/// The object a TargetGroupConfiguration applies to.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[x_kube(
    validation = Rule::new(
        "((!has(self.group) || self.group == '') && (!has(self.kind) || self.kind == 'Service')) || (has(self.group) && self.group == 'gateway.networking.k8s.io' && has(self.kind) && self.kind == 'Gateway')"
    ).message("targetReference must be a Service (group \"\") or a Gateway (group gateway.networking.k8s.io)")
)]
pub struct TargetReference {
    /// API group of the referent; empty for the core group.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(
        extend("default" = ""),
        length(max = 253),
        pattern(r"^$|^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
    )]
    pub group: Option<String>,

    /// Kind of the referent.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(
        extend("default" = "Service"),
        length(min = 1, max = 63),
        pattern(r"^[a-zA-Z]([-a-zA-Z0-9]*[a-zA-Z0-9])?$")
    )]
    pub kind: Option<String>,

    /// Name of the referent, in the configuration's namespace.
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
}

/// Target group settings for the routes one identifier matches.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RouteConfiguration {
    /// Which routes these settings apply to.
    pub route_identifier: RouteIdentifier,

    /// The settings, merged over defaultConfiguration.
    pub target_group_props: TargetGroupProps,
}

/// Identifies routes by kind, and optionally namespace and name.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[x_kube(
    validation = Rule::new("!has(self.name) || has(self.__namespace__)").message("a routeIdentifier with a name must also name the namespace")
)]
pub struct RouteIdentifier {
    /// Kind of the route.
    pub kind: RouteKind,

    /// Namespace of the route.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 63), pattern(NAMESPACE_PATTERN))]
    pub namespace: Option<String>,

    /// Name of the route.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253))]
    pub name: Option<String>,
}

/// Route kinds a target group can serve.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RouteKind {
    #[serde(rename = "HTTPRoute")]
    HttpRoute,
    #[serde(rename = "GRPCRoute")]
    GrpcRoute,
    #[serde(rename = "TLSRoute")]
    TlsRoute,
    #[serde(rename = "TCPRoute")]
    TcpRoute,
    #[serde(rename = "UDPRoute")]
    UdpRoute,
}

/// Settings of a target group. Every field is optional; unset fields come from the defaults.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
#[x_kube(
    validation = Rule::new(
        "!has(self.protocolVersion) || !has(self.protocol) || self.protocol == 'HTTP' || self.protocol == 'HTTPS'"
    ).message("protocolVersion applies only to HTTP and HTTPS target groups").field_path(".protocolVersion"),
    validation = Rule::new(
        "!has(self.nodeSelector) || !has(self.targetType) || self.targetType == 'instance'"
    ).message("nodeSelector applies only to targetType instance").field_path(".nodeSelector"),
    validation = Rule::new(
        "!has(self.targetControlPort) || ((!has(self.targetType) || self.targetType == 'ip') && (!has(self.protocol) || self.protocol == 'HTTP' || self.protocol == 'HTTPS'))"
    ).message("targetControlPort requires targetType ip and an HTTP or HTTPS protocol").field_path(".targetControlPort"),
    validation = Rule::new(
        "!has(self.protocol) || !(self.protocol == 'HTTP' || self.protocol == 'HTTPS') || !has(self.healthCheckConfig) || !has(self.healthCheckConfig.healthCheckProtocol) || self.healthCheckConfig.healthCheckProtocol != 'TCP'"
    ).message("HTTP and HTTPS target groups cannot use TCP health checks").field_path(".healthCheckConfig.healthCheckProtocol"),
    validation = Rule::new(
        "!has(self.protocolVersion) || self.protocolVersion == 'GRPC' || !has(self.healthCheckConfig) || !has(self.healthCheckConfig.matcher) || !has(self.healthCheckConfig.matcher.grpcCode)"
    ).message("matcher.grpcCode requires protocolVersion GRPC").field_path(".healthCheckConfig.matcher"),
    validation = Rule::new(
        "!has(self.protocolVersion) || self.protocolVersion != 'GRPC' || !has(self.healthCheckConfig) || !has(self.healthCheckConfig.matcher) || !has(self.healthCheckConfig.matcher.httpCode)"
    ).message("protocolVersion GRPC health checks match grpcCode, not httpCode").field_path(".healthCheckConfig.matcher"),
)]
pub struct TargetGroupProps {
    /// Name of the target group; generated when unset. At most 32 characters: letters, digits
    /// and hyphens, not starting or ending with a hyphen.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 32), pattern(ELB_NAME_PATTERN))]
    pub target_group_name: Option<String>,

    /// IP address type of the target group. (The AWS Load Balancer Controller derives it from
    /// the Service's ipFamilies and ignores this field.)
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip_address_type: Option<TargetGroupIpAddressType>,

    /// Health checks of the targets.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub health_check_config: Option<HealthCheckConfig>,

    /// [instance targets] Register only the nodes this selector matches.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node_selector: Option<LabelSelector>,

    /// Raw ELBv2 target group attributes.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 64))]
    #[x_kube(merge_strategy = ListMerge::Map(vec!["key".into()]))]
    pub target_group_attributes: Option<Vec<Attribute>>,

    /// How targets are registered; defaults to the controller's `--default-target-type`
    /// (instance).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_type: Option<TargetType>,

    /// Protocol of the target group; inferred from the listener when unset.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub protocol: Option<TargetGroupProtocol>,

    /// [HTTP, HTTPS] Protocol version of the target group.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub protocol_version: Option<ProtocolVersion>,

    /// [ALB, ip targets] Port on which targets report their capacity. ELBv2 cannot change it
    /// after the target group exists.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 65535))]
    pub target_control_port: Option<i32>,

    /// Let target groups bindings of several clusters share the target group.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enable_multi_cluster: Option<bool>,

    /// AWS tags of the target group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "tags_schema")]
    pub tags: Option<BTreeMap<String, String>>,
}

/// Health check settings; bounds are those of ELBv2.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
#[x_kube(
    validation = Rule::new(
        "!has(self.healthCheckTimeout) || !has(self.healthCheckInterval) || self.healthCheckTimeout < self.healthCheckInterval"
    ).message("healthCheckTimeout must be less than healthCheckInterval").field_path(".healthCheckTimeout"),
    validation = Rule::new(
        "!has(self.healthCheckProtocol) || self.healthCheckProtocol != 'TCP' || (!has(self.healthCheckPath) && !has(self.matcher))"
    ).message("healthCheckPath and matcher apply only to HTTP and HTTPS health checks"),
)]
pub struct HealthCheckConfig {
    /// Consecutive successes before an unhealthy target is healthy (2 to 10).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 2, max = 10))]
    pub healthy_threshold_count: Option<i32>,

    /// Seconds between health checks of a target (5 to 300).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 5, max = 300))]
    pub health_check_interval: Option<i32>,

    /// [HTTP, HTTPS] Path of the health check request; for gRPC, `/package.service/method`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 1024), pattern(r"^/"))]
    pub health_check_path: Option<String>,

    /// Port of the health check: a number, a named container port, or `traffic-port` (the
    /// default).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 15), pattern(r"^(traffic-port|[0-9]+|[a-z0-9]([-a-z0-9]*[a-z0-9])?)$"))]
    #[x_kube(
        validation = Rule::new("!self.matches('^[0-9]+$') || (int(self) >= 1 && int(self) <= 65535)").message("healthCheckPort must be a port number from 1 to 65535, a port name, or traffic-port")
    )]
    pub health_check_port: Option<String>,

    /// Protocol of the health check.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub health_check_protocol: Option<HealthCheckProtocol>,

    /// Seconds without a response that fail a health check (2 to 120).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 2, max = 120))]
    pub health_check_timeout: Option<i32>,

    /// Consecutive failures before a target is unhealthy (2 to 10).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 2, max = 10))]
    pub unhealthy_threshold_count: Option<i32>,

    /// [HTTP, HTTPS] Response codes that count as healthy.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub matcher: Option<HealthCheckMatcher>,
}

/// Response codes of a healthy target: HTTP codes, or gRPC codes for GRPC target groups.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
#[x_kube(
    validation = Rule::new("has(self.httpCode) != has(self.grpcCode)").message("exactly one of httpCode and grpcCode must be set")
)]
pub struct HealthCheckMatcher {
    /// HTTP codes: `200`, `200,202` or `200-299`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 3, max = 64), pattern(r"^[0-9]{3}(-[0-9]{3})?(,[0-9]{3}(-[0-9]{3})?)*$"))]
    pub http_code: Option<String>,

    /// gRPC codes: `0`, `0,12` or `0-99`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 64), pattern(r"^[0-9]{1,2}(-[0-9]{1,2})?(,[0-9]{1,2}(-[0-9]{1,2})?)*$"))]
    pub grpc_code: Option<String>,
}

/// IP address type of a target group.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TargetGroupIpAddressType {
    #[serde(rename = "ipv4")]
    Ipv4,
    #[serde(rename = "ipv6")]
    Ipv6,
}

/// How targets are registered.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TargetType {
    /// Nodes, on the Service's node port.
    #[serde(rename = "instance")]
    Instance,
    /// Pods, on their container port.
    #[serde(rename = "ip")]
    Ip,
}

/// Protocol of a health check.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum HealthCheckProtocol {
    #[serde(rename = "HTTP")]
    Http,
    #[serde(rename = "HTTPS")]
    Https,
    #[serde(rename = "TCP")]
    Tcp,
}

/// Protocol of a target group.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TargetGroupProtocol {
    #[serde(rename = "HTTP")]
    Http,
    #[serde(rename = "HTTPS")]
    Https,
    #[serde(rename = "TCP")]
    Tcp,
    #[serde(rename = "TLS")]
    Tls,
    #[serde(rename = "UDP")]
    Udp,
    #[serde(rename = "TCP_UDP")]
    TcpUdp,
}

/// Protocol version of an HTTP or HTTPS target group.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ProtocolVersion {
    #[serde(rename = "HTTP1")]
    Http1,
    #[serde(rename = "HTTP2")]
    Http2,
    #[serde(rename = "GRPC")]
    Grpc,
}

/// Observed state of a TargetGroupConfiguration.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct TargetGroupConfigurationStatus {
    /// Generation of the configuration last applied through a Gateway.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub observed_gateway_configuration_generation: Option<i64>,

    /// Generation of the configuration last applied through a GatewayClass.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub observed_gateway_class_configuration_generation: Option<i64>,
}
