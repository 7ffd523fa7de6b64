//! The pure core of Albatross.
//!
//! Validation and defaulting of Gateway API objects and our `gateway.k8s.aws` CRDs, exactly as the
//! API server does it plus the checks AWS load balancers need. No I/O, no async runtime, no
//! Kubernetes or AWS clients: the webhook, the CLI and the reconciler all call into this crate.

pub mod defaults;
pub mod dry_run;
pub mod manifest;
pub mod plan;
pub mod validate;

pub use validate::{
    AwsLimits, Catalog, Channel, Controllers, FieldError, FieldValidation, Flavor, Operation, Outcome, Validator,
    ValidatorOptions,
};
