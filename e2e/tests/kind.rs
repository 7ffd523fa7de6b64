//! `albatross serve` as a process against a real Kubernetes cluster (kind, EKS, ...) and a moto
//! server: the CRDs installed, a Gateway programmed with its load balancer's DNS name, its
//! HTTPRoute accepted and its endpoint registered as a target, a path change reaching the
//! listener rule, deletion emptying AWS before the finalizer goes, and a clean stop on SIGTERM.
//!
//! Runs only when `KUBECONFIG` is set; otherwise it says why on stderr and passes. AWS is always
//! a moto server this test starts, behind the AWS-rules proxy: nothing reaches real AWS. Every
//! object it creates lives in a namespace and a GatewayClass of its own, deleted at the end
//! whatever happens; the CRDs it installs stay. See `e2e/README.md`.

use albatross_test_support::loopback::{free_port, http_get};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use albatross_aws::{Aws, AwsSettings, RateLimits};
use albatross_test_support::{Moto, Proxy, ProxyOptions};
use aws_sdk_ec2::error::DisplayErrorContext;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::Client;
use kube::api::{Api, ApiResource, DeleteParams, DynamicObject, GroupVersionKind, ListParams, Patch, PatchParams};
use kube::runtime::wait::{await_condition, conditions};
use serde::Deserialize;
use serde_json::{Value, json};

