//! From a parsed feed to videos: each entry becomes a [`Candidate`] with a
//! canonical key. YouTube entries are keyed by `yt:videoId` (or their link);
//! other feeds by their link or enclosure (`use`), preferring `video/*`
//! enclosures. Pure: no I/O, no clock.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use feed_rs::model::{Entry, Feed};

use super::extras::Extras;

use crate::config::EntryUse;
use crate::model::identity::{self, SourceKey};

/// Most entries a feed may list. feed-rs builds the whole feed in memory,
/// about 2 KB per entry beyond the body: 120 000 tiny entries (10 MB, under
/// the body cap) took the daemon to 280 MB and recorded 120 000 skipped
/// jobs. Real feeds list 15 (YouTube) to a few thousand (podcasts).
pub const MAX_ENTRIES: usize = 10_000;

/// An upper bound on the entries in a feed body, counted without parsing:
/// XML `<item` and `<entry` start tags, with or without a namespace prefix
/// (RSS, Atom), and `"id"` keys (JSON
/// Feed items each have one). Text that merely looks like them only
/// raises the count.
pub fn count_entries(body: &[u8]) -> usize {
    let tag_ends = |rest: &[u8]| {
        rest.first()
            .is_none_or(|b| b.is_ascii_whitespace() || *b == b'>' || *b == b'/')
    };
    // `<atom:entry>`: a namespace prefix before the local name.
    let local_name = |rest: &'_ [u8]| -> usize {
        let prefix = rest
            .iter()
            .take(32)
            .position(|b| !(b.is_ascii_alphanumeric() || *b == b'_' || *b == b'-'));
        match prefix {
            Some(len) if len > 0 && rest[len] == b':' => len + 1,
            _ => 0,
        }
    };
    let mut count = 0;
    for (at, byte) in body.iter().enumerate() {
        let mut rest = &body[at + 1..];
        if *byte == b'<' {
            rest = &rest[local_name(rest)..];
        }
        count += match byte {
            b'<' if rest.starts_with(b"item") && tag_ends(&rest[4..]) => 1,
            b'<' if rest.starts_with(b"entry") && tag_ends(&rest[5..]) => 1,
            b'"' if rest.starts_with(b"id\"") => 1,
            _ => 0,
        };
    }
    count
}

/// How a feed's entries name their video.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A YouTube channel or playlist feed.
    Youtube,
    /// Any other feed, read through its link or enclosure.
    Other(EntryUse),
}

/// One entry as a video.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    pub key: SourceKey,
    pub title: String,
    pub published: Option<DateTime<Utc>>,
    /// A YouTube Short (its link is a `/shorts/` URL).
    pub short: bool,
    /// An upcoming premiere or stream: no views yet, or published in the future.
    pub upcoming: bool,
    /// Why the entry cannot be clipped although it has a key (e.g. audio only).
    pub unusable: Option<String>,
    /// The link it was keyed by, as written (with its `#fragment`).
    pub link: String,
    /// The video's length in seconds, when the entry says (see `length`).
    pub duration_s: Option<u32>,
}

/// A feed body read: its videos, and what could not be read.
#[derive(Debug, Default)]
pub struct Parsed {
    pub candidates: Vec<Candidate>,
    /// Entries that name no usable URL at all, described (they cannot be
    /// recorded as jobs, only reported).
    pub ignored: Vec<String>,
    /// Fields or items left out of a sloppy feed, and entries that repeat
    /// another entry's link, one line each.
    pub notes: Vec<String>,
}

