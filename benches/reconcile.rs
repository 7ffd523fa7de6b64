//! AWS calls and wall time of `albatross reconcile` against moto, behind the test-support proxy
//! that enforces AWS's rules and counts every call.
//!
//! For N listener rules (default sizes 10, 100, 1000; `ALBATROSS_BENCH_SIZES=10,100` to choose):
//! one ALB Gateway (HTTP :80) and N/10 HTTPRoutes of 10 rules each, every route forwarding to
//! its own Service, so N rules and N/10 target groups. Each size gets a fresh moto and proxy
//! and three runs of the binary:
//! 1. converge from empty,
//! 2. a no-op resync (same manifests),
//! 3. a one-route change (one rule's path edited, same length so no priority moves).
//!
//! Prints a markdown table, then the calls per action of every run (with the binary's
//! client-side time per action), to stdout. `ALBATROSS_BENCH_AWS_RULES=0` turns the proxy's AWS
//! rules off: a diagnostic for how much of the time is the proxy's quota accounting.
//!
//! AWS's API limits: the proxy applies `AwsLimits::documented()` (token buckets per ELBv2 action
//! class, 50 ms per read, 150 ms per write, AWS's time, unscaled) and the binary runs with its
//! default client-side rate limits. `ALBATROSS_BENCH_AWS_LIMITS=0` restores the old mode (no
//! proxy limits, `--aws-unlimited`). The first converge is measured against the bound
//! `1.2 x (ELBv2 mutating calls / write refill rate) + latency of the longest dependency chain`
//! (the calls before the first CreateLoadBalancer, which run one after the other, then load
//! balancer, target group, its ownership check, its attributes and their tag, listener, rule,
//! then the calls after the last CreateRule). `ALBATROSS_BENCH_APPLY_CONCURRENCY=N` passes
//! `--apply-concurrency N` (1: one write at a time, as before issue 13).
//!
//! ```sh
//! cargo bench --workspace --profile dev --bench reconcile   # reuses the dev build of the tests
//! ```

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use albatross_aws::{Aws, AwsSettings, RateLimits};
use albatross_test_support::{AwsLimits, Call, Moto, Proxy, ProxyOptions, Quotas};

const CLUSTER: &str = "bench";
const NAMESPACE: &str = "bench";
const RULES_PER_ROUTE: usize = 10;
/// Actions that create one resource each.
const CREATES: [&str; 5] =
    ["CreateLoadBalancer", "CreateListener", "CreateRule", "CreateTargetGroup", "CreateSecurityGroup"];

/// One run of the binary, as the proxy and the binary's own summary saw it.
struct Run {
    wall: Duration,
    mutating: usize,
    /// ELBv2 mutating calls the proxy admitted (not answered `Throttling`).
    elbv2_mutating: usize,
    /// Calls the proxy answered `Throttling` (its token buckets).
    throttled: usize,
    /// The longest dependency chain's latency under the proxy's limits (zero without them).
    chain: Duration,
    read: usize,
    per_action: BTreeMap<String, usize>,
    /// Client-side time per action in ms, from the binary's `aws <Action>: .. ms` lines
    /// (summed over the calls, retries included).
    millis: BTreeMap<String, u64>,
    /// `action: error` of the calls that failed (some are expected, e.g. DescribeLoadBalancers
    /// by name answering LoadBalancerNotFound before the load balancer exists).
    failures: Vec<String>,
    /// The binary's last stderr line (`aws calls: X mutating, Y read, Z failed`).
    summary: String,
    ok: bool,
}

struct Size {
    rules: usize,
    target_groups: usize,
    converge: Run,
    resync: Run,
    change: Run,
    /// (load balancers, listeners, rules, target groups) in moto after the last run.
    live: (usize, usize, usize, usize),
    limits: Option<AwsLimits>,
}