const GW: &str = "gateway.networking.k8s.io/v1";
/// Field manager of everything this test applies.
const FIELD_MANAGER: &str = "albatross-e2e";
/// The finalizer Albatross puts on the Gateways it provisions.
const FINALIZER: &str = "gateway.k8s.aws/albatross";
/// Annotation the Gateway API CRDs carry their release channel in.
const CHANNEL: &str = "gateway.networking.k8s.io/channel";
/// The Service's one endpoint: inside the moto VPC's first subnet.
const ENDPOINT: &str = "10.0.0.10";
/// How long each step may take on a real cluster.
const STEP: Duration = Duration::from_secs(180);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_a_real_cluster_a_gateway_is_programmed_routed_and_cleaned_up() {
    let Some(kubeconfig) = std::env::var_os("KUBECONFIG").filter(|v| !v.is_empty()) else {
        eprintln!("skipping: KUBECONFIG is not set; see e2e/README.md");
        return;
    };
    let bin = albatross_bin();
    let client = Client::try_default()
        .await
        .unwrap_or_else(|e| panic!("cannot reach the cluster of KUBECONFIG={}: {e}", kubeconfig.to_string_lossy()));
    install_crds(&client).await;

    // AWS: moto behind the proxy, with a VPC and two subnets tagged for internal load balancers.
    let moto = tokio::task::spawn_blocking(Moto::start).await.unwrap();
    let proxy = Proxy::start(moto.endpoint(), ProxyOptions::default()).await;
    let aws = Aws::connect(&AwsSettings {
        endpoint: Some(moto.endpoint().into()),
        limits: RateLimits::unlimited(),
        ..Default::default()
    })
    .await;
    create_network(&aws).await;

    // Everything in the cluster is named for this run, and goes when `run` is dropped. The
    // controller names are this run's too: a controller already in the cluster (the AWS Load
    // Balancer Controller, an installed Albatross) must not provision the test's Gateway in
    // real AWS, and this Albatross must not touch the cluster's own Gateways.
    let suffix = suffix();
    let name = format!("albatross-e2e-{suffix}");
    let alb = format!("gateway.k8s.aws/alb-e2e-{suffix}");
    let dir = tempfile::Builder::new().prefix("albatross-e2e-").tempdir().unwrap();
    let log = dir.path().join("albatross-serve.stderr");
    let mut run = Run { namespace: name.clone(), class: name.clone(), child: None, dir: Some(dir), log: log.clone() };
    for object in world(&name, &alb, "/v1") {
        apply(&client, &object).await;
    }

    let (tls, admin) = (free_port(), free_port());
    let mut command = Command::new(&bin);
    // Nothing from the caller's environment may point the binary elsewhere (real AWS
    // credentials, another endpoint, another namespace); the log settings may stay.
    for (key, _) in std::env::vars_os() {
        let key_text = key.to_string_lossy();
        let log_setting = key_text == "ALBATROSS_LOG_LEVEL" || key_text == "ALBATROSS_LOG_FORMAT";
        if key_text.starts_with("AWS_") || (key_text.starts_with("ALBATROSS_") && !log_setting) {
            command.env_remove(&key);
        }
    }
    command
        .arg("serve")
        .env("KUBECONFIG", &kubeconfig)
        .env("TMPDIR", log.parent().unwrap())
        .env("ALBATROSS_NAMESPACE", &name)
        .env("ALBATROSS_POD_NAME", "e2e")
        .env("ALBATROSS_LISTEN", format!("127.0.0.1:{tls}"))
        .env("ALBATROSS_ADMIN_LISTEN", format!("127.0.0.1:{admin}"))
        .env("ALBATROSS_AWS_ENDPOINT", proxy.endpoint())
        .env("ALBATROSS_AWS_UNLIMITED", "true")
        .env("ALBATROSS_CLUSTER_NAME", &name)
        .env("ALBATROSS_LEASE_DURATION_SECONDS", "5")
        .env("ALBATROSS_ALB_CONTROLLER", &alb)
        .env("ALBATROSS_NLB_CONTROLLER", format!("gateway.k8s.aws/nlb-e2e-{suffix}"))
        // No webhook configuration is installed (the API server could not reach this process);
        // a name of our own keeps the binary off the caBundle of an Albatross already installed.
        .env("ALBATROSS_WEBHOOK_CONFIGURATION", &name)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(File::create(&log).unwrap());
    run.child = Some(command.spawn().unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display())));
    eprintln!("albatross serve started; its stderr: {}", log.display());

    // 4. Ready, programmed, routed, registered.
    run.eventually("/readyz to answer 200", async || {
        match tokio::task::spawn_blocking(move || http_get(admin, "/readyz")).await.unwrap() {
            Some((200, _)) => Ok(()),
            Some((code, body)) => Err(format!("{code}: {}", body.lines().last().unwrap_or_default())),
            None => Err("not answering".into()),
        }
    })
    .await;
    let secrets = api(&client, "Secret", Some(&name));
    let secret = secrets.get_opt("albatross-webhook-tls").await.unwrap();
    assert!(secret.is_some(), "the bootstrap Secret albatross-webhook-tls in {name}");

    let gateways = api(&client, "Gateway", Some(&name));
    let address = run
        .eventually("the Gateway Programmed with an address", async || {
            let gw = get(&gateways, "web").await?;
            let programmed = condition(&gw["status"]["conditions"], "Programmed")
                .filter(|c| c["status"] == "True")
                .ok_or_else(|| format!("status: {}", gw["status"]))?;
            gw.pointer("/status/addresses/0/value")
                .and_then(Value::as_str)
                .map(str::to_owned)
                .ok_or_else(|| format!("Programmed without an address: {programmed}"))
        })
        .await;
    assert_eq!(
        load_balancer_dns(&aws).await,
        vec![address],
        "the address is the DNS name of moto's only load balancer"
    );
    let gw = get(&gateways, "web").await.unwrap();
    let finalizers = gw.pointer("/metadata/finalizers").and_then(Value::as_array).cloned().unwrap_or_default();
    assert!(finalizers.iter().any(|f| f == FINALIZER), "finalizer {FINALIZER} on the Gateway: {finalizers:?}");

    let routes = api(&client, "HTTPRoute", Some(&name));
    run.eventually("the HTTPRoute Accepted with its references resolved", async || {
        let route = get(&routes, "web").await?;
        let parent = route
            .pointer("/status/parents")
            .and_then(Value::as_array)
            .and_then(|parents| parents.iter().find(|p| p["controllerName"] == alb.as_str()))
            .ok_or_else(|| format!("no status.parents entry of {alb}: {}", route["status"]))?;
        let is_true = |kind: &str| condition(&parent["conditions"], kind).is_some_and(|c| c["status"] == "True");
        if is_true("Accepted") && is_true("ResolvedRefs") { Ok(()) } else { Err(parent.to_string()) }
    })
    .await;
    run.eventually("the endpoint registered as the target group's one target", async || {
        let targets = registered_targets(&aws).await?;
        if targets == [vec![format!("{ENDPOINT}:8080")]] {
            Ok(())
        } else {
            Err(format!("targets by group: {targets:?}"))
        }
    })
    .await;
    let paths = rule_paths(&aws).await.unwrap();
    assert_eq!(paths, ["/v1", "/v1/*"], "the route's PathPrefix in the listener rule");

    // 5. A new path reaches the listener rule.
    apply(&client, &route(&name, "/v2")).await;
    run.eventually("the listener rule's path-pattern to show /v2", async || {
        let paths = rule_paths(&aws).await?;
        if paths == ["/v2", "/v2/*"] { Ok(()) } else { Err(format!("path-pattern values: {paths:?}")) }
    })
    .await;

    // 6. Deleting the Gateway empties AWS before the finalizer goes.
    gateways.delete("web", &DeleteParams::default()).await.unwrap();
    run.eventually("the Gateway gone from the API server", async || match gateways.get_opt("web").await {
        Ok(None) => Ok(()),
        Ok(Some(gw)) => Err(format!("still there, finalizers {:?}", gw.metadata.finalizers)),
        Err(e) => Err(e.to_string()),
    })
    .await;
    assert_eq!(load_balancer_dns(&aws).await, Vec::<String>::new(), "no load balancer left in moto");
    assert_eq!(registered_targets(&aws).await.unwrap(), Vec::<Vec<String>>::new(), "no target group left in moto");

    // 7. SIGTERM: a clean exit, the lease handed back.
    let status = run.terminate().await;
    assert!(status.success(), "albatross serve exited with {status} after SIGTERM; its stderr: {}", log.display());
    let lease = get(&api(&client, "Lease", Some(&name)), "albatross-leader").await.unwrap();
    assert!(lease.pointer("/spec/holderIdentity").is_none_or(Value::is_null), "lease handed back: {}", lease["spec"]);
    // 8. `run` deletes the namespace and the GatewayClass when dropped here.
}

