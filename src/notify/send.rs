//! One delivery attempt of a rendered event to one sink, in the shape each
//! service documents. The outcome says whether to retry; error texts never
//! carry the sink's URL (reqwest's errors are stripped of it).

use std::time::Duration;

use serde_json::{json, Value};

use super::payload::{Rendered, Tone};
use crate::config::{SinkConfig, SinkKind};
use crate::util::shorten;

/// What one attempt did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// `HTTP 200` or `exit 0`.
    Delivered(String),
    /// Try again later; `after` is what the receiver asked for (Retry-After).
    Retry {
        error: String,
        after: Option<Duration>,
    },
    /// The receiver refused this event for good (a 4xx other than 408, 425
    /// and 429): retrying the same request cannot help.
    Refused(String),
}

const USER_AGENT: &str = concat!("clipwatch/", env!("CARGO_PKG_VERSION"));
/// Enough of a receiver's answer to explain a refusal.
const ERROR_BODY_CHARS: usize = 200;

/// A client for every sink: no redirects to other hosts with our body.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .user_agent(USER_AGENT)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("the HTTP client builds")
}

/// Deliver `event` to `sink` once, within the sink's timeout.
pub async fn attempt(client: &reqwest::Client, sink: &SinkConfig, event: &Rendered) -> Outcome {
    if sink.kind == SinkKind::Exec {
        return super::exec::run(sink, event).await;
    }
    let Some(url) = sink.url.as_ref().map(|u| u.expose().to_owned()) else {
        return Outcome::Refused("no url".into());
    };
    let request = match build(client, sink, &url, event) {
        Ok(request) => request,
        Err(error) => return Outcome::Refused(error),
    };
    let request = request
        .timeout(sink.timeout)
        .header("Idempotency-Key", &event.id)
        .header("X-Clipwatch-Event", &event.event);
    match request.send().await {
        Ok(response) => classify(response).await,
        Err(err) => Outcome::Retry {
            error: err.without_url().to_string(),
            after: None,
        },
    }
}

fn build(
    client: &reqwest::Client,
    sink: &SinkConfig,
    url: &str,
    event: &Rendered,
) -> Result<reqwest::RequestBuilder, String> {
    Ok(match sink.kind {
        SinkKind::Webhook => webhook(client, sink, url, event),
        SinkKind::Ntfy => ntfy(client, url, event)?,
        SinkKind::Discord => discord(client, url, event),
        SinkKind::Slack => client.post(url).json(&slack_body(event)),
        SinkKind::Apprise => client.post(apprise_url(url)).json(&apprise_body(event)),
        SinkKind::Exec => unreachable!("exec is not HTTP"),
    })
}

/// The `clipwatch.event/1` JSON, signed with HMAC-SHA256 of the exact body
/// when `secret_file` is set.
fn webhook(
    client: &reqwest::Client,
    sink: &SinkConfig,
    url: &str,
    event: &Rendered,
) -> reqwest::RequestBuilder {
    let body = serde_json::to_vec(&event.json).expect("the payload serializes");
    let mut request = client
        .post(url)
        .header(reqwest::header::CONTENT_TYPE, "application/json");
    if let Some(secret) = &sink.secret {
        let signature = super::sign::hmac_sha256_hex(secret.expose().as_bytes(), &body);
        request = request.header("X-Clipwatch-Signature", format!("sha256={signature}"));
    }
    request.body(body)
}

