//! The only code that touches sled. Jobs are records keyed by canonical
//! key: JSON, or a compact binary form for a first-sight skip (the bulk of
//! a store; `record.rs` has the layouts and says how to add a field to a
//! job). A second tree maps job numbers to keys, `by_state` indexes the
//! JSON records by state, and `meta` holds counters such as API units spent
//! per day, the next job number and the store's format (`migrate.rs`
//! converts an older store in place on open). [`Store::save`] flushes
//! before returning, so a state written here survives `kill -9` before the
//! side effect it allows. A job's record, its number, its work-list entry
//! and any counters it moves are written in one sled transaction: a crash
//! or a full disk leaves all of them or none.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, NaiveDate, Utc};
use sled::Transactional;

mod buckets;
mod by_state;
mod changes;
mod durability;
mod migrate;
mod reads;
mod record;
mod skips;
mod timings;
mod tx;
pub use timings::{ProcessingSample, MAX_SAMPLES};

use crate::model::{Event, Job, JobChange, Source};

mod outbox;
pub use outbox::{source_of, OutboxEvent, SinkProgress};

/// sled's page cache. Left at its default (1 GiB) it would let an idle
/// daemon grow far past what it needs; a few MiB hold every hot record.
const CACHE_BYTES: u64 = 8 * 1024 * 1024;

/// `meta` key of the next job number. Our own counter: sled's
/// `generate_id` skips a million ids on every reopen, and users type these
/// numbers.
/// How many job changes [`Store::subscribe`] buffers per subscriber.
const PUBLISHED_CAPACITY: usize = 1024;
const NEXT_JOB_NUMBER: &str = "jobs:next_number";
const UNITS_TOTAL: &str = "units:total";

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(
        "the database {path} is in use by another clipwatch process \
         (only one may open it; stop the daemon or use its control socket)"
    )]
    Locked { path: PathBuf },
    #[error("cannot open the database {path}: {source}")]
    Open { path: PathBuf, source: sled::Error },
    #[error("database error: {0}")]
    Sled(#[from] sled::Error),
    #[error("corrupt record for {key}: {source}")]
    Corrupt {
        key: String,
        source: serde_json::Error,
    },
    #[error("no job {0}")]
    NotFound(String),
}

/// A cheap-to-clone handle on the database.
#[derive(Clone)]
pub struct Store {
    db: sled::Db,
    /// The JSON records; the compact ones are in `skips` (`buckets.rs`).
    jobs: sled::Tree,
    skips: sled::Tree,
    job_numbers: sled::Tree,
    /// Keys of jobs that are not done, failed or skipped: the scheduler's
    /// work list, so it never scans the whole seen set.
    active: sled::Tree,
    /// The JSON records by state (`by_state.rs`).
    by_state: sled::Tree,
    meta: sled::Tree,
    /// One flush at a time; see [`Store::flush`].
    flushing: Arc<durability::Flushing>,
    /// The first write that failed (see [`Store::failures`]).
    failure: Arc<tokio::sync::watch::Sender<Option<String>>>,
    /// Keys of jobs written since the last [`Store::take_changes`], for the
    /// scheduler's in-memory index; `None` (nothing kept) until
    /// [`Store::watch_changes`] is called.
    changes: Arc<Mutex<Option<HashSet<String>>>>,
    /// Every durable write of a job, for [`Store::subscribe`].
    published: tokio::sync::broadcast::Sender<JobChange>,
    /// Notification events waiting for their sinks (`outbox.rs`).
    outbox: outbox::Outbox,
}

/// What [`Store::insert_new`] did.
#[derive(Debug)]
pub enum Inserted {
    New(Job),
    /// The key is already known: this is its job, unchanged.
    Existing(Job),
}

impl Store {
    /// Open (or create) the database under `state_dir`.
    pub fn open(state_dir: &Path) -> Result<Store, StoreError> {
        let path = state_dir.join("db");
        std::fs::create_dir_all(state_dir).map_err(|e| StoreError::Open {
            path: path.clone(),
            source: sled::Error::Io(e),
        })?;
        let db = sled::Config::new()
            .path(&path)
            .cache_capacity(CACHE_BYTES)
            .open()
            .map_err(|e| classify_open_error(&path, e))?;
        let store = Store {
            jobs: db.open_tree("jobs")?,
            skips: db.open_tree(buckets::TREE)?,
            job_numbers: db.open_tree("job_numbers")?,
            active: db.open_tree("active")?,
            by_state: db.open_tree(by_state::TREE)?,
            meta: db.open_tree("meta")?,
            flushing: Arc::default(),
            failure: Arc::new(tokio::sync::watch::channel(None).0),
            changes: Arc::new(Mutex::new(None)),
            published: tokio::sync::broadcast::channel(PUBLISHED_CAPACITY).0,
            outbox: outbox::Outbox::open(&db)?,
            db,
        };
        store.init_job_numbers()?;
        store.migrate()?;
        Ok(store)
    }

