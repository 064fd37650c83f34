//! The command line (SPEC §2): argument parsing, logging set-up, exit codes,
//! and one module per subcommand. The store commands become a typed
//! [`Request`], run by the daemon when one is up (over its control socket)
//! or here, and their [`Reply`] is printed by this module's renderers.

mod check;
mod docs;
mod feeds;
mod feeds_edit;
mod import;
mod init;
mod jobs;
mod logging;
mod notify;
mod preview;
mod reload;
mod run;
mod submit;
mod view;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand, ValueEnum};

use crate::commands::{self, Context, Reply, Request};
use crate::config::{self, Config};
use crate::daemon::control::Answer;
use crate::store::Store;

/// Exit codes: 0 ok, 1 runtime failure, 2 usage error, 78 configuration error.
pub use crate::commands::{EXIT_CONFIG, EXIT_FAILURE, EXIT_USAGE};

#[derive(Debug, Parser)]
#[command(
    name = "clipwatch",
    version,
    about = "Watch channels, feeds and a drop folder; turn each new long video into ranked short clips with the WayinVideo API.",
    after_help = "Exit codes: 0 ok, 1 runtime failure, 2 usage error, 78 configuration error.\n\
                  Config lookup without --config: $CLIPWATCH_CONFIG, $XDG_CONFIG_HOME/clipwatch/config.toml \
                  (or ~/.config/clipwatch/config.toml), /etc/clipwatch/config.toml.\n\
                  The API key comes from WAYIN_API_KEY, api_key_file, or the systemd credential wayin_api_key."
)]
pub struct Cli {
    /// Configuration file.
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Log format on stderr.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// More log detail (-v debug, -vv trace). RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Less log detail (-q warnings only, -qq errors only).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub quiet: u8,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Subcommand)]
pub enum Command {
    /// Run the daemon in the foreground: work through queued jobs until stopped.
    Run,
    /// One pass: check every feed once, finish every job not done yet, then exit (1 if any failed).
    Once {
        /// Only show what the pass would submit and skip; record and submit nothing (as `preview`).
        #[arg(long)]
        dry_run: bool,
        /// With --dry-run: machine-readable output.
        #[arg(long, requires = "dry_run")]
        json: bool,
    },
    /// Check the feeds and the drop folder as `once` would; print what would be submitted and skipped, recording and submitting nothing.
    Preview(preview::PreviewArgs),
    /// Write a commented configuration with your paths, create its folders, and print the next commands.
    Init(init::InitArgs),
    /// Print a shell completion script (e.g. `clipwatch completions bash > /etc/bash_completion.d/clipwatch`).
    Completions { shell: clap_complete::Shell },
    /// Print the man page (roff): `clipwatch man | man -l -`.
    Man,
    /// Queue one video by URL or local file; --wait follows it to the end.
    Submit {
        /// The video's URL (YouTube or any URL the API accepts), or a local
        /// .mp4/.mov/.webm/.avi file (uploaded with the Upload API).
        url: String,
        /// Preset to use (default: "default").
        #[arg(long)]
        preset: Option<String>,
        /// Title for the folder and the project name.
        #[arg(long)]
        name: Option<String>,
        /// Stay until the job is done or failed, showing progress.
        #[arg(long)]
        wait: bool,
        /// Clip again even if this video was clipped, failed or skipped before.
        #[arg(long)]
        force: bool,
    },
    /// Counts per state, API units used, active tasks.
    Status {
        #[arg(long)]
        json: bool,
    },
    /// List jobs.
    Jobs {
        /// Only jobs in this state (queued, uploading, submitting, processing,
        /// downloading, done, failed, skipped).
        #[arg(long)]
        state: Option<String>,
        /// Only jobs from this feed.
        #[arg(long)]
        feed: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// One job: source, options, task id, history, files.
    Show {
        /// Job number or canonical key (e.g. youtube:dQw4w9WgXcQ).
        job: String,
        #[arg(long)]
        json: bool,
    },
    /// Queue failed jobs again (a job whose task succeeded is polled again, not resubmitted; an entry recorded as the same page as another job is refused).
    Retry {
        /// Job number or key.
        #[arg(required_unless_present = "failed", conflicts_with = "failed")]
        job: Option<String>,
        /// Every failed job.
        #[arg(long)]
        failed: bool,
    },
    /// Render a finished job's clips again with another preset's export options (one Clips Export task, no new analysis) into a subfolder named after the preset, and follow it to the end.
    Export {
        /// Job number or key.
        job: String,
        /// The preset whose export options (ratio, resolution, captions, …) to render with.
        #[arg(long)]
        preset: String,
    },
    /// Drop a source from the seen set so it can be clipped again.
    Forget {
        /// Job number or key.
        key: String,
    },
    /// Per feed: last check, last new entry, last error, next check, and notes (entries ignored, fields left out, a failing UULF playlist); `feeds add|remove|edit|import` change the config.
    #[command(args_conflicts_with_subcommands = true)]
    Feeds {
        #[arg(long)]
        json: bool,
        #[command(subcommand)]
        edit: Option<feeds_edit::FeedsCommand>,
    },
    /// Notification sinks ([[notify]]): `notify test [NAME]` sends a test event.
    Notify {
        #[command(subcommand)]
        action: notify::NotifyAction,
    },
    /// Validate the configuration and that output.dir can be written (exit 78 if not); without --offline also check the API key.
    Check {
        #[arg(long)]
        offline: bool,
    },
}

/// Commands that only print (so `clipwatch jobs | head` may cut them off
/// at any point without leaving anything half done).
fn prints_a_report_only(command: &Command) -> bool {
    matches!(
        command,
        Command::Completions { .. }
            | Command::Man
            | Command::Status { .. }
            | Command::Jobs { .. }
            | Command::Show { .. }
            | Command::Check { .. }
            | Command::Preview(_)
    )
}

/// The whole program: parse arguments, run the command, map the outcome to
/// an exit code.
pub fn main() -> ExitCode {
    // The key lives in memory: no core dump of this process, ever.
    crate::daemon::guard::no_core_dumps();
    tune_allocator();
    let cli = Cli::parse();
    if matches!(cli.command, Command::Run) {
        // A SIGHUP's default action ends the process: until the daemon's
        // handler takes over (before the configuration loads), ignore it.
        crate::daemon::guard::ignore_sighup();
    }
    if prints_a_report_only(&cli.command) {
        crate::daemon::guard::die_quietly_on_closed_stdout();
    }
    let default_level = match &cli.command {
        // The progress display stands in for info logs.
        Command::Submit { wait: true, .. } => logging::Level::Warn,
        _ => logging::Level::Info,
    };
    logging::init(cli.log_format, default_level, cli.verbose, cli.quiet);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("clipwatch: cannot start the runtime: {err}");
            return ExitCode::from(EXIT_FAILURE);
        }
    };
    let code = runtime.block_on(dispatch(cli));
    // Do not wait for stray blocking tasks (e.g. a stdin read) on the way out.
    runtime.shutdown_timeout(std::time::Duration::from_millis(200));
    ExitCode::from(code)
}

