//! Presets: named sets of WayinVideo submit options.
//!
//! Each `[presets.NAME]` table is checked against the enumerations the API
//! documents (a typo is a config error, not a failed paid task), then
//! `extends` chains are resolved into one flat option map per preset, with
//! `extra` passed through verbatim.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use regex::Regex;
use serde_json::{Map, Value};
use toml::Spanned;

use super::error::{ConfigError, Source};
use super::moments;
use super::raw::{key_segment, RawPreset, Str};
use super::reframe::{self, Origin, Origins};
use super::Preset;

pub(super) const RATIOS: &[&str] = &[
    "RATIO_ORIGINAL",
    "RATIO_16_9",
    "RATIO_1_1",
    "RATIO_4_5",
    "RATIO_9_16",
];
pub(super) const RESOLUTIONS: &[&str] = &["SD_480", "HD_720", "FHD_1080", "QHD_2K", "UHD_4K"];
pub(super) const CAPTION_DISPLAYS: &[&str] = &["both", "original", "translation"];
pub(super) const TARGET_DURATIONS: &[&str] = &[
    "DURATION_0_30",
    "DURATION_30_60",
    "DURATION_60_90",
    "DURATION_0_90",
    "DURATION_90_180",
    "DURATION_180_300",
];
pub(super) const HOOK_POSITIONS: &[&str] = &["beginning", "end"];

/// Options clipwatch fills in itself for every submit, and those with a
/// checked key of their own (`query`, `mode`: see [`moments`]).
const RESERVED: &[&str] = &["video_url", "project_name", "query", "mode"];

/// Preset keys that ask for extra tasks instead of being sent with the
/// clipping submit. They ride in the option map while `extends` is resolved
/// (so they are inherited), then move to their [`Preset`] fields.
const EXTRA_KEYS: [&str; 3] = ["transcript", "summary", "also"];

static LANGUAGE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)^[a-z]{2,3}(-[a-z]{2,4})?$").expect("valid regex"));
static STYLE_ID: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[A-Za-z0-9_-]+$").expect("valid regex"));

/// The preset used when the file has no `[presets.default]`: the SPEC's
/// example (vertical, captioned, reframed, exported 720p clips).
pub(super) fn builtin_default() -> Map<String, Value> {
    let mut options = Map::new();
    options.insert("enable_export".into(), Value::Bool(true));
    options.insert("ratio".into(), "RATIO_9_16".into());
    options.insert("resolution".into(), "HD_720".into());
    options.insert("enable_caption".into(), Value::Bool(true));
    options.insert("caption_display".into(), "original".into());
    options.insert("cc_style_tpl".into(), "temp-7".into());
    options.insert("enable_ai_reframe".into(), Value::Bool(true));
    options
}

/// One preset as written, checked but not yet resolved.
struct Definition {
    /// Options set by this preset itself, `extra` merged over the typed keys.
    own: Map<String, Value>,
    extends: Option<Spanned<String>>,
    /// Where the options checked together were written (see [`reframe`]).
    origins: Origins,
    /// The `[presets.NAME]` header; `None` for the built-in default.
    name_span: Option<std::ops::Range<usize>>,
}

/// Check every preset and resolve `extends`. The result always holds
/// `"default"`.
pub(super) fn resolve(
    src: &Source,
    raw: BTreeMap<Spanned<String>, RawPreset>,
) -> Result<BTreeMap<String, Preset>, ConfigError> {
    let mut defs = BTreeMap::new();
    for (name, preset) in raw {
        let span = name.span();
        let name = name.into_inner();
        if name.trim().is_empty() || name.contains(['/', '\\']) {
            return Err(src.error(
                Some(span),
                format!("presets.{}", key_segment(&name)),
                "a preset name must be non-empty and contain no '/' or '\\' \
                 (it can name a drop-folder subfolder)",
            ));
        }
        let mut def = check(src, &name, preset)?;
        def.name_span = Some(span);
        defs.insert(name, def);
    }
    defs.entry("default".to_owned())
        .or_insert_with(|| Definition {
            own: builtin_default(),
            extends: None,
            origins: Origins::new(),
            name_span: None,
        });

    let mut resolved = BTreeMap::new();
    for name in defs.keys() {
        resolve_one(src, name, &defs, &mut resolved, &mut Vec::new())?;
    }
    for (name, options) in &resolved {
        let def = &defs[name];
        reframe::check(
            src,
            name,
            def.name_span.clone(),
            options,
            &origins_of(name, &defs),
        )?;
        moments::check(src, name, def.name_span.clone(), options)?;
    }
    let mut presets: BTreeMap<String, Preset> = resolved
        .into_iter()
        .map(|(name, options)| {
            let preset = split_extras(&name, options);
            (name, preset)
        })
        .collect();
    check_also(src, &mut presets, &defs)?;
    Ok(presets)
}

