//! LoadBalancerConfigurations: the class's and the Gateway's merged, listener configurations, and
//! the certificates of TLS listeners.

use std::collections::{BTreeMap, BTreeSet};

use albatross_k8s::aws::load_balancer_configuration::{
    ListenerConfiguration, LoadBalancerConfigurationSpec, MergingMode,
};
use albatross_k8s::gateway_api::v1::gatewayclasses::GatewayClassSpec;
use albatross_k8s::gateway_api::v1::gateways::GatewaySpec;
use albatross_k8s::route::ObjectKey;

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
) -> Result<LoadBalancerConfigurationSpec, Failure> {
    let class_config = class
        .parameters_ref
        .as_ref()
        .and_then(|r| snapshot.lb_configs.get(&ObjectKey::new(r.namespace.clone().unwrap_or_default(), r.name.clone())))
        .map(|c| c.spec.clone());
    let gateway_config = match gw.infrastructure.as_ref().and_then(|i| i.parameters_ref.as_ref()) {
        Some(r) if r.group == AWS_GROUP && r.kind == LBC_KIND => {
            let k = ObjectKey::new(key.namespace.clone(), r.name.clone());
            let c = snapshot
                .lb_configs
                .get(&k)
                .ok_or_else(|| ("InvalidParameters", format!("{LBC_KIND} {k} not found")))?;
            Some(c.spec.clone())
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
        (None, None) => LoadBalancerConfigurationSpec::default(),
        (Some(c), None) => c,
        (None, Some(g)) => g,
        (Some(c), Some(g)) => {
            let gateway_wins = c.merging_mode == Some(MergingMode::PreferGateway);
            let (low, high) = if gateway_wins { (c, g) } else { (g, c) };
            merge(low, high)
        }
    })
}

/// Field by field, `high` wins; tags merge per key, attributes by key and listener
/// configurations by `protocolPort` (case-insensitively). No `..`: a new CRD field must be merged.
fn merge(low: LoadBalancerConfigurationSpec, high: LoadBalancerConfigurationSpec) -> LoadBalancerConfigurationSpec {
    let LoadBalancerConfigurationSpec {
        merging_mode,
        load_balancer_name,
        scheme,
        ip_address_type,
        enforce_security_group_inbound_rules_on_private_link_traffic,
        customer_owned_ipv4_pool,
        ipv4_ipam_pool_id,
        load_balancer_subnets,
        load_balancer_subnets_selector,
        listener_configurations,
        disable_security_group,
        security_groups,
        security_group_prefixes,
        source_ranges,
        load_balancer_attributes,
        tags,
        enable_icmp,
        manage_backend_security_group_rules,
        minimum_load_balancer_capacity,
        waf_v2,
        shield_configuration,
        default_target_group_configuration,
    } = high;
    LoadBalancerConfigurationSpec {
        merging_mode: merging_mode.or(low.merging_mode),
        load_balancer_name: load_balancer_name.or(low.load_balancer_name),
        scheme: scheme.or(low.scheme),
        ip_address_type: ip_address_type.or(low.ip_address_type),
        enforce_security_group_inbound_rules_on_private_link_traffic:
            enforce_security_group_inbound_rules_on_private_link_traffic
                .or(low.enforce_security_group_inbound_rules_on_private_link_traffic),
        customer_owned_ipv4_pool: customer_owned_ipv4_pool.or(low.customer_owned_ipv4_pool),
        ipv4_ipam_pool_id: ipv4_ipam_pool_id.or(low.ipv4_ipam_pool_id),
        load_balancer_subnets: load_balancer_subnets.or(low.load_balancer_subnets),
        load_balancer_subnets_selector: load_balancer_subnets_selector.or(low.load_balancer_subnets_selector),
        listener_configurations: merge_by(low.listener_configurations, listener_configurations, |l| {
            l.protocol_port.to_lowercase()
        }),
        disable_security_group: disable_security_group.or(low.disable_security_group),
        security_groups: security_groups.or(low.security_groups),
        security_group_prefixes: security_group_prefixes.or(low.security_group_prefixes),
        source_ranges: source_ranges.or(low.source_ranges),
        load_balancer_attributes: merge_by(low.load_balancer_attributes, load_balancer_attributes, |a| {
            a.key.to_lowercase()
        }),
        tags: match (low.tags, tags) {
            (Some(mut old), Some(new)) => {
                old.extend(new);
                Some(old)
            }
            (old, new) => new.or(old),
        },
        enable_icmp: enable_icmp.or(low.enable_icmp),
        manage_backend_security_group_rules: manage_backend_security_group_rules
            .or(low.manage_backend_security_group_rules),
        minimum_load_balancer_capacity: minimum_load_balancer_capacity.or(low.minimum_load_balancer_capacity),
        waf_v2: waf_v2.or(low.waf_v2),
        shield_configuration: shield_configuration.or(low.shield_configuration),
        default_target_group_configuration: default_target_group_configuration
            .or(low.default_target_group_configuration),
    }
}

/// A list merged by key: `high`'s item replaces `low`'s of the same key; sorted by key.
fn merge_by<T>(low: Option<Vec<T>>, high: Option<Vec<T>>, key: impl Fn(&T) -> String) -> Option<Vec<T>> {
    match (low, high) {
        (Some(old), Some(new)) => {
            let mut by: BTreeMap<String, T> = BTreeMap::new();
            for item in old.into_iter().chain(new) {
                by.insert(key(&item), item);
            }
            Some(by.into_values().collect())
        }
        (old, new) => new.or(old),
    }
}

/// The LoadBalancerConfiguration's listener configuration for `PROTOCOL:port`.
pub fn listener_config<'a>(
    config: &'a LoadBalancerConfigurationSpec,
    protocol: &str,
    port: i32,
) -> Option<&'a ListenerConfiguration> {
    let wanted = format!("{protocol}:{port}");
    config.listener_configurations.as_ref()?.iter().find(|l| l.protocol_port.eq_ignore_ascii_case(&wanted))
}

/// The listener configuration's SSL policy, else the environment's default.
pub fn ssl_policy(env: &Env, config: Option<&ListenerConfiguration>) -> String {
    config.and_then(|c| c.ssl_policy.clone()).unwrap_or_else(|| env.default_ssl_policy.clone())
}

/// Certificates of a TLS listener: configured ARNs, else ACM certificates found by hostname.
/// A TLS listener's certificates within the load balancer's quota, which counts the certificates
/// besides each listener's default; `extra` holds how many are in use so far.
pub fn listener_certificates(
    env: &Env,
    config: Option<&ListenerConfiguration>,
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

pub fn certificates(
    env: &Env,
    config: Option<&ListenerConfiguration>,
    hosts: &BTreeSet<String>,
) -> Result<Vec<Certificate>, Failure> {
    if let Some(c) = config {
        let mut arns: Vec<String> = c.default_certificate.iter().cloned().collect();
        arns.extend(c.certificates.iter().flatten().cloned());
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
