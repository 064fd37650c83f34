//! How a job is laid out in the `jobs` tree. The first byte of a record
//! says which layout it is, so records of both layouts live side by side
//! (the migration converts them one batch at a time, `migrate.rs`):
//!
//! - `{`: the job as JSON, self-describing. Every job that is not a plain
//!   skip is stored this way, and every record written before the compact
//!   format (clipwatch ≤ 10705a0) is one.
//! - [`COMPACT_SKIP_V1`] and [`COMPACT_SKIP_V2`] (V1 and the video's length
//!   after it, for feeds that give one): a job recorded as skipped on first sight and never
//!   touched since (the bulk of a store: a feed's backfill and filtered
//!   entries), in a compact binary form: varints and length-prefixed
//!   strings, no field names, about a third of the JSON.
//!
//! A job is written compact only if decoding the compact bytes gives back
//! exactly the same [`Job`]; anything else (a history of more than the one
//! skip, a task, a field the compact form does not carry) stays JSON. So
//! nothing is ever lost by the choice.
//!
//! **Adding a field to [`Job`]:** give it `#[serde(default)]` (JSON records
//! written before it must still read) and a default in [`Job::new`]. Nothing
//! here needs to change: a skipped job whose new field holds its default is
//! still written compact (the decoded job gets the default from
//! `Job::new`); one whose field holds anything else no longer round-trips,
//! so it is written as JSON. To carry a new field in the compact form too,
//! add a `COMPACT_SKIP_V3` byte with its own layout and keep decoding V1
//! and V2.

use chrono::{DateTime, Utc};

use crate::model::{Event, Job, Source};

use super::StoreError;

/// The version byte of the compact skip layout (see the module doc).
pub(super) const COMPACT_SKIP_V1: u8 = 1;
/// V1 followed by `duration_s` (a varint).
pub(super) const COMPACT_SKIP_V2: u8 = 2;
const JSON_START: u8 = b'{';

/// The record to store for `job`: compact when that loses nothing, else JSON.
pub(super) fn encode(job: &Job) -> Vec<u8> {
    if let Some(compact) = encode_compact(job) {
        if decode_compact(&job.key, &compact).as_ref() == Some(job) {
            return compact;
        }
    }
    encode_json(job)
}

pub(super) fn encode_json(job: &Job) -> Vec<u8> {
    serde_json::to_vec(job).expect("a job always serializes")
}

pub(super) fn decode(key: &str, bytes: &[u8]) -> Result<Job, StoreError> {
    match bytes.first() {
        Some(&COMPACT_SKIP_V1 | &COMPACT_SKIP_V2) => {
            decode_compact(key, bytes).ok_or_else(|| corrupt(key))
        }
        _ => serde_json::from_slice(bytes).map_err(|source| StoreError::Corrupt {
            key: key.to_string(),
            source,
        }),
    }
}

/// Whether the record is in the compact layout (always a skipped job).
pub(super) fn is_compact(bytes: &[u8]) -> bool {
    bytes.first() != Some(&JSON_START)
}

/// The job number of a compact record (`None` for JSON).
pub(super) fn compact_id(bytes: &[u8]) -> Option<u64> {
    match bytes.split_first()? {
        (&(COMPACT_SKIP_V1 | COMPACT_SKIP_V2), rest) => Reader(rest).uint(),
        _ => None,
    }
}

/// The state name of a stored record without decoding all of it.
pub(super) fn state_name(bytes: &[u8]) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct StateOnly {
        state: String,
    }
    if is_compact(bytes) {
        return Some("skipped".into());
    }
    serde_json::from_slice::<StateOnly>(bytes)
        .ok()
        .map(|s| s.state)
}

fn corrupt(key: &str) -> StoreError {
    let source = <serde_json::Error as serde::de::Error>::custom(
        "a compact record ends early or has an unknown layout",
    );
    StoreError::Corrupt {
        key: key.to_string(),
        source,
    }
}

