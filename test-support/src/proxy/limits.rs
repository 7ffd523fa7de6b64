//! AWS's API rate limits and per-call latency ([`AwsLimits`]).
//!
//! # Model
//! One token bucket per [`ApiClass`] per proxy (a proxy is one account and Region, shared by
//! every client that calls it), full at the start, refilled continuously (AWS adds its refill
//! once a second; continuous refill is the same rate without the one-second steps). A call takes
//! one token when it arrives; with none left it is answered as AWS answers, without reaching
//! moto: ELBv2 `400 Throttling` "Rate exceeded" in ELBv2's XML error shape, the Tagging API
//! `400 ThrottledException` (the error its API model declares). Every call (throttled or not,
//! any service) then waits its latency before it is answered. Calls outside the classes (EC2,
//! ACM, WAFv2, Shield, other Tagging actions) are delayed but not rate-limited.
//!
//! # Numbers ([`AwsLimits::documented`]) and sources
//! | class | bucket | refill/s | source |
//! | --- | --- | --- | --- |
//! | ELBv2 `Describe*` | 40 | 10 | "Request throttling for the ELB API", docs.aws.amazon.com/elasticloadbalancing/latest/userguide/elb-api-throttling.html: "the token bucket size for non-mutating API actions is 40 tokens", refilled at "10 tokens per second", per account and Region |
//! | ELBv2 `RegisterTargets`, `DeregisterTargets` | 20 | 4 | chosen: the same page lists registration actions as a class with a bucket of its own (LBC PR #4641 cites it), but the stored copy read here did not show that row; these are LBC's default client-side limits for exactly these two actions (`--aws-api-throttle` default since LBC #2809, `pkg/aws/throttle/defaults.go`) |
//! | other ELBv2 actions (Create*, Modify*, Delete*, Set*, AddTags, RemoveTags) | 20 | 5 | chosen: the page lists mutating actions separately (LBC PR #4641 adds a `Modify.*` rule from it), the row was not readable here; half the documented read refill and under LBC's 10/s client default for them, so a benchmark against the proxy is not optimistic |
//! | Tagging `GetResources` | 15 | 15 | Tag Editor user guide, "Service quotas" (docs.aws.amazon.com/tag-editor/latest/userguide/reference.html): "Maximum of 15 calls per second"; no bucket size is documented, so one second's worth |
//!
//! Latency: 50 ms per read (`Describe*`, `List*`, `Get*`), 150 ms per other call, the issue's
//! figures for a regional endpoint (not documented by AWS). [`AwsLimits::time_scale`] runs the
//! proxy's clock faster for fleet benchmarks: latencies divided by it, refills multiplied,
//! capacities unchanged; [`AwsLimits`]'s `Display` says so whenever it is not 1.

use std::fmt;
use std::time::{Duration, Instant};

use super::protocol::service;

/// A token bucket: full at `capacity`, refilled continuously at `refill_per_second`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BucketLimit {
    /// Tokens in a full bucket: the largest burst.
    pub capacity: u32,
    /// Tokens added back per second of AWS's time, up to `capacity`.
    pub refill_per_second: f64,
}

/// The API classes with a bucket of their own (one bucket each per proxy: one account and
/// Region).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ApiClass {
    /// ELBv2 `Describe*`.
    Elbv2NonMutating,
    /// ELBv2 `RegisterTargets` and `DeregisterTargets`.
    Elbv2Registration,
    /// Every other ELBv2 action.
    Elbv2Mutating,
    /// Resource Groups Tagging API `GetResources`.
    TaggingGetResources,
}

impl ApiClass {
    pub const ALL: [ApiClass; 4] = [
        ApiClass::Elbv2NonMutating,
        ApiClass::Elbv2Registration,
        ApiClass::Elbv2Mutating,
        ApiClass::TaggingGetResources,
    ];

    /// The bucket a call draws from; `None` for calls the proxy does not rate-limit.
    pub fn of(service: &str, action: &str) -> Option<ApiClass> {
        match service {
            _ if action.is_empty() => None,
            service::ELBV2 if action.starts_with("Describe") => Some(ApiClass::Elbv2NonMutating),
            service::ELBV2 if matches!(action, "RegisterTargets" | "DeregisterTargets") => {
                Some(ApiClass::Elbv2Registration)
            }
            service::ELBV2 => Some(ApiClass::Elbv2Mutating),
            service::TAGGING if action == "GetResources" => Some(ApiClass::TaggingGetResources),
            _ => None,
        }
    }
}

