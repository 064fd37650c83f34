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
pub mod preview;
pub mod state;

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
use super::youtube::{self, Target};
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
            Ok(watcher) => supervise(watcher).await,
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

/// How long a feed whose check crashed waits before it is checked again.
const AFTER_A_CRASH: Duration = Duration::from_secs(300);

fn configured_now(watcher: &Watcher, name: &str) -> bool {
    watcher.intake.config().feed(name).is_some()
}

/// Run each configured feed's checks when they are due, from one loop: a
/// feed's task exists only while it is being checked (at most
/// [`MAX_CONCURRENT_CHECKS`]). A task per feed held about 5 KB each for the
/// daemon's life (BENCHMARKS.md, "Footprint"). Feeds added to or removed from
/// the configuration are picked up within [`RECONCILE_EVERY`].
async fn supervise(watcher: Watcher) {
    let cancel = watcher.intake.cancel.clone();
    // Feeds waiting for their next check, by when; `when` indexes it by name.
    let mut queue: BTreeSet<(Instant, String)> = BTreeSet::new();
    let mut when: HashMap<String, Instant> = HashMap::new();
    // What each queued time was worked out from: a reload that changes a
    // feed's interval or source schedules it again.
    let mut planned_from: HashMap<String, (Duration, String)> = HashMap::new();
    // Feeds being checked now.
    let mut running: HashMap<String, AbortHandle> = HashMap::new();
    let mut names: HashMap<tokio::task::Id, String> = HashMap::new();
    let mut checks: JoinSet<()> = JoinSet::new();
    let mut tick = tokio::time::interval(RECONCILE_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        crate::telemetry::health::beat(crate::telemetry::health::Part::FeedLoop, RECONCILE_EVERY);
        let config = watcher.intake.config();
        let configured: HashSet<&str> = config.feeds.iter().map(|f| f.name.as_str()).collect();
        when.retain(|name, at| {
            let keep = configured.contains(name.as_str());
            if !keep {
                queue.remove(&(*at, name.clone()));
            }
            keep
        });
        running.retain(|name, check| {
            let keep = configured.contains(name.as_str());
            if !keep {
                check.abort();
            }
            keep
        });
        for feed in &config.feeds {
            let basis = (feed.interval, source_label(&feed.source));
            if planned_from.get(&feed.name) != Some(&basis) {
                if let Some(at) = when.remove(&feed.name) {
                    queue.remove(&(at, feed.name.clone()));
                }
            }
            if !when.contains_key(&feed.name) && !running.contains_key(&feed.name) {
                let at = Instant::now() + watcher.due_in(&feed.name);
                queue.insert((at, feed.name.clone()));
                when.insert(feed.name.clone(), at);
                planned_from.insert(feed.name.clone(), basis);
            }
        }
        planned_from.retain(|name, _| configured.contains(name.as_str()));
        let now = Instant::now();
        while running.len() < MAX_CONCURRENT_CHECKS {
            let Some((at, _)) = queue.first() else { break };
            if *at > now {
                break;
            }
            let (_, name) = queue.pop_first().expect("just seen");
            when.remove(&name);
            let check = checks.spawn({
                let watcher = watcher.clone();
                let name = name.clone();
                async move {
                    watcher.check(&name).await;
                }
            });
            names.insert(check.id(), name.clone());
            running.insert(name, check);
        }
        // Wake for the next due feed only when a check could start.
        let next = queue
            .first()
            .map(|(at, _)| *at)
            .filter(|_| running.len() < MAX_CONCURRENT_CHECKS);
        tokio::select! {
            () = cancel.cancelled() => break,
            Some(done) = checks.join_next_with_id() => {
                let (id, panicked) = match done {
                    Ok((id, ())) => (id, false),
                    Err(err) => {
                        if err.is_panic() {
                            tracing::error!("a feed check stopped: {err}");
                        }
                        (err.id(), err.is_panic())
                    }
                };
                let Some(name) = names.remove(&id) else { continue };
                // A feed removed and added again meanwhile has a newer check.
                if running.get(&name).is_some_and(|check| check.id() == id) {
                    running.remove(&name);
                }
                if panicked && configured_now(&watcher, &name) {
                    // Its saved state may still say "due": not at once again.
                    let at = Instant::now() + AFTER_A_CRASH;
                    queue.insert((at, name.clone()));
                    when.insert(name, at);
                }
                // Otherwise scheduled again above, from its saved state.
            }
            _ = tick.tick() => {}
            () = sleep_until_some(next) => {}
        }
    }
    crate::telemetry::health::heartbeats().retire(crate::telemetry::health::Part::FeedLoop);
    // In-flight checks end at their next await; their state stays as saved.
    checks.abort_all();
    while checks.join_next().await.is_some() {}
}

