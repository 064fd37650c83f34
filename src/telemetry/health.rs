//! Liveness of the daemon's long-running loops, for `/healthz`.
//!
//! The scheduler, the feed loop and the drop watcher each [`beat`] once per
//! turn of their loop, saying how long a turn may take at most. A part whose
//! last beat is older than twice that (plus [`SLACK`]) is stuck: its loop is
//! blocked rather than waiting for work. Reading the beats costs a lock and
//! three timestamps: no database, no I/O.

use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

/// Added to every bound: scheduling delays on a loaded machine are not a
/// stuck loop.
pub const SLACK: Duration = Duration::from_secs(10);

/// The loops that report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    Scheduler,
    FeedLoop,
    DropWatcher,
}

impl Part {
    const ALL: [Part; 3] = [Part::Scheduler, Part::FeedLoop, Part::DropWatcher];

    pub fn name(self) -> &'static str {
        match self {
            Part::Scheduler => "scheduler",
            Part::FeedLoop => "feed loop",
            Part::DropWatcher => "drop watcher",
        }
    }
}

/// The last beat of each part, and how long its turn may take.
#[derive(Debug, Default)]
pub struct Heartbeats {
    last: Mutex<[Option<(Instant, Duration)>; 3]>,
}

impl Heartbeats {
    /// `part` turned once; its next turn comes within `turn`.
    pub fn beat(&self, part: Part, turn: Duration) {
        let mut last = self.last.lock().expect("heartbeats lock");
        last[part as usize] = Some((Instant::now(), turn));
    }

    /// `part` stopped on purpose (shutdown, or nothing to watch).
    pub fn retire(&self, part: Part) {
        self.last.lock().expect("heartbeats lock")[part as usize] = None;
    }

    /// The parts that have not beaten within their bound, with how long
    /// ago they last did.
    pub fn stuck(&self) -> Vec<(Part, Duration)> {
        let last = self.last.lock().expect("heartbeats lock");
        let now = Instant::now();
        Part::ALL
            .iter()
            .filter_map(|part| {
                let (at, turn) = last[*part as usize]?;
                let quiet = now.saturating_duration_since(at);
                (quiet > turn * 2 + SLACK).then_some((*part, quiet))
            })
            .collect()
    }
}

/// The process-wide heartbeats.
pub fn heartbeats() -> &'static Heartbeats {
    static HEARTBEATS: std::sync::OnceLock<Heartbeats> = std::sync::OnceLock::new();
    HEARTBEATS.get_or_init(Heartbeats::default)
}

/// `part` turned once; its next turn comes within `turn`.
pub fn beat(part: Part, turn: Duration) {
    heartbeats().beat(part, turn);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_part_is_stuck_once_it_misses_its_bound_and_alive_after_its_next_beat() {
        let beats = Heartbeats::default();
        beats.beat(Part::Scheduler, Duration::from_secs(60));
        beats.beat(Part::FeedLoop, Duration::from_secs(1));
        tokio::time::advance(Duration::from_secs(11)).await;
        assert!(beats.stuck().is_empty(), "within 2 × 1 s + slack");
        tokio::time::advance(Duration::from_secs(2)).await;
        let stuck: Vec<Part> = beats.stuck().into_iter().map(|(p, _)| p).collect();
        assert_eq!(stuck, [Part::FeedLoop]);
        beats.beat(Part::FeedLoop, Duration::from_secs(1));
        assert!(beats.stuck().is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn parts_that_never_started_or_retired_are_not_stuck() {
        let beats = Heartbeats::default();
        beats.beat(Part::DropWatcher, Duration::from_secs(1));
        beats.retire(Part::DropWatcher);
        tokio::time::advance(Duration::from_secs(3600)).await;
        assert!(beats.stuck().is_empty());
    }
}
