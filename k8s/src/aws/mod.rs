//! Our CRDs in group `gateway.k8s.aws`: LoadBalancerConfiguration, TargetGroupConfiguration and
//! ListenerRuleConfiguration, the kinds (and field names) of the AWS Load Balancer Controller, so
//! that its manifests work unchanged.
//!
//! Each kind is served as `v1` (the storage version) and `v1beta1` (deprecated, as in the
//! original) with the same schema, so no conversion webhook is needed. The schemas carry the
//! original's enums, bounds, defaults and CEL rules plus further rules (bounds from the ELBv2 API,
//! cross-field CEL) for settings AWS or the controller would refuse or silently ignore.
//!
//! [`crds`] builds the definitions; [`crds_yaml`] renders them as the multi-document YAML that
//! `albatross crds` prints and `manifests/crds/gateway.k8s.aws_crds.yaml` holds.

mod common;
pub mod listener_rule_configuration;
pub mod load_balancer_configuration;
pub mod target_group_configuration;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::{
    CustomResourceDefinition, CustomResourceDefinitionVersion, JSONSchemaProps,
};
use kube::CustomResourceExt;

pub use common::Attribute;
pub use listener_rule_configuration::{
    ListenerRuleConfiguration, ListenerRuleConfigurationSpec, ListenerRuleConfigurationStatus,
};
pub use load_balancer_configuration::{
    LoadBalancerConfiguration, LoadBalancerConfigurationSpec, LoadBalancerConfigurationStatus,
};
pub use target_group_configuration::{
    TargetGroupConfiguration, TargetGroupConfigurationSpec, TargetGroupConfigurationStatus,
};

/// API group of our CRDs.
pub const GROUP: &str = "gateway.k8s.aws";
/// The version objects are stored as.
pub const STORAGE_VERSION: &str = "v1";
/// The older version, still served with the same schema.
pub const DEPRECATED_VERSION: &str = "v1beta1";
/// Every version served, storage version first.
pub const VERSIONS: [&str; 2] = [STORAGE_VERSION, DEPRECATED_VERSION];
/// Kinds of the group, in the order [`crds`] returns them.
pub const KINDS: [&str; 3] = ["LoadBalancerConfiguration", "TargetGroupConfiguration", "ListenerRuleConfiguration"];

/// Comment heading [`crds_yaml`].
const YAML_HEADER: &str = "\
# CustomResourceDefinitions of group gateway.k8s.aws: LoadBalancerConfiguration,
# TargetGroupConfiguration, ListenerRuleConfiguration (v1 stored, v1beta1 served and deprecated).
# Generated from the Rust types in k8s/src/aws by `albatross crds`; do not edit by hand.
# All three kinds live in this one file. To regenerate after changing the types, run
#   ALBATROSS_BLESS=1 cargo test -p albatross-k8s --test crds
";

/// The CRDs of group `gateway.k8s.aws`, one per kind, each serving `v1` (storage) and `v1beta1`
/// with identical schemas.
pub fn crds() -> Vec<CustomResourceDefinition> {
    vec![
        serve_both_versions(LoadBalancerConfiguration::crd()),
        serve_both_versions(TargetGroupConfiguration::crd()),
        serve_both_versions(ListenerRuleConfiguration::crd()),
    ]
}

/// [`crds`] as multi-document YAML (`---` before each document), after a comment header.
/// Deterministic: the same types always render the same bytes. Strings that YAML 1.1 would read
/// as booleans (the enum values `on` and `off`) are quoted, so kubectl reads them as strings.
pub fn crds_yaml() -> String {
    let mut out = String::from(YAML_HEADER);
    for crd in crds() {
        out.push_str("---\n");
        let yaml = serde_norway::to_string(&crd).expect("a CustomResourceDefinition serializes to YAML");
        out.push_str(&common::quote_yaml11_booleans(&yaml));
    }
    out
}

/// Turns kube's single-version CRD into ours: the schema tidied, `v1` stored, and a deprecated
/// `v1beta1` with the same schema, subresources and columns.
fn serve_both_versions(mut crd: CustomResourceDefinition) -> CustomResourceDefinition {
    assert_eq!(crd.spec.versions.len(), 1, "kube derives one version per type");
    let mut v1 = crd.spec.versions.remove(0);
    assert_eq!(v1.name, STORAGE_VERSION, "the Rust types are the storage version");
    if let Some(schema) = v1.schema.as_mut().and_then(|s| s.open_api_v3_schema.as_mut()) {
        *schema = tidied(schema);
    }
    v1.served = true;
    v1.storage = true;
    let beta = CustomResourceDefinitionVersion {
        name: DEPRECATED_VERSION.to_owned(),
        served: true,
        storage: false,
        deprecated: Some(true),
        deprecation_warning: Some(format!(
            "{GROUP}/{DEPRECATED_VERSION} {} is deprecated; use {GROUP}/{STORAGE_VERSION} instead",
            crd.spec.names.kind
        )),
        ..v1.clone()
    };
    crd.spec.versions = vec![v1, beta];
    crd
}

/// The schema as published: tidied (see `common::tidy_schema`), with `apiVersion`, `kind` and
/// `metadata` declared at the root as controller-gen declares them.
fn tidied(schema: &JSONSchemaProps) -> JSONSchemaProps {
    let mut value = serde_json::to_value(schema).expect("a schema serializes to JSON");
    common::tidy_schema(&mut value);
    if let Some(properties) = value.get_mut("properties").and_then(serde_json::Value::as_object_mut) {
        properties.insert(
            "apiVersion".to_owned(),
            serde_json::json!({
                "description": "APIVersion defines the versioned schema of this representation of an object.",
                "type": "string"
            }),
        );
        properties.insert(
            "kind".to_owned(),
            serde_json::json!({
                "description": "Kind is a string value representing the REST resource this object represents.",
                "type": "string"
            }),
        );
        properties.insert("metadata".to_owned(), serde_json::json!({ "type": "object" }));
    }
    serde_json::from_value(value).expect("a tidied schema is still a schema")
}
