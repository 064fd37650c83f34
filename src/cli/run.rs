//! `clipwatch run` (the daemon in the foreground) and `clipwatch once`.

use std::collections::HashSet;
use std::sync::Arc;

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::{open_store, EXIT_FAILURE};
use crate::config::Config;
use crate::pipeline::scheduler::SHUTDOWN_GRACE;
use crate::pipeline::{Pipeline, Scope};
use crate::sources;

/// Run until SIGTERM/SIGINT: stop taking work, let in-flight requests end
/// within the grace period, persist, exit 0. A second signal exits at once.
pub async fn daemon(config: Arc<Config>) -> anyhow::Result<u8> {
    let store = open_store(&config)?;
    let cancel = CancellationToken::new();
    spawn_signal_handler(cancel.clone());
    let (_config_tx, config_rx) = watch::channel(config.clone());
    let pipeline = Pipeline::new(store, config_rx, cancel)?;
    announce(&config);
    let drop_watcher = config
        .drop
        .is_some()
        .then(|| sources::folder::spawn_watcher(&pipeline));
    pipeline.run(Scope::All, false).await?;
    stop_watcher(drop_watcher).await;
    tracing::info!("stopped");
    Ok(0)
}

/// Finish every job not yet done, then exit: 0, or 1 if any of them failed.
pub async fn once(config: Arc<Config>) -> anyhow::Result<u8> {
    let store = open_store(&config)?;
    let cancel = CancellationToken::new();
    spawn_signal_handler(cancel.clone());
    let (_config_tx, config_rx) = watch::channel(config.clone());
    let pipeline = Pipeline::new(store.clone(), config_rx, cancel)?;
    // The drop folder first, so that what it queues is part of this pass.
    sources::folder::scan_once(&pipeline).await;
    let pending: HashSet<String> = store
        .active_jobs()?
        .into_iter()
        .map(|job| job.key)
        .collect();
    pipeline.run(Scope::Only(pending.clone()), true).await?;
    let mut failed = 0;
    for key in &pending {
        if let Some(job) = store.get(key)? {
            if job.state.name() == "failed" {
                failed += 1;
            }
        }
    }
    tracing::info!(jobs = pending.len(), failed, "pass finished");
    Ok(if failed > 0 { EXIT_FAILURE } else { 0 })
}

/// Wait for a watcher to see the cancellation, within the grace period.
async fn stop_watcher(watcher: Option<tokio::task::JoinHandle<()>>) {
    let Some(mut watcher) = watcher else {
        return;
    };
    if tokio::time::timeout(SHUTDOWN_GRACE, &mut watcher)
        .await
        .is_err()
    {
        watcher.abort();
    }
}

fn announce(config: &Config) {
    match &config.api.api_key_source {
        Some(source) => tracing::info!(
            config = %config.path.display(),
            output = %config.output.dir.display(),
            "clipwatch {} started; API key from {source}",
            env!("CARGO_PKG_VERSION")
        ),
        None => tracing::info!(
            config = %config.path.display(),
            output = %config.output.dir.display(),
            "clipwatch {} started without an API key",
            env!("CARGO_PKG_VERSION")
        ),
    }
}

/// First SIGTERM/SIGINT: cancel (graceful). Second: exit at once.
fn spawn_signal_handler(cancel: CancellationToken) {
    tokio::spawn(async move {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(term) => term,
                Err(err) => {
                    tracing::error!("cannot listen for SIGTERM: {err}");
                    return;
                }
            };
        let mut signals = 0;
        loop {
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
            signals += 1;
            if signals == 1 {
                tracing::info!(
                    "stopping: finishing in-flight requests (signal again to exit at once)"
                );
                cancel.cancel();
            } else {
                tracing::warn!("second signal: exiting now");
                std::process::exit(0);
            }
        }
    });
}
