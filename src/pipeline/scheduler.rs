//! The scheduler: picks queued jobs in order, gives each a running-task slot,
//! and spawns a [`Worker`](super::worker::Worker) that drives it to the end.
//! It also resumes whatever a crash left mid-way and keeps to the daily unit
//! budget. Every API call goes through one shared [`Budget`](crate::api::Budget).

use std::collections::HashSet;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::task::JoinSet;

use super::handle::{Pipeline, PipelineError};
use super::index::Index;
use super::pause::MaySubmit;
use super::worker::Worker;
use crate::api::limiter::Slot;
use crate::model::{Job, State};
use crate::store::StoreError;

/// How long in-flight work may take to wind down after a shutdown request.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// Longest pause between scheduler passes when nothing wakes it.
const IDLE_TICK: Duration = Duration::from_secs(60);

/// How often free space on a nearly full state volume is checked again.
const ROOM_RECHECK: Duration = Duration::from_secs(5);

/// Which jobs a run covers.
#[derive(Debug, Clone)]
pub enum Scope {
    /// Every job (the daemon).
    All,
    /// Only these keys (`submit --wait`).
    Only(HashSet<String>),
}

impl Scope {
    fn covers(&self, key: &str) -> bool {
        match self {
            Scope::All => true,
            Scope::Only(keys) => keys.contains(key),
        }
    }
}

impl Pipeline {
    /// Run jobs in `scope` until cancelled or, with `until_idle`, until none
    /// of them is left to do.
    pub async fn run(&self, scope: Scope, until_idle: bool) -> Result<(), PipelineError> {
        // Before anything is read: a job written from here on is reported.
        self.store.watch_changes();
        self.recover().await?;
        if self.api.is_none() {
            if until_idle {
                return Err(PipelineError::Setup(
                    "no API key: set WAYIN_API_KEY or api_key_file to submit videos".into(),
                ));
            }
            tracing::warn!(
                "no API key configured: sources are watched and queued, nothing is submitted"
            );
        }
        let config = self.config();
        self.output
            .check(&config.output.dir, config.output.min_free_space)
            .await;
        let mut pipeline = self.clone();
        pipeline.ctx.wait_for_output = !until_idle;
        let mut scheduler = Scheduler {
            pipeline,
            scope,
            workers: JoinSet::new(),
            busy: HashSet::new(),
            index: Index::default(),
            budget_note_logged: false,
            budget_blocked: false,
            room_note_logged: false,
        };
        scheduler.load_index()?;
        loop {
            crate::telemetry::health::beat(crate::telemetry::health::Part::Scheduler, IDLE_TICK);
            let next_wake = scheduler.pass().await?;
            if until_idle && scheduler.workers.is_empty() {
                if !scheduler.has_pending_work() {
                    break;
                }
                if scheduler.budget_blocked {
                    tracing::warn!(
                        "daily unit budget reached: the remaining jobs stay queued for a later run"
                    );
                    break;
                }
                // The output volume, or no room to record a submit's answer:
                // nothing here can end by itself, so `once` says why and ends.
                let blocked = self.output.paused().or_else(|| self.state_has_room().err());
                if let Some(problem) = blocked {
                    scheduler.shut_down().await;
                    return Err(PipelineError::Setup(format!(
                        "the remaining jobs wait for a later run: {problem}"
                    )));
                }
                if let Some((reason, _)) = self.submit_pause.paused() {
                    tracing::warn!(
                        "submitting is paused ({reason}): the remaining jobs stay queued for a later run"
                    );
                    break;
                }
            }
            let sleep = next_wake.unwrap_or(IDLE_TICK).min(IDLE_TICK);
            tokio::select! {
                () = self.cancel.cancelled() => break,
                () = self.woken() => {}
                Some(done) = scheduler.workers.join_next() => scheduler.finished(done)?,
                () = tokio::time::sleep(sleep) => {}
            }
        }
        crate::telemetry::health::heartbeats().retire(crate::telemetry::health::Part::Scheduler);
        scheduler.shut_down().await;
        Ok(())
    }
}

