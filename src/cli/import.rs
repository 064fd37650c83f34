//! `clipwatch feeds import FILE`: add many feeds at once from what other
//! apps export. Formats, told apart by extension, else by content:
//! - OPML (`.opml`, `.xml`, or text starting with `<`): every `outline` with
//!   an `xmlUrl`, at any depth (feed readers and podcast apps nest them in
//!   folders; FreeTube's and YouTube's old export put them in one outline);
//! - YouTube Takeout's `subscriptions.csv` (`.csv`): the columns
//!   `Channel Id,Channel Url,Channel Title`;
//! - NewPipe's subscriptions export (`.json`): `{"subscriptions": [{"url",
//!   "name"}]}`;
//! - anything else: one source per line (what `feeds add` takes), `#`
//!   comments.
//!
//! YouTube feed and channel URLs become `youtube = "UC…"` (so Shorts and the
//! long-form playlist are handled), the rest `url = …`. Sources already
//! configured, or repeated in the file, are skipped. Feeds are not fetched:
//! `clipwatch preview` shows what they would queue.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use clap::Args;
use quick_xml::events::Event;

use super::feeds_edit::{same_source, save, FeedSettings};
use super::EXIT_USAGE;
use crate::config::edit::{classify_source, ConfigFile};
use crate::config::{Config, FeedSource};

#[derive(Debug, Clone, Args)]
pub struct ImportArgs {
    /// An OPML file, a Takeout subscriptions.csv, a NewPipe .json export, or a list of URLs.
    pub file: PathBuf,
    /// Show what would be added; write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Settings for every imported feed (backfill stays 0 unless given).
    #[command(flatten)]
    pub settings: FeedSettings,
}

/// One feed found in the file.
#[derive(Debug, Clone, PartialEq)]
pub struct Found {
    /// The name the file gives it, if any.
    pub title: Option<String>,
    /// The source as written in the file.
    pub source: String,
}

/// Why a file cannot be imported at all.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ImportError {
    #[error("{file} is not XML, so not an OPML file: {reason}")]
    NotXml { file: String, reason: String },
    #[error(
        "{file} has no \"Channel Id\" column (its columns: {found}); YouTube Takeout's \
         subscriptions.csv starts with the line `Channel Id,Channel Url,Channel Title`"
    )]
    CsvColumns { file: String, found: String },
    #[error(
        "{file} is not a NewPipe export: expected {{\"subscriptions\": [{{\"url\": …, \"name\": …}}]}} ({reason})"
    )]
    NotNewPipe { file: String, reason: String },
    #[error("{file} names no feed (OPML outlines with xmlUrl, CSV rows, or URL lines)")]
    Empty { file: String },
}

pub async fn run(config: &Config, args: ImportArgs) -> anyhow::Result<u8> {
    let bytes = match std::fs::read(&args.file) {
        Ok(bytes) => bytes,
        Err(err) => {
            eprintln!("clipwatch: cannot read {}: {err}", args.file.display());
            return Ok(EXIT_USAGE);
        }
    };
    let found = match read_file(&args.file, &bytes) {
        Ok(found) => found,
        Err(err) => {
            eprintln!("clipwatch: {err}");
            return Ok(EXIT_USAGE);
        }
    };
    let mut file = ConfigFile::read(&config.path)?;
    let youtube_host = url::Url::parse(&config.youtube.base_url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned));
    let mut names: HashSet<String> = config.feeds.iter().map(|f| f.name.clone()).collect();
    let mut sources: Vec<FeedSource> = Vec::new();
    let mut rows = Vec::new();
    let (mut added, mut duplicates, mut invalid) = (0, 0, 0);
    for item in found {
        let source = match classify_source(&youtube_form(&item.source), youtube_host.as_deref()) {
            Ok(source) => source,
            Err(why) => {
                invalid += 1;
                rows.push(["invalid".into(), "-".into(), item.source, why]);
                continue;
            }
        };
        let shown = crate::sources::feed::source_label(&source);
        if let Some(existing) = same_source(config, &source) {
            duplicates += 1;
            rows.push([
                "duplicate".into(),
                existing.into(),
                shown,
                "already configured".into(),
            ]);
            continue;
        }
        if sources.contains(&source) {
            duplicates += 1;
            rows.push([
                "duplicate".into(),
                "-".into(),
                shown,
                "listed twice in the file".into(),
            ]);
            continue;
        }
        let name = free_name(&mut names, item.title.as_deref(), &source);
        file.add_feed(args.settings.new_feed(&name, &source));
        sources.push(source);
        added += 1;
        rows.push(["add".into(), name, shown, String::new()]);
    }
    let table = super::view::table(
        &["", "NAME", "SOURCE", "NOTE"],
        &rows.iter().map(|r| r.to_vec()).collect::<Vec<_>>(),
    );
    print!("{}", crate::secret::redact_urls_in(&table));
    println!("{added} to add, {duplicates} duplicate(s) skipped, {invalid} invalid");
    if added == 0 {
        println!("nothing to add; {} unchanged", config.path.display());
        return Ok(0);
    }
    file.check()?;
    if args.dry_run {
        println!("--dry-run: {} unchanged", config.path.display());
        return Ok(0);
    }
    save(config, &file, &format!("added {added} feed(s)")).await
}

