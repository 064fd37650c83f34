//! Retry pacing shared by the API limiter, the pipeline's steps and feed
//! scheduling: exponential backoff with jitter, so that clients that failed
//! together do not retry together.

use std::time::Duration;

/// ±20 % of `base`.
pub fn jitter(base: Duration) -> Duration {
    base.mul_f64(0.8 + fastrand::f64() * 0.4)
}

/// Exponential backoff for attempt `n` (0-based), from `start`, capped, jittered.
pub fn backoff(start: Duration, max: Duration, attempt: u32) -> Duration {
    jitter(start.saturating_mul(1u32 << attempt.min(16)).min(max))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        let (start, max) = (Duration::from_secs(1), Duration::from_secs(60));
        assert!(backoff(start, max, 0) <= Duration::from_millis(1200));
        assert!(backoff(start, max, 3) >= Duration::from_millis(6400));
        assert!(backoff(start, max, 30) <= Duration::from_secs(72));
    }
}
