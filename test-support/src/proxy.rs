//! An HTTP proxy in front of moto that makes it behave more like real AWS, injects faults and
//! records every call.
//!
//! # Running it
//! [`Proxy::start`] is async and runs the proxy on the caller's tokio runtime (the usual case:
//! `#[tokio::test]`, where the AWS SDK client and the proxy share the test's runtime; a
//! current-thread runtime is fine because everything is async). [`Proxy::start_blocking`] runs
//! it on a dedicated thread with its own current-thread runtime, for sync tests or when the
//! caller's runtime may be blocked. Either way it listens on `127.0.0.1:0` (HTTP/1.1 with
//! keep-alive), [`Proxy::endpoint`] gives `http://127.0.0.1:PORT`, all other methods are
//! synchronous and thread-safe, and dropping the [`Proxy`] stops it.
//!
//! Each request is forwarded to moto unchanged (method, path and query, headers with `Host`
//! rewritten to moto's address, body) and moto's response is returned (hop-by-hop headers such
//! as moto's `Connection: close` removed), unless a fault or a rule says otherwise. Requests
//! under `/moto-api` pass straight through: no faults, no rules, not recorded.
//!
//! # Identification and recording
//! ELBv2 and EC2 use the AWS Query protocol (form body `Action=CreateRule&Version=...`); ACM
//! and the Resource Groups Tagging API use awsJson1_1 (`X-Amz-Target: Prefix.Operation`).
//! The service is the SigV4 credential scope's (`elasticloadbalancing`, `ec2`, `acm`,
//! `tagging`; see [`service`]), else inferred from `Version` or the target prefix. Every
//! request is recorded as a [`Call`]; see [`Proxy::calls`], [`Proxy::count`],
//! [`Proxy::mutating_calls`].
//!
//! # AWS rules (ELBv2 Query requests only; [`ProxyOptions::aws_rules`], default on)
//! Refused with HTTP 400 in ELBv2's XML error shape, without forwarding:
//! - CreateRule / ModifyRule: more than [`Quotas::condition_values_per_rule`] (5) condition
//!   values (host-header, path-pattern, http-header, query-string (a key/value pair is one),
//!   http-request-method, source-ip, regex values and the legacy `Values`), more than
//!   [`Quotas::wildcards_per_rule`] (5) `*`/`?` characters in host/path/header/query/legacy
//!   values, a value longer than 128 characters, or a forward action with more than 5 target
//!   groups: `ValidationError`.
//! - CreateRule `Priority` / SetRulePriorities priorities outside 1..=50000: `ValidationError`.
//! - CreateRule when the load balancer already has [`Quotas::rules_per_alb`] (100) non-default
//!   rules: `TooManyRules`.
//! - CreateRule / ModifyRule (with actions) that would make the load balancer's rules and
//!   listener default actions reference more than [`Quotas::target_groups_per_alb`] (100)
//!   distinct target groups: `TooManyTargetGroups`.
//! - CreateLoadBalancer / CreateTargetGroup names: 1..=32 characters, alphanumerics and
//!   hyphens, not beginning or ending with a hyphen, load balancer names not beginning with
//!   `internal-`: `ValidationError`.
//! - DescribeTags / AddTags / RemoveTags with more than 20 `ResourceArns`: `ValidationError`
//!   (moto takes any number).
//! - CreateListener on a port that already has a listener on that load balancer:
//!   `DuplicateListener` (moto would create a second listener; AWS, strictly, answers the
//!   existing listener when all settings are identical and `DuplicateListener` otherwise; the
//!   proxy always refuses).
//!
//! - CreateListener / ModifyListener / CreateRule / ModifyRule forwarding to a target group
//!   that a listener or rule of another load balancer forwards to:
//!   `TargetGroupAssociationLimit` ("The following target groups cannot be associated with more
//!   than one load balancer: ARN"), as AWS answers; moto attaches it. DescribeTargetGroups
//!   answers get the `LoadBalancerArns` AWS would give (those forwarding to it now; moto's
//!   list only grows). How the proxy finds a target group's load balancers:
//!   `proxy/association.rs`.
//!
//! - DeleteLoadBalancer of a load balancer whose `deletion_protection.enabled` attribute is
//!   `true`: `OperationNotPermitted`, as AWS answers (moto 5.2.5 deletes it anyway).
//!
//! Fields moto drops are emulated on its answers: `TargetControlPort` and listener
//! `MutualAuthentication` (see [`emulate`]).
//!
//! Emulated with state (always): ELBv2 trust stores (CreateTrustStore, DescribeTrustStores,
//! DeleteTrustStore), answered by the proxy; see `proxy/trust_stores.rs`.
//!
//! Emulated with state (always; its refusals with the rules on): NLB `QUIC` and `TCP_QUIC`
//! listeners and target groups, which moto refuses, carried as UDP; see `proxy/quic.rs`.
//!
//! Emulated (answered 200 without forwarding): CreateLoadBalancer with a name that already
//! exists answers the existing load balancer (moto would create a second one), built from
//! moto's DescribeLoadBalancers response with its element names rewritten.
//!
//! Tag-filtered EC2 DescribeSecurityGroups (always, rules on or off) go to moto narrowed to the
//! groups that can match, read from moto's tag store, so moto does not scan every tag for every
//! group; the answer is moto's own. How and when: `proxy/security_groups.rs`.
//!
//! Emulated with state (always, rules on or off): the load balancer settings moto drops or lacks
//! (customer-owned IPv4 pool, IPAM pools and ModifyIpPools, subnet mapping addresses, PrivateLink
//! enforcement, capacity reservations); see `proxy/lb_settings.rs` for exactly what and how.
//!
//! The counting rules ask moto directly (DescribeListeners, DescribeRules with `Marker`
//! pagination, DescribeLoadBalancers), unrecorded, with the request's own `Authorization`
//! header (moto routes by its credential scope and does not check signatures). When those
//! lookups fail (e.g. unknown listener) the request is forwarded and moto answers.
//!
//! # AWS's rate limits and latency ([`ProxyOptions::limits`], [`Proxy::set_limits`])
//! Off by default (`None`); [`AwsLimits::documented()`] turns on one token bucket per ELBv2
//! action class (`Describe*` 40 then 10/s, as the ELB API throttling page documents;
//! registration and other mutating actions with buckets of their own) and for Tagging
//! `GetResources` (15/s), shared by every caller of the proxy, plus 50 ms per read and 150 ms per
//! write before answering, with a `time_scale` for fleet benchmarks. A call that finds its bucket
//! empty is answered `Throttling` "Rate exceeded" (ELBv2's XML shape) without being forwarded and
//! recorded with [`Call::rate_limited`] ([`Proxy::rate_limited`] counts them). The model, every
//! number and its source: `proxy/limits.rs`. Off by default: turned on for every test the
//! workspace suite still passed, but its test binaries ran 864 s instead of 441 s (2-core
//! machine, measured once), mostly the 50/150 ms per call. Tests and benchmarks where timing
//! matters turn it on.
//!
//! # Faults ([`Faults`], [`Proxy::set_faults`])
//! For each request one uniform draw from an RNG seeded with [`Faults::seed`] picks at most
//! one fault (the probabilities are cumulative in the order below, so their sum should be at
//! most 1); the sequence of picks is deterministic for a seed and a request order. No draw is
//! made while all probabilities are 0.
//! - throttle: ELBv2 answers 400 `Throttling` "Rate exceeded"; awsJson1_1 services 400
//!   `{"__type":"ThrottlingException","message":"Rate exceeded"}` with `x-amzn-errortype`; EC2,
//!   like real EC2, 503 `RequestLimitExceeded` in EC2's `<Response><Errors>` shape. Not forwarded.
//! - server_error: 500 `InternalFailure` (EC2: `InternalError`), same shapes. Not forwarded.
//! - drop_before: the connection is closed without a response. Not forwarded.
//! - drop_after: forwarded (moto makes the change), then the connection is closed without a
//!   response.
//!
//! # Hold switch for crash tests
//! [`Proxy::hold_after_mutations`]`(Some(n))`: once [`Proxy::mutations`] reaches `n`, every
//! further request is held (never answered) until the switch is cleared or raised;
//! [`Proxy::wait_for_hold`] resolves when at least one request is held, so a test can abort the
//! client task exactly then. Clearing the switch lets held requests go on to moto (a pause);
//! [`Proxy::drop_held`] instead closes their connections without forwarding, as if the
//! process had died before they reached AWS. [`Proxy::hold_action`]`(Some(action))` holds the
//! requests of one action the same way, from the first.
//!
//! [`Proxy::mutations`] counts mutating calls (ELBv2/EC2/ACM actions not starting with
//! `Describe`, `List` or `Get`) that got past faults and rules: forwarded to moto (whatever moto
//! answered) or emulated. Refused and fault-injected (except drop_after) ones do not count.

