//! Parsing a configuration of thousands of `[[feeds]]` tables a few hundred
//! tables at a time. toml turns a whole document into tokens and a table
//! tree many times the size of its text: a 1 MB file of 10 000 feeds made
//! `check --offline` peak at 36 MB, and that peak came on top of the first
//! feed pass (BENCHMARKS.md, "Round 2").
//!
//! [`from_str`] finds the table headers with toml's own lexer (so strings,
//! comments and multi-line arrays cannot fool it), parses the file with the
//! feed tables blanked out, then each run of feed tables at its own byte
//! offset, so every span (and so every error's line) is what a whole parse
//! gives. Any error, or a header it is not sure of, and the whole text is
//! parsed at once instead, so messages are exactly those of a whole parse.
//! Files with fewer than [`CHUNKED_FROM`] feeds are always parsed whole.

use std::ops::Range;

use serde::Deserialize;
use toml::Spanned;
use toml_parser::lexer::TokenKind;

use super::raw::{RawConfig, RawFeed};

/// Feed tables per parse.
const FEEDS_PER_CHUNK: usize = 256;
/// Fewer feed tables than this: one parse of the whole text.
const CHUNKED_FROM: usize = 512;

/// The file as written; the same result as `toml::from_str(text)`.
pub(super) fn from_str(text: &str) -> Result<RawConfig, toml::de::Error> {
    match feed_chunks(text) {
        Some(chunks) if chunks.iter().map(|c| c.tables).sum::<usize>() >= CHUNKED_FROM => {
            parse_in_chunks(text, &chunks).or_else(|_| toml::from_str(text))
        }
        _ => toml::from_str(text),
    }
}

