//! `status`: counts per state, API units, the running tasks, each feed's
//! health and, inside the daemon, what only it knows (slots, request
//! counts, pauses).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{CommandError, Context, JobView};
use crate::model::{Job, State};
use crate::pipeline::Pipeline;

/// `status --json`. Printed with its keys sorted (as it always was).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatusReport {
    /// Jobs per state name, every state listed.
    pub jobs: BTreeMap<String, usize>,
    pub units: Units,
    /// Whether an API key is configured.
    pub api_key: bool,
    /// Jobs whose task is processing at WayinVideo.
    pub running: Vec<JobView>,
    /// `null` when no daemon runs.
    pub daemon: Option<LiveStatus>,
    pub feeds: Vec<FeedHealth>,
    /// Each notification sink's last success, last error and backlog.
    pub notify: Vec<crate::notify::SinkStatus>,
    /// When each running job's task was submitted, by job key (how long it
    /// has run). Not part of `status --json`: see [`StatusReport::to_json`].
    #[serde(default)]
    pub submitted_at: BTreeMap<String, DateTime<Utc>>,
}

impl StatusReport {
    /// `status --json` as documented: every field but `submitted_at`, keys
    /// sorted.
    pub fn to_json(&self) -> serde_json::Value {
        let mut value = serde_json::to_value(self).expect("a status report serializes");
        if let Some(fields) = value.as_object_mut() {
            fields.remove("submitted_at");
        }
        value
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Units {
    pub today: u64,
    pub total: u64,
    /// 0: no budget.
    pub daily_budget: u64,
}

/// What only the running daemon knows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LiveStatus {
    pub slots: usize,
    pub slots_in_use: usize,
    pub api_requests: u64,
    pub rate_limited: u64,
    /// The API rejected the key; API work waits until it is accepted.
    pub auth_paused: bool,
    /// Why submitting waits for the output volume, if it does.
    pub output_paused: Option<String>,
    pub submit_paused: Option<SubmitPaused>,
}

/// Submitting paused for the account (no units left).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SubmitPaused {
    pub reason: String,
    pub since: String,
}

/// One configured feed in `status`: enough to see that it is failing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeedHealth {
    pub name: String,
    pub next_check: Option<String>,
    pub last_error: Option<String>,
    pub consecutive_failures: u32,
}

pub fn status(ctx: &Context) -> Result<StatusReport, CommandError> {
    let (config, store) = (&ctx.config, &ctx.store);
    // From the state index: no job is decoded but the running ones.
    let counts = store.count_by_state()?;
    let processing = store.jobs_in_state(State::Processing.name())?;
    let running: Vec<&Job> = processing.iter().collect();
    let submitted_at = running
        .iter()
        .filter_map(|j| Some((j.key.clone(), j.task.as_ref()?.submitted_at)))
        .collect();
    Ok(StatusReport {
        jobs: counts,
        units: Units {
            today: store.units_on(Utc::now().date_naive())?,
            total: store.units_total()?,
            daily_budget: config.api.daily_unit_budget,
        },
        api_key: config.api.api_key.is_some(),
        running: running.iter().map(|j| JobView::new(j, false)).collect(),
        daemon: ctx.pipeline.as_ref().map(live_status),
        feeds: feed_health(ctx)?,
        notify: crate::notify::sink_status(store, config)?,
        submitted_at,
    })
}

/// Each configured feed's next check and last error.
fn feed_health(ctx: &Context) -> Result<Vec<FeedHealth>, CommandError> {
    let states = crate::sources::feed::state::FeedStates::open(&ctx.store)?;
    let mut health = Vec::new();
    for feed in &ctx.config.feeds {
        let state = states.get(
            &feed.name,
            &crate::sources::feed::source_label(&feed.source),
        )?;
        health.push(FeedHealth {
            name: feed.name.clone(),
            next_check: state.next_check.map(crate::util::rfc3339),
            last_error: state.last_error,
            consecutive_failures: state.consecutive_failures,
        });
    }
    Ok(health)
}

fn live_status(pipeline: &Pipeline) -> LiveStatus {
    let stats = pipeline.api.as_ref().map(|api| api.budget().stats());
    LiveStatus {
        slots: pipeline.slots.size(),
        slots_in_use: pipeline.slots.in_use(),
        api_requests: stats.map_or(0, |s| s.requests_total),
        rate_limited: stats.map_or(0, |s| s.rate_limited_total),
        auth_paused: stats.is_some_and(|s| s.auth_paused),
        output_paused: pipeline.output.paused(),
        submit_paused: pipeline
            .submit_pause
            .paused()
            .map(|(reason, since)| SubmitPaused {
                reason,
                since: crate::util::rfc3339(since),
            }),
    }
}
