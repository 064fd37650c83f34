//! `summary.md`: the summary, its tags, and its highlights (each event
//! under its highlight), every time a deep link into the source when the
//! source is on YouTube (`https://youtu.be/ID?t=S`), else the time as text.
//! The highlights also make the best chapters (`chapters.txt`).

use serde_json::Value;

use super::{ms, text_of};
use crate::model::identity;
use crate::output::exports::ChapterPoint;
use crate::util::one_line;

/// How the times of a summary link back to the source.
#[derive(Debug, Clone)]
pub struct SummaryLinks {
    /// The job's canonical key (`youtube:ID` gives links).
    pub key: String,
    pub source_url: String,
    /// The job's title, when the reply has none.
    pub title: String,
}

impl SummaryLinks {
    /// `MM:SS` (or `H:MM:SS`), linked when the source is YouTube.
    fn at(&self, ms: u64) -> String {
        let shown = timestamp(ms);
        if self.key.starts_with("youtube:") {
            let link = identity::source_link(&self.key, &self.source_url, ms);
            format!("[{shown}]({link})")
        } else {
            shown
        }
    }
}

pub fn markdown(data: &Value, links: &SummaryLinks) -> String {
    let title = text_of(data.get("title")).unwrap_or_else(|| links.title.clone());
    let mut out = format!("# {}\n\n", one_line(&title));
    let summary = summary_text(data.get("summary"));
    if !summary.is_empty() {
        out.push_str(&summary);
        out.push_str("\n\n");
    }
    let tags = tags(data.get("tags"));
    if !tags.is_empty() {
        out.push_str(&format!("**Tags:** {}\n\n", tags.join(" ")));
    }
    let highlights = data
        .get("highlights")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if !highlights.is_empty() {
        out.push_str("## Highlights\n\n");
    }
    for highlight in &highlights {
        let desc = describe(highlight);
        match ms(highlight.get("start")) {
            Some(start) => out.push_str(&format!("- {} {desc}\n", links.at(start))),
            None => out.push_str(&format!("- {desc}\n")),
        }
        let events = highlight.get("events").and_then(Value::as_array);
        for event in events.into_iter().flatten() {
            let desc = describe(event);
            match ms(event.get("timestamp").or_else(|| event.get("start"))) {
                Some(at) => out.push_str(&format!("  - {} {desc}\n", links.at(at))),
                None => out.push_str(&format!("  - {desc}\n")),
            }
        }
    }
    out
}

/// One chapter point per highlight with a start, in the reply's order of
/// importance (the first wins when two are too close).
pub fn chapter_points(data: &Value) -> Vec<ChapterPoint> {
    let highlights = data.get("highlights").and_then(Value::as_array);
    highlights
        .into_iter()
        .flatten()
        .enumerate()
        .filter_map(|(i, h)| {
            Some(ChapterPoint {
                start_ms: ms(h.get("start"))?,
                title: describe(h),
                priority: i as u64 + 1,
            })
        })
        .collect()
}

/// A highlight's or event's words: `desc`, else `title`, else `text`.
fn describe(item: &Value) -> String {
    ["desc", "title", "text", "description"]
        .iter()
        .find_map(|k| text_of(item.get(*k)))
        .map(|t| one_line(&t))
        .unwrap_or_default()
}

/// The summary as text: a string as it is; an object's string fields
/// (`text`, `content`, … one paragraph each) when a client sends one.
fn summary_text(value: Option<&Value>) -> String {
    match value {
        Some(Value::String(s)) => s.trim().to_owned(),
        Some(Value::Object(map)) => map
            .values()
            .filter_map(|v| v.as_str())
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join("\n\n"),
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(Value::as_str)
            .collect::<Vec<_>>()
            .join("\n\n"),
        _ => String::new(),
    }
}

/// Tags as `#tag` words, from a list or a comma-separated string.
fn tags(value: Option<&Value>) -> Vec<String> {
    let raw: Vec<String> = match value {
        Some(Value::Array(items)) => items.iter().filter_map(|v| text_of(Some(v))).collect(),
        Some(Value::String(s)) => s.split([',', ' ']).map(str::to_owned).collect(),
        _ => Vec::new(),
    };
    raw.iter()
        .map(|t| one_line(t).replace(' ', ""))
        .filter(|t| !t.is_empty() && t != "#")
        .map(|t| {
            if t.starts_with('#') {
                t
            } else {
                format!("#{t}")
            }
        })
        .collect()
}

fn timestamp(ms: u64) -> String {
    let secs = ms / 1000;
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    if h > 0 {
        format!("{h}:{m:02}:{s:02}")
    } else {
        format!("{m:02}:{s:02}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn reply() -> Value {
        json!({"id": "sm_9", "status": "SUCCEEDED", "title": "Pricing webinar",
        "summary": "Tiers, explained.", "tags": ["#pricing", "saas"],
        "highlights": [
            {"desc": "Why tiers", "start": 0, "end": 310000,
             "events": [{"timestamp": "45000", "desc": "Three tiers introduced"}]},
            {"desc": "Q&A", "start": 3_700_000u64}
        ]})
    }

    fn links(key: &str) -> SummaryLinks {
        SummaryLinks {
            key: key.into(),
            source_url: "https://example.com/v.mp4".into(),
            title: "job title".into(),
        }
    }

    #[test]
    fn youtube_sources_get_deep_links() {
        let md = markdown(&reply(), &links("youtube:dQw4w9WgXcQ"));
        assert!(
            md.starts_with("# Pricing webinar\n\nTiers, explained.\n\n**Tags:** #pricing #saas\n")
        );
        assert!(
            md.contains("- [00:00](https://youtu.be/dQw4w9WgXcQ?t=0) Why tiers\n"),
            "{md}"
        );
        assert!(
            md.contains("  - [00:45](https://youtu.be/dQw4w9WgXcQ?t=45) Three tiers introduced\n")
        );
        assert!(md.contains("- [1:01:40](https://youtu.be/dQw4w9WgXcQ?t=3700) Q&A\n"));
    }

    #[test]
    fn other_sources_get_the_time_as_text() {
        let md = markdown(&reply(), &links("url:https://example.com/v.mp4"));
        assert!(
            md.contains("- 00:00 Why tiers\n  - 00:45 Three tiers introduced\n"),
            "{md}"
        );
        assert!(!md.contains("]("), "{md}");
    }

    #[test]
    fn highlights_become_chapter_points() {
        let points = chapter_points(&reply());
        assert_eq!(points.len(), 2);
        assert_eq!(
            (points[1].start_ms, points[1].title.as_str()),
            (3_700_000, "Q&A")
        );
        assert!(chapter_points(&json!({"summary": {"text": "x"}})).is_empty());
        assert_eq!(summary_text(Some(&json!({"text": " x "}))), "x");
    }
}
