//! `feeds`: each configured feed's health from the feed state in the store
//! (last check, success, new entry and error, failures, next check). The
//! `--json` shape is documented in README.md.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

use super::{CommandError, Context};
use crate::sources::feed::source_label;
use crate::sources::feed::state::{FeedState, FeedStates};

/// One feed, as `feeds --json` prints it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeedView {
    pub name: String,
    /// `youtube:<value as configured>` or the feed URL (credentials hidden).
    pub source: String,
    /// The URL fetched (for YouTube, the resolved `/feeds/videos.xml` URL).
    pub feed_url: Option<String>,
    pub channel_id: Option<String>,
    pub last_check: Option<String>,
    pub last_success: Option<String>,
    pub last_new_entry: Option<String>,
    pub last_error: Option<String>,
    pub last_error_at: Option<String>,
    pub consecutive_failures: u32,
    pub next_check: Option<String>,
    /// Entries waiting for `delay` or an upcoming premiere.
    pub held: usize,
    /// Entries of the last body read that name no usable URL: how many, and
    /// the first few described.
    pub ignored_count: usize,
    pub ignored: Vec<String>,
    /// What the last body read left out or repeated (sloppy JSON Feed
    /// fields, entries repeating another's link): how many, the first few.
    pub notes_count: usize,
    pub notes: Vec<String>,
    /// While YouTube's long-form playlist (`UULF…`) fails: what is read
    /// instead, and since when. `null` otherwise.
    pub fallback: Option<String>,
}

impl FeedView {
    fn new(name: &str, source: String, state: FeedState) -> FeedView {
        FeedView {
            name: name.to_owned(),
            source,
            feed_url: state
                .feed_url
                .as_deref()
                .map(crate::sources::feed::fetch::display_url),
            channel_id: state.channel_id,
            last_check: time(state.last_check),
            last_success: time(state.last_success),
            last_new_entry: time(state.last_new_entry),
            last_error: state.last_error,
            last_error_at: time(state.last_error_at),
            consecutive_failures: state.consecutive_failures,
            next_check: time(state.next_check),
            held: state.held.len(),
            ignored_count: state.ignored_count,
            ignored: state.ignored,
            notes_count: state.notes_count,
            notes: state.notes,
            fallback: state.long_form_failing.map(|f| {
                format!(
                    "{} answers HTTP {} (since {}); reading {} instead, Shorts skipped by link",
                    f.url,
                    f.status,
                    crate::util::rfc3339(f.since),
                    f.reading
                )
            }),
        }
    }
}

fn time(at: Option<DateTime<Utc>>) -> Option<String> {
    at.map(|t| t.to_rfc3339_opts(SecondsFormat::Millis, true))
}

pub fn list(ctx: &Context) -> Result<Vec<FeedView>, CommandError> {
    let states = FeedStates::open(&ctx.store)?;
    let mut views = Vec::new();
    for feed in &ctx.config.feeds {
        let source = source_label(&feed.source);
        let state = states.get(&feed.name, &source)?;
        views.push(FeedView::new(&feed.name, source, state));
    }
    Ok(views)
}
