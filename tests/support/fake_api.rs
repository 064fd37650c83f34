//! An in-process fake of the WayinVideo AI Clipping API, its file CDN and its
//! upload bucket, for end-to-end tests.
//!
//! One axum server on `127.0.0.1:0` answers three families of paths:
//! - API calls under `cfg.prefix` (`/open/v2` or `/api/v2`): bearer auth, the
//!   version header, a sliding-window request budget, task concurrency, and the
//!   submit / results / upload-init endpoints;
//! - `/files/export/…` and `/files/thumb/…`: the CDN (no auth, no budget);
//! - `/upload-put/<token>`: the pre-signed upload bucket (no API headers).
//!
//! Task progress follows the wall clock (`std::time::Instant`), so it keeps
//! moving even when a test pauses tokio's clock. Every request is recorded for
//! assertions, and `FakeApi::misbehave` switches failure modes at run time;
//! a recorded request names the fault it met in [`Recorded::fault`], so a test
//! can prove the fault was really hit.
//!
//! ```ignore
//! let api = FakeApi::start(FakeConfig { phase: Duration::from_millis(20), ..Default::default() }).await;
//! // point clipwatch at api.base_url with api.config().api_key, run it, then:
//! assert_eq!(api.submissions_for("https://youtu.be/ID"), 1);
//! let task = &api.task_ids()[0];
//! assert_eq!(std::fs::read(clip_path)?, api.clip_bytes(task, 0));
//! ```

#![allow(dead_code)]

/// Transcripts and summaries (the task kinds beside clipping).
#[path = "fake_tasks.rs"]
pub mod tasks;

use std::collections::{HashMap, VecDeque};
use std::future::{poll_fn, Future};
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::body::{Body, HttpBody};
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::response::Response;
use axum::Router;
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncRead, ReadBuf};

// Find Moments (`/clips/find-moments`): a child module, so that it shares
// this fake's world (tasks, budget, faults) and its results.
#[path = "fake_moments.rs"]
mod moments;

/// How the fake behaves from the start. `Default` imitates the seed document.
#[derive(Debug, Clone)]
pub struct FakeConfig {
    /// The bearer token accepted on API calls.
    pub api_key: String,
    /// Path prefix of the API: `/open/v2` (seed) or `/api/v2` (later docs).
    pub prefix: String,
    /// Clip `idx`/`begin_ms`/`end_ms`/`score` and the cost as strings (`"81"`).
    pub numbers_as_strings: bool,
    pub envelope: Envelope,
    pub cost_field: CostField,
    /// Clips per task, scores descending (90, 75, 40, 35, …).
    pub clips: usize,
    /// Clip titles by idx; missing entries default to `"Clip N title"` (N = idx + 1).
    pub clip_titles: Vec<String>,
    /// Time spent in each of CREATED, QUEUED and ONGOING before the end state.
    pub phase: Duration,
    /// While ONGOING, results already list the first `(clips + 1) / 2` clips (without links).
    pub partial_clips_while_ongoing: bool,
    /// `(n, window)`: at most n accepted API calls in any sliding window; more → 429.
    pub rate_limit: Option<(u32, Duration)>,
    /// Running (not ended) tasks allowed at once; a submit beyond → 429.
    pub max_running: usize,
    /// Size of each rendered clip file.
    pub clip_bytes: usize,
    /// Lifetime of each export link.
    pub link_ttl: Duration,
    /// Lifetime of a pre-signed upload URL.
    pub upload_url_ttl: Duration,
    /// Results (and their links) are gone this long after submit; sets `expire_at`.
    pub results_ttl: Duration,
    /// Answer 400 to API calls without `x-wayinvideo-api-version: v2`.
    pub require_api_version: bool,
    /// HTTP status of an auth failure: 403 (documented) or 401 (some gateways).
    pub auth_failure_status: u16,
    /// API units charged per clip of a SUCCEEDED task (FAILED costs 0).
    pub cost_per_clip: u64,
    /// The `idx` sent for the clip at each position, instead of the position
    /// itself (`Value::Null`: no `idx` field). Positions past the end send
    /// their position. Links, content and scores still follow the position.
    pub clip_idx: Vec<Value>,
    /// List the clips worst first (the API's order is not a promise).
    pub reverse_clips: bool,
    /// Real media served for every clip and thumbnail instead of the
    /// generated look-alikes (`(video, jpeg)`; see tests/fixtures/media).
    pub media: Option<(Vec<u8>, Vec<u8>)>,
    /// Moments a Find Moments task finds (`None`: as many as `clips`;
    /// `Some(0)`: the query matches nothing).
    pub moments_found: Option<usize>,
}

impl Default for FakeConfig {
    fn default() -> Self {
        FakeConfig {
            api_key: "wv-test-key-0123456789".to_string(),
            prefix: "/open/v2".to_string(),
            numbers_as_strings: true,
            envelope: Envelope::Seed,
            cost_field: CostField::ApiUnitsUsage,
            clips: 3,
            clip_titles: Vec::new(),
            phase: Duration::from_millis(100),
            partial_clips_while_ongoing: false,
            rate_limit: None,
            max_running: 5,
            clip_bytes: 64 * 1024,
            link_ttl: Duration::from_secs(24 * 3600),
            upload_url_ttl: Duration::from_secs(3600),
            results_ttl: Duration::from_secs(3 * 24 * 3600),
            require_api_version: true,
            auth_failure_status: 403,
            cost_per_clip: 10,
            clip_idx: Vec::new(),
            reverse_clips: false,
            media: None,
            moments_found: None,
        }
    }
}

impl FakeConfig {
    fn clip_content(&self, task_id: &str, idx: usize) -> Vec<u8> {
        match &self.media {
            Some((video, _)) => video.clone(),
            None => clip_content(task_id, idx, self.clip_bytes),
        }
    }

    fn thumb_content(&self, task_id: &str, idx: usize) -> Vec<u8> {
        match &self.media {
            Some((_, jpeg)) => jpeg.clone(),
            None => thumb_content(task_id, idx),
        }
    }
}

/// Shape of successful API responses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Envelope {
    /// `{"code": "0", "data": …, "message": "success"}`
    Seed,
    /// `{"data": …}`
    DataOnly,
}

/// Name of the cost field in results.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CostField {
    /// `api_units_usage` (seed)
    ApiUnitsUsage,
    /// `cost_usage` (later docs)
    CostUsage,
}

