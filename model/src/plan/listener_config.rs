//! The per-listener fields of a LoadBalancerConfiguration's `listenerConfigurations[]`: what each
//! adds to its listener's plan, and the refusal (by field path) of a field that cannot apply to
//! the load balancer type or the listener protocol.

use albatross_k8s::aws::Attribute as AttributeSpec;
use std::collections::{BTreeMap, BTreeSet};

use albatross_k8s::aws::load_balancer_configuration::{
    ListenerConfiguration, LoadBalancerConfigurationSpec, LoadBalancerIpAddressType, MutualAuthentication,
    MutualAuthenticationMode,
};

use super::alb::enum_text;
use super::attach::Failure;
use super::listeners::ListenerState;
use super::types::{Attribute, ListenerPlan, MutualAuthenticationPlan, StickinessConfig};
use super::wire::Protocol;
use crate::validate::Flavor;

/// Every entry's fields checked against the load balancer type and its own protocol; all
/// problems, `; `-joined, refuse the Gateway.
pub fn check(config: &LoadBalancerConfigurationSpec, flavor: Flavor) -> Result<(), Failure> {
    let mut problems = Vec::new();
    for (i, lc) in config.listener_configurations.iter().flatten().enumerate() {
        let protocol = lc.protocol_port.split(':').next().unwrap_or("").to_ascii_uppercase();
        let mut refuse = |field: &str, message: String| {
            problems.push(format!("spec.listenerConfigurations[{i}].{field}: {message}"));
        };
        // Every field named: a field added to the CRD fails the build here until it is handled.
        let ListenerConfiguration {
            protocol_port: _,
            default_certificate: _,
            certificates: _,
            ssl_policy: _,
            alpn_policy: _,
            target_group_stickiness,
            mutual_authentication,
            listener_attributes: _,
            quic_enabled,
        } = lc;
        if let Some(m) = mutual_authentication {
            // Mode `off` is what every listener has: harmless anywhere, as the CRD's CEL allows.
            if m.mode != MutualAuthenticationMode::Off && (flavor != Flavor::Alb || protocol != "HTTPS") {
                refuse(
                    "mutualAuthentication",
                    format!("applies only to HTTPS listeners of an ALB, not {protocol} on an {}", flavor_name(flavor)),
                );
            }
        }
        if quic_enabled == &Some(true) && (flavor != Flavor::Nlb || !matches!(protocol.as_str(), "UDP" | "TCP_UDP")) {
            refuse(
                "quicEnabled",
                format!(
                    "applies only to UDP and TCP_UDP listeners of an NLB, not {protocol} on an {}",
                    flavor_name(flavor)
                ),
            );
        }
        if target_group_stickiness.is_some() && flavor != Flavor::Nlb {
            refuse("targetGroupStickiness", "applies only to NLB listeners; an ALB sets stickiness per route".into());
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(("InvalidParameters", format!("LoadBalancerConfiguration {}", problems.join("; "))))
    }
}

/// AWS's conditions on an NLB's QUIC listener (its listener documentation): a load balancer
/// without security groups and not dualstack, one QUIC or TCP_QUIC listener, none beside a UDP
/// or TCP_UDP listener. Checked over the Gateway's usable listeners, merged per port as the NLB
/// plan merges them, so an entry that matches no listener is not held against the Gateway.
pub fn check_quic(config: &LoadBalancerConfigurationSpec, states: &[ListenerState]) -> Result<(), Failure> {
    let mut per_port: BTreeMap<i32, BTreeSet<&str>> = BTreeMap::new();
    for s in states.iter().filter(|s| s.usable()) {
        let protocol = match (s.spec.protocol.as_str(), s.tls_mode()) {
            ("TLS", "Passthrough") => "TCP",
            (p, _) => p,
        };
        per_port.entry(s.spec.port).or_default().insert(protocol);
    }
    let entries = config.listener_configurations.as_deref().unwrap_or_default();
    let mut quic = Vec::new();
    let mut plain = Vec::new();
    for (port, protocols) in per_port.iter().filter(|(_, p)| p.contains("UDP")) {
        let merged = if protocols.contains("TCP") { "TCP_UDP" } else { "UDP" };
        let wanted = format!("{merged}:{port}");
        match entries.iter().position(|l| l.protocol_port.eq_ignore_ascii_case(&wanted)) {
            Some(i) if entries[i].quic_enabled == Some(true) => quic.push((i, wanted)),
            _ => plain.push(wanted),
        }
    }
    let mut problems = Vec::new();
    for (n, (i, listener)) in quic.iter().enumerate() {
        let mut refuse = |message: String| {
            problems.push(format!("spec.listenerConfigurations[{i}].quicEnabled: {message} (listener {listener})"));
        };
        if config.disable_security_group != Some(true) || config.security_groups.as_ref().is_some_and(|g| !g.is_empty())
        {
            refuse("AWS allows QUIC listeners only on an NLB without security groups: set disableSecurityGroup: true and no securityGroups".into());
        }
        if matches!(
            config.ip_address_type,
            Some(LoadBalancerIpAddressType::Dualstack | LoadBalancerIpAddressType::DualstackWithoutPublicIpv4)
        ) {
            refuse("AWS allows no QUIC listener on a dualstack NLB".into());
        }
        if n > 0 {
            refuse(format!("AWS allows one QUIC or TCP_QUIC listener per NLB, and {} is one already", quic[0].1));
        }
        if !plain.is_empty() {
            refuse(format!("AWS allows no QUIC listener beside UDP or TCP_UDP listeners ({})", plain.join(", ")));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(("InvalidParameters", format!("LoadBalancerConfiguration {}", problems.join("; "))))
    }
}

fn flavor_name(flavor: Flavor) -> &'static str {
    match flavor {
        Flavor::Alb => "ALB",
        Flavor::Nlb => "NLB",
    }
}

/// The listener protocol once QUIC is on: UDP becomes QUIC, TCP_UDP becomes TCP_QUIC.
pub fn protocol(lc: Option<&ListenerConfiguration>, protocol: &str) -> String {
    match (lc.and_then(|c| c.quic_enabled), protocol) {
        (Some(true), "UDP") => "QUIC".into(),
        (Some(true), "TCP_UDP") => "TCP_QUIC".into(),
        (_, p) => p.to_owned(),
    }
}

/// The NLB forward action's `TargetGroupStickinessConfig`, when the configuration sets it.
pub fn stickiness(lc: Option<&ListenerConfiguration>) -> Option<StickinessConfig> {
    lc.and_then(|c| c.target_group_stickiness).map(|enabled| StickinessConfig { enabled, duration_seconds: None })
}

/// Adds the entry's mutual TLS and listener attributes to the listener's plan (after [`check`]).
pub fn apply(lc: Option<&ListenerConfiguration>, plan: &mut ListenerPlan) {
    let Some(lc) = lc else { return };
    // Only HTTPS listeners take the setting; elsewhere [`check`] let only mode `off` through.
    plan.mutual_authentication =
        lc.mutual_authentication.as_ref().filter(|_| plan.protocol == Protocol::Https).map(mutual_authentication);
    let mut attributes: Vec<Attribute> = lc
        .listener_attributes
        .iter()
        .flatten()
        .map(|AttributeSpec { key, value }| Attribute { key: key.clone(), value: value.clone() })
        .collect();
    attributes.sort();
    plan.attributes = attributes;
}

fn mutual_authentication(m: &MutualAuthentication) -> MutualAuthenticationPlan {
    let MutualAuthentication { advertise_trust_store_ca_names, ignore_client_certificate_expiry, mode, trust_store } =
        m;
    let verify = *mode == MutualAuthenticationMode::Verify;
    MutualAuthenticationPlan {
        mode: enum_text(mode),
        trust_store_arn: trust_store.clone().filter(|_| verify),
        ignore_client_certificate_expiry: ignore_client_certificate_expiry.filter(|_| verify),
        advertise_trust_store_ca_names: advertise_trust_store_ca_names.as_ref().filter(|_| verify).map(enum_text),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn config(listener: serde_json::Value) -> LoadBalancerConfigurationSpec {
        serde_json::from_value(json!({"listenerConfigurations": [listener]})).expect("a valid spec")
    }

    fn refusal(flavor: Flavor, listener: serde_json::Value) -> String {
        check(&config(listener), flavor).expect_err("refused").1
    }

    #[test]
    fn fields_that_cannot_apply_are_refused_by_field_path() {
        let mtls = json!({"mode": "verify", "trustStore": "arn:aws:elasticloadbalancing:us-east-1:123456789012:truststore/ts/1"});
        let on_http = refusal(Flavor::Alb, json!({"protocolPort": "HTTP:80", "mutualAuthentication": mtls}));
        assert!(
            on_http.contains("spec.listenerConfigurations[0].mutualAuthentication: applies only to HTTPS"),
            "{on_http}"
        );
        let on_nlb = refusal(Flavor::Nlb, json!({"protocolPort": "TLS:443", "mutualAuthentication": mtls}));
        assert!(on_nlb.contains("[0].mutualAuthentication"), "{on_nlb}");
        let by_name =
            json!({"protocolPort": "HTTPS:443", "mutualAuthentication": {"mode": "verify", "trustStore": "ts"}});
        check(&config(by_name), Flavor::Alb).expect("a trust store by name is looked up at apply");
        let quic_tcp = refusal(Flavor::Nlb, json!({"protocolPort": "TCP:443", "quicEnabled": true}));
        assert!(quic_tcp.contains("spec.listenerConfigurations[0].quicEnabled"), "{quic_tcp}");
        let quic_alb = refusal(Flavor::Alb, json!({"protocolPort": "HTTPS:443", "quicEnabled": true}));
        assert!(quic_alb.contains("[0].quicEnabled"), "{quic_alb}");
        let sticky = refusal(Flavor::Alb, json!({"protocolPort": "HTTP:80", "targetGroupStickiness": true}));
        assert!(sticky.contains("spec.listenerConfigurations[0].targetGroupStickiness"), "{sticky}");
    }

    #[test]
    fn fields_that_apply_pass_and_shape_the_listener() {
        let https = json!({"protocolPort": "HTTPS:443", "listenerAttributes": [
            {"key": "routing.http.response.server.enabled", "value": "false"}],
            "mutualAuthentication": {"mode": "verify", "ignoreClientCertificateExpiry": true,
                "advertiseTrustStoreCaNames": "on",
                "trustStore": "arn:aws:elasticloadbalancing:us-east-1:123456789012:truststore/ts/1"}});
        let spec = config(https);
        check(&spec, Flavor::Alb).expect("accepted");
        let lc = spec.listener_configurations.as_ref().map(|l| &l[0]);
        let mut plan: ListenerPlan = serde_json::from_value(json!({
            "Port": 443, "Protocol": "HTTPS", "DefaultActions": [], "Rules": [], "Tags": []}))
        .unwrap();
        apply(lc, &mut plan);
        assert_eq!(
            serde_json::to_value(&plan).unwrap()["MutualAuthentication"],
            json!({"Mode": "verify", "TrustStoreArn": "arn:aws:elasticloadbalancing:us-east-1:123456789012:truststore/ts/1",
                   "IgnoreClientCertificateExpiry": true, "AdvertiseTrustStoreCaNames": "on"})
        );
        assert_eq!(
            plan.attributes,
            vec![Attribute { key: "routing.http.response.server.enabled".into(), value: "false".into() }]
        );

        let udp = config(json!({"protocolPort": "UDP:443", "quicEnabled": true, "targetGroupStickiness": true}));
        check(&udp, Flavor::Nlb).expect("accepted");
        let lc = udp.listener_configurations.as_ref().map(|l| &l[0]);
        assert_eq!(protocol(lc, "UDP"), "QUIC");
        assert_eq!(protocol(lc, "TCP_UDP"), "TCP_QUIC");
        assert_eq!(protocol(None, "UDP"), "UDP");
        assert_eq!(stickiness(lc), Some(StickinessConfig { enabled: true, duration_seconds: None }));
    }
}

#[cfg(test)]
#[path = "listener_config_tests.rs"]
mod plan_tests;
