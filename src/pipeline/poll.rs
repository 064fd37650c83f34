//! The poll step: ask for the task's results every `poll_interval` (on a
//! fixed grid, backing off on errors) until it ends. A SUCCEEDED reply is
//! trusted only once its clip list has settled (see [`JobRun::settled`]).

use std::time::Duration;

use super::download::Wanted;
use super::step::{JobRun, Outcome, Stepped, RETRY_MAX, RETRY_START};
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
        let mut last_poll_due = tokio::time::Instant::now();
        loop {
            let interval = self.ctx.config().api.poll_interval;
            let extra = if errors_in_a_row > 1 {
                backoff(RETRY_START, RETRY_MAX, errors_in_a_row)
            } else {
                Duration::ZERO
            };
            last_poll_due = next_poll_due(last_poll_due, interval + extra);
            if let Err(stop) = self.pause_until(last_poll_due).await {
                return Ok(stop);
            }
            let results = match api.results_of(self.endpoint(), &task_id).await {
                Ok(results) => results,
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
            self.progress(format!(
                "{} ({} clips so far)",
                results.status.as_str(),
                results.clips.len()
            ));
            match results.status {
                TaskStatus::Failed => {
                    self.slot = None;
                    self.account_units(&results).await?;
                    let message = results
                        .error_message
                        .clone()
                        .unwrap_or_else(|| "the API gave no reason".into());
                    self.transition(Event::TaskFailed { message }).await?;
                    return Ok(Outcome::Moved);
                }
                TaskStatus::Succeeded => {
                    self.slot = None;
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
                    return Ok(Outcome::Moved);
                }
                _ => {}
            }
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

/// What the polls after SUCCEEDED have seen so far (see [`JobRun::settled`]).
#[derive(Default)]
struct Settling {
    /// When SUCCEEDED was first seen.
    since: Option<tokio::time::Instant>,
    /// The clips of the previous SUCCEEDED reply.
    previous: Option<Vec<Clip>>,
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

/// When the next poll is due: one interval after the previous one was due,
/// so polls stay on a fixed grid from the submit instead of drifting by
/// each request's round trip and budget wait; never in the past, so a poll
/// delayed past a whole interval is not followed by a burst.
fn next_poll_due(previous_due: tokio::time::Instant, interval: Duration) -> tokio::time::Instant {
    (previous_due + interval).max(tokio::time::Instant::now())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn polls_stay_on_the_grid_and_never_fall_behind_now() {
        let interval = Duration::from_millis(500);
        let start = tokio::time::Instant::now();
        let first = next_poll_due(start, interval);
        assert_eq!(first - start, interval);
        // The poll took 40 ms (round trip, budget wait): the next is still
        // due one interval after the first was due, not after it returned.
        tokio::time::advance(interval + Duration::from_millis(40)).await;
        assert_eq!(next_poll_due(first, interval) - start, interval * 2);
        // Held up for more than an interval: due now, not in the past.
        tokio::time::advance(interval * 3).await;
        assert_eq!(next_poll_due(first, interval), tokio::time::Instant::now());
    }
}
