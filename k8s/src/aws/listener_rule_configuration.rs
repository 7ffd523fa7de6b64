//! `ListenerRuleConfiguration`: ALB rule actions and conditions an HTTPRoute or GRPCRoute rule
//! adds through an `ExtensionRef` filter (group `gateway.k8s.aws`, same namespace as the route).
//!
//! Field names, enums, defaults and the action/condition CEL rules are those of the AWS Load
//! Balancer Controller (`apis/gateway/v1/listenerruleconfig_types.go`); the further bounds are
//! ELBv2's.

use std::collections::BTreeMap;

use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::common::{HTTPS_URL_PATTERN, OBJECT_NAME_PATTERN, tags_schema};

/// Extra actions and conditions of the ALB rules made from one route rule.
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[kube(
    group = "gateway.k8s.aws",
    version = "v1",
    kind = "ListenerRuleConfiguration",
    namespaced,
    status = "ListenerRuleConfigurationStatus",
    shortname = "lrconfig",
    derive = "PartialEq",
    doc = "ListenerRuleConfiguration holds AWS listener rule actions and conditions that a route rule adds through an ExtensionRef filter.",
    printcolumn(name = "ACCEPTED", type_ = "boolean", json_path = ".status.accepted"),
    printcolumn(name = "AGE", type_ = "date", json_path = ".metadata.creationTimestamp")
)]
#[serde(rename_all = "camelCase")]
#[x_kube(
    validation = Rule::new("!has(self.actions) || size(self.actions) > 0").message("At least one action must be specified if actions field is present"),
    validation = Rule::new(
        "!has(self.actions) || self.actions.all(a, !has(a.type) || a.type == 'authenticate-oidc' || a.type == 'authenticate-cognito' || a.type == 'jwt-validation' || a.type == 'fixed-response' || a.type == 'forward' || a.type == 'redirect')"
    ).message("Only forward, redirect, authenticate-oidc, authenticate-cognito, jwt-validation, and fixed-response action types are supported"),
    validation = Rule::new(
        "!has(self.actions) || size(self.actions.filter(a, has(a.type) && (a.type == 'authenticate-oidc' || a.type == 'authenticate-cognito' || a.type == 'jwt-validation'))) <= 1"
    ).message("At most one pre-routing action (authenticate-oidc, authenticate-cognito, or jwt-validation) can be specified"),
    validation = Rule::new(
        "!has(self.actions) || size(self.actions.filter(a, has(a.type) && (a.type == 'fixed-response' || a.type == 'forward' || a.type == 'redirect'))) <= 1"
    ).message("At most one routing action (fixed-response or forward or redirect) can be specified"),
)]
pub struct ListenerRuleConfigurationSpec {
    /// Actions of the rule: at most one pre-routing action (authenticate-oidc,
    /// authenticate-cognito, jwt-validation) and at most one routing action (forward, redirect,
    /// fixed-response). forward and redirect only refine what the route itself says.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 2))]
    pub actions: Option<Vec<Action>>,

    /// Extra conditions of the rule; only source-ip.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 16))]
    pub conditions: Option<Vec<ListenerRuleCondition>>,

    /// AWS tags of the listener rules.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "tags_schema")]
    pub tags: Option<BTreeMap<String, String>>,
}

/// One action; exactly the configuration matching `type` is set.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
#[x_kube(
    validation = Rule::new("!has(self.type) || (self.type == 'forward' ? has(self.forwardConfig) : !has(self.forwardConfig))").message("forwardConfig must be specified only when type is 'forward'"),
    validation = Rule::new("!has(self.type) || (self.type == 'redirect' ? has(self.redirectConfig) : !has(self.redirectConfig))").message("redirectConfig must be specified only when type is 'redirect'"),
    validation = Rule::new("!has(self.type) || (self.type == 'fixed-response' ? has(self.fixedResponseConfig) : !has(self.fixedResponseConfig))").message("fixedResponseConfig must be specified only when type is 'fixed-response'"),
    validation = Rule::new("!has(self.type) || (self.type == 'authenticate-cognito' ? has(self.authenticateCognitoConfig) : !has(self.authenticateCognitoConfig))").message("authenticateCognitoConfig must be specified only when type is 'authenticate-cognito'"),
    validation = Rule::new("!has(self.type) || (self.type == 'authenticate-oidc' ? has(self.authenticateOIDCConfig) : !has(self.authenticateOIDCConfig))").message("authenticateOIDCConfig must be specified only when type is 'authenticate-oidc'"),
    validation = Rule::new("!has(self.type) || (self.type == 'jwt-validation' ? has(self.jwtValidationConfig) : !has(self.jwtValidationConfig))").message("jwtValidationConfig must be specified only when type is 'jwt-validation'"),
)]
pub struct Action {
    /// Type of the action.
    pub r#type: ActionType,

    /// [forward] Target group stickiness; the targets come from the route's backendRefs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub forward_config: Option<ForwardActionConfig>,

    /// [redirect] Query of the redirect; the rest comes from the route's RequestRedirect filter.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redirect_config: Option<RedirectActionConfig>,

