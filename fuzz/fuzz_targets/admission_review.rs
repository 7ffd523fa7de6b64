//! Arbitrary bytes as an AdmissionReview body, on both endpoints. `review` must never panic:
//! anything that is not a well-formed review gets a 400 answer, anything else a 200.
//!
//! Time per input is bounded twice: the server's deadline in code (a watchdog cancels a review
//! still running after `DEADLINE`, as the server does) and libFuzzer's `-timeout`, which reports
//! any input whose work outlives the cancel flag.

#![no_main]

use std::sync::{LazyLock, Mutex};
use std::time::{Duration, Instant};

use albatross_model::validate::Cancel;
use albatross_model::{Catalog, Controllers, Validator, ValidatorOptions};
use albatross_webhook::{Endpoint, review};
use libfuzzer_sys::fuzz_target;

static VALIDATOR: LazyLock<Validator> = LazyLock::new(|| Validator::new(ValidatorOptions::default()));
static CATALOG: LazyLock<Catalog> = LazyLock::new(|| Catalog::new(&Controllers::default()));

/// The webhook's default review deadline.
const DEADLINE: Duration = Duration::from_secs(1);

/// The review in progress and when it is due; one watchdog thread cancels it when late.
static ARMED: LazyLock<Mutex<Option<(Instant, Cancel)>>> = LazyLock::new(|| {
    std::thread::spawn(|| {
        loop {
            std::thread::sleep(Duration::from_millis(10));
            if let Some((due, cancel)) = ARMED.lock().unwrap_or_else(|e| e.into_inner()).as_ref()
                && Instant::now() > *due
            {
                cancel.cancel();
            }
        }
    });
    Mutex::new(None)
});

fn arm() -> Cancel {
    let cancel = Cancel::default();
    *ARMED.lock().unwrap_or_else(|e| e.into_inner()) = Some((Instant::now() + DEADLINE, cancel.clone()));
    cancel
}

fuzz_target!(|data: &[u8]| {
    for endpoint in [Endpoint::Validate, Endpoint::Mutate] {
        let cancel = arm();
        let answer = review(&VALIDATOR, &CATALOG, None, endpoint, data, &cancel);
        assert!(answer.status == 200 || answer.status == 400, "unexpected status {}", answer.status);
        // The body must always serialize (it is what the server writes back).
        let _ = serde_json::to_vec(&answer.body).expect("answer body serializes");
    }
});