mod association;
mod emulate;
mod handle;
mod lb_settings;
mod limits;
mod protocol;
mod quic;
mod rules;
mod security_groups;
mod trust_stores;
mod upstream;

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::header::{AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE, HOST, HeaderName, HeaderValue};
use hyper::{HeaderMap, Method, Request, Response, StatusCode};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::net::TcpListener;
use tokio::sync::watch;

use handle::handle;
pub use limits::{ApiClass, AwsLimits, BucketLimit};
pub use protocol::service;
use protocol::{Form, Identity, Protocol, error_code, error_response, identify};
use upstream::{Upstream, Upstreamed, bad_gateway};

/// One request seen by the proxy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Call {
    /// SigV4 signing name: `elasticloadbalancing`, `ec2`, `acm`, `tagging` (see [`service`]).
    pub service: String,
    /// Operation name, e.g. `CreateRule`, `ListCertificates` (empty if not recognised).
    pub action: String,
    /// HTTP status the client got; 0 when the connection was closed without a response
    /// (drop_before, a dropped held request). For drop_after it is moto's status.
    pub status: u16,
    /// The injected fault, if any.
    pub injected: Option<Fault>,
    /// AWS error code of the response when it is an error (from a rule, a fault or moto).
    pub error: Option<String>,
    /// Answered `Throttling` because its [`AwsLimits`] bucket was empty (not forwarded).
    pub rate_limited: bool,
}

