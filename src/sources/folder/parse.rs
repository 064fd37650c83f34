//! Reading the links out of a dropped file: text lists (`.txt`, `.urls`, no
//! extension), `.url` shortcuts, `.webloc` plists and `.json`. Parsing is
//! pure (bytes in, entries out), so every format is tested without a disk.
//!
//! A whole-file problem (binary data, no URL at all) is a [`ParseError`]; a
//! bad line or item is listed in [`Parsed::problems`] while the good ones
//! still go through.

use serde::Deserialize;
use serde_json::Value;

use crate::model::identity::{canonical_key, IdentityError, SourceKey};

/// The link formats, by extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// One URL per line, `#` comments.
    Text,
    /// Windows `.url`: `[InternetShortcut]` with `URL=`.
    Shortcut,
    /// macOS `.webloc`: a plist (XML, or binary) with a `URL` string.
    Webloc,
    /// `{"url", "preset"?, "name"?}` or an array of those.
    Json,
}

/// One link found in a file.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub key: SourceKey,
    /// A preset named by the entry itself (JSON); else the folder's.
    pub preset: Option<String>,
    /// A title named by the entry itself (JSON).
    pub name: Option<String>,
    /// Where it was found, for messages: `line 3`, `item 2`.
    pub place: String,
}

/// What a file held: the usable links, and a message per unusable one.
#[derive(Debug, Default, PartialEq)]
pub struct Parsed {
    pub entries: Vec<Entry>,
    pub problems: Vec<String>,
}

/// Why nothing in a file could be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("the file is empty")]
    Empty,
    #[error("not a text file: it holds binary data ({0})")]
    Binary(&'static str),
    #[error("no URLs in it (only blank lines and # comments)")]
    NoUrls,
    #[error("no URL= line in an [InternetShortcut] section")]
    NoShortcutUrl,
    #[error("no URL in the plist (expected <key>URL</key> followed by <string>…</string>)")]
    NoWeblocUrl,
    #[error("invalid JSON: {0}")]
    Json(String),
    #[error(
        "the JSON must be an object {{\"url\": …, \"preset\": …, \"name\": …}} or an array of them"
    )]
    JsonShape,
}

/// Parse `bytes` as `format`.
pub fn parse(format: Format, bytes: &[u8]) -> Result<Parsed, ParseError> {
    if bytes.is_empty() {
        return Err(ParseError::Empty);
    }
    let parsed = match format {
        Format::Text => parse_text(&decode_text(bytes)?),
        Format::Shortcut => parse_shortcut(&decode_text(bytes)?)?,
        Format::Webloc => parse_webloc(bytes)?,
        Format::Json => parse_json(&decode_text(bytes)?)?,
    };
    if parsed.entries.is_empty() && parsed.problems.is_empty() {
        return Err(ParseError::NoUrls);
    }
    Ok(parsed)
}

/// UTF-8 (a BOM is dropped) or UTF-16 with a BOM (Windows Notepad's
/// "Unicode"). NUL bytes or invalid UTF-8 mean binary data.
pub fn decode_text(bytes: &[u8]) -> Result<String, ParseError> {
    if let Some(rest) = bytes.strip_prefix(&[0xFF, 0xFE]) {
        return decode_utf16(rest, u16::from_le_bytes);
    }
    if let Some(rest) = bytes.strip_prefix(&[0xFE, 0xFF]) {
        return decode_utf16(rest, u16::from_be_bytes);
    }
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    if bytes.contains(&0) {
        return Err(ParseError::Binary("NUL bytes"));
    }
    String::from_utf8(bytes.to_vec()).map_err(|_| ParseError::Binary("not UTF-8 text"))
}

fn decode_utf16(bytes: &[u8], unit: fn([u8; 2]) -> u16) -> Result<String, ParseError> {
    if bytes.len() % 2 != 0 {
        return Err(ParseError::Binary("odd length for UTF-16 text"));
    }
    let units: Vec<u16> = bytes.chunks_exact(2).map(|c| unit([c[0], c[1]])).collect();
    let text = String::from_utf16(&units).map_err(|_| ParseError::Binary("invalid UTF-16"))?;
    if text.contains('\0') {
        return Err(ParseError::Binary("NUL characters"));
    }
    Ok(text)
}

