//! A local feed server for end-to-end tests: serves fixtures from
//! `tests/fixtures/feeds/` (or bytes built by a test) on `127.0.0.1:0`, and
//! can be told to misbehave (500 for the first N requests, redirects, slow
//! answers). It honours `If-None-Match` / `If-Modified-Since` with 304 and
//! records every request's path and conditional headers.
//!
//! ```ignore
//! let feeds = FeedServer::start();
//! feeds.route("/feed.xml", Route::xml(fixture("atom.xml")).etag("\"v1\""));
//! // point a [[feeds]] url at feeds.url("/feed.xml"), run clipwatch, then:
//! assert_eq!(feeds.requests_to("/feed.xml")[1].status, 304);
//! ```

#![allow(dead_code)]

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::Response;
use axum::Router;

use super::background::Background;

/// A fixture file's bytes.
pub fn fixture(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/feeds")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// What one path answers.
#[derive(Debug, Clone)]
pub struct Route {
    pub status: u16,
    pub body: Vec<u8>,
    pub content_type: String,
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    /// Answer `301 Location: <this>` instead.
    pub redirect_to: Option<String>,
    /// Answer 500 to the first N requests.
    pub fail_first: usize,
    /// Wait this long before answering.
    pub delay: Duration,
    /// A body made up while it is sent, instead of `body`.
    pub generated: Option<Generated>,
}

/// A body made up while it is sent (never held whole): `head`, then `unit`
/// again and again, cut at `len` bytes in all.
#[derive(Debug, Clone)]
pub struct Generated {
    pub head: Vec<u8>,
    pub unit: Vec<u8>,
    pub len: u64,
    /// Send `Content-Length` (else the body is chunked).
    pub declare_length: bool,
}

impl Route {
    pub fn new(content_type: &str, body: Vec<u8>) -> Route {
        Route {
            status: 200,
            body,
            content_type: content_type.into(),
            etag: None,
            last_modified: None,
            redirect_to: None,
            fail_first: 0,
            delay: Duration::ZERO,
            generated: None,
        }
    }

    /// A generated body of `len` bytes (see [`Generated`]).
    pub fn generated(
        content_type: &str,
        head: &[u8],
        unit: &[u8],
        len: u64,
        declare_length: bool,
    ) -> Route {
        Route {
            generated: Some(Generated {
                head: head.to_vec(),
                unit: unit.to_vec(),
                len,
                declare_length,
            }),
            ..Route::new(content_type, Vec::new())
        }
    }

    pub fn xml(body: Vec<u8>) -> Route {
        Route::new("application/atom+xml; charset=utf-8", body)
    }

    pub fn html(body: Vec<u8>) -> Route {
        Route::new("text/html; charset=utf-8", body)
    }

    pub fn status(status: u16) -> Route {
        Route {
            status,
            ..Route::new("text/plain", format!("status {status}").into_bytes())
        }
    }

    pub fn redirect(to: &str) -> Route {
        Route {
            redirect_to: Some(to.into()),
            ..Route::new("text/plain", Vec::new())
        }
    }

    pub fn etag(mut self, etag: &str) -> Route {
        self.etag = Some(etag.into());
        self
    }

    pub fn last_modified(mut self, at: &str) -> Route {
        self.last_modified = Some(at.into());
        self
    }

    pub fn fail_first(mut self, n: usize) -> Route {
        self.fail_first = n;
        self
    }

    pub fn delay(mut self, delay: Duration) -> Route {
        self.delay = delay;
        self
    }
}

/// One request as the server saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    /// Path and query, e.g. `/feeds/videos.xml?channel_id=UC…`.
    pub path: String,
    pub if_none_match: Option<String>,
    pub if_modified_since: Option<String>,
    /// The status answered.
    pub status: u16,
    pub at: Instant,
}

#[derive(Default)]
struct World {
    routes: HashMap<String, Route>,
    hits: HashMap<String, usize>,
    seen: Vec<Seen>,
}

type Shared = Arc<Mutex<World>>;

/// The running server; it stops when dropped.
pub struct FeedServer {
    pub base_url: String,
    world: Shared,
    _server: Background,
}

impl FeedServer {
    /// A server answering each `(path, route)`.
    pub fn serving<const N: usize>(routes: [(&str, Route); N]) -> FeedServer {
        let server = FeedServer::start();
        for (path, route) in routes {
            server.route(path, route);
        }
        server
    }

