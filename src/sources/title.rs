//! A video's real title (and date, when the page says), for sources that do
//! not carry one: `submit URL`, drop-folder links, untitled feed entries.
//!
//! YouTube: its oEmbed endpoint under `[youtube] base_url`. Any other page:
//! fetched once (head only, capped), its oEmbed discovery link
//! (`<link rel="alternate" type="application/json+oembed">`, which Vimeo,
//! Dailymotion, PeerTube and most video sites publish) and else its
//! `og:title` or `<title>`. Best effort: any failure is logged at debug level
//! and gives `None`; a lookup never holds a job for longer than
//! [`TIMEOUT`] per request and never fails it.

use std::sync::{Arc, LazyLock};
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use regex::Regex;

use super::feed::fetch::display_url;
use crate::model::identity::{SourceKey, SourceKind};
use crate::output::links::{GuardedResolver, LinkPolicy};

/// Limit for one lookup (all its requests).
pub const TIMEOUT: Duration = Duration::from_secs(5);
/// Lookups made for one feed check or one dropped file; the videos beyond
/// go without (a list of 1 000 links must not hold the watcher for hours).
pub const MAX_LOOKUPS_AT_ONCE: usize = 20;
/// Most of a page read for its title: the `<head>` is near the start.
const MAX_PAGE_BYTES: usize = 512 * 1024;
/// Longest title kept (characters).
const MAX_TITLE_CHARS: usize = 300;

/// What a lookup found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Found {
    pub title: Option<String>,
    pub published: Option<DateTime<Utc>>,
    /// The title is the video's own, from oEmbed (not a page's `og:title`
    /// or `<title>`, which a name given by the user beats).
    pub from_oembed: bool,
    /// The video's length in seconds, when the oEmbed answer gives one
    /// (Vimeo's does).
    pub duration_s: Option<u32>,
}

/// Looks titles up; cheap to clone.
#[derive(Clone)]
pub struct Titles {
    client: reqwest::Client,
    policy: Arc<LinkPolicy>,
    youtube_base: String,
}

impl Titles {
    /// `None` when lookups are off (`[titles] lookup = false`).
    pub fn new(config: &crate::config::Config) -> Option<Titles> {
        if !config.titles.lookup {
            return None;
        }
        // Pages named by feeds, dropped files and `submit` are untrusted:
        // https and public addresses only (checked after DNS and on every
        // redirect), plus what `[youtube] base_url` itself uses (a local
        // proxy, or the tests' server on 127.0.0.1).
        let policy = Arc::new(LinkPolicy::for_base_url_offline(&config.youtube.base_url));
        let client = reqwest::Client::builder()
            .user_agent(concat!("clipwatch/", env!("CARGO_PKG_VERSION")))
            .timeout(TIMEOUT)
            .connect_timeout(TIMEOUT)
            .redirect(policy.redirects())
            .dns_resolver(Arc::new(GuardedResolver {
                policy: policy.clone(),
            }))
            .referer(false)
            .build()
            .ok()?;
        Some(Titles {
            client,
            policy,
            youtube_base: config.youtube.base_url.trim_end_matches('/').to_owned(),
        })
    }

    /// The title (and date) of the video `key` names, if it can be found.
    pub async fn find(&self, key: &SourceKey) -> Found {
        let found = match key.kind {
            SourceKind::Youtube => self.youtube(&key.submit_url).await,
            SourceKind::Url if !looks_like_a_file(&key.submit_url) => {
                self.page(&key.submit_url).await
            }
            _ => Ok(Found::default()),
        };
        match found {
            Ok(found) => found,
            Err(reason) => {
                tracing::debug!("no title for {}: {reason}", display_url(&key.submit_url));
                Found::default()
            }
        }
    }

    async fn youtube(&self, watch_url: &str) -> Result<Found, String> {
        let mut url =
            url::Url::parse(&format!("{}/oembed", self.youtube_base)).map_err(|e| e.to_string())?;
        url.query_pairs_mut()
            .append_pair("url", watch_url)
            .append_pair("format", "json");
        self.oembed(url.as_str()).await
    }

    async fn oembed(&self, url: &str) -> Result<Found, String> {
        let body = self.get(url).await?.1;
        let value: serde_json::Value =
            serde_json::from_slice(&body).map_err(|e| format!("oEmbed answer: {e}"))?;
        let title = value["title"].as_str().and_then(clean);
        Ok(Found {
            from_oembed: title.is_some(),
            title,
            published: None,
            duration_s: oembed_duration(&value),
        })
    }

