//! What every part of the pipeline shares, cheap to clone: the store, the
//! configuration in force (a `watch` that reload swaps), the API client
//! and the clip fetcher, the account's limits (task slots, the submit gate
//! and pause, the output gate), the wake-up of the scheduler, shutdown, and
//! the in-memory state shown by `status`. Steps get this, never the
//! scheduler; job transitions are written through [`Context::transition`].

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;
use tokio::sync::{watch, Notify};
use tokio_util::sync::CancellationToken;

use super::pause::SubmitPause;
use crate::api::{ApiClient, SlotPool};
use crate::config::Config;
use crate::model::{Event, Job};
use crate::output::download::Fetcher;
use crate::output::space::OutputGate;
use crate::store::{Store, StoreError};

/// Free space the state volume must have before a submit leaves, so that
/// the task id it brings back can be stored (sled writes in segments of
/// 512 KiB; a few of them, with room to spare).
pub const STATE_RESERVE_BYTES: u64 = 8 * 1024 * 1024;

/// Everything a step needs; cheap to clone.
#[derive(Clone)]
pub struct Context {
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
    pub(super) live: LiveStates,
    /// One submit in flight at a time: a crash can then leave at most one
    /// job whose request left without its task id being stored.
    pub submit_gate: Arc<tokio::sync::Mutex<()>>,
    /// Submitting paused for the account (no units left).
    pub submit_pause: SubmitPause,
    /// Processing times seen so far: when to poll (see `cadence`).
    pub timings: super::cadence::Timings,
}

impl Context {
    /// A context with nothing running and nothing paused.
    pub fn new(
        store: Store,
        api: Option<ApiClient>,
        fetcher: Fetcher,
        config: watch::Receiver<Arc<Config>>,
        cancel: CancellationToken,
    ) -> Context {
        let max_tasks = config.borrow().api.max_concurrent_projects;
        Context {
            timings: super::cadence::Timings::new(store.clone()),
            store,
            api,
            fetcher,
            slots: SlotPool::new(max_tasks),
            progress: Progress::default(),
            cancel,
            output: OutputGate::default(),
            wait_for_output: true,
            config,
            wake: Arc::new(Notify::new()),
            live: LiveStates::default(),
            submit_gate: Arc::new(tokio::sync::Mutex::new(())),
            submit_pause: SubmitPause::default(),
        }
    }

    /// The configuration in force now (reload swaps it).
    pub fn config(&self) -> Arc<Config> {
        self.config.borrow().clone()
    }

    /// A receiver that sees every configuration swapped in by a reload.
    pub fn subscribe_config(&self) -> watch::Receiver<Arc<Config>> {
        self.config.clone()
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

    /// Tell the scheduler that a job was queued.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// The scheduler's wake-up, shared with whoever queues jobs.
    pub fn waker(&self) -> Arc<Notify> {
        self.wake.clone()
    }

    /// Resolves at the next [`Context::wake`] (or at once if one is pending).
    pub(super) async fn woken(&self) {
        self.wake.notified().await
    }

    /// How many unfinished jobs are in each state, from memory; `None`
    /// until the scheduler has read the work list once.
    pub fn live_counts(&self) -> Option<BTreeMap<&'static str, usize>> {
        self.live.counts()
    }

    /// Apply `event` to `job`, persist it (flushed), and log the transition.
    pub async fn transition(&self, job: &mut Job, event: Event) -> Result<(), StoreError> {
        self.transition_counting(job, event, None).await
    }

    /// [`Context::transition`], also recording `units` as the job's charge
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
            Some(units) if !job.task_units_counted() => {
                job.units = Some(job.units.unwrap_or(0) + units);
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
}

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

/// key → state name of every unfinished job (see [`Context::live_counts`]).
#[derive(Clone, Default)]
pub(super) struct LiveStates(Arc<Mutex<Option<HashMap<String, &'static str>>>>);

impl LiveStates {
    pub(super) fn load(&self, jobs: &[Job]) {
        let states = jobs
            .iter()
            .map(|job| (job.key.clone(), job.state.name()))
            .collect();
        *self.0.lock().expect("live states lock") = Some(states);
    }

    pub(super) fn set(&self, job: &Job) {
        if let Some(states) = self.0.lock().expect("live states lock").as_mut() {
            if job.state.is_terminal() {
                states.remove(&job.key);
            } else {
                states.insert(job.key.clone(), job.state.name());
            }
        }
    }

    pub(super) fn remove(&self, key: &str) {
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
