//! The task kinds beside AI Clipping that a job may run as extra tasks
//! (`WAYINVIDEO_API_MORE.md`): Video Transcription, Video Summarization and
//! Clips Export. They submit and poll like a clipping task, through the same
//! budget; their replies are decoded loosely (several of their fields come
//! from client code, not the vendor's page): the task id as `id`,
//! `project_id` or `export_task_id`, the units as `cost_usage` or
//! `api_units_usage`, and the rest of the reply kept as it came.

use reqwest::Method;
use serde_json::{Map, Value};

use super::client::{path_segment, ApiClient, BeforeSend};
use super::error::ApiError;
use super::types::{value_to_u64, TaskStatus};
use crate::model::ExtraKind;

/// The submit path of a kind.
fn submit_path(kind: &ExtraKind) -> &'static str {
    match kind {
        ExtraKind::Transcript => "/transcripts",
        ExtraKind::Summary => "/summaries",
        ExtraKind::Export { .. } => "/clips/export",
    }
}

/// The results paths of a kind, the documented one first. Clips Export's
/// is known from client code only (`/clips/export/{id}`): a 404 there is
/// tried again at `/clips/export/results/{id}`.
fn results_paths(kind: &ExtraKind, id: &str) -> Vec<String> {
    let id = path_segment(id);
    match kind {
        ExtraKind::Transcript => vec![format!("/transcripts/results/{id}")],
        ExtraKind::Summary => vec![format!("/summaries/results/{id}")],
        ExtraKind::Export { .. } => vec![
            format!("/clips/export/{id}"),
            format!("/clips/export/results/{id}"),
        ],
    }
}

/// What a results call of any kind says, with the reply's `data` as it came.
#[derive(Debug, Clone)]
pub struct TaskReport {
    pub status: TaskStatus,
    pub error_message: Option<String>,
    /// Units charged: `cost_usage` or `api_units_usage`.
    pub units: Option<u64>,
    /// Epoch ms after which the results are gone.
    pub expire_at: Option<u64>,
    pub data: Value,
}

impl TaskReport {
    fn from_data(data: Value) -> Result<TaskReport, ApiError> {
        let status = match data.get("status") {
            Some(Value::String(s)) => TaskStatus::parse(s),
            _ => {
                return Err(ApiError::Unreadable {
                    message: "unexpected reply shape: no status".into(),
                })
            }
        };
        let number = |key: &str| data.get(key).and_then(value_to_u64);
        let error_message = data
            .get("error_message")
            .and_then(Value::as_str)
            .filter(|m| !m.trim().is_empty())
            .map(str::to_owned);
        Ok(TaskReport {
            status,
            error_message,
            units: number("cost_usage").or_else(|| number("api_units_usage")),
            expire_at: number("expire_at"),
            data,
        })
    }
}

/// The task id of a submit reply, whichever name it came under.
fn task_id(data: &Value) -> Option<String> {
    ["id", "project_id", "export_task_id"]
        .iter()
        .find_map(|key| match data.get(*key) {
            Some(Value::String(s)) if !s.trim().is_empty() => Some(s.trim().to_owned()),
            Some(Value::Number(n)) => Some(n.to_string()),
            _ => None,
        })
}

impl ApiClient {
    /// Submit an extra task of `kind` with `body`; its task id. As with a
    /// clipping submit, `before_send` runs right before the request leaves
    /// and a sent request is not abandoned at shutdown.
    pub async fn submit_extra(
        &self,
        kind: &ExtraKind,
        body: Map<String, Value>,
        before_send: BeforeSend<'_>,
    ) -> Result<String, ApiError> {
        let data: Value = self
            .call_with(
                Method::POST,
                submit_path(kind),
                Some(Value::Object(body)),
                Some(before_send),
            )
            .await?;
        task_id(&data).ok_or_else(|| ApiError::Unreadable {
            message: "the submit reply names no task id (id, project_id or export_task_id)".into(),
        })
    }

    /// The status and results of an extra task.
    pub async fn extra_results(&self, kind: &ExtraKind, id: &str) -> Result<TaskReport, ApiError> {
        let paths = results_paths(kind, id);
        let mut last = None;
        for path in &paths {
            match self.call_with::<Value>(Method::GET, path, None, None).await {
                Ok(data) => return TaskReport::from_data(data),
                Err(err @ ApiError::Invalid { .. }) if paths.len() > 1 => last = Some(err),
                Err(err) => return Err(err),
            }
        }
        Err(last.unwrap_or(ApiError::Unreadable {
            message: "no results path".into(),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn task_ids_come_under_any_documented_name() {
        assert_eq!(task_id(&json!({"id": "tr_1"})).as_deref(), Some("tr_1"));
        assert_eq!(task_id(&json!({"project_id": "p"})).as_deref(), Some("p"));
        assert_eq!(
            task_id(&json!({"export_task_id": "exp_41"})).as_deref(),
            Some("exp_41")
        );
        assert_eq!(task_id(&json!({"id": 7})).as_deref(), Some("7"));
        assert_eq!(task_id(&json!({"name": "x"})), None);
    }

    #[test]
    fn reports_read_either_cost_field_and_string_numbers() {
        let report = TaskReport::from_data(json!({
            "status": "SUCCEEDED", "cost_usage": "12", "expire_at": 1760000000000u64
        }))
        .unwrap();
        assert_eq!(report.status, TaskStatus::Succeeded);
        assert_eq!(report.units, Some(12));
        assert_eq!(report.expire_at, Some(1_760_000_000_000));
        let old = TaskReport::from_data(json!({"status": "FAILED", "api_units_usage": 0,
            "error_message": "no speech"}))
        .unwrap();
        assert_eq!(old.units, Some(0));
        assert_eq!(old.error_message.as_deref(), Some("no speech"));
        assert!(TaskReport::from_data(json!({"transcript": []})).is_err());
    }
}