impl Call {
    /// ELBv2/EC2/ACM/WAFv2/Shield actions that do not start with `Describe`, `List` or `Get`.
    pub fn is_mutating(&self) -> bool {
        is_mutating(&self.service, &self.action)
    }
}

fn is_mutating(service: &str, action: &str) -> bool {
    matches!(service, service::ELBV2 | service::EC2 | service::ACM | service::WAFV2 | service::SHIELD)
        && !action.is_empty()
        && !["Describe", "List", "Get"].iter().any(|p| action.starts_with(p))
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Fault {
    Throttle,
    ServerError,
    DropBefore,
    DropAfter,
}

/// Fault probabilities per request (each 0..=1, summing to at most 1) and the RNG seed.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Faults {
    pub throttle: f64,
    pub server_error: f64,
    pub drop_before: f64,
    pub drop_after: f64,
    pub seed: u64,
}

/// AWS quotas the proxy enforces on ELBv2 (AWS defaults).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Quotas {
    /// Rules per Application Load Balancer, not counting default rules (100).
    pub rules_per_alb: usize,
    /// Distinct target groups referenced by one Application Load Balancer (100).
    pub target_groups_per_alb: usize,
    /// Target groups per forward action (5).
    pub target_groups_per_action: usize,
    /// Condition values per rule (5).
    pub condition_values_per_rule: usize,
    /// Wildcards (`*`, `?`) per rule (5).
    pub wildcards_per_rule: usize,
    /// Characters per host-header/path-pattern/header/query value (128).
    pub condition_value_length: usize,
}

impl Default for Quotas {
    fn default() -> Self {
        Quotas {
            rules_per_alb: 100,
            target_groups_per_alb: 100,
            target_groups_per_action: 5,
            condition_values_per_rule: 5,
            wildcards_per_rule: 5,
            condition_value_length: 128,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ProxyOptions {
    pub quotas: Quotas,
    /// Enforce the AWS rules (default true).
    pub aws_rules: bool,
    pub faults: Faults,
    /// AWS's rate limits and latency; `None` (the default): neither.
    pub limits: Option<AwsLimits>,
}

impl Default for ProxyOptions {
    fn default() -> Self {
        ProxyOptions { quotas: Quotas::default(), aws_rules: true, faults: Faults::default(), limits: None }
    }
}

/// The running proxy; dropping it stops it.
pub struct Proxy {
    endpoint: String,
    shared: Arc<Shared>,
    shutdown: watch::Sender<bool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl fmt::Debug for Proxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Proxy").field("endpoint", &self.endpoint).field("upstream", &self.shared.upstream.base).finish()
    }
}

impl Proxy {
    /// Starts the proxy in front of `upstream` (e.g. [`crate::Moto::endpoint`]) on the caller's
    /// tokio runtime. Panics if it cannot bind.
    pub async fn start(upstream: &str, options: ProxyOptions) -> Proxy {
        let (endpoint, shared, shutdown) = launch(upstream, options).await;
        Proxy { endpoint, shared, shutdown, thread: None }
    }

    /// Starts the proxy on a dedicated thread with its own current-thread tokio runtime; for
    /// sync tests. Must not be called from within an async context that forbids blocking.
    pub fn start_blocking(upstream: &str, options: ProxyOptions) -> Proxy {
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let upstream = upstream.to_owned();
        let thread = std::thread::Builder::new()
            .name("albatross-proxy".into())
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("build the proxy's tokio runtime");
                runtime.block_on(async move {
                    let (endpoint, shared, shutdown) = launch(&upstream, options).await;
                    let mut stopped = shutdown.subscribe();
                    if ready_tx.send((endpoint, shared, shutdown)).is_ok() {
                        let _ = stopped.wait_for(|s| *s).await;
                    }
                });
            })
            .expect("spawn the proxy thread");
        let (endpoint, shared, shutdown) = ready_rx.recv().expect("the proxy thread failed to start");
        Proxy { endpoint, shared, shutdown, thread: Some(thread) }
    }

