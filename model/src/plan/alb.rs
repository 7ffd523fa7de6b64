//! ALB listeners and rules: routes become conditions, actions and transforms, in precedence order.

use std::collections::BTreeMap;

use albatross_k8s::gateway_api::v1::grpcroutes::GrpcRouteRulesMatches;
use albatross_k8s::gateway_api::v1::httproutes::{
    HttpRouteRulesFiltersRequestRedirect, HttpRouteRulesFiltersUrlRewrite, HttpRouteRulesMatches,
};
use albatross_k8s::route::{AnyRoute, RouteFilter, RouteMatch, RouteRule};
use serde_json::Value;

use super::precedence::RuleKey;
use super::types::{
    Action, Condition, FixedResponseConfig, ForwardConfig, HttpHeaderConfig, KeyValue, QueryStringConfig,
    RedirectConfig, Rewrite, RewriteConfig, StickinessConfig, Transform, Values, WeightedTargetGroup,
};

fn enum_text<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_value(v).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default()
}

/// Header match values: ALB ORs the values of one condition, Gateway API lists one value; a
/// comma-separated value becomes several, `\,` escaping a comma.
fn split_values(value: &str) -> Vec<String> {
    let mut out = vec![String::new()];
    let mut escaped = false;
    for c in value.chars() {
        match c {
            '\\' if !escaped => escaped = true,
            ',' if !escaped => out.push(String::new()),
            _ => {
                if escaped && c != ',' {
                    out.last_mut().unwrap().push('\\');
                }
                escaped = false;
                out.last_mut().unwrap().push(c);
            }
        }
    }
    out
}

fn path_condition(values: Vec<String>, regex: Vec<String>) -> Condition {
    Condition {
        field: "path-pattern".into(),
        path_pattern_config: Some(Values { values, regex_values: regex }),
        ..Condition::default()
    }
}

fn header_condition(name: &str, value: &str, regex: bool) -> Condition {
    let (values, regex_values) =
        if regex { (Vec::new(), vec![value.to_owned()]) } else { (split_values(value), Vec::new()) };
    Condition {
        field: "http-header".into(),
        http_header_config: Some(HttpHeaderConfig { http_header_name: name.to_owned(), values, regex_values }),
        ..Condition::default()
    }
}

/// The ordering key and conditions of one HTTPRoute match.
fn http_match(m: &HttpRouteRulesMatches) -> (u8, usize, bool, usize, usize, Vec<Condition>) {
    let mut conditions = Vec::new();
    let (mut path_type, mut path_len) = (0, 0);
    if let Some(path) = &m.path {
        let value = path.value.clone().unwrap_or_else(|| "/".into());
        path_len = value.len();
        match path.r#type.as_ref().map(enum_text).as_deref() {
            Some("Exact") => {
                path_type = 3;
                conditions.push(path_condition(vec![value], Vec::new()));
            }
            Some("RegularExpression") => {
                path_type = 1;
                conditions.push(path_condition(Vec::new(), vec![value]));
            }
            _ => {
                path_type = 2;
                let trimmed = value.trim_end_matches('/');
                let values = if trimmed.is_empty() {
                    vec!["/*".into()]
                } else {
                    vec![trimmed.to_owned(), format!("{trimmed}/*")]
                };
                conditions.push(path_condition(values, Vec::new()));
            }
        }
    }
    let headers = m.headers.as_deref().unwrap_or_default();
    for h in headers {
        let regex = h.r#type.as_ref().map(enum_text).as_deref() == Some("RegularExpression");
        conditions.push(header_condition(&h.name, &h.value, regex));
    }
    let queries = m.query_params.as_deref().unwrap_or_default();
    for q in queries {
        conditions.push(Condition {
            field: "query-string".into(),
            query_string_config: Some(QueryStringConfig {
                values: vec![KeyValue { key: Some(q.name.clone()), value: q.value.clone() }],
            }),
            ..Condition::default()
        });
    }
    if let Some(method) = &m.method {
        conditions.push(Condition {
            field: "http-request-method".into(),
            http_request_method_config: Some(Values { values: vec![enum_text(method)], regex_values: Vec::new() }),
            ..Condition::default()
        });
    }
    (path_type, path_len, m.method.is_some(), headers.len(), queries.len(), conditions)
}

