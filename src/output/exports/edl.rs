//! `clips.edl`: a CMX 3600 edit decision list with one event per clip, so
//! that an NLE (Resolve, Premiere, Avid) cuts the long video into a
//! sequence of its best moments.
//!
//! - Timecodes are [`FPS`] frames per second, non-drop frame (`FCM:
//!   NON-DROP FRAME`); the source timecode is the clip's time in the video
//!   (starting at 00:00:00:00), rounded to the nearest frame.
//! - Events are in time order, each cut (`C`) from reel `AX` (an auxiliary
//!   source, which NLEs match by the `* FROM CLIP NAME:` comment that
//!   follows) on video and stereo audio (`AA/V`). The record timecode
//!   starts at 01:00:00:00 and runs on without gaps.
//! - A `* COMMENT:` names the clip's rank, title and score. Clips without
//!   times, or shorter than a frame, have no event; CMX 3600 numbers events
//!   up to 999, so any beyond are left out.

use super::{frames, one_line, score_text, ExportClip, Input, FPS};

const REEL: &str = "AX";
const CHANNELS: &str = "AA/V";
/// Where the record side starts: one hour, as broadcast timelines do.
const RECORD_START_FRAMES: u64 = 3600 * FPS;
const MAX_EVENTS: usize = 999;
const MAX_TITLE_CHARS: usize = 70;

pub fn render(input: &Input) -> String {
    let title: String = one_line(&input.title)
        .chars()
        .take(MAX_TITLE_CHARS)
        .collect();
    let mut out = format!("TITLE: {title}\r\nFCM: NON-DROP FRAME\r\n");
    let source = one_line(&input.media_name);
    let mut record = RECORD_START_FRAMES;
    for (number, (clip, src_in, src_out)) in events(&input.clips).into_iter().enumerate() {
        let rec_out = record + (src_out - src_in);
        out.push_str(&format!(
            "\r\n{:03}  {REEL:<8} {CHANNELS:<5} {:<8} {} {} {} {}\r\n",
            number + 1,
            "C",
            timecode(src_in),
            timecode(src_out),
            timecode(record),
            timecode(rec_out),
        ));
        out.push_str(&format!("* FROM CLIP NAME: {source}\r\n"));
        out.push_str(&format!("* COMMENT: {}\r\n", comment(clip)));
        record = rec_out;
    }
    out
}

/// (clip, source in, source out) in frames, in time order.
fn events(clips: &[ExportClip]) -> Vec<(&ExportClip, u64, u64)> {
    let mut events: Vec<_> = clips
        .iter()
        .filter_map(|clip| {
            let (begin, end) = clip.span()?;
            let (src_in, src_out) = (frames(begin), frames(end));
            (src_out > src_in).then_some((clip, src_in, src_out))
        })
        .collect();
    events.sort_by_key(|(clip, src_in, _)| (*src_in, clip.rank));
    events.truncate(MAX_EVENTS);
    events
}

fn comment(clip: &ExportClip) -> String {
    let score = score_text(&clip.score);
    let score = if score.is_empty() {
        String::new()
    } else {
        format!(" (score {score})")
    };
    format!("#{} {}{score}", clip.rank, clip.label())
}

/// HH:MM:SS:FF for a frame count.
fn timecode(frames: u64) -> String {
    let (seconds, frame) = (frames / FPS, frames % FPS);
    format!(
        "{:02}:{:02}:{:02}:{frame:02}",
        seconds / 3600,
        seconds % 3600 / 60,
        seconds % 60
    )
}

#[cfg(test)]
mod tests {
    use super::super::tests::{clip, input};
    use super::*;

    #[test]
    fn one_event_per_clip_in_time_order_with_consecutive_record() {
        let edl = render(&input(vec![
            clip(1, "Best", 125_000, 185_500, 90),
            clip(2, "Earlier", 15_000, 75_000, 81),
        ]));
        assert_eq!(
            edl,
            "TITLE: Episode 12: pricing\r\n\
             FCM: NON-DROP FRAME\r\n\
             \r\n\
             001  AX       AA/V  C        00:00:15:00 00:01:15:00 01:00:00:00 01:01:00:00\r\n\
             * FROM CLIP NAME: Episode 12 pricing.mp4\r\n\
             * COMMENT: #2 Earlier (score 81)\r\n\
             \r\n\
             002  AX       AA/V  C        00:02:05:00 00:03:05:15 01:01:00:00 01:02:00:15\r\n\
             * FROM CLIP NAME: Episode 12 pricing.mp4\r\n\
             * COMMENT: #1 Best (score 90)\r\n"
        );
    }

    #[test]
    fn timecodes() {
        assert_eq!(timecode(0), "00:00:00:00");
        assert_eq!(timecode(29), "00:00:00:29");
        assert_eq!(timecode(30 * 3723 + 4), "01:02:03:04");
    }

    #[test]
    fn clips_without_a_span_have_no_event() {
        let untimed = ExportClip {
            end_ms: None,
            ..clip(1, "a", 0, 1, 1)
        };
        let instant = clip(2, "b", 10_000, 10_010, 1);
        let edl = render(&input(vec![untimed, instant]));
        assert!(!edl.contains("001 "), "{edl}");
    }

    #[test]
    fn no_more_than_999_events() {
        let clips = (0..1005)
            .map(|i| clip(i + 1, "c", i * 2000, i * 2000 + 1000, 1))
            .collect();
        let edl = render(&input(clips));
        assert!(edl.contains("\r\n999  AX"));
        assert_eq!(edl.matches("* FROM CLIP NAME").count(), 999);
    }
}