fn resolve_one(
    src: &Source,
    name: &str,
    defs: &BTreeMap<String, Definition>,
    resolved: &mut BTreeMap<String, Map<String, Value>>,
    chain: &mut Vec<String>,
) -> Result<(), ConfigError> {
    if resolved.contains_key(name) {
        return Ok(());
    }
    let def = &defs[name];
    let mut options = Map::new();
    if let Some(parent) = &def.extends {
        let key = format!("presets.{}.extends", key_segment(name));
        chain.push(name.to_owned());
        let parent_name = parent.get_ref().as_str();
        let path = || {
            let mut names = chain.clone();
            names.push(parent_name.to_owned());
            names.join(" → ")
        };
        if chain.iter().any(|n| n == parent_name) {
            return Err(src.error(
                Some(parent.span()),
                key,
                format!("presets extend each other in a cycle: {}", path()),
            ));
        }
        if !defs.contains_key(parent_name) {
            let known: Vec<&str> = defs.keys().map(String::as_str).collect();
            return Err(src.error(
                Some(parent.span()),
                key,
                format!(
                    "no preset named \"{parent_name}\" (chain {}; presets: {})",
                    path(),
                    known.join(", ")
                ),
            ));
        }
        resolve_one(src, parent_name, defs, resolved, chain)?;
        chain.pop();
        options = resolved[parent_name].clone();
    }
    for (key, value) in &def.own {
        options.insert(key.clone(), value.clone());
    }
    resolved.insert(name.to_owned(), options);
    Ok(())
}

/// Where each option of preset `name` was written, ancestors first (the
/// chain is known to be whole and acyclic by now).
fn origins_of(name: &str, defs: &BTreeMap<String, Definition>) -> Origins {
    let def = &defs[name];
    let mut origins = match &def.extends {
        Some(parent) => origins_of(parent.get_ref(), defs),
        None => Origins::new(),
    };
    origins.extend(def.origins.clone());
    origins
}

/// Validate one preset's own keys into an option map.
fn check(src: &Source, name: &str, raw: RawPreset) -> Result<Definition, ConfigError> {
    let prefix = format!("presets.{}", key_segment(name));
    let key = |field: &str| format!("{prefix}.{field}");
    let mut own = Map::new();

    let set_bool = |field: &str, value: Option<bool>, own: &mut Map<String, Value>| {
        if let Some(v) = value {
            own.insert(field.to_owned(), Value::Bool(v));
        }
    };
    set_bool("enable_export", raw.enable_export, &mut own);
    set_bool("enable_caption", raw.enable_caption, &mut own);
    set_bool(
        "enable_ai_reframe",
        raw.enable_ai_reframe.as_ref().map(|v| *v.get_ref()),
        &mut own,
    );
    set_bool("enable_ai_hook", raw.enable_ai_hook, &mut own);
    // Enterprise plans: half the units, and more clips.
    set_bool("enable_express_mode", raw.enable_express_mode, &mut own);
    set_bool("enable_more_results", raw.enable_more_results, &mut own);
    let mut origins = Origins::new();
    let mut origin = |field: &str, span: std::ops::Range<usize>, extra: bool| {
        let preset = name.to_owned();
        origins.insert(
            field.to_owned(),
            Origin {
                preset,
                span,
                extra,
            },
        );
    };
    if let Some(v) = &raw.enable_ai_reframe {
        origin("enable_ai_reframe", v.span(), false);
    }
    for (field, value) in [
        ("ratio", &raw.ratio),
        ("reframe_layout", &raw.reframe_layout),
    ] {
        if let Some(v) = value {
            origin(field, v.span(), false);
        }
    }

    let enums: [(&str, &Str, &[&str]); 5] = [
        ("ratio", &raw.ratio, RATIOS),
        ("resolution", &raw.resolution, RESOLUTIONS),
        ("caption_display", &raw.caption_display, CAPTION_DISPLAYS),
        ("target_duration", &raw.target_duration, TARGET_DURATIONS),
        ("ai_hook_position", &raw.ai_hook_position, HOOK_POSITIONS),
    ];
    for (field, value, allowed) in enums {
        if let Some(value) = value {
            let v = value.get_ref();
            if !allowed.contains(&v.as_str()) {
                let hint = allowed
                    .iter()
                    .find(|a| a.eq_ignore_ascii_case(v))
                    .map(|a| format!("; did you mean {a}?"))
                    .unwrap_or_default();
                return Err(src.error(
                    Some(value.span()),
                    key(field),
                    format!(
                        "unknown value \"{v}\" (expected one of {}){hint}",
                        allowed.join(", ")
                    ),
                ));
            }
            own.insert(field.to_owned(), Value::String(v.clone()));
        }
    }

    for (field, value) in [
        ("source_lang", &raw.source_lang),
        ("target_lang", &raw.target_lang),
    ] {
        if let Some(value) = value {
            if !LANGUAGE.is_match(value.get_ref()) {
                return Err(src.error(
                    Some(value.span()),
                    key(field),
                    format!(
                        "\"{}\" is not a language code (expected a short ISO-style code \
                         such as en, es, zh-cn, pt-br)",
                        value.get_ref()
                    ),
                ));
            }
            own.insert(field.to_owned(), Value::String(value.get_ref().clone()));
        }
    }

    if let Some(value) = &raw.cc_style_tpl {
        if !STYLE_ID.is_match(value.get_ref()) {
            return Err(src.error(
                Some(value.span()),
                key("cc_style_tpl"),
                format!(
                    "\"{}\" is not a caption style id (letters, digits, '_' and '-', e.g. temp-7)",
                    value.get_ref()
                ),
            ));
        }
        own.insert("cc_style_tpl".into(), value.get_ref().clone().into());
    }

    for (field, value) in [
        ("ai_hook_script_style", &raw.ai_hook_script_style),
        ("reframe_layout", &raw.reframe_layout),
    ] {
        if let Some(value) = value {
            if value.get_ref().trim().is_empty() {
                return Err(src.error(Some(value.span()), key(field), "must not be empty"));
            }
            own.insert(field.to_owned(), Value::String(value.get_ref().clone()));
        }
    }

    if let Some(limit) = &raw.limit {
        let n = *limit.get_ref();
        if n < 1 {
            return Err(src.error(
                Some(limit.span()),
                key("limit"),
                format!("must be a positive integer (the number of clips to keep), got {n}"),
            ));
        }
        own.insert("limit".into(), Value::from(n));
    }

    set_bool("transcript", raw.transcript, &mut own);
    set_bool("summary", raw.summary, &mut own);
    if let Some(also) = &raw.also {
        let names = also.get_ref().iter().cloned().map(Value::String).collect();
        own.insert("also".into(), Value::Array(names));
        origin("also", also.span(), false);
    }
    moments::own(src, &prefix, &raw.query, &raw.mode, &mut own)?;

    for (k, v) in raw.extra.unwrap_or_default() {
        let span = k.span();
        let k = k.into_inner();
        if RESERVED.contains(&k.as_str()) {
            let message = if moments::KEYS.contains(&k.as_str()) {
                format!("{k} cannot be set in extra: write it as {prefix}.{k}, where it is checked")
            } else {
                format!("{k} cannot be set in a preset: clipwatch sets it for every video")
            };
            return Err(src.error(
                Some(span),
                format!("{}.{}", key("extra"), key_segment(&k)),
                message,
            ));
        }
        origin(&k, span, true);
        own.insert(k, to_json(v));
    }

    Ok(Definition {
        own,
        extends: raw.extends,
        origins,
        name_span: None,
    })
}

