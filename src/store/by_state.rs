//! The jobs by state: tree `by_state`, one empty entry `state \0 key` per
//! JSON record (every job but the compact first-sight skips, which are the
//! bulk of a store and are all `skipped`). Kept in the same transaction as
//! the record, so `jobs --state failed` and `status` read a few entries
//! instead of decoding every job of a million-key store.

use std::collections::BTreeMap;

use sled::transaction::{ConflictableTransactionError, TransactionalTree};

use crate::model::{Job, State};

use super::{buckets, read_u64, record, Store, StoreError};

pub(super) const TREE: &str = "by_state";

fn entry(state: &str, key: &[u8]) -> Vec<u8> {
    let mut entry = Vec::with_capacity(state.len() + 1 + key.len());
    entry.extend_from_slice(state.as_bytes());
    entry.push(0);
    entry.extend_from_slice(key);
    entry
}

/// Move `key`'s entry from the state of `old` to the state of `new` (either
/// may be absent; compact records have none).
pub(super) fn reindex(
    by_state: &TransactionalTree,
    key: &[u8],
    old: Option<&[u8]>,
    new: Option<&[u8]>,
) -> Result<(), ConflictableTransactionError<()>> {
    let indexed = |bytes: Option<&[u8]>| {
        bytes
            .filter(|b| !record::is_compact(b))
            .and_then(record::state_name)
    };
    let (was, now) = (indexed(old), indexed(new));
    if was == now {
        return Ok(());
    }
    if let Some(state) = was {
        by_state.remove(entry(&state, key))?;
    }
    if let Some(state) = now {
        by_state.insert(entry(&state, key), &[])?;
    }
    Ok(())
}

impl Store {
    /// Every job in `state`, oldest first. `skipped` reads the whole store
    /// (the compact skips are not indexed); every other state reads only its
    /// own jobs.
    pub fn jobs_in_state(&self, state: &str) -> Result<Vec<Job>, StoreError> {
        if state == "skipped" {
            let mut jobs = self.jobs()?;
            jobs.retain(|job| matches!(job.state, State::Skipped { .. }));
            return Ok(jobs);
        }
        let mut jobs = Vec::new();
        for entry in self.by_state.scan_prefix(entry(state, b"")) {
            let (entry, _) = entry?;
            let key = String::from_utf8_lossy(&entry[state.len() + 1..]).into_owned();
            if let Some(job) = self.get(&key)? {
                jobs.push(job);
            }
        }
        jobs.sort_by_key(|job| job.id);
        Ok(jobs)
    }

    /// How many jobs are in each state (every state named, zeros included),
    /// without decoding a record.
    pub fn count_by_state(&self) -> Result<BTreeMap<String, usize>, StoreError> {
        let mut counts: BTreeMap<String, usize> =
            State::NAMES.iter().map(|n| (n.to_string(), 0)).collect();
        for entry in self.by_state.iter().keys() {
            let entry = entry?;
            let end = entry.iter().position(|&b| b == 0).unwrap_or(entry.len());
            *counts
                .entry(String::from_utf8_lossy(&entry[..end]).into_owned())
                .or_default() += 1;
        }
        let compact = self.meta.get(buckets::COUNT)?.map_or(0, |v| read_u64(&v));
        *counts.entry("skipped".into()).or_default() += compact as usize;
        Ok(counts)
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;

    use super::*;
    use crate::model::{Event, Source};
    use crate::store::Inserted;

    fn source(n: u32) -> Source {
        Source {
            url: format!("https://a/{n}"),
            origin: "feed".into(),
            feed: Some("f".into()),
            ..Source::default()
        }
    }

    /// The index follows a job through every kind of write: insert, save,
    /// requeue of a skip, forget; counts include the unindexed compact skips.
    #[tokio::test]
    async fn the_index_follows_every_write_and_counts_match_a_full_scan() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let now = Utc::now();
        let skips = (0..5)
            .map(|n| (format!("url:https://a/{n}"), source(n), "backfill".into()))
            .collect();
        store.insert_skipped_many(skips, "meta", now).await.unwrap();
        let Inserted::New(mut failing) = store
            .insert_new("url:https://a/x", source(9), "d", None, now)
            .await
            .unwrap()
        else {
            panic!("new")
        };
        failing
            .apply(
                Event::Failed {
                    reason: "r".into(),
                    will_retry: false,
                },
                now,
            )
            .unwrap();
        store.save(&failing).await.unwrap();
        store
            .requeue_skipped("url:https://a/0", source(0), "d", now, |_| true)
            .await
            .unwrap()
            .expect("requeued");
        store.forget("url:https://a/1").await.unwrap();

        let failed: Vec<_> = store.jobs_in_state("failed").unwrap();
        assert_eq!(failed.len(), 1);
        assert_eq!(failed[0].key, "url:https://a/x");
        let queued = store.jobs_in_state("queued").unwrap();
        assert_eq!(queued.len(), 1);
        assert_eq!(queued[0].key, "url:https://a/0");
        assert_eq!(store.jobs_in_state("skipped").unwrap().len(), 3);

        let mut scanned: BTreeMap<String, usize> =
            State::NAMES.iter().map(|n| (n.to_string(), 0)).collect();
        for job in store.jobs().unwrap() {
            *scanned.get_mut(job.state.name()).unwrap() += 1;
        }
        assert_eq!(store.count_by_state().unwrap(), scanned);
        assert_eq!(scanned["skipped"], 3);
    }
}
