//! `clips.csv`: one row per clip in rank order, for a spreadsheet.
//!
//! RFC 4180: a header row, CRLF after every row, and a field holding a
//! comma, a double quote, CR or LF is quoted with its quotes doubled.
//! Times are `HH:MM:SS.mmm` (as in the sidecars), empty when unknown;
//! `file` is the clip's video in the folder, empty when none was rendered
//! (metadata-only presets). Titles are put on one line, without control
//! characters.

use super::{one_line, score_text, ExportClip};
use crate::output::sidecar::timestamp;

const HEADER: [&str; 7] = ["rank", "title", "start", "end", "duration", "score", "file"];

pub fn render(clips: &[ExportClip]) -> String {
    let mut out = row(HEADER.map(String::from));
    for clip in clips {
        let duration = clip.span().map(|(b, e)| timestamp(e - b));
        out.push_str(&row([
            clip.rank.to_string(),
            one_line(&clip.title),
            clip.begin_ms.map(timestamp).unwrap_or_default(),
            clip.end_ms.map(timestamp).unwrap_or_default(),
            duration.unwrap_or_default(),
            score_text(&clip.score),
            clip.file.clone().unwrap_or_default(),
        ]));
    }
    out
}

fn row<const N: usize>(fields: [String; N]) -> String {
    let fields: Vec<String> = fields.iter().map(|f| field(f)).collect();
    format!("{}\r\n", fields.join(","))
}

fn field(value: &str) -> String {
    if value.contains([',', '"', '\r', '\n']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::clip;
    use super::*;

    #[test]
    fn header_and_rows_in_rank_order() {
        let clips = vec![
            clip(1, "Best", 15_000, 75_000, 81),
            clip(2, "Second", 3_600_000, 3_630_500, 70),
        ];
        assert_eq!(
            render(&clips),
            "rank,title,start,end,duration,score,file\r\n\
             1,Best,00:00:15.000,00:01:15.000,00:01:00.000,81,01 Best.mp4\r\n\
             2,Second,01:00:00.000,01:00:30.500,00:00:30.500,70,02 Second.mp4\r\n"
        );
    }

    #[test]
    fn fields_are_quoted_as_rfc_4180_says() {
        assert_eq!(field("plain"), "plain");
        assert_eq!(field("a, b"), "\"a, b\"");
        assert_eq!(field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(field("two\nlines"), "\"two\nlines\"");
        assert_eq!(field("cr\r"), "\"cr\r\"");
    }

    #[test]
    fn unknown_values_are_empty() {
        let clip = ExportClip {
            begin_ms: None,
            score: None,
            file: None,
            ..clip(3, "t", 0, 5_000, 1)
        };
        assert_eq!(
            render(&[clip]).lines().nth(1).unwrap(),
            "3,t,,00:00:05.000,,,"
        );
    }
}
