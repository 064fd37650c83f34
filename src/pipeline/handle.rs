//! The pipeline handle the daemon and the CLI hold: the shared
//! [`Context`] (what steps see), plus what only the top may do: build it
//! from the configuration, apply a reload's limits, put back what a crash
//! interrupted, and run the scheduler ([`Pipeline::run`]).

use std::ops::Deref;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::context::Context;
use super::submit::ambiguous_submit_reason;
use crate::api::{ApiClient, Budget};
use crate::config::{AmbiguousSubmit, Config};
use crate::model::{Event, Job, State};
use crate::output::download::Fetcher;
use crate::output::links::LinkPolicy;
use crate::store::{Store, StoreError};

/// The running pipeline; cheap to clone. Reads through to its [`Context`].
#[derive(Clone)]
pub struct Pipeline {
    pub(super) ctx: Context,
}

impl Deref for Pipeline {
    type Target = Context;

    fn deref(&self) -> &Context {
        &self.ctx
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    Setup(String),
}

impl Pipeline {
    pub async fn new(
        store: Store,
        config: watch::Receiver<Arc<Config>>,
        cancel: CancellationToken,
    ) -> Result<Pipeline, PipelineError> {
        let current = config.borrow().clone();
        let api_config = &current.api;
        // A rejected key is tried again this often (a few polls' worth).
        let auth_retry = (api_config.poll_interval * 4)
            .clamp(Duration::from_millis(200), Duration::from_secs(300));
        let budget = Budget::new(
            api_config.requests_per_minute,
            api_config.rate_window,
            auth_retry,
        );
        let api = match &api_config.api_key {
            Some(key) => Some(
                ApiClient::new(
                    &api_config.base_url,
                    key.clone(),
                    api_config.timeout,
                    budget,
                    cancel.clone(),
                )
                .map_err(|e| PipelineError::Setup(e.to_string()))?,
            ),
            None => None,
        };
        // Links from the API may go where base_url goes, and nowhere private.
        let links = LinkPolicy::for_base_url(&api_config.base_url).await;
        let fetcher = Fetcher::new(api_config.timeout, links)
            .map_err(|e| PipelineError::Setup(e.to_string()))?;
        // Start-up: the work list is rebuilt from the records, so a job
        // whose entry a failed write lost is not stranded.
        let restored = store.rebuild_work_list()?;
        if restored > 0 {
            tracing::warn!(
                restored,
                "found jobs missing from the work list (an interrupted write); they are scheduled again"
            );
        }
        Ok(Pipeline {
            ctx: Context::new(store, api, fetcher, config, cancel),
        })
    }

    /// What steps and sources share (a clone).
    pub fn context(&self) -> Context {
        self.ctx.clone()
    }

    /// Apply new limits from a reloaded configuration.
    pub fn apply_limits(&self, config: &Config) {
        self.submit_pause.reloaded();
        self.wake();
        self.slots.resize(config.api.max_concurrent_projects);
        if config.api.base_url != self.config().api.base_url {
            // Which links may be fetched follows base_url (a name may need DNS).
            let fetcher = self.fetcher.clone();
            let base_url = config.api.base_url.clone();
            tokio::spawn(async move {
                let links = LinkPolicy::for_base_url(&base_url).await;
                if let Err(err) = fetcher.set_policy(links) {
                    tracing::warn!("could not apply the link policy for the new base_url: {err}");
                }
            });
        }
        if let Some(api) = &self.api {
            api.budget()
                .set_limit(config.api.requests_per_minute, config.api.rate_window);
            if let Some(key) = &config.api.api_key {
                api.update(&config.api.base_url, key.clone(), config.api.timeout);
            }
        } else if config.api.api_key.is_some() {
            tracing::warn!("an API key is configured now; restart clipwatch to start submitting");
        }
    }

    /// Put back what a crash interrupted: an upload or submit that may not
    /// have finished is redone (the only case where the API could see a
    /// video twice: the request left but its task id was never stored).
    pub async fn recover(&self) -> Result<(), StoreError> {
        for mut job in self.store.active_jobs()? {
            self.recover_job(&mut job).await?;
            super::extra_submit::recover_extras(&self.ctx, &mut job).await?;
        }
        Ok(())
    }

    /// [`Pipeline::recover`] for one job found `uploading` or `submitting`
    /// with nothing working on it: an upload is redone; a submit follows
    /// `api.on_ambiguous_submit` (its request may have reached the API).
    pub async fn recover_job(&self, job: &mut Job) -> Result<(), StoreError> {
        let policy = self.config().api.on_ambiguous_submit;
        if job.state == State::Submitting && policy == AmbiguousSubmit::Fail {
            let reason = ambiguous_submit_reason(
                job,
                "interrupted while submitting (clipwatch stopped before the answer came)",
                false,
            );
            self.transition(
                job,
                Event::Failed {
                    reason,
                    will_retry: false,
                },
            )
            .await?;
        } else if matches!(job.state, State::Submitting | State::Uploading) {
            if job.state == State::Submitting {
                tracing::warn!(
                    job = job.id, key = %job.key,
                    "interrupted while submitting: submitting again (api.on_ambiguous_submit = \"resubmit\"; the API may have received the first request)"
                );
            }
            self.transition(job, Event::Recovered).await?;
        }
        Ok(())
    }
}