/// Lines split on LF, CRLF, or lone CR (classic Mac).
fn lines(text: &str) -> Vec<&str> {
    if text.contains('\n') {
        text.lines().collect()
    } else {
        text.split('\r').collect()
    }
}

fn parse_text(text: &str) -> Parsed {
    let mut parsed = Parsed::default();
    for (n, line) in lines(text).into_iter().enumerate() {
        let line = line.trim_matches(|c: char| c.is_whitespace() || c == '\u{feff}');
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        parsed.add(format!("line {}", n + 1), line, None, None);
    }
    parsed
}

fn parse_shortcut(text: &str) -> Result<Parsed, ParseError> {
    let mut in_section = false;
    for line in lines(text) {
        let line = line.trim();
        if line.starts_with('[') {
            in_section = line.eq_ignore_ascii_case("[InternetShortcut]");
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        if in_section && key.trim().eq_ignore_ascii_case("URL") {
            let mut parsed = Parsed::default();
            parsed.add("URL=".into(), value.trim(), None, None);
            return Ok(parsed);
        }
    }
    Err(ParseError::NoShortcutUrl)
}

fn parse_webloc(bytes: &[u8]) -> Result<Parsed, ParseError> {
    let url = if bytes.starts_with(b"bplist00") {
        binary_plist_url(bytes)
    } else {
        xml_plist_url(&decode_text(bytes)?)
    }
    .ok_or(ParseError::NoWeblocUrl)?;
    let mut parsed = Parsed::default();
    parsed.add("URL".into(), &url, None, None);
    Ok(parsed)
}

/// The `<string>` after `<key>URL</key>`, with XML escapes undone.
fn xml_plist_url(text: &str) -> Option<String> {
    let key = text.find("<key>URL</key>")?;
    let rest = &text[key + "<key>URL</key>".len()..];
    let rest = rest.trim_start();
    let value = rest.strip_prefix("<string>")?;
    let end = value.find("</string>")?;
    Some(crate::sources::title::unescape(value[..end].trim()))
}

/// The first http(s) ASCII string object in a binary plist. A `.webloc`
/// holds one dictionary with one string, so no full decoder is needed: a
/// string object is a marker byte `0x5n` (n = length, or `0x5F` followed by
/// an int object giving the length) and then the bytes.
fn binary_plist_url(bytes: &[u8]) -> Option<String> {
    for start in 0..bytes.len() {
        let rest = &bytes[start..];
        if !(rest.starts_with(b"http://") || rest.starts_with(b"https://")) {
            continue;
        }
        let len = match bytes[..start] {
            [.., marker] if marker & 0xF0 == 0x50 && marker != 0x5F => {
                Some((marker & 0x0F) as usize)
            }
            [.., 0x5F, 0x10, n] => Some(n as usize),
            [.., 0x5F, 0x11, hi, lo] => Some(u16::from_be_bytes([hi, lo]) as usize),
            _ => None,
        };
        if let Some(text) = len
            .and_then(|len| rest.get(..len))
            .and_then(|s| std::str::from_utf8(s).ok())
        {
            return Some(text.to_string());
        }
    }
    None
}

/// One JSON item. `title` is accepted for `name`; other fields are errors so
/// that a typo (`"prest"`) is reported rather than silently ignored.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Item {
    url: String,
    #[serde(default)]
    preset: Option<String>,
    #[serde(default, alias = "title")]
    name: Option<String>,
}

