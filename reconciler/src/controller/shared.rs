//! Target groups shared with other clusters (`enableMultiCluster`): a sync deregisters only the
//! targets in this cluster's record ([`crate::shared_targets`]), which is written before any
//! registration (it may hold more than AWS, never less) and read once per process.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use albatross_aws::targets::{Ownership, Target, TargetChanges, sync_guarded};
use albatross_k8s::route::ObjectKey;

use kube::runtime::events::EventType;

use super::Controller;
use crate::cache::Kind;
use crate::error::Error;
use crate::shared_targets::{Held, Records};

/// What this process holds of the records, by target group ARN.
#[derive(Default)]
pub(super) struct Shared {
    held: std::sync::Mutex<HashMap<String, Held>>,
    /// One sync of a group at a time (a Gateway's reconcile and its targets-only one may race).
    locks: std::sync::Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Shared {
    /// Forgets every record: a replica that lost the lease may find them changed when it
    /// gets it back.
    pub(super) fn forget(&self) {
        lock(&self.held).clear();
    }
}

impl Controller {
    fn records(&self) -> Records {
        Records::new(self.client.clone(), &self.settings.namespace, &self.settings.cluster_name)
    }

    /// Syncs a shared group to `wanted`: records `wanted` before registering, syncs, and
    /// records what is left ours after deregistering.
    pub(super) async fn sync_shared(
        &self,
        gateway: &ObjectKey,
        arn: &str,
        wanted: &BTreeSet<Target>,
    ) -> Result<TargetChanges, Error> {
        let group = lock(&self.shared.locks).entry(arn.to_owned()).or_default().clone();
        let _one_at_a_time = group.lock().await;
        let result = self.sync_shared_locked(gateway, arn, wanted).await;
        if let Err(error) = &result {
            // A conflict or a half-done sync: the next one reads the record again.
            lock(&self.shared.held).remove(arn);
            // A refused record needs a person; a failed request is retried.
            if let Error::Record(e) = error
                && !e.is_transient()
                && let Some(gw) = self.cache.get(Kind::Gateway, gateway)
            {
                self.event(&gw, EventType::Warning, "TargetRecordFailed", "RegisterTargets", e.to_string()).await;
            }
        }
        result
    }

    async fn sync_shared_locked(
        &self,
        gateway: &ObjectKey,
        arn: &str,
        wanted: &BTreeSet<Target>,
    ) -> Result<TargetChanges, Error> {
        let records = self.records();
        let held = lock(&self.shared.held).get(arn).cloned();
        let mut held = match held {
            Some(held) => held,
            None => records.read(arn).await?,
        };
        let recorded: BTreeSet<Target> = held.targets.union(wanted).cloned().collect();
        if recorded != held.targets {
            held = self.write_record(&records, arn, &held, &recorded).await?;
        }
        let mut ours = held.targets.clone();
        let changes = sync_guarded(&self.deployer.aws, arn, wanted, Ownership::Shared(&mut ours), async || {
            self.mark_changing(gateway).await
        })
        .await?;
        if ours != held.targets {
            held = self.write_record(&records, arn, &held, &ours).await?;
        }
        lock(&self.shared.held).insert(arn.to_owned(), held);
        Ok(changes)
    }

    /// The targets recorded for a shared group, read only (a dry run's view of the record).
    pub(super) async fn recorded_targets(&self, arn: &str) -> Result<BTreeSet<Target>, Error> {
        let held = lock(&self.shared.held).get(arn).cloned();
        Ok(match held {
            Some(held) => held.targets,
            None => self.records().read(arn).await?.targets,
        })
    }

    async fn write_record(
        &self,
        records: &Records,
        arn: &str,
        held: &Held,
        targets: &BTreeSet<Target>,
    ) -> Result<Held, Error> {
        if !self.leadership.is_leader() {
            return Err(Error::NotLeader);
        }
        Ok(records.write(arn, held, targets).await?)
    }

    /// Target groups this cluster deleted: their records go too. A failure is logged and left
    /// (a record of a group that is gone deregisters nothing).
    pub(super) async fn forget_target_groups(&self, arns: &[String]) {
        if arns.is_empty() || !self.leadership.is_leader() {
            return;
        }
        let records = self.records();
        for arn in arns {
            let group = lock(&self.shared.locks).remove(arn);
            let _one_at_a_time = match &group {
                Some(g) => Some(g.lock().await),
                None => None,
            };
            lock(&self.shared.held).remove(arn);
            if let Err(error) = records.delete(arn).await {
                tracing::warn!(target_group = %arn, %error, "the target group is deleted, its record of targets is kept");
            }
        }
    }
}
