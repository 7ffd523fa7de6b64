//! The only crate that talks to AWS: resolve the build environment, observe a stack by its
//! ownership tags, diff it against the plan and apply the difference in a safe order.

pub mod apply;
pub mod census;
pub mod client;
pub mod delete;
pub mod deploy;
pub mod diff;
pub mod iam;
pub mod lb_settings;
pub mod listener_settings;
pub mod observe;
pub mod observed;
pub mod preview;
pub mod protection;
pub mod resolve;
pub mod sdk;
pub mod targets;

pub use client::{
    Api, Aws, AwsError, AwsSettings, CallMetrics, CallTally, ErrorClass, FENCED, Fenced, Limit, READ_ONLY, RateLimits,
    ReadOnly, WriteFence, is_mutating,
};