async fn sleep_until_some(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
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

    /// The URL to fetch: a `url =` feed as is; a YouTube channel, playlist
    /// or handle (resolved once) as its `/feeds/videos.xml` URL. Also the
    /// URL to read instead while a long-form playlist (`UULF…`) fails.
    async fn feed_url(
        &self,
        config: &Config,
        feed: &FeedConfig,
        state: &mut FeedState,
    ) -> Result<(String, Option<String>), FeedError> {
        let value = match &feed.source {
            FeedSource::Url(url) => return Ok((url.clone(), None)),
            FeedSource::Youtube(value) => value,
        };
        let bad_source = || FeedError::BadSource {
            feed: feed.name.clone(),
            value: value.clone(),
        };
        let target = match youtube::parse_target(value).ok_or_else(bad_source)? {
            Target::Page(path) => match &state.channel_id {
                Some(id) => Target::Channel(id.clone()),
                None => {
                    let id = self.resolve_channel(config, feed, &path).await?;
                    tracing::info!(feed = %feed.name, channel = %id, "resolved {value}");
                    state.channel_id = Some(id.clone());
                    Target::Channel(id)
                }
            },
            target => target,
        };
        let base = &config.youtube.base_url;
        let url = youtube::feed_url(base, &target, feed.shorts).ok_or_else(bad_source)?;
        Ok((url, youtube::long_form_fallback(base, &target, feed.shorts)))
    }

    /// Read the channel id from the channel page at `path`.
    async fn resolve_channel(
        &self,
        config: &Config,
        feed: &FeedConfig,
        path: &str,
    ) -> Result<String, FeedError> {
        let url = youtube::page_url(&config.youtube.base_url, path).map_err(|_| {
            FeedError::BadSource {
                feed: feed.name.clone(),
                value: path.to_owned(),
            }
        })?;
        let fetched = self
            .fetcher
            .get(url.as_str(), &Validators::default())
            .await
            .map_err(|source| FeedError::Fetch {
                feed: feed.name.clone(),
                source,
            })?;
        // An unconditional GET answered 304 only by a broken server or proxy.
        let Fetched::Body { bytes, .. } = fetched else {
            return Err(FeedError::NoChannelId {
                feed: feed.name.clone(),
                url: display_url(url.as_str()),
            });
        };
        youtube::channel_id_in_page(&String::from_utf8_lossy(&bytes)).ok_or_else(|| {
            FeedError::NoChannelId {
                feed: feed.name.clone(),
                url: display_url(url.as_str()),
            }
        })
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
        let stored_link = |key: &str| {
            let job = store.get(key).ok().flatten()?;
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
        let candidates = parsed.candidates;
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

    /// Act on one decision. Returns 1 if a new job was queued. Skipped
    /// entries wait in `skipped` and are written together (one flush), before
    /// any other decision so that they keep their order. `lookups`: title
    /// lookups this check may still make.
    async fn record(
        &self,
        feed: &FeedConfig,
        state: &mut FeedState,
        candidate: Candidate,
        decision: Decision,
        skipped: &mut Vec<(String, Source, String)>,
        lookups: &mut usize,
    ) -> Result<usize, FeedError> {
        let key = candidate.key.key.clone();
        let untitled = candidate.title.is_empty().then(|| candidate.key.clone());
        let mut source = source_of(feed, candidate);
        if let Decision::Skip(reason) = decision {
            skipped.push((key, source, reason));
            return Ok(0);
        }
        self.record_skipped(feed, std::mem::take(skipped)).await?;
        let store_error = |source| FeedError::Store {
            feed: feed.name.clone(),
            source,
        };
        match decision {
            Decision::Queue => {
                // An untitled entry: the video's real title, if it can be found.
                if let Some(video) = untitled.filter(|_| *lookups > 0) {
                    *lookups -= 1;
                    let found = self.title_for(feed, &video).await;
                    source.title = found.title;
                    source.published = source.published.or(found.published);
                }
                let queued = super::enqueue_for_feed(&self.intake, &key, source, &feed.preset)
                    .await
                    .map_err(store_error)?;
                return Ok(usize::from(queued));
            }
            Decision::Skip(_) => unreachable!("recorded above"),
            Decision::Hold { ready_at } => {
                let known = self.intake.store.get(&key).map_err(store_error)?;
                if known.is_none_or(|job| super::wanted_elsewhere(&job, &feed.name)) {
                    state.held.push(Held {
                        key,
                        source,
                        ready_at,
                    });
                }
            }
        }
        Ok(0)
    }

    /// The real title of an untitled entry this feed queues: looked up for
    /// a new key, and for a key another feed skipped by its own rules
    /// (queued for this one), whose record's title is used if it has one.
    async fn title_for(
        &self,
        feed: &FeedConfig,
        video: &crate::model::identity::SourceKey,
    ) -> super::title::Found {
        let config = self.intake.config();
        match self.intake.store.get(&video.key) {
            Ok(Some(job)) if super::wanted_elsewhere(&job, &feed.name) => match job.source.title {
                Some(title) => super::title::Found {
                    title: Some(title),
                    published: job.source.published,
                    from_oembed: false,
                },
                None => super::find_title(&config, video).await,
            },
            _ => super::look_up_title(&config, &self.intake.store, video).await,
        }
    }

    /// Write the skipped entries gathered so far, with one flush.
    async fn record_skipped(
        &self,
        feed: &FeedConfig,
        skipped: Vec<(String, Source, String)>,
    ) -> Result<(), FeedError> {
        super::record_skipped(&self.intake, skipped, &feed.preset)
            .await
            .map_err(|source| FeedError::Store {
                feed: feed.name.clone(),
                source,
            })
    }

    /// Queue held entries whose delay has passed (also when the feed did
    /// not change).
    async fn release_ready(
        &self,
        feed: &FeedConfig,
        state: &mut FeedState,
        now: DateTime<Utc>,
    ) -> Result<usize, FeedError> {
        let (ready, waiting): (Vec<Held>, Vec<Held>) = std::mem::take(&mut state.held)
            .into_iter()
            .partition(|h| h.ready_at.is_some_and(|at| at <= now));
        state.held = waiting;
        let mut new = 0;
        let mut lookups = super::title::MAX_LOOKUPS_AT_ONCE;
        for mut held in ready {
            // Held untitled: its real title, now that it is queued.
            if held.source.title.is_none() && lookups > 0 {
                if let Ok(video) = crate::model::identity::canonical_key(&held.source.url) {
                    lookups -= 1;
                    let found = self.title_for(feed, &video).await;
                    held.source.title = found.title;
                    held.source.published = held.source.published.or(found.published);
                }
            }
            let queued =
                super::enqueue_for_feed(&self.intake, &held.key, held.source, &feed.preset)
                    .await
                    .map_err(|source| FeedError::Store {
                        feed: feed.name.clone(),
                        source,
                    })?;
            new += usize::from(queued);
        }
        Ok(new)
    }
}

fn remember(state: &mut FeedState, url: &str, validators: Validators, hash: String) {
    state.feed_url = Some(url.to_owned());
    state.etag = validators.etag;
    state.last_modified = validators.last_modified;
    state.body_hash = Some(hash);
    state.mark_read(url);
}

fn source_of(feed: &FeedConfig, candidate: Candidate) -> Source {
    let link = Some(candidate.link).filter(|l| *l != candidate.key.submit_url);
    Source {
        link,
        url: candidate.key.submit_url,
        title: Some(candidate.title).filter(|t| !t.is_empty()),
        feed: Some(feed.name.clone()),
        published: candidate.published,
        origin: "feed".into(),
    }
}
