//! Deterministic AWS names, length-limited with a hash suffix, and ownership tags.

use sha2::{Digest, Sha256};

use super::types::Tag;

fn alnum(s: &str, max: usize) -> String {
    s.chars().filter(char::is_ascii_alphanumeric).take(max).collect()
}

fn hash10(parts: &[&str]) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part.as_bytes());
        hasher.update([0]);
    }
    hasher.finalize().iter().take(5).map(|b| format!("{b:02x}")).collect()
}

/// `k8s-<ns[:8]>-<name[:8]>-<hash10>`: at most 32 characters, as ELBv2 requires.
pub fn resource_name(namespace: &str, name: &str, hashed: &[&str]) -> String {
    format!("k8s-{}-{}-{}", alnum(namespace, 8), alnum(name, 8), hash10(hashed))
}

pub const CLUSTER_TAG: &str = "elbv2.k8s.aws/cluster";

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

    #[test]
    fn names_fit_elbv2_limits_and_are_stable() {
        let a = resource_name("a-very-long-namespace", "a-very-long-gateway-name", &["c", "x"]);
        assert!(a.len() <= 32, "{a}");
        assert_eq!(a, resource_name("a-very-long-namespace", "a-very-long-gateway-name", &["c", "x"]));
        assert_ne!(a, resource_name("a-very-long-namespace", "a-very-long-gateway-name", &["c", "y"]));
    }
}
