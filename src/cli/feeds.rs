//! How the reply of `clipwatch feeds` reads: a table of each feed's health,
//! or the documented JSON (`--json`).

use std::fmt::Write as _;

use super::view::table;
use super::Out;
use crate::commands::FeedView;
use crate::util::shorten;

pub fn list(views: &[FeedView], json: bool, out: &mut Out) -> anyhow::Result<u8> {
    if json {
        writeln!(out.stdout, "{}", serde_json::to_string_pretty(views)?)?;
        return Ok(0);
    }
    if views.is_empty() {
        writeln!(out.stdout, "no feeds configured")?;
        return Ok(0);
    }
    let dash = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
    let rows: Vec<Vec<String>> = views
        .iter()
        .map(|v| {
            let error = match (&v.last_error, v.consecutive_failures) {
                (Some(e), n) if n > 0 => format!("{n}× {}", shorten(e, 70)),
                (Some(e), _) => format!("(recovered) {}", shorten(e, 60)),
                (None, _) => "-".into(),
            };
            let mut notes = Vec::new();
            if v.fallback.is_some() {
                notes.push("UULF failing: reading the channel feed".to_owned());
            }
            if v.ignored_count > 0 {
                notes.push(format!("{} entries ignored", v.ignored_count));
            }
            if v.notes_count > 0 {
                notes.push(format!("{} notes", v.notes_count));
            }
            vec![
                v.name.clone(),
                shorten(&v.source, 40),
                dash(&v.last_check),
                dash(&v.last_new_entry),
                dash(&v.next_check),
                error,
                if notes.is_empty() {
                    "-".into()
                } else {
                    notes.join(", ")
                },
            ]
        })
        .collect();
    write!(
        out.stdout,
        "{}",
        table(
            &[
                "FEED",
                "SOURCE",
                "LAST CHECK",
                "LAST NEW",
                "NEXT CHECK",
                "LAST ERROR",
                "NOTES"
            ],
            &rows
        )
    )?;
    Ok(0)
}