fn main() {
    let sizes: Vec<usize> = match std::env::var("ALBATROSS_BENCH_SIZES") {
        Ok(s) => s
            .split(',')
            .filter(|s| !s.trim().is_empty())
            .map(|s| s.trim().parse().unwrap_or_else(|e| panic!("ALBATROSS_BENCH_SIZES: {s:?}: {e}")))
            .collect(),
        Err(_) => vec![10, 100, 1000],
    };
    for &n in &sizes {
        assert!(n >= RULES_PER_ROUTE && n % RULES_PER_ROUTE == 0, "sizes are multiples of {RULES_PER_ROUTE}: {n}");
    }
    let runtime =
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("tokio runtime");
    let mut results = Vec::new();
    for &n in &sizes {
        eprintln!("reconcile bench: {n} rules ...");
        let size = runtime.block_on(bench(n));
        results.push(size);
    }
    print!("{}", report(&results));
    if results.iter().any(|s| !(s.converge.ok && s.resync.ok && s.change.ok)) {
        std::process::exit(1);
    }
}

async fn bench(n: usize) -> Size {
    let moto = tokio::task::spawn_blocking(Moto::start).await.unwrap();
    let quotas = Quotas { rules_per_alb: n.max(100), target_groups_per_alb: 100, ..Quotas::default() };
    // Diagnostic: `ALBATROSS_BENCH_AWS_RULES=0` turns the proxy's AWS rules (and quota counting,
    // which reads the load balancer's rules from moto on every CreateRule) off.
    let aws_rules = std::env::var("ALBATROSS_BENCH_AWS_RULES").map_or(true, |v| v != "0");
    let limits = std::env::var("ALBATROSS_BENCH_AWS_LIMITS").map_or(true, |v| v != "0").then(AwsLimits::documented);
    let proxy =
        Proxy::start(moto.endpoint(), ProxyOptions { quotas, aws_rules, limits, ..ProxyOptions::default() }).await;
    let aws = Aws::connect(&AwsSettings {
        endpoint: Some(moto.endpoint().into()),
        limits: RateLimits::unlimited(),
        ..Default::default()
    })
    .await;
    let vpc = albatross_test_support::network::load_balancer_subnets(&aws.ec2).await;

    let dir = tempfile::tempdir().unwrap();
    let routes = n / RULES_PER_ROUTE;
    std::fs::write(dir.path().join("bench.yaml"), manifests(routes, None)).unwrap();

    // The model's quota raised with the proxy's, so every rule is planned.
    let quota = n.max(100).to_string();
    let mut extra =
        vec!["--quota-rules-per-alb".to_owned(), quota, "--quota-target-groups-per-alb".into(), "100".into()];
    if limits.is_none() {
        extra.push("--aws-unlimited".into());
    }
    if let Ok(n) = std::env::var("ALBATROSS_BENCH_APPLY_CONCURRENCY") {
        extra.extend(["--apply-concurrency".to_owned(), n]);
    }
    let converge = run(&proxy, &vpc, dir.path(), &extra).await;
    let resync = run(&proxy, &vpc, dir.path(), &extra).await;
    // `/r0/p0` -> `/r0/q0`: same length, so the Gateway API precedence (and every priority)
    // stays put and only that rule's condition changes.
    std::fs::write(dir.path().join("bench.yaml"), manifests(routes, Some((0, 0)))).unwrap();
    let change = run(&proxy, &vpc, dir.path(), &extra).await;
    let live = live(&aws).await;
    drop(proxy);
    drop(moto);
    Size { rules: n, target_groups: routes, converge, resync, change, live, limits }
}

