//! The account's limits as explicit objects shared by every API call:
//! [`Budget`] spends the per-minute request budget and pauses on 429s and
//! rejected keys; [`SlotPool`] caps the number of running tasks.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

use crate::util::retry::jitter;

/// First wait after a 429 (the vendor advises starting at 1 s and doubling).
const RATE_BACKOFF_START: Duration = Duration::from_secs(1);
const RATE_BACKOFF_MAX: Duration = Duration::from_secs(120);

/// The shared request budget: at most `per_window` requests in any sliding
/// window, so that a server counting over any 60-second span never sees more
/// than the account allows. Each token comes back one window after it was
/// spent, which also permits a burst after a quiet spell.
#[derive(Clone)]
pub struct Budget {
    inner: Arc<Mutex<BudgetState>>,
}

struct BudgetState {
    per_window: usize,
    window: Duration,
    /// When each of the most recent requests was sent, oldest first.
    sent: VecDeque<Instant>,
    /// No request before this instant (set after a 429).
    hold_until: Option<Instant>,
    consecutive_429: u32,
    /// Set while the key is rejected: only one probe per `auth_retry`.
    auth_paused: bool,
    auth_probe_at: Option<Instant>,
    auth_retry: Duration,
    requests_total: u64,
    rate_limited_total: u64,
    /// Replies that were neither a 429 nor a rejected key.
    answered_total: u64,
    /// Requests other than polls waiting for a token (see [`Use`]).
    others_waiting: usize,
}

/// What a request is for. While a submit or an upload waits for a token,
/// polls wait behind it: the budget's next token goes to the request that
/// fills a freed slot, not to the polls of the tasks still running.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Use {
    /// Asking for a task's results.
    Poll,
    /// Anything else (submit, upload, key check).
    Other,
}

impl Use {
    /// Reads (results) are polls; every other call goes first.
    pub fn of(method: &reqwest::Method) -> Use {
        if method == reqwest::Method::GET {
            Use::Poll
        } else {
            Use::Other
        }
    }
}

/// The window the budget counts over, with a small margin (2 %) that keeps
/// us clear of the server's clock edge.
fn with_margin(window: Duration) -> Duration {
    window + window / 50
}

/// What a caller of [`Budget::acquire`] is allowed to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permit {
    /// An ordinary request.
    Send,
    /// The key is rejected; this request is the one probe that checks it.
    Probe,
}

/// A snapshot for `status` and logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BudgetStats {
    pub requests_total: u64,
    pub rate_limited_total: u64,
    pub auth_paused: bool,
    /// Replies that were neither a 429 nor a rejected key (the key works).
    pub answered_total: u64,
}

impl Budget {
    /// `per_minute` requests per 60 s. `auth_retry` is how often a rejected
    /// key is tried again.
    pub fn per_minute(per_minute: u32, auth_retry: Duration) -> Budget {
        Budget::new(per_minute, Duration::from_secs(60), auth_retry)
    }

    pub fn new(per_window: u32, window: Duration, auth_retry: Duration) -> Budget {
        Budget {
            inner: Arc::new(Mutex::new(BudgetState {
                per_window: per_window.max(1) as usize,
                window: with_margin(window),
                sent: VecDeque::new(),
                hold_until: None,
                consecutive_429: 0,
                auth_paused: false,
                auth_probe_at: None,
                auth_retry,
                requests_total: 0,
                rate_limited_total: 0,
                answered_total: 0,
                others_waiting: 0,
            })),
        }
    }

    /// Wait until a request may be sent, and spend one token for it.
    pub async fn acquire(&self) -> Permit {
        self.acquire_for(Use::Other).await
    }

    /// [`Budget::acquire`] for a request of kind `use_`.
    pub async fn acquire_for(&self, use_: Use) -> Permit {
        let mut waiting: Option<OtherWaiting> = None;
        loop {
            let wait_until = {
                let mut state = self.inner.lock().expect("budget lock");
                match state.try_take(Instant::now(), use_) {
                    Ok(permit) => return permit,
                    Err(until) => {
                        if use_ == Use::Other && waiting.is_none() {
                            state.others_waiting += 1;
                            waiting = Some(OtherWaiting(self.inner.clone()));
                        }
                        until
                    }
                }
            };
            tokio::time::sleep_until(wait_until).await;
        }
    }

