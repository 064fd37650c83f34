//! The feed watcher: checks every `[[feeds]]` entry on its own interval and
//! hands each new video to [`enqueue`](super::enqueue) with the feed's
//! preset, or records why it was skipped.
//!
//! One check: resolve the feed URL (YouTube handles once, through the
//! channel page: [`super::youtube`]), fetch it conditionally ([`fetch`]),
//! skip parsing when the body hash is unchanged, map entries to videos
//! ([`entries`]), decide each one ([`decide`]), and remember the outcome
//! ([`state`]). One loop starts each feed's check when it is due, each in
//! its own task, so a slow or broken feed never delays another; errors back
//! off per feed.

pub mod charset;
pub mod decide;
pub mod entries;
pub mod extras;
pub mod fetch;
pub mod json;
mod length;
mod locate;
pub mod preview;
mod record;
pub mod state;
mod supervise;

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};

use tokio::task::{AbortHandle, JoinHandle, JoinSet};
use tokio::time::Instant;

use self::decide::{Decision, Rules};
use self::entries::{Candidate, Kind};
use self::fetch::{display_url, FetchError, Fetched, Fetcher, Validators};
use self::state::{delta, FeedState, FeedStates, Held, LongFormFailing};
use crate::config::{Config, FeedConfig, FeedSource};
use crate::model::Source;
use crate::sources::Intake;
use crate::store::StoreError;

/// How often the set of watched feeds is compared with the configuration.
const RECONCILE_EVERY: Duration = Duration::from_secs(1);
/// Feed checks in flight at once. Each holds a body (up to the size cap)
/// and its parse; without a cap, 10 000 feeds due together peak at
/// gigabytes (BENCHMARKS.md).
const MAX_CONCURRENT_CHECKS: usize = 32;

/// Why a feed check failed. Every message names the feed.
#[derive(Debug, thiserror::Error)]
pub enum FeedError {
    #[error("feed \"{feed}\": {source}")]
    Fetch { feed: String, source: FetchError },
    #[error("feed \"{feed}\": {url} is not a readable feed: {reason}")]
    Parse {
        feed: String,
        url: String,
        reason: String,
    },
    #[error(
        "feed \"{feed}\": no YouTube channel id found in the channel page {url} \
         (check the handle or channel URL)"
    )]
    NoChannelId { feed: String, url: String },
    #[error("feed \"{feed}\": {value:?} is not a YouTube channel or playlist")]
    BadSource { feed: String, value: String },
    #[error("feed \"{feed}\": {source}")]
    Store { feed: String, source: StoreError },
    #[error("cannot start the feed watcher: {0}")]
    Setup(String),
}

/// The source as written, for state and `feeds`: `youtube:@x` or the URL.
pub fn source_label(source: &FeedSource) -> String {
    match source {
        FeedSource::Youtube(value) => format!("youtube:{value}"),
        FeedSource::Url(url) => display_url(url),
    }
}

/// Start the feed watcher; it stops on `intake.cancel`. Feeds added to or
/// removed from the configuration are picked up within a second.
pub fn spawn_watchers(intake: &Intake) -> JoinHandle<()> {
    let intake = intake.clone();
    tokio::spawn(async move {
        match Watcher::new(&intake) {
            Ok(watcher) => supervise::supervise(watcher).await,
            Err(err) => tracing::error!("{err}"),
        }
    })
}

/// Check every configured feed once, at most [`MAX_CONCURRENT_CHECKS`] at a
/// time; returns how many failed. A check's task is spawned only when it can
/// run: 10 000 tasks spawned up front held 45 MB of futures (BENCHMARKS.md).
pub async fn check_all_once(intake: &Intake) -> Result<usize, FeedError> {
    let watcher = Watcher::new(intake)?;
    let config = intake.config();
    let mut names = config.feeds.iter().map(|feed| feed.name.clone());
    let mut checks = JoinSet::new();
    let mut failed = 0;
    loop {
        while checks.len() < MAX_CONCURRENT_CHECKS {
            let Some(name) = names.next() else { break };
            let watcher = watcher.clone();
            checks.spawn(async move { watcher.check(&name).await });
        }
        tokio::select! {
            () = intake.cancel.cancelled() => break,
            next = checks.join_next() => match next {
                Some(Ok(true)) => {}
                Some(_) => failed += 1,
                None => break,
            },
        }
    }
    Ok(failed)
}

/// Everything a check needs; cheap to clone.
#[derive(Clone)]
struct Watcher {
    intake: Intake,
    states: FeedStates,
    fetcher: Fetcher,
    /// Bounds the checks in flight (memory), shared by every feed.
    in_flight: Arc<tokio::sync::Semaphore>,
}

impl Watcher {
    fn new(intake: &Intake) -> Result<Watcher, FeedError> {
        let fetcher = Fetcher::new(fetch::TIMEOUT, fetch::MAX_BODY_BYTES)
            .map_err(|e| FeedError::Setup(e.to_string()))?;
        let states =
            FeedStates::open(&intake.store).map_err(|e| FeedError::Setup(e.to_string()))?;
        Ok(Watcher {
            intake: intake.clone(),
            states,
            fetcher,
            in_flight: Arc::new(tokio::sync::Semaphore::new(MAX_CONCURRENT_CHECKS)),
        })
    }

