//! The controllers: GatewayClass status, and each Gateway end to end (gather -> build -> apply
//! -> targets -> status), with finalizers, per-key backoff by error class, periodic resync and
//! the sweep of stacks whose Gateway is gone. Only the lease holder works; every replica keeps
//! its caches warm so a new leader starts at once.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use albatross_aws::deploy::Deployer;
use albatross_aws::preview::DryRun;
use albatross_aws::targets::{Ownership, TargetHealthStateEnum};
use albatross_aws::{AwsError, ErrorClass};
use albatross_k8s::route::ObjectKey;
use albatross_model::Controllers;
use albatross_model::plan::types::TargetGroupPlan;
use albatross_model::plan::{self, Env, Snapshot, StatusEntry};
use albatross_model::validate::AwsLimits;
use k8s_openapi::api::core::v1::ObjectReference;
use kube::Client;
use kube::api::{Api, ApiResource, DynamicObject, Patch, PatchParams};
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::cache::{Cache, Change, Kind, Watches, key_of};
pub use crate::error::{Error, RetryClass};
use crate::index::{Index, Key, gather};
use crate::leader::Leadership;
use crate::liveness::Liveness;
use crate::metrics::{DirectionLabels, ErrorLabels, Metrics};
use crate::queue::Queue;
use crate::readiness::{self, GateState};
use crate::status::{Kept, StatusWriter, Written};
use crate::worker::Worker;
use albatross_aws::census::Fingerprint;
use restart::Stamp;

mod dry_run;
mod ownership;
mod restart;
mod shared;

fn pod_resource() -> ApiResource {
    ApiResource::erase::<k8s_openapi::api::core::v1::Pod>(&())
}

/// Held on every Gateway of ours until its AWS stack is gone.
pub const FINALIZER: &str = "gateway.k8s.aws/albatross";
/// Held on a GatewayClass of ours while a Gateway uses it (the name the Gateway API gives it).
pub const CLASS_FINALIZER: &str = "gateway-exists-finalizer.gateway.networking.k8s.io";
pub const FIELD_MANAGER: &str = "albatross";

#[derive(Clone, Debug)]
pub struct Settings {
    pub cluster_name: String,
    /// The namespace the controller runs in: where the records of shared target groups live.
    pub namespace: String,
    pub controllers: Controllers,
    pub limits: AwsLimits,
    /// SSL policy of listeners whose configuration names none.
    pub default_ssl_policy: String,
    /// Target type of target groups whose configuration sets none.
    pub default_target_type: plan::wire::TargetType,
    pub resync: Duration,
    pub concurrency: usize,
    /// This replica's name, for Events.
    pub instance: Option<String>,
    /// How often discovery looks again for CRDs that were not installed.
    pub rediscover: Duration,
    /// Time between two full checks of stacks confirmed by their fingerprint.
    pub drift_interval: Duration,
}

pub struct Controller {
    pub client: Client,
    pub cache: Cache,
    pub deployer: Deployer,
    /// The same, read-only: Gateways annotated for a dry run.
    dry_run: DryRun,
    pub leadership: Leadership,
    pub settings: Settings,
    pub metrics: Metrics,
    pub queue: Queue,
    /// The core tasks [`Controller::run`] starts; the binary adds its own.
    pub liveness: Liveness,
    index: Mutex<Index>,
    writer: StatusWriter,
    recorder: Recorder,
    failures: Mutex<HashMap<Key, u32>>,
    /// Routes each Gateway's last build attached, to clear our status entry on those that left.
    attached: Mutex<HashMap<ObjectKey, BTreeSet<(Kind, ObjectKey)>>>,
    /// Each Gateway's target groups as last deployed, with their ARNs: what a targets-only
    /// reconcile syncs.
    deployed: Mutex<HashMap<ObjectKey, Vec<(TargetGroupPlan, String)>>>,
    /// Targets this cluster registered in target groups shared with other clusters, as read
    /// from and written to their records.
    shared: shared::Shared,
    restart: restart::Restart,
}

