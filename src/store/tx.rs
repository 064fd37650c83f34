//! Writing a job: one sled transaction over the six trees a job's
//! record, number, state index and work-list entry live in ([`JobTx`]).

use sled::transaction::{ConflictableTransactionError, TransactionError, TransactionalTree};
use sled::Transactional;

use crate::model::Job;

use super::{by_state, encode, record, Store, StoreError, TxRecords};

/// The trees a job's write touches, inside one transaction.
pub(super) struct JobTx<'a> {
    pub records: TxRecords<'a>,
    pub numbers: &'a TransactionalTree,
    pub active: &'a TransactionalTree,
    pub by_state: &'a TransactionalTree,
}

impl Store {
    /// Run `body` as one transaction over the trees of [`JobTx`] (sled may
    /// run it again on a conflict).
    pub(super) fn job_transaction<T>(
        &self,
        body: impl Fn(&JobTx) -> Result<T, ConflictableTransactionError<()>>,
    ) -> Result<T, StoreError> {
        let trees = (
            &self.jobs,
            &self.skips,
            &self.meta,
            &self.job_numbers,
            &self.active,
            &self.by_state,
        );
        trees
            .transaction(|(jobs, skips, meta, numbers, active, by_state)| {
                body(&JobTx {
                    records: TxRecords { jobs, skips, meta },
                    numbers,
                    active,
                    by_state,
                })
            })
            .map_err(tx_error)
    }
}

impl JobTx<'_> {
    /// A job's record, number, state-index and work-list entries.
    pub fn write(&self, job: &Job) -> Result<(), ConflictableTransactionError<()>> {
        let (records, numbers, active, by_state) =
            (&self.records, self.numbers, self.active, self.by_state);
        let record = encode(job);
        let old = records.insert(job.key.as_bytes(), &record)?;
        by_state::reindex(by_state, job.key.as_bytes(), old.as_deref(), Some(&record))?;
        // A compact skip has no number entry: it would be one more sled entry
        // for every key, the bulk of the file (BENCHMARKS.md); `find` scans for
        // the number instead.
        if record::is_compact(&record) {
            numbers.remove(&job.id.to_be_bytes())?;
        } else {
            numbers.insert(&job.id.to_be_bytes(), job.key.as_bytes())?;
        }
        if job.state.is_terminal() {
            active.remove(job.key.as_bytes())?;
        } else {
            active.insert(job.key.as_bytes(), &[])?;
        }
        Ok(())
    }
}

pub(super) fn tx_error(err: TransactionError<()>) -> StoreError {
    match err {
        TransactionError::Storage(e) => StoreError::Sled(e),
        // Only a skip bucket that does not parse aborts (`buckets.rs`).
        TransactionError::Abort(()) => super::reads::damaged(None),
    }
}