/// The fields a first-sight skip carries; `None` if the job is not one.
fn encode_compact(job: &Job) -> Option<Vec<u8>> {
    let crate::model::State::Skipped { reason } = &job.state else {
        return None;
    };
    let version = match job.source.duration_s {
        Some(_) => COMPACT_SKIP_V2,
        None => COMPACT_SKIP_V1,
    };
    let mut out = Writer(vec![version]);
    out.uint(job.id);
    let source = &job.source;
    // Most URLs are the key's own (`url:…`, `youtube:ID`): not stored twice.
    let derived = url_from_key(&job.key);
    out.opt_str(Some(source.url.as_str()).filter(|url| Some(*url) != derived.as_deref()));
    out.opt_str(source.title.as_deref());
    out.opt_str(source.feed.as_deref());
    match source.published {
        Some(at) => {
            out.0.push(1);
            out.time(at);
        }
        None => out.0.push(0),
    }
    out.str(&source.origin);
    out.opt_str(source.link.as_deref());
    out.str(&job.preset);
    out.opt_str(job.name.as_deref());
    out.str(reason);
    out.time(job.created_at);
    if let Some(seconds) = job.source.duration_s {
        out.uint(u64::from(seconds));
    }
    Some(out.0)
}

fn decode_compact(key: &str, bytes: &[u8]) -> Option<Job> {
    let (&version, rest) = bytes.split_first()?;
    let mut input = Reader(rest);
    let id = input.uint()?;
    let url = match input.opt_str()? {
        Some(url) => url,
        None => url_from_key(key)?,
    };
    let source = Source {
        url,
        title: input.opt_str()?,
        feed: input.opt_str()?,
        published: match input.byte()? {
            0 => None,
            _ => Some(input.time()?),
        },
        origin: input.str()?,
        link: input.opt_str()?,
        duration_s: None,
    };
    let preset = input.str()?;
    let name = input.opt_str()?;
    let reason = input.str()?;
    let at = input.time()?;
    let duration_s = match version {
        COMPACT_SKIP_V1 => None,
        COMPACT_SKIP_V2 => Some(u32::try_from(input.uint()?).ok()?),
        _ => return None,
    };
    if !input.0.is_empty() {
        return None;
    }
    let source = Source {
        duration_s,
        ..source
    };
    let mut job = Job::new(id, key.to_string(), source, preset, at);
    job.name = name;
    job.apply(Event::Skipped { reason }, at).ok()?;
    Some(job)
}

/// The URL a canonical key most often stands for (absent: no guess).
fn url_from_key(key: &str) -> Option<String> {
    if let Some(id) = key.strip_prefix("youtube:") {
        return Some(format!("https://www.youtube.com/watch?v={id}"));
    }
    key.strip_prefix("url:").map(str::to_owned)
}

pub(super) struct Writer(pub(super) Vec<u8>);

impl Writer {
    /// A length-prefixed byte string.
    pub(super) fn slice(&mut self, bytes: &[u8]) {
        self.uint(bytes.len() as u64);
        self.0.extend_from_slice(bytes);
    }

    /// LEB128: 7 bits a byte, low bits first.
    fn uint(&mut self, mut n: u64) {
        while n >= 0x80 {
            self.0.push((n as u8) | 0x80);
            n >>= 7;
        }
        self.0.push(n as u8);
    }

    fn str(&mut self, s: &str) {
        self.uint(s.len() as u64);
        self.0.extend_from_slice(s.as_bytes());
    }

    /// Absent is 0, present is its length plus one.
    fn opt_str(&mut self, s: Option<&str>) {
        match s {
            None => self.uint(0),
            Some(s) => {
                self.uint(s.len() as u64 + 1);
                self.0.extend_from_slice(s.as_bytes());
            }
        }
    }

    /// Seconds (zigzag) and nanoseconds.
    fn time(&mut self, at: DateTime<Utc>) {
        let secs = at.timestamp();
        self.uint(((secs << 1) ^ (secs >> 63)) as u64);
        self.uint(u64::from(at.timestamp_subsec_nanos()));
    }
}

pub(super) struct Reader<'a>(pub(super) &'a [u8]);

