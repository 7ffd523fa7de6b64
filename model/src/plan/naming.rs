//! Deterministic AWS names, length-limited with a hash suffix, and ownership tags.

use sha2::{Digest, Sha256};

use super::types::Tag;

fn alnum(s: &str, max: usize) -> String {
    s.chars().filter(char::is_ascii_alphanumeric).take(max).collect()
}

/// SHA-256 over the parts written one after another, hex, first 10: the AWS Load Balancer
/// Controller's formula (no separator), so that it and we compute the same names.
pub fn hash10(parts: &[&str]) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part.as_bytes());
    }
    hasher.finalize().iter().take(5).map(|b| format!("{b:02x}")).collect()
}

/// `k8s-<ns[:8]>-<name[:8]>-<hash10>`: at most 32 characters, as ELBv2 requires.
pub fn resource_name(namespace: &str, name: &str, hashed: &[&str]) -> String {
    format!("k8s-{}-{}-{}", alnum(namespace, 8), alnum(name, 8), hash10(hashed))
}

/// A load balancer's name as LBC derives it: cluster name, Gateway uid, scheme.
pub fn load_balancer_name(cluster: &str, namespace: &str, name: &str, uid: &str, scheme: &str) -> String {
    resource_name(namespace, name, &[cluster, uid, scheme])
}

/// What LBC hashes into a target group's name, besides the cluster name.
pub struct TargetGroupNameParts<'a> {
    pub gateway_namespace: &'a str,
    pub gateway_name: &'a str,
    pub route_namespace: &'a str,
    pub route_name: &'a str,
    pub route_kind: &'a str,
    pub service_namespace: &'a str,
    pub service_name: &'a str,
    /// The Service's targetPort for `ip` targets, its NodePort for `instance` targets.
    pub port: i32,
    pub target_type: &'a str,
    pub protocol: &'a str,
    pub protocol_version: Option<&'a str>,
    pub target_control_port: Option<i32>,
}

/// A target group's name as LBC derives it.
pub fn target_group_name(cluster: &str, p: &TargetGroupNameParts) -> String {
    let port = p.port.to_string();
    let control = p.target_control_port.map(|c| c.to_string());
    let mut hashed = vec![
        cluster,
        p.gateway_namespace,
        p.gateway_name,
        p.route_namespace,
        p.route_name,
        p.route_kind,
        p.service_namespace,
        p.service_name,
        &port,
        p.target_type,
        p.protocol,
    ];
    hashed.extend(p.protocol_version);
    hashed.extend(control.as_deref());
    resource_name(p.route_namespace, p.route_name, &hashed)
}

/// The name of a successor's target group while its predecessor, bound to the load balancer
/// being replaced, still holds the planned name: the head of that name and a hash of it with
/// the new load balancer's name (ELBv2's 32 characters). Groups pair by tag, not name, so the
/// name lasts.
pub fn successor_target_group_name(planned: &str, load_balancer: &str) -> String {
    let head: String = planned.chars().take(21).collect();
    format!("{}-{}", head.trim_end_matches('-'), hash10(&[planned, "/", load_balancer]))
}

/// LBC's name of a Gateway's managed security group: cluster name, Gateway name, namespace, uid.
pub fn security_group_name(cluster: &str, namespace: &str, name: &str, uid: &str) -> String {
    resource_name(namespace, name, &[cluster, name, namespace, uid])
}

/// LBC's resource id of a target group:
/// `<gw ns>/<gw name>:<route ns>-<route name>:<route kind>-<svc ns>-<svc name>:<svc targetPort>`.
pub fn target_group_resource_id(
    gateway: (&str, &str),
    route: (&str, &str),
    route_kind: &str,
    service: (&str, &str),
    target_port: &str,
) -> String {
    format!(
        "{}/{}:{}-{}:{route_kind}-{}-{}:{target_port}",
        gateway.0, gateway.1, route.0, route.1, service.0, service.1
    )
}

pub const CLUSTER_TAG: &str = "elbv2.k8s.aws/cluster";

/// Tag key prefixes that say who owns a resource (our stacks of either type, the AWS Load
/// Balancer Controller's Ingress and Service stacks, Albatross's records) or that AWS reserves.
/// A user tag under one could make a tenant's resource pass for another stack's (and be
/// adopted, changed or deleted by its reconcile), so configurations may not set them.
pub const RESERVED_TAG_PREFIXES: &[&str] =
    &["elbv2.k8s.aws/", "gateway.k8s.aws.", "ingress.k8s.aws/", "service.k8s.aws/", "albatross.k8s.aws/", "aws:"];

