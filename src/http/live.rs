//! What the dashboard shows without reading the database: every job's
//! summary, kept current from [`crate::store::Store::subscribe`]. The same
//! stream moves the `clipwatch_jobs` gauge and counts
//! `clipwatch_job_transitions_total`.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use serde::Serialize;
use tokio::sync::broadcast::error::RecvError;
use tokio_util::sync::CancellationToken;

use crate::model::{Job, JobChange, State};
use crate::store::Store;
use crate::telemetry::metrics;

/// One job as the dashboard lists it.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub id: u64,
    pub key: String,
    pub state: &'static str,
    pub title: String,
    /// A recorded thumbnail file name, for `/files/{id}/{name}`.
    pub thumbnail: Option<String>,
    pub updated_at: String,
}

impl Summary {
    fn of(job: &Job) -> Summary {
        Summary {
            id: job.id,
            key: job.key.clone(),
            state: job.state.name(),
            title: job.display_title(),
            thumbnail: job.files.iter().find(|f| is_image(f)).cloned(),
            updated_at: crate::util::rfc3339(job.updated_at),
        }
    }
}

pub fn is_image(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    [".jpg", ".jpeg", ".png", ".webp"]
        .iter()
        .any(|ext| lower.ends_with(ext))
}

/// Every job's summary by id, and a version that moves on every change.
#[derive(Default)]
pub struct Live {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    jobs: BTreeMap<u64, Summary>,
    ids: HashMap<String, u64>,
    version: u64,
}

impl Live {
    /// Read every job once, then follow the store's changes until `cancel`.
    pub fn start(store: Store, cancel: CancellationToken) -> anyhow::Result<Arc<Live>> {
        let live = Arc::new(Live::default());
        let mut changes = store.subscribe();
        live.reload(&store)?;
        tokio::spawn({
            let live = live.clone();
            async move {
                loop {
                    let change = tokio::select! {
                        () = cancel.cancelled() => break,
                        change = changes.recv() => change,
                    };
                    match change {
                        Ok(change) => live.apply(&change),
                        Err(RecvError::Lagged(_)) => {
                            if let Err(err) = live.reload(&store) {
                                tracing::warn!("dashboard: cannot re-read the jobs: {err}");
                            }
                        }
                        Err(RecvError::Closed) => break,
                    }
                }
            }
        });
        Ok(live)
    }

    fn reload(&self, store: &Store) -> anyhow::Result<()> {
        let jobs = store.jobs()?;
        let mut inner = self.inner.lock().expect("live lock");
        *inner = Inner {
            version: inner.version + 1,
            ..Inner::default()
        };
        for name in State::NAMES {
            set_gauge(name, 0);
        }
        for job in &jobs {
            inner.ids.insert(job.key.clone(), job.id);
            inner.jobs.insert(job.id, Summary::of(job));
        }
        let mut counts: BTreeMap<&str, i64> = BTreeMap::new();
        for summary in inner.jobs.values() {
            *counts.entry(summary.state).or_default() += 1;
        }
        for (state, n) in counts {
            set_gauge(state, n);
        }
        Ok(())
    }

    fn apply(&self, change: &JobChange) {
        let job = change.job();
        let mut inner = self.inner.lock().expect("live lock");
        inner.version += 1;
        let before = inner.jobs.get(&job.id).map(|s| s.state);
        if let Some(old) = before {
            add_gauge(old, -1);
        }
        match change {
            JobChange::Saved(_) => {
                let summary = Summary::of(job);
                add_gauge(summary.state, 1);
                if let Some(from) = before.filter(|from| *from != summary.state) {
                    metrics()
                        .job_transitions
                        .get_or_create(&vec![("from", from.into()), ("to", summary.state.into())])
                        .inc();
                }
                inner.ids.insert(job.key.clone(), job.id);
                inner.jobs.insert(job.id, summary);
            }
            JobChange::Forgotten(_) => {
                inner.ids.remove(&job.key);
                inner.jobs.remove(&job.id);
            }
        }
    }

    /// Jobs per state, every state listed, in the order a job moves.
    pub fn counts(&self) -> Vec<(&'static str, usize)> {
        let inner = self.inner.lock().expect("live lock");
        let mut counts: Vec<(&'static str, usize)> = State::NAMES.iter().map(|n| (*n, 0)).collect();
        for summary in inner.jobs.values() {
            if let Some(count) = counts.iter_mut().find(|(state, _)| *state == summary.state) {
                count.1 += 1;
            }
        }
        counts
    }

    /// The newest `n` jobs, newest first, and the version they are from.
    pub fn recent(&self, n: usize) -> (u64, Vec<Summary>) {
        let inner = self.inner.lock().expect("live lock");
        let jobs = inner.jobs.values().rev().take(n).cloned().collect();
        (inner.version, jobs)
    }

    /// Jobs in these states (e.g. the running ones), oldest first.
    pub fn in_states(&self, states: &[&str]) -> Vec<Summary> {
        let inner = self.inner.lock().expect("live lock");
        inner
            .jobs
            .values()
            .filter(|s| states.contains(&s.state))
            .cloned()
            .collect()
    }
}

fn set_gauge(state: &str, n: i64) {
    metrics()
        .jobs
        .get_or_create(&vec![("state", state.to_string())])
        .set(n);
}

fn add_gauge(state: &str, delta: i64) {
    metrics()
        .jobs
        .get_or_create(&vec![("state", state.to_string())])
        .inc_by(delta);
}
