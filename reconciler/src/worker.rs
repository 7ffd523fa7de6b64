//! The workers: each takes a key from the queue, runs its reconcile under a panic guard and
//! schedules the key's next run from the outcome, backing off per key by retry class.

use std::any::Any;
use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use futures::FutureExt;

use crate::controller::{Error, RetryClass};
use crate::index::Key;
use crate::metrics::{ErrorLabels, KindLabels, Metrics, ReconcileLabels};
use crate::queue::Queue;

/// What a worker shares with its controller.
pub(crate) struct Worker<'a> {
    pub queue: &'a Queue,
    pub metrics: &'a Metrics,
    /// Consecutive failures per key.
    pub failures: &'a Mutex<HashMap<Key, u32>>,
    /// When a permanent failure is tried again if nothing changes first.
    pub resync: Duration,
}

fn kind(key: &Key) -> &'static str {
    match key {
        Key::Class(_) => "GatewayClass",
        Key::Gateway(_) => "Gateway",
        Key::Targets(..) => "Targets",
    }
}

fn panic_message(payload: &(dyn Any + Send)) -> String {
    match (payload.downcast_ref::<&str>(), payload.downcast_ref::<String>()) {
        (Some(s), _) => (*s).to_owned(),
        (_, Some(s)) => s.clone(),
        _ => "a panic without a message".into(),
    }
}

/// The delay before the `n`th retry (from 1) of a failure of this class; `None`: not retried.
fn backoff(class: RetryClass, n: u32, resync: Duration) -> Option<Duration> {
    let exponential = |first: Duration| (first * 2u32.saturating_pow((n - 1).min(10))).min(Duration::from_secs(300));
    match class {
        // The next leader takes the key over.
        RetryClass::Fenced => None,
        // Waits for a change or the resync.
        RetryClass::Permanent => Some(resync),
        // The API's token bucket refills slowly: leave it more room.
        RetryClass::Throttled => Some(exponential(Duration::from_secs(5))),
        RetryClass::Transient | RetryClass::DependencyNotReady => Some(exponential(Duration::from_millis(500))),
    }
}

impl Worker<'_> {
    /// Takes keys until the process ends. `reconcile` answers `None` when it did not run (this
    /// replica does not lead). A panic fails that one reconcile like an error; the key leaves
    /// "in flight" and the worker takes the next.
    pub async fn run<F, Fut>(&self, reconcile: F)
    where
        F: Fn(Key) -> Fut,
        Fut: Future<Output = Option<Result<(), Error>>>,
    {
        loop {
            let key = self.queue.next().await;
            let started = Instant::now();
            let outcome = AssertUnwindSafe(reconcile(key.clone())).catch_unwind().await;
            match outcome {
                Ok(None) => {}
                Ok(Some(result)) => self.schedule(&key, started, result),
                Err(payload) => self.schedule(&key, started, Err(Error::Panicked(panic_message(payload.as_ref())))),
            }
            self.queue.done(&key);
        }
    }

    fn schedule(&self, key: &Key, started: Instant, result: Result<(), Error>) {
        let kind = kind(key);
        self.metrics.durations.get_or_create(&KindLabels { kind }).observe(started.elapsed().as_secs_f64());
        let outcome = if result.is_ok() { "ok" } else { "error" };
        self.metrics.reconciles.get_or_create(&ReconcileLabels { kind, outcome }).inc();
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        let error = match result {
            Ok(()) => {
                failures.remove(key);
                return;
            }
            Err(error) => error,
        };
        let class = error.class();
        self.metrics.errors.get_or_create(&ErrorLabels { class: class.label(), cause: error.label() }).inc();
        if matches!(error, Error::Panicked(_)) {
            self.metrics.panics.inc();
        }
        let n = failures.entry(key.clone()).or_insert(0);
        *n += 1;
        let Some(delay) = backoff(class, *n, self.resync) else {
            failures.remove(key);
            return;
        };
        tracing::warn!(%key, %error, attempt = *n, retry_in_ms = delay.as_millis() as u64, "reconcile failed");
        self.queue.add_after(key.clone(), delay);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use albatross_k8s::route::ObjectKey;

    #[tokio::test]
    async fn panic_in_a_reconcile_does_not_kill_the_worker() {
        let (queue, metrics, failures) = (Queue::default(), Metrics::default(), Mutex::default());
        let worker = Worker { queue: &queue, metrics: &metrics, failures: &failures, resync: Duration::from_secs(600) };
        let (a, b) = (Key::Gateway(ObjectKey::new("ns", "a")), Key::Gateway(ObjectKey::new("ns", "b")));
        queue.add(a.clone());
        queue.add(b.clone());
        let (ran, mut runs) = tokio::sync::mpsc::unbounded_channel();
        let panicking = a.clone();
        let work = worker.run(|key| {
            let ran = ran.clone();
            let panicking = panicking.clone();
            async move {
                assert_ne!(key, panicking, "a bug in one reconcile");
                ran.send(key).unwrap();
                Some(Ok(()))
            }
        });
        tokio::select! {
            _ = work => unreachable!("a worker runs forever"),
            next = runs.recv() => assert_eq!(next, Some(b)),
        }
        assert_eq!(metrics.panics.get(), 1);
        let labels = ErrorLabels { class: "transient", cause: "panic" };
        assert_eq!(metrics.errors.get_or_create(&labels).get(), 1);
        // Backed off like an error, and out of flight: adding it again queues it at once.
        assert_eq!(failures.lock().unwrap().get(&a), Some(&1));
        queue.add(a.clone());
        assert_eq!(queue.depth(), 1);
    }

    #[test]
    fn retry_class_comes_from_the_variant() {
        use albatross_aws::{AwsError, ErrorClass};
        let aws = |class| Error::from(AwsError::new("CreateRule", "Whatever", "m", class));
        assert_eq!(aws(ErrorClass::Throttled).class(), RetryClass::Throttled);
        assert_eq!(aws(ErrorClass::Transient).class(), RetryClass::Transient);
        assert_eq!(aws(ErrorClass::NotFound).class(), RetryClass::DependencyNotReady);
        assert_eq!(aws(ErrorClass::Permanent).class(), RetryClass::Permanent);
        // The error code is the service's text: it decides nothing.
        let permanent_sounding = AwsError::new("CreateRule", "permanent", "permanent", ErrorClass::Transient);
        assert_eq!(Error::from(permanent_sounding).class(), RetryClass::Transient);
        // A fenced write is the lease's business.
        assert!(matches!(Error::from(AwsError::fenced("CreateRule")), Error::NotLeader));
        assert_eq!(Error::NotLeader.class(), RetryClass::Fenced);
        assert_eq!(Error::Panicked("bug".into()).class(), RetryClass::Transient);
        let throttled =
            kube::Error::Api(kube::core::Status::failure("slow down", "TooManyRequests").with_code(429).boxed());
        assert_eq!(Error::Kube(throttled).class(), RetryClass::Throttled);
        assert_eq!(Error::Panicked("bug".into()).label(), "panic");
    }

    #[test]
    fn each_class_backs_off_its_own_way() {
        let resync = Duration::from_secs(600);
        assert_eq!(backoff(RetryClass::Fenced, 1, resync), None);
        assert_eq!(backoff(RetryClass::Permanent, 3, resync), Some(resync));
        assert_eq!(backoff(RetryClass::Transient, 2, resync), Some(Duration::from_secs(1)));
        assert_eq!(backoff(RetryClass::Throttled, 1, resync), Some(Duration::from_secs(5)));
        assert_eq!(backoff(RetryClass::DependencyNotReady, 30, resync), Some(Duration::from_secs(300)));
    }
}
