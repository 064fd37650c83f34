//! A feed body to UTF-8 before parsing, by the rules of RFC 7303 §3: a
//! byte-order mark wins, then the `charset` of the HTTP `Content-Type`, then
//! the XML declaration's `encoding`, then UTF-8.
//!
//! Two exceptions for the real world, where servers label every response
//! with their default charset: a body labelled `charset=utf-8` that is not
//! UTF-8 (a Latin-1 feed that declares `encoding="ISO-8859-1"`) is read by
//! its declaration; a body labelled otherwise that declares UTF-8 and is
//! valid UTF-8 with non-ASCII text in it is read as UTF-8. A body that is
//! not UTF-8 and names no encoding at all is read as Windows-1252, as
//! browsers do. The declaration of the result says UTF-8,
//! so the parser does not decode it a second time.

use std::borrow::Cow;

use encoding_rs::{Encoding, UTF_16BE, UTF_16LE, UTF_8, WINDOWS_1252};

/// `body` as UTF-8, given the response's `Content-Type` (if any).
pub fn to_utf8<'a>(body: &'a [u8], content_type: Option<&str>) -> Cow<'a, [u8]> {
    let encoding = choose(body, content_type);
    let (text, _, _) = encoding.decode(body);
    // `decode` also removes a BOM. Valid UTF-8 without a BOM comes back
    // borrowed: nothing to rewrite unless a declaration names another
    // encoding.
    let text = match text {
        Cow::Borrowed(s) if !declares_other_than_utf8(s) => return Cow::Borrowed(s.as_bytes()),
        text => text.into_owned(),
    };
    Cow::Owned(with_utf8_declaration(text).into_bytes())
}

/// The encoding the body is in.
fn choose(body: &[u8], content_type: Option<&str>) -> &'static Encoding {
    if let Some((encoding, _)) = Encoding::for_bom(body) {
        return encoding;
    }
    // UTF-16 without a BOM but with a declaration: `<?` in two bytes each.
    if body.starts_with(&[0x3C, 0x00, 0x3F, 0x00]) {
        return UTF_16LE;
    }
    if body.starts_with(&[0x00, 0x3C, 0x00, 0x3F]) {
        return UTF_16BE;
    }
    let valid_utf8 = std::str::from_utf8(body).is_ok();
    let declared = declared_encoding(body);
    if let Some(http) = content_type.and_then(http_charset) {
        // A server's default label (`charset=ISO-8859-1` on everything)
        // on a body that declares UTF-8 and is UTF-8, non-ASCII included:
        // the body knows better.
        let utf8_beyond_doubt = valid_utf8 && !body.is_ascii() && declared == Some(UTF_8);
        if (http != UTF_8 || valid_utf8) && !utf8_beyond_doubt {
            return http;
        }
        // Labelled UTF-8 but it is not: the declaration knows better.
    }
    match declared {
        // A declaration of UTF-16 in a body without a BOM is read in an
        // ASCII-compatible encoding: it cannot be true.
        Some(enc) if enc != UTF_16LE && enc != UTF_16BE => enc,
        _ if valid_utf8 => UTF_8,
        _ => WINDOWS_1252,
    }
}

/// The `charset` parameter of a `Content-Type` value, if it names an
/// encoding `encoding_rs` knows.
fn http_charset(content_type: &str) -> Option<&'static Encoding> {
    content_type.split(';').skip(1).find_map(|param| {
        let (name, value) = param.split_once('=')?;
        if !name.trim().eq_ignore_ascii_case("charset") {
            return None;
        }
        let value = value.trim().trim_matches(|c| c == '"' || c == '\'');
        Encoding::for_label(value.as_bytes())
    })
}

/// The `encoding` of an XML declaration at the start of `body`.
fn declared_encoding(body: &[u8]) -> Option<&'static Encoding> {
    let label = declaration_encoding_label(body)?;
    Encoding::for_label(label)
}

fn declaration_encoding_label(body: &[u8]) -> Option<&[u8]> {
    let start = body.iter().position(|b| !b.is_ascii_whitespace())?;
    let body = &body[start..];
    if !body.starts_with(b"<?xml") {
        return None;
    }
    let end = body.windows(2).take(512).position(|w| w == b"?>")?;
    let decl = &body[..end];
    let at = decl.windows(8).position(|w| w == b"encoding")?;
    let rest = &decl[at + 8..];
    let rest = &rest[rest.iter().position(|b| *b == b'=')? + 1..];
    let rest = &rest[rest.iter().position(|b| !b.is_ascii_whitespace())?..];
    let quote = *rest.first()?;
    if quote != b'"' && quote != b'\'' {
        return None;
    }
    let len = rest[1..].iter().position(|b| *b == quote)?;
    Some(&rest[1..1 + len])
}