struct Scheduler {
    pipeline: Pipeline,
    scope: Scope,
    workers: JoinSet<String>,
    /// Keys with a worker running.
    busy: HashSet<String>,
    /// Jobs in scope that no worker holds.
    index: Index,
    budget_note_logged: bool,
    /// Today's unit budget is spent: nothing new is submitted.
    budget_blocked: bool,
    /// The state volume's lack of room was logged.
    room_note_logged: bool,
}

impl Scheduler {
    /// The index, from one read of the work list (start-up).
    fn load_index(&mut self) -> Result<(), StoreError> {
        let jobs = self.pipeline.store.active_jobs()?;
        if matches!(self.scope, Scope::All) {
            self.pipeline.live.load(&jobs);
        }
        for job in &jobs {
            if self.scope.covers(&job.key) {
                self.index.insert(job);
            }
        }
        Ok(())
    }

    /// Read one job again and file it where it now belongs (or nowhere:
    /// held by a worker, finished, forgotten, out of scope).
    fn refresh(&mut self, key: &str) -> Result<(), StoreError> {
        self.index.remove(key);
        if self.busy.contains(key) {
            return Ok(());
        }
        match self.pipeline.store.get(key)? {
            Some(job) => {
                self.pipeline.live.set(&job);
                if !job.state.is_terminal() && self.scope.covers(key) {
                    self.index.insert(&job);
                }
            }
            None => self.pipeline.live.remove(key),
        }
        Ok(())
    }

