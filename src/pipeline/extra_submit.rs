//! Submitting a job's extra tasks (transcript, summary, exports: see
//! [`crate::model::extra`]). The same rules as the clipping submit: one
//! submit in flight at a time (the submit gate), a running-task slot held
//! from submit until the task ends, the shared request budget, and the
//! extra stored `submitting` right before its request leaves, then with
//! its task id before its first poll. A crash in between is an ambiguous
//! submit, settled at the next start by `api.on_ambiguous_submit` (see
//! [`recover_extras`]); nothing is ever submitted again silently.

use std::time::Duration;

use serde_json::{Map, Value};

use super::context::Context;
use super::step::{JobRun, Outcome, RETRY_MAX, RETRY_START};
use crate::api::client::BeforeSend;
use crate::api::ApiError;
use crate::config::{AmbiguousSubmit, Preset};
use crate::model::{ExtraKind, ExtraState, Job, State};
use crate::store::StoreError;
use crate::util::retry::backoff;

/// Transient failures of one extra's submit before it is failed.
const MAX_EXTRA_SUBMIT_ATTEMPTS: u32 = 6;

/// What one submit attempt of an extra came to.
enum Sent {
    /// Recorded `running`, or failed for good: go on with the next.
    Settled,
    /// Not sent (no slot, no room) or refused for now: try again later.
    Later(Option<String>),
    Stop(Outcome),
}

impl JobRun {
    /// Add the extra tasks `preset` asks for that the job does not have yet;
    /// they are stored with the job's next write (its submit).
    pub(super) fn plan_extras(&mut self, preset: &Preset) {
        let extras = &mut self.job.extras;
        if preset.transcript {
            extras.want(ExtraKind::Transcript);
        }
        if preset.summary {
            extras.want(ExtraKind::Summary);
        }
        for other in &preset.also {
            extras.want(ExtraKind::Export {
                preset: other.clone(),
            });
        }
    }

    /// Submit every pending extra. Without `wait`, only while a slot is
    /// free at once (the clipping task still holds one: waiting could
    /// starve); with `wait`, for a slot and through transient errors.
    /// `Some` when the worker must stop (shutdown, a database error).
    pub(super) async fn submit_extras(
        &mut self,
        wait: bool,
    ) -> Result<Option<Outcome>, StoreError> {
        let mut attempts = 0;
        loop {
            let Some(kind) = self
                .job
                .extras
                .tasks
                .iter()
                // An export needs the clipping task's clip list: not before
                // it succeeded.
                .find(|t| {
                    t.state == ExtraState::Pending
                        && (self.job.state == State::Downloading
                            || !matches!(t.kind, ExtraKind::Export { .. }))
                })
                .map(|t| t.kind.clone())
            else {
                return Ok(None);
            };
            match self.submit_extra(&kind, wait).await? {
                Sent::Settled => attempts = 0,
                Sent::Stop(outcome) => return Ok(Some(outcome)),
                Sent::Later(_) if !wait => return Ok(None),
                Sent::Later(error) => {
                    attempts += 1;
                    if let Some(error) = error {
                        if attempts >= MAX_EXTRA_SUBMIT_ATTEMPTS {
                            let reason = format!("{error} (after {attempts} attempts)");
                            self.settle_extra(&kind, ExtraState::Failed, Some(reason))
                                .await?;
                            attempts = 0;
                            continue;
                        }
                    }
                    let wait = backoff(RETRY_START, RETRY_MAX, attempts)
                        .max(self.ctx.config().api.poll_interval);
                    if let Err(stop) = self.pause(wait).await {
                        return Ok(Some(stop));
                    }
                }
            }
        }
    }

