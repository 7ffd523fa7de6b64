//! The upstream Gateway API examples: every valid file is accepted and every invalid file is
//! rejected, on the channel the upstream test applies them with.

use std::path::{Path, PathBuf};

use albatross_model::manifest;
use albatross_model::{Channel, Validator, ValidatorOptions};

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/gateway-api/examples")
}

fn yaml_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap_or_else(|e| panic!("{}: {e}", d.display())) {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "yaml" || e == "yml") {
                files.push(path);
            }
        }
    }
    files.sort();
    assert!(!files.is_empty(), "no examples under {}", dir.display());
    files
}

fn validator(channel: Channel) -> Validator {
    Validator::new(ValidatorOptions { channel, ..ValidatorOptions::default() })
}

/// Problems per file, as `albatross validate` would find them.
fn problems(validator: &Validator, file: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(file).unwrap();
    let docs: Vec<_> =
        manifest::parse(&text).into_iter().map(|d| d.unwrap_or_else(|e| panic!("{}: {e}", file.display()))).collect();
    let values: Vec<_> = docs.iter().map(|d| &d.value).collect();
    validator.validate_all(&values).into_iter().flat_map(|o| o.errors).map(|e| e.to_string()).collect()
}

fn assert_all_accepted(channel: Channel, dir: &str) {
    let v = validator(channel);
    let mut failures = Vec::new();
    for file in yaml_files(&examples().join(dir)) {
        let found = problems(&v, &file);
        if !found.is_empty() {
            failures.push(format!("{}: {found:#?}", file.display()));
        }
    }
    assert!(failures.is_empty(), "valid examples rejected on {channel:?}:\n{}", failures.join("\n"));
}

fn assert_all_rejected(channel: Channel, dir: &str) {
    let v = validator(channel);
    let accepted: Vec<_> = yaml_files(&examples().join(dir))
        .into_iter()
        .filter(|f| problems(&v, f).is_empty())
        .map(|f| f.display().to_string())
        .collect();
    assert!(accepted.is_empty(), "invalid examples accepted on {channel:?}: {accepted:#?}");
}

#[test]
fn valid_standard_examples_are_accepted_on_the_standard_channel() {
    assert_all_accepted(Channel::Standard, "valid/standard");
}

#[test]
fn valid_standard_examples_are_accepted_on_the_experimental_channel() {
    assert_all_accepted(Channel::Experimental, "valid/standard");
}

#[test]
fn valid_experimental_examples_are_accepted_on_the_experimental_channel() {
    assert_all_accepted(Channel::Experimental, "valid/experimental");
}

#[test]
fn invalid_standard_examples_are_rejected_on_both_channels() {
    assert_all_rejected(Channel::Standard, "invalid/standard");
    assert_all_rejected(Channel::Experimental, "invalid/standard");
}

#[test]
fn invalid_experimental_examples_are_rejected_on_the_experimental_channel() {
    assert_all_rejected(Channel::Experimental, "invalid/experimental");
}

#[test]
fn a_header_value_with_line_breaks_is_accepted_on_standard_but_not_on_experimental() {
    let file = examples().join("invalid/experimental/httproute/invalid-header-value.yaml");
    assert!(problems(&validator(Channel::Standard), &file).is_empty());
    assert!(!problems(&validator(Channel::Experimental), &file).is_empty());
}

#[test]
fn experimental_only_fields_are_unknown_on_the_standard_channel() {
    let file = examples().join("valid/experimental/http-route-timeouts/timeout-example.yaml");
    let _ = file; // timeouts are standard since v1.2; use retry, which is experimental only
    let route = serde_json::json!({
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "HTTPRoute",
        "metadata": {"name": "r"},
        "spec": {"rules": [{"retry": {"attempts": 2}, "backendRefs": [{"name": "s", "port": 80}]}]}
    });
    let outcome = validator(Channel::Standard).validate_all(&[&route]).remove(0);
    assert!(
        outcome.errors.iter().any(|e| e.field == "spec.rules[0].retry" && e.message.contains("unknown field")),
        "{outcome:?}"
    );
    assert!(validator(Channel::Experimental).validate_all(&[&route])[0].allowed());
}

