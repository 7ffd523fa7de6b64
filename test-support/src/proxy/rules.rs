//! ELBv2 rules that real AWS enforces and moto 5.2.5 does not (see the [`super`] docs).

use std::collections::{BTreeMap, BTreeSet};

use hyper::header::HeaderValue;

use super::Quotas;
use super::Upstream;
use super::protocol::Form;

/// What the proxy does with an ELBv2 request after the rules looked at it.
#[derive(Debug)]
pub(crate) enum Verdict {
    Forward,
    /// Answer 400 with this AWS error code and message, without forwarding.
    Refuse {
        code: &'static str,
        message: String,
    },
    /// Answer 200 with this XML body (emulated response), without forwarding.
    Respond {
        body: String,
    },
}

#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Refusal {
    pub code: &'static str,
    pub message: String,
}

fn validation(message: String) -> Refusal {
    Refusal { code: "ValidationError", message }
}

/// Applies every rule for `action`; may ask moto (directly, unrecorded) about the load balancer.
pub(crate) async fn check(
    upstream: &Upstream,
    quotas: &Quotas,
    action: &str,
    form: &Form,
    auth: &HeaderValue,
) -> Verdict {
    if let Err(r) = check_static(action, form, quotas) {
        return Verdict::Refuse { code: r.code, message: r.message };
    }
    match check_dynamic(upstream, quotas, action, form, auth).await {
        Ok(Some(body)) => Verdict::Respond { body },
        Ok(None) => Verdict::Forward,
        Err(r) => Verdict::Refuse { code: r.code, message: r.message },
    }
}

/// The rules that need nothing but the request.
pub(crate) fn check_static(action: &str, form: &Form, quotas: &Quotas) -> Result<(), Refusal> {
    match action {
        "CreateRule" => {
            if let Some(p) = form.get("Priority") {
                check_priority(p)?;
            }
            check_conditions(form, quotas)?;
            check_forward_actions(form, quotas)
        }
        "ModifyRule" => {
            check_conditions(form, quotas)?;
            check_forward_actions(form, quotas)
        }
        "SetRulePriorities" => {
            for (key, value) in form.iter() {
                if key.starts_with("RulePriorities.member.") && key.ends_with(".Priority") {
                    check_priority(value)?;
                }
            }
            Ok(())
        }
        "CreateLoadBalancer" => form.get("Name").map_or(Ok(()), |n| check_name(n, "Load balancer")),
        "CreateTargetGroup" => form.get("Name").map_or(Ok(()), |n| check_name(n, "Target group")),
        "DescribeTags" | "AddTags" | "RemoveTags" => check_resource_arns(form),
        _ => Ok(()),
    }
}

/// AWS takes 20 ARNs a tag call; moto any number.
fn check_resource_arns(form: &Form) -> Result<(), Refusal> {
    let n = form.iter().filter(|(k, _)| k.starts_with("ResourceArns.member.")).count();
    if n <= 20 {
        return Ok(());
    }
    Err(validation(format!(
        "1 validation error detected: Value with {n} members at 'resourceArns' failed to satisfy constraint: \
         Member must have length less than or equal to 20"
    )))
}

fn check_priority(value: &str) -> Result<(), Refusal> {
    match value.parse::<i64>() {
        Ok(p) if (1..=50_000).contains(&p) => Ok(()),
        _ => Err(validation(format!(
            "1 validation error detected: Value '{value}' at 'priority' failed to satisfy constraint: \
             Member must have value between 1 and 50000"
        ))),
    }
}

fn check_name(name: &str, what: &str) -> Result<(), Refusal> {
    if name.is_empty() || name.chars().count() > 32 {
        return Err(validation(format!("{what} name '{name}' must be between 1 and 32 characters long")));
    }
    if !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        return Err(validation(format!(
            "{what} name '{name}' can only contain characters that are alphanumeric characters or hyphens(-)"
        )));
    }
    if name.starts_with('-') || name.ends_with('-') {
        return Err(validation(format!("{what} name '{name}' cannot begin or end with a hyphen")));
    }
    if what == "Load balancer" && name.starts_with("internal-") {
        return Err(validation(format!("{what} name '{name}' cannot begin with 'internal-'")));
    }
    Ok(())
}

