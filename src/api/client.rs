//! HTTP calls to the WayinVideo API. Every call spends the shared
//! [`Budget`]; 429s and a rejected key are waited out here (they are never a
//! job failure), everything else is classified and returned to the caller.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderValue, AUTHORIZATION, RETRY_AFTER};
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use tokio_util::sync::CancellationToken;

use super::error::ApiError;
use super::limiter::{Budget, Permit, Turn, Use};
use super::moments::Endpoint;
use super::types::{SubmitReply, TaskResults};
use crate::secret::Secret;

const API_VERSION_HEADER: &str = "x-wayinvideo-api-version";
const API_VERSION: &str = "v2";
/// Most of a reply body ever read. A results reply is a few kB; a body past
/// this is a broken or hostile server, and is not held in memory.
const MAX_REPLY_BYTES: usize = 8 * 1024 * 1024;

/// Run once, just before a submit request first leaves (after the budget
/// granted it): the caller records that a request may now exist. `false`
/// stops the submit before anything is sent ([`ApiError::NotSent`]).
pub type BeforeSend<'a> =
    Box<dyn FnOnce() -> Pin<Box<dyn Future<Output = bool> + Send + 'a>> + Send + 'a>;

/// A cheap-to-clone handle on the API.
#[derive(Clone)]
pub struct ApiClient {
    pub(super) http: reqwest::Client,
    /// Swapped by a configuration reload.
    settings: Arc<RwLock<Settings>>,
    budget: Budget,
    cancel: CancellationToken,
}

#[derive(Clone)]
struct Settings {
    base_url: String,
    key: Secret,
    timeout: Duration,
}

impl std::fmt::Debug for ApiClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiClient")
            .field("base_url", &self.settings().base_url)
            .finish_non_exhaustive()
    }
}

