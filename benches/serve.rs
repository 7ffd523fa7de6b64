//! `albatross serve` at fleet size, fed through the fake API server (test-support) with AWS on
//! moto behind the AWS-rules proxy with AWS's documented API limits on
//! (`AwsLimits::documented()`: token buckets per ELBv2 action class, 50/150 ms latency).
//!
//! Each Gateway of our class has two listeners (HTTP 80 and 8080) and five HTTPRoutes of one
//! rule, each attached to both listeners (ten listener rules) and forwarding to a Service of its
//! own (five target groups, three endpoints each). Phases, each reported with the proxy's calls:
//! 1. **first converge** with the proxy's clock `ALBATROSS_BENCH_TIME_SCALE` times faster than
//!    AWS's and the serve process's client-side rate limits scaled by as much
//!    (`ALBATROSS_AWS_RATE_SCALE`): time until every Gateway is Programmed, and until every load
//!    balancer carries its fingerprint; calls per Gateway by action class, throttled calls, peak
//!    memory; against 1.2 x (writes / write refill) + the longest dependency chain;
//! 2. **restart**, in AWS's time (proxy scale 1, default client limits): the serve process is
//!    killed (SIGKILL) and started again with the same identity (a container restart); time
//!    until its `albatross_stacks_confirmed_total` reaches the number of Gateways, and the
//!    ELBv2 + tagging calls and writes until then (bound: N/20 + 50 calls, 0 writes, 60 s);
//! 3. **failover**, AWS's time: a standby replica (another identity) is started, the leader is
//!    killed without releasing its Lease; time until the standby confirms every Gateway, the
//!    Lease's expiry (`--lease-duration-seconds`, default 15) included;
//! 4. **route change to status** against the new leader: an HTTPRoute's path is edited through
//!    the API and the time taken until its status carries the new generation, also without the
//!    reconcile's AWS client time (from the process's own metrics).
//!
//! Gateways past `ALBATROSS_BENCH_OURS` belong to another controller's class (in the caches
//! only, as in a shared cluster).
//!
//! Diagnostics: `ALBATROSS_BENCH_AWS_RULES=0` turns the proxy's AWS rules and quota accounting
//! off (its limits and latency stay); `ALBATROSS_BENCH_RATE_SCALE` multiplies the first leader's
//! client rate limits by another factor than the time scale. `ALBATROSS_APPLY_CONCURRENCY` and
//! `ALBATROSS_CONCURRENCY` reach the serve processes from the environment.
//!
//! ```sh
//! cargo bench --workspace --profile dev --locked --bench serve    # 1,000 in caches, 10 ours
//! ALBATROSS_BENCH_GATEWAYS=1000 ALBATROSS_BENCH_OURS=1000 ALBATROSS_BENCH_TIME_SCALE=20 \
//!   cargo bench --workspace --profile dev --locked --bench serve  # the fleet
//! ```

#[path = "serve/calls.rs"]
mod calls;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use albatross_aws::census::{CHANGING, FINGERPRINT_TAG};
use albatross_aws::{Aws, AwsSettings, RateLimits};
use albatross_test_support::kube_api::{FakeApiServer, ResourceDef};
use albatross_test_support::loopback::http_get;
use albatross_test_support::serve::ServeProcess;
use albatross_test_support::{AwsLimits, Moto, Proxy, ProxyOptions};
use calls::Summary;
use serde_json::{Value, json};

const GW: &str = "gateway.networking.k8s.io/v1";
const NAMESPACES: usize = 100;
/// Services (and target groups) per Gateway.
const SERVICES: usize = 5;

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

/// The sum of the process's metric lines starting with `name`.
fn metric(admin: u16, name: &str) -> Option<f64> {
    let (_, metrics) = http_get(admin, "/metrics")?;
    Some(
        metrics.lines().filter(|l| l.starts_with(name)).filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok()).sum(),
    )
}

/// The process's metric lines starting with `name{`, by the value of their first label.
fn by_label(admin: u16, name: &str) -> BTreeMap<String, f64> {
    let Some((_, metrics)) = http_get(admin, "/metrics") else { return BTreeMap::new() };
    let prefix = format!("{name}{{");
    metrics
        .lines()
        .filter_map(|l| {
            let rest = l.strip_prefix(&prefix)?;
            let label = rest.split('"').nth(1)?.to_owned();
            Some((label, rest.rsplit(' ').next()?.parse::<f64>().ok()?))
        })
        .collect()
}