    /// How long until feed `name` is due (zero if never checked).
    fn due_in(&self, name: &str) -> Duration {
        let config = self.intake.config();
        let Some(feed) = config.feed(name) else {
            return Duration::ZERO;
        };
        match self.states.get(name, &source_label(&feed.source)) {
            Ok(state) => {
                // A shortened `interval` (reload) counts from the last check,
                // within the jitter's reach (+20 %); a failing feed keeps its
                // backoff.
                let by_interval = state
                    .last_check
                    .filter(|_| state.consecutive_failures == 0)
                    .map(|last| last + delta(feed.interval.mul_f64(1.2)));
                [state.next_check, by_interval]
                    .into_iter()
                    .flatten()
                    .min()
                    .and_then(|at| (at - Utc::now()).to_std().ok())
                    .unwrap_or(Duration::ZERO)
            }
            Err(err) => {
                tracing::error!(feed = name, "cannot read the feed state: {err}");
                feed.interval
            }
        }
    }

    /// Check feed `name` now (with the configuration in force now) and
    /// record the outcome. Returns whether the check succeeded.
    async fn check(&self, name: &str) -> bool {
        let Ok(_permit) = self.in_flight.acquire().await else {
            return false;
        };
        let config = self.intake.config();
        let Some(feed) = config.feed(name) else {
            return true;
        };
        let mut state = match self.states.get(name, &source_label(&feed.source)) {
            Ok(state) => state,
            Err(err) => {
                tracing::error!(feed = name, "cannot read the feed state: {err}");
                return false;
            }
        };
        let now = Utc::now();
        state.last_check = Some(now);
        let failures_before = state.consecutive_failures;
        let started = std::time::Instant::now();
        let outcome = self.poll(&config, feed, &mut state, now).await;
        let ok = match outcome {
            Ok(new) => {
                state.succeeded(now, feed.interval, new);
                tracing::debug!(feed = name, new, held = state.held.len(), "checked");
                true
            }
            Err(err) => {
                state.failed(now, feed.interval, err.to_string());
                tracing::warn!(
                    feed = name,
                    failures = state.consecutive_failures,
                    "{err}; next check at {}",
                    state.next_check.map(|t| t.to_rfc3339()).unwrap_or_default()
                );
                false
            }
        };
        let (store, error) = (&self.intake.store, state.last_error.as_deref());
        let counts = (failures_before, state.consecutive_failures);
        crate::notify::feed_checked(store, &config, name, counts, error).await;
        crate::telemetry::metrics().feed_checked(
            name,
            ok,
            started.elapsed(),
            state.consecutive_failures,
        );
        if let Err(err) = self.states.save(name, &state).await {
            tracing::error!(feed = name, "cannot save the feed state: {err}");
            return false;
        }
        ok
    }

    /// Fetch, and decide what changed. Returns how many videos were queued.
    async fn poll(
        &self,
        config: &Config,
        feed: &FeedConfig,
        state: &mut FeedState,
        now: DateTime<Utc>,
    ) -> Result<usize, FeedError> {
        let (mut url, fallback) = self.feed_url(config, feed, state).await?;
        let fetch_error = |source| FeedError::Fetch {
            feed: feed.name.clone(),
            source,
        };
        let fetched = match self.fetcher.get(&url, &state.validators_for(&url)).await {
            // YouTube's long-form playlist answers 404 for days at a time:
            // read the channel feed meanwhile (Shorts skipped by link). Only
            // on 404 and 5xx: a 429 or 403 (or a connection error) is YouTube
            // refusing this client, which the channel feed, on the same host,
            // would be too; that check fails and backs off.
            Err(FetchError::Status { status, .. })
                if fallback.is_some() && (status == 404 || (500..600).contains(&status)) =>
            {
                let fallback = fallback.expect("just checked");
                if state.long_form_failing.is_none() {
                    tracing::warn!(
                        feed = %feed.name,
                        "{} answered HTTP {status}; reading {} instead (Shorts skipped by their link) until it works again",
                        display_url(&url),
                        display_url(&fallback)
                    );
                }
                state.long_form_failing = Some(LongFormFailing {
                    url: display_url(&url),
                    status,
                    since: state.long_form_failing.as_ref().map_or(now, |f| f.since),
                    reading: display_url(&fallback),
                });
                url = fallback;
                self.fetcher
                    .get(&url, &state.validators_for(&url))
                    .await
                    .map_err(fetch_error)?
            }
            Ok(fetched) => {
                if let Some(failing) = state.long_form_failing.take() {
                    tracing::info!(
                        feed = %feed.name,
                        "{} works again; reading it instead of {}",
                        failing.url,
                        failing.reading
                    );
                }
                fetched
            }
            Err(err) => return Err(fetch_error(err)),
        };
        let mut new = 0;
        if let Fetched::Body {
            bytes,
            content_type,
            validators,
        } = fetched
        {
            let hash = crate::util::sha256_hex(&bytes);
            if !state.has_read(&url) || state.body_hash.as_deref() != Some(hash.as_str()) {
                new += self
                    .read_body(feed, state, &url, &bytes, content_type.as_deref(), now)
                    .await?;
            }
            // Only after a successful parse: a broken body is fetched again.
            remember(state, &url, validators, hash);
        }
        new += self.release_ready(feed, state, now).await?;
        Ok(new)
    }

