//! Our `gateway.k8s.aws` CRDs: the committed YAML matches the Rust types, both versions serve the
//! same schema, the schema is structural, and the valid corpus fits the Rust types.
//!
//! `ALBATROSS_BLESS=1 cargo test -p albatross-k8s --test crds` rewrites the committed YAML.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use albatross_k8s::aws::{
    self, ListenerRuleConfiguration, LoadBalancerConfiguration, TargetGroupConfiguration, crds, crds_yaml,
};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use serde_json::Value;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("k8s/ has a parent").to_path_buf()
}

fn committed_path() -> PathBuf {
    repo_root().join("manifests/crds/gateway.k8s.aws_crds.yaml")
}

fn blessing() -> bool {
    std::env::var("ALBATROSS_BLESS").is_ok_and(|v| v == "1")
}

#[test]
fn committed_yaml_matches_the_types() {
    let path = committed_path();
    let generated = crds_yaml();
    if blessing() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &generated).unwrap();
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    if committed != generated {
        let line = committed
            .lines()
            .zip(generated.lines())
            .position(|(a, b)| a != b)
            .map_or_else(|| committed.lines().count().min(generated.lines().count()) + 1, |i| i + 1);
        panic!(
            "{} is out of date with the types in k8s/src/aws (first difference at line {line}).\n\
             Regenerate it with: ALBATROSS_BLESS=1 cargo test -p albatross-k8s --test crds",
            path.display()
        );
    }
}

#[test]
fn yaml_is_deterministic_and_reads_back_as_the_crds() {
    let yaml = crds_yaml();
    assert_eq!(yaml, crds_yaml());
    assert!(yaml.starts_with("# "), "the file documents itself in a leading comment");
    let docs: Vec<CustomResourceDefinition> = serde_norway::Deserializer::from_str(&yaml)
        .map(|doc| serde::Deserialize::deserialize(doc).expect("each document is a CRD"))
        .collect();
    assert_eq!(docs, crds());
}

/// Plain scalars YAML 1.1 (kubectl's go-yaml) reads as booleans but YAML 1.2 as strings.
const YAML11_ONLY_BOOLEANS: [&str; 16] =
    ["y", "Y", "yes", "Yes", "YES", "n", "N", "no", "No", "NO", "on", "On", "ON", "off", "Off", "OFF"];

#[test]
fn yaml_means_the_same_to_yaml_1_1_readers() {
    for (number, line) in crds_yaml().lines().enumerate() {
        let scalar = line.trim_start().trim_start_matches("- ");
        let scalar = scalar.split_once(": ").map_or(scalar, |(_, value)| value);
        assert!(!YAML11_ONLY_BOOLEANS.contains(&scalar), "line {}: unquoted {scalar:?}: {line}", number + 1);
    }
    assert!(crds_yaml().contains("- 'on'"), "the enum value on is quoted");
}

#[test]
fn one_crd_per_kind_in_our_group() {
    let crds = crds();
    let kinds: Vec<&str> = crds.iter().map(|c| c.spec.names.kind.as_str()).collect();
    assert_eq!(kinds, aws::KINDS);
    for crd in &crds {
        assert_eq!(crd.spec.group, aws::GROUP);
        assert_eq!(crd.spec.scope, "Namespaced");
        let plural = &crd.spec.names.plural;
        assert_eq!(crd.metadata.name.as_deref(), Some(format!("{plural}.{}", aws::GROUP).as_str()));
        assert_eq!(plural, &format!("{}s", crd.spec.names.kind.to_lowercase()));
    }
}

#[test]
fn both_versions_serve_identical_schemas_and_v1_is_the_only_storage() {
    for crd in crds() {
        let kind = &crd.spec.names.kind;
        let names: Vec<&str> = crd.spec.versions.iter().map(|v| v.name.as_str()).collect();
        assert_eq!(names, aws::VERSIONS, "{kind}");
        let storage: Vec<&str> = crd.spec.versions.iter().filter(|v| v.storage).map(|v| v.name.as_str()).collect();
        assert_eq!(storage, [aws::STORAGE_VERSION], "{kind}: exactly one storage version");
        assert!(crd.spec.versions.iter().all(|v| v.served), "{kind}: every version served");
        let (v1, beta) = (&crd.spec.versions[0], &crd.spec.versions[1]);
        assert_eq!(v1.schema, beta.schema, "{kind}: v1 and v1beta1 schemas differ");
        assert_eq!(v1.subresources, beta.subresources, "{kind}");
        assert_eq!(v1.additional_printer_columns, beta.additional_printer_columns, "{kind}");
        assert!(v1.subresources.as_ref().and_then(|s| s.status.as_ref()).is_some(), "{kind}: status subresource");
        assert_eq!(v1.deprecated, None);
        assert_eq!(beta.deprecated, Some(true));
        assert!(beta.deprecation_warning.as_deref().is_some_and(|w| w.contains("gateway.k8s.aws/v1 ")));
    }
}

