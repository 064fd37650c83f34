//! The embedded web server (`[http]`): the dashboard, a JSON API with the
//! CLI's `--json` shapes, clip files, `/metrics` and `/healthz`.
//!
//! One accept loop for TCP or a Unix socket, with the limits a server on a
//! home network needs: at most [`MAX_CONNECTIONS`] at once, headers read
//! within [`HEADER_TIMEOUT`] and capped in size, request bodies capped and
//! read within [`REQUEST_TIMEOUT`]. Files are served by job id and recorded
//! file name only (`files`). Actions exist only with `token_file` (`auth`).

mod api;
mod auth;
mod files;
mod health;
pub mod live;
mod pages;
mod routes;

use std::sync::Arc;
use std::time::Duration;

use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use crate::config::{HttpConfig, Listen};
use crate::pipeline::Pipeline;

/// Connections served at once; more wait to be accepted.
pub const MAX_CONNECTIONS: usize = 64;
/// A client must send its request line and headers within this.
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// Request line plus headers (hyper's read buffer).
pub const MAX_HEADER_BYTES: usize = 16 * 1024;
/// Largest request body (a login or a submit form).
pub const MAX_BODY_BYTES: usize = 16 * 1024;
/// From headers to the start of the answer (a slow request body included).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// What every handler reads.
pub struct App {
    pub pipeline: Pipeline,
    pub http: HttpConfig,
    pub live: Arc<live::Live>,
    pub sessions: auth::Sessions,
    pub probe: Arc<health::WriteProbe>,
}

/// Bind `[http] listen` and serve until `cancel`. Binding errors are
/// returned at once, so the daemon refuses to start on a taken port.
pub async fn start(
    pipeline: Pipeline,
    http: HttpConfig,
    cancel: CancellationToken,
) -> anyhow::Result<tokio::task::JoinHandle<()>> {
    let live = live::Live::start(pipeline.store.clone(), cancel.clone())?;
    let probe = health::WriteProbe::start(pipeline.store.clone(), cancel.clone());
    let app = Arc::new(App {
        pipeline,
        http: http.clone(),
        live,
        sessions: auth::Sessions::default(),
        probe,
    });
    let router = routes::router(app);
    let permits = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    match &http.listen {
        Listen::Tcp(addr) => {
            let listener = tokio::net::TcpListener::bind(addr)
                .await
                .map_err(|e| anyhow::anyhow!("http.listen: cannot listen on {addr}: {e}"))?;
            tracing::info!(
                "dashboard at http://{}{}/",
                listener.local_addr()?,
                http.base_path
            );
            Ok(tokio::spawn(async move {
                accept_loop(listener, router, permits, cancel).await;
            }))
        }
        Listen::Unix(path) => {
            let _ = std::fs::remove_file(path);
            let listener = tokio::net::UnixListener::bind(path).map_err(|e| {
                anyhow::anyhow!("http.listen: cannot listen on {}: {e}", path.display())
            })?;
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o660))?;
            tracing::info!("dashboard on the Unix socket {}", path.display());
            let path = path.clone();
            Ok(tokio::spawn(async move {
                accept_loop(listener, router, permits, cancel).await;
                let _ = std::fs::remove_file(path);
            }))
        }
    }
}

/// A listening socket of either kind.
trait Listener {
    type Stream: AsyncRead + AsyncWrite + Unpin + Send + 'static;
    async fn accept_one(&self) -> std::io::Result<Self::Stream>;
}

impl Listener for tokio::net::TcpListener {
    type Stream = tokio::net::TcpStream;
    async fn accept_one(&self) -> std::io::Result<Self::Stream> {
        self.accept().await.map(|(stream, _)| stream)
    }
}

impl Listener for tokio::net::UnixListener {
    type Stream = tokio::net::UnixStream;
    async fn accept_one(&self) -> std::io::Result<Self::Stream> {
        self.accept().await.map(|(stream, _)| stream)
    }
}

/// Accept connections, at most [`MAX_CONNECTIONS`] served at once, until
/// `cancel`.
async fn accept_loop<L: Listener>(
    listener: L,
    router: axum::Router,
    permits: Arc<Semaphore>,
    cancel: CancellationToken,
) {
    loop {
        let Some(permit) = permit(&permits, &cancel).await else {
            break;
        };
        let accepted = tokio::select! {
            () = cancel.cancelled() => break,
            accepted = listener.accept_one() => accepted,
        };
        match accepted {
            Ok(stream) => connection(stream, router.clone(), permit, &cancel),
            Err(err) => accept_failed(err).await,
        }
    }
}

async fn permit(
    permits: &Arc<Semaphore>,
    cancel: &CancellationToken,
) -> Option<tokio::sync::OwnedSemaphorePermit> {
    tokio::select! {
        () = cancel.cancelled() => None,
        permit = permits.clone().acquire_owned() => permit.ok(),
    }
}

/// Out of file descriptors and the like: wait instead of spinning.
async fn accept_failed(err: std::io::Error) {
    tracing::warn!("dashboard: cannot accept a connection: {err}");
    tokio::time::sleep(Duration::from_millis(200)).await;
}

/// Serve one connection (HTTP/1.1 with keep-alive) until it ends or the
/// daemon stops.
fn connection<S>(
    stream: S,
    router: axum::Router,
    permit: tokio::sync::OwnedSemaphorePermit,
    cancel: &CancellationToken,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let cancel = cancel.clone();
    tokio::spawn(async move {
        let _permit = permit;
        let mut builder = hyper::server::conn::http1::Builder::new();
        builder
            .timer(TokioTimer::new())
            .header_read_timeout(HEADER_TIMEOUT)
            .max_buf_size(MAX_HEADER_BYTES)
            .max_headers(64);
        let conn = builder.serve_connection(TokioIo::new(stream), TowerToHyperService::new(router));
        tokio::select! {
            _ = conn => {}
            () = cancel.cancelled() => {}
        }
    });
}
