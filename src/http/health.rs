//! `GET /healthz`: 200 `ok` while the scheduler, the feed loop and the drop
//! watcher turn and the database takes writes; 503 naming what is wrong.
//! No database read: heartbeats ([`crate::telemetry::health`]) and the
//! store's failure flag (set by any failed write, including the daemon's
//! periodic write probe).

use axum::http::StatusCode;

use super::App;

pub fn check(app: &App) -> (StatusCode, String) {
    let mut problems: Vec<String> = crate::telemetry::health::heartbeats()
        .stuck()
        .into_iter()
        .map(|(part, quiet)| format!("{}: no progress for {}s", part.name(), quiet.as_secs()))
        .collect();
    if let Some(reason) = app.pipeline.store.failures().borrow().clone() {
        problems.push(format!("store: the database cannot be written ({reason})"));
    }
    if problems.is_empty() {
        (StatusCode::OK, "ok\n".into())
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("{}\n", problems.join("\n")),
        )
    }
}
