//! What a cluster needs to run `albatross serve`: the plain manifests (`manifests/deploy`), the
//! Helm chart (`charts/albatross`) and the CRDs, checked without a cluster: they parse, the
//! Deployment is safe to run, the webhooks and Services fit together, every setting of the
//! binary is set or documented, the chart matches the plain manifests, and the ServiceAccount
//! gets exactly the Kubernetes API access the controller uses.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use albatross_test_support::rbac::{Grant, Rbac};
use serde::Deserialize;
use serde_json::{Value, json};

const NAMESPACE: &str = "albatross-system";

/// Env vars of `albatross serve` that manifests/deploy/deployment.yaml leaves at the binary's
/// default (the file's header comment says why). Everything else `serve --help` lists is set.
const LEFT_AT_DEFAULT: &[(&str, &str)] = &[
    ("ALBATROSS_TLS_CERT", "unset: bootstrap mode makes its own CA; set with cert-manager"),
    ("ALBATROSS_TLS_KEY", "unset: bootstrap mode makes its own CA; set with cert-manager"),
    ("ALBATROSS_VPC_ID", "unset: discovered"),
    ("ALBATROSS_AWS_ENDPOINT", "unset: the real AWS endpoints"),
];

/// Every grant the ServiceAccount albatross-system/albatross must have, and all it may have:
/// (verb, API group, resource, namespace or "" for cluster-wide, resourceNames).
const EXPECTED_GRANTS: &[(&str, &str, &str, &str, &[&str])] = &[
    // Gateway API objects: watched.
    ("get", "gateway.networking.k8s.io", "gatewayclasses", "", &[]),
    ("list", "gateway.networking.k8s.io", "gatewayclasses", "", &[]),
    ("watch", "gateway.networking.k8s.io", "gatewayclasses", "", &[]),
    ("get", "gateway.networking.k8s.io", "gateways", "", &[]),
    ("list", "gateway.networking.k8s.io", "gateways", "", &[]),
    ("watch", "gateway.networking.k8s.io", "gateways", "", &[]),
    ("get", "gateway.networking.k8s.io", "httproutes", "", &[]),
    ("list", "gateway.networking.k8s.io", "httproutes", "", &[]),
    ("watch", "gateway.networking.k8s.io", "httproutes", "", &[]),
    ("get", "gateway.networking.k8s.io", "grpcroutes", "", &[]),
    ("list", "gateway.networking.k8s.io", "grpcroutes", "", &[]),
    ("watch", "gateway.networking.k8s.io", "grpcroutes", "", &[]),
    ("get", "gateway.networking.k8s.io", "tlsroutes", "", &[]),
    ("list", "gateway.networking.k8s.io", "tlsroutes", "", &[]),
    ("watch", "gateway.networking.k8s.io", "tlsroutes", "", &[]),
    ("get", "gateway.networking.k8s.io", "tcproutes", "", &[]),
    ("list", "gateway.networking.k8s.io", "tcproutes", "", &[]),
    ("watch", "gateway.networking.k8s.io", "tcproutes", "", &[]),
    ("get", "gateway.networking.k8s.io", "udproutes", "", &[]),
    ("list", "gateway.networking.k8s.io", "udproutes", "", &[]),
    ("watch", "gateway.networking.k8s.io", "udproutes", "", &[]),
    ("get", "gateway.networking.k8s.io", "referencegrants", "", &[]),
    ("list", "gateway.networking.k8s.io", "referencegrants", "", &[]),
    ("watch", "gateway.networking.k8s.io", "referencegrants", "", &[]),
    ("get", "gateway.networking.k8s.io", "listenersets", "", &[]),
    ("list", "gateway.networking.k8s.io", "listenersets", "", &[]),
    ("watch", "gateway.networking.k8s.io", "listenersets", "", &[]),
    // Gateway finalizers.
    ("patch", "gateway.networking.k8s.io", "gateways", "", &[]),
    ("update", "gateway.networking.k8s.io", "gateways", "", &[]),
    // The gateway-exists finalizer on GatewayClasses in use.
    ("patch", "gateway.networking.k8s.io", "gatewayclasses", "", &[]),
    // Status.
    ("patch", "gateway.networking.k8s.io", "gatewayclasses/status", "", &[]),
    ("update", "gateway.networking.k8s.io", "gatewayclasses/status", "", &[]),
    ("patch", "gateway.networking.k8s.io", "gateways/status", "", &[]),
    ("update", "gateway.networking.k8s.io", "gateways/status", "", &[]),
    ("patch", "gateway.networking.k8s.io", "httproutes/status", "", &[]),
    ("update", "gateway.networking.k8s.io", "httproutes/status", "", &[]),
    ("patch", "gateway.networking.k8s.io", "grpcroutes/status", "", &[]),
    ("update", "gateway.networking.k8s.io", "grpcroutes/status", "", &[]),
    ("patch", "gateway.networking.k8s.io", "tlsroutes/status", "", &[]),
    ("update", "gateway.networking.k8s.io", "tlsroutes/status", "", &[]),
    ("patch", "gateway.networking.k8s.io", "tcproutes/status", "", &[]),
    ("update", "gateway.networking.k8s.io", "tcproutes/status", "", &[]),
    ("patch", "gateway.networking.k8s.io", "udproutes/status", "", &[]),
    ("update", "gateway.networking.k8s.io", "udproutes/status", "", &[]),
    ("patch", "gateway.networking.k8s.io", "listenersets/status", "", &[]),
    ("update", "gateway.networking.k8s.io", "listenersets/status", "", &[]),
    // Our configuration CRDs.
    ("get", "gateway.k8s.aws", "loadbalancerconfigurations", "", &[]),
    ("list", "gateway.k8s.aws", "loadbalancerconfigurations", "", &[]),
    ("watch", "gateway.k8s.aws", "loadbalancerconfigurations", "", &[]),
    ("get", "gateway.k8s.aws", "targetgroupconfigurations", "", &[]),
    ("list", "gateway.k8s.aws", "targetgroupconfigurations", "", &[]),
    ("watch", "gateway.k8s.aws", "targetgroupconfigurations", "", &[]),
    ("get", "gateway.k8s.aws", "listenerruleconfigurations", "", &[]),
    ("list", "gateway.k8s.aws", "listenerruleconfigurations", "", &[]),
    ("watch", "gateway.k8s.aws", "listenerruleconfigurations", "", &[]),
    // Core and discovery.
    ("get", "", "services", "", &[]),
    ("list", "", "services", "", &[]),
    ("watch", "", "services", "", &[]),
    ("get", "", "namespaces", "", &[]),
    ("list", "", "namespaces", "", &[]),
    ("watch", "", "namespaces", "", &[]),
    ("get", "", "nodes", "", &[]),
    ("list", "", "nodes", "", &[]),
    ("watch", "", "nodes", "", &[]),
    ("get", "discovery.k8s.io", "endpointslices", "", &[]),
    ("list", "discovery.k8s.io", "endpointslices", "", &[]),
    ("watch", "discovery.k8s.io", "endpointslices", "", &[]),
    // OIDC client credentials, by name.
    ("get", "", "secrets", "", &[]),
    // Pod readiness gates: pods by name, the gate condition on their status.
    ("get", "", "pods", "", &[]),
    ("patch", "", "pods/status", "", &[]),
    // Events, in the namespace of the object they are about.
    ("create", "events.k8s.io", "events", "", &[]),
    ("patch", "events.k8s.io", "events", "", &[]),
    // Bootstrap mode: caBundle of our own webhook configurations.
    ("get", "admissionregistration.k8s.io", "validatingwebhookconfigurations", "", &["albatross"]),
    ("patch", "admissionregistration.k8s.io", "validatingwebhookconfigurations", "", &["albatross"]),
    ("get", "admissionregistration.k8s.io", "mutatingwebhookconfigurations", "", &["albatross"]),
    ("patch", "admissionregistration.k8s.io", "mutatingwebhookconfigurations", "", &["albatross"]),
    // Own namespace: leader election and the bootstrap Secret.
    ("create", "coordination.k8s.io", "leases", NAMESPACE, &[]),
    ("get", "coordination.k8s.io", "leases", NAMESPACE, &["albatross-leader"]),
    ("update", "coordination.k8s.io", "leases", NAMESPACE, &["albatross-leader"]),
    ("create", "", "secrets", NAMESPACE, &[]),
    ("get", "", "secrets", NAMESPACE, &["albatross-webhook-tls"]),
    ("update", "", "secrets", NAMESPACE, &["albatross-webhook-tls"]),
    // Own namespace: the records of shared target groups (`enableMultiCluster`), by name.
    ("create", "", "configmaps", NAMESPACE, &[]),
    ("get", "", "configmaps", NAMESPACE, &[]),
    ("update", "", "configmaps", NAMESPACE, &[]),
    ("delete", "", "configmaps", NAMESPACE, &[]),
];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(path: impl AsRef<Path>) -> String {
    let path = root().join(path);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The non-empty documents of a YAML file.
fn documents_of(text: &str, what: &str) -> Vec<Value> {
    serde_norway::Deserializer::from_str(text)
        .map(|doc| Value::deserialize(doc).unwrap_or_else(|e| panic!("{what}: {e}")))
        .filter(|v| !v.is_null())
        .collect()
}

fn documents(path: impl AsRef<Path>) -> Vec<Value> {
    let path = path.as_ref();
    documents_of(&read(path), &path.display().to_string())
}

fn yaml_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root().join(dir)];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "yaml" || e == "yml") {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

fn deploy_objects() -> Vec<Value> {
    yaml_files(Path::new("manifests/deploy")).iter().flat_map(documents).collect()
}

fn object<'a>(objects: &'a [Value], kind: &str, name: &str) -> &'a Value {
    objects
        .iter()
        .find(|o| o["kind"] == kind && o["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("no {kind} {name} in manifests/deploy"))
}

fn deployment(objects: &[Value]) -> &Value {
    object(objects, "Deployment", "albatross")
}

fn container(deployment: &Value) -> &Value {
    let containers = deployment["spec"]["template"]["spec"]["containers"].as_array().unwrap();
    assert_eq!(containers.len(), 1, "one container");
    &containers[0]
}

/// `name -> value` of the container's plain env vars; downward-API ones map to their fieldPath.
fn env_of(container: &Value) -> BTreeMap<String, String> {
    container["env"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let value = match (&e["value"], &e["valueFrom"]["fieldRef"]["fieldPath"]) {
                (Value::String(v), _) => v.clone(),
                (_, Value::String(path)) => format!("fieldRef:{path}"),
                other => panic!("env {}: {other:?}", e["name"]),
            };
            (e["name"].as_str().unwrap().to_string(), value)
        })
        .collect()
}

