//! Which core tasks have ended. Each runs as long as the process (watches, workers, the lease
//! elector, the webhook's helpers): one that returns or panics leaves the replica half-working,
//! so `/healthz` turns false and the kubelet restarts it.

use std::future::Future;
use std::sync::{Arc, Mutex};

use tokio::task::JoinHandle;

/// Shared by every clone; cheap to check.
#[derive(Clone, Debug, Default)]
pub struct Liveness {
    ended: Arc<Mutex<Vec<&'static str>>>,
}

impl Liveness {
    /// Runs `task` as a core task named `name` (a fixed string). The handle resolves once it has
    /// ended, by returning or by panicking; either way it is recorded.
    pub fn spawn<F>(&self, name: &'static str, task: F) -> JoinHandle<()>
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let running = tokio::spawn(task);
        let ended = self.ended.clone();
        tokio::spawn(async move {
            match running.await {
                Err(e) if e.is_panic() => tracing::error!(task = name, "core task panicked"),
                _ => tracing::error!(task = name, "core task ended"),
            }
            ended.lock().unwrap_or_else(|e| e.into_inner()).push(name);
        })
    }

    /// The core tasks that have ended, in the order they did.
    pub fn ended(&self) -> Vec<&'static str> {
        self.ended.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Whether every core task still runs: the answer of `/healthz`.
    pub fn healthy(&self) -> bool {
        self.ended.lock().unwrap_or_else(|e| e.into_inner()).is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn dead_core_task_turns_healthz_false() {
        let liveness = Liveness::default();
        let (_keep, stop) = tokio::sync::oneshot::channel::<()>();
        let alive = liveness.spawn("elector", async move {
            let _ = stop.await;
        });
        assert!(liveness.healthy());
        liveness.spawn("worker", async { panic!("a bug") }).await.unwrap();
        assert!(!liveness.healthy());
        assert_eq!(liveness.ended(), ["worker"]);
        assert!(!alive.is_finished());
    }
}
