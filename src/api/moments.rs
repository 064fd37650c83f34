//! Find Moments: the same submit-then-poll protocol as AI Clipping, at
//! `POST /clips/find-moments` and `GET /clips/find-moments/results/{id}`
//! (under either prefix, `/open/v2` or `/api/v2`, which the base URL
//! carries). Its results have the clipping shape ([`TaskResults`]); the
//! submit reply names the task by `id` or `project_id` (both taken).

use reqwest::Method;
use serde_json::{Map, Value};

use super::client::{path_segment, ApiClient, BeforeSend};
use super::error::ApiError;
use super::types::{SubmitReply, TaskResults};

/// The option whose presence makes a task a Find Moments one.
const QUERY: &str = "query";

/// Which kind of task, and so which endpoints, a job's task uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    /// AI Clipping: `/clips`, `/clips/results/{id}`.
    Clipping,
    /// Find Moments: `/clips/find-moments`, `/clips/find-moments/results/{id}`.
    FindMoments,
}

impl Endpoint {
    /// The endpoint for a task submitted (or to be submitted) with
    /// `options`: Find Moments when they carry a query.
    pub fn of_options(options: &Map<String, Value>) -> Endpoint {
        match options.get(QUERY) {
            Some(Value::String(_)) => Endpoint::FindMoments,
            _ => Endpoint::Clipping,
        }
    }

    fn submit_path(self) -> &'static str {
        match self {
            Endpoint::Clipping => "/clips",
            Endpoint::FindMoments => "/clips/find-moments",
        }
    }

    fn results_path(self, task_id: &str) -> String {
        let id = path_segment(task_id);
        match self {
            Endpoint::Clipping => format!("/clips/results/{id}"),
            Endpoint::FindMoments => format!("/clips/find-moments/results/{id}"),
        }
    }
}

impl ApiClient {
    /// [`ApiClient::submit`] at `endpoint`: start an AI Clipping or a Find
    /// Moments task (`options` then hold its `query`).
    pub async fn submit_to(
        &self,
        endpoint: Endpoint,
        video_url: &str,
        project_name: &str,
        options: &Map<String, Value>,
        before_send: BeforeSend<'_>,
    ) -> Result<SubmitReply, ApiError> {
        if endpoint == Endpoint::Clipping {
            return self
                .submit(video_url, project_name, options, before_send)
                .await;
        }
        let mut body = options.clone();
        body.insert("video_url".into(), Value::String(video_url.into()));
        body.insert("project_name".into(), Value::String(project_name.into()));
        self.call_with(
            Method::POST,
            endpoint.submit_path(),
            Some(Value::Object(body)),
            Some(before_send),
        )
        .await
    }

    /// [`ApiClient::results`] at `endpoint`: status, clips (moments) and
    /// fresh export links.
    pub async fn results_of(
        &self,
        endpoint: Endpoint,
        task_id: &str,
    ) -> Result<TaskResults, ApiError> {
        self.call(Method::GET, &endpoint.results_path(task_id), None)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_query_in_the_options_means_find_moments() {
        let options = |v: Value| v.as_object().cloned().unwrap();
        assert_eq!(
            Endpoint::of_options(&options(json!({"query": "product demos"}))),
            Endpoint::FindMoments
        );
        assert_eq!(
            Endpoint::of_options(&options(json!({"ratio": "RATIO_9_16"}))),
            Endpoint::Clipping
        );
        assert_eq!(
            Endpoint::FindMoments.results_path("fm 1"),
            "/clips/find-moments/results/fm%201"
        );
    }
}
