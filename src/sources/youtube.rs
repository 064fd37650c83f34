//! YouTube feed sources: what a `youtube = "…"` value names, the channel page
//! that turns an `@handle` or `/c/`, `/user/` URL into a channel id, and the
//! feed URL (`/feeds/videos.xml?channel_id=…` or `?playlist_id=…`) under the
//! configured `[youtube] base_url`. Pure functions; the feed watcher does the
//! fetching and remembers the resolved channel id.

use std::sync::LazyLock;

use regex::Regex;
use url::Url;

/// What a `youtube = "…"` value names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A `UC…` channel id.
    Channel(String),
    /// A `PL…`, `UU…` or `OL…` playlist id.
    Playlist(String),
    /// A channel page to read the channel id from: `/@handle`, `/c/NAME`,
    /// `/user/NAME` (a path under `base_url`, not yet percent-encoded).
    Page(String),
}

static CHANNEL_ID: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^UC[A-Za-z0-9_-]{22}$").expect("valid regex"));
static PLAYLIST_ID: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^(PL|UU|OL)[A-Za-z0-9_-]{10,}$").expect("valid regex"));

/// Patterns that carry a page's own channel id, most trustworthy first:
/// `"channelId"` alone may name a featured channel, so it comes last.
static PAGE_PATTERNS: LazyLock<Vec<Regex>> = LazyLock::new(|| {
    [
        r#"<link[^>]+rel="canonical"[^>]+href="[^"]*/channel/(UC[A-Za-z0-9_-]{22})""#,
        r#"<link[^>]+href="[^"]*/channel/(UC[A-Za-z0-9_-]{22})"[^>]+rel="canonical""#,
        r#"<meta[^>]+property="og:url"[^>]+content="[^"]*/channel/(UC[A-Za-z0-9_-]{22})""#,
        r#"<meta[^>]+itemprop="(?:identifier|channelId)"[^>]+content="(UC[A-Za-z0-9_-]{22})""#,
        r#""externalId"\s*:\s*"(UC[A-Za-z0-9_-]{22})""#,
        r#""channelId"\s*:\s*"(UC[A-Za-z0-9_-]{22})""#,
    ]
    .iter()
    .map(|p| Regex::new(p).expect("valid regex"))
    .collect()
});

/// Parse a configured value (already validated by `config`).
pub fn parse_target(value: &str) -> Option<Target> {
    let value = value.trim();
    if CHANNEL_ID.is_match(value) {
        return Some(Target::Channel(value.to_owned()));
    }
    if PLAYLIST_ID.is_match(value) {
        return Some(Target::Playlist(value.to_owned()));
    }
    if value.starts_with('@') {
        return Some(Target::Page(format!("/{value}")));
    }
    let url = Url::parse(value).ok()?;
    let segments: Vec<&str> = url
        .path_segments()
        .map(|s| s.filter(|s| !s.is_empty()).collect())
        .unwrap_or_default();
    match segments.as_slice() {
        ["channel", id, ..] if CHANNEL_ID.is_match(id) => Some(Target::Channel((*id).to_owned())),
        [kind @ ("c" | "user"), name, ..] => {
            Some(Target::Page(format!("/{kind}/{}", decode(name))))
        }
        [handle, ..] if handle.starts_with('@') => {
            Some(Target::Page(format!("/{}", decode(handle))))
        }
        ["playlist"] => url
            .query_pairs()
            .find(|(k, v)| k == "list" && PLAYLIST_ID.is_match(v))
            .map(|(_, v)| Target::Playlist(v.into_owned())),
        _ => None,
    }
}

