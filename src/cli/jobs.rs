//! `status`, `jobs`, `show`, `retry` and `forget`: read and edit the store.

use std::collections::BTreeMap;

use chrono::Utc;

use std::fmt::Write as _;

use super::view::{cut, table, JobView};
use super::{Ctx, Out};
use crate::model::{Event, Job, State};

pub fn status(ctx: &Ctx, json: bool, out: &mut Out) -> anyhow::Result<u8> {
    let (config, store) = (&ctx.config, &ctx.store);
    let jobs = store.jobs()?;
    let mut counts: BTreeMap<&str, usize> = State::NAMES.iter().map(|n| (*n, 0)).collect();
    for job in &jobs {
        *counts.entry(job.state.name()).or_default() += 1;
    }
    let today = store.units_on(Utc::now().date_naive())?;
    let total = store.units_total()?;
    let running: Vec<&Job> = jobs
        .iter()
        .filter(|j| j.state == State::Processing)
        .collect();
    if json {
        let value = serde_json::json!({
            "jobs": counts,
            "units": { "today": today, "total": total, "daily_budget": config.api.daily_unit_budget },
            "api_key": config.api.api_key.is_some(),
            "running": running.iter().map(|j| JobView::new(j, false)).collect::<Vec<_>>(),
            "daemon": live_status(ctx),
            "feeds": feed_health(ctx)?,
            "notify": crate::notify::sink_status(store, config)?,
        });
        writeln!(out.stdout, "{}", serde_json::to_string_pretty(&value)?)?;
        return Ok(0);
    }
    let summary: Vec<String> = counts
        .iter()
        .filter(|(_, n)| **n > 0)
        .map(|(s, n)| format!("{n} {s}"))
        .collect();
    writeln!(
        out.stdout,
        "jobs: {}",
        if summary.is_empty() {
            "none".to_string()
        } else {
            summary.join(", ")
        }
    )?;
    let budget = match config.api.daily_unit_budget {
        0 => String::new(),
        cap => format!(" (daily budget {cap})"),
    };
    writeln!(
        out.stdout,
        "API units: {today} today{budget}, {total} in total"
    )?;
    if config.api.api_key.is_none() {
        writeln!(out.stdout, "API key: none configured; nothing is submitted")?;
    }
    let feeds = feed_health(ctx)?;
    if !feeds.is_empty() {
        let failing: Vec<String> = feeds
            .iter()
            .filter(|f| f["consecutive_failures"].as_u64().unwrap_or(0) > 0)
            .map(|f| {
                format!(
                    "{}: {}",
                    f["name"].as_str().unwrap_or(""),
                    cut(f["last_error"].as_str().unwrap_or(""), 60)
                )
            })
            .collect();
        writeln!(
            out.stdout,
            "feeds: {} configured, {} failing",
            feeds.len(),
            failing.len()
        )?;
        for line in failing {
            writeln!(out.stdout, "  failing {line}")?;
        }
        if let Some(next) = feeds
            .iter()
            .filter(|f| f["next_check"].is_string())
            .min_by_key(|f| f["next_check"].as_str().map(str::to_string))
        {
            writeln!(
                out.stdout,
                "  next check: {} at {}",
                next["name"].as_str().unwrap_or(""),
                next["next_check"].as_str().unwrap_or("")
            )?;
        }
    }
    super::notify::status_lines(ctx, out)?;
    match live_status(ctx) {
        serde_json::Value::Null => writeln!(out.stdout, "daemon: not running")?,
        live => {
            writeln!(
                out.stdout,
                "daemon: running; {} of {} task slots in use; {} API requests, {} rate-limited",
                live["slots_in_use"], live["slots"], live["api_requests"], live["rate_limited"]
            )?;
            if live["auth_paused"] == true {
                writeln!(
                    out.stdout,
                    "paused: the API rejected the key; API work resumes once it is accepted"
                )?;
            }
            if let Some(problem) = live["output_paused"].as_str() {
                writeln!(
                    out.stdout,
                    "paused: submitting waits for the output volume: {problem}"
                )?;
            }
            if let Some(reason) = live["submit_paused"]["reason"].as_str() {
                writeln!(
                    out.stdout,
                    "paused: submitting since {}: {reason}; one submit is tried now and then, \
                     a reload tries at once",
                    live["submit_paused"]["since"].as_str().unwrap_or("")
                )?;
            }
        }
    }
    for job in running {
        let task = job.task.as_ref();
        let age = task.map(|t| {
            humantime::format_duration(round_secs(Utc::now() - t.submitted_at)).to_string()
        });
        writeln!(
            out.stdout,
            "running: job {} {} task {} for {}",
            job.id,
            job.key,
            task.map_or("-", |t| t.id.as_str()),
            age.unwrap_or_default()
        )?;
    }
    Ok(0)
}

