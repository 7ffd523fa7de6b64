//! `albatross serve` at cluster scale, fed through the fake API server (test-support) with AWS on
//! moto behind the AWS-rules proxy:
//! - resident memory of the serve process with G Gateways and R HTTPRoutes (plus one Service and
//!   one EndpointSlice per Gateway, 100 namespaces) in its watch caches, when ready (caches
//!   synced) and after its own Gateways are programmed;
//! - time from a route change (an HTTPRoute's path edited through the API) to the route's status
//!   update carrying the new generation, over N changes, with the AWS client time of each
//!   reconcile (from the process's own `aws_api_call_duration_seconds` metric) subtracted.
//!
//! Every Gateway is in the caches; only the first O (`ALBATROSS_BENCH_OURS`, default 10) are of
//! our class and get load balancers in moto (each costs about 25 AWS calls), the others belong to
//! another controller's class, as in a shared cluster.
//!
//! ```sh
//! cargo build && cargo bench --profile dev --bench serve
//! ALBATROSS_BENCH_GATEWAYS=1000 ALBATROSS_BENCH_ROUTES=10000 ALBATROSS_BENCH_OURS=10 \
//!   ALBATROSS_BENCH_CHANGES=20 cargo bench --profile dev --bench serve
//! ```

use albatross_test_support::loopback::http_get;
use std::sync::Arc;
use std::time::{Duration, Instant};

use albatross_aws::{Aws, AwsSettings, RateLimits};
use albatross_test_support::kube_api::{FakeApiServer, ResourceDef};
use albatross_test_support::serve::ServeProcess;
use albatross_test_support::{Moto, Proxy, ProxyOptions};
use serde_json::{Value, json};

const GW: &str = "gateway.networking.k8s.io/v1";
const NAMESPACES: usize = 100;

fn env(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// (VmRSS, VmHWM) of a process in MiB.
fn memory(pid: u32) -> (f64, f64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<f64>().ok())
            .map_or(0.0, |kb| kb / 1024.0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// Sum of the AWS client time the process has spent, from its metrics.
fn aws_seconds(admin: u16) -> f64 {
    let (_, metrics) = http_get(admin, "/metrics").unwrap();
    metrics
        .lines()
        .filter(|l| l.starts_with("albatross_aws_api_call_duration_seconds_sum"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

fn ns(i: usize) -> String {
    format!("team-{}", i % NAMESPACES)
}

fn route(j: usize, gateways: usize, path: &str) -> Value {
    let g = j % gateways;
    json!({"apiVersion": GW, "kind": "HTTPRoute", "metadata": {"name": format!("route-{j}"), "namespace": ns(g),
           "labels": {"app": format!("app-{j}"), "team": ns(g)}},
           "spec": {"parentRefs": [{"name": format!("gw-{g}")}],
                    "hostnames": [format!("app-{j}.example.com")],
                    "rules": [{"matches": [{"path": {"type": "PathPrefix", "value": path}},
                                           {"headers": [{"name": "x-version", "value": "v2"}]}],
                               "backendRefs": [{"name": format!("svc-{g}"), "port": 80}]}]}})
}

fn objects(gateways: usize, routes: usize, ours: usize) -> Vec<Value> {
    let mut out = vec![
        json!({"apiVersion": GW, "kind": "GatewayClass", "metadata": {"name": "alb"},
               "spec": {"controllerName": "gateway.k8s.aws/alb"}}),
        json!({"apiVersion": GW, "kind": "GatewayClass", "metadata": {"name": "other"},
               "spec": {"controllerName": "example.com/other"}}),
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "albatross-system"}}),
    ];
    for i in 0..NAMESPACES {
        out.push(
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns(i), "labels": {"team": ns(i)}}}),
        );
    }
    for g in 0..gateways {
        let class = if g < ours { "alb" } else { "other" };
        out.push(json!({"apiVersion": GW, "kind": "Gateway", "metadata": {"name": format!("gw-{g}"), "namespace": ns(g)},
                        "spec": {"gatewayClassName": class, "listeners": [
                            {"name": "http", "port": 80, "protocol": "HTTP", "allowedRoutes": {"namespaces": {"from": "Same"}}}]}}));
        out.push(json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": format!("svc-{g}"), "namespace": ns(g)},
                        "spec": {"ports": [{"name": "http", "port": 80, "targetPort": 8080}], "selector": {"app": format!("svc-{g}")}}}));
        let endpoints: Vec<Value> = (0..3)
            .map(|k| {
                json!({"addresses": [format!("10.0.{}.{}", (g * 3 + k) / 250 % 2, (g * 3 + k) % 250 + 4)],
                            "conditions": {"ready": true}})
            })
            .collect();
        out.push(json!({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
                        "metadata": {"name": format!("svc-{g}-1"), "namespace": ns(g),
                                     "labels": {"kubernetes.io/service-name": format!("svc-{g}")}},
                        "addressType": "IPv4", "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
                        "endpoints": endpoints}));
    }
    for j in 0..routes {
        out.push(route(j, gateways, &format!("/r{j}")));
    }
    out
}

fn wait<T>(what: &str, limit: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(1));
    }
}

