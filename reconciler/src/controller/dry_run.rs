//! A Gateway annotated `gateway.k8s.aws/dry-run: "true"`: planned and compared with AWS through
//! a read-only client, never changed there (nor deleted, by its own deletion or by the sweep).
//! The operations a real run would make go to the annotation `gateway.k8s.aws/dry-run-plan`
//! (bounded: annotations share 256 KiB), and `Programmed` says the Gateway is in dry run.
//! Removing the annotation lets the next reconcile converge it as usual.

use albatross_aws::AwsError;
use albatross_aws::preview::{Preview, Step, Summary};
use albatross_k8s::route::ObjectKey;
use albatross_model::dry_run::{ANNOTATION, PLAN_ANNOTATION, annotation};
use albatross_model::plan::{self, Snapshot};
use kube::api::{Api, DynamicObject, Patch, PatchParams};
use kube::runtime::events::EventType;
use serde::Serialize;
use serde_json::{Value, json};

use super::{Controller, Error};
use crate::cache::Kind;
use crate::index::gather;
use crate::status::Kept;

/// The most the plan annotation holds; steps past it are counted, not listed.
pub const PLAN_LIMIT: usize = 64 * 1024;

/// What the plan annotation holds.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Written<'a> {
    summary: Summary,
    steps: &'a [Step],
    #[serde(skip_serializing_if = "is_zero")]
    omitted_steps: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// The plan annotation's value: every step while it fits in [`PLAN_LIMIT`], else as many as fit
/// and the number left out. The summary always counts them all.
pub fn plan_annotation(preview: &Preview) -> String {
    let summary = preview.summary();
    let text = |shown: usize| {
        let written = Written { summary, steps: &preview.steps[..shown], omitted_steps: preview.steps.len() - shown };
        serde_json::to_string(&written).expect("steps serialize")
    };
    let all = text(preview.steps.len());
    if all.len() <= PLAN_LIMIT {
        return all;
    }
    // The largest prefix that fits, found by halving.
    let (mut lo, mut hi) = (0, preview.steps.len());
    while lo < hi {
        let mid = (lo + hi).div_ceil(2);
        if text(mid).len() <= PLAN_LIMIT { lo = mid } else { hi = mid - 1 }
    }
    text(lo)
}

fn error_annotation(message: &str) -> String {
    let message: String = message.chars().take(4096).collect();
    json!({ "error": message }).to_string()
}

impl Controller {
    /// A Gateway in dry run. Deleting it waits (our finalizer stays) while the annotation is on:
    /// its stack is kept in AWS. Moved to another controller's class, it is let go untouched.
    pub(super) async fn reconcile_dry_run(
        &self,
        key: &ObjectKey,
        gw: &Value,
        finalizers: &[String],
        held: bool,
        deleting: bool,
        ours: bool,
    ) -> Result<(), Error> {
        // Targets-only reconciles must not register into groups of a Gateway in dry run.
        self.deployed.lock().unwrap_or_else(|e| e.into_inner()).remove(key);
        if deleting {
            if held {
                let message = format!(
                    "the Gateway is being deleted while annotated {ANNOTATION}: \"true\": its AWS stack is kept and \
                     the deletion waits; remove the annotation to have the stack deleted"
                );
                self.write_kept(gw, "Programmed", Kept::DryRun, &message).await?;
            }
            return Ok(());
        }
        if !ours {
            if held {
                self.set_finalizer(key, gw, finalizers, false).await?;
            }
            return Ok(());
        }
        if !held {
            // So that deleting it waits while it is in dry run, and the sweep never sees it gone.
            self.set_finalizer(key, gw, finalizers, true).await?;
        }
        let Some(gathered) = gather(&self.cache, &self.index, key) else { return Ok(()) };
        let (snapshot, _) = Snapshot::from_objects(gathered.objects);
        let certificates = self.deployer.resolver.certificates().await?;
        let build = plan::build(&snapshot, &self.env(certificates));
        let Some(stack) = build.stacks.iter().find(|s| s.gateway == key.to_string()) else {
            let why = build
                .statuses
                .iter()
                .find(|s| s.kind == "Gateway" && s.name == key.name && s.namespace.as_deref() == Some(&key.namespace))
                .and_then(|s| s.status.get("conditions")?.as_array()?.iter().find(|c| c["status"] == "False").cloned())
                .and_then(|c| c.get("message").and_then(Value::as_str).map(str::to_owned))
                .unwrap_or_else(|| "the Gateway is not accepted".into());
            let message = format!("dry run: not planned: {why}");
            self.write_plan(key, gw, &error_annotation(&message)).await?;
            return self.write_kept(gw, "Programmed", Kept::DryRun, &message).await;
        };
        let outcome = match crate::secrets::resolve(&self.client, stack).await.map_err(AwsError::from) {
            Ok(stack) => self.preview(&stack).await,
            Err(e) => Err(e.into()),
        };
        match outcome {
            Ok(preview) => {
                let line = preview.summary().line();
                let message = format!("dry run ({ANNOTATION}): {line}; the operations are in {PLAN_ANNOTATION}");
                if self.write_plan(key, gw, &plan_annotation(&preview)).await? {
                    self.event(gw, EventType::Normal, "DryRun", "Reconcile", line).await;
                }
                self.write_kept(gw, "Programmed", Kept::DryRun, &message).await
            }
            Err(e) => {
                let message = format!("dry run ({ANNOTATION}): a real run would fail: {e}");
                self.write_plan(key, gw, &error_annotation(&message)).await?;
                self.write_kept(gw, "Programmed", Kept::DryRun, &message).await?;
                Err(e)
            }
        }
    }

