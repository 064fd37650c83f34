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

use super::pause::{MaySubmit, SubmitPause};
use super::worker::{ambiguous_submit_reason, Worker};
use crate::api::limiter::Slot;
use crate::api::{ApiClient, Budget, SlotPool};
use crate::config::{AmbiguousSubmit, Config};
use crate::model::{Event, Job, State};
use crate::output::download::Fetcher;
use crate::output::links::LinkPolicy;
use crate::output::space::OutputGate;
use crate::store::{Store, StoreError};

/// How long in-flight work may take to wind down after a shutdown request.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// Longest pause between scheduler passes when nothing wakes it.
const IDLE_TICK: Duration = Duration::from_secs(60);

/// Free space the state volume must have before a submit leaves, so that
/// the task id it brings back can be stored (sled writes in segments of
/// 512 KiB; a few of them, with room to spare).
pub const STATE_RESERVE_BYTES: u64 = 8 * 1024 * 1024;

/// How often free space on a nearly full state volume is checked again.
const ROOM_RECHECK: Duration = Duration::from_secs(5);

/// Bytes free for unprivileged writers on the file system holding `dir`;
/// `None` when it cannot be asked.
fn free_bytes(dir: &std::path::Path) -> Option<u64> {
    use std::os::unix::ffi::OsStrExt;
    let path = std::ffi::CString::new(dir.as_os_str().as_bytes()).ok()?;
    let mut stats: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: `path` is a valid C string and `stats` a valid out-pointer.
    let rc = unsafe { libc::statvfs(path.as_ptr(), &mut stats) };
    (rc == 0).then(|| (stats.f_bavail as u64).saturating_mul(stats.f_frsize as u64))
}

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
    /// Submitting pauses while the output volume cannot take files.
    pub output: OutputGate,
    /// A download that meets a full or unwritable output volume waits for
    /// it (the daemon); `false` in one-pass runs, which leave the job
    /// `downloading` for the next run instead of waiting without end.
    pub wait_for_output: bool,
    config: watch::Receiver<Arc<Config>>,
    wake: Arc<Notify>,
    /// The state of every unfinished job, kept by the scheduler and by
    /// transitions, so status lines need not read every job.
    live: LiveStates,
    /// One submit in flight at a time: a crash can then leave at most one
    /// job whose request left without its task id being stored.
    pub submit_gate: Arc<tokio::sync::Mutex<()>>,
    /// Submitting paused for the account (no units left).
    pub submit_pause: SubmitPause,
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
            store,
            api,
            fetcher,
            slots: SlotPool::new(api_config.max_concurrent_projects),
            progress: Progress::default(),
            cancel,
            output: OutputGate::default(),
            wait_for_output: true,
            config,
            wake: Arc::new(Notify::new()),
            live: LiveStates::default(),
            submit_gate: Arc::new(tokio::sync::Mutex::new(())),
            submit_pause: SubmitPause::default(),
        })
    }

    /// The configuration in force now (reload swaps it).
    pub fn config(&self) -> Arc<Config> {
        self.config.borrow().clone()
    }

    /// How often one submit is tried while submitting is paused.
    pub fn probe_interval(&self) -> Duration {
        (self.config().api.poll_interval * 10)
            .clamp(Duration::from_millis(200), Duration::from_secs(600))
    }

    /// `Err(why)` when the state volume lacks room to store a submit's
    /// answer: then no submit may leave (it would be paid, then lost).
    pub fn state_has_room(&self) -> Result<(), String> {
        let dir = self.config().state.dir.clone();
        match free_bytes(&dir) {
            Some(free) if free < STATE_RESERVE_BYTES => Err(format!(
                "the state volume ({}) has {} KiB free, under the {} MiB needed to record a \
                 submit's task id; free some space",
                dir.display(),
                free / 1024,
                STATE_RESERVE_BYTES / (1024 * 1024)
            )),
            _ => Ok(()),
        }
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
        self.transition_counting(job, event, None).await
    }

    /// [`Pipeline::transition`], also recording `units` as the job's charge
    /// and adding them to today's and the total count, in the same write as
    /// the job (a crash cannot count them twice or lose them).
    pub async fn transition_counting(
        &self,
        job: &mut Job,
        event: Event,
        units: Option<u64>,
    ) -> Result<(), StoreError> {
        let from = job.state.name();
        let now = Utc::now();
        if let Err(err) = job.apply(event, now) {
            tracing::error!("{err}");
            return Ok(());
        }
        let counted = match units {
            Some(units) if job.units.is_none() => {
                job.units = Some(units);
                Some((now.date_naive(), units))
            }
            _ => None,
        };
        self.store.save_counting(job, counted).await?;
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
            self.recover_job(&mut job).await?;
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
        pipeline.wait_for_output = !until_idle;
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
                () = self.wake.notified() => {}
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
    use crate::model::Source;

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
