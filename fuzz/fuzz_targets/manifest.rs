//! Arbitrary UTF-8 as a manifest: parse every document, then validate all parsed objects
//! together as `albatross validate` does. Neither step may panic.

#![no_main]

use std::sync::LazyLock;

use albatross_model::{Validator, ValidatorOptions, manifest};
use libfuzzer_sys::fuzz_target;

static VALIDATOR: LazyLock<Validator> = LazyLock::new(|| Validator::new(ValidatorOptions::default()));

fuzz_target!(|text: &str| {
    let docs = manifest::parse(text);
    let objects: Vec<&serde_json::Value> = docs.iter().filter_map(|d| d.as_ref().ok()).map(|d| &d.value).collect();
    let outcomes = VALIDATOR.validate_all(&objects);
    assert_eq!(outcomes.len(), objects.len());
});