    /// The URL to fetch (see [`locate`]), keeping a channel id resolved
    /// on the way. Also the URL to read while a long-form playlist fails.
    async fn feed_url(
        &self,
        config: &Config,
        feed: &FeedConfig,
        state: &mut FeedState,
    ) -> Result<(String, Option<String>), FeedError> {
        let located =
            locate::locate(config, feed, &self.fetcher, state.channel_id.as_deref()).await?;
        if let Some(id) = located.resolved_channel {
            tracing::info!(feed = %feed.name, channel = %id, "resolved {}", source_label(&feed.source));
            state.channel_id = Some(id);
        }
        Ok((located.url, located.fallback))
    }

    /// Parse a changed body, decide each entry and record the decisions.
    async fn read_body(
        &self,
        feed: &FeedConfig,
        state: &mut FeedState,
        url: &str,
        bytes: &[u8],
        content_type: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<usize, FeedError> {
        let kind = match feed.source {
            FeedSource::Youtube(_) => Kind::Youtube,
            FeedSource::Url(_) => Kind::Other(feed.entry_use),
        };
        // The link a stored job of a page was made from: the entry that is
        // that page's video, whatever the body's order.
        let store = &self.intake.store;
        let config = self.intake.config();
        let stored_link = |key: &str| {
            let job = store
                .get(&config.job_key(key, &feed.preset))
                .ok()
                .flatten()?;
            Some(job.source.link.unwrap_or(job.source.url))
        };
        let parsed = entries::parse(bytes, content_type, url, kind, now, &stored_link).map_err(
            |reason| FeedError::Parse {
                feed: feed.name.clone(),
                url: display_url(url),
                reason,
            },
        )?;
        // A few lines at most per body read; `feeds --json` lists them.
        const SHOWN: usize = 3;
        for entry in parsed.ignored.iter().take(SHOWN) {
            tracing::warn!(feed = %feed.name, "{entry} names no usable link or enclosure; ignored");
        }
        for note in parsed.notes.iter().take(SHOWN) {
            tracing::warn!(feed = %feed.name, "{note}");
        }
        let more =
            parsed.ignored.len().saturating_sub(SHOWN) + parsed.notes.len().saturating_sub(SHOWN);
        if more > 0 {
            tracing::warn!(feed = %feed.name, "{more} more like these; `clipwatch feeds --json` lists them");
        }
        state.report(&parsed.ignored, &parsed.notes);
        let candidates = keyed_for_preset(&config, &feed.preset, parsed.candidates);
        // First sight of this URL (also the channel feed read while `UULF…`
        // fails, and `UULF…` again): backfill rules, never a back catalogue.
        let rules = Rules::new(feed, !state.has_read(url));
        let previous: HashMap<String, Held> = std::mem::take(&mut state.held)
            .into_iter()
            .map(|h| (h.key.clone(), h))
            .collect();
        let decided = decide::decide(candidates, &rules, now, |key| {
            previous.get(key).and_then(|h| h.ready_at)
        });
        let mut new = 0;
        let mut in_feed = std::collections::HashSet::new();
        let mut skipped = Vec::new();
        let mut lookups = super::title::MAX_LOOKUPS_AT_ONCE;
        for (candidate, decision) in decided {
            in_feed.insert(candidate.key.key.clone());
            new += self
                .record(feed, state, candidate, decision, &mut skipped, &mut lookups)
                .await?;
        }
        self.record_skipped(feed, skipped).await?;
        // An entry held for its delay stays held even if it left the feed's
        // window; a premiere that vanished was cancelled.
        state.held.extend(
            previous
                .into_values()
                .filter(|h| h.ready_at.is_some() && !in_feed.contains(&h.key)),
        );
        Ok(new)
    }
}

/// The candidates with the job keys the feed's preset gives them: a Find
/// Moments preset makes a job of its own per query (see
/// [`crate::model::moments`]); AI Clipping keeps the video's key.
pub(super) fn keyed_for_preset(
    config: &Config,
    preset: &str,
    mut candidates: Vec<Candidate>,
) -> Vec<Candidate> {
    for candidate in &mut candidates {
        candidate.key.key = config.job_key(&candidate.key.key, preset);
    }
    candidates
}

fn remember(state: &mut FeedState, url: &str, validators: Validators, hash: String) {
    state.feed_url = Some(url.to_owned());
    state.etag = validators.etag;
    state.last_modified = validators.last_modified;
    state.body_hash = Some(hash);
    state.mark_read(url);
}
