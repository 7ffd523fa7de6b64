//! LoadBalancerConfigurations: the class's and the Gateway's merged, listener configurations, and
//! the certificates of TLS listeners.

use std::collections::{BTreeMap, BTreeSet};

use albatross_k8s::gateway_api::v1::gatewayclasses::GatewayClassSpec;
use albatross_k8s::gateway_api::v1::gateways::GatewaySpec;
use albatross_k8s::route::ObjectKey;
use serde_json::{Value, json};

use super::attach::Failure;
use super::env::Env;
use super::hostname;
use super::snapshot::{Object, Snapshot};
use super::types::Certificate;

pub const AWS_GROUP: &str = "gateway.k8s.aws";
const LBC_KIND: &str = "LoadBalancerConfiguration";

pub fn check_class(snapshot: &Snapshot, class: &Object<GatewayClassSpec>) -> Result<(), Failure> {
    let Some(r) = &class.spec.parameters_ref else { return Ok(()) };
    if r.group != AWS_GROUP || r.kind != LBC_KIND {
        return Err(("InvalidParameters", format!("parametersRef must name a {LBC_KIND} of group {AWS_GROUP}")));
    }
    let Some(ns) = &r.namespace else {
        return Err(("InvalidParameters", format!("parametersRef must give the namespace of {LBC_KIND} {}", r.name)));
    };
    if !snapshot.lb_configs.contains_key(&ObjectKey::new(ns.clone(), r.name.clone())) {
        return Err(("InvalidParameters", format!("{LBC_KIND} {ns}/{} not found", r.name)));
    }
    Ok(())
}

/// The effective LoadBalancerConfiguration spec: the class's and the Gateway's, merged the way
/// the class's `mergingMode` says (the class wins by default).
pub fn merged(
    snapshot: &Snapshot,
    key: &ObjectKey,
    gw: &GatewaySpec,
    class: &GatewayClassSpec,
) -> Result<Value, Failure> {
    let class_config = class
        .parameters_ref
        .as_ref()
        .and_then(|r| snapshot.lb_configs.get(&ObjectKey::new(r.namespace.clone().unwrap_or_default(), r.name.clone())))
        .map(|c| c.raw.get("spec").cloned().unwrap_or(Value::Null));
    let gateway_config = match gw.infrastructure.as_ref().and_then(|i| i.parameters_ref.as_ref()) {
        Some(r) if r.group == AWS_GROUP && r.kind == LBC_KIND => {
            let k = ObjectKey::new(key.namespace.clone(), r.name.clone());
            let c = snapshot
                .lb_configs
                .get(&k)
                .ok_or_else(|| ("InvalidParameters", format!("{LBC_KIND} {k} not found")))?;
            Some(c.raw.get("spec").cloned().unwrap_or(Value::Null))
        }
        Some(r) => {
            return Err((
                "InvalidParameters",
                format!("infrastructure.parametersRef {}/{} is not a {LBC_KIND}", r.group, r.kind),
            ));
        }
        None => None,
    };
    Ok(match (class_config, gateway_config) {
        (None, None) => json!({}),
        (Some(c), None) => c,
        (None, Some(g)) => g,
        (Some(c), Some(g)) => {
            let gateway_wins = c.get("mergingMode").and_then(Value::as_str) == Some("prefer-gateway");
            let (low, high) = if gateway_wins { (c, g) } else { (g, c) };
            merge(&low, &high)
        }
    })
}

fn merge(low: &Value, high: &Value) -> Value {
    let mut out = low.as_object().cloned().unwrap_or_default();
    for (k, v) in high.as_object().into_iter().flatten() {
        let merged = match (k.as_str(), out.get(k)) {
            ("tags", Some(Value::Object(old))) => {
                let mut m = old.clone();
                m.extend(v.as_object().cloned().unwrap_or_default());
                Value::Object(m)
            }
            (key @ ("loadBalancerAttributes" | "listenerConfigurations"), Some(Value::Array(old))) => {
                let field = if key == "listenerConfigurations" { "protocolPort" } else { "key" };
                let mut by: BTreeMap<String, Value> = BTreeMap::new();
                for item in old.iter().chain(v.as_array().into_iter().flatten()) {
                    by.insert(item.get(field).and_then(Value::as_str).unwrap_or("").to_lowercase(), item.clone());
                }
                Value::Array(by.into_values().collect())
            }
            _ => v.clone(),
        };
        out.insert(k.clone(), merged);
    }
    Value::Object(out)
}

