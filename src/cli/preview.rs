//! `clipwatch preview [FEED…]` and `clipwatch once --dry-run`: check the
//! feeds and the drop folder as `once` would and print what would be
//! submitted and what skipped, with reasons — recording nothing (no job, no
//! feed state, no file moved) and submitting nothing (the API is never
//! called). The database, when there is one and no daemon holds it, is only
//! read: to know what was seen before and what similar jobs cost.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use clap::Args;
use serde::Serialize;

use super::EXIT_USAGE;
use crate::config::Config;
use crate::sources::feed::preview::{self, Action, EntryPreview, FeedPreview};
use crate::sources::folder::files::{self, Kind};
use crate::sources::folder::parse;
use crate::store::{Store, StoreError};

/// Lists of links larger than this are not read by the preview (the
/// drop folder refuses them too).
const MAX_LIST_BYTES: u64 = 1024 * 1024;
/// Done jobs per preset averaged for the cost estimate.
const COST_SAMPLE: usize = 10;

#[derive(Debug, Clone, Default, Args)]
pub struct PreviewArgs {
    /// Only these feeds (by name); default: every feed and the drop folder.
    pub feeds: Vec<String>,
    /// Machine-readable output (shape in README.md).
    #[arg(long)]
    pub json: bool,
}

/// Everything a preview found.
#[derive(Debug, Serialize)]
pub struct Report {
    pub feeds: Vec<FeedReport>,
    /// Files in the drop folder and what taking them would do.
    pub drop: Vec<DropItem>,
    /// Per preset that would be used: units the last done jobs cost.
    pub cost: Vec<Cost>,
    /// Why the preview knows less than `once` would (e.g. a daemon holds
    /// the database, so what was seen before is not known).
    pub notes: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct FeedReport {
    pub name: String,
    pub preset: String,
    #[serde(flatten)]
    pub preview: Option<FeedPreview>,
    pub error: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct DropItem {
    /// Relative to the drop folder.
    pub file: String,
    pub preset: String,
    pub action: Action,
    /// The link, or `upload` for a video file.
    pub url: Option<String>,
    pub reason: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct Cost {
    pub preset: String,
    /// Videos that would be submitted with it.
    pub videos: usize,
    /// Average units of the last done jobs with this preset; `null` when
    /// none finished yet (or the API reported no units).
    pub units_per_video: Option<f64>,
    pub sample: usize,
}

impl PreviewArgs {
    /// Every feed and the drop folder (`once --dry-run`).
    pub fn all(json: bool) -> PreviewArgs {
        PreviewArgs {
            feeds: Vec::new(),
            json,
        }
    }
}

pub async fn run(config: &Config, args: PreviewArgs) -> anyhow::Result<u8> {
    for name in &args.feeds {
        if config.feed(name).is_none() {
            eprintln!("clipwatch: no feed named \"{name}\"; `clipwatch feeds` lists them");
            return Ok(EXIT_USAGE);
        }
    }
    let mut notes = Vec::new();
    let store = open_read_only(config, &mut notes)?;
    let mut feeds = Vec::new();
    for feed in config
        .feeds
        .iter()
        .filter(|f| args.feeds.is_empty() || args.feeds.contains(&f.name))
    {
        let result = preview::preview(config, feed, store.as_ref()).await;
        let (preview, error) = match result {
            Ok(p) => (Some(p), None),
            Err(err) => (None, Some(err.to_string())),
        };
        feeds.push(FeedReport {
            name: feed.name.clone(),
            preset: feed.preset.clone(),
            preview,
            error,
        });
    }
    let drop = if args.feeds.is_empty() {
        drop_items(config, store.as_ref())
    } else {
        Vec::new()
    };
    let cost = costs(&feeds, &drop, store.as_ref());
    let report = Report {
        feeds,
        drop,
        cost,
        notes,
    };
    let text = if args.json {
        serde_json::to_string_pretty(&report)? + "\n"
    } else {
        render(&report)
    };
    print!("{}", crate::secret::redact_urls_in(&text));
    // A feed that could not be checked: its entries are unknown.
    let failed = report.feeds.iter().filter(|f| f.error.is_some()).count();
    if failed > 0 {
        eprintln!("clipwatch: {failed} feed(s) could not be checked (see above)");
        return Ok(super::EXIT_FAILURE);
    }
    Ok(0)
}

/// The database if it exists and no daemon holds it; never created here.
fn open_read_only(config: &Config, notes: &mut Vec<String>) -> anyhow::Result<Option<Store>> {
    if !config.state.dir.join("db").exists() {
        notes.push("no database yet: every feed is at its first sight".into());
        return Ok(None);
    }
    match Store::open(&config.state.dir) {
        Ok(store) => Ok(Some(store)),
        Err(StoreError::Locked { .. }) => {
            notes.push(
                "a daemon holds the database: what it recorded before is not known here, so \
                 entries it has seen may show as queued and every feed as at its first sight"
                    .into(),
            );
            Ok(None)
        }
        Err(err) => Err(err.into()),
    }
}

/// Each file of the drop folder as taking it would treat it.
fn drop_items(config: &Config, store: Option<&Store>) -> Vec<DropItem> {
    let Some(drop) = &config.drop else {
        return Vec::new();
    };
    let (found, _errors) = files::list(&drop.dir);
    let mut items = Vec::new();
    for candidate in found {
        let file = files::shown(&candidate.path, &drop.dir);
        let preset = candidate
            .folder
            .clone()
            .unwrap_or_else(|| drop.preset.clone());
        let item = |action, url: Option<String>, reason: Option<String>, preset: &str| DropItem {
            file: file.clone(),
            preset: preset.to_owned(),
            action,
            url,
            reason,
        };
        if !config.presets.contains_key(&preset) {
            let why = format!("no preset \"{preset}\": it would be moved to .failed/");
            items.push(item(Action::Skip, None, Some(why), &preset));
            continue;
        }
        match files::kind_of(&candidate.path) {
            Kind::Video(_) => items.push(item(Action::Queue, Some("upload".into()), None, &preset)),
            Kind::Unsupported => items.push(item(
                Action::Skip,
                None,
                Some("not a supported file type: it would be moved to .failed/".into()),
                &preset,
            )),
            Kind::Links(format) => {
                let bytes = std::fs::metadata(&candidate.path)
                    .ok()
                    .filter(|m| m.len() <= MAX_LIST_BYTES)
                    .and_then(|_| std::fs::read(&candidate.path).ok());
                let Some(bytes) = bytes else {
                    let why = "unreadable or too large: it would be moved to .failed/";
                    items.push(item(Action::Skip, None, Some(why.into()), &preset));
                    continue;
                };
                match parse::parse(format, &bytes) {
                    Ok(parsed) => {
                        for entry in parsed.entries {
                            let preset = entry.preset.clone().unwrap_or_else(|| preset.clone());
                            let known = store
                                .and_then(|s| s.get(&entry.key.key).ok().flatten())
                                .map(|job| {
                                    format!(
                                        "already recorded: job {} ({})",
                                        job.id,
                                        job.state.name()
                                    )
                                });
                            let action = if known.is_some() {
                                Action::Known
                            } else {
                                Action::Queue
                            };
                            items.push(item(action, Some(entry.key.submit_url), known, &preset));
                        }
                        for problem in parsed.problems {
                            items.push(item(Action::Skip, None, Some(problem), &preset));
                        }
                    }
                    Err(err) => items.push(item(
                        Action::Skip,
                        None,
                        Some(format!("{err}: it would be moved to .failed/")),
                        &preset,
                    )),
                }
            }
        }
    }
    items
}

/// Units the last done jobs of each preset that would be used cost.
fn costs(feeds: &[FeedReport], drop: &[DropItem], store: Option<&Store>) -> Vec<Cost> {
    let mut videos: BTreeMap<String, usize> = BTreeMap::new();
    for feed in feeds {
        if let Some(p) = &feed.preview {
            *videos.entry(feed.preset.clone()).or_default() += p.count(&Action::Queue);
        }
    }
    for item in drop.iter().filter(|i| i.action == Action::Queue) {
        *videos.entry(item.preset.clone()).or_default() += 1;
    }
    let mut jobs = store.and_then(|s| s.jobs().ok()).unwrap_or_default();
    jobs.sort_by_key(|job| std::cmp::Reverse(job.updated_at));
    videos
        .into_iter()
        .filter(|(_, n)| *n > 0)
        .map(|(preset, n)| {
            let units: Vec<u64> = jobs
                .iter()
                .filter(|job| job.preset == preset && job.state.name() == "done")
                .filter_map(|job| job.units)
                .take(COST_SAMPLE)
                .collect();
            let average =
                (!units.is_empty()).then(|| units.iter().sum::<u64>() as f64 / units.len() as f64);
            Cost {
                preset,
                videos: n,
                units_per_video: average,
                sample: units.len(),
            }
        })
        .collect()
}

/// One entry: `QUEUE  2024-05-19  Title  (reason)  URL`.
pub fn entry_line(entry: &EntryPreview) -> String {
    let date = entry
        .published
        .map_or_else(|| "----------".into(), |d| d.format("%Y-%m-%d").to_string());
    let title = if entry.title.is_empty() {
        "(untitled)"
    } else {
        &entry.title
    };
    let reason = entry
        .reason
        .as_ref()
        .map(|r| format!("  ({r})"))
        .unwrap_or_default();
    format!(
        "{:<5}  {date}  {}{reason}  {}",
        action_word(&entry.action),
        crate::util::shorten(title, 60),
        entry.url
    )
}

fn action_word(action: &Action) -> &'static str {
    match action {
        Action::Queue => "QUEUE",
        Action::Skip => "SKIP",
        Action::Hold => "HOLD",
        Action::Known => "SEEN",
    }
}

fn render(report: &Report) -> String {
    let mut out = String::new();
    for feed in &report.feeds {
        match (&feed.preview, &feed.error) {
            (Some(p), _) => {
                let _ = writeln!(
                    out,
                    "feed \"{}\" ({}): queue {}, skip {}, hold {}, seen {}{}",
                    feed.name,
                    p.feed_url,
                    p.count(&Action::Queue),
                    p.count(&Action::Skip),
                    p.count(&Action::Hold),
                    p.count(&Action::Known),
                    if p.first_sight { " (first sight)" } else { "" }
                );
                for entry in &p.entries {
                    let _ = writeln!(out, "  {}", entry_line(entry));
                }
            }
            (None, error) => {
                let _ = writeln!(
                    out,
                    "feed \"{}\": check failed: {}",
                    feed.name,
                    error.as_deref().unwrap_or("unknown error")
                );
            }
        }
    }
    if !report.drop.is_empty() {
        let _ = writeln!(out, "drop folder:");
        for item in &report.drop {
            let _ = writeln!(
                out,
                "  {:<5}  {}  [{}]  {}{}",
                action_word(&item.action),
                item.file,
                item.preset,
                item.url.as_deref().unwrap_or("-"),
                item.reason
                    .as_ref()
                    .map(|r| format!("  ({r})"))
                    .unwrap_or_default()
            );
        }
    }
    let queued: usize = report.cost.iter().map(|c| c.videos).sum();
    let _ = writeln!(
        out,
        "would submit {queued} video(s); nothing was recorded or submitted"
    );
    for cost in &report.cost {
        let _ = match cost.units_per_video {
            Some(units) => writeln!(
                out,
                "  preset \"{}\": {} video(s); the last {} done job(s) with it cost {units:.1} units each on average",
                cost.preset, cost.videos, cost.sample
            ),
            None => writeln!(
                out,
                "  preset \"{}\": {} video(s); no done job with it to estimate units from",
                cost.preset, cost.videos
            ),
        };
    }
    for note in &report.notes {
        let _ = writeln!(out, "note: {note}");
    }
    out
}