/// Read a feed body: transcode it to UTF-8 (HTTP charset, BOM,
/// declaration), make a sloppy JSON Feed readable, parse, and map every
/// entry to a candidate. `feed_url` resolves relative links and tells the
/// feed's own URL from a video. `stored_link` gives the link a stored job
/// was made from, by key.
pub fn parse(
    body: &[u8],
    content_type: Option<&str>,
    feed_url: &str,
    kind: Kind,
    now: DateTime<Utc>,
    stored_link: &dyn Fn(&str) -> Option<String>,
) -> Result<Parsed, String> {
    let body = super::charset::to_utf8(body, content_type);
    // Before parsing (the parse is what takes the memory), and after
    // decoding: UTF-16 tags are not seen in the raw bytes.
    if count_entries(&body) > MAX_ENTRIES {
        return Err(format!(
            "it lists more than {MAX_ENTRIES} entries; clipwatch reads feeds of at most that many"
        ));
    }
    let text = String::from_utf8_lossy(&body);
    let is_json = text.trim_start().starts_with('{');
    let mut notes = Vec::new();
    let mut ignored = Vec::new();
    let (feed, extras) = if is_json {
        let normalized = super::json::normalize(text.as_bytes())?;
        notes.extend(normalized.notes);
        ignored.extend(normalized.dropped_items);
        (parse_with(&normalized.bytes, feed_url)?, Vec::new())
    } else if kind == Kind::Youtube {
        // YouTube entries are keyed by their video id: no media to look at.
        (parse_with(&body, feed_url)?, Vec::new())
    } else {
        (parse_with(&body, feed_url)?, super::extras::scan(&text))
    };
    // The second pass must see the same entries as feed-rs to be matched.
    let extras = if extras.len() == feed.entries.len() {
        extras
    } else {
        if !extras.is_empty() {
            notes.push(format!(
                "the media pass found {} entries where the feed has {}, so RDF `enc:enclosure`, MRSS `media:content medium=\"video\"` and `media:player` were not read in this body",
                extras.len(),
                feed.entries.len()
            ));
        }
        vec![Extras::default(); feed.entries.len()]
    };
    let context = Context::new(&feed, feed_url);
    let mut parsed = candidates_in(&feed, &extras, &context, kind, now, stored_link);
    parsed.notes.splice(0..0, notes);
    parsed.ignored.splice(0..0, ignored);
    Ok(parsed)
}

fn parse_with(bytes: &[u8], feed_url: &str) -> Result<Feed, String> {
    feed_rs::parser::Builder::new()
        .base_uri(Some(feed_url))
        .build()
        .parse(bytes)
        .map_err(|e| e.to_string())
}

/// What an entry's links are compared with.
struct Context {
    /// Keys that are the feed itself or a site's home, never a video.
    not_videos: HashSet<String>,
}

impl Context {
    fn new(feed: &Feed, feed_url: &str) -> Context {
        let mut not_videos = HashSet::new();
        let own = std::iter::once(feed_url).chain(feed.links.iter().map(|l| l.href.as_str()));
        for url in own {
            if let Some(key) = key_of(url) {
                not_videos.insert(key.key);
            }
        }
        Context { not_videos }
    }

    /// A link that names the feed, its site's home page or any site root
    /// (an empty `href=""` resolves to the feed URL): not a video.
    fn is_video_candidate(&self, url: &str) -> bool {
        let Ok(parsed) = url::Url::parse(url) else {
            return false;
        };
        let root = matches!(parsed.path(), "" | "/") && parsed.query().is_none();
        !root && key_of(url).is_some_and(|k| !self.not_videos.contains(&k.key))
    }
}

/// Entries mapped to candidates. A later entry whose link differs from an
/// earlier one's only by its `#fragment` (one page, one video to the API)
/// is kept as a skipped record of its own, under its link with the
/// fragment, saying which entry it repeats; nothing vanishes unrecorded.
/// The page's entry is the one whose link a stored job was made from
/// (`stored_link`), else the first in the body.
fn candidates_in(
    feed: &Feed,
    extras: &[Extras],
    context: &Context,
    kind: Kind,
    now: DateTime<Utc>,
    stored_link: &dyn Fn(&str) -> Option<String>,
) -> Parsed {
    let mut parsed = Parsed::default();
    // Key -> the link (with fragment) of the page's entry, and whether that
    // entry was met in this body yet.
    let mut first: HashMap<String, (String, bool)> = HashMap::new();
    for (entry, extras) in feed.entries.iter().zip(extras) {
        let Some((mut c, link)) = candidate(entry, extras, context, kind, now) else {
            parsed.ignored.push(describe(entry));
            continue;
        };
        if !first.contains_key(&c.key.key) && fragment_key(&link).is_some() {
            // A page known from an earlier check: its entry is the stored one.
            if let Some(stored) = stored_link(&c.key.key) {
                first.insert(c.key.key.clone(), (stored, false));
            }
        }
        match first.get_mut(&c.key.key) {
            None => {
                first.insert(c.key.key.clone(), (link, true));
                parsed.candidates.push(c);
            }
            Some((earlier, met)) if !*met && *earlier == link => {
                *met = true;
                parsed.candidates.push(c);
            }
            Some((earlier, _)) => match fragment_key(&link).filter(|_| *earlier != link) {
                Some(key) => {
                    c.unusable = Some(format!(
                        "{}{} (links differ only by #fragment)",
                        super::decide::SAME_PAGE,
                        super::fetch::display_url(earlier)
                    ));
                    c.key = key;
                    parsed.candidates.push(c);
                }
                None => parsed.notes.push(format!(
                    "{} repeats the link {}",
                    describe(entry),
                    super::fetch::display_url(earlier)
                )),
            },
        }
    }
    parsed
}

