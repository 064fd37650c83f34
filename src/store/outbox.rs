//! The notification outbox (issue 14): events waiting to be delivered, in
//! their own sled tree keyed by a sequence number, and each sink's progress
//! through it in a second tree.
//!
//! A job event (`done`, `failed`) is written inside the same transaction as
//! the job write that moves the job into that state (see
//! [`record_job_event`]), so a crash can never keep the state change and
//! lose its event, or the other way round. Other events (a failing feed, a
//! rejected key, a pause) are enqueued by whoever notices them, with
//! [`Store::enqueue_event`]. Sequence numbers come from a counter read and
//! written inside each transaction, so they follow commit order: a sink's
//! cursor never skips an event committed late.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sled::transaction::{ConflictableTransactionError, TransactionalTree};
use sled::Transactional;

use super::{read_u64, tx_error, Store, StoreError};
use crate::model::Job;

/// `meta` key of the next outbox sequence number.
const NEXT_SEQ: &str = "outbox:next";

/// One event as stored, before it is rendered for a sink.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutboxEvent {
    /// Position in the outbox; sinks deliver in this order.
    pub seq: u64,
    /// Unique and stable across redelivery (the `Idempotency-Key`).
    pub id: String,
    /// `done`, `failed`, `feed_failing`, … (config::notify::EVENT_NAMES).
    pub event: String,
    pub at: DateTime<Utc>,
    /// The source filters match on: a feed name, `drop` or `submit`;
    /// `None` for account-wide events.
    #[serde(default)]
    pub source: Option<String>,
    /// Job events: the job as written with the state change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job: Option<Job>,
    /// Other events: what they are about (`feed`, `reason`, …).
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub detail: Map<String, Value>,
}

/// A sink's progress and health, kept across restarts.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SinkProgress {
    /// Every event up to this sequence number was delivered, dropped or
    /// filtered out.
    pub cursor: u64,
    pub last_success: Option<(DateTime<Utc>, String)>,
    pub last_error: Option<(DateTime<Utc>, String)>,
    /// Events given up on.
    pub dropped: u64,
}

/// The outbox's trees and its wake-up signal.
#[derive(Clone)]
pub struct Outbox {
    events: sled::Tree,
    progress: sled::Tree,
    /// Off until a sink is configured: no event is written for nobody.
    enabled: Arc<AtomicBool>,
    written: Arc<tokio::sync::Notify>,
}

impl Outbox {
    pub(super) fn open(db: &sled::Db) -> Result<Outbox, StoreError> {
        Ok(Outbox {
            events: db.open_tree("outbox")?,
            progress: db.open_tree("outbox_sinks")?,
            enabled: Arc::new(AtomicBool::new(false)),
            written: Arc::new(tokio::sync::Notify::new()),
        })
    }

    pub(super) fn tree(&self) -> &sled::Tree {
        &self.events
    }

    /// A draft of the event a write of `job` may record, or `None` when
    /// nothing is listening or the job is not done or failed.
    pub(super) fn draft_for(&self, job: &Job) -> Option<String> {
        let name = job.state.name();
        (self.enabled.load(Ordering::Relaxed) && matches!(name, "done" | "failed"))
            .then(new_event_id)
    }

    /// Wake the sinks after a durable write.
    pub(super) fn wake(&self) {
        self.written.notify_waiters();
    }
}

/// Inside the job write's transaction, before the job is written: record
/// the `done`/`failed` event with id `id` if this write moves the job into
/// that state (the stored record is in another state, or absent).
pub(super) fn record_job_event(
    jobs: &TransactionalTree,
    meta: &TransactionalTree,
    outbox: &TransactionalTree,
    job: &Job,
    id: &str,
) -> Result<(), ConflictableTransactionError<()>> {
    // The JSON records suffice: a compact record (in a skip bucket) is
    // always `skipped`, never the `done`/`failed` recorded here.
    let before = jobs.get(job.key.as_bytes())?;
    let was = before.as_deref().and_then(super::record::state_name);
    if was.as_deref() == Some(job.state.name()) {
        return Ok(());
    }
    let event = OutboxEvent {
        seq: 0,
        id: id.to_owned(),
        event: job.state.name().to_owned(),
        at: job.updated_at,
        source: Some(source_of(job)),
        job: Some(job.clone()),
        detail: Map::new(),
    };
    append(meta, outbox, event)
}

/// The name a sink's `feeds` filter knows a job's source by.
pub fn source_of(job: &Job) -> String {
    match &job.source.feed {
        Some(feed) => feed.clone(),
        None if job.source.origin == "drop" => "drop".to_owned(),
        None => "submit".to_owned(),
    }
}

fn append(
    meta: &TransactionalTree,
    outbox: &TransactionalTree,
    mut event: OutboxEvent,
) -> Result<(), ConflictableTransactionError<()>> {
    let seq = meta.get(NEXT_SEQ)?.map_or(1, |v| read_u64(&v)).max(1);
    meta.insert(NEXT_SEQ, &(seq + 1).to_be_bytes())?;
    event.seq = seq;
    let bytes = serde_json::to_vec(&event).expect("an event always serializes");
    outbox.insert(&seq.to_be_bytes(), bytes)?;
    Ok(())
}

/// 128 random bits, hex: unique without coordination.
fn new_event_id() -> String {
    format!("evt_{:032x}", fastrand::u128(..))
}

impl Store {
    /// Record events from now on (a sink is configured) or not.
    pub fn enable_outbox(&self, on: bool) {
        self.outbox.enabled.store(on, Ordering::Relaxed);
    }

    pub fn outbox_enabled(&self) -> bool {
        self.outbox.enabled.load(Ordering::Relaxed)
    }

