//! `/api/v1/…`: the same [`crate::commands`] requests the CLI and the
//! control socket send, answered with the same JSON the CLI prints for
//! `--json`, so every front end agrees. Actions answer with the job as
//! `show --json` prints it.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::App;
use crate::commands::{self, CommandError, ErrorKind, Reply, Request, RetryOutcome};

/// Run one request inside the daemon, as the control socket does. Submits
/// from the web may name links only, never a file of the server's.
pub async fn run(app: &App, request: Request) -> Result<Reply, CommandError> {
    let ctx = commands::Context {
        config: app.pipeline.config(),
        store: app.pipeline.store.clone(),
        pipeline: Some(app.pipeline.clone()),
        local_files: false,
    };
    commands::execute(&ctx, request).await
}

/// A reply's data exactly as the CLI's `--json` prints it, with URL
/// credentials redacted.
pub fn reply_json(reply: &Reply) -> String {
    let text = match reply {
        Reply::Status(report) => serde_json::to_string_pretty(&report.to_json()),
        Reply::Jobs(views) => serde_json::to_string_pretty(views),
        Reply::Job(view) => serde_json::to_string_pretty(view),
        Reply::Submitted(submitted) => serde_json::to_string_pretty(submitted),
        Reply::Retried(outcomes) => serde_json::to_string_pretty(outcomes),
        Reply::Forgotten(job) => serde_json::to_string_pretty(job),
        Reply::Feeds(views) => serde_json::to_string_pretty(views),
        Reply::Exporting(exporting) => serde_json::to_string_pretty(exporting),
    }
    .expect("a reply serializes");
    crate::secret::redact_urls_in(&text) + "\n"
}

/// A read request's JSON, or its error.
pub async fn json(app: &App, request: Request) -> Response {
    match run(app, request).await {
        Ok(reply) => json_body(reply_json(&reply)),
        Err(err) => command_error(&err),
    }
}

fn json_body(text: String) -> Response {
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        text,
    )
        .into_response()
}

/// `{"error": …}` with `status`.
pub fn error(status: StatusCode, message: &str) -> Response {
    (status, axum::Json(serde_json::json!({ "error": message }))).into_response()
}

/// A refused or failed request: 400 for a bad one, 404 for an unknown job,
/// 409 when the job's state does not allow it, 500 otherwise.
pub fn command_error(err: &CommandError) -> Response {
    let status = match err.kind {
        ErrorKind::Usage | ErrorKind::BadRequest => StatusCode::BAD_REQUEST,
        ErrorKind::NotFound => StatusCode::NOT_FOUND,
        ErrorKind::Refused => StatusCode::CONFLICT,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    };
    error(status, &crate::secret::redact_urls_in(&err.message))
}

pub fn show(job: &str) -> Request {
    Request::Show {
        job: job.to_string(),
    }
}

/// The job number a reply is about, when it names one.
pub fn job_of(reply: &Reply) -> Result<Option<String>, CommandError> {
    Ok(match reply {
        Reply::Submitted(submitted) => Some(submitted.job().id.to_string()),
        Reply::Forgotten(job) => Some(job.id.to_string()),
        Reply::Exporting(exporting) => Some(exporting.job.id.to_string()),
        Reply::Retried(outcomes) => match outcomes.first() {
            Some(RetryOutcome::Retried { job, .. }) => Some(job.id.to_string()),
            Some(refused) => {
                return Err(CommandError {
                    kind: ErrorKind::Refused,
                    message: refused.refusal().unwrap_or_default(),
                })
            }
            None => None,
        },
        Reply::Job(view) => Some(view.id.to_string()),
        _ => None,
    })
}

/// Submit, retry or forget, then answer with the job's JSON (for forget: as
/// it was just before).
pub async fn act(app: &App, request: Request) -> Response {
    let before = match &request {
        Request::Forget { job } => match run(app, show(job)).await {
            Ok(reply) => Some(reply_json(&reply)),
            Err(err) => return command_error(&err),
        },
        _ => None,
    };
    let done = match run(app, request).await.and_then(|reply| job_of(&reply)) {
        Ok(done) => done,
        Err(err) => return command_error(&err),
    };
    if let Some(before) = before {
        return json_body(before);
    }
    match done {
        Some(job) => json(app, show(&job)).await,
        None => error(StatusCode::INTERNAL_SERVER_ERROR, "no job in the answer"),
    }
}