/// Failure modes, switched at run time with [`FakeApi::misbehave`] (which
/// replaces the whole set; `Misbehave::default()` heals everything).
#[derive(Debug, Default, Clone)]
pub struct Misbehave {
    /// Every API call → 403 with the gateway body (recorded as `"rejected-key"`).
    pub reject_key: bool,
    /// Every API call → 429 with `Retry-After: 1`, as the request budget
    /// answers when it is spent (recorded as `"rate-limited"`).
    pub rate_limited: bool,
    /// Every submit → 429 with `Retry-After: 1`, as when the account's
    /// running-task limit is reached (recorded as `"concurrency-limited"`).
    pub concurrency_limited: bool,
    /// Tasks submitted from now on end FAILED with this `error_message`.
    pub fail_tasks_with: Option<String>,
    /// An export link answers 403 until a later results call has issued a newer
    /// link for that clip; links issued after the refusal work (a refusal is
    /// recorded as `"refused-export"`).
    pub export_links_refused_until_refresh: bool,
    /// After SUCCEEDED, the first N results calls (per task) omit `export_link`
    /// on the last clip (recorded as `"missing-links"`).
    pub missing_export_links_polls: u32,
    /// After SUCCEEDED, the first N results calls (per task) list no clips
    /// at all (recorded as `"empty-clips"`), as the real API has been seen
    /// to do with export on; see `partial_clips_polls` for what follows.
    pub empty_clips_polls: u32,
    /// After those, the next N results calls list only the first half of the
    /// clips, rounded up (recorded as `"partial-clips"`); later calls list all.
    pub partial_clips_polls: u32,
    /// The results endpoint no longer knows any task (404 "task not found",
    /// recorded as `"gone"`), and the CDN refuses every link.
    pub results_gone: bool,
    /// The next N API calls answer 500 with a non-JSON body.
    pub server_errors: u32,
    /// Submits answer 200 with `{"code": "40001", "message": <this>}` and no data.
    pub invalid_submit: Option<String>,
    /// Export links answer 200 `text/html` with an error page (recorded as `"html"`).
    pub html_instead_of_mp4: bool,
    /// Export downloads declare the full Content-Length but close after half
    /// (recorded as `"truncated"`).
    pub truncate_downloads: bool,
    /// The next N results calls answer 200 with cut-off JSON.
    pub malformed_results: u32,
    /// API calls answer only after this delay (for timeouts).
    pub response_delay: Option<Duration>,
    /// Which API calls the targeted faults below hit (`reset_api_calls`,
    /// `hang_api_calls`, `drip_api`, `huge_replies`): every call by default.
    pub target: Target,
    /// The next N targeted API calls are read but not processed (a submit
    /// creates no task), and the connection is closed without a response.
    pub reset_api_calls: u32,
    /// The next N targeted API calls are processed (a submit creates its
    /// task), then never answered: the connection stays open until the client
    /// gives up.
    pub hang_api_calls: u32,
    /// While set, targeted API replies trickle out this way.
    pub drip_api: Option<Drip>,
    /// While set, export downloads trickle out this way.
    pub drip_downloads: Option<Drip>,
    /// The next N submits create their task, then answer 200 with cut-off JSON.
    pub malformed_submits: u32,
    /// The next N targeted API calls are not processed and answer 200
    /// `application/json` with `huge_bytes` bytes: an envelope whose last
    /// string never closes, generated as it is sent, without a Content-Length.
    pub huge_replies: u32,
    /// Size of each huge reply (see `huge_replies`).
    pub huge_bytes: u64,
    /// The next N PUTs to a valid presigned upload URL read the body, then
    /// answer 403 `AccessDenied` and store nothing.
    pub refuse_uploads: u32,
    /// While set, every thumbnail is this many bytes: a JPEG header, then
    /// filler generated as it is sent, no Content-Length (recorded as
    /// `"huge-thumbnail"`; bytes actually sent: [`FakeApi::huge_bytes_sent`]).
    pub huge_thumbnails: Option<u64>,
    /// While set, results give this as every clip's `export_link` (for
    /// links the client must refuse: `file:///etc/passwd`, `ftp://…`).
    pub export_link_override: Option<String>,
    /// While set, export links answer `302 Found` to this location
    /// (recorded as `"redirect"`).
    pub redirect_exports_to: Option<String>,
    /// The account has no API units left: every submit answers 400
    /// `{"message": "Insufficient API units balance…", "trace_id": …}` (the
    /// documented error body shape; code and message are not documented)
    /// and creates nothing (recorded as `"no-units"`).
    pub no_units: bool,
    /// The next N submits create their task (paid), then the connection is
    /// closed without a response: an ambiguous submit (recorded as `"cut"`).
    pub cut_after_submit: u32,
    /// Transcript tasks submitted from now on end FAILED with this message.
    pub fail_transcripts_with: Option<String>,
    /// Summary tasks submitted from now on end FAILED with this message.
    pub fail_summaries_with: Option<String>,
    /// The next N summary submits create their task (paid), then the
    /// connection is closed without a response (recorded as `"cut"`).
    pub cut_after_summary_submit: u32,
}

/// The API calls a targeted fault in [`Misbehave`] hits.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// Every API call.
    #[default]
    Any,
    /// `POST /clips`.
    Submit,
    /// `GET /clips/results/{id}`.
    Results,
    /// `POST /upload/single-file`.
    UploadInit,
}

/// A body sent `bytes` at a time with a pause of `every` before each piece.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Drip {
    pub bytes: usize,
    pub every: Duration,
}

/// One request as the fake saw it.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    /// Path without the query.
    pub path: String,
    pub query: Option<String>,
    pub authorization: Option<String>,
    pub api_version: Option<String>,
    /// The JSON body of API calls, when it parsed.
    pub body: Option<Value>,
    /// The HTTP status sent; `0` when none was (a reset or a hang).
    pub status: u16,
    /// The injected fault this request met, if any: `"reset"`, `"hang"`,
    /// `"drip"`, `"huge"`, `"malformed"`, `"server-error"`, `"refused-upload"`,
    /// `"rejected-key"`, `"rate-limited"`, `"concurrency-limited"`,
    /// `"missing-links"`, `"html"`, `"truncated"`, `"refused-export"`,
    /// `"huge-thumbnail"`, `"redirect"`, `"no-units"`, `"cut"`, `"empty-clips"`,
    /// `"partial-clips"`, `"gone"`.
    pub fault: Option<&'static str>,
    /// When the request arrived.
    pub at: Instant,
}

/// A running fake server; it stops when dropped.
pub struct FakeApi {
    /// API base URL, e.g. `http://127.0.0.1:PORT/open/v2`.
    pub base_url: String,
    /// `http://127.0.0.1:PORT`
    pub origin: String,
    shared: Arc<Shared>,
    guard: ServerGuard,
}

enum ServerGuard {
    Task(tokio::task::JoinHandle<()>),
    Thread {
        stop: Option<tokio::sync::oneshot::Sender<()>>,
        thread: Option<std::thread::JoinHandle<()>>,
    },
}

impl Drop for FakeApi {
    fn drop(&mut self) {
        match &mut self.guard {
            ServerGuard::Task(handle) => handle.abort(),
            ServerGuard::Thread { stop, thread } => {
                if let Some(stop) = stop.take() {
                    let _ = stop.send(());
                }
                if let Some(thread) = thread.take() {
                    let _ = thread.join();
                }
            }
        }
    }
}

impl FakeApi {
    /// Starts the server on the current tokio runtime.
    pub async fn start(cfg: FakeConfig) -> FakeApi {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind fake API listener");
        let addr = listener.local_addr().expect("fake API address");
        let shared = Shared::new(cfg, addr);
        let app = router(shared.clone());
        let handle = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        FakeApi::new(shared, ServerGuard::Task(handle))
    }