impl ApiClient {
    pub fn new(
        base_url: &str,
        key: Secret,
        timeout: Duration,
        budget: Budget,
        cancel: CancellationToken,
    ) -> Result<ApiClient, ApiError> {
        let http = reqwest::Client::builder()
            .connect_timeout(timeout.min(Duration::from_secs(15)))
            .user_agent(concat!("clipwatch/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(ApiError::from_transport)?;
        Ok(ApiClient {
            http,
            settings: Arc::new(RwLock::new(Settings {
                base_url: base_url.trim_end_matches('/').to_string(),
                key,
                timeout,
            })),
            budget,
            cancel,
        })
    }

    /// Use a new base URL, key and timeout from the next call on (reload).
    pub fn update(&self, base_url: &str, key: Secret, timeout: Duration) {
        *self.settings.write().expect("settings lock") = Settings {
            base_url: base_url.trim_end_matches('/').to_string(),
            key,
            timeout,
        };
    }

    fn settings(&self) -> Settings {
        self.settings.read().expect("settings lock").clone()
    }

    pub fn budget(&self) -> &Budget {
        &self.budget
    }

    /// `POST /clips`: start a clipping task. `options` are the preset's API
    /// options; `video_url` and `project_name` are set here. `before_send`
    /// runs once, right before the request first leaves. Once sent, the
    /// request is not abandoned at shutdown (only at its timeout): cut off
    /// midway, it could not be told from one the API processed.
    pub async fn submit(
        &self,
        video_url: &str,
        project_name: &str,
        options: &Map<String, Value>,
        before_send: BeforeSend<'_>,
    ) -> Result<SubmitReply, ApiError> {
        self.submit_to(
            Endpoint::Clipping,
            video_url,
            project_name,
            options,
            before_send,
            None,
        )
        .await
    }

    /// `GET /clips/results/{id}`: status, clips and fresh export links.
    pub async fn results(&self, task_id: &str) -> Result<TaskResults, ApiError> {
        let path = format!("/clips/results/{}", path_segment(task_id));
        self.call(Method::GET, &path, None).await
    }

    /// Whether the key is accepted, with one authenticated call that costs
    /// nothing: the results of a task id that cannot exist. Only a reply
    /// that proves the API checked the key counts: a success, or an error
    /// in the API's own shape (its `code`, `message` or `trace_id`, as for
    /// "task not found"). A 404 from a gateway or any other server (a wrong
    /// path prefix or host) says nothing about the key:
    /// [`KeyCheck::NotTheApi`].
    pub async fn check_key(&self) -> Result<KeyCheck, ApiError> {
        let settings = self.settings();
        let url = format!("{}/clips/results/clipwatch-key-check", settings.base_url);
        let request = self
            .http
            .get(&url)
            .timeout(settings.timeout)
            .headers(headers(&settings.key));
        let reply = request.send().await.map_err(ApiError::from_transport)?;
        let status = reply.status();
        let retry_after = parse_retry_after(reply.headers());
        let (text, _) = read_capped(reply).await?;
        let shown = shown_url(&url);
        if status.is_success() {
            return match unwrap_envelope(status, &text) {
                Ok(_) | Err(ApiError::Invalid { .. }) => Ok(KeyCheck::Accepted),
                Err(err) => Ok(KeyCheck::NotTheApi {
                    url: shown,
                    detail: err.to_string(),
                }),
            };
        }
        match ApiError::from_reply(status.as_u16(), retry_after, &text) {
            err @ (ApiError::Auth { .. }
            | ApiError::RateLimited { .. }
            | ApiError::Transient { .. }) => Err(err),
            err if is_api_error_body(&text) => {
                tracing::debug!("key check answered by the API: {err}");
                Ok(KeyCheck::Accepted)
            }
            err => Ok(KeyCheck::NotTheApi {
                url: shown,
                detail: err.to_string(),
            }),
        }
    }

    /// One logical call: waits for the budget, waits out 429s and a rejected
    /// key, and returns the decoded `data` or a classified error.
    pub(super) async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<T, ApiError> {
        self.call_with(method, path, body, None).await
    }

    /// [`ApiClient::call`] with a hook run before the first send; a call
    /// with a hook (a submit) is not cancelled once sent.
    pub(super) async fn call_with<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        before_send: Option<BeforeSend<'_>>,
    ) -> Result<T, ApiError> {
        let turn = Turn::of(&method);
        self.call_in_turn(method, path, body, before_send, turn)
            .await
    }

    /// [`ApiClient::call_with`] at a given place in the budget's queue.
    pub(super) async fn call_in_turn<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        mut before_send: Option<BeforeSend<'_>>,
        turn: Turn<'_>,
    ) -> Result<T, ApiError> {
        let cancellable = before_send.is_none();
        loop {
            let permit = if turn.use_ == Use::Spare {
                self.budget
                    .try_acquire_for(Use::Spare)
                    .ok_or(ApiError::NotSent)?
            } else {
                tokio::select! {
                    permit = self.budget.acquire_as(turn.use_, turn.claim) => permit,
                    () = self.cancel.cancelled() => return Err(cancelled()),
                }
            };
            if let Some(hook) = before_send.take() {
                if !hook().await {
                    return Err(ApiError::NotSent);
                }
            }
            match self
                .send_once(method.clone(), path, body.as_ref(), cancellable)
                .await
            {
                Ok(data) => {
                    if self.budget.succeeded() {
                        tracing::info!("API key accepted again; API work resumes");
                    }
                    return decode_data(data);
                }
                Err(ApiError::RateLimited {
                    retry_after,
                    message,
                }) => {
                    let wait = self.budget.rate_limited(retry_after);
                    tracing::warn!(path, ?wait, %message, "rate limited by the API; waiting");
                    if !cancellable {
                        // A submit: provably not processed. The caller puts
                        // the job back (not `submitting` while it waits).
                        return Err(ApiError::RateLimited {
                            retry_after,
                            message,
                        });
                    }
                }
                Err(err @ ApiError::Auth { .. }) => {
                    if self.budget.auth_rejected() {
                        tracing::error!(
                            "{err}; all API work is paused until the key is accepted \
                             (check WAYIN_API_KEY / api_key_file)"
                        );
                    } else if permit == Permit::Probe {
                        tracing::debug!("the key is still rejected; API work stays paused");
                    }
                    if !cancellable {
                        return Err(err);
                    }
                }
                Err(other) => {
                    self.budget.succeeded();
                    return Err(other);
                }
            }
        }
    }