/// GatewayClass, Gateway, `routes` Services and `routes` HTTPRoutes of 10 rules
/// (`/r<i>/p<j>`); `changed = Some((i, j))` spells that rule's path `/r<i>/q<j>`.
fn manifests(routes: usize, changed: Option<(usize, usize)>) -> String {
    let mut out = format!(
        "apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {{name: alb}}
spec: {{controllerName: gateway.k8s.aws/alb}}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {{name: bench, namespace: {NAMESPACE}}}
spec:
  gatewayClassName: alb
  listeners:
  - name: http
    protocol: HTTP
    port: 80
    allowedRoutes: {{namespaces: {{from: Same}}}}
"
    );
    for i in 0..routes {
        write!(
            out,
            "---
apiVersion: v1
kind: Service
metadata: {{name: svc-{i}, namespace: {NAMESPACE}}}
spec:
  ports: [{{port: 80, targetPort: 8080, protocol: TCP}}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {{name: route-{i}, namespace: {NAMESPACE}}}
spec:
  parentRefs: [{{name: bench, sectionName: http}}]
  rules:
"
        )
        .unwrap();
        for j in 0..RULES_PER_ROUTE {
            let p = if changed == Some((i, j)) { 'q' } else { 'p' };
            writeln!(
                out,
                "  - {{matches: [{{path: {{value: /r{i}/{p}{j}}}}}], backendRefs: [{{name: svc-{i}, port: 80}}]}}"
            )
            .unwrap();
        }
    }
    out
}

async fn run(proxy: &Proxy, vpc: &str, manifests: &Path, extra: &[String]) -> Run {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_albatross"));
    cmd.args(["reconcile", "--manifests"])
        .arg(manifests)
        .args(["--aws-endpoint", proxy.endpoint(), "--cluster-name", CLUSTER])
        .args(["--vpc-id", vpc])
        .args(extra)
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env_remove("AWS_PROFILE")
        .env_remove("RUST_LOG");
    proxy.clear_calls();
    let (wall, out) = tokio::task::spawn_blocking(move || {
        let start = Instant::now();
        let out: Output = cmd.output().unwrap();
        (start.elapsed(), out)
    })
    .await
    .unwrap();
    let calls = proxy.calls();
    let mut per_action = BTreeMap::new();
    for c in &calls {
        *per_action.entry(c.action.clone()).or_insert(0) += 1;
    }
    let mutating = calls.iter().filter(|c| c.is_mutating()).count();
    let elbv2_mutating =
        calls.iter().filter(|c| c.service == "elasticloadbalancing" && c.is_mutating() && !c.rate_limited).count();
    let throttled = calls.iter().filter(|c| c.rate_limited).count();
    let chain = proxy.limits().map_or(Duration::ZERO, |l| chain(&calls, &l));
    let failures: Vec<String> = calls
        .iter()
        .filter(|c| c.error.is_some() || c.status >= 400 || c.status == 0)
        .map(|c| format!("{}: {} {}", c.action, c.status, c.error.as_deref().unwrap_or("-")))
        .collect();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let summary = stderr.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("").to_owned();
    let millis = stderr
        .lines()
        .filter_map(|l| {
            let (action, rest) = l.strip_prefix("aws ")?.split_once(": ")?;
            let ms = rest.strip_suffix(" ms")?.rsplit(", ").next()?.parse().ok()?;
            Some((action.to_owned(), ms))
        })
        .collect();
    let ok = out.status.success();
    if !ok {
        eprintln!(
            "albatross reconcile exited with {:?}\nfailed calls: {failures:?}\nstdout:\n{}\nstderr:\n{stderr}",
            out.status.code(),
            String::from_utf8_lossy(&out.stdout),
        );
    }
    Run {
        wall,
        mutating,
        elbv2_mutating,
        throttled,
        chain,
        read: calls.len() - mutating,
        failures,
        per_action,
        millis,
        summary,
        ok,
    }
}

/// The latency of the longest dependency chain of a first converge: every call before the
/// first CreateLoadBalancer (observe and resolve, one after the other), the apply's chain (load
/// balancer, target group, DescribeTags of the ownership check, target group attributes and
/// their tag when set, listener, rule), then every call after the last CreateRule.
fn chain(calls: &[Call], limits: &AwsLimits) -> Duration {
    let Some(first) = calls.iter().position(|c| c.action == "CreateLoadBalancer") else { return Duration::ZERO };
    let last = calls.iter().rposition(|c| c.action == "CreateRule").unwrap_or(first);
    let mut apply = vec!["CreateLoadBalancer", "CreateTargetGroup", "DescribeTags"];
    if calls.iter().any(|c| c.action == "ModifyTargetGroupAttributes") {
        apply.extend(["ModifyTargetGroupAttributes", "AddTags"]);
    }
    apply.extend(["CreateListener", "CreateRule"]);
    let outside = calls[..first].iter().chain(&calls[last + 1..]).map(|c| c.action.as_str());
    outside.chain(apply).map(|action| limits.latency(action)).sum()
}

/// What moto holds, read directly (not through the proxy).
async fn live(aws: &Aws) -> (usize, usize, usize, usize) {
    let lbs = aws.elbv2.describe_load_balancers().send().await.unwrap();
    let (mut listeners, mut rules) = (0, 0);
    for lb in lbs.load_balancers() {
        let ls = aws.elbv2.describe_listeners().load_balancer_arn(lb.load_balancer_arn().unwrap()).send().await;
        for l in ls.unwrap().listeners() {
            listeners += 1;
            let mut marker = None;
            loop {
                let page = aws
                    .elbv2
                    .describe_rules()
                    .listener_arn(l.listener_arn().unwrap())
                    .page_size(400)
                    .set_marker(marker)
                    .send()
                    .await
                    .unwrap();
                rules += page.rules().iter().filter(|r| r.is_default() != Some(true)).count();
                marker = page.next_marker().map(str::to_owned);
                if marker.is_none() {
                    break;
                }
            }
        }
    }
    let mut tgs = 0;
    let mut marker = None;
    loop {
        let page = aws.elbv2.describe_target_groups().set_marker(marker).send().await.unwrap();
        tgs += page.target_groups().len();
        marker = page.next_marker().map(str::to_owned);
        if marker.is_none() {
            break;
        }
    }
    (lbs.load_balancers().len(), listeners, rules, tgs)
}

fn report(sizes: &[Size]) -> String {
    let mut out = String::new();
    let secs = |d: Duration| format!("{:.2}", d.as_secs_f64());
    out.push_str(
        "| N rules | target groups | converge: wall s | mutating | read | created (LB / listeners / rules / TGs / SGs) \
         | no-op resync: mutating | read | wall s | one-route change: mutating | read | wall s |\n",
    );
    out.push_str("|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|\n");
    for s in sizes {
        let created: Vec<String> =
            CREATES.iter().map(|a| s.converge.per_action.get(*a).copied().unwrap_or(0).to_string()).collect();
        let flag = |r: &Run| if r.ok { "" } else { " (EXIT CODE NOT 0)" };
        writeln!(
            out,
            "| {} | {} | {}{} | {} | {} | {} | {}{} | {} | {} | {}{} | {} | {} |",
            s.rules,
            s.target_groups,
            secs(s.converge.wall),
            flag(&s.converge),
            s.converge.mutating,
            s.converge.read,
            created.join(" / "),
            s.resync.mutating,
            flag(&s.resync),
            s.resync.read,
            secs(s.resync.wall),
            s.change.mutating,
            flag(&s.change),
            s.change.read,
            secs(s.change.wall),
        )
        .unwrap();
    }
    out.push('\n');
    if let Some(limits) = sizes.first().and_then(|s| s.limits) {
        let refill = limits.elbv2_mutating.refill_per_second;
        writeln!(out, "Proxy: {limits}. First converge against 1.2 x (ELBv2 writes / {refill} per s) + chain:\n")
            .unwrap();
        out.push_str("| N rules | converge wall s | ELBv2 writes | throttled | chain s | bound s | wall / bound |\n");
        out.push_str("|---:|---:|---:|---:|---:|---:|---:|\n");
        for s in sizes {
            let c = &s.converge;
            let bound = 1.2 * c.elbv2_mutating as f64 / refill + c.chain.as_secs_f64();
            writeln!(
                out,
                "| {} | {} | {} | {} | {} | {bound:.2} | {:.2} |",
                s.rules,
                secs(c.wall),
                c.elbv2_mutating,
                c.throttled,
                secs(c.chain),
                c.wall.as_secs_f64() / bound
            )
            .unwrap();
        }
        out.push('\n');
    }
    for s in sizes {
        let (lbs, listeners, rules, tgs) = s.live;
        writeln!(
            out,
            "N = {}: in moto at the end: {lbs} load balancers, {listeners} listeners, {rules} rules, {tgs} target groups",
            s.rules
        )
        .unwrap();
        for (phase, r) in [("converge", &s.converge), ("no-op resync", &s.resync), ("one-route change", &s.change)] {
            let actions: Vec<String> = r
                .per_action
                .iter()
                .map(|(a, c)| match r.millis.get(a) {
                    Some(ms) => format!("{a} {c} ({ms} ms)"),
                    None => format!("{a} {c}"),
                })
                .collect();
            writeln!(out, "- {phase} ({}): {}", r.summary, actions.join(", ")).unwrap();
            if !r.failures.is_empty() {
                writeln!(out, "  - failed calls: {}", r.failures.join(", ")).unwrap();
            }
        }
        out.push('\n');
    }
    out
}
