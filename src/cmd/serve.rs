//! `albatross serve`: in the cluster. Every replica serves the admission webhook and keeps
//! watch caches; the holder of the Lease reconciles. Readiness is the webhook's (TLS loaded,
//! listener bound, caches synced), never leadership.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use albatross_certs::{PemFiles, ReloadingResolver};
use albatross_model::Validator;
use albatross_model::validate::Catalog;
use albatross_reconciler::cache::Kind;
use albatross_reconciler::readiness::Injector;
use albatross_reconciler::webhook_certs::Bootstrap;
use albatross_reconciler::{Controller, Elector, LeaseSettings, Settings};
use albatross_webhook::Webhook;
use anyhow::Context;
use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::routing::get;
use prometheus_client::registry::Registry;

use super::{AwsArgs, DefaultsArgs, QuotaArgs, RuleArgs};

#[derive(clap::Args, Debug)]
pub struct ServeArgs {
    /// Address of the TLS admission endpoints.
    #[arg(long, env = "ALBATROSS_LISTEN", default_value = "0.0.0.0:9443")]
    pub listen: SocketAddr,
    /// Address of /healthz, /readyz and /metrics (plain HTTP).
    #[arg(long, env = "ALBATROSS_ADMIN_LISTEN", default_value = "0.0.0.0:8080")]
    pub admin_listen: SocketAddr,
    /// PEM certificate chain (cert-manager); re-read when it changes. Without it the replicas
    /// keep their own CA and pair in --cert-secret.
    #[arg(long, env = "ALBATROSS_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key; re-read when it changes.
    #[arg(long, env = "ALBATROSS_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Secret (in --namespace) holding the self-managed CA and serving pair.
    #[arg(long, env = "ALBATROSS_CERT_SECRET", default_value = "albatross-webhook-tls")]
    pub cert_secret: String,
    /// Service in front of the webhook: the serving certificate names it.
    #[arg(long, env = "ALBATROSS_WEBHOOK_SERVICE", default_value = "albatross-webhook")]
    pub webhook_service: String,
    /// Validating and Mutating webhook configurations whose caBundle is kept current.
    #[arg(long, env = "ALBATROSS_WEBHOOK_CONFIGURATION", default_value = "albatross")]
    pub webhook_configuration: String,
    /// Namespace the controller runs in (Lease, certificate Secret, records of shared target groups).
    #[arg(long, env = "ALBATROSS_NAMESPACE", default_value = "albatross-system")]
    pub namespace: String,
    /// This replica's name: the Lease holder identity. Default: the host name.
    #[arg(long, env = "ALBATROSS_POD_NAME")]
    pub pod_name: Option<String>,
    #[arg(long, env = "ALBATROSS_LEASE_NAME", default_value = "albatross-leader")]
    pub lease_name: String,
    /// Seconds a Lease holder that stopped renewing keeps it.
    #[arg(long, env = "ALBATROSS_LEASE_DURATION_SECONDS", default_value_t = 15)]
    pub lease_duration_seconds: u64,
    /// Seconds between full resyncs (every Gateway again, orphan sweep).
    #[arg(long, env = "ALBATROSS_RESYNC_SECONDS", default_value_t = 600)]
    pub resync_seconds: u64,
    /// Gateways reconciled at once.
    #[arg(long, env = "ALBATROSS_CONCURRENCY", default_value_t = 4)]
    pub concurrency: usize,
    /// Seconds between two full checks (every listener, rule, target group and target read) of
    /// Gateways a resync confirmed by their load balancer's fingerprint: 5 s spends about 4 of
    /// the account's 10 ELBv2 reads a second on checks.
    #[arg(long, env = "ALBATROSS_DRIFT_CHECK_SECONDS", default_value_t = 5.0)]
    pub drift_check_seconds: f64,
    /// Skip the checks the API server runs before calling validating webhooks.
    #[arg(long, env = "ALBATROSS_SKIP_API_SERVER_CHECKS")]
    pub skip_api_server_checks: bool,
    /// Seconds open webhook connections get to finish at shutdown.
    #[arg(long, env = "ALBATROSS_SHUTDOWN_GRACE", default_value_t = 10)]
    pub shutdown_grace: u64,
    #[command(flatten)]
    pub aws: AwsArgs,
    #[command(flatten)]
    pub rules: RuleArgs,
    #[command(flatten)]
    pub quotas: QuotaArgs,
    #[command(flatten)]
    pub defaults: DefaultsArgs,
}

