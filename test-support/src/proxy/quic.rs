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
use super::rules::{Refusal, load_balancer_arn};

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
    if texts(&described, "Type").first().map(String::as_str) != Some("network") {
        return Err(configuration(format!("{protocol} listeners are supported only on network load balancers")));
    }
    if described.contains("<SecurityGroups><member>") {
        return Err(configuration(format!(
            "{protocol} listeners are not allowed on load balancers with associated security groups"
        )));
    }
    if texts(&described, "IpAddressType").first().is_some_and(|t| t.starts_with("dualstack")) {
        return Err(configuration(format!("{protocol} listeners are not allowed on dualstack load balancers")));
    }
    let listeners =
        upstream.elbv2(auth, &[("Action", "DescribeListeners"), ("LoadBalancerArn", &lb)]).await.unwrap_or_default();
    for member in members(&listeners) {
        let arn = texts(member, "ListenerArn").into_iter().next().unwrap_or_default();
        let udp = own_protocol(member).is_some_and(is_udp);
        if udp && Some(arn.as_str()) != this && !state.listeners.contains_key(&arn) {
            return Err(configuration(format!(
                "{protocol} listeners are not allowed on a load balancer that has UDP or TCP_UDP listeners"
            )));
        }
    }
    Ok(())
}

async fn protocol_of(upstream: &Upstream, auth: &HeaderValue, listener: &str) -> Option<String> {
    let body = upstream.elbv2(auth, &[("Action", "DescribeListeners"), ("ListenerArns.member.1", listener)]).await?;
    members(&body).first().and_then(|m| own_protocol(m)).map(str::to_owned)
}

/// Remembers what a 200 answer to `action` made QUIC, and rewrites it (and every describe) to
/// show QUIC where moto shows UDP.
pub(crate) fn answer(state: &mut Quic, action: &str, form: &Form, body: &str) -> Option<String> {
    let wanted = form.get("Protocol").filter(|p| carrier(p).is_some());
    match action {
        "CreateTargetGroup" => {
            if let Some(p) = wanted {
                let arn = members(body).first().and_then(|m| texts(m, "TargetGroupArn").into_iter().next())?;
                state.target_groups.insert(arn, p.to_owned());
            }
        }
        "CreateListener" => {
            if let (Some(p), Some(lb)) = (wanted, form.get("LoadBalancerArn")) {
                let arn = members(body).first().and_then(|m| texts(m, "ListenerArn").into_iter().next())?;
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
    let (element, known): (&str, BTreeMap<&str, &str>) = match action {
        "CreateTargetGroup" | "DescribeTargetGroups" | "ModifyTargetGroup" => {
            ("TargetGroupArn", state.target_groups.iter().map(|(a, p)| (a.as_str(), p.as_str())).collect())
        }
        _ => ("ListenerArn", state.listeners.iter().map(|(a, (_, p))| (a.as_str(), p.as_str())).collect()),
    };
    Some(rewrite(body, element, &known))
}

/// The answer's outermost `<member>` elements (one per listener or target group).
fn members(body: &str) -> Vec<&str> {
    member_spans(body).into_iter().map(|(start, end)| &body[start..end]).collect()
}

/// Byte ranges of the outermost `<member>...</member>` elements, tags included.
fn member_spans(body: &str) -> Vec<(usize, usize)> {
    const OPEN: &str = "<member>";
    const CLOSE: &str = "</member>";
    let mut spans = Vec::new();
    let (mut depth, mut start, mut at) = (0usize, 0usize, 0usize);
    while let Some(offset) = body[at..].find('<') {
        let i = at + offset;
        if body[i..].starts_with(OPEN) {
            if depth == 0 {
                start = i;
            }
            depth += 1;
            at = i + OPEN.len();
        } else if body[i..].starts_with(CLOSE) {
            at = i + CLOSE.len();
            // A close without its open (the caller's own member's end) is not a member.
            if depth == 1 {
                spans.push((start, at));
            }
            depth = depth.saturating_sub(1);
        } else {
            at = i + 1;
        }
    }
    spans
}

/// The member's own `<Protocol>` (not one inside a nested member, such as a redirect's).
fn own_protocol(member: &str) -> Option<&str> {
    let inner = member.strip_prefix("<member>")?;
    let nested = member_spans(inner);
    let mut from = 0;
    while let Some(offset) = inner[from..].find("<Protocol>") {
        let start = from + offset;
        if !nested.iter().any(|(a, b)| (*a..*b).contains(&start)) {
            let value = start + "<Protocol>".len();
            let end = inner[value..].find('<')? + value;
            return Some(&inner[value..end]);
        }
        from = start + 1;
    }
    None
}

fn texts(xml: &str, name: &str) -> Vec<String> {
    let (open, close) = (format!("<{name}>"), format!("</{name}>"));
    xml.split(&open).skip(1).filter_map(|rest| rest.split_once(&close).map(|(v, _)| v.trim().to_owned())).collect()
}

/// Writes each known ARN's QUIC protocol over the UDP moto shows in its member.
fn rewrite(body: &str, element: &str, known: &BTreeMap<&str, &str>) -> String {
    let mut out = String::with_capacity(body.len());
    let mut last = 0;
    for (start, end) in member_spans(body) {
        let member = &body[start..end];
        let arn = texts(member, element).into_iter().next();
        let Some(protocol) = arn.as_deref().and_then(|a| known.get(a)) else { continue };
        let Some(current) = own_protocol(member).filter(|p| is_udp(p)) else { continue };
        let from = format!("<Protocol>{current}</Protocol>");
        let to = format!("<Protocol>{}</Protocol>", xml_escape(protocol));
        out.push_str(&body[last..start]);
        out.push_str(&member.replacen(&from, &to, 1));
        last = end;
    }
    out.push_str(&body[last..]);
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
        let described =
            answer(&mut state, "DescribeListeners", &form(&[]), &format!("<R>{other}{created}</R>")).unwrap();
        assert_eq!(described.matches("<Protocol>UDP</Protocol>").count(), 1, "{described}");
        assert_eq!(described.matches("<Protocol>QUIC</Protocol>").count(), 1, "{described}");
        // A redirect's protocol inside a nested member is never the listener's.
        let nested = "<member><DefaultActions><member><Protocol>UDP</Protocol></member></DefaultActions></member>";
        assert_eq!(own_protocol(nested), None);
        assert_eq!(answer(&mut state, "DeleteLoadBalancer", &form(&[("LoadBalancerArn", lb)]), ""), None);
        assert!(state.listeners.is_empty());
    }
}
