//! The control socket `<state.dir>/control.sock` (mode 0600): while the
//! daemon holds the database, the CLI's store commands run inside it. One
//! JSON line each way: the command's arguments in, its output and exit code
//! out, rendered by the same code that runs when no daemon is up.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::cli::{Cli, Ctx, Out, EXIT_USAGE};
use crate::config::Config;
use crate::pipeline::Pipeline;

pub const SOCKET_NAME: &str = "control.sock";
/// Longest request line accepted (arguments are short).
const MAX_REQUEST_BYTES: usize = 64 * 1024;

#[derive(Debug, Serialize, Deserialize)]
struct Request {
    args: Vec<String>,
}

/// The daemon's answer: a command's output and exit code.
#[derive(Debug, Serialize, Deserialize)]
pub struct Reply {
    pub code: u8,
    pub out: Out,
}

impl Reply {
    /// Print the output as if the command had run here; return its code.
    pub fn print(&self) -> u8 {
        self.out.print_with(self.code)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    #[error(
        "clipwatch is already running with state directory {0} (its control socket answers); \
         stop it first or use the commands that talk to it"
    )]
    AlreadyRunning(PathBuf),
    #[error("control socket {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the daemon's reply could not be read: {0}")]
    BadReply(String),
}

pub fn socket_path(state_dir: &Path) -> PathBuf {
    state_dir.join(SOCKET_NAME)
}

/// Send `args` (a command line without the program name) to the running
/// daemon. `Ok(None)` when no daemon listens (no socket, or a stale one).
pub async fn ask(state_dir: &Path, args: &[String]) -> Result<Option<Reply>, ControlError> {
    let path = socket_path(state_dir);
    let Ok(stream) = UnixStream::connect(&path).await else {
        return Ok(None);
    };
    let io = |source| ControlError::Io {
        path: path.clone(),
        source,
    };
    let (read, mut write) = stream.into_split();
    let mut line = serde_json::to_vec(&Request {
        args: args.to_vec(),
    })
    .expect("request serializes");
    line.push(b'\n');
    write.write_all(&line).await.map_err(io)?;
    write.shutdown().await.map_err(io)?;
    let mut reply = String::new();
    BufReader::new(read)
        .read_line(&mut reply)
        .await
        .map_err(io)?;
    serde_json::from_str(&reply)
        .map(Some)
        .map_err(|e| ControlError::BadReply(e.to_string()))
}

/// A bound control socket; the file is removed when this is dropped.
pub struct ControlSocket {
    listener: UnixListener,
    path: PathBuf,
}

impl ControlSocket {
    /// Bind the socket, refusing if another daemon answers on it and
    /// replacing a stale one left by a crash.
    pub async fn bind(state_dir: &Path) -> Result<ControlSocket, ControlError> {
        let path = socket_path(state_dir);
        let io = |source| ControlError::Io {
            path: path.clone(),
            source,
        };
        std::fs::create_dir_all(state_dir).map_err(io)?;
        if path.exists() {
            if UnixStream::connect(&path).await.is_ok() {
                return Err(ControlError::AlreadyRunning(state_dir.to_path_buf()));
            }
            tracing::info!(socket = %path.display(), "removing a stale control socket");
            std::fs::remove_file(&path).map_err(io)?;
        }
        let listener = UnixListener::bind(&path).map_err(io)?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).map_err(io)?;
        Ok(ControlSocket { listener, path })
    }

    /// Answer requests until `cancel`.
    pub async fn serve(
        self,
        pipeline: Pipeline,
        config: watch::Receiver<Arc<Config>>,
        cancel: CancellationToken,
    ) {
        loop {
            let stream = tokio::select! {
                () = cancel.cancelled() => break,
                accepted = self.listener.accept() => match accepted {
                    Ok((stream, _)) => stream,
                    Err(err) => {
                        tracing::warn!("control socket: {err}");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                },
            };
            let ctx = Ctx {
                config: config.borrow().clone(),
                store: pipeline.store.clone(),
                pipeline: Some(pipeline.clone()),
            };
            tokio::spawn(async move {
                if let Err(err) = answer(stream, ctx).await {
                    tracing::debug!("control socket request: {err}");
                }
            });
        }
    }
}

impl Drop for ControlSocket {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

async fn answer(stream: UnixStream, ctx: Ctx) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut line = Vec::new();
    let mut reader = BufReader::new(read).take(MAX_REQUEST_BYTES as u64);
    reader.read_until(b'\n', &mut line).await?;
    let reply = match serde_json::from_slice::<Request>(&line) {
        Ok(request) => run_command(&ctx, request.args).await,
        Err(err) => usage_error(format!("bad request: {err}")),
    };
    let mut bytes = serde_json::to_vec(&reply).expect("reply serializes");
    bytes.push(b'\n');
    write.write_all(&bytes).await?;
    write.shutdown().await
}

async fn run_command(ctx: &Ctx, args: Vec<String>) -> Reply {
    let argv = std::iter::once("clipwatch".to_string()).chain(args);
    let cli = match Cli::try_parse_from(argv) {
        Ok(cli) => cli,
        Err(err) => return usage_error(err.to_string()),
    };
    let mut out = Out::default();
    let code = match crate::cli::execute(ctx, cli.command, &mut out).await {
        Ok(code) => code,
        Err(err) => {
            out.stderr.push_str(&format!("clipwatch: {err:#}\n"));
            crate::cli::EXIT_FAILURE
        }
    };
    Reply { code, out }
}

fn usage_error(message: String) -> Reply {
    Reply {
        code: EXIT_USAGE,
        out: Out {
            stdout: String::new(),
            stderr: format!("clipwatch: {message}\n"),
        },
    }
}

use tokio::io::AsyncReadExt as _;
