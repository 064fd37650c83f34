//! Fetching feeds and channel pages: conditional GET (ETag / Last-Modified),
//! a body-size cap (reading stops past it), a timeout and bounded redirects.
//! Bodies are kept as raw bytes with their `Content-Type`: [`super::charset`]
//! decides their encoding.

use std::time::Duration;

use reqwest::header::{
    HeaderMap, HeaderValue, ETAG, IF_MODIFIED_SINCE, IF_NONE_MATCH, LAST_MODIFIED,
};
use reqwest::StatusCode;

/// Largest body read; a feed larger than this is an error, not a truncation.
pub const MAX_BODY_BYTES: usize = 10 * 1024 * 1024;
/// Limit for one feed or channel-page request.
pub const TIMEOUT: Duration = Duration::from_secs(30);
/// Redirects followed before giving up.
pub const MAX_REDIRECTS: usize = 5;

/// What a server said last time, sent back to ask "changed since?".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Validators {
    pub etag: Option<String>,
    pub last_modified: Option<String>,
}

/// The outcome of a successful request.
#[derive(Debug)]
pub enum Fetched {
    /// 304: nothing changed since the validators were given.
    NotModified,
    Body {
        bytes: Vec<u8>,
        /// The `Content-Type` header, for its `charset`.
        content_type: Option<String>,
        /// Validators for the next request (empty when the server sent none).
        validators: Validators,
    },
}

/// Why a request failed; `url` is already safe to show.
#[derive(Debug, Clone, thiserror::Error)]
pub enum FetchError {
    #[error("{url} answered HTTP {status}")]
    Status { url: String, status: u16 },
    #[error("{url} did not answer within {}s", .timeout.as_secs())]
    Timeout { url: String, timeout: Duration },
    #[error("{url} is larger than {limit} bytes; not read further")]
    TooLarge { url: String, limit: usize },
    #[error("cannot fetch {url}: {reason}")]
    Network { url: String, reason: String },
}

/// A cheap-to-clone HTTP client for feeds.
#[derive(Clone)]
pub struct Fetcher {
    client: reqwest::Client,
    max_body: usize,
    timeout: Duration,
}

impl Fetcher {
    pub fn new(timeout: Duration, max_body: usize) -> Result<Fetcher, reqwest::Error> {
        let client = reqwest::Client::builder()
            .user_agent(concat!("clipwatch/", env!("CARGO_PKG_VERSION")))
            .timeout(timeout)
            .connect_timeout(timeout)
            .redirect(reqwest::redirect::Policy::limited(MAX_REDIRECTS))
            .build()?;
        Ok(Fetcher {
            client,
            max_body,
            timeout,
        })
    }

    /// GET `url`, conditionally when `validators` hold something.
    pub async fn get(&self, url: &str, validators: &Validators) -> Result<Fetched, FetchError> {
        let shown = display_url(url);
        let response = self
            .client
            .get(url)
            .headers(conditional_headers(validators))
            .send()
            .await
            .map_err(|e| self.request_error(&shown, e))?;
        if response.status() == StatusCode::NOT_MODIFIED {
            return Ok(Fetched::NotModified);
        }
        if !response.status().is_success() {
            return Err(FetchError::Status {
                url: shown,
                status: response.status().as_u16(),
            });
        }
        let validators = validators_of(response.headers());
        let content_type = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let bytes = self.read_capped(response, &shown).await?;
        Ok(Fetched::Body {
            bytes,
            content_type,
            validators,
        })
    }

    async fn read_capped(
        &self,
        response: reqwest::Response,
        shown: &str,
    ) -> Result<Vec<u8>, FetchError> {
        let too_large = || FetchError::TooLarge {
            url: shown.to_owned(),
            limit: self.max_body,
        };
        if response
            .content_length()
            .is_some_and(|n| n > self.max_body as u64)
        {
            return Err(too_large());
        }
        let capped = crate::util::read_capped(response, self.max_body)
            .await
            .map_err(|e| self.request_error(shown, e))?;
        if capped.truncated {
            return Err(too_large());
        }
        Ok(capped.body)
    }

    fn request_error(&self, shown: &str, err: reqwest::Error) -> FetchError {
        if err.is_timeout() {
            return FetchError::Timeout {
                url: shown.to_owned(),
                timeout: self.timeout,
            };
        }
        let reason = if err.is_redirect() {
            format!("more than {MAX_REDIRECTS} redirects")
        } else {
            crate::util::error_chain(&err.without_url())
        };
        FetchError::Network {
            url: shown.to_owned(),
            reason,
        }
    }
}

/// `If-None-Match` / `If-Modified-Since` for what the server said last time.
pub fn conditional_headers(validators: &Validators) -> HeaderMap {
    let mut headers = HeaderMap::new();
    let pairs = [
        (IF_NONE_MATCH, &validators.etag),
        (IF_MODIFIED_SINCE, &validators.last_modified),
    ];
    for (name, value) in pairs {
        if let Some(value) = value.as_deref().and_then(|v| HeaderValue::from_str(v).ok()) {
            headers.insert(name, value);
        }
    }
    headers
}

fn validators_of(headers: &HeaderMap) -> Validators {
    let text = |name| {
        headers
            .get(name)
            .and_then(|v: &HeaderValue| v.to_str().ok())
            .map(str::to_owned)
    };
    Validators {
        etag: text(ETAG),
        last_modified: text(LAST_MODIFIED),
    }
}

/// A URL safe for logs and `feeds`: no user info, and the values of
/// query parameters that look like credentials (private podcast feeds carry
/// tokens) replaced by `redacted`.
pub fn display_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(parsed) if !crate::secret::url_has_credentials(url) => parsed.to_string(),
        Ok(_) => crate::secret::redact_url(url),
        Err(_) => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conditional_headers_carry_what_the_server_sent() {
        assert!(conditional_headers(&Validators::default()).is_empty());
        let headers = conditional_headers(&Validators {
            etag: Some("\"abc\"".into()),
            last_modified: Some("Wed, 21 Oct 2015 07:28:00 GMT".into()),
        });
        assert_eq!(headers[IF_NONE_MATCH], "\"abc\"");
        assert_eq!(headers[IF_MODIFIED_SINCE], "Wed, 21 Oct 2015 07:28:00 GMT");
        let only_etag = conditional_headers(&Validators {
            etag: Some("W/\"1\"".into()),
            last_modified: None,
        });
        assert_eq!(only_etag.len(), 1);
    }

    #[test]
    fn validators_are_read_from_the_response() {
        let mut headers = HeaderMap::new();
        headers.insert(ETAG, HeaderValue::from_static("\"v1\""));
        let got = validators_of(&headers);
        assert_eq!(got.etag.as_deref(), Some("\"v1\""));
        assert_eq!(got.last_modified, None);
    }

    #[test]
    fn display_urls_hide_credentials() {
        assert_eq!(
            display_url("https://user:pw@example.com/feed.xml?token=s3cret&page=2"),
            "https://example.com/feed.xml?token=redacted&page=2"
        );
        assert_eq!(
            display_url("https://www.youtube.com/feeds/videos.xml?channel_id=UCx"),
            "https://www.youtube.com/feeds/videos.xml?channel_id=UCx"
        );
    }
}
