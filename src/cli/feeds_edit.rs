//! `clipwatch feeds add|remove|edit|import`: change the `[[feeds]]` of the
//! configuration file by command. The file is edited as a TOML document
//! (every comment and the layout kept, see [`crate::config::edit`]), the
//! result is validated before it is written, and a running daemon is told
//! to reload. `feeds add` first reads the feed once and shows what its
//! first check would do, recording nothing.

use clap::{Args, Subcommand};
use toml_edit::Value;

use super::reload::tell_daemon;
use super::{EXIT_CONFIG, EXIT_FAILURE, EXIT_USAGE};
use crate::config::edit::{classify_source, ConfigFile, EditError, FeedKey};
use crate::config::{Config, FeedSource};
use crate::sources::feed::preview::{self, Action, FeedPreview};

#[derive(Debug, Clone, Subcommand)]
pub enum FeedsCommand {
    /// Read a feed once, show what its first check would queue and skip, and add it to the config.
    Add(AddArgs),
    /// Remove the feed called NAME from the config.
    Remove {
        /// The feed's name, as `clipwatch feeds` lists it.
        name: String,
    },
    /// Change settings of the feed called NAME (a value "" removes include/exclude).
    Edit {
        /// The feed's name, as `clipwatch feeds` lists it.
        name: String,
        /// A new name.
        #[arg(long = "name", value_name = "NEW")]
        rename: Option<String>,
        #[command(flatten)]
        settings: FeedSettings,
    },
    /// Add feeds from an OPML file, a YouTube Takeout subscriptions.csv, a NewPipe .json export, or a list of sources.
    Import(super::import::ImportArgs),
}

#[derive(Debug, Clone, Args)]
pub struct AddArgs {
    /// What `youtube =` or `url =` accepts: an @handle, a UC… channel id, a
    /// PL…/UU… playlist id, a youtube.com channel or playlist URL, or the
    /// URL of an RSS/Atom/JSON feed.
    pub source: String,
    /// The feed's name (its folder and label); default: the feed's title.
    #[arg(long)]
    pub name: Option<String>,
    #[command(flatten)]
    pub settings: FeedSettings,
}

/// The `[[feeds]]` keys settable by command; unset ones are not written
/// (their defaults apply).
#[derive(Debug, Clone, Default, Args)]
pub struct FeedSettings {
    /// Preset for its videos.
    #[arg(long)]
    pub preset: Option<String>,
    /// On first sight, submit the newest N entries and mark the rest seen.
    #[arg(long, value_name = "N")]
    pub backfill: Option<u32>,
    /// Time between checks, e.g. 15m.
    #[arg(long, value_name = "DURATION")]
    pub interval: Option<String>,
    /// Clip YouTube Shorts too (edit: --shorts=false to stop).
    #[arg(long, num_args = 0..=1, default_missing_value = "true", value_name = "BOOL")]
    pub shorts: Option<bool>,
    /// Only titles matching this regex.
    #[arg(long, value_name = "REGEX")]
    pub include: Option<String>,
    /// Skip titles matching this regex.
    #[arg(long, value_name = "REGEX")]
    pub exclude: Option<String>,
    /// Wait this long after publication, e.g. 30m.
    #[arg(long, value_name = "DURATION")]
    pub delay: Option<String>,
    /// Which URL of an entry is the video: link (default) or enclosure.
    #[arg(long = "use", value_name = "link|enclosure")]
    pub entry_use: Option<String>,
}

impl FeedSettings {
    /// The keys to write, in the example config's order.
    pub fn keys(&self) -> Vec<(&'static str, Option<Value>)> {
        let text = |v: &Option<String>| v.as_ref().map(|s| Value::from(s.as_str()));
        vec![
            ("preset", text(&self.preset)),
            ("interval", text(&self.interval)),
            ("backfill", self.backfill.map(|n| Value::from(i64::from(n)))),
            ("include", text(&self.include)),
            ("exclude", text(&self.exclude)),
            ("shorts", self.shorts.map(Value::from)),
            ("delay", text(&self.delay)),
            ("use", text(&self.entry_use)),
        ]
    }