fn accepted_generation(api: &FakeApiServer, namespace: &str, name: &str) -> Option<i64> {
    let r = api.get(GW, "HTTPRoute", Some(namespace), name)?;
    let parent =
        r.pointer("/status/parents")?.as_array()?.iter().find(|p| p["controllerName"] == "gateway.k8s.aws/alb")?;
    let accepted = parent["conditions"].as_array()?.iter().find(|c| c["type"] == "Accepted")?;
    accepted["observedGeneration"].as_i64()
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn main() {
    let gateways = env("ALBATROSS_BENCH_GATEWAYS", 1000);
    let routes = env("ALBATROSS_BENCH_ROUTES", 10_000);
    let ours = env("ALBATROSS_BENCH_OURS", 10).min(gateways);
    let changes = env("ALBATROSS_BENCH_CHANGES", 20);
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let moto = Moto::start();
    let (proxy, api) = runtime.block_on(async {
        let proxy = Proxy::start(moto.endpoint(), ProxyOptions::default()).await;
        let aws = Aws::connect(&AwsSettings {
            endpoint: Some(moto.endpoint().into()),
            limits: RateLimits::unlimited(),
            ..Default::default()
        })
        .await;
        albatross_test_support::network::load_balancer_subnets(&aws.ec2).await;
        let api = FakeApiServer::start().await;
        for def in ResourceDef::gateway_api().into_iter().chain(ResourceDef::aws()) {
            api.register(def);
        }
        (proxy, Arc::new(api))
    });
    let started = Instant::now();
    let objects = objects(gateways, routes, ours);
    let count = objects.len();
    let bytes: usize = objects.iter().map(|o| o.to_string().len()).sum();
    for object in objects {
        api.apply(object);
    }
    println!("fed {count} objects ({:.1} MB of JSON) in {:.1} s", bytes as f64 / 1e6, started.elapsed().as_secs_f64());

    let dir = tempfile::tempdir().unwrap();
    let log = std::fs::File::create(dir.path().join("serve.log")).unwrap();
    let started = Instant::now();
    let env = [
        ("ALBATROSS_CLUSTER_NAME", "bench"),
        ("ALBATROSS_POD_NAME", "bench"),
        ("ALBATROSS_SKIP_API_SERVER_CHECKS", "true"),
        ("ALBATROSS_LOG_LEVEL", "warn"),
    ];
    let child =
        ServeProcess::start(env!("CARGO_BIN_EXE_albatross"), &api, proxy.endpoint(), dir.path(), &env, log.into());
    let admin = child.admin;
    let pid = child.child.id();
    wait("ready", Duration::from_secs(600), || (http_get(admin, "/readyz")?.0 == 200).then_some(()));
    let ready = started.elapsed();
    std::thread::sleep(Duration::from_secs(2));
    let (rss_ready, _) = memory(pid);
    wait("our Gateways programmed", Duration::from_secs(1800), || {
        let done = (0..ours).all(|g| {
            api.get(GW, "Gateway", Some(&ns(g)), &format!("gw-{g}"))
                .and_then(|gw| gw.pointer("/status/addresses/0/value").cloned())
                .is_some()
        });
        done.then_some(())
    });
    let programmed = started.elapsed();
    // Routes of our Gateways: route j belongs to Gateway j % gateways.
    let ours_routes: Vec<usize> = (0..routes).filter(|j| j % gateways < ours).collect();
    for &j in &ours_routes {
        let name = format!("route-{j}");
        wait("route status", Duration::from_secs(600), || accepted_generation(&api, &ns(j % gateways), &name));
    }
    std::thread::sleep(Duration::from_secs(2));
    let (rss_programmed, _) = memory(pid);

    let mut totals = Vec::new();
    let mut without_aws = Vec::new();
    for k in 0..changes.min(ours_routes.len().max(1) * 10) {
        let j = ours_routes[k % ours_routes.len()];
        let name = format!("route-{j}");
        let namespace = ns(j % gateways);
        let before = aws_seconds(admin);
        let t0 = Instant::now();
        let stored = api.apply(route(j, gateways, &format!("/c{k}-{j}")));
        let generation = stored.pointer("/metadata/generation").and_then(Value::as_i64).unwrap();
        wait("status of the change", Duration::from_secs(120), || {
            (accepted_generation(&api, &namespace, &name)? >= generation).then_some(())
        });
        let total = t0.elapsed().as_secs_f64();
        // The reconcile's AWS time; measured after the status landed, so it is all in.
        let aws = aws_seconds(admin) - before;
        totals.push(total * 1000.0);
        without_aws.push((total - aws).max(0.0) * 1000.0);
        std::thread::sleep(Duration::from_millis(200));
    }
    totals.sort_by(f64::total_cmp);
    without_aws.sort_by(f64::total_cmp);
    let (rss_end, hwm) = memory(pid);
    println!();
    println!(
        "| Gateways | HTTPRoutes | ours | caches synced | ours programmed | RSS ready | RSS programmed | RSS end | peak RSS |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    println!(
        "| {gateways} | {routes} | {ours} | {:.1} s | {:.1} s | {rss_ready:.1} MiB | {rss_programmed:.1} MiB | {rss_end:.1} MiB | {hwm:.1} MiB |",
        ready.as_secs_f64(),
        programmed.as_secs_f64()
    );
    if !totals.is_empty() {
        println!();
        println!("route change -> status ({} changes) | p50 | p90 | max |", totals.len());
        println!("|---|---:|---:|---:|");
        let row = |name: &str, v: &[f64]| {
            println!(
                "| {name} | {:.0} ms | {:.0} ms | {:.0} ms |",
                percentile(v, 0.5),
                percentile(v, 0.9),
                v[v.len() - 1]
            );
        };
        row("total", &totals);
        row("excluding AWS client time", &without_aws);
    }
    println!("\nAWS calls through the proxy: {} ({} mutating)", proxy.calls().len(), proxy.mutating_calls().len());
    drop(child);
    drop(runtime);
}