impl Controller {
    pub fn new(client: Client, deployer: Deployer, leadership: Leadership, settings: Settings) -> Arc<Self> {
        let cache = Cache::default();
        let writer = StatusWriter {
            client: client.clone(),
            cache: cache.clone(),
            leadership: leadership.clone(),
            field_manager: FIELD_MANAGER.into(),
            controllers: settings.controllers.clone(),
        };
        let reporter = Reporter { controller: FIELD_MANAGER.into(), instance: settings.instance.clone() };
        Arc::new(Self {
            recorder: Recorder::new(client.clone(), reporter),
            client,
            cache,
            dry_run: DryRun::new(&deployer),
            deployer,
            leadership,
            settings,
            metrics: Metrics::default(),
            queue: Queue::default(),
            liveness: Liveness::default(),
            index: Mutex::new(Index::default()),
            writer,
            failures: Mutex::new(HashMap::new()),
            attached: Mutex::new(HashMap::new()),
            deployed: Mutex::new(HashMap::new()),
            shared: shared::Shared::default(),
            restart: restart::Restart::default(),
        })
    }

    /// Every watch has read its initial list (kinds whose CRD is missing do not count).
    pub fn synced(&self) -> bool {
        self.cache.discovered()
            && [Kind::Service, Kind::EndpointSlice, Kind::Namespace, Kind::Node]
                .into_iter()
                .chain(Kind::ALL.into_iter().filter(|k| self.cache.resource(*k).is_some()))
                .all(|k| self.cache.synced(k))
    }

    /// No work queued or running (a change still on its way from the API server is not seen).
    pub fn idle(&self) -> bool {
        self.queue.is_idle()
    }

    /// Runs the watches and workers until the process ends.
    pub async fn run(self: Arc<Self>) {
        // Bounded: a large initial list waits for the index instead of piling up decoded.
        let (tx, mut rx) = mpsc::channel::<Change>(256);
        let watches = Watches {
            client: self.client.clone(),
            cache: self.cache.clone(),
            changes: tx,
            rediscover: self.settings.rediscover,
        };
        self.liveness.spawn("watches", watches.run());
        let this = self.clone();
        self.liveness.spawn("index", async move {
            while let Some(change) = rx.recv().await {
                let keys = this.index.lock().unwrap_or_else(|e| e.into_inner()).affected(&this.cache, &change);
                if this.leadership.is_leader() {
                    for key in keys {
                        this.queue.add(key);
                    }
                }
            }
        });
        let this = self.clone();
        self.liveness.spawn("resync", async move { this.resync_loop().await });
        for _ in 0..self.settings.concurrency.max(1) {
            let this = self.clone();
            self.liveness.spawn("worker", async move { this.worker().await });
        }
    }