fn schema_of(crd: &CustomResourceDefinition) -> Value {
    let schema = crd.spec.versions[0].schema.as_ref().and_then(|s| s.open_api_v3_schema.as_ref());
    serde_json::to_value(schema.expect("every version has a schema")).unwrap()
}

/// Walks every schema node, calling `visit(path, node)`.
fn walk(path: &str, node: &Value, visit: &mut dyn FnMut(&str, &serde_json::Map<String, Value>)) {
    let Some(map) = node.as_object() else { panic!("{path}: a schema node must be an object") };
    visit(path, map);
    if let Some(props) = map.get("properties").and_then(Value::as_object) {
        for (name, child) in props {
            walk(&format!("{path}.{name}"), child, visit);
        }
    }
    if let Some(items) = map.get("items") {
        walk(&format!("{path}[]"), items, visit);
    }
    if let Some(extra) = map.get("additionalProperties").filter(|a| a.is_object()) {
        walk(&format!("{path}{{}}"), extra, visit);
    }
    for junctor in ["allOf", "anyOf", "oneOf"] {
        if let Some(branches) = map.get(junctor).and_then(Value::as_array) {
            for (i, branch) in branches.iter().enumerate() {
                walk(&format!("{path}<{junctor}{i}>"), branch, visit);
            }
        }
    }
}

#[test]
fn schemas_are_structural() {
    for crd in crds() {
        let kind = crd.spec.names.kind.clone();
        walk(&kind, &schema_of(&crd), &mut |path, node| {
            let in_junctor = path.contains('<');
            let typed = node.contains_key("type")
                || node.get("x-kubernetes-int-or-string") == Some(&Value::Bool(true))
                || node.get("x-kubernetes-preserve-unknown-fields") == Some(&Value::Bool(true));
            if !in_junctor {
                assert!(typed, "{path}: every node needs a type");
            } else {
                for key in ["type", "description", "default", "additionalProperties", "nullable"] {
                    assert!(!node.contains_key(key), "{path}: {key} is not allowed inside a junctor");
                }
            }
            for key in ["$ref", "definitions", "$defs", "nullable", "$schema"] {
                assert!(!node.contains_key(key), "{path}: {key} is not structural (or not ours)");
            }
            if let Some(ty) = node.get("type") {
                assert!(ty.is_string(), "{path}: type must be a single string, got {ty}");
            }
            if node.contains_key("properties") {
                assert_eq!(node.get("type"), Some(&Value::from("object")), "{path}");
            }
            if node.get("x-kubernetes-list-type") == Some(&Value::from("map")) {
                let keys = node["x-kubernetes-list-map-keys"].as_array().expect("map lists name their keys");
                let required = node["items"]["required"].as_array().cloned().unwrap_or_default();
                for key in keys {
                    assert!(required.contains(key), "{path}: list-map key {key} must be required");
                }
            }
            if let Some(rules) = node.get("x-kubernetes-validations") {
                for rule in rules.as_array().expect("validations are a list") {
                    assert!(rule["rule"].as_str().is_some_and(|r| !r.is_empty()), "{path}: {rule}");
                    assert!(rule["message"].as_str().is_some_and(|m| !m.is_empty()), "{path}: rule without message");
                }
            }
        });
    }
}

fn spec_properties(crd: &CustomResourceDefinition) -> BTreeSet<String> {
    schema_of(crd)["properties"]["spec"]["properties"].as_object().unwrap().keys().cloned().collect()
}

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|s| s.to_string()).collect()
}