    /// [fixed-response] The response.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fixed_response_config: Option<FixedResponseActionConfig>,

    /// [authenticate-cognito] The Amazon Cognito user pool.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub authenticate_cognito_config: Option<AuthenticateCognitoActionConfig>,

    /// [authenticate-oidc] The OpenID Connect identity provider.
    #[serde(rename = "authenticateOIDCConfig", skip_serializing_if = "Option::is_none")]
    pub authenticate_oidc_config: Option<AuthenticateOidcActionConfig>,

    /// [jwt-validation] How bearer tokens are validated (HTTPS listeners only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jwt_validation_config: Option<JwtValidationActionConfig>,
}

/// Type of a listener rule action.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ActionType {
    #[serde(rename = "forward")]
    Forward,
    #[serde(rename = "fixed-response")]
    FixedResponse,
    #[serde(rename = "redirect")]
    Redirect,
    #[serde(rename = "authenticate-cognito")]
    AuthenticateCognito,
    #[serde(rename = "authenticate-oidc")]
    AuthenticateOidc,
    #[serde(rename = "jwt-validation")]
    JwtValidation,
}

/// Forward action settings.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ForwardActionConfig {
    /// Target group stickiness of the rule.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = {}))]
    pub target_group_stickiness_config: Option<TargetGroupStickinessConfig>,
}

/// Target group stickiness of a forward action.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct TargetGroupStickinessConfig {
    /// Seconds a client stays with the same target group (1 to 604800).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 604_800), extend("default" = 3600))]
    pub duration_seconds: Option<i32>,

    /// Whether stickiness is enabled.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = false))]
    pub enabled: Option<bool>,
}

/// Redirect action settings.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, Default, PartialEq, Eq)]
pub struct RedirectActionConfig {
    /// Query of the redirect URL, without the leading `?`; may use `#{query}`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 128), extend("default" = "#{query}"))]
    pub query: Option<String>,
}

/// Fixed-response action settings.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct FixedResponseActionConfig {
    /// HTTP status code of the response: 2XX, 4XX or 5XX.
    #[x_kube(
        validation = Rule::new("(self >= 200 && self <= 299) || (self >= 400 && self <= 599)").message("StatusCode must be a valid HTTP status code in the 2XX, 4XX, or 5XX range")
    )]
    pub status_code: i32,

    /// Content type of the response.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = "text/plain"))]
    pub content_type: Option<FixedResponseContentType>,

    /// Body of the response.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 1024))]
    pub message_body: Option<String>,
}

/// Content type of a fixed response.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FixedResponseContentType {
    #[serde(rename = "text/plain")]
    TextPlain,
    #[serde(rename = "text/css")]
    TextCss,
    #[serde(rename = "text/html")]
    TextHtml,
    #[serde(rename = "application/javascript")]
    ApplicationJavascript,
    #[serde(rename = "application/json")]
    ApplicationJson,
}

/// What happens to a request that is not authenticated.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OnUnauthenticatedRequest {
    #[serde(rename = "deny")]
    Deny,
    #[serde(rename = "allow")]
    Allow,
    #[serde(rename = "authenticate")]
    Authenticate,
}

/// Authentication through an Amazon Cognito user pool.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct AuthenticateCognitoActionConfig {
    /// ARN of the user pool.
    #[schemars(length(max = 2048), pattern(r"^arn:aws[a-z-]*:cognito-idp:[a-z0-9-]+:[0-9]{12}:userpool/.+$"))]
    pub user_pool_arn: String,

    /// ID of the user pool app client.
    #[schemars(length(min = 1, max = 128))]
    pub user_pool_client_id: String,

    /// Domain prefix or fully qualified domain name of the user pool.
    #[schemars(length(min = 1, max = 253))]
    pub user_pool_domain: String,

    /// User claims requested from the identity provider.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 1024), extend("default" = "openid"))]
    pub scope: Option<String>,

    /// Up to 10 query parameters added to the redirect to the authorization endpoint.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(extend("maxProperties" = 10))]
    pub authentication_request_extra_params: Option<BTreeMap<String, String>>,

    /// What happens to requests that are not authenticated.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = "authenticate"))]
    pub on_unauthenticated_request: Option<OnUnauthenticatedRequest>,

    /// Name of the session cookie.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 256), extend("default" = "AWSELBAuthSessionCookie"))]
    pub session_cookie_name: Option<String>,

    /// Maximum seconds of an authentication session (1 to 604800).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 604_800), extend("default" = 604_800))]
    pub session_timeout: Option<i64>,
}

/// A Secret in the configuration's namespace holding `clientID` and `clientSecret`.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Eq)]
pub struct Secret {
    /// Name of the Secret.
    #[schemars(length(min = 1, max = 253), pattern(OBJECT_NAME_PATTERN))]
    pub name: String,
}

