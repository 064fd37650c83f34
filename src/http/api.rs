//! `/api/v1/…`: the CLI's `--json` output, produced by the very code the
//! CLI runs (`crate::cli::execute`), so both always agree. Actions answer
//! with the job as `show --json` prints it.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::App;
use crate::cli::{Command, Ctx, Out};

/// What a command printed, as an HTTP answer.
pub struct Answer {
    pub code: u8,
    pub out: Out,
}

/// Run one CLI command inside the daemon, as the control socket does.
pub async fn run(app: &App, command: Command) -> Result<Answer, anyhow::Error> {
    let ctx = Ctx {
        config: app.pipeline.config(),
        store: app.pipeline.store.clone(),
        pipeline: Some(app.pipeline.clone()),
    };
    let mut out = Out::default();
    let code = crate::cli::execute(&ctx, command, &mut out).await?;
    out.stdout = crate::secret::redact_urls_in(&out.stdout);
    out.stderr = crate::secret::redact_urls_in(&out.stderr);
    Ok(Answer { code, out })
}

/// A read command's JSON, or the error it printed.
pub async fn json(app: &App, command: Command) -> Response {
    match run(app, command).await {
        Ok(Answer { code: 0, out }) => (
            [(axum::http::header::CONTENT_TYPE, "application/json")],
            out.stdout,
        )
            .into_response(),
        Ok(Answer { code, out }) => error(
            if code == crate::cli::EXIT_USAGE {
                StatusCode::BAD_REQUEST
            } else {
                StatusCode::CONFLICT
            },
            out.stderr.trim().trim_start_matches("clipwatch: "),
        ),
        Err(err) => failed(&err),
    }
}

/// `{"error": …}` with `status`.
pub fn error(status: StatusCode, message: &str) -> Response {
    (status, axum::Json(serde_json::json!({ "error": message }))).into_response()
}

/// A command that failed: 404 for an unknown job, 500 otherwise.
pub fn failed(err: &anyhow::Error) -> Response {
    let message = crate::secret::redact_urls_in(&format!("{err:#}"));
    let status = match err.downcast_ref::<crate::store::StoreError>() {
        Some(crate::store::StoreError::NotFound(_)) => StatusCode::NOT_FOUND,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    };
    error(status, &message)
}

pub fn show(job: &str) -> Command {
    Command::Show {
        job: job.to_string(),
        json: true,
    }
}

/// The job number a `submit` printed ("queued job 7 for …", "… is already
/// known as job 7 (done)").
pub fn submitted_job(stdout: &str) -> Option<String> {
    let after = stdout.split("job ").nth(1)?;
    let id: String = after.chars().take_while(char::is_ascii_digit).collect();
    (!id.is_empty()).then_some(id)
}

/// Submit, retry or forget `job`, then answer with the job's JSON (for
/// forget: as it was just before).
pub async fn act(app: &App, command: Command) -> Response {
    let before = match &command {
        Command::Forget { key } => match run(app, show(key)).await {
            Ok(answer) if answer.code == 0 => Some(answer.out.stdout),
            Ok(_) => None,
            Err(err) => return failed(&err),
        },
        _ => None,
    };
    let target = match &command {
        Command::Retry { job, .. } => job.clone(),
        _ => None,
    };
    let done = match run(app, command).await {
        Ok(done) => done,
        Err(err) => return failed(&err),
    };
    if done.code != 0 {
        let status = if done.code == crate::cli::EXIT_USAGE {
            StatusCode::BAD_REQUEST
        } else {
            StatusCode::CONFLICT
        };
        return error(
            status,
            done.out.stderr.trim().trim_start_matches("clipwatch: "),
        );
    }
    if let Some(before) = before {
        return (
            [(axum::http::header::CONTENT_TYPE, "application/json")],
            before,
        )
            .into_response();
    }
    match target.or_else(|| submitted_job(&done.out.stdout)) {
        Some(job) => json(app, show(&job)).await,
        None => error(StatusCode::INTERNAL_SERVER_ERROR, done.out.stdout.trim()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_job_number_is_read_from_what_submit_printed() {
        assert_eq!(
            submitted_job("queued job 12 for youtube:x\n").as_deref(),
            Some("12")
        );
        assert_eq!(
            submitted_job("youtube:x is already known as job 3 (done)\n").as_deref(),
            Some("3")
        );
        assert_eq!(submitted_job("nothing"), None);
    }
}
