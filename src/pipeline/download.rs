//! The download step: fresh results (export links expire), the job's
//! folder claimed once, each planned clip's video and thumbnail fetched
//! through a `.part` file (fresh links when one is refused, retries on
//! transient errors), and the folder assembled by [`crate::output`]. An
//! output volume that is full or refuses writes is waited out (the daemon)
//! or left for the next run (`once`).

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::Utc;

use super::step::{JobRun, Outcome, Stepped, RETRY_MAX, RETRY_START};
use crate::api::types::{Clip, TaskResults};
use crate::api::ApiError;
use crate::config::{Config, MAX_THUMBNAIL_BYTES};
use crate::output::assemble::{Assembly, Fetched};
use crate::output::download::DownloadError;
use crate::output::folder::{ensure_folder, FolderError};
use crate::output::plan::{find_clip, plan_clips};
use crate::output::space;
use crate::util::retry::backoff;
use crate::util::rfc3339;

/// Results calls for fresh links while a needed video link is missing.
const MAX_LINK_POLLS: u32 = 20;
/// Fresh links fetched for one file before giving up on it. The first is
/// fetched at once (an expired link); later ones wait with a backoff, so a
/// CDN that errs for a moment cannot spend them all within milliseconds.
const MAX_LINK_REFRESHES: u32 = 4;
/// Attempts at one file on transient errors (truncation, 5xx, resets).
const MAX_FILE_ATTEMPTS: u32 = 6;

impl JobRun {
    /// [`JobRun::download_once`], waiting out an output volume that is full
    /// or refuses writes: the job stays `downloading` (paid for, its task
    /// still there) and is tried again with a backoff once the volume
    /// passes the output check again.
    pub(super) async fn download(&mut self) -> Outcome {
        self.download_step().await.into()
    }

