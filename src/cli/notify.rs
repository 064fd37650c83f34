//! `clipwatch notify test [NAME]`: a thin front end over
//! [`crate::notify::test_sinks`]. It runs here, not in the daemon: it needs
//! only the configuration and the network.

use clap::Subcommand;

use super::EXIT_FAILURE;
use crate::config::Config;

#[derive(Debug, Clone, Subcommand)]
pub enum NotifyAction {
    /// Send a test event to the sink NAME (default: every sink) and print each result: HTTP status or exit code (exit 1 if any failed).
    Test {
        /// A `[[notify]]` sink's name.
        name: Option<String>,
        /// Print the results as JSON (name, kind, target, ok, result).
        #[arg(long)]
        json: bool,
    },
}

pub async fn run(config: &Config, action: NotifyAction) -> anyhow::Result<u8> {
    let NotifyAction::Test { name, json } = action;
    if config.notify.sinks.is_empty() {
        anyhow::bail!(
            "no notification sinks in {}: add a [[notify]] section (see README, \"Notifications\")",
            config.path.display()
        );
    }
    let results = crate::notify::test_sinks(config, name.as_deref()).await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&results)?);
    } else {
        for r in &results {
            let verdict = if r.ok { "ok" } else { "FAILED" };
            println!(
                "{} ({} {}): {verdict}: {}",
                r.name, r.kind, r.target, r.result
            );
        }
    }
    Ok(if results.iter().all(|r| r.ok) {
        0
    } else {
        EXIT_FAILURE
    })
}

/// `clipwatch status`: per sink, the last success, the last error and the
/// events waiting.
pub fn status_lines(
    sinks: &[crate::notify::SinkStatus],
    out: &mut super::Out,
) -> anyhow::Result<()> {
    use std::fmt::Write as _;
    if sinks.is_empty() {
        return Ok(());
    }
    writeln!(out.stdout, "notifications: {} sink(s)", sinks.len())?;
    let when = |at: Option<chrono::DateTime<chrono::Utc>>| {
        at.map_or("never".to_owned(), crate::util::rfc3339)
    };
    for s in sinks {
        let mut line = format!(
            "  {} ({} {}): {} pending; last success {}",
            s.name,
            s.kind,
            s.target,
            s.pending,
            when(s.last_success)
        );
        if let Some(result) = &s.last_success_result {
            line.push_str(&format!(" ({result})"));
        }
        if let Some(message) = &s.last_error_message {
            line.push_str(&format!("; last error {}: {message}", when(s.last_error)));
        }
        if s.dropped > 0 {
            line.push_str(&format!("; {} dropped", s.dropped));
        }
        writeln!(out.stdout, "{line}")?;
    }
    Ok(())
}