/// The feeds in `bytes`, read as the format its name or content says.
pub fn read_file(path: &Path, bytes: &[u8]) -> Result<Vec<Found>, ImportError> {
    let shown = path.display().to_string();
    let text = String::from_utf8_lossy(bytes);
    let text = text.trim_start_matches('\u{feff}');
    let ext = path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase());
    let found = match ext.as_deref() {
        Some("opml" | "xml") => opml(&shown, text)?,
        Some("csv") => takeout_csv(&shown, text)?,
        Some("json") => newpipe(&shown, text)?,
        _ if text.trim_start().starts_with('<') => opml(&shown, text)?,
        _ if text.starts_with("Channel Id,") => takeout_csv(&shown, text)?,
        _ => url_list(text),
    };
    if found.is_empty() {
        return Err(ImportError::Empty { file: shown });
    }
    Ok(found)
}

/// Every `outline` with an `xmlUrl`, at any depth.
fn opml(file: &str, text: &str) -> Result<Vec<Found>, ImportError> {
    let not_xml = |reason: String| ImportError::NotXml {
        file: file.to_owned(),
        reason,
    };
    if !text.trim_start().starts_with('<') {
        return Err(not_xml("it does not start with '<'".into()));
    }
    let mut reader = quick_xml::Reader::from_str(text);
    let mut found = Vec::new();
    let mut saw_opml = false;
    loop {
        match reader.read_event() {
            Ok(Event::Start(e) | Event::Empty(e)) => {
                let name = e.local_name();
                if name.as_ref().eq_ignore_ascii_case(b"opml") {
                    saw_opml = true;
                }
                if !name.as_ref().eq_ignore_ascii_case(b"outline") {
                    continue;
                }
                let attr = |wanted: &str| {
                    e.attributes().flatten().find_map(|a| {
                        let matches = a
                            .key
                            .local_name()
                            .as_ref()
                            .eq_ignore_ascii_case(wanted.as_bytes());
                        matches.then(|| {
                            let raw = String::from_utf8_lossy(&a.value).into_owned();
                            quick_xml::escape::unescape(&raw)
                                .map(|v| v.trim().to_owned())
                                .unwrap_or_else(|_| raw.trim().to_owned())
                        })
                    })
                };
                if let Some(url) = attr("xmlUrl").filter(|u| !u.is_empty()) {
                    let title = attr("title")
                        .filter(|t| !t.is_empty())
                        .or_else(|| attr("text").filter(|t| !t.is_empty()));
                    found.push(Found { title, source: url });
                }
            }
            Ok(Event::Eof) => break,
            Ok(_) => {}
            Err(err) => {
                return Err(not_xml(format!(
                    "at byte {}: {err}",
                    reader.error_position()
                )))
            }
        }
    }
    if !saw_opml {
        return Err(not_xml("it has no <opml> element".into()));
    }
    Ok(found)
}

/// YouTube Takeout's `subscriptions.csv`.
fn takeout_csv(file: &str, text: &str) -> Result<Vec<Found>, ImportError> {
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let header = lines.next().map(csv_fields).unwrap_or_default();
    let column = |name: &str| {
        header
            .iter()
            .position(|h| h.trim().eq_ignore_ascii_case(name))
    };
    let Some(id) = column("Channel Id") else {
        return Err(ImportError::CsvColumns {
            file: file.to_owned(),
            found: if header.is_empty() {
                "none".into()
            } else {
                header.join(", ")
            },
        });
    };
    let title = column("Channel Title");
    Ok(lines
        .map(csv_fields)
        .filter_map(|row| {
            let source = row.get(id)?.trim().to_owned();
            (!source.is_empty()).then(|| Found {
                title: title
                    .and_then(|t| row.get(t))
                    .map(|t| t.trim().to_owned())
                    .filter(|t| !t.is_empty()),
                source,
            })
        })
        .collect())
}