/// Move the [`EXTRA_KEYS`] out of a resolved option map into the preset.
fn split_extras(name: &str, mut options: Map<String, Value>) -> Preset {
    let mut take = |key: &str| options.remove(key);
    debug_assert_eq!(EXTRA_KEYS.len(), 3);
    let transcript = take("transcript") == Some(Value::Bool(true));
    let summary = take("summary") == Some(Value::Bool(true));
    let also = match take("also") {
        Some(Value::Array(names)) => names
            .into_iter()
            .filter_map(|n| n.as_str().map(str::to_owned))
            .collect(),
        _ => Vec::new(),
    };
    Preset {
        name: name.to_owned(),
        options,
        transcript,
        summary,
        also,
    }
}

/// Every name in an `also` list is another preset. An `also` inherited
/// through `extends` leaves out the preset itself (`landscape` extending a
/// `default` that renders `also = ["landscape"]`).
fn check_also(
    src: &Source,
    presets: &mut BTreeMap<String, Preset>,
    defs: &BTreeMap<String, Definition>,
) -> Result<(), ConfigError> {
    let names: Vec<String> = presets.keys().cloned().collect();
    for preset in presets.values_mut() {
        let inherited = origins_of(&preset.name, defs)
            .get("also")
            .is_some_and(|o| o.preset != preset.name);
        if inherited {
            let own = preset.name.clone();
            preset.also.retain(|other| *other != own);
        }
        for other in &preset.also {
            if other == &preset.name || !names.contains(other) {
                let span = origins_of(&preset.name, defs)
                    .get("also")
                    .map(|o| o.span.clone());
                let known: Vec<&str> = names.iter().map(String::as_str).collect();
                return Err(src.error(
                    span,
                    format!("presets.{}.also", key_segment(&preset.name)),
                    format!(
                        "\"{other}\" is not another preset (presets: {}); `also` names the \
                         presets whose export options render the clips again",
                        known.join(", ")
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// TOML to JSON, datetimes as their TOML text (RFC 3339 when complete).
fn to_json(value: toml::Value) -> Value {
    match value {
        toml::Value::String(s) => Value::String(s),
        toml::Value::Integer(i) => Value::from(i),
        toml::Value::Float(f) => serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number),
        toml::Value::Boolean(b) => Value::Bool(b),
        toml::Value::Datetime(d) => Value::String(d.to_string()),
        toml::Value::Array(items) => Value::Array(items.into_iter().map(to_json).collect()),
        toml::Value::Table(table) => {
            Value::Object(table.into_iter().map(|(k, v)| (k, to_json(v))).collect())
        }
    }
}
