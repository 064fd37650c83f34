//! Values that must never reach a log, an error message, a sidecar or `--json`
//! output: the API key and presigned URLs.

use std::fmt;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::sync::Arc;

/// A secret string. `Debug` and `Display` print a placeholder; the value is
/// only reachable through [`Secret::expose`], which makes every use greppable.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Arc<str>);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(Arc::from(value.into()))
    }

    /// The secret value, for the one place that must send it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// A warning when `path` is readable by every user, for files that hold a
/// secret; `what` names the file in the message, `why` (may be empty) says
/// what the secret is.
pub fn readable_by_others(path: &Path, what: &str, why: &str) -> Option<String> {
    let meta = std::fs::metadata(path).ok()?;
    let mode = meta.mode() & 0o7777;
    (mode & 0o004 != 0).then(|| {
        format!(
            "{what} {} is readable by every user on this machine (mode {mode:04o}){why}; \
             run: chmod o-r {}",
            path.display(),
            path.display()
        )
    })
}

/// Query parameter names whose values are credentials: private feed tokens,
/// API keys, signatures of presigned links. Compared case-insensitively, by
/// substring (`access_token`, `X-Amz-Signature`, `apikey`).
const SECRET_PARAM_WORDS: &[&str] = &[
    "token",
    "key",
    "auth",
    "sig",
    "secret",
    "pass",
    "session",
    "credential",
    "jwt",
];

/// Whether a query parameter called `name` carries a credential.
pub fn is_secret_param(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    SECRET_PARAM_WORDS.iter().any(|s| name.contains(s))
}

/// Whether `url` carries a credential: user info, or a query parameter
/// named like one with a value.
pub fn url_has_credentials(url: &str) -> bool {
    let Ok(parsed) = url::Url::parse(url) else {
        return false;
    };
    !parsed.username().is_empty()
        || parsed.password().is_some()
        || parsed
            .query_pairs()
            .any(|(k, v)| is_secret_param(&k) && !v.is_empty())
}

/// Whether `text` (a config file) holds an http(s) URL with a credential.
pub fn holds_url_credentials(text: &str) -> bool {
    let mut rest = text;
    while let Some(at) = rest.find("http") {
        let tail = &rest[at..];
        let end = tail
            .find(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | '<' | '>'))
            .unwrap_or(tail.len());
        if url_has_credentials(&tail[..end]) {
            return true;
        }
        rest = &tail[4..];
    }
    false
}

/// `url` safe to show: no user info, and the value of every credential
/// parameter replaced by `redacted`. Anything that does not parse as a URL
/// is returned unchanged.
pub fn redact_url(url: &str) -> String {
    if !url_has_credentials(url) {
        return url.to_owned();
    }
    let Ok(mut parsed) = url::Url::parse(url) else {
        return url.to_owned();
    };
    let _ = parsed.set_username("");
    let _ = parsed.set_password(None);
    if parsed.query().is_some() {
        let pairs: Vec<(String, String)> = parsed
            .query_pairs()
            .map(|(k, v)| {
                let value = if is_secret_param(&k) && !v.is_empty() {
                    "redacted".to_string()
                } else {
                    v.into_owned()
                };
                (k.into_owned(), value)
            })
            .collect();
        parsed.query_pairs_mut().clear().extend_pairs(pairs);
    }
    parsed.to_string()
}

/// Every http(s) URL in `text` passed through [`redact_url`]: for log lines
/// and command output that quote URLs or `url:` keys among other words
/// (a private feed's enclosure URL carries its token).
pub fn redact_urls_in(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("http") {
        out.push_str(&rest[..at]);
        let tail = &rest[at..];
        let end = tail
            .find(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | '<' | '>'))
            .unwrap_or(tail.len());
        out.push_str(&redact_url(&tail[..end]));
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_hide_the_value() {
        let key = Secret::new("sk-very-secret");
        assert_eq!(format!("{key:?}"), "Secret(<redacted>)");
        assert_eq!(format!("{key}"), "<redacted>");
        assert_eq!(key.expose(), "sk-very-secret");
    }

    #[test]
    fn urls_lose_their_credentials() {
        assert_eq!(
            redact_url("https://u:pw@cdn.example/ep1.mp3?token=s3cret&page=2"),
            "https://cdn.example/ep1.mp3?token=redacted&page=2"
        );
        assert_eq!(
            redact_url("https://cdn.example/a.mp4?X-Amz-Signature=abc&X-Amz-Credential=def"),
            "https://cdn.example/a.mp4?X-Amz-Signature=redacted&X-Amz-Credential=redacted"
        );
        let plain = "https://example.com/talk?id=3&key=";
        assert_eq!(redact_url(plain), plain);
        assert!(!url_has_credentials(plain));
        assert_eq!(redact_url("not a url token=x"), "not a url token=x");
    }

    #[test]
    fn urls_inside_text_are_redacted() {
        assert_eq!(
            redact_urls_in("submit https://x.example/a?auth=zzz failed: \"https://y/?sig=1\""),
            "submit https://x.example/a?auth=redacted failed: \"https://y/?sig=redacted\""
        );
        assert!(holds_url_credentials(
            "url = \"https://x/feed?token=abc\"\n"
        ));
        assert!(!holds_url_credentials("url = \"https://x/feed?page=1\"\n"));
    }
}
