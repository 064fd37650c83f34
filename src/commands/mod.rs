//! The operations every front end offers — the command line, the daemon's
//! control socket, the HTTP API — as typed data: a [`Request`] in, a
//! [`Reply`] or a [`CommandError`] out, both serde (JSON). One function,
//! [`execute`], runs a request against the store and, inside the daemon,
//! the running pipeline; front ends only translate (clap → `Request`,
//! `Reply` → text or JSON) and never re-parse another front end's input.
//!
//! A reply is data, not text: its `data` is what `--json` prints (see
//! README.md), so every front end shows the same thing. How a reply reads
//! for people is the command line's business.
//!
//! [`protocol`] frames requests and replies with a protocol version for the
//! control socket.
//!
//! A new operation is a [`Request`] variant, the [`Reply`] variant it
//! answers with, an arm in [`execute`], and its rendering in `cli`; adding
//! one keeps [`protocol::PROTOCOL_VERSION`] (an older daemon answers
//! `bad_request`), changing or removing one bumps it.

mod export;
mod feeds;
mod jobs;
pub mod protocol;
mod status;
mod submit;
mod view;

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::config::Config;
use crate::pipeline::Pipeline;
use crate::store::{Store, StoreError};

pub use export::Exporting;
pub use feeds::FeedView;
pub use jobs::{JobRef, RetryOutcome};
pub use status::{FeedHealth, LiveStatus, StatusReport, SubmitPaused, Units};
pub use submit::Submitted;
pub use view::JobView;

/// Exit codes of the `clipwatch` process: 0 ok, 1 runtime failure, 2 usage
/// error, 78 configuration error (sysexits' `EX_CONFIG`).
pub const EXIT_FAILURE: u8 = 1;
pub const EXIT_USAGE: u8 = 2;
pub const EXIT_CONFIG: u8 = 78;

/// One operation on the jobs and feeds. On the wire: an object whose
/// `command` names the variant (`{"command": "show", "job": "3"}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "snake_case", deny_unknown_fields)]
pub enum Request {
    /// Counts per state, API units, running tasks, feed health and (inside
    /// the daemon) live figures.
    Status,
    /// Jobs, oldest first, optionally only those in one state (a name of
    /// `State::NAMES`) and from one feed.
    Jobs {
        #[serde(default)]
        state: Option<String>,
        #[serde(default)]
        feed: Option<String>,
    },
    /// One job by number (`42`, `#42`) or canonical key, with its history.
    Show { job: String },
    /// Queue one video by URL or by local file (an absolute path: the
    /// daemon has its own working directory). Never waits for the result.
    Submit {
        target: String,
        #[serde(default)]
        preset: Option<String>,
        #[serde(default)]
        name: Option<String>,
        #[serde(default)]
        force: bool,
    },
    /// Queue one failed or skipped job again.
    Retry { job: String },
    /// Queue every failed job again.
    RetryFailed,
    /// Drop a finished job so that its source is clipped again when seen.
    Forget { job: String },
    /// Each configured feed's health.
    Feeds,
    /// Render a finished job's clips again with another preset's export
    /// options (a Clips Export task) into a subfolder named after it.
    Export { job: String, preset: String },
}

/// What a [`Request`] produced. On the wire: `{"kind": "<variant>",
/// "data": …}`, where `data` is exactly what the command's `--json` prints
/// (for `status`, `jobs`, `show` and `feeds`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "data", rename_all = "snake_case")]
pub enum Reply {
    Status(Box<StatusReport>),
    Jobs(Vec<JobView>),
    /// `show`: the job in detail (options and history included).
    Job(Box<JobView>),
    Submitted(Submitted),
    /// `retry` and `retry_failed`: one outcome per job considered, in order
    /// (none when no job had failed).
    Retried(Vec<RetryOutcome>),
    Forgotten(JobRef),
    Feeds(Vec<FeedView>),
    /// `export`: the job is back in `processing` for the re-render.
    Exporting(Exporting),
}

/// Why a request was not carried out. On the wire: `{"kind": …,
/// "message": …}`; the message is for people and names what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[error("{message}")]
pub struct CommandError {
    pub kind: ErrorKind,
    pub message: String,
}

/// The class of a [`CommandError`], for exit codes and HTTP statuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// The request names something that does not exist in the
    /// configuration or cannot be taken (unknown state or preset, not a
    /// video file, unsupported URL).
    Usage,
    /// No such job.
    NotFound,
    /// The job is not in a state this operation applies to.
    Refused,
    /// The store or the system failed.
    Failed,
    /// The request could not be read (bad JSON, unknown command); from a
    /// front end's framing, never from [`execute`].
    BadRequest,
    /// Client and daemon speak different protocol versions.
    Protocol,
    /// The daemon serves as many connections as it allows.
    Busy,
    /// A kind this version does not know (sent by a newer daemon).
    #[serde(other)]
    Other,
}

