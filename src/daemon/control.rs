//! The control socket `<state.dir>/control.sock` (mode 0600): while the
//! daemon holds the database, the CLI's store commands run inside it. One
//! JSON line each way, framed with a protocol version
//! ([`crate::commands::protocol`]): a typed request in, its reply or error
//! out, computed by the same [`crate::commands::execute`] that runs when no
//! daemon is up.
//!
//! Robustness: a connection must send its request within
//! [`REQUEST_TIMEOUT`]; at most [`MAX_CONNECTIONS`] are served at once, and
//! a new one evicts the oldest still waiting for its request (so idle
//! connections can never lock the CLI out or exhaust file handles); accept
//! errors back off. The socket file is checked every [`SOCKET_CHECK`] and
//! bound again if it was deleted or replaced.
//!
//! Trust: both ends check that the other runs as the same user (or root)
//! with `SO_PEERCRED`, and the client checks the socket file's owner before
//! connecting (the state directory itself is checked at start-up, see
//! [`super::guard`]).

use std::collections::BTreeMap;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::commands::protocol::{self, Incoming};
use crate::commands::{CommandError, Context, ErrorKind, Reply, Request};
use crate::config::Config;
use crate::pipeline::Pipeline;

pub const SOCKET_NAME: &str = "control.sock";
/// Longest request line accepted (requests are short).
const MAX_REQUEST_BYTES: usize = 64 * 1024;
/// A connection that has not sent its whole request by then is closed.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// Connections served at once.
pub const MAX_CONNECTIONS: usize = 32;
/// How long the CLI waits for the daemon's answer, unless
/// [`CLIENT_TIMEOUT_ENV`] says otherwise.
pub const CLIENT_TIMEOUT: Duration = Duration::from_secs(60);
/// Overrides [`CLIENT_TIMEOUT`], e.g. `CLIPWATCH_CONTROL_TIMEOUT=5s`.
pub const CLIENT_TIMEOUT_ENV: &str = "CLIPWATCH_CONTROL_TIMEOUT";
/// How often the daemon checks that its socket file is still there.
pub const SOCKET_CHECK: Duration = Duration::from_secs(1);
/// Longest pause after repeated accept errors (e.g. out of file handles).
const ACCEPT_BACKOFF_MAX: Duration = Duration::from_secs(5);

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
    #[error(
        "control socket {path} belongs to user id {owner}, not to this user ({me}); refusing to \
         talk to it. Check who can write to the state directory, remove the socket and \
         restart clipwatch"
    )]
    ForeignSocket { path: PathBuf, owner: u32, me: u32 },
    #[error(
        "control socket {path} is served by a process of user id {peer}, not of this user \
         ({me}); refusing to send it anything. Another user may be impersonating the daemon: \
         stop that process and restart clipwatch"
    )]
    ForeignPeer { path: PathBuf, peer: u32, me: u32 },
    #[error(
        "the daemon did not answer on {path} within {}; it may be overloaded or stuck: see \
         its log (journalctl -u clipwatch), or restart it",
        humantime::format_duration(*.timeout)
    )]
    Timeout { path: PathBuf, timeout: Duration },
}

pub fn socket_path(state_dir: &Path) -> PathBuf {
    state_dir.join(SOCKET_NAME)
}

/// The daemon's answer to a request: its reply, or why it was not carried
/// out (including a protocol version mismatch, or that it is busy).
pub type Answer = Result<Reply, CommandError>;

/// Send `request` to the running daemon. `Ok(None)` when no daemon listens
/// (no socket, or a stale one). Refuses a socket or a peer of another user,
/// and gives up after [`CLIENT_TIMEOUT`].
pub async fn ask(state_dir: &Path, request: &Request) -> Result<Option<Answer>, ControlError> {
    let path = socket_path(state_dir);
    let timeout = client_timeout();
    match tokio::time::timeout(timeout, ask_once(&path, request)).await {
        Ok(answer) => answer,
        Err(_) => Err(ControlError::Timeout { path, timeout }),
    }
}

fn client_timeout() -> Duration {
    std::env::var(CLIENT_TIMEOUT_ENV)
        .ok()
        .and_then(|v| humantime::parse_duration(v.trim()).ok())
        .unwrap_or(CLIENT_TIMEOUT)
}

async fn ask_once(path: &Path, request: &Request) -> Result<Option<Answer>, ControlError> {
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return Ok(None);
    };
    if !super::guard::trusted_owner(meta.uid()) {
        return Err(ControlError::ForeignSocket {
            path: path.to_path_buf(),
            owner: meta.uid(),
            me: super::guard::euid(),
        });
    }
    let io = |source| ControlError::Io {
        path: path.to_path_buf(),
        source,
    };
    let stream = loop {
        match UnixStream::connect(path).await {
            Ok(stream) => break stream,
            // The backlog is full: the daemon is draining it.
            Err(err) if err.kind() == std::io::ErrorKind::WouldBlock => {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(_) => return Ok(None),
        }
    };
    check_peer(&stream, path)?;
    let (read, mut write) = stream.into_split();
    write
        .write_all(&protocol::encode_request(request))
        .await
        .map_err(io)?;
    write.shutdown().await.map_err(io)?;
    let mut reply = String::new();
    BufReader::new(read)
        .read_line(&mut reply)
        .await
        .map_err(io)?;
    if reply.is_empty() {
        return Err(ControlError::BadReply(
            "the daemon closed the connection without answering".into(),
        ));
    }
    protocol::decode_reply(&reply)
        .map(Some)
        .map_err(ControlError::BadReply)
}