/// `url:<link with its fragment>` for a link that has one.
fn fragment_key(link: &str) -> Option<SourceKey> {
    let parsed = url::Url::parse(link).ok()?;
    let fragment = parsed.fragment().filter(|f| !f.is_empty())?.to_owned();
    let mut key = key_of(link)?;
    if key.kind != identity::SourceKind::Url {
        return None;
    }
    key.key = format!("{}#{fragment}", key.key);
    key.submit_url = format!("{}#{fragment}", key.submit_url);
    Some(key)
}

/// The entry as a candidate, with the link it was keyed by (as written).
fn candidate(
    entry: &Entry,
    extras: &Extras,
    context: &Context,
    kind: Kind,
    now: DateTime<Utc>,
) -> Option<(Candidate, String)> {
    let ((key, unusable), link) = match kind {
        Kind::Youtube => {
            let key = youtube_key(entry)?;
            let link = key.submit_url.clone();
            ((key, None), link)
        }
        Kind::Other(EntryUse::Link) => {
            let page = video_link(entry, context).or_else(|| page_link(entry, context));
            match page.and_then(|l| key_of(l).map(|k| (k, l))) {
                Some((key, link)) => ((key, None), link.to_owned()),
                None => enclosure_choice(entry, extras, context)?,
            }
        }
        Kind::Other(EntryUse::Enclosure) => match enclosure_choice(entry, extras, context) {
            Some(found) => found,
            // No enclosure: a video link (YouTube, Vimeo, a video file)
            // will do; a page link is recorded as skipped, with why.
            None => match video_link(entry, context) {
                Some(link) => ((key_of(link)?, None), link.to_owned()),
                None => {
                    let link = page_link(entry, context)?;
                    let reason = super::decide::NO_ENCLOSURE.to_owned();
                    ((key_of(link)?, Some(reason)), link.to_owned())
                }
            },
        },
    };
    let views = entry
        .media
        .iter()
        .find_map(|m| m.community.as_ref().and_then(|c| c.stats_views));
    let published = entry.published.or(entry.updated);
    let candidate = Candidate {
        title: title_of(entry),
        short: entry.links.iter().any(|l| is_short_link(&l.href)),
        upcoming: views == Some(0) || published.is_some_and(|p| p > now),
        published,
        key,
        unusable,
        link: link.clone(),
        duration_s: super::length::of(entry),
    };
    Some((candidate, link))
}

fn key_of(url: &str) -> Option<SourceKey> {
    identity::canonical_key(url).ok()
}

fn youtube_key(entry: &Entry) -> Option<SourceKey> {
    key_of(&entry.id)
        .filter(|k| k.kind == identity::SourceKind::Youtube)
        .or_else(|| {
            entry
                .links
                .iter()
                .find_map(|l| identity::youtube_video_id(&l.href).and_then(|_| key_of(&l.href)))
        })
}

/// Links that may name the entry's page or video: not enclosures, not
/// replies, comments, licences or the like.
fn non_media_links(entry: &Entry) -> impl Iterator<Item = &str> {
    entry
        .links
        .iter()
        .filter(|l| {
            matches!(
                l.rel.as_deref(),
                None | Some("alternate") | Some("related") | Some("via")
            ) && !l.media_type.as_deref().is_some_and(is_media_type)
        })
        .map(|l| l.href.as_str())
}

