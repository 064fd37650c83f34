//! What clipwatch remembers about each feed, in the sled tree `feeds` keyed
//! by feed name: validators for conditional GET, the body hash, the resolved
//! channel id, health (last check, success, error, failures, next check) and
//! the entries held back by `delay`. Also when to check next: the interval
//! with jitter, or exponential backoff after errors.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use super::fetch::Validators;
use crate::model::Source;
use crate::store::{Store, StoreError};
use crate::util::retry::{backoff, jitter};

const TREE: &str = "feeds";
/// Longest wait after repeated errors (or the interval, if longer).
const MAX_BACKOFF: Duration = Duration::from_secs(6 * 60 * 60);
/// First wait after an error (or the interval, if shorter).
const FIRST_BACKOFF: Duration = Duration::from_secs(60);

/// One feed's remembered state.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FeedState {
    /// The configured source this state belongs to; a different source
    /// under the same name starts afresh.
    pub source: String,
    /// The URL last fetched (after YouTube resolution).
    pub feed_url: Option<String>,
    /// The channel id an `@handle` or channel URL resolved to.
    pub channel_id: Option<String>,
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    /// SHA-256 of the last body parsed, so an unchanged body is not parsed again.
    pub body_hash: Option<String>,
    /// The first successful parse happened (backfill applied).
    pub seen: bool,
    /// Every feed URL a body was read from (a channel read through its
    /// channel feed while `UULF…` fails, and back): the first body from a
    /// URL not read before is first sight, so switching never queues a back
    /// catalogue.
    #[serde(default)]
    pub read_urls: Vec<String>,
    pub last_check: Option<DateTime<Utc>>,
    pub last_success: Option<DateTime<Utc>>,
    pub last_new_entry: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub last_error_at: Option<DateTime<Utc>>,
    pub consecutive_failures: u32,
    pub next_check: Option<DateTime<Utc>>,
    /// Entries waiting for their `delay` (or premiere) to pass.
    pub held: Vec<Held>,
    /// Entries of the last body read that name no usable URL (the first
    /// [`REPORT_LINES`]), and how many there were.
    #[serde(default)]
    pub ignored: Vec<String>,
    #[serde(default)]
    pub ignored_count: usize,
    /// What the last body read left out or repeated (sloppy JSON fields,
    /// repeated links), the first [`REPORT_LINES`], and how many.
    #[serde(default)]
    pub notes: Vec<String>,
    #[serde(default)]
    pub notes_count: usize,
    /// The long-form playlist (`UULF…`) fails and the channel feed is read
    /// instead.
    #[serde(default)]
    pub long_form_failing: Option<LongFormFailing>,
}

/// A long-form playlist that fails, and what is read meanwhile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LongFormFailing {
    /// The `UULF…` feed URL (safe to show).
    pub url: String,
    /// The last HTTP status it answered.
    pub status: u16,
    /// When it first failed in a row.
    pub since: DateTime<Utc>,
    /// The feed read instead (safe to show).
    pub reading: String,
}

/// Lines of each report kept in the state.
pub const REPORT_LINES: usize = 20;

/// An entry not recorded yet.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Held {
    pub key: String,
    pub source: Source,
    /// `None`: an upcoming premiere, released when the feed shows it started.
    pub ready_at: Option<DateTime<Utc>>,
}

impl FeedState {
    /// Validators to send, if they belong to `url`.
    pub fn validators_for(&self, url: &str) -> Validators {
        if self.feed_url.as_deref() != Some(url) {
            return Validators::default();
        }
        Validators {
            etag: self.etag.clone(),
            last_modified: self.last_modified.clone(),
        }
    }

    /// Whether a body from `url` was read before (state written before
    /// `read_urls` existed: the URL last fetched).
    pub fn has_read(&self, url: &str) -> bool {
        self.read_urls.iter().any(|u| u == url)
            || (self.seen && self.read_urls.is_empty() && self.feed_url.as_deref() == Some(url))
    }

    /// Remember that a body from `url` was read.
    pub fn mark_read(&mut self, url: &str) {
        if self.read_urls.is_empty() && self.seen {
            // State from before `read_urls`: the URL it had read.
            self.read_urls.extend(self.feed_url.clone());
        }
        if !self.read_urls.iter().any(|u| u == url) {
            self.read_urls.push(url.to_owned());
        }
        self.seen = true;
    }

    /// Remember what the body just read could not use.
    pub fn report(&mut self, ignored: &[String], notes: &[String]) {
        self.ignored = ignored.iter().take(REPORT_LINES).cloned().collect();
        self.ignored_count = ignored.len();
        self.notes = notes.iter().take(REPORT_LINES).cloned().collect();
        self.notes_count = notes.len();
    }

    /// The earliest time a held entry becomes ready.
    pub fn next_release(&self) -> Option<DateTime<Utc>> {
        self.held.iter().filter_map(|h| h.ready_at).min()
    }

    /// Record a successful check.
    pub fn succeeded(&mut self, now: DateTime<Utc>, interval: Duration, new_entries: usize) {
        self.last_success = Some(now);
        if new_entries > 0 {
            self.last_new_entry = Some(now);
        }
        self.consecutive_failures = 0;
        let mut next = now + delta(jitter(interval));
        if let Some(release) = self.next_release() {
            next = next.min(release.max(now));
        }
        self.next_check = Some(next);
    }

    /// Record a failed check; the next one backs off.
    pub fn failed(&mut self, now: DateTime<Utc>, interval: Duration, error: String) {
        self.consecutive_failures = self.consecutive_failures.saturating_add(1);
        self.last_error = Some(error);
        self.last_error_at = Some(now);
        self.next_check = Some(now + delta(retry_delay(interval, self.consecutive_failures)));
    }
}

