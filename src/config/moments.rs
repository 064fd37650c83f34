//! Find Moments presets: `query = "product demos"` (and optionally
//! `mode = "moments"`) makes a preset's jobs submit to the API's Find
//! Moments endpoint instead of AI Clipping.
//!
//! The query is checked where it is written (not empty, short: the API
//! says to keep it short), the mode after `extends` is resolved, since a
//! preset may inherit the query and set the mode itself, or the reverse.

use std::ops::Range;

use serde_json::{Map, Value};

use super::error::{ConfigError, Source};
use super::raw::{key_segment, Str};
use super::{Config, Preset};
use crate::model::moments::{self, QUERY_OPTION};

/// The preset keys this module checks.
pub(super) const KEYS: &[&str] = &[QUERY_OPTION, MODE_OPTION];
const MODE_OPTION: &str = "mode";
const MODE_MOMENTS: &str = "moments";
const MODE_CLIPS: &str = "clips";
/// The longest query taken. The API documents no limit but asks for short
/// queries ("keep short, English works best"); a paragraph is a mistake.
pub const MAX_QUERY_CHARS: usize = 200;
/// AI Clipping options the Find Moments endpoint does not take: a moments
/// preset that inherits them from a clipping preset does not send them.
const CLIPPING_ONLY: &[&str] = &[
    "target_duration",
    "enable_more_results",
    "enable_express_mode",
];

/// Check the preset's own `query` and `mode` and put them in `own`.
pub(super) fn own(
    src: &Source,
    prefix: &str,
    query: &Str,
    mode: &Str,
    own: &mut Map<String, Value>,
) -> Result<(), ConfigError> {
    if let Some(query) = query {
        let text = moments::normalize(query.get_ref());
        let key = format!("{prefix}.{QUERY_OPTION}");
        if text.is_empty() {
            return Err(src.error(
                Some(query.span()),
                key,
                "the Find Moments query is empty: say what to look for, e.g. \
                 query = \"product demos\" (or remove query for AI Clipping)",
            ));
        }
        let chars = text.chars().count();
        if chars > MAX_QUERY_CHARS {
            return Err(src.error(
                Some(query.span()),
                key,
                format!(
                    "the Find Moments query is {chars} characters; keep it under \
                     {MAX_QUERY_CHARS} (a few words such as \"product demos\" work best)"
                ),
            ));
        }
        own.insert(QUERY_OPTION.into(), Value::String(text));
    }
    if let Some(mode) = mode {
        let value = mode.get_ref().trim();
        if value != MODE_MOMENTS && value != MODE_CLIPS {
            return Err(src.error(
                Some(mode.span()),
                format!("{prefix}.{MODE_OPTION}"),
                format!(
                    "unknown mode \"{value}\" (expected \"{MODE_MOMENTS}\" for Find Moments, \
                     with a query, or \"{MODE_CLIPS}\" for AI Clipping)"
                ),
            ));
        }
        own.insert(MODE_OPTION.into(), Value::String(value.to_owned()));
    }
    Ok(())
}

/// Check the resolved preset `name`: `mode = "moments"` needs a query,
/// `mode = "clips"` takes none.
pub(super) fn check(
    src: &Source,
    name: &str,
    span: Option<Range<usize>>,
    options: &Map<String, Value>,
) -> Result<(), ConfigError> {
    let mode = options.get(MODE_OPTION).and_then(Value::as_str);
    let has_query = options.contains_key(QUERY_OPTION);
    let key = format!("presets.{}", key_segment(name));
    match mode {
        Some(MODE_MOMENTS) if !has_query => Err(src.error(
            span,
            format!("{key}.{MODE_OPTION}"),
            format!(
                "preset \"{name}\" sets mode = \"moments\" but no query: add what to look \
                 for, e.g. query = \"product demos\" (Find Moments searches the video for it)"
            ),
        )),
        Some(MODE_CLIPS) if has_query => Err(src.error(
            span,
            format!("{key}.{QUERY_OPTION}"),
            format!(
                "preset \"{name}\" sets mode = \"clips\" (AI Clipping) but has a query \
                 (its own or inherited through extends), which only Find Moments uses: \
                 remove one of them"
            ),
        )),
        _ => Ok(()),
    }
}

impl Preset {
    /// The Find Moments query, when this preset's jobs are Find Moments
    /// tasks; `None` for AI Clipping.
    pub fn query(&self) -> Option<&str> {
        self.options.get(QUERY_OPTION).and_then(Value::as_str)
    }

    /// The options sent with a submit: the preset's, without `mode` (ours,
    /// not the API's) and, for Find Moments, without AI Clipping's own.
    pub fn api_options(&self) -> Map<String, Value> {
        let moments = self.query().is_some();
        self.options
            .iter()
            .filter(|(k, _)| k.as_str() != MODE_OPTION)
            .filter(|(k, _)| !(moments && CLIPPING_ONLY.contains(&k.as_str())))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }
}

impl Config {
    /// The job key for the video `video_key` queued with preset `preset`:
    /// the video's key for AI Clipping, the video's key and the query's
    /// tag for Find Moments (see [`crate::model::moments`]).
    pub fn job_key(&self, video_key: &str, preset: &str) -> String {
        let query = self.presets.get(preset).and_then(Preset::query);
        moments::job_key(video_key, query)
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        super::super::parse(text, Path::new("config.toml"), &|_| None)
    }

    const PRESETS: &str = r#"
[presets.clipping]
target_duration = "DURATION_30_60"
enable_express_mode = true
limit = 5

[presets.demos]
extends = "clipping"
query = " product  demos "
mode = "moments"
"#;

    #[test]
    fn a_moments_preset_sends_its_query_but_not_clipping_options() {
        let config = parse(PRESETS).unwrap();
        let demos = &config.presets["demos"];
        assert_eq!(demos.query(), Some("product demos"));
        let sent = demos.api_options();
        assert_eq!(sent["query"], "product demos");
        assert_eq!(sent["limit"], 5);
        for dropped in ["mode", "target_duration", "enable_express_mode"] {
            assert!(!sent.contains_key(dropped), "{dropped} sent: {sent:?}");
        }
        let clipping = &config.presets["clipping"];
        assert_eq!(clipping.query(), None);
        assert_eq!(clipping.api_options(), clipping.options);
        let video = "youtube:dQw4w9WgXcQ";
        assert_eq!(config.job_key(video, "clipping"), video);
        assert_eq!(config.job_key(video, "no such preset"), video);
        assert_ne!(config.job_key(video, "demos"), video);
    }

    #[test]
    fn a_moments_mode_without_a_query_names_the_preset_and_line() {
        let err = parse("[presets.hunt]\nextends = \"default\"\nmode = \"moments\"\n").unwrap_err();
        assert_eq!(err.line(), Some(1));
        assert_eq!(err.key(), Some("presets.hunt.mode"));
        assert!(err.to_string().contains("preset \"hunt\""), "{err}");
        // Inherited, the query counts.
        let inherited =
            format!("{PRESETS}\n[presets.more]\nextends = \"demos\"\nmode = \"moments\"\n");
        assert!(parse(&inherited).is_ok());
    }
}
