//! `export JOB --preset P`: render a finished job's clips again with
//! another preset's export options, as an extra task of the job (a Clips
//! Export task: no new analysis is paid for). The job goes back to
//! `processing` with its clips in place; the pipeline (the daemon's, or the
//! command line's own when no daemon runs) submits the export, polls it and
//! writes the videos to the subfolder named after the preset.

use chrono::Utc;
use serde::{Deserialize, Serialize};

use super::jobs::JobRef;
use super::{CommandError, Context};
use crate::model::{Event, ExtraKind, ExtraState, State};

/// What `export` queued.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Exporting {
    pub job: JobRef,
    pub preset: String,
    /// The subfolder of the job's folder the clips go to.
    pub subfolder: String,
}

pub async fn export(
    ctx: &Context,
    job_or_key: &str,
    preset: &str,
) -> Result<Exporting, CommandError> {
    let mut job = ctx.store.find(job_or_key)?;
    if !ctx.config.presets.contains_key(preset) {
        let known: Vec<&str> = ctx.config.presets.keys().map(String::as_str).collect();
        return Err(CommandError::usage(format!(
            "no preset named \"{preset}\" (presets: {})",
            known.join(", ")
        )));
    }
    let clips_in_place = job.state == State::Done
        || (matches!(job.state, State::Failed { .. }) && job.extras.clips_written);
    let live_task = job.task.as_ref().is_some_and(|t| !t.failed);
    if !clips_in_place || !live_task {
        return Err(CommandError::refused(format!(
            "job {} is {}: only a job whose clips are in place can be rendered again \
             (wait until it is done, or `clipwatch retry {}`)",
            job.id,
            job.state.name(),
            job.id
        )));
    }
    let kind = ExtraKind::Export {
        preset: preset.to_string(),
    };
    if let Some(task) = job.extras.get_mut(&kind) {
        match task.state {
            ExtraState::Failed => {
                task.state = ExtraState::Pending;
                task.id = None;
                task.reason = None;
            }
            ExtraState::Done => {
                return Err(CommandError::refused(format!(
                    "job {} was already rendered with preset \"{preset}\" (task {}); its \
                     task is not submitted again",
                    job.id,
                    task.id.as_deref().unwrap_or("-")
                )))
            }
            _ => {
                return Err(CommandError::refused(format!(
                    "job {} is being rendered with preset \"{preset}\" already",
                    job.id
                )))
            }
        }
    } else {
        job.extras.want(kind.clone());
    }
    // Done means the clips are in place: they are not fetched again.
    job.extras.clips_written = true;
    let what = kind.label();
    if job.apply(Event::ExtraWanted { what }, Utc::now()).is_err() {
        return Err(CommandError::refused(format!(
            "job {} cannot be rendered again from {}",
            job.id,
            job.state.name()
        )));
    }
    ctx.store.save(&job).await?;
    ctx.wake();
    Ok(Exporting {
        job: JobRef::new(&job),
        preset: preset.to_string(),
        subfolder: crate::pipeline::extra_export::export_subfolder(preset),
    })
}