pub fn run(args: ServeArgs) -> anyhow::Result<ExitCode> {
    args.aws.cluster()?;
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(serve(args))?;
    Ok(ExitCode::SUCCESS)
}

struct Admin {
    webhook: Arc<Webhook>,
    controller: Arc<Controller>,
    registry: Registry,
}

fn admin_router(admin: Arc<Admin>) -> Router {
    Router::new()
        .route(
            "/healthz",
            get(|State(a): State<Arc<Admin>>| async move {
                // A core task that ended leaves the replica half-working: restart it.
                let ended = a.controller.liveness.ended();
                match ended.is_empty() {
                    true => (StatusCode::OK, "ok".to_owned()),
                    false => (StatusCode::SERVICE_UNAVAILABLE, format!("core tasks ended: {}", ended.join(", "))),
                }
            }),
        )
        .route(
            "/readyz",
            get(|State(a): State<Arc<Admin>>| async move {
                match (a.webhook.readiness.get(), a.controller.synced()) {
                    (true, true) => (StatusCode::OK, "ok"),
                    (false, _) => (StatusCode::SERVICE_UNAVAILABLE, "webhook not serving"),
                    (true, false) => (StatusCode::SERVICE_UNAVAILABLE, "caches not synced"),
                }
            }),
        )
        .route(
            "/metrics",
            get(|State(a): State<Arc<Admin>>| async move {
                a.controller.metrics.queue_depth.set(a.controller.queue.depth() as i64);
                let mut out = String::new();
                let _ = prometheus_client::encoding::text::encode(&mut out, &a.registry);
                ([(header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")], out)
            }),
        )
        .with_state(admin)
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let client = kube::Client::try_default().await.context("connecting to the Kubernetes API")?;
    let identity = args
        .pod_name
        .clone()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| format!("albatross-{}", std::process::id()));

    let mut refresh_certificates = None;
    let files = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => PemFiles { cert: cert.clone(), key: key.clone() },
        _ => {
            let bootstrap = Bootstrap {
                namespace: args.namespace.clone(),
                secret: args.cert_secret.clone(),
                service: args.webhook_service.clone(),
                configuration: args.webhook_configuration.clone(),
                dir: std::env::temp_dir().join("albatross-certs"),
            };
            let files = bootstrap.ensure(&client).await.context("bootstrapping the serving certificate")?;
            refresh_certificates = Some(bootstrap.keep_fresh(client.clone(), Duration::from_secs(3600)));
            files
        }
    };
    let resolver = Arc::new(ReloadingResolver::new(files).context("loading the serving certificate")?);
    let tls = Arc::new(albatross_certs::server_config(resolver.clone())?);

    let mut options = args.rules.options();
    options.api_server_checks = !args.skip_api_server_checks;
    let controllers = options.controllers.clone();
    let webhook = Arc::new(Webhook::new(Validator::new(options)));
    super::webhook::watch_certificate_expiry(resolver, webhook.clone());

    let deployer = args.aws.deployer(&args.aws.cluster()?).await;
    let lease = LeaseSettings {
        namespace: args.namespace.clone(),
        name: args.lease_name.clone(),
        identity: identity.clone(),
        duration: Duration::from_secs(args.lease_duration_seconds.max(3)),
    };
    let (elector, leadership) = Elector::new(client.clone(), lease, deployer.aws.fence.clone());
    let settings = Settings {
        cluster_name: deployer.cluster.clone(),
        namespace: args.namespace.clone(),
        controllers: controllers.clone(),
        limits: args.quotas.limits(),
        default_ssl_policy: args.defaults.default_ssl_policy.clone(),
        default_target_type: args.defaults.target_type(),
        resync: Duration::from_secs(args.resync_seconds.max(10)),
        concurrency: args.concurrency,
        instance: Some(identity),
        rediscover: Duration::from_secs(30),
        drift_interval: Duration::try_from_secs_f64(args.drift_check_seconds).unwrap_or(Duration::from_secs(5)),
    };
    let mut registry = Registry::default();
    webhook.metrics.register(&mut registry);
    deployer.aws.metrics.register(registry.sub_registry_with_prefix("albatross"));
    let controller = Controller::new(client.clone(), deployer, leadership, settings);
    controller.metrics.register(registry.sub_registry_with_prefix("albatross"));
    let liveness = controller.liveness.clone();
    if let Some(refresh) = refresh_certificates {
        liveness.spawn("certificates", refresh);
    }
    tokio::spawn(controller.clone().run());
    liveness.spawn("catalog", refresh_catalog(webhook.clone(), controller.clone(), controllers));
    let injector =
        Injector::new(controller.settings.controllers.clone()).with_default_target_type(args.defaults.target_type());
    let cached = controller.clone();
    let _ = webhook.pod_gates.set(Box::new(move |namespace, pod| injector.gates(&cached.cache, namespace, pod)));
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let elector = liveness.spawn("elector", elector.run(stopped));

    let admin = Arc::new(Admin { webhook: webhook.clone(), controller, registry });
    super::webhook::spawn_admin(args.admin_listen, admin_router(admin)).await?;
    let grace = Duration::from_secs(args.shutdown_grace);
    let limits = albatross_webhook::ConnectionLimits::default();
    let served = super::webhook::serve_admission(webhook, args.listen, tls, limits, grace, move || {
        // The elector releases the lease; the controllers stop writing with it.
        let _ = stop.send(true);
    })
    .await;
    // The lease goes back before the process ends, so the next leader starts at once.
    let _ = tokio::time::timeout(Duration::from_secs(5), elector).await;
    served
}

/// Keeps the webhook's view of classes, Gateways and configurations current from the watch
/// caches, for its cross-object checks.
async fn refresh_catalog(
    webhook: Arc<Webhook>,
    controller: Arc<Controller>,
    controllers: albatross_model::Controllers,
) {
    let kinds = [
        Kind::GatewayClass,
        Kind::Gateway,
        Kind::LoadBalancerConfiguration,
        Kind::TargetGroupConfiguration,
        Kind::ListenerRuleConfiguration,
    ];
    let mut seen = None;
    loop {
        // Endpoint and node churn does not rebuild it.
        let generation = controller.cache.generation(&kinds);
        if seen != Some(generation) {
            seen = Some(generation);
            let objects: Vec<Arc<serde_json::Value>> = kinds.iter().flat_map(|k| controller.cache.list(*k)).collect();
            let catalog = Catalog::from_objects(objects.iter().map(|o| o.as_ref()), &controllers);
            *webhook.catalog.write().unwrap_or_else(|e| e.into_inner()) = catalog;
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
}

#[cfg(test)]
mod tests {
    use albatross_aws::deploy::Deployer;
    use albatross_aws::resolve::{ResolveSettings, Resolver};
    use albatross_aws::{Aws, AwsSettings};
    use albatross_model::validate::ValidatorOptions;
    use albatross_test_support::loopback::http_get;

    use super::*;

    #[tokio::test]
    async fn dead_core_task_turns_healthz_false() {
        // Built, never run: nothing listens at these addresses.
        let nowhere = "http://127.0.0.1:9";
        let client = kube::Client::try_from(kube::Config::new(nowhere.parse().unwrap())).unwrap();
        let aws = Aws::connect(&AwsSettings { endpoint: Some(nowhere.into()), ..Default::default() }).await;
        let deployer = Deployer::new(aws.clone(), Resolver::new(aws, ResolveSettings::new("test")), "test");
        let lease = LeaseSettings {
            namespace: "ns".into(),
            name: "lease".into(),
            identity: "a".into(),
            duration: Duration::from_secs(15),
        };
        let (_elector, leadership) = Elector::new(client.clone(), lease, deployer.aws.fence.clone());
        let settings = Settings {
            cluster_name: "test".into(),
            namespace: "ns".into(),
            controllers: Default::default(),
            limits: Default::default(),
            default_ssl_policy: albatross_model::plan::DEFAULT_SSL_POLICY.into(),
            default_target_type: albatross_model::plan::wire::TargetType::Ip,
            resync: Duration::from_secs(600),
            concurrency: 1,
            instance: None,
            rediscover: Duration::from_secs(30),
            drift_interval: Duration::from_secs(5),
        };
        let controller = Controller::new(client, deployer, leadership, settings);
        let liveness = controller.liveness.clone();
        let webhook = Arc::new(Webhook::new(Validator::new(ValidatorOptions::default())));
        let admin = Arc::new(Admin { webhook, controller, registry: Registry::default() });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move { axum::serve(listener, admin_router(admin)).await });
        let healthz = || tokio::task::spawn_blocking(move || http_get(port, "/healthz").expect("an answer"));

        assert_eq!(healthz().await.unwrap().0, 200);
        liveness.spawn("elector", async { panic!("a bug") }).await.unwrap();
        let (status, body) = healthz().await.unwrap();
        assert_eq!(status, 503);
        assert!(body.ends_with("core tasks ended: elector"), "{body}");
    }
}