    /// Starts the server on its own thread and runtime, for tests that drive
    /// the real binary from synchronous code. It stays up until dropped.
    pub fn start_blocking(cfg: FakeConfig) -> FakeApi {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind fake API listener");
        listener
            .set_nonblocking(true)
            .expect("non-blocking fake API listener");
        let addr = listener.local_addr().expect("fake API address");
        let shared = Shared::new(cfg, addr);
        let app = router(shared.clone());
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("fake-wayinvideo".into())
            .spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("fake API runtime");
                rt.block_on(async move {
                    let listener =
                        tokio::net::TcpListener::from_std(listener).expect("fake API listener");
                    tokio::select! {
                        _ = axum::serve(listener, app) => {}
                        _ = stop_rx => {}
                    }
                });
            })
            .expect("spawn fake API thread");
        FakeApi::new(
            shared,
            ServerGuard::Thread {
                stop: Some(stop_tx),
                thread: Some(thread),
            },
        )
    }

    fn new(shared: Arc<Shared>, guard: ServerGuard) -> FakeApi {
        FakeApi {
            base_url: shared.base_url.clone(),
            origin: shared.origin.clone(),
            shared,
            guard,
        }
    }

    /// The configuration the server runs with.
    pub fn config(&self) -> &FakeConfig {
        &self.shared.cfg
    }

    /// Every request (API, files, uploads), in order of completion.
    pub fn requests(&self) -> Vec<Recorded> {
        self.shared.world().requests.clone()
    }

    /// Bodies of the `POST /clips` calls that created a task, in order.
    pub fn submissions(&self) -> Vec<Value> {
        self.shared.world().submissions.clone()
    }

    /// How many tasks were created for this `video_url`.
    pub fn submissions_for(&self, video_url: &str) -> usize {
        self.shared
            .world()
            .submissions
            .iter()
            .filter(|b| b.get("video_url").and_then(Value::as_str) == Some(video_url))
            .count()
    }

    /// Ids of the created tasks, in order.
    pub fn task_ids(&self) -> Vec<String> {
        self.shared.world().task_order.clone()
    }

    /// Accepted submits of transcripts or summaries (`tasks::Kind`).
    pub fn extra_submits(&self, kind: tasks::Kind) -> usize {
        self.shared
            .world()
            .extra
            .submits
            .get(&kind)
            .map_or(0, Vec::len)
    }

    /// The bodies of accepted transcript, summary or export submits.
    pub fn extra_submit_bodies(&self, kind: tasks::Kind) -> Vec<Value> {
        let world = self.shared.world();
        world.extra.submits.get(&kind).cloned().unwrap_or_default()
    }

    /// Recorded requests with this method whose path starts with `path_prefix`.
    pub fn count(&self, method: &str, path_prefix: &str) -> usize {
        self.shared
            .world()
            .requests
            .iter()
            .filter(|r| r.method.eq_ignore_ascii_case(method) && r.path.starts_with(path_prefix))
            .count()
    }

    /// Recorded responses with status 429.
    pub fn count_429(&self) -> usize {
        self.shared
            .world()
            .requests
            .iter()
            .filter(|r| r.status == 429)
            .count()
    }

    /// Replaces the current failure modes.
    pub fn misbehave(&self, m: Misbehave) {
        let mut w = self.shared.world();
        w.server_errors_left = m.server_errors;
        w.malformed_left = m.malformed_results;
        w.resets_left = m.reset_api_calls;
        w.hangs_left = m.hang_api_calls;
        w.malformed_submits_left = m.malformed_submits;
        w.huge_left = m.huge_replies;
        w.refuse_uploads_left = m.refuse_uploads;
        w.cuts_left = m.cut_after_submit;
        w.extra.cuts_left = m.cut_after_summary_submit;
        w.misbehave = m;
    }

    /// Recorded requests that met this fault (see [`Recorded::fault`]).
    pub fn faults(&self, fault: &str) -> Vec<Recorded> {
        self.shared
            .world()
            .requests
            .iter()
            .filter(|r| r.fault == Some(fault))
            .cloned()
            .collect()
    }

    /// The content every export link of this clip serves.
    pub fn clip_bytes(&self, task_id: &str, idx: usize) -> Vec<u8> {
        self.shared.cfg.clip_content(task_id, idx)
    }

    /// The content of this clip's thumbnail.
    pub fn thumb_bytes(&self, task_id: &str, idx: usize) -> Vec<u8> {
        self.shared.cfg.thumb_content(task_id, idx)
    }

    /// Bytes of huge thumbnails actually sent so far (see
    /// [`Misbehave::huge_thumbnails`]).
    pub fn huge_bytes_sent(&self) -> u64 {
        self.shared
            .huge_sent
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Completed uploads: (identity, sha256 hex, length, content-type).
    pub fn uploads(&self) -> Vec<(String, String, u64, Option<String>)> {
        self.shared.world().uploads.clone()
    }
}

// ---------------------------------------------------------------------------
// State

struct Shared {
    cfg: FakeConfig,
    origin: String,
    base_url: String,
    world: Mutex<World>,
    huge_sent: Arc<std::sync::atomic::AtomicU64>,
}

#[derive(Default)]
struct World {
    misbehave: Misbehave,
    server_errors_left: u32,
    malformed_left: u32,
    resets_left: u32,
    hangs_left: u32,
    malformed_submits_left: u32,
    huge_left: u32,
    refuse_uploads_left: u32,
    cuts_left: u32,
    requests: Vec<Recorded>,
    /// Arrival times of accepted API calls inside the rate window.
    window: VecDeque<Instant>,
    tasks: HashMap<String, Task>,
    task_order: Vec<String>,
    submissions: Vec<Value>,
    links: HashMap<(String, usize), ClipLinks>,
    upload_slots: HashMap<String, UploadSlot>,
    uploads: Vec<(String, String, u64, Option<String>)>,
    secrets: u64,
    /// Transcript and summary tasks.
    extra: tasks::Tasks,
}

struct Task {
    id: String,
    name: String,
    enable_export: bool,
    created: Instant,
    expire_at_ms: i64,
    fail_with: Option<String>,
    /// Results calls answered since the task SUCCEEDED.
    succeeded_polls: u32,
    /// Clips the task lists once SUCCEEDED.
    clips: usize,
    /// The query of a Find Moments task; `None` for AI Clipping.
    query: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    Created,
    Queued,
    Ongoing,
    Succeeded,
    Failed,
}

impl Status {
    fn as_str(self) -> &'static str {
        match self {
            Status::Created => "CREATED",
            Status::Queued => "QUEUED",
            Status::Ongoing => "ONGOING",
            Status::Succeeded => "SUCCEEDED",
            Status::Failed => "FAILED",
        }
    }

    fn ended(self) -> bool {
        matches!(self, Status::Succeeded | Status::Failed)
    }
}

impl Task {
    fn status(&self, phase: Duration, now: Instant) -> Status {
        let elapsed = now.saturating_duration_since(self.created);
        if elapsed < phase {
            Status::Created
        } else if elapsed < phase * 2 {
            Status::Queued
        } else if elapsed < phase * 3 {
            Status::Ongoing
        } else if self.fail_with.is_some() {
            Status::Failed
        } else {
            Status::Succeeded
        }
    }

    fn ends_at(&self, phase: Duration) -> Instant {
        self.created + phase * 3
    }
}

/// Export links issued for one clip.
#[derive(Default)]
struct ClipLinks {
    last_gen: u64,
    /// generation → (issued at, signature)
    issued: HashMap<u64, (Instant, String)>,
    /// A download was refused and no newer link has been issued since.
    refused_pending: bool,
    /// The first generation issued after a refusal; it and later ones work.
    first_ok_gen: Option<u64>,
}

struct UploadSlot {
    signature: String,
    identity: String,
    created: Instant,
}

impl Shared {
    fn new(cfg: FakeConfig, addr: SocketAddr) -> Arc<Shared> {
        let origin = format!("http://{addr}");
        let base_url = format!("{origin}{}", cfg.prefix);
        let world = World {
            // Different test runs should not share link secrets.
            secrets: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(0),
            ..World::default()
        };
        Arc::new(Shared {
            cfg,
            origin,
            base_url,
            world: Mutex::new(world),
            huge_sent: Arc::default(),
        })
    }

