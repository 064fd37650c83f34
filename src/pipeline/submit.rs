//! The submit step: a queued job's video (its URL, or an upload's
//! identity) becomes a paid task. One submit is in flight at a time, the
//! job is stored `submitting` right before the request leaves, and every
//! way the API can answer (or not) is mapped to what happens to the job:
//! recorded, paused for the account, deferred, failed, or handled as an
//! ambiguous submit (`api.on_ambiguous_submit`).

use std::time::Duration;

use chrono::Utc;

use super::pause::Refusal;
use super::step::{JobRun, Outcome, Stepped, RETRY_START};
use crate::api::client::BeforeSend;
use crate::api::moments::Endpoint;
use crate::api::ApiError;
use crate::config::AmbiguousSubmit;
use crate::model::{Event, Job, State, Task};
use crate::util::retry::backoff;

/// Tries at storing a task id the API sent, when the store fails.
const MAX_RECORD_ATTEMPTS: u32 = 5;
/// Longest project name sent to the API.
const MAX_PROJECT_NAME_CHARS: usize = 100;

impl JobRun {
    /// Submit the job's video (its URL, or an upload's identity) as a new
    /// task; on success the job is `processing` and holds the task id.
    pub(super) async fn submit(&mut self) -> Outcome {
        self.submit_step().await.into()
    }

