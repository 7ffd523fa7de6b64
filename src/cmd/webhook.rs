//! `albatross webhook`: the admission server alone, with its admin port.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use albatross_certs::{PemFiles, ReloadingResolver};
use albatross_model::Validator;
use albatross_webhook::{ConnectionLimits, ReviewLimits, ServerHandle, Webhook};
use anyhow::Context;

use super::RuleArgs;

#[derive(clap::Args, Debug)]
pub struct WebhookArgs {
    /// Address of the TLS admission endpoints.
    #[arg(long, env = "ALBATROSS_LISTEN", default_value = "0.0.0.0:9443")]
    pub listen: SocketAddr,
    /// Address of /healthz, /readyz and /metrics (plain HTTP).
    #[arg(long, env = "ALBATROSS_ADMIN_LISTEN", default_value = "0.0.0.0:8080")]
    pub admin_listen: SocketAddr,
    /// PEM certificate chain; re-read when it changes.
    #[arg(long, env = "ALBATROSS_TLS_CERT", requires = "tls_key", conflicts_with = "self_signed")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key; re-read when it changes.
    #[arg(long, env = "ALBATROSS_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Write (or reuse) a CA and serving pair in this folder and serve with it.
    #[arg(long, env = "ALBATROSS_SELF_SIGNED", required_unless_present = "tls_cert")]
    pub self_signed: Option<PathBuf>,
    /// DNS names of the self-signed serving certificate.
    #[arg(long = "dns-name", env = "ALBATROSS_DNS_NAMES", value_delimiter = ',', default_value = "localhost")]
    pub dns_names: Vec<String>,
    /// Skip the checks the API server runs before calling validating webhooks (served version,
    /// schema, list types, CEL); only Albatross's own checks remain. Several times faster.
    #[arg(long, env = "ALBATROSS_SKIP_API_SERVER_CHECKS")]
    pub skip_api_server_checks: bool,
    /// Seconds open connections get to finish at shutdown.
    #[arg(long, env = "ALBATROSS_SHUTDOWN_GRACE", default_value_t = 10)]
    pub shutdown_grace: u64,
    #[command(flatten)]
    pub limits: LimitArgs,
    #[command(flatten)]
    pub rules: RuleArgs,
}

/// Bounds on connections and reviews.
#[derive(clap::Args, Debug)]
pub struct LimitArgs {
    /// Open connections at most; more are closed on accept.
    #[arg(long, env = "ALBATROSS_MAX_CONNECTIONS", default_value_t = 1024)]
    pub max_connections: usize,
    /// Seconds to finish the TLS handshake, and to send a request's header (also the idle
    /// keep-alive timeout).
    #[arg(long, env = "ALBATROSS_HEADER_TIMEOUT", default_value_t = 10,
          value_parser = clap::value_parser!(u64).range(1..=10))]
    pub header_timeout: u64,
    /// Milliseconds from a review's body to its answer; past it /validate denies and /mutate
    /// lets the object through unchanged.
    #[arg(long, env = "ALBATROSS_REVIEW_DEADLINE_MS", default_value_t = 1000)]
    pub review_deadline_ms: u64,
    /// Reviews validated at once (0: one per core).
    #[arg(long, env = "ALBATROSS_REVIEW_CONCURRENCY", default_value_t = 0)]
    pub review_concurrency: usize,
}

impl LimitArgs {
    fn connections(&self) -> ConnectionLimits {
        let timeout = Duration::from_secs(self.header_timeout);
        ConnectionLimits {
            max_connections: self.max_connections,
            handshake_timeout: timeout,
            header_read_timeout: timeout,
        }
    }

    fn reviews(&self) -> ReviewLimits {
        let defaults = ReviewLimits::default();
        ReviewLimits {
            deadline: Duration::from_millis(self.review_deadline_ms),
            concurrency: if self.review_concurrency == 0 { defaults.concurrency } else { self.review_concurrency },
            ..defaults
        }
    }
}