    /// The stack's steps, then the target registrations a real run would make from the caches.
    async fn preview(&self, stack: &albatross_model::plan::types::Stack) -> Result<Preview, Error> {
        let mut preview = self.dry_run.converge(stack).await?;
        for tg in &stack.target_groups {
            let Some(wanted) = crate::targets::wanted(&self.cache, tg) else { continue };
            let Some(place) = preview.target_groups.get(&tg.id).cloned() else { continue };
            let mut registered =
                if place.starts_with("arn:") { Some(self.dry_run.registered(&place).await?) } else { None };
            if let Some(registered) = registered.as_mut().filter(|_| tg.backend.multi_cluster) {
                // Shared with other clusters: a real run deregisters only what our record holds.
                let ours = self.recorded_targets(&place).await?;
                registered.retain(|t| ours.contains(t) || wanted.contains(t));
            }
            preview.targets(&tg.id, registered.as_ref(), &wanted);
        }
        Ok(preview)
    }

    /// Sets the plan annotation (a merge patch: other annotations stay); `true` if it changed.
    async fn write_plan(&self, key: &ObjectKey, gw: &Value, plan: &str) -> Result<bool, Error> {
        if annotation(gw, PLAN_ANNOTATION) == Some(plan) {
            return Ok(false);
        }
        self.patch_plan(key, json!(plan)).await?;
        Ok(true)
    }

    /// A Gateway out of dry run loses the plan annotation, which no longer says what is deployed.
    pub(super) async fn clear_plan(&self, key: &ObjectKey, gw: &Value) -> Result<(), Error> {
        if annotation(gw, PLAN_ANNOTATION).is_none() {
            return Ok(());
        }
        self.patch_plan(key, Value::Null).await
    }

    async fn patch_plan(&self, key: &ObjectKey, value: Value) -> Result<(), Error> {
        if !self.leadership.is_leader() {
            return Err(Error::NotLeader);
        }
        let Some(resource) = self.cache.resource(Kind::Gateway) else { return Ok(()) };
        let api: Api<DynamicObject> = Api::namespaced_with(self.client.clone(), &key.namespace, &resource);
        let patch = json!({ "metadata": { "annotations": { PLAN_ANNOTATION: value } } });
        match api.patch(&key.name, &PatchParams::default(), &Patch::Merge(&patch)).await {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(e)) if e.code == 404 => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use albatross_aws::preview::{Change, Resource};

    use super::*;

    #[test]
    fn a_plan_too_large_for_an_annotation_keeps_its_summary_and_counts_what_it_leaves_out() {
        let step = |i: usize| {
            Step::new("CreateRule", Resource::Rule, Change::Create, format!("<new rule 80:{i}>"), "x".repeat(500))
        };
        let preview = Preview { steps: (0..1000).map(step).collect(), ..Preview::default() };
        let text = plan_annotation(&preview);
        assert!(text.len() <= PLAN_LIMIT, "{}", text.len());
        let value: Value = serde_json::from_str(&text).unwrap();
        let shown = value["steps"].as_array().unwrap().len();
        assert!(shown > 50, "{shown}");
        assert_eq!(value["omittedSteps"].as_u64().unwrap() as usize, 1000 - shown);
        assert_eq!(value["summary"]["rules"]["created"], 1000);

        let small = Preview { steps: (0..3).map(step).collect(), ..Preview::default() };
        let value: Value = serde_json::from_str(&plan_annotation(&small)).unwrap();
        assert_eq!(value["steps"].as_array().unwrap().len(), 3);
        assert!(value.get("omittedSteps").is_none());
    }
}
