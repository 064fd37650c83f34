//! A job: one source video on its way to a folder of clips. The state machine
//! is pure (no I/O, no clock): [`Job::apply`] takes an [`Event`] and the time,
//! checks the transition and records it in the job's history. The store
//! persists the result before the side effect the new state allows.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Where a job's state stands. `Failed` and `Skipped` carry their reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum State {
    Queued,
    Uploading,
    Submitting,
    Processing,
    Downloading,
    Done,
    Failed { reason: String, will_retry: bool },
    Skipped { reason: String },
}

impl State {
    pub fn name(&self) -> &'static str {
        match self {
            State::Queued => "queued",
            State::Uploading => "uploading",
            State::Submitting => "submitting",
            State::Processing => "processing",
            State::Downloading => "downloading",
            State::Done => "done",
            State::Failed { .. } => "failed",
            State::Skipped { .. } => "skipped",
        }
    }

    pub const NAMES: [&'static str; 8] = [
        "queued",
        "uploading",
        "submitting",
        "processing",
        "downloading",
        "done",
        "failed",
        "skipped",
    ];

    /// Done, failed or skipped: nothing more happens without a user's word.
    pub fn is_terminal(&self) -> bool {
        matches!(
            self,
            State::Done | State::Failed { .. } | State::Skipped { .. }
        )
    }
}

/// What happened to a job.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// A local file starts uploading.
    UploadStarted,
    /// The upload finished; the API knows the file by `video_url`.
    Uploaded { video_url: String },
    /// The submit request is about to leave.
    SubmitStarted,
    /// The API accepted the task.
    Submitted { task: Task },
    /// The submit did not go through but may later (transient error).
    SubmitDeferred {
        error: String,
        retry_at: DateTime<Utc>,
    },
    /// The API refused the submit for the whole account (no units left, a
    /// 429, a rejected key): back to the queue, not counted as the job's
    /// failed attempt.
    SubmitPaused {
        error: String,
        retry_at: DateTime<Utc>,
    },
    /// The task SUCCEEDED (with every export link, if export is on).
    TaskSucceeded,
    /// The task ended FAILED; the API's `error_message`.
    TaskFailed { message: String },
    /// Every file and `project.json` are in place.
    Downloaded,
    /// A failure that is not the task's.
    Failed { reason: String, will_retry: bool },
    /// Recorded but not clipped (backfill, filters, duplicates).
    Skipped { reason: String },
    /// `retry`: poll the task again if it did not fail itself, else resubmit.
    Retried,
    /// `submit --force`: start over with a new task.
    Forced,
    /// A feed wants what another feed skipped by its own rules.
    Wanted { feed: String },
    /// Start-up found the job mid-way through a step that must be redone.
    Recovered,
    /// A finished job was given a new extra task (`export --preset`): its
    /// task is polled again (the clips stay in place) and the task run.
    ExtraWanted { what: String },
}

/// The API task a job is attached to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Task {
    pub id: String,
    pub project_name: String,
    /// The options sent, frozen at submit time (a changed preset applies
    /// only to jobs not yet submitted).
    pub options: Map<String, Value>,
    /// When the submit request left (not when its answer came): the start
    /// of the task's processing time as the cadence measures it.
    pub submitted_at: DateTime<Utc>,
    /// The task ended FAILED: a retry must submit a new one.
    #[serde(default)]
    pub failed: bool,
}

/// Where the video came from and what is known about it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Source {
    /// The URL submitted to the API (or the local file's path for uploads).
    pub url: String,
    pub title: Option<String>,
    /// The feed's name; `None` for `submit` and the drop folder.
    pub feed: Option<String>,
    pub published: Option<DateTime<Utc>>,
    /// "submit", "feed" or "drop".
    pub origin: String,
    /// The feed entry's link as written, when it is not `url` (a page link
    /// with a `#fragment`): which entry of a page this job is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
    /// The video's length in seconds, when the feed or oEmbed says it:
    /// what the task's processing time is predicted from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_s: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Transition {
    pub at: DateTime<Utc>,
    pub from: String,
    pub to: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Job {
    pub id: u64,
    /// Canonical key (SPEC §4): the job's identity in the store.
    pub key: String,
    pub source: Source,
    pub preset: String,
    /// `--name`: overrides the title in names and the project name.
    pub name: Option<String>,
    #[serde(flatten)]
    pub state: State,
    pub task: Option<Task>,
    /// The URL the API is given: the source URL, or an upload's identity.
    pub video_url: Option<String>,
    /// How many submit requests left for this job (more than one means a
    /// crash or error may have made the API see it twice).
    pub submit_attempts: u32,
    /// Consecutive failed attempts at the current step.
    pub attempts: u32,
    pub retry_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    /// Output folder relative to `output.dir`, fixed once chosen.
    pub folder: Option<String>,
    /// Files written, relative to the folder.
    pub files: Vec<String>,
    pub units: Option<u64>,
    pub expire_at: Option<u64>,
    /// What a finished job wants said about its result (a Find Moments
    /// query that matched nothing); `None` when there is nothing to say.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub history: Vec<Transition>,
    /// Tasks run beside the clipping task (transcript, summary, exports).
    #[serde(default)]
    pub extras: super::extra::Extras,
}

