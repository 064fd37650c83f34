//! The configuration file: where it is, what it may say, and the checked
//! [`Config`] every other module reads.
//!
//! Loading is one pass: the TOML is deserialized into raw serde structs that
//! deny unknown keys and keep spans (`raw`), then each section is checked and
//! defaulted here, presets are validated and their `extends` chains resolved
//! (`presets`), and feed sources are checked offline (`feeds`). Anything
//! wrong is a [`ConfigError`] naming the file, the line and the key. A
//! `Config` is immutable; reload builds a new one and swaps it only once it
//! has validated.
//!
//! The API key is looked up here (environment, `api_key_file`, systemd
//! credential) and kept in a [`Secret`], so it never reaches a message.

pub mod edit;
mod error;
mod feeds;
mod http;
mod moments;
pub mod notify;
mod presets;
mod raw;
mod reframe;
mod sections;
mod settings;
#[cfg(test)]
mod tests;
mod values;

use std::collections::{BTreeMap, HashMap};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use regex::Regex;

pub use self::error::ConfigError;
use self::error::Source;
pub use self::http::{HttpConfig, Listen};
pub use self::notify::{NotifyConfig, SinkConfig, SinkKind};
use self::raw::{RawApi, RawConfig, RawDrop, RawFeed, RawOutput, Str};
use self::sections::{check_api, check_drop, check_feed, check_output};
pub use self::settings::*;
pub use self::values::parse_size;
use self::values::{dir, http_base_url};
use crate::output::naming::{Template, TemplateKind};
use crate::secret::Secret;

pub const DEFAULT_API_BASE_URL: &str = "https://wayinvideo-api.wayin.ai/open/v2";
pub const DEFAULT_YOUTUBE_BASE_URL: &str = "https://www.youtube.com";
pub const DEFAULT_STATE_DIR: &str = "/var/lib/clipwatch";
pub const DEFAULT_OUTPUT_DIR: &str = "/srv/clips";
pub const DEFAULT_DROP_DIR: &str = "/srv/clipwatch/inbox";
pub const DEFAULT_FOLDER_TEMPLATE: &str = "{feed}/{date} {title} [{id}]";
pub const DEFAULT_CLIP_TEMPLATE: &str = "{rank:02} {title}";
/// The preset used when a feed, a drop file or `submit` names none.
pub const DEFAULT_PRESET: &str = "default";
/// Environment variable holding the API key; it wins over every other source.
pub const API_KEY_ENV: &str = "WAYIN_API_KEY";
/// Name of the systemd credential (`LoadCredential=wayin_api_key:…`).
pub const API_KEY_CREDENTIAL: &str = "wayin_api_key";

/// The configuration file to use: `explicit` (`--config`), else
/// `$CLIPWATCH_CONFIG`, else `$XDG_CONFIG_HOME/clipwatch/config.toml` (or
/// `~/.config/clipwatch/config.toml`), else `/etc/clipwatch/config.toml`.
/// A path given explicitly or by `$CLIPWATCH_CONFIG` is returned as is (a
/// missing file is then reported by [`load`]); the others must exist.
pub fn locate(explicit: Option<&Path>) -> Result<PathBuf, ConfigError> {
    locate_with(explicit, &|name| std::env::var_os(name), &|p| p.is_file())
}

