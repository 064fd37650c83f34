//! Where work comes from: feeds, the drop folder and `submit`. Every source is
//! reduced to a canonical key ([`crate::model::identity`]) before it reaches the store, so a
//! video is clipped once whichever feed or file named it first.
//!
//! Watchers hand what they find to [`enqueue`] or [`record_skipped`]; both
//! leave a key that is already known untouched. Sources see only an
//! [`Intake`] (store, configuration, wake-up, shutdown), never the pipeline.

pub mod feed;
pub mod folder;
pub mod intake;
pub mod title;
pub mod youtube;

pub use self::intake::Intake;

use tokio::task::JoinHandle;

use chrono::Utc;

use crate::model::Source;
use crate::store::{Inserted, StoreError};

/// Queue `key` unless it is already known, and wake the scheduler.
pub async fn enqueue(
    intake: &Intake,
    key: &str,
    source: Source,
    preset: &str,
    name: Option<String>,
) -> Result<Inserted, StoreError> {
    let inserted = intake
        .store
        .insert_new(key, source, preset, name, Utc::now())
        .await?;
    if let Inserted::New(job) = &inserted {
        tracing::info!(job = job.id, key = %job.key, origin = %job.source.origin, "queued");
        intake.wake();
    }
    Ok(inserted)
}

/// Queue `key` for a feed: a new key is queued; a key that another feed
/// skipped by its own rules (backfill, Shorts, include/exclude) is queued
/// for this one, once. A skip is one feed's decision, not the video's, so
/// which feed is checked first does not matter. Returns whether a job was
/// queued.
pub async fn enqueue_for_feed(
    intake: &Intake,
    key: &str,
    source: Source,
    preset: &str,
) -> Result<bool, StoreError> {
    let feed = source.feed.clone().unwrap_or_default();
    match enqueue(intake, key, source.clone(), preset, None).await? {
        Inserted::New(_) => Ok(true),
        Inserted::Existing(job) if wanted_elsewhere(&job, &feed) => {
            let requeued = intake
                .store
                .requeue_skipped(key, source, preset, Utc::now(), |job| {
                    wanted_elsewhere(job, &feed)
                })
                .await?;
            if let Some(job) = &requeued {
                tracing::info!(
                    job = job.id,
                    key = %job.key,
                    feed = %feed,
                    "queued: skipped by another feed's rules, wanted by this one"
                );
                intake.wake();
            }
            Ok(requeued.is_some())
        }
        Inserted::Existing(_) => Ok(false),
    }
}

/// Whether `job` is a skip that feed `feed` may overrule: skipped by
/// another feed's own rules, never submitted.
pub fn wanted_elsewhere(job: &crate::model::Job, feed: &str) -> bool {
    let crate::model::State::Skipped { reason } = &job.state else {
        return false;
    };
    job.source.origin == "feed"
        && job.source.feed.as_deref() != Some(feed)
        && job.task.is_none()
        && feed::decide::is_feed_rule(reason)
}

/// Record each `(key, source, reason)` as seen but not clipped (backfill,
/// filters), unless it is already known; one flush for the lot.
pub async fn record_skipped(
    intake: &Intake,
    items: Vec<(String, Source, String)>,
    preset: &str,
) -> Result<(), StoreError> {
    if items.is_empty() {
        return Ok(());
    }
    let inserted = intake
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

/// The real title (and date) of the video `key` names, when lookups are on
/// (`[titles] lookup`) and it can be found within [`title::TIMEOUT`]; the
/// key is looked up only if the store does not know it yet. Never an error.
pub async fn look_up_title(
    config: &crate::config::Config,
    store: &crate::store::Store,
    key: &crate::model::identity::SourceKey,
) -> title::Found {
    if !matches!(store.get(&key.key), Ok(None)) {
        return title::Found::default();
    }
    find_title(config, key).await
}

/// The real title (and date) of the video `key` names, when lookups are on,
/// whether or not the store knows it (a skip another feed overrules).
pub async fn find_title(
    config: &crate::config::Config,
    key: &crate::model::identity::SourceKey,
) -> title::Found {
    let Some(titles) = title::Titles::new(config) else {
        return title::Found::default();
    };
    tokio::time::timeout(title::TIMEOUT, titles.find(key))
        .await
        .unwrap_or_default()
}

/// Start every watcher the configuration asks for (feeds, drop folder).
/// Each stops when `intake.cancel` is cancelled.
pub fn spawn_watchers(intake: &Intake) -> Vec<JoinHandle<()>> {
    let mut watchers = vec![feed::spawn_watchers(intake)];
    if intake.config().drop.is_some() {
        watchers.push(folder::spawn_watcher(intake));
    }
    watchers
}
