//! `clipwatch feeds`: each configured feed's health from the feed state in
//! the store (last check, success, new entry and error, failures, next
//! check). The `--json` shape is documented in README.md.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;

use std::fmt::Write as _;

use super::view::{cut, table};
use super::{Ctx, Out};
use crate::sources::feed::source_label;
use crate::sources::feed::state::{FeedState, FeedStates};

/// One feed, as `feeds --json` prints it.
#[derive(Debug, Serialize)]
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

pub fn list(ctx: &Ctx, json: bool, out: &mut Out) -> anyhow::Result<u8> {
    let config = &ctx.config;
    let states = FeedStates::open(&ctx.store)?;
    let mut views = Vec::new();
    for feed in &config.feeds {
        let source = source_label(&feed.source);
        let state = states.get(&feed.name, &source)?;
        views.push(FeedView::new(&feed.name, source, state));
    }
    if json {
        writeln!(out.stdout, "{}", serde_json::to_string_pretty(&views)?)?;
        return Ok(0);
    }
    if views.is_empty() {
        writeln!(out.stdout, "no feeds configured")?;
        return Ok(0);
    }
    let dash = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
    let rows: Vec<Vec<String>> = views
        .iter()
        .map(|v| {
            let error = match (&v.last_error, v.consecutive_failures) {
                (Some(e), n) if n > 0 => format!("{n}× {}", cut(e, 70)),
                (Some(e), _) => format!("(recovered) {}", cut(e, 60)),
                (None, _) => "-".into(),
            };
            let mut notes = Vec::new();
            if v.fallback.is_some() {
                notes.push("UULF failing: reading the channel feed".to_owned());
            }
            if v.ignored_count > 0 {
                notes.push(format!("{} entries ignored", v.ignored_count));
            }
            if v.notes_count > 0 {
                notes.push(format!("{} notes", v.notes_count));
            }
            vec![
                v.name.clone(),
                cut(&v.source, 40),
                dash(&v.last_check),
                dash(&v.last_new_entry),
                dash(&v.next_check),
                error,
                if notes.is_empty() {
                    "-".into()
                } else {
                    notes.join(", ")
                },
            ]
        })
        .collect();
    write!(
        out.stdout,
        "{}",
        table(
            &[
                "FEED",
                "SOURCE",
                "LAST CHECK",
                "LAST NEW",
                "NEXT CHECK",
                "LAST ERROR",
                "NOTES"
            ],
            &rows
        )
    )?;
    Ok(0)
}
