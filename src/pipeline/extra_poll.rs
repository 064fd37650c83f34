//! Finishing a job's extra tasks, in the download step before the clips
//! are written (a summary's highlights make the folder's chapters): every
//! pending extra is submitted, every running one polled each
//! `poll_interval` until it ends, and its files written into the job's
//! folder. An extra's end is stored in one write with the units it was
//! charged (added to the job's units and the store's counters), so a crash
//! cannot count them twice or lose them. One extra failing fails only
//! itself; the job then fails naming it (see
//! [`JobRun::extras_failed_reason`]).

use std::path::Path;
use std::time::Duration;

use chrono::Utc;

use super::step::{JobRun, Outcome, Stepped, RETRY_MAX, RETRY_START};
use crate::api::tasks::TaskReport;
use crate::api::{ApiError, TaskStatus};
use crate::config::Config;
use crate::model::Event;
use crate::model::{ExtraKind, ExtraState};
use crate::output::exports::{self, ExportKind};
use crate::output::extras::{self, SummaryLinks};
use crate::output::folder::FolderError;
use crate::store::StoreError;
use crate::util::retry::backoff;

impl JobRun {
    /// Before the clips are written: the job's folder, then every extra
    /// finished into it. When the clips are in place already (a `retry` of
    /// a failed extra) the chapters are made again from a new summary and
    /// the job ends here. `Some` when the download step stops here.
    pub(super) async fn extras_before_clips(
        &mut self,
        config: &Config,
    ) -> Result<Option<Outcome>, StoreError> {
        if self.job.extras.tasks.is_empty() {
            return Ok(None);
        }
        let folder = match self.place_folder(config).await {
            Ok(folder) => folder,
            Err(err) => return Ok(Some(err.into())),
        };
        if let Some(stop) = self.finish_extras(&folder).await? {
            return Ok(Some(stop));
        }
        if !self.job.extras.clips_written {
            return Ok(None);
        }
        if config.output.exports.contains(&ExportKind::Chapters) {
            if let Some(points) = extras::stored_chapter_points(&folder) {
                if let Err(err) = exports::write_chapters(&folder, &points).await {
                    return Ok(Some(FolderError::from(err).into()));
                }
            }
        }
        Ok(Some(self.finish_job().await?))
    }

    /// The clips are in place: the job is done, or failed naming the extra
    /// tasks that failed (the clips and the other tasks' files stay).
    pub(super) async fn finish_job(&mut self) -> Stepped {
        let extra_files: Vec<String> = self
            .job
            .extras
            .tasks
            .iter()
            .flat_map(|t| t.files.iter().cloned())
            .collect();
        for file in extra_files {
            if !self.job.files.contains(&file) {
                self.job.files.push(file);
            }
        }
        if !self.job.extras.tasks.is_empty() {
            self.job.extras.clips_written = true;
        }
        if let Some(reason) = self.extras_failed_reason() {
            return self.fail(reason).await;
        }
        self.transition(Event::Downloaded).await?;
        Ok(Outcome::Moved)
    }

