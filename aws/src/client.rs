//! The SDK clients behind one seam: every AWS call goes through [`Aws::call`], which applies the
//! client-side rate limit of its API family, records the call (operation, outcome, latency) and
//! turns SDK errors into [`AwsError`] with a retry class. Throttling, 5xx and broken connections are
//! retried inside the SDK with exponential backoff and jitter (standard retry mode).

use std::collections::BTreeMap;
use std::future::Future;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_sdk_elasticloadbalancingv2::config::Credentials;
use aws_sdk_elasticloadbalancingv2::error::{ProvideErrorMetadata, SdkError};
use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// Where and how to reach AWS.
#[derive(Clone, Debug)]
pub struct AwsSettings {
    pub region: String,
    /// Endpoint override (moto, LocalStack); `None` is the real regional endpoint.
    pub endpoint: Option<String>,
    /// Attempts per call, the first included, for throttling, 5xx and broken connections.
    pub max_attempts: u32,
    pub initial_backoff: Duration,
    pub max_backoff: Duration,
    pub limits: RateLimits,
}

impl Default for AwsSettings {
    fn default() -> Self {
        Self {
            region: "us-east-1".into(),
            endpoint: None,
            max_attempts: 10,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(20),
            limits: RateLimits::default(),
        }
    }
}

/// Client-side rate limits per API family, `(requests per second, burst)`. The ELB API's token
/// buckets are shared by every tool in the account, so staying under them keeps everyone's calls
/// from being throttled.
#[derive(Clone, Copy, Debug)]
pub struct RateLimits {
    pub elbv2_read: (u32, u32),
    pub elbv2_write: (u32, u32),
    pub ec2: (u32, u32),
    pub acm: (u32, u32),
    pub tagging: (u32, u32),
}

impl Default for RateLimits {
    fn default() -> Self {
        Self { elbv2_read: (20, 40), elbv2_write: (10, 20), ec2: (20, 40), acm: (10, 20), tagging: (10, 20) }
    }
}

impl RateLimits {
    /// Limits high enough never to wait, for tests and benchmarks against a local endpoint.
    pub fn unlimited() -> Self {
        let n = (100_000, 100_000);
        Self { elbv2_read: n, elbv2_write: n, ec2: n, acm: n, tagging: n }
    }
}

/// The rate-limit bucket a call draws from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Api {
    Elbv2Read,
    Elbv2Write,
    Ec2,
    Acm,
    Tagging,
}

/// What to do about a failed call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorClass {
    /// Throttling or server side: retried (the SDK already retried; try again later).
    Transient,
    /// The resource is gone (deleted behind our back or mid-reconcile).
    NotFound,
    /// Refused for a reason a retry will not change (quota, validation, permission).
    Permanent,
}

#[derive(Clone, Debug, thiserror::Error)]
#[error("{operation}: {code}: {message}")]
pub struct AwsError {
    pub operation: &'static str,
    pub code: String,
    pub message: String,
    pub class: ErrorClass,
}

impl AwsError {
    pub fn new(operation: &'static str, code: &str, message: impl Into<String>, class: ErrorClass) -> Self {
        Self { operation, code: code.into(), message: message.into(), class }
    }
}

const NOT_FOUND_CODES: &[&str] = &[
    "LoadBalancerNotFound",
    "TargetGroupNotFound",
    "ListenerNotFound",
    "RuleNotFound",
    "CertificateNotFound",
    "ResourceNotFoundException",
    "InvalidGroup.NotFound",
    "InvalidSubnetID.NotFound",
];

