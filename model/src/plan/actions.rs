//! What an ALB rule does: its actions and transforms, from the route rule's filters, its
//! ListenerRuleConfiguration and its backends.

use std::collections::BTreeMap;

use albatross_k8s::aws::ListenerRuleConfigurationSpec;
use albatross_k8s::aws::listener_rule_configuration::{
    Action as ActionSpec, ActionType, AuthenticateCognitoActionConfig, AuthenticateOidcActionConfig,
    FixedResponseActionConfig, ForwardActionConfig, JwtValidationActionAdditionalClaim, JwtValidationActionConfig,
    ListenerRuleCondition, ListenerRuleConditionField, RedirectActionConfig, SourceIpConditionConfig,
    TargetGroupStickinessConfig,
};
use albatross_k8s::gateway_api::v1::httproutes::{
    HttpRouteRulesFiltersRequestRedirect, HttpRouteRulesFiltersUrlRewrite,
};
use albatross_k8s::route::{RouteFilter, RouteMatch, RouteRule};
use serde_json::{Map, Value, json};

use super::alb::enum_text;
use super::types::{
    Action, AuthenticateOidcConfig, Condition, Credential, FixedResponseConfig, ForwardConfig, RedirectConfig, Rewrite,
    RewriteConfig, SecretKeyRef, StickinessConfig, Transform, Values, WeightedTargetGroup,
};

/// What a rule does, given its filters, ListenerRuleConfiguration and backends.
pub struct RuleActions<'a> {
    pub rule: &'a RouteRule,
    pub match_index: usize,
    /// The ListenerRuleConfiguration's spec, if the rule names one.
    pub config: Option<&'a ListenerRuleConfigurationSpec>,
    /// Namespace of the route, which is the ListenerRuleConfiguration's (it is looked up
    /// there), and so of the Secret its OIDC action names.
    pub namespace: &'a str,
    pub listener_protocol: &'a str,
    pub listener_port: i32,
    /// `(target group id, weight)` of the backends that resolved.
    pub targets: Vec<(String, i32)>,
}

/// What ALB cannot do for a rule, or a configuration that cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum ActionError {
    /// A redirect from an HTTPS listener down to HTTP.
    #[error("requestRedirect.scheme http: ALB cannot redirect from HTTPS to HTTP")]
    RedirectToHttp,
    /// A redirect status ALB has no equivalent for.
    #[error("requestRedirect.statusCode {0}: ALB redirects with 301 or 302 only")]
    RedirectStatus(i64),
    /// A redirect that changes nothing.
    #[error(
        "requestRedirect changes neither scheme, hostname, port nor path: the redirect would loop, and ALB refuses it"
    )]
    RedirectLoop,
    /// More condition values than a rule takes.
    #[error(transparent)]
    Limit(#[from] super::limits::ConditionLimit),
}

/// A rule's actions and transforms, and the conditions its configuration adds.
#[derive(Debug, Default)]
pub struct RuleParts {
    pub actions: Vec<Action>,
    pub transforms: Vec<Transform>,
    pub conditions: Vec<Condition>,
}

pub fn fixed_response(code: &str, content_type: &str, body: Option<&str>) -> Action {
    Action {
        r#type: "fixed-response".into(),
        order: 0,
        fixed_response_config: Some(FixedResponseConfig {
            status_code: code.into(),
            content_type: Some(content_type.into()),
            message_body: body.map(str::to_owned),
        }),
        ..Action::default()
    }
}

/// A forward to weighted target groups, or a 500 when none can take traffic (as Gateway API
/// asks for a rule whose backends are all invalid or weightless).
pub fn forward(targets: &[(String, i32)], stickiness: Option<StickinessConfig>) -> Action {
    if targets.iter().all(|(_, w)| *w == 0) {
        return fixed_response("500", "text/plain", None);
    }
    let mut weights: BTreeMap<String, i32> = BTreeMap::new();
    for (id, w) in targets {
        *weights.entry(id.clone()).or_default() += w;
    }
    Action {
        r#type: "forward".into(),
        forward_config: Some(ForwardConfig {
            target_groups: weights
                .into_iter()
                .map(|(id, weight)| WeightedTargetGroup { target_group_arn: id, weight })
                .collect(),
            target_group_stickiness_config: stickiness,
        }),
        ..Action::default()
    }
}

