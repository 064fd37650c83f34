//! Small helpers every layer uses, each written once: error text
//! ([`error_chain`]), sizes and times for people ([`human_size`],
//! [`rfc3339`]), hashes ([`sha256_hex`], [`sha256_file`]), retry pacing ([`retry`]) and
//! bounded reads of HTTP bodies ([`read_capped`]). Depends on nothing of ours.

pub mod file_hash;
pub mod retry;

pub use file_hash::sha256_file;

use chrono::{DateTime, SecondsFormat, Utc};
use sha2::{Digest, Sha256};

/// `err` and its sources, joined with `: ` the way a user wants to read
/// them; a source whose text the message already contains is not repeated.
pub fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(inner) = source {
        let inner_text = inner.to_string();
        if !text.contains(&inner_text) {
            text.push_str(": ");
            text.push_str(&inner_text);
        }
        source = inner.source();
    }
    text
}

/// A size for messages: `6.0 GB`, `512.0 MB`, `12 bytes`.
pub fn human_size(bytes: u64) -> String {
    const UNITS: [(&str, f64); 3] = [("GB", 1e9), ("MB", 1e6), ("kB", 1e3)];
    for (unit, size) in UNITS {
        if bytes as f64 >= size {
            return format!("{:.1} {unit}", bytes as f64 / size);
        }
    }
    format!("{bytes} bytes")
}

/// A time as sidecars and `--json` show it: RFC 3339, UTC, whole seconds.
pub fn rfc3339(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Lower-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut out, b| {
            let _ = write!(out, "{b:02x}");
            out
        })
}

/// The SHA-256 of `bytes`, as lower-case hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// At most `max` characters of `text`, with an ellipsis when cut.
pub fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// `text` on one line: control characters (newlines, tabs, escapes) and
/// the two noncharacters XML 1.0 forbids become spaces, runs of spaces one,
/// and no space at either end.
pub fn one_line(text: &str) -> String {
    text.split(|c: char| {
        c.is_whitespace() || c.is_control() || matches!(c, '\u{FFFE}' | '\u{FFFF}')
    })
    .filter(|w| !w.is_empty())
    .collect::<Vec<_>>()
    .join(" ")
}

/// An HTTP body read up to a limit.
#[derive(Debug)]
pub struct Capped {
    pub body: Vec<u8>,
    /// The body was longer than the limit; the rest was left unread.
    pub truncated: bool,
}

/// Read `response`'s body, keeping at most `limit` bytes: a hostile or
/// broken server cannot make us hold more than that. Stops reading at the
/// limit (and says so) rather than draining the rest.
pub async fn read_capped(
    mut response: reqwest::Response,
    limit: usize,
) -> Result<Capped, reqwest::Error> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        let room = limit - body.len();
        if chunk.len() > room {
            body.extend_from_slice(&chunk[..room]);
            return Ok(Capped {
                body,
                truncated: true,
            });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Capped {
        body,
        truncated: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shorten_cuts_on_characters_with_an_ellipsis() {
        assert_eq!(shorten("abcdef", 4), "abc…");
        assert_eq!(shorten("abc", 4), "abc");
        assert_eq!(shorten("ééééé", 3), "éé…");
    }

    #[test]
    fn sizes_read_like_a_person_would_write_them() {
        assert_eq!(human_size(6_000_000_000), "6.0 GB");
        assert_eq!(human_size(512_000_000), "512.0 MB");
        assert_eq!(human_size(12), "12 bytes");
    }

    #[test]
    fn sha256_of_the_empty_string() {
        assert_eq!(
            sha256_hex(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[derive(Debug, thiserror::Error)]
    #[error("outer: inner failed")]
    struct Outer(#[source] Inner);

    #[derive(Debug, thiserror::Error)]
    enum Inner {
        #[error("inner failed")]
        Repeated(#[source] std::io::Error),
    }

    #[test]
    fn a_chain_reads_once_without_repeats() {
        let err = Outer(Inner::Repeated(std::io::Error::other("disk on fire")));
        assert_eq!(error_chain(&err), "outer: inner failed: disk on fire");
    }
}