    fn world(&self) -> MutexGuard<'_, World> {
        // A panicking test thread must not hide the fake's state from others.
        self.world.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl World {
    /// A fresh secret-looking hex string.
    fn secret(&mut self, label: &str) -> String {
        self.secrets = self.secrets.wrapping_add(1);
        let digest = Sha256::digest(format!("{label}:{}", self.secrets));
        hex(&digest)[..40].to_string()
    }

    fn running(&self, phase: Duration, now: Instant) -> impl Iterator<Item = &Task> {
        self.tasks
            .values()
            .filter(move |t| !t.status(phase, now).ended())
    }
}

// ---------------------------------------------------------------------------
// Routing

fn router(shared: Arc<Shared>) -> Router {
    Router::new().fallback(handle).with_state(shared)
}

async fn handle(State(s): State<Arc<Shared>>, req: Request) -> Response {
    let at = Instant::now();
    let (parts, body) = req.into_parts();
    let method = parts.method.clone();
    let path = parts.uri.path().to_string();
    let query = parts.uri.query().map(str::to_string);
    let authorization = header_str(&parts.headers, header::AUTHORIZATION.as_str());
    let api_version = header_str(&parts.headers, "x-wayinvideo-api-version");

    let (response, json_body) = if path.starts_with("/files/") {
        (
            s.serve_file(&method, &path, query.as_deref(), &parts.headers),
            None,
        )
    } else if let Some(token) = path.strip_prefix("/upload-put/") {
        let r = s
            .upload_put(&method, token, query.as_deref(), &parts.headers, body)
            .await;
        (r, None)
    } else {
        let bytes = axum::body::to_bytes(body, 16 * 1024 * 1024)
            .await
            .unwrap_or_default();
        let json_body = if bytes.is_empty() {
            None
        } else {
            serde_json::from_slice::<Value>(&bytes).ok()
        };
        let malformed = !bytes.is_empty() && json_body.is_none();
        let (response, delay) = s.api(
            &method,
            &path,
            authorization.as_deref(),
            api_version.as_deref(),
            json_body.as_ref(),
            malformed,
        );
        if let Some(delay) = delay {
            tokio::time::sleep(delay).await;
        }
        (response, json_body)
    };

    let fault = response.extensions().get::<Injected>().map(|f| f.0);
    let silent = matches!(fault, Some("reset" | "hang" | "cut"));
    s.world().requests.push(Recorded {
        method: method.to_string(),
        path,
        query,
        authorization,
        api_version,
        body: json_body,
        status: if silent {
            0
        } else {
            response.status().as_u16()
        },
        fault,
        at,
    });
    match fault {
        Some("reset" | "cut") => reset_connection(),
        Some("hang") => std::future::pending().await,
        _ => match response.extensions().get::<Drip>().copied() {
            Some(drip) => trickle(response, drip).await,
            None => response,
        },
    }
}

/// Marks a response with the fault it carries, for [`Recorded::fault`]. A
/// `"reset"` or `"hang"` response is never sent.
#[derive(Debug, Clone, Copy)]
struct Injected(&'static str);

fn injected(mut response: Response, fault: &'static str) -> Response {
    response.extensions_mut().insert(Injected(fault));
    response
}

/// A response whose body fails before its first byte: hyper gives up on the
/// connection and closes it without sending the status line or headers.
fn reset_connection() -> Response {
    let stream = tokio_util::io::ReaderStream::new(FailAtOnce);
    Response::builder()
        .status(200)
        .body(Body::from_stream(stream))
        .expect("reset response")
}

/// The same response, its body sent `drip.bytes` at a time.
async fn trickle(response: Response, drip: Drip) -> Response {
    let (parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, usize::MAX)
        .await
        .unwrap_or_default();
    let reader = Trickle {
        data: bytes.to_vec(),
        pos: 0,
        drip,
        pause: None,
    };
    let stream = tokio_util::io::ReaderStream::with_capacity(reader, drip.bytes.max(1));
    Response::from_parts(parts, Body::from_stream(stream))
}

/// A 200 JSON reply of `size` bytes, made as it is sent: the seed envelope
/// whose last string never closes.
fn huge_response(size: u64) -> Response {
    let prefix = br#"{"code":"0","message":"success","data":{"id":"proj_huge","status":"SUCCEEDED","clips":[],"padding":""#;
    Huge::response(prefix.to_vec(), size, None, "application/json", "huge")
}

fn header_str(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
}

// ---------------------------------------------------------------------------
// API calls

impl Shared {
    /// Answers one API call; the second value is a delay to apply before answering.
    fn api(
        &self,
        method: &Method,
        path: &str,
        authorization: Option<&str>,
        api_version: Option<&str>,
        body: Option<&Value>,
        malformed_body: bool,
    ) -> (Response, Option<Duration>) {
        let now = Instant::now();
        let cfg = &self.cfg;
        let mut w = self.world();
        let delay = w.misbehave.response_delay;

        let expected = format!("Bearer {}", cfg.api_key);
        if w.misbehave.reject_key {
            let response = gateway_error(cfg.auth_failure_status, path, None);
            return (injected(response, "rejected-key"), delay);
        }
        if authorization != Some(expected.as_str()) {
            return (gateway_error(cfg.auth_failure_status, path, None), delay);
        }
        if cfg.require_api_version && api_version != Some("v2") {
            return (
                api_error(
                    400,
                    "40000",
                    "missing or unsupported x-wayinvideo-api-version header",
                ),
                delay,
            );
        }
        if w.misbehave.rate_limited {
            let response = gateway_error(429, path, Some(Duration::from_secs(1)));
            return (injected(response, "rate-limited"), delay);
        }
        if let Some((limit, window)) = cfg.rate_limit {
            while w.window.front().is_some_and(|t| *t + window <= now) {
                w.window.pop_front();
            }
            if w.window.len() >= limit as usize {
                let wait = (w.window[0] + window).saturating_duration_since(now);
                return (gateway_error(429, path, Some(wait)), delay);
            }
            w.window.push_back(now);
        }
        if w.server_errors_left > 0 {
            w.server_errors_left -= 1;
            let page = "<html><head><title>500 Internal Server Error</title></head>\
                        <body><center><h1>500 Internal Server Error</h1></center></body></html>";
            return (
                injected(plain(500, "text/html", page), "server-error"),
                delay,
            );
        }

        let Some(rest) = path.strip_prefix(cfg.prefix.as_str()) else {
            return (gateway_error(404, path, None), delay);
        };
        if malformed_body {
            return (
                api_error(400, "40000", "request body is not valid JSON"),
                delay,
            );
        }
        let targeted = match w.misbehave.target {
            Target::Any => true,
            Target::Submit => *method == Method::POST && moments::is_submit(rest),
            Target::Results => *method == Method::GET && moments::is_results(rest),
            Target::UploadInit => *method == Method::POST && rest == "/upload/single-file",
        };
        if targeted && w.resets_left > 0 {
            w.resets_left -= 1;
            return (injected(Response::default(), "reset"), None);
        }
        if targeted && w.huge_left > 0 {
            w.huge_left -= 1;
            return (huge_response(w.misbehave.huge_bytes), delay);
        }
        let response = match (method.as_str(), rest) {
            ("POST", "/clips") => self.submit(&mut w, body, now),
            ("GET", r) if r.starts_with("/clips/results/") => {
                self.results(&mut w, &r["/clips/results/".len()..], now, false)
            }
            ("POST", moments::SUBMIT) => self.submit_moments(&mut w, body, now),
            ("GET", r) if r.starts_with(moments::RESULTS) => {
                self.results(&mut w, &r[moments::RESULTS.len()..], now, true)
            }
            ("POST", "/upload/single-file") => self.upload_init(&mut w, body, now),
            (m, r) if tasks::route(m, r).is_some() => {
                let (kind, id) = tasks::route(m, r).expect("routed");
                self.extra_task(&mut w, kind, id, body, now)
            }
            (_, "/clips" | "/upload/single-file") => gateway_error(405, path, None),
            _ => gateway_error(404, path, None),
        };
        if targeted && w.hangs_left > 0 {
            w.hangs_left -= 1;
            return (injected(response, "hang"), None);
        }
        let created =
            *method == Method::POST && moments::is_submit(rest) && response.status() == 200;
        if created && w.cuts_left > 0 {
            w.cuts_left -= 1;
            return (injected(response, "cut"), None);
        }
        let summary_created =
            *method == Method::POST && rest == "/summaries" && response.status() == 200;
        if summary_created && w.extra.cuts_left > 0 {
            w.extra.cuts_left -= 1;
            return (injected(response, "cut"), None);
        }
        if let Some(drip) = w.misbehave.drip_api.filter(|_| targeted) {
            let mut response = injected(response, "drip");
            response.extensions_mut().insert(drip);
            return (response, delay);
        }
        (response, delay)
    }

    fn ok(&self, data: Value) -> Response {
        let body = match self.cfg.envelope {
            Envelope::Seed => json!({"code": "0", "data": data, "message": "success"}),
            Envelope::DataOnly => json!({ "data": data }),
        };
        json_response(200, &body)
    }

    fn number(&self, n: u64) -> Value {
        if self.cfg.numbers_as_strings {
            Value::String(n.to_string())
        } else {
            Value::from(n)
        }
    }

    fn submit(&self, w: &mut World, body: Option<&Value>, now: Instant) -> Response {
        self.create_task(w, body, now, None)
    }

    /// A submit that passed its endpoint's own checks: an AI Clipping task,
    /// or a Find Moments one (`query`).
    fn create_task(
        &self,
        w: &mut World,
        body: Option<&Value>,
        now: Instant,
        query: Option<String>,
    ) -> Response {
        if let Some(message) = &w.misbehave.invalid_submit {
            return json_response(200, &json!({"code": "40001", "message": message}));
        }
        let Some(body) = body.filter(|b| b.is_object()) else {
            return api_error(400, "40001", "request body must be a JSON object");
        };
        let video_url = match body.get("video_url").and_then(Value::as_str) {
            Some(u) if !u.trim().is_empty() => u.to_string(),
            _ => return api_error(400, "40001", "video_url is required"),
        };
        if video_url.starts_with("upload://")
            && !w
                .uploads
                .iter()
                .any(|(identity, ..)| *identity == video_url)
        {
            return api_error(
                400,
                "40004",
                &format!("uploaded file not found: {video_url}"),
            );
        }
        if let Err(message) = check_clipping_options(body) {
            let trace = w.secret("trace")[..16].to_string();
            return json_response(400, &json!({"message": message, "trace_id": trace}));
        }
        if w.misbehave.no_units {
            let trace = w.secret("trace")[..16].to_string();
            let body = json!({
                "message": "Insufficient API units balance, please recharge",
                "trace_id": trace,
            });
            return injected(json_response(400, &body), "no-units");
        }
        if w.misbehave.concurrency_limited {
            let path = format!("{}/clips", self.cfg.prefix);
            let response = gateway_error(429, &path, Some(Duration::from_secs(1)));
            return injected(response, "concurrency-limited");
        }
        let phase = self.cfg.phase;
        if w.running(phase, now).count() + w.extra.running(self, now) >= self.cfg.max_running {
            let first_end = w
                .running(phase, now)
                .map(|t| t.ends_at(phase))
                .min()
                .unwrap_or(now);
            let wait = first_end.saturating_duration_since(now);
            return gateway_error(429, &format!("{}/clips", self.cfg.prefix), Some(wait));
        }

        let id = format!("proj_{}", w.task_order.len() + 1);
        let name = body
            .get("project_name")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let task = Task {
            id: id.clone(),
            name: name.clone(),
            enable_export: body.get("enable_export") == Some(&Value::Bool(true)),
            created: now,
            expire_at_ms: epoch_ms() + self.cfg.results_ttl.as_millis() as i64,
            fail_with: w.misbehave.fail_tasks_with.clone(),
            succeeded_polls: 0,
            clips: match query {
                Some(_) => self.cfg.moments_found.unwrap_or(self.cfg.clips),
                None => self.cfg.clips,
            },
            query: query.clone(),
        };
        w.tasks.insert(id.clone(), task);
        w.task_order.push(id.clone());
        w.submissions.push(body.clone());
        if w.malformed_submits_left > 0 {
            w.malformed_submits_left -= 1;
            return injected(
                plain(200, "application/json", r#"{"code":"0","data":{"i"#),
                "malformed",
            );
        }
        if query.is_some() {
            return self.ok(self.moments_reply(&id, &name));
        }
        self.ok(json!({"id": id, "name": name, "status": "CREATED"}))
    }

    /// `GET …/results/{id}` of a clipping task, or (`moments`) of a Find
    /// Moments one: each endpoint knows only its own tasks.
    fn results(&self, w: &mut World, id: &str, now: Instant, moments: bool) -> Response {
        let cfg = &self.cfg;
        if w.misbehave.results_gone {
            let response = api_error(404, "40400", &format!("task not found: {id}"));
            return injected(response, "gone");
        }
        let Some(task) = w.tasks.get(id).filter(|t| t.query.is_some() == moments) else {
            return api_error(404, "40400", &format!("task not found: {id}"));
        };
        if epoch_ms() >= task.expire_at_ms {
            return api_error(404, "40401", &format!("task results expired: {id}"));
        }
        if w.malformed_left > 0 {
            w.malformed_left -= 1;
            let cut = format!(r#"{{"code":"0","data":{{"id":"{id}","status":"SUCC"#);
            return injected(plain(200, "application/json", &cut), "malformed");
        }

        let status = task.status(cfg.phase, now);
        let (id, name, expire_at, enable_export, fail_with) = (
            task.id.clone(),
            task.name.clone(),
            task.expire_at_ms,
            task.enable_export,
            task.fail_with.clone(),
        );
        let polls_after_success = task.succeeded_polls;
        let total = task.clips;
        let (empty_polls, partial_polls) = (
            w.misbehave.empty_clips_polls,
            w.misbehave.partial_clips_polls,
        );
        let mut late = None;
        let listed = match status {
            Status::Created | Status::Queued | Status::Failed => 0,
            Status::Ongoing if cfg.partial_clips_while_ongoing => total.div_ceil(2),
            Status::Ongoing => 0,
            Status::Succeeded if polls_after_success < empty_polls => {
                late = Some("empty-clips");
                0
            }
            Status::Succeeded if polls_after_success - empty_polls < partial_polls => {
                late = Some("partial-clips");
                total.div_ceil(2)
            }
            Status::Succeeded => total,
        };
        let omit_last_link = status == Status::Succeeded
            && task.succeeded_polls < w.misbehave.missing_export_links_polls;

        let mut clips = Vec::with_capacity(listed);
        for idx in 0..listed {
            let mut clip = self.clip_json(&id, idx);
            let last = idx + 1 == total;
            if status == Status::Succeeded && enable_export && !(last && omit_last_link) {
                let link = match w.misbehave.export_link_override.clone() {
                    Some(link) => link,
                    None => self.issue_link(w, &id, idx, now),
                };
                clip.insert("export_link".into(), Value::String(link));
            }
            clips.push(Value::Object(clip));
        }
        if cfg.reverse_clips {
            clips.reverse();
        }
        if status == Status::Succeeded {
            if let Some(t) = w.tasks.get_mut(&id) {
                t.succeeded_polls += 1;
            }
        }

        let mut data = Map::new();
        data.insert("id".into(), json!(id));
        data.insert("name".into(), json!(name));
        data.insert("status".into(), json!(status.as_str()));
        data.insert("expire_at".into(), json!(expire_at));
        if status.ended() {
            let cost = if status == Status::Succeeded {
                cfg.cost_per_clip * total.max(usize::from(moments)) as u64
            } else {
                0
            };
            let field = match cfg.cost_field {
                CostField::ApiUnitsUsage => "api_units_usage",
                CostField::CostUsage => "cost_usage",
            };
            data.insert(field.into(), self.number(cost));
        }
        if status == Status::Failed {
            data.insert("error_message".into(), json!(fail_with));
        }
        data.insert("clips".into(), Value::Array(clips));
        if moments {
            self.moments_results_shape(&mut data);
        }
        let response = self.ok(Value::Object(data));
        if let Some(fault) = late {
            return injected(response, fault);
        }
        if omit_last_link && enable_export && listed == total {
            return injected(response, "missing-links");
        }
        response
    }

    fn clip_json(&self, task_id: &str, idx: usize) -> Map<String, Value> {
        let title = self
            .cfg
            .clip_titles
            .get(idx)
            .cloned()
            .unwrap_or_else(|| format!("Clip {} title", idx + 1));
        let begin = 15_000 + 90_000 * idx as u64;
        let end = begin + 30_000 + 5_000 * idx as u64;
        let mut clip = Map::new();
        match self.cfg.clip_idx.get(idx) {
            None => {
                clip.insert("idx".into(), self.number(idx as u64));
            }
            Some(Value::Null) => {}
            Some(sent) => {
                clip.insert("idx".into(), sent.clone());
            }
        }
        clip.insert("title".into(), json!(title));
        clip.insert("begin_ms".into(), self.number(begin));
        clip.insert("end_ms".into(), self.number(end));
        clip.insert(
            "thumbnail".into(),
            json!(format!("{}/files/thumb/{task_id}/{idx}.jpg", self.origin)),
        );
        clip.insert("tags".into(), json!(["insight", "analysis"]));
        clip.insert(
            "desc".into(),
            json!(format!("Clip {} description", idx + 1)),
        );
        clip.insert("score".into(), self.number(score(idx)));
        clip
    }

    fn issue_link(&self, w: &mut World, task_id: &str, idx: usize, now: Instant) -> String {
        let signature = w.secret("export");
        let links = w.links.entry((task_id.to_string(), idx)).or_default();
        links.last_gen += 1;
        let generation = links.last_gen;
        links.issued.insert(generation, (now, signature.clone()));
        if links.refused_pending {
            links.refused_pending = false;
            links.first_ok_gen.get_or_insert(generation);
        }
        format!(
            "{}/files/export/{task_id}/{idx}/{generation}.mp4?sig={signature}",
            self.origin
        )
    }

    fn upload_init(&self, w: &mut World, body: Option<&Value>, now: Instant) -> Response {
        let name = body.and_then(|b| b.get("name")).and_then(Value::as_str);
        if name.is_none_or(|n| n.trim().is_empty()) {
            return api_error(400, "40001", "name is required");
        }
        let token = w.secret("upload")[..24].to_string();
        let signature = format!("{}{}", w.secret("amz"), w.secret("amz2"));
        let identity = format!("upload://{token}");
        let upload_url = format!(
            "{}/upload-put/{token}?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Expires={}&X-Amz-Signature={signature}",
            self.origin,
            self.cfg.upload_url_ttl.as_secs()
        );
        w.upload_slots.insert(
            token,
            UploadSlot {
                signature,
                identity: identity.clone(),
                created: now,
            },
        );
        self.ok(json!({"upload_url": upload_url, "identity": identity}))
    }
}

// ---------------------------------------------------------------------------
// CDN and upload bucket

impl Shared {
    fn serve_file(
        &self,
        method: &Method,
        path: &str,
        query: Option<&str>,
        headers: &HeaderMap,
    ) -> Response {
        if method != Method::GET && method != Method::HEAD {
            return s3_error(
                405,
                "MethodNotAllowed",
                "The specified method is not allowed",
            );
        }
        if let Some(rest) = path.strip_prefix("/files/thumb/") {
            let parsed = rest
                .strip_suffix(".jpg")
                .and_then(|r| r.rsplit_once('/'))
                .and_then(|(task, idx)| Some((task, idx.parse::<usize>().ok()?)));
            let w = self.world();
            return match parsed {
                Some((task, _))
                    if w.tasks.contains_key(task) && w.misbehave.huge_thumbnails.is_some() =>
                {
                    let size = w.misbehave.huge_thumbnails.unwrap_or(0);
                    let prefix = thumb_content(task, 0)[..20].to_vec();
                    let counter = Some(self.huge_sent.clone());
                    Huge::response(prefix, size, counter, "image/jpeg", "huge-thumbnail")
                }
                Some((task, idx)) if w.tasks.get(task).is_some_and(|t| idx < t.clips) => {
                    bytes_response(200, "image/jpeg", self.cfg.thumb_content(task, idx), &[])
                }
                _ => s3_error(404, "NoSuchKey", "The specified key does not exist."),
            };
        }
        let Some(rest) = path.strip_prefix("/files/export/") else {
            return s3_error(404, "NoSuchKey", "The specified key does not exist.");
        };
        let parts: Vec<&str> = rest.split('/').collect();
        let parsed = match parts.as_slice() {
            [task, idx, file] => file
                .strip_suffix(".mp4")
                .and_then(|g| g.parse::<u64>().ok())
                .zip(idx.parse::<usize>().ok())
                .map(|(generation, idx)| (task.to_string(), idx, generation)),
            _ => None,
        };
        let Some((task_id, idx, generation)) = parsed else {
            return s3_error(404, "NoSuchKey", "The specified key does not exist.");
        };
        let sig = query_param(query, "sig");

        let now = Instant::now();
        let mut w = self.world();
        if let Some(location) = w.misbehave.redirect_exports_to.clone() {
            let response = Response::builder()
                .status(302)
                .header(header::LOCATION, location)
                .body(Body::empty())
                .expect("redirect");
            return injected(response, "redirect");
        }
        let refuse_mode = w.misbehave.export_links_refused_until_refresh;
        let drip = w.misbehave.drip_downloads;
        let html = w.misbehave.html_instead_of_mp4;
        let truncate = w.misbehave.truncate_downloads;
        let results_gone = w.misbehave.results_gone
            || (w
                .tasks
                .get(&task_id)
                .is_none_or(|t| epoch_ms() >= t.expire_at_ms)
                && !w.extra.is_export(&task_id));
        let Some(links) = w.links.get_mut(&(task_id.clone(), idx)) else {
            return s3_error(403, "AccessDenied", "Access Denied");
        };
        let Some((issued, signature)) = links.issued.get(&generation) else {
            return s3_error(403, "AccessDenied", "Access Denied");
        };
        if sig.as_deref() != Some(signature.as_str()) {
            return s3_error(
                403,
                "SignatureDoesNotMatch",
                "The request signature we calculated does not match the signature you provided.",
            );
        }
        if results_gone || *issued + self.cfg.link_ttl <= now {
            return s3_error(403, "AccessDenied", "Request has expired");
        }
        if refuse_mode && links.first_ok_gen.is_none_or(|ok| generation < ok) {
            links.refused_pending = true;
            let response = s3_error(403, "AccessDenied", "Request has expired");
            return injected(response, "refused-export");
        }
        drop(w);

        if html {
            let page = "<!DOCTYPE html><html><head><title>Error</title></head>\
                        <body><h1>An error occurred</h1><p>The file is temporarily unavailable.</p></body></html>";
            return injected(plain(200, "text/html; charset=utf-8", page), "html");
        }

        let content = self.cfg.clip_content(&task_id, idx);
        let total = content.len();
        let range = header_str(headers, header::RANGE.as_str());
        let (status, start, end) = match range.as_deref().map(|r| parse_range(r, total)) {
            None => (200, 0, total),
            Some(Some((start, end))) => (206, start, end),
            Some(None) => {
                return Response::builder()
                    .status(416)
                    .header(header::CONTENT_RANGE, format!("bytes */{total}"))
                    .body(Body::empty())
                    .expect("416 response");
            }
        };
        let mut extra = vec![(header::ACCEPT_RANGES, "bytes".to_string())];
        if status == 206 {
            extra.push((
                header::CONTENT_RANGE,
                format!("bytes {start}-{}/{total}", end - 1),
            ));
        }
        let slice = content[start..end].to_vec();
        if truncate && method == Method::GET {
            let declared = slice.len();
            let half = slice[..declared / 2].to_vec();
            let mut builder = Response::builder()
                .status(status)
                .header(header::CONTENT_TYPE, "video/mp4")
                .header(header::CONTENT_LENGTH, declared);
            for (name, value) in extra {
                builder = builder.header(name, value);
            }
            let stream = tokio_util::io::ReaderStream::new(HalfThenFail::new(half));
            let response = builder
                .body(Body::from_stream(stream))
                .expect("truncated response");
            return injected(response, "truncated");
        }
        let response = bytes_response(status, "video/mp4", slice, &extra);
        match drip {
            Some(drip) if method == Method::GET => {
                let mut response = injected(response, "drip");
                response.extensions_mut().insert(drip);
                response
            }
            _ => response,
        }
    }

    async fn upload_put(
        &self,
        method: &Method,
        token: &str,
        query: Option<&str>,
        headers: &HeaderMap,
        body: Body,
    ) -> Response {
        if method != Method::PUT {
            return s3_error(
                405,
                "MethodNotAllowed",
                "The specified method is not allowed",
            );
        }
        if headers.contains_key(header::AUTHORIZATION) {
            return s3_error(
                400,
                "InvalidArgument",
                "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, \
                 Signature query string parameter or the Authorization header should be specified",
            );
        }
        let (identity, refuse) = {
            let mut w = self.world();
            let refuse = w.refuse_uploads_left > 0;
            let Some(slot) = w.upload_slots.get(token) else {
                return s3_error(403, "AccessDenied", "Access Denied");
            };
            if query_param(query, "X-Amz-Signature").as_deref() != Some(slot.signature.as_str()) {
                return s3_error(
                    403,
                    "SignatureDoesNotMatch",
                    "The request signature we calculated does not match the signature you provided.",
                );
            }
            if slot.created + self.cfg.upload_url_ttl <= Instant::now() {
                return s3_error(403, "AccessDenied", "Request has expired");
            }
            let identity = slot.identity.clone();
            if refuse {
                w.refuse_uploads_left -= 1;
            }
            (identity, refuse)
        };

        let mut body = body;
        let mut hasher = Sha256::new();
        let mut len = 0u64;
        loop {
            match poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await {
                None => break,
                Some(Err(_)) => {
                    return s3_error(400, "IncompleteBody", "The request body ended early")
                }
                Some(Ok(frame)) => {
                    if let Ok(data) = frame.into_data() {
                        hasher.update(&data);
                        len += data.len() as u64;
                    }
                }
            }
        }
        if refuse {
            return injected(
                s3_error(403, "AccessDenied", "Access Denied"),
                "refused-upload",
            );
        }
        let digest = hex(&hasher.finalize());
        let content_type = header_str(headers, header::CONTENT_TYPE.as_str());
        self.world()
            .uploads
            .push((identity, digest.clone(), len, content_type));
        Response::builder()
            .status(200)
            .header(header::ETAG, format!("\"{}\"", &digest[..32]))
            .body(Body::empty())
            .expect("upload response")
    }
}

/// An `AsyncRead` that yields its data and then fails, so hyper aborts the
/// response before the declared Content-Length is reached. The failure waits a
/// moment so that hyper flushes the headers and data already written.
struct HalfThenFail {
    data: Vec<u8>,
    pos: usize,
    pause: Pin<Box<tokio::time::Sleep>>,
}

impl HalfThenFail {
    fn new(data: Vec<u8>) -> HalfThenFail {
        HalfThenFail {
            data,
            pos: 0,
            pause: Box::pin(tokio::time::sleep(Duration::from_millis(50))),
        }
    }
}

impl AsyncRead for HalfThenFail {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.pos >= self.data.len() {
            if self.pause.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::ConnectionAborted,
                "fake CDN closed the connection",
            )));
        }
        let n = buf.remaining().min(self.data.len() - self.pos);
        let start = self.pos;
        buf.put_slice(&self.data[start..start + n]);
        self.pos += n;
        Poll::Ready(Ok(()))
    }
}

