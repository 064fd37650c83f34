//! Converting a store written by an older clipwatch, in place, on open.
//!
//! Format 1 (clipwatch ≤ 10705a0, no `store:format` in `meta`): every job
//! a JSON record, each with a `job_numbers` entry, no state index.
//! Format 2: first-sight skips compact and without a `job_numbers` entry,
//! the rest JSON, every JSON record in `by_state` (`record.rs`,
//! `by_state.rs`).
//! Format 3: the compact skips moved out of `jobs` into the buckets of
//! `skips` (`buckets.rs`), counted in `meta`.
//!
//! Crash-safe without a journal: each record says by its first byte which
//! layout it is in, so both kinds read at any point (and a record is in
//! `jobs` or in its bucket, never both: the move is one transaction); a
//! batch of records is converted, moved, indexed and put on the work list
//! in one transaction; and the
//! format is set only after the last batch is flushed. A kill at any point
//! loses nothing, and the next open starts over, which skips what is done
//! (converting a converted record is a no-op, indexing is idempotent).

use sled::IVec;

use super::{by_state, read_u64, record, Store, StoreError};

const FORMAT: &str = "store:format";
const CURRENT_FORMAT: u64 = 3;
/// Records converted per transaction.
const BATCH: usize = 500;
/// A progress line every this many batches.
const PROGRESS_EVERY: usize = 10;

impl Store {
    /// Bring the store to [`CURRENT_FORMAT`] (once; a no-op after).
    pub(super) fn migrate(&self) -> Result<(), StoreError> {
        let format = self.meta.get(FORMAT)?.map_or(1, |v| read_u64(&v));
        if format >= CURRENT_FORMAT {
            return Ok(());
        }
        if self.jobs.is_empty() {
            return self.set_format();
        }
        let total = self.jobs.len();
        tracing::warn!(
            records = total,
            "converting the database to the compact format (once; safe to interrupt)"
        );
        let mut after: Option<IVec> = None;
        let mut done = 0;
        loop {
            let batch = self.next_batch(after.as_ref())?;
            let Some((last, _)) = batch.last() else { break };
            after = Some(last.clone());
            self.convert(&batch)?;
            done += batch.len();
            if done % (BATCH * PROGRESS_EVERY) == 0 {
                tracing::info!(done, total, "database conversion");
            }
        }
        self.db.flush()?;
        self.set_format()?;
        tracing::warn!(records = done, "the database is converted");
        Ok(())
    }

    fn set_format(&self) -> Result<(), StoreError> {
        self.meta.insert(FORMAT, &CURRENT_FORMAT.to_be_bytes())?;
        self.db.flush()?;
        Ok(())
    }

    fn next_batch(&self, after: Option<&IVec>) -> Result<Vec<(IVec, IVec)>, StoreError> {
        let range = match after {
            Some(key) => self.jobs.range::<&[u8], _>((
                std::ops::Bound::Excluded(&key[..]),
                std::ops::Bound::Unbounded,
            )),
            None => self.jobs.iter(),
        };
        Ok(range.take(BATCH).collect::<Result<_, _>>()?)
    }