fn url_rewrite(rewrite: Rewrite) -> Transform {
    Transform {
        r#type: "url-rewrite".into(),
        url_rewrite_config: Some(RewriteConfig { rewrites: vec![rewrite] }),
        host_header_rewrite_config: None,
    }
}

/// Replaces the matched path prefix; the rest of the path and any query string stay as they are.
fn prefix_rewrite(matched: &str, replacement: &str) -> Rewrite {
    let old = regex_escape(matched.trim_end_matches('/'));
    match replacement.trim_end_matches('/') {
        // "/old" and "/old/x" become "/" and "/x", never an empty path.
        "" => Rewrite { regex: format!("^{old}/?"), replace: "/".into() },
        new => Rewrite { regex: format!("^{old}"), replace: new.to_owned() },
    }
}

fn regex_escape(s: &str) -> String {
    s.chars().fold(String::new(), |mut out, c| {
        if "\\.+*?()|[]{}^$".contains(c) {
            out.push('\\');
        }
        out.push(c);
        out
    })
}

struct Redirect<'a> {
    filter: &'a HttpRouteRulesFiltersRequestRedirect,
    query: Option<String>,
    listener_protocol: &'a str,
    listener_port: i32,
    matched_prefix: &'a str,
}

fn redirect_action(r: &Redirect) -> Result<(Action, Vec<Transform>), ActionError> {
    let f = r.filter;
    let scheme = f.scheme.as_ref().map(enum_text).map(|s| s.to_uppercase());
    if r.listener_protocol == "HTTPS" && scheme.as_deref() == Some("HTTP") {
        return Err(ActionError::RedirectToHttp);
    }
    let code = match f.status_code.unwrap_or(302) {
        301 => "HTTP_301",
        302 => "HTTP_302",
        other => return Err(ActionError::RedirectStatus(other)),
    };
    // Gateway API: a new scheme brings its well-known port; without one the listener's is kept.
    let mut port = match (f.port, scheme.as_deref()) {
        (Some(p), _) => p.to_string(),
        (None, Some("HTTPS")) => "443".into(),
        (None, Some("HTTP")) => "80".into(),
        _ => "#{port}".into(),
    };
    let mut transforms = Vec::new();
    let path = match &f.path {
        Some(p) if p.replace_full_path.is_some() => p.replace_full_path.clone().unwrap_or_default(),
        Some(p) => {
            // ALB redirects cannot rewrite part of a path: a URL rewrite transform does it first.
            if let Some(prefix) = &p.replace_prefix_match {
                transforms.push(url_rewrite(prefix_rewrite(r.matched_prefix, prefix)));
            }
            "/#{path}".into()
        }
        None => "/#{path}".into(),
    };
    let protocol = scheme.unwrap_or_else(|| "#{protocol}".into());
    let host = f.hostname.clone().unwrap_or_else(|| "#{host}".into());
    // ALB refuses a redirect that keeps protocol, host, port and path as they are.
    if protocol == "#{protocol}" && host == "#{host}" && port == "#{port}" && path == "/#{path}" {
        if transforms.is_empty() {
            return Err(ActionError::RedirectLoop);
        }
        // The path changes through the transform; naming the listener's port (the port Gateway
        // API asks for) makes the redirect acceptable to ALB.
        port = r.listener_port.to_string();
    }
    let action = Action {
        r#type: "redirect".into(),
        redirect_config: Some(RedirectConfig {
            protocol,
            port,
            host,
            path,
            query: r.query.clone().unwrap_or_else(|| "#{query}".into()),
            status_code: code.into(),
        }),
        ..Action::default()
    };
    Ok((action, transforms))
}

fn rewrite_transforms(u: &HttpRouteRulesFiltersUrlRewrite, matched_prefix: &str) -> Vec<Transform> {
    let mut out = Vec::new();
    if let Some(host) = &u.hostname {
        out.push(Transform {
            r#type: "host-header-rewrite".into(),
            url_rewrite_config: None,
            host_header_rewrite_config: Some(RewriteConfig {
                rewrites: vec![Rewrite { regex: ".*".into(), replace: host.clone() }],
            }),
        });
    }
    if let Some(path) = &u.path {
        let rewrite = match (&path.replace_full_path, &path.replace_prefix_match) {
            (Some(full), _) => Some(Rewrite { regex: "^([^?]*)".into(), replace: full.clone() }),
            (None, Some(new)) => Some(prefix_rewrite(matched_prefix, new)),
            (None, None) => None,
        };
        out.extend(rewrite.map(url_rewrite));
    }
    out
}

