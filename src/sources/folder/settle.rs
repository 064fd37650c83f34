//! When a file is done being written: its size and times must stay the same
//! for `settle`. Pure bookkeeping over observations, so it is tested with
//! made-up instants.

use std::collections::{HashMap, HashSet};
use std::fs::Metadata;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

/// What is compared between observations: size, mtime and ctime (a chmod
/// changes only the ctime, so a file made readable is tried again).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    pub size: u64,
    pub mtime: (i64, i64),
    pub ctime: (i64, i64),
}

impl Stamp {
    pub fn of(meta: &Metadata) -> Stamp {
        Stamp {
            size: meta.len(),
            mtime: (meta.mtime(), meta.mtime_nsec()),
            ctime: (meta.ctime(), meta.ctime_nsec()),
        }
    }

    /// How long ago the file was last modified (zero if in the future).
    pub fn age(&self, now: SystemTime) -> Duration {
        let (secs, nanos) = self.mtime;
        let modified = if secs >= 0 {
            SystemTime::UNIX_EPOCH + Duration::new(secs as u64, nanos.clamp(0, 999_999_999) as u32)
        } else {
            SystemTime::UNIX_EPOCH
        };
        now.duration_since(modified).unwrap_or_default()
    }
}

/// Whether a file may be taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Readiness {
    Now,
    /// Look again after this long.
    After(Duration),
}

#[derive(Debug)]
pub struct Settler {
    settle: Duration,
    seen: HashMap<PathBuf, (Stamp, Instant)>,
}

impl Settler {
    pub fn new(settle: Duration) -> Settler {
        Settler {
            settle,
            seen: HashMap::new(),
        }
    }

    /// Record an observation of `path`. A file is ready once seen unchanged
    /// for `settle`. With `trust_age` (the scan at start-up and `once`), a
    /// file seen for the first time is ready at once if it was last modified
    /// at least `settle` ago.
    pub fn observe(
        &mut self,
        path: &Path,
        stamp: Stamp,
        age: Duration,
        trust_age: bool,
        now: Instant,
    ) -> Readiness {
        let since = match self.seen.get(path) {
            Some((seen, since)) if *seen == stamp => *since,
            previous => {
                let first_sight = previous.is_none();
                self.seen.insert(path.to_path_buf(), (stamp, now));
                if first_sight && trust_age && age >= self.settle {
                    return Readiness::Now;
                }
                now
            }
        };
        let stable = now.saturating_duration_since(since);
        if stable >= self.settle {
            Readiness::Now
        } else {
            Readiness::After(self.settle - stable)
        }
    }

    /// Start over for `path` (it was taken, or changed while being read).
    pub fn forget(&mut self, path: &Path) {
        self.seen.remove(path);
    }

    /// Drop what is known about files no longer present.
    pub fn retain(&mut self, present: &HashSet<PathBuf>) {
        self.seen.retain(|path, _| present.contains(path));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stamp(size: u64, mtime: i64) -> Stamp {
        Stamp {
            size,
            mtime: (mtime, 0),
            ctime: (mtime, 0),
        }
    }

    const SETTLE: Duration = Duration::from_millis(500);

    #[test]
    fn a_file_is_ready_after_settle_unchanged() {
        let mut s = Settler::new(SETTLE);
        let t0 = Instant::now();
        let p = Path::new("a.txt");
        let young = Duration::ZERO;
        assert_eq!(
            s.observe(p, stamp(1, 1), young, false, t0),
            Readiness::After(SETTLE)
        );
        let t1 = t0 + Duration::from_millis(300);
        assert_eq!(
            s.observe(p, stamp(1, 1), young, false, t1),
            Readiness::After(Duration::from_millis(200))
        );
        // Grew: the clock starts again.
        assert_eq!(
            s.observe(p, stamp(2, 2), young, false, t1),
            Readiness::After(SETTLE)
        );
        assert_eq!(
            s.observe(p, stamp(2, 2), young, false, t1 + SETTLE),
            Readiness::Now
        );
    }

    #[test]
    fn old_files_are_taken_at_once_only_when_age_is_trusted() {
        let mut s = Settler::new(SETTLE);
        let now = Instant::now();
        let old = Duration::from_secs(60);
        assert_eq!(
            s.observe(Path::new("a"), stamp(1, 1), old, true, now),
            Readiness::Now
        );
        assert_eq!(
            s.observe(Path::new("b"), stamp(1, 1), old, false, now),
            Readiness::After(SETTLE)
        );
        let young = Duration::from_millis(100);
        assert_eq!(
            s.observe(Path::new("c"), stamp(1, 1), young, true, now),
            Readiness::After(SETTLE)
        );
    }

    #[test]
    fn zero_settle_takes_at_once_and_forgotten_files_start_over() {
        let mut s = Settler::new(Duration::ZERO);
        let now = Instant::now();
        assert_eq!(
            s.observe(Path::new("a"), stamp(1, 1), Duration::ZERO, false, now),
            Readiness::Now
        );
        let mut s = Settler::new(SETTLE);
        s.observe(Path::new("a"), stamp(1, 1), Duration::ZERO, false, now);
        s.retain(&HashSet::new());
        assert!(s.seen.is_empty());
    }

    #[test]
    fn age_from_mtime() {
        let st = stamp(1, 100);
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(160);
        assert_eq!(st.age(now), Duration::from_secs(60));
        assert_eq!(stamp(1, 200).age(now), Duration::ZERO);
    }
}