#[test]
fn spec_fields_are_those_of_the_original() {
    let crds = crds();
    assert_eq!(
        spec_properties(&crds[0]),
        set(&[
            "mergingMode",
            "loadBalancerName",
            "scheme",
            "ipAddressType",
            "enforceSecurityGroupInboundRulesOnPrivateLinkTraffic",
            "customerOwnedIpv4Pool",
            "ipv4IPAMPoolId",
            "loadBalancerSubnets",
            "loadBalancerSubnetsSelector",
            "listenerConfigurations",
            "disableSecurityGroup",
            "securityGroups",
            "securityGroupPrefixes",
            "sourceRanges",
            "loadBalancerAttributes",
            "tags",
            "enableICMP",
            "manageBackendSecurityGroupRules",
            "minimumLoadBalancerCapacity",
            "wafV2",
            "shieldConfiguration",
            "defaultTargetGroupConfiguration",
        ])
    );
    assert_eq!(spec_properties(&crds[1]), set(&["targetReference", "defaultConfiguration", "routeConfigurations"]));
    assert_eq!(spec_properties(&crds[2]), set(&["actions", "conditions", "tags"]));

    let lbc = schema_of(&crds[0]);
    let spec = &lbc["properties"]["spec"]["properties"];
    let keys = |v: &Value| v["properties"].as_object().unwrap().keys().cloned().collect::<BTreeSet<_>>();
    assert_eq!(
        keys(&spec["loadBalancerSubnets"]["items"]),
        set(&["identifier", "eipAllocation", "privateIPv4Allocation", "ipv6Allocation", "sourceNatIPv6Prefix"])
    );
    assert_eq!(
        keys(&spec["listenerConfigurations"]["items"]),
        set(&[
            "protocolPort",
            "defaultCertificate",
            "certificates",
            "sslPolicy",
            "alpnPolicy",
            "targetGroupStickiness",
            "mutualAuthentication",
            "listenerAttributes",
            "quicEnabled",
        ])
    );
    let tgc = schema_of(&crds[1]);
    let props = &tgc["properties"]["spec"]["properties"]["defaultConfiguration"];
    assert_eq!(
        keys(props),
        set(&[
            "targetGroupName",
            "ipAddressType",
            "healthCheckConfig",
            "nodeSelector",
            "targetGroupAttributes",
            "targetType",
            "protocol",
            "protocolVersion",
            "targetControlPort",
            "enableMultiCluster",
            "tags",
        ])
    );
    let lrc = schema_of(&crds[2]);
    assert_eq!(
        keys(&lrc["properties"]["spec"]["properties"]["actions"]["items"]),
        set(&[
            "type",
            "forwardConfig",
            "redirectConfig",
            "fixedResponseConfig",
            "authenticateCognitoConfig",
            "authenticateOIDCConfig",
            "jwtValidationConfig",
        ])
    );
}

fn corpus_dir(which: &str) -> PathBuf {
    repo_root().join("model/tests/corpus/aws").join(which)
}

fn corpus(which: &str) -> Vec<(PathBuf, Value)> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(corpus_dir(which))
        .unwrap_or_else(|e| panic!("{}: {e}", corpus_dir(which).display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let text = std::fs::read_to_string(&p).unwrap();
            let value: Value = serde_norway::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            (p, value)
        })
        .collect()
}

/// Deserializes into the typed object and serializes back; returns the round trip.
fn typed_round_trip(value: &Value) -> Result<Value, serde_json::Error> {
    let kind = value["kind"].as_str().unwrap_or_default();
    match kind {
        "LoadBalancerConfiguration" => {
            serde_json::from_value::<LoadBalancerConfiguration>(value.clone()).and_then(serde_json::to_value)
        }
        "TargetGroupConfiguration" => {
            serde_json::from_value::<TargetGroupConfiguration>(value.clone()).and_then(serde_json::to_value)
        }
        "ListenerRuleConfiguration" => {
            serde_json::from_value::<ListenerRuleConfiguration>(value.clone()).and_then(serde_json::to_value)
        }
        other => panic!("unexpected kind {other:?}"),
    }
}

#[test]
fn valid_corpus_round_trips_through_the_rust_types() {
    let valid = corpus("valid");
    assert!(valid.len() >= 22, "at least 22 valid cases");
    let mut seen = BTreeSet::new();
    for (path, value) in &valid {
        seen.insert((value["kind"].as_str().unwrap().to_owned(), value["apiVersion"].as_str().unwrap().to_owned()));
        let mut back = typed_round_trip(value).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        // The typed objects always write the storage version; both versions share one schema.
        assert_eq!(back["apiVersion"], format!("{}/{}", aws::GROUP, aws::STORAGE_VERSION));
        back["apiVersion"] = value["apiVersion"].clone();
        assert_eq!(&back, value, "{}: the Rust types lose or change fields", path.display());
    }
    for kind in aws::KINDS {
        for version in aws::VERSIONS {
            let api_version = format!("{}/{version}", aws::GROUP);
            assert!(seen.contains(&(kind.to_owned(), api_version.clone())), "no valid {kind} {api_version}");
        }
    }
}

#[test]
fn invalid_corpus_declares_its_expectations() {
    let invalid = corpus("invalid");
    assert!(invalid.len() >= 44, "at least 44 invalid cases");
    for (path, value) in &invalid {
        let text = std::fs::read_to_string(path).unwrap();
        let header: Vec<&str> = text.lines().take_while(|l| l.starts_with('#')).collect();
        assert!(header.iter().any(|l| l.starts_with("# expect-field: ")), "{}: no expect-field", path.display());
        assert!(header.iter().any(|l| l.starts_with("# expect-message: ")), "{}: no expect-message", path.display());
        assert!(aws::KINDS.contains(&value["kind"].as_str().unwrap_or_default()), "{}", path.display());
    }
}
