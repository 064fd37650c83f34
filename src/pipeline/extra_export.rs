//! Re-rendering a finished task's clips with another preset's export
//! options (`also = ["landscape"]`, `clipwatch export JOB --preset P`):
//! one Clips Export task per preset, an extra task of the job like a
//! transcript (crash-safe submit, slot, budget, units; see
//! [`super::extra_submit`]). It asks for exactly the clips the folder kept
//! (`clip_indices`: those `min_score`/`max_clips` let through), without
//! paying for the analysis again, and its videos go to a subfolder named
//! after the preset.

use std::path::Path;

use serde_json::{Map, Value};

use super::step::JobRun;
use crate::api::tasks::TaskReport;
use crate::api::types::{assign_ranks, Clip};
use crate::model::identity;
use crate::output::download::DownloadError;
use crate::output::naming::sanitize_component;
use crate::output::plan::{clip_base, plan_clips};

/// A preset's options that Clips Export takes (the rest are the analysis's).
const EXPORT_OPTIONS: &[&str] = &[
    "target_lang",
    "resolution",
    "enable_caption",
    "caption_display",
    "cc_style_tpl",
    "enable_ai_hook",
    "ai_hook_script_style",
    "ai_hook_position",
    "enable_ai_reframe",
    "ratio",
    "reframe_layout",
    "ai_hook_keywords",
    "ai_hook_text_duration",
];

/// The subfolder of the job's folder an export to `preset` is written in.
pub fn export_subfolder(preset: &str) -> String {
    sanitize_component(preset)
}

impl JobRun {
    /// The body of the Clips Export submit for `preset`: the clipping
    /// task's id, the `idx` of every clip the folder kept, and the preset's
    /// export options. `Err` (why) when it cannot be made.
    pub(super) async fn export_body(&mut self, preset: &str) -> Result<Map<String, Value>, String> {
        let config = self.ctx.config();
        let Some(options) = config.presets.get(preset).map(|p| p.options.clone()) else {
            return Err(format!("preset \"{preset}\" is not in the configuration"));
        };
        let Some(task_id) = self.job.task.as_ref().map(|t| t.id.clone()) else {
            return Err("the job has no clipping task to re-render".into());
        };
        let clips = match &self.results {
            Some(results) => results.clips.clone(),
            None => {
                let api = self.ctx.api.clone().ok_or("no API key")?;
                match api.results_of(self.endpoint(), &task_id).await {
                    Ok(results) => results.clips,
                    Err(err) => {
                        return Err(format!(
                            "the clip list of task {task_id} could not be read: {err}"
                        ))
                    }
                }
            }
        };
        let output = &config.output;
        let indices: Vec<Value> = plan_clips(&clips, output.min_score, output.max_clips)
            .into_iter()
            .filter(|(_, left_out)| left_out.is_none())
            .map(|(clip, _)| Value::from(api_idx(&clip)))
            .collect();
        if indices.is_empty() {
            return Err(format!("task {task_id} has no kept clip to re-render"));
        }
        let mut body: Map<String, Value> = options
            .into_iter()
            .filter(|(k, _)| EXPORT_OPTIONS.contains(&k.as_str()))
            .collect();
        body.insert("project_id".into(), Value::String(task_id));
        body.insert("clip_indices".into(), Value::Array(indices));
        Ok(body)
    }

    /// Download an export's clip videos into its subfolder; the files
    /// written, relative to the job's folder. A clip already fetched (by an
    /// earlier pass) is kept; `Err` names the first clip that failed.
    pub(super) async fn write_export(
        &self,
        preset: &str,
        report: &TaskReport,
        folder: &Path,
    ) -> Result<Vec<String>, String> {
        let config = self.ctx.config();
        let mut clips: Vec<Clip> = report
            .data
            .get("clips")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|c| serde_json::from_value(c.clone()).ok())
            .collect();
        assign_ranks(&mut clips);
        let linked: Vec<&Clip> = clips
            .iter()
            .filter(|c| c.export_link.as_deref().is_some_and(|l| !l.is_empty()))
            .collect();
        if linked.is_empty() {
            return Err("the export task SUCCEEDED without any clip video link".into());
        }
        if linked.len() < clips.len() {
            tracing::warn!(
                job = self.job.id, key = %self.job.key,
                "the {preset} export lists {} clips but only {} have a video link: \
                 writing those; `clipwatch show {}` lists the files written",
                clips.len(),
                linked.len(),
                self.job.id
            );
        }
        let sub = export_subfolder(preset);
        let dir = folder.join(&sub);
        tokio::fs::create_dir_all(&dir)
            .await
            .map_err(|e| format!("{}: {e}", dir.display()))?;
        let short_id = identity::short_id(&self.job.key);
        let mut written = Vec::new();
        let mut first_error = None;
        for clip in linked {
            let name = format!("{}.mp4", clip_base(&config.output.clip, clip, &short_id));
            let url = clip.export_link.clone().unwrap_or_default();
            let dest = dir.join(&name);
            let cap = config.output.max_video_size;
            let fetched = tokio::select! {
                () = self.ctx.cancel.cancelled() => return Err("stopped".into()),
                fetched = self.ctx.fetcher.fetch(&url, &dest, cap, "output.max_video_size") => fetched,
            };
            // Every clip is tried, so that one results call's fresh links
            // serve all the clips a pass could not fetch.
            match fetched {
                Ok(_) => written.push(format!("{sub}/{name}")),
                Err(e) => {
                    let e: DownloadError = e;
                    first_error.get_or_insert(format!("clip {}: {e}", clip.idx + 1));
                }
            }
        }
        match first_error {
            Some(error) => Err(error),
            None => Ok(written),
        }
    }
}

/// The `idx` the API gave a clip (what `clip_indices` names), else its rank.
fn api_idx(clip: &Clip) -> u64 {
    let sent = clip.sent_idx.as_ref().and_then(|v| match v {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    });
    sent.unwrap_or(clip.idx)
}