    async fn submit_extra(&mut self, kind: &ExtraKind, wait: bool) -> Result<Sent, StoreError> {
        let Some(api) = self.ctx.api.clone() else {
            return Ok(Sent::Stop(Outcome::Released));
        };
        let Some(video_url) = self.video_url() else {
            return Ok(Sent::Stop(Outcome::Fail(
                "a local file reached submit without an upload".into(),
            )));
        };
        let body = match self.extra_body(kind, &video_url).await {
            Ok(body) => body,
            Err(reason) => {
                self.settle_extra(kind, ExtraState::Failed, Some(reason))
                    .await?;
                return Ok(Sent::Settled);
            }
        };
        let slot = match self.ctx.slots.try_acquire() {
            Some(slot) => slot,
            None if !wait => return Ok(Sent::Later(None)),
            None => tokio::select! {
                slot = self.ctx.slots.acquire() => slot,
                () = self.ctx.cancel.cancelled() => return Ok(Sent::Stop(Outcome::Cancelled)),
            },
        };
        self.progress(format!("submitting the {}", kind.label()));
        let gate = self.ctx.submit_gate.clone();
        let _one_at_a_time = tokio::select! {
            guard = gate.lock() => guard,
            () = self.ctx.cancel.cancelled() => return Ok(Sent::Stop(Outcome::Cancelled)),
        };
        let mut store_error = None;
        let mut no_room = None;
        let sent = {
            let ctx = self.ctx.clone();
            let job = &mut self.job;
            let (store_error, no_room) = (&mut store_error, &mut no_room);
            let before_send: BeforeSend<'_> = Box::new(move || {
                Box::pin(async move {
                    if let Err(reason) = ctx.state_has_room() {
                        *no_room = Some(reason);
                        return false;
                    }
                    if let Some(task) = job.extras.get_mut(kind) {
                        task.state = ExtraState::Submitting;
                    }
                    match ctx.store.save(job).await {
                        Ok(()) => true,
                        Err(err) => {
                            *store_error = Some(err);
                            false
                        }
                    }
                })
            });
            api.submit_extra(kind, body, before_send).await
        };
        if let Some(err) = store_error {
            return Err(err);
        }
        let label = kind.label();
        match sent {
            Ok(id) => {
                if let Some(task) = self.job.extras.get_mut(kind) {
                    task.state = ExtraState::Running;
                    task.id = Some(id.clone());
                    task.reason = None;
                }
                self.record_extra(&id).await?;
                tracing::info!(job = self.job.id, key = %self.job.key, task = %id, "{label} task submitted");
                self.extra_slots.insert(label, slot);
                Ok(Sent::Settled)
            }
            Err(ApiError::NotSent) => Ok(Sent::Later(no_room)),
            Err(ApiError::Cancelled) => Ok(Sent::Stop(Outcome::Cancelled)),
            Err(err @ ApiError::Invalid { .. }) => {
                let reason = format!("the API refused the {label} task: {err}");
                self.settle_extra(kind, ExtraState::Failed, Some(reason))
                    .await?;
                Ok(Sent::Settled)
            }
            Err(err @ ApiError::Unreadable { .. }) => {
                let reason = extra_ambiguous_reason(&self.job, kind, &err.to_string(), true);
                self.settle_extra(kind, ExtraState::Failed, Some(reason))
                    .await?;
                Ok(Sent::Settled)
            }
            Err(err) if err.maybe_processed() => match self.ctx.config().api.on_ambiguous_submit {
                AmbiguousSubmit::Fail => {
                    let reason = extra_ambiguous_reason(&self.job, kind, &err.to_string(), false);
                    self.settle_extra(kind, ExtraState::Failed, Some(reason))
                        .await?;
                    Ok(Sent::Settled)
                }
                AmbiguousSubmit::Resubmit => {
                    self.settle_extra(kind, ExtraState::Pending, None).await?;
                    Ok(Sent::Later(Some(err.to_string())))
                }
            },
            Err(err) => {
                // Not processed (a 429, a rejected key, a 5xx): pending again.
                self.settle_extra(kind, ExtraState::Pending, None).await?;
                Ok(Sent::Later(Some(err.to_string())))
            }
        }
    }

    /// The body of an extra's submit: the video, and the languages of the
    /// clipping task's options as they were frozen at its submit.
    async fn extra_body(
        &mut self,
        kind: &ExtraKind,
        video_url: &str,
    ) -> Result<Map<String, Value>, String> {
        if let ExtraKind::Export { preset } = kind {
            return self.export_body(preset).await;
        }
        let mut body = Map::new();
        body.insert("video_url".into(), Value::String(video_url.into()));
        if let Some(options) = self.job.task.as_ref().map(|t| &t.options) {
            for key in ["source_lang", "target_lang"] {
                if let Some(value) = options.get(key) {
                    body.insert(key.into(), value.clone());
                }
            }
        }
        Ok(body)
    }

    /// Store the task id an extra's submit brought back, trying again for
    /// a while if the store fails (the task is paid for; its id is known
    /// only here). If it still fails, the extra stays `submitting` on disk,
    /// an ambiguous submit at the next start; the id is logged.
    async fn record_extra(&mut self, id: &str) -> Result<(), StoreError> {
        let mut attempt = 0;
        loop {
            match self.ctx.store.save(&self.job).await {
                Ok(()) => return Ok(()),
                Err(err) if attempt < 5 => {
                    attempt += 1;
                    let wait = backoff(RETRY_START, Duration::from_secs(30), attempt);
                    tracing::error!(job = self.job.id, task = %id, ?wait,
                        "the API created task {id} but it cannot be recorded: {err}; trying again");
                    tokio::time::sleep(wait).await;
                }
                Err(err) => {
                    tracing::error!(job = self.job.id, task = %id,
                        "the API created task {id} but it could not be recorded: {err}");
                    return Err(err);
                }
            }
        }
    }

    /// Move an extra to `state` (with `reason`) and store the job.
    pub(super) async fn settle_extra(
        &mut self,
        kind: &ExtraKind,
        state: ExtraState,
        reason: Option<String>,
    ) -> Result<(), StoreError> {
        if let Some(task) = self.job.extras.get_mut(kind) {
            if state == ExtraState::Failed {
                tracing::warn!(job = self.job.id, key = %self.job.key, "{} task failed: {}",
                    kind.label(), reason.as_deref().unwrap_or("-"));
            }
            task.state = state;
            task.reason = reason;
        }
        self.extra_slots.remove(&kind.label());
        self.ctx.store.save(&self.job).await
    }

    /// Why the job cannot be done because of its extras, if it cannot:
    /// which tasks failed, what is in place, and what `retry` does.
    pub(super) fn extras_failed_reason(&self) -> Option<String> {
        let failed: Vec<String> = self
            .job
            .extras
            .failed()
            .map(|t| {
                let id =
                    t.id.as_deref()
                        .map(|id| format!(" {id}"))
                        .unwrap_or_default();
                format!(
                    "{} task{id} failed: {}",
                    t.kind.label(),
                    t.reason.as_deref().unwrap_or("no reason given")
                )
            })
            .collect();
        if failed.is_empty() {
            return None;
        }
        let mut kept = vec!["the clips".to_string()];
        kept.extend(
            self.job
                .extras
                .tasks
                .iter()
                .filter(|t| t.state == ExtraState::Done)
                .map(|t| format!("the {}", t.kind.label())),
        );
        let kept = match kept.split_last() {
            Some((last, rest)) if !rest.is_empty() => format!("{} and {last}", rest.join(", ")),
            _ => kept.join(""),
        };
        Some(format!(
            "{}; {kept} are in place; `clipwatch retry {}` submits only the failed task again",
            failed.join("; "),
            self.job.id
        ))
    }
}