/// `spec.tags[KEY]: ...` for the first user tag key under a reserved prefix.
pub fn reserved_tag<'a>(keys: impl IntoIterator<Item = &'a String>) -> Option<String> {
    keys.into_iter().find_map(|key| {
        let prefix = RESERVED_TAG_PREFIXES.iter().find(|p| key.to_ascii_lowercase().starts_with(*p))?;
        Some(format!("spec.tags[{key}]: tag keys under {prefix} are reserved (ownership tags and Albatross's records)"))
    })
}

/// Tag keys of a stack, compatible with the AWS Load Balancer Controller's.
pub fn stack_tag_prefix(alb: bool) -> &'static str {
    if alb { "gateway.k8s.aws.alb" } else { "gateway.k8s.aws.nlb" }
}

/// Ownership tags plus user tags; ownership wins on a clash.
pub fn tags(
    cluster: &str,
    alb: bool,
    stack: &str,
    resource: &str,
    user: &std::collections::BTreeMap<String, String>,
) -> Vec<Tag> {
    let prefix = stack_tag_prefix(alb);
    let mut all: std::collections::BTreeMap<String, String> = user.clone();
    all.insert(CLUSTER_TAG.into(), cluster.into());
    all.insert(format!("{prefix}/stack"), stack.into());
    all.insert(format!("{prefix}/resource"), fit_tag_value(resource));
    all.into_iter().map(|(key, value)| Tag { key, value }).collect()
}

/// ELBv2 tag values hold 256 characters; longer ids keep their head and a hash of the whole.
pub fn fit_tag_value(value: &str) -> String {
    const MAX: usize = 256;
    if value.chars().count() <= MAX {
        return value.to_owned();
    }
    let head: String = value.chars().take(MAX - 11).collect();
    format!("{head}-{}", hash10(&[value]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_tag_values_are_cut_with_a_hash_that_keeps_them_distinct() {
        let a = "x".repeat(300);
        let b = format!("{}y", "x".repeat(299));
        assert_eq!(fit_tag_value(&a).chars().count(), 256);
        assert_ne!(fit_tag_value(&a), fit_tag_value(&b));
        assert_eq!(fit_tag_value("short"), "short");
    }

    /// Values computed with LBC's formula (`sha256.Sum256([]byte(a + b + c))`, hex, first 10).
    #[test]
    fn names_are_the_load_balancer_controllers() {
        let sha = |s: &str| {
            let d = Sha256::digest(s.as_bytes());
            d.iter().take(5).map(|b| format!("{b:02x}")).collect::<String>()
        };
        assert_eq!(
            load_balancer_name("prod", "example-ns", "my-gateway", "4b1c-uid", "internet-facing"),
            format!("k8s-examplen-mygatewa-{}", sha("prod4b1c-uidinternet-facing"))
        );
        let parts = TargetGroupNameParts {
            gateway_namespace: "gns",
            gateway_name: "gw",
            route_namespace: "rns",
            route_name: "route",
            route_kind: "HTTPRoute",
            service_namespace: "sns",
            service_name: "svc",
            port: 8080,
            target_type: "ip",
            protocol: "HTTP",
            protocol_version: Some("HTTP1"),
            target_control_port: None,
        };
        assert_eq!(
            target_group_name("prod", &parts),
            format!("k8s-rns-route-{}", sha("prodgnsgwrnsrouteHTTPRoutesnssvc8080ipHTTPHTTP1"))
        );
        let nlb =
            TargetGroupNameParts { protocol: "TCP", protocol_version: None, target_control_port: Some(9), ..parts };
        assert_eq!(
            target_group_name("prod", &nlb),
            format!("k8s-rns-route-{}", sha("prodgnsgwrnsrouteHTTPRoutesnssvc8080ipTCP9"))
        );
        assert_eq!(
            security_group_name("prod", "example-ns", "my-gateway", "uid"),
            format!("k8s-examplen-mygatewa-{}", sha("prodmy-gatewayexample-nsuid"))
        );
        assert_eq!(
            target_group_resource_id(("gns", "gw"), ("rns", "route"), "HTTPRoute", ("sns", "svc"), "8080"),
            "gns/gw:rns-route:HTTPRoute-sns-svc:8080"
        );
    }

    #[test]
    fn successor_names_fit_and_differ() {
        let planned = "k8s-examplen-mygatewa-0123456789";
        let next = successor_target_group_name(planned, "k8s-new");
        assert!(next.len() <= 32 && next != planned && !next.contains("--"), "{next}");
        assert_ne!(next, successor_target_group_name(planned, "k8s-other"));
    }

    #[test]
    fn names_fit_elbv2_limits_and_are_stable() {
        let a = resource_name("a-very-long-namespace", "a-very-long-gateway-name", &["c", "x"]);
        assert!(a.len() <= 32, "{a}");
        assert_eq!(a, resource_name("a-very-long-namespace", "a-very-long-gateway-name", &["c", "x"]));
        assert_ne!(a, resource_name("a-very-long-namespace", "a-very-long-gateway-name", &["c", "y"]));
    }
}
