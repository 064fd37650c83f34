//! Notifications (issue 14): tell the user when clips are ready and when
//! something needs them, on the sinks of `[[notify]]`.
//!
//! Events are written to the store's outbox first (a job's `done`/`failed`
//! in the same transaction as the state change; see `store/outbox.rs`), then
//! delivered by one task per sink ([`deliver`]), at least once and with a
//! stable id. [`payload`] renders an event (the `clipwatch.event/1` JSON
//! and a human message), [`send`] and [`exec`] speak each kind's protocol,
//! [`watch`] notices the key and pause changes. The front ends use
//! [`test_sinks`] (`clipwatch notify test`) and [`sink_status`]
//! (`clipwatch status`).

mod deliver;
mod exec;
pub mod payload;
mod send;
mod sign;
pub mod watch;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map};
use tokio::sync::watch as config_watch;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

pub use self::send::Outcome;
pub use self::sign::hmac_sha256_hex;
use crate::config::{Config, SinkConfig};
use crate::store::{Store, StoreError};

/// How long shutdown waits for the sink tasks (they stop at once when
/// cancelled; an attempt in flight is abandoned and made again next run).
const STOP_GRACE: Duration = Duration::from_secs(2);

/// Start delivering: one task per sink and the [`watch`] task, restarted
/// with each new configuration, until `cancel`. Turns the outbox on or off
/// before returning, so the first job write already records its event.
pub fn spawn(
    store: Store,
    mut configs: config_watch::Receiver<Arc<Config>>,
    probe: watch::Probe,
    cancel: CancellationToken,
) -> tokio::task::JoinHandle<()> {
    arm(&store, &configs.borrow());
    tokio::spawn(async move {
        loop {
            let config = configs.borrow_and_update().clone();
            arm(&store, &config);
            let round = cancel.child_token();
            let mut tasks = start(&store, &config, Some(probe.clone()), &round);
            let go_on = loop {
                tokio::select! {
                    changed = configs.changed() => {
                        if changed.is_err() {
                            break false;
                        }
                        // A reload that changes nothing here keeps the tasks
                        // (restarting would resend an event in flight).
                        if concerns_notify(&config, &configs.borrow()) {
                            break true;
                        }
                    }
                    () = cancel.cancelled() => break false,
                }
            };
            round.cancel();
            let _ = tokio::time::timeout(STOP_GRACE, async {
                while tasks.join_next().await.is_some() {}
            })
            .await;
            tasks.abort_all();
            if !go_on {
                return;
            }
        }
    })
}

/// Turn the outbox on when `config` has sinks, and place a sink seen for
/// the first time after the newest event: it gets what happens from now
/// on, not the past.
pub fn arm(store: &Store, config: &Config) {
    store.enable_outbox(!config.notify.sinks.is_empty());
    for sink in &config.notify.sinks {
        let placed = store.sink_progress(&sink.name).and_then(|progress| {
            if progress.is_some() {
                return Ok(());
            }
            let start = crate::store::SinkProgress {
                cursor: store.outbox_head()?,
                ..Default::default()
            };
            store.save_sink_progress(&sink.name, &start)
        });
        if let Err(err) = placed {
            tracing::warn!(sink = %sink.name, "cannot read the notification progress: {err}");
        }
    }
}

/// Whether going from `old` to `new` changes what the sink tasks do.
fn concerns_notify(old: &Config, new: &Config) -> bool {
    old.notify != new.notify
        || old.output.dir != new.output.dir
        || old.api.daily_unit_budget != new.api.daily_unit_budget
}

fn start(
    store: &Store,
    config: &Arc<Config>,
    probe: Option<watch::Probe>,
    cancel: &CancellationToken,
) -> JoinSet<()> {
    let mut tasks = JoinSet::new();
    if config.notify.sinks.is_empty() {
        return tasks;
    }
    let client = send::client();
    for sink in &config.notify.sinks {
        let task = deliver::SinkTask {
            store: store.clone(),
            config: config.clone(),
            sink: sink.clone(),
            client: client.clone(),
            cancel: cancel.clone(),
        };
        tasks.spawn(task.run());
    }
    if let Some(probe) = probe {
        tasks.spawn(watch::run(
            store.clone(),
            config.clone(),
            probe,
            cancel.clone(),
        ));
    }
    tasks
}

/// How long `once` and `submit --wait` wait at their end for their events
/// to go out; what is left goes out with the next run or the daemon.
pub const DRAIN_PATIENCE: Duration = Duration::from_secs(15);