/// Why an extra failed after a submit that may have created its task.
fn extra_ambiguous_reason(job: &Job, kind: &ExtraKind, what: &str, accepted: bool) -> String {
    let label = kind.label();
    let may = if accepted {
        "the API accepted the submit (a 2xx came)"
    } else {
        "the submit request left but its answer was lost"
    };
    format!(
        "{what}; {may}, so a {label} task may exist and be charged. Not submitting it again \
         on its own; `clipwatch retry {}` submits it again",
        job.id
    )
}

/// Start-up: settle every extra a crash left `submitting` (its request may
/// have reached the API), as `api.on_ambiguous_submit` says: failed with
/// the reason (`fail`), or pending again (`resubmit`, logged).
pub async fn recover_extras(ctx: &Context, job: &mut Job) -> Result<(), StoreError> {
    let policy = ctx.config().api.on_ambiguous_submit;
    let mut changed = false;
    let id = job.id;
    let what = "interrupted while submitting (clipwatch stopped before the answer came)";
    for task in &mut job.extras.tasks {
        if task.state != ExtraState::Submitting {
            continue;
        }
        changed = true;
        let label = task.kind.label();
        match policy {
            AmbiguousSubmit::Fail => {
                task.state = ExtraState::Failed;
                task.reason = Some(format!(
                    "{what}; the submit request left but its answer was lost, so a {label} \
                     task may exist and be charged. Not submitting it again on its own; \
                     `clipwatch retry {id}` submits it again"
                ));
            }
            AmbiguousSubmit::Resubmit => {
                tracing::warn!(job = id, "{label} task: {what}; submitting again \
                    (api.on_ambiguous_submit = \"resubmit\"; the API may have received the first request)");
                task.state = ExtraState::Pending;
            }
        }
    }
    if changed {
        ctx.store.save(job).await?;
    }
    Ok(())
}
