//! `clipwatch once`: one pass for cron users. (`run` lives in `crate::daemon`.)

use std::collections::HashSet;
use std::sync::Arc;

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::{open_store, EXIT_FAILURE};
use crate::config::Config;
use crate::pipeline::{Pipeline, Scope};
use crate::sources;

/// Check every feed and the drop folder once, finish every job not yet
/// done (including those they queued), then exit: 0, or 1 if any failed.
pub async fn once(config: Arc<Config>) -> anyhow::Result<u8> {
    if let Err(err) = crate::daemon::guard::secure_state_dir(&config.state.dir) {
        eprintln!("clipwatch: configuration error: {err}");
        return Ok(super::EXIT_CONFIG);
    }
    let store = open_store(&config)?;
    crate::daemon::guard::tighten_database_files(&config.state.dir);
    let cancel = CancellationToken::new();
    crate::daemon::signals::Stop::install()?.cancel_on_first(cancel.clone());
    let (_config_tx, config_rx) = watch::channel(config.clone());
    let pipeline = Pipeline::new(store.clone(), config_rx, cancel).await?;
    // Sources first, so the jobs they queue are part of this pass.
    let intake = crate::daemon::intake(&pipeline);
    crate::sources::feed::check_all_once(&intake).await?;
    sources::folder::scan_once(&intake).await;
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
