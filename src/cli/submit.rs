//! `clipwatch submit URL`: queue one video (once per canonical key) and,
//! with `--wait`, process it here with a progress display.

use std::collections::HashSet;
use std::io::{IsTerminal, Write};
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use std::fmt::Write as _;

use super::{Ctx, Out, EXIT_FAILURE, EXIT_USAGE};
use crate::config::Config;
use crate::daemon::control;
use crate::model::identity;
use crate::model::{Event, Job, Source, State};
use crate::pipeline::{Pipeline, Progress, Scope};
use crate::store::{Inserted, Store};

pub struct Request {
    pub url: String,
    pub preset: Option<String>,
    pub name: Option<String>,
    pub wait: bool,
    pub force: bool,
}

/// `submit` from the command line: through the daemon when it runs, else
/// on the database here; `--wait` then follows the job to its end.
pub async fn run(config: Arc<Config>, request: Request) -> anyhow::Result<u8> {
    let key = match check_request(&config, &request).await {
        Ok(resolved) => resolved.key,
        Err(message) => {
            eprintln!("clipwatch: {message}");
            return Ok(EXIT_USAGE);
        }
    };
    let args = submit_args(&request);
    let store = match super::reach_daemon_or_open(&config, &args).await? {
        super::Reached::Daemon(reply) => {
            let code = reply.print();
            if code != 0 || !request.wait {
                return Ok(code);
            }
            return follow_daemon_job(&config, &key).await;
        }
        super::Reached::Store(store) => store,
    };
    let ctx = Ctx {
        store,
        config: config.clone(),
        pipeline: None,
    };
    let mut out = Out::default();
    let code = queue(&ctx, &request, &mut out).await?;
    out.print_with(code);
    if code != 0 || !request.wait {
        return Ok(code);
    }
    let job = ctx.store.require(&key)?;
    if job.state.is_terminal() {
        return Ok(if job.state == State::Done {
            0
        } else {
            EXIT_FAILURE
        });
    }
    wait_for(config, ctx.store, job).await
}

/// What `submit` queues: the canonical key, the URL the API gets (or the
/// local file to upload), and a title when one is known.
struct Resolved {
    key: String,
    url: String,
    title: Option<String>,
}

/// Resolve a URL or a local video file, or say why it cannot be taken.
async fn check_request(config: &Config, request: &Request) -> Result<Resolved, String> {
    let preset = request
        .preset
        .as_deref()
        .unwrap_or(crate::config::DEFAULT_PRESET);
    if !config.presets.contains_key(preset) {
        let known: Vec<&str> = config.presets.keys().map(String::as_str).collect();
        return Err(format!(
            "no preset \"{preset}\" (known: {})",
            known.join(", ")
        ));
    }
    let path = std::path::Path::new(&request.url);
    if path.is_file() {
        return local_video(path).await;
    }
    let key = identity::canonical_key(&request.url).map_err(|e| e.to_string())?;
    Ok(Resolved {
        key: key.key,
        url: key.submit_url,
        title: None,
    })
}

/// A local video: its content hash is its identity; it is uploaded later.
async fn local_video(path: &std::path::Path) -> Result<Resolved, String> {
    let shown = path.display().to_string();
    if crate::api::upload::video_content_type(path).is_none() {
        return Err(format!(
            "{shown}: not a video the Upload API takes (.mp4 .mov .webm .avi)"
        ));
    }
    let absolute = std::fs::canonicalize(path).map_err(|e| format!("{shown}: {e}"))?;
    let to_hash = absolute.clone();
    let hash = tokio::task::spawn_blocking(move || {
        std::fs::File::open(&to_hash)
            .and_then(|f| crate::sources::folder::files::sha256_file(f, &CancellationToken::new()))
    })
    .await
    .map_err(|e| e.to_string())?
    .map_err(|e| format!("{shown}: {e}"))?;
    Ok(Resolved {
        key: identity::file_key(&hash).key,
        title: absolute
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned()),
        url: absolute.to_string_lossy().into_owned(),
    })
}

