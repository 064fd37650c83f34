//! The checked configuration's types: what every other module reads.

use super::*;

/// A checked configuration. Cheap to share behind an `Arc`.
#[derive(Debug, Clone)]
pub struct Config {
    /// Absolute path of the file loaded.
    pub path: PathBuf,
    pub api: ApiConfig,
    pub state: StateConfig,
    pub output: OutputConfig,
    /// `None` when there is no `[drop]` section: no folder is watched.
    pub drop: Option<DropConfig>,
    /// Resolved presets (`extends` applied); always contains `"default"`.
    pub presets: BTreeMap<String, Preset>,
    pub youtube: YoutubeConfig,
    pub titles: TitlesConfig,
    pub feeds: Vec<FeedConfig>,
    /// `[[notify]]` sinks and `[notifications]`.
    pub notify: super::NotifyConfig,
    /// `None` when there is no `[http]` section: no server.
    pub http: Option<super::HttpConfig>,
    /// Non-fatal notes for the log and `check` (e.g. `api_key_file` unreadable).
    pub warnings: Vec<String>,
}

impl Config {
    /// The preset called `name`.
    pub fn preset(&self, name: &str) -> Option<&Preset> {
        self.presets.get(name)
    }

    /// The feed called `name`.
    pub fn feed(&self, name: &str) -> Option<&FeedConfig> {
        self.feeds.iter().find(|f| f.name == name)
    }
}

/// `[api]`: the WayinVideo account and how hard clipwatch may use it.
#[derive(Debug, Clone)]
pub struct ApiConfig {
    /// http(s) URL without a trailing `/`, e.g. `https://…/open/v2`.
    pub base_url: String,
    pub api_key: Option<Secret>,
    /// Where the key came from, for `check` and `status`; never the key:
    /// `environment WAYIN_API_KEY`, `file <path>` or
    /// `systemd credential wayin_api_key`.
    pub api_key_source: Option<String>,
    /// Request budget shared by every API call; at least 1.
    pub requests_per_minute: u32,
    /// The span `requests_per_minute` is counted over: 60 s, except in
    /// time-scaled tests and benchmarks.
    pub rate_window: Duration,
    /// Tasks allowed to run at once; at least 1.
    pub max_concurrent_projects: u32,
    /// The longest wait between two polls of a task whose end is not
    /// predicted, or is overdue (see `pipeline::cadence`).
    pub poll_interval: Duration,
    /// The shortest wait between two polls of one task (at most
    /// `poll_interval`); also the gap of the poll that confirms a
    /// SUCCEEDED clip list.
    pub poll_floor: Duration,
    /// After SUCCEEDED, how long to keep polling while the clip list is
    /// empty, still changing, or missing video links.
    pub results_wait: Duration,
    /// Limit for one HTTP request.
    pub timeout: Duration,
    /// API units per day after which submitting stops; 0 = no cap.
    pub daily_unit_budget: u64,
    /// What to do when a submit may have been processed but its answer
    /// was lost.
    pub on_ambiguous_submit: AmbiguousSubmit,
}

/// `[api] on_ambiguous_submit`: a submit request left and no answer came
/// (a timeout, a reset, a cut reply, an interrupted run), so the API may
/// have created a paid task whose id clipwatch never learned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AmbiguousSubmit {
    /// Fail the job and say so: `clipwatch retry` submits again. Never pays
    /// twice on its own.
    #[default]
    Fail,
    /// Submit again (may pay twice).
    Resubmit,
}

impl AmbiguousSubmit {
    pub fn as_str(self) -> &'static str {
        match self {
            AmbiguousSubmit::Fail => "fail",
            AmbiguousSubmit::Resubmit => "resubmit",
        }
    }
}

/// `[state]`: where the sled database and the control socket live.
#[derive(Debug, Clone)]
pub struct StateConfig {
    pub dir: PathBuf,
}

