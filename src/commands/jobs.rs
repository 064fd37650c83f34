//! `jobs`, `show`, `retry` and `forget`: read and edit the jobs in the store.

use chrono::Utc;
use serde::{Deserialize, Serialize};

use super::{CommandError, Context, JobView};
use crate::model::{Event, Job, State};
use crate::store::Store;

/// A job named in a reply: its number, key and state after the request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobRef {
    pub id: u64,
    pub key: String,
    pub state: String,
}

impl JobRef {
    pub fn new(job: &Job) -> JobRef {
        JobRef {
            id: job.id,
            key: job.key.clone(),
            state: job.state.name().to_string(),
        }
    }
}

/// What `retry` did with one job. On the wire: `{"outcome": …, …}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum RetryOutcome {
    /// Queued again (or, for a task that succeeded, polled again).
    Retried { job: JobRef, from: String },
    /// Not retried: its page is clipped (or queued) by another job, whose
    /// link differs only by `#fragment`; retrying would pay twice.
    SamePage { job: JobRef, page: JobRef },
    /// Not retried: only failed or skipped jobs can be.
    NotRetriable { job: JobRef },
}

impl RetryOutcome {
    /// Why the job was not retried, for people; `None` when it was.
    pub fn refusal(&self) -> Option<String> {
        match self {
            RetryOutcome::Retried { .. } => None,
            RetryOutcome::SamePage { job, page } => Some(format!(
                "job {} is not retried: it is the same page as job {} ({}), whose link differs \
                 only by #fragment, and the API clips a page once; see `clipwatch show {}` (or \
                 `clipwatch retry {}` if that one failed)",
                job.id, page.id, page.key, page.id, page.id
            )),
            RetryOutcome::NotRetriable { job } => Some(format!(
                "job {} is {}; only failed or skipped jobs can be retried",
                job.id, job.state
            )),
        }
    }
}

pub fn list(
    ctx: &Context,
    state: Option<&str>,
    feed: Option<&str>,
) -> Result<Vec<JobView>, CommandError> {
    if let Some(state) = state {
        if !State::NAMES.contains(&state) {
            return Err(CommandError::usage(format!(
                "unknown state \"{state}\" (one of: {})",
                State::NAMES.join(", ")
            )));
        }
    }
    Ok(ctx
        .store
        .jobs()?
        .iter()
        .filter(|j| state.is_none_or(|s| j.state.name() == s))
        .filter(|j| feed.is_none_or(|f| j.source.feed.as_deref() == Some(f)))
        .map(|j| JobView::new(j, false))
        .collect())
}

pub fn show(ctx: &Context, job_or_key: &str) -> Result<JobView, CommandError> {
    let job = ctx.store.find(job_or_key)?;
    Ok(JobView::new(&job, true))
}

/// Retry one job (`Some`) or every failed job (`None`).
pub async fn retry(
    ctx: &Context,
    job_or_key: Option<&str>,
) -> Result<Vec<RetryOutcome>, CommandError> {
    let store = &ctx.store;
    let targets: Vec<Job> = match job_or_key {
        Some(job) => vec![store.find(job)?],
        None => store
            .jobs()?
            .into_iter()
            .filter(|j| matches!(j.state, State::Failed { .. }))
            .collect(),
    };
    let mut outcomes = Vec::with_capacity(targets.len());
    for job in targets {
        outcomes.push(retry_one(store, job).await?);
    }
    ctx.wake();
    Ok(outcomes)
}

async fn retry_one(store: &Store, mut job: Job) -> Result<RetryOutcome, CommandError> {
    let from = job.state.name().to_string();
    if let Some(page) = same_page_job(store, &job)? {
        return Ok(RetryOutcome::SamePage {
            job: JobRef::new(&job),
            page: JobRef::new(&page),
        });
    }
    if job.apply(Event::Retried, Utc::now()).is_err() {
        return Ok(RetryOutcome::NotRetriable {
            job: JobRef::new(&job),
        });
    }
    store.save(&job).await?;
    Ok(RetryOutcome::Retried {
        job: JobRef::new(&job),
        from,
    })
}

/// For a job skipped as the same page as another (links differing only by
/// `#fragment`), the job that has the page, if it still exists.
fn same_page_job(store: &Store, job: &Job) -> Result<Option<Job>, CommandError> {
    let State::Skipped { reason } = &job.state else {
        return Ok(None);
    };
    if !reason.starts_with(crate::sources::feed::decide::SAME_PAGE) {
        return Ok(None);
    }
    // The page's key: the link without its fragment.
    let Ok(page) = crate::model::identity::canonical_key(&job.source.url) else {
        return Ok(None);
    };
    // Searched with the same Find Moments query, if any.
    let page_key = crate::model::moments::same_query_key(&job.key, &page.key);
    if page_key == job.key {
        return Ok(None);
    }
    Ok(store.get(&page_key)?)
}

pub async fn forget(ctx: &Context, job_or_key: &str) -> Result<JobRef, CommandError> {
    let store = &ctx.store;
    let job = store.find(job_or_key)?;
    if !job.state.is_terminal() {
        return Err(CommandError::refused(format!(
            "job {} is {}; only done, failed or skipped jobs can be forgotten",
            job.id,
            job.state.name()
        )));
    }
    store.forget(&job.key).await?;
    Ok(JobRef::new(&job))
}
