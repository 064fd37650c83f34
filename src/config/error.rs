//! [`ConfigError`] and the bookkeeping that turns byte spans into
//! `file:line: key: message`.

use std::fmt;
use std::ops::Range;
use std::path::PathBuf;
use std::sync::Arc;

use super::raw;

/// Why a configuration could not be found, read or accepted.
///
/// `Display` names the file, the line and the key where there is one:
/// `config.toml:14: presets.default.ratio: unknown value "RATIO_9_17" (…)`.
/// No variant ever holds the API key.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ConfigError {
    /// `locate` found no file; `searched` lists where it looked, in order.
    #[error(
        "no configuration file found (looked for {}); pass --config FILE",
        list(searched)
    )]
    NotFound { searched: Vec<PathBuf> },
    /// The file exists (or was named) but cannot be read.
    #[error("cannot read configuration {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: Arc<std::io::Error>,
    },
    /// The file was read but is not a valid configuration.
    #[error("{}", Located { file, line: *line, key: key.as_deref(), message })]
    Invalid {
        /// The path as given to `parse`/`load`.
        file: String,
        /// 1-based line, when the problem has a place in the file.
        line: Option<usize>,
        /// Dotted key path (`api.timeout`, `feeds[2].youtube`), when known.
        key: Option<String>,
        message: String,
    },
}

impl ConfigError {
    /// The 1-based line the error points at, if any.
    pub fn line(&self) -> Option<usize> {
        match self {
            ConfigError::Invalid { line, .. } => *line,
            _ => None,
        }
    }

    /// The dotted key path the error names, if any.
    pub fn key(&self) -> Option<&str> {
        match self {
            ConfigError::Invalid { key, .. } => key.as_deref(),
            _ => None,
        }
    }
}

fn list(paths: &[PathBuf]) -> String {
    let names: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
    names.join(", ")
}

struct Located<'a> {
    file: &'a str,
    line: Option<usize>,
    key: Option<&'a str>,
    message: &'a str,
}

impl fmt::Display for Located<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.file)?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        if let Some(key) = self.key {
            write!(f, ": {key}")?;
        }
        write!(f, ": {}", self.message)
    }
}

/// The text being parsed and the name to report it under.
pub(super) struct Source<'a> {
    pub file: String,
    pub text: &'a str,
}

impl Source<'_> {
    pub fn line_of(&self, offset: usize) -> usize {
        let offset = offset.min(self.text.len());
        self.text.as_bytes()[..offset]
            .iter()
            .filter(|&&b| b == b'\n')
            .count()
            + 1
    }

    /// An error at `span` (or at no particular line) about `key`.
    pub fn error(
        &self,
        span: Option<Range<usize>>,
        key: impl Into<String>,
        message: impl Into<String>,
    ) -> ConfigError {
        let key: String = key.into();
        ConfigError::Invalid {
            file: self.file.clone(),
            line: span.map(|s| self.line_of(s.start)),
            key: (!key.is_empty()).then_some(key),
            message: message.into(),
        }
    }

    /// A TOML syntax or serde error, with its key path recovered from the span.
    pub fn toml_error(&self, err: &toml::de::Error) -> ConfigError {
        let span = err.span();
        let key = span
            .as_ref()
            .and_then(|s| raw::key_path_at(self.text, s.start));
        let mut message = tidy_message(err.message());
        if let Some(key) = &key {
            if let Some(better) = friendlier_message(key, &message) {
                message = better;
            }
        }
        self.error(span, key.unwrap_or_default(), message)
    }
}

/// serde's messages mention our private struct names and toml's span
/// several lines; keep one readable line.
fn tidy_message(message: &str) -> String {
    let message = message.trim().replace('\n', "; ");
    for (raw_name, plain) in [
        ("struct RawConfig", "a table"),
        ("struct RawApi", "a table"),
        ("struct RawState", "a table"),
        ("struct RawOutput", "a table"),
        ("struct RawDrop", "a table"),
        ("struct RawPreset", "a table"),
        ("struct RawYoutube", "a table"),
        ("struct RawFeed", "a table"),
    ] {
        if message.contains(raw_name) {
            return message.replace(raw_name, plain);
        }
    }
    message
}

/// Better words for mistakes people are likely to make: keys clipwatch
/// deliberately does not accept, `[feeds]` written for `[[feeds]]`.
fn friendlier_message(key: &str, message: &str) -> Option<String> {
    if key == "feeds" && message.contains("expected a sequence") {
        return Some("write each feed as a [[feeds]] table (double brackets)".to_owned());
    }
    if !message.starts_with("unknown field") {
        return None;
    }
    let last = key.rsplit('.').next().unwrap_or(key);
    if key.starts_with("presets.") && (last == "video_url" || last == "project_name") {
        return Some(format!(
            "{last} cannot be set in a preset: clipwatch sets it for every video"
        ));
    }
    if key == "api.api_key" {
        return Some(
            "the API key is not read from the config file; set WAYIN_API_KEY, \
             api_key_file, or the systemd credential wayin_api_key"
                .to_owned(),
        );
    }
    None
}
