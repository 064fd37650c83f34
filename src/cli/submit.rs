//! `clipwatch submit URL`: queue one video (once per canonical key) through
//! the daemon or on the database here and, with `--wait`, follow it to its
//! end — over the control socket, or by processing it here with a progress
//! display.

use std::collections::HashSet;
use std::io::{IsTerminal, Write};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use std::fmt::Write as _;

use super::{Out, Reached, EXIT_FAILURE};
use crate::commands::{self, Reply, Request, Submitted};
use crate::config::Config;
use crate::daemon::control;
use crate::model::{Job, State};
use crate::pipeline::{Pipeline, Progress, Scope};
use crate::store::Store;

/// The target as a request carries it: a local file as its absolute path
/// (the daemon has its own working directory), anything else as given.
/// `Err` when that path is not UTF-8 (requests and jobs hold text).
pub fn target(url: String) -> Result<String, String> {
    let Some(file) = std::fs::canonicalize(&url).ok().filter(|p| p.is_file()) else {
        return Ok(url);
    };
    file.into_os_string().into_string().map_err(|path| {
        format!(
            "{}: the file's path is not valid UTF-8, which clipwatch cannot record; rename it \
             (or the folders above it), or put it in the drop folder",
            Path::new(&path).display()
        )
    })
}

/// `submit` from the command line: through the daemon when it runs, else
/// on the database here; `--wait` then follows the job to its end.
pub async fn run(config: Arc<Config>, request: Request, wait: bool) -> anyhow::Result<u8> {
    let store = match super::reach_daemon_or_open(&config, &request).await? {
        Reached::Daemon(answer) => {
            let code = super::print_answer(&config, &answer, false)?;
            return match answer {
                Ok(Reply::Submitted(submitted)) if code == 0 && wait => {
                    follow_daemon_job(&config, &submitted.job().key).await
                }
                _ => Ok(code),
            };
        }
        Reached::Store(store) => store,
    };
    let ctx = super::local_context(&config, store);
    let answer = commands::execute(&ctx, request).await;
    let code = super::print_answer(&config, &answer, false)?;
    let Ok(Reply::Submitted(submitted)) = answer else {
        return Ok(code);
    };
    if code != 0 || !wait {
        return Ok(code);
    }
    let job = ctx.store.require(&submitted.job().key)?;
    if job.state.is_terminal() {
        return Ok(if job.state == State::Done {
            0
        } else {
            EXIT_FAILURE
        });
    }
    wait_for(config, ctx.store, job).await
}

/// `export`: queue the re-render through the daemon when it runs (then
/// follow the job over the socket), else on the database here and do it
/// here, to the end either way.
pub async fn follow(config: Arc<Config>, request: Request) -> anyhow::Result<u8> {
    let store = match super::reach_daemon_or_open(&config, &request).await? {
        Reached::Daemon(answer) => {
            let code = super::print_answer(&config, &answer, false)?;
            return match answer {
                Ok(Reply::Exporting(exporting)) if code == 0 => {
                    follow_daemon_job(&config, &exporting.job.key).await
                }
                _ => Ok(code),
            };
        }
        Reached::Store(store) => store,
    };
    let ctx = super::local_context(&config, store);
    let answer = commands::execute(&ctx, request).await;
    let code = super::print_answer(&config, &answer, false)?;
    let Ok(Reply::Exporting(exporting)) = answer else {
        return Ok(code);
    };
    let job = ctx.store.require(&exporting.job.key)?;
    wait_for(config, ctx.store, job).await
}

/// What `export` queued, for people.
pub fn print_exporting(exporting: &commands::Exporting, out: &mut Out) -> anyhow::Result<u8> {
    writeln!(
        out.stdout,
        "rendering job {} again with preset \"{}\" into its subfolder {}/",
        exporting.job.id, exporting.preset, exporting.subfolder
    )?;
    Ok(0)
}

/// What `submit` did, for people.
pub fn print(submitted: &Submitted, out: &mut Out) -> anyhow::Result<u8> {
    match submitted {
        Submitted::Queued { job } => writeln!(out.stdout, "queued job {} for {}", job.id, job.key)?,
        Submitted::Requeued { job } => writeln!(
            out.stdout,
            "queued job {} for {} again (--force)",
            job.id, job.key
        )?,
        Submitted::AlreadyKnown { job, finished } => {
            writeln!(
                out.stdout,
                "{} is already known as job {} ({})",
                job.key, job.id, job.state
            )?;
            if *finished {
                writeln!(out.stdout, "use --force to clip it again")?;
            }
        }
    }
    Ok(0)
}

