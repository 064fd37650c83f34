//! The narrow handle sources get: where to record what they find (the
//! store), the configuration in force, a way to wake the scheduler when a
//! job is queued, and shutdown. Nothing of the pipeline (API client, task
//! slots, limits) reaches a source; the daemon builds this from its
//! pipeline and hands it over.

use std::sync::Arc;

use tokio::sync::{watch, Notify};
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::store::Store;

/// What a source needs to queue work; cheap to clone.
#[derive(Clone)]
pub struct Intake {
    /// Where jobs and skips are recorded.
    pub store: Store,
    /// Shutdown: watchers stop when it is cancelled.
    pub cancel: CancellationToken,
    config: watch::Receiver<Arc<Config>>,
    wake: Arc<Notify>,
}

impl Intake {
    /// `wake` is the scheduler's: notified once per job queued.
    pub fn new(
        store: Store,
        config: watch::Receiver<Arc<Config>>,
        wake: Arc<Notify>,
        cancel: CancellationToken,
    ) -> Intake {
        Intake {
            store,
            cancel,
            config,
            wake,
        }
    }

    /// The configuration in force now (reload swaps it).
    pub fn config(&self) -> Arc<Config> {
        self.config.borrow().clone()
    }

    /// Tell the scheduler that a job was queued.
    pub fn wake(&self) {
        self.wake.notify_one();
    }
}
