//! Each section of the file checked and defaulted: `[api]` (and where the
//! key comes from), `[output]`, `[drop]` and every `[[feeds]]` table.

use super::values::{at_least_one, dir, duration, http_base_url, resolve_path, size, template};
use super::*;
use crate::output::exports::ExportKind;

pub(super) fn check_api(
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
        poll_floor: duration(src, &raw.poll_floor, "api.poll_floor", "5s", true)?,
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
pub(super) fn find_api_key(
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

pub(super) fn check_output(
    src: &Source,
    raw: RawOutput,
    base: &Path,
) -> Result<OutputConfig, ConfigError> {
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
        exports: exports(src, raw.exports)?,
    })
}

/// `output.exports`: names of editor exports, all when absent, none for `[]`.
fn exports(
    src: &Source,
    raw: Option<toml::Spanned<Vec<toml::Spanned<String>>>>,
) -> Result<Vec<ExportKind>, ConfigError> {
    let Some(names) = raw else {
        return Ok(ExportKind::ALL.to_vec());
    };
    let mut kinds = Vec::new();
    for name in names.into_inner() {
        let Some(kind) = ExportKind::from_name(name.get_ref().trim()) else {
            let known: Vec<&str> = ExportKind::ALL.iter().map(|k| k.name()).collect();
            return Err(src.error(
                Some(name.span()),
                "output.exports",
                format!(
                    "unknown export \"{}\" (expected any of {}; [] writes none)",
                    name.get_ref(),
                    known.join(", ")
                ),
            ));
        };
        if !kinds.contains(&kind) {
            kinds.push(kind);
        }
    }
    Ok(kinds)
}

pub(super) fn check_drop(
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

pub(super) fn check_feed(
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
pub(super) fn preset_ref(
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