/// The objects of one run: a namespace, a GatewayClass, a Gateway with one HTTP listener, a
/// selector-less Service with a hand-written EndpointSlice, and an HTTPRoute to it.
fn world(name: &str, controller: &str, path: &str) -> Vec<Value> {
    vec![
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}),
        json!({"apiVersion": GW, "kind": "GatewayClass", "metadata": {"name": name},
               "spec": {"controllerName": controller}}),
        json!({"apiVersion": GW, "kind": "Gateway", "metadata": {"name": "web", "namespace": name},
               "spec": {"gatewayClassName": name, "listeners": [
                   {"name": "http", "port": 80, "protocol": "HTTP",
                    "allowedRoutes": {"namespaces": {"from": "Same"}}}]}}),
        json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "app", "namespace": name},
               "spec": {"type": "ClusterIP",
                        "ports": [{"name": "http", "port": 80, "targetPort": 8080, "protocol": "TCP"}]}}),
        json!({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
               "metadata": {"name": "app-1", "namespace": name,
                            "labels": {"kubernetes.io/service-name": "app",
                                       "endpointslice.kubernetes.io/managed-by": FIELD_MANAGER}},
               "addressType": "IPv4", "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
               "endpoints": [{"addresses": [ENDPOINT], "conditions": {"ready": true}}]}),
        route(name, path),
    ]
}

fn route(namespace: &str, path: &str) -> Value {
    json!({"apiVersion": GW, "kind": "HTTPRoute", "metadata": {"name": "web", "namespace": namespace},
           "spec": {"parentRefs": [{"name": "web"}],
                    "rules": [{"matches": [{"path": {"type": "PathPrefix", "value": path}}],
                               "backendRefs": [{"name": "app", "port": 80}]}]}})
}