/// glibc malloc, set for a small long-running process (BENCHMARKS.md,
/// "Memory"). Its defaults cost more than half of the peak of a 10 000-feed
/// pass: up to 8 arenas per core, each keeping its own free memory, and an
/// mmap threshold that rises to 512 KiB after sled frees its first log
/// buffer, after which those buffers come from (and fragment) the heap. One
/// arena (two kept about 10 MiB more of free memory at the peak of a
/// 10 000-feed pass, for no measurable CPU or wall time) and a fixed 128 KiB
/// threshold (glibc's initial one), so large buffers are mapped and given
/// back when freed.
/// `MALLOC_ARENA_MAX` or `MALLOC_MMAP_THRESHOLD_` in the environment win.
fn tune_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    for (name, param, value) in [
        ("MALLOC_ARENA_MAX", libc::M_ARENA_MAX, 1),
        ("MALLOC_MMAP_THRESHOLD_", libc::M_MMAP_THRESHOLD, 128 * 1024),
    ] {
        if std::env::var_os(name).is_none() {
            // SAFETY: mallopt only sets an allocator parameter; no other
            // thread exists yet.
            unsafe { libc::mallopt(param, value) };
        }
    }
}

async fn dispatch(cli: Cli) -> u8 {
    // Commands that need no configuration (init writes one).
    match &cli.command {
        Command::Init(args) => return init::run(cli.config.as_deref(), args),
        Command::Completions { shell } => return docs::completions(*shell),
        Command::Man => return docs::man(),
        _ => {}
    }
    // The daemon's signal handlers come first, so that a SIGHUP or SIGTERM
    // while the configuration loads is handled, not fatal or lost.
    let signals = match &cli.command {
        Command::Run => match crate::daemon::Signals::install() {
            Ok(signals) => Some(signals),
            Err(err) => {
                eprintln!("clipwatch: cannot install signal handlers: {err}");
                return EXIT_FAILURE;
            }
        },
        _ => None,
    };
    let config = match load_config(cli.config.as_deref()) {
        Ok(config) => config,
        Err(code) => return code,
    };
    let result = match cli.command {
        Command::Check { offline } => return check::run(&config, offline).await,
        Command::Run => match signals {
            Some(signals) => crate::daemon::run(config, signals).await,
            None => unreachable!("installed above for run"),
        },
        Command::Once {
            dry_run: true,
            json,
        } => preview::run(&config, preview::PreviewArgs::all(json)).await,
        Command::Once { .. } => run::once(config).await,
        Command::Preview(args) => preview::run(&config, args).await,
        Command::Feeds {
            edit: Some(edit), ..
        } => feeds_edit::run(&config, edit).await,
        Command::Submit {
            url,
            preset,
            name,
            wait,
            force,
        } => {
            let target = match submit::target(url) {
                Ok(target) => target,
                Err(message) => {
                    eprintln!("clipwatch: {message}");
                    return EXIT_USAGE;
                }
            };
            let request = Request::Submit {
                target,
                preset,
                name,
                force,
            };
            submit::run(config, request, wait).await
        }
        Command::Notify { action } => notify::run(&config, action).await,
        Command::Export { job, preset } => {
            submit::follow(config, Request::Export { job, preset }).await
        }
        command => match store_request(command) {
            Some((request, json)) => through_daemon_or_store(config, request, json).await,
            None => unreachable!("every other command is matched above"),
        },
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            let message = format!("{err:#}");
            eprintln!("clipwatch: {}", crate::secret::redact_urls_in(&message));
            EXIT_FAILURE
        }
    }
}

