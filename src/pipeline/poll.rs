//! The poll step: ask for the task's results until it ends, when
//! [`cadence`](super::cadence) says (sparsely before the predicted end,
//! densely around it, every `poll_interval` at most when no end is
//! predicted; backing off on errors). A SUCCEEDED reply frees the task's
//! slot at once and is trusted only once its clip list has settled (see
//! [`JobRun::settled`]).

use std::time::Duration;

use super::cadence::{Cadence, TaskClock};
use super::download::Wanted;
use super::step::{JobRun, Outcome, Stepped, RETRY_MAX, RETRY_START};
use crate::api::limiter::Use;
use crate::api::types::{same_clips, Clip, TaskResults, TaskStatus};
use crate::api::ApiError;
use crate::model::Event;
use crate::store::StoreError;
use crate::util::retry::backoff;

impl JobRun {
    /// Poll the task until it ends: on SUCCEEDED (with a settled clip
    /// list) the job is `downloading`; on FAILED it is failed.
    pub(super) async fn poll(&mut self) -> Outcome {
        self.poll_step().await.into()
    }

    async fn poll_step(&mut self) -> Stepped {
        let Some(api) = self.ctx.api.clone() else {
            return Ok(Outcome::Released);
        };
        let Some(task_id) = self.job.task.as_ref().map(|t| t.id.clone()) else {
            return self.fail("processing without a task id".into()).await;
        };
        if self.job.extras.clips_written {
            // A retry of a failed extra task: the clips are in place.
            self.transition(Event::TaskSucceeded).await?;
            return Ok(Outcome::Moved);
        }
        // Extra tasks run beside the clipping task while slots allow.
        if let Some(stop) = self.submit_extras(false).await? {
            return Ok(stop);
        }
        let mut settling = Settling::default();
        let mut errors_in_a_row = 0;
        let clock = TaskClock::since(self.job.task.as_ref().map(|t| t.submitted_at));
        let mut running_at = None;
        let mut cadence = Cadence::default();
        // Until its end is seen, polls that can wait leave tokens for it.
        let mut unended = Some(api.budget().unended());
        // Polled from its submit on (not resumed after a restart): its first
        // SUCCEEDED tells when it ended even if no poll saw it running.
        let from_submit = clock.now() < self.ctx.config().api.poll_interval;
        // With no samples yet, polls come every `poll_interval` from the
        // submit's answer, not from when the request left: the API starts
        // the task's clock when the request arrives, so a grid started
        // earlier can poll just before a task ends on it and see the end
        // a whole interval late (BENCHMARKS.md, "Round 2, final"). A task
        // resumed after a restart is polled at once.
        let mut last_poll_due = if from_submit {
            clock.now()
        } else {
            Duration::ZERO
        };
        loop {
            let extra = if errors_in_a_row > 1 {
                backoff(RETRY_START, RETRY_MAX, errors_in_a_row)
            } else {
                Duration::ZERO
            };
            last_poll_due =
                (self.next_poll(&mut cadence, last_poll_due, &settling) + extra).max(clock.now());
            if let Err(stop) = self.pause_until(clock.at(last_poll_due)).await {
                return Ok(stop);
            }
            let sent_at = clock.now();
            let use_ = poll_use(&cadence, &settling);
            let results = match api.results_as(self.endpoint(), &task_id, use_).await {
                Ok(results) => results,
                // No token spare for a poll that only narrows the window.
                Err(ApiError::NotSent) => continue,
                Err(ApiError::Cancelled) => return Ok(Outcome::Cancelled),
                Err(err @ ApiError::Invalid { .. }) => {
                    return self.fail(format!("task {task_id}: {err}")).await;
                }
                Err(err) => {
                    errors_in_a_row += 1;
                    tracing::warn!(job = self.job.id, task = %task_id, "polling failed, will poll again: {err}");
                    self.progress(format!("poll failed: {err}"));
                    continue;
                }
            };
            errors_in_a_row = 0;
            if matches!(results.status, TaskStatus::Succeeded | TaskStatus::Failed) {
                drop(unended.take());
            }
            match results.status {
                TaskStatus::Succeeded if settling.since.is_none() => {
                    if running_at.is_some() || from_submit {
                        self.task_ended(running_at, sent_at);
                    }
                }
                TaskStatus::Failed | TaskStatus::Succeeded => {}
                _ => running_at = Some(sent_at),
            }
            self.progress(format!(
                "{} ({} clips so far)",
                results.status.as_str(),
                results.clips.len()
            ));
            match results.status {
                TaskStatus::Failed => {
                    self.free_slot();
                    self.account_units(&results).await?;
                    let message = results
                        .error_message
                        .clone()
                        .unwrap_or_else(|| "the API gave no reason".into());
                    self.transition(Event::TaskFailed { message }).await?;
                    self.units_stored();
                    return Ok(Outcome::Moved);
                }
                TaskStatus::Succeeded => {
                    self.free_slot();
                    match self.settled(&mut settling, &results) {
                        Settled::Wait(why) => {
                            self.progress(format!("SUCCEEDED, {why}"));
                            continue;
                        }
                        Settled::Empty => {
                            self.account_units(&results).await?;
                            self.job.expire_at = results.expire_at;
                            let wait = self.ctx.config().api.results_wait;
                            let reason = format!(
                                "task {task_id} succeeded with no clips (still none after {}); \
                                 its units are charged. `clipwatch retry {}` polls the same task \
                                 again without paying",
                                humantime::format_duration(wait),
                                self.job.id
                            );
                            return self.fail(reason).await;
                        }
                        Settled::NoMatch => self.note_no_match(),
                        Settled::Done => {}
                    }
                    self.account_units(&results).await?;
                    self.job.expire_at = results.expire_at;
                    self.results = Some(results);
                    self.transition(Event::TaskSucceeded).await?;
                    self.units_stored();
                    return Ok(Outcome::Moved);
                }
                _ => {}
            }
        }
    }