/// The binary under test: `$ALBATROSS_BIN`, else `albatross` in the profile directory this test
/// runs from (`target/debug/deps/kind-*` -> `target/debug/albatross`). Never built from here.
fn albatross_bin() -> PathBuf {
    if let Some(path) = std::env::var_os("ALBATROSS_BIN").filter(|p| !p.is_empty()) {
        let path = PathBuf::from(path);
        assert!(path.is_file(), "ALBATROSS_BIN={} is not a file", path.display());
        return path;
    }
    let exe = std::env::current_exe().expect("the test's own path");
    let profile = exe.parent().and_then(Path::parent).expect("the test runs from <target>/<profile>/deps");
    let bin = profile.join(format!("albatross{}", std::env::consts::EXE_SUFFIX));
    assert!(
        bin.is_file(),
        "{} does not exist: run `cargo build` first (this test does not build the binary), or set ALBATROSS_BIN",
        bin.display()
    );
    bin
}

/// A run's objects and process. Dropping it stops the process and deletes the namespace and the
/// GatewayClass, on success and on failure alike; on failure it keeps the binary's stderr.
struct Run {
    namespace: String,
    class: String,
    child: Option<Child>,
    dir: Option<tempfile::TempDir>,
    log: PathBuf,
}

impl Run {
    /// Polls `f` every half second until it gives a value, failing after [`STEP`] with what it
    /// last said, or at once when the binary exits.
    async fn eventually<T>(&mut self, what: &str, mut f: impl AsyncFnMut() -> Result<T, String>) -> T {
        let deadline = Instant::now() + STEP;
        loop {
            if let Some(status) = self.child.as_mut().and_then(|c| c.try_wait().ok().flatten()) {
                panic!("albatross serve exited ({status}) while waiting for {what}");
            }
            let last = match f().await {
                Ok(value) => return value,
                Err(last) => last,
            };
            assert!(Instant::now() < deadline, "timed out after {STEP:?} waiting for {what}; last seen: {last}");
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    /// Sends SIGTERM and waits up to 30 s for the exit.
    async fn terminate(&mut self) -> ExitStatus {
        let child = self.child.as_mut().expect("albatross serve is running");
        let pid = child.id().to_string();
        assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success(), "kill -TERM {pid}");
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                self.child = None;
                return status;
            }
            assert!(Instant::now() < deadline, "albatross serve did not exit within 30 s of SIGTERM");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for Run {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        if std::thread::panicking()
            && let Some(dir) = self.dir.take()
        {
            let _ = dir.keep();
            eprintln!("albatross serve's stderr is kept in {}", self.log.display());
            let text = std::fs::read_to_string(&self.log).unwrap_or_default();
            let lines: Vec<&str> = text.lines().collect();
            eprintln!("--- its last lines ---\n{}", lines[lines.len().saturating_sub(60)..].join("\n"));
        }
        // A runtime of its own on a thread of its own: this may run on the test's runtime,
        // which must not be blocked on, or after it is gone.
        let (namespace, class) = (self.namespace.clone(), self.class.clone());
        eprintln!("cleaning up: deleting namespace {namespace} and GatewayClass {class}");
        let outcome = std::thread::spawn(move || -> Result<(), String> {
            let runtime =
                tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| e.to_string())?;
            runtime.block_on(async {
                tokio::time::timeout(Duration::from_secs(60), delete_run(&namespace, &class))
                    .await
                    .map_err(|_| "timed out after 60 s".to_owned())?
            })
        })
        .join();
        let failure = match outcome {
            Ok(Ok(())) => return,
            Ok(Err(e)) => e,
            Err(_) => "the cleanup thread panicked".to_owned(),
        };
        eprintln!(
            "cleanup failed: {failure}; delete them by hand: kubectl delete namespace {} && kubectl delete gatewayclass {}",
            self.namespace, self.class
        );
    }
}

