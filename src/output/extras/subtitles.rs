//! A transcript's segments as subtitles and text. SubRip (`.srt`): numbered
//! cues, `HH:MM:SS,mmm --> HH:MM:SS,mmm`, the speaker before the words.
//! WebVTT (`.vtt`): the `WEBVTT` header, `HH:MM:SS.mmm` times, the speaker
//! as a voice span (`<v Speaker 1>`), text escaped. A cue's text is kept on
//! one line, so no segment can end a cue early or smuggle in a timing line.

use serde_json::Value;

use super::{ms, text_of};
use crate::util::one_line;

/// One spoken segment.
#[derive(Debug, Clone, PartialEq)]
pub struct Segment {
    pub start_ms: u64,
    pub end_ms: u64,
    pub speaker: Option<String>,
    pub text: String,
}

/// The segments of a transcript reply (`transcript[]`; `segments[]` is
/// taken too), in time order; segments without text are dropped, and an
/// end missing or before the start becomes the start.
pub fn segments(data: &Value) -> Vec<Segment> {
    let list = data
        .get("transcript")
        .or_else(|| data.get("segments"))
        .and_then(Value::as_array);
    let mut segments: Vec<Segment> = list
        .into_iter()
        .flatten()
        .filter_map(|item| {
            let text = one_line(&text_of(item.get("text"))?);
            if text.is_empty() {
                return None;
            }
            let start_ms = ms(item.get("start")).unwrap_or(0);
            let end_ms = ms(item.get("end")).unwrap_or(start_ms).max(start_ms);
            let speaker = text_of(item.get("speaker")).map(|s| one_line(&s));
            Some(Segment {
                start_ms,
                end_ms,
                speaker,
                text,
            })
        })
        .collect();
    segments.sort_by_key(|s| s.start_ms);
    segments
}

pub fn srt(segments: &[Segment]) -> String {
    let mut out = String::new();
    for (n, s) in segments.iter().enumerate() {
        let words = match &s.speaker {
            Some(speaker) => format!("{speaker}: {}", s.text),
            None => s.text.clone(),
        };
        out.push_str(&format!(
            "{}\n{} --> {}\n{}\n\n",
            n + 1,
            clock(s.start_ms, ','),
            clock(s.end_ms, ','),
            words.replace("-->", "->")
        ));
    }
    out
}

pub fn vtt(segments: &[Segment]) -> String {
    let mut out = String::from("WEBVTT\n\n");
    for s in segments {
        let words = escape(&s.text);
        let line = match &s.speaker {
            Some(speaker) => format!("<v {}>{words}</v>", escape(speaker).replace('>', "")),
            None => words,
        };
        out.push_str(&format!(
            "{} --> {}\n{}\n\n",
            clock(s.start_ms, '.'),
            clock(s.end_ms, '.'),
            line
        ));
    }
    out
}

/// Plain text: `[HH:MM:SS] Speaker: words`, one segment a line.
pub fn text(segments: &[Segment]) -> String {
    segments
        .iter()
        .map(|s| {
            let at = &clock(s.start_ms, '.')[..8];
            match &s.speaker {
                Some(speaker) => format!("[{at}] {speaker}: {}\n", s.text),
                None => format!("[{at}] {}\n", s.text),
            }
        })
        .collect()
}

/// `HH:MM:SS<sep>mmm`.
fn clock(ms: u64, sep: char) -> String {
    let (h, m, s, milli) = (ms / 3_600_000, ms / 60_000 % 60, ms / 1000 % 60, ms % 1000);
    format!("{h:02}:{m:02}:{s:02}{sep}{milli:03}")
}

/// WebVTT cue text: `&`, `<` and `>` escaped, `-->` impossible.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sample() -> Vec<Segment> {
        segments(&json!({"transcript": [
            {"speaker": "Speaker 2", "start": "4200", "end": 9100, "text": "Glad\nto be <here> --> & now"},
            {"speaker": "Speaker 1", "start": 0, "end": 4200, "text": "Welcome back."},
            {"start": 9100, "text": "  "},
            {"start": 3_723_004u64, "end": 3_724_000u64, "text": "Late."}
        ]}))
    }

    #[test]
    fn segments_are_sorted_one_line_and_without_blanks() {
        let s = sample();
        assert_eq!(s.len(), 3);
        assert_eq!(s[0].speaker.as_deref(), Some("Speaker 1"));
        assert_eq!(s[1].text, "Glad to be <here> --> & now");
        assert_eq!(s[2].speaker, None);
    }

    #[test]
    fn srt_and_vtt_cues() {
        let srt = srt(&sample());
        assert!(
            srt.starts_with("1\n00:00:00,000 --> 00:00:04,200\nSpeaker 1: Welcome back.\n\n2\n")
        );
        assert!(srt.contains("01:02:03,004 --> 01:02:04,000\nLate.\n"));
        assert_eq!(
            srt.matches("-->").count(),
            3,
            "text cannot add a timing arrow"
        );
        let vtt = vtt(&sample());
        assert!(vtt.starts_with(
            "WEBVTT\n\n00:00:00.000 --> 00:00:04.200\n<v Speaker 1>Welcome back.</v>\n"
        ));
        assert!(vtt.contains("<v Speaker 2>Glad to be &lt;here&gt; --&gt; &amp; now</v>"));
    }

    #[test]
    fn text_lines() {
        assert_eq!(
            text(&sample()).lines().next(),
            Some("[00:00:00] Speaker 1: Welcome back.")
        );
    }
}
