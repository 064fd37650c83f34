//! How the replies of `status`, `jobs`, `show`, `retry` and `forget` read:
//! text for people, or the documented JSON (`--json`).

use std::fmt::Write as _;

use chrono::Utc;

use super::view::table;
use super::{Out, EXIT_FAILURE};
use crate::commands::{JobRef, JobView, RetryOutcome, StatusReport};
use crate::config::Config;
use crate::util::shorten;

pub fn status(report: &StatusReport, json: bool, out: &mut Out) -> anyhow::Result<u8> {
    if json {
        let value = report.to_json();
        writeln!(out.stdout, "{}", serde_json::to_string_pretty(&value)?)?;
        return Ok(0);
    }
    let summary: Vec<String> = report
        .jobs
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
    let units = &report.units;
    let budget = match units.daily_budget {
        0 => String::new(),
        cap => format!(" (daily budget {cap})"),
    };
    writeln!(
        out.stdout,
        "API units: {} today{budget}, {} in total",
        units.today, units.total
    )?;
    if !report.api_key {
        writeln!(out.stdout, "API key: none configured; nothing is submitted")?;
    }
    feed_lines(report, out)?;
    super::notify::status_lines(&report.notify, out)?;
    daemon_lines(report, out)?;
    for job in &report.running {
        let age = report.submitted_at.get(&job.key).map(|at| {
            let secs = (Utc::now() - *at).num_seconds().max(0) as u64;
            humantime::format_duration(std::time::Duration::from_secs(secs)).to_string()
        });
        writeln!(
            out.stdout,
            "running: job {} {} task {} for {}",
            job.id,
            job.key,
            job.task_id.as_deref().unwrap_or("-"),
            age.unwrap_or_default()
        )?;
    }
    Ok(0)
}

/// How many feeds, which fail, and the next check.
fn feed_lines(report: &StatusReport, out: &mut Out) -> anyhow::Result<()> {
    let feeds = &report.feeds;
    if feeds.is_empty() {
        return Ok(());
    }
    let failing: Vec<String> = feeds
        .iter()
        .filter(|f| f.consecutive_failures > 0)
        .map(|f| {
            format!(
                "{}: {}",
                f.name,
                shorten(f.last_error.as_deref().unwrap_or(""), 60)
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
        .filter(|f| f.next_check.is_some())
        .min_by_key(|f| f.next_check.clone())
    {
        writeln!(
            out.stdout,
            "  next check: {} at {}",
            next.name,
            next.next_check.as_deref().unwrap_or("")
        )?;
    }
    Ok(())
}

/// Whether a daemon runs, its slots and requests, and what is paused.
fn daemon_lines(report: &StatusReport, out: &mut Out) -> anyhow::Result<()> {
    let Some(live) = &report.daemon else {
        writeln!(out.stdout, "daemon: not running")?;
        return Ok(());
    };
    writeln!(
        out.stdout,
        "daemon: running; {} of {} task slots in use; {} API requests, {} rate-limited",
        live.slots_in_use, live.slots, live.api_requests, live.rate_limited
    )?;
    if live.auth_paused {
        writeln!(
            out.stdout,
            "paused: the API rejected the key; API work resumes once it is accepted"
        )?;
    }
    if let Some(problem) = &live.output_paused {
        writeln!(
            out.stdout,
            "paused: submitting waits for the output volume: {problem}"
        )?;
    }
    if let Some(paused) = &live.submit_paused {
        writeln!(
            out.stdout,
            "paused: submitting since {}: {}; one submit is tried now and then, a reload tries \
             at once",
            paused.since, paused.reason
        )?;
    }
    Ok(())
}

pub fn list(views: &[JobView], json: bool, out: &mut Out) -> anyhow::Result<u8> {
    if json {
        writeln!(out.stdout, "{}", serde_json::to_string_pretty(views)?)?;
        return Ok(0);
    }
    let rows: Vec<Vec<String>> = views
        .iter()
        .map(|j| {
            let detail = match &j.reason {
                Some(reason) => reason.clone(),
                None => j.task_id.clone().unwrap_or_default(),
            };
            vec![
                j.id.to_string(),
                j.state.clone(),
                j.key.clone(),
                shorten(&display_title(j), 40),
                j.feed.clone().unwrap_or_else(|| "-".into()),
                shorten(&detail, 60),
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

/// The title, else the key (without URL credentials).
fn display_title(job: &JobView) -> String {
    job.title
        .clone()
        .unwrap_or_else(|| crate::secret::redact_urls_in(&job.key))
}

pub fn show(config: &Config, view: &JobView, json: bool, out: &mut Out) -> anyhow::Result<u8> {
    if json {
        writeln!(out.stdout, "{}", serde_json::to_string_pretty(view)?)?;
        return Ok(0);
    }
    let mut lines = vec![
        ("job", view.id.to_string()),
        ("key", view.key.clone()),
        ("state", view.state.clone()),
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
        view.created_at, view.origin
    )?;
    for step in view.history.iter().flatten() {
        let note = step
            .note
            .as_deref()
            .map(|n| format!(": {n}"))
            .unwrap_or_default();
        writeln!(
            out.stdout,
            "             {}  {} → {}{note}",
            crate::util::rfc3339(step.at),
            step.from,
            step.to
        )?;
    }
    Ok(0)
}

/// One line per job; refusals on stderr, and then exit code 1.
pub fn retried(outcomes: &[RetryOutcome], out: &mut Out) -> anyhow::Result<u8> {
    if outcomes.is_empty() {
        writeln!(out.stdout, "no failed jobs")?;
    }
    let mut refused = false;
    for outcome in outcomes {
        match (outcome, outcome.refusal()) {
            (RetryOutcome::Retried { job, from }, _) => writeln!(
                out.stdout,
                "job {} {}: {from} → {}",
                job.id, job.key, job.state
            )?,
            (_, refusal) => {
                refused = true;
                writeln!(out.stderr, "clipwatch: {}", refusal.unwrap_or_default())?;
            }
        }
    }
    Ok(if refused { EXIT_FAILURE } else { 0 })
}

pub fn forgotten(job: &JobRef, out: &mut Out) -> anyhow::Result<u8> {
    writeln!(
        out.stdout,
        "forgot {} (job {}); it will be clipped again when next seen",
        job.key, job.id
    )?;
    Ok(0)
}