/// A store command as a request, and whether `--json` was asked for.
fn store_request(command: Command) -> Option<(Request, bool)> {
    Some(match command {
        Command::Status { json } => (Request::Status, json),
        Command::Jobs { state, feed, json } => (Request::Jobs { state, feed }, json),
        Command::Show { job, json } => (Request::Show { job }, json),
        Command::Retry { failed: true, .. } => (Request::RetryFailed, false),
        Command::Retry { job, .. } => (
            Request::Retry {
                job: job.unwrap_or_default(),
            },
            false,
        ),
        Command::Forget { key } => (Request::Forget { job: key }, false),
        Command::Feeds { json, edit: None } => (Request::Feeds, json),
        // run, once, check, submit, preview, feeds add…, init, completions, man.
        _ => return None,
    })
}

/// Ask the running daemon over its control socket; if none runs, open the
/// database here. Either way the same code renders the answer.
async fn through_daemon_or_store(
    config: Arc<Config>,
    request: Request,
    json: bool,
) -> anyhow::Result<u8> {
    let answer = ask_or_execute(&config, request).await?;
    print_answer(&config, &answer, json)
}

/// The daemon's answer to `request`, or the answer of running it here on
/// the database when no daemon runs.
async fn ask_or_execute(config: &Arc<Config>, request: Request) -> anyhow::Result<Answer> {
    match reach_daemon_or_open(config, &request).await? {
        Reached::Daemon(answer) => Ok(answer),
        Reached::Store(store) => {
            let ctx = local_context(config, store);
            Ok(commands::execute(&ctx, request).await)
        }
    }
}

