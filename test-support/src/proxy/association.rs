//! "A target group serves one load balancer": AWS refuses CreateListener, ModifyListener,
//! CreateRule and ModifyRule whose actions forward to a target group that a listener or rule
//! of another load balancer already forwards to (`TargetGroupAssociationLimit`, HTTP 400).
//! moto 5.2.5 accepts it (see the [`super`] docs).
//!
//! Which load balancers use a target group is read from moto, unrecorded: the candidates are
//! the target group's `LoadBalancerArns` in moto's DescribeTargetGroups answer (moto adds a load
//! balancer there on CreateListener and CreateRule and never removes it) and the load
//! balancers whose ModifyListener/ModifyRule through the proxy forwarded to it (moto does not
//! add those). Each candidate is then read (its listeners' default actions and its rules): only
//! a load balancer that still exists and still forwards to the target group counts, as in AWS,
//! where deleting the listener, rule or load balancer frees the target group.
//!
//! The same reading makes DescribeTargetGroups' `LoadBalancerArns` true (AWS's lists the load
//! balancers that forward to the target group now; moto's only grows and misses what
//! ModifyListener/ModifyRule attached): the proxy rewrites it in every answer.

use std::collections::{BTreeMap, BTreeSet};

use hyper::header::HeaderValue;

use super::Upstream;
use super::protocol::Form;
use super::rules::{Inventory, Refusal, load_balancer_arn};

/// Target group ARN -> load balancers a ModifyListener/ModifyRule pointed at it.
#[derive(Clone, Debug, Default)]
pub(crate) struct Modified(BTreeMap<String, BTreeSet<String>>);

/// The load balancer a request attaches target groups to, and those target groups.
fn request(action: &str, form: &Form) -> Option<(String, BTreeSet<String>)> {
    let (lb, actions) = match action {
        "CreateListener" => (form.get("LoadBalancerArn")?.to_owned(), "DefaultActions.member."),
        "ModifyListener" => (load_balancer_arn(form.get("ListenerArn")?)?, "DefaultActions.member."),
        "CreateRule" => (load_balancer_arn(form.get("ListenerArn")?)?, "Actions.member."),
        "ModifyRule" => (load_balancer_arn(form.get("RuleArn")?)?, "Actions.member."),
        _ => return None,
    };
    let groups: BTreeSet<String> = form
        .iter()
        .filter(|(k, _)| k.starts_with(actions) && k.ends_with(".TargetGroupArn"))
        .map(|(_, v)| v.to_owned())
        .collect();
    (!groups.is_empty()).then_some((lb, groups))
}

/// Remembers what a ModifyListener/ModifyRule that AWS (moto) accepted pointed at.
pub(crate) fn remember(modified: &mut Modified, action: &str, form: &Form) {
    if !matches!(action, "ModifyListener" | "ModifyRule") {
        return;
    }
    if let Some((lb, groups)) = request(action, form) {
        for group in groups {
            modified.0.entry(group).or_default().insert(lb.clone());
        }
    }
}

fn refusal(group: &str) -> Refusal {
    Refusal {
        code: "TargetGroupAssociationLimit",
        message: format!("The following target groups cannot be associated with more than one load balancer: {group}"),
    }
}

/// Refuses the request when one of its target groups serves another load balancer. When moto
/// cannot be asked (an unknown target group, say) the request goes on and moto answers.
pub(crate) async fn check(
    upstream: &Upstream,
    modified: &Modified,
    action: &str,
    form: &Form,
    auth: &HeaderValue,
) -> Result<(), Refusal> {
    let Some((lb, groups)) = request(action, form) else { return Ok(()) };
    let mut params = vec![("Action".to_owned(), "DescribeTargetGroups".to_owned())];
    for (i, group) in groups.iter().enumerate() {
        params.push((format!("TargetGroupArns.member.{}", i + 1), group.clone()));
    }
    let params: Vec<(&str, &str)> = params.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let Some(xml) = upstream.elbv2(auth, &params).await else { return Ok(()) };
    let mut candidates = recorded_users(&xml);
    for group in &groups {
        let from_modify = modified.0.get(group).into_iter().flatten().cloned();
        candidates.entry(group.clone()).or_default().extend(from_modify);
    }
    // One read per other load balancer, whatever the number of target groups it may hold.
    let mut inventories = BTreeMap::new();
    for (group, mut others) in candidates {
        others.remove(&lb);
        if groups.contains(&group) && !users(upstream, auth, &group, &others, &mut inventories).await.is_empty() {
            return Err(refusal(&group));
        }
    }
    Ok(())
}

