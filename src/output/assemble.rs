//! Assembling a finished job's folder: one JSON sidecar beside each clip
//! written, then `project.json` listing every clip (written or left out),
//! last, so that its presence means the folder is complete. The files
//! themselves are fetched by the pipeline; this module only names them and
//! describes them.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use chrono::Utc;

use crate::api::types::{Clip, TaskResults};
use crate::model::{identity, Job};
use crate::output::exports::{self, ExportKind};
use crate::output::folder::{write_json, FolderError};
use crate::output::naming::Template;
use crate::output::plan::{clip_base, find_clip, unique_name};
use crate::output::sidecar::{
    self, ClipFiles, ClipSidecar, Project, ProjectClip, ProjectTask, SourceFile, SourceInfo,
    TaskInfo,
};
use crate::util::rfc3339;

/// One job's folder being filled, clip by clip.
pub struct Assembly {
    job: Job,
    folder: PathBuf,
    template: Template,
    source: SourceInfo,
    task: TaskInfo,
    /// Base names taken so far (lower case).
    names: HashSet<String>,
    files_written: Vec<String>,
    clips: Vec<ProjectClip>,
}

/// What was fetched for one clip.
#[derive(Default)]
pub struct Fetched {
    pub files: ClipFiles,
    /// Why the clip's video is missing, if it is.
    pub not_downloaded: Option<String>,
    /// Problems that did not stop the clip (a thumbnail that failed).
    pub warnings: Vec<String>,
}

impl Assembly {
    /// Start on `folder` for `job`, naming clips with `template`.
    pub fn new(job: &Job, folder: &Path, template: &Template) -> Assembly {
        Assembly {
            source: source_info(job),
            task: task_info(job),
            job: job.clone(),
            folder: folder.to_path_buf(),
            template: template.clone(),
            names: HashSet::new(),
            files_written: Vec::new(),
            clips: Vec::new(),
        }
    }

    /// A clip the plan leaves out, and why: listed in `project.json` only.
    pub fn left_out(&mut self, clip: &Clip, reason: String) {
        self.clips
            .push(ProjectClip::new(clip, ClipFiles::default(), Some(reason)));
    }

    /// The base name (no extension) for `clip`'s files, unique in the folder.
    pub fn base_name(&mut self, clip: &Clip) -> String {
        let base = clip_base(&self.template, clip, &identity::short_id(&self.job.key));
        unique_name(&mut self.names, &base)
    }

    /// Write the sidecar `{base}.json` of a clip whose files were fetched,
    /// with the fields of the latest reply (`latest`) under the rank the
    /// plan gave it.
    pub async fn add_clip(
        &mut self,
        clip: &Clip,
        base: &str,
        latest: &TaskResults,
        fetched: Fetched,
    ) -> Result<(), FolderError> {
        let Fetched {
            files,
            not_downloaded,
            warnings,
        } = fetched;
        let mut current = find_clip(latest, clip).unwrap_or(clip).clone();
        current.idx = clip.idx;
        current.rank_note = clip.rank_note.clone();
        let (link, source_file) = source_link(&self.job, &current);
        let sidecar_name = format!("{base}.json");
        let mut sidecar = ClipSidecar::new(
            &current,
            files.clone(),
            self.source.clone(),
            self.task.clone(),
            link,
        );
        sidecar.source_file = source_file;
        write_json(&self.folder.join(&sidecar_name), &sidecar).await?;
        self.files_written.extend(files.video.clone());
        self.files_written.extend(files.thumbnail.clone());
        self.files_written.push(sidecar_name.clone());
        let mut entry = ProjectClip::new(
            &current,
            ClipFiles {
                sidecar: Some(sidecar_name),
                ..files
            },
            not_downloaded,
        );
        entry.warnings = warnings;
        self.clips.push(entry);
        Ok(())
    }

    /// Write the editor `exports`, then `project.json` (last: its presence
    /// means the folder is complete), and return every file written,
    /// relative to the folder.
    pub async fn finish(
        mut self,
        results: &TaskResults,
        exports: &[ExportKind],
    ) -> Result<Vec<String>, FolderError> {
        let job = &self.job;
        let project = Project::new(
            job,
            self.source,
            ProjectTask {
                task: self.task,
                status: results.status.as_str().to_string(),
                api_units_usage: results.api_units_usage.or(job.units),
                expire_at: results.expire_at,
                expires: results
                    .expire_at
                    .and_then(|ms| chrono::DateTime::from_timestamp_millis(ms as i64))
                    .map(rfc3339),
                submitted_at: job.task.as_ref().map(|t| rfc3339(t.submitted_at)),
            },
            self.clips,
            Utc::now(),
        );
        let mut input = exports::Input::from_project(&project);
        input.chapter_points =
            crate::output::extras::stored_chapter_points(&self.folder).unwrap_or_default();
        self.files_written
            .extend(exports::write(&self.folder, exports, &input).await?);
        write_json(&self.folder.join("project.json"), &project).await?;
        self.files_written.push("project.json".into());
        Ok(self.files_written)
    }
}

/// Where in the source a clip starts: a link for URLs (`?t=` / `#t=`);
/// for a local file, which has no link worth giving (its path is the
/// server's), the original file name and the times.
fn source_link(job: &Job, clip: &Clip) -> (Option<String>, Option<SourceFile>) {
    let begin_ms = clip.begin_ms;
    if !job.key.starts_with("file:") {
        let link = begin_ms
            .map(|ms| identity::source_link(&job.key, &job.source.url, ms))
            .filter(|link| !link.is_empty())
            .map(|link| crate::secret::redact_url(&link));
        return (link, None);
    }
    let name = Path::new(&job.source.url)
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

fn source_info(job: &Job) -> SourceInfo {
    SourceInfo {
        // A private feed's token stays in the database only.
        key: crate::secret::redact_urls_in(&job.key),
        url: crate::secret::redact_url(&job.source.url),
        title: job.display_title(),
        feed: job.source.feed.clone(),
        // Unknown stays unknown: the folder's date is the submit date,
        // the video's date is not.
        published: job.source.published.map(rfc3339),
    }
}

fn task_info(job: &Job) -> TaskInfo {
    let task = job.task.as_ref();
    let query = task.and_then(|t| t.query());
    TaskInfo {
        id: task.map(|t| t.id.clone()).unwrap_or_default(),
        project_name: task.map(|t| t.project_name.clone()).unwrap_or_default(),
        preset: job.preset.clone(),
        mode: query.map(|_| crate::model::moments::MODE.to_string()),
        query: query.map(str::to_string),
        options: task.map(|t| t.options.clone()).unwrap_or_default(),
    }
}
