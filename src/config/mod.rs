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

mod error;
mod feeds;
mod http;
mod presets;
mod raw;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashMap};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use regex::Regex;

pub use self::error::ConfigError;
use self::error::Source;
pub use self::http::{HttpConfig, Listen};
use self::raw::{RawApi, RawConfig, RawDrop, RawFeed, RawOutput, Str};
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

/// A checked configuration. Cheap to share behind an `Arc`.
#[derive(Debug, Clone)]
pub struct Config {
    /// Absolute path of the file loaded.
    pub path: PathBuf,
    pub api: ApiConfig,
    pub state: StateConfig,
    pub output: OutputConfig,
    /// `None` when there is no `[drop]` section: no folder is watched.
    pub drop: Option<DropConfig>,
    /// Resolved presets (`extends` applied); always contains `"default"`.
    pub presets: BTreeMap<String, Preset>,
    pub youtube: YoutubeConfig,
    pub titles: TitlesConfig,
    pub feeds: Vec<FeedConfig>,
    /// `None` when there is no `[http]` section: no server.
    pub http: Option<HttpConfig>,
    /// Non-fatal notes for the log and `check` (e.g. `api_key_file` unreadable).
    pub warnings: Vec<String>,
}

impl Config {
    /// The preset called `name`.
    pub fn preset(&self, name: &str) -> Option<&Preset> {
        self.presets.get(name)
    }

    /// The feed called `name`.
    pub fn feed(&self, name: &str) -> Option<&FeedConfig> {
        self.feeds.iter().find(|f| f.name == name)
    }
}

/// `[api]`: the WayinVideo account and how hard clipwatch may use it.
#[derive(Debug, Clone)]
pub struct ApiConfig {
    /// http(s) URL without a trailing `/`, e.g. `https://…/open/v2`.
    pub base_url: String,
    pub api_key: Option<Secret>,
    /// Where the key came from, for `check` and `status`; never the key:
    /// `environment WAYIN_API_KEY`, `file <path>` or
    /// `systemd credential wayin_api_key`.
    pub api_key_source: Option<String>,
    /// Request budget shared by every API call; at least 1.
    pub requests_per_minute: u32,
    /// The span `requests_per_minute` is counted over: 60 s, except in
    /// time-scaled tests and benchmarks.
    pub rate_window: Duration,
    /// Tasks allowed to run at once; at least 1.
    pub max_concurrent_projects: u32,
    pub poll_interval: Duration,
    /// After SUCCEEDED, how long to keep polling while the clip list is
    /// empty, still changing, or missing video links.
    pub results_wait: Duration,
    /// Limit for one HTTP request.
    pub timeout: Duration,
    /// API units per day after which submitting stops; 0 = no cap.
    pub daily_unit_budget: u64,
    /// What to do when a submit may have been processed but its answer
    /// was lost.
    pub on_ambiguous_submit: AmbiguousSubmit,
}

/// `[api] on_ambiguous_submit`: a submit request left and no answer came
/// (a timeout, a reset, a cut reply, an interrupted run), so the API may
/// have created a paid task whose id clipwatch never learned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AmbiguousSubmit {
    /// Fail the job and say so: `clipwatch retry` submits again. Never pays
    /// twice on its own.
    #[default]
    Fail,
    /// Submit again (may pay twice).
    Resubmit,
}

impl AmbiguousSubmit {
    pub fn as_str(self) -> &'static str {
        match self {
            AmbiguousSubmit::Fail => "fail",
            AmbiguousSubmit::Resubmit => "resubmit",
        }
    }
}

/// `[state]`: where the sled database and the control socket live.
#[derive(Debug, Clone)]
pub struct StateConfig {
    pub dir: PathBuf,
}

