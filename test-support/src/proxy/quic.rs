//! NLB QUIC listeners and target groups, which moto 5.2.5 refuses (its protocol lists end at
//! `TCP_UDP`), emulated on top of UDP (see the [`super`] docs).
//!
//! - CreateTargetGroup, CreateListener and ModifyListener with `Protocol` `QUIC` or `TCP_QUIC`
//!   are forwarded with `UDP` or `TCP_UDP` in its place; the proxy remembers the ARN's real
//!   protocol and writes it back into every CreateTargetGroup, ModifyTargetGroup,
//!   DescribeTargetGroups, CreateListener, ModifyListener and DescribeListeners member of that
//!   target group or listener. A ModifyListener to another protocol forgets it; so do
//!   DeleteListener, DeleteTargetGroup and DeleteLoadBalancer.
//! - With the AWS rules on, refused as AWS's NLB listener documentation says
//!   (`InvalidConfigurationRequest`): a QUIC or TCP_QUIC listener on a load balancer that is not
//!   a network load balancer, has security groups, or is dualstack; a second QUIC or TCP_QUIC
//!   listener on one load balancer; a QUIC listener beside a UDP or TCP_UDP listener, and a UDP
//!   or TCP_UDP listener beside a QUIC one. A listener whose default actions forward to a
//!   target group of another QUIC-ness (a QUIC listener to a UDP group, a UDP listener to a
//!   QUIC group, TCP_QUIC with QUIC) is refused `IncompatibleProtocols`.
//!
//! Not modelled: what AWS requires of a QUIC target group itself (health check, target type);
//! the exact messages AWS answers with.

use std::collections::BTreeMap;

use hyper::header::HeaderValue;

use super::Upstream;
use super::protocol::{Form, xml_escape};
use super::rules::{Refusal, child_text, fetch_listeners, load_balancer_arn, members, parse_listeners};

/// The real protocols of what moto holds as UDP.
#[derive(Clone, Debug, Default)]
pub(crate) struct Quic {
    /// Listener ARN -> (its load balancer's ARN, `QUIC` or `TCP_QUIC`).
    listeners: BTreeMap<String, (String, String)>,
    /// Target group ARN -> `QUIC` or `TCP_QUIC`.
    target_groups: BTreeMap<String, String>,
}

/// What moto is told in place of a QUIC protocol.
fn carrier(protocol: &str) -> Option<&'static str> {
    match protocol {
        "QUIC" => Some("UDP"),
        "TCP_QUIC" => Some("TCP_UDP"),
        _ => None,
    }
}

fn is_udp(protocol: &str) -> bool {
    matches!(protocol, "UDP" | "TCP_UDP")
}

/// The request body to forward when it names a QUIC protocol moto would refuse.
pub(crate) fn request(action: &str, form: &Form) -> Option<String> {
    if !matches!(action, "CreateTargetGroup" | "CreateListener" | "ModifyListener") {
        return None;
    }
    let to = carrier(form.get("Protocol")?)?;
    Some(Form::encode(form.iter().map(|(k, v)| (k, if k == "Protocol" { to } else { v }))))
}

fn configuration(message: String) -> Refusal {
    Refusal { code: "InvalidConfigurationRequest", message }
}