/// Condition values, wildcards and value lengths of a CreateRule/ModifyRule request.
fn check_conditions(form: &Form, quotas: &Quotas) -> Result<(), Refusal> {
    // (condition index, config, value index) -> counted once (a query key/value pair is one value)
    let mut values: BTreeSet<(String, &str, String)> = BTreeSet::new();
    let mut wildcards = 0usize;
    for (key, value) in form.iter() {
        let Some(rest) = key.strip_prefix("Conditions.member.") else { continue };
        let Some((n, tail)) = rest.split_once('.') else { continue };
        let parts: Vec<&str> = tail.split('.').collect();
        let (config, m, pattern) = match parts.as_slice() {
            ["Values", "member", m] => ("Values", *m, true),
            [cfg @ ("HostHeaderConfig" | "PathPatternConfig" | "HttpHeaderConfig"), "Values", "member", m] => {
                (*cfg, *m, true)
            }
            [cfg @ ("HttpRequestMethodConfig" | "SourceIpConfig"), "Values", "member", m] => (*cfg, *m, false),
            ["QueryStringConfig", "Values", "member", m, "Key" | "Value"] => ("QueryStringConfig", *m, true),
            [cfg, "RegexValues", "member", m] => (*cfg, *m, false),
            _ => continue,
        };
        values.insert((n.to_owned(), config, m.to_owned()));
        if pattern {
            wildcards += value.chars().filter(|c| matches!(c, '*' | '?')).count();
            if value.chars().count() > quotas.condition_value_length {
                return Err(validation(format!(
                    "The condition value '{value}' exceeds the maximum length of {} characters",
                    quotas.condition_value_length
                )));
            }
        }
    }
    if values.len() > quotas.condition_values_per_rule {
        return Err(validation(format!(
            "A rule can only have '{}' condition values (the request has {})",
            quotas.condition_values_per_rule,
            values.len()
        )));
    }
    if wildcards > quotas.wildcards_per_rule {
        return Err(validation(format!(
            "A rule can only have '{}' wildcards (the request has {wildcards})",
            quotas.wildcards_per_rule
        )));
    }
    Ok(())
}

fn check_forward_actions(form: &Form, quotas: &Quotas) -> Result<(), Refusal> {
    let mut per_action: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for (key, _) in form.iter() {
        let Some(rest) = key.strip_prefix("Actions.member.") else { continue };
        let parts: Vec<&str> = rest.split('.').collect();
        if let [n, "ForwardConfig", "TargetGroups", "member", m, _] = parts.as_slice() {
            per_action.entry(n).or_default().insert(m);
        }
    }
    for groups in per_action.values() {
        if groups.len() > quotas.target_groups_per_action {
            return Err(validation(format!(
                "A forward action can have at most {} target groups (the request has {})",
                quotas.target_groups_per_action,
                groups.len()
            )));
        }
    }
    Ok(())
}

/// Target group ARNs referenced by the request's actions.
fn request_target_groups(form: &Form) -> BTreeSet<String> {
    form.iter()
        .filter(|(k, _)| k.starts_with("Actions.member.") && k.ends_with(".TargetGroupArn"))
        .map(|(_, v)| v.to_owned())
        .collect()
}

/// `arn:...:loadbalancer/app/NAME/LBID` from a listener (`listener/app/NAME/LBID/LID`) or rule
/// (`listener-rule/app/NAME/LBID/LID/RID`) ARN.
pub(crate) fn load_balancer_arn(arn: &str) -> Option<String> {
    let (prefix, rest) = arn.split_once(":listener-rule/").or_else(|| arn.split_once(":listener/"))?;
    let segments: Vec<&str> = rest.split('/').collect();
    (segments.len() >= 3).then(|| format!("{prefix}:loadbalancer/{}", segments[..3].join("/")))
}

