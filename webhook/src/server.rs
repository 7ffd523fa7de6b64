//! The HTTP side: the TLS admission router, the plain admin router, and serving them.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock, RwLock};
use std::time::Instant;

use albatross_model::{Catalog, Validator};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use crate::admission::{Endpoint, PodGates, review};
use crate::metrics::{EndpointLabels, Metrics, ReviewLabels};

/// Largest AdmissionReview body accepted; larger ones get 413.
pub const MAX_BODY_BYTES: usize = 3 * 1024 * 1024;

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

/// Everything the handlers share.
pub struct Webhook {
    pub validator: Validator,
    /// Classes and Gateways known from the cluster; empty when the webhook runs alone.
    pub catalog: RwLock<Catalog>,
    /// Readiness gates for new pods; unset when the webhook runs alone (pods pass unchanged).
    pub pod_gates: OnceLock<Box<PodGates>>,
    pub metrics: Metrics,
    pub readiness: Readiness,
}

impl Webhook {
    pub fn new(validator: Validator) -> Self {
        let catalog = Catalog::new(&validator.options().controllers);
        Self {
            validator,
            catalog: RwLock::new(catalog),
            pod_gates: OnceLock::new(),
            metrics: Metrics::default(),
            readiness: Readiness::default(),
        }
    }

    fn answer(&self, endpoint: Endpoint, body: &[u8]) -> Response {
        let started = Instant::now();
        let answer = {
            let catalog = self.catalog.read().unwrap_or_else(|e| e.into_inner());
            review(&self.validator, &catalog, self.pod_gates.get().map(|g| g.as_ref()), endpoint, body)
        };
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
        (status, axum::Json(answer.body)).into_response()
    }
}

/// `POST /validate` and `POST /mutate`.
pub fn router(webhook: Arc<Webhook>) -> Router {
    Router::new()
        .route(
            "/validate",
            post(|State(w): State<Arc<Webhook>>, body: Bytes| async move { w.answer(Endpoint::Validate, &body) }),
        )
        .route(
            "/mutate",
            post(|State(w): State<Arc<Webhook>>, body: Bytes| async move { w.answer(Endpoint::Mutate, &body) }),
        )
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
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

/// Serves `app` over TLS on `addr` until `handle` shuts it down.
pub async fn serve_tls(
    app: Router,
    addr: SocketAddr,
    tls: Arc<rustls::ServerConfig>,
    handle: axum_server::Handle<SocketAddr>,
) -> std::io::Result<()> {
    let config = axum_server::tls_rustls::RustlsConfig::from_config(tls);
    axum_server::bind_rustls(addr, config).handle(handle).serve(app.into_make_service()).await
}
