//! Leader election on a coordination.k8s.io Lease. Every replica serves the webhook; only the
//! holder reconciles. Each renewal is bounded by a timeout shorter than the renew deadline, and
//! each successful one sets the AWS write fence's deadline to `start of that renewal + renew
//! deadline`: a replica whose renewals hang or fail, or whose process was frozen, stops writing
//! (every SDK attempt checks the deadline) before another replica may take the lease.
//!
//! Expiry is judged on this replica's clock from when the lease record last changed (as
//! client-go does), not from the `renewTime` another node's clock wrote.

use std::time::{Duration, Instant};

use albatross_aws::WriteFence;
use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use k8s_openapi::jiff::Timestamp;
use kube::api::{ObjectMeta, PostParams};
use kube::{Api, Client};
use tokio::sync::watch;

#[derive(Clone, Debug)]
pub struct LeaseSettings {
    pub namespace: String,
    pub name: String,
    /// This replica's identity (its pod name).
    pub identity: String,
    pub duration: Duration,
}

impl LeaseSettings {
    /// A leader that has not renewed for this long steps down on its own, before others may
    /// take the lease (`duration`).
    fn renew_deadline(&self) -> Duration {
        self.duration * 2 / 3
    }

    /// How long one acquire-or-renew (a read and a write) may take: a hung request fails in
    /// time for another try within the renew deadline.
    fn renew_timeout(&self) -> Duration {
        self.renew_deadline() / 2
    }

    fn retry(&self) -> Duration {
        self.duration / 5
    }
}

/// Whether this replica leads; cheap to clone and check.
#[derive(Clone)]
pub struct Leadership {
    rx: watch::Receiver<bool>,
    /// Past its deadline the claim is void even if the elector has not said so yet (it may hang).
    fence: WriteFence,
}

impl Leadership {
    pub fn is_leader(&self) -> bool {
        *self.rx.borrow() && self.fence.is_open()
    }

    /// Waits until leadership changes; returns the new state.
    pub async fn changed(&mut self) -> bool {
        if self.rx.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
        *self.rx.borrow_and_update()
    }
}

pub struct Elector {
    api: Api<Lease>,
    settings: LeaseSettings,
    tx: watch::Sender<bool>,
    fence: WriteFence,
    /// The holder and renew time last seen, and when this replica saw them change.
    observed: Option<(Option<String>, Option<MicroTime>, Instant)>,
    /// When the last successful renewal started.
    renewed: Option<Instant>,
}

impl Elector {
    /// An elector and the leadership it drives. The fence is closed until the lease is held.
    pub fn new(client: Client, settings: LeaseSettings, fence: WriteFence) -> (Self, Leadership) {
        fence.close();
        let (tx, rx) = watch::channel(false);
        let api = Api::namespaced(client, &settings.namespace);
        let leadership = Leadership { rx, fence: fence.clone() };
        (Self { api, settings, tx, fence, observed: None, renewed: None }, leadership)
    }

    /// Runs until `stop` turns true, then releases the lease if held.
    pub async fn run(mut self, mut stop: watch::Receiver<bool>) {
        loop {
            // The lease record is written with a time taken after this: the deadline counts from
            // before the request, never from its answer.
            let started = Instant::now();
            let attempt = tokio::time::timeout(self.settings.renew_timeout(), self.try_acquire_or_renew()).await;
            match attempt {
                Ok(Ok(true)) => {
                    self.renewed = Some(started);
                    self.set(true);
                }
                Ok(Ok(false)) => self.set(false),
                Ok(Err(error)) => self.failed(&error),
                Err(_) => self.failed(&format!("no answer within {:?}", self.settings.renew_timeout())),
            }
            tokio::select! {
                _ = tokio::time::sleep(self.settings.retry()) => {}
                _ = stop.wait_for(|s| *s) => break,
            }
        }
        self.release().await;
    }

    /// A failed renewal keeps the lease until the renew deadline, then gives it up.
    fn failed(&self, error: &dyn std::fmt::Display) {
        tracing::warn!(%error, lease = %self.settings.name, "lease request failed");
        let stale = self.renewed.is_none_or(|t| t.elapsed() >= self.settings.renew_deadline());
        if stale {
            self.set(false);
        }
    }

