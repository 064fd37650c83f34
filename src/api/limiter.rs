//! The account's limits as explicit objects shared by every API call:
//! [`Budget`] spends the per-minute request budget and pauses on 429s and
//! rejected keys; [`SlotPool`] (in `slots`) caps the number of running tasks.
//!
//! Not every request is as urgent ([`Use`]): a submit fills a freed slot,
//! a poll of a running task may be the one that frees a slot, and a poll
//! confirming a finished task's clips only lets a download start. When
//! tokens are short they go in that order, and a submit about to be made
//! holds a [`Claim`] from the moment its slot is handed out, so that polls
//! cannot take the token between two submits that go one at a time.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

pub use super::slots::{Slot, SlotPool};
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
    /// Wakes waiting requests when a claim or a waiting request ahead of
    /// them goes away without spending a token.
    changed: Arc<Notify>,
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
    /// Requests waiting for a token, by [`Use::rank`].
    waiting: [usize; USES],
    /// Submits announced by a [`Claim`] and not sent yet.
    claims: usize,
    /// Running tasks whose end is still to be seen ([`Unended`]).
    unended: usize,
}

/// How many kinds of [`Use`] there are.
const USES: usize = 3;

/// What a request is for, most urgent first. A request takes a token only
/// if the tokens left cover every more urgent request waiting and every
/// [`Claim`]; the ones that can wait ([`Use::Later`], [`Use::Spare`]) also
/// leave two tokens for every running task whose end is still to be seen
/// ([`Unended`]): the poll that will see it and the submit after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Use {
    /// Anything but a results read (submit, upload, key check): it fills a
    /// freed slot or lets one be filled.
    Other,
    /// Asking for a running task's results: it may see the task end and
    /// free its slot.
    Poll,
    /// A read nothing waits on now, such as the polls that confirm a
    /// finished task's clip list (its slot is already free). After waiting
    /// one window it goes as a [`Use::Poll`], so it is never starved.
    Later,
    /// A read worth making only if a token is spare right now (a poll that
    /// narrows a predicted end): it never waits; with no token spare the
    /// call is not sent.
    Spare,
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

    /// 0 for the most urgent.
    fn rank(self) -> usize {
        match self {
            Use::Other => 0,
            Use::Poll => 1,
            Use::Later | Use::Spare => 2,
        }
    }
}

/// Where a request stands in the budget's queue: its [`Use`], and the
/// [`Claim`] it spends if it is an announced submit.
#[derive(Clone, Copy)]
pub struct Turn<'a> {
    pub use_: Use,
    pub claim: Option<&'a Claim>,
}

impl Turn<'_> {
    /// An unannounced request of `method` ([`Use::of`]).
    pub fn of(method: &reqwest::Method) -> Turn<'static> {
        Turn {
            use_: Use::of(method),
            claim: None,
        }
    }
}

/// A submit that is about to be made (its slot was handed out): until it
/// takes its token, polls leave one free for it. Dropping the claim
/// unspent (the submit did not happen) gives the token back to the polls.
pub struct Claim {
    budget: Budget,
    spent: AtomicBool,
}

impl Claim {
    /// Under the budget's lock: the claimed request took its token.
    fn spend(&self, state: &mut BudgetState) {
        if !self.spent.swap(true, Ordering::SeqCst) {
            state.claims -= 1;
        }
    }
}