/// AWS's refusals for QUIC listeners; runs before forwarding. Reads moto unrecorded.
pub(crate) async fn check(
    upstream: &Upstream,
    state: &Quic,
    action: &str,
    form: &Form,
    auth: &HeaderValue,
) -> Result<(), Refusal> {
    let (lb, this) = match action {
        "CreateListener" => (form.get("LoadBalancerArn").map(str::to_owned), None),
        "ModifyListener" => (form.get("ListenerArn").and_then(load_balancer_arn), form.get("ListenerArn")),
        _ => return Ok(()),
    };
    let Some(lb) = lb else { return Ok(()) };
    let known = this.and_then(|l| state.listeners.get(l)).map(|(_, p)| p.as_str());
    // A ModifyListener without `Protocol` keeps the listener's.
    let protocol = match (form.get("Protocol"), this) {
        (Some(p), _) => p.to_owned(),
        (None, Some(listener)) => match known {
            Some(p) => p.to_owned(),
            None => protocol_of(upstream, auth, listener).await.unwrap_or_default(),
        },
        (None, None) => return Ok(()),
    };
    let quic = carrier(&protocol).is_some();
    for group in form.iter().filter(|(k, _)| k.starts_with("DefaultActions.member.") && k.ends_with(".TargetGroupArn"))
    {
        let group_quic = state.target_groups.get(group.1).map(String::as_str);
        let fits = match group_quic {
            Some(g) => g == protocol,
            None => !quic,
        };
        if !fits {
            return Err(Refusal {
                code: "IncompatibleProtocols",
                message: format!(
                    "Listener protocol '{protocol}' is not compatible with the protocol of target group '{}'",
                    group.1
                ),
            });
        }
    }
    let others: Vec<(&String, &(String, String))> =
        state.listeners.iter().filter(|(arn, (of, _))| *of == lb && Some(arn.as_str()) != this).collect();
    if !quic {
        if is_udp(&protocol) && !others.is_empty() {
            return Err(configuration(format!(
                "A {protocol} listener cannot be added to a load balancer that has a QUIC or TCP_QUIC listener"
            )));
        }
        return Ok(());
    }
    if !others.is_empty() {
        return Err(configuration("A load balancer can have only one QUIC or TCP_QUIC listener".into()));
    }
    let Some(described) =
        upstream.elbv2(auth, &[("Action", "DescribeLoadBalancers"), ("LoadBalancerArns.member.1", &lb)]).await
    else {
        return Ok(()); // Unknown load balancer: moto answers.
    };
    let Ok(doc) = roxmltree::Document::parse(&described) else { return Ok(()) };
    let Some(balancer) = members(&doc, "LoadBalancers").and_then(|(m, _)| m.into_iter().next()) else {
        return Ok(());
    };
    if child_text(balancer, "Type") != Some("network") {
        return Err(configuration(format!("{protocol} listeners are supported only on network load balancers")));
    }
    let groups = balancer.children().filter(|c| c.has_tag_name("SecurityGroups"));
    if groups.flat_map(|g| g.children()).any(|c| c.has_tag_name("member")) {
        return Err(configuration(format!(
            "{protocol} listeners are not allowed on load balancers with associated security groups"
        )));
    }
    if child_text(balancer, "IpAddressType").is_some_and(|t| t.starts_with("dualstack")) {
        return Err(configuration(format!("{protocol} listeners are not allowed on dualstack load balancers")));
    }
    for listener in fetch_listeners(upstream, auth, &lb).await.unwrap_or_default() {
        let arn = listener.arn;
        if is_udp(&listener.protocol) && Some(arn.as_str()) != this && !state.listeners.contains_key(&arn) {
            return Err(configuration(format!(
                "{protocol} listeners are not allowed on a load balancer that has UDP or TCP_UDP listeners"
            )));
        }
    }
    Ok(())
}

async fn protocol_of(upstream: &Upstream, auth: &HeaderValue, listener: &str) -> Option<String> {
    let body = upstream.elbv2(auth, &[("Action", "DescribeListeners"), ("ListenerArns.member.1", listener)]).await?;
    parse_listeners(&body)?.0.into_iter().next().map(|l| l.protocol)
}

/// The ARN (`element`) of the first member of the answer's `list`.
fn first_arn(body: &str, list: &str, element: &str) -> Option<String> {
    let doc = roxmltree::Document::parse(body).ok()?;
    let (members, _) = members(&doc, list)?;
    child_text(*members.first()?, element).map(str::to_owned)
}

/// Remembers what a 200 answer to `action` made QUIC, and rewrites it (and every describe) to
/// show QUIC where moto shows UDP.
pub(crate) fn answer(state: &mut Quic, action: &str, form: &Form, body: &str) -> Option<String> {
    let wanted = form.get("Protocol").filter(|p| carrier(p).is_some());
    match action {
        "CreateTargetGroup" => {
            if let Some(p) = wanted {
                let arn = first_arn(body, "TargetGroups", "TargetGroupArn")?;
                state.target_groups.insert(arn, p.to_owned());
            }
        }
        "CreateListener" => {
            if let (Some(p), Some(lb)) = (wanted, form.get("LoadBalancerArn")) {
                let arn = first_arn(body, "Listeners", "ListenerArn")?;
                state.listeners.insert(arn, (lb.to_owned(), p.to_owned()));
            }
        }
        "ModifyListener" => {
            if let (Some(listener), Some(p)) = (form.get("ListenerArn"), form.get("Protocol")) {
                match (carrier(p), load_balancer_arn(listener)) {
                    (Some(_), Some(lb)) => {
                        state.listeners.insert(listener.to_owned(), (lb, p.to_owned()));
                    }
                    _ => {
                        state.listeners.remove(listener);
                    }
                }
            }
        }
        "DeleteListener" => {
            state.listeners.remove(form.get("ListenerArn")?);
            return None;
        }
        "DeleteTargetGroup" => {
            state.target_groups.remove(form.get("TargetGroupArn")?);
            return None;
        }
        "DeleteLoadBalancer" => {
            let lb = form.get("LoadBalancerArn")?;
            state.listeners.retain(|_, (of, _)| of != lb);
            return None;
        }
        "DescribeListeners" | "DescribeTargetGroups" | "ModifyTargetGroup" => {}
        _ => return None,
    }
    let (list, element, known): (&str, &str, BTreeMap<&str, &str>) = match action {
        "CreateTargetGroup" | "DescribeTargetGroups" | "ModifyTargetGroup" => (
            "TargetGroups",
            "TargetGroupArn",
            state.target_groups.iter().map(|(a, p)| (a.as_str(), p.as_str())).collect(),
        ),
        _ => ("Listeners", "ListenerArn", state.listeners.iter().map(|(a, (_, p))| (a.as_str(), p.as_str())).collect()),
    };
    Some(rewrite(body, list, element, &known))
}

