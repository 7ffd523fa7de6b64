//! The proxy's recorded calls of one phase, summed the way BENCHMARKS.md reports them.

use std::collections::BTreeMap;

use albatross_test_support::proxy::service;
use albatross_test_support::{ApiClass, AwsLimits, Call};

/// The classes a phase's calls are reported by: AWS's buckets, then what the proxy only delays.
pub const CLASSES: [&str; 7] = [
    "ELBv2 Describe*",
    "ELBv2 (De)RegisterTargets",
    "ELBv2 other writes",
    "Tagging GetResources",
    "EC2",
    "ACM",
    "other",
];

fn class(call: &Call) -> &'static str {
    match ApiClass::of(&call.service, &call.action) {
        Some(ApiClass::Elbv2NonMutating) => CLASSES[0],
        Some(ApiClass::Elbv2Registration) => CLASSES[1],
        Some(ApiClass::Elbv2Mutating) => CLASSES[2],
        Some(ApiClass::TaggingGetResources) => CLASSES[3],
        None if call.service == service::EC2 => CLASSES[4],
        None if call.service == service::ACM => CLASSES[5],
        None => CLASSES[6],
    }
}

/// One phase's calls.
pub struct Summary {
    pub total: usize,
    /// Mutating calls ([`Call::is_mutating`]), any service.
    pub writes: usize,
    /// Calls answered `Throttling` by the proxy's buckets.
    pub throttled: usize,
    /// ELBv2 and Resource Groups Tagging calls (the restart bound counts these).
    pub elbv2_and_tagging: usize,
    pub by_class: BTreeMap<&'static str, usize>,
    pub by_action: BTreeMap<String, usize>,
}

impl Summary {
    pub fn of(calls: &[Call]) -> Summary {
        let mut by_class = BTreeMap::new();
        let mut by_action = BTreeMap::new();
        for call in calls {
            *by_class.entry(class(call)).or_insert(0) += 1;
            *by_action.entry(format!("{}:{}", call.service, call.action)).or_insert(0) += 1;
        }
        Summary {
            total: calls.len(),
            writes: calls.iter().filter(|c| c.is_mutating()).count(),
            throttled: calls.iter().filter(|c| c.rate_limited).count(),
            elbv2_and_tagging: calls
                .iter()
                .filter(|c| c.service == service::ELBV2 || c.service == service::TAGGING)
                .count(),
            by_class,
            by_action,
        }
    }

    fn class(&self, name: &str) -> usize {
        self.by_class.get(name).copied().unwrap_or(0)
    }

    /// A markdown row: each class per Gateway, then the throttled calls.
    pub fn per_gateway_row(&self, phase: &str, gateways: usize) -> String {
        let per = |n: usize| format!("{:.1}", n as f64 / gateways.max(1) as f64);
        let classes: Vec<String> = CLASSES.iter().map(|c| per(self.class(c))).collect();
        format!(
            "| {phase} | {} | {} | {} | {} |",
            per(self.total),
            classes.join(" | "),
            per(self.writes),
            self.throttled
        )
    }

    pub fn per_gateway_header() -> String {
        format!(
            "| phase | calls/Gateway | {} | writes/Gateway | throttled (total) |\n|---|---:|{}---:|---:|",
            CLASSES.join(" | "),
            "---:|".repeat(CLASSES.len())
        )
    }

    /// Every action with its count, one line.
    pub fn actions(&self) -> String {
        self.by_action.iter().map(|(a, n)| format!("{a} {n}")).collect::<Vec<_>>().join(", ")
    }

    /// The first-converge bound in AWS's seconds: 1.2 x the writes of the slowest write
    /// bucket over its refill, plus `chain` (the longest dependency chain's latency). The
    /// two write buckets refill side by side, so the slower one sets the pace.
    pub fn converge_bound(&self, limits: &AwsLimits, chain: f64) -> (f64, &'static str) {
        let writes = [
            (self.class(CLASSES[2]), limits.elbv2_mutating.refill_per_second, CLASSES[2]),
            (self.class(CLASSES[1]), limits.elbv2_registration.refill_per_second, CLASSES[1]),
        ];
        let (n, refill, which) =
            writes.into_iter().max_by(|a, b| (a.0 as f64 / a.1).total_cmp(&(b.0 as f64 / b.1))).expect("two buckets");
        (1.2 * n as f64 / refill + chain, which)
    }
}
