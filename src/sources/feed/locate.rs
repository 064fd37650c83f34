//! Where a feed is read from: a `url =` feed as is; a YouTube channel,
//! playlist or handle as its `/feeds/videos.xml` URL, a handle or channel
//! page resolved to its channel id first (once: the caller keeps the id).
//! Shared by the watcher and by `preview`/`feeds add`, which must read the
//! same URL the watcher would.

use super::fetch::{display_url, Fetched, Fetcher, Validators};
use super::FeedError;
use crate::config::{Config, FeedConfig, FeedSource};
use crate::sources::youtube::{self, Target};

/// The URL to fetch, and what was learnt on the way.
pub struct Located {
    pub url: String,
    /// The URL to read instead while a long-form playlist (`UULF…`) fails.
    pub fallback: Option<String>,
    /// A channel id resolved from a page by this call (not known before).
    pub resolved_channel: Option<String>,
}

/// Locate `feed`; `known_channel` is the channel id resolved earlier.
pub async fn locate(
    config: &Config,
    feed: &FeedConfig,
    fetcher: &Fetcher,
    known_channel: Option<&str>,
) -> Result<Located, FeedError> {
    let value = match &feed.source {
        FeedSource::Url(url) => {
            return Ok(Located {
                url: url.clone(),
                fallback: None,
                resolved_channel: None,
            })
        }
        FeedSource::Youtube(value) => value,
    };
    let bad_source = || FeedError::BadSource {
        feed: feed.name.clone(),
        value: value.clone(),
    };
    let mut resolved_channel = None;
    let target = match youtube::parse_target(value).ok_or_else(bad_source)? {
        Target::Page(path) => match known_channel {
            Some(id) => Target::Channel(id.to_owned()),
            None => {
                let id = resolve_channel(config, feed, fetcher, &path).await?;
                resolved_channel = Some(id.clone());
                Target::Channel(id)
            }
        },
        target => target,
    };
    let base = &config.youtube.base_url;
    Ok(Located {
        url: youtube::feed_url(base, &target, feed.shorts).ok_or_else(bad_source)?,
        fallback: youtube::long_form_fallback(base, &target, feed.shorts),
        resolved_channel,
    })
}

/// Read the channel id from the channel page at `path`.
async fn resolve_channel(
    config: &Config,
    feed: &FeedConfig,
    fetcher: &Fetcher,
    path: &str,
) -> Result<String, FeedError> {
    let url =
        youtube::page_url(&config.youtube.base_url, path).map_err(|_| FeedError::BadSource {
            feed: feed.name.clone(),
            value: path.to_owned(),
        })?;
    let no_id = || FeedError::NoChannelId {
        feed: feed.name.clone(),
        url: display_url(url.as_str()),
    };
    let fetched = fetcher
        .get(url.as_str(), &Validators::default())
        .await
        .map_err(|source| FeedError::Fetch {
            feed: feed.name.clone(),
            source,
        })?;
    // An unconditional GET answered 304 only by a broken server or proxy.
    let Fetched::Body { bytes, .. } = fetched else {
        return Err(no_id());
    };
    youtube::channel_id_in_page(&String::from_utf8_lossy(&bytes)).ok_or_else(no_id)
}
