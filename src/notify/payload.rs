//! What an event says: the machine payload (`clipwatch.event/1`, for
//! webhook and exec) and the human message (title, one or two lines, a link
//! and the best clip's thumbnail) the chat and push kinds are built from.
//! No credential reaches either: source URLs and reasons are redacted.

use std::path::PathBuf;

use serde_json::{json, Map, Value};

use crate::config::Config;
use crate::model::{Job, State};
use crate::secret::{redact_url, redact_urls_in};
use crate::store::{source_of, OutboxEvent};

pub const SCHEMA: &str = "clipwatch.event/1";

/// How an event should look in a chat: colour, emoji, priority.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    Success,
    Failure,
    Warning,
    Info,
}

/// An event ready for any sink.
#[derive(Debug, Clone)]
pub struct Rendered {
    pub id: String,
    pub event: String,
    /// The `clipwatch.event/1` object.
    pub json: Value,
    pub title: String,
    pub message: String,
    /// Where a click should lead (the source video), when known.
    pub link: Option<String>,
    /// The best clip's thumbnail on disk, when there is one.
    pub thumbnail: Option<PathBuf>,
    pub tone: Tone,
    /// For exec's environment.
    pub job_number: Option<u64>,
    pub folder: Option<PathBuf>,
}

/// Render `event` with the configuration in force (for `output.dir`).
pub fn render(event: &OutboxEvent, config: &Config) -> Rendered {
    let mut json = json!({
        "schema": SCHEMA,
        "id": event.id,
        "event": event.event,
        "at": crate::util::rfc3339(event.at),
    });
    for (key, value) in &event.detail {
        json[key] = value.clone();
    }
    let Some(job) = &event.job else {
        let (title, message, tone) = describe_other(event);
        return Rendered {
            id: event.id.clone(),
            event: event.event.clone(),
            json,
            title,
            message,
            link: None,
            thumbnail: None,
            tone,
            job_number: None,
            folder: None,
        };
    };
    let folder = job.folder.as_ref().map(|f| config.output.dir.join(f));
    let clips = folder.as_ref().map(|f| read_clips(f)).unwrap_or_default();
    json["job"] = job_json(job, folder.as_ref(), &clips);
    let (title, message, tone) = describe_job(&event.event, job, &clips);
    let thumbnail = folder.as_ref().and_then(|f| {
        clips
            .first()
            .and_then(|c| c["thumbnail"].as_str())
            .map(|name| f.join(name))
            .filter(|path| path.is_file())
    });
    Rendered {
        id: event.id.clone(),
        event: event.event.clone(),
        json,
        title,
        message,
        link: Some(redact_url(&job.source.url)).filter(|u| u.starts_with("http")),
        thumbnail,
        tone,
        job_number: Some(job.id),
        folder,
    }
}

/// The job as the payload shows it.
fn job_json(job: &Job, folder: Option<&PathBuf>, clips: &[Value]) -> Value {
    let (reason, will_retry) = match &job.state {
        State::Failed { reason, will_retry } => (Some(redact_urls_in(reason)), Some(*will_retry)),
        // A finished job's word on its result (a query that matched nothing).
        State::Done => (job.note.as_deref().map(redact_urls_in), None),
        _ => (None, None),
    };
    json!({
        "id": job.id,
        "key": redact_urls_in(&job.key),
        "state": job.state.name(),
        "title": job.display_title(),
        "url": redact_url(&job.source.url),
        "feed": job.source.feed,
        "source": source_of(job),
        "preset": job.preset,
        "reason": reason,
        "will_retry": will_retry,
        "units": job.units,
        "folder": folder.map(|f| f.display().to_string()),
        "clips": clips,
    })
}

/// The clips listed in the folder's `project.json`, best first, in the
/// payload's shape; none when it cannot be read.
fn read_clips(folder: &std::path::Path) -> Vec<Value> {
    let Ok(text) = std::fs::read_to_string(folder.join("project.json")) else {
        return Vec::new();
    };
    let Ok(project) = serde_json::from_str::<Value>(&text) else {
        return Vec::new();
    };
    let mut clips: Vec<Value> = project["clips"]
        .as_array()
        .map(|clips| clips.iter().map(clip_json).collect())
        .unwrap_or_default();
    clips.sort_by_key(|c| c["rank"].as_u64().unwrap_or(u64::MAX));
    clips
}

fn clip_json(clip: &Value) -> Value {
    let begin = clip["begin_ms"].as_u64();
    let end = clip["end_ms"].as_u64();
    json!({
        "rank": clip["rank"],
        "title": clip["title"],
        "score": clip["score"],
        "begin_ms": begin,
        "end_ms": end,
        "duration_ms": begin.zip(end).and_then(|(b, e)| e.checked_sub(b)),
        "downloaded": clip["downloaded"],
        "file": clip["files"]["video"],
        "thumbnail": clip["files"]["thumbnail"],
        "sidecar": clip["files"]["sidecar"],
    })
}

/// `"Lex Fridman"`, `"drop folder"` or `"submit"`.
fn source_label(job: &Job) -> String {
    match source_of(job).as_str() {
        "drop" if job.source.feed.is_none() => "drop folder".to_owned(),
        other => other.to_owned(),
    }
}

