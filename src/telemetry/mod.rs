//! What the daemon tells operators about itself: Prometheus metrics
//! ([`Metrics`]) and liveness heartbeats ([`health`]).
//!
//! A leaf module, like `tracing`: the API client, the feed loop, the drop
//! watcher and the downloader record into one process-wide registry with a
//! one-line call, and the HTTP server (`crate::http`) renders it. Job counts
//! and transitions are not recorded by the pipeline at all: they come from
//! [`crate::store::Store::subscribe`] (see `crate::http::live`).
//! Label values are bounded: states, API endpoint names, HTTP status codes
//! and feed names from the configuration, never anything a feed or the API
//! sent.

pub mod health;

use std::sync::OnceLock;
use std::time::Duration;

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::Registry;

/// Label pairs of a metric family.
type Labels = Vec<(&'static str, String)>;

/// Every metric clipwatch exports.
pub struct Metrics {
    registry: Registry,
    pub jobs: Family<Labels, Gauge>,
    pub job_transitions: Family<Labels, Counter>,
    api_requests: Family<Labels, Counter>,
    api_rate_limited: Counter,
    api_units: Counter,
    pub tasks_running: Gauge,
    feed_checks: Family<Labels, Counter>,
    feed_check_seconds: Histogram,
    feed_consecutive_failures: Family<Labels, Gauge>,
    download_bytes: Counter,
    drop_files: Family<Labels, Counter>,
    notify_deliveries: Family<Labels, Counter>,
}

/// The process-wide registry.
pub fn metrics() -> &'static Metrics {
    static METRICS: OnceLock<Metrics> = OnceLock::new();
    METRICS.get_or_init(Metrics::new)
}

impl Metrics {
    fn new() -> Metrics {
        let mut registry = Registry::default();
        let jobs = Family::<Labels, Gauge>::default();
        registry.register("clipwatch_jobs", "Jobs per state", jobs.clone());
        let job_transitions = Family::<Labels, Counter>::default();
        registry.register(
            "clipwatch_job_transitions",
            "Job state changes since start",
            job_transitions.clone(),
        );
        let api_requests = Family::<Labels, Counter>::default();
        registry.register(
            "clipwatch_api_requests",
            "WayinVideo API requests by endpoint and HTTP status (0: no answer)",
            api_requests.clone(),
        );
        let api_rate_limited = Counter::default();
        registry.register(
            "clipwatch_api_rate_limited",
            "API requests answered 429",
            api_rate_limited.clone(),
        );
        let api_units = Counter::default();
        registry.register(
            "clipwatch_api_units",
            "API units charged, as recorded in the database",
            api_units.clone(),
        );
        let tasks_running = Gauge::default();
        registry.register(
            "clipwatch_tasks_running",
            "Task slots in use",
            tasks_running.clone(),
        );
        let feed_checks = Family::<Labels, Counter>::default();
        registry.register(
            "clipwatch_feed_checks",
            "Feed checks by feed and result (ok, error)",
            feed_checks.clone(),
        );
        let feed_check_seconds = Histogram::new(exponential_buckets(0.05, 2.0, 10));
        registry.register(
            "clipwatch_feed_check_seconds",
            "How long a feed check took",
            feed_check_seconds.clone(),
        );
        let feed_consecutive_failures = Family::<Labels, Gauge>::default();
        registry.register(
            "clipwatch_feed_consecutive_failures",
            "Failed checks in a row per feed",
            feed_consecutive_failures.clone(),
        );
        let download_bytes = Counter::default();
        registry.register(
            "clipwatch_download_bytes",
            "Bytes of clips and thumbnails downloaded",
            download_bytes.clone(),
        );
        let drop_files = Family::<Labels, Counter>::default();
        registry.register(
            "clipwatch_drop_files",
            "Files taken from the drop folder by result (taken, error)",
            drop_files.clone(),
        );
        let notify_deliveries = Family::<Labels, Counter>::default();
        registry.register(
            "clipwatch_notify_deliveries",
            "Notification attempts by sink and result (delivered, refused, retry, dropped)",
            notify_deliveries.clone(),
        );
        registry.register(
            "clipwatch_build",
            "The running version",
            Info::new(vec![("version", env!("CARGO_PKG_VERSION").to_string())]),
        );
        Metrics {
            registry,
            jobs,
            job_transitions,
            api_requests,
            api_rate_limited,
            api_units,
            tasks_running,
            feed_checks,
            feed_check_seconds,
            feed_consecutive_failures,
            download_bytes,
            drop_files,
            notify_deliveries,
        }
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let mut text = String::new();
        // Writing to a String cannot fail.
        let _ = encode(&mut text, &self.registry);
        text
    }

