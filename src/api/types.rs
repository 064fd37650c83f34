//! What the API returns, decoded leniently.
//!
//! The vendor has renamed fields between documentation versions and sends
//! numbers sometimes as strings ("81") and sometimes as numbers (81). Every
//! decoder here accepts both, and a missing optional field is not an error.

use serde::{Deserialize, Deserializer};
use serde_json::Value;

/// Status of a clipping task as the API reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TaskStatus {
    Created,
    Queued,
    Ongoing,
    Succeeded,
    Failed,
    /// A status this client does not know; treated as still running.
    Other(String),
}

impl TaskStatus {
    pub fn parse(text: &str) -> TaskStatus {
        match text.trim().to_ascii_uppercase().as_str() {
            "CREATED" => TaskStatus::Created,
            "QUEUED" => TaskStatus::Queued,
            "ONGOING" => TaskStatus::Ongoing,
            "SUCCEEDED" => TaskStatus::Succeeded,
            "FAILED" => TaskStatus::Failed,
            _ => TaskStatus::Other(text.to_string()),
        }
    }

    /// Whether the task has stopped running (and no longer holds a slot).
    pub fn is_ended(&self) -> bool {
        matches!(self, TaskStatus::Succeeded | TaskStatus::Failed)
    }

    pub fn as_str(&self) -> &str {
        match self {
            TaskStatus::Created => "CREATED",
            TaskStatus::Queued => "QUEUED",
            TaskStatus::Ongoing => "ONGOING",
            TaskStatus::Succeeded => "SUCCEEDED",
            TaskStatus::Failed => "FAILED",
            TaskStatus::Other(s) => s,
        }
    }
}

impl<'de> Deserialize<'de> for TaskStatus {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Ok(TaskStatus::parse(&text))
    }
}

/// Reply to `POST /clips`.
#[derive(Debug, Clone, Deserialize)]
pub struct SubmitReply {
    #[serde(deserialize_with = "lenient_string")]
    pub id: String,
    #[serde(default, deserialize_with = "opt_lenient_string")]
    pub name: Option<String>,
    #[serde(default)]
    pub status: Option<TaskStatus>,
}

/// Reply to `POST /upload/single-file`. Older docs spell `identity` as `identify`.
#[derive(Clone, Deserialize)]
pub struct UploadTicket {
    pub upload_url: String,
    #[serde(alias = "identify")]
    pub identity: String,
}

impl std::fmt::Debug for UploadTicket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The upload URL is presigned: whoever holds it can write to the bucket.
        f.debug_struct("UploadTicket")
            .field("upload_url", &"<redacted>")
            .field("identity", &self.identity)
            .finish()
    }
}

/// Reply to `GET /clips/results/{id}`.
#[derive(Debug, Clone, Deserialize)]
pub struct TaskResults {
    #[serde(default, deserialize_with = "opt_lenient_string")]
    pub id: Option<String>,
    #[serde(default, deserialize_with = "opt_lenient_string")]
    pub name: Option<String>,
    pub status: TaskStatus,
    /// Epoch milliseconds after which the results are gone.
    #[serde(default, deserialize_with = "opt_lenient_u64")]
    pub expire_at: Option<u64>,
    /// API units charged; `cost_usage` in later documentation.
    #[serde(default, alias = "cost_usage", deserialize_with = "opt_lenient_u64")]
    pub api_units_usage: Option<u64>,
    #[serde(default, deserialize_with = "opt_lenient_string")]
    pub error_message: Option<String>,
    #[serde(default, deserialize_with = "lenient_clips")]
    pub clips: Vec<Clip>,
}

/// One clip of a task's results.
#[derive(Clone, Deserialize, PartialEq)]
pub struct Clip {
    #[serde(deserialize_with = "lenient_u64")]
    pub idx: u64,
    #[serde(default, deserialize_with = "opt_lenient_string")]
    pub title: Option<String>,
    #[serde(default, deserialize_with = "opt_lenient_u64")]
    pub begin_ms: Option<u64>,
    #[serde(default, deserialize_with = "opt_lenient_u64")]
    pub end_ms: Option<u64>,
    #[serde(default, deserialize_with = "opt_lenient_string")]
    pub thumbnail: Option<String>,
    #[serde(default, deserialize_with = "lenient_tags")]
    pub tags: Vec<String>,
    #[serde(
        default,
        alias = "description",
        deserialize_with = "opt_lenient_string"
    )]
    pub desc: Option<String>,
    #[serde(default, deserialize_with = "opt_lenient_f64")]
    pub score: Option<f64>,
    #[serde(default, deserialize_with = "opt_lenient_string")]
    pub export_link: Option<String>,
}

impl std::fmt::Debug for Clip {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Links are signed CDN URLs: say whether they are there, not what they are.
        f.debug_struct("Clip")
            .field("idx", &self.idx)
            .field("title", &self.title)
            .field("begin_ms", &self.begin_ms)
            .field("end_ms", &self.end_ms)
            .field("score", &self.score)
            .field("has_thumbnail", &self.thumbnail.is_some())
            .field("has_export_link", &self.export_link.is_some())
            .finish()
    }
}