    /// A 429 came back: hold every caller for `retry_after` or an
    /// exponentially growing, jittered wait, whichever is longer.
    pub fn rate_limited(&self, retry_after: Option<Duration>) -> Duration {
        let mut state = self.inner.lock().expect("budget lock");
        state.rate_limited_total += 1;
        let exponent = state.consecutive_429.min(16);
        state.consecutive_429 += 1;
        let backoff = RATE_BACKOFF_START
            .saturating_mul(1u32 << exponent)
            .min(RATE_BACKOFF_MAX);
        let wait = jitter(backoff).max(retry_after.unwrap_or_default());
        let until = Instant::now() + wait;
        state.hold_until = Some(state.hold_until.map_or(until, |h| h.max(until)));
        wait
    }

    /// A reply that was not a 429: the backoff starts over.
    pub fn succeeded(&self) -> bool {
        let mut state = self.inner.lock().expect("budget lock");
        state.consecutive_429 = 0;
        state.answered_total += 1;
        let was_paused = state.auth_paused;
        state.auth_paused = false;
        state.auth_probe_at = None;
        was_paused
    }

    /// The key was rejected. Returns true when this starts a pause (so the
    /// caller logs it once).
    pub fn auth_rejected(&self) -> bool {
        let mut state = self.inner.lock().expect("budget lock");
        let starts = !state.auth_paused;
        state.auth_paused = true;
        state.auth_probe_at = Some(Instant::now() + state.auth_retry);
        starts
    }

    /// A new budget and window (reload); tokens already spent still count.
    pub fn set_limit(&self, per_window: u32, window: Duration) {
        let mut state = self.inner.lock().expect("budget lock");
        state.per_window = per_window.max(1) as usize;
        state.window = with_margin(window);
    }

    pub fn stats(&self) -> BudgetStats {
        let state = self.inner.lock().expect("budget lock");
        BudgetStats {
            requests_total: state.requests_total,
            rate_limited_total: state.rate_limited_total,
            auth_paused: state.auth_paused,
            answered_total: state.answered_total,
        }
    }
}

impl BudgetState {
    fn try_take(&mut self, now: Instant, use_: Use) -> Result<Permit, Instant> {
        if let Some(hold) = self.hold_until {
            if now < hold {
                return Err(hold);
            }
            self.hold_until = None;
        }
        let mut permit = Permit::Send;
        if self.auth_paused {
            match self.auth_probe_at {
                Some(at) if now < at => return Err(at),
                _ => {
                    // Let exactly one probe through; the rest wait for its answer.
                    self.auth_probe_at = Some(now + self.auth_retry);
                    permit = Permit::Probe;
                }
            }
        }
        while let Some(&oldest) = self.sent.front() {
            if now.duration_since(oldest) >= self.window {
                self.sent.pop_front();
            } else {
                break;
            }
        }
        let full = self.sent.len() >= self.per_window;
        if full || (use_ == Use::Poll && self.others_waiting > 0) {
            if permit == Permit::Probe {
                self.auth_probe_at = None;
            }
            // A poll behind a waiting submit tries again when the submit
            // has had the next token.
            return Err(match self.sent.front() {
                Some(oldest) if full => *oldest + self.window,
                _ => now + OTHERS_FIRST_RECHECK,
            });
        }
        self.sent.push_back(now);
        self.requests_total += 1;
        Ok(permit)
    }
}

/// How soon a poll held back by a waiting submit looks again when the
/// budget is not full (the submit is held by something else, and takes
/// its token within moments).
const OTHERS_FIRST_RECHECK: Duration = Duration::from_millis(5);

/// Counts a waiting submit (or upload) for as long as it waits.
struct OtherWaiting(Arc<Mutex<BudgetState>>);