fn locate_with(
    explicit: Option<&Path>,
    env: &dyn Fn(&str) -> Option<OsString>,
    exists: &dyn Fn(&Path) -> bool,
) -> Result<PathBuf, ConfigError> {
    if let Some(path) = explicit {
        return Ok(path.to_path_buf());
    }
    let set = |name: &str| env(name).filter(|v| !v.is_empty());
    if let Some(path) = set("CLIPWATCH_CONFIG") {
        return Ok(PathBuf::from(path));
    }
    let mut searched = Vec::new();
    // The XDG spec says a relative $XDG_CONFIG_HOME is to be ignored.
    let user_dir = set("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| set("HOME").map(|home| PathBuf::from(home).join(".config")));
    if let Some(dir) = user_dir {
        searched.push(dir.join("clipwatch").join("config.toml"));
    }
    searched.push(PathBuf::from("/etc/clipwatch/config.toml"));
    match searched.iter().find(|p| exists(p)) {
        Some(found) => Ok(found.clone()),
        None => Err(ConfigError::NotFound { searched }),
    }
}

/// Read and check the file at `path`, with the process environment.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError::Read {
        path: path.to_path_buf(),
        source: Arc::new(e),
    })?;
    let mut config = parse(&text, path, &|name| std::env::var(name).ok())?;
    // A config holding private feed URLs with tokens is a secret too.
    if crate::secret::holds_url_credentials(&text) {
        config.warnings.extend(crate::secret::readable_by_others(
            path,
            "the configuration file",
            ": it holds URLs with credentials (tokens of private feeds)",
        ));
    }
    Ok(config)
}

/// Check `text` as the configuration file at `path`: `path` names the file
/// in messages and anchors relative paths; `env` stands in for the process
/// environment (`WAYIN_API_KEY`, `CREDENTIALS_DIRECTORY`). Reads
/// `api_key_file` and the credential file when they are needed.
pub fn parse(
    text: &str,
    path: &Path,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Config, ConfigError> {
    let src = Source {
        file: path.display().to_string(),
        text,
    };
    let raw: RawConfig = toml::from_str(text).map_err(|e| src.toml_error(&e))?;

    let abs_path = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let base = abs_path.parent().map(Path::to_path_buf).unwrap_or_default();
    let mut warnings = Vec::new();

    let api = check_api(&src, raw.api, &base, env, &mut warnings)?;
    let state = StateConfig {
        dir: dir(&src, &raw.state.dir, "state.dir", DEFAULT_STATE_DIR, &base)?,
    };
    let output = check_output(&src, raw.output, &base)?;
    let presets = presets::resolve(&src, raw.presets)?;
    let http = raw
        .http
        .map(|h| http::check(&src, h, &base, &mut warnings))
        .transpose()?;
    let drop = raw
        .drop
        .map(|d| check_drop(&src, d, &base, &presets))
        .transpose()?;
    let youtube = YoutubeConfig {
        base_url: http_base_url(
            &src,
            &raw.youtube.base_url,
            "youtube.base_url",
            DEFAULT_YOUTUBE_BASE_URL,
        )?,
    };
    let youtube_host = url::Url::parse(&youtube.base_url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_ascii_lowercase));

    let mut feeds: Vec<FeedConfig> = Vec::new();
    // Where each name was first used, as a byte offset: the line number is
    // counted only for an error (counting it per feed made loading 10 000
    // feeds quadratic, 1.4 s).
    let mut offsets_by_name: HashMap<String, usize> = HashMap::new();
    for (index, feed) in raw.feeds.into_iter().enumerate() {
        let span = feed.span();
        let checked = check_feed(
            &src,
            index,
            span.clone(),
            feed.into_inner(),
            &presets,
            youtube_host.as_deref(),
            &mut warnings,
        )?;
        if let Some(first) = offsets_by_name.insert(checked.name.clone(), span.start) {
            let first = src.line_of(first);
            return Err(src.error(
                Some(span),
                format!("feeds[{index}].name"),
                format!(
                    "feed name \"{}\" is already used by the feed on line {first}; \
                     names must be unique",
                    checked.name
                ),
            ));
        }
        feeds.push(checked);
    }
    let notify = notify::check(
        &src,
        raw.notify,
        raw.notifications,
        &feeds,
        &base,
        &mut warnings,
    )?;

    Ok(Config {
        path: abs_path,
        api,
        state,
        output,
        drop,
        presets,
        youtube,
        titles: TitlesConfig {
            lookup: raw.titles.lookup.unwrap_or(true),
        },
        feeds,
        notify,
        http,
        warnings,
    })
}
