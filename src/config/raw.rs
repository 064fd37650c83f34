//! The file as written: serde structs that mirror the TOML one to one.
//!
//! Every section denies unknown keys, every field is optional (defaults are
//! applied by the validation pass in `mod.rs`), and values that need a
//! semantic check keep their span so the error can point at the line.
//! [`key_path_at`] turns the span of a serde error back into a key path.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use toml::Spanned;

pub(super) type Str = Option<Spanned<String>>;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawConfig {
    #[serde(default)]
    pub api: RawApi,
    #[serde(default)]
    pub state: RawState,
    #[serde(default)]
    pub output: RawOutput,
    pub drop: Option<RawDrop>,
    #[serde(default)]
    pub presets: BTreeMap<Spanned<String>, RawPreset>,
    #[serde(default)]
    pub youtube: RawYoutube,
    #[serde(default)]
    pub titles: RawTitles,
    #[serde(default)]
    pub feeds: Vec<Spanned<RawFeed>>,
    /// `[[notify]]` sinks (checked in `notify.rs`).
    #[serde(default)]
    pub notify: Vec<Spanned<RawNotify>>,
    #[serde(default)]
    pub notifications: RawNotifications,
    pub http: Option<super::http::RawHttp>,
}

/// One `[[notify]]` table.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawNotify {
    pub name: Str,
    pub kind: Str,
    pub url: Str,
    pub url_file: Str,
    pub events: Option<Vec<Spanned<String>>>,
    pub feeds: Option<Vec<Spanned<String>>>,
    pub secret_file: Str,
    pub command: Option<Spanned<Vec<String>>>,
    pub timeout: Str,
    pub retry: Str,
    pub give_up_after: Str,
}

