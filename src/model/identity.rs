//! Canonical keys for sources: the identity the store dedupes on (SPEC §4).
//!
//! A key is `youtube:<video id>`, `url:<normalized URL>` or
//! `file:<sha256 of the content>`. Every YouTube link form maps to one key, and
//! tracking parameters, fragments, default ports and case never make two keys
//! for one page. Canonicalizing a key's `submit_url` gives the same key back.

use serde::{Deserialize, Serialize};
use url::Url;

/// What kind of source a key names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SourceKind {
    Youtube,
    Url,
    File,
}

impl SourceKind {
    /// The kind named by a key's prefix, if any.
    pub fn of_key(key: &str) -> Option<SourceKind> {
        if key.starts_with(YOUTUBE_PREFIX) {
            Some(SourceKind::Youtube)
        } else if key.starts_with(URL_PREFIX) {
            Some(SourceKind::Url)
        } else if key.starts_with(FILE_PREFIX) {
            Some(SourceKind::File)
        } else {
            None
        }
    }
}

/// A source's identity and the URL to hand to the API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceKey {
    /// `youtube:<id>`, `url:<normalized URL>` or `file:<sha256 hex>`.
    pub key: String,
    pub kind: SourceKind,
    /// The URL submitted to the API; empty for files until they are uploaded.
    pub submit_url: String,
}

/// Why an input has no canonical key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdentityError {
    #[error("empty source: expected an http(s) URL")]
    Empty,
    #[error(
        "{input:?} is not a URL ({reason}): expected an http(s) URL such as \
         https://www.youtube.com/watch?v=ID (a bare YouTube id is ambiguous; write https://youtu.be/ID)"
    )]
    NotUrl { input: String, reason: String },
    #[error(
        "{input:?} uses the unsupported scheme {scheme:?}: only http and https URLs can be clipped"
    )]
    UnsupportedScheme { input: String, scheme: String },
    #[error(
        "{input:?} is a YouTube link that names no video (a channel, playlist or search page?): \
         link a single video (watch?v=, youtu.be/, /shorts/, /live/)"
    )]
    NoYoutubeVideo { input: String },
    #[error("{input:?} has an invalid YouTube video id: expected 11 characters of A-Z, a-z, 0-9, _ or -")]
    BadYoutubeId { input: String },
}

const YOUTUBE_PREFIX: &str = "youtube:";
const URL_PREFIX: &str = "url:";
const FILE_PREFIX: &str = "file:";
const FEED_ENTRY_PREFIX: &str = "yt:video:";

/// Hosts that serve YouTube videos under `/watch`, `/shorts/`, `/embed/`, ...
const YOUTUBE_HOSTS: &[&str] = &[
    "youtube.com",
    "www.youtube.com",
    "m.youtube.com",
    "music.youtube.com",
    "youtube-nocookie.com",
    "www.youtube-nocookie.com",
];

/// Hosts whose path is the video id.
const SHORT_HOSTS: &[&str] = &["youtu.be", "www.youtu.be"];

/// Path prefixes on [`YOUTUBE_HOSTS`] followed by the video id.
const ID_PATHS: &[&str] = &["shorts", "live", "embed", "v", "e"];

/// Query parameters that only track the click; compared case-insensitively.
/// Anything starting with `utm_` is tracking too.
const TRACKING_PARAMS: &[&str] = &[
    "fbclid",
    "gclid",
    "gclsrc",
    "dclid",
    "gbraid",
    "wbraid",
    "msclkid",
    "mc_cid",
    "mc_eid",
    "igshid",
    "igsh",
    "si",
    "ref_src",
    "ref_url",
    "_ga",
    "_gl",
    "yclid",
    "twclid",
    "ttclid",
    "li_fat_id",
    "_hsenc",
    "_hsmi",
    "__hstc",
    "__hssc",
    "__hsfp",
    "mkt_tok",
    "oly_anon_id",
    "oly_enc_id",
    "vero_id",
    "vero_conv",
    "rb_clickid",
    "s_cid",
    "srsltid",
];