/// An `AsyncRead` that fails at once (see [`reset_connection`]).
struct FailAtOnce;

impl AsyncRead for FailAtOnce {
    fn poll_read(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        _buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Poll::Ready(Err(io::Error::new(
            io::ErrorKind::ConnectionReset,
            "fake API reset the connection",
        )))
    }
}

/// An `AsyncRead` that yields `drip.bytes` after each pause of `drip.every`.
struct Trickle {
    data: Vec<u8>,
    pos: usize,
    drip: Drip,
    pause: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl AsyncRead for Trickle {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.pos >= self.data.len() {
            return Poll::Ready(Ok(()));
        }
        let every = self.drip.every;
        let pause = self
            .pause
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(every)));
        if pause.as_mut().poll(cx).is_pending() {
            return Poll::Pending;
        }
        self.pause = None;
        let n = buf
            .remaining()
            .min(self.drip.bytes.max(1))
            .min(self.data.len() - self.pos);
        let start = self.pos;
        buf.put_slice(&self.data[start..start + n]);
        self.pos += n;
        Poll::Ready(Ok(()))
    }
}

/// An `AsyncRead` of `size` bytes: `prefix`, then `a` to the end.
struct Huge {
    prefix: Vec<u8>,
    sent: u64,
    size: u64,
    /// Counts the bytes handed out, when set.
    counter: Option<Arc<std::sync::atomic::AtomicU64>>,
}