fn decode(segment: &str) -> String {
    url::form_urlencoded::parse(format!("x={segment}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_else(|| segment.to_owned())
}

/// The channel page for a [`Target::Page`] path under `base_url`.
pub fn page_url(base_url: &str, path: &str) -> Result<Url, url::ParseError> {
    let mut url = Url::parse(base_url)?;
    let mut base_path = url.path().trim_end_matches('/').to_owned();
    base_path.push_str(path);
    url.set_path(&base_path);
    Ok(url)
}

/// The feed URL for a channel or playlist. With `shorts = false` a channel
/// (or its `UU…` uploads playlist) is read through its long-form uploads
/// playlist (`UULF…`), so Shorts do not crowd the 15 entries out.
pub fn feed_url(base_url: &str, target: &Target, shorts: bool) -> Option<String> {
    let base = base_url.trim_end_matches('/');
    match target {
        Target::Channel(id) if shorts => Some(format!("{base}/feeds/videos.xml?channel_id={id}")),
        Target::Channel(id) => Some(format!(
            "{base}/feeds/videos.xml?playlist_id=UULF{}",
            &id[2..]
        )),
        Target::Playlist(id) if !shorts && is_plain_uploads(id) => Some(format!(
            "{base}/feeds/videos.xml?playlist_id=UULF{}",
            &id[2..]
        )),
        Target::Playlist(id) => Some(format!("{base}/feeds/videos.xml?playlist_id={id}")),
        Target::Page(_) => None,
    }
}

/// The feed to read while a channel's long-form playlist (`UULF…`) fails
/// (YouTube answers 404 for it for days at a time): the channel feed, or
/// the plain uploads playlist, whose Shorts are then skipped by their
/// `/shorts/` link. `None` when `target` is not read through `UULF…`.
pub fn long_form_fallback(base_url: &str, target: &Target, shorts: bool) -> Option<String> {
    if shorts {
        return None;
    }
    match target {
        Target::Channel(_) => feed_url(base_url, target, true),
        Target::Playlist(id) if is_plain_uploads(id) => feed_url(base_url, target, true),
        _ => None,
    }
}

/// `UU` + the 22 characters of a channel id (not `UULF…`, `UUSH…`, …).
fn is_plain_uploads(id: &str) -> bool {
    id.len() == 24 && id.starts_with("UU")
}

/// The channel id a channel page names, if any.
pub fn channel_id_in_page(html: &str) -> Option<String> {
    PAGE_PATTERNS
        .iter()
        .find_map(|re| re.captures(html))
        .map(|c| c[1].to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    const UC: &str = "UCSHZKyawb77ixDdsGog4iWA";

    #[test]
    fn every_configured_form_is_understood() {
        let cases = [
            (UC, Target::Channel(UC.into())),
            (
                "UULFSHZKyawb77ixDdsGog4iWA",
                Target::Playlist("UULFSHZKyawb77ixDdsGog4iWA".into()),
            ),
            (
                "PLrAXtmErZgOeiKm4sgNOknGvNjby9efdf",
                Target::Playlist("PLrAXtmErZgOeiKm4sgNOknGvNjby9efdf".into()),
            ),
            ("@lexfridman", Target::Page("/@lexfridman".into())),
            (
                "https://www.youtube.com/channel/UCSHZKyawb77ixDdsGog4iWA/videos",
                Target::Channel(UC.into()),
            ),
            (
                "https://m.youtube.com/@lexfridman/videos",
                Target::Page("/@lexfridman".into()),
            ),
            (
                "https://www.youtube.com/c/LexFridman",
                Target::Page("/c/LexFridman".into()),
            ),
            (
                "https://www.youtube.com/user/lexfridman",
                Target::Page("/user/lexfridman".into()),
            ),
            (
                "https://www.youtube.com/@caf%C3%A9",
                Target::Page("/@café".into()),
            ),
            (
                "https://www.youtube.com/playlist?list=PLrAXtmErZgOeiKm4sgNOknGvNjby9efdf",
                Target::Playlist("PLrAXtmErZgOeiKm4sgNOknGvNjby9efdf".into()),
            ),
        ];
        for (input, want) in cases {
            assert_eq!(parse_target(input), Some(want), "{input}");
        }
        assert_eq!(
            parse_target("https://www.youtube.com/watch?v=dQw4w9WgXcQ"),
            None
        );
    }

    #[test]
    fn the_long_form_playlist_falls_back_to_the_channel_feed() {
        let base = "https://www.youtube.com";
        let chan = Target::Channel(UC.into());
        assert_eq!(
            long_form_fallback(base, &chan, false).as_deref(),
            Some("https://www.youtube.com/feeds/videos.xml?channel_id=UCSHZKyawb77ixDdsGog4iWA")
        );
        assert_eq!(long_form_fallback(base, &chan, true), None);
        let uploads = Target::Playlist(format!("UU{}", &UC[2..]));
        assert_eq!(
            long_form_fallback(base, &uploads, false).as_deref(),
            Some("https://www.youtube.com/feeds/videos.xml?playlist_id=UUSHZKyawb77ixDdsGog4iWA")
        );
        assert_eq!(
            long_form_fallback(base, &Target::Playlist("PL0123456789ab".into()), false),
            None
        );
    }

    #[test]
    fn feed_urls_use_the_long_form_playlist_without_shorts() {
        let base = "http://127.0.0.1:9/";
        let channel = Target::Channel(UC.into());
        assert_eq!(
            feed_url(base, &channel, true).unwrap(),
            format!("http://127.0.0.1:9/feeds/videos.xml?channel_id={UC}")
        );
        assert_eq!(
            feed_url(base, &channel, false).unwrap(),
            "http://127.0.0.1:9/feeds/videos.xml?playlist_id=UULFSHZKyawb77ixDdsGog4iWA"
        );
        let uploads = Target::Playlist("UUSHZKyawb77ixDdsGog4iWA".into());
        assert!(feed_url(base, &uploads, false)
            .unwrap()
            .ends_with("playlist_id=UULFSHZKyawb77ixDdsGog4iWA"));
        assert!(feed_url(base, &uploads, true)
            .unwrap()
            .ends_with("playlist_id=UUSHZKyawb77ixDdsGog4iWA"));
        let list = Target::Playlist("PLrAXtmErZgOeiKm4sgNOknGvNjby9efdf".into());
        assert!(feed_url(base, &list, false)
            .unwrap()
            .ends_with("playlist_id=PLrAXtmErZgOeiKm4sgNOknGvNjby9efdf"));
        assert_eq!(feed_url(base, &Target::Page("/@x".into()), true), None);
    }

    #[test]
    fn page_urls_are_under_the_base_and_encoded() {
        assert_eq!(
            page_url("https://www.youtube.com", "/@lexfridman")
                .unwrap()
                .as_str(),
            "https://www.youtube.com/@lexfridman"
        );
        assert_eq!(
            page_url("http://127.0.0.1:9/yt", "/@café")
                .unwrap()
                .as_str(),
            "http://127.0.0.1:9/yt/@caf%C3%A9"
        );
    }

    #[test]
    fn channel_ids_are_read_from_the_page_owner_first() {
        let other = "UCaaaaaaaaaaaaaaaaaaaaaa";
        let page = format!(
            r#"<html><head><link rel="canonical" href="https://www.youtube.com/channel/{UC}">
            </head><script>var x = {{"channelId":"{other}"}};</script>"#
        );
        assert_eq!(channel_id_in_page(&page).as_deref(), Some(UC));
        let meta = format!(r#"<meta itemprop="identifier" content="{UC}">"#);
        assert_eq!(channel_id_in_page(&meta).as_deref(), Some(UC));
        let json = format!(r#"{{"header":{{"channelId": "{UC}"}}}}"#);
        assert_eq!(channel_id_in_page(&json).as_deref(), Some(UC));
        assert_eq!(channel_id_in_page("<html>consent</html>"), None);
    }
}