fn classify<E: ProvideErrorMetadata + std::error::Error + 'static>(
    operation: &'static str,
    err: &SdkError<E, aws_smithy_runtime_api::http::Response>,
) -> AwsError {
    let status = err.raw_response().map(|r| r.status().as_u16());
    match err {
        SdkError::ServiceError(_) => {
            let code = err.code().unwrap_or("Unknown").to_owned();
            let message = err.message().unwrap_or("").to_owned();
            let class = if NOT_FOUND_CODES.contains(&code.as_str()) {
                ErrorClass::NotFound
            } else if status.is_some_and(|s| s >= 500) || code.contains("Throttl") || code == "RequestLimitExceeded" {
                ErrorClass::Transient
            } else {
                ErrorClass::Permanent
            };
            AwsError { operation, code, message, class }
        }
        SdkError::ConstructionFailure(_) => {
            AwsError::new(operation, "ConstructionFailure", format!("{err:?}"), ErrorClass::Permanent)
        }
        _ => AwsError::new(
            operation,
            "Unreachable",
            format!("{}", aws_smithy_types::error::display::DisplayErrorContext(err)),
            ErrorClass::Transient,
        ),
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CallLabels {
    operation: String,
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OperationLabels {
    operation: String,
}

/// Per-operation tally for the end-of-run summary.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CallTally {
    pub ok: u64,
    pub failed: u64,
    pub total: Duration,
}

/// Every call's operation, outcome and latency, as Prometheus metrics and as a summary.
#[derive(Clone)]
pub struct CallMetrics {
    calls: Family<CallLabels, Counter>,
    latency: Family<OperationLabels, Histogram>,
    tally: Arc<Mutex<BTreeMap<&'static str, CallTally>>>,
}

impl Default for CallMetrics {
    fn default() -> Self {
        Self {
            calls: Family::default(),
            latency: Family::new_with_constructor(|| {
                Histogram::new([0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0])
            }),
            tally: Arc::default(),
        }
    }
}

impl CallMetrics {
    pub fn register(&self, registry: &mut Registry) {
        registry.register("aws_api_calls", "AWS API calls by operation and outcome", self.calls.clone());
        registry.register(
            "aws_api_call_duration_seconds",
            "AWS API call latency, retries included",
            self.latency.clone(),
        );
    }

    fn record(&self, operation: &'static str, outcome: &str, elapsed: Duration) {
        self.calls.get_or_create(&CallLabels { operation: operation.into(), outcome: outcome.into() }).inc();
        self.latency.get_or_create(&OperationLabels { operation: operation.into() }).observe(elapsed.as_secs_f64());
        let mut tally = self.tally.lock().expect("call tally lock");
        let entry = tally.entry(operation).or_default();
        if outcome == "ok" {
            entry.ok += 1;
        } else {
            entry.failed += 1;
        }
        entry.total += elapsed;
    }

    pub fn tally(&self) -> BTreeMap<&'static str, CallTally> {
        self.tally.lock().expect("call tally lock").clone()
    }

    pub fn reset_tally(&self) {
        self.tally.lock().expect("call tally lock").clear();
    }
}

/// Whether an operation changes AWS state (everything but Describe*, List*, Get*).
pub fn is_mutating(operation: &str) -> bool {
    !["Describe", "List", "Get"].iter().any(|p| operation.starts_with(p))
}

fn limiter((rate, burst): (u32, u32)) -> Arc<DefaultDirectRateLimiter> {
    let rate = NonZeroU32::new(rate.max(1)).expect("non-zero");
    let burst = NonZeroU32::new(burst.max(1)).expect("non-zero");
    Arc::new(RateLimiter::direct(Quota::per_second(rate).allow_burst(burst)))
}

/// The SDK clients plus the rate limiters and metrics every call goes through.
#[derive(Clone)]
pub struct Aws {
    pub elbv2: aws_sdk_elasticloadbalancingv2::Client,
    pub ec2: aws_sdk_ec2::Client,
    pub acm: aws_sdk_acm::Client,
    pub tagging: aws_sdk_resourcegroupstagging::Client,
    pub metrics: CallMetrics,
    /// Closed while this process may not change AWS (it lost its lease).
    pub fence: WriteFence,
    limiters: [Arc<DefaultDirectRateLimiter>; 5],
}

/// Whether mutating calls may go out. Shared by every clone of [`Aws`]; open by default. A
/// replica that loses leadership closes it, so a reconcile in flight stops at its next write
/// instead of racing the new leader.
#[derive(Clone, Debug)]
pub struct WriteFence(Arc<std::sync::atomic::AtomicBool>);

impl Default for WriteFence {
    fn default() -> Self {
        Self(Arc::new(std::sync::atomic::AtomicBool::new(true)))
    }
}

impl WriteFence {
    pub fn set_open(&self, open: bool) {
        self.0.store(open, std::sync::atomic::Ordering::SeqCst);
    }

    pub fn is_open(&self) -> bool {
        self.0.load(std::sync::atomic::Ordering::SeqCst)
    }
}

/// The code of the error a fenced write gets.
pub const FENCED: &str = "NotLeader";

impl Aws {
    /// Clients from the standard credential chain (environment, profile, web identity / IRSA,
    /// container / Pod Identity, instance metadata). With an endpoint override and no credentials
    /// in the environment, fixed local credentials are used: moto and LocalStack accept any.
    pub async fn connect(settings: &AwsSettings) -> Self {
        let http =
            aws_smithy_http_client::Builder::new().tls_provider(Provider::Rustls(CryptoMode::Ring)).build_https();
        let retry = RetryConfig::standard()
            .with_max_attempts(settings.max_attempts.max(1))
            .with_initial_backoff(settings.initial_backoff)
            .with_max_backoff(settings.max_backoff);
        let timeouts = TimeoutConfig::builder()
            .connect_timeout(Duration::from_secs(5))
            .operation_attempt_timeout(Duration::from_secs(30))
            .build();
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .http_client(http)
            .region(aws_config::Region::new(settings.region.clone()))
            .retry_config(retry)
            .timeout_config(timeouts);
        if let Some(endpoint) = &settings.endpoint {
            loader = loader.endpoint_url(endpoint.clone());
            if std::env::var_os("AWS_ACCESS_KEY_ID").is_none() {
                loader =
                    loader.credentials_provider(Credentials::new("albatross", "local", None, None, "local-endpoint"));
            }
        }
        let config = loader.load().await;
        let limits = settings.limits;
        Self {
            elbv2: aws_sdk_elasticloadbalancingv2::Client::new(&config),
            ec2: aws_sdk_ec2::Client::new(&config),
            acm: aws_sdk_acm::Client::new(&config),
            tagging: aws_sdk_resourcegroupstagging::Client::new(&config),
            metrics: CallMetrics::default(),
            fence: WriteFence::default(),
            limiters: [
                limiter(limits.elbv2_read),
                limiter(limits.elbv2_write),
                limiter(limits.ec2),
                limiter(limits.acm),
                limiter(limits.tagging),
            ],
        }
    }

    /// Runs one SDK call under its family's rate limit and records it.
    pub async fn call<T, E, F>(&self, api: Api, operation: &'static str, call: F) -> Result<T, AwsError>
    where
        F: Future<Output = Result<T, SdkError<E, aws_smithy_runtime_api::http::Response>>>,
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        self.limiters[api as usize].until_ready().await;
        if is_mutating(operation) && !self.fence.is_open() {
            self.metrics.record(operation, FENCED, Duration::ZERO);
            return Err(AwsError::new(operation, FENCED, "this replica is not the leader", ErrorClass::Permanent));
        }
        let started = Instant::now();
        let result = call.await;
        let elapsed = started.elapsed();
        match result {
            Ok(value) => {
                self.metrics.record(operation, "ok", elapsed);
                tracing::debug!(operation, outcome = "ok", latency_ms = elapsed.as_millis() as u64, "aws call");
                Ok(value)
            }
            Err(err) => {
                let err = classify(operation, &err);
                self.metrics.record(operation, &err.code, elapsed);
                tracing::info!(
                    operation,
                    outcome = %err.code,
                    latency_ms = elapsed.as_millis() as u64,
                    message = %err.message,
                    "aws call failed"
                );
                Err(err)
            }
        }
    }
}
