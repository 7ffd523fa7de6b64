//! Gateway API rule precedence as a strict total order, most significant first: hostname
//! specificity, path match type and length, gRPC method, HTTP method, header and query counts,
//! older route, then route identity, rule, match and hostname. Two distinct candidates never
//! compare equal, so sorting is deterministic whatever the input order.

use std::cmp::Ordering;

use albatross_k8s::route::{ObjectKey, RouteKind};

/// What the order reads of one (route, rule, match, hostname).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuleKey {
    /// Empty for "any host".
    pub hostname: String,
    /// Exact 3, PathPrefix 2, RegularExpression 1, none 0.
    pub path_type: u8,
    pub path_len: usize,
    pub grpc_method_len: usize,
    pub has_method: bool,
    pub headers: usize,
    pub query_params: usize,
    /// RFC 3339 creation time; empty sorts first (unknown offline).
    pub created: String,
    pub kind: RouteKind,
    pub route: ObjectKey,
    pub rule: usize,
    pub matcher: usize,
}

fn hostname_rank(h: &str) -> (bool, bool, usize, usize) {
    // Larger is more specific.
    (!h.is_empty(), !h.starts_with("*."), h.matches('.').count(), h.len())
}

/// `Less` when `a` must be evaluated before `b`.
pub fn compare(a: &RuleKey, b: &RuleKey) -> Ordering {
    hostname_rank(&b.hostname)
        .cmp(&hostname_rank(&a.hostname))
        .then_with(|| b.path_type.cmp(&a.path_type))
        .then_with(|| b.path_len.cmp(&a.path_len))
        .then_with(|| b.grpc_method_len.cmp(&a.grpc_method_len))
        .then_with(|| b.has_method.cmp(&a.has_method))
        .then_with(|| b.headers.cmp(&a.headers))
        .then_with(|| b.query_params.cmp(&a.query_params))
        .then_with(|| a.created.cmp(&b.created))
        .then_with(|| a.route.cmp(&b.route))
        .then_with(|| a.kind.cmp(&b.kind))
        .then_with(|| a.rule.cmp(&b.rule))
        .then_with(|| a.matcher.cmp(&b.matcher))
        .then_with(|| a.hostname.cmp(&b.hostname))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn key(hostname: &str, path_type: u8, path_len: usize, route: &str) -> RuleKey {
        RuleKey {
            hostname: hostname.into(),
            path_type,
            path_len,
            grpc_method_len: 0,
            has_method: false,
            headers: 0,
            query_params: 0,
            created: String::new(),
            kind: RouteKind::Http,
            route: ObjectKey::new("ns", route),
            rule: 0,
            matcher: 0,
        }
    }

    #[test]
    fn specific_hosts_and_paths_come_before_catch_alls() {
        let mut keys = [
            key("", 2, 1, "catch-all"),
            key("*.example.com", 2, 4, "wild"),
            key("a.example.com", 2, 1, "host"),
            key("a.example.com", 3, 4, "exact"),
            key("a.example.com", 2, 8, "long-prefix"),
        ];
        keys.sort_by(compare);
        let order: Vec<_> = keys.iter().map(|k| k.route.name.as_str()).collect();
        assert_eq!(order, ["exact", "long-prefix", "host", "wild", "catch-all"]);
    }

    fn arb_key() -> impl Strategy<Value = RuleKey> {
        (
            prop::sample::select(vec!["", "*.a.io", "b.a.io", "a.io", "*.io"]),
            0u8..4,
            0usize..20,
            0usize..5,
            any::<bool>(),
            0usize..4,
            0usize..4,
            prop::sample::select(vec!["", "2026-01-01T00:00:00Z", "2025-06-01T00:00:00Z"]),
            prop::sample::select(vec!["r1", "r2", "r3"]),
            0usize..3,
            0usize..3,
        )
            .prop_map(|(h, pt, pl, gl, m, hd, q, c, r, rule, matcher)| RuleKey {
                hostname: h.into(),
                path_type: pt,
                path_len: pl,
                grpc_method_len: gl,
                has_method: m,
                headers: hd,
                query_params: q,
                created: c.into(),
                kind: RouteKind::Http,
                route: ObjectKey::new("ns", r),
                rule,
                matcher,
            })
    }

    proptest! {
        #[test]
        fn the_order_is_a_strict_total_order(a in arb_key(), b in arb_key(), c in arb_key()) {
            // Antisymmetric, and equal only for identical keys.
            prop_assert_eq!(compare(&a, &b), compare(&b, &a).reverse());
            prop_assert_eq!(compare(&a, &b) == Ordering::Equal, a == b);
            // Transitive.
            if compare(&a, &b) == Ordering::Less && compare(&b, &c) == Ordering::Less {
                prop_assert_eq!(compare(&a, &c), Ordering::Less);
            }
        }

        #[test]
        fn sorting_does_not_depend_on_input_order(mut keys in prop::collection::vec(arb_key(), 0..30)) {
            let mut sorted = keys.clone();
            sorted.sort_by(compare);
            keys.reverse();
            keys.sort_by(compare);
            prop_assert_eq!(keys, sorted);
        }
    }
}