    /// A database written before the job-number counter existed continues
    /// after its highest number (job numbers are big-endian keys, so the last
    /// key is the highest).
    fn init_job_numbers(&self) -> Result<(), StoreError> {
        if self.meta.get(NEXT_JOB_NUMBER)?.is_some() {
            return Ok(());
        }
        let mut highest = match self.job_numbers.last()? {
            Some((number, _)) => read_u64(&number),
            None => 0,
        };
        // Compact skips have no number entry (a rare, one-time scan).
        for entry in self.jobs.iter().values() {
            highest = highest.max(record::compact_id(&entry?).unwrap_or(0));
        }
        self.each_compact(|_, record| {
            highest = highest.max(record::compact_id(record).unwrap_or(0));
            Ok(true)
        })?;
        let next = highest + 1;
        // Only if still absent: another opener cannot exist (sled locks the
        // file), but an existing counter must never move backwards.
        let _ = self.meta.compare_and_swap(
            NEXT_JOB_NUMBER,
            None as Option<&[u8]>,
            Some(&next.to_be_bytes()[..]),
        )?;
        Ok(())
    }

    /// [`Store::open`], waiting up to `patience` while another process holds
    /// the lock (a CLI command that opened the database a moment ago).
    pub async fn open_patiently(
        state_dir: &Path,
        patience: std::time::Duration,
    ) -> Result<Store, StoreError> {
        let deadline = tokio::time::Instant::now() + patience;
        loop {
            match Store::open(state_dir) {
                Err(StoreError::Locked { .. }) if tokio::time::Instant::now() < deadline => {
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
                other => return other,
            }
        }
    }

    /// Create a job for `key` unless the key is already known.
    pub async fn insert_new(
        &self,
        key: &str,
        source: Source,
        preset: &str,
        name: Option<String>,
        now: DateTime<Utc>,
    ) -> Result<Inserted, StoreError> {
        self.insert_with(key, source, preset, now, |job| job.name = name)
            .await
    }

    async fn insert_with(
        &self,
        key: &str,
        source: Source,
        preset: &str,
        now: DateTime<Utc>,
        prepare: impl FnOnce(&mut Job),
    ) -> Result<Inserted, StoreError> {
        let inserted = self.write_new(key, source, preset, now, prepare)?;
        if let Inserted::New(job) = &inserted {
            self.flush().await?;
            self.publish(JobChange::Saved(Arc::new(job.clone())));
        }
        Ok(inserted)
    }

    /// Write a new job (its record, its number and, unless it is already
    /// terminal, its work-list entry: one transaction) for `key` unless the
    /// key is known. Not flushed.
    fn write_new(
        &self,
        key: &str,
        source: Source,
        preset: &str,
        now: DateTime<Utc>,
        prepare: impl FnOnce(&mut Job),
    ) -> Result<Inserted, StoreError> {
        if let Some(existing) = self.get(key)? {
            return Ok(Inserted::Existing(existing));
        }
        // The number is filled in inside the transaction.
        let mut draft = Job::new(0, key.to_string(), source, preset.to_string(), now);
        prepare(&mut draft);
        let outcome = self.job_transaction(|tx| {
            if let Some(bytes) = tx.records.get(key.as_bytes())? {
                return Ok(Err(bytes));
            }
            let meta = tx.records.meta;
            let id = meta
                .get(NEXT_JOB_NUMBER)?
                .map_or(1, |v| read_u64(&v))
                .max(1);
            meta.insert(NEXT_JOB_NUMBER, &(id + 1).to_be_bytes())?;
            let mut job = draft.clone();
            job.id = id;
            tx.write(&job)?;
            Ok(Ok(job))
        })?;
        match outcome {
            Ok(job) => {
                // Skipped on first sight: never on the work list.
                if !job.state.is_terminal() {
                    self.changed(key);
                }
                Ok(Inserted::New(job))
            }
            Err(bytes) => Ok(Inserted::Existing(decode(key, &bytes)?)),
        }
    }

    /// Queue a skipped job again for `source` and `preset` (a feed wants
    /// what another feed skipped), if `may` still allows it when written:
    /// compare-and-swap, so two feeds at once queue it once. Returns the
    /// queued job, or `None` when it was not (any more) allowed.
    pub async fn requeue_skipped(
        &self,
        key: &str,
        source: Source,
        preset: &str,
        now: DateTime<Utc>,
        may: impl Fn(&Job) -> bool,
    ) -> Result<Option<Job>, StoreError> {
        loop {
            let Some(old) = self.record(key)? else {
                return Ok(None);
            };
            let mut job = decode(key, &old)?;
            if !may(&job) {
                return Ok(None);
            }
            let feed = source.feed.clone().unwrap_or_default();
            if job.apply(Event::Wanted { feed }, now).is_err() {
                return Ok(None);
            }
            job.source = source.clone();
            job.preset = preset.to_owned();
            // The record and its work-list entry in one transaction, and only
            // if the record is still what was read (two feeds at once queue
            // it once).
            let written = self.job_transaction(|tx| {
                if tx.records.get(key.as_bytes())?.as_deref() != Some(&old[..]) {
                    return Ok(false);
                }
                // A compact skip had no number entry; the queued job needs
                // one (`show 42`).
                tx.write(&job)?;
                Ok(true)
            });
            if self.noted(written)? {
                self.changed(key);
                self.flush().await?;
                self.publish(JobChange::Saved(Arc::new(job.clone())));
                return Ok(Some(job));
            }
        }
    }

    /// Write `job` and flush it to disk before returning.
    pub async fn save(&self, job: &Job) -> Result<(), StoreError> {
        self.save_counting(job, None).await
    }

    /// Write `job` together with the API units it was charged on `day`
    /// (one transaction: a crash cannot count them without the job that
    /// carries them, or the other way round), and flush.
    pub async fn save_counting(
        &self,
        job: &Job,
        units: Option<(NaiveDate, u64)>,
    ) -> Result<(), StoreError> {
        let saved = self.save_counting_unchecked(job, units).await;
        self.noted(saved)
    }

    async fn save_counting_unchecked(
        &self,
        job: &Job,
        units: Option<(NaiveDate, u64)>,
    ) -> Result<(), StoreError> {
        // A move into done or failed records its notification event in
        // the same transaction (store/outbox.rs).
        let event_id = self.outbox.draft_for(job);
        let outbox = self.outbox.tree();
        (
            &self.jobs,
            &self.skips,
            &self.job_numbers,
            &self.active,
            &self.meta,
            outbox,
            &self.by_state,
        )
            .transaction(|(jobs, skips, numbers, active, meta, outbox, by_state)| {
                if let Some(id) = &event_id {
                    outbox::record_job_event(jobs, meta, outbox, job, id)?;
                }
                let tx = JobTx {
                    records: TxRecords { jobs, skips, meta },
                    numbers,
                    active,
                    by_state,
                };
                tx.write(job)?;
                if let Some((day, units)) = units {
                    for counter in [day_key(day), UNITS_TOTAL.to_string()] {
                        let current = meta.get(counter.as_bytes())?.map_or(0, |v| read_u64(&v));
                        meta.insert(counter.as_bytes(), &(current + units).to_be_bytes())?;
                    }
                }
                Ok(())
            })
            .map_err(tx_error)?;
        self.changed(&job.key);
        self.flush().await?;
        if event_id.is_some() {
            self.outbox.wake();
        }
        self.publish(JobChange::Saved(Arc::new(job.clone())));
        Ok(())
    }

    /// Put every job that is not done, failed or skipped back on the work
    /// list (start-up): an entry lost by an older version, or by a write
    /// that failed half way, must not strand its job. Reads the state index,
    /// not every record. Returns how many entries were missing.
    pub fn rebuild_work_list(&self) -> Result<usize, StoreError> {
        let mut restored = 0;
        for state in [
            "queued",
            "uploading",
            "submitting",
            "processing",
            "downloading",
        ] {
            for job in self.jobs_in_state(state)? {
                if !job.state.is_terminal() && !self.active.contains_key(&job.key)? {
                    self.active.insert(job.key.as_bytes(), &[])?;
                    restored += 1;
                }
            }
        }
        Ok(restored)
    }

    /// Remove a key from the seen set so it can be clipped again.
    pub async fn forget(&self, key: &str) -> Result<Job, StoreError> {
        let job = self.find(key)?;
        self.job_transaction(|tx| {
            let old = tx.records.remove(job.key.as_bytes())?;
            by_state::reindex(tx.by_state, job.key.as_bytes(), old.as_deref(), None)?;
            tx.numbers.remove(&job.id.to_be_bytes())?;
            tx.active.remove(job.key.as_bytes())?;
            Ok(())
        })?;
        self.changed(&job.key);
        self.flush().await?;
        self.publish(JobChange::Forgotten(Arc::new(job.clone())));
        Ok(job)
    }
}

fn classify_open_error(path: &Path, err: sled::Error) -> StoreError {
    let locked = matches!(&err, sled::Error::Io(io)
        if io.kind() == std::io::ErrorKind::WouldBlock
            || io.to_string().contains("lock")
            || io.raw_os_error() == Some(11));
    if locked {
        StoreError::Locked {
            path: path.to_path_buf(),
        }
    } else {
        StoreError::Open {
            path: path.to_path_buf(),
            source: err,
        }
    }
}

fn day_key(day: NaiveDate) -> String {
    format!("units:{day}")
}

fn read_u64(bytes: &[u8]) -> u64 {
    bytes.try_into().map(u64::from_be_bytes).unwrap_or(0)
}

use buckets::TxRecords;
use record::{decode, encode};
use tx::{tx_error, JobTx};

#[cfg(test)]
mod tests {
    use super::*;

