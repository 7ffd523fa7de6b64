//! Our corpora: `corpus/aws` (the gateway.k8s.aws CRDs) and `corpus/aws-limits` (what AWS load
//! balancers cannot do, on objects of our classes). Files in `valid/` must produce no error; files
//! in `invalid/` must be rejected with every `# expect-field:` path among the errors and every
//! `# expect-message:` text in one of them. `# expect-warning:` names a field that must be warned
//! about, in either folder.

use std::path::{Path, PathBuf};

use albatross_model::{Validator, ValidatorOptions, manifest};

struct Case {
    file: PathBuf,
    fields: Vec<String>,
    messages: Vec<String>,
    warnings: Vec<String>,
    errors: Vec<String>,
    found_warnings: Vec<String>,
}

fn cases(dir: &str) -> Vec<Case> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus").join(dir);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap_or_else(|e| panic!("{}: {e}", root.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    let validator = Validator::new(ValidatorOptions::default());
    files
        .into_iter()
        .map(|file| {
            let text = std::fs::read_to_string(&file).unwrap();
            let header = |key: &str| -> Vec<String> {
                text.lines().filter_map(|l| l.strip_prefix(key)).map(|v| v.trim().to_owned()).collect()
            };
            let docs: Vec<_> = manifest::parse(&text)
                .into_iter()
                .map(|d| d.unwrap_or_else(|e| panic!("{}: {e}", file.display())))
                .collect();
            let values: Vec<_> = docs.iter().map(|d| &d.value).collect();
            let outcomes = validator.validate_all(&values);
            assert!(outcomes.iter().any(|o| o.handled), "{}: no object validated", file.display());
            Case {
                fields: header("# expect-field:"),
                messages: header("# expect-message:"),
                warnings: header("# expect-warning:"),
                errors: outcomes.iter().flat_map(|o| &o.errors).map(ToString::to_string).collect(),
                found_warnings: outcomes.iter().flat_map(|o| &o.warnings).map(ToString::to_string).collect(),
                file,
            }
        })
        .collect()
}

fn check_warnings(case: &Case) {
    for field in &case.warnings {
        assert!(
            case.found_warnings.iter().any(|w| w.starts_with(&format!("{field}: "))),
            "{}: expected a warning on {field}, got {:#?}",
            case.file.display(),
            case.found_warnings
        );
    }
}

fn assert_valid(dir: &str, at_least: usize) {
    let cases = cases(dir);
    assert!(cases.len() >= at_least, "{dir}: {} cases, want {at_least}", cases.len());
    for case in &cases {
        assert!(case.errors.is_empty(), "{}: {:#?}", case.file.display(), case.errors);
        check_warnings(case);
    }
}

fn assert_invalid(dir: &str, at_least: usize) {
    let cases = cases(dir);
    assert!(cases.len() >= at_least, "{dir}: {} cases, want {at_least}", cases.len());
    for case in &cases {
        let file = case.file.display();
        assert!(!case.fields.is_empty(), "{file}: no # expect-field: header");
        assert!(!case.errors.is_empty(), "{file}: accepted");
        for field in &case.fields {
            assert!(
                case.errors.iter().any(|e| e.starts_with(&format!("{field}: "))),
                "{file}: no error on {field}: {:#?}",
                case.errors
            );
        }
        for message in &case.messages {
            assert!(
                case.errors.iter().any(|e| e.contains(message.as_str())),
                "{file}: no error saying {message:?}: {:#?}",
                case.errors
            );
        }
        check_warnings(case);
    }
}

#[test]
fn valid_aws_crd_objects_are_accepted() {
    assert_valid("aws/valid", 20);
}

#[test]
fn invalid_aws_crd_objects_are_rejected_on_the_named_field() {
    assert_invalid("aws/invalid", 40);
}

#[test]
fn objects_within_aws_limits_are_accepted() {
    assert_valid("aws-limits/valid", 6);
}

#[test]
fn objects_beyond_aws_limits_are_rejected_on_the_named_field() {
    assert_invalid("aws-limits/invalid", 15);
}
