//! Prometheus metrics of the webhook. Labels are fixed strings, never formatted from input.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReviewLabels {
    pub endpoint: &'static str,
    pub kind: &'static str,
    pub operation: &'static str,
    pub verdict: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct EndpointLabels {
    pub endpoint: &'static str,
}

pub struct Metrics {
    pub registry: Registry,
    pub reviews: Family<ReviewLabels, Counter>,
    pub latency: Family<EndpointLabels, Histogram>,
    /// Unix seconds at which the serving certificate in use expires.
    pub certificate_expiry: Gauge,
}

const CERTIFICATE_EXPIRY: (&str, &str) =
    ("certificate_expiry_timestamp_seconds", "Unix time at which the serving certificate in use expires");

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("albatross_webhook");
        let reviews = Family::<ReviewLabels, Counter>::default();
        registry.register("reviews", "AdmissionReviews answered, by kind, operation and verdict", reviews.clone());
        let latency = Family::<EndpointLabels, Histogram>::new_with_constructor(|| {
            // 25 µs to about 1.6 s, doubling.
            Histogram::new(prometheus_client::metrics::histogram::exponential_buckets(0.000025, 2.0, 17))
        });
        registry.register("review_duration_seconds", "Time to answer one AdmissionReview", latency.clone());
        let certificate_expiry = Gauge::default();
        registry.register(CERTIFICATE_EXPIRY.0, CERTIFICATE_EXPIRY.1, certificate_expiry.clone());
        Self { registry, reviews, latency, certificate_expiry }
    }
}

impl Metrics {
    /// Registers the same metrics in another registry (one `/metrics` for a whole process).
    pub fn register(&self, registry: &mut Registry) {
        let sub = registry.sub_registry_with_prefix("albatross_webhook");
        sub.register("reviews", "AdmissionReviews answered, by kind, operation and verdict", self.reviews.clone());
        sub.register("review_duration_seconds", "Time to answer one AdmissionReview", self.latency.clone());
        sub.register(CERTIFICATE_EXPIRY.0, CERTIFICATE_EXPIRY.1, self.certificate_expiry.clone());
    }

    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}
