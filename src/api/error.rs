//! API failures, classified so callers know whether to wait, retry, pause
//! or give up. Messages carry what the API said, never the key or a
//! presigned URL.

use std::time::Duration;

/// Longest slice of a raw (non-JSON) error body kept in a message.
const MAX_BODY_IN_MESSAGE: usize = 300;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 401/403: the key was rejected. All API work pauses.
    #[error("the API rejected the key (HTTP {status}): {message}")]
    Auth { status: u16, message: String },
    /// 429: the request budget or the running-task limit was hit.
    #[error("rate limited by the API: {message}")]
    RateLimited {
        retry_after: Option<Duration>,
        message: String,
    },
    /// 5xx, connection errors (nothing was sent): try again later.
    #[error("temporary API failure: {message}")]
    Transient { message: String },
    /// The request was sent, then no reply came (a timeout, a reset, a
    /// connection cut, a gateway timeout): the API may have processed it.
    /// Reading again is fine; a submit may have created a paid task.
    #[error("no reply from the API: {message}")]
    NoReply { message: String },
    /// A 2xx reply that could not be read (not JSON, no `data`, the wrong
    /// shape, too large): the API accepted the request, but what it did is
    /// unknown. Retrying a read is fine; retrying a submit may pay twice.
    #[error("unreadable API reply: {message}")]
    Unreadable { message: String },
    /// The API refused the request itself (4xx other than auth and rate,
    /// or a non-zero `code`): retrying the same request will not help.
    #[error("the API refused the request: {message}")]
    Invalid {
        code: Option<String>,
        message: String,
    },
    /// The upload bucket refused the presigned URL (expired, or a 4xx):
    /// ask for a new one. Never carries the URL.
    #[error("the upload URL was refused (HTTP {status}): {message}")]
    UploadRefused { status: u16, message: String },
    /// The caller's last check before a submit refused it: nothing was sent.
    #[error("not sent")]
    NotSent,
    /// clipwatch is shutting down; the request may or may not have left.
    #[error("cancelled: clipwatch is shutting down")]
    Cancelled,
}

impl ApiError {
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            ApiError::RateLimited { .. }
                | ApiError::Transient { .. }
                | ApiError::NoReply { .. }
                | ApiError::Unreadable { .. }
        )
    }

    /// The request may have been processed although no usable answer came:
    /// for a submit, a task may exist (see `[api] on_ambiguous_submit`).
    pub fn maybe_processed(&self) -> bool {
        matches!(self, ApiError::NoReply { .. } | ApiError::Unreadable { .. })
    }

    pub fn is_auth(&self) -> bool {
        matches!(self, ApiError::Auth { .. })
    }

    pub fn is_rate_limited(&self) -> bool {
        matches!(self, ApiError::RateLimited { .. })
    }

    /// A transport error, with the URL stripped: reqwest puts the full URL in
    /// its messages, and presigned URLs carry credentials in the query.
    ///
    /// Only a failure to connect (refused, DNS, TLS, a connect timeout) or
    /// to build the request proves that nothing was sent; anything after the
    /// connection was made (a timeout, a reset, a cut reply) is
    /// [`ApiError::NoReply`]: the request may have been processed.
    pub fn from_transport(err: reqwest::Error) -> ApiError {
        let never_sent = err.is_connect() || err.is_builder();
        let kind = if err.is_connect() {
            "could not connect"
        } else if err.is_timeout() {
            "timed out"
        } else if err.is_body() || err.is_decode() {
            "reply body broken"
        } else {
            "request failed"
        };
        let message = format!("{kind}: {}", crate::util::error_chain(&err.without_url()));
        if never_sent {
            ApiError::Transient { message }
        } else {
            ApiError::NoReply { message }
        }
    }

    /// Classify a non-success reply from its status and body.
    pub fn from_reply(status: u16, retry_after: Option<Duration>, body: &str) -> ApiError {
        let (code, message) = describe_body(body);
        match status {
            401 | 403 => ApiError::Auth { status, message },
            429 => ApiError::RateLimited {
                retry_after,
                message,
            },
            // A gateway that gave up waiting for the API: it was sent on.
            504 => ApiError::NoReply {
                message: format!("HTTP {status}: {message}"),
            },
            408 | 500..=599 => ApiError::Transient {
                message: format!("HTTP {status}: {message}"),
            },
            _ => ApiError::Invalid {
                code,
                message: format!("HTTP {status}: {message}"),
            },
        }
    }
}

/// The `code` and a readable message from an error body: the API's
/// `message`/`error` fields when it is JSON, else the raw text cut short.
pub fn describe_body(body: &str) -> (Option<String>, String) {
    if let Ok(serde_json::Value::Object(map)) = serde_json::from_str::<serde_json::Value>(body) {
        let text = |key: &str| match map.get(key) {
            Some(serde_json::Value::String(s)) if !s.is_empty() => Some(s.clone()),
            Some(serde_json::Value::Number(n)) => Some(n.to_string()),
            _ => None,
        };
        let code = text("code");
        let message = text("message")
            .or_else(|| text("error_message"))
            .or_else(|| text("error"))
            .unwrap_or_else(|| cut(body));
        return (code, message);
    }
    (None, cut(body))
}

fn cut(body: &str) -> String {
    let trimmed = body.trim();
    if trimmed.is_empty() {
        return "(empty body)".to_string();
    }
    if trimmed.len() <= MAX_BODY_IN_MESSAGE {
        return trimmed.to_string();
    }
    let mut end = MAX_BODY_IN_MESSAGE;
    while !trimmed.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &trimmed[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_are_classified() {
        let forbidden = r#"{"timestamp":"t","status":403,"error":"Forbidden","path":"/x"}"#;
        assert!(ApiError::from_reply(403, None, forbidden).is_auth());
        assert!(ApiError::from_reply(401, None, "").is_auth());
        let limited = ApiError::from_reply(429, Some(Duration::from_secs(3)), "{}");
        assert!(limited.is_rate_limited() && limited.is_retryable());
        assert!(ApiError::from_reply(502, None, "<html>bad gateway</html>").is_retryable());
        let invalid = ApiError::from_reply(400, None, r#"{"code":"40001","message":"bad url"}"#);
        assert!(!invalid.is_retryable());
        assert!(invalid.to_string().contains("bad url"));
    }

    #[test]
    fn a_gateway_timeout_may_have_been_processed_other_5xx_not() {
        let gateway = ApiError::from_reply(504, None, "<html>Gateway Time-out</html>");
        assert!(gateway.maybe_processed() && gateway.is_retryable());
        for status in [500, 502, 503] {
            let err = ApiError::from_reply(status, None, "");
            assert!(!err.maybe_processed() && err.is_retryable(), "{status}");
        }
        assert!(!ApiError::from_reply(429, None, "{}").maybe_processed());
        assert!(!ApiError::from_reply(403, None, "{}").maybe_processed());
    }

    #[test]
    fn non_json_bodies_are_cut_short() {
        let body = "é".repeat(1000);
        let (_, message) = describe_body(&body);
        assert!(message.len() <= MAX_BODY_IN_MESSAGE + '…'.len_utf8());
        assert!(message.ends_with('…'));
        assert_eq!(describe_body("  ").1, "(empty body)");
    }

    #[test]
    fn json_bodies_give_code_and_message() {
        let (code, message) = describe_body(r#"{"code":40002,"message":"insufficient units"}"#);
        assert_eq!(code.as_deref(), Some("40002"));
        assert_eq!(message, "insufficient units");
        let (_, message) = describe_body(r#"{"status":403,"error":"Forbidden"}"#);
        assert_eq!(message, "Forbidden");
    }
}
