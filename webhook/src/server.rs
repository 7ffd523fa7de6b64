//! The HTTP side: the admission router (reviews off the async threads, bounded in number and
//! time) and the plain admin router.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock, RwLock};
use std::time::{Duration, Instant};

use albatross_model::validate::Cancel;
use albatross_model::{Catalog, Validator};
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use http_body_util::BodyExt;
use tokio::sync::Semaphore;

use crate::admission::{Endpoint, PodGates, Written, late, reply};
use crate::metrics::{EndpointLabels, Metrics, ReviewLabels};

/// Largest AdmissionReview body accepted; larger ones get 413.
pub const MAX_BODY_BYTES: usize = 3 * 1024 * 1024;

/// Largest body a review without CEL is answered inline for (see `Webhook::inline`).
pub const INLINE_BODY_BYTES: usize = 16 * 1024;

/// True once the TLS listener is bound with a certificate loaded, false again at shutdown.
#[derive(Clone, Debug, Default)]
pub struct Readiness(Arc<AtomicBool>);

impl Readiness {
    pub fn set(&self, ready: bool) {
        self.0.store(ready, Ordering::SeqCst);
    }

    pub fn get(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// Bounds on the work of one review.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReviewLimits {
    /// From the end of the body to the answer, waiting for a worker included. Past it
    /// `/validate` denies and `/mutate` lets the object through unchanged.
    pub deadline: Duration,
    /// Reviews validated at once, each on a thread of its own off the async workers.
    pub concurrency: usize,
    /// Time to receive a whole body once its header is in.
    pub body_read_timeout: Duration,
}

impl Default for ReviewLimits {
    fn default() -> Self {
        Self {
            deadline: Duration::from_secs(1),
            concurrency: std::thread::available_parallelism().map_or(2, usize::from),
            body_read_timeout: Duration::from_secs(10),
        }
    }
}

/// Everything the handlers share.
pub struct Webhook {
    pub validator: Validator,
    /// Classes and Gateways known from the cluster; empty when the webhook runs alone.
    pub catalog: RwLock<Catalog>,
    /// Readiness gates for new pods; unset when the webhook runs alone (pods pass unchanged).
    pub pod_gates: OnceLock<Box<PodGates>>,
    pub metrics: Metrics,
    pub readiness: Readiness,
    limits: ReviewLimits,
    workers: Arc<Semaphore>,
}

impl Webhook {
    pub fn new(validator: Validator) -> Self {
        Self::with_limits(validator, ReviewLimits::default())
    }

    pub fn with_limits(validator: Validator, limits: ReviewLimits) -> Self {
        let catalog = Catalog::new(&validator.options().controllers);
        Self {
            validator,
            catalog: RwLock::new(catalog),
            pod_gates: OnceLock::new(),
            metrics: Metrics::default(),
            readiness: Readiness::default(),
            workers: Arc::new(Semaphore::new(limits.concurrency.max(1))),
            limits,
        }
    }

    pub fn limits(&self) -> &ReviewLimits {
        &self.limits
    }

    /// The review on a blocking thread once a worker slot is free, bounded by the deadline; a
    /// review past it is told to stop and its verdict is not waited for.
    async fn decide(self: &Arc<Self>, endpoint: Endpoint, body: Bytes) -> Written {
        if self.inline(endpoint, body.len()) {
            let catalog = self.catalog.read().unwrap_or_else(|e| e.into_inner());
            let gates = self.pod_gates.get().map(|g| g.as_ref());
            return reply(&self.validator, &catalog, gates, endpoint, &body, &Cancel::default()).written();
        }
        let deadline = tokio::time::Instant::now() + self.limits.deadline;
        let cancel = Cancel::default();
        let work = {
            let webhook = self.clone();
            let cancel = cancel.clone();
            let body = body.clone();
            async move {
                let slot = webhook.workers.clone().acquire_owned().await.ok();
                tokio::task::spawn_blocking(move || {
                    let _slot = slot;
                    let catalog = webhook.catalog.read().unwrap_or_else(|e| e.into_inner());
                    let gates = webhook.pod_gates.get().map(|g| g.as_ref());
                    reply(&webhook.validator, &catalog, gates, endpoint, &body, &cancel).written()
                })
                .await
            }
        };
        match tokio::time::timeout_at(deadline, work).await {
            Ok(Ok(answer)) => answer,
            Ok(Err(_)) => internal_error(),
            Err(_) => {
                cancel.cancel();
                late(endpoint, &body, self.limits.deadline).written()
            }
        }
    }