/// AWS's rate limits and latency as the proxy applies them ([`crate::ProxyOptions::limits`]).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AwsLimits {
    pub elbv2_non_mutating: BucketLimit,
    pub elbv2_registration: BucketLimit,
    pub elbv2_mutating: BucketLimit,
    pub tagging_get_resources: BucketLimit,
    /// Waited before answering a read (an action starting `Describe`, `List` or `Get`), any
    /// service.
    pub read_latency: Duration,
    /// Waited before answering any other call.
    pub write_latency: Duration,
    /// How much faster than AWS the proxy's clock runs: latencies are divided by it and refill
    /// rates multiplied (capacities stay). 1 is AWS's time; a benchmark that sets more must say
    /// so (the [`fmt::Display`] form does).
    pub time_scale: f64,
}

impl AwsLimits {
    /// The documented buckets (and, where a number is not documented, the choice the proxy docs
    /// explain), 50 ms per read and 150 ms per write, AWS's time.
    pub fn documented() -> Self {
        AwsLimits {
            elbv2_non_mutating: BucketLimit { capacity: 40, refill_per_second: 10.0 },
            elbv2_registration: BucketLimit { capacity: 20, refill_per_second: 4.0 },
            elbv2_mutating: BucketLimit { capacity: 20, refill_per_second: 5.0 },
            tagging_get_resources: BucketLimit { capacity: 15, refill_per_second: 15.0 },
            read_latency: Duration::from_millis(50),
            write_latency: Duration::from_millis(150),
            time_scale: 1.0,
        }
    }

    /// The same limits with the proxy's clock running `scale` times faster.
    pub fn with_time_scale(self, scale: f64) -> Self {
        AwsLimits { time_scale: scale, ..self }
    }

    /// The bucket of a class, in AWS's time.
    pub fn bucket(&self, class: ApiClass) -> BucketLimit {
        match class {
            ApiClass::Elbv2NonMutating => self.elbv2_non_mutating,
            ApiClass::Elbv2Registration => self.elbv2_registration,
            ApiClass::Elbv2Mutating => self.elbv2_mutating,
            ApiClass::TaggingGetResources => self.tagging_get_resources,
        }
    }

    /// The wait before answering `action`, scaled.
    pub fn latency(&self, action: &str) -> Duration {
        let read = ["Describe", "List", "Get"].iter().any(|p| action.starts_with(p));
        let latency = if read { self.read_latency } else { self.write_latency };
        latency.div_f64(self.time_scale)
    }

    pub(crate) fn check(&self) {
        assert!(self.time_scale.is_finite() && self.time_scale > 0.0, "time_scale must be positive: {self:?}");
        for class in ApiClass::ALL {
            let b = self.bucket(class);
            assert!(b.refill_per_second.is_finite() && b.refill_per_second >= 0.0, "bad refill for {class:?}");
        }
    }
}

impl fmt::Display for AwsLimits {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = |l: BucketLimit| format!("{} then {}/s", l.capacity, l.refill_per_second);
        write!(
            f,
            "ELBv2 Describe* {}, (De)RegisterTargets {}, other ELBv2 {}, tagging GetResources {}; \
             latency {} ms per read, {} ms per write",
            b(self.elbv2_non_mutating),
            b(self.elbv2_registration),
            b(self.elbv2_mutating),
            b(self.tagging_get_resources),
            self.read_latency.as_millis(),
            self.write_latency.as_millis(),
        )?;
        if self.time_scale != 1.0 {
            write!(f, "; proxy time scaled x{}: latencies divided and refills multiplied by it", self.time_scale)?;
        }
        Ok(())
    }
}

/// The buckets' state, shared by every caller of one proxy.
#[derive(Debug)]
pub(crate) struct Buckets {
    limits: AwsLimits,
    tokens: [f64; 4],
    at: [Instant; 4],
}

impl Buckets {
    /// Full buckets at `now`.
    pub(crate) fn new(limits: AwsLimits, now: Instant) -> Buckets {
        limits.check();
        Buckets { limits, tokens: ApiClass::ALL.map(|c| f64::from(limits.bucket(c).capacity)), at: [now; 4] }
    }

    pub(crate) fn limits(&self) -> &AwsLimits {
        &self.limits
    }

