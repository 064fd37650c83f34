//! The JSON written beside the clips (SPEC §6): one sidecar per clip and a
//! `project.json` per source, written last. Numbers are always numbers here,
//! whatever the API sent, and no link (they are signed) is ever written.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::api::types::Clip;
use crate::model::Job;

pub const CLIP_SCHEMA: &str = "clipwatch.clip/1";
pub const PROJECT_SCHEMA: &str = "clipwatch.project/1";

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SourceInfo {
    pub key: String,
    pub url: String,
    pub title: String,
    pub feed: Option<String>,
    /// RFC 3339; `null` when the video's date is unknown (never the submit
    /// time).
    pub published: Option<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct TaskInfo {
    pub id: String,
    pub project_name: String,
    pub preset: String,
    /// `"moments"` for a Find Moments task; absent for AI Clipping.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
    /// The Find Moments query (also in `options`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub query: Option<String>,
    pub options: Map<String, Value>,
}

/// Names of the files written for one clip, relative to its folder.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct ClipFiles {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub video: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub thumbnail: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sidecar: Option<String>,
}

/// Where a clip of a local file starts and ends: the file's original name
/// and the times (its path on the server is no link for anyone).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SourceFile {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub begin: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end: Option<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ClipSidecar {
    pub schema: &'static str,
    pub rank: u64,
    pub idx: u64,
    /// Why `rank`/`idx` are not the API's own `idx` (missing, duplicated,
    /// out of range), when they are not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rank_note: Option<String>,
    pub title: String,
    pub description: String,
    pub hashtags: Vec<String>,
    pub score: Option<Value>,
    pub begin_ms: Option<u64>,
    pub end_ms: Option<u64>,
    pub duration_ms: Option<u64>,
    pub begin: Option<String>,
    pub end: Option<String>,
    pub source_link: Option<String>,
    /// For local files, in place of `source_link`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_file: Option<SourceFile>,
    pub files: ClipFiles,
    pub source: SourceInfo,
    pub task: TaskInfo,
}

impl ClipSidecar {
    pub fn new(
        clip: &Clip,
        files: ClipFiles,
        source: SourceInfo,
        task: TaskInfo,
        source_link: Option<String>,
    ) -> ClipSidecar {
        let duration_ms = match (clip.begin_ms, clip.end_ms) {
            (Some(b), Some(e)) if e >= b => Some(e - b),
            _ => None,
        };
        ClipSidecar {
            schema: CLIP_SCHEMA,
            rank: clip.idx + 1,
            idx: clip.idx,
            rank_note: clip.rank_note.clone(),
            title: clip.title.clone().unwrap_or_default(),
            description: clip.desc.clone().unwrap_or_default(),
            hashtags: clip.tags.iter().map(|t| hashtag(t)).collect(),
            score: clip.score.map(number),
            begin_ms: clip.begin_ms,
            end_ms: clip.end_ms,
            duration_ms,
            begin: clip.begin_ms.map(timestamp),
            end: clip.end_ms.map(timestamp),
            source_link,
            source_file: None,
            files,
            source,
            task,
        }
    }
}

/// One clip's line in `project.json`, downloaded or not.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ProjectClip {
    pub rank: u64,
    pub idx: u64,
    /// As in the sidecar: why the rank is not the API's `idx`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rank_note: Option<String>,
    pub title: String,
    pub score: Option<Value>,
    pub begin_ms: Option<u64>,
    pub end_ms: Option<u64>,
    pub downloaded: bool,
    pub files: ClipFiles,
    /// Why the clip was not downloaded (min_score, max_clips, no link).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub not_downloaded: Option<String>,
    /// A problem that did not stop the clip (e.g. the thumbnail failed).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

