//! The admission webhook: AdmissionReview v1 in, `albatross_model` verdicts and patches out.
//!
//! `POST /validate` and `POST /mutate` are served over TLS; `/healthz`, `/readyz` and `/metrics`
//! over plain HTTP on a separate admin port. The handlers never panic on input: a body that is
//! not an AdmissionReview gets 400 with the reason, one over 3 MiB gets 413. Validation runs on
//! blocking threads, a few at once, each with a deadline; connections are capped and timed.

mod admission;
pub mod adversarial;
mod envelope;
mod listener;
mod metrics;
mod server;

pub use admission::{Endpoint, PodGates, past_deadline, review};
pub use listener::{ConnectionLimits, ServerHandle, serve_tls};
pub use metrics::Metrics;
pub use server::{MAX_BODY_BYTES, Readiness, ReviewLimits, Webhook, admin_router, router};