/// `clipwatch once` and `submit --wait`: deliver what is pending for up to `patience`, then
/// stop; anything left is delivered by the next run.
pub async fn drain(store: &Store, config: &Arc<Config>, patience: Duration) {
    if config.notify.sinks.is_empty() {
        return;
    }
    let cancel = CancellationToken::new();
    let mut tasks = start(store, config, None, &cancel);
    let deadline = tokio::time::Instant::now() + patience;
    while tokio::time::Instant::now() < deadline {
        let pending: usize = sink_status(store, config)
            .map(|all| all.iter().map(|s| s.pending).sum())
            .unwrap_or(0);
        if pending == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    cancel.cancel();
    while tasks.join_next().await.is_some() {}
}

/// Drop the events every configured sink is past.
fn trim(store: &Store, config: &Config) -> Result<(), StoreError> {
    let mut lowest = store.outbox_head()?;
    for sink in &config.notify.sinks {
        if let Some(progress) = store.sink_progress(&sink.name)? {
            lowest = lowest.min(progress.cursor);
        }
    }
    store.trim_outbox(lowest)
}

/// The feed loop's report after a check (failures in a row before and
/// after it, and the last error): `feed_failing` when the failures
/// in a row reach `[notifications] feed_failing_after`, `feed_recovered`
/// when a feed that had reached it succeeds again.
pub async fn feed_checked(
    store: &Store,
    config: &Config,
    feed: &str,
    (failures_before, failures_now): (u32, u32),
    error: Option<&str>,
) {
    let after = config.notify.feed_failing_after;
    let event = if failures_before < after && failures_now >= after {
        "feed_failing"
    } else if failures_before >= after && failures_now == 0 {
        "feed_recovered"
    } else {
        return;
    };
    let mut detail = Map::new();
    detail.insert(
        "feed".into(),
        json!({
            "name": feed,
            "consecutive_failures": failures_now,
            "error": error.map(crate::secret::redact_urls_in),
        }),
    );
    if let Err(err) = store.enqueue_event(event, Some(feed), detail).await {
        tracing::warn!(feed, "cannot record the {event} notification: {err}");
    }
}

/// One sink's answer to `notify test`.
#[derive(Debug, Clone, Serialize)]
pub struct SinkResult {
    pub name: String,
    pub kind: &'static str,
    /// The target, redacted.
    pub target: String,
    pub ok: bool,
    /// `HTTP 200`, `exit 0`, or what went wrong.
    pub result: String,
}

/// Send a test event to the sink called `name`, or to every sink: one
/// attempt each, all at once. An unknown name is an error naming the sinks.
pub async fn test_sinks(config: &Config, name: Option<&str>) -> anyhow::Result<Vec<SinkResult>> {
    let sinks: Vec<&SinkConfig> = match name {
        Some(name) => match config.notify.sink(name) {
            Some(sink) => vec![sink],
            None => anyhow::bail!(
                "no sink named \"{name}\" in {} (sinks: {})",
                config.path.display(),
                names(config)
            ),
        },
        None => config.notify.sinks.iter().collect(),
    };
    let client = send::client();
    let attempts = sinks.iter().map(|sink| {
        let client = client.clone();
        async move {
            let event = payload::render(&payload::test_event(&sink.name), config);
            let outcome = send::attempt(&client, sink, &event).await;
            let (ok, result) = match outcome {
                Outcome::Delivered(status) => (true, status),
                Outcome::Retry { error, .. } | Outcome::Refused(error) => (false, error),
            };
            SinkResult {
                name: sink.name.clone(),
                kind: sink.kind.name(),
                target: sink.shown.clone(),
                ok,
                result,
            }
        }
    });
    Ok(futures_join_all(attempts).await)
}

/// Run futures concurrently and keep their order (no extra crate for it).
async fn futures_join_all<F: std::future::Future>(
    futures: impl Iterator<Item = F>,
) -> Vec<F::Output> {
    let mut pending: Vec<_> = futures.map(Box::pin).collect();
    let mut results: Vec<Option<F::Output>> = (0..pending.len()).map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut all = true;
        for (i, future) in pending.iter_mut().enumerate() {
            if results[i].is_none() {
                match future.as_mut().poll(cx) {
                    std::task::Poll::Ready(out) => results[i] = Some(out),
                    std::task::Poll::Pending => all = false,
                }
            }
        }
        if all {
            std::task::Poll::Ready(())
        } else {
            std::task::Poll::Pending
        }
    })
    .await;
    results
        .into_iter()
        .map(|r| r.expect("every future finished"))
        .collect()
}

fn names(config: &Config) -> String {
    let names: Vec<&str> = config
        .notify
        .sinks
        .iter()
        .map(|s| s.name.as_str())
        .collect();
    if names.is_empty() {
        "none configured; add a [[notify]] section".to_owned()
    } else {
        names.join(", ")
    }
}

/// One sink as `clipwatch status` shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SinkStatus {
    pub name: String,
    pub kind: String,
    pub target: String,
    pub last_success: Option<DateTime<Utc>>,
    pub last_success_result: Option<String>,
    pub last_error: Option<DateTime<Utc>>,
    pub last_error_message: Option<String>,
    /// Events waiting for this sink.
    pub pending: usize,
    /// Events given up on.
    pub dropped: u64,
}

/// Every configured sink's health, from the store.
pub fn sink_status(store: &Store, config: &Config) -> Result<Vec<SinkStatus>, StoreError> {
    let mut out = Vec::new();
    for sink in &config.notify.sinks {
        let progress = store.sink_progress(&sink.name)?;
        let pending = match &progress {
            Some(p) => store
                .outbox_after(p.cursor, usize::MAX)?
                .iter()
                .filter(|e| sink.wants(&e.event, e.source.as_deref()))
                .count(),
            None => 0,
        };
        let progress = progress.unwrap_or_default();
        let (last_success, last_success_result) = progress.last_success.unzip();
        let (last_error, last_error_message) = progress.last_error.unzip();
        out.push(SinkStatus {
            name: sink.name.clone(),
            kind: sink.kind.name().to_owned(),
            target: sink.shown.clone(),
            last_success,
            last_success_result,
            last_error,
            last_error_message: last_error_message.map(|m| crate::secret::redact_urls_in(&m)),
            pending,
            dropped: progress.dropped,
        });
    }
    Ok(out)
}
