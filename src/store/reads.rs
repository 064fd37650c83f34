//! Reading jobs and counters back.

use chrono::NaiveDate;

use crate::model::Job;

use super::{buckets, day_key, decode, read_u64, Store, StoreError, UNITS_TOTAL};

impl Store {
    /// Jobs that are not done, failed or skipped, oldest first.
    pub fn active_jobs(&self) -> Result<Vec<Job>, StoreError> {
        let mut jobs = Vec::new();
        for entry in self.active.iter() {
            let (key, _) = entry?;
            let key = String::from_utf8_lossy(&key).into_owned();
            match self.get(&key)? {
                Some(job) if !job.state.is_terminal() => jobs.push(job),
                _ => {
                    self.active.remove(key.as_bytes())?;
                }
            }
        }
        jobs.sort_by_key(|job| job.id);
        Ok(jobs)
    }

    pub fn get(&self, key: &str) -> Result<Option<Job>, StoreError> {
        self.record(key)?
            .map(|bytes| decode(key, &bytes))
            .transpose()
    }

    /// `key`'s stored record: JSON from `jobs`, or compact from its bucket.
    pub(super) fn record(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        if let Some(json) = self.jobs.get(key)? {
            return Ok(Some(json.to_vec()));
        }
        for name in buckets::buckets_of(key.as_bytes()) {
            if let Some(bucket) = self.skips.get(name)? {
                let found =
                    buckets::find(&bucket, key.as_bytes()).map_err(|_| damaged(Some(&name)))?;
                if let Some(record) = found {
                    return Ok(Some(record.to_vec()));
                }
            }
        }
        Ok(None)
    }

    /// Calls `each` with every compact record (key, record), bucket by
    /// bucket, until it returns `false`.
    pub(super) fn each_compact(
        &self,
        mut each: impl FnMut(&[u8], &[u8]) -> Result<bool, StoreError>,
    ) -> Result<(), StoreError> {
        for bucket in self.skips.iter() {
            let (name, bucket) = bucket?;
            for (key, record) in buckets::entries(&bucket).map_err(|_| damaged(Some(&name)))? {
                if !each(key, record)? {
                    return Ok(());
                }
            }
        }
        Ok(())
    }

    pub fn require(&self, key: &str) -> Result<Job, StoreError> {
        self.get(key)?
            .ok_or_else(|| StoreError::NotFound(key.to_string()))
    }

    /// A job by number (`42`) or canonical key.
    pub fn find(&self, job_or_key: &str) -> Result<Job, StoreError> {
        if let Ok(number) = job_or_key.trim().trim_start_matches('#').parse::<u64>() {
            if let Some(key) = self.job_numbers.get(number.to_be_bytes())? {
                return self.require(&String::from_utf8_lossy(&key));
            }
            if let Some(job) = self.find_compact(number)? {
                return Ok(job);
            }
        }
        self.require(job_or_key.trim())
    }

    /// A compact skip by number: these have no `job_numbers` entry, so
    /// the records are scanned (reading only each one's number).
    fn find_compact(&self, number: u64) -> Result<Option<Job>, StoreError> {
        let mut found = None;
        self.each_compact(|key, record| {
            if super::record::compact_id(record) == Some(number) {
                found = Some(decode(&String::from_utf8_lossy(key), record)?);
            }
            Ok(found.is_none())
        })?;
        Ok(found)
    }

    /// Every job, oldest first.
    pub fn jobs(&self) -> Result<Vec<Job>, StoreError> {
        let mut jobs = Vec::new();
        for entry in self.jobs.iter() {
            let (key, bytes) = entry?;
            jobs.push(decode(&String::from_utf8_lossy(&key), &bytes)?);
        }
        self.each_compact(|key, record| {
            jobs.push(decode(&String::from_utf8_lossy(key), record)?);
            Ok(true)
        })?;
        jobs.sort_by_key(|job| job.id);
        Ok(jobs)
    }

    pub fn units_on(&self, day: NaiveDate) -> Result<u64, StoreError> {
        Ok(self
            .meta
            .get(day_key(day))?
            .map(|v| read_u64(&v))
            .unwrap_or(0))
    }

    pub fn units_total(&self) -> Result<u64, StoreError> {
        Ok(self
            .meta
            .get(UNITS_TOTAL)?
            .map(|v| read_u64(&v))
            .unwrap_or(0))
    }

    /// A named tree for other modules' state (feeds, drop folder).
    pub fn tree(&self, name: &str) -> Result<sled::Tree, StoreError> {
        Ok(self.db.open_tree(name)?)
    }
}

/// A skip bucket that does not parse (`buckets::Malformed`); `None` when
/// a write found it and sled's abort does not say which.
pub(super) fn damaged(name: Option<&[u8]>) -> StoreError {
    let source = <serde_json::Error as serde::de::Error>::custom(
        "a bucket of skipped entries does not parse (the database is damaged)",
    );
    StoreError::Corrupt {
        key: match name {
            Some(name) => format!("skips bucket {name:02x?}"),
            None => "a skips bucket".into(),
        },
        source,
    }
}
