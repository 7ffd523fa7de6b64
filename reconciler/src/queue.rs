//! The work queue: each key at most once in the queue and at most once in flight; a key that
//! changes while it is being reconciled runs again right after, never twice at once.

use std::collections::{HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Notify;

use crate::index::Key;

#[derive(Default)]
struct State {
    ready: VecDeque<Key>,
    queued: HashSet<Key>,
    running: HashSet<Key>,
    /// Enqueued while running: goes back in line when done.
    again: HashSet<Key>,
}

#[derive(Clone, Default)]
pub struct Queue {
    state: Arc<Mutex<State>>,
    notify: Arc<Notify>,
}

impl Queue {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn add(&self, key: Key) {
        let mut s = self.lock();
        if s.running.contains(&key) {
            s.again.insert(key);
        } else if s.queued.insert(key.clone()) {
            s.ready.push_back(key);
            drop(s);
            self.notify.notify_one();
        }
    }

    /// Adds the key after `delay` (backoff, resync).
    pub fn add_after(&self, key: Key, delay: Duration) {
        let queue = self.clone();
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            queue.add(key);
        });
    }

    /// The next key to work on; it counts as running until [`Queue::done`].
    pub async fn next(&self) -> Key {
        loop {
            let notified = self.notify.notified();
            {
                let mut s = self.lock();
                if let Some(key) = s.ready.pop_front() {
                    s.queued.remove(&key);
                    s.running.insert(key.clone());
                    if !s.ready.is_empty() {
                        drop(s);
                        self.notify.notify_one();
                    }
                    return key;
                }
            }
            notified.await;
        }
    }

    /// Nothing queued, nothing running.
    pub fn is_idle(&self) -> bool {
        let s = self.lock();
        s.ready.is_empty() && s.running.is_empty() && s.again.is_empty()
    }

    pub fn done(&self, key: &Key) {
        let mut s = self.lock();
        s.running.remove(key);
        if s.again.remove(key) && s.queued.insert(key.clone()) {
            s.ready.push_back(key.clone());
            drop(s);
            self.notify.notify_one();
        }
    }

    /// Keys waiting to run.
    pub fn depth(&self) -> usize {
        self.lock().ready.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use albatross_k8s::route::ObjectKey;

    fn key(name: &str) -> Key {
        Key::Gateway(ObjectKey::new("ns", name))
    }

    #[tokio::test]
    async fn a_key_added_twice_runs_once() {
        let q = Queue::default();
        q.add(key("a"));
        q.add(key("a"));
        q.add(key("b"));
        assert_eq!(q.depth(), 2);
        assert_eq!(q.next().await, key("a"));
        assert_eq!(q.next().await, key("b"));
        assert_eq!(q.depth(), 0);
    }

    #[tokio::test]
    async fn a_key_changed_while_running_runs_again_after_not_beside() {
        let q = Queue::default();
        q.add(key("a"));
        let k = q.next().await;
        q.add(key("a"));
        assert_eq!(q.depth(), 0, "not handed to a second worker while running");
        q.done(&k);
        assert_eq!(q.depth(), 1);
        assert_eq!(q.next().await, key("a"));
    }
}
