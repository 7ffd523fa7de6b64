//! Restart and failover in seconds: at each resync the leader counts every stack by tags
//! ([`Census`]) and a Gateway whose plan and wanted targets match its load balancer's
//! fingerprint is confirmed without reading its listeners, rules, target groups or targets. Its
//! full check comes later, one stack every `drift_interval`, so a fleet's checks never burst
//! through the account's read bucket; a changed fingerprint is checked at once.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use albatross_aws::AwsError;
use albatross_aws::census::{CHANGING, Census, Fingerprint};
use albatross_aws::targets::Target;
use albatross_k8s::route::ObjectKey;
use albatross_model::plan::types::{Stack, TargetGroupPlan};

use super::Controller;
use crate::index::Key;

/// What the fast path keeps between reconciles.
#[derive(Default)]
pub(super) struct Restart {
    /// The last census.
    census: Mutex<Census>,
    /// A census was taken in this term of leadership: until then workers wait, so no Gateway
    /// is read in full for want of one.
    pub counted: AtomicBool,
    /// When each confirmed stack's full check is due.
    due: Mutex<HashMap<ObjectKey, Instant>>,
    /// The last full-check slot handed out.
    last_slot: Mutex<Option<Instant>>,
    /// Each Gateway's load balancer, the hash of its applied stack and what its fingerprint tag
    /// holds, for stamping after a targets-only change.
    stamps: Mutex<HashMap<ObjectKey, Stamp>>,
}

#[derive(Clone, Debug)]
pub(super) struct Stamp {
    pub load_balancer_arn: String,
    pub stack_hash: Option<String>,
    pub tag: Option<String>,
    /// The stack's target groups as planned.
    pub groups: Vec<TargetGroupPlan>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Controller {
    /// Counts the stacks again; a failure leaves every Gateway to the full path.
    pub(super) async fn take_census(&self) {
        match self.deployer.census().await {
            Ok(census) => {
                tracing::info!(stacks = census.len(), "counted the cluster's stacks");
                *lock(&self.restart.census) = census;
            }
            Err(error) => {
                *lock(&self.restart.census) = Census::default();
                tracing::warn!(%error, "counting the stacks failed: every Gateway is checked in full");
            }
        }
        self.restart.counted.store(true, Ordering::Release);
    }

    pub(super) fn counted(&self) -> bool {
        self.restart.counted.load(Ordering::Acquire)
    }

    /// Leadership lost: the next term starts with a census of its own.
    pub(super) fn uncount(&self) {
        self.restart.counted.store(false, Ordering::Release);
    }

    /// The targets each group of `stack` should have now; `None` while the caches cannot say or
    /// a pod waits behind our readiness gate (its gate opens only after a look at its health).
    pub(super) fn wanted_targets(&self, groups: &[TargetGroupPlan]) -> Option<BTreeMap<String, BTreeSet<Target>>> {
        let mut out = BTreeMap::new();
        for tg in groups {
            let wanted = crate::targets::wanted(&self.cache, tg)?;
            if crate::readiness::injected(&self.cache, &tg.backend.namespace)
                && !crate::targets::waiting(&self.cache, tg).is_empty()
            {
                return None;
            }
            out.insert(tg.id.clone(), wanted);
        }
        Some(out)
    }

    /// The stack's DNS name if the census confirms it unchanged and its full check is not due;
    /// a first confirmation books the full check's slot.
    pub(super) fn confirm(&self, key: &ObjectKey, stack: &Stack, fingerprint: &Fingerprint) -> Option<String> {
        let now = Instant::now();
        if lock(&self.restart.due).get(key).is_some_and(|due| *due <= now) {
            return None;
        }
        let found = lock(&self.restart.census).confirm(stack, fingerprint)?.clone();
        let stamp = Stamp {
            load_balancer_arn: found.arn,
            stack_hash: albatross_aws::census::stack_hash(stack),
            tag: Some(fingerprint.as_str().to_owned()),
            groups: stack.target_groups.clone(),
        };
        self.remember_stamp(key, stamp);
        let mut due = lock(&self.restart.due);
        if !due.contains_key(key) {
            let spacing = self.settings.drift_interval.max(Duration::from_millis(1));
            let mut last = lock(&self.restart.last_slot);
            let slot = last.map_or(now, |l| l.max(now)) + spacing;
            *last = Some(slot);
            due.insert(key.clone(), slot);
            self.queue.add_after(Key::Gateway(key.clone()), slot - now);
        }
        self.metrics.confirmed.inc();
        Some(found.dns_name)
    }

    /// A full check starts: what the census saw of this stack no longer counts.
    pub(super) fn forget_census(&self, stack: &Stack) {
        lock(&self.restart.census).forget(stack);
    }

    /// Targets changed for a Gateway confirmed by its fingerprint (no target group ARNs known):
    /// `true` when the targets wanted now are still the fingerprinted ones.
    pub(super) fn targets_unchanged(&self, key: &ObjectKey) -> bool {
        let Some(stamp) = lock(&self.restart.stamps).get(key).cloned() else { return false };
        let (Some(hash), Some(tag)) = (&stamp.stack_hash, &stamp.tag) else { return false };
        self.wanted_targets(&stamp.groups).is_some_and(|t| Fingerprint::with(hash, &t).as_str() == tag)
    }

    /// A full check ran: the next confirmation books a new slot.
    pub(super) fn checked(&self, key: &ObjectKey) {
        lock(&self.restart.due).remove(key);
    }

    pub(super) fn remember_stamp(&self, key: &ObjectKey, stamp: Stamp) {
        lock(&self.restart.stamps).insert(key.clone(), stamp);
    }

    /// Before a targets-only change: the fingerprint no longer holds until it is written again.
    pub(super) async fn mark_changing(&self, key: &ObjectKey) -> Result<(), AwsError> {
        let Some(stamp) = lock(&self.restart.stamps).get(key).cloned() else { return Ok(()) };
        if stamp.tag.as_deref().is_none_or(|t| t == CHANGING) {
            return Ok(());
        }
        self.deployer.stamp(&stamp.load_balancer_arn, CHANGING).await?;
        if let Some(s) = lock(&self.restart.stamps).get_mut(key) {
            s.tag = Some(CHANGING.to_owned());
        }
        Ok(())
    }

    /// Once the stack and its targets converged: the fingerprint of what AWS now holds.
    pub(super) async fn write_stamp(&self, key: &ObjectKey) -> Result<(), AwsError> {
        let Some(stamp) = lock(&self.restart.stamps).get(key).cloned() else { return Ok(()) };
        let Some(stack_hash) = &stamp.stack_hash else { return Ok(()) };
        let Some(targets) = self.wanted_targets(&stamp.groups) else { return Ok(()) };
        let fingerprint = Fingerprint::with(stack_hash, &targets);
        if stamp.tag.as_deref() == Some(fingerprint.as_str()) {
            return Ok(());
        }
        self.deployer.stamp(&stamp.load_balancer_arn, fingerprint.as_str()).await?;
        if let Some(s) = lock(&self.restart.stamps).get_mut(key) {
            s.tag = Some(fingerprint.as_str().to_owned());
        }
        Ok(())
    }
}
