//! JSON Feed as real feeds write it. feed-rs reads JSON Feed strictly: one
//! field of the wrong type (`"tags": "a,b"`) or a version URL written with
//! `http://` loses the whole feed. [`normalize`] rewrites the document into
//! the shape feed-rs accepts first, keeping what can be read and saying what
//! was not.

use serde_json::{Map, Value};

/// Fields read as text, at the top level and in items.
const FEED_TEXT: &[&str] = &[
    "home_page_url",
    "feed_url",
    "language",
    "description",
    "icon",
    "favicon",
];
const ITEM_TEXT: &[&str] = &[
    "url",
    "external_url",
    "title",
    "content_html",
    "content_text",
    "summary",
    "date_published",
    "date_modified",
];

/// A JSON Feed rewritten for feed-rs.
#[derive(Debug)]
pub struct Normalized {
    pub bytes: Vec<u8>,
    /// What was changed or left out, one line each.
    pub notes: Vec<String>,
    /// Items left out whole (not objects), described.
    pub dropped_items: Vec<String>,
}

/// The document rewritten for feed-rs, and notes on what was changed or
/// left out. An error only when the body is not a JSON object at all.
pub fn normalize(body: &[u8]) -> Result<Normalized, String> {
    let value: Value = serde_json::from_slice(body).map_err(|e| format!("invalid JSON: {e}"))?;
    let Value::Object(top) = value else {
        return Err("the JSON is not an object (a JSON Feed is one)".into());
    };
    let mut notes = Vec::new();
    let mut out = Map::new();
    let version = match top.get("version") {
        Some(Value::String(v)) if v.starts_with("https://jsonfeed.org/version/1") => v.clone(),
        Some(Value::String(v)) if v.starts_with("http://jsonfeed.org/version/1") => {
            v.replacen("http://", "https://", 1)
        }
        other => {
            notes.push(format!(
                "\"version\" is {}; read as JSON Feed 1.1",
                shown(other)
            ));
            "https://jsonfeed.org/version/1.1".into()
        }
    };
    out.insert("version".into(), Value::String(version));
    let title = match top.get("title") {
        Some(Value::String(t)) => t.clone(),
        Some(other) => {
            notes.push(format!("feed \"title\" is {}; ignored", kind(other)));
            String::new()
        }
        None => String::new(),
    };
    out.insert("title".into(), Value::String(title));
    copy_text(&top, &mut out, FEED_TEXT, "feed", &mut notes);
    copy_authors(&top, &mut out, "feed", &mut notes);
    let items = match top.get("items") {
        Some(Value::Array(items)) => items.as_slice(),
        other => {
            notes.push(format!("\"items\" is {}; no items read", shown(other)));
            &[]
        }
    };
    let mut kept = Vec::with_capacity(items.len());
    let mut dropped_items = Vec::new();
    for (n, item) in items.iter().enumerate() {
        let at = format!("item {}", n + 1);
        match item {
            Value::Object(item) => kept.push(Value::Object(normalize_item(item, &at, &mut notes))),
            other => dropped_items.push(format!("{at} ({}, not an object)", kind(other))),
        }
    }
    out.insert("items".into(), Value::Array(kept));
    let bytes = serde_json::to_vec(&Value::Object(out)).expect("a JSON value serializes");
    Ok(Normalized {
        bytes,
        notes,
        dropped_items,
    })
}

fn normalize_item(
    item: &Map<String, Value>,
    at: &str,
    notes: &mut Vec<String>,
) -> Map<String, Value> {
    let mut out = Map::new();
    match item.get("id") {
        Some(Value::String(id)) => {
            out.insert("id".into(), Value::String(id.clone()));
        }
        // JSON Feed 1.0 allowed numbers in practice; 1.1 says "string".
        Some(Value::Number(n)) => {
            out.insert("id".into(), Value::String(n.to_string()));
        }
        Some(Value::Null) | None => {}
        Some(other) => notes.push(format!("{at}: \"id\" is {}; ignored", kind(other))),
    }
    copy_text(item, &mut out, ITEM_TEXT, at, notes);
    copy_authors(item, &mut out, at, notes);
    match item.get("tags") {
        Some(Value::Array(tags)) => {
            let tags: Vec<Value> = tags.iter().filter(|t| t.is_string()).cloned().collect();
            out.insert("tags".into(), Value::Array(tags));
        }
        Some(Value::String(tags)) => {
            let tags = tags
                .split(',')
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .map(|t| Value::String(t.into()))
                .collect();
            out.insert("tags".into(), Value::Array(tags));
            notes.push(format!(
                "{at}: \"tags\" is a string; read as a comma-separated list"
            ));
        }
        Some(Value::Null) | None => {}
        Some(other) => notes.push(format!("{at}: \"tags\" is {}; ignored", kind(other))),
    }
    let attachments = match item.get("attachments") {
        Some(Value::Array(list)) => list.as_slice(),
        // One attachment not wrapped in a list.
        Some(one @ Value::Object(_)) => std::slice::from_ref(one),
        Some(Value::Null) | None => &[],
        Some(other) => {
            notes.push(format!("{at}: \"attachments\" is {}; ignored", kind(other)));
            &[]
        }
    };
    if !attachments.is_empty() {
        let mut kept = Vec::new();
        for attachment in attachments {
            let Some(Value::String(url)) = attachment.get("url") else {
                notes.push(format!("{at}: an attachment has no \"url\"; ignored"));
                continue;
            };
            let mut a = Map::new();
            a.insert("url".into(), Value::String(url.clone()));
            let mime = match attachment.get("mime_type") {
                Some(Value::String(m)) => m.clone(),
                _ => String::new(),
            };
            a.insert("mime_type".into(), Value::String(mime));
            if let Some(Value::String(t)) = attachment.get("title") {
                a.insert("title".into(), Value::String(t.clone()));
            }
            if let Some(size) = attachment.get("size_in_bytes").and_then(size_of) {
                a.insert("size_in_bytes".into(), Value::from(size));
            }
            kept.push(Value::Object(a));
        }
        out.insert("attachments".into(), Value::Array(kept));
    }
    out
}