/// Deletes a run's namespace and GatewayClass. The binary is stopped by now: the finalizer of a
/// Gateway it still held is removed first, or the namespace would stay Terminating forever.
async fn delete_run(namespace: &str, class: &str) -> Result<(), String> {
    let client = Client::try_default().await.map_err(|e| e.to_string())?;
    let gateways = api(&client, "Gateway", Some(namespace));
    if let Ok(list) = gateways.list(&ListParams::default()).await {
        for gw in list {
            let Some(name) = gw.metadata.name else { continue };
            let unfinalize = Patch::Merge(json!({"metadata": {"finalizers": null}}));
            gateways.patch(&name, &PatchParams::default(), &unfinalize).await.map_err(|e| e.to_string())?;
        }
    }
    let gone = |result: kube::Result<_>| match result {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(status)) if status.is_not_found() => Ok(()),
        Err(e) => Err(e.to_string()),
    };
    gone(api(&client, "Namespace", None).delete(namespace, &DeleteParams::background()).await)?;
    gone(api(&client, "GatewayClass", None).delete(class, &DeleteParams::default()).await)
}

/// Server-side applies every CustomResourceDefinition of the Gateway API standard channel and of
/// `gateway.k8s.aws`, and waits until each is Established. A Gateway API CRD the cluster already
/// has from the experimental channel (a superset) is left alone.
async fn install_crds(client: &Client) {
    let manifests = Path::new(env!("CARGO_MANIFEST_DIR")).join("../manifests");
    let standard = manifests.join("gateway-api/standard");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&standard)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", standard.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    files.push(manifests.join("crds/gateway.k8s.aws_crds.yaml"));

    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    let params = PatchParams::apply(FIELD_MANAGER).force();
    let mut names = Vec::new();
    for file in &files {
        // Only CRDs: the standard channel's safe-upgrades ValidatingAdmissionPolicy is not installed.
        for mut crd in documents(file).into_iter().filter(|d| d["kind"] == "CustomResourceDefinition") {
            let name = crd["metadata"]["name"].as_str().expect("a CRD has a name").to_owned();
            let existing = crds.get_opt(&name).await.unwrap_or_else(|e| panic!("reading CRD {name}: {e}"));
            let channel = existing.as_ref().and_then(|c| c.metadata.annotations.as_ref()?.get(CHANNEL).cloned());
            if channel.as_deref() == Some("experimental") {
                eprintln!("keeping CRD {name}: the cluster has the experimental channel's");
            } else {
                if let Some(object) = crd.as_object_mut() {
                    object.remove("status");
                }
                crds.patch(&name, &params, &Patch::Apply(&crd))
                    .await
                    .unwrap_or_else(|e| panic!("applying CRD {name} from {}: {e}", file.display()));
            }
            names.push(name);
        }
    }
    for expected in ["gateways.gateway.networking.k8s.io", "loadbalancerconfigurations.gateway.k8s.aws"] {
        assert!(names.iter().any(|n| n == expected), "{expected} among the CRDs applied: {names:?}");
    }
    for name in &names {
        tokio::time::timeout(
            Duration::from_secs(60),
            await_condition(crds.clone(), name, conditions::is_crd_established()),
        )
        .await
        .unwrap_or_else(|_| panic!("CRD {name} not Established within 60 s"))
        .unwrap_or_else(|e| panic!("watching CRD {name}: {e}"));
    }
}

/// The YAML documents of a file that are objects.
fn documents(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_norway::Deserializer::from_str(&text)
        .map(|doc| Value::deserialize(doc).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
        .filter(Value::is_object)
        .collect()
}

/// The API of one of the kinds this test uses.
fn api(client: &Client, kind: &str, namespace: Option<&str>) -> Api<DynamicObject> {
    let (api_version, plural) = match kind {
        "Namespace" => ("v1", "namespaces"),
        "Service" => ("v1", "services"),
        "Secret" => ("v1", "secrets"),
        "EndpointSlice" => ("discovery.k8s.io/v1", "endpointslices"),
        "Lease" => ("coordination.k8s.io/v1", "leases"),
        "GatewayClass" => (GW, "gatewayclasses"),
        "Gateway" => (GW, "gateways"),
        "HTTPRoute" => (GW, "httproutes"),
        other => unreachable!("no API for kind {other}"),
    };
    let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
    let resource = ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(group, version, kind), plural);
    match namespace {
        Some(namespace) => Api::namespaced_with(client.clone(), namespace, &resource),
        None => Api::all_with(client.clone(), &resource),
    }
}