    /// Takes a token from `class`'s bucket at `now`; `false` when it is empty.
    pub(crate) fn take(&mut self, class: ApiClass, now: Instant) -> bool {
        let i = class as usize;
        let limit = self.limits.bucket(class);
        let rate = limit.refill_per_second * self.limits.time_scale;
        let elapsed = now.saturating_duration_since(self.at[i]).as_secs_f64();
        self.tokens[i] = (self.tokens[i] + elapsed * rate).min(f64::from(limit.capacity));
        self.at[i] = self.at[i].max(now);
        // The tolerance absorbs float rounding of elapsed x rate (0.1 s x 100/s).
        if self.tokens[i] >= 1.0 - 1e-9 {
            self.tokens[i] -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn takes(buckets: &mut Buckets, class: ApiClass, n: usize, now: Instant) -> usize {
        (0..n).filter(|_| buckets.take(class, now)).count()
    }

    #[test]
    fn classes_follow_the_elb_throttling_page() {
        assert_eq!(ApiClass::of("elasticloadbalancing", "DescribeTargetHealth"), Some(ApiClass::Elbv2NonMutating));
        assert_eq!(ApiClass::of("elasticloadbalancing", "RegisterTargets"), Some(ApiClass::Elbv2Registration));
        assert_eq!(ApiClass::of("elasticloadbalancing", "DeregisterTargets"), Some(ApiClass::Elbv2Registration));
        assert_eq!(ApiClass::of("elasticloadbalancing", "CreateRule"), Some(ApiClass::Elbv2Mutating));
        assert_eq!(ApiClass::of("elasticloadbalancing", "AddTags"), Some(ApiClass::Elbv2Mutating));
        assert_eq!(ApiClass::of("tagging", "GetResources"), Some(ApiClass::TaggingGetResources));
        assert_eq!(ApiClass::of("tagging", "TagResources"), None);
        assert_eq!(ApiClass::of("ec2", "DescribeSubnets"), None);
        assert_eq!(ApiClass::of("elasticloadbalancing", ""), None);
    }

    #[test]
    fn a_burst_past_the_bucket_is_refused_and_refill_brings_tokens_back() {
        let start = Instant::now();
        let mut buckets = Buckets::new(AwsLimits::documented(), start);
        assert_eq!(takes(&mut buckets, ApiClass::Elbv2NonMutating, 45, start), 40, "bucket of 40");
        // Other classes have buckets of their own.
        assert_eq!(takes(&mut buckets, ApiClass::Elbv2Registration, 25, start), 20);
        assert_eq!(takes(&mut buckets, ApiClass::Elbv2Mutating, 25, start), 20);
        assert_eq!(takes(&mut buckets, ApiClass::TaggingGetResources, 20, start), 15);
        let later = start + Duration::from_secs(1);
        assert_eq!(takes(&mut buckets, ApiClass::Elbv2NonMutating, 20, later), 10, "10 per second");
        assert_eq!(takes(&mut buckets, ApiClass::Elbv2Registration, 20, later), 4);
        assert_eq!(takes(&mut buckets, ApiClass::Elbv2Mutating, 20, later), 5);
        assert_eq!(takes(&mut buckets, ApiClass::TaggingGetResources, 20, later), 15);
        // Never more than the capacity, however long it waited.
        let much_later = later + Duration::from_secs(3600);
        assert_eq!(takes(&mut buckets, ApiClass::Elbv2NonMutating, 100, much_later), 40);
    }

    #[test]
    fn time_scale_multiplies_refill_and_divides_latency() {
        let start = Instant::now();
        let limits = AwsLimits::documented().with_time_scale(10.0);
        let mut buckets = Buckets::new(limits, start);
        assert_eq!(takes(&mut buckets, ApiClass::Elbv2NonMutating, 45, start), 40, "capacity is not scaled");
        let later = start + Duration::from_millis(100);
        assert_eq!(takes(&mut buckets, ApiClass::Elbv2NonMutating, 20, later), 10, "a second's refill in 0.1 s");
        assert_eq!(limits.latency("DescribeRules"), Duration::from_millis(5));
        assert_eq!(limits.latency("CreateRule"), Duration::from_millis(15));
        assert_eq!(AwsLimits::documented().latency("GetResources"), Duration::from_millis(50));
        assert!(limits.to_string().contains("scaled x10"), "{limits}");
        assert!(!AwsLimits::documented().to_string().contains("scaled"));
    }
}
