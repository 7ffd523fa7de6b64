//! Prometheus metrics of the controllers. Labels are fixed strings.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReconcileLabels {
    pub kind: &'static str,
    pub outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KindLabels {
    pub kind: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ErrorLabels {
    /// The retry class: throttled, transient, dependency_not_ready, permanent, fenced.
    pub class: &'static str,
    /// Where it came from: aws, kubernetes, not_leader, panic.
    pub cause: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DirectionLabels {
    pub direction: &'static str,
}

#[derive(Clone)]
pub struct Metrics {
    pub reconciles: Family<ReconcileLabels, Counter>,
    pub errors: Family<ErrorLabels, Counter>,
    /// Reconciles that panicked (also counted in `errors` with cause `panic`).
    pub panics: Counter,
    pub durations: Family<KindLabels, Histogram, fn() -> Histogram>,
    pub queue_depth: Gauge,
    pub status_patches: Counter,
    pub leader: Gauge,
    pub targets: Family<DirectionLabels, Counter>,
    /// Gateways confirmed by their load balancer's fingerprint, without a full read.
    pub confirmed: Counter,
}

fn duration_histogram() -> Histogram {
    // 1 ms to about 65 s, doubling.
    Histogram::new(exponential_buckets(0.001, 2.0, 17))
}

impl Default for Metrics {
    fn default() -> Self {
        Self {
            reconciles: Family::default(),
            errors: Family::default(),
            panics: Counter::default(),
            durations: Family::new_with_constructor(duration_histogram),
            queue_depth: Gauge::default(),
            status_patches: Counter::default(),
            leader: Gauge::default(),
            targets: Family::default(),
            confirmed: Counter::default(),
        }
    }
}

impl Metrics {
    pub fn register(&self, registry: &mut Registry) {
        registry.register("reconciles", "Reconciles run, by kind and outcome", self.reconciles.clone());
        registry.register("reconcile_errors", "Failed reconciles by retry class and cause", self.errors.clone());
        registry.register("reconcile_panics", "Reconciles that panicked; the worker went on", self.panics.clone());
        registry.register("reconcile_duration_seconds", "Time per reconcile", self.durations.clone());
        registry.register("queue_depth", "Keys waiting to be reconciled", self.queue_depth.clone());
        registry.register("status_patches", "Status server-side applies sent", self.status_patches.clone());
        registry.register("leader", "1 while this replica holds the lease", self.leader.clone());
        registry.register("targets_changed", "Targets registered and deregistered", self.targets.clone());
        registry.register(
            "stacks_confirmed",
            "Gateways confirmed unchanged by their load balancer's fingerprint, without a full read",
            self.confirmed.clone(),
        );
    }
}