/// The request as arguments for the daemon (which never waits itself).
fn submit_args(request: &Request) -> Vec<String> {
    // The daemon has its own working directory: send files as absolute paths.
    let target = std::fs::canonicalize(&request.url)
        .ok()
        .filter(|p| p.is_file())
        .map_or_else(|| request.url.clone(), |p| p.to_string_lossy().into_owned());
    let mut args = vec!["submit".to_string(), target];
    if let Some(preset) = &request.preset {
        args.extend(["--preset".to_string(), preset.clone()]);
    }
    if let Some(name) = &request.name {
        args.extend(["--name".to_string(), name.clone()]);
    }
    if request.force {
        args.push("--force".into());
    }
    args
}

/// Queue the video (once per canonical key). Shared by the command line and
/// the daemon's control socket.
pub async fn queue(ctx: &Ctx, request: &Request, out: &mut Out) -> anyhow::Result<u8> {
    let resolved = match check_request(&ctx.config, request).await {
        Ok(resolved) => resolved,
        Err(message) => {
            writeln!(out.stderr, "clipwatch: {message}")?;
            return Ok(EXIT_USAGE);
        }
    };
    let key = resolved.key;
    let preset = request
        .preset
        .clone()
        .unwrap_or_else(|| crate::config::DEFAULT_PRESET.to_string());
    let mut source = Source {
        url: resolved.url,
        title: resolved.title,
        feed: None,
        published: None,
        origin: "submit".into(),
        link: None,
    };
    // A URL's real title and date (oEmbed, the page), unless named here.
    if source.title.is_none() && request.name.is_none() {
        if let Ok(url_key) = identity::canonical_key(&source.url) {
            let found = crate::sources::look_up_title(&ctx.config, &ctx.store, &url_key).await;
            source.title = found.title;
            source.published = found.published;
        }
    }
    let inserted = ctx
        .store
        .insert_new(&key, source, &preset, request.name.clone(), Utc::now())
        .await?;
    let code = match inserted {
        Inserted::New(job) => {
            writeln!(out.stdout, "queued job {} for {}", job.id, job.key)?;
            0
        }
        Inserted::Existing(job) => requeue_existing(&ctx.store, job, request, &preset, out).await?,
    };
    ctx.wake();
    Ok(code)
}

/// A key seen before: `--force` starts it over; otherwise say where it is.
async fn requeue_existing(
    store: &Store,
    mut job: Job,
    request: &Request,
    preset: &str,
    out: &mut Out,
) -> anyhow::Result<u8> {
    if !request.force {
        writeln!(
            out.stdout,
            "{} is already known as job {} ({})",
            job.key,
            job.id,
            job.state.name()
        )?;
        if job.state.is_terminal() {
            writeln!(out.stdout, "use --force to clip it again")?;
        }
        return Ok(0);
    }
    if !job.state.is_terminal() {
        writeln!(
            out.stderr,
            "clipwatch: job {} is {}; --force applies to finished jobs",
            job.id,
            job.state.name()
        )?;
        return Ok(EXIT_FAILURE);
    }
    job.apply(Event::Forced, Utc::now())?;
    job.preset = preset.to_string();
    if request.name.is_some() {
        job.name = request.name.clone();
    }
    store.save(&job).await?;
    writeln!(
        out.stdout,
        "queued job {} for {} again (--force)",
        job.id, job.key
    )?;
    Ok(0)
}

/// `--wait` while the daemon does the work: follow the job over the socket.
async fn follow_daemon_job(config: &Config, key: &str) -> anyhow::Result<u8> {
    let args = vec!["show".to_string(), key.to_string(), "--json".to_string()];
    let key = crate::secret::redact_urls_in(key);
    let mut last = String::new();
    loop {
        let Some(reply) = control::ask(&config.state.dir, &args).await? else {
            println!("the daemon stopped; the job resumes when it starts again");
            return Ok(EXIT_FAILURE);
        };
        let job: serde_json::Value = serde_json::from_str(&reply.out.stdout)?;
        let state = job["state"].as_str().unwrap_or("?").to_string();
        if state != last {
            println!("{key}: {state}");
            last = state.clone();
        }
        match state.as_str() {
            "done" => {
                let folder = job["folder"].as_str().map(|f| config.output.dir.join(f));
                println!(
                    "done: {}",
                    folder.map(|f| f.display().to_string()).unwrap_or_default()
                );
                return Ok(0);
            }
            "failed" | "skipped" => {
                println!("{state}: {}", job["reason"].as_str().unwrap_or(""));
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