    /// Send one request and return the envelope's `data`.
    async fn send_once(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        cancellable: bool,
    ) -> Result<Value, ApiError> {
        let settings = self.settings();
        let url = format!("{}{}", settings.base_url, path);
        let mut request = self
            .http
            .request(method.clone(), &url)
            .timeout(settings.timeout)
            .headers(headers(&settings.key));
        if let Some(body) = body {
            request = request.json(body);
        }
        let started = std::time::Instant::now();
        let sent = if cancellable {
            tokio::select! {
                sent = request.send() => sent,
                () = self.cancel.cancelled() => return Err(cancelled()),
            }
        } else {
            request.send().await
        };
        let reply = sent.map_err(|err| {
            crate::telemetry::metrics().api_request(path, 0);
            ApiError::from_transport(err)
        })?;
        let status = reply.status();
        crate::telemetry::metrics().api_request(path, status.as_u16());
        let retry_after = parse_retry_after(reply.headers());
        let (text, complete) = match read_capped(reply).await {
            // A 2xx status came: the API did what was asked (a submit made a
            // paid task); only the reply was lost. Not a plain transient error,
            // or the submit would be sent again.
            Err(err) if status.is_success() => {
                return Err(ApiError::Unreadable {
                    message: format!("HTTP {}: reply cut off: {err}", status.as_u16()),
                })
            }
            // A status came: what it says stands, only its body was lost.
            Err(_) => (String::new(), true),
            Ok(read) => read,
        };
        tracing::debug!(%method, path, status = status.as_u16(), elapsed = ?started.elapsed(), "API call");
        if !status.is_success() {
            return Err(ApiError::from_reply(status.as_u16(), retry_after, &text));
        }
        if !complete {
            return Err(ApiError::Unreadable {
                message: format!(
                    "HTTP {}: reply larger than {} MiB; not read further",
                    status.as_u16(),
                    MAX_REPLY_BYTES / (1024 * 1024)
                ),
            });
        }
        unwrap_envelope(status, &text)
    }
}

/// What [`ApiClient::check_key`] found out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyCheck {
    /// The API answered and did not reject the key.
    Accepted,
    /// Whatever answered at `url` is not the WayinVideo API (a wrong path
    /// prefix or host): the key was not checked.
    NotTheApi { url: String, detail: String },
}

/// Whether an error body is the API's own (it checked the key before it
/// looked at the request): a JSON object with `code`, `trace_id` or
/// `message`, and not a gateway's routing error (`timestamp`, `status`,
/// `error`, `path`), which a wrong path prefix gets too.
fn is_api_error_body(text: &str) -> bool {
    let Ok(Value::Object(map)) = serde_json::from_str::<Value>(text) else {
        return false;
    };
    let gateway = map.contains_key("path") && map.contains_key("error");
    let own = ["code", "trace_id", "message"]
        .iter()
        .any(|k| map.contains_key(*k));
    own && !gateway
}

/// `url` without user info or query, for messages.
fn shown_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) => {
            let _ = parsed.set_username("");
            let _ = parsed.set_password(None);
            parsed.set_query(None);
            parsed.to_string()
        }
        Err(_) => url.split('?').next().unwrap_or(url).to_string(),
    }
}

/// The reply body as text, read up to [`MAX_REPLY_BYTES`]; `false` when the
/// body was longer and the rest was left unread.
pub(super) async fn read_capped(reply: reqwest::Response) -> Result<(String, bool), ApiError> {
    let capped = crate::util::read_capped(reply, MAX_REPLY_BYTES)
        .await
        .map_err(ApiError::from_transport)?;
    let text = String::from_utf8_lossy(&capped.body).into_owned();
    Ok((text, !capped.truncated))
}

/// The headers of every API call; the key's header is marked sensitive.
fn headers(key: &Secret) -> HeaderMap {
    let mut headers = HeaderMap::new();
    let mut auth = HeaderValue::from_str(&format!("Bearer {}", key.expose()))
        .unwrap_or_else(|_| HeaderValue::from_static("Bearer invalid-key"));
    auth.set_sensitive(true);
    headers.insert(AUTHORIZATION, auth);
    headers.insert(API_VERSION_HEADER, HeaderValue::from_static(API_VERSION));
    headers
}

fn cancelled() -> ApiError {
    ApiError::Cancelled
}