/// `[notifications]`: settings shared by every sink.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawNotifications {
    pub feed_failing_after: Option<Spanned<u32>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawTitles {
    pub lookup: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawApi {
    pub base_url: Str,
    pub api_key_file: Str,
    pub requests_per_minute: Option<Spanned<u32>>,
    pub rate_window: Str,
    pub max_concurrent_projects: Option<Spanned<u32>>,
    pub poll_interval: Str,
    pub poll_floor: Str,
    pub results_wait: Str,
    pub timeout: Str,
    pub daily_unit_budget: Option<u64>,
    pub on_ambiguous_submit: Str,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawState {
    pub dir: Str,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawOutput {
    pub dir: Str,
    pub folder: Str,
    pub clip: Str,
    pub min_score: Option<Spanned<u32>>,
    pub max_clips: Option<u32>,
    pub thumbnails: Option<bool>,
    pub min_free_space: Str,
    pub max_video_size: Str,
    pub exports: Option<Spanned<Vec<Spanned<String>>>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawDrop {
    pub dir: Str,
    pub preset: Str,
    pub settle: Str,
    pub rescan: Str,
}

/// One `[presets.NAME]` table. Field names are the API's option names.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawPreset {
    pub extends: Str,
    pub enable_export: Option<bool>,
    pub ratio: Str,
    pub resolution: Str,
    pub enable_caption: Option<bool>,
    pub caption_display: Str,
    pub cc_style_tpl: Str,
    pub enable_ai_reframe: Option<Spanned<bool>>,
    pub enable_express_mode: Option<bool>,
    pub enable_more_results: Option<bool>,
    pub source_lang: Str,
    pub target_lang: Str,
    pub target_duration: Str,
    pub limit: Option<Spanned<i64>>,
    pub enable_ai_hook: Option<bool>,
    pub ai_hook_script_style: Str,
    pub ai_hook_position: Str,
    pub reframe_layout: Str,
    /// Find Moments: what to look for (see `moments.rs`).
    pub query: Str,
    /// `"moments"` or `"clips"` (AI Clipping); a query alone means moments.
    pub mode: Str,
    /// Extra tasks (not API options): see `presets::EXTRA_KEYS`.
    pub transcript: Option<bool>,
    pub summary: Option<bool>,
    pub also: Option<Spanned<Vec<String>>>,
    /// Keys keep their spans so a refused key can be pointed at.
    pub extra: Option<BTreeMap<Spanned<String>, toml::Value>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawYoutube {
    pub base_url: Str,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawFeed {
    pub name: Str,
    pub youtube: Str,
    pub url: Str,
    pub preset: Str,
    pub interval: Str,
    pub backfill: Option<u32>,
    pub include: Str,
    pub exclude: Str,
    pub shorts: Option<bool>,
    pub delay: Str,
    #[serde(rename = "use")]
    pub entry_use: Str,
}

/// The keys of a TOML document with their spans, used only to name the key
/// a serde error points at. Values carry no spans: implicit tables (the
/// `presets` of `[presets.default]`) have none to give.
enum Node {
    Table(Vec<(Spanned<String>, Node)>),
    Array(Vec<Node>),
    Leaf,
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(NodeVisitor)
    }
}

struct NodeVisitor;

impl<'de> Visitor<'de> for NodeVisitor {
    type Value = Node;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any TOML value")
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Node, E> {
        Ok(Node::Leaf)
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Node, E> {
        Ok(Node::Leaf)
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Node, E> {
        Ok(Node::Leaf)
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Node, E> {
        Ok(Node::Leaf)
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<Node, E> {
        Ok(Node::Leaf)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Node::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
        let mut entries = Vec::new();
        while let Some(key) = map.next_key()? {
            entries.push((key, map.next_value()?));
        }
        Ok(Node::Table(entries))
    }
}

#[derive(Clone)]
enum Segment {
    Key(String),
    Index(usize),
}

/// The dotted path (`presets.default.ratio`, `feeds[1].url`) of the key an
/// error at `offset` belongs to: the last key written at or before it (serde
/// errors point at a key or at its value, and a value follows its key).
/// `None` when the document does not parse: syntax errors name no key.
pub(super) fn key_path_at(text: &str, offset: usize) -> Option<String> {
    let root: Node = toml::from_str(text).ok()?;
    let mut best = None;
    walk(&root, &mut Vec::new(), offset, &mut best);
    if best.is_none() {
        // Errors about a whole table point at its header's `[`, before the key.
        let line_end = text[offset.min(text.len())..]
            .find('\n')
            .map_or(text.len(), |i| offset + i);
        walk(&root, &mut Vec::new(), line_end, &mut best);
    }
    best.map(|(_, path)| format_path(&path))
}

fn walk(
    node: &Node,
    path: &mut Vec<Segment>,
    offset: usize,
    best: &mut Option<(usize, Vec<Segment>)>,
) {
    match node {
        Node::Table(entries) => {
            for (key, value) in entries {
                path.push(Segment::Key(key.get_ref().clone()));
                let start = key.span().start;
                // `>=`: a deeper key sharing the start (a header's last part) wins.
                if start <= offset && best.as_ref().is_none_or(|(b, _)| start >= *b) {
                    *best = Some((start, path.clone()));
                }
                walk(value, path, offset, best);
                path.pop();
            }
        }
        Node::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                path.push(Segment::Index(i));
                walk(item, path, offset, best);
                path.pop();
            }
        }
        Node::Leaf => {}
    }
}

fn format_path(path: &[Segment]) -> String {
    let mut out = String::new();
    for segment in path {
        match segment {
            Segment::Key(key) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(&key_segment(key));
            }
            Segment::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    out
}

/// A key as it would be written in a dotted TOML path: bare when it can be,
/// quoted otherwise (`presets."my preset"`).
pub(super) fn key_segment(key: &str) -> String {
    let bare = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if bare {
        key.to_owned()
    } else {
        format!("{key:?}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str, needle: &str) -> Option<String> {
        key_path_at(text, text.find(needle).unwrap())
    }

    #[test]
    fn names_keys_in_tables_arrays_and_inline_tables() {
        let text = "[api]\ntimeout = \"x\"\n\n[[feeds]]\nname = \"a\"\n\n[[feeds]]\nname = \"b\"\nurl = \"u\"\n\n[presets.\"my preset\"]\nextra = { k = 1 }\n";
        assert_eq!(at(text, "\"x\"").as_deref(), Some("api.timeout"));
        assert_eq!(at(text, "url").as_deref(), Some("feeds[1].url"));
        assert_eq!(
            at(text, "k = 1").as_deref(),
            Some("presets.\"my preset\".extra.k")
        );
    }

    #[test]
    fn syntax_errors_have_no_path() {
        assert_eq!(key_path_at("[api\n", 1), None);
    }

    #[test]
    fn a_header_names_its_table() {
        assert_eq!(
            key_path_at("[feeds]\nname = 1\n", 0).as_deref(),
            Some("feeds")
        );
    }
}
