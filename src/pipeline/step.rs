//! What the protocol steps (`upload`, `submit`, `poll`, `download`, one
//! file each, above this module) share: the job in hand ([`JobRun`]), the
//! one [`Outcome`] every step returns, and the moves common to them
//! (transition, fail, defer, a pause that shutdown cuts short).
//! Each step persists its transition before doing what the new state
//! allows, so a crash at any instant resumes from the store (SPEC §5).

use std::time::Duration;

use chrono::Utc;

use super::context::Context;
use crate::api::limiter::{Claim, Slot};
use crate::api::types::TaskResults;
use crate::model::{Event, Job};
use crate::store::StoreError;
use crate::util::retry::backoff;

/// Submit attempts (transient failures) before a job is failed.
const MAX_SUBMIT_ATTEMPTS: u32 = 6;
pub(super) const RETRY_START: Duration = Duration::from_secs(1);
pub(super) const RETRY_MAX: Duration = Duration::from_secs(300);

/// How a step ended.
#[derive(Debug)]
pub enum Outcome {
    /// The job moved on (its new state is stored): run the next step.
    Moved,
    /// The worker lets go of the job; the scheduler files it again from
    /// what the store says (deferred, paused, failed, left for a later run).
    Released,
    /// Shutdown: leave the job where it is; it resumes at the next start.
    Cancelled,
    /// The output volume is full or refuses writes (a cause that can
    /// clear): the download waits for it and tries again.
    OutputBlocked(String),
    /// The job cannot go on: fail it with this reason.
    Fail(String),
    /// The database failed: the job is left as it is.
    StoreFailed(StoreError),
}

impl From<Result<Outcome, StoreError>> for Outcome {
    fn from(stepped: Result<Outcome, StoreError>) -> Outcome {
        stepped.unwrap_or_else(Outcome::StoreFailed)
    }
}

/// Inside a step: an outcome, or a store error to pass up with `?`.
pub(super) type Stepped = Result<Outcome, StoreError>;

/// One job being driven through its steps.
pub struct JobRun {
    pub(super) ctx: Context,
    pub(super) job: Job,
    /// Held from submit until the task ends.
    pub(super) slot: Option<Slot>,
    /// The budget's token announced for this job's submit (see [`Claim`]).
    pub(super) submit_claim: Option<Claim>,
    /// Results from the last poll, reused by the download step.
    pub(super) results: Option<TaskResults>,
    /// A clip's missing video link was already waited for (once per job:
    /// a link that never comes must not cost a wait per clip).
    pub(super) waited_for_link: bool,
    /// API units the task was charged, not yet stored: written with the
    /// next transition, in the same transaction as the job.
    pub(super) unsaved_units: Option<u64>,
    /// Slots held by running extra tasks, by the extra's label.
    pub(super) extra_slots: std::collections::HashMap<String, Slot>,
}

impl JobRun {
    pub fn new(ctx: Context, job: Job, slot: Option<Slot>) -> JobRun {
        JobRun {
            ctx,
            job,
            slot,
            submit_claim: None,
            results: None,
            waited_for_link: false,
            unsaved_units: None,
            extra_slots: Default::default(),
        }
    }

    pub(super) async fn transition(&mut self, event: Event) -> Result<(), StoreError> {
        let units = self.unsaved_units.take();
        self.ctx
            .transition_counting(&mut self.job, event, units)
            .await
    }

    pub(super) fn progress(&self, text: impl Into<String>) {
        self.ctx.progress.set(&self.job.key, text);
    }

    /// Fail the job with `reason` and let it go.
    pub(super) async fn fail(&mut self, reason: String) -> Stepped {
        self.slot = None;
        self.extra_slots.clear();
        self.transition(Event::Failed {
            reason,
            will_retry: false,
        })
        .await?;
        Ok(Outcome::Released)
    }

    /// Sleep, unless shutdown comes first.
    pub(super) async fn pause_until(&self, deadline: tokio::time::Instant) -> Result<(), Outcome> {
        tokio::select! {
            () = self.ctx.cancel.cancelled() => Err(Outcome::Cancelled),
            () = tokio::time::sleep_until(deadline) => Ok(()),
        }
    }

    pub(super) async fn pause(&self, wait: Duration) -> Result<(), Outcome> {
        tokio::select! {
            () = self.ctx.cancel.cancelled() => Err(Outcome::Cancelled),
            () = tokio::time::sleep(wait) => Ok(()),
        }
    }

    /// A transient failure of `step` (submit or upload): back to the queue
    /// with a backoff, or failed once the attempts are spent.
    pub(super) async fn defer(&mut self, step: &str, err: String) -> Stepped {
        let attempts = self.job.attempts + 1;
        if attempts >= MAX_SUBMIT_ATTEMPTS {
            return self
                .fail(format!("{err} (after {attempts} attempts)"))
                .await;
        }
        let wait = backoff(RETRY_START, RETRY_MAX, attempts);
        tracing::warn!(job = self.job.id, key = %self.job.key, ?wait, "{step} failed, will retry: {err}");
        let retry_at = Utc::now() + chrono::Duration::from_std(wait).unwrap_or_default();
        self.slot = None;
        self.transition(Event::SubmitDeferred {
            error: err,
            retry_at,
        })
        .await?;
        self.ctx.wake();
        Ok(Outcome::Released)
    }

    /// Whether the task was asked to export clip videos.
    pub(super) fn export_enabled(&self) -> bool {
        self.job
            .task
            .as_ref()
            .and_then(|t| t.options.get("enable_export"))
            .and_then(|v| v.as_bool())
            .unwrap_or(false)
    }
}
