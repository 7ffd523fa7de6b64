//! ELBv2 fields moto 5.2.5 does not know, emulated on its answers (see the [`super`] docs).
//!
//! - `CreateTargetGroup TargetControlPort`: moto ignores the parameter. The proxy refuses it
//!   (`ValidationError`, as AWS does) unless `TargetType` is `ip` and the protocol `HTTP` or
//!   `HTTPS`; otherwise it remembers the port by the ARN moto answers and writes
//!   `<TargetControlPort>` into every `CreateTargetGroup` and `DescribeTargetGroups` member of
//!   that target group, as AWS describes it. The port is never changed afterwards (AWS has no
//!   call that changes it).
//! - Listener `MutualAuthentication` (CreateListener, ModifyListener): moto ignores it. The
//!   proxy refuses it on a listener whose `Protocol` is not `HTTPS`, and mode `verify` without
//!   `TrustStoreArn` (`ValidationError`, as AWS does); it does not model trust stores, so any
//!   trust store ARN is taken. It remembers the settings by listener ARN (a ModifyListener
//!   without them keeps them, as AWS does) and writes `<MutualAuthentication>` into every
//!   CreateListener, ModifyListener and DescribeListeners member of that listener.

use std::collections::BTreeMap;

use super::protocol::{Form, xml_escape};
use super::rules::Refusal;

/// What the proxy remembers about fields moto drops.
#[derive(Debug, Default)]
pub(crate) struct Emulated {
    /// Target group ARN -> its `TargetControlPort`.
    target_control_ports: BTreeMap<String, String>,
    /// Listener ARN -> its `MutualAuthentication` members (`Mode`, `TrustStoreArn`, ...).
    mutual_authentication: BTreeMap<String, Vec<(String, String)>>,
}

const MTLS: &str = "MutualAuthentication.";

/// The request's `MutualAuthentication.*` members, without the prefix.
fn mutual_authentication(form: &Form) -> Vec<(String, String)> {
    form.iter().filter_map(|(k, v)| k.strip_prefix(MTLS).map(|k| (k.to_owned(), v.to_owned()))).collect()
}

/// Refusals AWS makes for the emulated fields; runs before forwarding.
pub(crate) fn check(action: &str, form: &Form) -> Result<(), Refusal> {
    if action == "CreateTargetGroup" && form.get("TargetControlPort").is_some() {
        let ip = form.get("TargetType") == Some("ip");
        let http = matches!(form.get("Protocol"), Some("HTTP" | "HTTPS"));
        if !(ip && http) {
            return Err(Refusal {
                code: "ValidationError",
                message: "TargetControlPort is supported only for target groups of target type ip with protocol HTTP or HTTPS".into(),
            });
        }
    }
    if matches!(action, "CreateListener" | "ModifyListener") && form.get(&format!("{MTLS}Mode")).is_some() {
        let mode = form.get(&format!("{MTLS}Mode"));
        if form.get("Protocol").is_some_and(|p| p != "HTTPS") && mode != Some("off") {
            return Err(Refusal {
                code: "ValidationError",
                message: "Mutual authentication is supported only for HTTPS listeners".into(),
            });
        }
        if mode == Some("verify") && form.get(&format!("{MTLS}TrustStoreArn")).is_none() {
            return Err(Refusal {
                code: "ValidationError",
                message: "A trust store is required when mutual authentication mode is verify".into(),
            });
        }
    }
    Ok(())
}

/// Rewrites moto's 200 answer to `action` so it carries what moto dropped.
pub(crate) fn answer(state: &mut Emulated, action: &str, form: &Form, body: &str) -> Option<String> {
    match action {
        "CreateTargetGroup" => {
            if let Some(port) = form.get("TargetControlPort") {
                let arn = first_text(body, "TargetGroupArn")?;
                state.target_control_ports.insert(arn.to_owned(), port.to_owned());
            }
            Some(with_control_ports(state, body))
        }
        "DescribeTargetGroups" => Some(with_control_ports(state, body)),
        "CreateListener" | "ModifyListener" => {
            let settings = mutual_authentication(form);
            let arn = match action {
                "CreateListener" => first_text(body, "ListenerArn")?.to_owned(),
                _ => form.get("ListenerArn")?.to_owned(),
            };
            if !settings.is_empty() {
                state.mutual_authentication.insert(arn, settings);
            }
            Some(with_mutual_authentication(state, body))
        }
        "DescribeListeners" => Some(with_mutual_authentication(state, body)),
        "DeleteListener" => {
            if let Some(arn) = form.get("ListenerArn") {
                state.mutual_authentication.remove(arn);
            }
            None
        }
        "DeleteTargetGroup" => {
            if let Some(arn) = form.get("TargetGroupArn") {
                state.target_control_ports.remove(arn);
            }
            None
        }
        _ => None,
    }
}