/// `size_in_bytes` as a number or a numeric string.
fn size_of(value: &Value) -> Option<u64> {
    match value {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn copy_text(
    from: &Map<String, Value>,
    to: &mut Map<String, Value>,
    fields: &[&str],
    at: &str,
    notes: &mut Vec<String>,
) {
    for field in fields {
        match from.get(*field) {
            Some(Value::String(s)) => {
                to.insert((*field).into(), Value::String(s.clone()));
            }
            Some(Value::Null) | None => {}
            Some(other) => notes.push(format!("{at}: {field:?} is {}; ignored", kind(other))),
        }
    }
}

fn copy_authors(
    from: &Map<String, Value>,
    to: &mut Map<String, Value>,
    at: &str,
    notes: &mut Vec<String>,
) {
    let author = |value: &Value| -> Option<Value> {
        let mut out = Map::new();
        match value {
            Value::Object(a) => {
                for field in ["name", "url"] {
                    if let Some(Value::String(s)) = a.get(field) {
                        out.insert(field.into(), Value::String(s.clone()));
                    }
                }
            }
            // `"author": "Jane"`.
            Value::String(name) => {
                out.insert("name".into(), Value::String(name.clone()));
            }
            _ => return None,
        }
        Some(Value::Object(out))
    };
    match from.get("author") {
        Some(Value::Null) | None => {}
        Some(value) => match author(value) {
            Some(a) => {
                to.insert("author".into(), a);
            }
            None => notes.push(format!("{at}: \"author\" is {}; ignored", kind(value))),
        },
    }
    match from.get("authors") {
        Some(Value::Array(list)) => {
            let list: Vec<Value> = list.iter().filter_map(author).collect();
            to.insert("authors".into(), Value::Array(list));
        }
        Some(Value::Null) | None => {}
        Some(value) => match author(value) {
            Some(a) => {
                to.insert("authors".into(), Value::Array(vec![a]));
            }
            None => notes.push(format!("{at}: \"authors\" is {}; ignored", kind(value))),
        },
    }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

fn shown(value: Option<&Value>) -> String {
    match value {
        None => "missing".into(),
        Some(Value::String(s)) => format!("{s:?}"),
        Some(other) => kind(other).into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(body: &str) -> (feed_rs::model::Feed, Vec<String>) {
        let n = normalize(body.as_bytes()).unwrap();
        let mut notes = n.notes;
        notes.extend(n.dropped_items);
        (feed_rs::parser::parse(n.bytes.as_slice()).unwrap(), notes)
    }

    #[test]
    fn a_string_of_tags_and_an_http_version_are_read() {
        let (feed, notes) = parse(
            r#"{"version":"http://jsonfeed.org/version/1","title":"T","items":[
              {"id":"1","url":"https://e.com/1","tags":"a, b"},
              {"id":2,"url":"https://e.com/2","tags":["c"]}]}"#,
        );
        assert_eq!(feed.entries.len(), 2);
        assert_eq!(feed.entries[0].categories.len(), 2);
        assert_eq!(feed.entries[1].id, "2");
        assert_eq!(
            notes,
            ["item 1: \"tags\" is a string; read as a comma-separated list"]
        );
    }

    #[test]
    fn wrong_types_are_dropped_and_named() {
        let (feed, notes) = parse(
            r#"{"version":"1","title":7,"author":"Jane","items":[
              {"id":"1","url":"https://e.com/1","title":["x"],"date_published":12,
               "attachments":{"url":"https://c.e.com/1.mp4"}},
              "junk",
              {"id":"3","external_url":"https://youtu.be/dQw4w9WgXcQ","authors":{"name":"A"}}]}"#,
        );
        assert_eq!(feed.entries.len(), 2);
        assert_eq!(feed.entries[0].links.len(), 2, "url and the attachment");
        assert_eq!(
            notes,
            [
                "\"version\" is \"1\"; read as JSON Feed 1.1",
                "feed \"title\" is a number; ignored",
                "item 1: \"title\" is a list; ignored",
                "item 1: \"date_published\" is a number; ignored",
                "item 2 (a string, not an object)",
            ]
        );
    }

    #[test]
    fn only_json_objects_are_feeds() {
        assert!(normalize(b"[1]").is_err());
        assert!(normalize(b"{").is_err());
    }
}
