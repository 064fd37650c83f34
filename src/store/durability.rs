//! Making writes durable and noticing when they are not: one flush at a
//! time, the first failed write remembered and published
//! ([`Store::failures`]), and a probe the watchdog asks before each ping.

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
        // One at a time: each flush seals sled's current 512 KiB log buffer
        // and starts a new one, so 32 flushes in flight held 32 of them (and
        // 32 blocking threads). Whoever waits here is covered by the next
        // flush, which makes everything written before it durable: a group
        // commit.
        let _one_at_a_time = self.flushing.lock().await;
        let db = self.db.clone();
        tokio::task::spawn_blocking(move || db.flush())
            .await
            .map_err(|e| sled::Error::ReportableBug(format!("flush task: {e}")))??;
        Ok(())
    }
}
