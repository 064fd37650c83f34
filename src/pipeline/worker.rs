//! One worker per job in flight: it runs the job's steps in turn, upload
//! (local files), submit, poll until the task ends, download, until the
//! job ends, is let go (deferred, paused) or shutdown comes. The steps live
//! one per file and share a [`JobRun`]; the worker only dispatches on the
//! job's state and acts on each step's [`Outcome`].

use super::context::Context;
use super::step::{JobRun, Outcome};
use crate::api::limiter::Slot;
use crate::model::{Job, State};

pub struct Worker {
    run: JobRun,
}

impl Worker {
    pub fn new(ctx: Context, job: Job, slot: Option<Slot>) -> Worker {
        let mut run = JobRun::new(ctx, job, slot);
        // A freed slot handed to a queued job: its submit is announced to
        // the budget now, before the submit waits its turn to go.
        if run.job.state == State::Queued && run.slot.is_some() && !run.needs_upload() {
            run.submit_claim = run.ctx.api.as_ref().map(|api| api.budget().claim());
        }
        Worker { run }
    }

    /// Drive the job until it ends, is deferred, or shutdown. Returns its key.
    pub async fn run(mut self) -> String {
        let key = self.run.job.key.clone();
        if let Outcome::StoreFailed(err) = self.drive().await {
            tracing::error!(job = self.run.job.id, key = %key, "database error, job left as is: {err}");
        }
        self.run.ctx.progress.clear(&key);
        key
    }

    /// Run steps while they move the job on; the last step's outcome.
    async fn drive(&mut self) -> Outcome {
        let run = &mut self.run;
        loop {
            let steps_before = run.job.history.len();
            let outcome = match run.job.state {
                State::Queued if run.needs_upload() => run.upload().await,
                State::Queued => run.submit().await,
                State::Processing => run.poll().await,
                State::Downloading => run.download().await,
                _ => return Outcome::Released,
            };
            match outcome {
                // A step that moved nothing (a refused transition, already
                // logged) must not spin.
                Outcome::Moved if run.job.history.len() > steps_before => continue,
                Outcome::Fail(reason) => return run.fail(reason).await.into(),
                other => return other,
            }
        }
    }
}
