//! Guards for the generated Gateway API types in `src/gateway_api/`.
//!
//! * Drift: every generated file names its source CRD and that file's sha256 in its header; a
//!   vendored CRD that changed without `scripts/gen-gateway-types.sh` being rerun fails here.
//!   Every served version of every `gateway.networking.k8s.io` CRD must have a generated module.
//! * Fitness: every upstream example under `testdata/gateway-api/examples/valid` deserializes into
//!   the generated type for its apiVersion and kind, and serializes back to the same JSON (serde
//!   ignores unknown fields, so a field missing from a generated type shows up as a difference).

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

use albatross_k8s::gateway_api::{v1, v1alpha2, v1alpha3, v1beta1};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use sha2::{Digest, Sha256};

const MANIFEST_DIR: &str = env!("CARGO_MANIFEST_DIR");
const GENERATED_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/src/gateway_api");
const CRD_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../manifests/gateway-api/experimental");
const EXAMPLES_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../testdata/gateway-api/examples/valid");
const GROUP: &str = "gateway.networking.k8s.io";

fn repo_root() -> PathBuf {
    Path::new(MANIFEST_DIR).join("..")
}

/// All files below `dir` whose name ends with `suffix`, sorted.
fn files(dir: &Path, suffix: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let entries = fs::read_dir(&d).unwrap_or_else(|e| panic!("read_dir {}: {e}", d.display()));
        for entry in entries {
            let path = entry.expect("dir entry").path();
            if path.is_dir() {
                stack.push(path);
            } else if path.to_str().is_some_and(|p| p.ends_with(suffix)) {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().fold(String::new(), |mut s, b| {
        write!(s, "{b:02x}").expect("write to String");
        s
    })
}

/// Value of a `// key: value` line in the leading comment block of a generated file.
fn header<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    let prefix = format!("// {key}: ");
    text.lines().take_while(|l| l.starts_with("//")).find_map(|l| l.strip_prefix(prefix.as_str())).map(str::trim)
}

/// Generated kind files, i.e. `src/gateway_api/<version>/<plural>.rs` (not the `mod.rs` files).
fn generated_files() -> Vec<PathBuf> {
    let out: Vec<_> = files(Path::new(GENERATED_DIR), ".rs")
        .into_iter()
        .filter(|p| p.file_name().is_some_and(|n| n != "mod.rs"))
        .collect();
    assert!(!out.is_empty(), "no generated files in {GENERATED_DIR}");
    out
}

#[test]
fn generated_files_match_vendored_crds() {
    let mut stale = Vec::new();
    for file in generated_files() {
        let text = fs::read_to_string(&file).expect("read generated file");
        let name = file.display();
        let source = header(&text, "source").unwrap_or_else(|| panic!("{name}: no source"));
        let recorded = header(&text, "source-sha256").unwrap_or_else(|| panic!("{name}: no source-sha256"));
        let version = header(&text, "api-version").unwrap_or_else(|| panic!("{name}: no api-version"));
        let dir = file.parent().and_then(Path::file_name).expect("version dir");
        assert_eq!(dir.to_str(), Some(version), "{name}: api-version vs dir");

        let crd = repo_root().join(source);
        let bytes = fs::read(&crd).unwrap_or_else(|e| panic!("{name}: {}: {e}", crd.display()));
        let actual = sha256_hex(&bytes);
        if actual != recorded {
            stale.push(format!("{name}: {source} has sha256 {actual}, generated from {recorded}"));
        }
    }
    assert!(stale.is_empty(), "generated types are stale; run scripts/gen-gateway-types.sh\n{}", stale.join("\n"));
}

/// Every served version of every k8s.io CRD has a generated module and nothing else does.
#[test]
fn every_served_version_is_generated() {
    let mut served = BTreeSet::new();
    for crd in files(Path::new(CRD_DIR), ".yaml") {
        let text = fs::read_to_string(&crd).expect("read CRD");
        for doc in serde_norway::Deserializer::from_str(&text) {
            let value = Value::deserialize(doc).expect("CRD yaml");
            if value["kind"] != "CustomResourceDefinition" || value["spec"]["group"] != GROUP {
                continue; // ValidatingAdmissionPolicy, x-k8s.io kinds
            }
            let plural = value["spec"]["names"]["plural"].as_str().expect("plural");
            for version in value["spec"]["versions"].as_array().expect("versions") {
                if version["served"] == true {
                    let v = version["name"].as_str().expect("version name");
                    served.insert(format!("{v}/{plural}"));
                }
            }
        }
    }
    let generated: BTreeSet<String> = generated_files()
        .iter()
        .map(|p| {
            let rel = p.strip_prefix(GENERATED_DIR).expect("under generated dir");
            rel.with_extension("").to_str().expect("utf-8").to_owned()
        })
        .collect();
    assert_eq!(served, generated, "served CRD versions vs generated modules; run scripts/gen-gateway-types.sh");
}

/// Deserialize `value` as `T`, then check it serializes back to the same JSON.
fn roundtrip<T>(value: &Value) -> Result<(), String>
where
    T: DeserializeOwned + serde::Serialize,
{
    let typed: T = serde_json::from_value(value.clone()).map_err(|e| format!("deserialize: {e}"))?;
    let back = serde_json::to_value(&typed).map_err(|e| format!("serialize: {e}"))?;
    if &back == value { Ok(()) } else { Err(format!("round trip differs\n  input:  {value}\n  output: {back}")) }
}

/// `Ok(true)` checked, `Ok(false)` deliberately skipped.
fn check(api_version: &str, kind: &str, value: &Value) -> Result<bool, String> {
    let Some(version) = api_version.strip_prefix(&format!("{GROUP}/")) else {
        return match (api_version, kind) {
            // Not Gateway API (examples create their namespaces), and the experimental
            // x-k8s.io kinds, which are deliberately not generated.
            ("v1", "Namespace")
            | ("gateway.networking.x-k8s.io/v1alpha1", "XBackend" | "XBackendTrafficPolicy" | "XMesh") => Ok(false),
            _ => Err(format!("no generated type for {api_version} {kind}")),
        };
    };
    match (version, kind) {
        ("v1", "GatewayClass") => roundtrip::<v1::gatewayclasses::GatewayClass>(value),
        ("v1", "Gateway") => roundtrip::<v1::gateways::Gateway>(value),
        ("v1", "HTTPRoute") => roundtrip::<v1::httproutes::HttpRoute>(value),
        ("v1", "GRPCRoute") => roundtrip::<v1::grpcroutes::GrpcRoute>(value),
        ("v1", "ReferenceGrant") => roundtrip::<v1::referencegrants::ReferenceGrant>(value),
        ("v1", "BackendTLSPolicy") => roundtrip::<v1::backendtlspolicies::BackendTlsPolicy>(value),
        ("v1", "ListenerSet") => roundtrip::<v1::listenersets::ListenerSet>(value),
        ("v1", "TLSRoute") => roundtrip::<v1::tlsroutes::TlsRoute>(value),
        ("v1", "TCPRoute") => roundtrip::<v1::tcproutes::TcpRoute>(value),
        ("v1", "UDPRoute") => roundtrip::<v1::udproutes::UdpRoute>(value),
        ("v1beta1", "GatewayClass") => roundtrip::<v1beta1::gatewayclasses::GatewayClass>(value),
        ("v1beta1", "Gateway") => roundtrip::<v1beta1::gateways::Gateway>(value),
        ("v1beta1", "HTTPRoute") => roundtrip::<v1beta1::httproutes::HttpRoute>(value),
        ("v1beta1", "ReferenceGrant") => roundtrip::<v1beta1::referencegrants::ReferenceGrant>(value),
        ("v1alpha2", "TLSRoute") => roundtrip::<v1alpha2::tlsroutes::TlsRoute>(value),
        ("v1alpha2", "TCPRoute") => roundtrip::<v1alpha2::tcproutes::TcpRoute>(value),
        ("v1alpha2", "UDPRoute") => roundtrip::<v1alpha2::udproutes::UdpRoute>(value),
        ("v1alpha3", "TLSRoute") => roundtrip::<v1alpha3::tlsroutes::TlsRoute>(value),
        ("v1alpha3", "BackendTLSPolicy") => roundtrip::<v1alpha3::backendtlspolicies::BackendTlsPolicy>(value),
        _ => return Err(format!("no generated type for {api_version} {kind}")),
    }
    .map(|()| true)
}

#[test]
fn valid_examples_deserialize_into_generated_types() {
    let examples = files(Path::new(EXAMPLES_DIR), ".yaml");
    assert!(!examples.is_empty(), "no examples under {EXAMPLES_DIR}");
    let (mut checked, mut skipped, mut failures) = (0, 0, Vec::new());
    for file in &examples {
        let name = file.strip_prefix(EXAMPLES_DIR).unwrap_or(file).display().to_string();
        let text = fs::read_to_string(file).expect("read example");
        for (i, doc) in serde_norway::Deserializer::from_str(&text).enumerate() {
            let value = match Value::deserialize(doc) {
                Ok(Value::Null) => continue, // empty document, e.g. a trailing `---`
                Ok(v) => v,
                Err(e) => {
                    failures.push(format!("{name}#{i}: yaml: {e}"));
                    continue;
                }
            };
            let api_version = value["apiVersion"].as_str().unwrap_or_default();
            let kind = value["kind"].as_str().unwrap_or_default();
            match check(api_version, kind, &value) {
                Ok(true) => checked += 1,
                Ok(false) => skipped += 1,
                Err(e) => failures.push(format!("{name}#{i} ({api_version} {kind}): {e}")),
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} documents failed:\n{}",
        failures.len(),
        checked + skipped + failures.len(),
        failures.join("\n")
    );
    assert!(checked > 0, "no Gateway API documents checked");
    eprintln!("checked {checked} documents, skipped {skipped}");
}

/// The round trip is what catches fields a generated type lacks; make sure it does.
#[test]
fn roundtrip_rejects_unknown_fields() {
    let known = serde_json::json!({
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "GatewayClass",
        "metadata": {"name": "albatross"},
        "spec": {"controllerName": "gateway.k8s.aws/albatross"},
    });
    assert_eq!(check("gateway.networking.k8s.io/v1", "GatewayClass", &known), Ok(true));
    let mut unknown = known;
    unknown["spec"]["notAField"] = Value::Bool(true);
    assert!(check("gateway.networking.k8s.io/v1", "GatewayClass", &unknown).is_err());
}