/// Authentication through an OpenID Connect identity provider.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct AuthenticateOidcActionConfig {
    /// Authorization endpoint of the identity provider (an HTTPS URL).
    #[schemars(length(max = 2048), pattern(HTTPS_URL_PATTERN))]
    pub authorization_endpoint: String,

    /// The Secret with the OAuth 2.0 client ID and secret.
    pub secret: Secret,

    /// OIDC issuer of the identity provider (an HTTPS URL).
    #[schemars(length(max = 2048), pattern(HTTPS_URL_PATTERN))]
    pub issuer: String,

    /// Token endpoint of the identity provider (an HTTPS URL).
    #[schemars(length(max = 2048), pattern(HTTPS_URL_PATTERN))]
    pub token_endpoint: String,

    /// User info endpoint of the identity provider (an HTTPS URL).
    #[schemars(length(max = 2048), pattern(HTTPS_URL_PATTERN))]
    pub user_info_endpoint: String,

    /// User claims requested from the identity provider.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 1024), extend("default" = "openid"))]
    pub scope: Option<String>,

    /// Up to 10 query parameters added to the redirect to the authorization endpoint.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(extend("maxProperties" = 10))]
    pub authentication_request_extra_params: Option<BTreeMap<String, String>>,

    /// What happens to requests that are not authenticated.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = "authenticate"))]
    pub on_unauthenticated_request: Option<OnUnauthenticatedRequest>,

    /// Name of the session cookie.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 256), extend("default" = "AWSELBAuthSessionCookie"))]
    pub session_cookie_name: Option<String>,

    /// Maximum seconds of an authentication session (1 to 604800).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 604_800), extend("default" = 604_800))]
    pub session_timeout: Option<i64>,

    /// Keep the client secret already on the rule when modifying it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub use_existing_client_secret: Option<bool>,
}

/// Format of the values of an additional JWT claim.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum JwtAdditionalClaimFormat {
    #[serde(rename = "single-string")]
    SingleString,
    #[serde(rename = "string-array")]
    StringArray,
    #[serde(rename = "space-separated-values")]
    SpaceSeparatedValues,
}

/// A claim, beyond the standard ones, that a JWT must carry.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[x_kube(
    validation = Rule::new("!has(self.format) || self.format != 'space-separated-values' || !has(self.values) || self.values.all(v, !v.contains(' '))").message("values of a space-separated-values claim cannot contain spaces").field_path(".values")
)]
pub struct JwtValidationActionAdditionalClaim {
    /// Format of the claim's value.
    pub format: JwtAdditionalClaimFormat,

    /// Name of the claim; not exp, iss, nbf or iat, which are always validated.
    #[schemars(length(min = 1, max = 256))]
    #[x_kube(
        validation = Rule::new("!(self in ['exp', 'iss', 'nbf', 'iat'])").message("exp, iss, nbf and iat are validated by default and cannot be additional claims")
    )]
    pub name: String,

    /// Accepted values (1 to 10, each at most 256 characters).
    #[schemars(length(min = 1, max = 10), inner(length(max = 256)))]
    pub values: Vec<String>,
}

/// JSON Web Token validation.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct JwtValidationActionConfig {
    /// Issuer of the tokens.
    #[schemars(length(min = 1, max = 256))]
    pub issuer: String,

    /// JSON Web Key Set endpoint (an HTTPS URL).
    #[schemars(length(max = 256), pattern(HTTPS_URL_PATTERN))]
    pub jwks_endpoint: String,

    /// Further claims the token must carry.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 10))]
    #[x_kube(merge_strategy = ListMerge::Map(vec!["name".into()]))]
    pub additional_claims: Option<Vec<JwtValidationActionAdditionalClaim>>,
}

/// The request field a condition matches.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ListenerRuleConditionField {
    #[serde(rename = "source-ip")]
    SourceIp,
}

/// A condition of the rule.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
#[x_kube(
    validation = Rule::new("has(self.field) && self.field == 'source-ip' ? has(self.sourceIPConfig) : !has(self.sourceIPConfig)").message("sourceIPConfig must be specified only when field is 'source-ip'")
)]
pub struct ListenerRuleCondition {
    /// The request field matched.
    pub field: ListenerRuleConditionField,

    /// [source-ip] The client addresses matched.
    #[serde(rename = "sourceIPConfig", skip_serializing_if = "Option::is_none")]
    pub source_ip_config: Option<SourceIpConditionConfig>,

    /// Indexes of the route rule's matches this condition is added to; all when unset.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 64), inner(range(min = 0, max = 63)))]
    #[x_kube(merge_strategy = ListMerge::Set)]
    pub match_indexes: Option<Vec<i32>>,
}

/// Client addresses of a source-ip condition.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct SourceIpConditionConfig {
    /// Client CIDRs (IPv4 or IPv6); ELBv2 allows 5 condition values per rule.
    #[schemars(length(min = 1, max = 5), inner(length(max = 43)))]
    #[x_kube(
        merge_strategy = ListMerge::Set,
        validation = Rule::new("self.all(v, isCIDR(v))").message("every source-ip value must be a CIDR such as 192.0.2.0/24 or 2001:db8::/32"),
    )]
    pub values: Vec<String>,
}

/// Observed state of a ListenerRuleConfiguration.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ListenerRuleConfigurationStatus {
    /// Generation of the configuration this status describes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,

    /// Whether the configuration is valid and usable.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accepted: Option<bool>,

    /// Why the configuration is or is not accepted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}