/// The rules that ask moto about the load balancer. `Ok(Some(body))`: answer with that body.
async fn check_dynamic(
    upstream: &Upstream,
    quotas: &Quotas,
    action: &str,
    form: &Form,
    auth: &HeaderValue,
) -> Result<Option<String>, Refusal> {
    match action {
        "CreateRule" => {
            let Some(lb) = form.get("ListenerArn").and_then(load_balancer_arn) else { return Ok(None) };
            let Some(alb) = Inventory::fetch(upstream, auth, &lb).await else { return Ok(None) };
            let rules = alb.rules.iter().filter(|r| !r.is_default).count();
            if rules >= quotas.rules_per_alb {
                return Err(Refusal {
                    code: "TooManyRules",
                    message: format!(
                        "The maximum number of rules ({}) on load balancer '{lb}' has been reached",
                        quotas.rules_per_alb
                    ),
                });
            }
            check_target_groups(&alb, None, form, quotas, &lb)?;
            Ok(None)
        }
        "ModifyRule" => {
            if !form.iter().any(|(k, _)| k.starts_with("Actions.")) {
                return Ok(None);
            }
            let Some(rule) = form.get("RuleArn") else { return Ok(None) };
            let Some(lb) = load_balancer_arn(rule) else { return Ok(None) };
            let Some(alb) = Inventory::fetch(upstream, auth, &lb).await else { return Ok(None) };
            check_target_groups(&alb, Some(rule), form, quotas, &lb)?;
            Ok(None)
        }
        "CreateLoadBalancer" => {
            let Some(name) = form.get("Name") else { return Ok(None) };
            let Some(xml) =
                upstream.elbv2(auth, &[("Action", "DescribeLoadBalancers"), ("Names.member.1", name)]).await
            else {
                return Ok(None);
            };
            if !xml.contains("<LoadBalancerArn>") {
                return Ok(None);
            }
            Ok(Some(
                xml.replace("DescribeLoadBalancersResponse", "CreateLoadBalancerResponse")
                    .replace("DescribeLoadBalancersResult", "CreateLoadBalancerResult"),
            ))
        }
        "CreateListener" => {
            let (Some(lb), Some(port)) = (form.get("LoadBalancerArn"), form.get("Port")) else { return Ok(None) };
            let Some(listeners) = fetch_listeners(upstream, auth, lb).await else { return Ok(None) };
            if listeners.iter().any(|l| l.port == port) {
                return Err(Refusal {
                    code: "DuplicateListener",
                    message: format!("A listener already exists on port {port} of load balancer '{lb}'"),
                });
            }
            Ok(None)
        }
        "DeleteLoadBalancer" => {
            let Some(lb) = form.get("LoadBalancerArn") else { return Ok(None) };
            let attributes = [("Action", "DescribeLoadBalancerAttributes"), ("LoadBalancerArn", lb)];
            let Some(xml) = upstream.elbv2(auth, &attributes).await else { return Ok(None) };
            if deletion_protected(&xml) {
                return Err(Refusal {
                    code: "OperationNotPermitted",
                    message: format!("Load balancer '{lb}' cannot be deleted because deletion protection is enabled"),
                });
            }
            Ok(None)
        }
        _ => Ok(None),
    }
}

/// A DescribeLoadBalancerAttributes answer with `deletion_protection.enabled` = `true`.
pub(crate) fn deletion_protected(xml: &str) -> bool {
    let Ok(doc) = roxmltree::Document::parse(xml) else { return false };
    let Some((attributes, _)) = members(&doc, "Attributes") else { return false };
    attributes
        .into_iter()
        .any(|a| child_text(a, "Key") == Some("deletion_protection.enabled") && child_text(a, "Value") == Some("true"))
}

