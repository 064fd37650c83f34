//! The long-running service (SPEC §7): opens the database, binds the
//! control socket, starts the scheduler and the watchers, reports to systemd,
//! and handles signals — SIGTERM/SIGINT stop gracefully (a second one exits
//! at once), SIGHUP reloads the configuration.

pub mod control;
pub mod guard;
pub mod notify;
pub mod signals;

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::config::{self, Config};
use crate::model::State;
use crate::pipeline::scheduler::SHUTDOWN_GRACE;
use crate::pipeline::{Pipeline, Scope};
use crate::store::Store;
pub use signals::Signals;

/// How often STATUS= is refreshed for systemd.
const STATUS_EVERY: Duration = Duration::from_secs(5);

/// `clipwatch run`: serve until SIGTERM/SIGINT. Returns the exit code.
/// `signals` are installed by the caller before the configuration loads.
pub async fn run(config: Arc<Config>, signals: Signals) -> anyhow::Result<u8> {
    if let Err(err) = guard::secure_state_dir(&config.state.dir) {
        eprintln!("clipwatch: configuration error: {err}");
        return Ok(crate::commands::EXIT_CONFIG);
    }
    let socket = control::ControlSocket::bind(&config.state.dir).await?;
    // A CLI command may hold the database for a moment: wait for it.
    let store = Store::open_patiently(&config.state.dir, Duration::from_secs(10)).await?;
    guard::tighten_database_files(&config.state.dir);
    let cancel = CancellationToken::new();
    let (config_tx, config_rx) = watch::channel(config.clone());
    let pipeline = Pipeline::new(store, config_rx.clone(), cancel.clone()).await?;
    announce(&config);
    // Before the scheduler: the first job write must find the outbox on.
    let notifier = crate::notify::spawn(
        pipeline.store.clone(),
        config_rx.clone(),
        notify_probe(&pipeline),
        cancel.clone(),
    );

    // Bound before any work starts: a taken port stops the start cleanly.
    let dashboard = match config.http.clone() {
        Some(http) => Some(crate::http::start(pipeline.clone(), http, cancel.clone()).await?),
        None => None,
    };
    let scheduler = tokio::spawn({
        let pipeline = pipeline.clone();
        async move { pipeline.run(Scope::All, false).await }
    });
    let control = tokio::spawn(socket.serve(pipeline.clone(), config_rx, cancel.clone()));
    let watchers = crate::sources::spawn_watchers(&intake(&pipeline));

    notify::ready(&status_line(&pipeline));
    let outcome = supervise(signals, &pipeline, &config_tx, &cancel).await;
    if let Ok(Ending::StoreFailed(_)) = &outcome {
        notify::status("stopping: the database cannot be written");
    } else {
        notify::stopping();
    }
    cancel.cancel();
    let scheduled = scheduler.await;
    let _ = control.await;
    let _ = notifier.await;
    if let Some(dashboard) = dashboard {
        let _ = dashboard.await;
    }
    for mut watcher in watchers {
        if tokio::time::timeout(SHUTDOWN_GRACE, &mut watcher)
            .await
            .is_err()
        {
            watcher.abort();
        }
    }
    if let Ending::StoreFailed(reason) = outcome? {
        tracing::error!(
            "stopped: the database in {} cannot be written ({reason}); exiting with an error so \
             the service manager restarts clipwatch, which recovers once the state volume has room",
            config.state.dir.display()
        );
        return Ok(1);
    }
    match scheduled {
        Ok(Ok(())) => {}
        Ok(Err(err)) => return Err(err.into()),
        Err(err) => anyhow::bail!("the scheduler stopped abnormally: {err}"),
    }
    tracing::info!("stopped");
    Ok(0)
}

/// Why the daemon stops.
enum Ending {
    /// SIGTERM/SIGINT, or shutdown requested: exit 0.
    Signal,
    /// A database write failed. sled cannot take writes again until it is
    /// reopened, so no job can progress: stop pinging the watchdog and exit
    /// non-zero, for systemd (`Restart=on-failure`) to start a fresh process.
    StoreFailed(String),
}