    /// One pass: take in what was written since the last one, take every
    /// job with a step under way that no worker holds (a `retry` through a
    /// running daemon moves a job to `processing`; without this nothing
    /// would poll it until a restart), then start queued jobs while slots
    /// are free. Returns when the next deferred job becomes ready, if any.
    async fn pass(&mut self) -> Result<Option<Duration>, StoreError> {
        for key in self.pipeline.store.take_changes() {
            self.refresh(&key)?;
        }
        if self.pipeline.api.is_none() {
            return Ok(None);
        }
        self.take_started().await?;
        let now = Utc::now();
        if let Some(until_tomorrow) = self.daily_budget_spent(now)? {
            return Ok(Some(until_tomorrow));
        }
        let mut next_wake: Option<Duration> = None;
        match self.pipeline.state_has_room() {
            Err(reason) => {
                if !self.room_note_logged {
                    tracing::error!("submitting paused: {reason}");
                    self.room_note_logged = true;
                }
                return Ok(Some(ROOM_RECHECK));
            }
            Ok(()) if self.room_note_logged => {
                tracing::info!("the state volume has room again: submitting resumes");
                self.room_note_logged = false;
            }
            Ok(()) => {}
        }
        let mut output_checked = false;
        let mut probe_only = false;
        self.index.promote(now);
        while let Some((_, key)) = self.index.ready.first_key_value() {
            let key = key.clone();
            if probe_only {
                break;
            }
            let probe_every = self.pipeline.probe_interval();
            match self
                .pipeline
                .submit_pause
                .may_submit(tokio::time::Instant::now(), probe_every)
            {
                MaySubmit::Yes => {}
                MaySubmit::Probe => probe_only = true,
                MaySubmit::No(until) => {
                    let wait = until.saturating_duration_since(tokio::time::Instant::now());
                    next_wake = Some(wait);
                    break;
                }
            }
            let Some(slot) = self.pipeline.slots.try_acquire() else {
                // Woken again when a worker ends and frees its slot.
                break;
            };
            // Before anything is paid for: can the clips be written?
            if !output_checked {
                output_checked = true;
                let config = self.pipeline.config();
                let output = &config.output;
                if !self
                    .pipeline
                    .output
                    .check(&output.dir, output.min_free_space)
                    .await
                {
                    let recheck = (config.api.poll_interval * 4)
                        .clamp(Duration::from_millis(200), Duration::from_secs(60));
                    next_wake = Some(next_wake.map_or(recheck, |w| w.min(recheck)));
                    break;
                }
            }
            self.index.remove(&key);
            match self.pipeline.store.get(&key)? {
                Some(job) if job.state == State::Queued => {
                    if job.retry_at.is_some_and(|at| at > now) {
                        // Deferred since it was filed (not reported yet).
                        self.index.insert(&job);
                        continue;
                    }
                    self.spawn(job, Some(slot));
                }
                _ => self.refresh(&key)?,
            }
        }
        let deferred = self
            .index
            .deferred
            .first()
            .map(|(at, _, _)| (*at - now).to_std().unwrap_or_default());
        Ok(match (next_wake, deferred) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        })
    }

    /// Jobs past submit (processing, downloading) need no slot to be
    /// resumed: poll or download them now, holding a slot while the task
    /// runs if one is free. An upload or submit left half-done without a
    /// worker (a worker stopped by a database error) is redone from the
    /// queue, as at start-up.
    async fn take_started(&mut self) -> Result<(), StoreError> {
        let started: Vec<String> = self.index.started.values().cloned().collect();
        for key in started {
            self.index.remove(&key);
            let Some(mut job) = self.pipeline.store.get(&key)? else {
                continue;
            };
            match job.state {
                State::Processing => {
                    let slot = self.pipeline.slots.try_acquire();
                    self.spawn(job, slot);
                }
                // `once`: a download that met an unusable output volume is
                // left for the next run, not started again in a loop.
                State::Downloading
                    if !self.pipeline.wait_for_output
                        && self.pipeline.output.paused().is_some() =>
                {
                    self.index.insert(&job);
                }
                State::Downloading => self.spawn(job, None),
                State::Uploading | State::Submitting => {
                    tracing::warn!(
                        job = job.id, key = %job.key,
                        "found {} with no worker: recovering it as at start-up", job.state.name()
                    );
                    self.pipeline.recover_job(&mut job).await?;
                    self.refresh(&key)?;
                }
                _ => self.refresh(&key)?,
            }
        }
        Ok(())
    }

    /// `Some(wait)` while today's unit budget is spent.
    fn daily_budget_spent(&mut self, now: DateTime<Utc>) -> Result<Option<Duration>, StoreError> {
        let cap = self.pipeline.config().api.daily_unit_budget;
        if cap == 0 {
            self.budget_blocked = false;
            return Ok(None);
        }
        let used = self.pipeline.store.units_on(now.date_naive())?;
        self.budget_blocked = used >= cap;
        if used < cap {
            self.budget_note_logged = false;
            return Ok(None);
        }
        if !self.budget_note_logged {
            tracing::warn!(
                used,
                cap,
                "daily unit budget reached: no new submissions until midnight UTC"
            );
            self.budget_note_logged = true;
        }
        let tomorrow = (now.date_naive() + chrono::Days::new(1))
            .and_hms_opt(0, 0, 1)
            .expect("valid time")
            .and_utc();
        Ok(Some((tomorrow - now).to_std().unwrap_or(IDLE_TICK)))
    }

    fn has_pending_work(&self) -> bool {
        !self.index.is_empty()
    }

    fn spawn(&mut self, job: Job, slot: Option<Slot>) {
        self.index.remove(&job.key);
        self.busy.insert(job.key.clone());
        let worker = Worker::new(self.pipeline.context(), job, slot);
        self.workers.spawn(worker.run());
    }

    /// A worker ended: its job is filed again from what it left in the store.
    fn finished(&mut self, done: Result<String, tokio::task::JoinError>) -> Result<(), StoreError> {
        match done {
            Ok(key) => {
                self.busy.remove(&key);
                self.refresh(&key)?;
            }
            Err(err) => {
                tracing::error!("a job worker ended abnormally: {err}");
                // Its key stays busy until restart rather than risk two workers.
            }
        }
        Ok(())
    }

    /// Give in-flight work a grace period, then abort what remains.
    async fn shut_down(&mut self) {
        let drain = async { while self.workers.join_next().await.is_some() {} };
        if tokio::time::timeout(SHUTDOWN_GRACE, drain).await.is_err() {
            tracing::warn!("stopping workers that did not finish within {SHUTDOWN_GRACE:?}");
            self.workers.abort_all();
            while self.workers.join_next().await.is_some() {}
        }
        if let Err(err) = self.pipeline.store.flush().await {
            tracing::error!("could not flush the database: {err}");
        }
    }
}