/// Per operation: calls, client-side seconds (from send to answer, SDK retries included) and
/// mean; then the seconds spent waiting on each family's rate limiter before sending.
fn client_time(admin: u16) -> String {
    let sums = by_label(admin, "albatross_aws_api_call_duration_seconds_sum");
    let counts = by_label(admin, "albatross_aws_api_call_duration_seconds_count");
    let mut out = String::from("| operation | calls | client s | mean ms |\n|---|---:|---:|---:|\n");
    for (op, sum) in &sums {
        let n = counts.get(op).copied().unwrap_or(0.0);
        out += &format!("| {op} | {n} | {sum:.1} | {:.0} |\n", 1000.0 * sum / n.max(1.0));
    }
    let waits = by_label(admin, "albatross_aws_rate_limit_wait_seconds_total");
    out += "\nrate-limiter wait (s, summed over calls): ";
    out += &waits.iter().map(|(api, s)| format!("{api} {s:.1}")).collect::<Vec<_>>().join(", ");
    out
}

/// Sum of the AWS client time the process has spent, from its metrics.
fn aws_seconds(admin: u16) -> f64 {
    metric(admin, "albatross_aws_api_call_duration_seconds_sum").unwrap_or(0.0)
}

fn ns(i: usize) -> String {
    format!("team-{}", i % NAMESPACES)
}

/// Route `j` belongs to Gateway `j % gateways` and forwards to that Gateway's Service
/// `(j / gateways) % SERVICES`; no sectionName, so it attaches to both listeners.
fn route(j: usize, gateways: usize, path: &str) -> Value {
    let g = j % gateways;
    let service = format!("svc-{g}-{}", (j / gateways) % SERVICES);
    json!({"apiVersion": GW, "kind": "HTTPRoute", "metadata": {"name": format!("route-{j}"), "namespace": ns(g),
           "labels": {"app": format!("app-{j}"), "team": ns(g)}},
           "spec": {"parentRefs": [{"name": format!("gw-{g}")}],
                    "hostnames": [format!("app-{j}.example.com")],
                    "rules": [{"matches": [{"path": {"type": "PathPrefix", "value": path},
                                            "headers": [{"name": "x-version", "value": "v2"}]}],
                               "backendRefs": [{"name": service, "port": 80}]}]}})
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
    let listener = |name: &str, port: u16| json!({"name": name, "port": port, "protocol": "HTTP", "allowedRoutes": {"namespaces": {"from": "Same"}}});
    for g in 0..gateways {
        let class = if g < ours { "alb" } else { "other" };
        out.push(json!({"apiVersion": GW, "kind": "Gateway", "metadata": {"name": format!("gw-{g}"), "namespace": ns(g)},
                        "spec": {"gatewayClassName": class, "listeners": [listener("http", 80), listener("alt", 8080)]}}));
        for s in 0..SERVICES {
            let name = format!("svc-{g}-{s}");
            out.push(json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": ns(g)},
                            "spec": {"ports": [{"name": "http", "port": 80, "targetPort": 8080}], "selector": {"app": name}}}));
            // Three endpoints per Service, unique across the fleet, inside the moto VPC's /16.
            let endpoints: Vec<Value> = (0..3)
                .map(|k| {
                    let n = (g * SERVICES + s) * 3 + k;
                    json!({"addresses": [format!("10.0.{}.{}", n / 250 % 250, n % 250 + 4)], "conditions": {"ready": true}})
                })
                .collect();
            out.push(json!({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
                            "metadata": {"name": format!("{name}-1"), "namespace": ns(g),
                                         "labels": {"kubernetes.io/service-name": name}},
                            "addressType": "IPv4", "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
                            "endpoints": endpoints}));
        }
    }
    for j in 0..routes {
        out.push(route(j, gateways, &format!("/r{j}")));
    }
    out
}

/// Polls `f` every `every` until it answers.
fn wait<T>(what: &str, limit: Duration, every: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(every);
    }
}

fn accepted_generation(api: &FakeApiServer, namespace: &str, name: &str) -> Option<i64> {
    let r = api.get(GW, "HTTPRoute", Some(namespace), name)?;
    let parent =
        r.pointer("/status/parents")?.as_array()?.iter().find(|p| p["controllerName"] == "gateway.k8s.aws/alb")?;
    let accepted = parent["conditions"].as_array()?.iter().find(|c| c["type"] == "Accepted")?;
    accepted["observedGeneration"].as_i64()
}

