//! The SDK clients behind one seam: every AWS call goes through [`Aws::call`], which applies the
//! client-side rate limit of its API family, records the call (operation, outcome, latency) and
//! turns SDK errors into [`AwsError`] with a retry class. Throttling, 5xx and broken connections are
//! retried inside the SDK with exponential backoff and jitter (standard retry mode).

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_sdk_elasticloadbalancingv2::config::Credentials;
use aws_sdk_elasticloadbalancingv2::error::{ProvideErrorMetadata, SdkError};
use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextRef;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use governor::DefaultDirectRateLimiter;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

mod limits;

use limits::limiter;
pub use limits::{Limit, RateLimits};

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

/// The rate-limit bucket a call draws from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Api {
    Elbv2Read,
    Elbv2Write,
    Ec2,
    Acm,
    Tagging,
    /// WAFv2 and Shield.
    Protection,
    /// ELBv2 `RegisterTargets` / `DeregisterTargets`: their own bucket, so registration does
    /// not starve the other writes and they do not starve it.
    Elbv2Registration,
}

impl Api {
    /// The metric label of the family's rate limiter.
    pub fn label(self) -> &'static str {
        match self {
            Api::Elbv2Read => "elbv2_read",
            Api::Elbv2Write => "elbv2_write",
            Api::Ec2 => "ec2",
            Api::Acm => "acm",
            Api::Tagging => "tagging",
            Api::Protection => "protection",
            Api::Elbv2Registration => "elbv2_registration",
        }
    }
}

/// What to do about a failed call.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorClass {
    /// The API's rate limit: retried later, more slowly (the SDK already retried).
    Throttled,
    /// Server side or the network: retried (the SDK already retried; try again later).
    Transient,
    /// The resource is gone (deleted behind our back or mid-reconcile).
    NotFound,
    /// Refused for a reason a retry will not change (quota, validation, permission).
    Permanent,
    /// Not sent: this replica may no longer hold the lease (see [`WriteFence`]).
    Fenced,
}

impl ErrorClass {
    /// The metric label: a fixed string per class.
    pub fn label(self) -> &'static str {
        match self {
            ErrorClass::Throttled => "throttled",
            ErrorClass::Transient => "transient",
            ErrorClass::NotFound => "not_found",
            ErrorClass::Permanent => "permanent",
            ErrorClass::Fenced => "fenced",
        }
    }
}

#[derive(Clone, Debug, thiserror::Error)]
#[error("{operation}: {code}: {message}")]
pub struct AwsError {
    pub operation: &'static str,
    /// The service's error code (`LoadBalancerNotFound`), or ours for a call that failed here.
    pub code: String,
    pub message: String,
    pub class: ErrorClass,
}

impl AwsError {
    pub fn new(operation: &'static str, code: &str, message: impl ToString, class: ErrorClass) -> Self {
        Self { operation, code: code.into(), message: message.to_string(), class }
    }

    /// A mutating call refused by the write fence.
    pub fn fenced(operation: &'static str) -> Self {
        Self::new(operation, FENCED, Fenced, ErrorClass::Fenced)
    }

    pub fn is_fenced(&self) -> bool {
        self.class == ErrorClass::Fenced
    }

