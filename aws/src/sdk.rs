//! Conversions between the plan's ELBv2 shapes ([`albatross_model::plan::types`]) and the SDK's
//! ([`aws_sdk_elasticloadbalancingv2::types`]), and canonical forms of rules and actions so that a
//! diff comparing what the plan wants with what AWS describes sees only real differences.
//!
//! The `*_to_sdk` functions build exactly what the plan says (typed condition configs, never the
//! legacy `Values`); the `*_from_sdk` functions translate what AWS describes back into the plan's
//! shape without judging it; [`canonical_rule`] and [`canonical_actions`] then erase the
//! differences that do not change what the load balancer does (order of ANDed conditions and ORed
//! values, defaults AWS fills in on read, write-only secrets). Compare canonical forms only.

use std::collections::HashMap;

use albatross_model::plan::types::{
    Action, Attribute, AuthenticateOidcConfig, Certificate, Condition, Credential, FixedResponseConfig, ForwardConfig,
    HttpHeaderConfig, KeyValue, Matcher, QueryStringConfig, RedirectConfig, Rewrite, RewriteConfig, StickinessConfig,
    Tag, Transform, Values, WeightedTargetGroup,
};
use aws_sdk_elasticloadbalancingv2::types as sdk;
use serde_json::{Map, Value};