/// The peer of `stream` must run as this user or as root.
fn check_peer(stream: &UnixStream, path: &Path) -> Result<(), ControlError> {
    let cred = stream.peer_cred().map_err(|source| ControlError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    if super::guard::trusted_owner(cred.uid()) {
        Ok(())
    } else {
        Err(ControlError::ForeignPeer {
            path: path.to_path_buf(),
            peer: cred.uid(),
            me: super::guard::euid(),
        })
    }
}

/// A bound control socket; the file is removed when this is dropped.
pub struct ControlSocket {
    listener: UnixListener,
    path: PathBuf,
    /// The socket file's inode, to notice it was deleted or replaced.
    inode: u64,
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
        if std::fs::symlink_metadata(&path).is_ok() {
            if UnixStream::connect(&path).await.is_ok() {
                return Err(ControlError::AlreadyRunning(state_dir.to_path_buf()));
            }
            tracing::info!(socket = %path.display(), "removing a stale control socket");
            std::fs::remove_file(&path).map_err(io)?;
        }
        let (listener, inode) = listen(&path).map_err(io)?;
        Ok(ControlSocket {
            listener,
            path,
            inode,
        })
    }

    /// Answer requests until `cancel`.
    pub async fn serve(
        mut self,
        pipeline: Pipeline,
        config: watch::Receiver<Arc<Config>>,
        cancel: CancellationToken,
    ) {
        let slots = Arc::new(Mutex::new(Slots::default()));
        let mut check = tokio::time::interval(SOCKET_CHECK);
        check.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        let mut backoff = Backoff::default();
        loop {
            let stream = tokio::select! {
                () = cancel.cancelled() => break,
                _ = check.tick() => {
                    self.ensure_file();
                    continue;
                }
                accepted = self.listener.accept() => match accepted {
                    Ok((stream, _)) => {
                        backoff.reset();
                        stream
                    }
                    Err(err) => {
                        let pause = backoff.next(&err);
                        tokio::select! {
                            () = cancel.cancelled() => break,
                            () = tokio::time::sleep(pause) => {}
                        }
                        continue;
                    }
                },
            };
            let Some(slot) = Slots::admit(&slots) else {
                tokio::spawn(refuse_busy(stream));
                continue;
            };
            let ctx = Context {
                config: config.borrow().clone(),
                store: pipeline.store.clone(),
                pipeline: Some(pipeline.clone()),
                local_files: true,
            };
            tokio::spawn(async move {
                if let Err(err) = answer(stream, ctx, &slot).await {
                    tracing::debug!("control socket request: {err}");
                }
                drop(slot);
            });
        }
    }

    /// Bind the socket again if its file was deleted or replaced (a CLI
    /// would otherwise find no daemon and wait for the database in vain).
    fn ensure_file(&mut self) {
        let current = std::fs::symlink_metadata(&self.path).ok();
        if current.as_ref().is_some_and(|m| m.ino() == self.inode) {
            return;
        }
        let what = if current.is_some() {
            "replaced by another file"
        } else {
            "deleted"
        };
        if current.is_some() {
            if let Err(err) = std::fs::remove_file(&self.path) {
                tracing::warn!(socket = %self.path.display(), "control socket was {what} and cannot be removed: {err}");
                return;
            }
        }
        match listen(&self.path) {
            Ok((listener, inode)) => {
                self.listener = listener;
                self.inode = inode;
                tracing::warn!(socket = %self.path.display(), "control socket was {what}; created it again");
            }
            Err(err) => {
                tracing::warn!(socket = %self.path.display(), "control socket was {what} and cannot be created again: {err}")
            }
        }
    }
}

/// A listening socket at `path`, mode 0600, and its inode.
fn listen(path: &Path) -> std::io::Result<(UnixListener, u64)> {
    let listener = UnixListener::bind(path)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    let inode = std::fs::symlink_metadata(path)?.ino();
    Ok((listener, inode))
}

/// Pauses after accept errors: 100 ms doubling to [`ACCEPT_BACKOFF_MAX`],
/// from 100 ms again after a success. At most one warning per
/// [`ACCEPT_WARN_EVERY`]; the other errors are debug lines.
#[derive(Default)]
struct Backoff {
    failures: u32,
    warned: Option<std::time::Instant>,
}

/// At most one accept-error warning this often.
const ACCEPT_WARN_EVERY: Duration = Duration::from_secs(60);