    /// A mutating call refused by a read-only client (a dry run).
    pub fn read_only(operation: &'static str) -> Self {
        Self::new(operation, READ_ONLY, ReadOnly, ErrorClass::Permanent)
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
    "WAFNonexistentItemException",
];

/// Whether the fence interceptor refused an attempt of this call.
fn refused_by_fence(err: &(dyn std::error::Error + 'static)) -> bool {
    let mut source = Some(err);
    while let Some(e) = source {
        if e.downcast_ref::<Fenced>().is_some() {
            return true;
        }
        source = e.source();
    }
    false
}

/// Whether the read-only interceptor refused this call.
fn refused_as_read_only(err: &(dyn std::error::Error + 'static)) -> bool {
    let mut source = Some(err);
    while let Some(e) = source {
        if e.downcast_ref::<ReadOnly>().is_some() {
            return true;
        }
        source = e.source();
    }
    false
}

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
            } else if code.contains("Throttl") || code == "RequestLimitExceeded" || status == Some(429) {
                ErrorClass::Throttled
            } else if status.is_some_and(|s| s >= 500) {
                ErrorClass::Transient
            } else {
                ErrorClass::Permanent
            };
            AwsError { operation, code, message, class }
        }
        _ if refused_by_fence(err) => AwsError::fenced(operation),
        _ if refused_as_read_only(err) => AwsError::read_only(operation),
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
    operation: &'static str,
    /// `ok` or an [`ErrorClass`] label.
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OperationLabels {
    operation: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct LimiterLabels {
    api: &'static str,
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
    /// Time calls spent waiting on their family's client-side rate limiter, before being sent.
    limiter_wait: Family<LimiterLabels, Counter<f64, AtomicU64>>,
    tally: Arc<Mutex<BTreeMap<&'static str, CallTally>>>,
}

impl Default for CallMetrics {
    fn default() -> Self {
        Self {
            calls: Family::default(),
            latency: Family::new_with_constructor(|| {
                Histogram::new([0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0])
            }),
            limiter_wait: Family::default(),
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
        registry.register(
            "aws_rate_limit_wait_seconds",
            "Time AWS calls waited on the client-side rate limiter of their API family",
            self.limiter_wait.clone(),
        );
    }

    fn waited(&self, api: Api, elapsed: Duration) {
        self.limiter_wait.get_or_create(&LimiterLabels { api: api.label() }).inc_by(elapsed.as_secs_f64());
    }

    fn record(&self, operation: &'static str, outcome: &'static str, elapsed: Duration) {
        self.calls.get_or_create(&CallLabels { operation, outcome }).inc();
        self.latency.get_or_create(&OperationLabels { operation }).observe(elapsed.as_secs_f64());
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

/// The SDK clients plus the rate limiters and metrics every call goes through.
#[derive(Clone)]
pub struct Aws {
    pub elbv2: aws_sdk_elasticloadbalancingv2::Client,
    pub ec2: aws_sdk_ec2::Client,
    pub acm: aws_sdk_acm::Client,
    pub tagging: aws_sdk_resourcegroupstagging::Client,
    pub wafv2: aws_sdk_wafv2::Client,
    pub shield: aws_sdk_shield::Client,
    pub metrics: CallMetrics,
    /// Closed while this process may not change AWS (it lost its lease).
    pub fence: WriteFence,
    /// A dry run's client: every mutating call is refused here and, were it to get past, by
    /// an interceptor before it is sent (see [`Aws::read_only`]).
    read_only: bool,
    limiters: [Arc<DefaultDirectRateLimiter>; 7],
}

/// Whether mutating calls may go out, as a deadline on the monotonic clock. Shared by every clone
/// of [`Aws`] and checked before every attempt of a mutating call (retries included), right before
/// it is sent. Open with no deadline by default (no lease: the one-shot CLI); the lease elector
/// sets `last successful renewal + renew deadline` at each renewal, so a replica whose renewal
/// hangs, or whose process was frozen, stops writing before another replica may take the lease.
#[derive(Clone, Debug, Default)]
pub struct WriteFence(Arc<Mutex<Gate>>);

#[derive(Clone, Copy, Debug, Default)]
enum Gate {
    #[default]
    Open,
    Until(Instant),
    Closed,
}

/// A write refused by the [`WriteFence`].
#[derive(Clone, Copy, Debug, thiserror::Error)]
#[error("this replica may no longer hold the lease: AWS writes are fenced")]
pub struct Fenced;

impl WriteFence {
    fn set(&self, gate: Gate) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = gate;
    }

    /// Writes may go out until `deadline`, not at or after it.
    pub fn open_until(&self, deadline: Instant) {
        self.set(Gate::Until(deadline));
    }

    pub fn close(&self) {
        self.set(Gate::Closed);
    }

    /// `Ok` if a write may be sent now.
    pub fn check(&self) -> Result<(), Fenced> {
        match *self.0.lock().unwrap_or_else(|e| e.into_inner()) {
            Gate::Open => Ok(()),
            Gate::Until(deadline) if Instant::now() < deadline => Ok(()),
            Gate::Until(_) | Gate::Closed => Err(Fenced),
        }
    }

    pub fn is_open(&self) -> bool {
        self.check().is_ok()
    }
}

/// The code of the error a fenced write gets.
pub const FENCED: &str = "NotLeader";

/// Checks the fence before each attempt of a mutating call is sent: the SDK's retries of a call
/// that began while the fence was open stop once it closes.
#[derive(Debug)]
struct FenceInterceptor(WriteFence);

impl Intercept for FenceInterceptor {
    fn name(&self) -> &'static str {
        "WriteFence"
    }

    fn read_before_transmit(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let mutating = cfg.load::<Metadata>().is_none_or(|m| is_mutating(m.name()));
        if mutating {
            self.0.check()?;
        }
        Ok(())
    }
}

/// The code of the error a mutating call of a read-only client gets.
pub const READ_ONLY: &str = "DryRun";

/// A write refused because the client is read-only (a dry run).
#[derive(Clone, Copy, Debug, thiserror::Error)]
#[error("a dry run makes no change in AWS: mutating calls are refused")]
pub struct ReadOnly;

/// Refuses every mutating call before it is sent, whatever path it came by.
#[derive(Debug)]
struct ReadOnlyInterceptor;

impl Intercept for ReadOnlyInterceptor {
    fn name(&self) -> &'static str {
        "ReadOnly"
    }

    fn read_before_transmit(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if cfg.load::<Metadata>().is_none_or(|m| is_mutating(m.name())) {
            return Err(Box::new(ReadOnly));
        }
        Ok(())
    }
}

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
        let fence = WriteFence::default();
        let guard = || FenceInterceptor(fence.clone());
        Self {
            elbv2: aws_sdk_elasticloadbalancingv2::Client::from_conf(
                aws_sdk_elasticloadbalancingv2::config::Builder::from(&config).interceptor(guard()).build(),
            ),
            ec2: aws_sdk_ec2::Client::from_conf(
                aws_sdk_ec2::config::Builder::from(&config).interceptor(guard()).build(),
            ),
            acm: aws_sdk_acm::Client::from_conf(
                aws_sdk_acm::config::Builder::from(&config).interceptor(guard()).build(),
            ),
            tagging: aws_sdk_resourcegroupstagging::Client::from_conf(
                aws_sdk_resourcegroupstagging::config::Builder::from(&config).interceptor(guard()).build(),
            ),
            wafv2: aws_sdk_wafv2::Client::from_conf(
                aws_sdk_wafv2::config::Builder::from(&config).interceptor(guard()).build(),
            ),
            shield: aws_sdk_shield::Client::from_conf(
                aws_sdk_shield::config::Builder::from(&config).interceptor(guard()).build(),
            ),
            metrics: CallMetrics::default(),
            fence,
            read_only: false,
            limiters: [
                limiter(limits.elbv2_read),
                limiter(limits.elbv2_write),
                limiter(limits.ec2),
                limiter(limits.acm),
                limiter(limits.tagging),
                limiter(limits.protection),
                limiter(limits.elbv2_registration),
            ],
        }
    }