/// ntfy (docs.ntfy.sh/publish/). With a thumbnail: "attach local file",
/// the image as the body of a PUT to the topic URL, the other fields as
/// query parameters (`title`, `message`, `tags`, `priority`, `click`,
/// `filename`; UTF-8 survives a query string, not a header). Without one:
/// "publish as JSON", a POST to the server's root with the topic in the
/// body. `url` is the topic URL (`https://ntfy.sh/my-clips`); a server
/// under a path prefix keeps it.
fn ntfy(
    client: &reqwest::Client,
    url: &str,
    event: &Rendered,
) -> Result<reqwest::RequestBuilder, String> {
    let mut parsed = url::Url::parse(url).map_err(|_| "the ntfy url does not parse".to_owned())?;
    let path = parsed.path().trim_end_matches('/').to_owned();
    let (root, topic) = path.rsplit_once('/').unwrap_or(("", &path));
    if topic.is_empty() {
        return Err("the ntfy url names no topic (write https://ntfy.sh/TOPIC)".into());
    }
    let topic = topic.to_owned();
    let (tag, priority) = match event.tone {
        Tone::Success => ("white_check_mark", 3),
        Tone::Failure => ("x", 4),
        Tone::Warning => ("warning", 4),
        Tone::Info => ("information_source", 3),
    };
    let image = event
        .thumbnail
        .as_ref()
        .and_then(|path| std::fs::read(path).ok().map(|bytes| (path, bytes)));
    if let Some((path, bytes)) = image {
        {
            let mut query = parsed.query_pairs_mut();
            query
                .append_pair("title", &event.title)
                .append_pair("message", &event.message)
                .append_pair("tags", &format!("{tag},clipwatch"))
                .append_pair("priority", &priority.to_string())
                .append_pair("filename", &attachment_name(path));
            if let Some(link) = &event.link {
                query.append_pair("click", link);
            }
        }
        return Ok(client.put(parsed.as_str()).body(bytes));
    }
    parsed.set_path(&format!("{root}/"));
    let mut body = json!({
        "topic": topic,
        "title": event.title,
        "message": event.message,
        "tags": [tag, "clipwatch"],
        "priority": priority,
    });
    if let Some(link) = &event.link {
        body["click"] = Value::String(link.clone());
    }
    Ok(client.post(parsed.as_str()).json(&body))
}

fn discord_color(tone: Tone) -> u32 {
    match tone {
        Tone::Success => 0x2e_cc_71,
        Tone::Failure => 0xe7_4c_3c,
        Tone::Warning => 0xf3_9c_12,
        Tone::Info => 0x34_98_db,
    }
}

/// Discord's Execute Webhook (discord.com/developers/docs/resources/webhook
/// #execute-webhook): one embed; with a thumbnail, multipart/form-data with
/// `payload_json` and `files[0]`, the embed's image pointing at it as
/// `attachment://NAME` (docs: "Uploading Files", "Using Attachments within
/// Embeds"). Mentions are disabled: a video title cannot ping anyone.
fn discord(client: &reqwest::Client, url: &str, event: &Rendered) -> reqwest::RequestBuilder {
    let mut embed = json!({
        "title": shorten(&event.title, 256),
        "description": shorten(&event.message, 4096),
        "color": discord_color(event.tone),
        "footer": { "text": "clipwatch" },
        "timestamp": event.json["at"],
    });
    if let Some(link) = &event.link {
        embed["url"] = Value::String(link.clone());
    }
    let mut payload = json!({
        "username": "clipwatch",
        "embeds": [],
        "allowed_mentions": { "parse": [] },
    });
    let image = event
        .thumbnail
        .as_ref()
        .and_then(|path| std::fs::read(path).ok().map(|bytes| (path, bytes)));
    let Some((path, bytes)) = image else {
        payload["embeds"] = json!([embed]);
        return client.post(url).json(&payload);
    };
    let name = attachment_name(path);
    embed["image"] = json!({ "url": format!("attachment://{name}") });
    payload["embeds"] = json!([embed]);
    payload["attachments"] = json!([{ "id": 0, "filename": name }]);
    let (content_type, body) = multipart(&payload, &name, &bytes);
    client
        .post(url)
        .header(reqwest::header::CONTENT_TYPE, content_type)
        .body(body)
}

/// A file name Discord accepts in `attachment://`: ASCII letters, digits,
/// `.`, `-` and `_`.
fn attachment_name(path: &std::path::Path) -> String {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .filter(|e| e.chars().all(|c| c.is_ascii_alphanumeric()))
        .unwrap_or("jpg");
    format!("thumbnail.{ext}")
}

