//! The scheduler: picks queued jobs in order, gives each a running-task slot,
//! and spawns a [`Worker`](super::worker::Worker) that drives it to the end.
//! It also resumes whatever a crash left mid-way and keeps to the daily unit
//! budget. Every API call goes through one shared [`Budget`].

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::{watch, Notify};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::job::{Event, Job, State};
use super::worker::Worker;
use crate::api::limiter::Slot;
use crate::api::{ApiClient, Budget, SlotPool};
use crate::config::Config;
use crate::output::download::Fetcher;
use crate::store::{Store, StoreError};

/// How long in-flight work may take to wind down after a shutdown request.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// Longest pause between scheduler passes when nothing wakes it.
const IDLE_TICK: Duration = Duration::from_secs(60);

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

/// Live, in-memory detail for progress displays (not persisted).
#[derive(Clone, Default)]
pub struct Progress(Arc<Mutex<HashMap<String, String>>>);

impl Progress {
    pub fn set(&self, key: &str, text: impl Into<String>) {
        self.0
            .lock()
            .expect("progress lock")
            .insert(key.to_string(), text.into());
    }

    pub fn get(&self, key: &str) -> Option<String> {
        self.0.lock().expect("progress lock").get(key).cloned()
    }

    pub fn clear(&self, key: &str) {
        self.0.lock().expect("progress lock").remove(key);
    }
}

/// key → state name of every unfinished job (see [`Pipeline::live_counts`]).
#[derive(Clone, Default)]
struct LiveStates(Arc<Mutex<Option<HashMap<String, &'static str>>>>);

impl LiveStates {
    fn load(&self, jobs: &[Job]) {
        let states = jobs
            .iter()
            .map(|job| (job.key.clone(), job.state.name()))
            .collect();
        *self.0.lock().expect("live states lock") = Some(states);
    }

    fn set(&self, job: &Job) {
        if let Some(states) = self.0.lock().expect("live states lock").as_mut() {
            if job.state.is_terminal() {
                states.remove(&job.key);
            } else {
                states.insert(job.key.clone(), job.state.name());
            }
        }
    }

    fn remove(&self, key: &str) {
        if let Some(states) = self.0.lock().expect("live states lock").as_mut() {
            states.remove(key);
        }
    }

    fn counts(&self) -> Option<BTreeMap<&'static str, usize>> {
        let guard = self.0.lock().expect("live states lock");
        let mut counts = BTreeMap::new();
        for state in guard.as_ref()?.values() {
            *counts.entry(*state).or_default() += 1;
        }
        Some(counts)
    }
}

/// Everything a worker needs; cheap to clone.
#[derive(Clone)]
pub struct Pipeline {
    pub store: Store,
    pub api: Option<ApiClient>,
    pub fetcher: Fetcher,
    pub slots: SlotPool,
    pub progress: Progress,
    pub cancel: CancellationToken,
    config: watch::Receiver<Arc<Config>>,
    wake: Arc<Notify>,
    /// The state of every unfinished job, kept by the scheduler and by
    /// transitions, so status lines need not read every job.
    live: LiveStates,
    /// One submit in flight at a time: a crash can then leave at most one
    /// job whose request left without its task id being stored.
    pub submit_gate: Arc<tokio::sync::Mutex<()>>,
}

#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    Setup(String),
}

impl Pipeline {
    pub fn new(
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
        let fetcher =
            Fetcher::new(api_config.timeout).map_err(|e| PipelineError::Setup(e.to_string()))?;
        Ok(Pipeline {
            store,
            api,
            fetcher,
            slots: SlotPool::new(api_config.max_concurrent_projects),
            progress: Progress::default(),
            cancel,
            config,
            wake: Arc::new(Notify::new()),
            live: LiveStates::default(),
            submit_gate: Arc::new(tokio::sync::Mutex::new(())),
        })
    }

    /// The configuration in force now (reload swaps it).
    pub fn config(&self) -> Arc<Config> {
        self.config.borrow().clone()
    }

