//! Names in the output tree: the folder and clip templates of `[output]` and
//! the sanitizing every name component goes through (SPEC §6).
//!
//! A template is parsed once (config validation) and rendered per source or
//! clip. Placeholder values are untrusted (feed and API titles): they are
//! substituted inside the component the template puts them in and the result
//! is sanitized, so a value can neither add a folder level nor leave
//! `output.dir`.

use std::fmt;
use std::path::PathBuf;

use chrono::{Datelike, NaiveDate};

/// The longest name component, in bytes (leaves room for `.json`, `.part`).
pub const MAX_COMPONENT_BYTES: usize = 120;

/// The name used when sanitizing leaves nothing.
const FALLBACK: &str = "untitled";

/// Characters Windows (and SMB shares) refuse in names, plus the separators.
/// Each is replaced with a space, like whitespace and control characters.
const FORBIDDEN: &[char] = &['<', '>', ':', '"', '/', '\\', '|', '?', '*'];

/// One safe file or folder name from arbitrary text.
///
/// Control characters, whitespace and `<>:"/\|?*` become one space per run;
/// invisible format characters (bidi overrides and isolates, zero-width
/// characters, BOM) are removed; leading dots and spaces and trailing dots and
/// spaces are trimmed; Windows device names (`CON`, `nul.txt`, ...) get a `_`
/// prefix; the result is cut to [`MAX_COMPONENT_BYTES`] on a character
/// boundary and is never empty (`untitled`). Other characters, emoji and any
/// script included, are kept.
pub fn sanitize_component(raw: &str) -> String {
    clean_component(raw).unwrap_or_else(|| FALLBACK.to_owned())
}

/// [`sanitize_component`] without the fallback: `None` when nothing is left.
fn clean_component(raw: &str) -> Option<String> {
    let mut out = String::with_capacity(raw.len().min(4 * MAX_COMPONENT_BYTES));
    let mut pending_space = false;
    for c in raw.chars() {
        if is_invisible(c) {
            continue;
        }
        if c.is_whitespace() || c.is_control() || FORBIDDEN.contains(&c) {
            pending_space = true;
            continue;
        }
        if pending_space && !out.is_empty() {
            out.push(' ');
        }
        pending_space = false;
        out.push(c);
    }
    let mut name = out.trim_start_matches(['.', ' ']).to_owned();
    truncate_and_trim(&mut name);
    if is_reserved(&name) {
        name.insert(0, '_');
        truncate_and_trim(&mut name);
    }
    (!name.is_empty()).then_some(name)
}

fn truncate_and_trim(name: &mut String) {
    if name.len() > MAX_COMPONENT_BYTES {
        let mut cut = MAX_COMPONENT_BYTES;
        while !name.is_char_boundary(cut) {
            cut -= 1;
        }
        name.truncate(cut);
    }
    let kept = name.trim_end_matches(['.', ' ']).len();
    name.truncate(kept);
}

/// Zero-width and bidi formatting characters: they make names that look
/// alike but differ, or display in a misleading order.
fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'
            | '\u{061C}'
            | '\u{180E}'
            | '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{206F}'
            | '\u{FEFF}'
    )
}

/// Windows device names, with or without an extension (`con.txt`).
fn is_reserved(name: &str) -> bool {
    let stem = name
        .split('.')
        .next()
        .unwrap_or_default()
        .trim_end_matches(' ');
    let upper = stem.to_ascii_uppercase();
    match upper.as_str() {
        "CON" | "PRN" | "AUX" | "NUL" | "CONIN$" | "CONOUT$" => true,
        _ => {
            let rest = upper
                .strip_prefix("COM")
                .or_else(|| upper.strip_prefix("LPT"));
            let mut rest = rest.unwrap_or_default().chars();
            matches!(
                (rest.next(), rest.next()),
                (Some('0'..='9' | '¹' | '²' | '³'), None)
            )
        }
    }
}

/// Which template a text is: the per-source folder or the per-clip base name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TemplateKind {
    Folder,
    Clip,
}