impl Huge {
    /// A 200 of `content_type` whose body is `prefix` and then filler up to
    /// `size` bytes, made as it is sent; recorded as the fault `fault`.
    fn response(
        prefix: Vec<u8>,
        size: u64,
        counter: Option<Arc<std::sync::atomic::AtomicU64>>,
        content_type: &str,
        fault: &'static str,
    ) -> Response {
        let reader = Huge {
            prefix,
            sent: 0,
            size,
            counter,
        };
        let stream = tokio_util::io::ReaderStream::with_capacity(reader, 64 * 1024);
        let response = Response::builder()
            .status(200)
            .header(header::CONTENT_TYPE, content_type)
            .body(Body::from_stream(stream))
            .expect("huge response");
        injected(response, fault)
    }
}

impl AsyncRead for Huge {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        const FILLER: [u8; 16 * 1024] = [b'a'; 16 * 1024];
        let left = self.size.saturating_sub(self.sent);
        let at = self.sent as usize;
        let piece = if at < self.prefix.len() {
            &self.prefix[at..]
        } else {
            &FILLER[..]
        };
        let n = piece.len().min(buf.remaining()).min(left as usize);
        buf.put_slice(&piece[..n]);
        self.sent += n as u64;
        if let Some(counter) = &self.counter {
            counter.fetch_add(n as u64, std::sync::atomic::Ordering::Relaxed);
        }
        Poll::Ready(Ok(()))
    }
}