/// Load balancers among `candidates` that exist and forward to `group` now (read from moto,
/// once per load balancer per call: `inventories` keeps what was read).
async fn users(
    upstream: &Upstream,
    auth: &HeaderValue,
    group: &str,
    candidates: &BTreeSet<String>,
    inventories: &mut BTreeMap<String, Option<Inventory>>,
) -> Vec<String> {
    let mut out = Vec::new();
    for lb in candidates {
        if !inventories.contains_key(lb) {
            inventories.insert(lb.clone(), Inventory::fetch(upstream, auth, lb).await);
        }
        if inventories[lb].as_ref().is_some_and(|i| i.forwards_to(group)) {
            out.push(lb.clone());
        }
    }
    out
}

/// A DescribeTargetGroups answer with each target group's `LoadBalancerArns` as AWS gives it:
/// the load balancers whose listeners or rules forward to it now. moto's list only grows, and
/// misses what ModifyListener/ModifyRule attached.
pub(crate) async fn describe(upstream: &Upstream, modified: &Modified, xml: &str, auth: &HeaderValue) -> String {
    let recorded = recorded_users(xml);
    let mut inventories = BTreeMap::new();
    let mut truth: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (group, mut candidates) in recorded {
        candidates.extend(modified.0.get(&group).into_iter().flatten().cloned());
        let users = users(upstream, auth, &group, &candidates, &mut inventories).await;
        truth.insert(group, users);
    }
    rewrite_users(xml, &truth)
}

/// Replaces every `LoadBalancerArns` element with `users` of the target group it is in.
fn rewrite_users(xml: &str, users: &BTreeMap<String, Vec<String>>) -> String {
    let mut rest = xml.to_owned();
    // Drop moto's lists (`<LoadBalancerArns>...</LoadBalancerArns>` or `<LoadBalancerArns/>`).
    while let Some(start) = rest.find("<LoadBalancerArns") {
        let end = match rest[start..].find("/>") {
            Some(close) if !rest[start..start + close].contains('>') => start + close + 2,
            _ => match rest[start..].find("</LoadBalancerArns>") {
                Some(close) => start + close + "</LoadBalancerArns>".len(),
                None => break,
            },
        };
        rest.replace_range(start..end, "");
    }
    let mut out = String::with_capacity(rest.len());
    let open = "<TargetGroupArn>";
    let close = "</TargetGroupArn>";
    while let Some(start) = rest.find(open) {
        let Some(end) = rest[start..].find(close).map(|e| start + e) else { break };
        let arn = rest[start + open.len()..end].to_owned();
        out.push_str(&rest[..end + close.len()]);
        rest.replace_range(..end + close.len(), "");
        // An action's TargetGroupArn is not in this answer: only target group members are.
        let members: String = users
            .get(&arn)
            .into_iter()
            .flatten()
            .map(|lb| format!("<member>{}</member>", super::protocol::xml_escape(lb)))
            .collect();
        out.push_str(&format!("<LoadBalancerArns>{members}</LoadBalancerArns>"));
    }
    out.push_str(&rest);
    out
}