#[derive(Debug, thiserror::Error, PartialEq)]
#[error("job {key}: cannot go from {from} on {event}")]
pub struct TransitionError {
    pub key: String,
    pub from: &'static str,
    pub event: String,
}

impl Job {
    pub fn new(id: u64, key: String, source: Source, preset: String, now: DateTime<Utc>) -> Job {
        Job {
            id,
            key,
            source,
            preset,
            name: None,
            state: State::Queued,
            task: None,
            video_url: None,
            submit_attempts: 0,
            attempts: 0,
            retry_at: None,
            last_error: None,
            folder: None,
            files: Vec::new(),
            units: None,
            expire_at: None,
            note: None,
            created_at: now,
            updated_at: now,
            history: Vec::new(),
            extras: Default::default(),
        }
    }

    /// The title used in names: `--name`, else the source's title, else the
    /// key with any credential in it hidden (it names folders and the
    /// project in the user's WayinVideo library).
    pub fn display_title(&self) -> String {
        self.name
            .clone()
            .or_else(|| self.source.title.clone())
            .filter(|t| !t.trim().is_empty())
            .unwrap_or_else(|| crate::secret::redact_urls_in(&self.key))
    }

    /// Apply `event` at `now`: check the transition, update the fields it
    /// carries and record it in the history.
    pub fn apply(&mut self, event: Event, now: DateTime<Utc>) -> Result<(), TransitionError> {
        let has_live_task = self.task.as_ref().is_some_and(|t| !t.failed);
        let next =
            next_state(&self.state, has_live_task, &event).ok_or_else(|| TransitionError {
                key: self.key.clone(),
                from: self.state.name(),
                event: format!("{event:?}"),
            })?;
        let note = self.absorb(&event, now);
        self.history.push(Transition {
            at: now,
            from: self.state.name().to_string(),
            to: next.name().to_string(),
            note,
        });
        self.state = next;
        self.updated_at = now;
        Ok(())
    }

    /// Update the fields an event carries; return the history note.
    fn absorb(&mut self, event: &Event, now: DateTime<Utc>) -> Option<String> {
        match event {
            // Like a submit, an upload keeps counting failed attempts until
            // it succeeds, so a file that keeps failing ends up failed.
            Event::UploadStarted => {
                self.retry_at = None;
                None
            }
            Event::TaskSucceeded | Event::Downloaded => {
                self.attempts = 0;
                self.retry_at = None;
                None
            }
            Event::Uploaded { video_url } => {
                self.video_url = Some(video_url.clone());
                self.attempts = 0;
                None
            }
            Event::SubmitStarted => {
                self.submit_attempts += 1;
                None
            }
            Event::Submitted { task } => {
                self.task = Some(task.clone());
                self.attempts = 0;
                self.retry_at = None;
                self.last_error = None;
                Some(format!("task {}", task.id))
            }
            Event::SubmitDeferred { error, retry_at } => {
                self.attempts += 1;
                self.retry_at = Some(*retry_at);
                self.last_error = Some(error.clone());
                Some(error.clone())
            }
            Event::SubmitPaused { error, retry_at } => {
                self.retry_at = Some(*retry_at);
                self.last_error = Some(error.clone());
                Some(format!("waiting: {error}"))
            }
            Event::TaskFailed { message } => {
                if let Some(task) = &mut self.task {
                    task.failed = true;
                }
                self.last_error = Some(message.clone());
                Some(format!("{TASK_FAILED_NOTE}{message}"))
            }
            Event::Failed { reason, .. } | Event::Skipped { reason } => {
                self.last_error = Some(reason.clone());
                Some(reason.clone())
            }
            Event::Retried => {
                if self.task.as_ref().is_some_and(|t| t.failed) {
                    self.reset_for_new_task();
                }
                self.extras.retry_failed();
                self.attempts = 0;
                self.retry_at = None;
                Some("retry".into())
            }
            Event::Forced => {
                self.extras = Default::default();
                self.reset_for_new_task();
                Some("forced".into())
            }
            Event::Wanted { feed } => {
                self.last_error = None;
                Some(format!("wanted by feed {feed}"))
            }
            Event::ExtraWanted { what } => {
                self.attempts = 0;
                self.retry_at = None;
                Some(format!("{what} wanted"))
            }
            Event::Recovered => {
                self.retry_at = Some(now);
                let step = self.state.name();
                Some(format!("interrupted while {step}; redoing that step"))
            }
        }
    }