    fn source() -> Source {
        Source {
            url: "https://www.youtube.com/watch?v=abcdefghijk".into(),
            origin: "submit".into(),
            ..Source::default()
        }
    }

    /// sled's threads may hold the file lock for a moment after the last
    /// handle drops (seen on a loaded machine).
    pub(super) fn reopen(dir: &Path) -> Store {
        for _ in 0..100 {
            match Store::open(dir) {
                Err(StoreError::Locked { .. }) => {
                    std::thread::sleep(std::time::Duration::from_millis(50))
                }
                other => return other.unwrap(),
            }
        }
        panic!("the store stayed locked")
    }

    #[tokio::test]
    async fn a_key_is_inserted_once_and_found_by_number_or_key() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let now = Utc::now();
        let Inserted::New(job) = store
            .insert_new("youtube:abcdefghijk", source(), "default", None, now)
            .await
            .unwrap()
        else {
            panic!("first insert is new")
        };
        let again = store
            .insert_new("youtube:abcdefghijk", source(), "other", None, now)
            .await
            .unwrap();
        assert!(matches!(again, Inserted::Existing(ref j) if j.preset == "default"));
        assert_eq!(store.find(&job.id.to_string()).unwrap().key, job.key);
        assert_eq!(store.find("youtube:abcdefghijk").unwrap().id, job.id);
        assert!(matches!(store.find("999"), Err(StoreError::NotFound(_))));
    }