/// Target group ARN -> `LoadBalancerArns` from a DescribeTargetGroups answer.
fn recorded_users(xml: &str) -> BTreeMap<String, BTreeSet<String>> {
    let Ok(doc) = roxmltree::Document::parse(xml) else { return BTreeMap::new() };
    let Some(list) = doc.root_element().descendants().find(|d| d.has_tag_name("TargetGroups")) else {
        return BTreeMap::new();
    };
    list.children()
        .filter(|c| c.has_tag_name("member"))
        .filter_map(|m| {
            let arn = m.children().find(|c| c.has_tag_name("TargetGroupArn"))?.text()?.to_owned();
            let users = m
                .children()
                .filter(|c| c.has_tag_name("LoadBalancerArns"))
                .flat_map(|l| l.children().filter(|c| c.has_tag_name("member")))
                .filter_map(|c| c.text().map(str::to_owned))
                .collect();
            Some((arn, users))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(pairs: &[(&str, &str)]) -> Form {
        Form(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect())
    }

    const LB: &str = "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/a/1";
    const LISTENER: &str = "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/a/1/2";
    const RULE: &str = "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener-rule/app/a/1/2/3";

    #[test]
    fn finds_the_load_balancer_and_target_groups_of_each_attaching_call() {
        let groups = |names: &[&str]| names.iter().map(|n| n.to_string()).collect::<BTreeSet<_>>();
        let f = form(&[
            ("LoadBalancerArn", LB),
            ("DefaultActions.member.1.TargetGroupArn", "tg1"),
            ("DefaultActions.member.1.ForwardConfig.TargetGroups.member.1.TargetGroupArn", "tg2"),
        ]);
        assert_eq!(request("CreateListener", &f), Some((LB.to_owned(), groups(&["tg1", "tg2"]))));
        let f = form(&[("ListenerArn", LISTENER), ("DefaultActions.member.1.TargetGroupArn", "tg1")]);
        assert_eq!(request("ModifyListener", &f), Some((LB.to_owned(), groups(&["tg1"]))));
        let f = form(&[
            ("ListenerArn", LISTENER),
            ("Actions.member.1.ForwardConfig.TargetGroups.member.2.TargetGroupArn", "tg3"),
        ]);
        assert_eq!(request("CreateRule", &f), Some((LB.to_owned(), groups(&["tg3"]))));
        let f = form(&[("RuleArn", RULE), ("Actions.member.1.TargetGroupArn", "tg4")]);
        assert_eq!(request("ModifyRule", &f), Some((LB.to_owned(), groups(&["tg4"]))));
        // A fixed response or a rule's conditions alone attach nothing.
        let f = form(&[("RuleArn", RULE), ("Conditions.member.1.Field", "path-pattern")]);
        assert_eq!(request("ModifyRule", &f), None);
        assert_eq!(request("DeleteRule", &form(&[("RuleArn", RULE)])), None);

        let mut modified = Modified::default();
        remember(
            &mut modified,
            "CreateRule",
            &form(&[("ListenerArn", LISTENER), ("Actions.member.1.TargetGroupArn", "tg1")]),
        );
        assert!(modified.0.is_empty(), "moto keeps CreateRule's itself");
        remember(&mut modified, "ModifyRule", &form(&[("RuleArn", RULE), ("Actions.member.1.TargetGroupArn", "tg4")]));
        assert_eq!(modified.0["tg4"], groups(&[LB]));
    }

    #[test]
    fn rewrites_the_users_of_each_target_group() {
        let xml = format!(
            "<R><TargetGroups>\
             <member><TargetGroupArn>tg1</TargetGroupArn><LoadBalancerArns><member>{LB}</member></LoadBalancerArns><Port>80</Port></member>\
             <member><TargetGroupArn>tg2</TargetGroupArn><LoadBalancerArns/></member>\
             <member><TargetGroupArn>tg3</TargetGroupArn></member>\
             </TargetGroups></R>"
        );
        let users: BTreeMap<String, Vec<String>> =
            [("tg2".to_owned(), vec![LB.to_owned()]), ("tg3".to_owned(), vec!["a&b".to_owned()])].into();
        assert_eq!(
            rewrite_users(&xml, &users),
            format!(
                "<R><TargetGroups>\
                 <member><TargetGroupArn>tg1</TargetGroupArn><LoadBalancerArns></LoadBalancerArns><Port>80</Port></member>\
                 <member><TargetGroupArn>tg2</TargetGroupArn><LoadBalancerArns><member>{LB}</member></LoadBalancerArns></member>\
                 <member><TargetGroupArn>tg3</TargetGroupArn><LoadBalancerArns><member>a&amp;b</member></LoadBalancerArns></member>\
                 </TargetGroups></R>"
            )
        );
    }

    #[test]
    fn reads_the_recorded_users_of_each_target_group() {
        let xml = format!(
            "<DescribeTargetGroupsResponse><DescribeTargetGroupsResult><TargetGroups>\
             <member><TargetGroupArn>tg1</TargetGroupArn><LoadBalancerArns><member>{LB}</member></LoadBalancerArns></member>\
             <member><TargetGroupArn>tg2</TargetGroupArn><LoadBalancerArns/></member>\
             </TargetGroups></DescribeTargetGroupsResult></DescribeTargetGroupsResponse>"
        );
        let users = recorded_users(&xml);
        assert_eq!(users["tg1"], [LB.to_owned()].into_iter().collect());
        assert!(users["tg2"].is_empty());
    }
}
