//! From a parsed feed to videos: each entry becomes a [`Candidate`] with a
//! canonical key. YouTube entries are keyed by `yt:videoId` (or their link);
//! other feeds by their link or enclosure (`use`), preferring `video/*`
//! enclosures. Pure: no I/O, no clock.

use chrono::{DateTime, Utc};
use feed_rs::model::{Entry, Feed};

use crate::config::EntryUse;
use crate::sources::identity::{self, SourceKey};

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
}

/// Entries mapped to candidates, and descriptions of entries that name no
/// URL at all (they cannot be recorded, only logged).
pub fn candidates(feed: &Feed, kind: Kind, now: DateTime<Utc>) -> (Vec<Candidate>, Vec<String>) {
    let mut found = Vec::new();
    let mut ignored = Vec::new();
    for entry in &feed.entries {
        match candidate(entry, kind, now) {
            Some(c) => found.push(c),
            None => ignored.push(describe(entry)),
        }
    }
    (found, ignored)
}

fn candidate(entry: &Entry, kind: Kind, now: DateTime<Utc>) -> Option<Candidate> {
    let (key, unusable) = match kind {
        Kind::Youtube => (youtube_key(entry)?, None),
        Kind::Other(EntryUse::Link) => match page_link(entry).and_then(key_of) {
            Some(key) => (key, None),
            None => enclosure_choice(entry)?,
        },
        Kind::Other(EntryUse::Enclosure) => enclosure_choice(entry)?,
    };
    let views = entry
        .media
        .iter()
        .find_map(|m| m.community.as_ref().and_then(|c| c.stats_views));
    let published = entry.published.or(entry.updated);
    Some(Candidate {
        title: title_of(entry),
        short: entry.links.iter().any(|l| is_short_link(&l.href)),
        upcoming: views == Some(0) || published.is_some_and(|p| p > now),
        published,
        key,
        unusable,
    })
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

/// The entry's page: its first link that is not an enclosure.
fn page_link(entry: &Entry) -> Option<&str> {
    entry
        .links
        .iter()
        .find(|l| {
            matches!(l.rel.as_deref(), None | Some("alternate"))
                && !l.media_type.as_deref().is_some_and(is_media_type)
        })
        .map(|l| l.href.as_str())
}

/// The video enclosure's key; or, when there is only audio (or other
/// media), that enclosure's key with the reason it cannot be used.
fn enclosure_choice(entry: &Entry) -> Option<(SourceKey, Option<String>)> {
    let all = enclosures(entry);
    let video = all.iter().find(|(url, mime)| match mime {
        Some(mime) => mime.starts_with("video/"),
        None => has_video_extension(url),
    });
    if let Some((url, _)) = video {
        return key_of(url).map(|k| (k, None));
    }
    let (url, mime) = all.first()?;
    let what = mime.clone().unwrap_or_else(|| "unknown type".into());
    key_of(url).map(|k| (k, Some(format!("no video enclosure ({what})"))))
}

/// `(url, media type)` of every enclosure: RSS `<enclosure>` and
/// `media:content`, Atom `rel="enclosure"` links, JSON Feed attachments.
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
    media.chain(links).collect()
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
        format!("entry {:?}", entry.id)
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

    fn parse(text: &str) -> Feed {
        feed_rs::parser::parse(text.as_bytes()).expect("fixture parses")
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
        let (found, ignored) = candidates(&parse(YOUTUBE), Kind::Youtube, now());
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
        let (found, _) = candidates(
            &parse(YOUTUBE),
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
        let (found, ignored) = candidates(&parse(PODCAST), Kind::Other(EntryUse::Enclosure), now());
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
        let (found, _) = candidates(&parse(PODCAST), Kind::Other(EntryUse::Link), now());
        assert_eq!(found[0].key.key, "url:https://example.com/ep2");
        assert_eq!(found[1].key.key, "url:https://example.com/ep1");
    }

    #[test]
    fn json_feed_attachments_are_enclosures() {
        let json = r#"{"version":"https://jsonfeed.org/version/1.1","title":"J","items":[
            {"id":"1","url":"https://example.com/p/1","title":"One",
             "attachments":[{"url":"https://cdn.example.com/1.m4a","mime_type":"audio/x-m4a"},
                            {"url":"https://cdn.example.com/1.mp4","mime_type":"video/mp4"}]}]}"#;
        let (found, _) = candidates(&parse(json), Kind::Other(EntryUse::Enclosure), now());
        assert_eq!(found[0].key.key, "url:https://cdn.example.com/1.mp4");
        let (found, _) = candidates(&parse(json), Kind::Other(EntryUse::Link), now());
        assert_eq!(found[0].key.key, "url:https://example.com/p/1");
    }

    #[test]
    fn untyped_enclosures_are_judged_by_extension() {
        assert!(has_video_extension("https://x/a.MP4?sig=1"));
        assert!(!has_video_extension("https://x/a.mp3"));
    }
}
