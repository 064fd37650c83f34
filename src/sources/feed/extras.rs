//! What feed-rs does not keep of an XML entry's media, read in a second pass
//! over the (UTF-8) body: RDF/RSS 1.0 `enc:enclosure` (feed-rs reads no
//! media in RSS 1.0 items), and MRSS `media:content medium="video"` and
//! `media:player` (feed-rs drops `medium` and reads a player URL as if it
//! were the file). One [`Extras`] per `item`/`entry`, in document order.

use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;

/// Media of one entry that feed-rs does not report.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Extras {
    /// `enc:enclosure rdf:resource=… enc:type=…`.
    pub rdf_enclosures: Vec<(String, Option<String>)>,
    /// URLs that MRSS marks as video: `media:content medium="video"` (its
    /// `url`, else its `media:player`) and a lone `media:player`.
    pub videos: Vec<String>,
}

/// Extras for each entry of an XML feed; empty for a body that is not
/// well-formed enough to read (feed-rs reports that).
pub fn scan(text: &str) -> Vec<Extras> {
    let mut reader = Reader::from_str(text);
    let mut out = Vec::new();
    // The entry being read, and how deep inside it we are.
    let mut current: Option<(Extras, usize)> = None;
    loop {
        let event = match reader.read_event() {
            Ok(Event::Eof) | Err(_) => break,
            Ok(event) => event,
        };
        match event {
            Event::Start(e) => {
                let name = e.local_name();
                let name = name.as_ref();
                if let Some((extras, depth)) = current.as_mut() {
                    *depth += 1;
                    see(&e, name, extras);
                } else if name == b"item" || name == b"entry" {
                    current = Some((Extras::default(), 0));
                }
            }
            Event::Empty(e) => {
                let name = e.local_name();
                let name = name.as_ref();
                if let Some((extras, _)) = current.as_mut() {
                    see(&e, name, extras);
                } else if name == b"item" || name == b"entry" {
                    out.push(Extras::default());
                }
            }
            Event::End(_) => {
                if let Some((_, depth)) = current.as_mut() {
                    if *depth == 0 {
                        out.push(current.take().expect("inside an entry").0);
                    } else {
                        *depth -= 1;
                    }
                }
            }
            _ => {}
        }
    }
    out
}

/// Record what element `e` says about the entry. A `media:content
/// medium="video"` without a `url` names its video by the `media:player`
/// inside, seen next.
fn see(e: &BytesStart, name: &[u8], extras: &mut Extras) {
    let prefixed = e.name().prefix().is_some();
    match name {
        b"enclosure" if prefixed => {
            if let Some(url) = attr(e, "resource") {
                extras.rdf_enclosures.push((url, attr(e, "type")));
            }
        }
        b"content" if attr(e, "medium").as_deref() == Some("video") => {
            if let Some(url) = attr(e, "url") {
                extras.videos.push(url);
            }
        }
        b"player" if prefixed => {
            if let Some(url) = attr(e, "url") {
                extras.videos.push(url);
            }
        }
        _ => {}
    }
}

/// An attribute's value by local name (any prefix).
fn attr(e: &BytesStart, local_name: &str) -> Option<String> {
    e.attributes().flatten().find_map(|a| {
        (a.key.local_name().as_ref() == local_name.as_bytes())
            .then(|| {
                let raw = String::from_utf8_lossy(&a.value).into_owned();
                quick_xml::escape::unescape(&raw)
                    .map(|v| v.trim().to_owned())
                    .unwrap_or_else(|_| raw.trim().to_owned())
            })
            .filter(|v| !v.is_empty())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rdf_enclosures_and_mrss_video_are_found_per_entry() {
        let rdf = r#"<?xml version="1.0"?>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/"
  xmlns:enc="http://purl.oclc.org/net/rss_2.0/enc#" xmlns:media="http://search.yahoo.com/mrss/">
 <channel rdf:about="x"><title>t</title></channel>
 <item rdf:about="a"><title>A</title>
  <enc:enclosure rdf:resource="https://c.example/a.mp4" enc:type="video/mp4" enc:length="1"/></item>
 <item rdf:about="b"><title>B</title>
  <media:content medium="video"><media:player url="https://player.example/b"/></media:content></item>
 <item rdf:about="c"><title>C</title><media:group><media:player url="https://player.example/c"/></media:group></item>
 <item rdf:about="d"/>
</rdf:RDF>"#;
        let got = scan(rdf);
        assert_eq!(got.len(), 4);
        assert_eq!(
            got[0].rdf_enclosures,
            [("https://c.example/a.mp4".into(), Some("video/mp4".into()))]
        );
        assert_eq!(got[1].videos, ["https://player.example/b"]);
        assert_eq!(got[2].videos, ["https://player.example/c"]);
        assert_eq!(got[3], Extras::default());
    }
}