    /// Whether the clipping task's units are in `units` already (which
    /// also holds the extra tasks' units). A task charged 0 reads as not
    /// counted; counting 0 again changes nothing.
    pub fn task_units_counted(&self) -> bool {
        self.units.unwrap_or(0) > self.extras.units().unwrap_or(0)
    }

    fn reset_for_new_task(&mut self) {
        self.task = None;
        self.attempts = 0;
        self.retry_at = None;
        self.last_error = None;
        self.folder = None;
        self.files.clear();
        // The extra tasks stay (`Forced` drops them too): their units stay
        // the job's.
        self.units = self.extras.units();
        self.extras.clips_written = false;
        self.expire_at = None;
        self.note = None;
        self.video_url = None;
    }
}

const TASK_FAILED_NOTE: &str = "task failed: ";

/// The transition table. `None` means the event is not allowed in `state`.
fn next_state(state: &State, has_live_task: bool, event: &Event) -> Option<State> {
    use State::*;
    let next = match (state, event) {
        (Queued, Event::UploadStarted) => Uploading,
        (Uploading, Event::Uploaded { .. }) => Queued,
        (Queued, Event::SubmitStarted) => Submitting,
        (Submitting, Event::Submitted { .. }) => Processing,
        (Submitting, Event::SubmitDeferred { .. }) => Queued,
        (Submitting, Event::SubmitPaused { .. }) => Queued,
        (Uploading, Event::SubmitDeferred { .. }) => Queued,
        (Processing, Event::TaskSucceeded) => Downloading,
        (Processing, Event::TaskFailed { message }) => Failed {
            reason: format!("{TASK_FAILED_NOTE}{message}"),
            will_retry: false,
        },
        (Downloading, Event::Downloaded) => Done,
        (
            Queued | Uploading | Submitting | Processing | Downloading,
            Event::Failed { reason, will_retry },
        ) => Failed {
            reason: reason.clone(),
            will_retry: *will_retry,
        },
        (Queued, Event::Skipped { reason }) => Skipped {
            reason: reason.clone(),
        },
        (Failed { .. }, Event::Retried) if has_live_task => Processing,
        (Failed { .. } | Skipped { .. }, Event::Retried) => Queued,
        (Done | Failed { .. } | Skipped { .. }, Event::Forced) => Queued,
        (Skipped { .. }, Event::Wanted { .. }) => Queued,
        (Uploading | Submitting, Event::Recovered) => Queued,
        (Done | Failed { .. }, Event::ExtraWanted { .. }) if has_live_task => Processing,
        _ => return None,
    };
    Some(next)
}

/// A job as it was just written to the store, published to every
/// subscriber of [`crate::store::Store::subscribe`] after the write is
/// durable: the one channel that notifications, metrics and the dashboard
/// listen on instead of being called from inside the pipeline's steps.
/// The job's last [`Transition`] says what moved (an insert or a save that
/// changed nothing else still publishes, so a subscriber compares).
#[derive(Debug, Clone)]
pub enum JobChange {
    /// Created or saved.
    Saved(std::sync::Arc<Job>),
    /// Removed by `forget`.
    Forgotten(std::sync::Arc<Job>),
}

impl JobChange {
    /// The job as written (or as it was before `forget`).
    pub fn job(&self) -> &Job {
        match self {
            JobChange::Saved(job) | JobChange::Forgotten(job) => job,
        }
    }