/// `[output]`: the clip tree. `folder` and `clip` are name templates.
#[derive(Debug, Clone)]
pub struct OutputConfig {
    pub dir: PathBuf,
    pub folder: Template,
    pub clip: Template,
    /// Clips scoring below this (0–100) are listed, not downloaded.
    pub min_score: u32,
    /// Keep the best N clips; 0 = all.
    pub max_clips: u32,
    pub thumbnails: bool,
    /// Submitting pauses while the output volume has less free than this.
    pub min_free_space: u64,
    /// A clip video larger than this is not downloaded; the job fails.
    pub max_video_size: u64,
}

/// Thumbnails larger than this are not kept (they are a few hundred KB).
pub const MAX_THUMBNAIL_BYTES: u64 = 8 * 1024 * 1024;
pub const DEFAULT_MIN_FREE_SPACE: &str = "1GiB";
pub const DEFAULT_MAX_VIDEO_SIZE: &str = "4GiB";

/// `[drop]`: the watched inbox folder.
#[derive(Debug, Clone)]
pub struct DropConfig {
    pub dir: PathBuf,
    /// Preset for files at the top of the folder (subfolders name their own).
    pub preset: String,
    /// How long a file must stay unchanged before it is taken.
    pub settle: Duration,
    /// Period of the full rescan (for filesystems without inotify).
    pub rescan: Duration,
}

/// A named set of submit options, ready to send.
#[derive(Debug, Clone, PartialEq)]
pub struct Preset {
    pub name: String,
    /// API option names → values, `extends` applied and `extra` merged in
    /// verbatim. Never holds `video_url` or `project_name`.
    pub options: serde_json::Map<String, serde_json::Value>,
}

impl Preset {
    /// Whether clips are rendered (and so downloaded as video files).
    pub fn export_enabled(&self) -> bool {
        self.options.get("enable_export") == Some(&serde_json::Value::Bool(true))
    }
}

/// `[youtube]`: where YouTube feeds and channel pages are fetched.
#[derive(Debug, Clone)]
pub struct YoutubeConfig {
    /// http(s) URL without a trailing `/`.
    pub base_url: String,
}

/// `[titles]`: whether a video's real title is looked up (oEmbed, the
/// page's title) for sources that do not carry one.
#[derive(Debug, Clone)]
pub struct TitlesConfig {
    /// Default true.
    pub lookup: bool,
}

/// One `[[feeds]]` entry.
#[derive(Debug, Clone)]
pub struct FeedConfig {
    /// Unique; the feed's folder name and label.
    pub name: String,
    pub source: FeedSource,
    /// A key of [`Config::presets`].
    pub preset: String,
    /// Time between checks; never zero.
    pub interval: Duration,
    /// On first sight, queue the newest N entries and skip the rest.
    pub backfill: u32,
    /// Title filters.
    pub include: Option<Regex>,
    pub exclude: Option<Regex>,
    /// Whether YouTube Shorts are clipped.
    pub shorts: bool,
    /// Wait this long after publication before submitting.
    pub delay: Duration,
    /// Which URL of a feed entry is the video.
    pub entry_use: EntryUse,
}

/// Where a feed comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FeedSource {
    /// `youtube = "…"` as written (trimmed): an `@handle`, a channel or
    /// playlist id, or a youtube.com channel/playlist URL; checked offline.
    Youtube(String),
    /// `url = "…"`: any RSS / Atom / JSON Feed, an http(s) URL.
    Url(String),
}

/// `use = "link" | "enclosure"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EntryUse {
    /// The entry's link (a page the API can fetch, e.g. a YouTube watch URL).
    #[default]
    Link,
    /// The entry's enclosure (podcast media file).
    Enclosure,
}

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
        http,
        warnings,
    })
}

