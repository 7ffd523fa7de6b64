//! Runs the stages of an apply: the lanes of a stage at once, up to a bound, each lane's
//! operations in order; the first failure stops the lanes from starting anything more.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard};

use futures::StreamExt;

use super::{Stage, State};
use crate::client::AwsError;
use crate::diff::Op;

impl State<'_> {
    /// The lanes of `stage`, at most `concurrency` at once.
    pub(super) async fn run_stage(&self, stage: &Stage, concurrency: usize) -> Result<(), AwsError> {
        let failed = AtomicBool::new(false);
        // By index: a closure over `&Vec<Op>` makes the future not provably `Send`.
        let results: Vec<Result<(), AwsError>> = futures::stream::iter(0..stage.lanes.len())
            .map(|i| self.run_lane(&stage.lanes[i], &failed))
            .buffer_unordered(concurrency.max(1))
            .collect()
            .await;
        // In the order they completed: the first is the failure that stopped the others.
        results.into_iter().find_map(Result::err).map_or(Ok(()), Err)
    }

    /// One lane's operations in order, until one fails here or in another lane.
    async fn run_lane(&self, lane: &[Op], failed: &AtomicBool) -> Result<(), AwsError> {
        for op in lane {
            if failed.load(Ordering::Acquire) {
                break;
            }
            tracing::info!(gateway = %self.stack.gateway, operation = op.operation(), "apply");
            if let Err(e) = self.run(op).await {
                failed.store(true, Ordering::Release);
                return Err(e);
            }
        }
        Ok(())
    }
}

/// The maps hold plain values written in one statement: a panicked holder left nothing torn.
pub(super) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}