impl Drop for OtherWaiting {
    fn drop(&mut self) {
        self.0.lock().expect("budget lock").others_waiting -= 1;
    }
}

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

    const HOUR: Duration = Duration::from_secs(3600);

    #[tokio::test(start_paused = true)]
    async fn never_more_than_the_budget_in_any_window() {
        let budget = Budget::per_minute(15, HOUR);
        let start = Instant::now();
        let mut sent = Vec::new();
        for _ in 0..45 {
            budget.acquire().await;
            sent.push(Instant::now() - start);
        }
        // The first 15 go at once, then each waits for a token to come back.
        assert!(sent[14] < Duration::from_millis(1));
        for i in 15..45 {
            let span = sent[i] - sent[i - 15];
            assert!(span >= Duration::from_secs(60), "request {i}: {span:?}");
        }
        // ... and no slower than needed: three windows plus margins.
        assert!(sent[44] < Duration::from_secs(125), "{:?}", sent[44]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_scaled_window_keeps_the_proportions() {
        // 15 per second: a one-minute budget with time sped up 60 times.
        let budget = Budget::new(15, Duration::from_secs(1), HOUR);
        let start = Instant::now();
        let mut sent = Vec::new();
        for _ in 0..30 {
            budget.acquire().await;
            sent.push(Instant::now() - start);
        }
        assert!(sent[14] < Duration::from_millis(1));
        for i in 15..30 {
            assert!(
                sent[i] - sent[i - 15] >= Duration::from_secs(1),
                "request {i}"
            );
        }
        assert!(sent[29] < Duration::from_millis(1050), "{:?}", sent[29]);
        // A reload to a one-minute window: the next token waits a minute.
        budget.set_limit(15, Duration::from_secs(60));
        let before = Instant::now();
        budget.acquire().await;
        assert!(Instant::now() - before >= Duration::from_secs(58));
    }

    #[tokio::test(start_paused = true)]
    async fn a_waiting_submit_gets_the_next_token_before_the_polls() {
        let budget = Budget::per_minute(15, HOUR);
        let start = Instant::now();
        for _ in 0..15 {
            budget.acquire_for(Use::Poll).await;
        }
        // Both wait for the window; the poll asked first.
        let poll = tokio::spawn({
            let budget = budget.clone();
            async move {
                budget.acquire_for(Use::Poll).await;
                Instant::now()
            }
        });
        tokio::task::yield_now().await;
        let submit = tokio::spawn({
            let budget = budget.clone();
            async move {
                budget.acquire_for(Use::Other).await;
                Instant::now()
            }
        });
        let (poll, submit) = (poll.await.unwrap(), submit.await.unwrap());
        assert!(
            submit - start >= Duration::from_secs(60),
            "{:?}",
            submit - start
        );
        assert!(
            submit - start < Duration::from_secs(62),
            "{:?}",
            submit - start
        );
        assert!(poll > submit, "the poll waited behind the submit");
        // With no submit waiting, polls take tokens as before.
        assert_eq!(budget.inner.lock().unwrap().others_waiting, 0);
    }

    #[tokio::test(start_paused = true)]
    async fn rate_limit_holds_everyone_and_backs_off() {
        let budget = Budget::per_minute(1000, HOUR);
        let first = budget.rate_limited(None);
        let second = budget.rate_limited(None);
        assert!(first >= Duration::from_millis(800) && first <= Duration::from_millis(1200));
        assert!(second >= Duration::from_millis(1600) && second <= Duration::from_millis(2400));
        let start = Instant::now();
        budget.acquire().await;
        assert!(Instant::now() - start >= second.min(first).max(second) - Duration::from_millis(1));
        budget.succeeded();
        let after_success = budget.rate_limited(None);
        assert!(after_success <= Duration::from_millis(1200));
    }

    #[tokio::test(start_paused = true)]
    async fn retry_after_is_honoured() {
        let budget = Budget::per_minute(1000, HOUR);
        let wait = budget.rate_limited(Some(Duration::from_secs(30)));
        assert!(wait >= Duration::from_secs(30));
        let start = Instant::now();
        budget.acquire().await;
        assert!(Instant::now() - start >= Duration::from_secs(30));
    }

    #[tokio::test(start_paused = true)]
    async fn rejected_key_lets_one_probe_through_per_interval() {
        let budget = Budget::per_minute(1000, Duration::from_secs(10));
        assert!(budget.auth_rejected());
        assert!(
            !budget.auth_rejected(),
            "a second rejection does not start a new pause"
        );
        let start = Instant::now();
        assert_eq!(budget.acquire().await, Permit::Probe);
        assert!(Instant::now() - start >= Duration::from_secs(10));
        // While the probe is out, others wait for the next interval.
        let other = tokio::time::timeout(Duration::from_secs(5), budget.acquire()).await;
        assert!(other.is_err());
        assert!(budget.succeeded(), "the pause ends on success");
        assert_eq!(budget.acquire().await, Permit::Send);
        assert!(!budget.stats().auth_paused);
    }

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
