//! Client-side rate limits per API family ([`RateLimits`]) and the limiters built from them.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};

/// One API family's client-side limit: a steady rate (fractional: AWS's refills are small
/// numbers, and 90 % of them rarely whole) and the burst allowed above it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Limit {
    /// Calls per second once the burst is spent; finite and above 0.
    pub per_second: f64,
    pub burst: u32,
}

impl Limit {
    pub const fn new(per_second: f64, burst: u32) -> Self {
        Self { per_second, burst }
    }
}

/// Client-side rate limits per API family. The ELB API's token buckets are shared by every tool
/// in the account, so staying under them keeps everyone's calls from being throttled.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RateLimits {
    pub elbv2_read: Limit,
    /// ELBv2 writes other than target registration.
    pub elbv2_write: Limit,
    /// `RegisterTargets` and `DeregisterTargets`: AWS gives them a bucket of their own.
    pub elbv2_registration: Limit,
    pub ec2: Limit,
    pub acm: Limit,
    pub tagging: Limit,
    /// WAFv2 and Shield Advanced (web ACL associations, protections).
    pub protection: Limit,
}

impl Default for RateLimits {
    // 90 % of AWS's refill for each class the test proxy models (`limits.rs`: ELBv2 Describe*
    // 10/s, registration 4/s, other ELBv2 writes 5/s, GetResources 15/s), bursts well under its
    // buckets (40, 20, 20, 15): we wait before AWS would throttle, and leave a tenth of each
    // refill to the account's other tools.
    fn default() -> Self {
        Self {
            elbv2_read: Limit::new(9.0, 20),
            elbv2_write: Limit::new(4.5, 10),
            elbv2_registration: Limit::new(3.6, 10),
            ec2: Limit::new(20.0, 40),
            acm: Limit::new(10.0, 20),
            tagging: Limit::new(13.5, 10),
            protection: Limit::new(5.0, 10),
        }
    }
}

impl RateLimits {
    /// Limits high enough never to wait, for tests and benchmarks against a local endpoint.
    pub fn unlimited() -> Self {
        let n = Limit::new(100_000.0, 100_000);
        Self { elbv2_read: n, elbv2_write: n, elbv2_registration: n, ec2: n, acm: n, tagging: n, protection: n }
    }

    /// Every rate multiplied by `factor`, bursts unchanged: the limits for a test proxy whose
    /// clock runs `factor` times faster than AWS's (its refills scaled, its buckets not).
    pub fn scaled(self, factor: f64) -> Self {
        let s = |l: Limit| Limit { per_second: l.per_second * factor, ..l };
        Self {
            elbv2_read: s(self.elbv2_read),
            elbv2_write: s(self.elbv2_write),
            elbv2_registration: s(self.elbv2_registration),
            ec2: s(self.ec2),
            acm: s(self.acm),
            tagging: s(self.tagging),
            protection: s(self.protection),
        }
    }
}

pub(super) fn limiter(limit: Limit) -> Arc<DefaultDirectRateLimiter> {
    assert!(
        limit.per_second.is_finite() && limit.per_second > 0.0,
        "a rate limit must be a finite number of calls per second above 0: {limit:?}"
    );
    // One token per period; a rate past what a nanosecond period can express is capped there.
    let period = Duration::try_from_secs_f64(1.0 / limit.per_second)
        .expect("a representable period")
        .max(Duration::from_nanos(1));
    let burst = NonZeroU32::new(limit.burst.max(1)).expect("non-zero");
    Arc::new(RateLimiter::direct(Quota::with_period(period).expect("non-zero period").allow_burst(burst)))
}
