//! `status`, `jobs`, `show`, `retry` and `forget`: read and edit the store.

use std::collections::BTreeMap;

use chrono::Utc;

use super::open_store;
use super::view::{cut, table, JobView};
use crate::config::Config;
use crate::pipeline::job::{Event, Job, State};

pub fn status(config: &Config, json: bool) -> anyhow::Result<u8> {
    let store = open_store(config)?;
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
        });
        println!("{}", serde_json::to_string_pretty(&value)?);
        return Ok(0);
    }
    let summary: Vec<String> = counts
        .iter()
        .filter(|(_, n)| **n > 0)
        .map(|(s, n)| format!("{n} {s}"))
        .collect();
    println!(
        "jobs: {}",
        if summary.is_empty() {
            "none".to_string()
        } else {
            summary.join(", ")
        }
    );
    let budget = match config.api.daily_unit_budget {
        0 => String::new(),
        cap => format!(" (daily budget {cap})"),
    };
    println!("API units: {today} today{budget}, {total} in total");
    if config.api.api_key.is_none() {
        println!("API key: none configured; nothing is submitted");
    }
    for job in running {
        let task = job.task.as_ref();
        let age = task.map(|t| {
            humantime::format_duration(round_secs(Utc::now() - t.submitted_at)).to_string()
        });
        println!(
            "running: job {} {} task {} for {}",
            job.id,
            job.key,
            task.map_or("-", |t| t.id.as_str()),
            age.unwrap_or_default()
        );
    }
    Ok(0)
}

fn round_secs(delta: chrono::TimeDelta) -> std::time::Duration {
    std::time::Duration::from_secs(delta.num_seconds().max(0) as u64)
}

pub fn list(
    config: &Config,
    state: Option<&str>,
    feed: Option<&str>,
    json: bool,
) -> anyhow::Result<u8> {
    if let Some(state) = state {
        if !State::NAMES.contains(&state) {
            eprintln!(
                "clipwatch: unknown state \"{state}\" (one of: {})",
                State::NAMES.join(", ")
            );
            return Ok(super::EXIT_USAGE);
        }
    }
    let store = open_store(config)?;
    let jobs: Vec<Job> = store
        .jobs()?
        .into_iter()
        .filter(|j| state.is_none_or(|s| j.state.name() == s))
        .filter(|j| feed.is_none_or(|f| j.source.feed.as_deref() == Some(f)))
        .collect();
    if json {
        let views: Vec<JobView> = jobs.iter().map(|j| JobView::new(j, false)).collect();
        println!("{}", serde_json::to_string_pretty(&views)?);
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
    print!(
        "{}",
        table(
            &["ID", "STATE", "KEY", "TITLE", "FEED", "TASK / REASON"],
            &rows
        )
    );
    Ok(0)
}

pub fn show(config: &Config, job_or_key: &str, json: bool) -> anyhow::Result<u8> {
    let store = open_store(config)?;
    let job = store.find(job_or_key)?;
    let view = JobView::new(&job, true);
    if json {
        println!("{}", serde_json::to_string_pretty(&view)?);
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
    lines.push(("title", view.title.clone()));
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
        println!("{label:>11}: {value}");
    }
    if !view.files.is_empty() {
        println!("{:>11}:", "files");
        for file in &view.files {
            println!("             {file}");
        }
    }
    println!("{:>11}:", "history");
    println!(
        "             {}  created ({})",
        view.created_at, job.source.origin
    );
    for step in &job.history {
        let note = step
            .note
            .as_deref()
            .map(|n| format!(": {n}"))
            .unwrap_or_default();
        println!(
            "             {}  {} → {}{note}",
            crate::output::sidecar::rfc3339(step.at),
            step.from,
            step.to
        );
    }
    Ok(0)
}

pub async fn retry(
    config: &Config,
    job_or_key: Option<&str>,
    all_failed: bool,
) -> anyhow::Result<u8> {
    let store = open_store(config)?;
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
        println!("no failed jobs");
    }
    let mut refused = 0;
    for mut job in targets {
        let from = job.state.name();
        match job.apply(Event::Retried, Utc::now()) {
            Ok(()) => {
                store.save(&job).await?;
                println!("job {} {}: {from} → {}", job.id, job.key, job.state.name());
            }
            Err(_) => {
                eprintln!(
                    "clipwatch: job {} is {from}; only failed or skipped jobs can be retried",
                    job.id
                );
                refused += 1;
            }
        }
    }
    Ok(if refused > 0 { super::EXIT_FAILURE } else { 0 })
}

pub async fn forget(config: &Config, key: &str) -> anyhow::Result<u8> {
    let store = open_store(config)?;
    let job = store.find(key)?;
    if !job.state.is_terminal() {
        eprintln!(
            "clipwatch: job {} is {}; only done, failed or skipped jobs can be forgotten",
            job.id,
            job.state.name()
        );
        return Ok(super::EXIT_FAILURE);
    }
    store.forget(&job.key).await?;
    println!(
        "forgot {} (job {}); it will be clipped again when next seen",
        job.key, job.id
    );
    Ok(0)
}