/// One CSV line's fields (RFC 4180 quoting; no line breaks inside fields,
/// which Takeout never writes).
fn csv_fields(line: &str) -> Vec<String> {
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            ('"', true) => quoted = false,
            ('"', false) if field.is_empty() => quoted = true,
            (',', false) => fields.push(std::mem::take(&mut field)),
            (c, _) => field.push(c),
        }
    }
    fields.push(field);
    fields
}

/// NewPipe's "Export subscriptions" JSON.
fn newpipe(file: &str, text: &str) -> Result<Vec<Found>, ImportError> {
    #[derive(serde::Deserialize)]
    struct Export {
        subscriptions: Vec<Subscription>,
    }
    #[derive(serde::Deserialize)]
    struct Subscription {
        url: String,
        name: Option<String>,
    }
    let export: Export = serde_json::from_str(text).map_err(|e| ImportError::NotNewPipe {
        file: file.to_owned(),
        reason: e.to_string(),
    })?;
    Ok(export
        .subscriptions
        .into_iter()
        .map(|s| Found {
            title: s.name.filter(|n| !n.trim().is_empty()),
            source: s.url,
        })
        .collect())
}

/// One source per line; `#` starts a comment.
fn url_list(text: &str) -> Vec<Found> {
    text.lines()
        .map(|l| l.split(" #").next().unwrap_or_default().trim())
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| Found {
            title: None,
            source: l.to_owned(),
        })
        .collect()
}

/// A YouTube feed URL (`/feeds/videos.xml?channel_id=…` or `playlist_id=…`)
/// or channel URL (`/channel/UC…`) as the id `youtube =` takes; anything
/// else as it is.
pub fn youtube_form(source: &str) -> String {
    let Ok(url) = url::Url::parse(source) else {
        return source.to_owned();
    };
    if !url.host_str().unwrap_or_default().ends_with("youtube.com") {
        return source.to_owned();
    }
    if url.path() == "/feeds/videos.xml" {
        for (key, value) in url.query_pairs() {
            if key == "channel_id" || key == "playlist_id" {
                return value.into_owned();
            }
        }
    }
    let segments: Vec<&str> = url
        .path_segments()
        .map(|s| s.filter(|s| !s.is_empty()).collect())
        .unwrap_or_default();
    if let ["channel", id] = segments.as_slice() {
        return (*id).to_owned();
    }
    // Takeout writes http:// URLs.
    source.replacen("http://", "https://", 1)
}

/// `title` (else what the source names), made unique among `names`.
fn free_name(names: &mut HashSet<String>, title: Option<&str>, source: &FeedSource) -> String {
    let base = match (title, source) {
        (Some(title), _) => title.to_owned(),
        (None, FeedSource::Youtube(v)) => v.trim_start_matches('@').to_owned(),
        (None, FeedSource::Url(u)) => url::Url::parse(u)
            .ok()
            .and_then(|u| u.host_str().map(str::to_owned))
            .unwrap_or_else(|| u.clone()),
    };
    let mut name = base.clone();
    let mut n = 2;
    while names.contains(&name) {
        name = format!("{base} ({n})");
        n += 1;
    }
    names.insert(name.clone());
    name
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_follow_rfc_4180_quoting() {
        assert_eq!(
            csv_fields("UC1,http://x,\"Talks, \"\"live\"\"\""),
            ["UC1", "http://x", "Talks, \"live\""]
        );
    }

    #[test]
    fn youtube_feed_urls_become_ids() {
        assert_eq!(
            youtube_form("https://www.youtube.com/feeds/videos.xml?channel_id=UCabc"),
            "UCabc"
        );
        assert_eq!(
            youtube_form("http://www.youtube.com/channel/UCabc"),
            "UCabc"
        );
        assert_eq!(
            youtube_form("http://www.youtube.com/@abc"),
            "https://www.youtube.com/@abc"
        );
        assert_eq!(
            youtube_form("https://example.com/feed.xml"),
            "https://example.com/feed.xml"
        );
    }

    #[test]
    fn names_are_made_unique() {
        let mut names = HashSet::from(["Talks".to_owned()]);
        let source = FeedSource::Url("https://e.com/f".into());
        assert_eq!(free_name(&mut names, Some("Talks"), &source), "Talks (2)");
        assert_eq!(free_name(&mut names, Some("Talks"), &source), "Talks (3)");
        assert_eq!(free_name(&mut names, None, &source), "e.com");
    }
}
