//! Recording a feed's skipped entries (backfill, filters): thousands at a
//! time on a feed's first sight, so they are written in large
//! transactions and flushed once, as compact records (`record.rs`).

use std::sync::Arc;

use crate::model::{Event, Job, JobChange, Source};
use chrono::{DateTime, Utc};

use super::{decode, read_u64, Inserted, Store, StoreError, NEXT_JOB_NUMBER};

/// Skipped entries written per transaction by [`Store::insert_skipped_many`].
const SKIPS_PER_TRANSACTION: usize = 1000;

impl Store {
    /// Record each `(key, source, reason)` as seen but skipped unless the key
    /// is already known, then flush once: a feed's first sight can skip
    /// thousands of entries, and a flush per record was most of the cost of
    /// a first pass (BENCHMARKS.md). The jobs are never visible as queued, so
    /// the scheduler cannot pick them up. Returns one outcome per item.
    pub async fn insert_skipped_many(
        &self,
        items: Vec<(String, Source, String)>,
        preset: &str,
        now: DateTime<Utc>,
    ) -> Result<Vec<Inserted>, StoreError> {
        let drafts: Vec<Job> = items
            .into_iter()
            .map(|(key, source, reason)| {
                let mut job = Job::new(0, key, source, preset.to_string(), now);
                job.apply(Event::Skipped { reason }, now)
                    .expect("a new job can always be skipped");
                job
            })
            .collect();
        let mut outcomes = Vec::with_capacity(drafts.len());
        // One transaction (and one move of the job counter) per chunk, not
        // per entry; a chunk bounds the transaction's memory.
        for chunk in drafts.chunks(SKIPS_PER_TRANSACTION) {
            outcomes.extend(self.write_skipped(chunk)?);
        }
        if outcomes.iter().any(|o| matches!(o, Inserted::New(_))) {
            self.flush().await?;
        }
        for outcome in &outcomes {
            if let Inserted::New(job) = outcome {
                self.publish(JobChange::Saved(Arc::new(job.clone())));
            }
        }
        Ok(outcomes)
    }

    /// Write each draft whose key is unknown, numbered in order (one
    /// transaction). Not flushed.
    fn write_skipped(&self, drafts: &[Job]) -> Result<Vec<Inserted>, StoreError> {
        let outcomes = self.job_transaction(|tx| {
            let meta = tx.records.meta;
            let mut next = meta
                .get(NEXT_JOB_NUMBER)?
                .map_or(1, |v| read_u64(&v))
                .max(1);
            let mut outcomes = Vec::with_capacity(drafts.len());
            for draft in drafts {
                if let Some(bytes) = tx.records.get(draft.key.as_bytes())? {
                    outcomes.push(Err((draft.key.clone(), bytes)));
                    continue;
                }
                let mut job = draft.clone();
                job.id = next;
                next += 1;
                tx.write(&job)?;
                outcomes.push(Ok(job));
            }
            meta.insert(NEXT_JOB_NUMBER, &next.to_be_bytes())?;
            Ok(outcomes)
        })?;
        outcomes
            .into_iter()
            .map(|outcome| match outcome {
                Ok(job) => Ok(Inserted::New(job)),
                Err((key, bytes)) => Ok(Inserted::Existing(decode(&key, &bytes)?)),
            })
            .collect()
    }
}