/// `--wait` while the daemon does the work: follow the job over the socket.
async fn follow_daemon_job(config: &Config, key: &str) -> anyhow::Result<u8> {
    let request = Request::Show {
        job: key.to_string(),
    };
    let key = crate::secret::redact_urls_in(key);
    let mut last = String::new();
    loop {
        let Some(answer) = control::ask(&config.state.dir, &request).await? else {
            println!("the daemon stopped; the job resumes when it starts again");
            return Ok(EXIT_FAILURE);
        };
        let job = match answer.map_err(|error| anyhow::anyhow!(error.message))? {
            Reply::Job(job) => job,
            _ => anyhow::bail!("the daemon answered `show` with another kind of reply"),
        };
        if job.state != last {
            println!("{key}: {}", job.state);
            last = job.state.clone();
        }
        match job.state.as_str() {
            "done" => {
                let folder = job.folder.as_ref().map(|f| config.output.dir.join(f));
                println!(
                    "done: {}",
                    folder.map(|f| f.display().to_string()).unwrap_or_default()
                );
                return Ok(0);
            }
            "failed" | "skipped" => {
                println!("{}: {}", job.state, job.reason.unwrap_or_default());
                return Ok(EXIT_FAILURE);
            }
            _ => tokio::time::sleep(Duration::from_millis(500)).await,
        }
    }
}

/// Process this one job here, showing progress, until it ends.
async fn wait_for(config: Arc<Config>, store: Store, job: Job) -> anyhow::Result<u8> {
    let cancel = CancellationToken::new();
    let interrupt = cancel.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            interrupt.cancel();
        }
    });
    let (_config_tx, config_rx) = watch::channel(config.clone());
    crate::notify::arm(&store, &config);
    let pipeline = Pipeline::new(store.clone(), config_rx, cancel.clone()).await?;
    let display = tokio::spawn(show_progress(
        store.clone(),
        pipeline.progress.clone(),
        job.key.clone(),
        cancel.clone(),
    ));
    let scope = Scope::Only(HashSet::from([job.key.clone()]));
    let outcome = pipeline.run(scope, true).await;
    if !cancel.is_cancelled() {
        crate::notify::drain(&store, &config, crate::notify::DRAIN_PATIENCE).await;
    }
    cancel.cancel();
    let _ = display.await;
    outcome?;
    let job = store.require(&job.key)?;
    match &job.state {
        State::Done => {
            let folder = job.folder.as_ref().map(|f| config.output.dir.join(f));
            println!(
                "done: {}",
                folder.map(|f| f.display().to_string()).unwrap_or_default()
            );
            Ok(0)
        }
        State::Failed { reason, .. } => {
            println!("failed: {reason}");
            Ok(EXIT_FAILURE)
        }
        other => {
            println!("stopped while {}; `clipwatch run` resumes it", other.name());
            Ok(EXIT_FAILURE)
        }
    }
}

/// One line per change; on a terminal, one line rewritten in place.
async fn show_progress(store: Store, progress: Progress, key: String, stop: CancellationToken) {
    let shown_key = crate::secret::redact_urls_in(&key);
    let on_terminal = std::io::stdout().is_terminal();
    let started = std::time::Instant::now();
    let mut last = String::new();
    loop {
        let state = store
            .get(&key)
            .ok()
            .flatten()
            .map(|j| j.state.name())
            .unwrap_or("?");
        let detail = progress
            .get(&key)
            .map(|d| format!(": {d}"))
            .unwrap_or_default();
        let line = format!("{state}{detail}");
        if on_terminal {
            let secs = started.elapsed().as_secs();
            print!(
                "\r\x1b[2K[{:02}:{:02}] {shown_key} {line}",
                secs / 60,
                secs % 60
            );
            let _ = std::io::stdout().flush();
        } else if line != last {
            println!("{shown_key}: {line}");
        }
        last = line;
        tokio::select! {
            () = stop.cancelled() => break,
            () = tokio::time::sleep(Duration::from_millis(250)) => {}
        }
    }
    if on_terminal {
        println!();
    }
}
