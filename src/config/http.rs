//! `[http]`: the dashboard, `/metrics` and `/healthz` server. Off when the
//! section is absent.
//!
//! The token that enables actions is read here, like the API key, and kept
//! in a [`Secret`]; a missing or empty `token_file` is an error (a page
//! silently read-only would be a surprise), a token file others can read is
//! a warning.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::error::Source;
use super::raw::Str;
use super::ConfigError;
use crate::secret::Secret;

/// Shortest token accepted: anything shorter can be guessed.
const MIN_TOKEN_CHARS: usize = 16;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawHttp {
    pub listen: Str,
    pub token_file: Str,
    pub base_path: Str,
    pub public_url: Str,
}

/// Where the server listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Listen {
    Tcp(SocketAddr),
    /// An absolute path: a Unix socket (created 0660, replaced at start).
    Unix(PathBuf),
}

/// The checked `[http]` section.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    pub listen: Listen,
    /// Enables submit/retry/forget; `None`: the page and API are read-only.
    pub token: Option<Secret>,
    /// `""` or a path like `/clipwatch` (no trailing `/`) every route is under.
    pub base_path: String,
    /// The address users reach the dashboard at, without a trailing `/`.
    pub public_url: Option<String>,
}

pub(super) fn check(
    src: &Source,
    raw: RawHttp,
    base: &Path,
    warnings: &mut Vec<String>,
) -> Result<HttpConfig, ConfigError> {
    let Some(listen_value) = &raw.listen else {
        return Err(src.error(
            None,
            "http.listen",
            "is required in [http] (e.g. \"127.0.0.1:8093\" or a Unix socket path); \
             remove the section to turn the server off",
        ));
    };
    let text = listen_value.get_ref().trim();
    let listen = if text.starts_with('/') {
        Listen::Unix(PathBuf::from(text))
    } else {
        Listen::Tcp(text.parse().map_err(|_| {
            src.error(
                Some(listen_value.span()),
                "http.listen",
                format!(
                    "\"{text}\" is neither an address with a port (\"127.0.0.1:8093\", \
                     \"[::1]:8093\") nor an absolute Unix socket path"
                ),
            )
        })?)
    };
    let token = match &raw.token_file {
        None => None,
        Some(file) => {
            let path = base.join(file.get_ref().trim());
            Some(
                read_token(&path)
                    .map_err(|m| src.error(Some(file.span()), "http.token_file", m))?,
            )
        }
    };
    if let Some(path) = raw
        .token_file
        .as_ref()
        .map(|f| base.join(f.get_ref().trim()))
    {
        warnings.extend(crate::secret::readable_by_others(
            &path,
            "http.token_file",
            ": anyone who can read it can submit and forget jobs",
        ));
    }
    let base_path = match &raw.base_path {
        None => String::new(),
        Some(value) => base_path(value.get_ref())
            .map_err(|m| src.error(Some(value.span()), "http.base_path", m))?,
    };
    let public_url = match &raw.public_url {
        None => None,
        Some(value) => {
            let text = value.get_ref().trim();
            super::feeds::check_http_url(text)
                .map_err(|m| src.error(Some(value.span()), "http.public_url", m))?;
            Some(text.trim_end_matches('/').to_string())
        }
    };
    Ok(HttpConfig {
        listen,
        token,
        base_path,
        public_url,
    })
}

fn read_token(path: &Path) -> Result<Secret, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let token = text.trim();
    if token.chars().count() < MIN_TOKEN_CHARS || token.chars().any(char::is_whitespace) {
        return Err(format!(
            "{} must hold one token of at least {MIN_TOKEN_CHARS} characters without spaces \
             (e.g. `openssl rand -hex 32 > {}`)",
            path.display(),
            path.display()
        ));
    }
    Ok(Secret::new(token))
}

/// `"/clipwatch/"` → `"/clipwatch"`; `"/"` → `""`.
fn base_path(text: &str) -> Result<String, String> {
    let text = text.trim().trim_end_matches('/');
    if text.is_empty() {
        return Ok(String::new());
    }
    let plain = text
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "/-_.~".contains(c));
    if !text.starts_with('/') || !plain || text.split('/').any(|s| s == ".." || s == ".") {
        return Err(format!(
            "\"{text}\" must be a plain path starting with / (e.g. \"/clipwatch\")"
        ));
    }
    Ok(text.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(http: &str, dir: &Path) -> Result<crate::config::Config, String> {
        let text = format!("[http]\n{http}\n");
        crate::config::parse(&text, &dir.join("config.toml"), &|_| None).map_err(|e| e.to_string())
    }

    #[test]
    fn listen_tokens_and_urls_are_checked_with_the_key_named() {
        let dir = tempfile::tempdir().unwrap();
        let ok = parse(
            "listen = \"127.0.0.1:8093\"\nbase_path = \"/cw/\"",
            dir.path(),
        )
        .unwrap();
        let http = ok.http.unwrap();
        assert_eq!(http.listen, Listen::Tcp("127.0.0.1:8093".parse().unwrap()));
        assert_eq!(http.base_path, "/cw");
        assert!(http.token.is_none());
        let unix = parse("listen = \"/run/clipwatch/http.sock\"", dir.path()).unwrap();
        assert!(matches!(unix.http.unwrap().listen, Listen::Unix(_)));

        let err = parse("listen = \"localhost\"", dir.path()).unwrap_err();
        assert!(
            err.contains("http.listen") && err.contains("localhost"),
            "{err}"
        );
        let err = parse("token_file = \"t\"", dir.path()).unwrap_err();
        assert!(
            err.contains("http.listen") && err.contains("required"),
            "{err}"
        );
        let err = parse(
            "listen = \"127.0.0.1:1\"\ntoken_file = \"missing\"",
            dir.path(),
        )
        .unwrap_err();
        assert!(
            err.contains("http.token_file") && err.contains("cannot read"),
            "{err}"
        );
        std::fs::write(dir.path().join("short"), "abc\n").unwrap();
        let err = parse(
            "listen = \"127.0.0.1:1\"\ntoken_file = \"short\"",
            dir.path(),
        )
        .unwrap_err();
        assert!(err.contains("at least 16"), "{err}");
        assert!(!err.contains("abc"), "the token is never shown: {err}");
        std::fs::write(dir.path().join("good"), "0123456789abcdef0123\n").unwrap();
        let good = parse(
            "listen = \"127.0.0.1:1\"\ntoken_file = \"good\"",
            dir.path(),
        )
        .unwrap();
        assert_eq!(
            good.http.unwrap().token.unwrap().expose(),
            "0123456789abcdef0123"
        );
        let err = parse(
            "listen = \"127.0.0.1:1\"\npublic_url = \"ftp://x\"",
            dir.path(),
        )
        .unwrap_err();
        assert!(err.contains("http.public_url"), "{err}");
    }

    #[test]
    fn base_paths_are_normalized_or_refused() {
        assert_eq!(base_path("/clipwatch/").unwrap(), "/clipwatch");
        assert_eq!(base_path("/").unwrap(), "");
        assert!(base_path("clipwatch").is_err());
        assert!(base_path("/a/../b").is_err());
        assert!(base_path("/a b").is_err());
    }
}
