//! Editor exports written beside `project.json` (issue 18): `chapters.txt`
//! for a YouTube description, `clips.csv` for a spreadsheet, `clips.edl`
//! (CMX 3600) and `markers.xml` (FCPXML) so an editor can cut the long
//! video by hand. They cost nothing: they are made locally from the clip
//! list, which is why they matter most in metadata-only mode.
//!
//! Each format is a pure function from [`Input`] to text in its own file;
//! [`write`] writes the chosen ones the crash-safe way every sidecar is
//! written (`.part`, fsync, rename, folder fsync), before `project.json`,
//! whose presence still means the folder is complete.

mod chapters;
mod csv;
mod edl;
mod fcpxml;

use std::path::Path;

use serde_json::Value;

use crate::output::download::{write_atomic, DownloadError};
use crate::output::naming::sanitize_component;
use crate::output::sidecar::Project;
use crate::util::one_line;

pub use chapters::ChapterPoint;

/// Frames per second of the EDL's and the FCPXML's timecodes. The API does
/// not say the source's rate, so one common rate is used: 30 fps, non-drop
/// frame. On a 29.97 fps source an editor's NDF timecode runs 0.1 % slow
/// against the clock, about 3.6 s per hour of video.
pub const FPS: u64 = 30;

/// One export format, as named in `[output] exports`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ExportKind {
    Chapters,
    Csv,
    Edl,
    Fcpxml,
}

impl ExportKind {
    /// Every format, in the order they are written; the default.
    pub const ALL: [ExportKind; 4] = [
        ExportKind::Chapters,
        ExportKind::Csv,
        ExportKind::Edl,
        ExportKind::Fcpxml,
    ];

    /// The name in the configuration.
    pub fn name(self) -> &'static str {
        match self {
            ExportKind::Chapters => "chapters",
            ExportKind::Csv => "csv",
            ExportKind::Edl => "edl",
            ExportKind::Fcpxml => "fcpxml",
        }
    }

    /// The file written in the job's folder.
    pub fn file_name(self) -> &'static str {
        match self {
            ExportKind::Chapters => "chapters.txt",
            ExportKind::Csv => "clips.csv",
            ExportKind::Edl => "clips.edl",
            ExportKind::Fcpxml => "markers.xml",
        }
    }

    pub fn from_name(name: &str) -> Option<ExportKind> {
        ExportKind::ALL.into_iter().find(|k| k.name() == name)
    }

    fn render(self, input: &Input) -> String {
        match self {
            // Summary highlights make better chapters than the clips.
            ExportKind::Chapters if !input.chapter_points.is_empty() => {
                chapters::render(&input.chapter_points)
            }
            ExportKind::Chapters => chapters::render(&chapters::from_clips(&input.clips)),
            ExportKind::Csv => csv::render(&input.clips),
            ExportKind::Edl => edl::render(input),
            ExportKind::Fcpxml => fcpxml::render(input),
        }
    }
}

/// One clip as the exports see it.
#[derive(Debug, Clone, PartialEq)]
pub struct ExportClip {
    /// 1 is the best clip.
    pub rank: u64,
    pub title: String,
    pub begin_ms: Option<u64>,
    pub end_ms: Option<u64>,
    pub score: Option<Value>,
    /// The clip's video file in the folder, when one was rendered.
    pub file: Option<String>,
}

impl ExportClip {
    /// Begin and end, when both are known and in order.
    fn span(&self) -> Option<(u64, u64)> {
        match (self.begin_ms, self.end_ms) {
            (Some(b), Some(e)) if e > b => Some((b, e)),
            _ => None,
        }
    }

    /// The title on one line; "Clip N" when the API gave none.
    fn label(&self) -> String {
        let title = one_line(&self.title);
        if title.is_empty() {
            format!("Clip {}", self.rank)
        } else {
            title
        }
    }
}

/// Everything the exports are made of: plain data, no I/O.
#[derive(Debug, Clone, PartialEq)]
pub struct Input {
    /// The source video's title.
    pub title: String,
    /// The file name an editor's copy of the source video is expected to
    /// have: the dropped file's own name, else the title with `.mp4`.
    pub media_name: String,
    /// The clips in the folder (those `min_score`/`max_clips` kept), by rank.
    pub clips: Vec<ExportClip>,
    /// The summary's highlights, when the job has a summary: the chapters.
    pub chapter_points: Vec<ChapterPoint>,
}