/// Each configured feed's next check and last error.
fn feed_health(ctx: &Ctx) -> anyhow::Result<Vec<serde_json::Value>> {
    let states = crate::sources::feed::state::FeedStates::open(&ctx.store)?;
    let mut health = Vec::new();
    for feed in &ctx.config.feeds {
        let state = states.get(
            &feed.name,
            &crate::sources::feed::source_label(&feed.source),
        )?;
        health.push(serde_json::json!({
            "name": feed.name,
            "next_check": state.next_check.map(crate::output::sidecar::rfc3339),
            "last_error": state.last_error,
            "consecutive_failures": state.consecutive_failures,
        }));
    }
    Ok(health)
}

/// What only the running daemon knows (`null` when asked without it).
fn live_status(ctx: &Ctx) -> serde_json::Value {
    let Some(pipeline) = &ctx.pipeline else {
        return serde_json::Value::Null;
    };
    let stats = pipeline.api.as_ref().map(|api| api.budget().stats());
    serde_json::json!({
        "slots": pipeline.slots.size(),
        "slots_in_use": pipeline.slots.in_use(),
        "api_requests": stats.map_or(0, |s| s.requests_total),
        "rate_limited": stats.map_or(0, |s| s.rate_limited_total),
        "auth_paused": stats.is_some_and(|s| s.auth_paused),
        "output_paused": pipeline.output.paused(),
        "submit_paused": pipeline.submit_pause.paused().map(|(reason, since)| {
            serde_json::json!({
                "reason": reason,
                "since": crate::output::sidecar::rfc3339(since),
            })
        }),
    })
}

fn round_secs(delta: chrono::TimeDelta) -> std::time::Duration {
    std::time::Duration::from_secs(delta.num_seconds().max(0) as u64)
}

pub fn list(
    ctx: &Ctx,
    state: Option<&str>,
    feed: Option<&str>,
    json: bool,
    out: &mut Out,
) -> anyhow::Result<u8> {
    if let Some(state) = state {
        if !State::NAMES.contains(&state) {
            writeln!(
                out.stderr,
                "clipwatch: unknown state \"{state}\" (one of: {})",
                State::NAMES.join(", ")
            )?;
            return Ok(super::EXIT_USAGE);
        }
    }
    let jobs: Vec<Job> = ctx
        .store
        .jobs()?
        .into_iter()
        .filter(|j| state.is_none_or(|s| j.state.name() == s))
        .filter(|j| feed.is_none_or(|f| j.source.feed.as_deref() == Some(f)))
        .collect();
    if json {
        let views: Vec<JobView> = jobs.iter().map(|j| JobView::new(j, false)).collect();
        writeln!(out.stdout, "{}", serde_json::to_string_pretty(&views)?)?;
        return Ok(0);
    }
    let rows: Vec<Vec<String>> = jobs
        .iter()
        .map(|j| {
            let detail = match &j.state {
                State::Failed { reason, .. } | State::Skipped { reason } => reason.clone(),
                _ => j.task.as_ref().map(|t| t.id.clone()).unwrap_or_default(),
            };
            vec![
                j.id.to_string(),
                j.state.name().to_string(),
                j.key.clone(),
                cut(&j.display_title(), 40),
                j.source.feed.clone().unwrap_or_else(|| "-".into()),
                cut(&detail, 60),
            ]
        })
        .collect();
    write!(
        out.stdout,
        "{}",
        table(
            &["ID", "STATE", "KEY", "TITLE", "FEED", "TASK / REASON"],
            &rows
        )
    )?;
    Ok(0)
}

