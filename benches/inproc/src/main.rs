//! Times `albatross_webhook::review` in-process on one thread, and the parts of a validation,
//! to tell the webhook's own cost from TLS and HTTP.
//!
//! Usage: albatross-bench-inproc [REVIEW.json] [SECONDS_PER_STEP]

use std::hint::black_box;
use std::time::{Duration, Instant};

use albatross_model::validate::Cancel;
use albatross_model::{Catalog, Controllers, Operation, Validator, ValidatorOptions};
use albatross_webhook::{Endpoint, review};
use serde_json::Value;

fn time(name: &str, budget: Duration, mut f: impl FnMut()) -> f64 {
    for _ in 0..50 {
        f();
    }
    let started = Instant::now();
    let mut n = 0u64;
    while started.elapsed() < budget {
        for _ in 0..20 {
            f();
        }
        n += 20;
    }
    let per = started.elapsed().as_secs_f64() / n as f64;
    println!("{name:<44} {:>9.1} us/op {:>10.0} ops/s", per * 1e6, 1.0 / per);
    per
}

fn main() {
    let mut args = std::env::args().skip(1);
    let path = args.next().unwrap_or_else(|| "benches/webhook/review-httproute.json".into());
    let secs: f64 = args.next().map_or(3.0, |s| s.parse().expect("seconds"));
    let budget = Duration::from_secs_f64(secs);
    let body = std::fs::read(&path).expect("review body");

    let validator = Validator::new(ValidatorOptions::default());
    let catalog = Catalog::new(&Controllers::default());
    let review_json: Value = serde_json::from_slice(&body).expect("JSON");
    let object = review_json["request"]["object"].clone();
    let api_version = object["apiVersion"].as_str().expect("apiVersion");
    let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
    let kind = object["kind"].as_str().expect("kind");
    let crd = validator.registry().get(group, kind).expect("a kind we validate");
    let crd_version = crd.version(version).expect("served version");
    let defaulted = kube_cel::apply_defaults(&crd_version.schema, &object);

    let answer = review(&validator, &catalog, None, Endpoint::Validate, &body, &Cancel::default());
    println!("{path}: {} bytes, validate answer {} {}", body.len(), answer.status, answer.body["response"]["allowed"]);

    let total = time("review(Validate) (whole webhook logic)", budget, || {
        black_box(review(&validator, &catalog, None, Endpoint::Validate, black_box(&body), &Cancel::default()));
    });
    time("review(Mutate)", budget, || {
        black_box(review(&validator, &catalog, None, Endpoint::Mutate, black_box(&body), &Cancel::default()));
    });
    time("  serde_json::from_slice(body)", budget, || {
        black_box(serde_json::from_slice::<Value>(black_box(&body)).unwrap());
    });
    time("  Validator::validate(object)", budget, || {
        black_box(validator.validate(black_box(&object), None, Operation::Create, &catalog));
    });
    time("    kube_cel::apply_defaults", budget, || {
        black_box(kube_cel::apply_defaults(&crd_version.schema, black_box(&object)));
    });
    let cel = time("    kube_cel::validate_compiled (CEL)", budget, || {
        let _ = black_box(kube_cel::validate_compiled(crd_version.compiled(), black_box(&defaulted), None));
    });
    time("  Validator::defaults(object) (mutate)", budget, || {
        black_box(validator.defaults(black_box(&object)));
    });
    // The cel crate's `matches()` builds a new Regex on every call; HTTPRoute's CEL rule on
    // `spec.rules[].matches[].path` calls it once per Exact/PathPrefix path match.
    let pattern = r"^(?:[-A-Za-z0-9/._~!$&'()*+,;=:@]|[%][0-9a-fA-F]{2})+$";
    let regex = time("  regex::Regex::new(HTTPRoute path rule)", budget, || {
        black_box(regex::Regex::new(black_box(pattern)).unwrap());
    });
    let paths = object.pointer("/spec/rules").and_then(Value::as_array).map_or(0, |rules| {
        rules
            .iter()
            .filter_map(|r| r.get("matches").and_then(Value::as_array))
            .flatten()
            .filter(|m| {
                m.pointer("/path/type").and_then(Value::as_str).is_none_or(|t| t == "Exact" || t == "PathPrefix")
            })
            .count()
    });
    println!("CEL share of review(Validate): {:.0}%", cel / total * 100.0);
    println!(
        "regex compiles in CEL matches(): {paths} per review = {:.0} us ({:.0}% of review(Validate))",
        regex * paths as f64 * 1e6,
        regex * paths as f64 / total * 100.0
    );
}