fn programmed(api: &FakeApiServer, g: usize) -> bool {
    api.get(GW, "Gateway", Some(&ns(g)), &format!("gw-{g}"))
        .and_then(|gw| gw.pointer("/status/addresses/0/value").cloned())
        .is_some()
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

/// Load balancers in moto whose fingerprint tag is written (not [`CHANGING`]), read from moto
/// directly so the proxy neither counts nor limits it.
async fn fingerprinted(aws: &Aws) -> usize {
    let mut arns = Vec::new();
    let mut marker = None;
    loop {
        let Ok(page) = aws.elbv2.describe_load_balancers().set_marker(marker).send().await else { return 0 };
        arns.extend(page.load_balancers().iter().filter_map(|lb| lb.load_balancer_arn().map(str::to_owned)));
        marker = page.next_marker().map(str::to_owned);
        if marker.is_none() {
            break;
        }
    }
    let mut done = 0;
    for chunk in arns.chunks(20) {
        let Ok(tags) = aws.elbv2.describe_tags().set_resource_arns(Some(chunk.to_vec())).send().await else { return 0 };
        done += tags
            .tag_descriptions()
            .iter()
            .filter(|d| d.tags().iter().any(|t| t.key() == Some(FINGERPRINT_TAG) && t.value() != Some(CHANGING)))
            .count();
    }
    done
}

/// Starts a serve replica with its own temporary directory and log file.
/// `scale` is the proxy's clock, `rate` the multiplier of the client's default rate limits.
fn replica(
    api: &FakeApiServer,
    proxy: &Proxy,
    logs: &Path,
    name: &str,
    (scale, rate): (f64, f64),
    level: &str,
) -> ServeProcess {
    let dir = logs.join(name);
    std::fs::create_dir_all(&dir).unwrap();
    let log = std::fs::File::options().create(true).append(true).open(logs.join(format!("{name}.log"))).unwrap();
    let (rate, drift) = (rate.to_string(), (5.0 / scale).to_string());
    let identity = name.trim_end_matches(char::is_numeric).trim_end_matches('-');
    let env = [
        ("ALBATROSS_CLUSTER_NAME", "bench"),
        ("ALBATROSS_POD_NAME", identity),
        ("ALBATROSS_SKIP_API_SERVER_CHECKS", "true"),
        ("ALBATROSS_LOG_LEVEL", level),
        // AWS's limits, client side too: the default rate limits, scaled with the proxy's clock.
        ("ALBATROSS_AWS_UNLIMITED", "false"),
        ("ALBATROSS_AWS_RATE_SCALE", rate.as_str()),
        // One full check per 5 s of AWS's time (the default).
        ("ALBATROSS_DRIFT_CHECK_SECONDS", drift.as_str()),
    ];
    ServeProcess::start(env!("CARGO_BIN_EXE_albatross"), api, proxy.endpoint(), &dir, &env, Stdio::from(log))
}

/// Waits until the replica has confirmed `n` Gateways by their fingerprint; the calls until then.
fn confirmed(child: &ServeProcess, proxy: &Proxy, n: usize, limit: Duration) -> Vec<albatross_test_support::Call> {
    let admin = child.admin;
    wait("Gateways confirmed", limit, Duration::from_millis(20), || {
        (metric(admin, "albatross_stacks_confirmed_total")? >= n as f64).then_some(())
    });
    // Taken after the count: every call the confirmations needed is in, perhaps a few more.
    proxy.calls()
}

fn main() {
    let gateways = env("ALBATROSS_BENCH_GATEWAYS", 1000);
    let routes = env("ALBATROSS_BENCH_ROUTES", gateways * SERVICES);
    let ours = env("ALBATROSS_BENCH_OURS", 10).min(gateways);
    let changes = env("ALBATROSS_BENCH_CHANGES", 20);
    let scale = env("ALBATROSS_BENCH_TIME_SCALE", 20).max(1) as f64;
    let failover = env("ALBATROSS_BENCH_FAILOVER", 1) == 1;
    let level = std::env::var("ALBATROSS_BENCH_LOG_LEVEL").unwrap_or_else(|_| "info".into());
    let limits = AwsLimits::documented().with_time_scale(scale);
    // Diagnostic: `ALBATROSS_BENCH_AWS_RULES=0` turns the proxy's AWS rules off (and with them
    // its quota accounting, which reads the load balancer's rules from moto before every
    // CreateRule); AWS's rate limits and latency stay.
    let aws_rules = std::env::var("ALBATROSS_BENCH_AWS_RULES").map_or(true, |v| v != "0");
    // Diagnostic: `ALBATROSS_BENCH_RATE_SCALE` multiplies the first leader's client rate limits
    // by another factor than the proxy's clock (other client rates against the same AWS limits).
    let rate = std::env::var("ALBATROSS_BENCH_RATE_SCALE").ok().and_then(|v| v.parse::<f64>().ok()).unwrap_or(scale);
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let moto = Moto::start();
    let (proxy, api, direct) = runtime.block_on(async {
        let options = ProxyOptions { limits: Some(limits), aws_rules, ..ProxyOptions::default() };
        let proxy = Proxy::start(moto.endpoint(), options).await;
        let direct = Aws::connect(&AwsSettings {
            endpoint: Some(moto.endpoint().into()),
            limits: RateLimits::unlimited(),
            ..Default::default()
        })
        .await;
        albatross_test_support::network::load_balancer_subnets(&direct.ec2).await;
        let api = FakeApiServer::start().await;
        for def in ResourceDef::gateway_api().into_iter().chain(ResourceDef::aws()) {
            api.register(def);
        }
        (proxy, Arc::new(api), direct)
    });
    println!(
        "date: {}",
        String::from_utf8_lossy(&std::process::Command::new("date").arg("-u").output().unwrap().stdout).trim()
    );
    println!(
        "proxy limits (first converge): {limits}; AWS rules {}; first leader's client rate limits x{rate}",
        if aws_rules { "on" } else { "off" }
    );
    let started = Instant::now();
    let objects = objects(gateways, routes, ours);
    let count = objects.len();
    let bytes: usize = objects.iter().map(|o| o.to_string().len()).sum();
    for object in objects {
        api.apply(object);
    }
    println!("fed {count} objects ({:.1} MB of JSON) in {:.1} s", bytes as f64 / 1e6, started.elapsed().as_secs_f64());
    let logs = std::env::temp_dir().join(format!("albatross-bench-serve-{}", std::process::id()));
    std::fs::create_dir_all(&logs).unwrap();
    println!("serve logs: {}", logs.display());

    // 1. First converge, the proxy's clock scaled.
    let started = Instant::now();
    let leader = replica(&api, &proxy, &logs, "bench-a-1", (scale, rate), &level);
    let (admin, pid) = (leader.admin, leader.child.id());
    wait("ready", Duration::from_secs(600), Duration::from_millis(10), || {
        (http_get(admin, "/readyz")?.0 == 200).then_some(())
    });
    let ready = started.elapsed();
    std::thread::sleep(Duration::from_secs(2));
    let (rss_ready, _) = memory(pid);
    let mut next = 0;
    wait("our Gateways programmed", Duration::from_secs(7200), Duration::from_millis(200), || {
        while next < ours && programmed(&api, next) {
            next += 1;
        }
        (next == ours).then_some(())
    });
    let all_programmed = started.elapsed();
    let programmed_calls = Summary::of(&proxy.calls());
    let stamped = runtime.block_on(async {
        let deadline = Instant::now() + Duration::from_secs(3600);
        while fingerprinted(&direct).await < ours {
            assert!(Instant::now() < deadline, "timed out waiting for the fingerprints");
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        started.elapsed()
    });
    let converge = Summary::of(&proxy.calls());
    let ours_routes: Vec<usize> = (0..routes).filter(|j| j % gateways < ours).collect();
    for &j in &ours_routes {
        let name = format!("route-{j}");
        wait("route status", Duration::from_secs(600), Duration::from_millis(50), || {
            accepted_generation(&api, &ns(j % gateways), &name)
        });
    }
    let (rss_programmed, hwm_converge) = memory(pid);

    println!("\n## First converge: {ours} Gateways, proxy time x{scale}, client rate limits x{rate}\n");
    println!(
        "caches synced {:.1} s; all Programmed {:.1} s; all fingerprinted {:.1} s (wall, scaled)",
        ready.as_secs_f64(),
        all_programmed.as_secs_f64(),
        stamped.as_secs_f64()
    );
    println!(
        "memory: RSS ready {rss_ready:.1} MiB, RSS programmed {rss_programmed:.1} MiB, peak (VmHWM) {hwm_converge:.1} MiB"
    );
    // The longest chain of one stack, each link waiting its latency: security group, its
    // ingress rule, target group, load balancer, listener, rule, registration, fingerprint tag.
    let chain = 8.0 * AwsLimits::documented().write_latency.as_secs_f64();
    let (bound, pace) = converge.converge_bound(&limits, chain);
    println!(
        "bound: 1.2 x writes / refill of the slowest bucket ({pace}) + chain {chain:.2} s = {bound:.1} s of AWS time \
         = {:.1} s at x{scale}; measured to fingerprinted {:.1} s (x{scale}: {:.0} s of AWS time, moto's own time included)",
        bound / scale,
        stamped.as_secs_f64(),
        stamped.as_secs_f64() * scale
    );
    println!("\n{}", Summary::per_gateway_header());
    println!("{}", programmed_calls.per_gateway_row("until all Programmed", ours));
    println!("{}", converge.per_gateway_row("until all fingerprinted", ours));
    println!("\nactions: {}", converge.actions());
    println!("\nclient side, first leader until all fingerprinted:\n{}", client_time(admin));

    let mut current = leader;
    if failover {
        // 2. Restart, AWS's time: the same identity (a container restart) takes the Lease at once.
        drop(current);
        proxy.set_limits(Some(AwsLimits::documented()));
        println!("\nproxy limits (restart, failover, changes): {}", AwsLimits::documented());
        proxy.clear_calls();
        let started = Instant::now();
        let restarted = replica(&api, &proxy, &logs, "bench-a-2", (1.0, 1.0), &level);
        let calls = confirmed(&restarted, &proxy, ours, Duration::from_secs(3600));
        let restart = started.elapsed();
        let restart_calls = Summary::of(&calls);
        // 3. Failover: a standby with its caches synced, then the leader killed.
        let standby = replica(&api, &proxy, &logs, "bench-b-1", (1.0, 1.0), &level);
        let admin = standby.admin;
        wait("standby ready", Duration::from_secs(600), Duration::from_millis(10), || {
            (http_get(admin, "/readyz")?.0 == 200).then_some(())
        });
        let (_, hwm_restarted) = memory(restarted.child.id());
        drop(restarted);
        proxy.clear_calls();
        let started = Instant::now();
        let calls = confirmed(&standby, &proxy, ours, Duration::from_secs(3600));
        let failover = started.elapsed();
        let failover_calls = Summary::of(&calls);
        let bound_calls = ours / 20 + 50;
        println!("\n## Restart and failover, AWS's time (proxy scale 1, client limits at their defaults)\n");
        println!(
            "| | time to the last Gateway confirmed | bound | ELBv2 + tagging calls | bound | writes | bound | throttled |"
        );
        println!("|---|---:|---:|---:|---:|---:|---:|---:|");
        for (what, time, s) in [
            ("restart (SIGKILL, same identity), from process start", restart, &restart_calls),
            ("failover (SIGKILL of the leader), from the kill, Lease expiry included", failover, &failover_calls),
        ] {
            println!(
                "| {what} | {:.1} s | 60 s | {} | {bound_calls} | {} | 0 | {} |",
                time.as_secs_f64(),
                s.elbv2_and_tagging,
                s.writes,
                s.throttled
            );
        }
        println!("\n{}", Summary::per_gateway_header());
        println!("{}", restart_calls.per_gateway_row("restart", ours));
        println!("{}", failover_calls.per_gateway_row("failover", ours));
        println!("\nrestart actions: {}", restart_calls.actions());
        println!("failover actions: {}", failover_calls.actions());
        println!("peak memory (VmHWM): restarted leader {hwm_restarted:.1} MiB");
        current = standby;
    }

    // 4. Route change to status, against the current leader.
    let admin = current.admin;
    let mut totals = Vec::new();
    let mut without_aws = Vec::new();
    for k in 0..changes.min(ours_routes.len() * 10) {
        let j = ours_routes[k % ours_routes.len()];
        let name = format!("route-{j}");
        let namespace = ns(j % gateways);
        let before = aws_seconds(admin);
        let t0 = Instant::now();
        let stored = api.apply(route(j, gateways, &format!("/c{k}-{j}")));
        let generation = stored.pointer("/metadata/generation").and_then(Value::as_i64).unwrap();
        wait("status of the change", Duration::from_secs(120), Duration::from_millis(1), || {
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
    let (rss_end, hwm_end) = memory(current.child.id());
    if !totals.is_empty() {
        println!("\nroute change -> status ({} changes) | p50 | p90 | max |", totals.len());
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
    println!("\nlast leader: RSS {rss_end:.1} MiB, peak (VmHWM) {hwm_end:.1} MiB");
    println!(
        "Gateways {gateways} in the caches, {ours} ours, HTTPRoutes {routes}; proxy throttled {} calls in all",
        proxy.rate_limited()
    );
    drop(current);
    drop(runtime);
}
