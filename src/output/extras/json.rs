//! A reply made fit to keep: numbers the API sent as strings ("4200")
//! become numbers, and any credential in a URL (a signed thumbnail link)
//! is redacted. Everything else, unknown keys included, stays as it came.

use serde_json::{Map, Number, Value};

/// Keys whose values are numbers, however they were sent.
const NUMERIC: &[&str] = &[
    "start",
    "end",
    "timestamp",
    "begin_ms",
    "end_ms",
    "score",
    "cost_usage",
    "api_units_usage",
    "expire_at",
    "idx",
];

/// `value` with numeric fields as numbers and URL credentials redacted.
pub fn normalise(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| {
                    let v = match v {
                        Value::String(s) if NUMERIC.contains(&k.as_str()) => {
                            number(s).unwrap_or_else(|| v.clone())
                        }
                        other => normalise(other),
                    };
                    (k.clone(), v)
                })
                .collect::<Map<_, _>>(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(normalise).collect()),
        Value::String(s) => Value::String(crate::secret::redact_urls_in(s)),
        other => other.clone(),
    }
}

fn number(text: &str) -> Option<Value> {
    let text = text.trim();
    if let Ok(n) = text.parse::<u64>() {
        return Some(Value::from(n));
    }
    if let Ok(n) = text.parse::<i64>() {
        return Some(Value::from(n));
    }
    let f = text.parse::<f64>().ok().filter(|f| f.is_finite())?;
    Number::from_f64(f).map(Value::Number)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn numbers_sent_as_strings_become_numbers_and_nothing_else_changes() {
        let sent = json!({"status": "SUCCEEDED", "cost_usage": "12", "transcript": [
            {"speaker": "Speaker 1", "start": "0", "end": "4200.0", "text": "42", "words": [1]}
        ]});
        let kept = normalise(&sent);
        assert_eq!(kept["cost_usage"], json!(12));
        assert_eq!(kept["transcript"][0]["start"], json!(0));
        assert_eq!(kept["transcript"][0]["end"], json!(4200.0));
        assert_eq!(
            kept["transcript"][0]["text"],
            json!("42"),
            "text stays text"
        );
        assert_eq!(
            kept["transcript"][0]["words"],
            json!([1]),
            "unknown keys kept"
        );
    }

    #[test]
    fn signed_links_are_redacted() {
        let kept =
            normalise(&json!({"video_thumbnail": "https://cdn.x/t.jpg?X-Amz-Signature=abc"}));
        assert!(!kept.to_string().contains("abc"), "{kept}");
    }
}
