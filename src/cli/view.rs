//! What `jobs`, `show` and `status` print: aligned tables for people and a
//! stable JSON shape (documented in README.md) for scripts. The JSON is a
//! view, not the stored record, so storage can change without breaking it.

use serde::Serialize;
use serde_json::{Map, Value};

use crate::model::{Job, State, Transition};

/// One job, as `jobs --json` (without `history`) and `show --json` print it.
#[derive(Debug, Serialize)]
pub struct JobView {
    pub id: u64,
    pub key: String,
    pub state: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub will_retry: Option<bool>,
    /// `--name`, else the source's title; `null` when neither is known
    /// (names and the project name then use the key).
    pub title: Option<String>,
    pub url: String,
    pub feed: Option<String>,
    pub origin: String,
    pub published: Option<String>,
    pub preset: String,
    pub task_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub options: Option<Map<String, Value>>,
    pub submit_attempts: u32,
    pub attempts: u32,
    pub last_error: Option<String>,
    pub retry_at: Option<String>,
    pub units: Option<u64>,
    pub folder: Option<String>,
    pub files: Vec<String>,
    pub created_at: String,
    pub updated_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub history: Option<Vec<Transition>>,
}

impl JobView {
    pub fn new(job: &Job, detailed: bool) -> JobView {
        let (reason, will_retry) = match &job.state {
            State::Failed { reason, will_retry } => (Some(reason.clone()), Some(*will_retry)),
            State::Skipped { reason } => (Some(reason.clone()), None),
            _ => (None, None),
        };
        JobView {
            id: job.id,
            key: job.key.clone(),
            state: job.state.name(),
            reason,
            will_retry,
            title: job
                .name
                .clone()
                .or_else(|| job.source.title.clone())
                .filter(|t| !t.trim().is_empty()),
            url: job.source.url.clone(),
            feed: job.source.feed.clone(),
            origin: job.source.origin.clone(),
            published: job.source.published.map(crate::output::sidecar::rfc3339),
            preset: job.preset.clone(),
            task_id: job.task.as_ref().map(|t| t.id.clone()),
            options: detailed
                .then(|| job.task.as_ref().map(|t| t.options.clone()))
                .flatten(),
            submit_attempts: job.submit_attempts,
            attempts: job.attempts,
            last_error: job.last_error.clone(),
            retry_at: job.retry_at.map(crate::output::sidecar::rfc3339),
            units: job.units,
            folder: job.folder.clone(),
            files: job.files.clone(),
            created_at: crate::output::sidecar::rfc3339(job.created_at),
            updated_at: crate::output::sidecar::rfc3339(job.updated_at),
            history: detailed.then(|| job.history.clone()),
        }
    }
}

/// Rows of cells printed with each column padded to its widest cell.
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            widths[i] = widths[i].max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let mut line = |cells: Vec<&str>| {
        let last = cells.len() - 1;
        for (i, cell) in cells.iter().enumerate() {
            out.push_str(cell);
            if i < last {
                let pad = widths[i] - cell.chars().count() + 2;
                out.push_str(&" ".repeat(pad));
            }
        }
        out.push('\n');
    };
    line(header.to_vec());
    for row in rows {
        line(row.iter().map(String::as_str).collect());
    }
    out
}

/// At most `max` characters, with an ellipsis when cut.
pub fn cut(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_align_columns() {
        let out = table(
            &["ID", "STATE"],
            &[
                vec!["1".into(), "done".into()],
                vec!["100".into(), "queued".into()],
            ],
        );
        assert_eq!(out, "ID   STATE\n1    done\n100  queued\n");
    }

    #[test]
    fn cut_marks_truncation() {
        assert_eq!(cut("abcdef", 4), "abc…");
        assert_eq!(cut("abc", 4), "abc");
    }
}
