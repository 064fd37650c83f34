//! The files an extra task leaves in a job's folder (issue 18): from a
//! transcript, `transcript.json` (as returned, numbers normalised),
//! `transcript.srt`, `transcript.vtt` and `transcript.txt`; from a summary,
//! `summary.md` (and `summary.json`, which the chapters are read from).
//! Each format is a pure function of the API's reply in its own file; they
//! are written the crash-safe way every file of the folder is (`.part`,
//! fsync, rename).

mod json;
mod subtitles;
mod summary;

use std::path::Path;

use serde_json::Value;

use crate::output::download::{write_atomic, DownloadError};
use crate::output::exports::ChapterPoint;

pub use json::normalise;
pub use subtitles::{segments, Segment};
pub use summary::{chapter_points, SummaryLinks};

pub const SUMMARY_JSON: &str = "summary.json";

/// Write the transcript files for a transcript task's `data`; the names
/// written.
pub async fn write_transcript(folder: &Path, data: &Value) -> Result<Vec<String>, DownloadError> {
    let segments = segments(data);
    let files = [
        ("transcript.json", pretty(&normalise(data))),
        ("transcript.srt", subtitles::srt(&segments)),
        ("transcript.vtt", subtitles::vtt(&segments)),
        ("transcript.txt", subtitles::text(&segments)),
    ];
    write_all(folder, &files).await
}

/// Write `summary.md` and `summary.json` for a summary task's `data`.
pub async fn write_summary(
    folder: &Path,
    data: &Value,
    links: &SummaryLinks,
) -> Result<Vec<String>, DownloadError> {
    let files = [
        ("summary.md", summary::markdown(data, links)),
        (SUMMARY_JSON, pretty(&normalise(data))),
    ];
    write_all(folder, &files).await
}

/// The chapter points of the summary stored in `folder`, if there is one
/// with highlights.
pub fn stored_chapter_points(folder: &Path) -> Option<Vec<ChapterPoint>> {
    let text = std::fs::read_to_string(folder.join(SUMMARY_JSON)).ok()?;
    let data: Value = serde_json::from_str(&text).ok()?;
    let points = chapter_points(&data);
    (!points.is_empty()).then_some(points)
}

async fn write_all(folder: &Path, files: &[(&str, String)]) -> Result<Vec<String>, DownloadError> {
    let mut written = Vec::new();
    for (name, text) in files {
        write_atomic(&folder.join(name), text.as_bytes()).await?;
        written.push((*name).to_owned());
    }
    Ok(written)
}

fn pretty(value: &Value) -> String {
    let mut text = serde_json::to_string_pretty(value).unwrap_or_default();
    text.push('\n');
    text
}

/// Milliseconds from a number or a numeric string.
fn ms(value: Option<&Value>) -> Option<u64> {
    match value? {
        Value::Number(n) => n
            .as_u64()
            .or_else(|| n.as_f64().filter(|f| *f >= 0.0).map(|f| f.round() as u64)),
        Value::String(s) => s
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|f| f.is_finite() && *f >= 0.0)
            .map(|f| f.round() as u64),
        _ => None,
    }
}

/// A string field, trimmed; `None` when absent or blank.
fn text_of(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}
