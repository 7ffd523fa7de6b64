//! Golden plans: each folder under `golden/` holds `input.yaml` (and optionally
//! `certificates.yaml`, ACM certificates in DescribeCertificate's shape), and the expected
//! `expected.plan.json` (stacks) and `expected.status.yaml` (statuses). `ALBATROSS_BLESS=1`
//! rewrites the expectations; review the diff before committing it. Every object of a case must
//! pass validation, except in a folder holding an `unvalidated` marker file: there the objects
//! are planned as if they had reached the cluster without the webhook (failurePolicy Ignore),
//! which is how the plan's own refusals are tested.

use std::path::{Path, PathBuf};

use albatross_model::plan::{self, AcmCertificate, Build, Env, Snapshot};
use albatross_model::{Validator, ValidatorOptions, manifest};
use serde_json::Value;

fn cases() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    let mut dirs: Vec<PathBuf> =
        std::fs::read_dir(&root).unwrap().map(|e| e.unwrap().path()).filter(|p| p.is_dir()).collect();
    dirs.sort();
    dirs
}

/// Plans a case's objects, defaulted as the API server stores them, in the given order.
pub fn plan_objects(objects: &[Value], certificates: Vec<AcmCertificate>, validated: bool) -> Build {
    let validator = Validator::new(ValidatorOptions::default());
    if validated {
        let refs: Vec<&Value> = objects.iter().collect();
        let rejected: Vec<String> = validator
            .validate_all(&refs)
            .into_iter()
            .zip(objects)
            .filter(|(o, _)| !o.allowed())
            .map(|(o, v)| format!("{} {}: {:?}", v["kind"], v["metadata"]["name"], o.errors))
            .collect();
        assert!(
            rejected.is_empty(),
            "objects fail validation (add an `unvalidated` marker if intended): {rejected:#?}"
        );
    }
    let accepted: Vec<Value> = objects.iter().map(|v| validator.with_defaults(v)).collect();
    let (snapshot, skipped) = Snapshot::from_objects(accepted);
    assert!(skipped.is_empty(), "objects not read: {skipped:?}");
    let env = Env { cluster_name: "golden".into(), certificates, now: "2026-11-27T00:00:00Z".into(), ..Env::default() };
    plan::build(&snapshot, &env)
}

fn load(dir: &Path) -> (Vec<Value>, Vec<AcmCertificate>, bool) {
    let text = std::fs::read_to_string(dir.join("input.yaml")).unwrap();
    let objects = manifest::parse(&text).into_iter().map(|d| d.unwrap().value).collect();
    let certificates = match std::fs::read_to_string(dir.join("certificates.yaml")) {
        Ok(text) => serde_norway::from_str(&text).unwrap(),
        Err(_) => Vec::new(),
    };
    (objects, certificates, !dir.join("unvalidated").exists())
}

#[test]
fn golden_plans_and_statuses_match() {
    let bless = std::env::var_os("ALBATROSS_BLESS").is_some();
    let cases = cases();
    assert!(!cases.is_empty());
    let mut failures = Vec::new();
    for dir in &cases {
        let (objects, certificates, validated) = load(dir);
        let build = plan_objects(&objects, certificates, validated);
        let plan = serde_json::to_string_pretty(&serde_json::json!({ "stacks": build.stacks })).unwrap() + "\n";
        let status = serde_norway::to_string(&build.statuses).unwrap();
        for (file, actual) in [("expected.plan.json", &plan), ("expected.status.yaml", &status)] {
            let path = dir.join(file);
            if bless {
                std::fs::write(&path, actual).unwrap();
                continue;
            }
            let expected = std::fs::read_to_string(&path).unwrap_or_default();
            if expected != *actual {
                failures.push(format!("{} differs (ALBATROSS_BLESS=1 rewrites it)", path.display()));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn plans_do_not_depend_on_input_order() {
    for dir in cases() {
        let (mut objects, certificates, validated) = load(&dir);
        let forward = plan_objects(&objects, certificates.clone(), validated);
        objects.reverse();
        let backward = plan_objects(&objects, certificates, validated);
        assert_eq!(forward, backward, "{}", dir.display());
    }
}