impl<'a> Reader<'a> {
    /// A length-prefixed byte string.
    pub(super) fn slice(&mut self) -> Option<&'a [u8]> {
        let len = usize::try_from(self.uint()?).ok()?;
        if len > self.0.len() {
            return None;
        }
        let (bytes, rest) = self.0.split_at(len);
        self.0 = rest;
        Some(bytes)
    }

    fn byte(&mut self) -> Option<u8> {
        let (&first, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(first)
    }

    fn uint(&mut self) -> Option<u64> {
        let mut n = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = self.byte()?;
            n |= u64::from(byte & 0x7f) << shift;
            if byte < 0x80 {
                return Some(n);
            }
        }
        None
    }

    fn bytes(&mut self, len: u64) -> Option<String> {
        let len = usize::try_from(len).ok()?;
        if len > self.0.len() {
            return None;
        }
        let (text, rest) = self.0.split_at(len);
        self.0 = rest;
        String::from_utf8(text.to_vec()).ok()
    }

    fn str(&mut self) -> Option<String> {
        let len = self.uint()?;
        self.bytes(len)
    }

    fn opt_str(&mut self) -> Option<Option<String>> {
        match self.uint()? {
            0 => Some(None),
            len => self.bytes(len - 1).map(Some),
        }
    }

    fn time(&mut self) -> Option<DateTime<Utc>> {
        let zigzag = self.uint()?;
        let secs = ((zigzag >> 1) as i64) ^ -((zigzag & 1) as i64);
        let nanos = u32::try_from(self.uint()?).ok()?;
        DateTime::from_timestamp(secs, nanos)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::State;

    fn skipped(title: Option<&str>) -> Job {
        let at = DateTime::parse_from_rfc3339("2026-11-27T10:00:00.123456789Z")
            .unwrap()
            .with_timezone(&Utc);
        let source = Source {
            url: "https://www.youtube.com/watch?v=abcdefghijk".into(),
            title: title.map(str::to_owned),
            feed: Some("news".into()),
            published: Some(at - chrono::Duration::days(400)),
            origin: "feed".into(),
            link: None,
            duration_s: None,
        };
        let mut job = Job::new(
            123_456,
            "youtube:abcdefghijk".into(),
            source,
            "meta".into(),
            at,
        );
        job.apply(
            Event::Skipped {
                reason: "backfill".into(),
            },
            at,
        )
        .unwrap();
        job
    }

    #[test]
    fn a_first_sight_skip_is_compact_and_reads_back_the_same() {
        let mut own_url = skipped(None);
        own_url.source.url = "https://youtu.be/abcdefghijk?t=1".into();
        let mut with_length = skipped(None);
        with_length.source.duration_s = Some(3_725);
        for job in [
            skipped(Some("Ünïcode title")),
            skipped(None),
            own_url,
            with_length,
        ] {
            let record = encode(&job);
            let version = match job.source.duration_s {
                Some(_) => COMPACT_SKIP_V2,
                None => COMPACT_SKIP_V1,
            };
            assert_eq!(record[0], version);
            let json = encode_json(&job).len();
            assert!(record.len() * 2 < json, "{} vs {json} bytes", record.len());
            assert_eq!(decode(&job.key, &record).unwrap(), job);
            assert_eq!(state_name(&record).as_deref(), Some("skipped"));
        }
    }

    #[test]
    fn anything_the_compact_form_would_lose_stays_json() {
        let mut longer_history = skipped(None);
        longer_history
            .history
            .insert(0, longer_history.history[0].clone());
        let mut with_files = skipped(None);
        with_files.files.push("a.mp4".into());
        let mut queued = skipped(None);
        queued.state = State::Queued;
        for job in [longer_history, with_files, queued] {
            let record = encode(&job);
            assert_eq!(record[0], b'{');
            assert_eq!(decode(&job.key, &record).unwrap(), job);
        }
    }

    #[test]
    fn a_truncated_or_unknown_record_is_corrupt_not_a_panic() {
        let record = encode(&skipped(Some("t")));
        for len in 1..record.len() {
            assert!(decode("k", &record[..len]).is_err(), "length {len}");
        }
        assert!(decode("k", &[7, 1, 2]).is_err());
    }
}
