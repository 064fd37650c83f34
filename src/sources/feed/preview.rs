//! One feed checked the way the watcher checks it, with nothing recorded:
//! for `feeds add` (a feed not configured yet) and `preview` / `once
//! --dry-run`. The feed is fetched unconditionally (no stored validators),
//! parsed and decided with the same code as a real check; what the store
//! already knows (first sight of the URL, keys recorded before, the
//! resolved channel id) is read when a store is given, and never written.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::decide::{self, Decision, Rules};
use super::entries::{self, Kind};
use super::fetch::{self, display_url, FetchError, Fetched, Fetcher, Validators};
use super::locate::locate;
use super::state::FeedStates;
use super::{source_label, FeedError};
use crate::config::{Config, FeedConfig, FeedSource};
use crate::store::Store;

/// What a check would do with one entry.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Queued (and so submitted) by the next check.
    Queue,
    /// Recorded as seen, not clipped; `reason` says why.
    Skip,
    /// Waiting for `delay` or an upcoming premiere.
    Hold,
    /// Already recorded (a job exists): nothing happens.
    Known,
}

/// One entry and its fate.
#[derive(Debug, Clone, Serialize)]
pub struct EntryPreview {
    pub key: String,
    pub url: String,
    pub title: String,
    pub published: Option<DateTime<Utc>>,
    pub action: Action,
    /// Why it is skipped, held or known; `null` for `queue`.
    pub reason: Option<String>,
}

/// One feed previewed.
#[derive(Debug, Clone, Serialize)]
pub struct FeedPreview {
    pub name: String,
    /// The URL fetched (credentials hidden).
    pub feed_url: String,
    /// The feed's own title, when it has one.
    pub title: Option<String>,
    /// Whether the next check is this URL's first sight (backfill applies).
    pub first_sight: bool,
    /// Newest first.
    pub entries: Vec<EntryPreview>,
}

impl FeedPreview {
    pub fn count(&self, action: &Action) -> usize {
        self.entries.iter().filter(|e| &e.action == action).count()
    }
}

/// Check `feed` once without recording anything. `store`, when given, is
/// only read.
pub async fn preview(
    config: &Config,
    feed: &FeedConfig,
    store: Option<&Store>,
) -> Result<FeedPreview, FeedError> {
    let fetcher = Fetcher::new(fetch::TIMEOUT, fetch::MAX_BODY_BYTES)
        .map_err(|e| FeedError::Setup(e.to_string()))?;
    let state = match store {
        Some(store) => Some(
            FeedStates::open(store)
                .and_then(|states| states.get(&feed.name, &source_label(&feed.source)))
                .map_err(|source| FeedError::Store {
                    feed: feed.name.clone(),
                    source,
                })?,
        ),
        None => None,
    };
    let known_channel = state.as_ref().and_then(|s| s.channel_id.as_deref());
    let located = locate(config, feed, &fetcher, known_channel).await?;
    let (url, fallback) = (located.url, located.fallback);
    let fetch_error = |source| FeedError::Fetch {
        feed: feed.name.clone(),
        source,
    };
    let (url, fetched) = match fetcher.get(&url, &Validators::default()).await {
        Err(FetchError::Status { status, .. })
            if fallback.is_some() && (status == 404 || (500..600).contains(&status)) =>
        {
            let fallback = fallback.expect("just checked");
            let fetched = fetcher
                .get(&fallback, &Validators::default())
                .await
                .map_err(fetch_error)?;
            (fallback, fetched)
        }
        other => (url, other.map_err(fetch_error)?),
    };
    let Fetched::Body {
        bytes,
        content_type,
        ..
    } = fetched
    else {
        return Err(FeedError::Parse {
            feed: feed.name.clone(),
            url: display_url(&url),
            reason: "it answered 304 Not Modified to an unconditional request".into(),
        });
    };
    let first_sight = state.as_ref().is_none_or(|s| !s.has_read(&url));
    let held: HashMap<String, Option<DateTime<Utc>>> = state
        .iter()
        .flat_map(|s| s.held.iter().map(|h| (h.key.clone(), h.ready_at)))
        .collect();
    let now = Utc::now();
    let kind = match feed.source {
        FeedSource::Youtube(_) => Kind::Youtube,
        FeedSource::Url(_) => Kind::Other(feed.entry_use),
    };
    let stored_link = |key: &str| {
        let job = store?
            .get(&config.job_key(key, &feed.preset))
            .ok()
            .flatten()?;
        Some(job.source.link.unwrap_or(job.source.url))
    };
    let parsed = entries::parse(
        &bytes,
        content_type.as_deref(),
        &url,
        kind,
        now,
        &stored_link,
    )
    .map_err(|reason| FeedError::Parse {
        feed: feed.name.clone(),
        url: display_url(&url),
        reason,
    })?;
    let rules = Rules::new(feed, first_sight);
    let candidates = super::keyed_for_preset(config, &feed.preset, parsed.candidates);
    let decided = decide::decide(candidates, &rules, now, |key| {
        held.get(key).copied().flatten()
    });
    let entries = decided
        .into_iter()
        .map(|(candidate, decision)| {
            let (action, reason) = match known(store, &candidate.key.key, &feed.name) {
                Some(known) => (Action::Known, Some(known)),
                None => describe(decision),
            };
            EntryPreview {
                key: candidate.key.key,
                url: candidate.key.submit_url,
                title: candidate.title,
                published: candidate.published,
                action,
                reason,
            }
        })
        .collect();
    Ok(FeedPreview {
        name: feed.name.clone(),
        feed_url: display_url(&url),
        title: feed_title(&bytes),
        first_sight,
        entries,
    })
}

fn describe(decision: Decision) -> (Action, Option<String>) {
    match decision {
        Decision::Queue => (Action::Queue, None),
        Decision::Skip(reason) => (Action::Skip, Some(reason)),
        Decision::Hold { ready_at: Some(at) } => (
            Action::Hold,
            Some(format!("delay: ready at {}", at.to_rfc3339())),
        ),
        Decision::Hold { ready_at: None } => {
            (Action::Hold, Some("upcoming premiere or stream".to_owned()))
        }
    }
}

/// Why a key already recorded is left alone, if it is (a skip by another
/// feed's own rules is not: this feed would queue it).
fn known(store: Option<&Store>, key: &str, feed: &str) -> Option<String> {
    let job = store?.get(key).ok().flatten()?;
    if crate::sources::wanted_elsewhere(&job, feed) {
        return None;
    }
    Some(format!(
        "already recorded: job {} ({})",
        job.id,
        job.state.name()
    ))
}

/// The feed's own title (`<title>` of the channel or feed), if any.
fn feed_title(bytes: &[u8]) -> Option<String> {
    let feed = feed_rs::parser::parse(bytes).ok()?;
    feed.title
        .map(|t| t.content.trim().to_owned())
        .filter(|t| !t.is_empty())
}