/// Each invalid example is rejected for the reason `EXPECTED.md` gives: (file, field, message part).
const REASONS: &[(&str, &str, &str)] = &[
    ("gateway/duplicate-listeners.yaml", "spec.listeners[1]", "Duplicate value"),
    ("gateway/duplicate-listeners.yaml", "spec.listeners", "Listener name must be unique"),
    ("gateway/hostname-tcp.yaml", "spec.listeners", "hostname must not be specified"),
    ("gateway/hostname-udp.yaml", "spec.listeners", "hostname must not be specified"),
    ("gateway/invalid-addresses.yaml", "spec.addresses[5].value", "must be of type ipv4"),
    ("gateway/invalid-addresses.yaml", "spec.addresses[9]", "Hostname value must be empty"),
    ("gateway/invalid-listener-name.yaml", "spec.listeners[0].name", "should match"),
    ("gateway/invalid-listener-port.yaml", "spec.listeners[0].port", "less than or equal to 65535"),
    ("gateway/invalid-tls-mode.yaml", "spec.listeners", "tls mode must be Terminate for protocol HTTPS"),
    ("gateway/tlsconfig-tcp.yaml", "spec.listeners", "tls must not be specified"),
    ("gatewayclass/invalid-controller.yaml", "spec.controllerName", "should match"),
    ("httproute/duplicate-header-match.yaml", "spec.rules[0].matches[0].headers[1]", "Duplicate value"),
    ("httproute/duplicate-query-match.yaml", "spec.rules[0].matches[0].queryParams[1]", "Duplicate value"),
    (
        "httproute/httproute-portless-backend.yaml",
        "spec.rules[0].backendRefs[0]",
        "Must have port for Service reference",
    ),
    ("httproute/httproute-portless-service.yaml", "spec.rules[0].backendRefs[0]", "Must have port"),
    ("httproute/invalid-backend-group.yaml", "spec.rules[0].backendRefs[0].group", "should match"),
    ("httproute/invalid-backend-kind.yaml", "spec.rules[0].backendRefs[0].kind", "should match"),
    ("httproute/invalid-backend-port.yaml", "spec.rules[0].backendRefs[0].port", "65535"),
    (
        "httproute/invalid-filter-duplicate-header.yaml",
        "spec.rules[0].filters[0].requestHeaderModifier.remove[1]",
        "Duplicate value",
    ),
    (
        "httproute/invalid-filter-duplicate.yaml",
        "spec.rules[0].filters",
        "RequestHeaderModifier filter cannot be repeated",
    ),
    (
        "httproute/invalid-filter-empty.yaml",
        "spec.rules[0].filters[0]",
        "filter.requestHeaderModifier must be specified",
    ),
    ("httproute/invalid-filter-wrong-field.yaml", "spec.rules[0].filters[0]", "filter.requestRedirect must be nil"),
    ("httproute/invalid-header-name.yaml", "spec.rules[0].matches[0].headers[0].name", "should match"),
    ("httproute/invalid-hostname.yaml", "spec.hostnames[0]", "should match"),
    (
        "httproute/invalid-httpredirect-hostname.yaml",
        "spec.rules[0].filters[0].requestRedirect.hostname",
        "should match",
    ),
    ("httproute/invalid-httpredirect-hostname.yaml", "spec.rules[0]", "must not be used together with backendRefs"),
    ("httproute/invalid-method.yaml", "spec.rules[0].matches[0].method", "Unsupported value"),
    (
        "httproute/invalid-path-alphanum-specialchars-mix.yaml",
        "spec.rules[0].matches[0].path",
        "must only contain valid characters",
    ),
    ("httproute/invalid-path-specialchars.yaml", "spec.rules[0].matches[0].path", "must only contain valid characters"),
    (
        "httproute/invalid-request-redirect-with-backendref.yaml",
        "spec.rules[0]",
        "must not be used together with backendRefs",
    ),
    ("referencegrant/missing-from.yaml", "spec.from", "Required value"),
    ("referencegrant/missing-ns.yaml", "spec.from[0].namespace", "Required value"),
    ("referencegrant/missing-to.yaml", "spec.to", "Required value"),
    ("tlsroute/invalid-hostname.yaml", "spec.hostnames", "Hostnames must be valid based on RFC-1123"),
    ("tlsroute/no-hostname.yaml", "spec.hostnames", "Required value"),
];

#[test]
fn invalid_standard_examples_are_rejected_for_the_documented_reason() {
    for channel in [Channel::Standard, Channel::Experimental] {
        let v = validator(channel);
        for (file, field, part) in REASONS {
            let found = problems(&v, &examples().join("invalid/standard").join(file));
            let prefix = format!("{field}: ");
            assert!(
                found.iter().any(|p| p.starts_with(&prefix) && p.contains(part)),
                "{channel:?} {file}: expected {field}: ...{part}..., found {found:#?}"
            );
        }
    }
}

#[test]
#[ignore = "prints every finding; run by hand"]
fn dump_invalid_findings() {
    for channel in [Channel::Standard, Channel::Experimental] {
        let v = validator(channel);
        for file in yaml_files(&examples().join("invalid")) {
            println!("{channel:?} {}: {:#?}", file.display(), problems(&v, &file));
        }
    }
}
