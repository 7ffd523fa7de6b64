//! Why a reconcile failed, and what to do about it: each variant has its retry class and a
//! fixed metric label, so nothing is decided by comparing error text.

use albatross_aws::{AwsError, ErrorClass};

/// Why a reconcile failed. Each variant has its retry class and a fixed metric label.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An AWS call failed (after the SDK's own retries).
    #[error(transparent)]
    Aws(AwsError),
    /// A Kubernetes API request failed.
    #[error("Kubernetes API: {0}")]
    Kube(#[from] kube::Error),
    /// The record of a shared target group's targets (`enableMultiCluster`) failed.
    #[error(transparent)]
    Record(#[from] crate::shared_targets::RecordError),
    /// This replica does not (or may no longer) hold the lease: nothing was written.
    #[error("not the leader")]
    NotLeader,
    /// The reconcile panicked (a bug); the worker caught it and goes on.
    #[error("reconcile panicked: {0}")]
    Panicked(String),
}

/// What to do about a failed reconcile.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RetryClass {
    /// An API's rate limit: back off longer.
    Throttled,
    /// Network, server side, conflicts, bugs: back off and retry.
    Transient,
    /// Something it needs is not there yet (or went away): back off and retry.
    DependencyNotReady,
    /// A retry will not change the answer: wait for a change or the resync.
    Permanent,
    /// Not the leader: not retried here.
    Fenced,
}

impl RetryClass {
    pub fn label(self) -> &'static str {
        match self {
            RetryClass::Throttled => "throttled",
            RetryClass::Transient => "transient",
            RetryClass::DependencyNotReady => "dependency_not_ready",
            RetryClass::Permanent => "permanent",
            RetryClass::Fenced => "fenced",
        }
    }
}

/// A fenced AWS write is the lease's business, not AWS's.
impl From<AwsError> for Error {
    fn from(e: AwsError) -> Self {
        if e.is_fenced() { Error::NotLeader } else { Error::Aws(e) }
    }
}

impl Error {
    pub fn class(&self) -> RetryClass {
        match self {
            Error::Aws(e) => match e.class {
                ErrorClass::Throttled => RetryClass::Throttled,
                ErrorClass::Transient => RetryClass::Transient,
                ErrorClass::NotFound => RetryClass::DependencyNotReady,
                ErrorClass::Permanent => RetryClass::Permanent,
                ErrorClass::Fenced => RetryClass::Fenced,
            },
            Error::Kube(kube::Error::Api(e)) if e.code == 429 => RetryClass::Throttled,
            Error::Kube(_) | Error::Panicked(_) => RetryClass::Transient,
            Error::Record(e) if e.is_transient() => RetryClass::Transient,
            Error::Record(_) => RetryClass::Permanent,
            Error::NotLeader => RetryClass::Fenced,
        }
    }

    /// Where the error came from, as a metric label.
    pub fn label(&self) -> &'static str {
        match self {
            Error::Aws(_) => "aws",
            Error::Kube(_) => "kubernetes",
            Error::Record(_) => "target_record",
            Error::NotLeader => "not_leader",
            Error::Panicked(_) => "panic",
        }
    }
}