    /// When the poll after the one due at `previous` is due (offsets from
    /// the submit): by the predicted end until SUCCEEDED, then at the
    /// confirming polls' gaps.
    fn next_poll(
        &self,
        cadence: &mut Cadence,
        previous: Duration,
        settling: &Settling,
    ) -> Duration {
        let api = &self.ctx.config().api;
        cadence.set_limits(api.poll_floor, api.poll_interval);
        if settling.confirmations > 0 {
            return previous + cadence.confirm_gap(settling.confirmations);
        }
        let window = self
            .ctx
            .timings
            .predict(&self.job.preset, self.job.source.duration_s);
        cadence.next_due(previous, window)
    }

    /// The first SUCCEEDED: a sample for the next tasks' predictions. Both
    /// bounds are when the polls left, not when their answers came: a
    /// bound that included each round trip would creep later at every
    /// task, since the next task's last poll is planned at it.
    fn task_ended(&self, running_at: Option<Duration>, ended_by: Duration) {
        let duration = self.job.source.duration_s;
        let sample = super::cadence::sample(duration, running_at, ended_by);
        self.ctx.timings.record(&self.job.preset, sample);
    }

    /// The task ended: its slot goes to the next queued job now, not when
    /// this one's clips are downloaded. Under a daily unit cap it is kept
    /// until the task's units are stored ([`JobRun::units_stored`]): the
    /// next submit must count them.
    fn free_slot(&mut self) {
        if self.ctx.config().api.daily_unit_budget == 0 {
            self.units_stored();
        }
    }

    /// The task's end (and units) are stored: let its slot go.
    fn units_stored(&mut self) {
        if self.slot.take().is_some() {
            self.ctx.wake();
        }
    }

    /// Whether a SUCCEEDED reply is the whole result. The API has been seen
    /// to mark a task SUCCEEDED while its clip list was still empty or
    /// partial, and with export links still missing: the list must be
    /// non-empty and unchanged since the previous poll (one `poll_interval`
    /// earlier), and every clip to be downloaded must have its video link.
    /// Waits at most `results_wait` from the first SUCCEEDED; then a list is
    /// taken as it is, and no list at all is [`Settled::Empty`] (for Find
    /// Moments, [`Settled::NoMatch`] once confirmed: see `moments.rs`).
    fn settled(&self, settling: &mut Settling, results: &TaskResults) -> Settled {
        let now = tokio::time::Instant::now();
        let since = *settling.since.get_or_insert(now);
        settling.confirmations += 1;
        let unchanged = settling
            .previous
            .as_deref()
            .is_some_and(|previous| same_clips(previous, &results.clips));
        settling.previous = Some(results.clips.clone());
        let missing = if self.export_enabled() {
            self.missing_links(results, Wanted::Planned)
        } else {
            0
        };
        let waited_enough = now.duration_since(since) >= self.ctx.config().api.results_wait;
        if results.clips.is_empty() {
            settling.empty_polls += 1;
            if self.no_match_is_final(settling.empty_polls, waited_enough) {
                return Settled::NoMatch;
            }
            return if waited_enough {
                Settled::Empty
            } else {
                Settled::Wait("no clips listed yet".into())
            };
        }
        settling.empty_polls = 0;
        if waited_enough {
            if !unchanged || missing > 0 {
                tracing::warn!(
                    job = self.job.id,
                    clips = results.clips.len(),
                    missing_links = missing,
                    "the clip list did not settle within results_wait; taking it as it is"
                );
            }
            return Settled::Done;
        }
        if !unchanged {
            return Settled::Wait(format!(
                "{} clips listed, checking the list is complete",
                results.clips.len()
            ));
        }
        if missing > 0 {
            return Settled::Wait(format!("waiting for {missing} export links"));
        }
        Settled::Done
    }

    /// Note the units a task was charged; the next transition stores them
    /// with the job (see [`Context::transition_counting`](super::context::Context::transition_counting)).
    async fn account_units(&mut self, results: &TaskResults) -> Result<(), StoreError> {
        if !self.job.task_units_counted() {
            self.unsaved_units = results.api_units_usage;
        }
        Ok(())
    }
}

/// How urgent the next poll is for the budget: once SUCCEEDED was seen the
/// slot is free, and the polls that confirm the clip list yield their turn
/// to those that free slots; a poll that only narrows the predicted window
/// goes only if a token is spare.
fn poll_use(cadence: &Cadence, settling: &Settling) -> Use {
    if settling.confirmations > 0 {
        Use::Later
    } else if cadence.narrows() {
        Use::Spare
    } else {
        Use::Poll
    }
}

/// What the polls after SUCCEEDED have seen so far (see [`JobRun::settled`]).
#[derive(Default)]
struct Settling {
    /// When SUCCEEDED was first seen.
    since: Option<tokio::time::Instant>,
    /// The clips of the previous SUCCEEDED reply.
    previous: Option<Vec<Clip>>,
    /// SUCCEEDED replies so far.
    confirmations: u32,
    /// SUCCEEDED replies in a row that listed no clip.
    empty_polls: u32,
}

enum Settled {
    /// The list is whole: download it.
    Done,
    /// Poll again; the reason, for progress displays.
    Wait(String),
    /// `results_wait` is over and the task still lists no clip.
    Empty,
    /// A Find Moments task confirmed to list no clip: its query matched
    /// nothing, which is a result (see `moments.rs`).
    NoMatch,
}
