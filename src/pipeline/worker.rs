//! One worker per job in flight: upload (local files), submit, poll until
//! the task ends, download.
//! Each step persists its transition before doing what the new state allows,
//! so a crash at any instant resumes from the store (SPEC §5).

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::Utc;

use super::job::{Event, Job, State, Task};
use super::scheduler::Pipeline;
use crate::api::limiter::{backoff, Slot};
use crate::api::types::{Clip, TaskResults, TaskStatus};
use crate::api::upload::{human_size, video_content_type, MAX_UPLOAD_BYTES};
use crate::api::{ApiClient, ApiError};
use crate::config::Config;
use crate::output::download::{write_atomic, DownloadError};
use crate::output::naming::{Template, Vars};
use crate::output::sidecar::{
    self, ClipFiles, ClipSidecar, Project, ProjectClip, ProjectTask, SourceInfo, TaskInfo,
};
use crate::sources::identity;
use crate::store::StoreError;

/// Submit attempts (transient failures) before a job is failed.
const MAX_SUBMIT_ATTEMPTS: u32 = 6;
/// Results calls after SUCCEEDED while export links are still missing.
const MAX_LINK_POLLS: u32 = 20;
/// Fresh links fetched for one file before giving up on it. The first is
/// fetched at once (an expired link); later ones wait with a backoff, so a
/// CDN that errs for a moment cannot spend them all within milliseconds.
const MAX_LINK_REFRESHES: u32 = 4;
/// Attempts at one file on transient errors (truncation, 5xx, resets).
const MAX_FILE_ATTEMPTS: u32 = 6;
const RETRY_START: Duration = Duration::from_secs(1);
const RETRY_MAX: Duration = Duration::from_secs(300);
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
}