    /// Apply new limits from a reloaded configuration.
    pub fn apply_limits(&self, config: &Config) {
        self.slots.resize(config.api.max_concurrent_projects);
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

    /// A receiver that sees every configuration swapped in by a reload.
    pub fn subscribe_config(&self) -> watch::Receiver<Arc<Config>> {
        self.config.clone()
    }

    /// How many unfinished jobs are in each state, from memory; `None`
    /// until the scheduler has read the work list once.
    pub fn live_counts(&self) -> Option<BTreeMap<&'static str, usize>> {
        self.live.counts()
    }

    /// Tell the scheduler that a job was queued.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Apply `event` to `job`, persist it (flushed), and log the transition.
    pub async fn transition(&self, job: &mut Job, event: Event) -> Result<(), StoreError> {
        let from = job.state.name();
        if let Err(err) = job.apply(event, Utc::now()) {
            tracing::error!("{err}");
            return Ok(());
        }
        self.store.save(job).await?;
        self.live.set(job);
        let note = job
            .history
            .last()
            .and_then(|t| t.note.clone())
            .unwrap_or_default();
        let task = job.task.as_ref().map(|t| t.id.as_str()).unwrap_or("-");
        tracing::info!(job = job.id, key = %job.key, task, "{from} → {}{}{}", job.state.name(),
            if note.is_empty() { "" } else { ": " }, note);
        Ok(())
    }

    /// Put back what a crash interrupted: an upload or submit that may not
    /// have finished is redone (the only case where the API could see a
    /// video twice: the request left but its task id was never stored).
    pub async fn recover(&self) -> Result<(), StoreError> {
        for mut job in self.store.active_jobs()? {
            if matches!(job.state, State::Submitting | State::Uploading) {
                if job.state == State::Submitting {
                    tracing::warn!(
                        job = job.id, key = %job.key,
                        "interrupted while submitting: submitting again (the API may have received the first request)"
                    );
                }
                self.transition(&mut job, Event::Recovered).await?;
            }
        }
        Ok(())
    }

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
        let mut scheduler = Scheduler {
            pipeline: self.clone(),
            scope,
            workers: JoinSet::new(),
            busy: HashSet::new(),
            index: Index::default(),
            budget_note_logged: false,
            budget_blocked: false,
        };
        scheduler.load_index()?;
        loop {
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
            }
            let sleep = next_wake.unwrap_or(IDLE_TICK).min(IDLE_TICK);
            tokio::select! {
                () = self.cancel.cancelled() => break,
                () = self.wake.notified() => {}
                Some(done) = scheduler.workers.join_next() => scheduler.finished(done)?,
                () = tokio::time::sleep(sleep) => {}
            }
        }
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
}

/// The scheduler's picture of the jobs no worker holds, kept in memory so
/// that a pass reads only the jobs it starts, never every queued one (with
/// 20 000 queued, re-reading them all on each wake-up cost most of a core).
/// Built once from the store; then kept current from the keys the store
/// reports written ([`Store::take_changes`]) and from workers that end.
#[derive(Default)]
struct Index {
    /// Where each key is filed below.
    filed: HashMap<String, Filed>,
    /// Queued and due now, by job number (oldest first).
    ready: BTreeMap<u64, String>,
    /// Queued, due later.
    deferred: BTreeSet<(DateTime<Utc>, u64, String)>,
    /// With a step under way (uploading, submitting, processing,
    /// downloading) and no worker: to be taken at the next pass.
    started: BTreeMap<u64, String>,
}

#[derive(Clone)]
enum Filed {
    Ready(u64),
    Deferred(DateTime<Utc>, u64),
    Started(u64),
}

