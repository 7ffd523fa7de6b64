//! Time and peak memory of `plan::build` on generated clusters:
//! `cargo bench -p albatross-model --bench build` (release profile). Figures go to BENCHMARKS.md.
//!
//! Each size is generated in memory (Gateways with HTTP and HTTPS listeners, routes spread over
//! them with path, header and method matches, one Service per route), read into a snapshot once,
//! then built several times; the best and median build times are printed.

use std::time::Instant;

use albatross_model::plan::{self, Env, Snapshot};
use serde_json::{Value, json};

fn objects(gateways: usize, routes: usize) -> Vec<Value> {
    let mut out = vec![json!({
        "apiVersion": "gateway.networking.k8s.io/v1", "kind": "GatewayClass",
        "metadata": {"name": "aws-alb"}, "spec": {"controllerName": "gateway.k8s.aws/alb"}
    })];
    for g in 0..gateways {
        out.push(json!({
            "apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
            "metadata": {"name": format!("gw-{g}"), "namespace": "bench"},
            "spec": {"gatewayClassName": "aws-alb", "listeners": [
                {"name": "http", "port": 80, "protocol": "HTTP", "allowedRoutes": {"namespaces": {"from": "Same"}}}
            ]}
        }));
    }
    for r in 0..routes {
        let g = r % gateways;
        out.push(json!({
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"name": format!("svc-{r}"), "namespace": "bench"},
            "spec": {"ports": [{"port": 80, "targetPort": 8080}]}
        }));
        out.push(json!({
            "apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
            "metadata": {"name": format!("route-{r}"), "namespace": "bench",
                         "creationTimestamp": format!("2026-01-01T00:{:02}:{:02}Z", (r / 60) % 60, r % 60)},
            "spec": {
                "parentRefs": [{"name": format!("gw-{g}")}],
                "hostnames": [format!("app-{}.example.com", r % 7)],
                "rules": [{
                    "matches": [{"path": {"type": "PathPrefix", "value": format!("/svc-{r}")},
                                 "headers": [{"type": "Exact", "name": "x-tier", "value": "gold"}]}],
                    "backendRefs": [{"name": format!("svc-{r}"), "port": 80, "group": "", "kind": "Service", "weight": 1}]
                }]
            }
        }));
    }
    out
}

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

fn main() {
    let sizes = [(1usize, 1_000usize), (100, 10_000)];
    for (gateways, routes) in sizes {
        let values = objects(gateways, routes);
        let started = Instant::now();
        let (snapshot, skipped) = Snapshot::from_objects(values);
        let read = started.elapsed();
        assert!(skipped.is_empty());
        let mut env = Env::default();
        // Quotas raised so every route fits, as a platform team would for a large ALB.
        env.limits.rules_per_alb = routes;
        env.limits.target_groups_per_alb = routes;
        let mut times = Vec::new();
        let mut rules = 0;
        for _ in 0..5 {
            let started = Instant::now();
            let build = plan::build(&snapshot, &env);
            times.push(started.elapsed());
            rules = build.stacks.iter().flat_map(|s| &s.listeners).map(|l| l.rules.len()).sum::<usize>();
        }
        times.sort();
        println!(
            "{gateways} Gateways, {routes} HTTPRoutes: {rules} ALB rules; snapshot {:.1} ms; build best {:.1} ms, median {:.1} ms; peak RSS {} MiB",
            read.as_secs_f64() * 1e3,
            times[0].as_secs_f64() * 1e3,
            times[times.len() / 2].as_secs_f64() * 1e3,
            peak_rss_kib() / 1024
        );
    }
}