    /// The transition this write recorded, if the write was a saved job's
    /// newest transition (`None` for `forget`).
    pub fn transition(&self) -> Option<&Transition> {
        match self {
            JobChange::Saved(job) => job.history.last(),
            JobChange::Forgotten(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-27T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    fn job() -> Job {
        Job::new(
            1,
            "youtube:abcdefghijk".into(),
            Source::default(),
            "default".into(),
            now(),
        )
    }

    fn task() -> Task {
        Task {
            id: "proj_1".into(),
            project_name: "p".into(),
            options: Map::new(),
            submitted_at: now(),
            failed: false,
        }
    }

    fn job_in(state: State) -> Job {
        let mut job = job();
        job.state = state;
        job
    }

    fn failed(reason: &str) -> State {
        State::Failed {
            reason: reason.into(),
            will_retry: false,
        }
    }

    #[test]
    fn happy_path_records_every_step() {
        let mut job = job();
        job.apply(Event::SubmitStarted, now()).unwrap();
        assert_eq!(job.submit_attempts, 1);
        job.apply(Event::Submitted { task: task() }, now()).unwrap();
        assert_eq!(job.task.as_ref().unwrap().id, "proj_1");
        job.apply(Event::TaskSucceeded, now()).unwrap();
        job.apply(Event::Downloaded, now()).unwrap();
        assert_eq!(job.state, State::Done);
        let steps: Vec<_> = job
            .history
            .iter()
            .map(|t| (t.from.as_str(), t.to.as_str()))
            .collect();
        assert_eq!(
            steps,
            [
                ("queued", "submitting"),
                ("submitting", "processing"),
                ("processing", "downloading"),
                ("downloading", "done")
            ]
        );
    }

    #[test]
    fn upload_path() {
        let mut job = job();
        job.apply(Event::UploadStarted, now()).unwrap();
        assert_eq!(job.state, State::Uploading);
        job.apply(
            Event::Uploaded {
                video_url: "upload://x".into(),
            },
            now(),
        )
        .unwrap();
        assert_eq!(job.state, State::Queued);
        assert_eq!(job.video_url.as_deref(), Some("upload://x"));
        job.apply(Event::SubmitStarted, now()).unwrap();
        assert_eq!(job.state, State::Submitting);
    }

    #[test]
    fn failed_uploads_keep_counting_attempts() {
        let mut job = job();
        for n in 1..=2 {
            job.apply(Event::UploadStarted, now()).unwrap();
            job.apply(
                Event::SubmitDeferred {
                    error: "HTTP 502".into(),
                    retry_at: now(),
                },
                now(),
            )
            .unwrap();
            assert_eq!(job.attempts, n);
        }
    }

    #[test]
    fn deferred_submit_goes_back_to_queue_with_retry_time() {
        let mut job = job_in(State::Submitting);
        let later = now() + chrono::Duration::seconds(30);
        job.apply(
            Event::SubmitDeferred {
                error: "HTTP 502".into(),
                retry_at: later,
            },
            now(),
        )
        .unwrap();
        assert_eq!(job.state, State::Queued);
        assert_eq!(job.retry_at, Some(later));
        assert_eq!(job.attempts, 1);
        assert_eq!(job.last_error.as_deref(), Some("HTTP 502"));
    }

    #[test]
    fn a_paused_submit_goes_back_to_the_queue_without_counting_an_attempt() {
        let mut job = job_in(State::Submitting);
        job.apply(
            Event::SubmitPaused {
                error: "insufficient units".into(),
                retry_at: now(),
            },
            now(),
        )
        .unwrap();
        assert_eq!(job.state, State::Queued);
        assert_eq!(job.attempts, 0);
        assert_eq!(job.last_error.as_deref(), Some("insufficient units"));
        assert!(job_in(State::Queued)
            .apply(
                Event::SubmitPaused {
                    error: "x".into(),
                    retry_at: now()
                },
                now()
            )
            .is_err());
    }

    #[test]
    fn task_failure_carries_the_api_message_and_retry_resubmits() {
        let mut job = job_in(State::Processing);
        job.task = Some(task());
        job.apply(
            Event::TaskFailed {
                message: "video unavailable".into(),
            },
            now(),
        )
        .unwrap();
        assert_eq!(job.state, failed("task failed: video unavailable"));
        job.apply(Event::Retried, now()).unwrap();
        assert_eq!(job.state, State::Queued, "a failed task is submitted again");
        assert!(job.task.is_none());
    }

    #[test]
    fn retry_after_download_failure_polls_the_same_task() {
        let mut job = job_in(State::Downloading);
        job.task = Some(task());
        job.apply(
            Event::Failed {
                reason: "disk full".into(),
                will_retry: false,
            },
            now(),
        )
        .unwrap();
        job.apply(Event::Retried, now()).unwrap();
        assert_eq!(job.state, State::Processing, "no second payment");
        assert!(job.task.is_some());
    }

    #[test]
    fn skip_only_from_queue_and_retry_requeues() {
        let mut job = job();
        job.apply(
            Event::Skipped {
                reason: "backfill".into(),
            },
            now(),
        )
        .unwrap();
        assert_eq!(
            job.state,
            State::Skipped {
                reason: "backfill".into()
            }
        );
        job.apply(Event::Retried, now()).unwrap();
        assert_eq!(job.state, State::Queued);
        assert!(job_in(State::Processing)
            .apply(Event::Skipped { reason: "x".into() }, now())
            .is_err());
    }

    #[test]
    fn force_starts_over_from_any_end() {
        for end in [
            State::Done,
            failed("x"),
            State::Skipped { reason: "y".into() },
        ] {
            let mut job = job_in(end);
            job.task = Some(task());
            job.folder = Some("f".into());
            job.apply(Event::Forced, now()).unwrap();
            assert_eq!(job.state, State::Queued);
            assert!(job.task.is_none() && job.folder.is_none());
        }
        assert!(job_in(State::Processing)
            .apply(Event::Forced, now())
            .is_err());
    }

    #[test]
    fn recovery_redoes_interrupted_steps_only() {
        for mid in [State::Uploading, State::Submitting] {
            let mut job = job_in(mid);
            job.apply(Event::Recovered, now()).unwrap();
            assert_eq!(job.state, State::Queued);
        }
        for kept in [
            State::Queued,
            State::Processing,
            State::Downloading,
            State::Done,
        ] {
            assert!(job_in(kept).apply(Event::Recovered, now()).is_err());
        }
    }

    #[test]
    fn any_active_state_can_fail_and_terminal_states_cannot() {
        for active in [
            State::Queued,
            State::Uploading,
            State::Submitting,
            State::Processing,
            State::Downloading,
        ] {
            let mut job = job_in(active);
            job.apply(
                Event::Failed {
                    reason: "r".into(),
                    will_retry: true,
                },
                now(),
            )
            .unwrap();
            assert_eq!(
                job.state,
                State::Failed {
                    reason: "r".into(),
                    will_retry: true
                }
            );
        }
        for end in [
            State::Done,
            failed("x"),
            State::Skipped { reason: "y".into() },
        ] {
            assert!(job_in(end)
                .apply(
                    Event::Failed {
                        reason: "r".into(),
                        will_retry: false
                    },
                    now()
                )
                .is_err());
        }
    }

    #[test]
    fn out_of_order_events_are_rejected() {
        let cases = [
            (State::Queued, Event::TaskSucceeded),
            (State::Queued, Event::Downloaded),
            (State::Queued, Event::Submitted { task: task() }),
            (State::Processing, Event::SubmitStarted),
            (State::Processing, Event::Downloaded),
            (State::Downloading, Event::TaskSucceeded),
            (State::Done, Event::SubmitStarted),
            (State::Done, Event::Retried),
            (
                State::Queued,
                Event::Uploaded {
                    video_url: "u".into(),
                },
            ),
        ];
        for (state, event) in cases {
            let mut job = job_in(state.clone());
            let err = job.apply(event.clone(), now()).unwrap_err();
            assert_eq!(err.from, state.name());
            assert_eq!(job.state, state, "state unchanged after {event:?}");
            assert!(job.history.is_empty());
        }
    }

    #[test]
    fn state_serializes_flat_with_reason() {
        let mut job = job_in(failed("boom"));
        job.task = Some(task());
        let json = serde_json::to_value(&job).unwrap();
        assert_eq!(json["state"], "failed");
        assert_eq!(json["reason"], "boom");
        let back: Job = serde_json::from_value(json).unwrap();
        assert_eq!(back, job);
    }
}