impl Drop for Claim {
    fn drop(&mut self) {
        let mut state = self.budget.inner.lock().expect("budget lock");
        if !self.spent.swap(true, Ordering::SeqCst) {
            state.claims -= 1;
            drop(state);
            self.budget.changed.notify_waiters();
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
                waiting: [0; USES],
                claims: 0,
                unended: 0,
            })),
            changed: Arc::new(Notify::new()),
        }
    }

    /// Announce a submit about to be made (see [`Claim`]).
    pub fn claim(&self) -> Claim {
        self.inner.lock().expect("budget lock").claims += 1;
        Claim {
            budget: self.clone(),
            spent: AtomicBool::new(false),
        }
    }

    /// Count a running task whose end is still to be seen (see [`Use`]).
    pub fn unended(&self) -> Unended {
        self.inner.lock().expect("budget lock").unended += 1;
        Unended {
            budget: self.clone(),
        }
    }

    /// Spend a token for a request of kind `use_` if one may go now.
    pub fn try_acquire_for(&self, use_: Use) -> Option<Permit> {
        let mut state = self.inner.lock().expect("budget lock");
        state.try_take(Instant::now(), use_).ok()
    }

    /// Wait until a request may be sent, and spend one token for it.
    pub async fn acquire(&self) -> Permit {
        self.acquire_for(Use::Other).await
    }

    /// [`Budget::acquire`] for a request of kind `use_`.
    pub async fn acquire_for(&self, use_: Use) -> Permit {
        self.acquire_as(use_, None).await
    }

    /// [`Budget::acquire_for`] for the request `claim` announced (the claim
    /// is spent with the token).
    pub async fn acquire_as(&self, use_: Use, claim: Option<&Claim>) -> Permit {
        let asked_at = Instant::now();
        let mut waiting: Option<Waiting> = None;
        loop {
            let changed = self.changed.notified();
            let use_ = self.promoted(use_, asked_at);
            if waiting.as_ref().is_some_and(|w| w.rank != use_.rank()) {
                waiting = None;
            }
            let wait_until = {
                let mut state = self.inner.lock().expect("budget lock");
                match state.try_take(Instant::now(), use_) {
                    Ok(permit) => {
                        if let Some(claim) = claim {
                            claim.spend(&mut state);
                        }
                        return permit;
                    }
                    Err(until) => {
                        // A claimed request is already counted by its claim.
                        let claimed = claim.is_some_and(|c| !c.spent.load(Ordering::SeqCst));
                        if waiting.is_none() && !claimed {
                            state.waiting[use_.rank()] += 1;
                            waiting = Some(Waiting {
                                budget: self.clone(),
                                rank: use_.rank(),
                            });
                        }
                        until
                    }
                }
            };
            tokio::select! {
                () = tokio::time::sleep_until(wait_until) => {}
                () = changed => {}
            }
        }
    }

    /// `use_`, or [`Use::Poll`] for a [`Use::Later`] request asked for a
    /// whole window ago.
    fn promoted(&self, use_: Use, asked_at: Instant) -> Use {
        let window = self.inner.lock().expect("budget lock").window;
        if use_ == Use::Later && asked_at.elapsed() >= window {
            Use::Poll
        } else {
            use_
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
        let ahead = self.ahead_of(use_);
        if self.sent.len() + ahead >= self.per_window {
            if permit == Permit::Probe {
                self.auth_probe_at = None;
            }
            return Err(self.free_at(ahead, now));
        }
        self.sent.push_back(now);
        self.requests_total += 1;
        Ok(permit)
    }

    /// The tokens a request of kind `use_` must leave free: one for every
    /// claim and every more urgent request waiting, and for one that can
    /// wait, two for every running task whose end is to be seen (at most
    /// two thirds of the window).
    fn ahead_of(&self, use_: Use) -> usize {
        let urgent: usize = self.waiting[..use_.rank()].iter().sum();
        match use_ {
            Use::Other => 0,
            Use::Poll => urgent + self.claims,
            Use::Later | Use::Spare => {
                let for_ends = (self.unended * 2).min(self.per_window * 2 / 3);
                urgent + self.claims + for_ends
            }
        }
    }

    /// When `ahead + 1` tokens will be free, as far as the tokens spent
    /// tell (a claim or waiting request that goes away wakes the waiters
    /// sooner).
    fn free_at(&self, ahead: usize, now: Instant) -> Instant {
        // Tokens that must come back: all but `per_window - ahead - 1`.
        let keep = self.per_window.saturating_sub(ahead + 1);
        match self.sent.len().checked_sub(keep + 1) {
            Some(last_to_expire) => self.sent[last_to_expire] + self.window,
            None => now + self.window,
        }
    }
}

/// A running task whose end is still to be seen; dropped when it is seen
/// (or the task is let go).
pub struct Unended {
    budget: Budget,
}

impl Drop for Unended {
    fn drop(&mut self) {
        self.budget.inner.lock().expect("budget lock").unended -= 1;
        self.budget.changed.notify_waiters();
    }
}

/// Counts a waiting request for as long as it waits.
struct Waiting {
    budget: Budget,
    rank: usize,
}