fn check_api(
    src: &Source,
    raw: RawApi,
    base: &Path,
    env: &dyn Fn(&str) -> Option<String>,
    warnings: &mut Vec<String>,
) -> Result<ApiConfig, ConfigError> {
    let base_url = http_base_url(src, &raw.base_url, "api.base_url", DEFAULT_API_BASE_URL)?;
    if let Ok(url) = url::Url::parse(&base_url) {
        let loopback = matches!(url.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"));
        if url.scheme() == "http" && !loopback {
            warnings.push(format!(
                "api.base_url {base_url} is plain http: the API key would cross the network unencrypted"
            ));
        }
    }
    let key_file =
        match &raw.api_key_file {
            Some(file) if file.get_ref().trim().is_empty() => return Err(src.error(
                Some(file.span()),
                "api.api_key_file",
                "must not be empty (leave it out to use WAYIN_API_KEY or the systemd credential)",
            )),
            Some(file) => Some(resolve_path(base, file.get_ref())),
            None => None,
        };
    let (api_key, api_key_source) = find_api_key(key_file.as_deref(), env, warnings);
    Ok(ApiConfig {
        base_url,
        api_key,
        api_key_source,
        requests_per_minute: at_least_one(
            src,
            &raw.requests_per_minute,
            "api.requests_per_minute",
            15,
        )?,
        rate_window: duration(src, &raw.rate_window, "api.rate_window", "60s", true)?,
        max_concurrent_projects: at_least_one(
            src,
            &raw.max_concurrent_projects,
            "api.max_concurrent_projects",
            5,
        )?,
        poll_interval: duration(src, &raw.poll_interval, "api.poll_interval", "30s", true)?,
        results_wait: duration(src, &raw.results_wait, "api.results_wait", "30m", true)?,
        timeout: duration(src, &raw.timeout, "api.timeout", "60s", true)?,
        daily_unit_budget: raw.daily_unit_budget.unwrap_or(0),
        on_ambiguous_submit: match &raw.on_ambiguous_submit {
            None => AmbiguousSubmit::Fail,
            Some(v) => match v.get_ref().trim() {
                "fail" => AmbiguousSubmit::Fail,
                "resubmit" => AmbiguousSubmit::Resubmit,
                other => {
                    return Err(src.error(
                        Some(v.span()),
                        "api.on_ambiguous_submit",
                        format!("unknown value \"{other}\" (expected one of fail, resubmit)"),
                    ))
                }
            },
        },
    })
}

/// The API key, first found wins: environment, `api_key_file`, systemd
/// credential. Problems with a file become warnings: without a key the
/// daemon still runs, it only does not submit.
fn find_api_key(
    key_file: Option<&Path>,
    env: &dyn Fn(&str) -> Option<String>,
    warnings: &mut Vec<String>,
) -> (Option<Secret>, Option<String>) {
    // Named in the configuration, it holds a key whether or not it is used.
    if let Some(file) = key_file {
        warnings.extend(crate::secret::readable_by_others(
            file,
            "api.api_key_file",
            "",
        ));
    }
    if let Some(key) = env(API_KEY_ENV) {
        let key = key.trim();
        if !key.is_empty() {
            return (
                Some(Secret::new(key)),
                Some(format!("environment {API_KEY_ENV}")),
            );
        }
    }
    if let Some(file) = key_file {
        match std::fs::read_to_string(file) {
            Ok(text) if !text.trim().is_empty() => {
                return (
                    Some(Secret::new(text.trim())),
                    Some(format!("file {}", file.display())),
                );
            }
            Ok(_) => warnings.push(format!("api.api_key_file {} is empty", file.display())),
            Err(e) => warnings.push(format!(
                "api.api_key_file {} cannot be read: {e}",
                file.display()
            )),
        }
    }
    if let Some(dir) = env("CREDENTIALS_DIRECTORY").filter(|d| !d.is_empty()) {
        let file = Path::new(&dir).join(API_KEY_CREDENTIAL);
        match std::fs::read_to_string(&file) {
            Ok(text) if !text.trim().is_empty() => {
                return (
                    Some(Secret::new(text.trim())),
                    Some(format!("systemd credential {API_KEY_CREDENTIAL}")),
                );
            }
            Ok(_) => warnings.push(format!("systemd credential {API_KEY_CREDENTIAL} is empty")),
            // No such credential is the normal case outside systemd.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => warnings.push(format!(
                "systemd credential {API_KEY_CREDENTIAL} ({}) cannot be read: {e}",
                file.display()
            )),
        }
    }
    (None, None)
}

