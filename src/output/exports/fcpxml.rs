//! `markers.xml`: Final Cut Pro XML (FCPXML 1.10) with one marker per clip
//! on the source video, for Final Cut Pro and DaVinci Resolve.
//!
//! The document holds one asset (the long video) and, in an event named
//! after it, one asset-clip of the whole asset carrying the markers in time
//! order: each starts where its clip does and lasts as long, is named
//! `#rank title` and notes the score and the times. Times are rational
//! seconds on a [`FPS`] frame grid (`frameDuration="100/3000s"`). The
//! asset's media is `media_name` next to this file (a relative URL); the
//! API does not say the video's length, so the asset is declared as long as
//! the last clip's end, and an editor relinks it to their copy.
//!
//! The structure follows the FCPXML 1.10 DTD: `fcpxml (resources, event)`,
//! `resources (format, asset)`, `asset (media-rep)`, `event (asset-clip)`,
//! `asset-clip (marker*)`, every required attribute present.

use quick_xml::escape::escape;

use super::{frames, one_line, score_text, ExportClip, Input, FPS};
use crate::output::sidecar::timestamp;

pub const VERSION: &str = "1.10";

pub fn render(input: &Input) -> String {
    let markers = markers(&input.clips);
    let length = markers
        .iter()
        .map(|(_, _, end)| *end)
        .max()
        .unwrap_or(0)
        .max(1);
    let title = escape(one_line(&input.title)).into_owned();
    let mut out = String::new();
    out.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!DOCTYPE fcpxml>\n");
    out.push_str(&format!("<fcpxml version=\"{VERSION}\">\n  <resources>\n"));
    out.push_str(&format!(
        "    <format id=\"r1\" name=\"FFVideoFormat1080p{FPS}\" frameDuration=\"{}\" \
         width=\"1920\" height=\"1080\"/>\n",
        time(1)
    ));
    out.push_str(&format!(
        "    <asset id=\"r2\" name=\"{title}\" start=\"0s\" duration=\"{}\" hasVideo=\"1\" \
         hasAudio=\"1\" format=\"r1\">\n      <media-rep kind=\"original-media\" src=\"{}\"/>\n    </asset>\n",
        time(length),
        escape(relative_url(&input.media_name)),
    ));
    out.push_str("  </resources>\n");
    out.push_str(&format!("  <event name=\"{title}\">\n"));
    out.push_str(&format!(
        "    <asset-clip ref=\"r2\" name=\"{title}\" start=\"0s\" duration=\"{}\" format=\"r1\" \
         tcFormat=\"NDF\">\n",
        time(length)
    ));
    for (clip, start, end) in &markers {
        out.push_str(&format!(
            "      <marker start=\"{}\" duration=\"{}\" value=\"{}\" note=\"{}\"/>\n",
            time(*start),
            time(end - start),
            escape(format!("#{} {}", clip.rank, clip.label())),
            escape(note(clip)),
        ));
    }
    out.push_str("    </asset-clip>\n  </event>\n</fcpxml>\n");
    out
}

/// (clip, start, end) in frames, in time order; clips without a span of at
/// least a frame have no marker.
fn markers(clips: &[ExportClip]) -> Vec<(&ExportClip, u64, u64)> {
    let mut markers: Vec<_> = clips
        .iter()
        .filter_map(|clip| {
            let (begin, end) = clip.span()?;
            let (start, end) = (frames(begin), frames(end));
            (end > start).then_some((clip, start, end))
        })
        .collect();
    markers.sort_by_key(|(clip, start, _)| (*start, clip.rank));
    markers
}

fn note(clip: &ExportClip) -> String {
    let mut parts = Vec::new();
    let score = score_text(&clip.score);
    if !score.is_empty() {
        parts.push(format!("score {score}"));
    }
    if let Some((begin, end)) = clip.span() {
        parts.push(format!("{} to {}", timestamp(begin), timestamp(end)));
    }
    if let Some(file) = &clip.file {
        parts.push(one_line(file));
    }
    parts.join(", ")
}

