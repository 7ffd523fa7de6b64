//! The admission webhook: AdmissionReview v1 in, `albatross_model` verdicts and patches out.
//!
//! `POST /validate` and `POST /mutate` are served over TLS; `/healthz`, `/readyz` and `/metrics`
//! over plain HTTP on a separate admin port. The handlers never panic on input: a body that is
//! not an AdmissionReview gets 400 with the reason, one over 3 MiB gets 413.

mod admission;
mod metrics;
mod server;

pub use admission::{Endpoint, PodGates, review};
pub use metrics::Metrics;
pub use server::{MAX_BODY_BYTES, Readiness, Webhook, admin_router, router, serve_tls};