fn check_output(src: &Source, raw: RawOutput, base: &Path) -> Result<OutputConfig, ConfigError> {
    let min_score = match &raw.min_score {
        Some(v) if *v.get_ref() > 100 => {
            return Err(src.error(
                Some(v.span()),
                "output.min_score",
                format!(
                    "must be between 0 and 100 (clip scores are 0–100), got {}",
                    v.get_ref()
                ),
            ))
        }
        Some(v) => *v.get_ref(),
        None => 0,
    };
    Ok(OutputConfig {
        dir: dir(src, &raw.dir, "output.dir", DEFAULT_OUTPUT_DIR, base)?,
        folder: template(
            src,
            &raw.folder,
            "output.folder",
            DEFAULT_FOLDER_TEMPLATE,
            TemplateKind::Folder,
        )?,
        clip: template(
            src,
            &raw.clip,
            "output.clip",
            DEFAULT_CLIP_TEMPLATE,
            TemplateKind::Clip,
        )?,
        min_score,
        max_clips: raw.max_clips.unwrap_or(0),
        thumbnails: raw.thumbnails.unwrap_or(true),
        min_free_space: size(
            src,
            &raw.min_free_space,
            "output.min_free_space",
            DEFAULT_MIN_FREE_SPACE,
            false,
        )?,
        max_video_size: size(
            src,
            &raw.max_video_size,
            "output.max_video_size",
            DEFAULT_MAX_VIDEO_SIZE,
            true,
        )?,
    })
}

fn check_drop(
    src: &Source,
    raw: RawDrop,
    base: &Path,
    presets: &BTreeMap<String, Preset>,
) -> Result<DropConfig, ConfigError> {
    Ok(DropConfig {
        dir: dir(src, &raw.dir, "drop.dir", DEFAULT_DROP_DIR, base)?,
        preset: preset_ref(src, &raw.preset, "drop.preset", "", presets)?,
        settle: duration(src, &raw.settle, "drop.settle", "5s", false)?,
        rescan: duration(src, &raw.rescan, "drop.rescan", "60s", true)?,
    })
}