/// Whether `selector` (a map of labels) selects `labels`.
fn selects(selector: &Value, labels: &Value) -> bool {
    let selector = selector.as_object().expect("selector labels");
    !selector.is_empty() && selector.iter().all(|(k, v)| labels.get(k) == Some(v))
}

fn pod_labels(objects: &[Value]) -> Value {
    deployment(objects)["spec"]["template"]["metadata"]["labels"].clone()
}

fn strings(value: &Value) -> Vec<&str> {
    value.as_array().map(|a| a.iter().filter_map(Value::as_str).collect()).unwrap_or_default()
}

// (a) Everything parses.

#[test]
fn every_manifest_parses_into_objects_with_api_version_kind_and_name() {
    let mut files = yaml_files(Path::new("manifests"));
    files.extend(yaml_files(Path::new("charts/albatross/crds")));
    assert!(files.len() > 20, "{files:?}");
    for dir in ["crds", "gateway-api/standard", "gateway-api/experimental", "deploy"] {
        assert!(files.iter().any(|f| f.starts_with(root().join("manifests").join(dir))), "nothing in {dir}");
    }
    for file in files {
        if file.file_name().is_some_and(|n| n == "kustomization.yaml" || n == "kustomization.yml") {
            // kustomize's own file (upstream's has no apiVersion/kind): its resources must exist.
            let docs = documents(&file);
            let resources = strings(&docs[0]["resources"]);
            assert!(!resources.is_empty(), "{}: no resources", file.display());
            for resource in resources {
                assert!(file.parent().unwrap().join(resource).exists(), "{}: {resource} is missing", file.display());
            }
            continue;
        }
        let docs = documents(&file);
        assert!(!docs.is_empty(), "{}: no document", file.display());
        for doc in docs {
            let where_ = file.display();
            assert!(doc["apiVersion"].as_str().is_some_and(|v| !v.is_empty()), "{where_}: apiVersion: {doc}");
            assert!(doc["kind"].as_str().is_some_and(|v| !v.is_empty()), "{where_}: kind");
            assert!(doc["metadata"]["name"].as_str().is_some_and(|v| !v.is_empty()), "{where_}: metadata.name");
        }
    }
}