    /// The scheduler's index is only as good as this feed: every way a job
    /// enters, changes in or leaves the work list must report its key.
    #[tokio::test]
    async fn every_write_of_a_job_is_reported_once_watched() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let now = Utc::now();
        store
            .insert_new("youtube:unwatched00", source(), "default", None, now)
            .await
            .unwrap();
        assert!(
            store.take_changes().is_empty(),
            "nothing kept until watched"
        );
        store.watch_changes();
        let Inserted::New(mut job) = store
            .insert_new("youtube:abcdefghijk", source(), "default", None, now)
            .await
            .unwrap()
        else {
            panic!("new")
        };
        assert_eq!(store.take_changes(), ["youtube:abcdefghijk"]);
        assert!(store.take_changes().is_empty());
        job.apply(Event::SubmitStarted, now).unwrap();
        store.save(&job).await.unwrap();
        store.save(&job).await.unwrap();
        assert_eq!(store.take_changes(), ["youtube:abcdefghijk"]);
        job.apply(
            Event::Failed {
                reason: "x".into(),
                will_retry: false,
            },
            now,
        )
        .unwrap();
        store.save(&job).await.unwrap();
        assert_eq!(store.take_changes(), ["youtube:abcdefghijk"]);
        store.forget("youtube:abcdefghijk").await.unwrap();
        assert_eq!(store.take_changes(), ["youtube:abcdefghijk"]);
        // Skipped on first sight: never on the work list, nothing to report.
        store
            .insert_skipped_many(
                vec![("youtube:skipped0000".into(), source(), "backfill".into())],
                "default",
                now,
            )
            .await
            .unwrap();
        assert!(store.take_changes().is_empty());
    }

    /// Subscribers see every durable write, in order, with the transition
    /// it recorded: creation, saves, skips on first sight and `forget`.
    #[tokio::test]
    async fn every_durable_write_is_published_to_subscribers() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let mut changes = store.subscribe();
        let now = Utc::now();
        let Inserted::New(mut job) = store
            .insert_new("youtube:abcdefghijk", source(), "default", None, now)
            .await
            .unwrap()
        else {
            panic!("new")
        };
        job.apply(Event::SubmitStarted, now).unwrap();
        store.save(&job).await.unwrap();
        store
            .insert_skipped_many(
                vec![("youtube:skipped0000".into(), source(), "backfill".into())],
                "default",
                now,
            )
            .await
            .unwrap();
        store.forget("youtube:abcdefghijk").await.unwrap();

        let mut seen = Vec::new();
        while let Ok(change) = changes.try_recv() {
            let moved = change.transition().map(|t| format!("{}->{}", t.from, t.to));
            let kind = match change {
                JobChange::Saved(_) => "saved",
                JobChange::Forgotten(_) => "forgotten",
            };
            seen.push(format!("{kind} {} {moved:?}", change.job().key));
        }
        assert_eq!(
            seen,
            [
                "saved youtube:abcdefghijk None",
                "saved youtube:abcdefghijk Some(\"queued->submitting\")",
                "saved youtube:skipped0000 Some(\"queued->skipped\")",
                "forgotten youtube:abcdefghijk None",
            ]
        );
    }

    #[tokio::test]
    async fn saved_state_survives_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let now = Utc::now();
        {
            let store = Store::open(dir.path()).unwrap();
            let Inserted::New(mut job) = store
                .insert_new("url:https://a/b", source(), "default", None, now)
                .await
                .unwrap()
            else {
                panic!()
            };
            job.apply(crate::model::Event::SubmitStarted, now).unwrap();
            store.save(&job).await.unwrap();
            job.units = Some(30);
            store
                .save_counting(&job, Some((now.date_naive(), 30)))
                .await
                .unwrap();
            store
                .save_counting(&job, Some((now.date_naive(), 12)))
                .await
                .unwrap();
        }
        let store = reopen(dir.path());
        assert_eq!(
            store.require("url:https://a/b").unwrap().state.name(),
            "submitting"
        );
        assert_eq!(store.units_on(now.date_naive()).unwrap(), 42);
        assert_eq!(store.units_total().unwrap(), 42);
        assert_eq!(store.active_jobs().unwrap().len(), 1);
        store.forget("url:https://a/b").await.unwrap();
        assert!(store.active_jobs().unwrap().is_empty());
        assert!(store.jobs().unwrap().is_empty());
    }

    #[tokio::test]
    async fn skipped_entries_are_written_together_and_known_keys_kept() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let now = Utc::now();
        store
            .insert_new("url:https://a/known", source(), "default", None, now)
            .await
            .unwrap();
        let items = ["url:https://a/known", "url:https://a/1", "url:https://a/2"]
            .map(|key| (key.to_string(), source(), "backfill".to_string()))
            .to_vec();
        let outcomes = store.insert_skipped_many(items, "meta", now).await.unwrap();
        assert!(matches!(&outcomes[0], Inserted::Existing(j) if j.state.name() == "queued"));
        for (outcome, key) in outcomes[1..]
            .iter()
            .zip(["url:https://a/1", "url:https://a/2"])
        {
            let Inserted::New(job) = outcome else {
                panic!("{key} is new")
            };
            assert_eq!(store.find(&job.id.to_string()).unwrap().key, key);
            assert_eq!(store.require(key).unwrap().state.name(), "skipped");
        }
        assert_eq!(store.active_jobs().unwrap().len(), 1);
    }

    /// Each key in exactly one place (`jobs` or one bucket), and the count
    /// equal to what the buckets hold.
    fn assert_each_key_once(store: &Store) {
        let mut in_buckets = std::collections::HashSet::new();
        store
            .each_compact(|key, _| {
                assert!(in_buckets.insert(key.to_vec()), "a key in two buckets");
                Ok(true)
            })
            .unwrap();
        for key in store.jobs.iter().keys() {
            assert!(
                !in_buckets.contains(&key.unwrap().to_vec()),
                "in jobs and a bucket"
            );
        }
        let counted = store
            .meta
            .get(buckets::COUNT)
            .unwrap()
            .map_or(0, |v| read_u64(&v));
        assert_eq!(counted as usize, in_buckets.len());
    }

    /// 200 files of one folder (more than a home bucket takes) and a
    /// duplicate in the same batch: every one found, numbered and counted,
    /// through requeue and forget too.
    #[tokio::test]
    async fn skips_of_one_folder_spill_and_every_write_keeps_each_key_once() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let now = Utc::now();
        let key = |i: usize| format!("url:https://cdn.example/show/{i}.mp3");
        let mut items: Vec<_> = (0..200)
            .map(|i| (key(i), source(), "backfill".to_string()))
            .collect();
        items.push((key(7), source(), "backfill".to_string()));
        let outcomes = store.insert_skipped_many(items, "meta", now).await.unwrap();
        assert!(matches!(&outcomes[200], Inserted::Existing(j) if j.key == key(7)));
        assert_each_key_once(&store);
        assert_eq!(store.count_by_state().unwrap()["skipped"], 200);
        let homes: std::collections::HashSet<_> = (0..200)
            .map(|i| buckets::buckets_of(key(i).as_bytes())[0])
            .collect();
        assert!(homes.len() < 200, "some home buckets are shared");
        let spilled = (0..200)
            .filter(|&i| {
                let home = buckets::buckets_of(key(i).as_bytes())[0];
                let bucket = store.skips.get(home).unwrap().unwrap_or_default();
                buckets::find(&bucket, key(i).as_bytes()).unwrap().is_none()
            })
            .count();
        assert!(spilled > 0, "full home buckets spill");
        for i in 0..200 {
            let job = store.require(&key(i)).unwrap();
            assert_eq!(store.find(&job.id.to_string()).unwrap().key, key(i));
        }
        // Requeued: JSON now, out of its bucket, and found by its number.
        let requeued = store
            .requeue_skipped(&key(42), source(), "default", now, |_| true)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            store.find(&requeued.id.to_string()).unwrap().state.name(),
            "queued"
        );
        store.forget(&key(43)).await.unwrap();
        assert!(store.get(&key(43)).unwrap().is_none());
        assert_each_key_once(&store);
        let counts = store.count_by_state().unwrap();
        assert_eq!((counts["skipped"], counts["queued"]), (198, 1));
    }

    #[tokio::test]
    async fn job_numbers_count_up_across_reopens_and_continue_old_databases() {
        let dir = tempfile::tempdir().unwrap();
        let now = Utc::now();
        for (n, key) in ["url:https://a/1", "url:https://a/2", "url:https://a/3"]
            .iter()
            .enumerate()
        {
            let store = reopen(dir.path());
            let Inserted::New(job) = store
                .insert_new(key, source(), "default", None, now)
                .await
                .unwrap()
            else {
                panic!("new")
            };
            assert_eq!(job.id, n as u64 + 1);
        }
        // A database from before the counter: numbers from sled's
        // generate_id, no counter in meta.
        let old = tempfile::tempdir().unwrap();
        {
            let store = Store::open(old.path()).unwrap();
            let mut job = Job::new(
                2_000_001,
                "url:https://a/old".into(),
                source(),
                "d".into(),
                now,
            );
            job.apply(Event::Skipped { reason: "x".into() }, now)
                .unwrap();
            store.save(&job).await.unwrap();
            store.meta.remove(NEXT_JOB_NUMBER).unwrap();
            store.flush().await.unwrap();
        }
        let store = reopen(old.path());
        let Inserted::New(job) = store
            .insert_new("url:https://a/new", source(), "default", None, now)
            .await
            .unwrap()
        else {
            panic!("new")
        };
        assert_eq!(job.id, 2_000_002);
    }

    #[tokio::test]
    async fn a_job_missing_from_the_work_list_is_put_back() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        store
            .insert_new("url:https://a/1", source(), "default", None, Utc::now())
            .await
            .unwrap();
        store.active.clear().unwrap();
        assert!(store.active_jobs().unwrap().is_empty());
        assert_eq!(store.rebuild_work_list().unwrap(), 1);
        assert_eq!(store.active_jobs().unwrap().len(), 1);
        assert_eq!(store.rebuild_work_list().unwrap(), 0);
    }

    #[test]
    fn lock_errors_read_as_in_use() {
        // The real second-process refusal is an end-to-end test
        // (e2e_service: a_second_daemon_on_the_same_state_is_refused_at_once).
        let err = classify_open_error(
            Path::new("/x/db"),
            sled::Error::Io(std::io::Error::from_raw_os_error(11)),
        );
        assert!(err.to_string().contains("in use by another clipwatch"));
    }
}
