//! A job as replies carry it: the stable JSON shape of `jobs --json` and
//! `show --json` (documented in README.md). It is a view, not the stored
//! record, so storage can change without breaking scripts.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::model::{ExtraTask, Job, State, Transition};

/// One job, as `jobs --json` (without `history`) and `show --json` print it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobView {
    pub id: u64,
    pub key: String,
    pub state: String,
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
    /// The extra tasks (transcript, summary, exports): kind, state, task
    /// id, units, reason, files.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extras: Vec<ExtraTask>,
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
            // A finished job's word on its result (a query that matched nothing).
            State::Done => (job.note.clone(), None),
            _ => (None, None),
        };
        JobView {
            id: job.id,
            key: job.key.clone(),
            state: job.state.name().to_string(),
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
            published: job.source.published.map(crate::util::rfc3339),
            preset: job.preset.clone(),
            task_id: job.task.as_ref().map(|t| t.id.clone()),
            options: detailed
                .then(|| job.task.as_ref().map(|t| t.options.clone()))
                .flatten(),
            submit_attempts: job.submit_attempts,
            attempts: job.attempts,
            last_error: job.last_error.clone(),
            retry_at: job.retry_at.map(crate::util::rfc3339),
            units: job.units,
            folder: job.folder.clone(),
            files: job.files.clone(),
            extras: job.extras.tasks.clone(),
            created_at: crate::util::rfc3339(job.created_at),
            updated_at: crate::util::rfc3339(job.updated_at),
            history: detailed.then(|| job.history.clone()),
        }
    }
}