impl TemplateKind {
    fn allowed(self) -> &'static [&'static str] {
        match self {
            TemplateKind::Folder => &[
                "feed", "date", "year", "month", "day", "title", "id", "preset",
            ],
            TemplateKind::Clip => &["rank", "idx", "score", "title", "id"],
        }
    }
}

impl fmt::Display for TemplateKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TemplateKind::Folder => "folder",
            TemplateKind::Clip => "clip",
        })
    }
}

/// Placeholders that take a zero-padding width (`{rank:02}`).
const NUMERIC: &[&str] = &["rank", "idx", "score"];

/// The widest zero padding accepted.
const MAX_WIDTH: usize = 20;

/// Why a template was refused. Messages quote the template and name the
/// placeholder; the config layer adds the key and line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    #[error("the {kind} template is empty")]
    Empty { kind: TemplateKind },
    #[error(
        "unbalanced `{brace}` at byte {pos} of {kind} template {template:?}; \
         write `{{{{` or `}}}}` for a literal brace"
    )]
    UnbalancedBrace {
        kind: TemplateKind,
        template: String,
        pos: usize,
        brace: char,
    },
    #[error(
        "unknown placeholder {{{name}}} in {kind} template {template:?}; allowed: {allowed}",
        allowed = kind.allowed().join(", ")
    )]
    UnknownPlaceholder {
        kind: TemplateKind,
        template: String,
        name: String,
    },
    #[error("bad format {{{name}:{spec}}} in {kind} template {template:?}: {reason}")]
    BadFormat {
        kind: TemplateKind,
        template: String,
        name: String,
        spec: String,
        reason: &'static str,
    },
    #[error("the clip template {template:?} contains `/`: clips are files in the source's folder, not subfolders")]
    SlashInClip { template: String },
    #[error(
        "the folder template {template:?} must be a relative path without `.` or `..` components"
    )]
    NotRelative { template: String },
    #[error(
        "the clip template {template:?} uses neither {{rank}} nor {{idx}}: \
         every clip of a video would get the same name"
    )]
    NoClipNumber { template: String },
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Literal(String),
    Placeholder {
        name: &'static str,
        width: Option<usize>,
    },
}

/// A parsed folder or clip template.
#[derive(Debug, Clone)]
pub struct Template {
    text: String,
    kind: TemplateKind,
    /// Split at the template's own `/`: one entry per path component.
    components: Vec<Vec<Piece>>,
}

/// The values a template can use. Empty strings and `None` render as nothing.
#[derive(Debug, Clone, Default)]
pub struct Vars {
    /// The feed name, or `inbox` for dropped items.
    pub feed: String,
    /// `YYYY-MM-DD`; `{year}`, `{month}` and `{day}` come from it.
    pub date: String,
    pub title: String,
    /// The short id ([`crate::model::identity::short_id`]).
    pub id: String,
    pub preset: String,
    /// 1-based; derived from `idx` when `None`.
    pub rank: Option<u32>,
    /// 0-based; derived from `rank` when `None`.
    pub idx: Option<u32>,
    pub score: Option<u32>,
}