impl Input {
    /// The exports' view of a finished folder's `project.json`: the clips it
    /// holds (each has a sidecar), not those the plan left out.
    pub fn from_project(project: &Project) -> Input {
        let source = &project.source;
        let media_name = if source.key.starts_with("file:") {
            Path::new(&source.url)
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
        } else {
            String::new()
        };
        let media_name = if media_name.is_empty() {
            format!("{}.mp4", sanitize_component(&source.title))
        } else {
            media_name
        };
        let mut clips: Vec<ExportClip> = project
            .clips
            .iter()
            .filter(|c| c.files.sidecar.is_some())
            .map(|c| ExportClip {
                rank: c.rank,
                title: c.title.clone(),
                begin_ms: c.begin_ms,
                end_ms: c.end_ms,
                score: c.score.clone(),
                file: c.files.video.clone(),
            })
            .collect();
        clips.sort_by_key(|c| c.rank);
        Input {
            title: source.title.clone(),
            media_name,
            clips,
            chapter_points: Vec::new(),
        }
    }
}

/// Write the `kinds` of export for `input` into `folder`; the names of the
/// files written, relative to it.
pub async fn write(
    folder: &Path,
    kinds: &[ExportKind],
    input: &Input,
) -> Result<Vec<String>, DownloadError> {
    let mut written = Vec::new();
    for kind in kinds {
        let text = kind.render(input);
        write_atomic(&folder.join(kind.file_name()), text.as_bytes()).await?;
        written.push(kind.file_name().to_string());
    }
    Ok(written)
}

/// Write `chapters.txt` again from `points` (a summary that came after
/// the clips were written).
pub async fn write_chapters(folder: &Path, points: &[ChapterPoint]) -> Result<(), DownloadError> {
    let text = chapters::render(points);
    write_atomic(
        &folder.join(ExportKind::Chapters.file_name()),
        text.as_bytes(),
    )
    .await
}

/// Milliseconds to whole frames at [`FPS`], to the nearest frame.
fn frames(ms: u64) -> u64 {
    (ms * FPS + 500) / 1000
}

/// A clip's score as text: "81", "81.5", or "" when unknown.
fn score_text(score: &Option<Value>) -> String {
    match score {
        Some(Value::Number(n)) => n.to_string(),
        Some(Value::String(s)) => s.clone(),
        _ => String::new(),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub fn clip(rank: u64, title: &str, begin: u64, end: u64, score: i64) -> ExportClip {
        ExportClip {
            rank,
            title: title.into(),
            begin_ms: Some(begin),
            end_ms: Some(end),
            score: Some(Value::from(score)),
            file: Some(format!("{rank:02} {title}.mp4")),
        }
    }

    pub fn input(clips: Vec<ExportClip>) -> Input {
        Input {
            title: "Episode 12: pricing".into(),
            media_name: "Episode 12 pricing.mp4".into(),
            clips,
            chapter_points: Vec::new(),
        }
    }

    #[test]
    fn names_round_trip() {
        for kind in ExportKind::ALL {
            assert_eq!(ExportKind::from_name(kind.name()), Some(kind));
        }
        assert_eq!(ExportKind::from_name("xml"), None);
    }

    #[test]
    fn frames_round_to_the_nearest() {
        assert_eq!(frames(0), 0);
        assert_eq!(frames(1000), 30);
        assert_eq!(frames(1016), 30);
        assert_eq!(frames(1017), 31);
    }

    #[test]
    fn titles_go_on_one_line() {
        assert_eq!(one_line("  a\nb\t\tc \r\n"), "a b c");
        assert_eq!(
            one_line("nul\0bell\x07esc\x1b[31m\u{FFFF}"),
            "nul bell esc [31m"
        );
        let untitled = ExportClip {
            title: " \n".into(),
            ..clip(3, "", 0, 1, 1)
        };
        assert_eq!(untitled.label(), "Clip 3");
    }

    #[tokio::test]
    async fn writes_only_the_chosen_files() {
        let dir = tempfile::tempdir().unwrap();
        let input = input(vec![clip(1, "a", 15_000, 75_000, 81)]);
        let written = write(dir.path(), &[ExportKind::Csv, ExportKind::Edl], &input)
            .await
            .unwrap();
        assert_eq!(written, ["clips.csv", "clips.edl"]);
        let mut names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        assert_eq!(names, ["clips.csv", "clips.edl"]);
        assert!(write(dir.path(), &[], &input).await.unwrap().is_empty());
    }
}