    async fn page(&self, url: &str) -> Result<Found, String> {
        let (content_type, body) = self.get(url).await?;
        if !content_type.contains("html") {
            return Ok(Found::default());
        }
        let html = String::from_utf8_lossy(&body);
        let published = page_date(&html);
        if let Some(oembed) = oembed_link(&html) {
            let oembed = url::Url::parse(url)
                .and_then(|base| base.join(&oembed))
                .map_err(|e| e.to_string())?;
            if let Ok(found) = self.oembed(oembed.as_str()).await {
                if found.title.is_some() {
                    return Ok(Found { published, ..found });
                }
            }
        }
        Ok(Found {
            title: page_title(&html),
            published,
            from_oembed: false,
            duration_s: None,
        })
    }

    /// GET `url`: its `Content-Type` and at most [`MAX_PAGE_BYTES`] of body.
    async fn get(&self, url: &str) -> Result<(String, Vec<u8>), String> {
        let url = self.policy.check_str(url).map_err(|e| e.to_string())?;
        let mut response = self
            .client
            .get(url)
            .send()
            .await
            .map_err(|e| e.without_url().to_string())?;
        if !response.status().is_success() {
            return Err(format!("HTTP {}", response.status().as_u16()));
        }
        let content_type = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_ascii_lowercase();
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| e.without_url().to_string())?
        {
            body.extend_from_slice(&chunk);
            if body.len() >= MAX_PAGE_BYTES {
                body.truncate(MAX_PAGE_BYTES);
                break;
            }
        }
        Ok((content_type, body))
    }
}

/// A direct media file: no page to read a title from.
fn looks_like_a_file(url: &str) -> bool {
    let path = url.split(['?', '#']).next().unwrap_or_default();
    let ext = path.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase());
    matches!(
        ext.as_deref(),
        Some("mp4" | "m4v" | "mov" | "webm" | "mkv" | "avi" | "mp3" | "m4a" | "m3u8" | "mpd")
    )
}

static LINK_TAG: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?is)<link\b[^>]*>").expect("valid regex"));
static META_TAG: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?is)<meta\b[^>]*>").expect("valid regex"));
static TITLE_TAG: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?is)<title\b[^>]*>(.*?)</title>").expect("valid regex"));
static ATTR: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?is)([a-z:_-]+)\s*=\s*(?:"([^"]*)"|'([^']*)')"#).expect("valid regex")
});
static LD_UPLOAD_DATE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#""(?:uploadDate|datePublished)"\s*:\s*"([^"]+)""#).expect("valid regex")
});

fn attrs(tag: &str) -> Vec<(String, String)> {
    ATTR.captures_iter(tag)
        .map(|c| {
            let value = c.get(2).or_else(|| c.get(3)).map_or("", |m| m.as_str());
            (c[1].to_ascii_lowercase(), unescape(value))
        })
        .collect()
}

fn attr<'a>(attrs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    attrs
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

/// `duration` of an oEmbed answer, in whole seconds (a number or a
/// numeric string; zero and nonsense are none).
fn oembed_duration(value: &serde_json::Value) -> Option<u32> {
    let seconds = match &value["duration"] {
        serde_json::Value::Number(n) => n.as_f64()?,
        serde_json::Value::String(s) => s.trim().parse::<f64>().ok()?,
        _ => return None,
    };
    (seconds >= 1.0 && seconds < f64::from(u32::MAX)).then_some(seconds.round() as u32)
}

/// The page's oEmbed discovery link (JSON), as written.
fn oembed_link(html: &str) -> Option<String> {
    LINK_TAG.find_iter(html).find_map(|tag| {
        let attrs = attrs(tag.as_str());
        let json =
            attr(&attrs, "type").is_some_and(|t| t.eq_ignore_ascii_case("application/json+oembed"));
        json.then(|| attr(&attrs, "href").map(str::to_owned))
            .flatten()
    })
}

/// `og:title` (or `twitter:title`), else `<title>`.
fn page_title(html: &str) -> Option<String> {
    let meta = META_TAG.find_iter(html).find_map(|tag| {
        let attrs = attrs(tag.as_str());
        let name = attr(&attrs, "property").or_else(|| attr(&attrs, "name"))?;
        matches!(name, "og:title" | "twitter:title")
            .then(|| attr(&attrs, "content").and_then(clean))
            .flatten()
    });
    meta.or_else(|| {
        TITLE_TAG
            .captures(html)
            .and_then(|c| clean(&unescape(&c[1])))
    })
}