    async fn submit_step(&mut self) -> Stepped {
        let config = self.ctx.config();
        let Some(api) = self.ctx.api.clone() else {
            return Ok(Outcome::Released);
        };
        let Some(preset) = config.presets.get(&self.job.preset) else {
            let reason = format!("preset \"{}\" is not in the configuration", self.job.preset);
            return self.fail(reason).await;
        };
        let Some(video_url) = self.video_url() else {
            return self
                .fail("a local file reached submit without an upload".into())
                .await;
        };
        let project_name: String = self
            .job
            .display_title()
            .chars()
            .take(MAX_PROJECT_NAME_CHARS)
            .collect();
        // A preset with a query submits to Find Moments (see api::moments).
        let options = preset.api_options();
        // Stored with the job as it goes `submitting`, before any request.
        self.plan_extras(preset);
        self.progress("submitting");
        // Announced before the submits' one-at-a-time gate, so that polls
        // leave this submit a token while it waits there.
        let claim = self
            .submit_claim
            .take()
            .unwrap_or_else(|| api.budget().claim());
        let gate = self.ctx.submit_gate.clone();
        let _one_at_a_time = tokio::select! {
            guard = gate.lock() => guard,
            () = self.ctx.cancel.cancelled() => return Ok(Outcome::Cancelled),
        };
        // Right before the request first leaves (the budget granted it), and
        // only if the state volume has room to record the answer: the job is
        // stored as `submitting`. A crash from then on is seen at the next
        // start as a submit that may have been processed.
        let mut store_error = None;
        let mut no_room = None;
        // When the request left: the task's clock starts there, not when
        // the answer came (a slow answer would shift every poll planned
        // from the processing times).
        let mut left_at = None;
        let sent = {
            let ctx = self.ctx.clone();
            let job = &mut self.job;
            let (store_error, no_room) = (&mut store_error, &mut no_room);
            let left_at = &mut left_at;
            let before_send: BeforeSend<'_> = Box::new(move || {
                Box::pin(async move {
                    if let Err(reason) = ctx.state_has_room() {
                        *no_room = Some(reason);
                        return false;
                    }
                    match ctx.transition(job, Event::SubmitStarted).await {
                        Ok(()) => {
                            *left_at = Some(Utc::now());
                            job.state == State::Submitting
                        }
                        Err(err) => {
                            *store_error = Some(err);
                            false
                        }
                    }
                })
            });
            let endpoint = Endpoint::of_options(&options);
            api.submit_to(
                endpoint,
                &video_url,
                &project_name,
                &options,
                before_send,
                Some(&claim),
            )
            .await
        };
        if let Some(err) = store_error {
            return Err(err);
        }
        match sent {
            Ok(reply) => {
                self.ctx.submit_pause.submitted();
                let task = Task {
                    id: reply.id,
                    project_name: reply.name.unwrap_or(project_name),
                    options,
                    submitted_at: left_at.unwrap_or_else(Utc::now),
                    failed: false,
                };
                self.record_task(task).await
            }
            Err(ApiError::NotSent) => {
                if let Some(reason) = no_room {
                    tracing::warn!(job = self.job.id, key = %self.job.key, "not submitting: {reason}");
                }
                Ok(Outcome::Released)
            }
            Err(ApiError::Cancelled) => Ok(Outcome::Cancelled),
            Err(err) if err.is_rate_limited() || err.is_auth() => {
                // Not processed: back to the queue, not counted against the
                // job; the shared budget holds the next submit until the
                // wait is over or the key works. Waiting in the queue, not
                // in `submitting`, so a restart meanwhile is not ambiguous.
                self.slot = None;
                self.transition(Event::SubmitPaused {
                    error: err.to_string(),
                    retry_at: Utc::now(),
                })
                .await?;
                self.ctx.wake();
                Ok(Outcome::Released)
            }
            Err(err @ ApiError::Invalid { .. }) => self.rejected(err).await,
            Err(err @ ApiError::Unreadable { .. }) => {
                // Accepted (a 2xx came), but the task id is lost: submitting
                // again would pay twice for certain, whatever the policy.
                let reason = ambiguous_submit_reason(&self.job, &err.to_string(), true);
                self.fail(reason).await
            }
            Err(err) if err.maybe_processed() => self.ambiguous(err.to_string()).await,
            Err(err) => self.defer("submit", err.to_string()).await,
        }
    }

    /// Store the task a submit created. If the store cannot take it (a
    /// full state volume), try again for a while: the task is paid for and
    /// its id is known only here. If it still fails, the job stays
    /// `submitting`, which the next start treats as an ambiguous submit
    /// (never as "not sent"); the id is logged for the user.
    async fn record_task(&mut self, task: Task) -> Stepped {
        let task_id = task.id.clone();
        let event = Event::Submitted { task };
        let mut attempt = 0;
        loop {
            let mut job = self.job.clone();
            match self.ctx.transition(&mut job, event.clone()).await {
                Ok(()) => {
                    self.job = job;
                    return Ok(Outcome::Moved);
                }
                Err(err) if attempt < MAX_RECORD_ATTEMPTS => {
                    attempt += 1;
                    let wait = backoff(RETRY_START, Duration::from_secs(30), attempt);
                    tracing::error!(job = self.job.id, key = %self.job.key, task = %task_id, ?wait,
                        "the API created task {task_id} but it cannot be recorded: {err}; trying again");
                    tokio::time::sleep(wait).await;
                }
                Err(err) => {
                    tracing::error!(job = self.job.id, key = %self.job.key, task = %task_id,
                        "the API created task {task_id} but it could not be recorded: {err}; \
                         the job stays submitting and is handled as an ambiguous submit \
                         (api.on_ambiguous_submit) at the next start");
                    return Err(err);
                }
            }
        }
    }

    /// A submit that may have been processed lost its answer.
    async fn ambiguous(&mut self, err: String) -> Stepped {
        match self.ctx.config().api.on_ambiguous_submit {
            AmbiguousSubmit::Fail => {
                let reason = ambiguous_submit_reason(&self.job, &err, false);
                self.fail(reason).await
            }
            AmbiguousSubmit::Resubmit => {
                let note = format!(
                    "{err}; the API may have created a task already, submitting again \
                     (api.on_ambiguous_submit = \"resubmit\")"
                );
                self.defer("submit", note).await
            }
        }
    }

    /// The API refused the submit itself: the job's fault, or the
    /// account's (no units left, or the same refusal for several videos),
    /// which pauses submitting and puts the job back in the queue.
    async fn rejected(&mut self, err: ApiError) -> Stepped {
        let every = self.ctx.probe_interval();
        match self.ctx.submit_pause.refused(&self.job.key, &err, every) {
            Refusal::Fail => self.fail(err.to_string()).await,
            Refusal::Requeue => {
                // Later than the next probe, so that probe tries another job.
                let later = chrono::Duration::from_std(every * 2).unwrap_or_default();
                self.slot = None;
                self.transition(Event::SubmitPaused {
                    error: err.to_string(),
                    retry_at: Utc::now() + later,
                })
                .await?;
                self.ctx.wake();
                Ok(Outcome::Released)
            }
        }
    }

    /// The URL the API gets: an upload's identity, else the source URL.
    pub(super) fn video_url(&self) -> Option<String> {
        if let Some(url) = &self.job.video_url {
            return Some(url.clone());
        }
        (!self.job.key.starts_with("file:")).then(|| self.job.source.url.clone())
    }
}

/// Why a job failed after a submit that may have created a task: what
/// happened, that a task may exist (and where to look), and what `retry`
/// does. `accepted`: a 2xx came, so the API certainly took it.
pub fn ambiguous_submit_reason(job: &Job, what: &str, accepted: bool) -> String {
    let may = if accepted {
        "the API accepted the submit (a 2xx came), so a task may exist and be charged"
    } else {
        "the submit request left but its answer was lost, so a task may exist and be charged"
    };
    let name: String = job
        .display_title()
        .chars()
        .take(MAX_PROJECT_NAME_CHARS)
        .collect();
    let policy = if accepted {
        ""
    } else {
        " (api.on_ambiguous_submit = \"fail\")"
    };
    format!(
        "{what}; {may}: look for project \"{name}\" in your WayinVideo library. \
         Not submitting again on its own{policy}; `clipwatch retry {}` submits again",
        job.id
    )
}