    /// A new `[[feeds]]` table's keys: `name`, the source, then the
    /// settings given.
    pub fn new_feed(&self, name: &str, source: &FeedSource) -> Vec<FeedKey> {
        let mut keys = vec![("name", Value::from(name)), source_key(source)];
        keys.extend(
            self.keys()
                .into_iter()
                .filter_map(|(k, v)| v.map(|v| (k, v))),
        );
        keys
    }
}

/// Run one `feeds` editing command. A file that cannot be read, edited
/// or written, or an edit that would not load, exits 78.
pub async fn run(config: &Config, command: FeedsCommand) -> anyhow::Result<u8> {
    match dispatch(config, command).await {
        Err(err) if err.downcast_ref::<EditError>().is_some() => {
            eprintln!(
                "clipwatch: {}",
                crate::secret::redact_urls_in(&format!("{err:#}"))
            );
            Ok(EXIT_CONFIG)
        }
        other => other,
    }
}

async fn dispatch(config: &Config, command: FeedsCommand) -> anyhow::Result<u8> {
    match command {
        FeedsCommand::Add(args) => add(config, args).await,
        FeedsCommand::Remove { name } => {
            let mut file = read(config)?;
            file.remove_feed(&name)?;
            // Refused while a [[notify]] sink still filters on the feed.
            file.check()?;
            save(config, &file, &format!("removed feed \"{name}\"")).await
        }
        FeedsCommand::Edit {
            name,
            rename,
            settings,
        } => edit(config, &name, rename, &settings).await,
        FeedsCommand::Import(args) => super::import::run(config, args).await,
    }
}

/// The `youtube = …` or `url = …` key of a source.
pub fn source_key(source: &FeedSource) -> FeedKey {
    match source {
        FeedSource::Youtube(value) => ("youtube", value.as_str().into()),
        FeedSource::Url(url) => ("url", url.as_str().into()),
    }
}

/// The configured feed with the same source, compared loosely (a handle's
/// case, a URL's trailing slash).
pub fn same_source<'a>(config: &'a Config, source: &FeedSource) -> Option<&'a str> {
    let loose = |s: &FeedSource| match s {
        FeedSource::Youtube(v) => {
            let id = super::import::youtube_form(v.trim_end_matches('/'));
            format!("youtube:{}", id.to_lowercase())
        }
        FeedSource::Url(u) => format!("url:{}", u.trim_end_matches('/')),
    };
    let wanted = loose(source);
    config
        .feeds
        .iter()
        .find(|f| loose(&f.source) == wanted)
        .map(|f| f.name.as_str())
}

async fn add(config: &Config, args: AddArgs) -> anyhow::Result<u8> {
    let youtube_host = url::Url::parse(&config.youtube.base_url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned));
    let source = match classify_source(&args.source, youtube_host.as_deref()) {
        Ok(source) => source,
        Err(why) => {
            eprintln!("clipwatch: {why}");
            return Ok(EXIT_USAGE);
        }
    };
    let mut file = read(config)?;
    if let Some(existing) = same_source(config, &source) {
        return refuse(&file, existing, "this source is already configured");
    }
    if let Some(name) = args.name.as_deref().filter(|n| config.feed(n).is_some()) {
        return refuse(&file, name, "this name is already taken");
    }
    // A placeholder name until the feed's title is known.
    let provisional = args
        .name
        .clone()
        .unwrap_or_else(|| format!("new feed {}", std::process::id()));
    file.add_feed(args.settings.new_feed(&provisional, &source));
    let checked = file.check()?;
    let feed = checked.feed(&provisional).expect("just added");
    let seen = match preview::preview(&checked, feed, None).await {
        Ok(seen) => seen,
        Err(err) => {
            eprintln!(
                "clipwatch: {} is not a feed clipwatch can read: {}; nothing was added to {}",
                args.source,
                crate::secret::redact_urls_in(&err.to_string()),
                config.path.display()
            );
            return Ok(EXIT_FAILURE);
        }
    };
    let name = match args.name {
        Some(name) => name,
        None => {
            let name = default_name(&seen, &source);
            if config.feed(&name).is_some() {
                return refuse(
                    &file,
                    &name,
                    "a feed of this name exists: pick one with --name",
                );
            }
            file.set_feed_key(&provisional, "name", Some(name.as_str().into()))?;
            file.check()?;
            name
        }
    };
    print_preview(&seen, &name);
    save(config, &file, &format!("added feed \"{name}\"")).await
}