fn check_feed(
    src: &Source,
    index: usize,
    span: std::ops::Range<usize>,
    raw: RawFeed,
    presets: &BTreeMap<String, Preset>,
    youtube_host: Option<&str>,
    warnings: &mut Vec<String>,
) -> Result<FeedConfig, ConfigError> {
    let key = |field: &str| format!("feeds[{index}].{field}");
    let name = match &raw.name {
        Some(name) if !name.get_ref().trim().is_empty() => name.get_ref().trim().to_owned(),
        Some(name) => {
            return Err(src.error(Some(name.span()), key("name"), "must not be empty"));
        }
        None => {
            return Err(src.error(
                Some(span),
                key("name"),
                "every feed needs a name (its folder name and label)",
            ));
        }
    };
    let about = format!("feed \"{name}\"");

    let source = match (&raw.youtube, &raw.url) {
        (Some(yt), None) => {
            let value = yt.get_ref().trim();
            feeds::check_youtube(value, youtube_host)
                .map_err(|m| src.error(Some(yt.span()), key("youtube"), format!("{about}: {m}")))?;
            FeedSource::Youtube(value.to_owned())
        }
        (None, Some(url)) => {
            let value = url.get_ref().trim();
            feeds::check_http_url(value)
                .map_err(|m| src.error(Some(url.span()), key("url"), format!("{about}: {m}")))?;
            FeedSource::Url(value.to_owned())
        }
        (Some(_), Some(url)) => {
            return Err(src.error(
                Some(url.span()),
                key("url"),
                format!("{about}: set either youtube or url, not both"),
            ));
        }
        (None, None) => {
            return Err(src.error(
                Some(span),
                format!("feeds[{index}]"),
                format!("{about} needs a source: youtube = \"@handle\" or url = \"https://…\""),
            ));
        }
    };

    let regex = |value: &Str, field: &str| -> Result<Option<Regex>, ConfigError> {
        value
            .as_ref()
            .map(|v| {
                Regex::new(v.get_ref()).map_err(|e| {
                    // regex's syntax errors draw a caret diagram over
                    // several lines; its last line says what is wrong.
                    let shown = e.to_string();
                    let reason = shown.lines().last().unwrap_or_default();
                    let reason = reason.strip_prefix("error: ").unwrap_or(reason);
                    src.error(
                        Some(v.span()),
                        key(field),
                        format!("{about}: invalid regex \"{}\": {reason}", v.get_ref()),
                    )
                })
            })
            .transpose()
    };

    let entry_use = match &raw.entry_use {
        None => EntryUse::Link,
        Some(v) => match v.get_ref().as_str() {
            "link" => EntryUse::Link,
            "enclosure" => EntryUse::Enclosure,
            other => {
                return Err(src.error(
                    Some(v.span()),
                    key("use"),
                    format!("{about}: unknown value \"{other}\" (expected one of link, enclosure)"),
                ))
            }
        },
    };
    if entry_use == EntryUse::Enclosure && matches!(source, FeedSource::Youtube(_)) {
        warnings.push(format!(
            "{}: {about}: use = \"enclosure\" has no effect on YouTube feeds",
            key("use")
        ));
    }

    Ok(FeedConfig {
        preset: preset_ref(src, &raw.preset, &key("preset"), &about, presets)?,
        interval: duration(src, &raw.interval, &key("interval"), "15m", true)?,
        backfill: raw.backfill.unwrap_or(0),
        include: regex(&raw.include, "include")?,
        exclude: regex(&raw.exclude, "exclude")?,
        shorts: raw.shorts.unwrap_or(false),
        delay: duration(src, &raw.delay, &key("delay"), "0s", false)?,
        entry_use,
        name,
        source,
    })
}

/// A preset name that must exist; `DEFAULT_PRESET` when absent.
fn preset_ref(
    src: &Source,
    value: &Str,
    key: &str,
    about: &str,
    presets: &BTreeMap<String, Preset>,
) -> Result<String, ConfigError> {
    let Some(value) = value else {
        return Ok(DEFAULT_PRESET.to_owned());
    };
    let name = value.get_ref();
    if presets.contains_key(name) {
        return Ok(name.clone());
    }
    let known: Vec<&str> = presets.keys().map(String::as_str).collect();
    let about = if about.is_empty() {
        String::new()
    } else {
        format!("{about}: ")
    };
    Err(src.error(
        Some(value.span()),
        key,
        format!(
            "{about}no preset named \"{name}\" (presets: {})",
            known.join(", ")
        ),
    ))
}

/// A humantime duration such as `250ms`, `30s`, `15m` or `1h`.
fn duration(
    src: &Source,
    value: &Str,
    key: &str,
    default: &str,
    positive: bool,
) -> Result<Duration, ConfigError> {
    let Some(value) = value else {
        return Ok(humantime::parse_duration(default).expect("valid default duration"));
    };
    let text = value.get_ref().trim();
    let parsed = humantime::parse_duration(text).map_err(|e| {
        src.error(
            Some(value.span()),
            key,
            format!(
                "invalid duration \"{text}\": {e} (write e.g. \"250ms\", \"30s\", \"15m\", \"1h\")"
            ),
        )
    })?;
    if positive && parsed.is_zero() {
        return Err(src.error(Some(value.span()), key, "must be greater than zero"));
    }
    Ok(parsed)
}