    /// Submit, poll and write every extra until none is pending or
    /// running. `Some` when the worker must stop (shutdown, an output
    /// volume that cannot take the files).
    pub(super) async fn finish_extras(
        &mut self,
        folder: &Path,
    ) -> Result<Option<Outcome>, StoreError> {
        let Some(api) = self.ctx.api.clone() else {
            return Ok(Some(Outcome::Released));
        };
        // One left `submitting` by a worker that stopped mid-submit (a
        // database error): settled like one a crash left.
        super::extra_submit::recover_extras(&self.ctx, &mut self.job).await?;
        let mut errors_in_a_row = 0;
        loop {
            if let Some(stop) = self.submit_extras(true).await? {
                return Ok(Some(stop));
            }
            let running: Vec<(ExtraKind, String)> = self
                .job
                .extras
                .tasks
                .iter()
                .filter(|t| t.state == ExtraState::Running)
                .filter_map(|t| Some((t.kind.clone(), t.id.clone()?)))
                .collect();
            if running.is_empty() {
                return Ok(None);
            }
            for (kind, id) in running {
                let label = kind.label();
                // Resumed after a restart: hold a slot while it runs, if one is free.
                if !self.extra_slots.contains_key(&label) {
                    if let Some(slot) = self.ctx.slots.try_acquire() {
                        self.extra_slots.insert(label.clone(), slot);
                    }
                }
                let report = match api.extra_results(&kind, &id).await {
                    Ok(report) => report,
                    Err(ApiError::Cancelled) => return Ok(Some(Outcome::Cancelled)),
                    Err(err @ ApiError::Invalid { .. }) => {
                        let reason =
                            format!("task {id}: {err}; its results can no longer be fetched");
                        self.extra_ended(&kind, ExtraState::Failed, Some(reason), None)
                            .await?;
                        continue;
                    }
                    Err(err) => {
                        errors_in_a_row += 1;
                        tracing::warn!(job = self.job.id, task = %id, "polling the {label} task failed, will poll again: {err}");
                        continue;
                    }
                };
                errors_in_a_row = 0;
                self.progress(format!("{label}: {}", report.status.as_str()));
                match report.status {
                    TaskStatus::Succeeded => {
                        if let Some(stop) = self.extra_succeeded(&kind, &report, folder).await? {
                            return Ok(Some(stop));
                        }
                    }
                    TaskStatus::Failed => {
                        let message = report
                            .error_message
                            .clone()
                            .unwrap_or_else(|| "the API gave no reason".into());
                        let reason = format!("the task ended FAILED: {message}");
                        self.extra_ended(&kind, ExtraState::Failed, Some(reason), report.units)
                            .await?;
                    }
                    _ => {}
                }
            }
            let mut wait = self.ctx.config().api.poll_interval;
            if errors_in_a_row > 1 {
                wait += backoff(RETRY_START, RETRY_MAX, errors_in_a_row);
            }
            if self
                .job
                .extras
                .tasks
                .iter()
                .any(|t| t.state == ExtraState::Running)
            {
                if let Err(stop) = self.pause(wait.max(Duration::from_millis(1))).await {
                    return Ok(Some(stop));
                }
            }
        }
    }

    /// Write a succeeded extra's files and store it done with its units.
    async fn extra_succeeded(
        &mut self,
        kind: &ExtraKind,
        report: &TaskReport,
        folder: &Path,
    ) -> Result<Option<Outcome>, StoreError> {
        let written = match kind {
            ExtraKind::Transcript => extras::write_transcript(folder, &report.data).await,
            ExtraKind::Summary => {
                let links = SummaryLinks {
                    key: self.job.key.clone(),
                    source_url: self.job.source.url.clone(),
                    title: self.job.display_title(),
                };
                extras::write_summary(folder, &report.data, &links).await
            }
            ExtraKind::Export { preset } => match self.write_export(preset, report, folder).await {
                Ok(files) => Ok(files),
                Err(reason) => {
                    let reason = format!("its clips could not be written: {reason}");
                    self.extra_ended(kind, ExtraState::Failed, Some(reason), report.units)
                        .await?;
                    return Ok(None);
                }
            },
        };
        match written {
            Ok(files) => {
                if let Some(task) = self.job.extras.get_mut(kind) {
                    task.files = files;
                }
                self.extra_ended(kind, ExtraState::Done, None, report.units)
                    .await?;
                Ok(None)
            }
            Err(err) if err.output_can_clear() => Ok(Some(Outcome::OutputBlocked(format!(
                "{}: {err}",
                kind.label()
            )))),
            Err(err) => {
                let reason = format!("its files could not be written: {err}");
                self.extra_ended(kind, ExtraState::Failed, Some(reason), report.units)
                    .await?;
                Ok(None)
            }
        }
    }

    /// Store an extra's end: its state, reason and units, the units added
    /// to the job's and to the store's counters in the same write.
    async fn extra_ended(
        &mut self,
        kind: &ExtraKind,
        state: ExtraState,
        reason: Option<String>,
        units: Option<u64>,
    ) -> Result<(), StoreError> {
        let now = Utc::now();
        let Some(task) = self.job.extras.get_mut(kind) else {
            return Ok(());
        };
        if state == ExtraState::Failed {
            tracing::warn!(job = self.job.id, key = %self.job.key, "{} task failed: {}",
                kind.label(), reason.as_deref().unwrap_or("-"));
        } else {
            tracing::info!(job = self.job.id, key = %self.job.key, "{} written", kind.label());
        }
        task.state = state;
        task.reason = reason;
        let counted = units.map(|units| {
            task.units = Some(task.units.unwrap_or(0) + units);
            (now.date_naive(), units)
        });
        if let Some((_, units)) = counted {
            self.job.units = Some(self.job.units.unwrap_or(0) + units);
        }
        self.job.updated_at = now;
        self.extra_slots.remove(&kind.label());
        self.ctx.store.save_counting(&self.job, counted).await
    }
}