impl Drop for Waiting {
    fn drop(&mut self) {
        self.budget.inner.lock().expect("budget lock").waiting[self.rank] -= 1;
        self.budget.changed.notify_waiters();
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
        // One token a window: whoever gets it, the other waits a window more.
        let budget = Budget::per_minute(1, HOUR);
        let start = Instant::now();
        budget.acquire_for(Use::Poll).await;
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
        assert_eq!(budget.inner.lock().unwrap().waiting, [0; USES]);
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

    /// Whether `acquire` for `use_` is still waiting after `wait`.
    async fn still_waits(budget: &Budget, use_: Use, wait: Duration) -> bool {
        tokio::time::timeout(wait, budget.acquire_for(use_))
            .await
            .is_err()
    }

    #[tokio::test(start_paused = true)]
    async fn a_claim_keeps_a_token_for_its_submit() {
        let budget = Budget::per_minute(3, HOUR);
        let claim = budget.claim();
        budget.acquire_for(Use::Poll).await;
        budget.acquire_for(Use::Poll).await;
        // One token left, and it is claimed: polls wait, the submit goes.
        assert!(still_waits(&budget, Use::Poll, Duration::from_secs(10)).await);
        let start = Instant::now();
        budget.acquire_as(Use::Other, Some(&claim)).await;
        assert_eq!(Instant::now(), start, "the claimed submit did not wait");
        assert_eq!(
            budget.inner.lock().unwrap().claims,
            0,
            "spent with its token"
        );
        drop(claim);
        assert_eq!(budget.inner.lock().unwrap().claims, 0, "spent only once");
    }

    #[tokio::test(start_paused = true)]
    async fn a_claim_dropped_unspent_gives_its_token_back_at_once() {
        let budget = Budget::per_minute(2, HOUR);
        budget.acquire_for(Use::Poll).await;
        let claim = budget.claim();
        let poll = tokio::spawn({
            let budget = budget.clone();
            async move {
                budget.acquire_for(Use::Poll).await;
                Instant::now()
            }
        });
        tokio::time::sleep(Duration::from_secs(5)).await;
        assert!(!poll.is_finished(), "the claimed token is not for polls");
        let dropped_at = Instant::now();
        drop(claim);
        let sent_at = poll.await.unwrap();
        assert!(
            sent_at - dropped_at < Duration::from_millis(10),
            "{:?}",
            sent_at - dropped_at
        );
    }

    #[tokio::test(start_paused = true)]
    async fn requests_that_can_wait_leave_two_tokens_per_running_task() {
        let budget = Budget::per_minute(15, HOUR);
        let running: Vec<Unended> = (0..3).map(|_| budget.unended()).collect();
        for _ in 0..9 {
            budget.acquire_for(Use::Poll).await;
        }
        // 9 spent and 6 kept for three tasks' last polls and next submits.
        assert_eq!(budget.try_acquire_for(Use::Spare), None);
        assert!(still_waits(&budget, Use::Later, Duration::from_secs(10)).await);
        assert!(budget.try_acquire_for(Use::Poll).is_some());
        // Two of them end: four fewer tokens kept.
        let later = tokio::spawn({
            let budget = budget.clone();
            async move { budget.acquire_for(Use::Later).await }
        });
        tokio::task::yield_now().await;
        assert!(!later.is_finished());
        drop(running);
        tokio::time::timeout(Duration::from_millis(10), later)
            .await
            .expect("the waiting request went once the tasks ended")
            .unwrap();
        assert!(budget.try_acquire_for(Use::Spare).is_some());
    }

    #[tokio::test(start_paused = true)]
    async fn at_most_two_thirds_of_the_window_is_kept_for_running_tasks() {
        let budget = Budget::per_minute(15, HOUR);
        let _running: Vec<Unended> = (0..50).map(|_| budget.unended()).collect();
        for _ in 0..4 {
            budget.acquire_for(Use::Poll).await;
        }
        assert!(budget.try_acquire_for(Use::Spare).is_some());
        assert_eq!(budget.try_acquire_for(Use::Spare), None);
    }

    #[tokio::test(start_paused = true)]
    async fn a_request_that_can_wait_goes_as_a_poll_after_a_window() {
        let budget = Budget::per_minute(15, HOUR);
        let asked_at = Instant::now();
        assert_eq!(budget.promoted(Use::Later, asked_at), Use::Later);
        tokio::time::advance(Duration::from_secs(62)).await;
        assert_eq!(budget.promoted(Use::Later, asked_at), Use::Poll);
        assert_eq!(budget.promoted(Use::Spare, asked_at), Use::Spare);
    }

    #[tokio::test(start_paused = true)]
    async fn a_waiting_poll_goes_before_a_request_that_can_wait() {
        let budget = Budget::per_minute(1, HOUR);
        budget.acquire_for(Use::Poll).await;
        // Asked less than a window before the token comes back (else it
        // would go as a poll, having waited long enough).
        tokio::time::advance(Duration::from_secs(30)).await;
        let later = tokio::spawn({
            let budget = budget.clone();
            async move {
                budget.acquire_for(Use::Later).await;
                Instant::now()
            }
        });
        tokio::task::yield_now().await;
        let poll = tokio::spawn({
            let budget = budget.clone();
            async move {
                budget.acquire_for(Use::Poll).await;
                Instant::now()
            }
        });
        let (later, poll) = (later.await.unwrap(), poll.await.unwrap());
        assert!(poll < later, "the poll asked second but went first");
        assert_eq!(budget.inner.lock().unwrap().waiting, [0; USES]);
    }
}
