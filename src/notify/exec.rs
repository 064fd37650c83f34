//! `kind = "exec"`: run the configured program (argv, no shell) with the
//! event's JSON on stdin and `CLIPWATCH_EVENT`, `CLIPWATCH_EVENT_ID`,
//! `CLIPWATCH_JOB` and `CLIPWATCH_FOLDER` in its environment. Exit 0 is
//! delivered; anything else, or running past the sink's timeout (the
//! program is killed), is retried.

use std::process::Stdio;

use tokio::io::AsyncWriteExt;

use super::payload::Rendered;
use super::send::Outcome;
use crate::config::SinkConfig;

/// The last part of the program's stderr kept in an error.
const STDERR_CHARS: usize = 200;

pub async fn run(sink: &SinkConfig, event: &Rendered) -> Outcome {
    let body = serde_json::to_vec(&event.json).expect("the payload serializes");
    let mut command = tokio::process::Command::new(&sink.command[0]);
    command
        .args(&sink.command[1..])
        .env("CLIPWATCH_EVENT", &event.event)
        .env("CLIPWATCH_EVENT_ID", &event.id)
        .env(
            "CLIPWATCH_JOB",
            event.job_number.map(|n| n.to_string()).unwrap_or_default(),
        )
        .env(
            "CLIPWATCH_FOLDER",
            event
                .folder
                .as_ref()
                .map(|f| f.display().to_string())
                .unwrap_or_default(),
        )
        // The daemon's own secrets are not the script's business.
        .env_remove(crate::config::API_KEY_ENV)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let mut child = match command.spawn() {
        Ok(child) => child,
        Err(err) => {
            return Outcome::Retry {
                error: format!("cannot run {}: {err}", sink.command[0]),
                after: None,
            }
        }
    };
    let mut stdin = child.stdin.take().expect("stdin is piped");
    let finished = tokio::time::timeout(sink.timeout, async move {
        // A program that does not read its stdin is not an error.
        let _ = stdin.write_all(&body).await;
        drop(stdin);
        child.wait_with_output().await
    })
    .await;
    match finished {
        Err(_) => Outcome::Retry {
            error: format!(
                "{} did not finish within {} (killed)",
                sink.command[0],
                humantime::format_duration(sink.timeout)
            ),
            after: None,
        },
        Ok(Err(err)) => Outcome::Retry {
            error: format!("{}: {err}", sink.command[0]),
            after: None,
        },
        Ok(Ok(output)) if output.status.success() => Outcome::Delivered("exit 0".into()),
        Ok(Ok(output)) => {
            let code = output
                .status
                .code()
                .map_or("killed by a signal".to_owned(), |c| format!("exit {c}"));
            let stderr = String::from_utf8_lossy(&output.stderr);
            let tail: String = {
                let trimmed = stderr.trim();
                let skip = trimmed.chars().count().saturating_sub(STDERR_CHARS);
                trimmed.chars().skip(skip).collect()
            };
            let error = if tail.is_empty() {
                code
            } else {
                format!("{code}: {}", crate::secret::redact_urls_in(&tail))
            };
            Outcome::Retry { error, after: None }
        }
    }
}