pub fn show(ctx: &Ctx, job_or_key: &str, json: bool, out: &mut Out) -> anyhow::Result<u8> {
    let config = &ctx.config;
    let job = ctx.store.find(job_or_key)?;
    let view = JobView::new(&job, true);
    if json {
        writeln!(out.stdout, "{}", serde_json::to_string_pretty(&view)?)?;
        return Ok(0);
    }
    let mut lines = vec![
        ("job", view.id.to_string()),
        ("key", view.key.clone()),
        ("state", view.state.to_string()),
    ];
    if let Some(reason) = &view.reason {
        lines.push(("reason", reason.clone()));
    }
    if let Some(retry) = view.will_retry {
        lines.push((
            "will retry",
            if retry {
                "yes"
            } else {
                "no (use `clipwatch retry`)"
            }
            .into(),
        ));
    }
    lines.push((
        "title",
        view.title
            .clone()
            .unwrap_or_else(|| "- (none known)".into()),
    ));
    lines.push(("source", view.url.clone()));
    lines.push(("origin", view.origin.clone()));
    if let Some(feed) = &view.feed {
        lines.push(("feed", feed.clone()));
    }
    lines.push(("preset", view.preset.clone()));
    lines.push(("task", view.task_id.clone().unwrap_or_else(|| "-".into())));
    if let Some(options) = &view.options {
        lines.push(("options", serde_json::to_string(options)?));
    }
    lines.push(("submits", view.submit_attempts.to_string()));
    if let Some(units) = view.units {
        lines.push(("API units", units.to_string()));
    }
    if let Some(error) = &view.last_error {
        lines.push(("last error", error.clone()));
    }
    if let Some(folder) = &view.folder {
        lines.push((
            "folder",
            config.output.dir.join(folder).display().to_string(),
        ));
    }
    for (label, value) in lines {
        writeln!(out.stdout, "{label:>11}: {value}")?;
    }
    if !view.files.is_empty() {
        writeln!(out.stdout, "{:>11}:", "files")?;
        for file in &view.files {
            writeln!(out.stdout, "             {file}")?;
        }
    }
    writeln!(out.stdout, "{:>11}:", "history")?;
    writeln!(
        out.stdout,
        "             {}  created ({})",
        view.created_at, job.source.origin
    )?;
    for step in &job.history {
        let note = step
            .note
            .as_deref()
            .map(|n| format!(": {n}"))
            .unwrap_or_default();
        writeln!(
            out.stdout,
            "             {}  {} → {}{note}",
            crate::output::sidecar::rfc3339(step.at),
            step.from,
            step.to
        )?;
    }
    Ok(0)
}

pub async fn retry(
    ctx: &Ctx,
    job_or_key: Option<&str>,
    all_failed: bool,
    out: &mut Out,
) -> anyhow::Result<u8> {
    let store = &ctx.store;
    let targets: Vec<Job> = if all_failed {
        store
            .jobs()?
            .into_iter()
            .filter(|j| matches!(j.state, State::Failed { .. }))
            .collect()
    } else {
        vec![store.find(job_or_key.unwrap_or_default())?]
    };
    if targets.is_empty() {
        writeln!(out.stdout, "no failed jobs")?;
    }
    let mut refused = 0;
    for mut job in targets {
        let from = job.state.name();
        // Its page is clipped (or queued) by another job: a retry would
        // submit the same page again, and pay twice.
        if let Some(page) = same_page_job(store, &job)? {
            writeln!(
                out.stderr,
                "clipwatch: job {} is not retried: it is the same page as job {} ({}), whose link differs only by #fragment, and the API clips a page once; see `clipwatch show {}` (or `clipwatch retry {}` if that one failed)",
                job.id, page.id, page.key, page.id, page.id
            )?;
            refused += 1;
            continue;
        }
        match job.apply(Event::Retried, Utc::now()) {
            Ok(()) => {
                store.save(&job).await?;
                writeln!(
                    out.stdout,
                    "job {} {}: {from} → {}",
                    job.id,
                    job.key,
                    job.state.name()
                )?;
            }
            Err(_) => {
                writeln!(
                    out.stderr,
                    "clipwatch: job {} is {from}; only failed or skipped jobs can be retried",
                    job.id
                )?;
                refused += 1;
            }
        }
    }
    ctx.wake();
    Ok(if refused > 0 { super::EXIT_FAILURE } else { 0 })
}

/// For a job skipped as the same page as another (links differing only by
/// `#fragment`), the job that has the page, if it still exists.
fn same_page_job(store: &crate::store::Store, job: &Job) -> anyhow::Result<Option<Job>> {
    let State::Skipped { reason } = &job.state else {
        return Ok(None);
    };
    if !reason.starts_with(crate::sources::feed::decide::SAME_PAGE) {
        return Ok(None);
    }
    // The page's key: the link without its fragment.
    let Ok(page) = crate::model::identity::canonical_key(&job.source.url) else {
        return Ok(None);
    };
    if page.key == job.key {
        return Ok(None);
    }
    Ok(store.get(&page.key)?)
}

pub async fn forget(ctx: &Ctx, key: &str, out: &mut Out) -> anyhow::Result<u8> {
    let store = &ctx.store;
    let job = store.find(key)?;
    if !job.state.is_terminal() {
        writeln!(
            out.stderr,
            "clipwatch: job {} is {}; only done, failed or skipped jobs can be forgotten",
            job.id,
            job.state.name()
        )?;
        return Ok(super::EXIT_FAILURE);
    }
    store.forget(&job.key).await?;
    writeln!(
        out.stdout,
        "forgot {} (job {}); it will be clipped again when next seen",
        job.key, job.id
    )?;
    Ok(0)
}