fn first_text<'a>(body: &'a str, element: &str) -> Option<&'a str> {
    let open = format!("<{element}>");
    let start = body.find(&open)? + open.len();
    let end = body[start..].find("</")? + start;
    Some(body[start..end].trim())
}

/// Puts `<TargetControlPort>` after each remembered target group's `<TargetGroupArn>`.
fn with_control_ports(state: &Emulated, body: &str) -> String {
    let mut out = body.to_owned();
    for (arn, port) in &state.target_control_ports {
        let element = format!("<TargetGroupArn>{}</TargetGroupArn>", xml_escape(arn));
        out = out.replace(&element, &format!("{element}<TargetControlPort>{}</TargetControlPort>", xml_escape(port)));
    }
    out
}

/// Puts `<MutualAuthentication>` after each remembered listener's `<ListenerArn>`.
fn with_mutual_authentication(state: &Emulated, body: &str) -> String {
    let mut out = body.to_owned();
    for (arn, settings) in &state.mutual_authentication {
        let element = format!("<ListenerArn>{}</ListenerArn>", xml_escape(arn));
        let members: String = settings.iter().map(|(k, v)| format!("<{k}>{}</{k}>", xml_escape(v))).collect();
        out = out.replace(&element, &format!("{element}<MutualAuthentication>{members}</MutualAuthentication>"));
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
    fn a_target_control_port_is_remembered_and_described() {
        let mut state = Emulated::default();
        let create = form(&[("Action", "CreateTargetGroup"), ("TargetControlPort", "9000")]);
        let body = "<R><TargetGroups><member><TargetGroupArn>arn:tg/a</TargetGroupArn></member></TargetGroups></R>";
        let created = answer(&mut state, "CreateTargetGroup", &create, body).unwrap();
        assert!(
            created.contains("<TargetGroupArn>arn:tg/a</TargetGroupArn><TargetControlPort>9000</TargetControlPort>")
        );
        let other = "<member><TargetGroupArn>arn:tg/b</TargetGroupArn></member>";
        let described = answer(&mut state, "DescribeTargetGroups", &form(&[]), &format!("{body}{other}")).unwrap();
        assert_eq!(described.matches("<TargetControlPort>").count(), 1, "{described}");
    }

    #[test]
    fn a_target_control_port_needs_http_ip_targets() {
        let instance = form(&[("TargetControlPort", "9000"), ("TargetType", "instance"), ("Protocol", "HTTP")]);
        assert!(check("CreateTargetGroup", &instance).is_err());
        let ip = form(&[("TargetControlPort", "9000"), ("TargetType", "ip"), ("Protocol", "HTTP")]);
        assert!(check("CreateTargetGroup", &ip).is_ok());
    }

    #[test]
    fn mutual_authentication_is_checked_remembered_and_described() {
        let mut state = Emulated::default();
        let http = form(&[("Protocol", "HTTP"), ("MutualAuthentication.Mode", "passthrough")]);
        assert!(check("CreateListener", &http).is_err());
        let no_store = form(&[("Protocol", "HTTPS"), ("MutualAuthentication.Mode", "verify")]);
        assert!(check("CreateListener", &no_store).is_err());
        let verify = form(&[
            ("Protocol", "HTTPS"),
            ("MutualAuthentication.Mode", "verify"),
            ("MutualAuthentication.TrustStoreArn", "arn:ts/1"),
        ]);
        assert!(check("CreateListener", &verify).is_ok());
        let body = "<R><Listeners><member><ListenerArn>arn:l/1</ListenerArn></member></Listeners></R>";
        let created = answer(&mut state, "CreateListener", &verify, body).unwrap();
        assert!(
            created.contains("<MutualAuthentication><Mode>verify</Mode><TrustStoreArn>arn:ts/1</TrustStoreArn></MutualAuthentication>"),
            "{created}"
        );
        // A ModifyListener without the settings keeps them.
        let modify = form(&[("ListenerArn", "arn:l/1"), ("Port", "443")]);
        let modified = answer(&mut state, "ModifyListener", &modify, body).unwrap();
        assert!(modified.contains("<Mode>verify</Mode>"), "{modified}");
        let off = form(&[("ListenerArn", "arn:l/1"), ("MutualAuthentication.Mode", "off")]);
        let described = answer(&mut state, "ModifyListener", &off, body).unwrap();
        assert!(described.contains("<MutualAuthentication><Mode>off</Mode></MutualAuthentication>"), "{described}");
    }
}