/// `payload_json` and one file as multipart/form-data (RFC 7578).
fn multipart(payload: &Value, name: &str, file: &[u8]) -> (String, Vec<u8>) {
    let boundary = format!("clipwatch-{:016x}", fastrand::u64(..));
    let mut body = Vec::with_capacity(file.len() + 1024);
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"payload_json\"\r\n\
             Content-Type: application/json\r\n\r\n{payload}\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"files[0]\"; filename=\"{name}\"\r\n\
             Content-Type: image/jpeg\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(file);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

/// Slack incoming webhooks (api.slack.com/messaging/webhooks): `text` is
/// the notification fallback, `blocks` the message (Block Kit: a header of
/// plain_text up to 150 characters, a mrkdwn section, a context line).
/// Slack can only show images it can fetch by URL, so no thumbnail.
pub fn slack_body(event: &Rendered) -> Value {
    let mut blocks = vec![
        json!({ "type": "header", "text": { "type": "plain_text", "text": shorten(&event.title, 150) } }),
        json!({ "type": "section", "text": { "type": "mrkdwn", "text": slack_escape(&event.message) } }),
    ];
    let mut context = "clipwatch".to_owned();
    if let Some(link) = &event.link {
        context = format!("<{link}|Source video> · clipwatch");
    }
    blocks.push(json!({ "type": "context", "elements": [{ "type": "mrkdwn", "text": context }] }));
    json!({
        "text": format!("{}: {}", event.title, event.message),
        "blocks": blocks,
    })
}

/// Slack's three control characters in mrkdwn (api.slack.com, "Escaping text").
fn slack_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Apprise API: `POST /notify/{KEY}` (a saved configuration) or
/// `POST /notify` (github.com/caronc/apprise-api, "API Details"). A URL
/// without `/notify` in its path gets `/notify` appended.
fn apprise_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(parsed) if parsed.path().contains("/notify") => url.to_owned(),
        _ => format!("{}/notify", url.trim_end_matches('/')),
    }
}

/// Apprise's JSON body: `title`, `body`, `type` (info, success, warning,
/// failure) and `format`.
pub fn apprise_body(event: &Rendered) -> Value {
    let kind = match event.tone {
        Tone::Success => "success",
        Tone::Failure => "failure",
        Tone::Warning => "warning",
        Tone::Info => "info",
    };
    let mut body = event.message.clone();
    if let Some(link) = &event.link {
        body.push_str(&format!("\n{link}"));
    }
    json!({ "title": event.title, "body": body, "type": kind, "format": "text" })
}

/// 2xx delivered; 408, 425, 429 and 5xx retried (with Retry-After when
/// given); any other status refused.
async fn classify(response: reqwest::Response) -> Outcome {
    let status = response.status();
    if status.is_success() {
        return Outcome::Delivered(format!("HTTP {}", status.as_u16()));
    }
    let after = response
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(retry_after);
    let body = response.text().await.unwrap_or_default();
    let mut error = format!("HTTP {}", status.as_u16());
    let body = crate::secret::redact_urls_in(body.trim());
    if !body.is_empty() {
        error.push_str(&format!(": {}", shorten(&body, ERROR_BODY_CHARS)));
    }
    let retry = status.is_server_error() || matches!(status.as_u16(), 408 | 425 | 429);
    if retry {
        Outcome::Retry { error, after }
    } else {
        Outcome::Refused(error)
    }
}

/// `Retry-After`: seconds, or an HTTP date (RFC 9110 §10.2.3).
pub fn retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    Some(
        (at.with_timezone(&chrono::Utc) - chrono::Utc::now())
            .to_std()
            .unwrap_or_default(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        assert_eq!(retry_after("7"), Some(Duration::from_secs(7)));
        assert_eq!(
            retry_after("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(Duration::ZERO),
            "a date in the past is now"
        );
        assert_eq!(retry_after("soon"), None);
    }

    #[test]
    fn apprise_urls_get_the_notify_path_once() {
        assert_eq!(apprise_url("http://a:8000"), "http://a:8000/notify");
        assert_eq!(
            apprise_url("http://a:8000/notify/clips"),
            "http://a:8000/notify/clips"
        );
    }
}