#[test]
fn the_kustomization_lists_every_deploy_manifest_and_kubectl_apply_dash_f_skips_it() {
    let kustomization = documents_of(&read("manifests/deploy/Kustomization"), "Kustomization");
    assert_eq!(kustomization[0]["kind"], "Kustomization");
    let listed: BTreeSet<&str> = strings(&kustomization[0]["resources"]).into_iter().collect();
    let files: Vec<String> = yaml_files(Path::new("manifests/deploy"))
        .iter()
        .map(|f| f.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(listed, files.iter().map(String::as_str).collect(), "resources of manifests/deploy/Kustomization");
    // `kubectl apply -f manifests/deploy` reads every .yaml file: a kustomization.yaml there
    // would fail as an object of an unknown kind.
    assert!(!files.iter().any(|f| f.starts_with("kustomization.")), "{files:?}");
}

#[test]
fn namespaced_deploy_objects_are_in_albatross_system() {
    const CLUSTER_SCOPED: &[&str] = &[
        "Namespace",
        "ClusterRole",
        "ClusterRoleBinding",
        "ValidatingWebhookConfiguration",
        "MutatingWebhookConfiguration",
    ];
    let objects = deploy_objects();
    assert!(objects.iter().any(|o| o["kind"] == "Namespace" && o["metadata"]["name"] == NAMESPACE));
    for o in &objects {
        let kind = o["kind"].as_str().unwrap();
        let ns = o["metadata"]["namespace"].as_str();
        if CLUSTER_SCOPED.contains(&kind) {
            assert_eq!(ns, None, "{kind} {} is cluster-scoped", o["metadata"]["name"]);
        } else {
            assert_eq!(ns, Some(NAMESPACE), "{kind} {}", o["metadata"]["name"]);
        }
    }
}

// (b) The Deployment, its PDB and Services.

#[test]
fn the_deployment_runs_two_replicas_that_roll_without_losing_one() {
    let objects = deploy_objects();
    let spec = &deployment(&objects)["spec"];
    assert_eq!(spec["replicas"], 2);
    assert_eq!(spec["strategy"]["type"], "RollingUpdate");
    assert_eq!(spec["strategy"]["rollingUpdate"]["maxUnavailable"], 0);
    assert_eq!(spec["strategy"]["rollingUpdate"]["maxSurge"], 1);
    assert!(selects(&spec["selector"]["matchLabels"], &spec["template"]["metadata"]["labels"]));
    let pod = &spec["template"]["spec"];
    assert_eq!(pod["serviceAccountName"], "albatross");
    assert_eq!(pod["terminationGracePeriodSeconds"], 30);
    assert!(pod.get("priorityClassName").is_none(), "system-cluster-critical is refused outside kube-system");
    // Replicas spread over nodes (preferred, so a one-node cluster still runs both).
    let spread = pod["topologySpreadConstraints"].as_array().unwrap();
    assert!(spread.iter().any(|c| c["topologyKey"] == "kubernetes.io/hostname"
        && c["whenUnsatisfiable"] == "ScheduleAnyway"
        && selects(&c["labelSelector"]["matchLabels"], &spec["template"]["metadata"]["labels"])));
    let c = container(deployment(&objects));
    assert_eq!(c["image"], "ghcr.io/albatross-gw/albatross:0.1.0");
    let command: Vec<&str> = strings(&c["command"]).into_iter().chain(strings(&c["args"])).collect();
    assert_eq!(command, ["albatross", "serve"]);
}

#[test]
fn the_deployment_probes_readyz_and_healthz_on_the_admin_port() {
    let objects = deploy_objects();
    let c = container(deployment(&objects));
    let ports: BTreeMap<&str, &Value> =
        c["ports"].as_array().unwrap().iter().map(|p| (p["name"].as_str().unwrap(), &p["containerPort"])).collect();
    assert_eq!(ports.get("webhook"), Some(&&Value::from(9443)));
    assert_eq!(ports.get("admin"), Some(&&Value::from(8080)));
    let env = env_of(c);
    assert_eq!(env["ALBATROSS_LISTEN"], "0.0.0.0:9443");
    assert_eq!(env["ALBATROSS_ADMIN_LISTEN"], "0.0.0.0:8080");
    for (probe, path) in [("readinessProbe", "/readyz"), ("livenessProbe", "/healthz")] {
        assert_eq!(c[probe]["httpGet"]["path"], path, "{probe}");
        assert!(c[probe]["httpGet"]["port"] == "admin" || c[probe]["httpGet"]["port"] == 8080, "{probe}");
        assert!(c[probe]["httpGet"].get("scheme").is_none_or(|s| s == "HTTP"), "{probe}: admin is plain HTTP");
    }
    if let Some(startup) = c.get("startupProbe") {
        assert_eq!(startup["httpGet"]["port"], "admin");
    }
}

#[test]
fn the_container_runs_as_non_root_with_a_read_only_root_and_no_privileges() {
    let objects = deploy_objects();
    let pod = &deployment(&objects)["spec"]["template"]["spec"];
    let c = container(deployment(&objects));
    // Effective value: the container's, else the pod's.
    let effective = |field: &str| -> Value {
        c["securityContext"].get(field).or_else(|| pod["securityContext"].get(field)).cloned().unwrap_or(Value::Null)
    };
    assert_eq!(effective("runAsNonRoot"), true);
    assert_eq!(effective("runAsUser"), 65532);
    assert_eq!(effective("seccompProfile")["type"], "RuntimeDefault");
    let sc = &c["securityContext"];
    assert_eq!(sc["readOnlyRootFilesystem"], true);
    assert_eq!(sc["allowPrivilegeEscalation"], false);
    assert_eq!(strings(&sc["capabilities"]["drop"]), ["ALL"]);
    assert!(sc["capabilities"].get("add").is_none());
    assert!(sc.get("privileged").is_none_or(|p| p == false));
    // A read-only root needs a writable /tmp: bootstrap mode writes its serving pair there.
    let mount = c["volumeMounts"].as_array().unwrap().iter().find(|m| m["mountPath"] == "/tmp").expect("/tmp mount");
    assert!(mount.get("readOnly").is_none_or(|r| r == false));
    let volume = pod["volumes"].as_array().unwrap().iter().find(|v| v["name"] == mount["name"]).unwrap();
    assert!(volume.get("emptyDir").is_some(), "{volume}");
    let namespace = object(&objects, "Namespace", NAMESPACE);
    assert_eq!(namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"], "restricted");
}

#[test]
fn the_container_requests_cpu_and_memory_and_limits_memory() {
    let objects = deploy_objects();
    let resources = &container(deployment(&objects))["resources"];
    assert_eq!(resources["requests"]["cpu"], "100m");
    assert_eq!(resources["requests"]["memory"], "128Mi");
    assert_eq!(resources["limits"]["memory"], "256Mi");
    assert!(resources["limits"].get("cpu").is_none(), "a CPU limit only throttles the webhook");
}

#[test]
fn the_deployment_gets_its_namespace_and_pod_name_from_the_downward_api() {
    let objects = deploy_objects();
    let env = env_of(container(deployment(&objects)));
    assert_eq!(env["ALBATROSS_NAMESPACE"], "fieldRef:metadata.namespace");
    assert_eq!(env["ALBATROSS_POD_NAME"], "fieldRef:metadata.name");
}

#[test]
fn the_pdb_keeps_one_pod_of_the_deployment() {
    let objects = deploy_objects();
    let pdbs: Vec<&Value> = objects.iter().filter(|o| o["kind"] == "PodDisruptionBudget").collect();
    assert_eq!(pdbs.len(), 1);
    assert_eq!(pdbs[0]["apiVersion"], "policy/v1");
    assert_eq!(pdbs[0]["spec"]["minAvailable"], 1);
    assert!(selects(&pdbs[0]["spec"]["selector"]["matchLabels"], &pod_labels(&objects)));
}

#[test]
fn services_select_the_pods_and_target_named_ports_that_exist() {
    let objects = deploy_objects();
    let ports: Vec<&str> = container(deployment(&objects))["ports"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["name"].as_str())
        .collect();
    let services: Vec<&Value> = objects.iter().filter(|o| o["kind"] == "Service").collect();
    assert_eq!(services.len(), 2);
    for service in &services {
        let name = &service["metadata"]["name"];
        assert!(selects(&service["spec"]["selector"], &pod_labels(&objects)), "{name}");
        for port in service["spec"]["ports"].as_array().unwrap() {
            let target = port["targetPort"].as_str().unwrap_or_else(|| panic!("{name}: targetPort by name"));
            assert!(ports.contains(&target), "{name}: no container port {target}");
        }
    }
    let port = |service: &str| &object(&objects, "Service", service)["spec"]["ports"][0];
    assert_eq!(port("albatross-webhook")["port"], 443);
    assert_eq!(port("albatross-webhook")["targetPort"], "webhook");
    assert_eq!(port("albatross-metrics")["port"], 8080);
    assert_eq!(port("albatross-metrics")["targetPort"], "admin");
}

// (c) Webhooks.

fn webhook_configurations(objects: &[Value]) -> Vec<(&'static str, &Value)> {
    [("ValidatingWebhookConfiguration", "/validate"), ("MutatingWebhookConfiguration", "/mutate")]
        .into_iter()
        .map(|(kind, path)| (path, object(objects, kind, "albatross")))
        .collect()
}

fn rules_groups(webhook: &Value) -> BTreeSet<&str> {
    webhook["rules"].as_array().unwrap().iter().flat_map(|r| strings(&r["apiGroups"])).collect()
}

#[test]
fn webhooks_call_the_webhook_service_on_validate_and_mutate() {
    let objects = deploy_objects();
    let service = object(&objects, "Service", "albatross-webhook");
    for (path, configuration) in webhook_configurations(&objects) {
        let webhooks = configuration["webhooks"].as_array().unwrap();
        // Mutating has the pod readiness-gate webhook besides.
        assert_eq!(webhooks.len(), if path == "/mutate" { 3 } else { 2 });
        for webhook in webhooks {
            let name = webhook["name"].as_str().unwrap();
            assert!(name.split('.').count() >= 3, "{name}: a fully qualified name");
            let target = &webhook["clientConfig"]["service"];
            assert_eq!(target["namespace"], NAMESPACE, "{name}");
            assert_eq!(target["name"], service["metadata"]["name"], "{name}");
            assert_eq!(target["path"], path, "{name}");
            assert_eq!(target["port"], service["spec"]["ports"][0]["port"], "{name}");
            assert!(webhook["clientConfig"].get("url").is_none());
            // Absent, so that `kubectl apply` never erases what bootstrap mode patched in.
            assert!(webhook["clientConfig"].get("caBundle").is_none(), "{name}");
            assert_eq!(webhook["sideEffects"], "None", "{name}");
            assert_eq!(strings(&webhook["admissionReviewVersions"]), ["v1"], "{name}");
            assert_eq!(webhook["timeoutSeconds"], 5, "{name}");
            assert_eq!(webhook["matchPolicy"], "Equivalent", "{name}");
            for rule in webhook["rules"].as_array().unwrap() {
                // Gates go into pods when they are created; a pod's gates never change after.
                let operations: &[&str] =
                    if rules_groups(webhook).contains("") { &["CREATE"] } else { &["CREATE", "UPDATE"] };
                assert_eq!(strings(&rule["operations"]), operations, "{name}");
            }
        }
    }
}

#[test]
fn webhooks_fail_closed_for_our_crds_and_open_for_gateway_api() {
    let objects = deploy_objects();
    for (_, configuration) in webhook_configurations(&objects) {
        let mut seen = BTreeSet::new();
        for webhook in configuration["webhooks"].as_array().unwrap() {
            let groups = rules_groups(webhook);
            assert_eq!(groups.len(), 1, "one API group per webhook: {groups:?}");
            let group = *groups.first().unwrap();
            let expected = match group {
                "gateway.k8s.aws" => "Fail",
                "gateway.networking.k8s.io" => "Ignore",
                // Pods must be creatable while the controller is down.
                "" => "Ignore",
                other => panic!("unexpected group {other}"),
            };
            assert_eq!(webhook["failurePolicy"], expected, "{group}");
            seen.insert(group);
        }
        assert!(seen.len() >= 2);
    }
}

#[test]
fn the_pod_webhook_sees_only_pod_creations_in_namespaces_that_opt_in() {
    let objects = deploy_objects();
    let mutating = object(&objects, "MutatingWebhookConfiguration", "albatross");
    let pods: Vec<&Value> =
        mutating["webhooks"].as_array().unwrap().iter().filter(|w| rules_groups(w).contains("")).collect();
    assert_eq!(pods.len(), 1);
    let webhook = pods[0];
    assert_eq!(webhook["rules"][0]["resources"], json!(["pods"]));
    assert_eq!(
        webhook["namespaceSelector"]["matchLabels"]["gateway.k8s.aws/pod-readiness-gate-inject"],
        albatross_reconciler::readiness::INJECT_LABEL_VALUE
    );
    assert_eq!(
        webhook["namespaceSelector"]["matchLabels"].as_object().map(|m| m.keys().cloned().collect::<Vec<_>>()),
        Some(vec![albatross_reconciler::readiness::INJECT_LABEL.to_owned()])
    );
    let validating = object(&objects, "ValidatingWebhookConfiguration", "albatross");
    assert!(validating["webhooks"].as_array().unwrap().iter().all(|w| !rules_groups(w).contains("")));
}

#[test]
fn webhooks_never_see_status_writes() {
    let objects = deploy_objects();
    for (_, configuration) in webhook_configurations(&objects) {
        for webhook in configuration["webhooks"].as_array().unwrap() {
            for rule in webhook["rules"].as_array().unwrap() {
                for resource in strings(&rule["resources"]) {
                    assert!(!resource.contains('/') && resource != "*", "{}: {resource}", webhook["name"]);
                }
            }
        }
    }
}

#[test]
fn webhooks_cover_every_kind_and_version_of_our_crds_and_the_gateway_api_kinds() {
    let crds = documents("manifests/crds/gateway.k8s.aws_crds.yaml");
    let plurals: BTreeSet<&str> = crds.iter().map(|c| c["spec"]["names"]["plural"].as_str().unwrap()).collect();
    let versions: BTreeSet<&str> = crds
        .iter()
        .flat_map(|c| c["spec"]["versions"].as_array().unwrap())
        .map(|v| v["name"].as_str().unwrap())
        .collect();
    let gateway_api: BTreeSet<&str> = [
        "gatewayclasses",
        "gateways",
        "httproutes",
        "grpcroutes",
        "tlsroutes",
        "tcproutes",
        "udproutes",
        "referencegrants",
        "listenersets",
    ]
    .into();
    let objects = deploy_objects();
    for (_, configuration) in webhook_configurations(&objects) {
        for webhook in configuration["webhooks"].as_array().unwrap() {
            let rules = webhook["rules"].as_array().unwrap();
            let resources: BTreeSet<&str> = rules.iter().flat_map(|r| strings(&r["resources"])).collect();
            let api_versions: BTreeSet<&str> = rules.iter().flat_map(|r| strings(&r["apiVersions"])).collect();
            if rules_groups(webhook).contains("gateway.k8s.aws") {
                assert_eq!(resources, plurals);
                assert_eq!(api_versions, versions);
            } else if rules_groups(webhook).contains("") {
                // The pod readiness-gate webhook (checked on its own above).
                continue;
            } else {
                assert_eq!(resources, gateway_api);
                assert_eq!(api_versions, BTreeSet::from(["*"]));
            }
        }
    }
}

#[test]
fn the_deployment_names_the_objects_that_rbac_webhooks_and_services_use() {
    let objects = deploy_objects();
    let env = env_of(container(deployment(&objects)));
    object(&objects, "Service", &env["ALBATROSS_WEBHOOK_SERVICE"]);
    object(&objects, "ValidatingWebhookConfiguration", &env["ALBATROSS_WEBHOOK_CONFIGURATION"]);
    object(&objects, "MutatingWebhookConfiguration", &env["ALBATROSS_WEBHOOK_CONFIGURATION"]);
    let rbac = Rbac::load(&[root().join("manifests/deploy")]).unwrap().for_service_account(NAMESPACE, "albatross");
    let lease = &env["ALBATROSS_LEASE_NAME"];
    let secret = &env["ALBATROSS_CERT_SECRET"];
    let configuration = &env["ALBATROSS_WEBHOOK_CONFIGURATION"];
    assert!(rbac.allows("update", "coordination.k8s.io", "leases", None, Some(NAMESPACE), Some(lease)));
    assert!(rbac.allows("update", "", "secrets", None, Some(NAMESPACE), Some(secret)));
    for resource in ["validatingwebhookconfigurations", "mutatingwebhookconfigurations"] {
        assert!(rbac.allows("patch", "admissionregistration.k8s.io", resource, None, None, Some(configuration)));
    }
    assert!(env["ALBATROSS_SHUTDOWN_GRACE"].parse::<u64>().unwrap() < 30, "within the termination grace");
}

// (d) Every setting of the binary is set or documented.

/// The env vars `albatross serve --help` lists (`[env: NAME=`).
fn serve_env_vars() -> BTreeSet<String> {
    let out = Command::new(env!("CARGO_BIN_EXE_albatross")).args(["serve", "--help"]).output().unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "`albatross serve --help` failed ({}): {}{help}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let names: BTreeSet<String> = help
        .split("[env: ")
        .skip(1)
        .map(|rest| rest.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect())
        .collect();
    assert!(names.len() > 10, "too few env vars in `serve --help`: {names:?}\n{help}");
    names
}

#[test]
fn every_env_var_of_serve_is_set_by_the_deployment_and_the_chart_and_documented_in_values() {
    let names = serve_env_vars();
    let objects = deploy_objects();
    let set = env_of(container(deployment(&objects)));
    let chart_deployment = read("charts/albatross/templates/deployment.yaml");
    let values = read("charts/albatross/values.yaml");
    let mut problems = Vec::new();
    for name in &names {
        if !set.contains_key(name) && !LEFT_AT_DEFAULT.iter().any(|(n, _)| n == name) {
            problems.push(format!("{name}: not set in manifests/deploy/deployment.yaml nor in LEFT_AT_DEFAULT"));
        }
        if !chart_deployment.contains(name.as_str()) {
            problems.push(format!("{name}: not in charts/albatross/templates/deployment.yaml"));
        }
        if !values.contains(name.as_str()) {
            problems.push(format!("{name}: not documented in charts/albatross/values.yaml"));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_manifests_set_no_env_var_that_serve_does_not_know() {
    let names = serve_env_vars();
    let objects = deploy_objects();
    let mut unknown: Vec<String> =
        env_of(container(deployment(&objects))).into_keys().filter(|n| !names.contains(n)).collect();
    unknown.extend(LEFT_AT_DEFAULT.iter().map(|(n, _)| n.to_string()).filter(|n| !names.contains(n)));
    let chart = read("charts/albatross/templates/deployment.yaml");
    for line in chart.lines() {
        if let Some(name) =
            line.trim().strip_prefix("- name: ").filter(|n| n.starts_with("ALBATROSS_") || n.starts_with("AWS_"))
            && !names.contains(name)
        {
            unknown.push(format!("{name} (chart)"));
        }
    }
    assert!(unknown.is_empty(), "env vars `albatross serve --help` does not list: {unknown:?}");
}

#[test]
fn the_deployment_header_documents_the_env_vars_left_at_default() {
    let text = read("manifests/deploy/deployment.yaml");
    let header: String = text.lines().take_while(|l| l.starts_with('#')).collect::<Vec<_>>().join("\n");
    for (name, _) in LEFT_AT_DEFAULT {
        assert!(header.contains(name), "{name} is not explained in the header of deployment.yaml");
    }
}

// (e) The Helm chart.

/// A chart template with its Go template actions taken out: an action alone on its line(s)
/// (control flow, `include ... | nindent`) removes the line(s), an action inside a line becomes
/// `TEMPLATE`. With the chart's default values every conditional block is kept, which is what
/// the default render holds.
fn strip_template(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(open) = rest.find("{{") {
        let close = open + rest[open..].find("}}").expect("unclosed {{") + 2;
        let line_start = rest[..open].rfind('\n').map_or(0, |i| i + 1);
        let line_end = rest[close..].find('\n').map_or(rest.len(), |i| close + i);
        let alone = rest[line_start..open].trim().is_empty() && rest[close..line_end].trim().is_empty();
        if alone {
            out.push_str(&rest[..line_start]);
            rest = rest.get(line_end + 1..).unwrap_or("");
        } else {
            out.push_str(&rest[..open]);
            out.push_str("TEMPLATE");
            rest = &rest[close..];
        }
    }
    out.push_str(rest);
    out
}

fn chart_templates() -> Vec<(String, String)> {
    let dir = root().join("charts/albatross/templates");
    let mut out: Vec<(String, String)> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .map(|p| (p.file_name().unwrap().to_string_lossy().into_owned(), std::fs::read_to_string(&p).unwrap()))
        .collect();
    out.sort();
    out
}

#[test]
fn the_chart_metadata_and_values_parse() {
    let chart = &documents("charts/albatross/Chart.yaml")[0];
    assert_eq!(chart["apiVersion"], "v2");
    assert_eq!(chart["name"], "albatross");
    assert_eq!(chart["version"], "0.1.0");
    assert_eq!(chart["appVersion"], "0.1.0");
    let values = &documents("charts/albatross/values.yaml")[0];
    assert_eq!(values["replicaCount"], 2);
    assert_eq!(values["image"]["repository"], "ghcr.io/albatross-gw/albatross");
    assert_eq!(values["image"]["tag"], chart["appVersion"]);
    assert_eq!(values["logging"]["format"], "json");
    assert_eq!(values["certManager"]["enabled"], false);
    assert_eq!(values["metrics"]["serviceMonitor"]["enabled"], false);
    assert_eq!(values["serviceAccount"]["create"], true);
    assert!(values["serviceAccount"]["annotations"].is_object());
    for key in
        ["nodeSelector", "tolerations", "affinity", "podAnnotations", "extraEnv", "resources", "podDisruptionBudget"]
    {
        assert!(values.get(key).is_some(), "values.yaml has no {key}");
    }
}

#[test]
fn every_value_the_templates_use_exists_in_values_yaml() {
    let values = &documents("charts/albatross/values.yaml")[0];
    let mut missing = Vec::new();
    let mut used = 0;
    for (file, text) in chart_templates() {
        for (at, _) in text.match_indices(".Values.") {
            let path: String = text[at + ".Values.".len()..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '.')
                .collect();
            let path = path.trim_end_matches('.');
            used += 1;
            let mut node = values;
            for key in path.split('.') {
                match node.get(key) {
                    Some(next) => node = next,
                    None => {
                        missing.push(format!("{file}: .Values.{path}"));
                        break;
                    }
                }
            }
        }
    }
    assert!(used > 40, "only {used} uses of .Values found");
    assert!(missing.is_empty(), "not in values.yaml:\n{}", missing.join("\n"));
}

#[test]
fn chart_templates_balance_their_blocks_and_include_only_defined_templates() {
    let templates = chart_templates();
    let mut defined = BTreeSet::new();
    let mut included = BTreeSet::new();
    for (file, text) in &templates {
        let mut depth: Vec<&str> = Vec::new();
        let mut rest = text.as_str();
        while let Some(open) = rest.find("{{") {
            let close = open + rest[open..].find("}}").unwrap_or_else(|| panic!("{file}: unclosed {{{{"));
            let action = rest[open + 2..close].trim_start_matches('-').trim_end_matches('-').trim();
            rest = &rest[close + 2..];
            if action.starts_with("/*") {
                assert!(action.ends_with("*/"), "{file}: comment {action}");
                continue;
            }
            let word = action.split_whitespace().next().unwrap_or_default();
            match word {
                "if" | "range" | "with" | "define" | "block" => depth.push(word),
                "end" => {
                    depth.pop().unwrap_or_else(|| panic!("{file}: {{{{ end }}}} without a block"));
                }
                _ => {}
            }
            if word == "define" {
                defined.insert(action.split('"').nth(1).unwrap().to_string());
            }
            for (at, _) in action.match_indices("include \"") {
                included.insert(action[at + 9..].split('"').next().unwrap().to_string());
            }
        }
        assert!(depth.is_empty(), "{file}: unclosed {depth:?}");
        assert!(!rest.contains("}}"), "{file}: stray }}}}");
    }
    let undefined: Vec<&String> = included.difference(&defined).collect();
    assert!(undefined.is_empty(), "included but not defined: {undefined:?}");
    assert!(included.contains("albatross.fullname"));
}

#[test]
fn stripping_template_actions_keeps_the_yaml_around_them() {
    let text = "a:\n  {{- include \"x\" . | nindent 2 }}\nb: {{ .Values.b }}\n{{- if .Values.c }}\nc: [\"{{ .Values.d }}\"]\n{{- end }}\n{{- /*\nmulti\n*/ -}}\nd: 1\n";
    assert_eq!(strip_template(text), "a:\nb: TEMPLATE\nc: [\"TEMPLATE\"]\nd: 1\n");
}

/// (verb, group, resource, namespaced, restricted by resourceNames) of every grant, names aside.
fn grant_shapes(rules: &[Grant]) -> BTreeSet<(String, String, String, bool, bool)> {
    rules
        .iter()
        .map(|g| {
            (g.verb.clone(), g.group.clone(), g.resource.clone(), g.namespace.is_some(), !g.resource_names.is_empty())
        })
        .collect()
}

#[test]
fn the_chart_grants_the_same_rbac_as_the_plain_manifests() {
    let template = strip_template(&read("charts/albatross/templates/rbac.yaml"));
    let chart = Rbac::from_yaml(&template).unwrap_or_else(|e| panic!("{e}\n{template}"));
    assert!(chart.unresolved().is_empty(), "{:?}", chart.unresolved());
    // Names and namespaces are template expressions, all stripped to TEMPLATE.
    let chart = grant_shapes(&chart.for_service_account("TEMPLATE", "TEMPLATE").rules());
    let plain = grant_shapes(
        &Rbac::load(&[root().join("manifests/deploy/rbac.yaml")])
            .unwrap()
            .for_service_account(NAMESPACE, "albatross")
            .rules(),
    );
    assert_eq!(
        chart.difference(&plain).collect::<Vec<_>>(),
        Vec::<&(String, String, String, bool, bool)>::new(),
        "only in the chart"
    );
    assert_eq!(
        plain.difference(&chart).collect::<Vec<_>>(),
        Vec::<&(String, String, String, bool, bool)>::new(),
        "only in manifests/deploy"
    );
}

#[test]
fn the_chart_crds_are_a_copy_of_the_generated_crds() {
    assert!(
        read("charts/albatross/crds/gateway.k8s.aws_crds.yaml") == read("manifests/crds/gateway.k8s.aws_crds.yaml"),
        "charts/albatross/crds is stale: cp manifests/crds/gateway.k8s.aws_crds.yaml charts/albatross/crds/"
    );
}

#[test]
fn the_chart_deployment_matches_the_plain_one_in_what_matters() {
    let template = strip_template(&read("charts/albatross/templates/deployment.yaml"));
    let chart = &documents_of(&template, "chart deployment")[0];
    let objects = deploy_objects();
    let plain = deployment(&objects);
    let (pc, cc) = (container(plain), container(chart));
    for field in ["startupProbe", "livenessProbe", "readinessProbe", "command", "args"] {
        assert_eq!(cc[field], pc[field], "{field}");
    }
    assert_eq!(chart["spec"]["strategy"], plain["spec"]["strategy"]);
    let names = |c: &Value| -> BTreeSet<String> {
        c["env"].as_array().unwrap().iter().map(|e| e["name"].as_str().unwrap().to_string()).collect()
    };
    let only_chart: BTreeSet<String> = names(cc).difference(&names(pc)).cloned().collect();
    let optional: BTreeSet<String> = LEFT_AT_DEFAULT.iter().map(|(n, _)| n.to_string()).collect();
    assert!(only_chart.is_subset(&optional), "set only by the chart: {only_chart:?}");
    assert!(names(pc).is_subset(&names(cc)), "set only by manifests/deploy: {:?}", names(pc).difference(&names(cc)));
    // The values' defaults are the plain manifests' settings.
    let values = &documents("charts/albatross/values.yaml")[0];
    assert_eq!(values["resources"], pc["resources"]);
    assert_eq!(values["securityContext"], pc["securityContext"]);
    assert_eq!(values["podSecurityContext"], plain["spec"]["template"]["spec"]["securityContext"]);
    assert_eq!(values["replicaCount"], plain["spec"]["replicas"]);
    let env = env_of(pc);
    let defaults = [
        ("AWS_REGION", &values["aws"]["region"]),
        ("ALBATROSS_CLUSTER_NAME", &values["aws"]["clusterName"]),
        ("ALBATROSS_AWS_UNLIMITED", &values["aws"]["unlimited"]),
        ("ALBATROSS_LISTEN", &values["webhook"]["listen"]),
        ("ALBATROSS_ADMIN_LISTEN", &values["admin"]["listen"]),
        ("ALBATROSS_SKIP_API_SERVER_CHECKS", &values["webhook"]["skipApiServerChecks"]),
        ("ALBATROSS_SHUTDOWN_GRACE", &values["webhook"]["shutdownGraceSeconds"]),
        ("ALBATROSS_LEASE_DURATION_SECONDS", &values["leaderElection"]["leaseDurationSeconds"]),
        ("ALBATROSS_RESYNC_SECONDS", &values["controllers"]["resyncSeconds"]),
        ("ALBATROSS_CONCURRENCY", &values["controllers"]["concurrency"]),
        ("ALBATROSS_CHANNEL", &values["gatewayAPI"]["channel"]),
        ("ALBATROSS_FIELD_VALIDATION", &values["gatewayAPI"]["fieldValidation"]),
        ("ALBATROSS_ALB_CONTROLLER", &values["controllers"]["alb"]),
        ("ALBATROSS_NLB_CONTROLLER", &values["controllers"]["nlb"]),
        ("ALBATROSS_QUOTA_RULES_PER_ALB", &values["quotas"]["rulesPerAlb"]),
        ("ALBATROSS_QUOTA_TARGET_GROUPS_PER_ALB", &values["quotas"]["targetGroupsPerAlb"]),
        ("ALBATROSS_QUOTA_CERTIFICATES_PER_LB", &values["quotas"]["certificatesPerLb"]),
        ("ALBATROSS_DEFAULT_SSL_POLICY", &values["listeners"]["defaultSslPolicy"]),
        ("ALBATROSS_DEFAULT_TARGET_TYPE", &values["targetGroups"]["defaultTargetType"]),
        ("ALBATROSS_LOG_LEVEL", &values["logging"]["level"]),
        ("ALBATROSS_LOG_FORMAT", &values["logging"]["format"]),
    ];
    for (name, value) in defaults {
        let value = value.as_str().map(str::to_string).unwrap_or_else(|| value.to_string());
        assert_eq!(env[name], value, "{name}: manifests/deploy and values.yaml differ");
    }
}

#[test]
fn the_deployed_webhook_runs_only_albatross_checks() {
    // The API server has applied the CRD schema and CEL rules before it calls the webhook.
    let objects = deploy_objects();
    assert_eq!(env_of(container(deployment(&objects)))["ALBATROSS_SKIP_API_SERVER_CHECKS"], "true");
    let values = &documents("charts/albatross/values.yaml")[0];
    assert_eq!(values["webhook"]["skipApiServerChecks"], true);
    let template = read("charts/albatross/templates/deployment.yaml");
    assert!(template.contains("- name: ALBATROSS_SKIP_API_SERVER_CHECKS\n              value: {{ .Values.webhook.skipApiServerChecks | quote }}"));
}

// (f) Least privilege.

#[test]
fn the_service_account_gets_exactly_the_grants_the_controller_uses() {
    let rbac = Rbac::load(&[root().join("manifests/deploy")]).unwrap().for_service_account(NAMESPACE, "albatross");
    assert!(rbac.unresolved().is_empty(), "bindings to roles not in manifests/deploy: {:?}", rbac.unresolved());
    let expected: BTreeSet<Grant> = EXPECTED_GRANTS
        .iter()
        .map(|(verb, group, resource, namespace, names)| Grant {
            verb: verb.to_string(),
            group: group.to_string(),
            resource: resource.to_string(),
            namespace: Some(namespace.to_string()).filter(|n| !n.is_empty()),
            resource_names: names.iter().map(|n| n.to_string()).collect(),
        })
        .collect();
    assert_eq!(expected.len(), EXPECTED_GRANTS.len(), "EXPECTED_GRANTS has duplicates");
    let granted: BTreeSet<Grant> = rbac.rules().into_iter().collect();
    let missing: Vec<String> = expected.difference(&granted).map(Grant::to_string).collect();
    let extra: Vec<String> = granted.difference(&expected).map(Grant::to_string).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "missing:\n  {}\nextra:\n  {}",
        missing.join("\n  "),
        extra.join("\n  ")
    );
    // And as the API server decides it:
    assert!(rbac.allows("list", "gateway.networking.k8s.io", "httproutes", None, None, None));
    assert!(rbac.allows("patch", "gateway.networking.k8s.io", "httproutes", Some("status"), Some("app"), Some("r")));
    assert!(!rbac.allows("patch", "gateway.networking.k8s.io", "httproutes", None, Some("app"), Some("r")));
    assert!(rbac.allows("create", "events.k8s.io", "events", None, Some("app"), None));
    assert!(rbac.allows("get", "", "secrets", None, Some("app"), Some("oidc-client")));
    assert!(!rbac.allows("update", "", "secrets", None, Some("app"), Some("albatross-webhook-tls")));
    assert!(!rbac.allows("list", "", "secrets", None, Some(NAMESPACE), None));
    assert!(!rbac.allows("watch", "", "secrets", None, Some("app"), None));
    assert!(!rbac.allows("get", "coordination.k8s.io", "leases", None, Some(NAMESPACE), Some("kube-scheduler")));
    assert!(!rbac.allows(
        "patch",
        "admissionregistration.k8s.io",
        "validatingwebhookconfigurations",
        None,
        None,
        Some("other")
    ));
}

#[test]
fn only_the_controller_service_account_is_granted_anything() {
    let rbac = Rbac::load(&[root().join("manifests/deploy")]).unwrap();
    assert!(rbac.for_service_account(NAMESPACE, "default").rules().is_empty());
    assert!(rbac.for_service_account("default", "albatross").rules().is_empty());
}