impl Backoff {
    fn next(&mut self, err: &std::io::Error) -> Duration {
        if self
            .warned
            .is_none_or(|at| at.elapsed() >= ACCEPT_WARN_EVERY)
        {
            tracing::warn!("control socket: cannot accept a connection: {err} (backing off)");
            self.warned = Some(std::time::Instant::now());
        } else {
            tracing::debug!("control socket: cannot accept a connection: {err}");
        }
        self.failures = self.failures.saturating_add(1);
        let pause = Duration::from_millis(100) * 2u32.saturating_pow(self.failures.min(16) - 1);
        pause.min(ACCEPT_BACKOFF_MAX)
    }

    fn reset(&mut self) {
        self.failures = 0;
    }
}

/// The connections being served: how many, and which are still waiting for
/// their request (those may be evicted for a newcomer).
#[derive(Default)]
struct Slots {
    next_id: u64,
    open: usize,
    waiting: BTreeMap<u64, CancellationToken>,
}

/// One admitted connection; frees its slot when dropped.
struct Slot {
    id: u64,
    evicted: CancellationToken,
    slots: Arc<Mutex<Slots>>,
}

impl Slots {
    /// A slot for a new connection: a free one, or the oldest connection
    /// still waiting for its request is evicted. `None` when every slot is
    /// running a command.
    fn admit(slots: &Arc<Mutex<Slots>>) -> Option<Slot> {
        let mut inner = slots.lock().expect("slots lock");
        if inner.open >= MAX_CONNECTIONS {
            let oldest = inner.waiting.keys().next().copied()?;
            if let Some(token) = inner.waiting.remove(&oldest) {
                token.cancel();
            }
        }
        inner.next_id += 1;
        inner.open += 1;
        let id = inner.next_id;
        let evicted = CancellationToken::new();
        inner.waiting.insert(id, evicted.clone());
        Some(Slot {
            id,
            evicted,
            slots: slots.clone(),
        })
    }
}

impl Slot {
    /// The request has arrived: no longer evictable.
    fn working(&self) {
        self.slots
            .lock()
            .expect("slots lock")
            .waiting
            .remove(&self.id);
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut inner = self.slots.lock().expect("slots lock");
        inner.waiting.remove(&self.id);
        inner.open = inner.open.saturating_sub(1);
    }
}

async fn refuse_busy(stream: UnixStream) {
    let (_, mut write) = stream.into_split();
    let _ = tokio::time::timeout(REQUEST_TIMEOUT, async {
        let busy = CommandError::new(
            ErrorKind::Busy,
            format!(
                "the daemon is busy: all {MAX_CONNECTIONS} control connections are running \
                 commands; try again in a moment"
            ),
        );
        let busy = protocol::encode_reply(&Err(busy));
        write.write_all(&busy).await?;
        write.shutdown().await
    })
    .await;
}

impl Drop for ControlSocket {
    fn drop(&mut self) {
        // Only our own file: never one that replaced it.
        if std::fs::symlink_metadata(&self.path).is_ok_and(|m| m.ino() == self.inode) {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

async fn answer(stream: UnixStream, ctx: Context, slot: &Slot) -> std::io::Result<()> {
    let peer = stream.peer_cred()?;
    if !super::guard::trusted_owner(peer.uid()) {
        tracing::warn!(
            uid = peer.uid(),
            "control socket: refused a connection from another user"
        );
        return Ok(());
    }
    let (read, mut write) = stream.into_split();
    let mut line = Vec::new();
    let mut reader = BufReader::new(read).take(MAX_REQUEST_BYTES as u64);
    tokio::select! {
        read = tokio::time::timeout(REQUEST_TIMEOUT, reader.read_until(b'\n', &mut line)) => {
            match read {
                Ok(result) => { result?; }
                Err(_) => {
                    tracing::debug!("control socket: no request within {REQUEST_TIMEOUT:?}; closed");
                    return Ok(());
                }
            }
        }
        () = slot.evicted.cancelled() => {
            tracing::debug!("control socket: an idle connection made room for a new one");
            return Ok(());
        }
    }
    if line.is_empty() {
        // Connected and closed without a request (`reload` finding the
        // daemon's process): nothing to answer.
        return Ok(());
    }
    slot.working();
    let bytes = match protocol::decode_request(&line) {
        Incoming::Request(request) => {
            protocol::encode_reply(&crate::commands::execute(&ctx, request).await)
        }
        Incoming::Refused(error) => {
            tracing::debug!("control socket: refused a request: {error}");
            protocol::encode_reply(&Err(error))
        }
        Incoming::Legacy(error) => protocol::encode_legacy(&error),
    };
    // A client that stops reading does not hold its slot for ever.
    tokio::time::timeout(CLIENT_TIMEOUT, async {
        write.write_all(&bytes).await?;
        write.shutdown().await
    })
    .await
    .unwrap_or(Ok(()))
}

use tokio::io::AsyncReadExt as _;