    /// Re-encode, index and (if not terminal) list each record of the
    /// batch, and move the compact ones into their buckets, in one
    /// transaction.
    fn convert(&self, batch: &[(IVec, IVec)]) -> Result<(), StoreError> {
        let mut jobs = Vec::with_capacity(batch.len());
        for (key, bytes) in batch {
            let job = record::decode(&String::from_utf8_lossy(key), bytes)?;
            jobs.push((job, bytes));
        }
        self.job_transaction(|tx| {
            for (job, old) in &jobs {
                let key = job.key.as_bytes();
                let new = record::encode(job);
                if record::is_compact(&new) {
                    // A format 2 JSON skip had an index entry; format 1 had
                    // none, and removing nothing is harmless.
                    by_state::reindex(tx.by_state, key, Some(old), Some(&new))?;
                    tx.numbers.remove(&job.id.to_be_bytes())?;
                } else {
                    // Written as if from nothing: a format 1 record has no
                    // entry, and a repeat is harmless.
                    by_state::reindex(tx.by_state, key, None, Some(&new))?;
                }
                tx.records.insert(key, &new)?;
                if !job.state.is_terminal() {
                    tx.active.insert(key, &[])?;
                }
            }
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use sled::Transactional;

    use crate::store::tests::reopen;
    use crate::store::{tx_error, TxRecords};

    use super::*;
    use crate::model::{Event, Job, Source};

    /// Write `jobs` as clipwatch 10705a0 did: JSON records, their numbers,
    /// work-list entries for unfinished jobs, the next number in `meta`.
    fn write_format_1(dir: &std::path::Path, jobs: &[Job]) {
        let db = sled::open(dir.join("db")).unwrap();
        let (records, numbers) = (
            db.open_tree("jobs").unwrap(),
            db.open_tree("job_numbers").unwrap(),
        );
        let (active, meta) = (
            db.open_tree("active").unwrap(),
            db.open_tree("meta").unwrap(),
        );
        for job in jobs {
            records
                .insert(job.key.as_bytes(), serde_json::to_vec(job).unwrap())
                .unwrap();
            numbers
                .insert(job.id.to_be_bytes(), job.key.as_bytes())
                .unwrap();
            if !job.state.is_terminal() {
                active.insert(job.key.as_bytes(), &[]).unwrap();
            }
        }
        let next = jobs.len() as u64 + 1;
        meta.insert("jobs:next_number", &next.to_be_bytes())
            .unwrap();
        db.flush().unwrap();
    }

    fn jobs(n: u64) -> Vec<Job> {
        let now = Utc::now();
        (1..=n)
            .map(|id| {
                let source = Source {
                    url: format!("https://a/{id}"),
                    origin: "feed".into(),
                    feed: Some("f".into()),
                    ..Source::default()
                };
                let mut job = Job::new(id, format!("url:https://a/{id}"), source, "m".into(), now);
                let event = match id % 3 {
                    0 => Event::Skipped {
                        reason: "backfill".into(),
                    },
                    1 => Event::Failed {
                        reason: "x".into(),
                        will_retry: false,
                    },
                    _ => return job,
                };
                job.apply(event, now).unwrap();
                job
            })
            .collect()
    }

    #[test]
    fn a_format_1_store_is_converted_whole_and_reads_the_same() {
        let dir = tempfile::tempdir().unwrap();
        let written = jobs(3 * BATCH as u64 + 7);
        write_format_1(dir.path(), &written);
        let store = reopen(dir.path());
        assert_eq!(store.jobs().unwrap(), written);
        let compact = written.len() / 3;
        assert_skips_in_buckets(&store, compact);
        assert_eq!(store.jobs_in_state("failed").unwrap().len(), 503);
        assert_eq!(store.active_jobs().unwrap().len(), 502);
        assert_eq!(store.find("7").unwrap().key, "url:https://a/7");
        // A compact skip keeps its number without a `job_numbers` entry.
        assert_eq!(store.find("3").unwrap().key, "url:https://a/3");
        assert_eq!(store.job_numbers.len(), written.len() - compact);
        assert_eq!(
            store.meta.get(FORMAT).unwrap().map(|v| read_u64(&v)),
            Some(3)
        );
    }

    /// Every compact record is in a bucket, none in `jobs`, and the count
    /// says how many.
    fn assert_skips_in_buckets(store: &Store, expected: usize) {
        assert!(store
            .jobs
            .iter()
            .all(|e| !record::is_compact(&e.unwrap().1)));
        let mut in_buckets = 0;
        store
            .each_compact(|_, record| {
                assert!(record::is_compact(record));
                in_buckets += 1;
                Ok(true)
            })
            .unwrap();
        assert_eq!(in_buckets, expected);
        assert_eq!(store.count_by_state().unwrap()["skipped"], expected);
    }

    /// Write `jobs` as clipwatch 5e2abd9 did (format 2): compact skips in
    /// `jobs` without a number, JSON records numbered and in `by_state`.
    fn write_format_2(dir: &std::path::Path, jobs: &[Job]) {
        write_format_1(dir, jobs);
        let db = sled::open(dir.join("db")).unwrap();
        let (records, numbers) = (
            db.open_tree("jobs").unwrap(),
            db.open_tree("job_numbers").unwrap(),
        );
        let index = db.open_tree(by_state::TREE).unwrap();
        for job in jobs {
            let record = record::encode(job);
            if record::is_compact(&record) {
                numbers.remove(job.id.to_be_bytes()).unwrap();
            } else {
                let entry = format!("{}\0{}", job.state.name(), job.key);
                index.insert(entry.as_bytes(), &[]).unwrap();
            }
            records.insert(job.key.as_bytes(), record).unwrap();
        }
        let meta = db.open_tree("meta").unwrap();
        meta.insert(FORMAT, &2u64.to_be_bytes()).unwrap();
        db.flush().unwrap();
    }

    #[test]
    fn a_format_2_store_moves_its_compact_skips_into_buckets() {
        let dir = tempfile::tempdir().unwrap();
        let written = jobs(2 * BATCH as u64 + 11);
        write_format_2(dir.path(), &written);
        let store = reopen(dir.path());
        assert_eq!(store.jobs().unwrap(), written);
        assert_skips_in_buckets(&store, written.len() / 3);
        let counts = store.count_by_state().unwrap();
        assert_eq!((counts["failed"], counts["queued"]), (337, 337));
        assert_eq!(store.find("6").unwrap().key, "url:https://a/6");
        assert_eq!(
            store.get("url:https://a/9").unwrap().unwrap().state.name(),
            "skipped"
        );
    }

    /// A conversion cut short (here: one batch done, the format not yet
    /// set) is finished by the next open, and nothing is lost or doubled.
    #[test]
    fn a_conversion_cut_short_is_finished_by_the_next_open() {
        let dir = tempfile::tempdir().unwrap();
        let written = jobs(2 * BATCH as u64);
        write_format_1(dir.path(), &written);
        {
            let store = reopen(dir.path());
            // Back to "half converted": format unset, the second half JSON
            // again (out of the buckets, as before its batch).
            store.meta.remove(FORMAT).unwrap();
            let trees = (&store.jobs, &store.skips, &store.meta);
            trees
                .transaction(|(jobs, skips, meta)| {
                    let records = TxRecords { jobs, skips, meta };
                    for job in &written[BATCH..] {
                        records.insert(job.key.as_bytes(), &record::encode_json(job))?;
                    }
                    Ok(())
                })
                .map_err(tx_error)
                .unwrap();
            store.db.flush().unwrap();
        }
        let store = reopen(dir.path());
        assert_eq!(store.jobs().unwrap(), written);
        assert_skips_in_buckets(&store, 333);
        let counts = store.count_by_state().unwrap();
        assert_eq!(
            (counts["failed"], counts["queued"], counts["skipped"]),
            (334, 333, 333)
        );
    }
}
