//! Golden plans: each folder under `golden/` holds `input.yaml` (and optionally
//! `certificates.yaml`, ACM certificates in DescribeCertificate's shape), and the expected
//! `expected.plan.json` (stacks) and `expected.status.yaml` (statuses). `ALBATROSS_BLESS=1`
//! rewrites the expectations; review the diff before committing it.

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

/// Plans a case's objects: the ones validation accepts, defaulted, in the given order.
pub fn plan_objects(objects: &[Value], certificates: Vec<AcmCertificate>) -> Build {
    let validator = Validator::new(ValidatorOptions::default());
    let refs: Vec<&Value> = objects.iter().collect();
    let outcomes = validator.validate_all(&refs);
    let accepted: Vec<Value> =
        objects.iter().zip(outcomes).filter(|(_, o)| o.allowed()).map(|(v, _)| validator.with_defaults(v)).collect();
    let (snapshot, skipped) = Snapshot::from_objects(accepted.iter());
    assert!(skipped.is_empty(), "objects not read: {skipped:?}");
    let env = Env { cluster_name: "golden".into(), certificates, now: "2026-11-27T00:00:00Z".into(), ..Env::default() };
    plan::build(&snapshot, &env)
}

fn load(dir: &Path) -> (Vec<Value>, Vec<AcmCertificate>) {
    let text = std::fs::read_to_string(dir.join("input.yaml")).unwrap();
    let objects = manifest::parse(&text).into_iter().map(|d| d.unwrap().value).collect();
    let certificates = match std::fs::read_to_string(dir.join("certificates.yaml")) {
        Ok(text) => serde_norway::from_str(&text).unwrap(),
        Err(_) => Vec::new(),
    };
    (objects, certificates)
}

#[test]
fn golden_plans_and_statuses_match() {
    let bless = std::env::var_os("ALBATROSS_BLESS").is_some();
    let cases = cases();
    assert!(!cases.is_empty());
    let mut failures = Vec::new();
    for dir in &cases {
        let (objects, certificates) = load(dir);
        let build = plan_objects(&objects, certificates);
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
        let (mut objects, certificates) = load(&dir);
        let forward = plan_objects(&objects, certificates.clone());
        objects.reverse();
        let backward = plan_objects(&objects, certificates);
        assert_eq!(forward, backward, "{}", dir.display());
    }
}