/// The entry's first link that is a video URL (JSON Feed `external_url`,
/// Atom `rel="related"`/`"via"`, or the link itself): that is the video.
fn video_link<'a>(entry: &'a Entry, context: &Context) -> Option<&'a str> {
    non_media_links(entry).find(|l| is_video_url(l) && context.is_video_candidate(l))
}

/// The entry's page: its first `alternate` (or untyped) link that is not an
/// enclosure, the feed itself or a site root.
fn page_link<'a>(entry: &'a Entry, context: &Context) -> Option<&'a str> {
    entry
        .links
        .iter()
        .filter(|l| {
            matches!(l.rel.as_deref(), None | Some("alternate"))
                && !l.media_type.as_deref().is_some_and(is_media_type)
        })
        .map(|l| l.href.as_str())
        .find(|l| context.is_video_candidate(l))
}

/// A URL that names one video: YouTube, Vimeo, Dailymotion, PeerTube
/// watch pages, or a video file.
pub fn is_video_url(url: &str) -> bool {
    if identity::youtube_video_id(url).is_some() || has_video_extension(url) {
        return true;
    }
    let Ok(parsed) = url::Url::parse(url) else {
        return false;
    };
    let host = parsed.host_str().unwrap_or_default();
    let host = host.strip_prefix("www.").unwrap_or(host);
    let segments: Vec<&str> = parsed
        .path_segments()
        .map(|s| s.filter(|s| !s.is_empty()).collect())
        .unwrap_or_default();
    let numeric = |s: &&str| s.bytes().all(|b| b.is_ascii_digit());
    match host {
        "vimeo.com" => segments.last().is_some_and(numeric),
        "player.vimeo.com" => segments.first() == Some(&"video"),
        "dailymotion.com" => {
            segments.first() == Some(&"video") || segments.get(1) == Some(&"video")
        }
        "dai.ly" => segments.len() == 1,
        // PeerTube instances: `/w/<id>` and `/videos/watch/<uuid>`.
        _ => {
            (segments.len() == 2 && segments[0] == "w")
                || (segments.len() == 3 && segments[..2] == ["videos", "watch"])
        }
    }
}

/// The video enclosure's key; or, when there is only audio (or other
/// media), that enclosure's key with the reason it cannot be used. Also the
/// URL as written.
fn enclosure_choice(
    entry: &Entry,
    extras: &Extras,
    context: &Context,
) -> Option<((SourceKey, Option<String>), String)> {
    let all: Vec<(String, Option<String>)> = enclosures(entry)
        .into_iter()
        .chain(extras.rdf_enclosures.iter().cloned())
        .filter(|(url, _)| context.is_video_candidate(url))
        .collect();
    let video = all
        .iter()
        .find(|(url, mime)| match mime {
            Some(mime) => mime.starts_with("video/"),
            None => has_video_extension(url),
        })
        .map(|(url, _)| url.as_str())
        // MRSS `medium="video"` or a `media:player`.
        .or_else(|| {
            extras
                .videos
                .iter()
                .map(String::as_str)
                .find(|url| context.is_video_candidate(url))
        });
    if let Some(url) = video {
        return key_of(url).map(|k| ((k, None), url.to_owned()));
    }
    let (url, mime) = all.first()?;
    let what = mime.clone().unwrap_or_else(|| "unknown type".into());
    key_of(url).map(|k| {
        (
            (
                k,
                Some(format!("{}{what})", super::decide::NO_VIDEO_ENCLOSURE)),
            ),
            url.clone(),
        )
    })
}

/// `(url, media type)` of every enclosure: RSS `<enclosure>` and
/// `media:content`, Atom `rel="enclosure"` links, JSON Feed attachments.
/// An empty media type counts as none.
fn enclosures(entry: &Entry) -> Vec<(String, Option<String>)> {
    let media = entry.media.iter().flat_map(|m| &m.content).filter_map(|c| {
        let url = c.url.as_ref()?.to_string();
        Some((url, c.content_type.as_ref().map(|t| t.to_string())))
    });
    let links = entry
        .links
        .iter()
        .filter(|l| {
            l.rel.as_deref() == Some("enclosure")
                || (l.rel.is_none() && l.media_type.as_deref().is_some_and(is_media_type))
        })
        .map(|l| (l.href.clone(), l.media_type.clone()));
    media
        .chain(links)
        .map(|(url, mime)| (url, mime.filter(|m| !m.trim().is_empty())))
        .collect()
}