impl ProjectClip {
    pub fn new(clip: &Clip, files: ClipFiles, not_downloaded: Option<String>) -> ProjectClip {
        ProjectClip {
            rank: clip.idx + 1,
            idx: clip.idx,
            rank_note: clip.rank_note.clone(),
            title: clip.title.clone().unwrap_or_default(),
            score: clip.score.map(number),
            begin_ms: clip.begin_ms,
            end_ms: clip.end_ms,
            downloaded: not_downloaded.is_none() && files.video.is_some(),
            files,
            not_downloaded,
            warnings: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ProjectTask {
    #[serde(flatten)]
    pub task: TaskInfo,
    pub status: String,
    pub api_units_usage: Option<u64>,
    /// Epoch milliseconds, as the API gives it, and as RFC 3339.
    pub expire_at: Option<u64>,
    pub expires: Option<String>,
    pub submitted_at: Option<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Project {
    pub schema: &'static str,
    pub clipwatch_version: &'static str,
    pub job: u64,
    pub source: SourceInfo,
    pub task: ProjectTask,
    pub clips: Vec<ProjectClip>,
    /// What the job says about its result (a query that matched nothing).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    pub queued_at: String,
    pub completed_at: String,
}

impl Project {
    pub fn new(
        job: &Job,
        source: SourceInfo,
        task: ProjectTask,
        clips: Vec<ProjectClip>,
        now: DateTime<Utc>,
    ) -> Project {
        Project {
            schema: PROJECT_SCHEMA,
            clipwatch_version: env!("CARGO_PKG_VERSION"),
            job: job.id,
            source,
            task,
            clips,
            note: job.note.clone(),
            queued_at: rfc3339(job.created_at),
            completed_at: rfc3339(now),
        }
    }
}

pub use crate::util::rfc3339;

/// "00:01:15.000" for 75 000 ms.
pub fn timestamp(ms: u64) -> String {
    let (hours, rest) = (ms / 3_600_000, ms % 3_600_000);
    let (minutes, rest) = (rest / 60_000, rest % 60_000);
    let (seconds, millis) = (rest / 1000, rest % 1000);
    format!("{hours:02}:{minutes:02}:{seconds:02}.{millis:03}")
}

/// A score as a JSON number: an integer when it is whole.
fn number(score: f64) -> Value {
    if score.fract() == 0.0 && score.abs() < 1e15 {
        Value::from(score as i64)
    } else {
        serde_json::Number::from_f64(score).map_or(Value::Null, Value::Number)
    }
}

fn hashtag(tag: &str) -> String {
    let tag = tag.trim();
    if tag.starts_with('#') {
        tag.to_string()
    } else {
        format!("#{tag}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clip() -> Clip {
        serde_json::from_value(serde_json::json!({
            "idx": "0", "title": "sample title", "begin_ms": "15000", "end_ms": "75000",
            "tags": ["insight", "#analysis"], "desc": "d", "score": "81",
            "export_link": "https://cdn/x.mp4?sig=secret"
        }))
        .unwrap()
    }

    fn source() -> SourceInfo {
        SourceInfo {
            key: "youtube:ID".into(),
            url: "https://www.youtube.com/watch?v=ID".into(),
            title: "t".into(),
            feed: None,
            published: Some("2026-11-27T10:00:00Z".into()),
        }
    }

    fn task() -> TaskInfo {
        TaskInfo {
            id: "proj_1".into(),
            project_name: "p".into(),
            preset: "default".into(),
            mode: None,
            query: None,
            options: Map::new(),
        }
    }

    #[test]
    fn sidecar_matches_the_spec_example() {
        let files = ClipFiles {
            video: Some("01 sample title.mp4".into()),
            thumbnail: Some("01 sample title.jpg".into()),
            sidecar: None,
        };
        let sidecar = ClipSidecar::new(
            &clip(),
            files,
            source(),
            task(),
            Some("https://youtu.be/ID?t=15".into()),
        );
        let json = serde_json::to_value(&sidecar).unwrap();
        assert_eq!(json["schema"], "clipwatch.clip/1");
        assert_eq!(json["rank"], 1);
        assert_eq!(json["idx"], 0);
        assert_eq!(json["score"], 81);
        assert!(json["score"].is_u64() || json["score"].is_i64());
        assert_eq!(json["begin_ms"], 15000);
        assert_eq!(json["duration_ms"], 60000);
        assert_eq!(json["begin"], "00:00:15.000");
        assert_eq!(json["end"], "00:01:15.000");
        assert_eq!(
            json["hashtags"],
            serde_json::json!(["#insight", "#analysis"])
        );
        assert_eq!(json["files"]["video"], "01 sample title.mp4");
        assert!(!json.to_string().contains("sig=secret"));
    }

    #[test]
    fn timestamps() {
        assert_eq!(timestamp(0), "00:00:00.000");
        assert_eq!(timestamp(3_723_004), "01:02:03.004");
    }

    #[test]
    fn fractional_scores_stay_fractional() {
        assert_eq!(number(81.5), serde_json::json!(81.5));
        assert_eq!(number(81.0), serde_json::json!(81));
    }
}
