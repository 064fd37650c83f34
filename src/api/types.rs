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

/// Reply to `POST /clips` (and `/clips/find-moments`). The task id is
/// `id` under `/api/v2` and `project_id` under `/open/v2`; either is taken.
#[derive(Debug, Clone, Deserialize)]
#[serde(try_from = "RawSubmitReply")]
pub struct SubmitReply {
    pub id: String,
    pub name: Option<String>,
    pub status: Option<TaskStatus>,
}

#[derive(Deserialize)]
struct RawSubmitReply {
    #[serde(default, deserialize_with = "opt_lenient_string")]
    id: Option<String>,
    #[serde(default, deserialize_with = "opt_lenient_string")]
    project_id: Option<String>,
    #[serde(default, deserialize_with = "opt_lenient_string")]
    name: Option<String>,
    #[serde(default)]
    status: Option<TaskStatus>,
}

impl TryFrom<RawSubmitReply> for SubmitReply {
    type Error = String;

    fn try_from(raw: RawSubmitReply) -> Result<SubmitReply, String> {
        let id = raw
            .id
            .or(raw.project_id)
            .filter(|id| !id.trim().is_empty())
            .ok_or("the reply names no task (neither id nor project_id)")?;
        Ok(SubmitReply {
            id,
            name: raw.name,
            status: raw.status,
        })
    }
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

/// One clip of a task's results. `idx` is the clip's 0-based rank as
/// clipwatch uses it: the API's `idx` when it is usable, else a rank taken
/// by position (see [`assign_ranks`]), so two clips never share one.
#[derive(Clone, Deserialize, PartialEq)]
#[serde(from = "RawClip")]
pub struct Clip {
    pub idx: u64,
    /// The `idx` as the API sent it (`None`: absent).
    pub sent_idx: Option<Value>,
    /// Why `idx` is not the API's own, when it is not.
    pub rank_note: Option<String>,
    pub title: Option<String>,
    pub begin_ms: Option<u64>,
    pub end_ms: Option<u64>,
    pub thumbnail: Option<String>,
    pub tags: Vec<String>,
    pub desc: Option<String>,
    pub score: Option<f64>,
    pub export_link: Option<String>,
}

/// A clip as it arrives; every field optional and lenient.
#[derive(Deserialize)]
struct RawClip {
    #[serde(default, deserialize_with = "opt_value")]
    idx: Option<Value>,
    #[serde(default, deserialize_with = "opt_lenient_string")]
    title: Option<String>,
    #[serde(default, deserialize_with = "opt_lenient_u64")]
    begin_ms: Option<u64>,
    #[serde(default, deserialize_with = "opt_lenient_u64")]
    end_ms: Option<u64>,
    #[serde(default, deserialize_with = "opt_lenient_string")]
    thumbnail: Option<String>,
    #[serde(default, deserialize_with = "lenient_tags")]
    tags: Vec<String>,
    #[serde(
        default,
        alias = "description",
        deserialize_with = "opt_lenient_string"
    )]
    desc: Option<String>,
    #[serde(default, deserialize_with = "opt_lenient_f64")]
    score: Option<f64>,
    #[serde(default, deserialize_with = "opt_lenient_string")]
    export_link: Option<String>,
}

impl From<RawClip> for Clip {
    fn from(raw: RawClip) -> Clip {
        // Alone, a clip keeps a usable idx; in a list, [`assign_ranks`]
        // settles odd and duplicate ones.
        let idx = raw.idx.as_ref().and_then(usable_idx).unwrap_or(0);
        Clip {
            idx,
            sent_idx: raw.idx,
            rank_note: None,
            title: raw.title,
            begin_ms: raw.begin_ms,
            end_ms: raw.end_ms,
            thumbnail: raw.thumbnail,
            tags: raw.tags,
            desc: raw.desc,
            score: raw.score,
            export_link: raw.export_link,
        }
    }
}

/// An `idx` above this is taken as nonsense (no task lists that many clips),
/// not as a rank: it would make names like `4294967296 title`.
pub const MAX_IDX: u64 = 9_999;