/// The canonical key of a source given as text: a URL or a `yt:video:ID`
/// feed entry id. Surrounding whitespace is ignored.
pub fn canonical_key(input: &str) -> Result<SourceKey, IdentityError> {
    let input = input.trim();
    if input.is_empty() {
        return Err(IdentityError::Empty);
    }
    if let Some(id) = strip_prefix_ignore_case(input, FEED_ENTRY_PREFIX) {
        return if is_video_id(id) {
            Ok(youtube_key(id))
        } else {
            Err(IdentityError::BadYoutubeId {
                input: input.to_owned(),
            })
        };
    }
    let mut url = Url::parse(input).map_err(|e| IdentityError::NotUrl {
        input: input.to_owned(),
        reason: e.to_string(),
    })?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(IdentityError::UnsupportedScheme {
            input: input.to_owned(),
            scheme: url.scheme().to_owned(),
        });
    }
    if is_youtube_host(&url) {
        return match video_id_of(&url) {
            Some(id) => Ok(youtube_key(&id)),
            None => Err(IdentityError::NoYoutubeVideo {
                input: input.to_owned(),
            }),
        };
    }
    normalize(&mut url);
    let submit_url = url.to_string();
    Ok(SourceKey {
        key: format!("{URL_PREFIX}{submit_url}"),
        kind: SourceKind::Url,
        submit_url,
    })
}

/// The video id of a YouTube link or `yt:video:ID` entry id, if it is one.
pub fn youtube_video_id(url: &str) -> Option<String> {
    let url = url.trim();
    if let Some(id) = strip_prefix_ignore_case(url, FEED_ENTRY_PREFIX) {
        return is_video_id(id).then(|| id.to_owned());
    }
    let parsed = Url::parse(url).ok()?;
    if !matches!(parsed.scheme(), "http" | "https") || !is_youtube_host(&parsed) {
        return None;
    }
    video_id_of(&parsed)
}

/// The key of a local file from the hex SHA-256 of its content. The submit URL
/// is empty: the upload provides it later.
pub fn file_key(sha256_hex: &str) -> SourceKey {
    SourceKey {
        key: format!("{FILE_PREFIX}{}", sha256_hex.trim().to_ascii_lowercase()),
        kind: SourceKind::File,
        submit_url: String::new(),
    }
}

/// The short id used for `{id}` in templates: the YouTube video id, the first
/// 12 hex digits of a file's hash, or the first 12 hex digits of
/// `sha256(key)` for any other key.
pub fn short_id(key: &str) -> String {
    // A Find Moments job names the same video.
    let key = super::moments::video_key(key);
    if let Some(id) = key.strip_prefix(YOUTUBE_PREFIX) {
        return id.to_owned();
    }
    if let Some(hash) = key.strip_prefix(FILE_PREFIX) {
        if hash.len() >= 12 && hash.bytes().all(|b| b.is_ascii_hexdigit()) {
            return hash[..12].to_ascii_lowercase();
        }
    }
    crate::util::sha256_hex(key.as_bytes())[..12].to_string()
}

/// A link to the source at `begin_ms`, for sidecars: `https://youtu.be/ID?t=S`
/// for YouTube, `<submit_url>#t=S` otherwise (seconds, floored). Empty when
/// there is no URL to link to (a file not uploaded yet).
pub fn source_link(key: &str, submit_url: &str, begin_ms: u64) -> String {
    let key = super::moments::video_key(key);
    let seconds = begin_ms / 1000;
    if let Some(id) = key.strip_prefix(YOUTUBE_PREFIX) {
        return format!("https://youtu.be/{id}?t={seconds}");
    }
    let base = submit_url.trim();
    let base = base.split_once('#').map_or(base, |(before, _)| before);
    if base.is_empty() {
        return String::new();
    }
    format!("{base}#t={seconds}")
}

fn youtube_key(id: &str) -> SourceKey {
    SourceKey {
        key: format!("{YOUTUBE_PREFIX}{id}"),
        kind: SourceKind::Youtube,
        submit_url: format!("https://www.youtube.com/watch?v={id}"),
    }
}

fn strip_prefix_ignore_case<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &s[prefix.len()..])
}

