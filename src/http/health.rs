//! `GET /healthz`: 200 `ok` while the scheduler, the feed loop and the drop
//! watcher turn and the database takes writes; 503 naming what is wrong.
//!
//! Answering reads no database: heartbeats ([`crate::telemetry::health`]),
//! the store's failure flag (set by any failed write), and [`WriteProbe`],
//! a small write made in the background every [`PROBE_EVERY`]: a write
//! that has not finished within [`WRITE_BOUND`] means the state volume
//! hangs (a dead disk, a frozen or unreachable file system), which no
//! error would ever report.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::StatusCode;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::App;
use crate::store::Store;

/// How often the database is written to check that writes finish.
pub const PROBE_EVERY: Duration = Duration::from_secs(2);
/// A write taking longer than this is a wedged store.
pub const WRITE_BOUND: Duration = Duration::from_secs(5);

/// When the background write in progress started, if one is.
#[derive(Default)]
pub struct WriteProbe {
    started: Mutex<Option<Instant>>,
}

impl WriteProbe {
    /// Write every [`PROBE_EVERY`] until `cancel`.
    pub fn start(store: Store, cancel: CancellationToken) -> Arc<WriteProbe> {
        let probe = Arc::new(WriteProbe::default());
        tokio::spawn({
            let probe = probe.clone();
            async move {
                loop {
                    tokio::select! {
                        () = cancel.cancelled() => break,
                        () = tokio::time::sleep(PROBE_EVERY) => {}
                    }
                    *probe.started.lock().expect("probe lock") = Some(Instant::now());
                    tokio::select! {
                        () = cancel.cancelled() => break,
                        // A failure is recorded by the store itself.
                        _ = store.probe_write() => {}
                    }
                    *probe.started.lock().expect("probe lock") = None;
                }
            }
        });
        probe
    }

    /// How long the write in progress has been waiting, past the bound.
    fn stuck_for(&self) -> Option<Duration> {
        let started = (*self.started.lock().expect("probe lock"))?;
        Some(started.elapsed()).filter(|waited| *waited > WRITE_BOUND)
    }
}

pub fn check(app: &App) -> (StatusCode, String) {
    let mut problems: Vec<String> = crate::telemetry::health::heartbeats()
        .stuck()
        .into_iter()
        .map(|(part, quiet)| format!("{}: no progress for {}s", part.name(), quiet.as_secs()))
        .collect();
    if let Some(reason) = app.pipeline.store.failures().borrow().clone() {
        problems.push(format!("store: the database cannot be written ({reason})"));
    }
    if let Some(waited) = app.probe.stuck_for() {
        problems.push(format!(
            "store: a database write has not finished for {}s (does the state volume hang?)",
            waited.as_secs()
        ));
    }
    if problems.is_empty() {
        (StatusCode::OK, "ok\n".into())
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("{}\n", problems.join("\n")),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_write_is_stuck_only_past_the_bound() {
        let probe = WriteProbe::default();
        assert_eq!(probe.stuck_for(), None);
        *probe.started.lock().unwrap() = Some(Instant::now());
        tokio::time::advance(WRITE_BOUND).await;
        assert_eq!(probe.stuck_for(), None);
        tokio::time::advance(Duration::from_secs(1)).await;
        assert_eq!(
            probe.stuck_for(),
            Some(WRITE_BOUND + Duration::from_secs(1))
        );
    }
}