/// The API's `idx` as a rank, if it is a whole number in `0..=MAX_IDX`
/// (as a number or a string).
fn usable_idx(value: &Value) -> Option<u64> {
    let whole = match value {
        Value::Number(n) => n.as_u64().or_else(|| {
            n.as_f64()
                .filter(|f| f.fract() == 0.0 && *f >= 0.0)
                .map(|f| f as u64)
        }),
        Value::String(s) => {
            let s = s.trim();
            s.parse::<u64>().ok().or_else(|| {
                s.parse::<f64>()
                    .ok()
                    .filter(|f| f.fract() == 0.0 && *f >= 0.0 && *f <= MAX_IDX as f64)
                    .map(|f| f as u64)
            })
        }
        _ => None,
    };
    whole.filter(|n| *n <= MAX_IDX)
}

/// Give every clip of one results list its own rank. A usable `idx` is kept
/// by the first clip that has it; a clip whose `idx` is missing, unusable or
/// taken is ranked by its position in the list (or the next free rank after
/// it) and says so in `rank_note`. No two clips end up with the same `idx`,
/// so none can overwrite another's files.
pub fn assign_ranks(clips: &mut [Clip]) {
    let mut taken = std::collections::HashSet::new();
    let mut kept = vec![false; clips.len()];
    for (i, clip) in clips.iter().enumerate() {
        if let Some(idx) = clip.sent_idx.as_ref().and_then(usable_idx) {
            kept[i] = taken.insert(idx);
        }
    }
    for (position, clip) in clips.iter_mut().enumerate() {
        if kept[position] {
            clip.idx = clip.sent_idx.as_ref().and_then(usable_idx).unwrap_or(0);
            clip.rank_note = None;
            continue;
        }
        let mut rank = position as u64;
        while !taken.insert(rank) {
            rank += 1;
        }
        let what = match &clip.sent_idx {
            None | Some(Value::Null) => "no idx".to_string(),
            Some(sent) => match usable_idx(sent) {
                Some(idx) => format!("idx {idx}, a duplicate"),
                None => format!("idx {}, out of range", shown_idx(sent)),
            },
        };
        clip.idx = rank;
        clip.rank_note = Some(format!(
            "the API gave {what}; ranked by position as {}",
            rank + 1
        ));
    }
}

/// A sent `idx` for a note: numbers and strings as they are, cut short.
fn shown_idx(value: &Value) -> String {
    let text = match value {
        Value::String(s) => s.trim().to_string(),
        other => other.to_string(),
    };
    text.chars().take(24).collect()
}

impl Clip {
    /// The same clip in another results reply: everything but the links
    /// (which are new on every call) is equal.
    pub fn same_clip(&self, other: &Clip) -> bool {
        self.sent_idx == other.sent_idx
            && self.title == other.title
            && self.begin_ms == other.begin_ms
            && self.end_ms == other.end_ms
            && self.score == other.score
            && self.desc == other.desc
            && self.tags == other.tags
    }
}

/// Whether two replies list the same clips (in any order), links aside.
pub fn same_clips(a: &[Clip], b: &[Clip]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut unmatched: Vec<&Clip> = b.iter().collect();
    a.iter().all(
        |clip| match unmatched.iter().position(|other| clip.same_clip(other)) {
            Some(i) => {
                unmatched.swap_remove(i);
                true
            }
            None => false,
        },
    )
}