/// Writes each known ARN's QUIC protocol over the UDP moto shows as its member's own
/// `Protocol` (not one in a nested action).
fn rewrite(body: &str, list: &str, element: &str, known: &BTreeMap<&str, &str>) -> String {
    let Ok(doc) = roxmltree::Document::parse(body) else { return body.to_owned() };
    let Some((members, _)) = members(&doc, list) else { return body.to_owned() };
    let mut out = body.to_owned();
    // From the end, so earlier ranges stay valid.
    for member in members.into_iter().rev() {
        let Some(protocol) = child_text(member, element).and_then(|arn| known.get(arn)) else { continue };
        let own = member.children().find(|c| c.has_tag_name("Protocol")).and_then(|p| p.first_child());
        if let Some(text) = own.filter(|t| t.text().is_some_and(is_udp)) {
            out.replace_range(text.range(), &xml_escape(protocol));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(pairs: &[(&str, &str)]) -> Form {
        Form::of(pairs)
    }

    #[test]
    fn a_quic_request_reaches_moto_as_udp() {
        let create = form(&[("Action", "CreateListener"), ("Protocol", "TCP_QUIC"), ("Port", "443")]);
        assert_eq!(request("CreateListener", &create).unwrap(), "Action=CreateListener&Protocol=TCP_UDP&Port=443");
        let udp = form(&[("Action", "CreateTargetGroup"), ("Protocol", "UDP")]);
        assert_eq!(request("CreateTargetGroup", &udp), None);
    }

    #[test]
    fn remembered_protocols_are_written_into_their_own_members_only() {
        let mut state = Quic::default();
        let lb = "arn:aws:elasticloadbalancing:us-east-1:1:loadbalancer/net/a/1";
        let listener = "arn:aws:elasticloadbalancing:us-east-1:1:listener/net/a/1/9";
        let created = format!(
            "<R><Listeners><member><LoadBalancerArn>{lb}</LoadBalancerArn><Protocol>UDP</Protocol>\
             <DefaultActions><member><Type>forward</Type></member></DefaultActions>\
             <ListenerArn>{listener}</ListenerArn></member></Listeners></R>"
        );
        let create = form(&[("Protocol", "QUIC"), ("LoadBalancerArn", lb)]);
        let shown = answer(&mut state, "CreateListener", &create, &created).unwrap();
        assert!(shown.contains("<Protocol>QUIC</Protocol>") && !shown.contains("UDP"), "{shown}");
        let other = "<member><Protocol>UDP</Protocol><ListenerArn>arn:other</ListenerArn></member>";
        let both = created.replace("<Listeners>", &format!("<Listeners>{other}"));
        let described = answer(&mut state, "DescribeListeners", &form(&[]), &both).unwrap();
        assert_eq!(described.matches("<Protocol>UDP</Protocol>").count(), 1, "{described}");
        assert_eq!(described.matches("<Protocol>QUIC</Protocol>").count(), 1, "{described}");
        // A protocol inside a nested action (a redirect's) is never the listener's.
        let nested = created.replace(
            "<Protocol>UDP</Protocol><DefaultActions><member>",
            "<DefaultActions><member><Protocol>UDP</Protocol>",
        );
        let shown = answer(&mut state, "DescribeListeners", &form(&[]), &nested).unwrap();
        assert_eq!(shown, nested);
        assert_eq!(answer(&mut state, "DeleteLoadBalancer", &form(&[("LoadBalancerArn", lb)]), ""), None);
        assert!(state.listeners.is_empty());
    }
}
