//! Worst-case answer time of the webhook over the adversarial corpus
//! (`albatross_webhook::adversarial`: 3 MiB-class reviews with 30,000 parentRefs, 20,000
//! listeners, 2.5 MB strings, ...), on both endpoints, with the full rule set (the stand-alone
//! `webhook`, `validate`) and in cluster mode (`--skip-api-server-checks`, the deployed setting).
//! Each answer is what the server computes for a body: the review, its verdict, the JSON written
//! back. The bound is 1 s on one core, so run it pinned:
//!
//! ```sh
//! taskset -c 0 cargo bench --bench webhook_cost
//! ```

use std::time::{Duration, Instant};

use albatross_model::validate::Cancel;
use albatross_model::{Catalog, Controllers, Validator, ValidatorOptions};
use albatross_webhook::adversarial;
use albatross_webhook::{Endpoint, review};

const RUNS: usize = 3;
const BOUND: Duration = Duration::from_secs(1);

fn main() {
    let corpus = adversarial::corpus();
    let catalog = Catalog::new(&Controllers::default());
    let mut worst = (Duration::ZERO, String::new());
    println!("| attack | body | mode | /validate (worst of {RUNS}) | /mutate (worst of {RUNS}) | status |");
    println!("|---|---:|---|---:|---:|---|");
    for (mode, api_server_checks) in [("full rules", true), ("cluster mode", false)] {
        let validator = Validator::new(ValidatorOptions { api_server_checks, ..ValidatorOptions::default() });
        // The CEL rules of a kind compile on its first review; the server has done that long before.
        for attack in &corpus {
            let _ = review(&validator, &catalog, None, Endpoint::Validate, &attack.body, &Cancel::default());
        }
        for attack in &corpus {
            let mut times = [Duration::ZERO; 2];
            let mut status = 0;
            for (slot, endpoint) in [Endpoint::Validate, Endpoint::Mutate].into_iter().enumerate() {
                for _ in 0..RUNS {
                    let started = Instant::now();
                    let answer = review(&validator, &catalog, None, endpoint, &attack.body, &Cancel::default());
                    let written = serde_json::to_vec(&answer.body).unwrap();
                    std::hint::black_box(written);
                    let took = started.elapsed();
                    times[slot] = times[slot].max(took);
                    status = answer.status;
                    if took > worst.0 {
                        worst = (took, format!("{} ({mode}, {endpoint:?})", attack.name));
                    }
                }
            }
            println!(
                "| {} | {:.2} MiB | {mode} | {:.1} ms | {:.1} ms | {status} |",
                attack.name,
                attack.body.len() as f64 / 1048576.0,
                times[0].as_secs_f64() * 1000.0,
                times[1].as_secs_f64() * 1000.0,
            );
        }
    }
    println!();
    println!(
        "worst answer: {:.1} ms, {} (bound {} ms: {})",
        worst.0.as_secs_f64() * 1000.0,
        worst.1,
        BOUND.as_millis(),
        if worst.0 <= BOUND { "met" } else { "MISSED" }
    );
}