impl std::fmt::Debug for Clip {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Links are signed CDN URLs: say whether they are there, not what they are.
        f.debug_struct("Clip")
            .field("idx", &self.idx)
            .field("rank_note", &self.rank_note)
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

pub(super) fn value_to_u64(v: &Value) -> Option<u64> {
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

fn opt_lenient_u64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    Ok(value_to_u64(&Value::deserialize(d)?))
}

fn opt_lenient_f64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    Ok(value_to_f64(&Value::deserialize(d)?))
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

/// Items that are not clip objects are dropped rather than failing the
/// whole response; a clip with an odd `idx` is kept and ranked by position
/// ([`assign_ranks`]): one odd clip must not cost the others, nor itself.
fn lenient_clips<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Clip>, D::Error> {
    let mut clips: Vec<Clip> = match Value::deserialize(d)? {
        Value::Array(items) => items
            .into_iter()
            .filter(Value::is_object)
            .filter_map(|item| serde_json::from_value::<Clip>(item).ok())
            .collect(),
        _ => Vec::new(),
    };
    assign_ranks(&mut clips);
    Ok(clips)
}

fn opt_value<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    Ok(Some(Value::deserialize(d)?).filter(|v| !v.is_null()))
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
        // The same clip, whichever way it was sent.
        assert!(from_strings.sent_idx != from_numbers.sent_idx);
        let unsent = |c: Clip| Clip {
            sent_idx: None,
            ..c
        };
        assert_eq!(unsent(from_strings.clone()), unsent(from_numbers));
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
        assert_eq!(r.clips.len(), 2, "the clip with an odd idx is kept");
        assert_eq!(r.clips[1].tags, vec!["a", "b"]);
        assert_eq!(r.clips[1].score, None);
        assert_eq!((r.clips[0].idx, r.clips[1].idx), (0, 1));
        assert!(r.clips[0]
            .rank_note
            .as_deref()
            .unwrap()
            .contains("idx x, out of range"));
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

    fn idx_of(clips: Value) -> Vec<(u64, bool)> {
        let r: TaskResults =
            serde_json::from_value(json!({"status": "SUCCEEDED", "clips": clips})).unwrap();
        r.clips
            .iter()
            .map(|c| (c.idx, c.rank_note.is_some()))
            .collect()
    }

    #[test]
    fn odd_idx_values_get_ranks_of_their_own() {
        // Duplicates: the first keeps it, the others go by position.
        assert_eq!(
            idx_of(json!([{"idx": 0}, {"idx": 0}, {"idx": "0"}])),
            [(0, false), (1, true), (2, true)]
        );
        // Negative, missing, huge, fractional: by position, skipping taken ranks.
        assert_eq!(
            idx_of(json!([{"idx": -1}, {}, {"idx": "4294967295"}, {"idx": 1}, {"idx": 2.5}])),
            [(0, true), (2, true), (3, true), (1, false), (4, true)]
        );
        // A shuffled but clean list keeps the API's ranks.
        assert_eq!(
            idx_of(json!([{"idx": 2}, {"idx": "0"}, {"idx": 1.0}])),
            [(2, false), (0, false), (1, false)]
        );
        let r: TaskResults = serde_json::from_value(
            json!({"status": "SUCCEEDED", "clips": [{"idx": 5}, {"idx": 5}]}),
        )
        .unwrap();
        assert_eq!(
            r.clips[1].rank_note.as_deref(),
            Some("the API gave idx 5, a duplicate; ranked by position as 2")
        );
    }

    #[test]
    fn the_same_clips_in_another_reply_are_recognised() {
        let a: TaskResults = serde_json::from_value(json!({"status": "SUCCEEDED", "clips": [
            {"idx": 0, "title": "a", "export_link": "https://x/1"}, {"idx": 1, "title": "b"}
        ]}))
        .unwrap();
        let b: TaskResults = serde_json::from_value(json!({"status": "SUCCEEDED", "clips": [
            {"idx": 1, "title": "b", "export_link": "https://x/3"}, {"idx": 0, "title": "a"}
        ]}))
        .unwrap();
        assert!(same_clips(&a.clips, &b.clips));
        assert!(!same_clips(&a.clips, &b.clips[..1]));
        let c: TaskResults = serde_json::from_value(json!({"status": "SUCCEEDED", "clips": [
            {"idx": 0, "title": "a"}, {"idx": 1, "title": "b, retitled"}
        ]}))
        .unwrap();
        assert!(!same_clips(&a.clips, &c.clips));
    }

    #[test]
    fn a_submit_reply_names_its_task_by_id_or_project_id() {
        let api: SubmitReply = serde_json::from_value(json!({"id": "fm_1"})).unwrap();
        let open: SubmitReply =
            serde_json::from_value(json!({"project_id": 42, "status": "CREATED"})).unwrap();
        assert_eq!((api.id.as_str(), open.id.as_str()), ("fm_1", "42"));
        assert!(serde_json::from_value::<SubmitReply>(json!({"name": "x"})).is_err());
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