/// `[output]`: the clip tree. `folder` and `clip` are name templates.
#[derive(Debug, Clone)]
pub struct OutputConfig {
    pub dir: PathBuf,
    pub folder: Template,
    pub clip: Template,
    /// Clips scoring below this (0–100) are listed, not downloaded.
    pub min_score: u32,
    /// Keep the best N clips; 0 = all.
    pub max_clips: u32,
    pub thumbnails: bool,
    /// Submitting pauses while the output volume has less free than this.
    pub min_free_space: u64,
    /// A clip video larger than this is not downloaded; the job fails.
    pub max_video_size: u64,
    /// Editor exports written beside `project.json` (chapters, CSV, EDL,
    /// FCPXML); all by default.
    pub exports: Vec<crate::output::exports::ExportKind>,
}

/// Thumbnails larger than this are not kept (they are a few hundred KB).
pub const MAX_THUMBNAIL_BYTES: u64 = 8 * 1024 * 1024;
pub const DEFAULT_MIN_FREE_SPACE: &str = "1GiB";
pub const DEFAULT_MAX_VIDEO_SIZE: &str = "4GiB";

/// `[drop]`: the watched inbox folder.
#[derive(Debug, Clone)]
pub struct DropConfig {
    pub dir: PathBuf,
    /// Preset for files at the top of the folder (subfolders name their own).
    pub preset: String,
    /// How long a file must stay unchanged before it is taken.
    pub settle: Duration,
    /// Period of the full rescan (for filesystems without inotify).
    pub rescan: Duration,
}

/// A named set of submit options, ready to send.
#[derive(Debug, Clone, PartialEq)]
pub struct Preset {
    pub name: String,
    /// API option names → values, `extends` applied and `extra` merged in
    /// verbatim. Never holds `video_url` or `project_name`.
    pub options: serde_json::Map<String, serde_json::Value>,
    /// `transcript = true`: a transcription task beside the clipping task.
    pub transcript: bool,
    /// `summary = true`: a summarization task beside the clipping task.
    pub summary: bool,
    /// `also = ["landscape"]`: the clips rendered again with these presets.
    pub also: Vec<String>,
}

impl Preset {
    /// Whether clips are rendered (and so downloaded as video files).
    pub fn export_enabled(&self) -> bool {
        self.options.get("enable_export") == Some(&serde_json::Value::Bool(true))
    }
}

/// `[youtube]`: where YouTube feeds and channel pages are fetched.
#[derive(Debug, Clone)]
pub struct YoutubeConfig {
    /// http(s) URL without a trailing `/`.
    pub base_url: String,
}

/// `[titles]`: whether a video's real title is looked up (oEmbed, the
/// page's title) for sources that do not carry one.
#[derive(Debug, Clone)]
pub struct TitlesConfig {
    /// Default true.
    pub lookup: bool,
}

/// One `[[feeds]]` entry.
#[derive(Debug, Clone)]
pub struct FeedConfig {
    /// Unique; the feed's folder name and label.
    pub name: String,
    pub source: FeedSource,
    /// A key of [`Config::presets`].
    pub preset: String,
    /// Time between checks; never zero.
    pub interval: Duration,
    /// On first sight, queue the newest N entries and skip the rest.
    pub backfill: u32,
    /// Title filters.
    pub include: Option<Regex>,
    pub exclude: Option<Regex>,
    /// Whether YouTube Shorts are clipped.
    pub shorts: bool,
    /// Wait this long after publication before submitting.
    pub delay: Duration,
    /// Which URL of a feed entry is the video.
    pub entry_use: EntryUse,
}

/// Where a feed comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FeedSource {
    /// `youtube = "…"` as written (trimmed): an `@handle`, a channel or
    /// playlist id, or a youtube.com channel/playlist URL; checked offline.
    Youtube(String),
    /// `url = "…"`: any RSS / Atom / JSON Feed, an http(s) URL.
    Url(String),
}

/// `use = "link" | "enclosure"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EntryUse {
    /// The entry's link (a page the API can fetch, e.g. a YouTube watch URL).
    #[default]
    Link,
    /// The entry's enclosure (podcast media file).
    Enclosure,
}