fn check_target_groups(
    alb: &Inventory,
    replaced_rule: Option<&str>,
    form: &Form,
    quotas: &Quotas,
    lb: &str,
) -> Result<(), Refusal> {
    let requested = request_target_groups(form);
    if requested.is_empty() {
        return Ok(());
    }
    let mut all: BTreeSet<&str> =
        alb.listeners.iter().flat_map(|l| l.target_groups.iter().map(String::as_str)).collect();
    for rule in &alb.rules {
        if Some(rule.arn.as_str()) != replaced_rule {
            all.extend(rule.target_groups.iter().map(String::as_str));
        }
    }
    all.extend(requested.iter().map(String::as_str));
    if all.len() > quotas.target_groups_per_alb {
        return Err(Refusal {
            code: "TooManyTargetGroups",
            message: format!(
                "You have reached the maximum number of target groups ({}) for load balancer '{lb}'",
                quotas.target_groups_per_alb
            ),
        });
    }
    Ok(())
}

#[derive(Debug, Default, PartialEq)]
pub(crate) struct ListenerInfo {
    pub arn: String,
    pub port: String,
    pub protocol: String,
    pub target_groups: Vec<String>,
}

#[derive(Debug, Default, PartialEq)]
pub(crate) struct RuleInfo {
    pub arn: String,
    pub is_default: bool,
    pub target_groups: Vec<String>,
}

/// The listeners of one load balancer and the rules of all of them, as moto has them.
pub(crate) struct Inventory {
    listeners: Vec<ListenerInfo>,
    rules: Vec<RuleInfo>,
}

impl Inventory {
    pub(crate) async fn fetch(upstream: &Upstream, auth: &HeaderValue, lb: &str) -> Option<Inventory> {
        let listeners = fetch_listeners(upstream, auth, lb).await?;
        let mut rules = Vec::new();
        for listener in &listeners {
            let mut marker: Option<String> = None;
            loop {
                let mut params =
                    vec![("Action", "DescribeRules"), ("ListenerArn", listener.arn.as_str()), ("PageSize", "400")];
                if let Some(m) = &marker {
                    params.push(("Marker", m.as_str()));
                }
                let xml = upstream.elbv2(auth, &params).await?;
                let (page, next) = parse_rules(&xml)?;
                rules.extend(page);
                match next {
                    Some(next) if Some(&next) != marker.as_ref() => marker = Some(next),
                    _ => break,
                }
            }
        }
        Some(Inventory { listeners, rules })
    }

    /// A listener's default actions or a rule forward to `target_group`.
    pub(crate) fn forwards_to(&self, target_group: &str) -> bool {
        let uses = |groups: &[String]| groups.iter().any(|g| g == target_group);
        self.listeners.iter().any(|l| uses(&l.target_groups)) || self.rules.iter().any(|r| uses(&r.target_groups))
    }
}

pub(crate) async fn fetch_listeners(upstream: &Upstream, auth: &HeaderValue, lb: &str) -> Option<Vec<ListenerInfo>> {
    let mut listeners = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        let mut params = vec![("Action", "DescribeListeners"), ("LoadBalancerArn", lb)];
        if let Some(m) = &marker {
            params.push(("Marker", m.as_str()));
        }
        let xml = upstream.elbv2(auth, &params).await?;
        let (page, next) = parse_listeners(&xml)?;
        listeners.extend(page);
        match next {
            Some(next) if Some(&next) != marker.as_ref() => marker = Some(next),
            _ => return Some(listeners),
        }
    }
}

pub(crate) fn child_text<'a>(node: roxmltree::Node<'a, '_>, name: &str) -> Option<&'a str> {
    node.children().find(|c| c.has_tag_name(name)).and_then(|c| c.text())
}

fn descendant_texts(node: roxmltree::Node<'_, '_>, name: &str) -> Vec<String> {
    node.descendants().filter(|d| d.has_tag_name(name)).filter_map(|d| d.text()).map(str::to_owned).collect()
}