    /// `http://127.0.0.1:PORT`: the endpoint URL to give the AWS SDK clients.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The upstream (moto) endpoint.
    pub fn upstream(&self) -> &str {
        &self.shared.upstream.base
    }

    /// Every call recorded so far, in the order they completed.
    pub fn calls(&self) -> Vec<Call> {
        self.shared.state().calls.clone()
    }

    /// How many recorded calls have this action (any service).
    pub fn count(&self, action: &str) -> usize {
        self.shared.state().calls.iter().filter(|c| c.action == action).count()
    }

    /// The recorded calls that are mutating ([`Call::is_mutating`]), whatever their outcome.
    pub fn mutating_calls(&self) -> Vec<Call> {
        self.shared.state().calls.iter().filter(|c| c.is_mutating()).cloned().collect()
    }

    /// Forgets the recorded calls (not the [`Proxy::mutations`] counter).
    pub fn clear_calls(&self) {
        self.shared.state().calls.clear();
    }

    /// Mutating calls that got past faults and rules (forwarded or emulated) since the start.
    pub fn mutations(&self) -> usize {
        self.shared.state().mutations
    }

    /// Replaces the fault probabilities and reseeds the RNG with `faults.seed`.
    pub fn set_faults(&self, faults: Faults) {
        let mut state = self.shared.state();
        state.faults = faults;
        state.rng = StdRng::seed_from_u64(faults.seed);
    }

    pub fn faults(&self) -> Faults {
        self.shared.state().faults
    }

    /// Turns the AWS rules on or off.
    pub fn set_aws_rules(&self, enabled: bool) {
        self.shared.state().aws_rules = enabled;
    }

    pub fn set_quotas(&self, quotas: Quotas) {
        self.shared.state().quotas = quotas;
    }

    /// Replaces the rate limits and latency; the buckets start full.
    pub fn set_limits(&self, limits: Option<AwsLimits>) {
        self.shared.state().buckets = limits.map(|l| limits::Buckets::new(l, Instant::now()));
    }

    pub fn limits(&self) -> Option<AwsLimits> {
        self.shared.state().buckets.as_ref().map(|b| *b.limits())
    }

    /// Tag-filtered `DescribeSecurityGroups` answered from the narrowed query or as empty
    /// (`proxy/security_groups.rs`) since the start.
    pub fn narrowed_security_group_describes(&self) -> usize {
        self.shared.state().narrowed_describes
    }

    /// Calls answered `Throttling` by the [`AwsLimits`] buckets since the start (not reset by
    /// [`Proxy::clear_calls`]).
    pub fn rate_limited(&self) -> usize {
        self.shared.state().rate_limited
    }

    /// `Some(n)`: once [`Proxy::mutations`] is at least `n`, hold every further request until
    /// this is called again with `None` (held requests then go on) or a larger `n`.
    pub fn hold_after_mutations(&self, n: Option<usize>) {
        self.shared.hold.send_modify(|h| h.after = n);
    }

    /// `Some(action)`: hold every request of that action (e.g. `DeleteLoadBalancer`, to stop a
    /// process just before it deletes) until this is called again with `None`.
    pub fn hold_action(&self, action: Option<&'static str>) {
        self.shared.hold.send_modify(|h| h.action = action);
    }

