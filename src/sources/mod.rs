//! Where work comes from: feeds, the drop folder and `submit`. Every source is
//! reduced to a canonical key ([`identity`]) before it reaches the store, so a
//! video is clipped once whichever feed or file named it first.
//!
//! Watchers hand what they find to [`enqueue`] or [`record_skipped`]; both
//! leave a key that is already known untouched.

pub mod feed;
pub mod folder;
pub mod identity;
pub mod youtube;

use tokio::task::JoinHandle;

use chrono::Utc;

use crate::pipeline::job::Source;
use crate::pipeline::Pipeline;
use crate::store::{Inserted, StoreError};

/// Queue `key` unless it is already known, and wake the scheduler.
pub async fn enqueue(
    pipeline: &Pipeline,
    key: &str,
    source: Source,
    preset: &str,
    name: Option<String>,
) -> Result<Inserted, StoreError> {
    let inserted = pipeline
        .store
        .insert_new(key, source, preset, name, Utc::now())
        .await?;
    if let Inserted::New(job) = &inserted {
        tracing::info!(job = job.id, key = %job.key, origin = %job.source.origin, "queued");
        pipeline.wake();
    }
    Ok(inserted)
}

/// Record each `(key, source, reason)` as seen but not clipped (backfill,
/// filters), unless it is already known; one flush for the lot.
pub async fn record_skipped(
    pipeline: &Pipeline,
    items: Vec<(String, Source, String)>,
    preset: &str,
) -> Result<(), StoreError> {
    if items.is_empty() {
        return Ok(());
    }
    let inserted = pipeline
        .store
        .insert_skipped_many(items, preset, Utc::now())
        .await?;
    for inserted in &inserted {
        if let Inserted::New(job) = inserted {
            let reason = job.last_error.as_deref().unwrap_or_default();
            tracing::info!(job = job.id, key = %job.key, reason, "skipped");
        }
    }
    Ok(())
}

/// Start every watcher the configuration asks for (feeds, drop folder).
/// Each stops when the pipeline is cancelled.
pub fn spawn_watchers(pipeline: &Pipeline) -> Vec<JoinHandle<()>> {
    let mut watchers = vec![feed::spawn_watchers(pipeline)];
    if pipeline.config().drop.is_some() {
        watchers.push(folder::spawn_watcher(pipeline));
    }
    watchers
}