/// The `member` elements of the first `list` element, and the `NextMarker`.
pub(crate) fn members<'a, 'i>(
    doc: &'a roxmltree::Document<'i>,
    list: &str,
) -> Option<(Vec<roxmltree::Node<'a, 'i>>, Option<String>)> {
    let root = doc.root_element();
    let next = root.descendants().find(|d| d.has_tag_name("NextMarker")).and_then(|d| d.text()).map(str::to_owned);
    let list = root.descendants().find(|d| d.has_tag_name(list))?;
    Some((list.children().filter(|c| c.has_tag_name("member")).collect(), next.filter(|n| !n.is_empty())))
}

pub(crate) fn parse_listeners(xml: &str) -> Option<(Vec<ListenerInfo>, Option<String>)> {
    let doc = roxmltree::Document::parse(xml).ok()?;
    let (nodes, next) = members(&doc, "Listeners")?;
    let listeners = nodes
        .into_iter()
        .map(|m| ListenerInfo {
            arn: child_text(m, "ListenerArn").unwrap_or_default().to_owned(),
            port: child_text(m, "Port").unwrap_or_default().to_owned(),
            protocol: child_text(m, "Protocol").unwrap_or_default().to_owned(),
            target_groups: m
                .children()
                .find(|c| c.has_tag_name("DefaultActions"))
                .map(|a| descendant_texts(a, "TargetGroupArn"))
                .unwrap_or_default(),
        })
        .collect();
    Some((listeners, next))
}

