//! Making writes durable and noticing when they are not: one flush at a
//! time, the first failed write remembered and published
//! ([`Store::failures`]), and a probe the watchdog asks before each ping.

use std::sync::atomic::{AtomicU64, Ordering};

use chrono::Utc;

use super::{Store, StoreError};

impl Store {
    /// Sees the first write error. sled 0.34 poisons itself on an I/O error
    /// (a full volume): every later write fails with the same error even
    /// after space is freed, until the database is opened again. So a
    /// failure here means this process can no longer make progress.
    pub fn failures(&self) -> tokio::sync::watch::Receiver<Option<String>> {
        self.failure.subscribe()
    }

    /// Write and flush a small record: whether the database still takes
    /// writes (the daemon asks before each watchdog ping).
    pub async fn probe_write(&self) -> Result<(), StoreError> {
        let stamp = Utc::now().timestamp_millis().to_be_bytes();
        let written = self.meta.insert("health:probe", &stamp[..]);
        let written = match written {
            Ok(_) => self.flush().await,
            Err(e) => Err(e.into()),
        };
        self.noted(written)
    }

    /// Record the first database error for [`Store::failures`].
    pub(super) fn noted<T>(&self, result: Result<T, StoreError>) -> Result<T, StoreError> {
        if let Err(StoreError::Sled(err)) = &result {
            let message = err.to_string();
            self.failure.send_if_modified(|first| {
                if first.is_none() {
                    *first = Some(message);
                    true
                } else {
                    false
                }
            });
        }
        result
    }

    pub async fn flush(&self) -> Result<(), StoreError> {
        let flushed = self.flush_unchecked().await;
        self.noted(flushed)
    }

    pub(super) async fn flush_unchecked(&self) -> Result<(), StoreError> {
        // Not `flush_async`: in sled 0.34 concurrent `flush_async` calls
        // deadlock (spacejam/sled#1308, fixed only on sled's unreleased main);
        // a feed check of ~1 000 feeds at once hung for good. A blocking
        // flush on tokio's blocking pool cannot starve sled's own threads.
        //
        // One at a time, and a group commit: each flush seals sled's current
        // 512 KiB log buffer and starts a new one. A caller takes a ticket
        // after its write; a flush covers every ticket taken before it
        // started, so a caller that waited behind one that started later is
        // done without flushing again. 10 000 feed checks, 32 at a time, had
        // made 10 000 flushes (BENCHMARKS.md, "Round 2").
        let ticket = self.flushing.requested.fetch_add(1, Ordering::SeqCst) + 1;
        let mut covered = self.flushing.covered.lock().await;
        if *covered >= ticket {
            return Ok(());
        }
        let upto = self.flushing.requested.load(Ordering::SeqCst);
        let db = self.db.clone();
        self.flushing.flushes.fetch_add(1, Ordering::Relaxed);
        tokio::task::spawn_blocking(move || db.flush())
            .await
            .map_err(|e| sled::Error::ReportableBug(format!("flush task: {e}")))??;
        *covered = upto;
        Ok(())
    }
}

/// The group commit's state (see [`Store::flush`]).
#[derive(Default)]
pub(super) struct Flushing {
    /// Tickets handed out: one per call, taken after the caller's write.
    requested: AtomicU64,
    /// Every ticket up to this one is durable. Held while flushing.
    covered: tokio::sync::Mutex<u64>,
    /// Flushes made (for the test).
    flushes: AtomicU64,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Callers that queue behind a flush share the next one: with the
    /// flush held while 64 writers take their tickets, one flush covers
    /// them all.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn callers_waiting_behind_a_flush_share_the_next_one() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let held = store.flushing.covered.lock().await;
        let mut tasks = Vec::new();
        for i in 0..64u32 {
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                store
                    .meta
                    .insert(format!("t{i}"), &i.to_be_bytes())
                    .unwrap();
                store.flush().await.unwrap();
            }));
        }
        while store.flushing.requested.load(Ordering::SeqCst) < 64 {
            tokio::task::yield_now().await;
        }
        drop(held);
        for task in tasks {
            task.await.unwrap();
        }
        assert_eq!(*store.flushing.covered.lock().await, 64);
        assert_eq!(store.flushing.flushes.load(Ordering::SeqCst), 1);
        // Alone, a caller always flushes.
        store.flush().await.unwrap();
        assert_eq!(store.flushing.flushes.load(Ordering::SeqCst), 2);
    }
}