    /// The same clients (rate limits and metrics shared) that can only read: mutating calls
    /// fail with [`READ_ONLY`] and never reach AWS.
    pub fn read_only(&self) -> Self {
        use aws_sdk_acm::Client as Acm;
        use aws_sdk_ec2::Client as Ec2;
        use aws_sdk_elasticloadbalancingv2::Client as Elbv2;
        use aws_sdk_resourcegroupstagging::Client as Tagging;
        use aws_sdk_shield::Client as Shield;
        use aws_sdk_wafv2::Client as Wafv2;
        Self {
            elbv2: Elbv2::from_conf(Elbv2::config(&self.elbv2).to_builder().interceptor(ReadOnlyInterceptor).build()),
            ec2: Ec2::from_conf(Ec2::config(&self.ec2).to_builder().interceptor(ReadOnlyInterceptor).build()),
            acm: Acm::from_conf(Acm::config(&self.acm).to_builder().interceptor(ReadOnlyInterceptor).build()),
            tagging: Tagging::from_conf(
                Tagging::config(&self.tagging).to_builder().interceptor(ReadOnlyInterceptor).build(),
            ),
            wafv2: Wafv2::from_conf(Wafv2::config(&self.wafv2).to_builder().interceptor(ReadOnlyInterceptor).build()),
            shield: Shield::from_conf(
                Shield::config(&self.shield).to_builder().interceptor(ReadOnlyInterceptor).build(),
            ),
            read_only: true,
            ..self.clone()
        }
    }

    pub fn is_read_only(&self) -> bool {
        self.read_only
    }

    /// A write of a step that reads and writes in one pass: sent, or in a dry run (read-only
    /// client) not sent at all, so the step still reports it as what a real run would do.
    pub async fn write<T, E, F>(&self, api: Api, operation: &'static str, call: F) -> Result<(), AwsError>
    where
        F: Future<Output = Result<T, SdkError<E, aws_smithy_runtime_api::http::Response>>>,
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        if self.read_only {
            return Ok(());
        }
        self.call(api, operation, call).await.map(|_| ())
    }

    /// Runs one SDK call under its family's rate limit and records it.
    pub async fn call<T, E, F>(&self, api: Api, operation: &'static str, call: F) -> Result<T, AwsError>
    where
        F: Future<Output = Result<T, SdkError<E, aws_smithy_runtime_api::http::Response>>>,
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        if self.read_only && is_mutating(operation) {
            self.metrics.record(operation, ErrorClass::Permanent.label(), Duration::ZERO);
            return Err(AwsError::read_only(operation));
        }
        let waiting = Instant::now();
        self.limiters[api as usize].until_ready().await;
        self.metrics.waited(api, waiting.elapsed());
        // Checked here too so a fenced call spends no rate-limit token; the interceptor checks
        // every attempt.
        if is_mutating(operation) && !self.fence.is_open() {
            self.metrics.record(operation, ErrorClass::Fenced.label(), Duration::ZERO);
            return Err(AwsError::fenced(operation));
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
                self.metrics.record(operation, err.class.label(), elapsed);
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
