//! Find Moments: the same submit-then-poll protocol as AI Clipping, at
//! `POST /clips/find-moments` and `GET /clips/find-moments/results/{id}`
//! (under either prefix, `/open/v2` or `/api/v2`, which the base URL
//! carries). Its results have the clipping shape ([`TaskResults`]); the
//! submit reply names the task by `id` or `project_id` (both taken).

use reqwest::Method;
use serde_json::{Map, Value};

use super::client::{path_segment, ApiClient, BeforeSend};
use super::error::ApiError;
use super::limiter::{Claim, Turn, Use};
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
    /// Moments task (`options` then hold its `query`). `claim`, if the
    /// submit was announced to the budget, is spent with its token.
    pub async fn submit_to(
        &self,
        endpoint: Endpoint,
        video_url: &str,
        project_name: &str,
        options: &Map<String, Value>,
        before_send: BeforeSend<'_>,
        claim: Option<&Claim>,
    ) -> Result<SubmitReply, ApiError> {
        let mut body = options.clone();
        body.insert("video_url".into(), Value::String(video_url.into()));
        body.insert("project_name".into(), Value::String(project_name.into()));
        let turn = Turn {
            use_: Use::Other,
            claim,
        };
        self.call_in_turn(
            Method::POST,
            endpoint.submit_path(),
            Some(Value::Object(body)),
            Some(before_send),
            turn,
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
        self.results_as(endpoint, task_id, Use::Poll).await
    }

    /// [`ApiClient::results_of`] for a read of kind `use_` (a
    /// [`Use::Later`] one yields its turn to the reads that free slots).
    pub async fn results_as(
        &self,
        endpoint: Endpoint,
        task_id: &str,
        use_: Use,
    ) -> Result<TaskResults, ApiError> {
        let turn = Turn { use_, claim: None };
        let path = endpoint.results_path(task_id);
        self.call_in_turn(Method::GET, &path, None, None, turn)
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