    /// Start on its own thread and runtime (tests drive the binary from
    /// synchronous code).
    pub fn start() -> FeedServer {
        let world: Shared = Arc::default();
        let app = Router::new().fallback(handle).with_state(world.clone());
        let (base_url, server) = Background::serve("fake-feeds", app);
        FeedServer {
            base_url,
            world,
            _server: server,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// Serve `route` at `path` (with its query, if the query matters).
    pub fn route(&self, path: &str, route: Route) {
        self.world
            .lock()
            .unwrap()
            .routes
            .insert(path.to_string(), route);
    }

    pub fn requests(&self) -> Vec<Seen> {
        self.world.lock().unwrap().seen.clone()
    }

    /// Requests whose path (and query) starts with `prefix`.
    pub fn requests_to(&self, prefix: &str) -> Vec<Seen> {
        self.requests()
            .into_iter()
            .filter(|s| s.path.starts_with(prefix))
            .collect()
    }
}

async fn handle(State(world): State<Shared>, req: Request) -> Response {
    let path = req.uri().path().to_string();
    let full = match req.uri().query() {
        Some(q) => format!("{path}?{q}"),
        None => path.clone(),
    };
    let headers = req.headers().clone();
    let (route, hit) = {
        let mut w = world.lock().unwrap();
        let key = if w.routes.contains_key(&full) {
            full.clone()
        } else {
            path
        };
        let route = w.routes.get(&key).cloned();
        let hit = w.hits.entry(key).or_default();
        *hit += 1;
        (route, *hit)
    };
    if let Some(route) = &route {
        if !route.delay.is_zero() {
            tokio::time::sleep(route.delay).await;
        }
    }
    let response = answer(route.as_ref(), hit, &headers);
    world.lock().unwrap().seen.push(Seen {
        path: full,
        if_none_match: header_text(&headers, header::IF_NONE_MATCH),
        if_modified_since: header_text(&headers, header::IF_MODIFIED_SINCE),
        status: response.status().as_u16(),
        at: Instant::now(),
    });
    response
}

fn answer(route: Option<&Route>, hit: usize, headers: &HeaderMap) -> Response {
    let Some(route) = route else {
        return plain(StatusCode::NOT_FOUND, "no such fixture");
    };
    if hit <= route.fail_first {
        return plain(StatusCode::INTERNAL_SERVER_ERROR, "internal error");
    }
    if let Some(to) = &route.redirect_to {
        return Response::builder()
            .status(StatusCode::MOVED_PERMANENTLY)
            .header(header::LOCATION, to)
            .body(Body::empty())
            .unwrap();
    }
    let etag_matches = route.etag.is_some()
        && header_text(headers, header::IF_NONE_MATCH).as_ref() == route.etag.as_ref();
    let date_matches = route.last_modified.is_some()
        && header_text(headers, header::IF_MODIFIED_SINCE).as_ref() == route.last_modified.as_ref();
    let mut builder = Response::builder();
    if let Some(etag) = &route.etag {
        builder = builder.header(header::ETAG, etag);
    }
    if let Some(at) = &route.last_modified {
        builder = builder.header(header::LAST_MODIFIED, at);
    }
    if route.status == 200 && (etag_matches || date_matches) {
        return builder
            .status(StatusCode::NOT_MODIFIED)
            .body(Body::empty())
            .unwrap();
    }
    builder = builder
        .status(route.status)
        .header(header::CONTENT_TYPE, &route.content_type);
    if let Some(generated) = &route.generated {
        if generated.declare_length {
            builder = builder.header(header::CONTENT_LENGTH, generated.len);
        }
        let reader = GeneratedReader {
            spec: generated.clone(),
            sent: 0,
        };
        let stream = tokio_util::io::ReaderStream::with_capacity(reader, 64 * 1024);
        return builder.body(Body::from_stream(stream)).unwrap();
    }
    builder.body(Body::from(route.body.clone())).unwrap()
}

/// Reads a [`Generated`] body piece by piece.
struct GeneratedReader {
    spec: Generated,
    sent: u64,
}

impl tokio::io::AsyncRead for GeneratedReader {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        let this = &mut *self;
        let head_len = this.spec.head.len() as u64;
        while buf.remaining() > 0 && this.sent < this.spec.len {
            let (source, at) = if this.sent < head_len {
                (&this.spec.head, this.sent as usize)
            } else if this.spec.unit.is_empty() {
                break;
            } else {
                let unit_len = this.spec.unit.len() as u64;
                (
                    &this.spec.unit,
                    ((this.sent - head_len) % unit_len) as usize,
                )
            };
            let left = (this.spec.len - this.sent) as usize;
            let n = (source.len() - at).min(buf.remaining()).min(left);
            buf.put_slice(&source[at..at + n]);
            this.sent += n as u64;
        }
        std::task::Poll::Ready(Ok(()))
    }
}

fn plain(status: StatusCode, text: &str) -> Response {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "text/plain")
        .body(Body::from(text.to_string()))
        .unwrap()
}

fn header_text(headers: &HeaderMap, name: header::HeaderName) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}