fn parse_json(text: &str) -> Result<Parsed, ParseError> {
    let value: Value = serde_json::from_str(text).map_err(|e| ParseError::Json(e.to_string()))?;
    let items = match value {
        Value::Object(_) => vec![("url".to_string(), value)],
        Value::Array(items) => items
            .into_iter()
            .enumerate()
            .map(|(n, item)| (format!("item {}", n + 1), item))
            .collect(),
        _ => return Err(ParseError::JsonShape),
    };
    let mut parsed = Parsed::default();
    for (place, item) in items {
        match serde_json::from_value::<Item>(item) {
            Ok(item) => parsed.add(
                place,
                &item.url,
                non_blank(item.preset),
                non_blank(item.name),
            ),
            Err(err) => parsed
                .problems
                .push(format!("{place}: {}", without_values(&err.to_string()))),
        }
    }
    Ok(parsed)
}

fn non_blank(text: Option<String>) -> Option<String> {
    text.map(|t| t.trim().to_string()).filter(|t| !t.is_empty())
}

impl Parsed {
    fn add(&mut self, place: String, url: &str, preset: Option<String>, name: Option<String>) {
        match canonical_key(url) {
            Ok(key) => self.entries.push(Entry {
                key,
                preset,
                name,
                place,
            }),
            Err(err) => self.problems.push(format!("{place}: {}", hint(&err))),
        }
    }
}

/// Schemes that may be named in a message: a line is never echoed (a file
/// dropped by someone else may be a link to a secret), but these tell the
/// user what was wrong without revealing anything.
const KNOWN_SCHEMES: &[&str] = &[
    "ftp",
    "ftps",
    "sftp",
    "file",
    "mailto",
    "data",
    "javascript",
    "rtmp",
    "rtsp",
    "magnet",
    "ws",
    "wss",
    "tel",
    "smb",
    "s3",
];

/// Why a line is not a usable link, without its content: its length for
/// what is not a URL at all, a well-known scheme, the kind of YouTube
/// problem.
fn hint(err: &IdentityError) -> String {
    match err {
        IdentityError::Empty => err.to_string(),
        IdentityError::NotUrl { input, .. } => format!(
            "not a URL ({} characters, not shown): expected an http(s) URL such as \
             https://www.youtube.com/watch?v=ID (a bare YouTube id is ambiguous; write https://youtu.be/ID)",
            input.chars().count()
        ),
        IdentityError::UnsupportedScheme { scheme, .. } => {
            let scheme = scheme.to_ascii_lowercase();
            if KNOWN_SCHEMES.contains(&scheme.as_str()) {
                format!("unsupported scheme \"{scheme}\": only http and https URLs can be clipped")
            } else {
                "not an http(s) URL (content not shown): only http and https URLs can be clipped"
                    .into()
            }
        }
        IdentityError::NoYoutubeVideo { .. } => "a YouTube link that names no video (a channel, \
             playlist or search page?): link a single video (watch?v=, youtu.be/, /shorts/, /live/)"
            .into(),
        IdentityError::BadYoutubeId { .. } => "a YouTube link with an invalid video id: expected \
             11 characters of A-Z, a-z, 0-9, _ or -"
            .into(),
    }
}