/// What a request runs against when no daemon runs: the database only.
fn local_context(config: &Arc<Config>, store: Store) -> Context {
    Context {
        config: config.clone(),
        store,
        pipeline: None,
        local_files: true,
    }
}

pub(crate) enum Reached {
    Daemon(Answer),
    Store(Store),
}

/// The daemon's answer to `request`, or the database when no daemon runs.
/// A daemon that is starting holds the database before its socket answers:
/// keep trying both for a few seconds.
pub(crate) async fn reach_daemon_or_open(
    config: &Config,
    request: &Request,
) -> anyhow::Result<Reached> {
    crate::daemon::guard::secure_state_dir(&config.state.dir)
        .map_err(|err| anyhow::anyhow!("configuration error: {err}"))?;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        if let Some(answer) = crate::daemon::control::ask(&config.state.dir, request).await? {
            return Ok(Reached::Daemon(answer));
        }
        match Store::open(&config.state.dir) {
            Ok(store) => {
                crate::daemon::guard::tighten_database_files(&config.state.dir);
                return Ok(Reached::Store(store));
            }
            Err(crate::store::StoreError::Locked { .. })
                if std::time::Instant::now() < deadline =>
            {
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            Err(err) => return Err(err.into()),
        }
    }
}

/// Print an answer as text (or JSON with `json`) and return the exit code.
fn print_answer(config: &Config, answer: &Answer, json: bool) -> anyhow::Result<u8> {
    let mut out = Out::default();
    let code = match answer {
        Ok(reply) => render(config, reply, json, &mut out)?,
        Err(error) => {
            out.stderr = format!("clipwatch: {}\n", error.message);
            error.kind.exit_code()
        }
    };
    Ok(out.print_with(code))
}

/// A reply as people (or, with `json`, scripts) read it; returns the exit
/// code.
fn render(config: &Config, reply: &Reply, json: bool, out: &mut Out) -> anyhow::Result<u8> {
    match reply {
        Reply::Status(report) => jobs::status(report, json, out),
        Reply::Jobs(views) => jobs::list(views, json, out),
        Reply::Job(view) => jobs::show(config, view, json, out),
        Reply::Submitted(submitted) => submit::print(submitted, out),
        Reply::Retried(outcomes) => jobs::retried(outcomes, out),
        Reply::Forgotten(job) => jobs::forgotten(job, out),
        Reply::Feeds(views) => feeds::list(views, json, out),
        Reply::Exporting(exporting) => submit::print_exporting(exporting, out),
    }
}

/// A command's output, collected so that it is printed with URL
/// credentials hidden.
#[derive(Debug, Default, Clone)]
pub struct Out {
    pub stdout: String,
    pub stderr: String,
}

impl Out {
    /// Print both streams and pass `code` through.
    /// URL credentials (in `url:` keys and source URLs) are redacted.
    pub fn print_with(&self, code: u8) -> u8 {
        use std::io::Write as _;
        print!("{}", crate::secret::redact_urls_in(&self.stdout));
        let _ = std::io::stdout().flush();
        eprint!("{}", crate::secret::redact_urls_in(&self.stderr));
        code
    }
}

fn load_config(explicit: Option<&std::path::Path>) -> Result<Arc<Config>, u8> {
    let loaded = config::locate(explicit).and_then(|path| config::load(&path));
    match loaded {
        Ok(config) => {
            for warning in &config.warnings {
                tracing::warn!("{}: {warning}", config.path.display());
            }
            Ok(Arc::new(config))
        }
        Err(err) => {
            eprintln!("clipwatch: configuration error: {err}");
            Err(EXIT_CONFIG)
        }
    }
}

/// Open the database named by the configuration: on every path, not only
/// `run` and `once`, the state dir is created 0700 (refused when others may
/// write it) and the database files are kept 0600.
fn open_store(config: &Config) -> anyhow::Result<Store> {
    crate::daemon::guard::secure_state_dir(&config.state.dir)
        .map_err(|err| anyhow::anyhow!("configuration error: {err}"))?;
    let store = Store::open(&config.state.dir)?;
    crate::daemon::guard::tighten_database_files(&config.state.dir);
    Ok(store)
}