impl Index {
    fn insert(&mut self, job: &Job) {
        self.remove(&job.key);
        let key = job.key.clone();
        let filed = match (&job.state, job.retry_at) {
            (State::Queued, Some(at)) if at > Utc::now() => {
                self.deferred.insert((at, job.id, key.clone()));
                Filed::Deferred(at, job.id)
            }
            (State::Queued, _) => {
                self.ready.insert(job.id, key.clone());
                Filed::Ready(job.id)
            }
            _ => {
                self.started.insert(job.id, key.clone());
                Filed::Started(job.id)
            }
        };
        self.filed.insert(key, filed);
    }

    fn remove(&mut self, key: &str) {
        match self.filed.remove(key) {
            Some(Filed::Ready(id)) => {
                self.ready.remove(&id);
            }
            Some(Filed::Deferred(at, id)) => {
                self.deferred.remove(&(at, id, key.to_string()));
            }
            Some(Filed::Started(id)) => {
                self.started.remove(&id);
            }
            None => {}
        }
    }

    /// Deferred jobs whose time has come join the ready ones.
    fn promote(&mut self, now: DateTime<Utc>) {
        while let Some((at, id, key)) = self.deferred.first().cloned() {
            if at > now {
                break;
            }
            self.deferred.pop_first();
            self.ready.insert(id, key.clone());
            self.filed.insert(key, Filed::Ready(id));
        }
    }

    fn is_empty(&self) -> bool {
        self.filed.is_empty()
    }
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
        self.index.promote(now);
        while let Some((_, key)) = self.index.ready.first_key_value() {
            let key = key.clone();
            let Some(slot) = self.pipeline.slots.try_acquire() else {
                // Woken again when a worker ends and frees its slot.
                break;
            };
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
        let next_wake = self
            .index
            .deferred
            .first()
            .map(|(at, _, _)| (*at - now).to_std().unwrap_or_default());
        Ok(next_wake)
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
                State::Downloading => self.spawn(job, None),
                State::Uploading | State::Submitting => {
                    tracing::warn!(
                        job = job.id, key = %job.key,
                        "found {} with no worker: redoing that step", job.state.name()
                    );
                    self.pipeline.transition(&mut job, Event::Recovered).await?;
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
        let worker = Worker::new(self.pipeline.clone(), job, slot);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::job::Source;

    fn job(id: u64, state: State, retry_at: Option<DateTime<Utc>>) -> Job {
        let mut job = Job::new(
            id,
            format!("url:https://e.com/{id}"),
            Source::default(),
            "default".into(),
            Utc::now(),
        );
        job.state = state;
        job.retry_at = retry_at;
        job
    }

    #[test]
    fn the_index_files_each_job_once_where_a_pass_looks_for_it() {
        let now = Utc::now();
        let later = now + chrono::Duration::seconds(30);
        let mut index = Index::default();
        index.insert(&job(3, State::Queued, None));
        index.insert(&job(
            1,
            State::Queued,
            Some(now - chrono::Duration::seconds(1)),
        ));
        index.insert(&job(2, State::Queued, Some(later)));
        index.insert(&job(4, State::Processing, None));
        index.insert(&job(5, State::Downloading, None));
        assert_eq!(index.ready.keys().copied().collect::<Vec<_>>(), [1, 3]);
        assert_eq!(index.deferred.len(), 1);
        assert_eq!(index.started.keys().copied().collect::<Vec<_>>(), [4, 5]);
        // Filed again after a change: moved, never duplicated.
        index.insert(&job(3, State::Processing, None));
        assert_eq!(index.ready.keys().copied().collect::<Vec<_>>(), [1]);
        assert_eq!(index.started.len(), 3);
        assert_eq!(index.filed.len(), 5);
        index.promote(now);
        assert_eq!(index.deferred.len(), 1, "not due yet");
        index.promote(later);
        assert_eq!(index.ready.keys().copied().collect::<Vec<_>>(), [1, 2]);
        assert!(index.deferred.is_empty());
        for id in 1..=5 {
            index.remove(&format!("url:https://e.com/{id}"));
        }
        assert!(index.is_empty());
        assert!(index.ready.is_empty() && index.started.is_empty());
    }
}