/// A size such as `"512MiB"`, `"2GB"`, `"100KiB"` or `"0"` (bytes).
fn size(
    src: &Source,
    value: &Str,
    key: &str,
    default: &str,
    positive: bool,
) -> Result<u64, ConfigError> {
    let Some(value) = value else {
        return Ok(parse_size(default).expect("valid default size"));
    };
    let text = value.get_ref().trim();
    let parsed = parse_size(text).ok_or_else(|| {
        src.error(
            Some(value.span()),
            key,
            format!("invalid size \"{text}\" (write e.g. \"500MiB\", \"2GiB\", \"1GB\")"),
        )
    })?;
    if positive && parsed == 0 {
        return Err(src.error(Some(value.span()), key, "must be greater than zero"));
    }
    Ok(parsed)
}

/// Bytes in `text`: a number and an optional unit (B, KB, MB, GB, TB in
/// powers of 1000; KiB, MiB, GiB, TiB in powers of 1024).
pub fn parse_size(text: &str) -> Option<u64> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: f64 = number.parse().ok()?;
    let factor: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kb" | "k" => 1_000,
        "mb" | "m" => 1_000_000,
        "gb" | "g" => 1_000_000_000,
        "tb" | "t" => 1_000_000_000_000,
        "kib" => 1 << 10,
        "mib" => 1 << 20,
        "gib" => 1 << 30,
        "tib" => 1 << 40,
        _ => return None,
    };
    let bytes = number * factor as f64;
    (bytes.is_finite() && bytes >= 0.0 && bytes < u64::MAX as f64).then_some(bytes as u64)
}

fn at_least_one(
    src: &Source,
    value: &Option<toml::Spanned<u32>>,
    key: &str,
    default: u32,
) -> Result<u32, ConfigError> {
    match value {
        Some(v) if *v.get_ref() == 0 => Err(src.error(Some(v.span()), key, "must be at least 1")),
        Some(v) => Ok(*v.get_ref()),
        None => Ok(default),
    }
}

fn non_empty(src: &Source, value: &Str, key: &str, default: &str) -> Result<String, ConfigError> {
    match value {
        Some(v) if v.get_ref().trim().is_empty() => {
            Err(src.error(Some(v.span()), key, "must not be empty"))
        }
        Some(v) => Ok(v.get_ref().clone()),
        None => Ok(default.to_owned()),
    }
}

/// A name template, parsed so that a bad placeholder is a configuration error.
fn template(
    src: &Source,
    value: &Str,
    key: &str,
    default: &str,
    kind: TemplateKind,
) -> Result<Template, ConfigError> {
    let text = non_empty(src, value, key, default)?;
    Template::parse(&text, kind)
        .map_err(|e| src.error(value.as_ref().map(|v| v.span()), key, e.to_string()))
}

/// An http(s) URL, with any trailing `/` removed so paths can be appended.
fn http_base_url(
    src: &Source,
    value: &Str,
    key: &str,
    default: &str,
) -> Result<String, ConfigError> {
    let Some(value) = value else {
        return Ok(default.to_owned());
    };
    let text = value.get_ref().trim();
    feeds::check_http_url(text).map_err(|m| src.error(Some(value.span()), key, m))?;
    Ok(text.trim_end_matches('/').to_owned())
}

fn dir(
    src: &Source,
    value: &Str,
    key: &str,
    default: &str,
    base: &Path,
) -> Result<PathBuf, ConfigError> {
    match value {
        Some(v) if v.get_ref().trim().is_empty() => {
            Err(src.error(Some(v.span()), key, "must not be empty"))
        }
        Some(v) => Ok(resolve_path(base, v.get_ref())),
        None => Ok(PathBuf::from(default)),
    }
}

/// `path` made absolute against the config file's folder, `.` components
/// dropped (`./state` → `<folder>/state`).
fn resolve_path(base: &Path, path: &str) -> PathBuf {
    base.join(path).components().collect()
}
