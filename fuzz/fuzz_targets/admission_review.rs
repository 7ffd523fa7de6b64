//! Arbitrary bytes as an AdmissionReview body, on both endpoints. `review` must never panic:
//! anything that is not a well-formed review gets a 400 answer, anything else a 200.

#![no_main]

use std::sync::LazyLock;

use albatross_model::{Catalog, Controllers, Validator, ValidatorOptions};
use albatross_webhook::{Endpoint, review};
use libfuzzer_sys::fuzz_target;

static VALIDATOR: LazyLock<Validator> = LazyLock::new(|| Validator::new(ValidatorOptions::default()));
static CATALOG: LazyLock<Catalog> = LazyLock::new(|| Catalog::new(&Controllers::default()));

fuzz_target!(|data: &[u8]| {
    for endpoint in [Endpoint::Validate, Endpoint::Mutate] {
        let answer = review(&VALIDATOR, &CATALOG, endpoint, data);
        assert!(answer.status == 200 || answer.status == 400, "unexpected status {}", answer.status);
        // The body must always serialize (it is what the server writes back).
        let _ = serde_json::to_vec(&answer.body).expect("answer body serializes");
    }
});