/// When the page says the video was published: `uploadDate` (schema.org
/// microdata or JSON-LD), `datePublished`, `article:published_time`,
/// `og:video:release_date`.
fn page_date(html: &str) -> Option<DateTime<Utc>> {
    let meta = META_TAG.find_iter(html).find_map(|tag| {
        let attrs = attrs(tag.as_str());
        let name = attr(&attrs, "itemprop")
            .or_else(|| attr(&attrs, "property"))
            .or_else(|| attr(&attrs, "name"))?;
        matches!(
            name,
            "uploadDate" | "datePublished" | "article:published_time" | "og:video:release_date"
        )
        .then(|| attr(&attrs, "content").and_then(parse_date))
        .flatten()
    });
    meta.or_else(|| {
        LD_UPLOAD_DATE
            .captures(html)
            .and_then(|c| parse_date(&c[1]))
    })
}

fn parse_date(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim();
    if let Ok(at) = DateTime::parse_from_rfc3339(text) {
        return Some(at.with_timezone(&Utc));
    }
    let day = NaiveDate::parse_from_str(text.get(..10)?, "%Y-%m-%d").ok()?;
    Some(day.and_hms_opt(0, 0, 0)?.and_utc())
}

/// A title as shown: whitespace collapsed, bounded, `None` if empty.
fn clean(title: &str) -> Option<String> {
    let title: String = title.split_whitespace().collect::<Vec<_>>().join(" ");
    let title: String = title.chars().take(MAX_TITLE_CHARS).collect();
    (!title.is_empty()).then_some(title)
}

/// The common HTML and XML character references (titles in pages, strings
/// in `.webloc` plists); anything else is kept as written.
pub(crate) fn unescape(text: &str) -> String {
    if !text.contains('&') {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        let Some(end) = rest.find(';').filter(|e| *e <= 10) else {
            out.push('&');
            rest = &rest[1..];
            continue;
        };
        let entity = &rest[1..end];
        let decoded = match entity {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            "nbsp" => Some(' '),
            _ => entity
                .strip_prefix("#x")
                .or_else(|| entity.strip_prefix("#X"))
                .and_then(|hex| u32::from_str_radix(hex, 16).ok())
                .or_else(|| entity.strip_prefix('#').and_then(|d| d.parse().ok()))
                .and_then(char::from_u32),
        };
        match decoded {
            Some(c) => {
                out.push(c);
                rest = &rest[end + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_oembed_duration_is_whole_seconds_or_none() {
        let of = |v: serde_json::Value| oembed_duration(&v);
        assert_eq!(of(serde_json::json!({"duration": 754})), Some(754));
        assert_eq!(of(serde_json::json!({"duration": "61.6"})), Some(62));
        assert_eq!(of(serde_json::json!({"duration": 0})), None);
        assert_eq!(of(serde_json::json!({"duration": "soon"})), None);
        assert_eq!(of(serde_json::json!({"title": "t"})), None);
    }

    #[test]
    fn a_page_names_its_oembed_title_and_date() {
        let html = r#"<!doctype html><html><head>
<title>Fallback &amp; more | Site</title>
<meta property="og:title" content="The &quot;real&quot; title">
<link rel="alternate" type="application/json+oembed" href="/oembed?url=x&amp;format=json" title="t">
<meta itemprop="uploadDate" content="2024-05-01T10:00:00-07:00">
</head></html>"#;
        assert_eq!(
            oembed_link(html).as_deref(),
            Some("/oembed?url=x&format=json")
        );
        assert_eq!(page_title(html).as_deref(), Some("The \"real\" title"));
        assert_eq!(
            page_date(html),
            Some("2024-05-01T17:00:00Z".parse().unwrap())
        );
    }

    #[test]
    fn the_title_tag_is_the_last_resort() {
        let html = "<html><head><TITLE>\n  Caf&eacute; &#233;t&#xE9;  </TITLE></head>";
        assert_eq!(page_title(html).as_deref(), Some("Caf&eacute; été"));
        assert_eq!(page_title("<html></html>"), None);
        assert_eq!(
            page_date(r#"{"uploadDate": "2023-02-03"}"#),
            Some("2023-02-03T00:00:00Z".parse().unwrap())
        );
    }

    #[test]
    fn media_files_are_not_fetched_for_a_title() {
        assert!(looks_like_a_file("https://cdn.example/a/b.MP4?sig=1"));
        assert!(!looks_like_a_file("https://example.com/watch/123"));
    }
}