/// A serde message with the values it quotes (`"…"`) left out; field
/// names (`` `prest` ``) stay.
fn without_values(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut quoted = false;
    for c in message.chars() {
        if c == '"' {
            if !quoted {
                out.push_str("\"…\"");
            }
            quoted = !quoted;
        } else if !quoted {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "https://youtu.be/dQw4w9WgXcQ";
    const B: &str = "https://example.com/talk?utm_source=x";

    fn keys(parsed: &Parsed) -> Vec<&str> {
        parsed.entries.iter().map(|e| e.key.key.as_str()).collect()
    }

    #[test]
    fn text_lists_skip_comments_blanks_and_whitespace() {
        let text = format!("# my list\n\n  {A}  \n\t{B}\n# {B}\n");
        let parsed = parse(Format::Text, text.as_bytes()).unwrap();
        assert_eq!(
            keys(&parsed),
            ["youtube:dQw4w9WgXcQ", "url:https://example.com/talk"]
        );
        assert!(parsed.problems.is_empty());
        assert_eq!(parsed.entries[1].place, "line 4");
    }

    #[test]
    fn crlf_bom_and_lone_cr_all_read_the_same() {
        let plain = format!("{A}\n{B}\n");
        let variants = [
            format!("\u{feff}{A}\r\n{B}\r\n"),
            format!("{A}\r{B}\r"),
            format!("\u{feff}# c\r\n\r\n{A}\r\n  {B}  "),
        ];
        let expected = keys(&parse(Format::Text, plain.as_bytes()).unwrap())
            .into_iter()
            .map(String::from)
            .collect::<Vec<_>>();
        for text in variants {
            let parsed = parse(Format::Text, text.as_bytes()).unwrap();
            assert_eq!(keys(&parsed), expected, "{text:?}");
        }
    }

    #[test]
    fn utf16_with_bom_is_read() {
        let mut bytes = vec![0xFF, 0xFE];
        for unit in format!("{A}\r\n").encode_utf16() {
            bytes.extend(unit.to_le_bytes());
        }
        assert_eq!(
            keys(&parse(Format::Text, &bytes).unwrap()),
            ["youtube:dQw4w9WgXcQ"]
        );
    }

    #[test]
    fn bad_lines_are_reported_and_good_ones_kept() {
        let text = format!("{A}\nftp://example.com/x\nnot a url\n{B}\n");
        let parsed = parse(Format::Text, text.as_bytes()).unwrap();
        assert_eq!(parsed.entries.len(), 2);
        assert_eq!(parsed.problems.len(), 2);
        assert!(
            parsed.problems[0].starts_with("line 2: "),
            "{:?}",
            parsed.problems
        );
        assert!(parsed.problems[0].contains("unsupported scheme \"ftp\""));
        assert!(parsed.problems[1].starts_with("line 3: "));
    }

    #[test]
    fn problems_never_quote_the_line() {
        let secret = "sk-live-0123456789abcdef";
        let text = format!(
            "{secret}\npassword:{secret}\nhttps://www.youtube.com/channel/{secret}\n\
             https://youtu.be/{secret}\n"
        );
        let parsed = parse(Format::Text, text.as_bytes()).unwrap();
        assert_eq!(parsed.problems.len(), 4, "{:?}", parsed.problems);
        for problem in &parsed.problems {
            assert!(!problem.contains("sk-live"), "{problem}");
            assert!(!problem.contains("password"), "{problem}");
        }
        assert!(parsed.problems[0].starts_with("line 1: not a URL (24 characters"));
        let json = format!(r#"[{{"url": "{A}", "preset": 5}}, {{"url": ["{secret}"]}}]"#);
        let parsed = parse(Format::Json, json.as_bytes()).unwrap();
        assert_eq!(parsed.problems.len(), 2, "{:?}", parsed.problems);
        assert!(parsed.problems.iter().all(|p| !p.contains("sk-live")));
    }

    #[test]
    fn empty_binary_and_comment_only_files_are_errors() {
        assert_eq!(parse(Format::Text, b""), Err(ParseError::Empty));
        assert!(matches!(
            parse(Format::Text, b"\x7fELF\x02\x01\x01\0\0\0"),
            Err(ParseError::Binary(_))
        ));
        assert!(matches!(
            parse(Format::Text, &[0xC3, 0x28, 0xA0, 0xA1]),
            Err(ParseError::Binary(_))
        ));
        assert_eq!(
            parse(Format::Text, b"# nothing\n\n  \n"),
            Err(ParseError::NoUrls)
        );
    }

    #[test]
    fn internet_shortcuts() {
        let text = format!("\u{feff}[InternetShortcut]\r\nIDList=\r\nURL={A}\r\nIconIndex=0\r\n");
        let parsed = parse(Format::Shortcut, text.as_bytes()).unwrap();
        assert_eq!(keys(&parsed), ["youtube:dQw4w9WgXcQ"]);
        let lower = format!("[internetshortcut]\nurl = {B}\n");
        assert_eq!(
            parse(Format::Shortcut, lower.as_bytes())
                .unwrap()
                .entries
                .len(),
            1
        );
        let elsewhere = format!("[Other]\nURL={A}\n");
        assert_eq!(
            parse(Format::Shortcut, elsewhere.as_bytes()),
            Err(ParseError::NoShortcutUrl)
        );
        let file = parse(
            Format::Shortcut,
            b"[InternetShortcut]\nURL=file:///C:/x.mp4\n",
        )
        .unwrap();
        assert!(file.entries.is_empty());
        assert!(file.problems[0].contains("unsupported scheme"));
    }

    #[test]
    fn xml_weblocs_with_escapes() {
        let xml = r#"<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">
<dict>
	<key>URL</key>
	<string>https://www.youtube.com/watch?v=dQw4w9WgXcQ&amp;t=5s</string>
</dict>
</plist>
"#;
        let parsed = parse(Format::Webloc, xml.as_bytes()).unwrap();
        assert_eq!(keys(&parsed), ["youtube:dQw4w9WgXcQ"]);
        assert_eq!(
            crate::sources::title::unescape("a&amp;b&#38;c&#x26;d&bogus;"),
            "a&b&c&d&bogus;"
        );
        assert_eq!(
            parse(Format::Webloc, b"<plist><dict></dict></plist>"),
            Err(ParseError::NoWeblocUrl)
        );
    }

    #[test]
    fn binary_weblocs() {
        // bplist00, dict marker, key "URL" (0x53), then the URL (0x5F 0x10 len).
        let mut bytes = b"bplist00\xd1\x01\x02SURL_\x10".to_vec();
        bytes.push(A.len() as u8);
        bytes.extend(A.as_bytes());
        bytes.extend(b"\x08\x0b\x0f\0\0\0\0\0\0\x01\x01");
        let parsed = parse(Format::Webloc, &bytes).unwrap();
        assert_eq!(keys(&parsed), ["youtube:dQw4w9WgXcQ"]);
        let short = b"bplist00\xd1\x01\x02SURL\x5Chttp://a.b/c".to_vec();
        assert_eq!(
            keys(&parse(Format::Webloc, &short).unwrap()),
            ["url:http://a.b/c"]
        );
    }

    #[test]
    fn json_objects_and_arrays() {
        let one = format!(r#"{{"url": "{A}", "preset": "landscape", "name": "My talk"}}"#);
        let parsed = parse(Format::Json, one.as_bytes()).unwrap();
        assert_eq!(parsed.entries[0].preset.as_deref(), Some("landscape"));
        assert_eq!(parsed.entries[0].name.as_deref(), Some("My talk"));

        let many = format!(
            "\u{feff}[{{\"url\": \"{A}\"}}, {{\"url\": \"mailto:x@y\"}}, {{\"url\": \"{B}\", \"prest\": \"x\"}}, \
             {{\"url\": \"{B}\", \"title\": \" T \", \"preset\": \"\"}}]"
        );
        let parsed = parse(Format::Json, many.as_bytes()).unwrap();
        assert_eq!(parsed.entries.len(), 2);
        assert_eq!(parsed.entries[1].name.as_deref(), Some("T"));
        assert_eq!(parsed.entries[1].preset, None);
        assert_eq!(parsed.problems.len(), 2, "{:?}", parsed.problems);
        assert!(parsed.problems[0].starts_with("item 2: "));
        assert!(parsed.problems[1].contains("unknown field `prest`"));
    }

    #[test]
    fn json_errors() {
        assert!(matches!(
            parse(Format::Json, b"{\"url\": "),
            Err(ParseError::Json(_))
        ));
        assert_eq!(parse(Format::Json, b"\"x\""), Err(ParseError::JsonShape));
        assert_eq!(parse(Format::Json, b"[]"), Err(ParseError::NoUrls));
        let missing = parse(Format::Json, b"{\"name\": \"x\"}").unwrap();
        assert!(missing.problems[0].contains("missing field `url`"));
    }
}
