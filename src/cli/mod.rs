//! The command line (SPEC §2): argument parsing, logging set-up, exit codes,
//! and one module per subcommand.

mod check;
mod feeds;
mod jobs;
mod logging;
mod run;
mod submit;
mod view;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand, ValueEnum};

use crate::config::{self, Config};
use crate::store::Store;

/// Exit codes: 0 ok, 1 runtime failure, 2 usage error, 78 configuration error.
pub const EXIT_FAILURE: u8 = 1;
pub const EXIT_USAGE: u8 = 2;
pub const EXIT_CONFIG: u8 = 78;

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

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the daemon in the foreground: work through queued jobs until stopped.
    Run,
    /// One pass: finish every job that is not done yet, then exit (1 if any failed).
    Once,
    /// Queue one video by URL; --wait follows it to the end.
    Submit {
        /// The video's URL (YouTube or any URL the API accepts).
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
    /// Queue failed jobs again (a job whose task succeeded is polled again, not resubmitted).
    Retry {
        /// Job number or key.
        #[arg(required_unless_present = "failed", conflicts_with = "failed")]
        job: Option<String>,
        /// Every failed job.
        #[arg(long)]
        failed: bool,
    },
    /// Drop a source from the seen set so it can be clipped again.
    Forget {
        /// Job number or key.
        key: String,
    },
    /// Per feed: last check, last new entry, last error, next check.
    Feeds {
        #[arg(long)]
        json: bool,
    },
    /// Validate the configuration; without --offline also check the API key.
    Check {
        #[arg(long)]
        offline: bool,
    },
}

/// The whole program: parse arguments, run the command, map the outcome to
/// an exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
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

async fn dispatch(cli: Cli) -> u8 {
    let config = match load_config(cli.config.as_deref()) {
        Ok(config) => config,
        Err(code) => return code,
    };
    let result = match cli.command {
        Command::Check { offline } => return check::run(&config, offline).await,
        Command::Run => run::daemon(config).await,
        Command::Once => run::once(config).await,
        Command::Submit {
            url,
            preset,
            name,
            wait,
            force,
        } => {
            submit::run(
                config,
                submit::Request {
                    url,
                    preset,
                    name,
                    wait,
                    force,
                },
            )
            .await
        }
        Command::Status { json } => jobs::status(&config, json),
        Command::Jobs { state, feed, json } => {
            jobs::list(&config, state.as_deref(), feed.as_deref(), json)
        }
        Command::Show { job, json } => jobs::show(&config, &job, json),
        Command::Retry { job, failed } => jobs::retry(&config, job.as_deref(), failed).await,
        Command::Forget { key } => jobs::forget(&config, &key).await,
        Command::Feeds { json } => feeds::list(&config, json),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("clipwatch: {err:#}");
            EXIT_FAILURE
        }
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

/// Open the database named by the configuration.
fn open_store(config: &Config) -> anyhow::Result<Store> {
    Ok(Store::open(&config.state.dir)?)
}
