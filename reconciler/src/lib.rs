//! In-cluster controllers: watch caches and the index of which Gateway an event touches, the
//! GatewayClass and Gateway controllers (finalizers, target registration, backoff, resync), the
//! server-side-apply status writer, Events, and leader election on a Lease.

pub mod cache;
pub mod controller;
pub mod error;
pub mod index;
pub mod leader;
pub mod liveness;
pub mod metrics;
pub mod queue;
pub mod readiness;
pub mod secrets;
pub mod shared_targets;
pub mod status;
pub mod targets;
pub mod webhook_certs;
mod worker;

pub use cache::{Cache, Kind};
pub use controller::{Controller, FIELD_MANAGER, FINALIZER, Settings};
pub use leader::{Elector, Leadership, LeaseSettings};
pub use liveness::Liveness;