/// The feed's title, else what the source names.
fn default_name(seen: &FeedPreview, source: &FeedSource) -> String {
    if let Some(title) = &seen.title {
        return title.clone();
    }
    match source {
        FeedSource::Youtube(value) => value.trim_start_matches('@').to_owned(),
        FeedSource::Url(url) => url::Url::parse(url)
            .ok()
            .and_then(|u| u.host_str().map(str::to_owned))
            .unwrap_or_else(|| url.clone()),
    }
}

/// What the first check of the new feed would do, newest first (URL
/// credentials redacted).
fn print_preview(seen: &FeedPreview, name: &str) {
    use std::fmt::Write as _;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} — {}",
        seen.title.as_deref().unwrap_or("(untitled feed)"),
        seen.feed_url
    );
    let _ = writeln!(
        out,
        "name: \"{name}\"; its first check would queue {}, skip {}, hold {}:",
        seen.count(&Action::Queue),
        seen.count(&Action::Skip),
        seen.count(&Action::Hold)
    );
    for entry in seen.entries.iter().take(10) {
        let _ = writeln!(out, "  {}", super::preview::entry_line(entry));
    }
    if seen.entries.len() > 10 {
        let _ = writeln!(out, "  … {} more", seen.entries.len() - 10);
    }
    print!("{}", crate::secret::redact_urls_in(&out));
}

async fn edit(
    config: &Config,
    name: &str,
    rename: Option<String>,
    settings: &FeedSettings,
) -> anyhow::Result<u8> {
    let mut file = read(config)?;
    if let Some(new) = rename.as_deref().filter(|n| *n != name) {
        if config.feed(new).is_some() {
            return refuse(&file, new, "this name is already taken");
        }
    }
    let mut changed = Vec::new();
    for (key, value) in settings.keys() {
        let Some(value) = value else { continue };
        // An empty include/exclude removes the filter.
        let value = Some(value).filter(|v| v.as_str() != Some(""));
        changed.push(key);
        file.set_feed_key(name, key, value)?;
    }
    if let Some(new) = &rename {
        changed.push("name");
        file.set_feed_key(name, "name", Some(new.as_str().into()))?;
    }
    if changed.is_empty() {
        eprintln!("clipwatch: nothing to change: give at least one setting (see --help)");
        return Ok(EXIT_USAGE);
    }
    file.check()?;
    let shown = rename.as_deref().unwrap_or(name);
    if let Some(text) = file.feed_text(shown) {
        print!("{}", crate::secret::redact_urls_in(&text));
    }
    save(
        config,
        &file,
        &format!("changed {} of feed \"{name}\"", changed.join(", ")),
    )
    .await
}

fn read(config: &Config) -> Result<ConfigFile, EditError> {
    ConfigFile::read(&config.path)
}

/// Refuse with the existing entry shown.
fn refuse(file: &ConfigFile, existing: &str, why: &str) -> anyhow::Result<u8> {
    eprintln!(
        "clipwatch: {why}: feed \"{existing}\" in {}:",
        file.path().display()
    );
    if let Some(text) = file.feed_text(existing) {
        eprint!("{}", crate::secret::redact_urls_in(&text));
    }
    Ok(EXIT_USAGE)
}

/// Write the file, say what changed, and tell a running daemon.
pub async fn save(config: &Config, file: &ConfigFile, what: &str) -> anyhow::Result<u8> {
    file.write()?;
    println!("{what} in {}", file.path().display());
    println!("{}", tell_daemon(&config.state.dir).await.describe());
    Ok(0)
}
