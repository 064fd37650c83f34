//! Who hears of a job written: the scheduler's change set
//! ([`Store::watch_changes`]/[`Store::take_changes`]) and every subscriber of
//! the broadcast ([`Store::subscribe`]).

use std::collections::HashSet;

use crate::model::JobChange;

use super::Store;

impl Store {
    /// From now on, remember the key of every job written (created, saved,
    /// forgotten) until [`Store::take_changes`] collects them. The scheduler
    /// uses this to keep its index without reading every job on each pass.
    pub fn watch_changes(&self) {
        self.changes
            .lock()
            .expect("changes lock")
            .get_or_insert_with(HashSet::new);
    }

    /// The keys written since the last call (see [`Store::watch_changes`]).
    pub fn take_changes(&self) -> Vec<String> {
        match self.changes.lock().expect("changes lock").as_mut() {
            Some(keys) => keys.drain().collect(),
            None => Vec::new(),
        }
    }

    /// Every job written from now on, after it is durable (see
    /// [`JobChange`]). A subscriber that falls more than
    /// `PUBLISHED_CAPACITY` changes behind gets `Lagged` and should re-read
    /// what it needs from the store; the store never waits for subscribers.
    pub fn subscribe(&self) -> tokio::sync::broadcast::Receiver<JobChange> {
        self.published.subscribe()
    }

    pub(super) fn publish(&self, change: JobChange) {
        // No subscriber is not an error.
        let _ = self.published.send(change);
    }

    pub(super) fn changed(&self, key: &str) {
        if let Some(keys) = self.changes.lock().expect("changes lock").as_mut() {
            keys.insert(key.to_string());
        }
    }
}