    /// One API request to `path` (e.g. `/clips/results/abc`) answered with
    /// HTTP `status` (0 when no answer came).
    pub fn api_request(&self, path: &str, status: u16) {
        let labels = vec![
            ("endpoint", endpoint(path).to_string()),
            ("status", status.to_string()),
        ];
        self.api_requests.get_or_create(&labels).inc();
        if status == 429 {
            self.api_rate_limited.inc();
        }
    }

    /// The database's unit total, raised to `total` (it never goes down).
    pub fn units_seen(&self, total: u64) {
        let now = self.api_units.get();
        if total > now {
            self.api_units.inc_by(total - now);
        }
    }

    /// A check of feed `feed` (a configured name) ended.
    pub fn feed_checked(&self, feed: &str, ok: bool, took: Duration, consecutive_failures: u32) {
        let result = if ok { "ok" } else { "error" };
        let labels = vec![("feed", feed.to_string()), ("result", result.to_string())];
        self.feed_checks.get_or_create(&labels).inc();
        self.feed_check_seconds.observe(took.as_secs_f64());
        self.feed_consecutive_failures
            .get_or_create(&vec![("feed", feed.to_string())])
            .set(i64::from(consecutive_failures));
    }

    /// `bytes` more of a clip or thumbnail were written.
    pub fn downloaded(&self, bytes: usize) {
        self.download_bytes.inc_by(bytes as u64);
    }

    /// A file in the drop folder was taken (`true`) or could not be.
    pub fn drop_file(&self, taken: bool) {
        let result = if taken { "taken" } else { "error" };
        self.drop_files
            .get_or_create(&vec![("result", result.to_string())])
            .inc();
    }

    /// One delivery attempt of a notification to sink `sink` (a configured
    /// name) ended with `result`: `delivered`, `refused`, `retry` or
    /// `dropped` (given up after the retry window).
    pub fn notify_delivery(&self, sink: &str, result: &'static str) {
        let labels = vec![("sink", sink.to_string()), ("result", result.to_string())];
        self.notify_deliveries.get_or_create(&labels).inc();
    }
}

/// The endpoint an API path names, without ids: a bounded label.
fn endpoint(path: &str) -> &'static str {
    let path = path.split('?').next().unwrap_or_default();
    match path {
        "/clips" => "submit",
        "/upload/single-file" => "upload",
        p if p.starts_with("/clips/results/") => "results",
        "/clips/find-moments" => "moments_submit",
        p if p.starts_with("/clips/find-moments/results/") => "moments_results",
        "/transcripts" => "transcript_submit",
        p if p.starts_with("/transcripts/results/") => "transcript_results",
        "/summaries" => "summary_submit",
        p if p.starts_with("/summaries/results/") => "summary_results",
        "/clips/export" => "export_submit",
        p if p.starts_with("/clips/export/") => "export_results",
        _ => "other",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_never_carry_ids() {
        assert_eq!(endpoint("/clips/results/task-123"), "results");
        assert_eq!(endpoint("/clips"), "submit");
        assert_eq!(endpoint("/upload/single-file"), "upload");
        assert_eq!(endpoint("/whatever/secret-id"), "other");
        assert_eq!(endpoint("/clips/find-moments"), "moments_submit");
        assert_eq!(
            endpoint("/clips/find-moments/results/fm-1"),
            "moments_results"
        );
        assert_eq!(endpoint("/transcripts"), "transcript_submit");
        assert_eq!(endpoint("/summaries/results/s-1"), "summary_results");
        assert_eq!(endpoint("/clips/export"), "export_submit");
        assert_eq!(endpoint("/clips/export/exp_41"), "export_results");
        assert_eq!(endpoint("/clips/export/results/exp_41"), "export_results");
    }

    #[test]
    fn rendered_metrics_are_prometheus_text_with_the_build_version() {
        let metrics = Metrics::new();
        metrics.api_request("/clips/results/x", 429);
        metrics.feed_checked("news", false, Duration::from_millis(120), 2);
        metrics.notify_delivery("phone", "retry");
        metrics.notify_delivery("phone", "delivered");
        let text = metrics.render();
        assert!(text.contains(&format!(
            "clipwatch_build_info{{version=\"{}\"}} 1",
            env!("CARGO_PKG_VERSION")
        )));
        assert!(
            text.contains("clipwatch_api_requests_total{endpoint=\"results\",status=\"429\"} 1")
        );
        assert!(text.contains("clipwatch_api_rate_limited_total 1"));
        assert!(text.contains("clipwatch_feed_consecutive_failures{feed=\"news\"} 2"));
        assert!(text.contains("clipwatch_feed_check_seconds_count 1"));
        assert!(text
            .contains("clipwatch_notify_deliveries_total{sink=\"phone\",result=\"delivered\"} 1"));
        assert!(text.ends_with("# EOF\n"));
    }
}
