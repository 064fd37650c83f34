//! Slots for running tasks: the account's cap on tasks processing at once,
//! as a semaphore that a reload can resize.

use std::sync::{Arc, Mutex};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Slots for running tasks: one is held from submit until the task ends.
#[derive(Clone)]
pub struct SlotPool {
    semaphore: Arc<Semaphore>,
    size: Arc<Mutex<usize>>,
}

/// A held slot; dropping it frees the slot.
pub type Slot = OwnedSemaphorePermit;

impl SlotPool {
    pub fn new(size: u32) -> SlotPool {
        let size = size.max(1) as usize;
        SlotPool {
            semaphore: Arc::new(Semaphore::new(size)),
            size: Arc::new(Mutex::new(size)),
        }
    }

    /// Grow or shrink the pool (reload). Shrinking takes effect as running
    /// tasks end: slots in use are never revoked.
    pub fn resize(&self, new_size: u32) {
        let new_size = new_size.max(1) as usize;
        let mut size = self.size.lock().expect("slot lock");
        if new_size > *size {
            self.semaphore.add_permits(new_size - *size);
        } else {
            let mut to_remove = *size - new_size;
            while to_remove > 0 {
                let removed = self.semaphore.forget_permits(to_remove);
                if removed == 0 {
                    // Retire the rest as they come back.
                    let semaphore = self.semaphore.clone();
                    let remaining = to_remove as u32;
                    tokio::spawn(async move {
                        if let Ok(permits) = semaphore.acquire_many(remaining).await {
                            permits.forget();
                        }
                    });
                    break;
                }
                to_remove -= removed;
            }
        }
        *size = new_size;
    }

    pub async fn acquire(&self) -> Slot {
        self.semaphore
            .clone()
            .acquire_owned()
            .await
            .expect("slot pool is never closed")
    }

    pub fn try_acquire(&self) -> Option<Slot> {
        self.semaphore.clone().try_acquire_owned().ok()
    }

    pub fn in_use(&self) -> usize {
        self.size()
            .saturating_sub(self.semaphore.available_permits())
    }

    pub fn size(&self) -> usize {
        *self.size.lock().expect("slot lock")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn slots_are_bounded_and_released() {
        let pool = SlotPool::new(2);
        let a = pool.acquire().await;
        let _b = pool.acquire().await;
        assert!(pool.try_acquire().is_none());
        assert_eq!(pool.in_use(), 2);
        drop(a);
        assert!(pool.try_acquire().is_some());
    }

    #[tokio::test]
    async fn slots_resize_without_revoking_held_ones() {
        let pool = SlotPool::new(2);
        let a = pool.acquire().await;
        let b = pool.acquire().await;
        pool.resize(1);
        drop(a);
        tokio::task::yield_now().await;
        assert!(
            pool.try_acquire().is_none(),
            "one still held, the pool is now 1"
        );
        drop(b);
        assert!(pool.try_acquire().is_some());
        pool.resize(3);
        assert_eq!(pool.size(), 3);
        let _x = pool.acquire().await;
        let _y = pool.acquire().await;
        let _z = pool.acquire().await;
        assert!(pool.try_acquire().is_none());
    }
}