pub fn text_list(v: &Value, key: &str) -> Vec<String> {
    v.get(key).and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).map(str::to_owned).collect()
}

pub fn string_map(v: Option<&Value>) -> BTreeMap<String, String> {
    v.and_then(Value::as_object)
        .map(|m| m.iter().map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_owned())).collect())
        .unwrap_or_default()
}

/// The LoadBalancerConfiguration's listener configuration for `PROTOCOL:port`.
pub fn listener_config<'a>(config: &'a Value, protocol: &str, port: i32) -> Option<&'a Value> {
    let wanted = format!("{protocol}:{port}").to_lowercase();
    config
        .get("listenerConfigurations")
        .and_then(Value::as_array)?
        .iter()
        .find(|l| l.get("protocolPort").and_then(Value::as_str).is_some_and(|p| p.to_lowercase() == wanted))
}

/// The listener configuration's SSL policy, else the environment's default.
pub fn ssl_policy(env: &Env, config: Option<&Value>) -> String {
    config
        .and_then(|c| c.get("sslPolicy"))
        .and_then(Value::as_str)
        .map_or_else(|| env.default_ssl_policy.clone(), str::to_owned)
}

/// Certificates of a TLS listener: configured ARNs, else ACM certificates found by hostname.
/// A TLS listener's certificates within the load balancer's quota, which counts the certificates
/// besides each listener's default; `extra` holds how many are in use so far.
pub fn listener_certificates(
    env: &Env,
    config: Option<&Value>,
    hosts: &BTreeSet<String>,
    extra: &mut usize,
) -> Result<Vec<Certificate>, Failure> {
    let certs = certificates(env, config, hosts)?;
    let more = certs.len().saturating_sub(1);
    if *extra + more > env.limits.certificates_per_lb {
        return Err((
            "InvalidCertificateRef",
            format!(
                "the load balancer would exceed its quota of {} certificates besides the default ones",
                env.limits.certificates_per_lb
            ),
        ));
    }
    *extra += more;
    Ok(certs)
}

pub fn certificates(env: &Env, config: Option<&Value>, hosts: &BTreeSet<String>) -> Result<Vec<Certificate>, Failure> {
    if let Some(c) = config {
        let mut arns: Vec<String> =
            c.get("defaultCertificate").and_then(Value::as_str).map(str::to_owned).into_iter().collect();
        arns.extend(text_list(c, "certificates"));
        arns.dedup();
        if !arns.is_empty() {
            return Ok(arns
                .into_iter()
                .enumerate()
                .map(|(i, arn)| Certificate { certificate_arn: arn, is_default: i == 0 })
                .collect());
        }
    }
    if hosts.is_empty() {
        return Err((
            "InvalidCertificateRef",
            "no certificate: give the listener a hostname or set certificates in a LoadBalancerConfiguration".into(),
        ));
    }
    let mut chosen: Vec<String> = Vec::new();
    for host in hosts {
        let usable = env
            .certificates
            .iter()
            .filter(|c| c.status == "ISSUED" && c.not_after.as_deref().is_none_or(|t| t > env.now.as_str()));
        let mut matches: Vec<_> = usable
            .filter_map(|c| {
                let names = std::iter::once(&c.domain_name).chain(c.subject_alternative_names.iter());
                let mut exact = false;
                let mut any = false;
                for n in names {
                    if n.eq_ignore_ascii_case(host) {
                        exact = true;
                    }
                    if hostname::certificate_covers(n, host) {
                        any = true;
                    }
                }
                any.then_some((!exact, std::cmp::Reverse(c.not_after.clone()), c.certificate_arn.clone()))
            })
            .collect();
        // Exact names beat wildcards, then the longest-lived, then the ARN: deterministic.
        matches.sort();
        let Some((_, _, arn)) = matches.into_iter().next() else {
            return Err(("InvalidCertificateRef", format!("no ISSUED, unexpired ACM certificate covers {host}")));
        };
        if !chosen.contains(&arn) {
            chosen.push(arn);
        }
    }
    Ok(chosen
        .into_iter()
        .enumerate()
        .map(|(i, arn)| Certificate { certificate_arn: arn, is_default: i == 0 })
        .collect())
}