    /// Closes the connections of the requests held now, without forwarding them (they are
    /// recorded with status 0 and [`Fault::DropBefore`]). The hold switch stays as it is.
    pub fn drop_held(&self) {
        self.shared.hold.send_modify(|h| h.drop_generation += 1);
    }

    /// How many requests are being held now.
    pub fn held(&self) -> usize {
        *self.shared.held.borrow()
    }

    /// Resolves as soon as at least one request is held.
    pub async fn wait_for_hold(&self) {
        let mut held = self.shared.held.subscribe();
        let _ = held.wait_for(|n| *n > 0).await;
    }

    /// Blocking variant of [`Proxy::wait_for_hold`] for sync tests: true if a request was held
    /// within `timeout`.
    pub fn wait_for_hold_blocking(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while self.held() == 0 {
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        true
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.shutdown.send_replace(true);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

async fn launch(upstream: &str, options: ProxyOptions) -> (String, Arc<Shared>, watch::Sender<bool>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap_or_else(|e| panic!("proxy cannot bind: {e}"));
    let addr = listener.local_addr().expect("proxy local address");
    let shared = Arc::new(Shared::new(upstream, options));
    let (shutdown, stopped) = watch::channel(false);
    tokio::spawn(serve(listener, shared.clone(), stopped));
    (format!("http://{addr}"), shared, shutdown)
}

async fn serve(listener: TcpListener, shared: Arc<Shared>, stopped: watch::Receiver<bool>) {
    crate::http1::serve(listener, "proxy", stopped, move |req| handle(shared.clone(), req)).await;
}

/// Returned by the service to make hyper close the connection without a response.
#[derive(Debug)]
struct DropConnection;

impl fmt::Display for DropConnection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("connection dropped by the fault proxy")
    }
}

impl std::error::Error for DropConnection {}

type ProxyResponse = Response<Full<Bytes>>;

#[derive(Clone, Copy, Debug, Default)]
struct HoldState {
    after: Option<usize>,
    /// Requests of this action are held whatever the count.
    action: Option<&'static str>,
    drop_generation: u64,
}

struct State {
    calls: Vec<Call>,
    faults: Faults,
    rng: StdRng,
    quotas: Quotas,
    aws_rules: bool,
    mutations: usize,
    /// AWS's token buckets ([`ProxyOptions::limits`]).
    buckets: Option<limits::Buckets>,
    rate_limited: usize,
    /// DescribeSecurityGroups narrowed by `security_groups`.
    narrowed_describes: usize,
    emulated: emulate::Emulated,
    /// Load balancer settings moto does not keep, by ARN (`lb_settings`).
    extras: std::collections::BTreeMap<String, lb_settings::LoadBalancerExtras>,
    /// Target groups that ModifyListener/ModifyRule attached (`association`).
    modified: association::Modified,
    /// Listeners and target groups moto holds as UDP that are QUIC (`quic`).
    quic: quic::Quic,
    /// ELBv2 trust stores (`trust_stores`).
    trust_stores: trust_stores::TrustStores,
}

struct Shared {
    upstream: Upstream,
    state: Mutex<State>,
    hold: watch::Sender<HoldState>,
    held: watch::Sender<usize>,
    request_ids: AtomicU64,
    security_groups: security_groups::Narrower,
}

impl Shared {
    fn new(upstream: &str, options: ProxyOptions) -> Shared {
        Shared {
            upstream: Upstream::new(upstream),
            state: Mutex::new(State {
                calls: Vec::new(),
                faults: options.faults,
                rng: StdRng::seed_from_u64(options.faults.seed),
                quotas: options.quotas,
                aws_rules: options.aws_rules,
                mutations: 0,
                buckets: options.limits.map(|l| limits::Buckets::new(l, Instant::now())),
                rate_limited: 0,
                narrowed_describes: 0,
                emulated: emulate::Emulated::default(),
                extras: std::collections::BTreeMap::new(),
                modified: association::Modified::default(),
                quic: quic::Quic::default(),
                trust_stores: trust_stores::TrustStores::default(),
            }),
            hold: watch::Sender::new(HoldState::default()),
            held: watch::Sender::new(0),
            request_ids: AtomicU64::new(1),
            security_groups: security_groups::Narrower::default(),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn request_id(&self) -> String {
        protocol::request_id(self.request_ids.fetch_add(1, Ordering::Relaxed))
    }

    fn pick_fault(&self) -> Option<Fault> {
        let mut state = self.state();
        let f = state.faults;
        if f.throttle + f.server_error + f.drop_before + f.drop_after <= 0.0 {
            return None;
        }
        let x: f64 = state.rng.random();
        let mut threshold = 0.0;
        for (p, fault) in [
            (f.throttle, Fault::Throttle),
            (f.server_error, Fault::ServerError),
            (f.drop_before, Fault::DropBefore),
            (f.drop_after, Fault::DropAfter),
        ] {
            threshold += p;
            if x < threshold {
                return Some(fault);
            }
        }
        None
    }

    /// Waits while the hold switch applies. `false`: the held request is to be dropped.
    async fn pass_hold(&self, action: &str) -> bool {
        let mut hold = self.hold.subscribe();
        let mut held: Option<(HeldGuard<'_>, u64)> = None;
        loop {
            let state = *hold.borrow_and_update();
            let holding = state.after.is_some_and(|n| self.state().mutations >= n) || state.action == Some(action);
            if !holding {
                return true;
            }
            match &held {
                None => held = Some((HeldGuard::new(&self.held), state.drop_generation)),
                Some((_, generation)) if *generation != state.drop_generation => return false,
                Some(_) => {}
            }
            if hold.changed().await.is_err() {
                return true;
            }
        }
    }

    fn record(&self, identity: &Identity, status: u16, injected: Option<Fault>, error: Option<String>, mutated: bool) {
        let mut state = self.state();
        if mutated {
            state.mutations += 1;
        }
        state.calls.push(Call {
            service: identity.service.clone(),
            action: identity.action.clone(),
            status,
            injected,
            error,
            rate_limited: false,
        });
    }

    /// Takes a token for the call (`false`: its bucket is empty) and gives its latency; `None`
    /// without [`AwsLimits`].
    fn admit(&self, identity: &Identity) -> Option<(bool, Duration)> {
        let mut state = self.state();
        let buckets = state.buckets.as_mut()?;
        let class = limits::ApiClass::of(&identity.service, &identity.action);
        let admitted = class.is_none_or(|c| buckets.take(c, Instant::now()));
        Some((admitted, buckets.limits().latency(&identity.action)))
    }

    fn record_rate_limited(&self, identity: &Identity, error: &protocol::ErrorResponse) {
        let mut state = self.state();
        state.rate_limited += 1;
        state.calls.push(Call {
            service: identity.service.clone(),
            action: identity.action.clone(),
            status: error.status,
            injected: None,
            error: Some(error.code.clone()),
            rate_limited: true,
        });
    }
}

/// Counts a request as held while it lives (also when hyper drops the request future).
struct HeldGuard<'a>(&'a watch::Sender<usize>);

impl<'a> HeldGuard<'a> {
    fn new(held: &'a watch::Sender<usize>) -> Self {
        held.send_modify(|n| *n += 1);
        HeldGuard(held)
    }
}

impl Drop for HeldGuard<'_> {
    fn drop(&mut self) {
        self.0.send_modify(|n| *n -= 1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mutating_classification() {
        assert!(is_mutating("elasticloadbalancing", "CreateRule"));
        assert!(is_mutating("ec2", "CreateSecurityGroup"));
        assert!(is_mutating("acm", "ImportCertificate"));
        assert!(!is_mutating("elasticloadbalancing", "DescribeRules"));
        assert!(!is_mutating("acm", "ListCertificates"));
        assert!(!is_mutating("acm", "GetCertificate"));
        assert!(!is_mutating("tagging", "TagResources"));
    }

    #[test]
    fn fault_picks_are_deterministic_per_seed() {
        let faults = Faults { throttle: 0.25, server_error: 0.25, drop_before: 0.25, drop_after: 0.0, seed: 7 };
        let picks = |seed: u64| {
            let shared = Shared::new(
                "http://127.0.0.1:1",
                ProxyOptions { faults: Faults { seed, ..faults }, ..Default::default() },
            );
            (0..64).map(|_| shared.pick_fault()).collect::<Vec<_>>()
        };
        assert_eq!(picks(7), picks(7));
        assert_ne!(picks(7), picks(8));
        let p = picks(7);
        for f in [Some(Fault::Throttle), Some(Fault::ServerError), Some(Fault::DropBefore), None] {
            assert!(p.contains(&f), "{f:?} never picked in {p:?}");
        }
        assert!(!p.contains(&Some(Fault::DropAfter)));
    }
}