fn is_video_id(id: &str) -> bool {
    id.len() == 11
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

fn is_youtube_host(url: &Url) -> bool {
    url.host_str()
        .is_some_and(|h| YOUTUBE_HOSTS.contains(&h) || SHORT_HOSTS.contains(&h))
}

/// The video id of a URL already known to be on a YouTube host.
fn video_id_of(url: &Url) -> Option<String> {
    let host = url.host_str()?;
    let mut segments = url.path_segments()?.filter(|s| !s.is_empty());
    let candidate = if SHORT_HOSTS.contains(&host) {
        segments.next().map(str::to_owned)
    } else {
        match segments.next() {
            Some("watch") => url
                .query_pairs()
                .find(|(name, _)| name == "v")
                .map(|(_, value)| value.into_owned()),
            Some(first) if ID_PATHS.contains(&first) => segments.next().map(str::to_owned),
            _ => None,
        }
    }?;
    // Old flash embeds put parameters in the path: `/v/ID&hl=en`.
    let id = candidate.split('&').next().unwrap_or_default();
    is_video_id(id).then(|| id.to_owned())
}

/// Drops the fragment and tracking parameters. Scheme and host case, default
/// ports and an empty path are already normalized by [`Url::parse`]. The kept
/// parameters keep their order and exact spelling, so this is idempotent.
fn normalize(url: &mut Url) {
    url.set_fragment(None);
    let kept: Vec<&str> = url
        .query()
        .unwrap_or_default()
        .split('&')
        .filter(|pair| !pair.is_empty() && !is_tracking(pair))
        .collect();
    let query = kept.join("&");
    url.set_query((!query.is_empty()).then_some(query.as_str()));
}

fn is_tracking(pair: &str) -> bool {
    let name = pair.split_once('=').map_or(pair, |(name, _)| name);
    let name = name.to_ascii_lowercase();
    name.starts_with("utm_") || TRACKING_PARAMS.contains(&name.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "dQw4w9WgXcQ";

    #[test]
    fn every_youtube_form_gives_the_same_key() {
        let forms = [
            "https://www.youtube.com/watch?v=dQw4w9WgXcQ",
            "http://www.youtube.com/watch?v=dQw4w9WgXcQ",
            "https://youtube.com/watch?v=dQw4w9WgXcQ",
            "https://m.youtube.com/watch?v=dQw4w9WgXcQ",
            "https://music.youtube.com/watch?v=dQw4w9WgXcQ&feature=share",
            "https://www.youtube.com/watch?feature=youtu.be&v=dQw4w9WgXcQ",
            "https://www.youtube.com/watch?v=dQw4w9WgXcQ&list=PLx0sYbCqOb8TBPRdmBHs5Iftvv9TPboYG&index=2",
            "https://www.youtube.com/watch?v=dQw4w9WgXcQ&t=42s#comments",
            "https://www.youtube.com/watch/?v=dQw4w9WgXcQ",
            "HTTPS://WWW.YOUTUBE.COM/watch?v=dQw4w9WgXcQ",
            "https://youtu.be/dQw4w9WgXcQ",
            "https://youtu.be/dQw4w9WgXcQ?si=AbCdEf123&t=15",
            "http://youtu.be/dQw4w9WgXcQ#t=1m",
            "https://www.youtube.com/shorts/dQw4w9WgXcQ",
            "https://youtube.com/shorts/dQw4w9WgXcQ?feature=share",
            "https://www.youtube.com/live/dQw4w9WgXcQ?si=x",
            "https://www.youtube.com/embed/dQw4w9WgXcQ?start=10&autoplay=1",
            "https://www.youtube-nocookie.com/embed/dQw4w9WgXcQ",
            "https://youtube-nocookie.com/embed/dQw4w9WgXcQ",
            "https://www.youtube.com/v/dQw4w9WgXcQ",
            "https://www.youtube.com/v/dQw4w9WgXcQ&hl=en_US&fs=1",
            "yt:video:dQw4w9WgXcQ",
            "  https://youtu.be/dQw4w9WgXcQ \n",
        ];
        for form in forms {
            let key = canonical_key(form).unwrap_or_else(|e| panic!("{form}: {e}"));
            assert_eq!(key.key, format!("youtube:{ID}"), "{form}");
            assert_eq!(key.kind, SourceKind::Youtube, "{form}");
            assert_eq!(
                key.submit_url,
                format!("https://www.youtube.com/watch?v={ID}"),
                "{form}"
            );
            assert_eq!(youtube_video_id(form).as_deref(), Some(ID), "{form}");
        }
    }

    #[test]
    fn ids_with_dash_and_underscore_are_kept_exactly() {
        let key = canonical_key("https://youtu.be/a-B_c9-_Z0x").unwrap();
        assert_eq!(key.key, "youtube:a-B_c9-_Z0x");
    }

    #[test]
    fn youtube_links_without_a_video_are_errors() {
        for input in [
            "https://www.youtube.com/@lexfridman",
            "https://www.youtube.com/channel/UCSHZKyawb77ixDdsGog4iWA",
            "https://www.youtube.com/playlist?list=PL123",
            "https://www.youtube.com/watch?v=short",
            "https://www.youtube.com/watch?v=dQw4w9WgXcQQ",
            "https://youtu.be/",
            "https://www.youtube.com/",
        ] {
            let err = canonical_key(input).unwrap_err();
            assert!(
                matches!(err, IdentityError::NoYoutubeVideo { .. }),
                "{input}: {err:?}"
            );
            assert_eq!(youtube_video_id(input), None, "{input}");
        }
    }

    #[test]
    fn youtube_video_id_rejects_other_sites_and_bare_ids() {
        assert_eq!(youtube_video_id(ID), None);
        assert_eq!(
            youtube_video_id("https://example.com/watch?v=dQw4w9WgXcQ"),
            None
        );
        assert_eq!(
            youtube_video_id("https://notyoutube.com/shorts/dQw4w9WgXcQ"),
            None
        );
        assert_eq!(youtube_video_id("yt:video:bad"), None);
    }

    #[test]
    fn tracking_parameters_are_removed_and_the_rest_kept_in_order() {
        let key = canonical_key(
            "https://example.com/ep?utm_source=x&b=2&fbclid=F&UTM_Medium=y&a=1&si=s&gclid=g\
             &dclid=d&msclkid=m&mc_cid=c&mc_eid=e&igshid=i&ref_src=r&_ga=1.2&a=3",
        )
        .unwrap();
        assert_eq!(key.key, "url:https://example.com/ep?b=2&a=1&a=3");
        assert_eq!(key.kind, SourceKind::Url);
        assert_eq!(key.submit_url, "https://example.com/ep?b=2&a=1&a=3");
    }

    #[test]
    fn an_all_tracking_or_empty_query_is_removed() {
        for input in [
            "https://example.com/ep?utm_source=x&utm_campaign=y",
            "https://example.com/ep?",
            "https://example.com/ep?&&",
            "https://example.com/ep#frag",
            "https://example.com/ep?fbclid=1#t=30",
        ] {
            assert_eq!(
                canonical_key(input).unwrap().key,
                "url:https://example.com/ep",
                "{input}"
            );
        }
    }

    #[test]
    fn parameter_values_and_encoding_are_kept() {
        let key = canonical_key("https://example.com/a%20b?q=x+y&r=%2F&utm_x=1").unwrap();
        assert_eq!(key.key, "url:https://example.com/a%20b?q=x+y&r=%2F");
        // A parameter merely containing a tracking name is not tracking.
        let key = canonical_key("https://example.com/?sig=1&xsi=2&si_x=3").unwrap();
        assert_eq!(key.key, "url:https://example.com/?sig=1&xsi=2&si_x=3");
    }

    #[test]
    fn scheme_and_host_are_lower_cased_but_path_is_not() {
        let key = canonical_key("HTTPS://Example.COM/Talks/Ep1.MP4?Q=A").unwrap();
        assert_eq!(key.key, "url:https://example.com/Talks/Ep1.MP4?Q=A");
    }

    #[test]
    fn default_ports_are_dropped_and_others_kept() {
        let cases = [
            ("http://example.com:80/x", "url:http://example.com/x"),
            ("https://example.com:443/x", "url:https://example.com/x"),
            (
                "https://example.com:8443/x",
                "url:https://example.com:8443/x",
            ),
            ("http://example.com:443/x", "url:http://example.com:443/x"),
        ];
        for (input, want) in cases {
            assert_eq!(canonical_key(input).unwrap().key, want, "{input}");
        }
    }

    #[test]
    fn an_empty_path_becomes_slash() {
        assert_eq!(
            canonical_key("https://Example.com").unwrap().key,
            "url:https://example.com/"
        );
        assert_eq!(
            canonical_key("https://example.com?utm_source=a")
                .unwrap()
                .key,
            "url:https://example.com/"
        );
    }

    #[test]
    fn canonicalization_is_idempotent() {
        for input in [
            "https://youtu.be/dQw4w9WgXcQ?si=x",
            "yt:video:dQw4w9WgXcQ",
            "HTTP://Example.com:80/a/b?x=1&utm_source=y&z=%41#frag",
            "https://example.com/path with space?q=a b",
            "https://example.com/ünï?q=ü",
            "https://bücher.example/x",
            "https://example.com",
        ] {
            let first = canonical_key(input).unwrap();
            let second = canonical_key(&first.submit_url).unwrap();
            assert_eq!(first, second, "{input}");
            let third = canonical_key(&second.submit_url).unwrap();
            assert_eq!(second, third, "{input}");
        }
    }

    #[test]
    fn non_http_inputs_are_errors() {
        type IsExpected = fn(&IdentityError) -> bool;
        let cases: &[(&str, IsExpected)] = &[
            ("", |e| matches!(e, IdentityError::Empty)),
            ("   \t\n", |e| matches!(e, IdentityError::Empty)),
            (ID, |e| matches!(e, IdentityError::NotUrl { .. })),
            ("example.com/video", |e| {
                matches!(e, IdentityError::NotUrl { .. })
            }),
            ("www.youtube.com/watch?v=dQw4w9WgXcQ", |e| {
                matches!(e, IdentityError::NotUrl { .. })
            }),
            ("ftp://example.com/v.mp4", |e| {
                matches!(e, IdentityError::UnsupportedScheme { .. })
            }),
            ("file:///tmp/v.mp4", |e| {
                matches!(e, IdentityError::UnsupportedScheme { .. })
            }),
            ("javascript:alert(1)", |e| {
                matches!(e, IdentityError::UnsupportedScheme { .. })
            }),
            ("http://", |e| matches!(e, IdentityError::NotUrl { .. })),
            ("yt:video:", |e| {
                matches!(e, IdentityError::BadYoutubeId { .. })
            }),
            ("yt:video:dQw4w9WgXc!", |e| {
                matches!(e, IdentityError::BadYoutubeId { .. })
            }),
        ];
        for (input, is_expected) in cases {
            let err = canonical_key(input).unwrap_err();
            assert!(is_expected(&err), "{input:?}: {err:?}");
            assert!(!err.to_string().is_empty());
        }
    }

    #[test]
    fn error_messages_name_the_input_and_the_fix() {
        let msg = canonical_key(ID).unwrap_err().to_string();
        assert!(msg.contains(ID) && msg.contains("youtu.be/ID"), "{msg}");
        let msg = canonical_key("ftp://x/y").unwrap_err().to_string();
        assert!(msg.contains("\"ftp\"") && msg.contains("http"), "{msg}");
    }

    #[test]
    fn file_keys_use_the_lower_case_hash() {
        let hash = "ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef0123456789";
        let key = file_key(hash);
        assert_eq!(key.key, format!("file:{}", hash.to_ascii_lowercase()));
        assert_eq!(key.kind, SourceKind::File);
        assert_eq!(key.submit_url, "");
        assert_eq!(SourceKind::of_key(&key.key), Some(SourceKind::File));
    }

    #[test]
    fn short_ids() {
        assert_eq!(short_id("youtube:dQw4w9WgXcQ"), ID);
        let file = file_key(&"0123456789ab".repeat(6)[..64]);
        assert_eq!(short_id(&file.key), "0123456789ab");
        let url = canonical_key("https://example.com/ep1").unwrap();
        let id = short_id(&url.key);
        assert_eq!(id.len(), 12);
        assert!(id
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
        // Independently of crate::util: the first six bytes of the digest.
        use sha2::{Digest, Sha256};
        let digest = Sha256::digest(b"url:https://example.com/ep1");
        let full: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(id, full[..12]);
        assert_ne!(id, short_id("url:https://example.com/ep2"));
    }

    #[test]
    fn source_links_floor_to_seconds() {
        let yt = canonical_key("https://youtu.be/dQw4w9WgXcQ").unwrap();
        assert_eq!(
            source_link(&yt.key, &yt.submit_url, 15_999),
            "https://youtu.be/dQw4w9WgXcQ?t=15"
        );
        assert_eq!(
            source_link(&yt.key, &yt.submit_url, 0),
            "https://youtu.be/dQw4w9WgXcQ?t=0"
        );
        let url = canonical_key("https://example.com/ep.mp4?a=1").unwrap();
        assert_eq!(
            source_link(&url.key, &url.submit_url, 75_000),
            "https://example.com/ep.mp4?a=1#t=75"
        );
        assert_eq!(
            source_link("file:abc", "https://cdn.example/u/1.mp4", 1_500),
            "https://cdn.example/u/1.mp4#t=1"
        );
        assert_eq!(source_link("file:abc", "", 1_500), "");
    }

    #[test]
    fn kinds_of_keys() {
        assert_eq!(SourceKind::of_key("youtube:x"), Some(SourceKind::Youtube));
        assert_eq!(SourceKind::of_key("url:https://a/"), Some(SourceKind::Url));
        assert_eq!(SourceKind::of_key("other:x"), None);
    }
}