impl ErrorKind {
    /// The process exit code a command line uses for this error.
    pub fn exit_code(self) -> u8 {
        match self {
            ErrorKind::Usage | ErrorKind::BadRequest => EXIT_USAGE,
            _ => EXIT_FAILURE,
        }
    }
}

impl CommandError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> CommandError {
        CommandError {
            kind,
            message: message.into(),
        }
    }

    pub fn usage(message: impl Into<String>) -> CommandError {
        CommandError::new(ErrorKind::Usage, message)
    }

    pub fn refused(message: impl Into<String>) -> CommandError {
        CommandError::new(ErrorKind::Refused, message)
    }

    /// A failure below the command (store, file system), with its causes;
    /// URL credentials are hidden.
    pub fn failed(err: impl std::error::Error) -> CommandError {
        let message = crate::util::error_chain(&err);
        CommandError::new(ErrorKind::Failed, crate::secret::redact_urls_in(&message))
    }
}

impl From<StoreError> for CommandError {
    fn from(err: StoreError) -> CommandError {
        match err {
            StoreError::NotFound(_) => CommandError::new(ErrorKind::NotFound, err.to_string()),
            other => CommandError::failed(other),
        }
    }
}

/// What a request runs against.
#[derive(Clone)]
pub struct Context {
    /// The configuration in force (the daemon's current one, inside it).
    pub config: Arc<Config>,
    pub store: Store,
    /// Set inside the daemon: lets commands wake the scheduler and report
    /// live figures.
    pub pipeline: Option<Pipeline>,
    /// Whether `submit` may name a file on this machine: yes for the
    /// command line and the control socket (its peer is this user); a
    /// front end serving others (HTTP) says no, so that a request can only
    /// name URLs.
    pub local_files: bool,
}

impl Context {
    /// Tell the scheduler (if this is the daemon) that jobs were queued.
    fn wake(&self) {
        if let Some(pipeline) = &self.pipeline {
            pipeline.wake();
        }
    }
}

/// Run `request`. Every front end calls this, so a request gives the same
/// reply whoever runs it.
pub async fn execute(ctx: &Context, request: Request) -> Result<Reply, CommandError> {
    match request {
        Request::Status => status::status(ctx).map(|report| Reply::Status(Box::new(report))),
        Request::Jobs { state, feed } => {
            jobs::list(ctx, state.as_deref(), feed.as_deref()).map(Reply::Jobs)
        }
        Request::Show { job } => jobs::show(ctx, &job).map(|view| Reply::Job(Box::new(view))),
        Request::Submit {
            target,
            preset,
            name,
            force,
        } => {
            let submit = submit::Submit {
                target,
                preset,
                name,
                force,
            };
            submit::queue(ctx, &submit).await.map(Reply::Submitted)
        }
        Request::Retry { job } => jobs::retry(ctx, Some(&job)).await.map(Reply::Retried),
        Request::RetryFailed => jobs::retry(ctx, None).await.map(Reply::Retried),
        Request::Forget { job } => jobs::forget(ctx, &job).await.map(Reply::Forgotten),
        Request::Feeds => feeds::list(ctx).map(Reply::Feeds),
        Request::Export { job, preset } => export::export(ctx, &job, &preset)
            .await
            .map(Reply::Exporting),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_read_as_documented() {
        let cases = [
            (r#"{"command":"status"}"#, Request::Status),
            (
                r#"{"command":"jobs","state":"failed"}"#,
                Request::Jobs {
                    state: Some("failed".into()),
                    feed: None,
                },
            ),
            (
                r#"{"command":"retry","job":"3"}"#,
                Request::Retry { job: "3".into() },
            ),
            (r#"{"command":"retry_failed"}"#, Request::RetryFailed),
            (
                r#"{"command":"submit","target":"https://youtu.be/x"}"#,
                Request::Submit {
                    target: "https://youtu.be/x".into(),
                    preset: None,
                    name: None,
                    force: false,
                },
            ),
        ];
        for (text, request) in cases {
            assert_eq!(
                serde_json::from_str::<Request>(text).unwrap(),
                request,
                "{text}"
            );
            let again = serde_json::to_string(&request).unwrap();
            assert_eq!(serde_json::from_str::<Request>(&again).unwrap(), request);
        }
    }

    #[test]
    fn unknown_commands_and_fields_are_refused() {
        assert!(serde_json::from_str::<Request>(r#"{"command":"reboot"}"#).is_err());
        assert!(serde_json::from_str::<Request>(r#"{"command":"show","job":"1","x":1}"#).is_err());
    }

    #[test]
    fn error_kinds_map_to_exit_codes() {
        assert_eq!(ErrorKind::Usage.exit_code(), EXIT_USAGE);
        assert_eq!(ErrorKind::NotFound.exit_code(), EXIT_FAILURE);
        let unknown: CommandError =
            serde_json::from_str(r#"{"kind":"teapot","message":"m"}"#).unwrap();
        assert_eq!(unknown.kind, ErrorKind::Other);
    }
}