/// Wait for signals; keep systemd informed meanwhile.
async fn supervise(
    signals: Signals,
    pipeline: &Pipeline,
    config_tx: &watch::Sender<Arc<Config>>,
    cancel: &CancellationToken,
) -> anyhow::Result<Ending> {
    let Signals {
        mut stop,
        mut hangup,
    } = signals;
    let mut status_tick = tokio::time::interval(STATUS_EVERY);
    // Without a watchdog the database is still probed now and then.
    let watchdog_every = notify::watchdog_interval().unwrap_or(Duration::from_secs(60));
    let mut watchdog_tick = tokio::time::interval(watchdog_every);
    let mut failures = pipeline.store.failures();
    let ending = loop {
        if let Some(reason) = failures.borrow_and_update().clone() {
            break Ending::StoreFailed(reason);
        }
        tokio::select! {
            () = stop.recv() => break Ending::Signal,
            _ = hangup.recv() => reload(pipeline, config_tx),
            _ = status_tick.tick() => notify::status(&status_line(pipeline)),
            _ = watchdog_tick.tick() => {
                // A ping says work can progress: only if the database
                // still takes writes.
                if pipeline.store.probe_write().await.is_ok() {
                    notify::watchdog();
                }
            }
            _ = failures.changed() => {}
            () = cancel.cancelled() => break Ending::Signal,
        }
    };
    let code = match &ending {
        Ending::Signal => {
            tracing::info!("stopping: finishing in-flight work (signal again to exit at once)");
            0
        }
        Ending::StoreFailed(reason) => {
            tracing::error!(
                "the database cannot be written ({reason}): no job can progress; stopping"
            );
            1
        }
    };
    // A last resort if something never yields: every transition is already
    // on disk, so ending here loses nothing a crash would not.
    std::thread::spawn(move || {
        std::thread::sleep(SHUTDOWN_GRACE * 2 + Duration::from_secs(10));
        tracing::warn!("shutdown took too long; exiting now");
        std::process::exit(code);
    });
    stop.exit_on_next(code);
    Ok(ending)
}

/// SIGHUP: load the file again; swap it in only if it validates.
fn reload(pipeline: &Pipeline, config_tx: &watch::Sender<Arc<Config>>) {
    notify::reloading();
    let path = pipeline.config().path.clone();
    match config::load(&path) {
        Ok(new) => {
            for warning in &new.warnings {
                tracing::warn!("{}: {warning}", path.display());
            }
            pipeline.apply_limits(&new);
            tracing::info!(
                feeds = new.feeds.len(),
                presets = new.presets.len(),
                "configuration reloaded from {}",
                path.display()
            );
            config_tx.send_replace(Arc::new(new));
            pipeline.wake();
        }
        Err(err) => tracing::error!("reload refused, keeping the running configuration: {err}"),
    }
    notify::ready(&status_line(pipeline));
}

/// The handle sources queue work through: the pipeline's store,
/// configuration, wake-up and shutdown, nothing else of it.
pub fn intake(pipeline: &Pipeline) -> crate::sources::Intake {
    crate::sources::Intake::new(
        pipeline.store.clone(),
        pipeline.subscribe_config(),
        pipeline.waker(),
        pipeline.cancel.clone(),
    )
}

/// "2 processing, 5 queued" for systemd's STATUS=.
pub fn status_line(pipeline: &Pipeline) -> String {
    // From the scheduler's memory once it has read the work list: reading
    // every job every few seconds cost more than the rest of the daemon
    // with 20 000 queued.
    let counts = match pipeline.live_counts() {
        Some(counts) => counts,
        None => match pipeline.store.active_jobs() {
            Ok(jobs) => {
                let mut counts = std::collections::BTreeMap::new();
                for job in &jobs {
                    *counts.entry(job.state.name()).or_default() += 1;
                }
                counts
            }
            Err(_) => return "database unreadable".into(),
        },
    };
    let count = |state: &State| counts.get(state.name()).copied().unwrap_or(0);
    let mut parts = Vec::new();
    for state in [
        State::Uploading,
        State::Submitting,
        State::Processing,
        State::Downloading,
        State::Queued,
    ] {
        let n = count(&state);
        if n > 0 {
            parts.push(format!("{n} {}", state.name()));
        }
    }
    let mut line = if parts.is_empty() {
        "idle".to_string()
    } else {
        parts.join(", ")
    };
    if pipeline.api.is_none() {
        line.push_str("; no API key");
    } else if pipeline
        .api
        .as_ref()
        .is_some_and(|api| api.budget().stats().auth_paused)
    {
        line.push_str("; paused: API key rejected");
    } else if pipeline.submit_pause.paused().is_some() {
        line.push_str("; submitting paused (see clipwatch status)");
    }
    if pipeline.output.paused().is_some() {
        line.push_str("; paused: output.dir not usable");
    }
    line
}

/// What the notification watcher reads from the pipeline: the key's
/// state and why submitting is paused.
fn notify_probe(pipeline: &Pipeline) -> crate::notify::watch::Probe {
    let pipeline = pipeline.clone();
    Arc::new(move || {
        let stats = pipeline.api.as_ref().map(|api| api.budget().stats());
        crate::notify::watch::Conditions {
            key_rejected: stats.is_some_and(|s| s.auth_paused),
            answered: stats.map_or(0, |s| s.answered_total),
            submit_paused: pipeline.submit_pause.paused().map(|(reason, _)| reason),
        }
    })
}

fn announce(config: &Config) {
    let key = config
        .api
        .api_key_source
        .as_deref()
        .unwrap_or("nowhere (nothing will be submitted)");
    tracing::info!(
        config = %config.path.display(),
        state = %config.state.dir.display(),
        output = %config.output.dir.display(),
        "clipwatch {} started; API key from {key}",
        env!("CARGO_PKG_VERSION")
    );
}