/// A plan value the API cannot take. These are bugs in the plan or unresolved references,
/// never something AWS said.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ConversionError {
    /// An action type the API does not have.
    #[error("unsupported action type {0:?}")]
    UnsupportedAction(String),
    /// An action order beyond the API's integer.
    #[error("action order {0} out of range")]
    OrderOutOfRange(u32),
    /// An action without the config its type needs.
    #[error("{action} action without {config}")]
    MissingConfig { action: String, config: &'static str },
    /// A forward to a target group that has no ARN yet.
    #[error("target group {0:?} has no ARN")]
    UnresolvedTargetGroup(String),
    /// An authentication config field of the wrong JSON type.
    #[error("{what} {field} is not {expected}")]
    WrongType { what: &'static str, field: String, expected: &'static str },
    /// An authentication config field the API does not have.
    #[error("{what} config has no field {field:?}")]
    UnknownField { what: &'static str, field: String },
    /// A value outside the API's enum for this field.
    #[error("unknown {what} {value:?}")]
    UnknownValue { what: &'static str, value: String },
    /// A client credential still a Secret reference: never sent to AWS.
    #[error("authenticate-oidc {field}: {reference} was not resolved")]
    UnresolvedSecret { field: &'static str, reference: String },
}

fn wrong_type(what: &'static str, field: &str, expected: &'static str) -> ConversionError {
    ConversionError::WrongType { what, field: field.to_owned(), expected }
}

fn unknown_field(what: &'static str, field: &str) -> ConversionError {
    ConversionError::UnknownField { what, field: field.to_owned() }
}

fn unknown_value(what: &'static str, value: impl ToString) -> ConversionError {
    ConversionError::UnknownValue { what, value: value.to_string() }
}

// ---------------------------------------------------------------------------------------------
// Conditions

/// `None` for an empty list: the Query protocol would otherwise send an explicit empty list.
fn list(values: &[String]) -> Option<Vec<String>> {
    (!values.is_empty()).then(|| values.to_vec())
}

/// A plan condition as the API's `RuleCondition`, with the typed `*Config` of its field.
pub fn condition_to_sdk(c: &Condition) -> sdk::RuleCondition {
    let mut b = sdk::RuleCondition::builder().field(&c.field);
    if let Some(v) = &c.host_header_config {
        b = b.host_header_config(
            sdk::HostHeaderConditionConfig::builder()
                .set_values(list(&v.values))
                .set_regex_values(list(&v.regex_values))
                .build(),
        );
    }
    if let Some(v) = &c.path_pattern_config {
        b = b.path_pattern_config(
            sdk::PathPatternConditionConfig::builder()
                .set_values(list(&v.values))
                .set_regex_values(list(&v.regex_values))
                .build(),
        );
    }
    if let Some(h) = &c.http_header_config {
        b = b.http_header_config(
            sdk::HttpHeaderConditionConfig::builder()
                .http_header_name(&h.http_header_name)
                .set_values(list(&h.values))
                .set_regex_values(list(&h.regex_values))
                .build(),
        );
    }
    if let Some(q) = &c.query_string_config {
        let pairs = q
            .values
            .iter()
            .map(|kv| sdk::QueryStringKeyValuePair::builder().set_key(kv.key.clone()).value(&kv.value).build())
            .collect();
        b = b.query_string_config(sdk::QueryStringConditionConfig::builder().set_values(Some(pairs)).build());
    }
    if let Some(v) = &c.http_request_method_config {
        b = b.http_request_method_config(
            sdk::HttpRequestMethodConditionConfig::builder().set_values(list(&v.values)).build(),
        );
    }
    if let Some(v) = &c.source_ip_config {
        b = b.source_ip_config(sdk::SourceIpConditionConfig::builder().set_values(list(&v.values)).build());
    }
    b.build()
}

/// A described condition in the plan's shape. AWS describes host-header and path-pattern
/// conditions with both the legacy `Values` and the typed config: the typed config wins, and the
/// legacy fields are used only when it is missing (a rule written in the legacy shape).
pub fn condition_from_sdk(c: &sdk::RuleCondition) -> Condition {
    let field = c.field().unwrap_or_default().to_owned();
    let legacy = (!c.values().is_empty() || !c.regex_values().is_empty())
        .then(|| Values { values: c.values().to_vec(), regex_values: c.regex_values().to_vec() });
    let mut host =
        c.host_header_config().map(|h| Values { values: h.values().to_vec(), regex_values: h.regex_values().to_vec() });
    let mut path = c
        .path_pattern_config()
        .map(|p| Values { values: p.values().to_vec(), regex_values: p.regex_values().to_vec() });
    match field.as_str() {
        "host-header" if host.is_none() => host = legacy,
        "path-pattern" if path.is_none() => path = legacy,
        _ => {}
    }
    Condition {
        field,
        host_header_config: host,
        path_pattern_config: path,
        http_header_config: c.http_header_config().map(|h| HttpHeaderConfig {
            http_header_name: h.http_header_name().unwrap_or_default().to_owned(),
            values: h.values().to_vec(),
            regex_values: h.regex_values().to_vec(),
        }),
        query_string_config: c.query_string_config().map(|q| QueryStringConfig {
            values: q
                .values()
                .iter()
                .map(|kv| KeyValue {
                    key: kv.key().map(str::to_owned),
                    value: kv.value().unwrap_or_default().to_owned(),
                })
                .collect(),
        }),
        http_request_method_config: c
            .http_request_method_config()
            .map(|m| Values { values: m.values().to_vec(), regex_values: Vec::new() }),
        source_ip_config: c
            .source_ip_config()
            .map(|s| Values { values: s.values().to_vec(), regex_values: Vec::new() }),
    }
}

// ---------------------------------------------------------------------------------------------
// Actions

/// A plan action as the API's `Action`. Target groups are named by stack id in the plan;
/// `arn_of(id)` gives the real ARN, and an id without one is an `Err`. Authentication configs
/// (JSON in the API's PascalCase shape) must name only fields the API has.
pub fn action_to_sdk(a: &Action, arn_of: &dyn Fn(&str) -> Option<String>) -> Result<sdk::Action, ConversionError> {
    let unsupported = || ConversionError::UnsupportedAction(a.r#type.clone());
    let kind = sdk::ActionTypeEnum::try_parse(&a.r#type).map_err(|_| unsupported())?;
    let order = if a.order == 0 {
        None
    } else {
        Some(i32::try_from(a.order).map_err(|_| ConversionError::OrderOutOfRange(a.order))?)
    };
    let missing = |config: &'static str| ConversionError::MissingConfig { action: a.r#type.clone(), config };
    let b = sdk::Action::builder().r#type(kind.clone()).set_order(order);
    let b = match kind {
        sdk::ActionTypeEnum::Forward => {
            let f = a.forward_config.as_ref().ok_or_else(|| missing("ForwardConfig"))?;
            b.forward_config(forward_to_sdk(f, arn_of)?)
        }
        sdk::ActionTypeEnum::Redirect => {
            let r = a.redirect_config.as_ref().ok_or_else(|| missing("RedirectConfig"))?;
            b.redirect_config(redirect_to_sdk(r)?)
        }
        sdk::ActionTypeEnum::FixedResponse => {
            let f = a.fixed_response_config.as_ref().ok_or_else(|| missing("FixedResponseConfig"))?;
            b.fixed_response_config(
                sdk::FixedResponseActionConfig::builder()
                    .status_code(&f.status_code)
                    .set_content_type(f.content_type.clone())
                    .set_message_body(f.message_body.clone())
                    .build(),
            )
        }
        sdk::ActionTypeEnum::AuthenticateOidc => {
            let c = a.authenticate_oidc_config.as_ref().ok_or_else(|| missing("AuthenticateOidcConfig"))?;
            b.authenticate_oidc_config(oidc_to_sdk(c)?)
        }
        sdk::ActionTypeEnum::AuthenticateCognito => {
            let c = a.authenticate_cognito_config.as_ref().ok_or_else(|| missing("AuthenticateCognitoConfig"))?;
            b.authenticate_cognito_config(cognito_to_sdk(c)?)
        }
        sdk::ActionTypeEnum::JwtValidation => {
            let c = a.jwt_validation_config.as_ref().ok_or_else(|| missing("JwtValidationConfig"))?;
            b.jwt_validation_config(jwt_to_sdk(c)?)
        }
        _ => return Err(unsupported()),
    };
    Ok(b.build())
}

fn forward_to_sdk(
    f: &ForwardConfig,
    arn_of: &dyn Fn(&str) -> Option<String>,
) -> Result<sdk::ForwardActionConfig, ConversionError> {
    let mut tuples = Vec::with_capacity(f.target_groups.len());
    for tg in &f.target_groups {
        let arn = arn_of(&tg.target_group_arn)
            .ok_or_else(|| ConversionError::UnresolvedTargetGroup(tg.target_group_arn.clone()))?;
        tuples.push(sdk::TargetGroupTuple::builder().target_group_arn(arn).weight(tg.weight).build());
    }
    let stickiness = f.target_group_stickiness_config.as_ref().map(|s| {
        sdk::TargetGroupStickinessConfig::builder().enabled(s.enabled).set_duration_seconds(s.duration_seconds).build()
    });
    Ok(sdk::ForwardActionConfig::builder()
        .set_target_groups(Some(tuples))
        .set_target_group_stickiness_config(stickiness)
        .build())
}

fn redirect_to_sdk(r: &RedirectConfig) -> Result<sdk::RedirectActionConfig, ConversionError> {
    // An empty component is an unset one: AWS then keeps the request's (`#{...}`).
    let part = |s: &str| (!s.is_empty()).then(|| s.to_owned());
    let code = sdk::RedirectActionStatusCodeEnum::try_parse(&r.status_code)
        .map_err(|_| unknown_value("redirect status code", &r.status_code))?;
    Ok(sdk::RedirectActionConfig::builder()
        .set_protocol(part(&r.protocol))
        .set_port(part(&r.port))
        .set_host(part(&r.host))
        .set_path(part(&r.path))
        .set_query(part(&r.query))
        .status_code(code)
        .build())
}

fn auth_object<'a>(v: &'a Value, what: &'static str) -> Result<&'a Map<String, Value>, ConversionError> {
    v.as_object().ok_or_else(|| wrong_type(what, "config", "an object"))
}

fn auth_string(v: &Value, what: &'static str, key: &str) -> Result<String, ConversionError> {
    v.as_str().map(str::to_owned).ok_or_else(|| wrong_type(what, key, "a string"))
}

/// `SessionTimeout`: a number, or a number written as a string.
fn auth_timeout(v: &Value, what: &'static str) -> Result<i64, ConversionError> {
    v.as_i64()
        .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
        .ok_or_else(|| wrong_type(what, "SessionTimeout", "a number"))
}

fn auth_params(v: &Value, what: &'static str) -> Result<HashMap<String, String>, ConversionError> {
    let map = v.as_object().ok_or_else(|| wrong_type(what, "AuthenticationRequestExtraParams", "an object"))?;
    map.iter().map(|(k, v)| Ok((k.clone(), auth_string(v, what, "AuthenticationRequestExtraParams value")?))).collect()
}

/// A client credential as AWS takes it: only a resolved value; a reference left in the plan is
/// an error, never sent.
fn credential(c: &Credential, field: &'static str) -> Result<String, ConversionError> {
    match c {
        Credential::Value(v) => Ok(v.clone()),
        Credential::SecretRef(r) => Err(ConversionError::UnresolvedSecret { field, reference: r.to_string() }),
    }
}

fn oidc_to_sdk(c: &AuthenticateOidcConfig) -> Result<sdk::AuthenticateOidcActionConfig, ConversionError> {
    let behaviour = c
        .on_unauthenticated_request
        .as_deref()
        .map(|b| {
            sdk::AuthenticateOidcActionConditionalBehaviorEnum::try_parse(b)
                .map_err(|_| unknown_value("authenticate-oidc OnUnauthenticatedRequest", b))
        })
        .transpose()?;
    let params = c.authentication_request_extra_params.as_ref().map(|p| p.clone().into_iter().collect());
    Ok(sdk::AuthenticateOidcActionConfig::builder()
        .issuer(&c.issuer)
        .authorization_endpoint(&c.authorization_endpoint)
        .token_endpoint(&c.token_endpoint)
        .user_info_endpoint(&c.user_info_endpoint)
        .client_id(credential(&c.client_id, "ClientId")?)
        .set_client_secret(c.client_secret.as_ref().map(|s| credential(s, "ClientSecret")).transpose()?)
        .set_session_cookie_name(c.session_cookie_name.clone())
        .set_scope(c.scope.clone())
        .set_session_timeout(c.session_timeout)
        .set_authentication_request_extra_params(params)
        .set_on_unauthenticated_request(behaviour)
        .set_use_existing_client_secret(c.use_existing_client_secret)
        .build())
}

fn cognito_to_sdk(config: &Value) -> Result<sdk::AuthenticateCognitoActionConfig, ConversionError> {
    const WHAT: &str = "authenticate-cognito";
    let mut b = sdk::AuthenticateCognitoActionConfig::builder();
    for (key, v) in auth_object(config, WHAT)? {
        if v.is_null() {
            continue;
        }
        let s = || auth_string(v, WHAT, key);
        b = match key.as_str() {
            "UserPoolArn" => b.user_pool_arn(s()?),
            "UserPoolClientId" => b.user_pool_client_id(s()?),
            "UserPoolDomain" => b.user_pool_domain(s()?),
            "SessionCookieName" => b.session_cookie_name(s()?),
            "Scope" => b.scope(s()?),
            "SessionTimeout" => b.session_timeout(auth_timeout(v, WHAT)?),
            "AuthenticationRequestExtraParams" => {
                b.set_authentication_request_extra_params(Some(auth_params(v, WHAT)?))
            }
            "OnUnauthenticatedRequest" => b.on_unauthenticated_request(
                sdk::AuthenticateCognitoActionConditionalBehaviorEnum::try_parse(&s()?)
                    .map_err(|_| unknown_value("OnUnauthenticatedRequest", v))?,
            ),
            _ => return Err(unknown_field(WHAT, key)),
        };
    }
    Ok(b.build())
}

fn jwt_to_sdk(config: &Value) -> Result<sdk::JwtValidationActionConfig, ConversionError> {
    const WHAT: &str = "jwt-validation";
    let mut b = sdk::JwtValidationActionConfig::builder();
    for (key, v) in auth_object(config, WHAT)? {
        if v.is_null() {
            continue;
        }
        b = match key.as_str() {
            "JwksEndpoint" => b.jwks_endpoint(auth_string(v, WHAT, key)?),
            "Issuer" => b.issuer(auth_string(v, WHAT, key)?),
            "AdditionalClaims" => {
                let claims = v.as_array().ok_or_else(|| wrong_type(WHAT, key, "a list"))?;
                let mut out = Vec::with_capacity(claims.len());
                for claim in claims {
                    out.push(jwt_claim_to_sdk(claim)?);
                }
                b.set_additional_claims(Some(out))
            }
            _ => return Err(unknown_field(WHAT, key)),
        };
    }
    Ok(b.build())
}

fn jwt_claim_to_sdk(claim: &Value) -> Result<sdk::JwtValidationActionAdditionalClaim, ConversionError> {
    const WHAT: &str = "jwt-validation claim";
    let mut b = sdk::JwtValidationActionAdditionalClaim::builder();
    for (key, v) in auth_object(claim, WHAT)? {
        if v.is_null() {
            continue;
        }
        b = match key.as_str() {
            "Format" => {
                let format = auth_string(v, WHAT, key)?;
                b.format(
                    sdk::JwtValidationActionAdditionalClaimFormatEnum::try_parse(&format)
                        .map_err(|_| unknown_value("jwt-validation claim Format", format))?,
                )
            }
            "Name" => b.name(auth_string(v, WHAT, key)?),
            "Values" => {
                let values = v.as_array().ok_or_else(|| wrong_type(WHAT, key, "a list"))?;
                let values: Result<Vec<String>, ConversionError> =
                    values.iter().map(|v| auth_string(v, WHAT, "Values")).collect();
                b.set_values(Some(values?))
            }
            _ => return Err(unknown_field(WHAT, key)),
        };
    }
    Ok(b.build())
}

/// A described action in the plan's shape; `id_of(arn)` names a target group by its stack id (or
/// returns the ARN when it is not one of ours). A forward written in the legacy shape (only
/// `TargetGroupArn`) becomes a `ForwardConfig` with that one group at weight 1, as AWS itself
/// describes it; a target group without a weight has AWS's default weight 1.
pub fn action_from_sdk(a: &sdk::Action, id_of: &dyn Fn(&str) -> String) -> Action {
    let forward = a.forward_config().filter(|f| !f.target_groups().is_empty());
    let forward_config = match (forward, a.target_group_arn()) {
        (Some(f), _) => Some(ForwardConfig {
            target_groups: f
                .target_groups()
                .iter()
                .map(|t| WeightedTargetGroup {
                    target_group_arn: id_of(t.target_group_arn().unwrap_or_default()),
                    weight: t.weight().unwrap_or(1),
                })
                .collect(),
            target_group_stickiness_config: f.target_group_stickiness_config().map(stickiness_from_sdk),
        }),
        (None, Some(arn)) => Some(ForwardConfig {
            target_groups: vec![WeightedTargetGroup { target_group_arn: id_of(arn), weight: 1 }],
            target_group_stickiness_config: a
                .forward_config()
                .and_then(|f| f.target_group_stickiness_config())
                .map(stickiness_from_sdk),
        }),
        (None, None) => None,
    };
    let owned = |s: Option<&str>| s.unwrap_or_default().to_owned();
    Action {
        r#type: a.r#type().map(|t| t.as_str().to_owned()).unwrap_or_default(),
        order: a.order().map_or(0, |o| u32::try_from(o).unwrap_or(0)),
        forward_config,
        redirect_config: a.redirect_config().map(|r| RedirectConfig {
            protocol: owned(r.protocol()),
            port: owned(r.port()),
            host: owned(r.host()),
            path: owned(r.path()),
            query: owned(r.query()),
            status_code: r.status_code().map(|c| c.as_str().to_owned()).unwrap_or_default(),
        }),
        fixed_response_config: a.fixed_response_config().map(|f| FixedResponseConfig {
            status_code: owned(f.status_code()),
            content_type: f.content_type().map(str::to_owned),
            message_body: f.message_body().map(str::to_owned),
        }),
        authenticate_oidc_config: a.authenticate_oidc_config().map(oidc_from_sdk),
        authenticate_cognito_config: a.authenticate_cognito_config().map(cognito_from_sdk),
        jwt_validation_config: a.jwt_validation_config().map(jwt_from_sdk),
    }
}

fn stickiness_from_sdk(s: &sdk::TargetGroupStickinessConfig) -> StickinessConfig {
    StickinessConfig { enabled: s.enabled().unwrap_or(false), duration_seconds: s.duration_seconds() }
}

fn put(map: &mut Map<String, Value>, key: &str, value: Option<impl Into<Value>>) {
    if let Some(value) = value {
        map.insert(key.into(), value.into());
    }
}

fn params_json(params: Option<&HashMap<String, String>>) -> Option<Value> {
    params.map(|p| Value::Object(p.iter().map(|(k, v)| (k.clone(), Value::String(v.clone()))).collect()))
}

fn oidc_from_sdk(c: &sdk::AuthenticateOidcActionConfig) -> AuthenticateOidcConfig {
    let owned = |s: Option<&str>| s.unwrap_or_default().to_owned();
    AuthenticateOidcConfig {
        issuer: owned(c.issuer()),
        authorization_endpoint: owned(c.authorization_endpoint()),
        token_endpoint: owned(c.token_endpoint()),
        user_info_endpoint: owned(c.user_info_endpoint()),
        client_id: Credential::Value(owned(c.client_id())),
        client_secret: c.client_secret().map(|s| Credential::Value(s.to_owned())),
        scope: c.scope().map(str::to_owned),
        session_cookie_name: c.session_cookie_name().map(str::to_owned),
        session_timeout: c.session_timeout(),
        authentication_request_extra_params: c
            .authentication_request_extra_params()
            .map(|p| p.iter().map(|(k, v)| (k.clone(), v.clone())).collect()),
        on_unauthenticated_request: c.on_unauthenticated_request().map(|b| b.as_str().to_owned()),
        use_existing_client_secret: c.use_existing_client_secret(),
    }
}

fn cognito_from_sdk(c: &sdk::AuthenticateCognitoActionConfig) -> Value {
    let mut m = Map::new();
    put(&mut m, "UserPoolArn", c.user_pool_arn());
    put(&mut m, "UserPoolClientId", c.user_pool_client_id());
    put(&mut m, "UserPoolDomain", c.user_pool_domain());
    put(&mut m, "SessionCookieName", c.session_cookie_name());
    put(&mut m, "Scope", c.scope());
    put(&mut m, "SessionTimeout", c.session_timeout());
    put(&mut m, "AuthenticationRequestExtraParams", params_json(c.authentication_request_extra_params()));
    put(&mut m, "OnUnauthenticatedRequest", c.on_unauthenticated_request().map(|b| b.as_str()));
    Value::Object(m)
}

fn jwt_from_sdk(c: &sdk::JwtValidationActionConfig) -> Value {
    let mut m = Map::new();
    put(&mut m, "JwksEndpoint", c.jwks_endpoint());
    put(&mut m, "Issuer", c.issuer());
    if let Some(claims) = &c.additional_claims {
        let claims = claims.iter().map(|claim| {
            let mut m = Map::new();
            put(&mut m, "Format", claim.format().map(|f| f.as_str()));
            put(&mut m, "Name", claim.name());
            put(&mut m, "Values", claim.values.clone());
            Value::Object(m)
        });
        m.insert("AdditionalClaims".into(), Value::Array(claims.collect()));
    }
    Value::Object(m)
}

// ---------------------------------------------------------------------------------------------
// Transforms

fn rewrites_to_sdk(r: &RewriteConfig) -> Vec<sdk::RewriteConfig> {
    r.rewrites.iter().map(|w| sdk::RewriteConfig::builder().regex(&w.regex).replace(&w.replace).build()).collect()
}

fn rewrites_from_sdk(r: &[sdk::RewriteConfig]) -> RewriteConfig {
    RewriteConfig {
        rewrites: r
            .iter()
            .map(|w| Rewrite {
                regex: w.regex().unwrap_or_default().to_owned(),
                replace: w.replace().unwrap_or_default().to_owned(),
            })
            .collect(),
    }
}

/// A plan transform (`url-rewrite`, `host-header-rewrite`) as the API's `RuleTransform`.
pub fn transform_to_sdk(t: &Transform) -> sdk::RuleTransform {
    sdk::RuleTransform::builder()
        .r#type(sdk::TransformTypeEnum::from(t.r#type.as_str()))
        .set_url_rewrite_config(
            t.url_rewrite_config
                .as_ref()
                .map(|r| sdk::UrlRewriteConfig::builder().set_rewrites(Some(rewrites_to_sdk(r))).build()),
        )
        .set_host_header_rewrite_config(
            t.host_header_rewrite_config
                .as_ref()
                .map(|r| sdk::HostHeaderRewriteConfig::builder().set_rewrites(Some(rewrites_to_sdk(r))).build()),
        )
        .build()
}

/// A described transform in the plan's shape.
pub fn transform_from_sdk(t: &sdk::RuleTransform) -> Transform {
    Transform {
        r#type: t.r#type().map(|t| t.as_str().to_owned()).unwrap_or_default(),
        url_rewrite_config: t.url_rewrite_config().map(|u| rewrites_from_sdk(u.rewrites())),
        host_header_rewrite_config: t.host_header_rewrite_config().map(|h| rewrites_from_sdk(h.rewrites())),
    }
}

// ---------------------------------------------------------------------------------------------
// Tags, attributes, certificates, matcher

pub fn tags_to_sdk(tags: &[Tag]) -> Vec<sdk::Tag> {
    tags.iter().map(|t| sdk::Tag::builder().key(&t.key).value(&t.value).build()).collect()
}

/// Described tags, sorted by key (the plan's order); a tag without a value has value `""`.
pub fn tags_from_sdk(tags: &[sdk::Tag]) -> Vec<Tag> {
    let mut out: Vec<Tag> = tags
        .iter()
        .map(|t| Tag { key: t.key().unwrap_or_default().to_owned(), value: t.value().unwrap_or_default().to_owned() })
        .collect();
    out.sort();
    out
}

pub fn lb_attributes_to_sdk(attributes: &[Attribute]) -> Vec<sdk::LoadBalancerAttribute> {
    attributes.iter().map(|a| sdk::LoadBalancerAttribute::builder().key(&a.key).value(&a.value).build()).collect()
}

/// Described load balancer attributes, sorted by key. AWS describes every attribute, defaults
/// included: compare only the keys the plan names.
pub fn lb_attributes_from_sdk(attributes: &[sdk::LoadBalancerAttribute]) -> Vec<Attribute> {
    let mut out: Vec<Attribute> = attributes.iter().map(|a| attribute(a.key(), a.value())).collect();
    out.sort();
    out
}

pub fn tg_attributes_to_sdk(attributes: &[Attribute]) -> Vec<sdk::TargetGroupAttribute> {
    attributes.iter().map(|a| sdk::TargetGroupAttribute::builder().key(&a.key).value(&a.value).build()).collect()
}

/// Described target group attributes, sorted by key; like load balancer attributes they include
/// every default.
pub fn tg_attributes_from_sdk(attributes: &[sdk::TargetGroupAttribute]) -> Vec<Attribute> {
    let mut out: Vec<Attribute> = attributes.iter().map(|a| attribute(a.key(), a.value())).collect();
    out.sort();
    out
}

fn attribute(key: Option<&str>, value: Option<&str>) -> Attribute {
    Attribute { key: key.unwrap_or_default().to_owned(), value: value.unwrap_or_default().to_owned() }
}

pub fn certificates_to_sdk(certificates: &[Certificate]) -> Vec<sdk::Certificate> {
    certificates
        .iter()
        .map(|c| sdk::Certificate::builder().certificate_arn(&c.certificate_arn).is_default(c.is_default).build())
        .collect()
}

/// Described certificates. DescribeListenerCertificates marks the default one; DescribeListeners
/// lists only the default certificate and may leave `IsDefault` out: a missing flag reads as
/// `false`, so callers reading DescribeListeners should mark its certificate as the default.
pub fn certificates_from_sdk(certificates: &[sdk::Certificate]) -> Vec<Certificate> {
    certificates
        .iter()
        .map(|c| Certificate {
            certificate_arn: c.certificate_arn().unwrap_or_default().to_owned(),
            is_default: c.is_default().unwrap_or(false),
        })
        .collect()
}

pub fn matcher_to_sdk(m: &Matcher) -> sdk::Matcher {
    sdk::Matcher::builder().set_http_code(m.http_code.clone()).set_grpc_code(m.grpc_code.clone()).build()
}

pub fn matcher_from_sdk(m: &sdk::Matcher) -> Matcher {
    Matcher { http_code: m.http_code().map(str::to_owned), grpc_code: m.grpc_code().map(str::to_owned) }
}

// ---------------------------------------------------------------------------------------------
// Enums

macro_rules! enum_conversions {
    ($to:ident, $from:ident, $ty:ident, $what:literal) => {
        #[doc = concat!("The plan's ", $what, " as the SDK's `", stringify!($ty), "`; `Err` for a value the SDK does not know.")]
        pub fn $to(value: &str) -> Result<sdk::$ty, ConversionError> {
            sdk::$ty::try_parse(value).map_err(|_| unknown_value($what, value))
        }

        #[doc = concat!("The SDK's `", stringify!($ty), "` as the plan's ", $what, " string.")]
        pub fn $from(value: &sdk::$ty) -> String {
            value.as_str().to_owned()
        }
    };
}

enum_conversions!(protocol_to_sdk, protocol_from_sdk, ProtocolEnum, "protocol");
enum_conversions!(target_type_to_sdk, target_type_from_sdk, TargetTypeEnum, "target type");
enum_conversions!(scheme_to_sdk, scheme_from_sdk, LoadBalancerSchemeEnum, "load balancer scheme");
enum_conversions!(lb_type_to_sdk, lb_type_from_sdk, LoadBalancerTypeEnum, "load balancer type");
enum_conversions!(ip_address_type_to_sdk, ip_address_type_from_sdk, IpAddressType, "IP address type");

// ---------------------------------------------------------------------------------------------
// Canonical forms

/// Sorted, without duplicates.
fn set_of(values: &[String], normalize: fn(&str) -> String) -> Vec<String> {
    let mut out: Vec<String> = values.iter().map(|v| normalize(v)).collect();
    out.sort();
    out.dedup();
    out
}

fn same(s: &str) -> String {
    s.to_owned()
}

fn lower(s: &str) -> String {
    s.to_ascii_lowercase()
}

fn canonical_values(v: &Values, exact: fn(&str) -> String) -> Values {
    // A condition's values (and its regex values) are alternatives: their order and repeats
    // do not matter. Regexes are never case-folded: `\D` is not `\d`.
    Values { values: set_of(&v.values, exact), regex_values: set_of(&v.regex_values, same) }
}

fn canonical_condition(c: &Condition) -> Condition {
    Condition {
        field: c.field.clone(),
        // ALB matches host names case-insensitively.
        host_header_config: c.host_header_config.as_ref().map(|v| canonical_values(v, lower)),
        // Paths are case-sensitive.
        path_pattern_config: c.path_pattern_config.as_ref().map(|v| canonical_values(v, same)),
        http_header_config: c.http_header_config.as_ref().map(|h| HttpHeaderConfig {
            // HTTP header names are case-insensitive (RFC 9110).
            http_header_name: h.http_header_name.to_ascii_lowercase(),
            values: set_of(&h.values, same),
            regex_values: set_of(&h.regex_values, same),
        }),
        query_string_config: c.query_string_config.as_ref().map(|q| {
            // Pairs are alternatives; an empty key is no key (match the value alone).
            let mut values: Vec<KeyValue> = q
                .values
                .iter()
                .map(|kv| KeyValue { key: kv.key.clone().filter(|k| !k.is_empty()), value: kv.value.clone() })
                .collect();
            values.sort_by(|a, b| (&a.key, &a.value).cmp(&(&b.key, &b.value)));
            values.dedup();
            QueryStringConfig { values }
        }),
        // Methods are case-sensitive tokens; the order of alternatives does not matter.
        http_request_method_config: c.http_request_method_config.as_ref().map(|v| canonical_values(v, same)),
        // CIDRs: IPv6 hex digits are case-insensitive.
        source_ip_config: c.source_ip_config.as_ref().map(|v| canonical_values(v, lower)),
    }
}

/// Conditions in canonical form. A rule's conditions are ANDed, so they are sorted (by field,
/// then header name or key, then values); within a condition, values are sorted and deduplicated.
pub fn canonical_conditions(conditions: &[Condition]) -> Vec<Condition> {
    let mut out: Vec<Condition> = conditions.iter().map(canonical_condition).collect();
    out.sort_by_cached_key(|c| serde_json::to_string(c).unwrap_or_default());
    out
}

/// Transforms in canonical form: a rule has at most one transform of each type and they are
/// applied by type, not by list position, so they are sorted by type. Rewrites keep their order.
pub fn canonical_transforms(transforms: &[Transform]) -> Vec<Transform> {
    let mut out = transforms.to_vec();
    out.sort_by_cached_key(|t| serde_json::to_string(t).unwrap_or_default());
    out
}

/// The redirect components AWS fills in when they are left out (the request's own).
const REDIRECT_DEFAULTS: [&str; 5] = ["#{protocol}", "#{port}", "#{host}", "/#{path}", "#{query}"];

/// AWS's defaults for authentication actions (OIDC and Cognito), filled in on read.
const AUTH_DEFAULTS: [(&str, &str); 3] = [
    ("Scope", "openid"),
    ("SessionCookieName", "AWSELBAuthSessionCookie"),
    ("OnUnauthenticatedRequest", "authenticate"),
];
const AUTH_DEFAULT_SESSION_TIMEOUT: i64 = 604_800;

fn canonical_auth(config: &Value) -> Value {
    let Some(map) = config.as_object() else { return config.clone() };
    let mut out = Map::new();
    for (key, value) in map {
        match (key.as_str(), value) {
            // An explicit null is an absent field.
            (_, Value::Null) => {}
            // Write-only: AWS never describes the client secret or the instruction to keep it.
            ("ClientSecret" | "UseExistingClientSecret", _) => {}
            // No extra parameters is the same as an empty map.
            ("AuthenticationRequestExtraParams", Value::Object(p)) if p.is_empty() => {}
            // A number, however written.
            ("SessionTimeout", v) => {
                let n = v.as_i64().or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()));
                out.insert(key.clone(), n.map_or_else(|| v.clone(), Value::from));
            }
            // OAuth scopes are an order-independent set (RFC 6749 section 3.3).
            ("Scope", Value::String(s)) => {
                let mut scopes: Vec<&str> = s.split_whitespace().collect();
                scopes.sort_unstable();
                scopes.dedup();
                out.insert(key.clone(), Value::String(scopes.join(" ")));
            }
            _ => {
                out.insert(key.clone(), value.clone());
            }
        }
    }
    // Defaults AWS fills in when the plan leaves them out.
    for (key, default) in AUTH_DEFAULTS {
        out.entry(key).or_insert_with(|| Value::String(default.into()));
    }
    out.entry("SessionTimeout").or_insert_with(|| Value::from(AUTH_DEFAULT_SESSION_TIMEOUT));
    Value::Object(out)
}

/// [`canonical_auth`]'s rules on the typed OIDC config.
fn canonical_oidc(c: &AuthenticateOidcConfig) -> AuthenticateOidcConfig {
    let default = |value: &Option<String>, key: &str| {
        let fallback = AUTH_DEFAULTS.iter().find(|(k, _)| *k == key).map(|(_, v)| *v).unwrap_or_default();
        Some(value.clone().unwrap_or_else(|| fallback.to_owned()))
    };
    let scope = default(&c.scope, "Scope").map(|s| {
        let mut scopes: Vec<&str> = s.split_whitespace().collect();
        scopes.sort_unstable();
        scopes.dedup();
        scopes.join(" ")
    });
    AuthenticateOidcConfig {
        // Write-only: AWS never describes the client secret or the instruction to keep it.
        client_secret: None,
        use_existing_client_secret: None,
        scope,
        session_cookie_name: default(&c.session_cookie_name, "SessionCookieName"),
        on_unauthenticated_request: default(&c.on_unauthenticated_request, "OnUnauthenticatedRequest"),
        session_timeout: Some(c.session_timeout.unwrap_or(AUTH_DEFAULT_SESSION_TIMEOUT)),
        authentication_request_extra_params: c.authentication_request_extra_params.clone().filter(|p| !p.is_empty()),
        ..c.clone()
    }
}

fn canonical_jwt(config: &Value) -> Value {
    let Some(map) = config.as_object() else { return config.clone() };
    let mut out = Map::new();
    for (key, value) in map {
        match (key.as_str(), value) {
            (_, Value::Null) => {}
            // No additional claims is the same as an empty list.
            ("AdditionalClaims", Value::Array(claims)) if claims.is_empty() => {}
            // Every additional claim must hold: their order does not matter. Claim values keep
            // their order (how AWS compares them depends on the claim format).
            ("AdditionalClaims", Value::Array(claims)) => {
                let mut claims = claims.clone();
                claims.sort_by_cached_key(|c| c.to_string());
                out.insert(key.clone(), Value::Array(claims));
            }
            _ => {
                out.insert(key.clone(), value.clone());
            }
        }
    }
    Value::Object(out)
}

fn canonical_action(a: &Action) -> Action {
    let mut out = a.clone();
    if let Some(f) = &mut out.forward_config {
        // Weighted target groups are a set: AWS may describe them in any order.
        f.target_groups.sort_by(|x, y| (&x.target_group_arn, x.weight).cmp(&(&y.target_group_arn, y.weight)));
        // A lone target group takes all traffic whatever its (non-zero) weight; the legacy
        // single-ARN form is described with weight 1.
        if let [only] = f.target_groups.as_mut_slice()
            && only.weight > 0
        {
            only.weight = 1;
        }
        // Disabled stickiness is no stickiness (AWS and moto describe `Enabled: false` when none
        // was asked for); its duration means nothing then.
        if f.target_group_stickiness_config.as_ref().is_some_and(|s| !s.enabled) {
            f.target_group_stickiness_config = None;
        }
    }
    if let Some(r) = &mut out.redirect_config {
        // An omitted component is the request's own: AWS describes it with its keyword.
        for (part, default) in
            [&mut r.protocol, &mut r.port, &mut r.host, &mut r.path, &mut r.query].into_iter().zip(REDIRECT_DEFAULTS)
        {
            if part.is_empty() {
                *part = default.to_owned();
            }
        }
        // Protocols are case-insensitive (the API documents HTTP and HTTPS).
        if !r.protocol.starts_with("#{") {
            r.protocol = r.protocol.to_ascii_uppercase();
        }
    }
    if let Some(f) = &mut out.fixed_response_config {
        // A fixed response without a content type is served as text/plain, which the plan
        // always names.
        if f.content_type.as_deref().is_none_or(str::is_empty) {
            f.content_type = Some("text/plain".into());
        }
        // No body and an empty body are the same response.
        if f.message_body.as_deref() == Some("") {
            f.message_body = None;
        }
    }
    out.authenticate_oidc_config = out.authenticate_oidc_config.as_ref().map(canonical_oidc);
    out.authenticate_cognito_config = out.authenticate_cognito_config.as_ref().map(canonical_auth);
    out.jwt_validation_config = out.jwt_validation_config.as_ref().map(canonical_jwt);
    out
}

/// Actions (of a rule or a listener's defaults) in canonical form: sorted by `Order` and
/// renumbered 1, 2, ... (only the relative order matters and an omitted order reads back as
/// AWS's numbering), each with the normalizations documented inline.
pub fn canonical_actions(actions: &[Action]) -> Vec<Action> {
    let mut out = actions.to_vec();
    out.sort_by_key(|a| a.order);
    for (i, a) in out.iter_mut().enumerate() {
        *a = canonical_action(a);
        a.order = i as u32 + 1;
    }
    out
}

/// A rule's conditions, actions and transforms in canonical form: two rules that do the same are
/// equal here whether they come from the plan or from DescribeRules.
pub fn canonical_rule(
    conditions: &[Condition],
    actions: &[Action],
    transforms: &[Transform],
) -> (Vec<Condition>, Vec<Action>, Vec<Transform>) {
    (canonical_conditions(conditions), canonical_actions(actions), canonical_transforms(transforms))
}

/// CreateLoadBalancer `SubnetMappings`; `None` when the plan has none (subnets go by id).
pub fn subnet_mappings_to_sdk(
    mappings: &[albatross_model::plan::types::SubnetMapping],
) -> Option<Vec<aws_sdk_elasticloadbalancingv2::types::SubnetMapping>> {
    (!mappings.is_empty()).then(|| {
        mappings
            .iter()
            .map(|m| {
                aws_sdk_elasticloadbalancingv2::types::SubnetMapping::builder()
                    .subnet_id(&m.subnet_id)
                    .set_allocation_id(m.allocation_id.clone())
                    .set_private_ipv4_address(m.private_ipv4_address.clone())
                    .set_ipv6_address(m.ipv6_address.clone())
                    .set_source_nat_ipv6_prefix(m.source_nat_ipv6_prefix.clone())
                    .build()
            })
            .collect()
    })
}

pub fn ipam_pools_to_sdk(
    pools: Option<&albatross_model::plan::types::IpamPools>,
) -> Option<aws_sdk_elasticloadbalancingv2::types::IpamPools> {
    pools.map(|p| {
        aws_sdk_elasticloadbalancingv2::types::IpamPools::builder().ipv4_ipam_pool_id(&p.ipv4_ipam_pool_id).build()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn arn_of(id: &str) -> Option<String> {
        (!id.starts_with("missing")).then(|| format!("arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/{id}/0"))
    }

    fn id_of(arn: &str) -> String {
        arn.strip_prefix("arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/")
            .and_then(|s| s.strip_suffix("/0"))
            .unwrap_or(arn)
            .to_owned()
    }

    fn values(v: &[&str]) -> Values {
        Values { values: v.iter().map(|s| s.to_string()).collect(), regex_values: Vec::new() }
    }

    fn regex(v: &[&str]) -> Values {
        Values { values: Vec::new(), regex_values: v.iter().map(|s| s.to_string()).collect() }
    }

    fn conditions() -> Vec<Condition> {
        vec![
            Condition {
                field: "host-header".into(),
                host_header_config: Some(values(&["a.example.com", "*.b.io"])),
                ..Default::default()
            },
            Condition {
                field: "host-header".into(),
                host_header_config: Some(regex(&["^api\\d+\\.example\\.com$"])),
                ..Default::default()
            },
            Condition {
                field: "path-pattern".into(),
                path_pattern_config: Some(values(&["/a/*"])),
                ..Default::default()
            },
            Condition {
                field: "path-pattern".into(),
                path_pattern_config: Some(regex(&["^/v[0-9]+/"])),
                ..Default::default()
            },
            Condition {
                field: "http-header".into(),
                http_header_config: Some(HttpHeaderConfig {
                    http_header_name: "x-env".into(),
                    values: vec!["blue".into(), "green".into()],
                    regex_values: Vec::new(),
                }),
                ..Default::default()
            },
            Condition {
                field: "http-header".into(),
                http_header_config: Some(HttpHeaderConfig {
                    http_header_name: "user-agent".into(),
                    values: Vec::new(),
                    regex_values: vec!["^curl/.*".into()],
                }),
                ..Default::default()
            },
            Condition {
                field: "query-string".into(),
                query_string_config: Some(QueryStringConfig {
                    values: vec![
                        KeyValue { key: Some("page".into()), value: "2".into() },
                        KeyValue { key: None, value: "flag".into() },
                    ],
                }),
                ..Default::default()
            },
            Condition {
                field: "http-request-method".into(),
                http_request_method_config: Some(values(&["POST", "PUT"])),
                ..Default::default()
            },
            Condition {
                field: "source-ip".into(),
                source_ip_config: Some(values(&["10.0.0.0/8", "2001:db8::/32"])),
                ..Default::default()
            },
        ]
    }

    fn forward(tgs: &[(&str, i32)], stickiness: Option<StickinessConfig>) -> Action {
        Action {
            r#type: "forward".into(),
            order: 1,
            forward_config: Some(ForwardConfig {
                target_groups: tgs
                    .iter()
                    .map(|(id, w)| WeightedTargetGroup { target_group_arn: id.to_string(), weight: *w })
                    .collect(),
                target_group_stickiness_config: stickiness,
            }),
            ..Default::default()
        }
    }

    fn oidc() -> AuthenticateOidcConfig {
        serde_json::from_value(json!({
            "AuthorizationEndpoint": "https://idp.example.com/authorize",
            "ClientId": {"Value": "client"},
            "ClientSecret": {"Value": "secret"},
            "Issuer": "https://idp.example.com",
            "OnUnauthenticatedRequest": "deny",
            "Scope": "openid email",
            "SessionCookieName": "Cookie",
            "SessionTimeout": 3600,
            "TokenEndpoint": "https://idp.example.com/token",
            "UserInfoEndpoint": "https://idp.example.com/userinfo",
            "AuthenticationRequestExtraParams": {"prompt": "login"},
            "UseExistingClientSecret": false
        }))
        .unwrap()
    }

    fn cognito() -> Value {
        json!({
            "AuthenticationRequestExtraParams": {"display": "page"},
            "OnUnauthenticatedRequest": "allow",
            "Scope": "openid",
            "SessionCookieName": "AWSELBAuthSessionCookie",
            "SessionTimeout": 604800,
            "UserPoolArn": "arn:aws:cognito-idp:us-east-1:111122223333:userpool/us-east-1_abc",
            "UserPoolClientId": "client123",
            "UserPoolDomain": "shop-auth"
        })
    }

    fn jwt() -> Value {
        json!({
            "JwksEndpoint": "https://j.example.com/jwks",
            "Issuer": "https://j.example.com",
            "AdditionalClaims": [
                {"Format": "string-array", "Name": "groups", "Values": ["admin", "ops"]},
                {"Format": "single-string", "Name": "aud", "Values": ["shop"]}
            ]
        })
    }

    fn actions() -> Vec<Action> {
        vec![
            forward(&[("tg-a", 1)], None),
            forward(&[("tg-a", 80), ("tg-b", 20), ("tg-c", 0)], None),
            forward(
                &[("tg-a", 10), ("tg-b", 90)],
                Some(StickinessConfig { enabled: true, duration_seconds: Some(600) }),
            ),
            Action {
                r#type: "redirect".into(),
                order: 1,
                redirect_config: Some(RedirectConfig {
                    protocol: "HTTPS".into(),
                    port: "443".into(),
                    host: "#{host}".into(),
                    path: "/#{path}".into(),
                    query: "source=gateway&#{query}".into(),
                    status_code: "HTTP_301".into(),
                }),
                ..Default::default()
            },
            Action {
                r#type: "fixed-response".into(),
                order: 1,
                fixed_response_config: Some(FixedResponseConfig {
                    status_code: "403".into(),
                    content_type: Some("text/plain".into()),
                    message_body: Some("authentication requires HTTPS".into()),
                }),
                ..Default::default()
            },
            Action {
                r#type: "authenticate-oidc".into(),
                order: 1,
                authenticate_oidc_config: Some(oidc()),
                ..Default::default()
            },
            Action {
                r#type: "authenticate-cognito".into(),
                order: 1,
                authenticate_cognito_config: Some(cognito()),
                ..Default::default()
            },
            Action {
                r#type: "jwt-validation".into(),
                order: 1,
                jwt_validation_config: Some(jwt()),
                ..Default::default()
            },
        ]
    }

    fn transforms() -> Vec<Transform> {
        vec![
            Transform {
                r#type: "url-rewrite".into(),
                url_rewrite_config: Some(RewriteConfig {
                    rewrites: vec![Rewrite { regex: "^/v1/api".into(), replace: "/v2".into() }],
                }),
                host_header_rewrite_config: None,
            },
            Transform {
                r#type: "host-header-rewrite".into(),
                url_rewrite_config: None,
                host_header_rewrite_config: Some(RewriteConfig {
                    rewrites: vec![Rewrite { regex: ".*".into(), replace: "internal.store.svc".into() }],
                }),
            },
        ]
    }

    #[test]
    fn conditions_round_trip() {
        for c in conditions() {
            let back = condition_from_sdk(&condition_to_sdk(&c));
            assert_eq!(back, c, "exact round trip");
            assert_eq!(canonical_conditions(&[back]), canonical_conditions(&[c]));
        }
    }

    #[test]
    fn conditions_use_typed_configs_not_legacy_values() {
        for c in conditions() {
            let s = condition_to_sdk(&c);
            assert!(s.values.is_none() && s.regex_values.is_none(), "{s:?}");
        }
    }

    #[test]
    fn legacy_values_read_as_typed_configs() {
        let legacy = sdk::RuleCondition::builder().field("path-pattern").values("/x/*").build();
        assert_eq!(
            condition_from_sdk(&legacy),
            Condition {
                field: "path-pattern".into(),
                path_pattern_config: Some(values(&["/x/*"])),
                ..Default::default()
            }
        );
        // AWS describes both shapes; the typed config wins.
        let both = sdk::RuleCondition::builder()
            .field("host-header")
            .values("a.io")
            .host_header_config(sdk::HostHeaderConditionConfig::builder().values("a.io").values("b.io").build())
            .build();
        assert_eq!(condition_from_sdk(&both).host_header_config, Some(values(&["a.io", "b.io"])));
    }

    #[test]
    fn actions_round_trip() {
        for a in actions() {
            let s = action_to_sdk(&a, &arn_of).unwrap();
            let back = action_from_sdk(&s, &id_of);
            assert_eq!(back, a, "exact round trip");
            assert_eq!(canonical_actions(&[back]), canonical_actions(&[a]));
        }
    }

    #[test]
    fn forward_names_real_arns() {
        let s = action_to_sdk(&forward(&[("tg-a", 3)], None), &arn_of).unwrap();
        let tuple = &s.forward_config().unwrap().target_groups()[0];
        assert_eq!(tuple.target_group_arn(), Some("arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/tg-a/0"));
        assert_eq!(tuple.weight(), Some(3));
        assert!(s.target_group_arn().is_none());
        let err = action_to_sdk(&forward(&[("tg-a", 1), ("missing-x", 1)], None), &arn_of).unwrap_err();
        assert_eq!(err, ConversionError::UnresolvedTargetGroup("missing-x".into()));
    }

    #[test]
    fn bad_actions_are_errors() {
        let unknown = Action { r#type: "teleport".into(), ..Default::default() };
        assert_eq!(
            action_to_sdk(&unknown, &arn_of).unwrap_err(),
            ConversionError::UnsupportedAction("teleport".into())
        );
        let bare = Action { r#type: "forward".into(), ..Default::default() };
        assert!(action_to_sdk(&bare, &arn_of).unwrap_err().to_string().contains("ForwardConfig"));
        let mut unresolved = actions()[5].clone();
        let reference = albatross_model::plan::types::SecretKeyRef {
            namespace: "shop".into(),
            name: "oidc-client".into(),
            key: "clientSecret".into(),
        };
        unresolved.authenticate_oidc_config.as_mut().unwrap().client_secret = Some(Credential::SecretRef(reference));
        assert!(matches!(
            action_to_sdk(&unresolved, &arn_of),
            Err(ConversionError::UnresolvedSecret { field: "ClientSecret", .. })
        ));
        let behaviour = Action {
            r#type: "authenticate-cognito".into(),
            authenticate_cognito_config: Some(json!({"OnUnauthenticatedRequest": "maybe"})),
            ..Default::default()
        };
        assert!(action_to_sdk(&behaviour, &arn_of).is_err());
        let mut redirect = actions()[3].clone();
        redirect.redirect_config.as_mut().unwrap().status_code = "HTTP_307".into();
        assert!(action_to_sdk(&redirect, &arn_of).unwrap_err().to_string().contains("HTTP_307"));
    }

    #[test]
    fn auth_configs_map_every_field() {
        let s = action_to_sdk(&actions()[5], &arn_of).unwrap();
        let o = s.authenticate_oidc_config().unwrap();
        assert_eq!(o.session_timeout(), Some(3600));
        assert_eq!(o.client_secret(), Some("secret"));
        assert_eq!(o.use_existing_client_secret(), Some(false));
        assert_eq!(o.on_unauthenticated_request().map(|b| b.as_str()), Some("deny"));
        assert_eq!(o.authentication_request_extra_params().unwrap()["prompt"], "login");
        let s = action_to_sdk(&actions()[7], &arn_of).unwrap();
        let j = s.jwt_validation_config().unwrap();
        assert_eq!(j.additional_claims()[0].format().map(|f| f.as_str()), Some("string-array"));
        assert_eq!(j.additional_claims()[0].values(), ["admin", "ops"]);
        // A session timeout written as a string is accepted.
        let text = Action {
            r#type: "authenticate-cognito".into(),
            authenticate_cognito_config: Some(json!({"SessionTimeout": "60"})),
            ..Default::default()
        };
        let s = action_to_sdk(&text, &arn_of).unwrap();
        assert_eq!(s.authenticate_cognito_config().unwrap().session_timeout(), Some(60));
    }

    #[test]
    fn transforms_round_trip() {
        for t in transforms() {
            let back = transform_from_sdk(&transform_to_sdk(&t));
            assert_eq!(back, t);
            assert_eq!(canonical_transforms(&[back]), canonical_transforms(&[t]));
        }
        let ts = transforms();
        let reversed: Vec<Transform> = ts.iter().rev().cloned().collect();
        assert_eq!(canonical_transforms(&ts), canonical_transforms(&reversed));
    }

    #[test]
    fn whole_rule_round_trips() {
        let (c, a, t) = (conditions(), vec![actions()[5].clone(), forward(&[("tg-a", 1)], None)], transforms());
        let mut a = a;
        a[1].order = 2;
        let sc: Vec<_> = c.iter().map(condition_to_sdk).collect();
        let sa: Vec<_> = a.iter().map(|a| action_to_sdk(a, &arn_of).unwrap()).collect();
        let st: Vec<_> = t.iter().map(transform_to_sdk).collect();
        // AWS may describe the parts in another order.
        let back = (
            sc.iter().rev().map(condition_from_sdk).collect::<Vec<_>>(),
            sa.iter().rev().map(|a| action_from_sdk(a, &id_of)).collect::<Vec<_>>(),
            st.iter().rev().map(transform_from_sdk).collect::<Vec<_>>(),
        );
        assert_eq!(canonical_rule(&back.0, &back.1, &back.2), canonical_rule(&c, &a, &t));
    }

    #[test]
    fn conditions_compare_as_sets() {
        let a = vec![
            Condition {
                field: "path-pattern".into(),
                path_pattern_config: Some(values(&["/b", "/a", "/a"])),
                ..Default::default()
            },
            Condition {
                field: "host-header".into(),
                host_header_config: Some(values(&["Shop.Example.com"])),
                ..Default::default()
            },
            Condition {
                field: "http-header".into(),
                http_header_config: Some(HttpHeaderConfig {
                    http_header_name: "X-Env".into(),
                    values: vec!["b".into(), "a".into()],
                    regex_values: Vec::new(),
                }),
                ..Default::default()
            },
            Condition {
                field: "query-string".into(),
                query_string_config: Some(QueryStringConfig {
                    values: vec![
                        KeyValue { key: Some("z".into()), value: "1".into() },
                        KeyValue { key: Some(String::new()), value: "v".into() },
                    ],
                }),
                ..Default::default()
            },
        ];
        let b = vec![
            Condition {
                field: "query-string".into(),
                query_string_config: Some(QueryStringConfig {
                    values: vec![
                        KeyValue { key: None, value: "v".into() },
                        KeyValue { key: Some("z".into()), value: "1".into() },
                    ],
                }),
                ..Default::default()
            },
            Condition {
                field: "http-header".into(),
                http_header_config: Some(HttpHeaderConfig {
                    http_header_name: "x-env".into(),
                    values: vec!["a".into(), "b".into()],
                    regex_values: Vec::new(),
                }),
                ..Default::default()
            },
            Condition {
                field: "host-header".into(),
                host_header_config: Some(values(&["shop.example.com"])),
                ..Default::default()
            },
            Condition {
                field: "path-pattern".into(),
                path_pattern_config: Some(values(&["/a", "/b"])),
                ..Default::default()
            },
        ];
        assert_eq!(canonical_conditions(&a), canonical_conditions(&b));
        // Paths and header values stay case-sensitive.
        let upper = vec![Condition {
            field: "path-pattern".into(),
            path_pattern_config: Some(values(&["/A"])),
            ..Default::default()
        }];
        let lower = vec![Condition {
            field: "path-pattern".into(),
            path_pattern_config: Some(values(&["/a"])),
            ..Default::default()
        }];
        assert_ne!(canonical_conditions(&upper), canonical_conditions(&lower));
    }

    #[test]
    fn forward_normalizations() {
        let plan = forward(&[("tg-a", 5)], None);
        // The legacy single-ARN shape, as AWS (with its default stickiness) describes it.
        let legacy = sdk::Action::builder()
            .r#type(sdk::ActionTypeEnum::Forward)
            .target_group_arn(arn_of("tg-a").unwrap())
            .forward_config(
                sdk::ForwardActionConfig::builder()
                    .target_group_stickiness_config(sdk::TargetGroupStickinessConfig::builder().enabled(false).build())
                    .build(),
            )
            .build();
        let read = action_from_sdk(&legacy, &id_of);
        assert_eq!(read.forward_config.as_ref().unwrap().target_groups[0].weight, 1);
        assert_eq!(canonical_actions(&[read]), canonical_actions(&[plan]));
        // Target group order and disabled stickiness (with or without a duration) do not matter.
        let a =
            forward(&[("tg-a", 1), ("tg-b", 2)], Some(StickinessConfig { enabled: false, duration_seconds: Some(60) }));
        let b = forward(&[("tg-b", 2), ("tg-a", 1)], None);
        assert_eq!(canonical_actions(&[a]), canonical_actions(&[b]));
        // Enabled stickiness, a zero weight and real weights do.
        let on = forward(&[("tg-a", 1)], Some(StickinessConfig { enabled: true, duration_seconds: Some(60) }));
        assert_ne!(canonical_actions(&[on]), canonical_actions(&[forward(&[("tg-a", 1)], None)]));
        assert_ne!(
            canonical_actions(&[forward(&[("tg-a", 0)], None)]),
            canonical_actions(&[forward(&[("tg-a", 1)], None)])
        );
        assert_ne!(
            canonical_actions(&[forward(&[("tg-a", 1), ("tg-b", 2)], None)]),
            canonical_actions(&[forward(&[("tg-a", 2), ("tg-b", 1)], None)])
        );
    }

    #[test]
    fn redirect_defaults_equal_empty_components() {
        let full = actions()[3].clone();
        let mut sparse = full.clone();
        let r = sparse.redirect_config.as_mut().unwrap();
        r.host = String::new();
        r.path = String::new();
        r.protocol = "https".into();
        let s = action_to_sdk(&sparse, &arn_of).unwrap();
        assert!(s.redirect_config().unwrap().host().is_none(), "empty components are not sent");
        let described = action_from_sdk(&s, &id_of);
        assert_eq!(canonical_actions(&[described]), canonical_actions(&[full]));
    }

    #[test]
    fn fixed_response_and_order_normalizations() {
        let plan = Action {
            r#type: "fixed-response".into(),
            order: 1,
            fixed_response_config: Some(FixedResponseConfig {
                status_code: "404".into(),
                content_type: Some("text/plain".into()),
                message_body: None,
            }),
            ..Default::default()
        };
        let read = Action {
            order: 0,
            fixed_response_config: Some(FixedResponseConfig {
                status_code: "404".into(),
                content_type: None,
                message_body: Some(String::new()),
            }),
            ..plan.clone()
        };
        assert_eq!(canonical_actions(&[read]), canonical_actions(&[plan]));
        // Orders compare by rank, not value; the list order does not matter.
        let mut auth = actions()[5].clone();
        auth.order = 10;
        let mut fwd = forward(&[("tg-a", 1)], None);
        fwd.order = 20;
        let mut auth1 = auth.clone();
        auth1.order = 1;
        let mut fwd2 = fwd.clone();
        fwd2.order = 2;
        assert_eq!(canonical_actions(&[fwd, auth]), canonical_actions(&[auth1, fwd2]));
    }

    #[test]
    fn auth_defaults_and_write_only_fields() {
        let plan = Action {
            r#type: "authenticate-oidc".into(),
            order: 1,
            authenticate_oidc_config: serde_json::from_value(json!({
                "Issuer": "https://i", "ClientId": {"Value": "c"}, "ClientSecret": {"Value": "s"},
                "UseExistingClientSecret": false,
                "AuthorizationEndpoint": "https://a", "TokenEndpoint": "https://t", "UserInfoEndpoint": "https://u",
                "Scope": "email  openid", "AuthenticationRequestExtraParams": {}
            }))
            .unwrap(),
            ..Default::default()
        };
        // What AWS describes: no secret, every default filled in.
        let described = Action {
            authenticate_oidc_config: serde_json::from_value(json!({
                "Issuer": "https://i", "ClientId": {"Value": "c"},
                "AuthorizationEndpoint": "https://a", "TokenEndpoint": "https://t", "UserInfoEndpoint": "https://u",
                "Scope": "openid email", "SessionCookieName": "AWSELBAuthSessionCookie", "SessionTimeout": 604800,
                "OnUnauthenticatedRequest": "authenticate"
            }))
            .unwrap(),
            ..plan.clone()
        };
        assert_eq!(canonical_actions(&[described]), canonical_actions(std::slice::from_ref(&plan)));
        let mut other = plan.clone();
        other.authenticate_oidc_config.as_mut().unwrap().issuer = "https://other".into();
        assert_ne!(canonical_actions(&[other]), canonical_actions(&[plan]));
        // JWT claims are a set.
        let mut j = jwt();
        j["AdditionalClaims"].as_array_mut().unwrap().reverse();
        let a =
            Action { r#type: "jwt-validation".into(), order: 1, jwt_validation_config: Some(j), ..Default::default() };
        assert_eq!(canonical_actions(&[a]), canonical_actions(&[actions()[7].clone()]));
    }

    #[test]
    fn tags_attributes_certificates_matcher_and_enums() {
        let tags = vec![Tag { key: "b".into(), value: "2".into() }, Tag { key: "a".into(), value: String::new() }];
        let mut sorted = tags.clone();
        sorted.sort();
        assert_eq!(tags_from_sdk(&tags_to_sdk(&tags)), sorted);
        let attrs = vec![Attribute { key: "idle_timeout.timeout_seconds".into(), value: "60".into() }];
        assert_eq!(lb_attributes_from_sdk(&lb_attributes_to_sdk(&attrs)), attrs);
        assert_eq!(tg_attributes_from_sdk(&tg_attributes_to_sdk(&attrs)), attrs);
        let certs = vec![
            Certificate { certificate_arn: "arn:c1".into(), is_default: true },
            Certificate { certificate_arn: "arn:c2".into(), is_default: false },
        ];
        assert_eq!(certificates_from_sdk(&certificates_to_sdk(&certs)), certs);
        for m in [
            Matcher { http_code: Some("200-399".into()), grpc_code: None },
            Matcher { http_code: None, grpc_code: Some("0-99".into()) },
        ] {
            assert_eq!(matcher_from_sdk(&matcher_to_sdk(&m)), m);
        }
        for p in ["HTTP", "HTTPS", "TCP", "TLS", "UDP", "TCP_UDP"] {
            assert_eq!(protocol_from_sdk(&protocol_to_sdk(p).unwrap()), p);
        }
        assert!(protocol_to_sdk("http").is_err());
        for t in ["ip", "instance", "lambda", "alb"] {
            assert_eq!(target_type_from_sdk(&target_type_to_sdk(t).unwrap()), t);
        }
        for s in ["internal", "internet-facing"] {
            assert_eq!(scheme_from_sdk(&scheme_to_sdk(s).unwrap()), s);
        }
        for t in ["application", "network"] {
            assert_eq!(lb_type_from_sdk(&lb_type_to_sdk(t).unwrap()), t);
        }
        for t in ["ipv4", "dualstack", "dualstack-without-public-ipv4"] {
            assert_eq!(ip_address_type_from_sdk(&ip_address_type_to_sdk(t).unwrap()), t);
        }
        assert!(ip_address_type_to_sdk("ipv5").is_err());
    }
}