impl Worker {
    pub fn new(pipeline: Pipeline, job: Job, slot: Option<Slot>) -> Worker {
        Worker {
            pipeline,
            job,
            slot,
            results: None,
            waited_for_link: false,
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
        self.pipeline.transition(&mut self.job, event).await
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
        // Durable before the request leaves: a crash from here on is seen at
        // the next start (and the submit is redone, counted in submit_attempts).
        self.transition(Event::SubmitStarted).await?;
        match api.submit(&video_url, &project_name, &options).await {
            Ok(reply) => {
                let task = Task {
                    id: reply.id,
                    project_name: reply.name.unwrap_or(project_name),
                    options,
                    submitted_at: Utc::now(),
                    failed: false,
                };
                self.transition(Event::Submitted { task }).await?;
                Ok(Ok(()))
            }
            Err(ApiError::Cancelled) => Ok(Err(Stop::Cancelled)),
            Err(err @ ApiError::Invalid { .. }) => self.fail(err.to_string()).await,
            Err(err @ ApiError::Unreadable { .. }) => {
                // Accepted, but the task id is lost: submitting again on our
                // own could pay once per attempt. The user decides.
                let reason = format!(
                    "{err}; the API accepted the submit, so a task may exist and be charged; \
                     not submitting again on its own (`clipwatch retry {}` submits again)",
                    self.job.id
                );
                self.fail(reason).await
            }
            Err(err) => self.defer("submit", err.to_string()).await,
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

    /// One ticket and one PUT. Returns the identity to submit.
    async fn upload_once(&self, api: &ApiClient, path: &Path) -> Result<String, Upload> {
        let shown = path.display();
        let meta = tokio::fs::metadata(path)
            .await
            .map_err(|e| Upload::Retry(format!("cannot read {shown}: {e}")))?;
        let size = meta.len();
        if !meta.is_file() || size == 0 {
            return Err(Upload::Fatal(format!("{shown} is not a non-empty file")));
        }
        if size > MAX_UPLOAD_BYTES {
            return Err(Upload::Fatal(format!(
                "{shown} is {}, over the {} the Upload API accepts",
                human_size(size),
                human_size(MAX_UPLOAD_BYTES)
            )));
        }
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
        self.progress(format!("uploading {}", human_size(size)));
        let sent = tokio::select! {
            () = self.pipeline.cancel.cancelled() => return Err(Upload::Cancelled),
            sent = api.upload_file(&ticket, path, content_type) => sent,
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
        let export = self.export_enabled();
        let mut link_polls = 0;
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
                    // Only clips that will be downloaded need a link.
                    let missing = self.missing_links(&results, Wanted::Planned);
                    if export && missing > 0 && link_polls < MAX_LINK_POLLS {
                        link_polls += 1;
                        self.progress(format!("SUCCEEDED, waiting for {missing} export links"));
                        continue;
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

    async fn account_units(&mut self, results: &TaskResults) -> Result<(), StoreError> {
        if self.job.units.is_some() {
            return Ok(());
        }
        let Some(units) = results.api_units_usage else {
            return Ok(());
        };
        self.job.units = Some(units);
        self.pipeline
            .store
            .add_units(Utc::now().date_naive(), units)
            .await
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

    async fn download(&mut self) -> StepResult {
        let config = self.pipeline.config();
        let results = match self.results.take() {
            Some(results) => results,
            None => match self.fresh_results(Wanted::Planned).await {
                Ok(results) => results,
                Err(stop) => return Ok(Err(stop)),
            },
        };
        if let Some(expired) = results
            .expire_at
            .filter(|at| *at < Utc::now().timestamp_millis().max(0) as u64)
        {
            let when = chrono::DateTime::from_timestamp_millis(expired as i64)
                .map(sidecar::rfc3339)
                .unwrap_or_default();
            return self
                .fail(format!(
                    "the results expired at {when}; too late to download"
                ))
                .await;
        }
        let folder = match self.ensure_folder(&config).await {
            Ok(folder) => folder,
            Err(err) => return self.fail(err).await,
        };
        match self.write_folder(&config, &folder, results).await {
            Ok(Ok(files)) => {
                self.job.files = files;
                self.transition(Event::Downloaded).await?;
                tracing::info!(job = self.job.id, key = %self.job.key, folder = %folder.display(), "clips ready");
                Ok(Ok(()))
            }
            Ok(Err(stop)) => Ok(Err(stop)),
            Err(reason) => self.fail(reason).await,
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
            match api.results(&task_id).await {
                Ok(results) if export && self.lacks_links(&results, wanted) => {
                    if link_polls >= MAX_LINK_POLLS {
                        return Ok(results);
                    }
                    link_polls += 1;
                    self.pause(self.pipeline.config().api.poll_interval).await?;
                }
                Ok(results) => return Ok(results),
                Err(ApiError::Cancelled) => return Err(Stop::Cancelled),
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

    /// The job's folder, chosen once and stored before it is created.
    async fn ensure_folder(&mut self, config: &Config) -> Result<PathBuf, String> {
        let root = &config.output.dir;
        if let Some(folder) = &self.job.folder {
            let path = root.join(folder);
            tokio::fs::create_dir_all(&path)
                .await
                .map_err(|e| format!("cannot create {}: {e}", path.display()))?;
            return Ok(path);
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
        let relative = unused_folder(root, &template.render(&vars));
        self.job.folder = Some(relative.to_string_lossy().into_owned());
        self.pipeline
            .store
            .save(&self.job)
            .await
            .map_err(|e| e.to_string())?;
        let path = root.join(&relative);
        tokio::fs::create_dir_all(&path)
            .await
            .map_err(|e| format!("cannot create {}: {e}", path.display()))?;
        Ok(path)
    }

    /// Every selected clip's files and sidecar, then `project.json`.
    async fn write_folder(
        &mut self,
        config: &Config,
        folder: &Path,
        mut results: TaskResults,
    ) -> Result<Result<Vec<String>, Stop>, String> {
        let template = &config.output.clip;
        let export = self.export_enabled();
        results.clips.sort_by_key(|c| c.idx);
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
                        clip.idx,
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
                    Err(err) => return Err(format!("clip {}: {err}", clip.idx + 1)),
                }
                if config.output.thumbnails {
                    match self
                        .fetch_clip_file(
                            &mut results,
                            clip.idx,
                            Asset::Thumbnail,
                            folder,
                            &format!("{base}.jpg"),
                        )
                        .await
                    {
                        Ok(Ok(name)) => files.thumbnail = name,
                        Ok(Err(stop)) => return Ok(Err(stop)),
                        Err(err) => warnings.push(format!("thumbnail not downloaded: {err}")),
                    }
                }
            }
            let current = results
                .clips
                .iter()
                .find(|c| c.idx == clip.idx)
                .unwrap_or(&clip)
                .clone();
            let link = current
                .begin_ms
                .map(|ms| identity::source_link(&self.job.key, &self.job.source.url, ms))
                .map(|link| crate::secret::redact_url(&link));
            let sidecar_name = format!("{base}.json");
            let sidecar =
                ClipSidecar::new(&current, files.clone(), source.clone(), task.clone(), link);
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
        idx: u64,
        asset: Asset,
        folder: &Path,
        name: &str,
    ) -> Result<Result<Option<String>, Stop>, DownloadError> {
        let dest = folder.join(name);
        let mut refreshes = 0;
        let mut attempts = 0;
        loop {
            let Some(url) = results
                .clips
                .iter()
                .find(|c| c.idx == idx)
                .and_then(|c| asset.link(c))
            else {
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
                fetched = self.pipeline.fetcher.fetch(&url, &dest) => fetched,
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
        let published = self.job.source.published.unwrap_or(self.job.created_at);
        SourceInfo {
            // A private feed's token stays in the database only.
            key: crate::secret::redact_urls_in(&self.job.key),
            url: crate::secret::redact_url(&self.job.source.url),
            title: self.job.display_title(),
            feed: self.job.source.feed.clone(),
            published: sidecar::rfc3339(published),
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
    let mut kept = 0u32;
    clips
        .iter()
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

/// A folder path under `root` that no other job uses yet.
fn unused_folder(root: &Path, wanted: &Path) -> PathBuf {
    let mut candidate = wanted.to_path_buf();
    let mut n = 2;
    while root.join(&candidate).exists() {
        let mut name = wanted.file_name().unwrap_or_default().to_os_string();
        name.push(format!(" ({n})"));
        candidate = wanted.with_file_name(name);
        n += 1;
    }
    candidate
}

async fn write_json<T: serde::Serialize>(path: &Path, value: &T) -> Result<(), String> {
    let mut bytes = serde_json::to_vec_pretty(value).map_err(|e| e.to_string())?;
    bytes.push(b'\n');
    write_atomic(path, &bytes).await.map_err(|e| e.to_string())
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

    #[test]
    fn folders_in_use_get_a_suffix() {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(root.path().join("inbox/x")).unwrap();
        assert_eq!(
            unused_folder(root.path(), Path::new("inbox/x")),
            Path::new("inbox/x (2)")
        );
        assert_eq!(
            unused_folder(root.path(), Path::new("inbox/y")),
            Path::new("inbox/y")
        );
    }
}