    /// On becoming leader and every resync period: everything again, and the orphan sweep.
    async fn resync_loop(&self) {
        let mut leadership = self.leadership.clone();
        loop {
            while !self.leadership.is_leader() {
                leadership.changed().await;
            }
            while !self.synced() {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            self.metrics.leader.set(1);
            self.take_census().await;
            for key in self.all_keys() {
                self.queue.add(key);
            }
            // After the confirmations (for a minute at most): the sweep reads every tagged
            // target group too.
            let started = std::time::Instant::now();
            while !self.queue.is_idle() && started.elapsed() < Duration::from_secs(60) {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            self.sweep_orphans().await;
            tokio::select! {
                _ = tokio::time::sleep(self.settings.resync) => {}
                _ = async { while leadership.changed().await {} } => {}
            }
            if !self.leadership.is_leader() {
                self.metrics.leader.set(0);
                self.uncount();
                self.shared.forget();
            }
        }
    }

    fn all_keys(&self) -> Vec<Key> {
        let classes = self.cache.keys(Kind::GatewayClass).into_iter().map(|k| Key::Class(k.name));
        classes.chain(self.cache.keys(Kind::Gateway).into_iter().map(Key::Gateway)).collect()
    }

    fn ours(&self, class: Option<&Value>) -> bool {
        class.is_some_and(|c| self.settings.controllers.owns_class(c))
    }

    /// Deletes the stacks of this cluster whose Gateway no longer exists or left our classes.
    async fn sweep_orphans(&self) {
        if !self.cache.synced(Kind::Gateway) || !self.cache.synced(Kind::GatewayClass) {
            return;
        }
        let live: BTreeSet<String> = self
            .cache
            .list(Kind::Gateway)
            .iter()
            .filter(|gw| {
                // A Gateway in dry run keeps its stack whatever its class.
                if albatross_model::dry_run::requested(gw) {
                    return true;
                }
                let class = gw.pointer("/spec/gatewayClassName").and_then(Value::as_str).unwrap_or("");
                // A missing class may be recreated: keep its Gateways' load balancers meanwhile.
                match self.cache.get(Kind::GatewayClass, &ObjectKey::new("", class)) {
                    Some(c) => self.ours(Some(&c)),
                    None => true,
                }
            })
            .map(|gw| key_of(Kind::Gateway, gw).to_string())
            .collect();
        match self.deployer.delete_orphans(&live).await {
            Ok(sweep) => {
                self.forget_target_groups(&sweep.target_groups).await;
                for gateway in sweep.deleted {
                    tracing::info!(%gateway, "Gateway gone: its AWS stack was deleted");
                }
                for (gateway, load_balancers) in sweep.protected {
                    tracing::warn!(%gateway, ?load_balancers, "Gateway gone, but deletion protection is on: its AWS stack is kept");
                }
                for (what, error) in sweep.failed {
                    self.metrics.errors.get_or_create(&ErrorLabels { class: error.class.label(), cause: "aws" }).inc();
                    tracing::warn!(stack = %what, %error, "deleting an orphaned stack failed; trying at the next resync");
                }
            }
            Err(error) => tracing::warn!(%error, "orphan sweep failed; trying at the next resync"),
        }
    }

    async fn worker(&self) {
        let worker = Worker {
            queue: &self.queue,
            metrics: &self.metrics,
            failures: &self.failures,
            resync: self.settings.resync,
        };
        worker
            .run(|key| async move {
                if !self.leadership.is_leader() {
                    return None;
                }
                while !self.synced() || !self.counted() {
                    if !self.leadership.is_leader() {
                        return None;
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Some(self.reconcile(&key).await)
            })
            .await
    }

    async fn reconcile(&self, key: &Key) -> Result<(), Error> {
        match key {
            Key::Class(name) => self.reconcile_class(name).await,
            Key::Gateway(gw) => self.reconcile_gateway(gw).await,
            Key::Targets(gw, service) => self.reconcile_targets(gw, service.as_ref()).await,
        }
    }

    fn env(&self, certificates: Vec<plan::AcmCertificate>) -> Env {
        Env {
            cluster_name: self.settings.cluster_name.clone(),
            controllers: self.settings.controllers.clone(),
            limits: self.settings.limits.clone(),
            certificates,
            now: k8s_openapi::jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
            default_ssl_policy: self.settings.default_ssl_policy.clone(),
            default_target_type: self.settings.default_target_type,
            ..Env::default()
        }
    }

    async fn write_status(&self, entry: &StatusEntry, gateway: Option<&ObjectKey>) -> Result<(), Error> {
        match self.writer.write(entry, gateway).await? {
            Written::Patched => {
                self.metrics.status_patches.inc();
                Ok(())
            }
            Written::NotLeader => Err(Error::NotLeader),
            Written::Unchanged | Written::Gone => Ok(()),
        }
    }

    async fn reconcile_gateway(&self, key: &ObjectKey) -> Result<(), Error> {
        // Gone without our finalizer (never ours, or removed by hand): the sweep finds its stack.
        let Some(gw) = self.cache.get(Kind::Gateway, key) else { return Ok(()) };
        let class_name = gw.pointer("/spec/gatewayClassName").and_then(Value::as_str).unwrap_or("");
        let class = self.cache.get(Kind::GatewayClass, &ObjectKey::new("", class_name));
        let finalizers: Vec<String> =
            gw.pointer("/metadata/finalizers").and_then(|f| serde_json::from_value(f.clone()).ok()).unwrap_or_default();
        let held = finalizers.iter().any(|f| f == FINALIZER);
        let deleting = gw.pointer("/metadata/deletionTimestamp").is_some();
        if class.is_none() && !deleting {
            // The class may be recreated: nothing is deleted because something is absent.
            if held {
                let message = format!(
                    "GatewayClass {class_name:?} does not exist: the AWS load balancer is kept as it is until the \
                     class is back or the Gateway is deleted"
                );
                self.write_kept(&gw, "Accepted", Kept::GatewayClassNotFound, &message).await?;
            }
            return Ok(());
        }
        if albatross_model::dry_run::requested(&gw) {
            let ours = self.ours(class.as_deref());
            return self.reconcile_dry_run(key, &gw, &finalizers, held, deleting, ours).await;
        }
        if deleting || !self.ours(class.as_deref()) {
            if held {
                // Another controller's class: its status is that controller's to write.
                let ours_to_tell = class.is_none() || self.ours(class.as_deref());
                self.delete_stack(key, &gw, ours_to_tell).await?;
                self.set_finalizer(key, &gw, &finalizers, false).await?;
            }
            return Ok(());
        }
        if !held {
            // Before anything exists in AWS: a delete from now on waits for the cleanup.
            self.set_finalizer(key, &gw, &finalizers, true).await?;
        }
        self.clear_plan(key, &gw).await?;

        let Some(gathered) = gather(&self.cache, &self.index, key) else { return Ok(()) };
        let (snapshot, skipped) = Snapshot::from_objects(gathered.objects);
        for s in skipped {
            tracing::warn!(gateway = %key, kind = s.kind, object = %s.key, reason = s.reason, "object not readable; left out");
        }
        let certificates = self.deployer.resolver.certificates().await?;
        let mut build = plan::build(&snapshot, &self.env(certificates));
        let mut failure = None;
        let mut retiring = None;
        if let Some(stack) = build.stacks.iter().find(|s| s.gateway == key.to_string()) {
            let entry = build
                .statuses
                .iter_mut()
                .find(|s| s.kind == "Gateway" && s.name == key.name && s.namespace.as_deref() == Some(&key.namespace));
            let stack_hash = albatross_aws::census::stack_hash(stack);
            let fingerprint = stack_hash
                .as_deref()
                .zip(self.wanted_targets(&stack.target_groups))
                .map(|(hash, targets)| Fingerprint::with(hash, &targets));
            if let Some(dns) = fingerprint.as_ref().and_then(|f| self.confirm(key, stack, f)) {
                // Unchanged since its fingerprint was written: no read beyond the census.
                if let Some(entry) = entry {
                    plan::programmed(entry, Ok(&dns));
                }
                for entry in build.statuses.iter().filter(|s| s.kind != "GatewayClass") {
                    self.write_status(entry, Some(key)).await?;
                }
                self.clear_detached(key).await?;
                return Ok(());
            }
            self.forget_census(stack);
            let resolved = crate::secrets::resolve(&self.client, stack).await.map_err(AwsError::from);
            let outcome = match resolved {
                Ok(stack) => self.deployer.deploy_stamped(&stack, fingerprint.as_ref()).await,
                Err(e) => Err(e),
            };
            match outcome {
                Ok(deployed) => {
                    self.remember_stamp(
                        key,
                        Stamp {
                            load_balancer_arn: deployed.applied.load_balancer_arn.clone(),
                            // A stack that differs from its plan is never stamped as converged.
                            stack_hash: stack_hash.filter(|_| deployed.set_at_creation.is_empty()),
                            tag: deployed.fingerprint.clone(),
                            groups: stack.target_groups.clone(),
                        },
                    );
                    if let Some(entry) = entry {
                        plan::programmed(entry, Ok(&deployed.applied.dns_name));
                        plan::not_applied(entry, &deployed.set_at_creation);
                    }
                    if !deployed.operations.is_empty() {
                        let note = format!(
                            "{} AWS changes; load balancer {}",
                            deployed.operations.len(),
                            deployed.applied.dns_name
                        );
                        self.event(&gw, EventType::Normal, "Programmed", "Reconcile", note).await;
                    }
                    let groups: Vec<(TargetGroupPlan, String)> = stack
                        .target_groups
                        .iter()
                        .filter_map(|tg| Some((tg.clone(), deployed.applied.target_groups.get(&tg.id)?.clone())))
                        .collect();
                    self.forget_target_groups(&deployed.deleted_target_groups).await;
                    self.sync_targets(key, &groups).await?;
                    self.deployed.lock().unwrap_or_else(|e| e.into_inner()).insert(key.clone(), groups);
                    retiring = Some(deployed);
                }
                Err(e) if e.class == ErrorClass::Fenced => return Err(Error::NotLeader),
                Err(e) => {
                    let reason = crate::status::not_programmed_reason(&e);
                    if let Some(entry) = entry {
                        plan::programmed(entry, Err((reason, &e.to_string())));
                    }
                    self.event(&gw, EventType::Warning, "ProgrammingFailed", "Reconcile", e.to_string()).await;
                    failure = Some(e);
                }
            }
        }
        for entry in build.statuses.iter().filter(|s| s.kind != "GatewayClass") {
            self.write_status(entry, Some(key)).await?;
        }
        // Only once the status names the successor does the stack it replaced go.
        if let Some(deployed) = retiring {
            match self.deployer.retire(&deployed).await {
                Ok(_) => self.forget_target_groups(&deployed.retiring.target_groups).await,
                Err(e) if e.class == ErrorClass::Fenced => return Err(Error::NotLeader),
                Err(e) => failure = failure.or(Some(e)),
            }
            if failure.is_none() {
                self.write_stamp(key).await?;
                self.checked(key);
            }
        }
        self.clear_detached(key).await?;
        match failure {
            Some(e) => Err(e.into()),
            None => Ok(()),
        }
    }

    /// Registers and deregisters targets of deployed target groups to match the caches, and
    /// opens the readiness gates of pods whose targets turned healthy.
    async fn sync_targets(&self, gateway: &ObjectKey, groups: &[(TargetGroupPlan, String)]) -> Result<(), Error> {
        for (tg, arn) in groups {
            let Some(mut wanted) = crate::targets::wanted(&self.cache, tg) else { continue };
            let gate = readiness::gate(&tg.backend.name);
            // Pods held back by our gate are targets before their endpoints turn ready.
            let mut closed = Vec::new();
            let mut look_again = false;
            let ip = tg.target_type == albatross_model::plan::types::TargetType::Ip;
            if readiness::injected(&self.cache, &tg.backend.namespace) {
                for waiting in crate::targets::waiting(&self.cache, tg) {
                    let Some(pod) = self.pod(&tg.backend.namespace, &waiting.pod).await? else { continue };
                    match readiness::gate_state(&pod, &gate) {
                        Some(GateState::Starting) => look_again = true,
                        // Nodes are the targets: a pod has no health of its own to wait for.
                        Some(GateState::Closed) if !ip => {
                            if !self.open_gate(&tg.backend.namespace, &pod, &gate).await? {
                                look_again = true;
                            }
                        }
                        Some(GateState::Closed) => {
                            wanted.insert(waiting.target.clone());
                            closed.push((pod, waiting.target));
                        }
                        Some(GateState::Open) if ip => {
                            wanted.insert(waiting.target);
                        }
                        Some(GateState::Open) | None => {}
                    }
                }
            }
            let changes = if tg.backend.multi_cluster {
                self.sync_shared(gateway, arn, &wanted).await?
            } else {
                let guard = async || self.mark_changing(gateway).await;
                albatross_aws::targets::sync_guarded(&self.deployer.aws, arn, &wanted, Ownership::Exclusive, guard)
                    .await?
            };
            let count = |direction| self.metrics.targets.get_or_create(&DirectionLabels { direction });
            count("registered").inc_by(changes.registered as u64);
            count("deregistered").inc_by(changes.deregistered as u64);
            // A target registered just now starts `initial`: its health is read at the next look.
            for (pod, target) in closed {
                let healthy = changes.health.get(&target) == Some(&Some(TargetHealthStateEnum::Healthy));
                if !(healthy && self.open_gate(&tg.backend.namespace, &pod, &gate).await?) {
                    look_again = true;
                }
            }
            if look_again {
                let service = ObjectKey::new(tg.backend.namespace.clone(), tg.backend.name.clone());
                self.queue.add_after(Key::Targets(gateway.clone(), Some(service)), readiness::GATE_POLL);
            }
        }
        Ok(())
    }

    async fn pod(&self, namespace: &str, name: &str) -> Result<Option<Value>, Error> {
        let api: Api<DynamicObject> = Api::namespaced_with(self.client.clone(), namespace, &pod_resource());
        let pod = api.get_opt(name).await?;
        Ok(pod.and_then(|p| serde_json::to_value(p).ok()))
    }

    /// Sets a pod's gate condition True; `false` when the pod changed meanwhile (looked at again).
    async fn open_gate(&self, namespace: &str, pod: &Value, gate: &str) -> Result<bool, Error> {
        if !self.leadership.is_leader() {
            return Err(Error::NotLeader);
        }
        let name = pod.pointer("/metadata/name").and_then(Value::as_str).unwrap_or("");
        let now = k8s_openapi::jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%SZ").to_string();
        let patch: json_patch::Patch =
            serde_json::from_value(readiness::open_patch(pod, gate, &now)).expect("a valid JSON patch");
        let api: Api<DynamicObject> = Api::namespaced_with(self.client.clone(), namespace, &pod_resource());
        match api.patch_status(name, &PatchParams::default(), &Patch::Json::<()>(patch)).await {
            Ok(_) => {
                tracing::info!(pod = %format!("{namespace}/{name}"), %gate, "target healthy: readiness gate open");
                Ok(true)
            }
            // Gone, or changed since it was read (the test operation failed).
            Err(kube::Error::Api(e)) if [404, 409, 422].contains(&e.code) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// Endpoints or nodes changed: only the targets, from the target groups last deployed. A
    /// Gateway not deployed by this replica yet, or whose group vanished, gets a full reconcile.
    async fn reconcile_targets(&self, key: &ObjectKey, service: Option<&ObjectKey>) -> Result<(), Error> {
        let dry_run = self.cache.get(Kind::Gateway, key).is_some_and(|gw| albatross_model::dry_run::requested(&gw));
        let groups =
            if dry_run { None } else { self.deployed.lock().unwrap_or_else(|e| e.into_inner()).get(key).cloned() };
        let Some(mut groups) = groups else {
            // Confirmed by its fingerprint, and the targets it holds are still the ones wanted.
            if !dry_run && self.targets_unchanged(key) {
                return Ok(());
            }
            self.queue.add(Key::Gateway(key.clone()));
            return Ok(());
        };
        groups.retain(|(tg, _)| match service {
            Some(s) => tg.backend.namespace == s.namespace && tg.backend.name == s.name,
            None => tg.target_type == albatross_model::plan::types::TargetType::Instance,
        });
        let synced = self.sync_targets(key, &groups).await;
        if synced.is_ok() {
            self.write_stamp(key).await?;
        }
        match synced {
            Err(Error::Aws(e)) if e.class == ErrorClass::NotFound => {
                self.deployed.lock().unwrap_or_else(|e| e.into_inner()).remove(key);
                self.queue.add(Key::Gateway(key.clone()));
                Ok(())
            }
            other => other,
        }
    }

    /// Routes that left this Gateway lose our status entry for it.
    async fn clear_detached(&self, key: &ObjectKey) -> Result<(), Error> {
        let now: BTreeSet<(Kind, ObjectKey)> = self
            .index
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .attached(key)
            .into_iter()
            .filter(|(k, _)| k.is_route())
            .collect();
        let before = self.attached.lock().unwrap_or_else(|e| e.into_inner()).insert(key.clone(), now.clone());
        for (kind, route) in before.unwrap_or_default().difference(&now) {
            let Some(resource) = self.cache.resource(*kind) else { continue };
            let entry = StatusEntry {
                api_version: resource.api_version.clone(),
                kind: kind.name().into(),
                namespace: Some(route.namespace.clone()),
                name: route.name.clone(),
                status: json!({ "parents": [] }),
            };
            self.write_status(&entry, Some(key)).await?;
        }
        Ok(())
    }

    /// Adds or removes our finalizer with a JSON patch that fails if the object changed since it
    /// was read, so another controller's finalizers are never lost.
    async fn set_finalizer(&self, key: &ObjectKey, gw: &Value, current: &[String], add: bool) -> Result<(), Error> {
        if !self.leadership.is_leader() {
            return Err(Error::NotLeader);
        }
        let Some(resource) = self.cache.resource(Kind::Gateway) else { return Ok(()) };
        let api: Api<DynamicObject> = Api::namespaced_with(self.client.clone(), &key.namespace, &resource);
        let version = gw.pointer("/metadata/resourceVersion").cloned().unwrap_or(Value::Null);
        let mut next: Vec<String> = current.iter().filter(|f| *f != FINALIZER).cloned().collect();
        if add {
            next.push(FINALIZER.into());
        }
        let patch: json_patch::Patch = serde_json::from_value(json!([
            { "op": "test", "path": "/metadata/resourceVersion", "value": version },
            { "op": "add", "path": "/metadata/finalizers", "value": next },
        ]))
        .expect("a valid JSON patch");
        match api.patch(&key.name, &PatchParams::default(), &Patch::Json::<()>(patch)).await {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(e)) if e.code == 404 && !add => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    async fn event(&self, object: &Value, kind: EventType, reason: &str, action: &str, note: String) {
        let text = |p: &str| object.pointer(p).and_then(Value::as_str).map(str::to_owned);
        let reference = ObjectReference {
            api_version: text("/apiVersion"),
            kind: text("/kind"),
            name: text("/metadata/name"),
            namespace: text("/metadata/namespace"),
            uid: text("/metadata/uid"),
            resource_version: text("/metadata/resourceVersion"),
            ..Default::default()
        };
        let event = Event {
            type_: kind,
            reason: reason.into(),
            note: Some(note.chars().take(1000).collect()),
            action: action.into(),
            secondary: None,
        };
        // Events are best effort: a refused one is logged, the reconcile goes on.
        if let Err(error) = self.recorder.publish(&event, &reference).await {
            tracing::debug!(%error, reason, "event not recorded");
        }
    }
}
