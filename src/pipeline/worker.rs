//! One worker per job in flight: upload (local files), submit, poll until
//! the task ends, download.
//! Each step persists its transition before doing what the new state allows,
//! so a crash at any instant resumes from the store (SPEC §5).

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::Utc;
use tokio_util::sync::CancellationToken;

use super::pause::Refusal;
use super::scheduler::Pipeline;
use crate::api::client::BeforeSend;
use crate::api::limiter::Slot;
use crate::api::types::{same_clips, Clip, TaskResults, TaskStatus};
use crate::api::upload::{video_content_type, MAX_UPLOAD_BYTES};
use crate::api::{ApiClient, ApiError};
use crate::config::{AmbiguousSubmit, Config, MAX_THUMBNAIL_BYTES};
use crate::model::identity;
use crate::model::{Event, Job, State, Task};
use crate::output::download::{write_atomic, DownloadError};
use crate::output::naming::{Template, Vars};
use crate::output::sidecar::{
    self, ClipFiles, ClipSidecar, Project, ProjectClip, ProjectTask, SourceFile, SourceInfo,
    TaskInfo,
};
use crate::output::space;
use crate::sources::folder::files::sha256_file;
use crate::store::StoreError;
use crate::util::human_size;
use crate::util::retry::backoff;

/// Submit attempts (transient failures) before a job is failed.
const MAX_SUBMIT_ATTEMPTS: u32 = 6;
/// Results calls for fresh links while a needed video link is missing.
const MAX_LINK_POLLS: u32 = 20;
/// Fresh links fetched for one file before giving up on it. The first is
/// fetched at once (an expired link); later ones wait with a backoff, so a
/// CDN that errs for a moment cannot spend them all within milliseconds.
const MAX_LINK_REFRESHES: u32 = 4;
/// Attempts at one file on transient errors (truncation, 5xx, resets).
const MAX_FILE_ATTEMPTS: u32 = 6;
const RETRY_START: Duration = Duration::from_secs(1);
const RETRY_MAX: Duration = Duration::from_secs(300);
/// Tries at storing a task id the API sent, when the store fails.
const MAX_RECORD_ATTEMPTS: u32 = 5;
/// New upload URLs asked for in one attempt when the bucket refuses one.
const MAX_UPLOAD_TICKETS: u32 = 3;
/// Longest project name sent to the API.
const MAX_PROJECT_NAME_CHARS: usize = 100;

/// Why a worker stopped early.
enum Stop {
    /// Shutdown: leave the job where it is; it resumes at the next start.
    Cancelled,
    /// Deferred to later (the scheduler picks it up again).
    Deferred,
    /// The output volume is full or refuses writes (a cause that can
    /// clear): the download waits for it and tries again.
    OutputBlocked(String),
    /// The job cannot go on: fail it with this reason.
    Failed(String),
}

type StepResult = Result<Result<(), Stop>, StoreError>;

pub struct Worker {
    pipeline: Pipeline,
    job: Job,
    /// Held from submit until the task ends.
    slot: Option<Slot>,
    /// Results from the last poll, reused by the download step.
    results: Option<TaskResults>,
    /// A clip's missing video link was already waited for (once per job:
    /// a link that never comes must not cost a wait per clip).
    waited_for_link: bool,
    /// API units the task was charged, not yet stored: written with the
    /// next transition, in the same transaction as the job.
    unsaved_units: Option<u64>,
}

impl Worker {
    pub fn new(pipeline: Pipeline, job: Job, slot: Option<Slot>) -> Worker {
        Worker {
            pipeline,
            job,
            slot,
            results: None,
            waited_for_link: false,
            unsaved_units: None,
        }
    }

    /// Drive the job until it ends, is deferred, or shutdown. Returns its key.
    pub async fn run(mut self) -> String {
        let key = self.job.key.clone();
        if let Err(err) = self.drive().await {
            tracing::error!(job = self.job.id, key = %key, "database error, job left as is: {err}");
        }
        self.pipeline.progress.clear(&key);
        key
    }

    async fn drive(&mut self) -> Result<(), StoreError> {
        loop {
            let steps_before = self.job.history.len();
            let step = match self.job.state {
                State::Queued if self.needs_upload() => self.upload().await?,
                State::Queued => self.submit().await?,
                State::Processing => self.poll().await?,
                State::Downloading => self.download().await?,
                _ => return Ok(()),
            };
            // A step that neither stopped nor moved the job (a refused
            // transition, already logged) must not spin.
            if step.is_err() || self.job.history.len() == steps_before {
                return Ok(());
            }
        }
    }

    async fn transition(&mut self, event: Event) -> Result<(), StoreError> {
        let units = self.unsaved_units.take();
        self.pipeline
            .transition_counting(&mut self.job, event, units)
            .await
    }

    fn progress(&self, text: impl Into<String>) {
        self.pipeline.progress.set(&self.job.key, text);
    }

    async fn fail(&mut self, reason: String) -> StepResult {
        self.slot = None;
        self.transition(Event::Failed {
            reason,
            will_retry: false,
        })
        .await?;
        Ok(Err(Stop::Deferred))
    }

    /// Sleep, unless shutdown comes first.
    async fn pause_until(&self, deadline: tokio::time::Instant) -> Result<(), Stop> {
        tokio::select! {
            () = self.pipeline.cancel.cancelled() => Err(Stop::Cancelled),
            () = tokio::time::sleep_until(deadline) => Ok(()),
        }
    }

    async fn pause(&self, wait: Duration) -> Result<(), Stop> {
        tokio::select! {
            () = self.pipeline.cancel.cancelled() => Err(Stop::Cancelled),
            () = tokio::time::sleep(wait) => Ok(()),
        }
    }

    // ---- submit --------------------------------------------------------