/// `camelCase` keys of our CRDs as ELBv2's `PascalCase`.
/// Sets `key` to `value` when there is one.
fn put<T: serde::Serialize>(out: &mut Map<String, Value>, key: &str, value: Option<&T>) {
    if let Some(v) = value {
        out.insert(key.to_owned(), json!(v));
    }
}

/// A Cognito action's config in ELBv2's shape, every field as given.
fn cognito_config(c: &AuthenticateCognitoActionConfig) -> Value {
    let AuthenticateCognitoActionConfig {
        user_pool_arn,
        user_pool_client_id,
        user_pool_domain,
        scope,
        authentication_request_extra_params,
        on_unauthenticated_request,
        session_cookie_name,
        session_timeout,
    } = c;
    let mut out = Map::new();
    put(&mut out, "UserPoolArn", Some(user_pool_arn));
    put(&mut out, "UserPoolClientId", Some(user_pool_client_id));
    put(&mut out, "UserPoolDomain", Some(user_pool_domain));
    put(&mut out, "Scope", scope.as_ref());
    put(&mut out, "AuthenticationRequestExtraParams", authentication_request_extra_params.as_ref());
    put(&mut out, "OnUnauthenticatedRequest", on_unauthenticated_request.as_ref());
    put(&mut out, "SessionCookieName", session_cookie_name.as_ref());
    put(&mut out, "SessionTimeout", session_timeout.as_ref());
    Value::Object(out)
}

/// A JWT validation action's config in ELBv2's shape, every field as given.
fn jwt_config(c: &JwtValidationActionConfig) -> Value {
    let JwtValidationActionConfig { issuer, jwks_endpoint, additional_claims } = c;
    let claims = additional_claims.as_ref().map(|claims| {
        claims
            .iter()
            .map(|JwtValidationActionAdditionalClaim { format, name, values }| {
                json!({"Format": format, "Name": name, "Values": values})
            })
            .collect::<Vec<_>>()
    });
    let mut out = Map::new();
    put(&mut out, "Issuer", Some(issuer));
    put(&mut out, "JwksEndpoint", Some(jwks_endpoint));
    put(&mut out, "AdditionalClaims", claims.as_ref());
    Value::Object(out)
}

/// An OIDC action's config. The client id and secret are references to keys of the named
/// Secret in the configuration's own `namespace`, read when the plan is applied; every other
/// field is copied literally.
fn oidc_config(c: &AuthenticateOidcActionConfig, namespace: &str) -> AuthenticateOidcConfig {
    let AuthenticateOidcActionConfig {
        authorization_endpoint,
        secret,
        issuer,
        token_endpoint,
        user_info_endpoint,
        scope,
        authentication_request_extra_params,
        on_unauthenticated_request,
        session_cookie_name,
        session_timeout,
        use_existing_client_secret,
    } = c;
    let credential = |key: &str| {
        Credential::SecretRef(SecretKeyRef {
            namespace: namespace.to_owned(),
            name: secret.name.clone(),
            key: key.to_owned(),
        })
    };
    let keep_secret = *use_existing_client_secret == Some(true);
    AuthenticateOidcConfig {
        client_id: credential("clientID"),
        client_secret: (!keep_secret).then(|| credential("clientSecret")),
        issuer: issuer.clone(),
        authorization_endpoint: authorization_endpoint.clone(),
        token_endpoint: token_endpoint.clone(),
        user_info_endpoint: user_info_endpoint.clone(),
        scope: scope.clone(),
        session_cookie_name: session_cookie_name.clone(),
        session_timeout: *session_timeout,
        authentication_request_extra_params: authentication_request_extra_params.clone(),
        on_unauthenticated_request: on_unauthenticated_request.as_ref().map(enum_text),
        use_existing_client_secret: *use_existing_client_secret,
    }
}

