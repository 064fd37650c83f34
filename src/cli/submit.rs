//! `clipwatch submit URL`: queue one video (once per canonical key) and,
//! with `--wait`, process it here with a progress display.

use std::collections::HashSet;
use std::io::{IsTerminal, Write};
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::{open_store, EXIT_FAILURE, EXIT_USAGE};
use crate::config::Config;
use crate::pipeline::job::{Event, Job, Source, State};
use crate::pipeline::{Pipeline, Progress, Scope};
use crate::sources::identity;
use crate::store::{Inserted, Store};

pub struct Request {
    pub url: String,
    pub preset: Option<String>,
    pub name: Option<String>,
    pub wait: bool,
    pub force: bool,
}

pub async fn run(config: Arc<Config>, request: Request) -> anyhow::Result<u8> {
    if std::path::Path::new(&request.url).is_file() {
        eprintln!("clipwatch: local files are taken from the drop folder; `submit` takes a URL");
        return Ok(EXIT_USAGE);
    }
    let source_key = match identity::canonical_key(&request.url) {
        Ok(key) => key,
        Err(err) => {
            eprintln!("clipwatch: {err}");
            return Ok(EXIT_USAGE);
        }
    };
    let preset = request
        .preset
        .clone()
        .unwrap_or_else(|| crate::config::DEFAULT_PRESET.to_string());
    if !config.presets.contains_key(&preset) {
        let known: Vec<&str> = config.presets.keys().map(String::as_str).collect();
        eprintln!(
            "clipwatch: no preset \"{preset}\" (known: {})",
            known.join(", ")
        );
        return Ok(EXIT_USAGE);
    }
    let store = open_store(&config)?;
    let source = Source {
        url: source_key.submit_url.clone(),
        title: None,
        feed: None,
        published: None,
        origin: "submit".into(),
    };
    let job = match store
        .insert_new(
            &source_key.key,
            source,
            &preset,
            request.name.clone(),
            Utc::now(),
        )
        .await?
    {
        Inserted::New(job) => {
            println!("queued job {} for {}", job.id, job.key);
            job
        }
        Inserted::Existing(job) => match requeue_existing(&store, job, &request, &preset).await? {
            Ok(job) => job,
            Err(code) => return Ok(code),
        },
    };
    if !request.wait {
        if job.state == State::Queued {
            println!("`clipwatch run` will submit it");
        }
        return Ok(0);
    }
    wait_for(config, store, job).await
}

/// A key seen before: `--force` starts it over; otherwise say where it is.
async fn requeue_existing(
    store: &Store,
    mut job: Job,
    request: &Request,
    preset: &str,
) -> anyhow::Result<Result<Job, u8>> {
    if !request.force {
        println!(
            "{} is already known as job {} ({})",
            job.key,
            job.id,
            job.state.name()
        );
        if job.state.is_terminal() {
            println!("use --force to clip it again");
            return Ok(Err(if request.wait && job.state != State::Done {
                EXIT_FAILURE
            } else {
                0
            }));
        }
        return Ok(Ok(job));
    }
    if !job.state.is_terminal() {
        eprintln!(
            "clipwatch: job {} is {}; --force applies to finished jobs",
            job.id,
            job.state.name()
        );
        return Ok(Err(EXIT_FAILURE));
    }
    job.apply(Event::Forced, Utc::now())?;
    job.preset = preset.to_string();
    if request.name.is_some() {
        job.name = request.name.clone();
    }
    store.save(&job).await?;
    println!("queued job {} for {} again (--force)", job.id, job.key);
    Ok(Ok(job))
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
    let pipeline = Pipeline::new(store.clone(), config_rx, cancel.clone())?;
    let display = tokio::spawn(show_progress(
        store.clone(),
        pipeline.progress.clone(),
        job.key.clone(),
        cancel.clone(),
    ));
    let scope = Scope::Only(HashSet::from([job.key.clone()]));
    let outcome = pipeline.run(scope, true).await;
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
            print!("\r\x1b[2K[{:02}:{:02}] {key} {line}", secs / 60, secs % 60);
            let _ = std::io::stdout().flush();
        } else if line != last {
            println!("{key}: {line}");
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