    /// Whether a review is answered on the async thread: a small body without CEL costs a few
    /// microseconds (checks linear in the body, well under a millisecond at this size), less
    /// than handing it to a blocking thread and back. Everything else goes to the workers.
    fn inline(&self, endpoint: Endpoint, body_len: usize) -> bool {
        let no_cel = endpoint == Endpoint::Mutate || !self.validator.options().api_server_checks;
        no_cel && body_len <= INLINE_BODY_BYTES
    }

    async fn answer(self: Arc<Self>, endpoint: Endpoint, body: Body) -> Response {
        let body = match read_body(body, self.limits.body_read_timeout).await {
            Ok(body) => body,
            Err(refused) => return refused,
        };
        let started = Instant::now();
        let answer = self.decide(endpoint, body).await;
        let endpoint = match endpoint {
            Endpoint::Validate => "validate",
            Endpoint::Mutate => "mutate",
        };
        self.metrics
            .reviews
            .get_or_create(&ReviewLabels {
                endpoint,
                kind: answer.kind,
                operation: answer.operation,
                verdict: answer.verdict,
            })
            .inc();
        self.metrics.latency.get_or_create(&EndpointLabels { endpoint }).observe(started.elapsed().as_secs_f64());
        let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let json = HeaderValue::from_static("application/json");
        (status, [(header::CONTENT_TYPE, json)], answer.body).into_response()
    }
}

fn internal_error() -> Written {
    Written {
        status: 500,
        body: br#"{"error":"the review failed inside the webhook"}"#.to_vec(),
        kind: "other",
        operation: "other",
        verdict: "error",
    }
}

/// The whole body, at most `MAX_BODY_BYTES`, within `timeout`.
async fn read_body(body: Body, timeout: Duration) -> Result<Bytes, Response> {
    let limited = http_body_util::Limited::new(body, MAX_BODY_BYTES);
    match tokio::time::timeout(timeout, limited.collect()).await {
        Ok(Ok(collected)) => Ok(collected.to_bytes()),
        Ok(Err(e)) if e.downcast_ref::<http_body_util::LengthLimitError>().is_some() => {
            Err((StatusCode::PAYLOAD_TOO_LARGE, format!("body over {MAX_BODY_BYTES} bytes")).into_response())
        }
        Ok(Err(e)) => Err((StatusCode::BAD_REQUEST, format!("reading the body failed: {e}")).into_response()),
        Err(_) => Err((StatusCode::REQUEST_TIMEOUT, "the body did not arrive in time").into_response()),
    }
}

/// `POST /validate` and `POST /mutate`.
pub fn router(webhook: Arc<Webhook>) -> Router {
    Router::new()
        .route(
            "/validate",
            post(|State(w): State<Arc<Webhook>>, body: Body| async move { w.answer(Endpoint::Validate, body).await }),
        )
        .route(
            "/mutate",
            post(|State(w): State<Arc<Webhook>>, body: Body| async move { w.answer(Endpoint::Mutate, body).await }),
        )
        .with_state(webhook)
}

/// `/healthz`, `/readyz` and `/metrics`, served without TLS.
pub fn admin_router(webhook: Arc<Webhook>) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route(
            "/readyz",
            get(|State(w): State<Arc<Webhook>>| async move {
                if w.readiness.get() { (StatusCode::OK, "ok") } else { (StatusCode::SERVICE_UNAVAILABLE, "not ready") }
            }),
        )
        .route(
            "/metrics",
            get(|State(w): State<Arc<Webhook>>| async move {
                (
                    [(header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")],
                    w.metrics.encode(),
                )
            }),
        )
        .with_state(webhook)
}
