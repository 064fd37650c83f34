//! Find Moments in the fake API (a child module of `fake_api.rs`, sharing
//! its world): `POST {prefix}/clips/find-moments` and
//! `GET {prefix}/clips/find-moments/results/{id}`, shaped as
//! WAYINVIDEO_API_MORE.md documents them for each prefix:
//!
//! - `/open/v2`: `query` optional; the task is named `project_id` in the
//!   submit reply and the results (†; a client must take either);
//! - `/api/v2`: `query` required; the task is named `id`.
//!
//! Neither takes `target_duration` (AI Clipping's own): a submit that sends
//! it is refused, as a real API might, so a test sees it was not sent.
//! Results have the clipping shape and are served by the same code as
//! clipping results, from `FakeConfig::moments_found` clips (`Some(0)`: the
//! query matches nothing, a SUCCEEDED task with an empty list for good).
//! A moments task is not found at `/clips/results/` and a clipping task not
//! at the moments results path.

use std::time::Instant;

use serde_json::{json, Map, Value};

use super::{api_error, Shared, World};

/// The submit path, under the prefix.
pub(super) const SUBMIT: &str = "/clips/find-moments";
/// The results path before the task id, under the prefix.
pub(super) const RESULTS: &str = "/clips/find-moments/results/";
const OPEN_PREFIX: &str = "/open/v2";

/// Whether `rest` (the path after the prefix) is a submit of either kind.
pub(super) fn is_submit(rest: &str) -> bool {
    rest == "/clips" || rest == SUBMIT
}

/// Whether `rest` is a results call of either kind.
pub(super) fn is_results(rest: &str) -> bool {
    rest.starts_with("/clips/results/") || rest.starts_with(RESULTS)
}

impl Shared {
    /// `POST /clips/find-moments`: the checks of this endpoint, then a task
    /// like any other.
    pub(super) fn submit_moments(
        &self,
        w: &mut World,
        body: Option<&Value>,
        now: Instant,
    ) -> axum::response::Response {
        let open = self.cfg.prefix == OPEN_PREFIX;
        let query = body
            .and_then(|b| b.get("query"))
            .and_then(Value::as_str)
            .map(str::trim)
            .unwrap_or("");
        if query.is_empty() && !open {
            return api_error(400, "40001", "query is required");
        }
        if body.is_some_and(|b| b.get("target_duration").is_some()) {
            return api_error(400, "40001", "unknown parameter: target_duration");
        }
        self.create_task(w, body, now, Some(query.to_string()))
    }

    /// The submit reply's `data`: the task as `project_id` under `/open/v2`,
    /// `id` under `/api/v2`.
    pub(super) fn moments_reply(&self, id: &str, name: &str) -> Value {
        let id_field = self.moments_id_field();
        json!({ id_field: id, "name": name, "status": "CREATED" })
    }

    /// Results under `/open/v2` name the task `project_id` (†).
    pub(super) fn moments_results_shape(&self, data: &mut Map<String, Value>) {
        if self.moments_id_field() == "project_id" {
            if let Some(id) = data.remove("id") {
                data.insert("project_id".into(), id);
            }
        }
    }

    fn moments_id_field(&self) -> &'static str {
        if self.cfg.prefix == OPEN_PREFIX {
            "project_id"
        } else {
            "id"
        }
    }
}

impl super::FakeApi {
    /// The Find Moments submits the fake accepted (their JSON bodies).
    pub fn moments_submissions(&self) -> Vec<Value> {
        let w = self.shared.world();
        w.task_order
            .iter()
            .zip(&w.submissions)
            .filter(|(id, _)| w.tasks.get(*id).is_some_and(|t| t.query.is_some()))
            .map(|(_, body)| body.clone())
            .collect()
    }
}
