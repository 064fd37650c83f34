//! A local HTTP receiver for notification tests: records every request
//! (method, path, headers, body, arrival time) and answers each path from a
//! script of replies (then 200), so a test can fail, rate-limit or hang a
//! sink and look at exactly what each service would have been sent.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;

use super::background::Background;

/// How to answer one request.
#[derive(Debug, Clone)]
pub enum Reply {
    Status(u16),
    /// A status with headers, e.g. `429` and `Retry-After`.
    With(u16, Vec<(&'static str, String)>),
    /// Never answer (the connection stays open until the client gives up).
    Hang,
}

/// One request as received.
#[derive(Debug, Clone)]
pub struct Received {
    pub method: String,
    /// Path and query.
    pub path: String,
    /// Lower-case names.
    pub headers: HashMap<String, String>,
    pub body: Vec<u8>,
    pub at: Instant,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(&name.to_ascii_lowercase())
            .map(String::as_str)
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "{} {}: body is not JSON ({e}): {}",
                self.method,
                self.path,
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

#[derive(Default)]
struct World {
    scripts: HashMap<String, VecDeque<Reply>>,
    received: Vec<Received>,
}

type Shared = Arc<Mutex<World>>;

/// The running receiver; it stops when dropped.
pub struct Receiver {
    pub base_url: String,
    world: Shared,
    _server: Background,
}

impl Receiver {
    /// Start on its own thread and runtime.
    pub fn start() -> Receiver {
        let world: Shared = Arc::default();
        let app = Router::new().fallback(handle).with_state(world.clone());
        let (base_url, server) = Background::serve("notify-receiver", app);
        Receiver {
            base_url,
            world,
            _server: server,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// Answer the next requests to `path` (any query) with `replies`, in
    /// order; 200 after.
    pub fn script(&self, path: &str, replies: Vec<Reply>) {
        self.world
            .lock()
            .unwrap()
            .scripts
            .insert(path.to_string(), replies.into());
    }

    /// Requests to `path`, with any query, in arrival order.
    pub fn requests(&self, path: &str) -> Vec<Received> {
        let with_query = format!("{path}?");
        self.world
            .lock()
            .unwrap()
            .received
            .iter()
            .filter(|r| r.path == path || r.path.starts_with(&with_query))
            .cloned()
            .collect()
    }

    pub fn all(&self) -> Vec<Received> {
        self.world.lock().unwrap().received.clone()
    }

    /// Wait until `path` has seen at least `n` requests; return them.
    pub fn wait_for(&self, path: &str, n: usize, timeout: Duration) -> Vec<Received> {
        let deadline = Instant::now() + timeout;
        loop {
            let seen = self.requests(path);
            if seen.len() >= n {
                return seen;
            }
            assert!(
                Instant::now() < deadline,
                "{path}: {} request(s) within {timeout:?}, expected {n}; all: {:?}",
                seen.len(),
                self.all()
                    .iter()
                    .map(|r| format!("{} {}", r.method, r.path))
                    .collect::<Vec<_>>()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

async fn handle(
    State(world): State<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri
        .path_and_query()
        .map_or(uri.path().to_string(), |p| p.to_string());
    let reply = {
        let mut world = world.lock().unwrap();
        world.received.push(Received {
            method: method.to_string(),
            path: path.clone(),
            headers: headers
                .iter()
                .map(|(k, v)| (k.as_str().to_string(), v.to_str().unwrap_or("").to_string()))
                .collect(),
            body: body.to_vec(),
            at: Instant::now(),
        });
        let bare = path.split('?').next().unwrap_or_default();
        world
            .scripts
            .get_mut(bare)
            .and_then(VecDeque::pop_front)
            .unwrap_or(Reply::Status(200))
    };
    match reply {
        Reply::Status(code) => status(code).into_response(),
        Reply::With(code, headers) => {
            let mut response = status(code).into_response();
            for (name, value) in headers {
                response
                    .headers_mut()
                    .insert(name, value.parse().expect("header value"));
            }
            response
        }
        Reply::Hang => std::future::pending().await,
    }
}

fn status(code: u16) -> StatusCode {
    StatusCode::from_u16(code).expect("valid status")
}