    async fn submit(&mut self) -> StepResult {
        let config = self.pipeline.config();
        let Some(api) = self.pipeline.api.clone() else {
            return Ok(Err(Stop::Deferred));
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
        let options = preset.options.clone();
        self.progress("submitting");
        let gate = self.pipeline.submit_gate.clone();
        let _one_at_a_time = tokio::select! {
            guard = gate.lock() => guard,
            () = self.pipeline.cancel.cancelled() => return Ok(Err(Stop::Cancelled)),
        };
        // Right before the request first leaves (the budget granted it), and
        // only if the state volume has room to record the answer: the job is
        // stored as `submitting`. A crash from then on is seen at the next
        // start as a submit that may have been processed.
        let mut store_error = None;
        let mut no_room = None;
        let sent = {
            let pipeline = self.pipeline.clone();
            let job = &mut self.job;
            let (store_error, no_room) = (&mut store_error, &mut no_room);
            let before_send: BeforeSend<'_> = Box::new(move || {
                Box::pin(async move {
                    if let Err(reason) = pipeline.state_has_room() {
                        *no_room = Some(reason);
                        return false;
                    }
                    match pipeline.transition(job, Event::SubmitStarted).await {
                        Ok(()) => job.state == State::Submitting,
                        Err(err) => {
                            *store_error = Some(err);
                            false
                        }
                    }
                })
            });
            api.submit(&video_url, &project_name, &options, before_send)
                .await
        };
        if let Some(err) = store_error {
            return Err(err);
        }
        match sent {
            Ok(reply) => {
                self.pipeline.submit_pause.submitted();
                let task = Task {
                    id: reply.id,
                    project_name: reply.name.unwrap_or(project_name),
                    options,
                    submitted_at: Utc::now(),
                    failed: false,
                };
                self.record_task(task).await
            }
            Err(ApiError::NotSent) => {
                if let Some(reason) = no_room {
                    tracing::warn!(job = self.job.id, key = %self.job.key, "not submitting: {reason}");
                }
                Ok(Err(Stop::Deferred))
            }
            Err(ApiError::Cancelled) => Ok(Err(Stop::Cancelled)),
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
                self.pipeline.wake();
                Ok(Err(Stop::Deferred))
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
    async fn record_task(&mut self, task: Task) -> StepResult {
        let task_id = task.id.clone();
        let event = Event::Submitted { task };
        let mut attempt = 0;
        loop {
            let mut job = self.job.clone();
            match self.pipeline.transition(&mut job, event.clone()).await {
                Ok(()) => {
                    self.job = job;
                    return Ok(Ok(()));
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
    async fn ambiguous(&mut self, err: String) -> StepResult {
        match self.pipeline.config().api.on_ambiguous_submit {
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
    async fn rejected(&mut self, err: ApiError) -> StepResult {
        let every = self.pipeline.probe_interval();
        match self
            .pipeline
            .submit_pause
            .refused(&self.job.key, &err, every)
        {
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
                self.pipeline.wake();
                Ok(Err(Stop::Deferred))
            }
        }
    }

    /// A transient failure of `step` (submit or upload): back to the queue
    /// with a backoff, or failed once the attempts are spent.
    async fn defer(&mut self, step: &str, err: String) -> StepResult {
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
        self.pipeline.wake();
        Ok(Err(Stop::Deferred))
    }

    // ---- upload --------------------------------------------------------

    /// A local file (`file:` key) not uploaded yet.
    fn needs_upload(&self) -> bool {
        self.job.key.starts_with("file:") && self.job.video_url.is_none()
    }

    /// Upload the file named by the job's source (its place under the drop
    /// folder's `.done/`), then record the API's identity for it. A refused
    /// presigned URL (expired, 403) is replaced with a new one; a new URL is
    /// also asked for on every later attempt, so none outlives its hour.
    async fn upload(&mut self) -> StepResult {
        let Some(api) = self.pipeline.api.clone() else {
            return Ok(Err(Stop::Deferred));
        };
        let path = PathBuf::from(&self.job.source.url);
        self.progress("uploading");
        // Durable before the first request: a crash mid-upload is redone.
        self.transition(Event::UploadStarted).await?;
        let mut tickets = 0;
        loop {
            match self.upload_once(&api, &path).await {
                Ok(identity) => {
                    self.transition(Event::Uploaded {
                        video_url: identity,
                    })
                    .await?;
                    return Ok(Ok(()));
                }
                Err(Upload::Cancelled) => return Ok(Err(Stop::Cancelled)),
                Err(Upload::Refused(err)) if tickets < MAX_UPLOAD_TICKETS => {
                    tickets += 1;
                    tracing::info!(job = self.job.id, key = %self.job.key, "{err}; asking for a new upload URL");
                }
                Err(Upload::Fatal(reason)) => return self.fail(reason).await,
                Err(Upload::Retry(err) | Upload::Refused(err)) => {
                    return self.defer("upload", err).await
                }
            }
        }
    }

    /// One ticket and one PUT. Returns the identity to submit. The file is
    /// opened and checked just before the PUT ([`open_taken`]), which streams from
    /// that very handle, so a `.done/` entry swapped after it was taken (for
    /// a symlink to a secret, or another file) never reaches the bucket.
    async fn upload_once(&self, api: &ApiClient, path: &Path) -> Result<String, Upload> {
        let shown = path.display();
        let Some(content_type) = video_content_type(path) else {
            return Err(Upload::Fatal(format!(
                "{shown}: the Upload API takes .mp4, .mov, .webm and .avi files"
            )));
        };
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "video.mp4".into());
        let ticket = match api.upload_ticket(&name).await {
            Ok(ticket) => ticket,
            Err(ApiError::Cancelled) => return Err(Upload::Cancelled),
            Err(err @ ApiError::Invalid { .. }) => return Err(Upload::Fatal(err.to_string())),
            Err(err) => return Err(Upload::Retry(err.to_string())),
        };
        // Opened and checked after the ticket, which may wait out a pause
        // for hours: as close to the send as can be.
        let (file, size) = open_taken(path, &self.job.key, &self.pipeline.cancel).await?;
        self.progress(format!("uploading {}", human_size(size)));
        let sent = tokio::select! {
            () = self.pipeline.cancel.cancelled() => return Err(Upload::Cancelled),
            sent = api.upload_file(&ticket, file, size, content_type) => sent,
        };
        match sent {
            Ok(()) => {
                tracing::info!(job = self.job.id, key = %self.job.key, size, "uploaded {name}");
                Ok(ticket.identity)
            }
            Err(err @ ApiError::UploadRefused { .. }) => Err(Upload::Refused(err.to_string())),
            Err(ApiError::Cancelled) => Err(Upload::Cancelled),
            Err(err) => Err(Upload::Retry(err.to_string())),
        }
    }

    /// The URL the API gets: an upload's identity, else the source URL.
    fn video_url(&self) -> Option<String> {
        if let Some(url) = &self.job.video_url {
            return Some(url.clone());
        }
        (!self.job.key.starts_with("file:")).then(|| self.job.source.url.clone())
    }

    // ---- poll ----------------------------------------------------------

    async fn poll(&mut self) -> StepResult {
        let Some(api) = self.pipeline.api.clone() else {
            return Ok(Err(Stop::Deferred));
        };
        let Some(task_id) = self.job.task.as_ref().map(|t| t.id.clone()) else {
            return self.fail("processing without a task id".into()).await;
        };
        let mut settling = Settling::default();
        let mut errors_in_a_row = 0;
        let mut last_poll_due = tokio::time::Instant::now();
        loop {
            let interval = self.pipeline.config().api.poll_interval;
            let extra = if errors_in_a_row > 1 {
                backoff(RETRY_START, RETRY_MAX, errors_in_a_row)
            } else {
                Duration::ZERO
            };
            last_poll_due = next_poll_due(last_poll_due, interval + extra);
            if let Err(stop) = self.pause_until(last_poll_due).await {
                return Ok(Err(stop));
            }
            let results = match api.results(&task_id).await {
                Ok(results) => results,
                Err(ApiError::Cancelled) => return Ok(Err(Stop::Cancelled)),
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
                    return Ok(Ok(()));
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
                            let wait = self.pipeline.config().api.results_wait;
                            let reason = format!(
                                "task {task_id} succeeded with no clips (still none after {}); \
                                 its units are charged. `clipwatch retry {}` polls the same task \
                                 again without paying",
                                humantime::format_duration(wait),
                                self.job.id
                            );
                            return self.fail(reason).await;
                        }
                        Settled::Done => {}
                    }
                    self.account_units(&results).await?;
                    self.job.expire_at = results.expire_at;
                    self.results = Some(results);
                    self.transition(Event::TaskSucceeded).await?;
                    return Ok(Ok(()));
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
    /// taken as it is, and no list at all is [`Settled::Empty`].
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
        let waited_enough = now.duration_since(since) >= self.pipeline.config().api.results_wait;
        if results.clips.is_empty() {
            return if waited_enough {
                Settled::Empty
            } else {
                Settled::Wait("no clips listed yet".into())
            };
        }
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
    /// with the job (see [`Pipeline::transition_counting`]).
    async fn account_units(&mut self, results: &TaskResults) -> Result<(), StoreError> {
        if self.job.units.is_none() {
            self.unsaved_units = results.api_units_usage;
        }
        Ok(())
    }

    fn export_enabled(&self) -> bool {
        self.job
            .task
            .as_ref()
            .and_then(|t| t.options.get("enable_export"))
            .and_then(|v| v.as_bool())
            .unwrap_or(false)
    }

    // ---- download ------------------------------------------------------

    /// [`Worker::download_once`], waiting out an output volume that is full
    /// or refuses writes: the job stays `downloading` (paid for, its task
    /// still there) and is tried again with a backoff once the volume
    /// passes the output check again.
    async fn download(&mut self) -> StepResult {
        let mut waits = 0;
        loop {
            let reason = match self.download_once().await? {
                Err(Stop::OutputBlocked(reason)) => reason,
                other => return Ok(other),
            };
            if !self.pipeline.wait_for_output {
                tracing::error!(job = self.job.id, key = %self.job.key, "cannot write the clips; the job stays downloading and the next run resumes it: {reason}");
                self.pipeline.output.block(reason);
                return Ok(Err(Stop::Deferred));
            }
            waits += 1;
            if waits == 1 {
                tracing::error!(job = self.job.id, key = %self.job.key, "cannot write the clips, will retry once the output volume is usable: {reason}");
            }
            self.progress(format!("waiting for the output volume: {reason}"));
            let output = self.pipeline.config().output.clone();
            let probe_dir = self
                .job
                .folder
                .as_ref()
                .map_or(output.dir.clone(), |f| output.dir.join(f));
            loop {
                let wait = backoff(RETRY_START, RETRY_MAX, waits);
                if let Err(stop) = self.pause(wait).await {
                    return Ok(Err(stop));
                }
                let dir = probe_dir.clone();
                let min_free = output.min_free_space;
                let probed = tokio::task::spawn_blocking(move || space::probe(&dir, min_free))
                    .await
                    .unwrap_or_else(|e| Err(space::OutputProblem(e.to_string())));
                match probed {
                    Ok(()) => break,
                    Err(problem) => {
                        waits += 1;
                        tracing::warn!(job = self.job.id, key = %self.job.key, "output still not usable, will check again: {problem}");
                    }
                }
            }
            tracing::warn!(job = self.job.id, key = %self.job.key, "the output volume is usable again: retrying the download");
        }
    }

    async fn download_once(&mut self) -> StepResult {
        let config = self.pipeline.config();
        let results = match self.results.take() {
            Some(results) => results,
            None => match self.fresh_results(Wanted::Planned).await {
                Ok(results) => results,
                Err(stop) => return self.stopped(stop).await,
            },
        };
        if let Some(reason) = expired(results.expire_at) {
            return self.fail(reason).await;
        }
        let folder = match self.ensure_folder(&config).await {
            Ok(folder) => folder,
            Err(FolderError::Output(reason)) => return Ok(Err(Stop::OutputBlocked(reason))),
            Err(FolderError::Failed(reason)) => return self.fail(reason).await,
        };
        match self.write_folder(&config, &folder, results).await {
            Ok(Ok(files)) => {
                self.job.files = files;
                self.transition(Event::Downloaded).await?;
                tracing::info!(job = self.job.id, key = %self.job.key, folder = %folder.display(), "clips ready");
                Ok(Ok(()))
            }
            Ok(Err(stop)) => self.stopped(stop).await,
            Err(FolderError::Output(reason)) => Ok(Err(Stop::OutputBlocked(reason))),
            Err(FolderError::Failed(reason)) => self.fail(reason).await,
        }
    }

    /// A step stopped early: fail the job if that is why.
    async fn stopped(&mut self, stop: Stop) -> StepResult {
        match stop {
            Stop::Failed(reason) => self.fail(reason).await,
            other => Ok(Err(other)),
        }
    }

    /// Ask for results until they come (fresh export links each time). With
    /// export on, results that lack export links are polled again (bounded,
    /// as after SUCCEEDED): taken as they are, a clip would be written
    /// without its video.
    async fn fresh_results(&mut self, wanted: Wanted) -> Result<TaskResults, Stop> {
        let api = self.pipeline.api.clone().ok_or(Stop::Deferred)?;
        let task_id = self
            .job
            .task
            .as_ref()
            .map(|t| t.id.clone())
            .ok_or(Stop::Deferred)?;
        let export = self.export_enabled();
        let mut attempt = 0;
        let mut link_polls = 0;
        loop {
            // Past `expire_at` the API no longer serves the task: say so
            // rather than ask for ever.
            if let Some(reason) = expired(self.job.expire_at) {
                return Err(Stop::Failed(reason));
            }
            match api.results(&task_id).await {
                Ok(results) if export && self.lacks_links(&results, wanted) => {
                    self.job.expire_at = results.expire_at.or(self.job.expire_at);
                    if link_polls >= MAX_LINK_POLLS {
                        return Ok(results);
                    }
                    link_polls += 1;
                    self.pause(self.pipeline.config().api.poll_interval).await?;
                }
                Ok(results) => {
                    self.job.expire_at = results.expire_at.or(self.job.expire_at);
                    return Ok(results);
                }
                Err(ApiError::Cancelled) => return Err(Stop::Cancelled),
                // 404 and the like: the task is gone (expired or deleted);
                // asking again cannot bring it back.
                Err(err @ ApiError::Invalid { .. }) => {
                    return Err(Stop::Failed(format!(
                        "task {task_id}: {err}; its results can no longer be fetched, so the \
                         clips cannot be downloaded (`clipwatch submit --force` clips the \
                         video again, as a new paid task)"
                    )));
                }
                Err(err) => {
                    attempt += 1;
                    tracing::warn!(job = self.job.id, task = %task_id, "could not fetch results: {err}");
                    self.pause(backoff(RETRY_START, RETRY_MAX, attempt)).await?;
                }
            }
        }
    }

    /// Whether `results` still lack a video link that `wanted` needs. Clips
    /// left out by `min_score`/`max_clips`, and thumbnails, never hold up a
    /// download.
    fn lacks_links(&self, results: &TaskResults, wanted: Wanted) -> bool {
        self.missing_links(results, wanted) > 0
    }

    /// How many video links `wanted` needs that `results` lack.
    fn missing_links(&self, results: &TaskResults, wanted: Wanted) -> usize {
        match wanted {
            Wanted::Planned => {
                let output = &self.pipeline.config().output;
                plan_clips(&results.clips, output.min_score, output.max_clips)
                    .iter()
                    .filter(|(clip, left_out)| {
                        left_out.is_none() && Asset::Video.link(clip).is_none()
                    })
                    .count()
            }
            Wanted::One(idx, Asset::Video) => results
                .clips
                .iter()
                .filter(|clip| clip.idx == idx && Asset::Video.link(clip).is_none())
                .count(),
            Wanted::One(_, Asset::Thumbnail) => 0,
        }
    }

    /// The job's folder, claimed once and then stored. The claim is a
    /// `create_dir` of a name no one has: two jobs whose names render alike
    /// (a `folder` template without `{id}`) can never share one, even when
    /// they finish at the same instant.
    async fn ensure_folder(&mut self, config: &Config) -> Result<PathBuf, FolderError> {
        let root = &config.output.dir;
        if let Some(folder) = self.job.folder.clone() {
            let path = root.join(&folder);
            match folder_owner(&path).await {
                Some(key) if key != self.job.key => {
                    // Its folder was removed, and another job has since
                    // claimed that name and finished there: its files are
                    // not this job's.
                    tracing::warn!(
                        job = self.job.id,
                        key = %self.job.key,
                        "{} now holds the clips of {key}; choosing a new folder",
                        path.display()
                    );
                }
                _ if tokio::fs::metadata(&path).await.is_ok_and(|m| m.is_dir()) => {
                    return Ok(path);
                }
                // Gone (removed by someone): claimed again like a new one,
                // so a job after the same name at this instant cannot share it.
                _ => match claim_exactly(root, Path::new(&folder)).await {
                    Ok(true) => return Ok(path),
                    Ok(false) => tracing::warn!(
                        job = self.job.id,
                        key = %self.job.key,
                        "{} was taken by another job; choosing a new folder",
                        path.display()
                    ),
                    Err(err) => return Err(err),
                },
            }
        }
        let template = &config.output.folder;
        let published = self.job.source.published.unwrap_or(self.job.created_at);
        let vars = Vars {
            feed: self
                .job
                .source
                .feed
                .clone()
                .unwrap_or_else(|| "inbox".into()),
            date: published.format("%Y-%m-%d").to_string(),
            title: self.job.display_title(),
            id: identity::short_id(&self.job.key),
            preset: self.job.preset.clone(),
            ..Vars::default()
        };
        let relative = claim_folder(root, &template.render(&vars)).await?;
        self.job.folder = Some(relative.to_string_lossy().into_owned());
        self.pipeline
            .store
            .save(&self.job)
            .await
            .map_err(|e| FolderError::Failed(e.to_string()))?;
        Ok(root.join(&relative))
    }

    /// Every selected clip's files and sidecar, then `project.json`.
    async fn write_folder(
        &mut self,
        config: &Config,
        folder: &Path,
        mut results: TaskResults,
    ) -> Result<Result<Vec<String>, Stop>, FolderError> {
        let template = &config.output.clip;
        let export = self.export_enabled();
        let plan = plan_clips(
            &results.clips,
            config.output.min_score,
            config.output.max_clips,
        );
        let source = self.source_info();
        let task = self.task_info();
        let mut names = HashSet::new();
        let mut files_written = Vec::new();
        let mut project_clips = Vec::new();
        let total = plan.iter().filter(|(_, skip)| skip.is_none()).count();
        let mut done = 0;
        for (clip, skip) in plan {
            if let Some(reason) = skip {
                project_clips.push(ProjectClip::new(&clip, ClipFiles::default(), Some(reason)));
                continue;
            }
            done += 1;
            self.progress(format!("downloading clip {done}/{total}"));
            let base = unique_name(&mut names, &self.clip_base(template, &clip));
            let mut files = ClipFiles::default();
            let mut warnings = Vec::new();
            let mut not_downloaded = None;
            if export {
                match self
                    .fetch_clip_file(
                        &mut results,
                        &clip,
                        Asset::Video,
                        folder,
                        &format!("{base}.mp4"),
                    )
                    .await
                {
                    Ok(Ok(Some(name))) => files.video = Some(name),
                    Ok(Ok(None)) => {
                        not_downloaded = Some("the API gave no export link".to_string())
                    }
                    Ok(Err(stop)) => return Ok(Err(stop)),
                    Err(err) => return Err(FolderError::clip(clip.idx, err)),
                }
                if config.output.thumbnails {
                    match self
                        .fetch_clip_file(
                            &mut results,
                            &clip,
                            Asset::Thumbnail,
                            folder,
                            &format!("{base}.jpg"),
                        )
                        .await
                    {
                        Ok(Ok(name)) => files.thumbnail = name,
                        Ok(Err(stop)) => return Ok(Err(stop)),
                        Err(err) if err.output_can_clear() => return Err(err.into()),
                        Err(err) => warnings.push(format!("thumbnail not downloaded: {err}")),
                    }
                }
            }
            // The latest reply's fields, under the rank the plan gave it.
            let mut current = find_clip(&results, &clip).unwrap_or(&clip).clone();
            current.idx = clip.idx;
            current.rank_note = clip.rank_note.clone();
            let (link, source_file) = self.source_link(&current);
            let sidecar_name = format!("{base}.json");
            let mut sidecar =
                ClipSidecar::new(&current, files.clone(), source.clone(), task.clone(), link);
            sidecar.source_file = source_file;
            write_json(&folder.join(&sidecar_name), &sidecar).await?;
            files_written.extend(files.video.clone());
            files_written.extend(files.thumbnail.clone());
            files_written.push(sidecar_name.clone());
            let mut entry = ProjectClip::new(
                &current,
                ClipFiles {
                    sidecar: Some(sidecar_name),
                    ..files
                },
                not_downloaded,
            );
            entry.warnings = warnings;
            project_clips.push(entry);
        }
        let project = Project::new(
            &self.job,
            source,
            ProjectTask {
                task,
                status: results.status.as_str().to_string(),
                api_units_usage: results.api_units_usage.or(self.job.units),
                expire_at: results.expire_at,
                expires: results
                    .expire_at
                    .and_then(|ms| chrono::DateTime::from_timestamp_millis(ms as i64))
                    .map(sidecar::rfc3339),
                submitted_at: self
                    .job
                    .task
                    .as_ref()
                    .map(|t| sidecar::rfc3339(t.submitted_at)),
            },
            project_clips,
            Utc::now(),
        );
        // Last: its presence means the folder is complete.
        write_json(&folder.join("project.json"), &project).await?;
        files_written.push("project.json".into());
        Ok(Ok(files_written))
    }

    /// Where in the source a clip starts: a link for URLs (`?t=` / `#t=`);
    /// for a local file, which has no link worth giving (its path is the
    /// server's), the original file name and the times.
    fn source_link(&self, clip: &Clip) -> (Option<String>, Option<SourceFile>) {
        let begin_ms = clip.begin_ms;
        if !self.job.key.starts_with("file:") {
            let link = begin_ms
                .map(|ms| identity::source_link(&self.job.key, &self.job.source.url, ms))
                .filter(|link| !link.is_empty())
                .map(|link| crate::secret::redact_url(&link));
            return (link, None);
        }
        let name = Path::new(&self.job.source.url)
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let file = SourceFile {
            name,
            begin: clip.begin_ms.map(sidecar::timestamp),
            end: clip.end_ms.map(sidecar::timestamp),
        };
        (None, Some(file))
    }

    fn clip_base(&self, template: &Template, clip: &Clip) -> String {
        let vars = Vars {
            title: clip
                .title
                .clone()
                .filter(|t| !t.trim().is_empty())
                .unwrap_or_else(|| format!("clip {}", clip.idx + 1)),
            id: identity::short_id(&self.job.key),
            rank: Some(clip.idx as u32 + 1),
            idx: Some(clip.idx as u32),
            score: clip
                .score
                .map(|s| s.round().clamp(0.0, u32::MAX as f64) as u32),
            ..Vars::default()
        };
        template.render(&vars).to_string_lossy().into_owned()
    }

    /// Download one clip's video or thumbnail to `folder/name`, fetching
    /// fresh links when a link is refused. `Ok(Ok(None))`: there is no link.
    async fn fetch_clip_file(
        &mut self,
        results: &mut TaskResults,
        clip: &Clip,
        asset: Asset,
        folder: &Path,
        name: &str,
    ) -> Result<Result<Option<String>, Stop>, DownloadError> {
        let idx = clip.idx;
        let dest = folder.join(name);
        let mut refreshes = 0;
        let mut attempts = 0;
        loop {
            let Some(url) = find_clip(results, clip).and_then(|c| asset.link(c)) else {
                // Results fetched for another clip may lack this one's video
                // link for a while: wait for it (bounded) before doing without.
                if matches!(asset, Asset::Video) && self.export_enabled() && !self.waited_for_link {
                    self.waited_for_link = true;
                    match self.fresh_results(Wanted::One(idx, asset)).await {
                        Ok(fresh) => *results = fresh,
                        Err(stop) => return Ok(Err(stop)),
                    }
                    continue;
                }
                return Ok(Ok(None));
            };
            let fetched = tokio::select! {
                () = self.pipeline.cancel.cancelled() => return Ok(Err(Stop::Cancelled)),
                fetched = self.pipeline.fetcher.fetch(&url, &dest, asset.cap(&self.pipeline.config()), asset.cap_name()) => fetched,
            };
            let err = match fetched {
                Ok(_) => return Ok(Ok(Some(name.to_string()))),
                Err(err) => err,
            };
            if err.needs_fresh_link() && refreshes < MAX_LINK_REFRESHES {
                let wait = match refreshes {
                    0 => Duration::ZERO,
                    n => backoff(RETRY_START, RETRY_MAX, n - 1),
                };
                refreshes += 1;
                tracing::info!(
                    job = self.job.id,
                    clip = idx + 1,
                    ?wait,
                    "{}: {err}; asking for fresh links",
                    asset.name()
                );
                if let Err(stop) = self.pause(wait).await {
                    return Ok(Err(stop));
                }
                match self.fresh_results(Wanted::One(idx, asset)).await {
                    Ok(fresh) => *results = fresh,
                    Err(stop) => return Ok(Err(stop)),
                }
                continue;
            }
            if err.is_retryable() && attempts < MAX_FILE_ATTEMPTS {
                attempts += 1;
                let wait = backoff(RETRY_START, RETRY_MAX, attempts);
                tracing::warn!(
                    job = self.job.id,
                    clip = idx + 1,
                    ?wait,
                    "{}: {err}; retrying",
                    asset.name()
                );
                if let Err(stop) = self.pause(wait).await {
                    return Ok(Err(stop));
                }
                continue;
            }
            return Err(err);
        }
    }

    fn source_info(&self) -> SourceInfo {
        SourceInfo {
            // A private feed's token stays in the database only.
            key: crate::secret::redact_urls_in(&self.job.key),
            url: crate::secret::redact_url(&self.job.source.url),
            title: self.job.display_title(),
            feed: self.job.source.feed.clone(),
            // Unknown stays unknown: the folder's date is the submit date,
            // the video's date is not.
            published: self.job.source.published.map(sidecar::rfc3339),
        }
    }

    fn task_info(&self) -> TaskInfo {
        let task = self.job.task.as_ref();
        TaskInfo {
            id: task.map(|t| t.id.clone()).unwrap_or_default(),
            project_name: task.map(|t| t.project_name.clone()).unwrap_or_default(),
            preset: self.job.preset.clone(),
            options: task.map(|t| t.options.clone()).unwrap_or_default(),
        }
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

/// Open the taken file at `path` for its upload, and prove it is still the
/// file that was taken: never through a symlink (`O_NOFOLLOW`; the take
/// already resolved any link the user dropped), a regular non-empty file
/// within the Upload API's limit, whose SHA-256 is the one in the job's key
/// (`file:<sha256>`). Hashing reads the file once more before any byte is
/// sent; the handle is then rewound and returned with the size to send.
/// Anything else fails the job: the `.done/` entry was replaced, and the
/// user drops the video again.
async fn open_taken(
    path: &Path,
    key: &str,
    cancel: &CancellationToken,
) -> Result<(tokio::fs::File, u64), Upload> {
    let path = path.to_path_buf();
    let expected = key
        .strip_prefix("file:")
        .unwrap_or_default()
        .to_ascii_lowercase();
    let cancel = cancel.clone();
    let checked =
        tokio::task::spawn_blocking(move || open_taken_blocking(&path, &expected, &cancel))
            .await
            .map_err(|e| Upload::Retry(format!("checking the file to upload failed: {e}")))?;
    let (file, size) = checked?;
    Ok((tokio::fs::File::from_std(file), size))
}

fn open_taken_blocking(
    path: &Path,
    expected: &str,
    cancel: &CancellationToken,
) -> Result<(std::fs::File, u64), Upload> {
    use std::io::{Seek, SeekFrom};
    use std::os::unix::fs::OpenOptionsExt;
    let shown = path.display();
    let replaced = |what: &str| {
        Upload::Fatal(format!(
            "{shown} {what} since it was taken: the file in .done/ was replaced, so it is \
             not uploaded. Drop the video in again to clip it"
        ))
    };
    let file = match std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
    {
        Ok(file) => file,
        Err(err) if err.raw_os_error() == Some(libc::ELOOP) => {
            return Err(replaced("is a symbolic link now"))
        }
        Err(err) => return Err(Upload::Retry(format!("cannot read {shown}: {err}"))),
    };
    let meta = file
        .metadata()
        .map_err(|e| Upload::Retry(format!("cannot read {shown}: {e}")))?;
    if !meta.is_file() {
        return Err(replaced("is no longer a regular file"));
    }
    let size = meta.len();
    if size == 0 {
        return Err(Upload::Fatal(format!("{shown} is empty")));
    }
    if size > MAX_UPLOAD_BYTES {
        return Err(Upload::Fatal(format!(
            "{shown} is {}, over the {} the Upload API accepts",
            human_size(size),
            human_size(MAX_UPLOAD_BYTES)
        )));
    }
    let reader = file
        .try_clone()
        .map_err(|e| Upload::Retry(format!("cannot read {shown}: {e}")))?;
    let hash = match sha256_file(reader, cancel) {
        Ok(hash) => hash,
        Err(err) if err.kind() == std::io::ErrorKind::Interrupted => return Err(Upload::Cancelled),
        Err(err) => return Err(Upload::Retry(format!("cannot read {shown}: {err}"))),
    };
    if hash != expected {
        return Err(replaced("has other content"));
    }
    let mut file = file;
    file.seek(SeekFrom::Start(0))
        .map_err(|e| Upload::Retry(format!("cannot read {shown}: {e}")))?;
    Ok((file, size))
}

/// How one upload attempt ended, when it did not succeed.
enum Upload {
    Cancelled,
    /// The bucket refused the presigned URL: ask for a new one.
    Refused(String),
    /// Transient: back to the queue with a backoff.
    Retry(String),
    /// Retrying cannot help (too large, refused by the API).
    Fatal(String),
}

/// What the polls after SUCCEEDED have seen so far (see [`Worker::settled`]).
#[derive(Default)]
struct Settling {
    /// When SUCCEEDED was first seen.
    since: Option<tokio::time::Instant>,
    /// The clips of the previous SUCCEEDED reply.
    previous: Option<Vec<Clip>>,
}

enum Settled {
    /// The list is whole: download it.
    Done,
    /// Poll again; the reason, for progress displays.
    Wait(String),
    /// `results_wait` is over and the task still lists no clip.
    Empty,
}

/// Why results past `expire_at` (epoch ms) cannot be downloaded, if they are.
fn expired(expire_at: Option<u64>) -> Option<String> {
    let expired = expire_at.filter(|at| *at < Utc::now().timestamp_millis().max(0) as u64)?;
    let when = chrono::DateTime::from_timestamp_millis(expired as i64)
        .map(sidecar::rfc3339)
        .unwrap_or_default();
    Some(format!(
        "the results expired at {when}; too late to download"
    ))
}

/// Whose video links a fresh results call must bring (see
/// [`Worker::fresh_results`]).
#[derive(Clone, Copy)]
enum Wanted {
    /// Every clip that will be downloaded (after SUCCEEDED, or a download
    /// starting over).
    Planned,
    /// The one file being fetched.
    One(u64, Asset),
}

#[derive(Clone, Copy)]
enum Asset {
    Video,
    Thumbnail,
}

impl Asset {
    fn link(self, clip: &Clip) -> Option<String> {
        let link = match self {
            Asset::Video => clip.export_link.as_ref(),
            Asset::Thumbnail => clip.thumbnail.as_ref(),
        };
        link.filter(|l| !l.trim().is_empty()).cloned()
    }

    fn name(self) -> &'static str {
        match self {
            Asset::Video => "clip video",
            Asset::Thumbnail => "thumbnail",
        }
    }

    /// The most bytes kept for this kind of file.
    fn cap(self, config: &Config) -> u64 {
        match self {
            Asset::Video => config.output.max_video_size,
            Asset::Thumbnail => MAX_THUMBNAIL_BYTES,
        }
    }

    fn cap_name(self) -> &'static str {
        match self {
            Asset::Video => "output.max_video_size",
            Asset::Thumbnail => "the thumbnail limit",
        }
    }
}

/// Why writing a job's folder stopped short.
#[derive(Debug)]
enum FolderError {
    /// The output volume is full, read-only or refuses us: wait, then retry.
    Output(String),
    /// Anything else: the job fails with this reason.
    Failed(String),
}

impl FolderError {
    fn clip(idx: u64, err: DownloadError) -> FolderError {
        let reason = format!("clip {}: {err}", idx + 1);
        if err.output_can_clear() {
            FolderError::Output(reason)
        } else {
            FolderError::Failed(reason)
        }
    }

    fn create(path: &Path, err: std::io::Error) -> FolderError {
        let reason = format!("cannot create {}: {err}", path.display());
        if space::can_clear(&err) {
            FolderError::Output(reason)
        } else {
            FolderError::Failed(reason)
        }
    }
}

impl From<DownloadError> for FolderError {
    fn from(err: DownloadError) -> FolderError {
        if err.output_can_clear() {
            FolderError::Output(err.to_string())
        } else {
            FolderError::Failed(err.to_string())
        }
    }
}

/// When the next poll is due: one interval after the previous one was due,
/// so polls stay on a fixed grid from the submit instead of drifting by
/// each request's round trip and budget wait; never in the past, so a poll
/// delayed past a whole interval is not followed by a burst.
fn next_poll_due(previous_due: tokio::time::Instant, interval: Duration) -> tokio::time::Instant {
    (previous_due + interval).max(tokio::time::Instant::now())
}

/// Which clips to download: those at or above `min_score`, then the best
/// `max_clips` by rank. Each clip comes with the reason it is left out, if any.
pub fn plan_clips(clips: &[Clip], min_score: u32, max_clips: u32) -> Vec<(Clip, Option<String>)> {
    // By rank, whatever order the API listed them in (ranks are unique, see
    // `assign_ranks`), so the answer depends only on the clips.
    let mut by_rank: Vec<&Clip> = clips.iter().collect();
    by_rank.sort_by_key(|clip| clip.idx);
    let mut kept = 0u32;
    by_rank
        .into_iter()
        .map(|clip| {
            let below = min_score > 0 && clip.score.is_none_or(|s| s < f64::from(min_score));
            let reason = if below {
                Some(match clip.score {
                    Some(score) => format!("score {score} is below min_score {min_score}"),
                    None => format!("no score (min_score {min_score})"),
                })
            } else if max_clips > 0 && kept >= max_clips {
                Some(format!("beyond max_clips {max_clips}"))
            } else {
                kept += 1;
                None
            };
            (clip.clone(), reason)
        })
        .collect()
}

/// `clip` in another reply of the same task: the same clip by content
/// (links are new on every call), else the one with the same `idx` as sent
/// and the same times.
fn find_clip<'a>(results: &'a TaskResults, clip: &Clip) -> Option<&'a Clip> {
    results
        .clips
        .iter()
        .find(|c| c.same_clip(clip))
        .or_else(|| {
            results.clips.iter().find(|c| {
                c.sent_idx == clip.sent_idx
                    && c.begin_ms == clip.begin_ms
                    && c.end_ms == clip.end_ms
            })
        })
}

/// `name`, or `name (2)`, `name (3)`… if an earlier clip took it.
fn unique_name(taken: &mut HashSet<String>, name: &str) -> String {
    let mut candidate = name.to_string();
    let mut n = 2;
    while !taken.insert(candidate.to_lowercase()) {
        candidate = format!("{name} ({n})");
        n += 1;
    }
    candidate
}

/// Create `root/relative` (and its parents); `false` if it already exists.
async fn claim_exactly(root: &Path, relative: &Path) -> Result<bool, FolderError> {
    let path = root.join(relative);
    if let Some(parent) = path.parent() {
        tokio::fs::create_dir_all(parent)
            .await
            .map_err(|e| FolderError::create(parent, e))?;
    }
    match tokio::fs::create_dir(&path).await {
        Ok(()) => {
            // Durable before the job records it: a power cut must not lose
            // the folder of a job the database says is done.
            crate::output::download::sync_parent(&path).await?;
            Ok(true)
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(FolderError::create(&path, e)),
    }
}

/// Create a folder under `root` named `wanted`, or `wanted (2)`, `(3)`… if
/// the name exists, and return its path relative to `root`. Creating it is
/// the claim: of two jobs after one name, exactly one gets it.
async fn claim_folder(root: &Path, wanted: &Path) -> Result<PathBuf, FolderError> {
    let mut candidate = wanted.to_path_buf();
    let mut n = 2;
    while !claim_exactly(root, &candidate).await? {
        let mut name = wanted.file_name().unwrap_or_default().to_os_string();
        name.push(format!(" ({n})"));
        candidate = wanted.with_file_name(name);
        n += 1;
    }
    Ok(candidate)
}

/// The source key of the job whose finished clips are in `folder`, from its
/// `project.json`; `None` when there is none (not finished, or no folder).
async fn folder_owner(folder: &Path) -> Option<String> {
    let bytes = tokio::fs::read(folder.join("project.json")).await.ok()?;
    let project: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    project["source"]["key"].as_str().map(str::to_string)
}

async fn write_json<T: serde::Serialize>(path: &Path, value: &T) -> Result<(), FolderError> {
    let mut bytes =
        serde_json::to_vec_pretty(value).map_err(|e| FolderError::Failed(e.to_string()))?;
    bytes.push(b'\n');
    Ok(write_atomic(path, &bytes).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_taken_file_is_opened_only_if_unchanged_and_not_a_link() {
        use std::io::Read;
        let dir = tempfile::tempdir().unwrap();
        let taken = dir.path().join("talk.mp4");
        std::fs::write(&taken, b"video bytes").unwrap();
        let cancel = CancellationToken::new();
        let file = std::fs::File::open(&taken).unwrap();
        let hash = sha256_file(file, &cancel).unwrap();
        let (mut file, size) = open_taken_blocking(&taken, &hash, &cancel)
            .unwrap_or_else(|_| panic!("the taken file opens"));
        let mut sent = Vec::new();
        file.read_to_end(&mut sent).unwrap();
        assert_eq!((sent.as_slice(), size), (&b"video bytes"[..], 11));

        let secret = dir.path().join("secret");
        std::fs::rename(&taken, &secret).unwrap();
        std::os::unix::fs::symlink(&secret, &taken).unwrap();
        let Err(Upload::Fatal(reason)) = open_taken_blocking(&taken, &hash, &cancel) else {
            panic!("a link is not followed");
        };
        assert!(reason.contains("is a symbolic link now"), "{reason}");

        std::fs::remove_file(&taken).unwrap();
        std::fs::write(&taken, b"other bytes").unwrap();
        let Err(Upload::Fatal(reason)) = open_taken_blocking(&taken, &hash, &cancel) else {
            panic!("other content is refused");
        };
        assert!(reason.contains("has other content"), "{reason}");
    }

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

    fn clip(idx: u64, score: Option<f64>) -> Clip {
        let mut value = serde_json::json!({ "idx": idx });
        if let Some(score) = score {
            value["score"] = serde_json::json!(score);
        }
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn plan_applies_min_score_then_max_clips() {
        let clips = [
            clip(0, Some(90.0)),
            clip(1, Some(40.0)),
            clip(2, Some(75.0)),
            clip(3, None),
            clip(4, Some(60.0)),
        ];
        let plan = plan_clips(&clips, 50, 2);
        let kept: Vec<u64> = plan
            .iter()
            .filter(|(_, r)| r.is_none())
            .map(|(c, _)| c.idx)
            .collect();
        assert_eq!(kept, [0, 2]);
        assert!(plan[1].1.as_deref().unwrap().contains("below min_score 50"));
        assert!(plan[3].1.as_deref().unwrap().contains("no score"));
        assert!(plan[4].1.as_deref().unwrap().contains("max_clips 2"));
        assert_eq!(
            plan_clips(&clips, 0, 0)
                .iter()
                .filter(|(_, r)| r.is_none())
                .count(),
            5
        );
    }

    #[test]
    fn names_are_made_unique() {
        let mut taken = HashSet::new();
        assert_eq!(unique_name(&mut taken, "a"), "a");
        assert_eq!(unique_name(&mut taken, "A"), "A (2)");
        assert_eq!(unique_name(&mut taken, "a"), "a (3)");
    }

    #[tokio::test]
    async fn folders_are_claimed_once() {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(root.path().join("inbox/x")).unwrap();
        assert_eq!(
            claim_folder(root.path(), Path::new("inbox/x"))
                .await
                .unwrap(),
            Path::new("inbox/x (2)")
        );
        assert_eq!(
            claim_folder(root.path(), Path::new("inbox/y"))
                .await
                .unwrap(),
            Path::new("inbox/y")
        );
        // Many claims of one name at once: each gets its own folder.
        let claims: Vec<_> = (0..8)
            .map(|_| {
                let root = root.path().to_path_buf();
                tokio::spawn(async move { claim_folder(&root, Path::new("inbox/z")).await })
            })
            .collect();
        let mut got = HashSet::new();
        for claim in claims {
            assert!(got.insert(claim.await.unwrap().unwrap()));
        }
        assert_eq!(got.len(), 8);
    }

    #[test]
    fn the_plan_does_not_depend_on_the_api_order() {
        let clips = [
            clip(0, Some(90.0)),
            clip(1, Some(40.0)),
            clip(2, Some(75.0)),
            clip(3, None),
            clip(4, Some(60.0)),
        ];
        let summary = |plan: Vec<(Clip, Option<String>)>| -> Vec<(u64, Option<String>)> {
            plan.into_iter().map(|(c, r)| (c.idx, r)).collect()
        };
        let expected = summary(plan_clips(&clips, 50, 2));
        let mut shuffled = clips.to_vec();
        for seed in 0..20u64 {
            // A cheap deterministic shuffle.
            shuffled.sort_by_key(|c| (c.idx * 7 + seed * 13) % 5);
            assert_eq!(summary(plan_clips(&shuffled, 50, 2)), expected);
            shuffled.reverse();
            assert_eq!(summary(plan_clips(&shuffled, 50, 2)), expected);
        }
    }
}