impl Template {
    /// Parses and checks a template: placeholders must be known for `kind`,
    /// braces balanced (`{{` and `}}` are literal braces), a format spec is
    /// `:0N` on a number, a clip template has no `/` and names `{rank}` or
    /// `{idx}`, a folder template is relative.
    pub fn parse(text: &str, kind: TemplateKind) -> Result<Template, TemplateError> {
        if text.trim().is_empty() {
            return Err(TemplateError::Empty { kind });
        }
        let unbalanced = |pos, brace| TemplateError::UnbalancedBrace {
            kind,
            template: text.to_owned(),
            pos,
            brace,
        };
        let mut components: Vec<Vec<Piece>> = vec![Vec::new()];
        let mut literal = String::new();
        let mut chars = text.char_indices().peekable();
        while let Some((pos, c)) = chars.next() {
            match c {
                '{' if chars.next_if(|&(_, n)| n == '{').is_some() => literal.push('{'),
                '}' if chars.next_if(|&(_, n)| n == '}').is_some() => literal.push('}'),
                '}' => return Err(unbalanced(pos, '}')),
                '{' => {
                    let start = pos + 1;
                    let end = loop {
                        match chars.next() {
                            Some((end, '}')) => break end,
                            Some((_, '{')) | None => return Err(unbalanced(pos, '{')),
                            Some(_) => {}
                        }
                    };
                    let piece = parse_placeholder(&text[start..end], text, kind)?;
                    let current = components.last_mut().expect("never empty");
                    if !literal.is_empty() {
                        current.push(Piece::Literal(std::mem::take(&mut literal)));
                    }
                    current.push(piece);
                }
                '/' if kind == TemplateKind::Clip => {
                    return Err(TemplateError::SlashInClip {
                        template: text.to_owned(),
                    })
                }
                '/' => {
                    let current = components.last_mut().expect("never empty");
                    if !literal.is_empty() {
                        current.push(Piece::Literal(std::mem::take(&mut literal)));
                    }
                    components.push(Vec::new());
                }
                _ => literal.push(c),
            }
        }
        if !literal.is_empty() {
            let current = components.last_mut().expect("never empty");
            current.push(Piece::Literal(literal));
        }
        let template = Template {
            text: text.to_owned(),
            kind,
            components,
        };
        template.check()?;
        Ok(template)
    }

    fn check(&self) -> Result<(), TemplateError> {
        match self.kind {
            TemplateKind::Folder => {
                let dot_component = self.components.iter().any(|pieces| {
                    matches!(pieces.as_slice(), [Piece::Literal(s)] if matches!(s.trim(), "." | ".."))
                });
                if self.text.starts_with('/') || dot_component {
                    return Err(TemplateError::NotRelative {
                        template: self.text.clone(),
                    });
                }
            }
            TemplateKind::Clip => {
                if !self.uses("rank") && !self.uses("idx") {
                    return Err(TemplateError::NoClipNumber {
                        template: self.text.clone(),
                    });
                }
            }
        }
        Ok(())
    }

    /// Whether the template uses the placeholder `name`.
    pub fn uses(&self, name: &str) -> bool {
        self.components
            .iter()
            .flatten()
            .any(|piece| matches!(piece, Piece::Placeholder { name: used, .. } if *used == name))
    }

    /// The template as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    pub fn kind(&self) -> TemplateKind {
        self.kind
    }

    /// The relative path for `vars`: one sanitized component per `/` of a
    /// folder template (components left empty are dropped), a single
    /// sanitized component for a clip template. Never empty, never absolute,
    /// never `..`.
    pub fn render(&self, vars: &Vars) -> PathBuf {
        let values = Values::new(vars);
        let mut path = PathBuf::new();
        for pieces in &self.components {
            let mut raw = String::new();
            for piece in pieces {
                match piece {
                    Piece::Literal(text) => raw.push_str(text),
                    Piece::Placeholder { name, width } => {
                        raw.push_str(&values.get(name, *width));
                    }
                }
            }
            if let Some(name) = clean_component(&raw) {
                path.push(name);
            }
        }
        if path.as_os_str().is_empty() {
            path.push(FALLBACK);
        }
        path
    }
}

impl fmt::Display for Template {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

fn parse_placeholder(
    inner: &str,
    template: &str,
    kind: TemplateKind,
) -> Result<Piece, TemplateError> {
    let (name, spec) = match inner.split_once(':') {
        Some((name, spec)) => (name, Some(spec)),
        None => (inner, None),
    };
    let Some(&name) = kind.allowed().iter().find(|&&known| known == name) else {
        return Err(TemplateError::UnknownPlaceholder {
            kind,
            template: template.to_owned(),
            name: name.to_owned(),
        });
    };
    let Some(spec) = spec else {
        return Ok(Piece::Placeholder { name, width: None });
    };
    let bad = |reason| TemplateError::BadFormat {
        kind,
        template: template.to_owned(),
        name: name.to_owned(),
        spec: spec.to_owned(),
        reason,
    };
    if !NUMERIC.contains(&name) {
        return Err(bad("only rank, idx and score take a format"));
    }
    let width = spec
        .strip_prefix('0')
        .filter(|digits| !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|digits| digits.parse::<usize>().ok())
        .ok_or_else(|| bad("expected :0N, a zero-padded width such as {rank:02}"))?;
    if !(1..=MAX_WIDTH).contains(&width) {
        return Err(bad("the width must be 1 to 20"));
    }
    Ok(Piece::Placeholder {
        name,
        width: Some(width),
    })
}

/// `Vars` with the derived values worked out once per render.
struct Values<'a> {
    vars: &'a Vars,
    date: Option<NaiveDate>,
    rank: Option<u32>,
    idx: Option<u32>,
}

