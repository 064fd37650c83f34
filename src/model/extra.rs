//! Extra tasks of a job: paid API tasks a job runs beside its clipping task
//! (a transcript, a summary, a re-render of the clips with another preset).
//! Each is recorded with the job before its request leaves and keeps its own
//! state, task id, units and reason, so that one failing loses none of the
//! others and `retry` redoes only what is missing. Plain data, no I/O: the
//! pipeline drives them and the store persists them inside the job.

use serde::{Deserialize, Serialize};

/// What an extra task makes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ExtraKind {
    /// `POST /transcripts`: `transcript.json`, `.srt`, `.vtt`, `.txt`.
    Transcript,
    /// `POST /summaries`: `summary.md` (and `summary.json`).
    Summary,
    /// `POST /clips/export`: the clips again with another preset's options.
    Export { preset: String },
}

impl ExtraKind {
    /// How the kind is named to the user ("transcript", "export landscape").
    pub fn label(&self) -> String {
        match self {
            ExtraKind::Transcript => "transcript".into(),
            ExtraKind::Summary => "summary".into(),
            ExtraKind::Export { preset } => format!("export {preset}"),
        }
    }
}

/// Where an extra task stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExtraState {
    /// Not submitted yet.
    Pending,
    /// Stored right before the submit request left: a crash from here on
    /// leaves a submit that may have been processed.
    Submitting,
    /// The API accepted it; `id` is known.
    Running,
    /// Its files are written.
    Done,
    /// It cannot finish; `reason` says why. `retry` submits it again.
    Failed,
}

/// One extra task of a job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExtraTask {
    #[serde(flatten)]
    pub kind: ExtraKind,
    pub state: ExtraState,
    /// The API's task id, once the submit was answered.
    #[serde(default)]
    pub id: Option<String>,
    /// Units the task was charged (counted once, with the job's write).
    #[serde(default)]
    pub units: Option<u64>,
    #[serde(default)]
    pub reason: Option<String>,
    /// Files written for it, relative to the job's folder.
    #[serde(default)]
    pub files: Vec<String>,
}

impl ExtraTask {
    pub fn new(kind: ExtraKind) -> ExtraTask {
        ExtraTask {
            kind,
            state: ExtraState::Pending,
            id: None,
            units: None,
            reason: None,
            files: Vec::new(),
        }
    }

    /// Back to pending for a new submit (`retry` of a failed one).
    fn reset(&mut self) {
        self.state = ExtraState::Pending;
        self.id = None;
        self.reason = None;
        self.files.clear();
    }
}

/// A job's extra tasks, and whether its clips are already in place (so a
/// `retry` of a failed extra does not fetch them again).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Extras {
    #[serde(default)]
    pub tasks: Vec<ExtraTask>,
    #[serde(default)]
    pub clips_written: bool,
}

impl Extras {
    /// Add a task of `kind` unless the job has one already.
    pub fn want(&mut self, kind: ExtraKind) -> bool {
        if self.tasks.iter().any(|t| t.kind == kind) {
            return false;
        }
        self.tasks.push(ExtraTask::new(kind));
        true
    }

    pub fn get(&self, kind: &ExtraKind) -> Option<&ExtraTask> {
        self.tasks.iter().find(|t| &t.kind == kind)
    }

    pub fn get_mut(&mut self, kind: &ExtraKind) -> Option<&mut ExtraTask> {
        self.tasks.iter_mut().find(|t| &t.kind == kind)
    }

    /// Units of every extra task charged so far.
    pub fn units(&self) -> Option<u64> {
        self.tasks
            .iter()
            .filter_map(|t| t.units)
            .reduce(|a, b| a + b)
    }

    /// Every task is done (or there is none).
    pub fn all_done(&self) -> bool {
        self.tasks.iter().all(|t| t.state == ExtraState::Done)
    }

    /// The failed tasks.
    pub fn failed(&self) -> impl Iterator<Item = &ExtraTask> {
        self.tasks.iter().filter(|t| t.state == ExtraState::Failed)
    }

    /// `retry`: failed tasks are submitted again; the others stay as they
    /// are (a task already stored is never submitted again).
    pub fn retry_failed(&mut self) {
        for task in &mut self.tasks {
            if task.state == ExtraState::Failed {
                task.reset();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_resets_only_failed_tasks() {
        let mut extras = Extras::default();
        assert!(extras.want(ExtraKind::Transcript));
        assert!(extras.want(ExtraKind::Summary));
        assert!(!extras.want(ExtraKind::Summary), "one of each kind");
        let transcript = extras.get_mut(&ExtraKind::Transcript).unwrap();
        transcript.state = ExtraState::Done;
        transcript.id = Some("tr_1".into());
        transcript.units = Some(5);
        let summary = extras.get_mut(&ExtraKind::Summary).unwrap();
        summary.state = ExtraState::Failed;
        summary.id = Some("sm_1".into());
        summary.units = Some(0);
        summary.reason = Some("boom".into());
        assert_eq!(extras.failed().count(), 1);
        extras.retry_failed();
        let summary = extras.get(&ExtraKind::Summary).unwrap();
        assert_eq!(summary.state, ExtraState::Pending);
        assert_eq!(summary.id, None);
        assert_eq!(summary.units, Some(0), "units charged stay counted");
        assert_eq!(
            extras.get(&ExtraKind::Transcript).unwrap().id.as_deref(),
            Some("tr_1")
        );
        assert_eq!(extras.units(), Some(5));
    }

    #[test]
    fn old_records_without_extras_load() {
        let extras: Extras = serde_json::from_str("{}").unwrap();
        assert!(extras.tasks.is_empty() && !extras.clips_written);
        let task: ExtraTask =
            serde_json::from_str(r#"{"kind":"export","preset":"wide","state":"running"}"#).unwrap();
        assert_eq!(
            task.kind,
            ExtraKind::Export {
                preset: "wide".into()
            }
        );
        assert_eq!(task.kind.label(), "export wide");
    }
}