fn declares_other_than_utf8(text: &str) -> bool {
    declared_encoding(text.as_bytes()).is_some_and(|enc| enc != UTF_8)
}

/// `text` with its XML declaration (if it has one) saying UTF-8.
fn with_utf8_declaration(text: String) -> String {
    let trimmed = text.trim_start();
    if !trimmed.starts_with("<?xml") {
        return text;
    }
    let Some(end) = trimmed.find("?>") else {
        return text;
    };
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>{}",
        &trimmed[end + 2..]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utf8(body: &[u8], ct: Option<&str>) -> String {
        String::from_utf8(to_utf8(body, ct).into_owned()).unwrap()
    }

    #[test]
    fn the_http_charset_is_honoured_without_a_declaration() {
        let body = b"<rss><channel><title>Caf\xe9</title></channel></rss>";
        let got = utf8(body, Some("text/xml; charset=ISO-8859-1"));
        assert!(got.contains("Café"), "{got}");
        let got = utf8(body, Some("text/xml; charset=\"windows-1252\""));
        assert!(got.contains("Café"), "{got}");
    }

    #[test]
    fn the_http_charset_wins_over_the_declaration_and_the_result_says_utf8() {
        let body = b"<?xml version=\"1.0\" encoding=\"UTF-8\"?><t>\xe9</t>";
        let got = utf8(body, Some("application/rss+xml; charset=iso-8859-1"));
        assert_eq!(got, "<?xml version=\"1.0\" encoding=\"UTF-8\"?><t>é</t>");
    }

    #[test]
    fn a_default_latin1_label_yields_to_a_true_utf8_declaration() {
        let body = "<?xml version=\"1.0\" encoding=\"utf-8\"?><t>日本</t>".as_bytes();
        let got = utf8(body, Some("text/xml; charset=ISO-8859-1"));
        assert!(got.ends_with("<t>日本</t>"), "{got}");
        // Plain ASCII proves nothing: the label is honoured (same result).
        let ascii = b"<?xml version=\"1.0\" encoding=\"utf-8\"?><t>x</t>";
        assert!(utf8(ascii, Some("text/xml; charset=ISO-8859-1")).ends_with("<t>x</t>"));
    }

    #[test]
    fn a_wrong_utf8_label_yields_to_the_declaration() {
        let body = b"<?xml version='1.0' encoding='ISO-8859-1'?><t>\xe9</t>";
        let got = utf8(body, Some("application/xml; charset=utf-8"));
        assert_eq!(got, "<?xml version=\"1.0\" encoding=\"UTF-8\"?><t>é</t>");
        // No label at all: the declaration.
        assert_eq!(utf8(body, None), got);
    }

    #[test]
    fn a_bom_wins_over_everything() {
        let mut body = vec![0xFF, 0xFE];
        for unit in "<?xml version=\"1.0\" encoding=\"UTF-16\"?><t>é</t>".encode_utf16() {
            body.extend_from_slice(&unit.to_le_bytes());
        }
        let got = utf8(&body, Some("text/xml; charset=iso-8859-1"));
        assert_eq!(got, "<?xml version=\"1.0\" encoding=\"UTF-8\"?><t>é</t>");
    }

    #[test]
    fn utf16_without_a_bom_is_recognised_by_its_declaration() {
        let mut body = Vec::new();
        for unit in "<?xml version=\"1.0\" encoding=\"UTF-16\"?><t>é</t>".encode_utf16() {
            body.extend_from_slice(&unit.to_be_bytes());
        }
        let got = utf8(&body, None);
        assert!(got.ends_with("<t>é</t>"), "{got}");
    }

    #[test]
    fn undeclared_non_utf8_is_read_as_windows_1252() {
        assert_eq!(utf8(b"<t>\x93q\x94</t>", None), "<t>\u{201c}q\u{201d}</t>");
    }

    #[test]
    fn utf8_is_left_alone() {
        let body = "<?xml version=\"1.0\"?><t>é</t>".as_bytes();
        assert!(matches!(to_utf8(body, Some("text/xml")), Cow::Borrowed(_)));
        let json = "{\"title\": \"é\"}".as_bytes();
        assert_eq!(
            utf8(json, Some("application/feed+json")),
            "{\"title\": \"é\"}"
        );
    }
}