/// Server-side applies one object, retrying for a minute while the API server is not yet
/// serving its kind (it can lag a moment behind a CRD's Established).
async fn apply(client: &Client, object: &Value) {
    let kind = object["kind"].as_str().expect("a kind");
    let name = object["metadata"]["name"].as_str().expect("a name");
    let api = api(client, kind, object["metadata"]["namespace"].as_str());
    let params = PatchParams::apply(FIELD_MANAGER).force();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        match api.patch(name, &params, &Patch::Apply(object)).await {
            Ok(_) => return,
            Err(kube::Error::Api(status)) if status.is_invalid() => panic!("{kind} {name} refused: {status:?}"),
            Err(e) => assert!(Instant::now() < deadline, "applying {kind} {name}: {e}"),
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// The object as JSON, or why not.
async fn get(api: &Api<DynamicObject>, name: &str) -> Result<Value, String> {
    match api.get_opt(name).await {
        Ok(Some(object)) => serde_json::to_value(object).map_err(|e| e.to_string()),
        Ok(None) => Err(format!("{name} not found")),
        Err(e) => Err(e.to_string()),
    }
}

fn condition<'a>(conditions: &'a Value, kind: &str) -> Option<&'a Value> {
    conditions.as_array()?.iter().find(|c| c["type"] == kind)
}

async fn create_network(aws: &Aws) {
    albatross_test_support::network::load_balancer_subnets(&aws.ec2).await;
}

async fn load_balancer_dns(aws: &Aws) -> Vec<String> {
    let out = aws.elbv2.describe_load_balancers().send().await.unwrap();
    out.load_balancers().iter().filter_map(|lb| lb.dns_name().map(str::to_owned)).collect()
}

/// The registered targets (`ip:port`) of every target group moto has, one list per group.
async fn registered_targets(aws: &Aws) -> Result<Vec<Vec<String>>, String> {
    let groups = aws.elbv2.describe_target_groups().send().await.map_err(aws_error)?;
    let mut out = Vec::new();
    for group in groups.target_groups() {
        let arn = group.target_group_arn().unwrap_or_default();
        let health = aws.elbv2.describe_target_health().target_group_arn(arn).send().await.map_err(aws_error)?;
        let mut targets: Vec<String> = health
            .target_health_descriptions()
            .iter()
            .filter_map(|d| d.target())
            .map(|t| format!("{}:{}", t.id().unwrap_or_default(), t.port().unwrap_or_default()))
            .collect();
        targets.sort();
        out.push(targets);
    }
    Ok(out)
}

/// The path-pattern values of every listener rule but the defaults, sorted.
async fn rule_paths(aws: &Aws) -> Result<Vec<String>, String> {
    let lbs = aws.elbv2.describe_load_balancers().send().await.map_err(aws_error)?;
    let mut paths = Vec::new();
    for lb in lbs.load_balancers() {
        let arn = lb.load_balancer_arn().unwrap_or_default();
        let listeners = aws.elbv2.describe_listeners().load_balancer_arn(arn).send().await.map_err(aws_error)?;
        for listener in listeners.listeners() {
            let arn = listener.listener_arn().unwrap_or_default();
            let rules = aws.elbv2.describe_rules().listener_arn(arn).send().await.map_err(aws_error)?;
            for rule in rules.rules().iter().filter(|r| r.is_default() != Some(true)) {
                for c in rule.conditions().iter().filter(|c| c.field() == Some("path-pattern")) {
                    // AWS describes both the typed config and the legacy values.
                    match c.path_pattern_config() {
                        Some(config) => paths.extend(config.values().iter().cloned()),
                        None => paths.extend(c.values().iter().cloned()),
                    }
                }
            }
        }
    }
    paths.sort();
    paths.dedup();
    Ok(paths)
}

fn aws_error<E: std::error::Error>(e: E) -> String {
    DisplayErrorContext(e).to_string()
}

/// Six lowercase letters and digits: valid in every Kubernetes name.
fn suffix() -> String {
    use rand::Rng;
    const CHARS: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::rng();
    (0..6).map(|_| CHARS[rng.random_range(0..CHARS.len())] as char).collect()
}