/// Wait before the next check after `failures` consecutive errors (≥ 1):
/// from `min(interval, 1m)`, doubling, up to `max(interval, 6h)`, jittered.
pub fn retry_delay(interval: Duration, failures: u32) -> Duration {
    let start = interval.min(FIRST_BACKOFF);
    backoff(start, interval.max(MAX_BACKOFF), failures.saturating_sub(1))
}

pub(super) fn delta(d: Duration) -> TimeDelta {
    TimeDelta::from_std(d).unwrap_or(TimeDelta::MAX)
}

/// The `feeds` tree.
#[derive(Clone)]
pub struct FeedStates {
    store: Store,
    tree: sled::Tree,
}

impl FeedStates {
    pub fn open(store: &Store) -> Result<FeedStates, StoreError> {
        Ok(FeedStates {
            tree: store.tree(TREE)?,
            store: store.clone(),
        })
    }

    /// The state of feed `name`, fresh if none is stored or it belonged to
    /// another source.
    pub fn get(&self, name: &str, source: &str) -> Result<FeedState, StoreError> {
        let stored = self.load(name)?;
        Ok(match stored {
            Some(state) if state.source == source => state,
            _ => FeedState {
                source: source.to_owned(),
                ..FeedState::default()
            },
        })
    }

    /// The stored state of feed `name`, whatever its source.
    pub fn load(&self, name: &str) -> Result<Option<FeedState>, StoreError> {
        let Some(bytes) = self.tree.get(name)? else {
            return Ok(None);
        };
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|source| StoreError::Corrupt {
                key: format!("feed {name}"),
                source,
            })
    }

    /// Write and flush.
    pub async fn save(&self, name: &str, state: &FeedState) -> Result<(), StoreError> {
        let bytes = serde_json::to_vec(state).expect("feed state serializes");
        self.tree.insert(name, bytes)?;
        self.store.flush().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_from_the_interval_and_is_capped() {
        let interval = Duration::from_millis(200);
        let delays: Vec<Duration> = (1..=5).map(|n| retry_delay(interval, n)).collect();
        for pair in delays.windows(2) {
            assert!(pair[1] > pair[0], "{delays:?}");
        }
        assert!(delays[0] >= Duration::from_millis(160) && delays[0] <= Duration::from_millis(240));
        let long = Duration::from_secs(15 * 60);
        assert!(retry_delay(long, 1) <= Duration::from_secs(72));
        assert!(retry_delay(long, 40) <= MAX_BACKOFF.mul_f64(1.2));
        assert!(retry_delay(long, 40) >= MAX_BACKOFF.mul_f64(0.8));
    }

    #[test]
    fn success_resets_failures_and_failure_keeps_the_error() {
        let now: DateTime<Utc> = "2024-06-01T00:00:00Z".parse().unwrap();
        let mut state = FeedState::default();
        state.failed(now, Duration::from_secs(60), "boom".into());
        state.failed(now, Duration::from_secs(60), "boom again".into());
        assert_eq!(state.consecutive_failures, 2);
        let after_two = state.next_check.unwrap() - now;
        assert!(after_two >= TimeDelta::seconds(96), "{after_two}");
        state.succeeded(now, Duration::from_secs(60), 0);
        assert_eq!(state.consecutive_failures, 0);
        assert_eq!(state.last_error.as_deref(), Some("boom again"));
        assert_eq!(state.last_new_entry, None);
        let next = state.next_check.unwrap() - now;
        assert!(next >= TimeDelta::seconds(48) && next <= TimeDelta::seconds(72));
    }

    #[test]
    fn held_entries_bring_the_next_check_forward() {
        let now: DateTime<Utc> = "2024-06-01T00:00:00Z".parse().unwrap();
        let mut state = FeedState {
            held: vec![Held {
                key: "url:https://example.com/".into(),
                source: Source::default(),
                ready_at: Some(now + TimeDelta::seconds(5)),
            }],
            ..FeedState::default()
        };
        state.succeeded(now, Duration::from_secs(3600), 1);
        assert_eq!(state.next_check, Some(now + TimeDelta::seconds(5)));
        assert_eq!(state.last_new_entry, Some(now));
    }

    #[test]
    fn each_feed_url_is_first_seen_once() {
        let mut state = FeedState::default();
        assert!(!state.has_read("https://a/uulf"));
        state.mark_read("https://a/uulf");
        assert!(state.has_read("https://a/uulf"));
        assert!(!state.has_read("https://a/channel"), "a fallback is new");
        state.mark_read("https://a/channel");
        assert!(state.has_read("https://a/uulf") && state.has_read("https://a/channel"));
        // State written before `read_urls`: the URL it last read is known.
        let old = FeedState {
            seen: true,
            feed_url: Some("https://a/uulf".into()),
            ..FeedState::default()
        };
        assert!(old.has_read("https://a/uulf"));
        assert!(!old.has_read("https://a/channel"));
        let mut old = old;
        old.mark_read("https://a/channel");
        assert_eq!(old.read_urls, ["https://a/uulf", "https://a/channel"]);
    }

    #[test]
    fn validators_belong_to_their_url() {
        let state = FeedState {
            feed_url: Some("https://a/feed".into()),
            etag: Some("\"1\"".into()),
            ..FeedState::default()
        };
        assert_eq!(
            state.validators_for("https://a/feed").etag.as_deref(),
            Some("\"1\"")
        );
        assert_eq!(
            state.validators_for("https://b/feed"),
            Validators::default()
        );
    }
}
