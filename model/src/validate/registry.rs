//! The CRDs whose schemas drive validation: Gateway API v1.6.1 (vendored, per channel) and ours.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use kube_cel::CompiledSchema;
use serde_json::Value;

use super::Channel;

macro_rules! vendored {
    ($channel:literal, $($file:literal),+ $(,)?) => {
        &[$(include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../manifests/gateway-api/",
            $channel,
            "/gateway.networking.k8s.io_",
            $file,
            ".yaml"
        ))),+]
    };
}

const STANDARD: &[&str] = vendored!(
    "standard",
    "gatewayclasses",
    "gateways",
    "httproutes",
    "grpcroutes",
    "referencegrants",
    "backendtlspolicies",
    "listenersets",
    "tlsroutes",
    "tcproutes",
    "udproutes",
);

const EXPERIMENTAL: &[&str] = vendored!(
    "experimental",
    "gatewayclasses",
    "gateways",
    "httproutes",
    "grpcroutes",
    "referencegrants",
    "backendtlspolicies",
    "listenersets",
    "tlsroutes",
    "tcproutes",
    "udproutes",
);

/// One served or unserved version of a CRD.
pub struct CrdVersion {
    pub name: String,
    pub served: bool,
    pub schema: Value,
    pub status_subresource: bool,
    compiled: OnceLock<CompiledSchema>,
}

impl CrdVersion {
    /// CEL rules compiled once, on first use.
    pub fn compiled(&self) -> &CompiledSchema {
        self.compiled.get_or_init(|| kube_cel::compile_schema(&self.schema))
    }
}

/// A CRD reduced to what validation needs.
pub struct Crd {
    pub group: String,
    pub kind: String,
    pub namespaced: bool,
    pub versions: Vec<CrdVersion>,
}

impl Crd {
    pub fn version(&self, name: &str) -> Option<&CrdVersion> {
        self.versions.iter().find(|v| v.name == name)
    }

    /// The served versions, for messages.
    pub fn served(&self) -> Vec<&str> {
        self.versions.iter().filter(|v| v.served).map(|v| v.name.as_str()).collect()
    }
}

/// All CRDs of one channel, keyed by (group, kind).
pub struct Registry {
    crds: BTreeMap<(String, String), Crd>,
}

impl Registry {
    pub fn for_channel(channel: Channel) -> Self {
        let sources = match channel {
            Channel::Standard => STANDARD,
            Channel::Experimental => EXPERIMENTAL,
        };
        let mut crds = BTreeMap::new();
        for text in sources {
            for doc in serde_norway::Deserializer::from_str(text) {
                let value: Value =
                    serde::Deserialize::deserialize(doc).expect("vendored Gateway API CRDs are valid YAML");
                if let Some(crd) = Crd::from_definition(&value) {
                    crds.insert((crd.group.clone(), crd.kind.clone()), crd);
                }
            }
        }
        for definition in albatross_k8s::aws::crds() {
            let value = serde_json::to_value(definition).expect("CRD serializes");
            if let Some(crd) = Crd::from_definition(&value) {
                crds.insert((crd.group.clone(), crd.kind.clone()), crd);
            }
        }
        Self { crds }
    }

    pub fn get(&self, group: &str, kind: &str) -> Option<&Crd> {
        self.crds.get(&(group.to_owned(), kind.to_owned()))
    }

    pub fn iter(&self) -> impl Iterator<Item = &Crd> {
        self.crds.values()
    }
}

impl Crd {
    fn from_definition(value: &Value) -> Option<Self> {
        if value.get("kind")?.as_str()? != "CustomResourceDefinition" {
            return None;
        }
        let spec = value.get("spec")?;
        let group = spec.get("group")?.as_str()?.to_owned();
        let kind = spec.pointer("/names/kind")?.as_str()?.to_owned();
        let namespaced = spec.get("scope").and_then(Value::as_str) == Some("Namespaced");
        let versions = spec
            .get("versions")?
            .as_array()?
            .iter()
            .filter_map(|v| {
                Some(CrdVersion {
                    name: v.get("name")?.as_str()?.to_owned(),
                    served: v.get("served").and_then(Value::as_bool).unwrap_or(false),
                    schema: v.pointer("/schema/openAPIV3Schema")?.clone(),
                    status_subresource: v.pointer("/subresources/status").is_some(),
                    compiled: OnceLock::new(),
                })
            })
            .collect();
        Some(Self { group, kind, namespaced, versions })
    }
}
