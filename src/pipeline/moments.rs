//! Find Moments in the pipeline: which endpoints a job's task uses, and
//! when an empty result is final. A Find Moments task may match nothing
//! (the API's own advice is then to reword the query), so a SUCCEEDED
//! reply whose list stays empty is a result: the job ends `done` with no
//! clips and a note saying the query matched nothing. An AI Clipping task
//! always has clips, so there an empty list is a reply not yet whole
//! (see [`JobRun::settled`](super::poll)), and stays so.

use super::step::JobRun;
use crate::api::moments::Endpoint;
use crate::model::moments::no_match_note;

/// SUCCEEDED replies in a row, one `poll_interval` apart, that must list no
/// moment before "matched nothing" is taken as final (the first and two
/// confirmations): the API has been seen to list clips late, and a wrong
/// "nothing" would cost a new paid task.
const EMPTY_CONFIRMATIONS: u32 = 3;

impl JobRun {
    /// The endpoints of the job's task: Find Moments when it was submitted
    /// with a query.
    pub(super) fn endpoint(&self) -> Endpoint {
        self.job.task.as_ref().map_or(Endpoint::Clipping, |task| {
            Endpoint::of_options(&task.options)
        })
    }

    /// Whether `empty_polls` SUCCEEDED replies in a row without a clip make
    /// the job's (empty) result final: only for Find Moments, once
    /// confirmed, or once `results_wait` is over.
    pub(super) fn no_match_is_final(&self, empty_polls: u32, waited_enough: bool) -> bool {
        self.endpoint() == Endpoint::FindMoments
            && (empty_polls >= EMPTY_CONFIRMATIONS || waited_enough)
    }

    /// Record on the job that its query matched nothing (stored with the
    /// next transition; shown by `jobs`, `show` and `project.json`).
    pub(super) fn note_no_match(&mut self) {
        let query = self
            .job
            .task
            .as_ref()
            .and_then(|t| t.query())
            .unwrap_or_default()
            .to_string();
        tracing::info!(job = self.job.id, key = %self.job.key, %query, "the Find Moments query matched nothing");
        self.job.note = Some(no_match_note(&query));
    }
}