/// A frame count as FCPXML rational seconds on the [`FPS`] grid.
fn time(frames: u64) -> String {
    if frames == 0 {
        "0s".to_string()
    } else {
        format!("{}/{}s", frames * 100, FPS * 100)
    }
}

/// `name` as a relative URL: every byte but the unreserved ones
/// percent-encoded, so spaces, `#` and `?` stay part of the name.
fn relative_url(name: &str) -> String {
    name.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::tests::{clip, input};
    use super::*;
    use quick_xml::events::{BytesStart, Event};
    use quick_xml::Reader;

    /// (element path, attributes) of every element, in document order.
    fn elements(xml: &str) -> Vec<(String, Vec<(String, String)>)> {
        let mut reader = Reader::from_str(xml);
        let mut path: Vec<String> = Vec::new();
        let mut found = Vec::new();
        loop {
            match reader.read_event().expect("well-formed") {
                Event::Start(e) => {
                    path.push(name(&e));
                    found.push((path.join("/"), attributes(&e)));
                }
                Event::Empty(e) => {
                    found.push((format!("{}/{}", path.join("/"), name(&e)), attributes(&e)));
                }
                Event::End(_) => {
                    path.pop();
                }
                Event::Eof => break,
                _ => {}
            }
        }
        found
    }

    fn name(e: &BytesStart) -> String {
        String::from_utf8(e.name().as_ref().to_vec()).unwrap()
    }

    fn attributes(e: &BytesStart) -> Vec<(String, String)> {
        e.attributes()
            .map(|a| {
                let a = a.unwrap();
                let key = String::from_utf8(a.key.as_ref().to_vec()).unwrap();
                (
                    key,
                    a.normalized_value(quick_xml::XmlVersion::Implicit1_0)
                        .unwrap()
                        .into_owned(),
                )
            })
            .collect()
    }

    fn attr<'a>(attrs: &'a [(String, String)], key: &str) -> &'a str {
        &attrs.iter().find(|(k, _)| k == key).expect(key).1
    }

    #[test]
    fn markers_on_the_source_asset_in_time_order() {
        let xml = render(&input(vec![
            clip(1, "Best <one> & \"only\"", 125_000, 185_500, 90),
            clip(2, "Earlier", 15_000, 75_000, 81),
        ]));
        let elements = elements(&xml);
        let paths: Vec<&str> = elements.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(
            paths,
            [
                "fcpxml",
                "fcpxml/resources",
                "fcpxml/resources/format",
                "fcpxml/resources/asset",
                "fcpxml/resources/asset/media-rep",
                "fcpxml/event",
                "fcpxml/event/asset-clip",
                "fcpxml/event/asset-clip/marker",
                "fcpxml/event/asset-clip/marker",
            ]
        );
        assert_eq!(attr(&elements[0].1, "version"), "1.10");
        assert_eq!(attr(&elements[3].1, "duration"), "556500/3000s");
        assert_eq!(attr(&elements[4].1, "src"), "Episode%2012%20pricing.mp4");
        let first = &elements[7].1;
        assert_eq!(attr(first, "start"), "45000/3000s");
        assert_eq!(attr(first, "duration"), "180000/3000s");
        assert_eq!(attr(first, "value"), "#2 Earlier");
        let second = &elements[8].1;
        assert_eq!(attr(second, "value"), "#1 Best <one> & \"only\"");
        assert_eq!(
            attr(second, "note"),
            "score 90, 00:02:05.000 to 00:03:05.500, 01 Best <one> & \"only\".mp4"
        );
    }

    #[test]
    fn no_clips_still_a_valid_document() {
        let xml = render(&input(vec![]));
        let elements = elements(&xml);
        assert_eq!(elements.len(), 7);
        assert_eq!(attr(&elements[6].1, "duration"), "100/3000s");
    }

    #[test]
    fn times_are_on_the_frame_grid() {
        assert_eq!(time(0), "0s");
        assert_eq!(time(1), "100/3000s");
        assert_eq!(time(45), "4500/3000s");
        assert_eq!(relative_url("a b#?.mp4"), "a%20b%23%3F.mp4");
    }
}