impl<'a> Values<'a> {
    fn new(vars: &'a Vars) -> Self {
        let date = vars
            .date
            .get(..10)
            .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok());
        Values {
            vars,
            date,
            rank: vars.rank.or(vars.idx.map(|i| i.saturating_add(1))),
            idx: vars.idx.or(vars.rank.and_then(|r| r.checked_sub(1))),
        }
    }

    fn get(&self, name: &str, width: Option<usize>) -> String {
        let number = |n: Option<u32>| match (n, width) {
            (Some(n), Some(width)) => format!("{n:0width$}"),
            (Some(n), None) => n.to_string(),
            (None, _) => String::new(),
        };
        let date_part = |f: fn(&NaiveDate) -> String| self.date.as_ref().map(f).unwrap_or_default();
        match name {
            "feed" => self.vars.feed.clone(),
            "date" => self.vars.date.clone(),
            "year" => date_part(|d| format!("{:04}", d.year())),
            "month" => date_part(|d| format!("{:02}", d.month())),
            "day" => date_part(|d| format!("{:02}", d.day())),
            "title" => self.vars.title.clone(),
            "id" => self.vars.id.clone(),
            "preset" => self.vars.preset.clone(),
            "rank" => number(self.rank),
            "idx" => number(self.idx),
            "score" => number(self.vars.score),
            _ => String::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::{Component, Path};

    const FOLDER: &str = "{feed}/{date} {title} [{id}]";
    const CLIP: &str = "{rank:02} {title}";

    fn folder() -> Template {
        Template::parse(FOLDER, TemplateKind::Folder).unwrap()
    }

    fn clip() -> Template {
        Template::parse(CLIP, TemplateKind::Clip).unwrap()
    }

    fn source(title: &str) -> Vars {
        Vars {
            feed: "Lex Fridman".into(),
            date: "2024-05-01".into(),
            title: title.into(),
            id: "dQw4w9WgXcQ".into(),
            preset: "default".into(),
            ..Vars::default()
        }
    }

    fn clip_vars(rank: u32, title: &str) -> Vars {
        Vars {
            rank: Some(rank),
            title: title.into(),
            ..Vars::default()
        }
    }

    /// The invariants every sanitized component holds.
    fn assert_safe_component(name: &str, input: &str) {
        let ctx = format!("input {input:?} gave {name:?}");
        assert!(!name.is_empty(), "{ctx}");
        assert!(name.len() <= MAX_COMPONENT_BYTES, "{ctx}");
        assert!(name != "." && name != "..", "{ctx}");
        assert!(!name.starts_with(['.', ' ']), "{ctx}");
        assert!(!name.ends_with(['.', ' ']), "{ctx}");
        assert!(!name.contains("  "), "{ctx}");
        assert!(
            !name
                .chars()
                .any(|c| c.is_control() || is_invisible(c) || FORBIDDEN.contains(&c)),
            "{ctx}"
        );
        assert!(
            !name.chars().any(|c| c.is_whitespace() && c != ' '),
            "{ctx}"
        );
        assert!(!is_reserved(name), "{ctx}");
        let components: Vec<_> = Path::new(name).components().collect();
        assert!(
            matches!(components.as_slice(), [Component::Normal(_)]),
            "{ctx}"
        );
    }

    fn assert_safe_path(path: &Path, input: &str) {
        assert!(path.is_relative(), "{input:?} gave {path:?}");
        assert!(
            path.components().next().is_some(),
            "{input:?} gave {path:?}"
        );
        for component in path.components() {
            match component {
                Component::Normal(name) => assert_safe_component(name.to_str().unwrap(), input),
                other => panic!("{input:?} gave {path:?} with {other:?}"),
            }
        }
    }

    #[test]
    fn spec_default_templates() {
        let path = folder().render(&source(
            "Sam Altman: OpenAI, GPT-5 | Lex Fridman Podcast #419",
        ));
        assert_eq!(
            path,
            Path::new("Lex Fridman/2024-05-01 Sam Altman OpenAI, GPT-5 Lex Fridman Podcast #419 [dQw4w9WgXcQ]")
        );
        assert_eq!(
            clip().render(&clip_vars(1, "Why AGI?")),
            Path::new("01 Why AGI")
        );
        assert_eq!(clip().render(&clip_vars(12, "x")), Path::new("12 x"));
        assert_eq!(clip().render(&clip_vars(100, "x")), Path::new("100 x"));
    }

    #[test]
    fn rank_and_idx_derive_from_each_other() {
        let by_idx = Vars {
            idx: Some(0),
            title: "t".into(),
            ..Vars::default()
        };
        assert_eq!(clip().render(&by_idx), Path::new("01 t"));
        let both = Template::parse("{idx}-{rank:03}-{score}", TemplateKind::Clip).unwrap();
        let vars = Vars {
            rank: Some(3),
            score: Some(81),
            ..Vars::default()
        };
        assert_eq!(both.render(&vars), Path::new("2-003-81"));
        // Missing numbers render as nothing, and the name is still usable.
        assert_eq!(clip().render(&Vars::default()), Path::new(FALLBACK));
    }

    #[test]
    fn date_parts_and_subfolders() {
        let t = Template::parse(
            "{preset}/{year}/{month}/{day} {title}",
            TemplateKind::Folder,
        )
        .unwrap();
        assert_eq!(t.render(&source("Ep")), Path::new("default/2024/05/01 Ep"));
        // An unparseable date leaves its parts empty; empty components drop.
        let mut vars = source("Ep");
        vars.date = "someday".into();
        vars.preset.clear();
        assert_eq!(t.render(&vars), Path::new("Ep"));
        // Empty components written in the template itself drop too.
        let t = Template::parse("{feed}//{title}/", TemplateKind::Folder).unwrap();
        assert_eq!(t.render(&source("Ep")), Path::new("Lex Fridman/Ep"));
    }

    #[test]
    fn braces_escape() {
        let t = Template::parse("{{{rank}}} }}x{{", TemplateKind::Clip).unwrap();
        assert_eq!(t.render(&clip_vars(1, "")), Path::new("{1} }x{"));
        // A value's braces are never template syntax.
        assert_eq!(
            clip().render(&clip_vars(1, "{title}")),
            Path::new("01 {title}")
        );
    }

    #[test]
    fn hostile_titles_stay_in_their_component() {
        let cases = [
            (
                "../../etc/passwd",
                "2024-05-01 .. .. etc passwd [dQw4w9WgXcQ]",
            ),
            ("/abs", "2024-05-01 abs [dQw4w9WgXcQ]"),
            ("..\\..\\win", "2024-05-01 .. .. win [dQw4w9WgXcQ]"),
            (
                "a\0b\x01c\x7fd\u{9b}e\r\nf\tg",
                "2024-05-01 a b c d e f g [dQw4w9WgXcQ]",
            ),
            ("", "2024-05-01 [dQw4w9WgXcQ]"),
        ];
        for (title, want) in cases {
            let path = folder().render(&source(title));
            assert_eq!(path, Path::new("Lex Fridman").join(want), "{title:?}");
            assert_safe_path(&path, title);
            let path = clip().render(&clip_vars(1, title));
            assert_eq!(path.components().count(), 1, "{title:?}");
            assert_safe_path(&path, title);
        }
    }

    #[test]
    fn a_value_that_is_the_whole_component_cannot_escape() {
        let t = Template::parse("{feed}/{title}", TemplateKind::Folder).unwrap();
        for title in [
            "..",
            ".",
            "../..",
            "/",
            "//",
            "../../etc/passwd",
            "/abs",
            "....",
        ] {
            let path = t.render(&source(title));
            assert_safe_path(&path, title);
            assert!(path.starts_with("Lex Fridman"), "{title:?} gave {path:?}");
        }
        assert_eq!(
            t.render(&source("../../etc/passwd")),
            Path::new("Lex Fridman/etc passwd")
        );
        assert_eq!(t.render(&source("..")), Path::new("Lex Fridman"));
        let mut vars = source("x");
        vars.feed = "AC/DC".into();
        assert_eq!(t.render(&vars), Path::new("AC DC/x"));
        vars.feed = "..".into();
        vars.title = "..".into();
        assert_eq!(t.render(&vars), Path::new(FALLBACK));
    }

    #[test]
    fn sanitize_examples() {
        let cases = [
            ("CON", "_CON"),
            ("con", "_con"),
            ("nul.txt", "_nul.txt"),
            ("Com1", "_Com1"),
            ("LPT9.tar.gz", "_LPT9.tar.gz"),
            ("COM¹", "_COM¹"),
            ("CON .txt", "_CON .txt"),
            ("CONSOLE", "CONSOLE"),
            ("COM10", "COM10"),
            ("a con", "a con"),
            ("...", FALLBACK),
            ("   ", FALLBACK),
            ("", FALLBACK),
            (". . .x", "x"),
            (".hidden", "hidden"),
            ("name. . ", "name"),
            ("a<b>c:d\"e/f\\g|h?i*j", "a b c d e f g h i j"),
            ("a   \t\n  b", "a b"),
            ("a\u{a0}\u{2003}b", "a b"),
            ("abc\u{202e}gpj.exe", "abcgpj.exe"),
            ("\u{2067}x\u{2069}\u{200b}y\u{feff}", "xy"),
            (
                "🎬 Film 日本語 العربية Ελληνικά",
                "🎬 Film 日本語 العربية Ελληνικά",
            ),
            ("why?", "why"),
            ("a..b", "a..b"),
        ];
        for (raw, want) in cases {
            assert_eq!(sanitize_component(raw), want, "{raw:?}");
            assert_safe_component(&sanitize_component(raw), raw);
        }
    }

    #[test]
    fn long_names_are_cut_on_a_char_boundary() {
        let title = "é".repeat(1000);
        let name = sanitize_component(&title);
        assert_eq!(name, "é".repeat(60));
        // 119 ASCII bytes, then a 4-byte emoji that does not fit.
        let name = sanitize_component(&format!("{}🎬🎬", "a".repeat(119)));
        assert_eq!(name, "a".repeat(119));
        // The cut lands after dots and spaces: they are trimmed again.
        let name = sanitize_component(&format!("{}. . xyz", "b".repeat(117)));
        assert_eq!(name, "b".repeat(117));
        // A device name padded to the limit keeps its prefix and the limit.
        let name = sanitize_component(&format!("con.{}", "t".repeat(200)));
        assert!(name.starts_with("_con.") && name.len() == MAX_COMPONENT_BYTES);
        let path = folder().render(&source(&"日本".repeat(500)));
        assert_safe_path(&path, "long");
    }

    #[test]
    fn template_errors_name_the_problem() {
        let cases: &[(&str, TemplateKind, &str)] = &[
            ("", TemplateKind::Folder, "empty"),
            ("  ", TemplateKind::Clip, "empty"),
            ("{nope}", TemplateKind::Folder, "{nope}"),
            ("{feed}/{rank}", TemplateKind::Folder, "{rank}"),
            ("{rank} {feed}", TemplateKind::Clip, "{feed}"),
            ("{rank} {}", TemplateKind::Clip, "{}"),
            ("{Title} {rank}", TemplateKind::Clip, "{Title}"),
            ("{rank} {title", TemplateKind::Clip, "`{` at byte 7"),
            ("{rank} {ti{tle}", TemplateKind::Clip, "`{` at byte 7"),
            ("{rank} title}", TemplateKind::Clip, "`}` at byte 12"),
            ("{rank:2}", TemplateKind::Clip, "{rank:2}"),
            ("{rank:0}", TemplateKind::Clip, "{rank:0}"),
            ("{rank:0x}", TemplateKind::Clip, "{rank:0x}"),
            ("{rank:021}", TemplateKind::Clip, "{rank:021}"),
            ("{rank:}", TemplateKind::Clip, "{rank:}"),
            ("{rank} {title:02}", TemplateKind::Clip, "{title:02}"),
            ("{feed}/{date:02}", TemplateKind::Folder, "{date:02}"),
            ("{rank}/{title}", TemplateKind::Clip, "contains `/`"),
            ("{title}", TemplateKind::Clip, "neither {rank} nor {idx}"),
            ("/{feed}", TemplateKind::Folder, "relative"),
            ("../{feed}", TemplateKind::Folder, "relative"),
            ("{feed}/./x", TemplateKind::Folder, "relative"),
        ];
        for &(text, kind, want) in cases {
            let err = Template::parse(text, kind).unwrap_err();
            let msg = err.to_string();
            assert!(msg.contains(want), "{text:?}: {msg}");
        }
        let msg = Template::parse("{nope}", TemplateKind::Clip)
            .unwrap_err()
            .to_string();
        assert!(
            msg.contains("allowed: rank, idx, score, title, id"),
            "{msg}"
        );
        let msg = Template::parse("{rank} }", TemplateKind::Clip)
            .unwrap_err()
            .to_string();
        assert!(
            msg.contains("write `{{` or `}}` for a literal brace"),
            "{msg}"
        );
    }

    #[test]
    fn templates_keep_their_text() {
        let t = folder();
        assert_eq!(t.as_str(), FOLDER);
        assert_eq!(t.to_string(), FOLDER);
        assert_eq!(t.kind(), TemplateKind::Folder);
        assert!(t.uses("title") && !t.uses("rank"));
    }

    /// Many tricky strings, alone and combined: every result keeps the
    /// invariants and sanitizing is idempotent.
    #[test]
    fn invariants_hold_for_tricky_strings() {
        let long_ascii = "x".repeat(119);
        let long_e = "é".repeat(61);
        let long_emoji = "🎬".repeat(31);
        let fragments: Vec<&str> = vec![
            "",
            ".",
            "..",
            "...",
            " ",
            "  ",
            "/",
            "\\",
            "../",
            "/..",
            "\0",
            "\x1f",
            "\x7f",
            "\u{85}",
            "\u{9f}",
            "\u{202e}",
            "\u{2066}",
            "\u{200b}",
            "\u{200d}",
            "\u{feff}",
            "\u{a0}",
            "\u{2028}",
            "CON",
            "nul",
            "Com1",
            "lpt9.txt",
            "aux.",
            "a",
            "é",
            "日本",
            "🎬",
            "👨‍👩‍👧",
            "<>:\"|?*",
            "\t\n\r",
            "~",
            "-",
            "%2e%2e",
            "{rank}",
            "{{",
            &long_ascii,
            &long_e,
            &long_emoji,
        ];
        let folder = folder();
        let nested = Template::parse("{feed}/{title}/{id}", TemplateKind::Folder).unwrap();
        let clip = clip();
        let mut checked = 0;
        for a in &fragments {
            for b in &fragments {
                for c in &fragments {
                    let raw = format!("{a}{b}{c}");
                    let name = sanitize_component(&raw);
                    assert_safe_component(&name, &raw);
                    assert_eq!(sanitize_component(&name), name, "not idempotent: {raw:?}");
                    let vars = Vars {
                        feed: a.to_string(),
                        title: raw.clone(),
                        id: c.to_string(),
                        rank: Some(1),
                        ..Vars::default()
                    };
                    assert_safe_path(&folder.render(&vars), &raw);
                    assert_safe_path(&nested.render(&vars), &raw);
                    let clip_path = clip.render(&vars);
                    assert_safe_path(&clip_path, &raw);
                    assert_eq!(clip_path.components().count(), 1);
                    checked += 1;
                }
            }
        }
        assert!(checked > 50_000);
    }
}
