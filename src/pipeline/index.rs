//! The scheduler's picture of the jobs no worker holds, kept in memory so
//! that a pass reads only the jobs it starts, never every queued one (with
//! 20 000 queued, re-reading them all on each wake-up cost most of a core).
//! Built once from the store; then kept current from the keys the store
//! reports written ([`Store::take_changes`](crate::store::Store::take_changes))
//! and from workers that end.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, Utc};

use crate::model::{Job, State};

/// Jobs in scope that no worker holds, filed by what a pass does with them.
#[derive(Default)]
pub(super) struct Index {
    /// Where each key is filed below.
    filed: HashMap<String, Filed>,
    /// Queued and due now, by job number (oldest first).
    pub(super) ready: BTreeMap<u64, String>,
    /// Queued, due later.
    pub(super) deferred: BTreeSet<(DateTime<Utc>, u64, String)>,
    /// With a step under way (uploading, submitting, processing,
    /// downloading) and no worker: to be taken at the next pass.
    pub(super) started: BTreeMap<u64, String>,
}

#[derive(Clone)]
enum Filed {
    Ready(u64),
    Deferred(DateTime<Utc>, u64),
    Started(u64),
}

impl Index {
    pub(super) fn insert(&mut self, job: &Job) {
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

    pub(super) fn remove(&mut self, key: &str) {
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
    pub(super) fn promote(&mut self, now: DateTime<Utc>) {
        while let Some((at, id, key)) = self.deferred.first().cloned() {
            if at > now {
                break;
            }
            self.deferred.pop_first();
            self.ready.insert(id, key.clone());
            self.filed.insert(key, Filed::Ready(id));
        }
    }

    pub(super) fn is_empty(&self) -> bool {
        self.filed.is_empty()
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