    fn set(&self, leader: bool) {
        if *self.tx.borrow() != leader {
            if leader {
                tracing::info!(identity = %self.settings.identity, "became leader");
            } else {
                tracing::warn!(identity = %self.settings.identity, "not the leader any more: AWS and status writes stop");
            }
        }
        // Fence first: nothing may write once leadership is in doubt.
        match self.renewed.filter(|_| leader) {
            Some(renewed) => self.fence.open_until(renewed + self.settings.renew_deadline()),
            None => self.fence.close(),
        }
        self.tx.send_replace(leader);
    }

    async fn try_acquire_or_renew(&mut self) -> Result<bool, kube::Error> {
        let now = MicroTime(Timestamp::now());
        let seconds = self.settings.duration.as_secs().max(1) as i32;
        let Some(mut lease) = self.api.get_opt(&self.settings.name).await? else {
            let lease = Lease {
                metadata: ObjectMeta { name: Some(self.settings.name.clone()), ..Default::default() },
                spec: Some(LeaseSpec {
                    holder_identity: Some(self.settings.identity.clone()),
                    lease_duration_seconds: Some(seconds),
                    acquire_time: Some(now.clone()),
                    renew_time: Some(now),
                    lease_transitions: Some(0),
                    ..Default::default()
                }),
            };
            return match self.api.create(&PostParams::default(), &lease).await {
                Ok(_) => Ok(true),
                Err(kube::Error::Api(e)) if e.code == 409 => Ok(false),
                Err(e) => Err(e),
            };
        };
        let spec = lease.spec.get_or_insert_with(Default::default);
        let holder = spec.holder_identity.clone().filter(|h| !h.is_empty());
        let record = (holder.clone(), spec.renew_time.clone());
        match &self.observed {
            Some((h, r, _)) if (h, r) == (&record.0, &record.1) => {}
            _ => self.observed = Some((record.0, record.1, Instant::now())),
        }
        let mine = holder.as_deref() == Some(self.settings.identity.as_str());
        let their_duration = Duration::from_secs(spec.lease_duration_seconds.unwrap_or(seconds).max(1) as u64);
        let expired = self.observed.as_ref().is_some_and(|(_, _, seen)| seen.elapsed() > their_duration);
        if !mine && holder.is_some() && !expired {
            return Ok(false);
        }
        if !mine {
            spec.holder_identity = Some(self.settings.identity.clone());
            spec.acquire_time = Some(now.clone());
            spec.lease_transitions = Some(spec.lease_transitions.unwrap_or(0) + 1);
        }
        spec.renew_time = Some(now);
        spec.lease_duration_seconds = Some(seconds);
        // The resourceVersion read above makes this a compare-and-swap.
        match self.api.replace(&self.settings.name, &PostParams::default(), &lease).await {
            Ok(_) => Ok(true),
            Err(kube::Error::Api(e)) if e.code == 409 => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Hands the lease over at shutdown so the next leader need not wait for it to expire.
    async fn release(&mut self) {
        if !*self.tx.borrow() {
            return;
        }
        self.set(false);
        match tokio::time::timeout(self.settings.renew_timeout(), self.hand_over()).await {
            Ok(Ok(true)) => tracing::info!("lease released"),
            Ok(Ok(false)) => {}
            Ok(Err(error)) => tracing::warn!(%error, "releasing the lease failed; it expires on its own"),
            Err(_) => tracing::warn!("releasing the lease got no answer; it expires on its own"),
        }
    }

    /// Clears the holder if it is still this replica; `false` if it was not.
    async fn hand_over(&self) -> Result<bool, kube::Error> {
        let Some(mut lease) = self.api.get_opt(&self.settings.name).await? else { return Ok(false) };
        let spec = lease.spec.get_or_insert_with(Default::default);
        if spec.holder_identity.as_deref() != Some(self.settings.identity.as_str()) {
            return Ok(false);
        }
        spec.holder_identity = None;
        spec.lease_duration_seconds = Some(1);
        self.api.replace(&self.settings.name, &PostParams::default(), &lease).await?;
        Ok(true)
    }
}
