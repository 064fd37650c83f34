//! `chapters.txt`: chapters in the form YouTube reads from a video's
//! description, one `MM:SS Title` line each (`H:MM:SS` from an hour on).
//!
//! YouTube shows chapters only when the first starts at 0:00, they are in
//! ascending order, there are at least three and each lasts 10 s or more;
//! one broken rule and it ignores the whole list. So:
//! - starts are whole seconds; of two points less than 10 s apart (clips
//!   that overlap or nearly touch) the better one (lower priority number:
//!   the better rank) is kept and the other dropped;
//! - the first chapter is moved to 0:00 when it starts within the first
//!   10 s, otherwise an "Intro" chapter at 0:00 is put before it;
//! - fewer than three chapters are still written (the lines stay clickable
//!   timestamps in a description; YouTube only draws no chapter bar), and
//!   with no point at all the file is empty;
//! - the last chapter runs to the end of the video, which is at least as
//!   long as the clip it starts with.
//!
//! The points come from the summary's highlights when the job has a
//! summary with highlights (`output::extras::chapter_points`), else from
//! the clips.

use super::{one_line, ExportClip};

/// Shortest chapter YouTube accepts, in seconds.
const MIN_CHAPTER_SECS: u64 = 10;
/// Title of the chapter put at 0:00 when no point is near the start.
const OPENING_TITLE: &str = "Intro";

/// A moment a chapter may start at.
#[derive(Debug, Clone, PartialEq)]
pub struct ChapterPoint {
    pub start_ms: u64,
    pub title: String,
    /// Which point wins when two are too close: the lower number.
    pub priority: u64,
}

/// One point per clip with a start time, titled and ranked as the clip.
pub fn from_clips(clips: &[ExportClip]) -> Vec<ChapterPoint> {
    clips
        .iter()
        .filter_map(|clip| {
            Some(ChapterPoint {
                start_ms: clip.begin_ms?,
                title: clip.label(),
                priority: clip.rank,
            })
        })
        .collect()
}

/// The chapters for `points`, as `chapters.txt` holds them.
pub fn render(points: &[ChapterPoint]) -> String {
    chapters(points)
        .iter()
        .map(|(secs, title)| format!("{} {title}\n", timestamp(*secs)))
        .collect()
}

/// (start in seconds, title) of each chapter, in order, by the rules above.
fn chapters(points: &[ChapterPoint]) -> Vec<(u64, String)> {
    let mut by_priority: Vec<&ChapterPoint> = points.iter().collect();
    by_priority.sort_by_key(|p| (p.priority, p.start_ms));
    let mut kept: Vec<(u64, String)> = Vec::new();
    for point in by_priority {
        let secs = point.start_ms / 1000;
        if kept
            .iter()
            .all(|(s, _)| s.abs_diff(secs) >= MIN_CHAPTER_SECS)
        {
            let title = one_line(&point.title);
            kept.push((secs, title));
        }
    }
    kept.sort_by_key(|(secs, _)| *secs);
    match kept.first_mut() {
        None => {}
        Some((secs, _)) if *secs < MIN_CHAPTER_SECS => *secs = 0,
        Some(_) => kept.insert(0, (0, OPENING_TITLE.to_string())),
    }
    kept
}

/// "04:05" below an hour, "1:02:03" from one on.
fn timestamp(secs: u64) -> String {
    let (hours, minutes, seconds) = (secs / 3600, secs % 3600 / 60, secs % 60);
    if hours > 0 {
        format!("{hours}:{minutes:02}:{seconds:02}")
    } else {
        format!("{minutes:02}:{seconds:02}")
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::clip;
    use super::*;

    fn text(clips: Vec<ExportClip>) -> String {
        render(&from_clips(&clips))
    }

    #[test]
    fn clips_in_time_order_with_an_intro_at_zero() {
        let clips = vec![
            clip(1, "The pricing tiers", 125_000, 190_000, 90),
            clip(2, "Why we started", 30_500, 80_000, 85),
            clip(3, "Q&A", 3_700_000, 3_760_000, 70),
        ];
        assert_eq!(
            text(clips),
            "00:00 Intro\n00:30 Why we started\n02:05 The pricing tiers\n1:01:40 Q&A\n"
        );
    }

    #[test]
    fn a_clip_near_the_start_becomes_the_first_chapter() {
        let clips = vec![
            clip(2, "Cold open", 4_000, 40_000, 80),
            clip(1, "Main point", 60_000, 90_000, 90),
        ];
        assert_eq!(text(clips), "00:00 Cold open\n01:00 Main point\n");
    }

    #[test]
    fn of_two_clips_too_close_the_better_ranked_stays() {
        let clips = vec![
            clip(3, "Later, worse", 65_000, 95_000, 60),
            clip(1, "Best", 60_000, 120_000, 95),
            clip(2, "Overlapping but far enough", 75_000, 130_000, 80),
        ];
        let chapters = chapters(&from_clips(&clips));
        let starts: Vec<u64> = chapters.iter().map(|(s, _)| *s).collect();
        assert_eq!(starts, [0, 60, 75]);
        assert_eq!(chapters[1].1, "Best");
        for pair in starts.windows(2) {
            assert!(pair[1] - pair[0] >= MIN_CHAPTER_SECS);
        }
    }

    #[test]
    fn identical_starts_keep_one() {
        let clips = vec![
            clip(2, "b", 20_000, 50_000, 1),
            clip(1, "a", 20_000, 40_000, 2),
        ];
        assert_eq!(text(clips), "00:00 Intro\n00:20 a\n");
    }

    #[test]
    fn no_clips_no_chapters_and_clips_without_times_are_skipped() {
        assert_eq!(text(vec![]), "");
        let untimed = ExportClip {
            begin_ms: None,
            ..clip(1, "x", 0, 0, 1)
        };
        assert_eq!(text(vec![untimed]), "");
    }

    #[test]
    fn titles_are_one_line_and_untitled_clips_are_named() {
        let clips = vec![
            clip(1, "two\nlines", 0, 20_000, 1),
            clip(2, "", 30_000, 60_000, 1),
        ];
        assert_eq!(text(clips), "00:00 two lines\n00:30 Clip 2\n");
    }

    #[test]
    fn hours_switch_the_format() {
        assert_eq!(timestamp(0), "00:00");
        assert_eq!(timestamp(59 * 60 + 59), "59:59");
        assert_eq!(timestamp(3600), "1:00:00");
        assert_eq!(timestamp(36_000 + 61), "10:01:01");
    }
}