fn is_media_type(mime: &str) -> bool {
    mime.starts_with("video/") || mime.starts_with("audio/")
}

fn has_video_extension(url: &str) -> bool {
    let path = url
        .split(['?', '#'])
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    [".mp4", ".m4v", ".mov", ".webm", ".mkv", ".avi"]
        .iter()
        .any(|ext| path.ends_with(ext))
}

fn is_short_link(url: &str) -> bool {
    identity::youtube_video_id(url).is_some() && url.contains("/shorts/")
}

fn title_of(entry: &Entry) -> String {
    entry
        .title
        .as_ref()
        .map(|t| t.content.trim().to_owned())
        .unwrap_or_default()
}

fn describe(entry: &Entry) -> String {
    let title = title_of(entry);
    if title.is_empty() {
        // Ids are often URLs, which may carry a token.
        format!("entry {:?}", super::fetch::display_url(&entry.id))
    } else {
        format!("entry {title:?}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_counted_without_parsing() {
        let rss = b"<rss><channel><item><title>a</title></item><item>b</item>\
                    <itemize/><items>x</items></channel></rss>";
        assert_eq!(count_entries(rss), 2);
        let atom = b"<feed><entry>a</entry>\n<entry xml:lang=\"en\">b</entry><entryway/></feed>";
        assert_eq!(count_entries(atom), 2);
        let prefixed =
            b"<atom:feed><atom:entry>a</atom:entry><atom:entry/><x:entryway/></atom:feed>";
        assert_eq!(count_entries(prefixed), 2);
        let json = br#"{"items": [{"id": "1", "url": "x"}, {"id": "2"}], "idx": 1}"#;
        assert_eq!(count_entries(json), 2);
        assert_eq!(count_entries(b""), 0);
        assert_eq!(count_entries(b"<item"), 1);
    }

    fn read(text: &str, kind: Kind, now: DateTime<Utc>) -> (Vec<Candidate>, Vec<String>) {
        let parsed = parse(
            text.as_bytes(),
            None,
            "https://feed.example/feed",
            kind,
            now,
            &|_| None,
        )
        .expect("fixture parses");
        (parsed.candidates, parsed.ignored)
    }

    fn now() -> DateTime<Utc> {
        "2024-06-01T00:00:00Z".parse().unwrap()
    }

    const YOUTUBE: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<feed xmlns:yt="http://www.youtube.com/xml/schemas/2015" xmlns:media="http://search.yahoo.com/mrss/" xmlns="http://www.w3.org/2005/Atom">
 <title>Chan</title>
 <entry>
  <id>yt:video:AAAAAAAAAA1</id>
  <yt:videoId>AAAAAAAAAA1</yt:videoId>
  <title>Long talk</title>
  <link rel="alternate" href="https://www.youtube.com/watch?v=AAAAAAAAAA1"/>
  <published>2024-05-01T10:00:00+00:00</published>
  <media:group><media:community><media:statistics views="1200"/></media:community></media:group>
 </entry>
 <entry>
  <id>yt:video:AAAAAAAAAA2</id>
  <yt:videoId>AAAAAAAAAA2</yt:videoId>
  <title>A short</title>
  <link rel="alternate" href="https://www.youtube.com/shorts/AAAAAAAAAA2"/>
  <published>2024-05-02T10:00:00+00:00</published>
 </entry>
 <entry>
  <id>yt:video:AAAAAAAAAA3</id>
  <title>Premiere</title>
  <link rel="alternate" href="https://www.youtube.com/watch?v=AAAAAAAAAA3"/>
  <published>2024-05-03T10:00:00+00:00</published>
  <media:group><media:community><media:statistics views="0"/></media:community></media:group>
 </entry>
</feed>"#;

    #[test]
    fn youtube_entries_are_keyed_by_video_id() {
        let (found, ignored) = read(YOUTUBE, Kind::Youtube, now());
        assert!(ignored.is_empty());
        let keys: Vec<&str> = found.iter().map(|c| c.key.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "youtube:AAAAAAAAAA1",
                "youtube:AAAAAAAAAA2",
                "youtube:AAAAAAAAAA3"
            ]
        );
        assert_eq!(
            found[0].key.submit_url,
            "https://www.youtube.com/watch?v=AAAAAAAAAA1"
        );
        assert_eq!(found[0].title, "Long talk");
        assert_eq!(
            found[0].published,
            Some("2024-05-01T10:00:00Z".parse().unwrap())
        );
        assert_eq!((found[0].short, found[0].upcoming), (false, false));
        assert!(found[1].short);
        assert!(found[2].upcoming, "zero views is an upcoming premiere");
    }

    #[test]
    fn a_future_date_is_upcoming() {
        let (found, _) = read(
            YOUTUBE,
            Kind::Youtube,
            "2024-05-01T09:00:00Z".parse().unwrap(),
        );
        assert!(found[0].upcoming);
    }

    const PODCAST: &str = r#"<?xml version="1.0"?>
<rss version="2.0" xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd">
<channel><title>Pod</title>
 <item><title>Both</title><link>https://example.com/ep2?utm_source=rss</link>
  <enclosure url="https://cdn.example.com/ep2.mp3" type="audio/mpeg" length="1"/>
  <pubDate>Tue, 02 Jan 2024 10:00:00 GMT</pubDate></item>
 <item><title>Video</title><link>https://example.com/ep1</link>
  <enclosure url="https://cdn.example.com/ep1.mp4" type="video/mp4" length="1"/>
  <pubDate>Mon, 01 Jan 2024 10:00:00 GMT</pubDate></item>
 <item><title>Nothing</title><description>no link</description></item>
</channel></rss>"#;

    #[test]
    fn enclosures_prefer_video_and_explain_audio() {
        let (found, ignored) = read(PODCAST, Kind::Other(EntryUse::Enclosure), now());
        assert_eq!(ignored, ["entry \"Nothing\""]);
        assert_eq!(found[0].key.key, "url:https://cdn.example.com/ep2.mp3");
        assert_eq!(
            found[0].unusable.as_deref(),
            Some("no video enclosure (audio/mpeg)")
        );
        assert_eq!(found[1].key.key, "url:https://cdn.example.com/ep1.mp4");
        assert_eq!(found[1].unusable, None);
    }

    #[test]
    fn links_are_normalized_and_used_by_default() {
        let (found, _) = read(PODCAST, Kind::Other(EntryUse::Link), now());
        assert_eq!(found[0].key.key, "url:https://example.com/ep2");
        assert_eq!(found[1].key.key, "url:https://example.com/ep1");
    }

    #[test]
    fn json_feed_attachments_are_enclosures() {
        let json = r#"{"version":"https://jsonfeed.org/version/1.1","title":"J","items":[
            {"id":"1","url":"https://example.com/p/1","title":"One",
             "attachments":[{"url":"https://cdn.example.com/1.m4a","mime_type":"audio/x-m4a"},
                            {"url":"https://cdn.example.com/1.mp4","mime_type":"video/mp4"}]}]}"#;
        let (found, _) = read(json, Kind::Other(EntryUse::Enclosure), now());
        assert_eq!(found[0].key.key, "url:https://cdn.example.com/1.mp4");
        let (found, _) = read(json, Kind::Other(EntryUse::Link), now());
        assert_eq!(found[0].key.key, "url:https://example.com/p/1");
    }

    #[test]
    fn entries_are_counted_after_decoding() {
        let item = "<item><link>https://e.com/x</link></item>";
        let text = format!(
            "<rss><channel>{}</channel></rss>",
            item.repeat(MAX_ENTRIES + 1)
        );
        let mut utf16 = vec![0xFF, 0xFE];
        for unit in text.encode_utf16() {
            utf16.extend_from_slice(&unit.to_le_bytes());
        }
        assert_eq!(count_entries(&utf16), 0, "invisible in the raw bytes");
        let err = parse(
            &utf16,
            None,
            "https://f.example/",
            Kind::Other(EntryUse::Link),
            now(),
            &|_| None,
        )
        .unwrap_err();
        assert!(err.contains("more than 10000 entries"), "{err}");
    }

    #[test]
    fn untyped_enclosures_are_judged_by_extension() {
        assert!(has_video_extension("https://x/a.MP4?sig=1"));
        assert!(!has_video_extension("https://x/a.mp3"));
    }
}
