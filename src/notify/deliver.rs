//! One task per sink: read the outbox from the sink's cursor, deliver each
//! event it wants (at least once, the same id on every attempt), retry with
//! backoff and the receiver's Retry-After until `give_up_after` has passed
//! since the event, then drop it with one WARN. The cursor moves only after
//! an event is delivered, dropped or filtered out, so a crash or restart
//! delivers it again. Nothing here is awaited by the pipeline: a dead or
//! hung receiver holds up only its own sink.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tokio_util::sync::CancellationToken;

use super::payload::render;
use super::send::{attempt, Outcome};
use crate::config::{Config, SinkConfig};
use crate::store::{OutboxEvent, SinkProgress, Store, StoreError};

/// Events read from the outbox at a time.
const BATCH: usize = 64;
/// The longest wait between two attempts, whatever the backoff says.
const MAX_BACKOFF: Duration = Duration::from_secs(3600);
/// Re-read the outbox at least this often (a wake-up can be missed
/// between two reads).
const IDLE_RECHECK: Duration = Duration::from_secs(2);

/// A sink's task state.
pub struct SinkTask {
    pub store: Store,
    pub config: Arc<Config>,
    pub sink: SinkConfig,
    pub client: reqwest::Client,
    pub cancel: CancellationToken,
}

impl SinkTask {
    /// Deliver until cancelled.
    pub async fn run(self) {
        if let Err(err) = self.deliver_all().await {
            tracing::error!(sink = %self.sink.name, "notifications stopped: {err}");
        }
    }

    async fn deliver_all(&self) -> Result<(), StoreError> {
        let mut progress = self.start()?;
        let written = self.store.outbox_written();
        loop {
            let woken = written.notified();
            tokio::pin!(woken);
            woken.as_mut().enable();
            let events = self.store.outbox_after(progress.cursor, BATCH)?;
            if events.is_empty() {
                tokio::select! {
                    () = &mut woken => {}
                    () = tokio::time::sleep(IDLE_RECHECK) => {}
                    () = self.cancel.cancelled() => return Ok(()),
                }
                continue;
            }
            for event in events {
                if self.sink.wants(&event.event, event.source.as_deref())
                    && !self.deliver(&event, &mut progress).await?
                {
                    return Ok(());
                }
                progress.cursor = event.seq;
                self.store.save_sink_progress(&self.sink.name, &progress)?;
            }
            super::trim(&self.store, &self.config)?;
        }
    }

    /// The stored progress; a sink seen for the first time starts after
    /// the newest event (it is not sent the past).
    fn start(&self) -> Result<SinkProgress, StoreError> {
        if let Some(progress) = self.store.sink_progress(&self.sink.name)? {
            return Ok(progress);
        }
        let progress = SinkProgress {
            cursor: self.store.outbox_head()?,
            ..SinkProgress::default()
        };
        self.store.save_sink_progress(&self.sink.name, &progress)?;
        Ok(progress)
    }

    /// Deliver one event, retrying; `false` when cancelled first.
    async fn deliver(
        &self,
        event: &OutboxEvent,
        progress: &mut SinkProgress,
    ) -> Result<bool, StoreError> {
        let rendered = render(event, &self.config);
        let name = &self.sink.name;
        let deadline = event.at + self.sink.give_up_after;
        let mut attempts: u32 = 0;
        loop {
            let outcome = tokio::select! {
                outcome = attempt(&self.client, &self.sink, &rendered) => outcome,
                () = self.cancel.cancelled() => return Ok(false),
            };
            attempts += 1;
            let metrics = crate::telemetry::metrics();
            let (error, asked) = match outcome {
                Outcome::Delivered(status) => {
                    metrics.notify_delivery(name, "delivered");
                    tracing::info!(sink = %name, id = %event.id, event = %event.event, "notification delivered ({status})");
                    progress.last_success = Some((Utc::now(), status));
                    return Ok(true);
                }
                Outcome::Refused(error) => {
                    metrics.notify_delivery(name, "refused");
                    tracing::warn!(
                        sink = %name, id = %event.id,
                        "the receiver refused the {} notification ({error}); dropping it \
                         (fix the sink and try `clipwatch notify test {name}`)",
                        event.event
                    );
                    progress.last_error = Some((Utc::now(), error));
                    progress.dropped += 1;
                    return Ok(true);
                }
                Outcome::Retry { error, after } => (error, after),
            };
            metrics.notify_delivery(name, "retry");
            progress.last_error = Some((Utc::now(), error.clone()));
            self.store.save_sink_progress(name, progress)?;
            let left = (deadline - Utc::now()).to_std().unwrap_or_default();
            if left.is_zero() {
                tracing::warn!(
                    sink = %name, id = %event.id,
                    "giving up on the {} notification after {attempts} attempts over {}: {error}",
                    event.event,
                    humantime::format_duration(self.sink.give_up_after)
                );
                metrics.notify_delivery(name, "dropped");
                progress.dropped += 1;
                return Ok(true);
            }
            let backoff = crate::util::retry::backoff(self.sink.retry, MAX_BACKOFF, attempts - 1);
            let wait = asked.unwrap_or_default().max(backoff).min(left);
            tracing::debug!(sink = %name, id = %event.id, ?wait, "notification not delivered: {error}; retrying");
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                () = self.cancel.cancelled() => return Ok(false),
            }
        }
    }
}