    /// Enqueue an event that is not a job's state change (a feed, the key,
    /// a pause) and flush. Does nothing while the outbox is off.
    pub async fn enqueue_event(
        &self,
        event: &str,
        source: Option<&str>,
        detail: Map<String, Value>,
    ) -> Result<(), StoreError> {
        if !self.outbox_enabled() {
            return Ok(());
        }
        let draft = OutboxEvent {
            seq: 0,
            id: new_event_id(),
            event: event.to_owned(),
            at: Utc::now(),
            source: source.map(str::to_owned),
            job: None,
            detail,
        };
        let written = (&self.meta, &self.outbox.events)
            .transaction(|(meta, outbox)| append(meta, outbox, draft.clone()))
            .map_err(tx_error);
        self.noted(written)?;
        self.flush().await?;
        self.outbox.wake();
        Ok(())
    }

    /// Events after `cursor`, oldest first, at most `limit`.
    pub fn outbox_after(&self, cursor: u64, limit: usize) -> Result<Vec<OutboxEvent>, StoreError> {
        let mut events = Vec::new();
        for entry in self
            .outbox
            .events
            .range((cursor + 1).to_be_bytes()..)
            .take(limit)
        {
            let (key, bytes) = entry?;
            let key = format!("outbox {}", read_u64(&key));
            events.push(decode_event(&key, &bytes)?);
        }
        Ok(events)
    }

    /// The newest sequence number written (0 when none ever was).
    pub fn outbox_head(&self) -> Result<u64, StoreError> {
        Ok(self
            .meta
            .get(NEXT_SEQ)?
            .map_or(1, |v| read_u64(&v))
            .saturating_sub(1))
    }

    /// Resolves at the next durable outbox write (or call it again after a
    /// timeout: a write between two waits is seen by reading).
    pub fn outbox_written(&self) -> Arc<tokio::sync::Notify> {
        self.outbox.written.clone()
    }

    /// Remove every event up to `seq` (every sink is past it).
    pub fn trim_outbox(&self, seq: u64) -> Result<(), StoreError> {
        for entry in self.outbox.events.range(..=seq.to_be_bytes()) {
            let (key, _) = entry?;
            self.outbox.events.remove(key)?;
        }
        Ok(())
    }

    /// Sink `name`'s progress; `None` for a sink never seen.
    pub fn sink_progress(&self, name: &str) -> Result<Option<SinkProgress>, StoreError> {
        let Some(bytes) = self.outbox.progress.get(name)? else {
            return Ok(None);
        };
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|source| StoreError::Corrupt {
                key: format!("sink {name}"),
                source,
            })
    }

    /// Write sink `name`'s progress (flushed with the next flush: losing
    /// it means an event is delivered again, which at-least-once allows).
    pub fn save_sink_progress(
        &self,
        name: &str,
        progress: &SinkProgress,
    ) -> Result<(), StoreError> {
        let bytes = serde_json::to_vec(progress).expect("progress serializes");
        self.outbox.progress.insert(name, bytes)?;
        Ok(())
    }

    /// A small named flag kept with the outbox (what was last announced
    /// about the key or a pause), so a restart does not repeat it.
    pub fn outbox_flag(&self, name: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .outbox
            .progress
            .get(format!("flag:{name}"))?
            .map(|v| String::from_utf8_lossy(&v).into_owned()))
    }

    pub fn set_outbox_flag(&self, name: &str, value: &str) -> Result<(), StoreError> {
        self.outbox
            .progress
            .insert(format!("flag:{name}"), value.as_bytes())?;
        Ok(())
    }
}

fn decode_event(key: &str, bytes: &[u8]) -> Result<OutboxEvent, StoreError> {
    serde_json::from_slice(bytes).map_err(|source| StoreError::Corrupt {
        key: key.to_string(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Event, Source};

    fn job() -> Job {
        let source = Source {
            url: "https://www.youtube.com/watch?v=abcdefghijk".into(),
            origin: "submit".into(),
            ..Source::default()
        };
        Job::new(
            1,
            "youtube:abcdefghijk".into(),
            source,
            "default".into(),
            Utc::now(),
        )
    }

    #[tokio::test]
    async fn a_move_into_failed_is_recorded_once_with_the_write() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let mut job = job();
        store.save(&job).await.unwrap();
        store.enable_outbox(true);
        store.save(&job).await.unwrap();
        assert!(
            store.outbox_after(0, 10).unwrap().is_empty(),
            "queued: no event"
        );
        job.apply(
            Event::Failed {
                reason: "boom".into(),
                will_retry: false,
            },
            Utc::now(),
        )
        .unwrap();
        store.save(&job).await.unwrap();
        // Saved again in the same state: no second event.
        store.save(&job).await.unwrap();
        let events = store.outbox_after(0, 10).unwrap();
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].event, "failed");
        assert_eq!(events[0].source.as_deref(), Some("submit"));
        assert_eq!(events[0].job.as_ref().unwrap().key, job.key);
        assert_eq!(store.outbox_head().unwrap(), events[0].seq);

        store
            .enqueue_event("paused", None, Map::new())
            .await
            .unwrap();
        let all = store.outbox_after(0, 10).unwrap();
        assert_eq!(all.len(), 2);
        assert!(all[1].seq > all[0].seq);
        assert_ne!(all[0].id, all[1].id);
        store.trim_outbox(all[0].seq).unwrap();
        assert_eq!(store.outbox_after(0, 10).unwrap(), all[1..]);
    }

    #[tokio::test]
    async fn nothing_is_recorded_while_off() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let mut job = job();
        job.apply(Event::Skipped { reason: "x".into() }, Utc::now())
            .unwrap();
        store.save(&job).await.unwrap();
        store
            .enqueue_event("paused", None, Map::new())
            .await
            .unwrap();
        assert!(store.outbox_after(0, 10).unwrap().is_empty());
    }
}