/// The configuration's source-IP conditions that apply to the route match `match_index`.
fn source_ip(conditions: &[ListenerRuleCondition], match_index: usize) -> Vec<Condition> {
    let mut out = Vec::new();
    for ListenerRuleCondition { field, source_ip_config, match_indexes } in conditions {
        let applies = match_indexes.as_ref().is_none_or(|ix| ix.iter().any(|i| usize::try_from(*i) == Ok(match_index)));
        match field {
            ListenerRuleConditionField::SourceIp if applies => {
                let values = source_ip_config
                    .as_ref()
                    .map(|SourceIpConditionConfig { values }| values.clone())
                    .unwrap_or_default();
                out.push(Condition {
                    field: "source-ip".into(),
                    source_ip_config: Some(Values { values, regex_values: Vec::new() }),
                    ..Condition::default()
                });
            }
            ListenerRuleConditionField::SourceIp => {}
        }
    }
    out
}

/// The rule's actions; `Err` names what ALB cannot do.
pub fn actions(input: &RuleActions) -> Result<RuleParts, ActionError> {
    let mut parts = RuleParts::default();
    let mut pre = Vec::new();
    let mut last: Option<Action> = None;
    let mut stickiness = None;
    let mut redirect_query = None;
    let mut needs_tls = false;
    if let Some(config) = input.config {
        let ListenerRuleConfigurationSpec { actions, conditions, tags: _ } = config;
        for a in actions.iter().flatten() {
            let ActionSpec {
                r#type,
                forward_config,
                redirect_config,
                fixed_response_config,
                authenticate_cognito_config,
                authenticate_oidc_config,
                jwt_validation_config,
            } = a;
            let authenticates = matches!(
                r#type,
                ActionType::AuthenticateOidc | ActionType::AuthenticateCognito | ActionType::JwtValidation
            );
            match r#type {
                // ALB authenticates on HTTPS listeners only; plain HTTP must not serve the route
                // unauthenticated, so there the rule answers 403 instead.
                _ if authenticates && input.listener_protocol != "HTTPS" => needs_tls = true,
                ActionType::AuthenticateOidc | ActionType::AuthenticateCognito | ActionType::JwtValidation => {
                    pre.push(Action {
                        r#type: enum_text(r#type),
                        authenticate_oidc_config: authenticate_oidc_config
                            .as_ref()
                            .filter(|_| *r#type == ActionType::AuthenticateOidc)
                            .map(|c| oidc_config(c, input.namespace)),
                        authenticate_cognito_config: authenticate_cognito_config
                            .as_ref()
                            .filter(|_| *r#type == ActionType::AuthenticateCognito)
                            .map(cognito_config),
                        jwt_validation_config: jwt_validation_config
                            .as_ref()
                            .filter(|_| *r#type == ActionType::JwtValidation)
                            .map(jwt_config),
                        ..Action::default()
                    });
                }
                ActionType::FixedResponse => {
                    let (code, content_type, body) = match fixed_response_config {
                        Some(FixedResponseActionConfig { status_code, content_type, message_body }) => (
                            status_code.to_string(),
                            content_type.as_ref().map_or_else(|| "text/plain".to_owned(), enum_text),
                            message_body.as_deref(),
                        ),
                        None => (String::new(), "text/plain".to_owned(), None),
                    };
                    last = Some(fixed_response(&code, &content_type, body));
                }
                ActionType::Forward => {
                    let sticky =
                        forward_config.as_ref().and_then(|ForwardActionConfig { target_group_stickiness_config }| {
                            target_group_stickiness_config.as_ref()
                        });
                    if let Some(TargetGroupStickinessConfig { duration_seconds, enabled }) = sticky {
                        stickiness = Some(StickinessConfig {
                            enabled: enabled.unwrap_or(false),
                            duration_seconds: *duration_seconds,
                        });
                    }
                }
                ActionType::Redirect => {
                    redirect_query = redirect_config.as_ref().and_then(|RedirectActionConfig { query }| query.clone());
                }
            }
        }
        parts.conditions = source_ip(conditions.as_deref().unwrap_or_default(), input.match_index);
    }
    let matched_prefix = match input.rule.matches.get(input.match_index) {
        Some(RouteMatch::Http(m)) => m.path.as_ref().and_then(|p| p.value.clone()),
        _ => None,
    };
    let matched_prefix = matched_prefix.as_deref().unwrap_or("/");
    for filter in &input.rule.filters {
        if let RouteFilter::Http(f) = filter {
            if let Some(filter) = &f.request_redirect {
                let (action, t) = redirect_action(&Redirect {
                    filter,
                    query: redirect_query.clone(),
                    listener_protocol: input.listener_protocol,
                    listener_port: input.listener_port,
                    matched_prefix,
                })?;
                parts.transforms.extend(t);
                last = Some(action);
            }
            if let Some(u) = &f.url_rewrite {
                parts.transforms.extend(rewrite_transforms(u, matched_prefix));
            }
        }
    }
    parts.actions = pre;
    if needs_tls {
        parts.actions = vec![fixed_response("403", "text/plain", Some("authentication requires HTTPS"))];
        parts.transforms.clear();
    } else {
        parts.actions.push(last.unwrap_or_else(|| forward(&input.targets, stickiness)));
    }
    for (i, a) in parts.actions.iter_mut().enumerate() {
        a.order = i as u32 + 1;
    }
    Ok(parts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rewritten(r: &Rewrite, url: &str) -> String {
        // The regexes here are a literal prefix with an optional "/": enough to check by hand.
        let (literal, slash) = match r.regex.strip_suffix("/?") {
            Some(l) => (l, true),
            None => (r.regex.as_str(), false),
        };
        let literal = literal.trim_start_matches('^').replace('\\', "");
        let Some(mut rest) = url.strip_prefix(&literal) else { return url.to_owned() };
        if slash {
            rest = rest.strip_prefix('/').unwrap_or(rest);
        }
        format!("{}{rest}", r.replace)
    }

    #[test]
    fn prefix_rewrites_replace_only_the_matched_prefix() {
        let r = prefix_rewrite("/v1/api", "/v2");
        assert_eq!(r.regex, "^/v1/api");
        for (from, to) in [("/v1/api", "/v2"), ("/v1/api/x", "/v2/x"), ("/v1/api/", "/v2/"), ("/v1/api?q=1", "/v2?q=1")]
        {
            assert_eq!(rewritten(&r, from), to);
        }
        assert_eq!(prefix_rewrite("/a.b/", "/c/").regex, r"^/a\.b");
    }

    #[test]
    fn prefix_rewrites_to_root_never_leave_an_empty_path() {
        let r = prefix_rewrite("/legacy", "/");
        for (from, to) in [("/legacy", "/"), ("/legacy/x", "/x"), ("/legacy/", "/"), ("/legacy?q", "/?q")] {
            assert_eq!(rewritten(&r, from), to);
        }
    }

    fn redirect(filter: Value, listener: &str) -> Result<(Action, Vec<Transform>), ActionError> {
        let filter: HttpRouteRulesFiltersRequestRedirect = serde_json::from_value(filter).unwrap();
        let port = if listener == "HTTPS" { 8443 } else { 80 };
        redirect_action(&Redirect {
            filter: &filter,
            query: None,
            listener_protocol: listener,
            listener_port: port,
            matched_prefix: "/old",
        })
    }

    fn config(a: &(Action, Vec<Transform>)) -> &RedirectConfig {
        a.0.redirect_config.as_ref().unwrap()
    }

    #[test]
    fn redirect_ports_follow_the_scheme() {
        // A scheme brings its well-known port, even on a listener of that scheme on another port.
        assert_eq!(config(&redirect(json!({"scheme": "https"}), "HTTPS").unwrap()).port, "443");
        assert_eq!(config(&redirect(json!({"scheme": "https"}), "HTTP").unwrap()).port, "443");
        assert_eq!(config(&redirect(json!({"hostname": "x.io"}), "HTTP").unwrap()).port, "#{port}");
        assert_eq!(config(&redirect(json!({"hostname": "x.io", "port": 8080}), "HTTP").unwrap()).port, "8080");
    }

    #[test]
    fn redirects_alb_refuses_are_errors() {
        assert!(matches!(
            redirect(json!({"statusCode": 307, "hostname": "x.io"}), "HTTP"),
            Err(ActionError::RedirectStatus(307))
        ));
        assert!(matches!(redirect(json!({"scheme": "http"}), "HTTPS"), Err(ActionError::RedirectToHttp)));
        assert!(matches!(redirect(json!({"statusCode": 301}), "HTTP"), Err(ActionError::RedirectLoop)));
    }

    #[test]
    fn prefix_only_redirects_name_the_listener_port() {
        let r =
            redirect(json!({"path": {"type": "ReplacePrefixMatch", "replacePrefixMatch": "/new"}}), "HTTP").unwrap();
        assert_eq!(config(&r).port, "80");
        assert_eq!(config(&r).path, "/#{path}");
        assert_eq!(
            r.1[0].url_rewrite_config.as_ref().unwrap().rewrites[0],
            Rewrite { regex: "^/old".into(), replace: "/new".into() }
        );
    }

    fn oidc(extra: Value) -> AuthenticateOidcActionConfig {
        let mut c = json!({"issuer": "https://i", "authorizationEndpoint": "https://i/a", "tokenEndpoint": "https://i/t",
                           "userInfoEndpoint": "https://i/u", "secret": {"name": "s"}});
        c.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        serde_json::from_value(c).expect("a valid OIDC config")
    }

    fn secret_ref(key: &str) -> Credential {
        Credential::SecretRef(SecretKeyRef { namespace: "ns".into(), name: "s".into(), key: key.into() })
    }

    #[test]
    fn oidc_client_credentials_are_typed_references_to_the_configurations_own_namespace() {
        let config = oidc_config(&oidc(json!({"authenticationRequestExtraParams": {"a_b": "1"}})), "ns");
        assert_eq!(config.client_id, secret_ref("clientID"));
        assert_eq!(config.client_secret, Some(secret_ref("clientSecret")));
        assert_eq!(config.issuer, "https://i");
        let plan = serde_json::to_value(&config).unwrap();
        assert_eq!(plan["ClientId"], json!({"SecretRef": {"namespace": "ns", "name": "s", "key": "clientID"}}));
        assert_eq!(plan["AuthenticationRequestExtraParams"], json!({"a_b": "1"}));
        let existing = oidc_config(&oidc(json!({"useExistingClientSecret": true})), "ns");
        assert_eq!(existing.client_secret, None);
    }

    #[test]
    fn secret_reference_text_in_oidc_parameters_stays_literal() {
        let lure = "secret:victim-ns/db-creds#password";
        let config = oidc_config(
            &oidc(json!({"scope": lure, "sessionCookieName": lure, "authenticationRequestExtraParams": {"p": lure}})),
            "ns",
        );
        assert_eq!(config.scope.as_deref(), Some(lure));
        assert_eq!(config.session_cookie_name.as_deref(), Some(lure));
        assert_eq!(config.authentication_request_extra_params.unwrap()["p"], lure);
        // The only references are the two typed ones, to the Secret the configuration names.
        assert_eq!(
            (config.client_id, config.client_secret),
            (secret_ref("clientID"), Some(secret_ref("clientSecret")))
        );
    }

    #[test]
    fn auth_configs_take_elbv2_names() {
        let cognito: AuthenticateCognitoActionConfig = serde_json::from_value(json!({"userPoolArn": "arn",
            "userPoolClientId": "id", "userPoolDomain": "d", "authenticationRequestExtraParams": {"a_b": "1"}}))
        .unwrap();
        assert_eq!(
            cognito_config(&cognito),
            json!({"UserPoolArn": "arn", "UserPoolClientId": "id", "UserPoolDomain": "d",
                   "AuthenticationRequestExtraParams": {"a_b": "1"}})
        );
        let jwt: JwtValidationActionConfig = serde_json::from_value(json!({"issuer": "https://i",
            "jwksEndpoint": "https://j", "additionalClaims": [{"format": "single-string", "name": "n", "values": ["v"]}]}))
        .unwrap();
        assert_eq!(
            jwt_config(&jwt),
            json!({"Issuer": "https://i", "JwksEndpoint": "https://j",
                   "AdditionalClaims": [{"Format": "single-string", "Name": "n", "Values": ["v"]}]})
        );
    }
}