/// gRPC methods are HTTP/2 paths `/<service>/<method>`.
fn grpc_match(m: &GrpcRouteRulesMatches) -> (u8, usize, usize, usize, Vec<Condition>) {
    let mut conditions = Vec::new();
    let method = m.method.as_ref();
    let service = method.and_then(|x| x.service.clone());
    let name = method.and_then(|x| x.method.clone());
    let regex = method.and_then(|x| x.r#type.as_ref()).map(enum_text).as_deref() == Some("RegularExpression");
    let (path_type, service_len, method_len) = match (&service, &name) {
        (None, None) => (0, 0, 0),
        (s, n) => (if regex { 1 } else { 3 }, s.as_ref().map_or(0, String::len), n.as_ref().map_or(0, String::len)),
    };
    let path = if regex {
        vec![format!("^/{}/{}$", service.as_deref().unwrap_or("[^/]+"), name.as_deref().unwrap_or("[^/]+"))]
    } else {
        vec![format!("/{}/{}", service.as_deref().unwrap_or("*"), name.as_deref().unwrap_or("*"))]
    };
    conditions.push(if regex { path_condition(Vec::new(), path) } else { path_condition(path, Vec::new()) });
    let headers = m.headers.as_deref().unwrap_or_default();
    for h in headers {
        let regex = h.r#type.as_ref().map(enum_text).as_deref() == Some("RegularExpression");
        conditions.push(header_condition(&h.name, &h.value, regex));
    }
    (path_type, service_len, method_len, headers.len(), conditions)
}

/// One candidate ALB rule before priorities are given.
#[derive(Clone, Debug)]
pub struct Candidate {
    pub id: String,
    pub key: RuleKey,
    pub conditions: Vec<Condition>,
    pub actions: Vec<Action>,
    pub transforms: Vec<Transform>,
}

/// The stable id of a rule: route, rule (name or index), match, hostname.
pub fn rule_id(route: &AnyRoute, rule_index: usize, rule: &RouteRule, match_index: usize, hostname: &str) -> String {
    let rule_part = rule.name.clone().unwrap_or_else(|| rule_index.to_string());
    let host = if hostname.is_empty() { "*" } else { hostname };
    format!("{}/{}/{}/{}/{}/{}", route.kind.as_str(), route.key.namespace, route.key.name, rule_part, match_index, host)
}

/// Conditions, precedence facts and the match count of one (rule, match index, hostname).
pub fn conditions(route: &AnyRoute, rule: &RouteRule, match_index: usize, hostname: &str) -> (RuleKey, Vec<Condition>) {
    let mut key = RuleKey {
        hostname: hostname.to_owned(),
        path_type: 0,
        path_len: 0,
        grpc_method_len: 0,
        has_method: false,
        headers: 0,
        query_params: 0,
        created: route.created.clone(),
        kind: route.kind,
        route: route.key.clone(),
        rule: 0,
        matcher: match_index,
    };
    let mut conditions = Vec::new();
    if !hostname.is_empty() {
        conditions.push(Condition {
            field: "host-header".into(),
            host_header_config: Some(Values { values: vec![hostname.to_owned()], regex_values: Vec::new() }),
            ..Condition::default()
        });
    }
    match rule.matches.get(match_index) {
        Some(RouteMatch::Http(m)) => {
            let (pt, pl, method, headers, queries, c) = http_match(m);
            (key.path_type, key.path_len, key.has_method, key.headers, key.query_params) =
                (pt, pl, method, headers, queries);
            conditions.extend(c);
        }
        Some(RouteMatch::Grpc(m)) => {
            let (pt, service_len, method_len, headers, c) = grpc_match(m);
            (key.path_type, key.path_len, key.grpc_method_len, key.headers) = (pt, service_len, method_len, headers);
            conditions.extend(c);
        }
        None => {}
    }
    if conditions.is_empty() {
        conditions.push(path_condition(vec!["/*".into()], Vec::new()));
    }
    (key, conditions)
}

fn redirect_action(
    r: &HttpRouteRulesFiltersRequestRedirect,
    query: Option<String>,
    listener_protocol: &str,
) -> (Action, Vec<Transform>) {
    let scheme = r.scheme.as_ref().map(enum_text).map(|s| s.to_uppercase());
    let port = match (r.port, scheme.as_deref()) {
        (Some(p), _) => p.to_string(),
        (None, Some("HTTPS")) if listener_protocol != "HTTPS" => "443".into(),
        (None, Some("HTTP")) if listener_protocol != "HTTP" => "80".into(),
        _ => "#{port}".into(),
    };
    let mut transforms = Vec::new();
    let path = match &r.path {
        Some(p) if p.replace_full_path.is_some() => p.replace_full_path.clone().unwrap_or_default(),
        Some(p) => {
            // ALB redirects cannot rewrite a prefix; a URL rewrite transform does it first.
            if let Some(prefix) = &p.replace_prefix_match {
                transforms.push(Transform {
                    r#type: "url-rewrite".into(),
                    url_rewrite_config: Some(RewriteConfig {
                        rewrites: vec![Rewrite {
                            regex: "^/[^/]*(/.*)?$".into(),
                            replace: format!("{}$1", prefix.trim_end_matches('/')),
                        }],
                    }),
                    host_header_rewrite_config: None,
                });
            }
            "/#{path}".into()
        }
        None => "/#{path}".into(),
    };
    let code = match r.status_code.unwrap_or(302) {
        301 => "HTTP_301",
        _ => "HTTP_302",
    };
    let action = Action {
        r#type: "redirect".into(),
        order: 0,
        redirect_config: Some(RedirectConfig {
            protocol: scheme.unwrap_or_else(|| "#{protocol}".into()),
            port,
            host: r.hostname.clone().unwrap_or_else(|| "#{host}".into()),
            path,
            query: query.unwrap_or_else(|| "#{query}".into()),
            status_code: code.into(),
        }),
        ..Action::default()
    };
    (action, transforms)
}

fn rewrite_transforms(u: &HttpRouteRulesFiltersUrlRewrite, prefix_matched: Option<&str>) -> Vec<Transform> {
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
        let rewrite = if let Some(full) = &path.replace_full_path {
            Some(Rewrite { regex: "^([^?]*)".into(), replace: full.clone() })
        } else {
            path.replace_prefix_match.as_ref().map(|new| {
                let old = regex_escape(prefix_matched.unwrap_or("/").trim_end_matches('/'));
                Rewrite { regex: format!("^{old}(/.*)?$"), replace: format!("{}$1", new.trim_end_matches('/')) }
            })
        };
        if let Some(rewrite) = rewrite {
            out.push(Transform {
                r#type: "url-rewrite".into(),
                url_rewrite_config: Some(RewriteConfig { rewrites: vec![rewrite] }),
                host_header_rewrite_config: None,
            });
        }
    }
    out
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

/// What a rule does: from its filters, its ListenerRuleConfiguration and its backends.
pub struct RuleActions<'a> {
    pub rule: &'a RouteRule,
    pub match_index: usize,
    /// The ListenerRuleConfiguration's spec, if the rule names one.
    pub config: Option<&'a Value>,
    pub listener_protocol: &'a str,
    /// `(target group id, weight)` of the backends that resolved.
    pub targets: Vec<(String, i32)>,
}