/// Consecutive `[[feeds]]` tables: the bytes from the first header to the
/// next table that is not one of them.
#[derive(Debug, PartialEq)]
struct Chunk {
    bytes: Range<usize>,
    tables: usize,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FeedTables {
    #[serde(default)]
    feeds: Vec<Spanned<RawFeed>>,
}

fn parse_in_chunks(text: &str, chunks: &[Chunk]) -> Result<RawConfig, toml::de::Error> {
    // One buffer of spaces, the length of the file: the rest of the file
    // goes in first, then each chunk in turn, always at its own offset.
    let mut buffer = text.as_bytes().to_vec();
    for chunk in chunks {
        buffer[chunk.bytes.clone()].fill(b' ');
    }
    let mut raw: RawConfig = toml::from_str(as_str(&buffer))?;
    if !raw.feeds.is_empty() {
        // `feeds = [...]` written inline as well: let the whole parse say.
        return toml::from_str(text);
    }
    buffer.fill(b' ');
    for chunk in chunks {
        let range = chunk.bytes.clone();
        buffer[range.clone()].copy_from_slice(&text.as_bytes()[range.clone()]);
        let tables: FeedTables = toml::from_str(as_str(&buffer[..range.end]))?;
        raw.feeds.extend(tables.feeds);
        buffer[range].fill(b' ');
    }
    Ok(raw)
}

/// Spaces and whole pieces of a `str` cut at ASCII `[` bytes.
fn as_str(bytes: &[u8]) -> &str {
    std::str::from_utf8(bytes).expect("cut only at ASCII bytes")
}

/// A table header: where its `[` is and what it names.
struct Header {
    start: usize,
    feeds: bool,
}

/// The runs of `[[feeds]]` tables, at most [`FEEDS_PER_CHUNK`] each, or
/// `None` when a header names `feeds` in another way (`[feeds.x]`,
/// `[["feeds"]]`): the whole parse handles those.
fn feed_chunks(text: &str) -> Option<Vec<Chunk>> {
    let headers = headers(text)?;
    let mut chunks = Vec::new();
    let mut at = 0;
    while at < headers.len() {
        if !headers[at].feeds {
            at += 1;
            continue;
        }
        let first = at;
        while at < headers.len() && headers[at].feeds && at - first < FEEDS_PER_CHUNK {
            at += 1;
        }
        let end = headers.get(at).map_or(text.len(), |h| h.start);
        chunks.push(Chunk {
            bytes: headers[first].start..end,
            tables: at - first,
        });
    }
    Some(chunks)
}

/// Every table header, found with toml's lexer: a `[` that starts a line
/// outside any value.
fn headers(text: &str) -> Option<Vec<Header>> {
    let mut tokens = toml_parser::Source::new(text).lex();
    let mut headers = Vec::new();
    let (mut line_start, mut depth) = (true, 0usize);
    while let Some(token) = tokens.next() {
        match token.kind() {
            TokenKind::Newline if depth == 0 => line_start = true,
            TokenKind::Newline | TokenKind::Whitespace | TokenKind::Comment => {}
            TokenKind::LeftSquareBracket if line_start && depth == 0 => {
                let start = token.span().start();
                let (name, array) = header_name(text, &mut tokens)?;
                if name.contains("feeds") && !(array && name == "feeds") {
                    return None;
                }
                headers.push(Header {
                    start,
                    feeds: array && name == "feeds",
                });
                line_start = false;
            }
            TokenKind::LeftSquareBracket | TokenKind::LeftCurlyBracket => {
                depth += 1;
                line_start = false;
            }
            TokenKind::RightSquareBracket | TokenKind::RightCurlyBracket => {
                depth = depth.checked_sub(1)?;
                line_start = false;
            }
            TokenKind::Eof => break,
            _ => {
                // A top-level key (before any header) named like `feeds`.
                let span = token.span();
                if line_start && headers.is_empty() && text[span.start()..span.end()].contains("feeds") {
                    return None;
                }
                line_start = false;
            }
        }
    }
    Some(headers)
}

/// After a header's first `[`: its name as written (trimmed) and whether
/// it is an array table (`[[name]]`). `None` if it does not close.
fn header_name(
    text: &str,
    tokens: &mut impl Iterator<Item = toml_parser::lexer::Token>,
) -> Option<(String, bool)> {
    let mut array = false;
    let mut name_start = None;
    let mut name_end = 0;
    for token in tokens.by_ref() {
        let span = token.span();
        match token.kind() {
            TokenKind::LeftSquareBracket if name_start.is_none() && !array => array = true,
            TokenKind::RightSquareBracket => {
                let name = text.get(name_start.unwrap_or(name_end)..name_end)?;
                if array {
                    // The second `]` of `]]`.
                    let next = tokens.next()?;
                    if next.kind() != TokenKind::RightSquareBracket {
                        return None;
                    }
                }
                return Some((name.trim().to_string(), array));
            }
            TokenKind::Newline | TokenKind::Eof => return None,
            _ => {
                name_start.get_or_insert(span.start());
                name_end = span.end();
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A file with every shape that could confuse the cut: comments,
    /// multi-line arrays and strings holding `[[feeds]]`, tables between the
    /// feeds, `[[feeds]]` at the very end without a newline.
    fn config(feeds: usize) -> String {
        let mut text = String::from(
            "# [[feeds]] in a comment\n[api]\nrequests_per_minute = 10\n\n\
             [presets.meta]\nenable_export = false\nalso = [\n  \"[[feeds]]\",\n]\n\n",
        );
        for i in 0..feeds {
            if i == feeds / 2 {
                text.push_str("[[notify]]\nname = \"hook\"\nkind = \"webhook\"\nurl = \"http://127.0.0.1:9/x\"\nfeeds = [\"f1\"]\n\n");
            }
            text.push_str(&format!(
                "[[feeds]] # feed {i}\nname = \"f{i}\"\nyoutube = \"UC{i:022}\"\n\
                 include = \"\"\"\n[[feeds]]\nünï {i}\"\"\"\ninterval = \"1h\"\n\n"
            ));
        }
        text.push_str("[[feeds]]\nname = \"last\"\nurl = \"https://e.example/x.xml\"");
        text
    }

    #[test]
    fn a_large_file_parses_in_chunks_exactly_as_whole() {
        let text = config(700);
        let chunks = feed_chunks(&text).unwrap();
        assert_eq!(chunks.len(), 4, "{chunks:?}");
        assert_eq!(chunks.iter().map(|c| c.tables).sum::<usize>(), 701);
        let chunked = parse_in_chunks(&text, &chunks).unwrap();
        let whole: RawConfig = toml::from_str(&text).unwrap();
        assert_eq!(format!("{chunked:?}"), format!("{whole:?}"));
        assert_eq!(chunked.feeds.len(), 701);
        assert_eq!(chunked.notify.len(), 1);
    }

    #[test]
    fn an_error_in_a_late_feed_is_the_whole_parse_s_error() {
        let text = config(700).replace("name = \"f650\"", "name = 650");
        let chunked = from_str(&text).unwrap_err();
        let whole = toml::from_str::<RawConfig>(&text).unwrap_err();
        assert_eq!(chunked.to_string(), whole.to_string());
        assert_eq!(chunked.span(), whole.span());
    }

    #[test]
    fn headers_naming_feeds_another_way_are_left_to_the_whole_parse() {
        for odd in ["[feeds.extra]\n", "[[ \"feeds\" ]]\n", "[[feeds . x]]\n"] {
            let text = format!("{}\n{odd}", config(600));
            assert!(feed_chunks(&text).is_none(), "{odd}");
        }
        let inline = format!("feeds = []\n{}", config(600));
        assert!(feed_chunks(&inline).is_none());
        assert!(from_str(&inline).is_err(), "a key and tables both named feeds");
    }
}