/// Success = 2xx, `code` absent or zero, and `data` present.
fn unwrap_envelope(status: StatusCode, text: &str) -> Result<Value, ApiError> {
    let value: Value = serde_json::from_str(text).map_err(|e| ApiError::Unreadable {
        message: format!(
            "HTTP {}: reply is not JSON ({e}): {}",
            status.as_u16(),
            super::error::describe_body(text).1
        ),
    })?;
    let code_ok = match value.get("code") {
        None | Some(Value::Null) => true,
        Some(Value::String(code)) => code.trim() == "0" || code.trim().is_empty(),
        Some(Value::Number(n)) => n.as_i64() == Some(0),
        Some(_) => false,
    };
    if !code_ok {
        let (code, message) = super::error::describe_body(text);
        return Err(ApiError::Invalid {
            message: format!("code {}: {message}", code.as_deref().unwrap_or("?")),
            code,
        });
    }
    match value {
        Value::Object(mut map) => match map.remove("data") {
            Some(data) if !data.is_null() => Ok(data),
            _ => Err(ApiError::Unreadable {
                message: format!(
                    "HTTP {}: reply has no data: {}",
                    status.as_u16(),
                    super::error::describe_body(text).1
                ),
            }),
        },
        _ => Err(ApiError::Unreadable {
            message: "reply is not a JSON object".into(),
        }),
    }
}

fn decode_data<T: DeserializeOwned>(data: Value) -> Result<T, ApiError> {
    serde_json::from_value(data).map_err(|e| ApiError::Unreadable {
        message: format!("unexpected reply shape: {e}"),
    })
}

fn parse_retry_after(headers: &HeaderMap) -> Option<Duration> {
    let text = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(seconds) = text.parse::<f64>() {
        return (seconds.is_finite() && seconds >= 0.0)
            .then(|| Duration::from_secs_f64(seconds.min(3600.0)));
    }
    let when = chrono::DateTime::parse_from_rfc2822(text).ok()?;
    let delta = when.with_timezone(&chrono::Utc) - chrono::Utc::now();
    delta
        .to_std()
        .ok()
        .map(|d| d.min(Duration::from_secs(3600)))
}

/// Percent-encode a task id for use as one path segment.
pub(super) fn path_segment(id: &str) -> String {
    url::form_urlencoded::byte_serialize(id.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_envelope_styles_unwrap() {
        let seed = r#"{"code":"0","data":{"id":"p"},"message":"success"}"#;
        let later = r#"{"data":{"id":"p"}}"#;
        let numeric = r#"{"code":0,"data":{"id":"p"}}"#;
        for text in [seed, later, numeric] {
            assert_eq!(unwrap_envelope(StatusCode::OK, text).unwrap()["id"], "p");
        }
    }

    #[test]
    fn non_zero_code_is_invalid_with_message() {
        let err = unwrap_envelope(StatusCode::OK, r#"{"code":"40001","message":"bad video"}"#)
            .unwrap_err();
        assert!(matches!(err, ApiError::Invalid { .. }));
        assert!(err.to_string().contains("bad video"));
    }

    #[test]
    fn malformed_replies_are_transient() {
        let err = unwrap_envelope(StatusCode::OK, "<html>").unwrap_err();
        assert!(matches!(err, ApiError::Unreadable { .. }));
        assert!(err.is_retryable(), "a poll may read again");
        assert!(unwrap_envelope(StatusCode::OK, r#"{"code":"0"}"#)
            .unwrap_err()
            .is_retryable());
    }

    #[test]
    fn retry_after_seconds_and_dates() {
        let mut headers = HeaderMap::new();
        headers.insert(RETRY_AFTER, HeaderValue::from_static("7"));
        assert_eq!(parse_retry_after(&headers), Some(Duration::from_secs(7)));
        headers.insert(RETRY_AFTER, HeaderValue::from_static("soon"));
        assert_eq!(parse_retry_after(&headers), None);
    }

    #[test]
    fn only_the_api_s_own_errors_prove_the_key_was_checked() {
        assert!(is_api_error_body(
            r#"{"code":"40400","message":"task not found"}"#
        ));
        assert!(is_api_error_body(
            r#"{"message":"not found","trace_id":"t1"}"#
        ));
        let gateway = r#"{"timestamp":"t","status":404,"error":"Not Found","path":"/x"}"#;
        assert!(!is_api_error_body(gateway));
        assert!(!is_api_error_body("<html>404</html>"));
        assert!(!is_api_error_body(""));
    }

    #[test]
    fn task_ids_are_escaped() {
        assert_eq!(path_segment("proj_1"), "proj_1");
        assert_eq!(path_segment("a/b c"), "a%2Fb%20c");
    }
}