pub fn actions(input: &RuleActions) -> (Vec<Action>, Vec<Transform>, Vec<Condition>) {
    let mut pre = Vec::new();
    let mut last: Option<Action> = None;
    let mut transforms = Vec::new();
    let mut extra_conditions = Vec::new();
    let mut stickiness = None;
    let mut redirect_query = None;
    if let Some(config) = input.config {
        for a in config.get("actions").and_then(Value::as_array).into_iter().flatten() {
            let kind = a.get("type").and_then(Value::as_str).unwrap_or("");
            let body = |k: &str| a.get(k).cloned();
            match kind {
                // Authentication needs TLS to the client; ALB refuses it on HTTP listeners.
                "authenticate-oidc" | "authenticate-cognito" | "jwt-validation"
                    if input.listener_protocol == "HTTPS" =>
                {
                    pre.push(Action {
                        r#type: kind.into(),
                        authenticate_oidc_config: (kind == "authenticate-oidc")
                            .then(|| body("authenticateOidcConfig"))
                            .flatten(),
                        authenticate_cognito_config: (kind == "authenticate-cognito")
                            .then(|| body("authenticateCognitoConfig"))
                            .flatten(),
                        jwt_validation_config: (kind == "jwt-validation")
                            .then(|| body("jwtValidationConfig"))
                            .flatten(),
                        ..Action::default()
                    });
                }
                "fixed-response" => {
                    let c = a.get("fixedResponseConfig").cloned().unwrap_or(Value::Null);
                    let code = c
                        .get("statusCode")
                        .map(|v| v.as_i64().map_or_else(|| v.as_str().unwrap_or("").to_owned(), |n| n.to_string()))
                        .unwrap_or_default();
                    last = Some(fixed_response(
                        &code,
                        c.get("contentType").and_then(Value::as_str).unwrap_or("text/plain"),
                        c.get("messageBody").and_then(Value::as_str),
                    ));
                }
                "forward" => {
                    if let Some(s) = a.pointer("/forwardConfig/targetGroupStickinessConfig") {
                        stickiness = Some(StickinessConfig {
                            enabled: s.get("enabled").and_then(Value::as_bool).unwrap_or(false),
                            duration_seconds: s.get("durationSeconds").and_then(Value::as_i64).map(|n| n as i32),
                        });
                    }
                }
                "redirect" => {
                    redirect_query = a.pointer("/redirectConfig/query").and_then(Value::as_str).map(str::to_owned)
                }
                _ => {}
            }
        }
        for c in config.get("conditions").and_then(Value::as_array).into_iter().flatten() {
            let applies = c
                .get("matchIndexes")
                .and_then(Value::as_array)
                .is_none_or(|ix| ix.iter().any(|i| i.as_u64() == Some(input.match_index as u64)));
            if c.get("field").and_then(Value::as_str) == Some("source-ip") && applies {
                let values = c
                    .pointer("/sourceIPConfig/values")
                    .and_then(Value::as_array)
                    .map(|v| v.iter().filter_map(Value::as_str).map(str::to_owned).collect())
                    .unwrap_or_default();
                extra_conditions.push(Condition {
                    field: "source-ip".into(),
                    source_ip_config: Some(Values { values, regex_values: Vec::new() }),
                    ..Condition::default()
                });
            }
        }
    }
    let prefix = match input.rule.matches.get(input.match_index) {
        Some(RouteMatch::Http(m)) => m.path.as_ref().and_then(|p| p.value.clone()),
        _ => None,
    };
    for filter in &input.rule.filters {
        if let RouteFilter::Http(f) = filter {
            if let Some(r) = &f.request_redirect {
                let (action, t) = redirect_action(r, redirect_query.clone(), input.listener_protocol);
                transforms.extend(t);
                last = Some(action);
            }
            if let Some(u) = &f.url_rewrite {
                transforms.extend(rewrite_transforms(u, prefix.as_deref()));
            }
        }
    }
    let last = last.unwrap_or_else(|| {
        if input.targets.is_empty() || input.targets.iter().all(|(_, w)| *w == 0) {
            // Gateway API: a rule whose backends are all invalid or weightless answers 500.
            fixed_response("500", "text/plain", None)
        } else {
            let mut weights: BTreeMap<String, i32> = BTreeMap::new();
            for (id, w) in &input.targets {
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
    });
    let mut actions = pre;
    actions.push(last);
    for (i, a) in actions.iter_mut().enumerate() {
        a.order = i as u32 + 1;
    }
    (actions, transforms, extra_conditions)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_values_split_on_unescaped_commas() {
        assert_eq!(split_values("a,b"), ["a", "b"]);
        assert_eq!(split_values(r"a\,b"), ["a,b"]);
    }
}
