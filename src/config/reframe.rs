//! The AI-reframe options of a resolved preset checked together (the API's
//! April 2026 edition): `enable_ai_reframe = true` needs a `ratio` to
//! reframe to (`RATIO_ORIGINAL` is none), and `reframe_layout` must be one
//! the API offers for that ratio, spelt exactly (case and spaces count).
//!
//! These checks run on the options after `extends` is resolved, since a
//! preset may inherit the ratio and set reframing itself. A layout set in
//! `[presets.X.extra]` is passed on unchecked: that is the way to use one
//! newer than clipwatch.

use std::collections::BTreeMap;
use std::ops::Range;

use serde_json::{Map, Value};

use super::error::{ConfigError, Source};
use super::raw::key_segment;

/// Where an option of a preset was written.
#[derive(Debug, Clone)]
pub(super) struct Origin {
    /// The preset whose table holds it (the one checked, or an ancestor).
    pub preset: String,
    pub span: Range<usize>,
    /// Set in `[presets.X.extra]`.
    pub extra: bool,
}

pub(super) type Origins = BTreeMap<String, Origin>;

/// Layouts the API offers per ratio; `Auto` is its default.
pub(super) fn layouts(ratio: &str) -> &'static [&'static str] {
    const WIDE: &[&str] = &[
        "Auto",
        "Full",
        "Fit",
        "Grid 4",
        "Split 2",
        "Trio",
        "PiP",
        "OTS",
        "Screen First",
    ];
    const TALL: &[&str] = &[
        "Auto",
        "Full",
        "Fit",
        "Grid 4",
        "Split 2",
        "Trio",
        "PiP",
        "Screen First",
        "Gameplay A",
        "Gameplay B",
    ];
    const SQUARE: &[&str] = &["Auto", "Full", "Fit", "Grid 4", "Trio"];
    match ratio {
        "RATIO_16_9" => WIDE,
        "RATIO_9_16" | "RATIO_4_5" => TALL,
        "RATIO_1_1" => SQUARE,
        _ => &[],
    }
}

const REFRAME_RATIOS: [&str; 4] = ["RATIO_9_16", "RATIO_16_9", "RATIO_1_1", "RATIO_4_5"];

/// Check the resolved `options` of preset `name` (`name_span`: its table
/// header; `None` for the built-in default).
pub(super) fn check(
    src: &Source,
    name: &str,
    name_span: Option<Range<usize>>,
    options: &Map<String, Value>,
    origins: &Origins,
) -> Result<(), ConfigError> {
    if options.get("enable_ai_reframe") != Some(&Value::Bool(true)) {
        return Ok(());
    }
    let key = |field: &str| format!("presets.{}.{field}", key_segment(name));
    let at = |field: &str| {
        origins
            .get(field)
            .map(|o| o.span.clone())
            .or(name_span.clone())
    };
    let from = |field: &str| match origins.get(field) {
        Some(o) if o.preset != name => format!(" (set in preset \"{}\")", o.preset),
        _ => String::new(),
    };
    let ratio = match options.get("ratio") {
        Some(Value::String(ratio)) if REFRAME_RATIOS.contains(&ratio.as_str()) => ratio,
        Some(other) => {
            let shown = other.as_str().map_or(other.to_string(), str::to_string);
            return Err(src.error(
                at("ratio"),
                key("ratio"),
                format!(
                    "enable_ai_reframe = true{} needs a ratio to reframe to: {shown}{} is not one \
                     (expected one of {}; or set enable_ai_reframe = false to keep the source's aspect)",
                    from("enable_ai_reframe"),
                    from("ratio"),
                    REFRAME_RATIOS.join(", ")
                ),
            ));
        }
        None => {
            return Err(src.error(
                at("enable_ai_reframe"),
                key("enable_ai_reframe"),
                format!(
                    "enable_ai_reframe = true{} needs a ratio (the API requires one): add \
                     ratio = one of {}",
                    from("enable_ai_reframe"),
                    REFRAME_RATIOS.join(", ")
                ),
            ));
        }
    };
    let Some(layout) = options.get("reframe_layout") else {
        return Ok(());
    };
    if origins.get("reframe_layout").is_some_and(|o| o.extra) {
        return Ok(());
    }
    let layout = layout.as_str().unwrap_or_default();
    let allowed = layouts(ratio);
    if allowed.contains(&layout) {
        return Ok(());
    }
    let squashed = |s: &str| s.replace(' ', "").to_ascii_lowercase();
    let hint = if let Some(near) = allowed.iter().find(|a| squashed(a) == squashed(layout)) {
        format!("; did you mean \"{near}\"? (case and spaces count)")
    } else if let Some(other) = REFRAME_RATIOS.iter().find(|r| layouts(r).contains(&layout)) {
        format!("; \"{layout}\" is a layout for {other}")
    } else {
        String::new()
    };
    Err(src.error(
        at("reframe_layout"),
        key("reframe_layout"),
        format!(
            "\"{layout}\"{} is not a layout for {ratio}{} (expected one of {}){hint}",
            from("reframe_layout"),
            from("ratio"),
            allowed.join(", ")
        ),
    ))
}