fn describe_job(event: &str, job: &Job, clips: &[Value]) -> (String, String, Tone) {
    let what = format!("{} · {}", job.display_title(), source_label(job));
    if event == "failed" {
        let (reason, will_retry) = match &job.state {
            State::Failed { reason, will_retry } => (redact_urls_in(reason), *will_retry),
            _ => (String::new(), false),
        };
        let line = reason.lines().next().unwrap_or_default().to_owned();
        let next = if will_retry {
            "clipwatch will retry".to_owned()
        } else {
            format!("run `clipwatch retry {}` to try again", job.id)
        };
        return (
            format!("Failed: {what}"),
            format!("{line} ({next})"),
            Tone::Failure,
        );
    }
    let message = match clips.first() {
        None => job
            .note
            .as_deref()
            .map_or_else(|| "Done; no clips".to_owned(), redact_urls_in),
        Some(best) => {
            let score = match &best["score"] {
                Value::Null => String::new(),
                score => format!(" (score {score})"),
            };
            format!(
                "{} clip{} ready. Best: \"{}\"{score}",
                clips.len(),
                if clips.len() == 1 { "" } else { "s" },
                best["title"].as_str().unwrap_or_default()
            )
        }
    };
    (what, message, Tone::Success)
}

fn describe_other(event: &OutboxEvent) -> (String, String, Tone) {
    let text = |key: &str| {
        event
            .detail
            .get(key)
            .and_then(Value::as_str)
            .map(redact_urls_in)
            .unwrap_or_default()
    };
    let feed = |key: &str| {
        event
            .detail
            .get("feed")
            .and_then(|f| f.get(key))
            .cloned()
            .unwrap_or(Value::Null)
    };
    let feed_name = feed("name").as_str().unwrap_or_default().to_owned();
    match event.event.as_str() {
        "feed_failing" => (
            format!("Feed failing: {feed_name}"),
            format!(
                "{} checks failed in a row; last error: {}",
                feed("consecutive_failures"),
                redact_urls_in(feed("error").as_str().unwrap_or_default())
            ),
            Tone::Warning,
        ),
        "feed_recovered" => (
            format!("Feed recovered: {feed_name}"),
            "The feed is read again.".to_owned(),
            Tone::Success,
        ),
        "key_rejected" => (
            "WayinVideo API key rejected".to_owned(),
            format!(
                "{} All API work is paused until the key is accepted.",
                text("reason")
            ),
            Tone::Failure,
        ),
        "key_accepted" => (
            "WayinVideo API key accepted".to_owned(),
            "API work resumes.".to_owned(),
            Tone::Success,
        ),
        "paused" => (
            "Submitting paused".to_owned(),
            text("reason"),
            Tone::Warning,
        ),
        "resumed" => (
            "Submitting resumed".to_owned(),
            "New videos are submitted again.".to_owned(),
            Tone::Success,
        ),
        _ => (
            "clipwatch test notification".to_owned(),
            text("message"),
            Tone::Info,
        ),
    }
}

/// The event `notify test` sends.
pub fn test_event(sink: &str) -> OutboxEvent {
    let mut detail = Map::new();
    detail.insert("test".into(), Value::Bool(true));
    detail.insert(
        "message".into(),
        Value::String(format!("If you can read this, the sink \"{sink}\" works.")),
    );
    OutboxEvent {
        seq: 0,
        id: format!("evt_test_{:024x}", fastrand::u128(..) >> 32),
        event: "test".into(),
        at: chrono::Utc::now(),
        source: None,
        job: None,
        detail,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Event, Source};

    #[test]
    fn a_query_that_matched_nothing_says_so_when_done() {
        let now = chrono::Utc::now();
        let key = crate::model::moments::job_key("youtube:dQw4w9WgXcQ", Some("demos"));
        let mut job = Job::new(3, key, Source::default(), "demos".into(), now);
        job.state = crate::model::State::Done;
        let (_, plain, _) = describe_job("done", &job, &[]);
        assert_eq!(plain, "Done; no clips");
        job.note = Some(crate::model::moments::no_match_note("demos"));
        let (_, message, tone) = describe_job("done", &job, &[]);
        assert!(
            message.starts_with("the query \"demos\" matched nothing"),
            "{message}"
        );
        assert_eq!(tone, Tone::Success);
        assert_eq!(job_json(&job, None, &[])["reason"], message.as_str());
    }

    #[test]
    fn a_failure_reads_in_one_line_without_credentials() {
        let source = Source {
            url: "https://cdn.example/v.mp4?token=s3cret".into(),
            title: Some("My talk".into()),
            feed: Some("Podcast".into()),
            origin: "feed".into(),
            ..Source::default()
        };
        let now = chrono::Utc::now();
        let mut job = Job::new(7, "url:x".into(), source, "default".into(), now);
        let reason = "download of https://cdn.example/c.mp4?sig=abc failed\nsecond line";
        job.apply(
            Event::Failed {
                reason: reason.into(),
                will_retry: false,
            },
            now,
        )
        .unwrap();
        let (title, message, tone) = describe_job("failed", &job, &[]);
        assert_eq!(title, "Failed: My talk · Podcast");
        assert_eq!(
            message,
            "download of https://cdn.example/c.mp4?sig=redacted failed \
             (run `clipwatch retry 7` to try again)"
        );
        assert_eq!(tone, Tone::Failure);
        let json = job_json(&job, None, &[]);
        assert_eq!(json["url"], "https://cdn.example/v.mp4?token=redacted");
        assert_eq!(json["will_retry"], false);
        assert!(!json.to_string().contains("s3cret") && !json.to_string().contains("sig=abc"));
    }
}