    async fn download_step(&mut self) -> Stepped {
        let mut waits = 0;
        loop {
            let reason = match self.download_once().await? {
                Outcome::OutputBlocked(reason) => reason,
                other => return Ok(other),
            };
            if !self.ctx.wait_for_output {
                tracing::error!(job = self.job.id, key = %self.job.key, "cannot write the clips; the job stays downloading and the next run resumes it: {reason}");
                self.ctx.output.block(reason);
                return Ok(Outcome::Released);
            }
            waits += 1;
            if waits == 1 {
                tracing::error!(job = self.job.id, key = %self.job.key, "cannot write the clips, will retry once the output volume is usable: {reason}");
            }
            self.progress(format!("waiting for the output volume: {reason}"));
            let output = self.ctx.config().output.clone();
            let probe_dir = self
                .job
                .folder
                .as_ref()
                .map_or(output.dir.clone(), |f| output.dir.join(f));
            loop {
                let wait = backoff(RETRY_START, RETRY_MAX, waits);
                if let Err(stop) = self.pause(wait).await {
                    return Ok(stop);
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

    async fn download_once(&mut self) -> Stepped {
        let config = self.ctx.config();
        if let Some(stop) = self.extras_before_clips(&config).await? {
            return self.stopped(stop).await;
        }
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
        let folder = match self.place_folder(&config).await {
            Ok(folder) => folder,
            Err(err) => return self.stopped(err.into()).await,
        };
        match self.write_folder(&config, &folder, results).await {
            Ok(files) => {
                self.job.files = files;
                tracing::info!(job = self.job.id, key = %self.job.key, folder = %folder.display(), "clips ready");
                self.finish_job().await
            }
            Err(stop) => self.stopped(stop).await,
        }
    }

    /// The download stopped early: fail the job if that is why.
    async fn stopped(&mut self, stop: Outcome) -> Stepped {
        match stop {
            Outcome::Fail(reason) => self.fail(reason).await,
            other => Ok(other),
        }
    }

    /// Ask for results until they come (fresh export links each time). With
    /// export on, results that lack export links are polled again (bounded,
    /// as after SUCCEEDED): taken as they are, a clip would be written
    /// without its video.
    async fn fresh_results(&mut self, wanted: Wanted) -> Result<TaskResults, Outcome> {
        let api = self.ctx.api.clone().ok_or(Outcome::Released)?;
        let task_id = self
            .job
            .task
            .as_ref()
            .map(|t| t.id.clone())
            .ok_or(Outcome::Released)?;
        let export = self.export_enabled();
        let mut attempt = 0;
        let mut link_polls = 0;
        loop {
            // Past `expire_at` the API no longer serves the task: say so
            // rather than ask for ever.
            if let Some(reason) = expired(self.job.expire_at) {
                return Err(Outcome::Fail(reason));
            }
            match api.results_of(self.endpoint(), &task_id).await {
                Ok(results) if export && self.lacks_links(&results, wanted) => {
                    self.job.expire_at = results.expire_at.or(self.job.expire_at);
                    if link_polls >= MAX_LINK_POLLS {
                        return Ok(results);
                    }
                    link_polls += 1;
                    self.pause(self.ctx.config().api.poll_interval).await?;
                }
                Ok(results) => {
                    self.job.expire_at = results.expire_at.or(self.job.expire_at);
                    return Ok(results);
                }
                Err(ApiError::Cancelled) => return Err(Outcome::Cancelled),
                // 404 and the like: the task is gone (expired or deleted);
                // asking again cannot bring it back.
                Err(err @ ApiError::Invalid { .. }) => {
                    return Err(Outcome::Fail(format!(
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
    pub(super) fn missing_links(&self, results: &TaskResults, wanted: Wanted) -> usize {
        match wanted {
            Wanted::Planned => {
                let output = &self.ctx.config().output;
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

    /// The job's folder ([`ensure_folder`]), stored with the job when newly
    /// claimed, before anything is written there.
    pub(super) async fn place_folder(&mut self, config: &Config) -> Result<PathBuf, FolderError> {
        let placed = ensure_folder(&config.output.dir, &config.output.folder, &self.job).await?;
        if let Some(relative) = placed.claimed {
            self.job.folder = Some(relative);
            self.ctx
                .store
                .save(&self.job)
                .await
                .map_err(|e| FolderError::Failed(e.to_string()))?;
        }
        Ok(placed.path)
    }

    /// Every selected clip's files and sidecar, then `project.json`.
    async fn write_folder(
        &mut self,
        config: &Config,
        folder: &Path,
        mut results: TaskResults,
    ) -> Result<Vec<String>, Outcome> {
        let export = self.export_enabled();
        let plan = plan_clips(
            &results.clips,
            config.output.min_score,
            config.output.max_clips,
        );
        let mut assembly = Assembly::new(&self.job, folder, &config.output.clip);
        let total = plan.iter().filter(|(_, skip)| skip.is_none()).count();
        let mut done = 0;
        for (clip, skip) in plan {
            if let Some(reason) = skip {
                assembly.left_out(&clip, reason);
                continue;
            }
            done += 1;
            self.progress(format!("downloading clip {done}/{total}"));
            let base = assembly.base_name(&clip);
            let mut fetched = Fetched::default();
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
                    FileFetch::Saved(name) => fetched.files.video = Some(name),
                    FileFetch::NoLink => {
                        fetched.not_downloaded = Some("the API gave no export link".to_string())
                    }
                    FileFetch::Stopped(stop) => return Err(stop),
                    FileFetch::Failed(err) => return Err(FolderError::clip(clip.idx, err).into()),
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
                        FileFetch::Saved(name) => fetched.files.thumbnail = Some(name),
                        FileFetch::NoLink => {}
                        FileFetch::Stopped(stop) => return Err(stop),
                        FileFetch::Failed(err) if err.output_can_clear() => {
                            return Err(FolderError::from(err).into())
                        }
                        FileFetch::Failed(err) => fetched
                            .warnings
                            .push(format!("thumbnail not downloaded: {err}")),
                    }
                }
            }
            assembly.add_clip(&clip, &base, &results, fetched).await?;
        }
        Ok(assembly.finish(&results, &config.output.exports).await?)
    }

    /// Download one clip's video or thumbnail to `folder/name`, fetching
    /// fresh links when a link is refused.
    async fn fetch_clip_file(
        &mut self,
        results: &mut TaskResults,
        clip: &Clip,
        asset: Asset,
        folder: &Path,
        name: &str,
    ) -> FileFetch {
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
                        Err(stop) => return FileFetch::Stopped(stop),
                    }
                    continue;
                }
                return FileFetch::NoLink;
            };
            let fetched = tokio::select! {
                () = self.ctx.cancel.cancelled() => return FileFetch::Stopped(Outcome::Cancelled),
                fetched = self.ctx.fetcher.fetch(&url, &dest, asset.cap(&self.ctx.config()), asset.cap_name()) => fetched,
            };
            let err = match fetched {
                Ok(_) => return FileFetch::Saved(name.to_string()),
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
                    return FileFetch::Stopped(stop);
                }
                match self.fresh_results(Wanted::One(idx, asset)).await {
                    Ok(fresh) => *results = fresh,
                    Err(stop) => return FileFetch::Stopped(stop),
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
                    return FileFetch::Stopped(stop);
                }
                continue;
            }
            return FileFetch::Failed(err);
        }
    }
}

/// Why results past `expire_at` (epoch ms) cannot be downloaded, if they are.
fn expired(expire_at: Option<u64>) -> Option<String> {
    let expired = expire_at.filter(|at| *at < Utc::now().timestamp_millis().max(0) as u64)?;
    let when = chrono::DateTime::from_timestamp_millis(expired as i64)
        .map(rfc3339)
        .unwrap_or_default();
    Some(format!(
        "the results expired at {when}; too late to download"
    ))
}

/// Whose video links a fresh results call must bring (see
/// [`JobRun::fresh_results`]).
#[derive(Clone, Copy)]
pub(super) enum Wanted {
    /// Every clip that will be downloaded (after SUCCEEDED, or a download
    /// starting over).
    Planned,
    /// The one file being fetched.
    One(u64, Asset),
}

#[derive(Clone, Copy)]
pub(super) enum Asset {
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

/// How fetching one clip file ended.
enum FileFetch {
    /// Written under this name.
    Saved(String),
    /// The API gave no link for it.
    NoLink,
    /// Shutdown, or the job cannot go on (see [`Outcome`]).
    Stopped(Outcome),
    /// The file could not be fetched.
    Failed(DownloadError),
}

impl From<FolderError> for Outcome {
    fn from(err: FolderError) -> Outcome {
        match err {
            FolderError::Output(reason) => Outcome::OutputBlocked(reason),
            FolderError::Failed(reason) => Outcome::Fail(reason),
        }
    }
}