// ---------------------------------------------------------------------------
// Content and helpers

/// Deterministic clip content: an `ftyp` box, an `mdat` header, then
/// pseudo-random bytes derived from the task and idx.
fn clip_content(task_id: &str, idx: usize, len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len + 32);
    out.extend_from_slice(b"\0\0\0\x20ftypisom\0\0\x02\0isomiso2avc1mp41");
    let mdat_len = u32::try_from(len.saturating_sub(32)).unwrap_or(u32::MAX);
    out.extend_from_slice(&mdat_len.to_be_bytes());
    out.extend_from_slice(b"mdat");
    let mut block: [u8; 32] = Sha256::digest(format!("clip:{task_id}:{idx}")).into();
    while out.len() < len {
        out.extend_from_slice(&block);
        block = Sha256::digest(block).into();
    }
    out.truncate(len);
    out
}

/// Deterministic JPEG-looking bytes: SOI + JFIF APP0, filler, EOI.
fn thumb_content(task_id: &str, idx: usize) -> Vec<u8> {
    let mut out = vec![
        0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, b'J', b'F', b'I', b'F', 0x00, 0x01, 0x01, 0x00, 0x00,
        0x01, 0x00, 0x01, 0x00, 0x00,
    ];
    let mut block: [u8; 32] = Sha256::digest(format!("thumb:{task_id}:{idx}")).into();
    for _ in 0..16 {
        out.extend_from_slice(&block);
        block = Sha256::digest(block).into();
    }
    out.extend_from_slice(&[0xFF, 0xD9]);
    out
}

