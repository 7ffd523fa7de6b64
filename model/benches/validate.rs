//! Validation throughput on one core: `cargo bench -p albatross-model --bench validate`.
//! Figures go to BENCHMARKS.md.

use std::time::Instant;

use albatross_model::{Catalog, Controllers, Operation, Validator, ValidatorOptions};
use serde_json::{Value, json};

fn route(i: usize) -> Value {
    json!({
        "apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
        "metadata": {"name": format!("route-{i}"), "namespace": "shop"},
        "spec": {
            "parentRefs": [{"name": "web", "sectionName": "https"}],
            "hostnames": ["shop.example.com"],
            "rules": [
                {"matches": [{"path": {"type": "PathPrefix", "value": "/cart"}, "headers": [{"name": "x-tier", "value": "gold"}]}],
                 "filters": [{"type": "URLRewrite", "urlRewrite": {"path": {"type": "ReplacePrefixMatch", "replacePrefixMatch": "/v2/cart"}}}],
                 "backendRefs": [{"name": "cart", "port": 80, "weight": 90}, {"name": "cart-canary", "port": 80, "weight": 10}]},
                {"matches": [{"path": {"type": "Exact", "value": "/healthz"}, "method": "GET"}],
                 "backendRefs": [{"name": "health", "port": 8080}]}
            ]
        }
    })
}

fn gateway() -> Value {
    json!({
        "apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
        "metadata": {"name": "web", "namespace": "shop"},
        "spec": {"gatewayClassName": "aws-alb", "listeners": [
            {"name": "http", "port": 80, "protocol": "HTTP"},
            {"name": "https", "port": 443, "protocol": "HTTPS", "hostname": "*.example.com",
             "allowedRoutes": {"namespaces": {"from": "All"}}}
        ]}
    })
}

fn main() {
    let validator = Validator::new(ValidatorOptions::default());
    let catalog = Catalog::new(&Controllers::default());
    for (name, object) in [("HTTPRoute (2 rules, filter, weights)", route(0)), ("Gateway (2 listeners)", gateway())] {
        assert!(validator.validate(&object, None, Operation::Create, &catalog).allowed());
        let rounds = 20_000;
        let started = Instant::now();
        for _ in 0..rounds {
            std::hint::black_box(validator.validate(std::hint::black_box(&object), None, Operation::Create, &catalog));
        }
        let per = started.elapsed() / rounds;
        println!(
            "validate {name}: {:.1} µs each, {:.0} objects/s on one core",
            per.as_secs_f64() * 1e6,
            1.0 / per.as_secs_f64()
        );
    }
}