pub(crate) fn parse_rules(xml: &str) -> Option<(Vec<RuleInfo>, Option<String>)> {
    let doc = roxmltree::Document::parse(xml).ok()?;
    let (nodes, next) = members(&doc, "Rules")?;
    let rules = nodes
        .into_iter()
        .map(|m| RuleInfo {
            arn: child_text(m, "RuleArn").unwrap_or_default().to_owned(),
            is_default: child_text(m, "IsDefault") == Some("true"),
            target_groups: m
                .children()
                .find(|c| c.has_tag_name("Actions"))
                .map(|a| descendant_texts(a, "TargetGroupArn"))
                .unwrap_or_default(),
        })
        .collect();
    Some((rules, next))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(pairs: &[(&str, &str)]) -> Form {
        Form(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect())
    }

    fn create_rule(extra: &[(&str, &str)]) -> Form {
        let mut pairs = vec![("Action", "CreateRule"), ("Priority", "10")];
        pairs.extend_from_slice(extra);
        form(&pairs)
    }

    fn code(action: &str, f: &Form) -> Option<&'static str> {
        check_static(action, f, &Quotas::default()).err().map(|r| r.code)
    }

    #[test]
    fn tag_calls_take_at_most_twenty_arns() {
        let arns = |n: usize| Form((1..=n).map(|i| (format!("ResourceArns.member.{i}"), format!("arn:{i}"))).collect());
        assert_eq!(code("DescribeTags", &arns(20)), None);
        assert_eq!(code("DescribeTags", &arns(21)), Some("ValidationError"));
        assert_eq!(code("AddTags", &arns(21)), Some("ValidationError"));
    }

    #[test]
    fn counts_condition_values_across_configs() {
        let five: Vec<(String, String)> = (1..=5)
            .map(|i| (format!("Conditions.member.1.PathPatternConfig.Values.member.{i}"), format!("/p{i}")))
            .collect();
        let f = Form(five.clone());
        assert_eq!(code("CreateRule", &f), None);

        let mut six = five.clone();
        six.push(("Conditions.member.2.HostHeaderConfig.Values.member.1".into(), "a.example.com".into()));
        assert_eq!(code("CreateRule", &Form(six)), Some("ValidationError"));

        let mut legacy = five;
        legacy.push(("Conditions.member.2.Values.member.1".into(), "/legacy".into()));
        assert_eq!(code("ModifyRule", &Form(legacy)), Some("ValidationError"));

        // A query key/value pair is one value; the header name is not a value.
        let f = create_rule(&[
            ("Conditions.member.1.QueryStringConfig.Values.member.1.Key", "a"),
            ("Conditions.member.1.QueryStringConfig.Values.member.1.Value", "b"),
            ("Conditions.member.1.QueryStringConfig.Values.member.2.Key", "c"),
            ("Conditions.member.1.QueryStringConfig.Values.member.2.Value", "d"),
            ("Conditions.member.2.HttpHeaderConfig.HttpHeaderName", "x-env"),
            ("Conditions.member.2.HttpHeaderConfig.Values.member.1", "canary"),
            ("Conditions.member.3.HttpRequestMethodConfig.Values.member.1", "GET"),
            ("Conditions.member.4.SourceIpConfig.Values.member.1", "10.0.0.0/8"),
        ]);
        assert_eq!(code("CreateRule", &f), None);
        let mut f = f;
        f.0.push(("Conditions.member.4.SourceIpConfig.Values.member.2".into(), "192.168.0.0/16".into()));
        assert_eq!(code("CreateRule", &f), Some("ValidationError"));
    }

    #[test]
    fn limits_wildcards_and_lengths() {
        let f = create_rule(&[
            ("Conditions.member.1.PathPatternConfig.Values.member.1", "/a*/b*/c*"),
            ("Conditions.member.2.HostHeaderConfig.Values.member.1", "*.x?.example.com"),
        ]);
        assert_eq!(code("CreateRule", &f), None);
        let f = create_rule(&[
            ("Conditions.member.1.PathPatternConfig.Values.member.1", "/a*/b*/c*"),
            ("Conditions.member.2.HostHeaderConfig.Values.member.1", "*.x?.*.example.com"),
        ]);
        assert_eq!(code("CreateRule", &f), Some("ValidationError"));
        // Wildcards in a source-ip or method value do not count (there are none there anyway).
        let long = format!("/{}", "a".repeat(128));
        let f = create_rule(&[("Conditions.member.1.PathPatternConfig.Values.member.1", &long)]);
        assert_eq!(code("CreateRule", &f), Some("ValidationError"));
        let ok = format!("/{}", "a".repeat(127));
        let f = create_rule(&[("Conditions.member.1.PathPatternConfig.Values.member.1", &ok)]);
        assert_eq!(code("CreateRule", &f), None);
    }

    #[test]
    fn limits_priorities() {
        assert_eq!(code("CreateRule", &create_rule(&[])), None);
        assert_eq!(code("CreateRule", &form(&[("Priority", "0")])), Some("ValidationError"));
        assert_eq!(code("CreateRule", &form(&[("Priority", "50000")])), None);
        assert_eq!(code("CreateRule", &form(&[("Priority", "50001")])), Some("ValidationError"));
        let f = form(&[
            ("RulePriorities.member.1.RuleArn", "a"),
            ("RulePriorities.member.1.Priority", "2"),
            ("RulePriorities.member.2.RuleArn", "b"),
            ("RulePriorities.member.2.Priority", "50001"),
        ]);
        assert_eq!(code("SetRulePriorities", &f), Some("ValidationError"));
    }

    #[test]
    fn limits_target_groups_per_forward_action() {
        let mut pairs: Vec<(String, String)> = (1..=5)
            .map(|i| {
                (format!("Actions.member.1.ForwardConfig.TargetGroups.member.{i}.TargetGroupArn"), format!("tg{i}"))
            })
            .collect();
        assert_eq!(code("CreateRule", &Form(pairs.clone())), None);
        pairs.push(("Actions.member.1.ForwardConfig.TargetGroups.member.6.TargetGroupArn".into(), "tg6".into()));
        assert_eq!(code("CreateRule", &Form(pairs.clone())), Some("ValidationError"));
        assert_eq!(request_target_groups(&Form(pairs)).len(), 6);
    }

    #[test]
    fn validates_names() {
        let lb = |n: &str| code("CreateLoadBalancer", &form(&[("Name", n)]));
        let tg = |n: &str| code("CreateTargetGroup", &form(&[("Name", n)]));
        assert_eq!(lb("gw-default-web-0123456789abcdef0"), None); // 32
        assert_eq!(lb(&"a".repeat(33)), Some("ValidationError"));
        assert_eq!(lb(""), Some("ValidationError"));
        assert_eq!(lb("a_b"), Some("ValidationError"));
        assert_eq!(lb("-ab"), Some("ValidationError"));
        assert_eq!(lb("ab-"), Some("ValidationError"));
        assert_eq!(lb("internal-ab"), Some("ValidationError"));
        assert_eq!(tg("internal-ab"), None);
        assert_eq!(tg(&"t".repeat(33)), Some("ValidationError"));
    }

    #[test]
    fn derives_load_balancer_arns() {
        let lb = "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/lb1/55bd1a684267c1f8";
        assert_eq!(
            load_balancer_arn(
                "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/lb1/55bd1a684267c1f8/105d9fbbf81aade4"
            )
            .as_deref(),
            Some(lb)
        );
        assert_eq!(
            load_balancer_arn(
                "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener-rule/app/lb1/55bd1a684267c1f8/105d9fbbf81aade4/7b1d3700547c4be8"
            )
            .as_deref(),
            Some(lb)
        );
        assert_eq!(load_balancer_arn(lb), None);
    }

    #[test]
    fn parses_moto_listings() {
        let rules = r#"<DescribeRulesResponse xmlns="http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/"><DescribeRulesResult><Rules><member><RuleArn>r1</RuleArn><Priority>5</Priority><Conditions><member><Field>path-pattern</Field></member></Conditions><Actions><member><Type>forward</Type><ForwardConfig><TargetGroups><member><TargetGroupArn>tg1</TargetGroupArn><Weight>1</Weight></member><member><TargetGroupArn>tg2</TargetGroupArn></member></TargetGroups></ForwardConfig></member></Actions><IsDefault>false</IsDefault></member><member><RuleArn>r2</RuleArn><Priority>default</Priority><Conditions/><Actions><member><Type>forward</Type><TargetGroupArn>tg1</TargetGroupArn></member></Actions><IsDefault>true</IsDefault></member></Rules><NextMarker>m2</NextMarker></DescribeRulesResult></DescribeRulesResponse>"#;
        let (parsed, next) = parse_rules(rules).unwrap();
        assert_eq!(next.as_deref(), Some("m2"));
        assert_eq!(
            parsed,
            vec![
                RuleInfo { arn: "r1".into(), is_default: false, target_groups: vec!["tg1".into(), "tg2".into()] },
                RuleInfo { arn: "r2".into(), is_default: true, target_groups: vec!["tg1".into()] },
            ]
        );
        let listeners = r#"<DescribeListenersResponse><DescribeListenersResult><Listeners><member><ListenerArn>l1</ListenerArn><Port>443</Port><DefaultActions><member><Type>redirect</Type><RedirectConfig><Port>80</Port></RedirectConfig></member></DefaultActions></member><member><ListenerArn>l2</ListenerArn><Port>80</Port><DefaultActions><member><TargetGroupArn>tg3</TargetGroupArn></member></DefaultActions></member></Listeners></DescribeListenersResult></DescribeListenersResponse>"#;
        let (parsed, next) = parse_listeners(listeners).unwrap();
        assert_eq!(next, None);
        assert_eq!(
            parsed[0],
            ListenerInfo { arn: "l1".into(), port: "443".into(), protocol: String::new(), target_groups: vec![] }
        );
        assert_eq!(parsed[1].target_groups, vec!["tg3".to_owned()]);
    }

    #[test]
    fn deletion_protection_is_read_from_the_attributes_answer() {
        let answer = |value: &str| {
            format!(
                "<DescribeLoadBalancerAttributesResponse><DescribeLoadBalancerAttributesResult><Attributes>\
                 <member><Key>idle_timeout.timeout_seconds</Key><Value>true</Value></member>\
                 <member><Key>deletion_protection.enabled</Key><Value>{value}</Value></member>\
                 </Attributes></DescribeLoadBalancerAttributesResult></DescribeLoadBalancerAttributesResponse>"
            )
        };
        assert!(deletion_protected(&answer("true")));
        assert!(!deletion_protected(&answer("false")));
    }
}