impl TaskResults {
    /// With export on, SUCCEEDED is only complete once every clip has a link.
    pub fn missing_export_links(&self) -> usize {
        self.clips
            .iter()
            .filter(|c| c.export_link.as_deref().is_none_or(str::is_empty))
            .count()
    }
}

fn value_to_u64(v: &Value) -> Option<u64> {
    match v {
        Value::Number(n) => n
            .as_u64()
            .or_else(|| n.as_f64().filter(|f| *f >= 0.0).map(|f| f.round() as u64)),
        Value::String(s) => {
            let s = s.trim();
            s.parse::<u64>().ok().or_else(|| {
                s.parse::<f64>()
                    .ok()
                    .filter(|f| *f >= 0.0)
                    .map(|f| f.round() as u64)
            })
        }
        _ => None,
    }
}

fn value_to_f64(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok().filter(|f| f.is_finite()),
        _ => None,
    }
}

fn lenient_u64<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    let v = Value::deserialize(d)?;
    value_to_u64(&v).ok_or_else(|| serde::de::Error::custom(format!("expected a number, got {v}")))
}

fn opt_lenient_u64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    Ok(value_to_u64(&Value::deserialize(d)?))
}

fn opt_lenient_f64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    Ok(value_to_f64(&Value::deserialize(d)?))
}

fn lenient_string<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    opt_lenient_string(d)?.ok_or_else(|| serde::de::Error::custom("expected a string"))
}

fn opt_lenient_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::String(s) => Some(s),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    })
}

fn lenient_tags<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::Array(items) => items
            .into_iter()
            .filter_map(|item| match item {
                Value::String(s) => Some(s),
                Value::Number(n) => Some(n.to_string()),
                _ => None,
            })
            .collect(),
        // Some responses send a comma-separated string.
        Value::String(s) => s
            .split(',')
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(str::to_string)
            .collect(),
        _ => Vec::new(),
    })
}

/// Clips that cannot be decoded (no usable idx) are dropped rather than
/// failing the whole response: one odd clip must not cost the others.
fn lenient_clips<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Clip>, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::Array(items) => items
            .into_iter()
            .filter_map(|item| serde_json::from_value::<Clip>(item).ok())
            .collect(),
        _ => Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn clips_accept_strings_and_numbers() {
        let from_strings: Clip = serde_json::from_value(json!({
            "idx": "0", "title": "t", "begin_ms": "15000", "end_ms": "75000",
            "tags": ["a"], "desc": "d", "score": "81"
        }))
        .unwrap();
        let from_numbers: Clip = serde_json::from_value(json!({
            "idx": 0, "title": "t", "begin_ms": 15000, "end_ms": 75000,
            "tags": ["a"], "desc": "d", "score": 81
        }))
        .unwrap();
        assert_eq!(from_strings, from_numbers);
        assert_eq!(from_strings.begin_ms, Some(15000));
        assert_eq!(from_strings.score, Some(81.0));
    }

    #[test]
    fn results_accept_both_cost_field_names() {
        let seed: TaskResults =
            serde_json::from_value(json!({"status": "SUCCEEDED", "api_units_usage": 120})).unwrap();
        let later: TaskResults =
            serde_json::from_value(json!({"status": "SUCCEEDED", "cost_usage": "120"})).unwrap();
        assert_eq!(seed.api_units_usage, Some(120));
        assert_eq!(later.api_units_usage, Some(120));
    }

    #[test]
    fn odd_clips_and_fields_do_not_fail_the_response() {
        let r: TaskResults = serde_json::from_value(json!({
            "status": "ongoing",
            "expire_at": "1741824000000",
            "clips": [{"idx": "x"}, {"idx": 1, "score": null, "tags": "a, b"}, 7]
        }))
        .unwrap();
        assert_eq!(r.status, TaskStatus::Ongoing);
        assert_eq!(r.expire_at, Some(1_741_824_000_000));
        assert_eq!(r.clips.len(), 1);
        assert_eq!(r.clips[0].tags, vec!["a", "b"]);
        assert_eq!(r.clips[0].score, None);
    }

    #[test]
    fn upload_ticket_accepts_old_spelling_and_hides_url() {
        let t: UploadTicket = serde_json::from_value(
            json!({"upload_url": "https://s3/x?X-Amz-Signature=zzz", "identify": "up_1"}),
        )
        .unwrap();
        assert_eq!(t.identity, "up_1");
        assert!(!format!("{t:?}").contains("zzz"));
    }

    #[test]
    fn missing_links_are_counted() {
        let r: TaskResults = serde_json::from_value(json!({
            "status": "SUCCEEDED",
            "clips": [{"idx": 0, "export_link": "http://x"}, {"idx": 1}, {"idx": 2, "export_link": ""}]
        }))
        .unwrap();
        assert_eq!(r.missing_export_links(), 2);
    }

    #[test]
    fn unknown_status_is_kept() {
        assert_eq!(
            TaskStatus::parse("PAUSED"),
            TaskStatus::Other("PAUSED".into())
        );
        assert!(!TaskStatus::parse("PAUSED").is_ended());
    }
}