fn score(idx: usize) -> u64 {
    match idx {
        0 => 90,
        1 => 75,
        2 => 40,
        n => 40u64.saturating_sub(5 * (n as u64 - 2)).max(1),
    }
}

/// `bytes=N-` or `bytes=N-M` → half-open `[start, end)`; `None` if unsatisfiable.
fn parse_range(value: &str, total: usize) -> Option<(usize, usize)> {
    let spec = value.trim().strip_prefix("bytes=")?;
    let (start, end) = spec.split_once('-')?;
    let start: usize = start.trim().parse().ok()?;
    let end = match end.trim() {
        "" => total,
        e => (e.parse::<usize>().ok()? + 1).min(total),
    };
    (start < end).then_some((start, end))
}

fn query_param(query: Option<&str>, name: &str) -> Option<String> {
    query?.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        (k == name).then(|| v.to_string())
    })
}

fn epoch_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn json_response(status: u16, body: &Value) -> Response {
    bytes_response(
        status,
        "application/json",
        serde_json::to_vec(body).expect("serialize JSON"),
        &[],
    )
}

fn plain(status: u16, content_type: &str, body: &str) -> Response {
    bytes_response(status, content_type, body.as_bytes().to_vec(), &[])
}

fn bytes_response(
    status: u16,
    content_type: &str,
    body: Vec<u8>,
    extra: &[(header::HeaderName, String)],
) -> Response {
    let mut builder = Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, content_type)
        .header(header::CONTENT_LENGTH, body.len());
    for (name, value) in extra {
        builder = builder.header(name, value);
    }
    builder.body(Body::from(body)).expect("response")
}

/// An error in the API's own envelope: `{"code": "<non-zero>", "message": …}`.
/// The AI Clipping options of the API's April 2026 edition, refused as the
/// API refuses them (400): the two Enterprise switches must be booleans;
/// `enable_ai_reframe` needs a `ratio` to reframe to (no RATIO_ORIGINAL);
/// `reframe_layout`, exact in case and spaces, must suit that ratio
/// (empty means Auto; without reframing it is ignored).
fn check_clipping_options(body: &Value) -> Result<(), String> {
    for flag in [
        "enable_express_mode",
        "enable_more_results",
        "enable_ai_reframe",
    ] {
        if body.get(flag).is_some_and(|v| !v.is_boolean()) {
            return Err(format!("{flag} must be a boolean"));
        }
    }
    if body.get("enable_ai_reframe") != Some(&Value::Bool(true)) {
        return Ok(());
    }
    let ratio = body.get("ratio").and_then(Value::as_str).unwrap_or("");
    let layouts: &[&str] = match ratio {
        "RATIO_16_9" => &[
            "Auto",
            "Full",
            "Fit",
            "Grid 4",
            "Split 2",
            "Trio",
            "PiP",
            "OTS",
            "Screen First",
        ],
        "RATIO_9_16" | "RATIO_4_5" => &[
            "Auto",
            "Full",
            "Fit",
            "Grid 4",
            "Split 2",
            "Trio",
            "PiP",
            "Screen First",
            "Gameplay A",
            "Gameplay B",
        ],
        "RATIO_1_1" => &["Auto", "Full", "Fit", "Grid 4", "Trio"],
        _ => return Err("ratio is required when enable_ai_reframe is true".into()),
    };
    match body.get("reframe_layout") {
        None | Some(Value::Null) => Ok(()),
        Some(Value::String(layout)) if layout.is_empty() || layouts.contains(&layout.as_str()) => {
            Ok(())
        }
        Some(other) => Err(format!("invalid reframe_layout {other} for {ratio}")),
    }
}

fn api_error(status: u16, code: &str, message: &str) -> Response {
    json_response(status, &json!({"code": code, "message": message}))
}

/// An error from the API gateway (auth, rate limit, routing), shaped like
/// `{"timestamp", "status", "error", "path"}`; 429 carries `Retry-After`.
fn gateway_error(status: u16, path: &str, retry_after: Option<Duration>) -> Response {
    let reason = StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("Error");
    let timestamp = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let body = json!({"timestamp": timestamp, "status": status, "error": reason, "path": path});
    let mut response = json_response(status, &body);
    if let Some(wait) = retry_after {
        let secs = wait.as_millis().div_ceil(1000).max(1);
        response.headers_mut().insert(
            header::RETRY_AFTER,
            secs.to_string().parse().expect("Retry-After value"),
        );
    }
    response
}

/// An S3/CDN-style XML error.
fn s3_error(status: u16, code: &str, message: &str) -> Response {
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>{message}</Message></Error>"
    );
    plain(status, "application/xml", &body)
}