pub fn run(args: WebhookArgs) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(serve(args))?;
    Ok(ExitCode::SUCCESS)
}

async fn serve(args: WebhookArgs) -> anyhow::Result<()> {
    let files = match (&args.tls_cert, &args.tls_key, &args.self_signed) {
        (Some(cert), Some(key), _) => PemFiles { cert: cert.clone(), key: key.clone() },
        (_, _, Some(dir)) => {
            let generated = albatross_certs::self_signed(dir, &args.dns_names, 365)?;
            tracing::info!(ca = %generated.ca.display(), "self-signed serving certificate ready");
            generated.serving
        }
        _ => anyhow::bail!("give --tls-cert and --tls-key, or --self-signed DIR"),
    };
    let resolver = Arc::new(ReloadingResolver::new(files).context("loading the serving certificate")?);
    let tls = Arc::new(albatross_certs::server_config(resolver.clone())?);

    let mut options = args.rules.options();
    options.api_server_checks = !args.skip_api_server_checks;
    let webhook = Arc::new(Webhook::with_limits(Validator::new(options), args.limits.reviews()));
    watch_certificate_expiry(resolver, webhook.clone());
    spawn_admin(args.admin_listen, albatross_webhook::admin_router(webhook.clone())).await?;
    let grace = Duration::from_secs(args.shutdown_grace);
    serve_admission(webhook, args.listen, tls, args.limits.connections(), grace, || {}).await
}

/// Keeps the certificate expiry gauge on the pair in use, so an alert fires before a rotation
/// that never happened takes the webhook down.
pub(super) fn watch_certificate_expiry(resolver: Arc<ReloadingResolver>, webhook: Arc<Webhook>) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(60));
        loop {
            tick.tick().await;
            match resolver.not_after() {
                Some(at) => {
                    webhook.metrics.certificate_expiry.set(at);
                }
                None => tracing::warn!("the serving certificate's expiry cannot be read"),
            }
        }
    });
}

/// Serves the plain-HTTP admin router on `addr` in the background.
pub(super) async fn spawn_admin(addr: SocketAddr, app: axum::Router) -> anyhow::Result<()> {
    let admin = tokio::net::TcpListener::bind(addr).await.with_context(|| format!("binding the admin port {addr}"))?;
    tokio::spawn(async move {
        if let Err(error) = axum::serve(admin, app).await {
            tracing::error!(%error, "admin server stopped");
        }
    });
    Ok(())
}

/// Serves the admission endpoints over TLS until SIGTERM or Ctrl-C. Readiness turns true once
/// the listener is bound and false at the signal; `on_signal` runs then, and open connections
/// get `grace` to finish.
pub(super) async fn serve_admission(
    webhook: Arc<Webhook>,
    listen: SocketAddr,
    tls: Arc<rustls::ServerConfig>,
    limits: ConnectionLimits,
    grace: Duration,
    on_signal: impl FnOnce() + Send + 'static,
) -> anyhow::Result<()> {
    let handle = ServerHandle::new();
    let shutdown = handle.clone();
    let readiness = webhook.readiness.clone();
    tokio::spawn(async move {
        wait_for_signal().await;
        tracing::info!("shutting down: draining connections");
        readiness.set(false);
        on_signal();
        shutdown.graceful_shutdown(grace);
    });
    let ready = handle.clone();
    let readiness = webhook.readiness.clone();
    tokio::spawn(async move {
        if let Some(addr) = ready.listening().await {
            tracing::info!(%addr, "admission webhook listening");
            readiness.set(true);
        }
    });
    let app = albatross_webhook::router(webhook);
    albatross_webhook::serve_tls(app, listen, tls, handle, limits).await.with_context(|| format!("serving on {listen}"))
}

pub(super) async fn wait_for_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(term) => term,
            Err(_) => return std::future::pending().await,
        };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}
