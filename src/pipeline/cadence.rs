//! When to poll a running task next. The API has no webhooks, so a task's
//! end is seen only by polling; polling every `poll_interval` spends most
//! requests while nothing can have happened and still sees the end up to a
//! whole interval late. Instead each task's end is predicted from the
//! processing times seen so far ([`Timings`], per preset, kept in the store
//! across restarts): in seconds of processing per second of video when the
//! video's length is known (feed or oEmbed metadata), else in seconds.
//!
//! A task is then polled sparsely before the predicted window, at its
//! middle and at its end, and after it at gaps that double from
//! `poll_floor` up to `poll_interval` ([`Cadence::next_due`]). With nothing
//! to go on (the first tasks of a preset) it is polled every
//! `poll_interval`, as before: `poll_interval` is the ceiling of the gaps
//! wherever the end is not expected.
//!
//! The window comes from the intervals the samples pin each end into: a
//! task was still running at its last ONGOING poll and had ended by its
//! first SUCCEEDED one. For tasks that take the same time (per second of
//! video), the window is about the intersection of those intervals, and it
//! narrows at every task, since a poll at its middle splits it in two.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::time::Instant;

use crate::store::{ProcessingSample, Store};

/// Before the window, at most one poll per this many `poll_interval`s (to
/// see a task that failed early, without a poll every interval).
const SPARSE_INTERVALS: u32 = 10;

/// Quantile of the samples' lower bounds taken as the window's start, and
/// (one minus it) of their upper bounds as its end: a few outliers neither
/// way move the window.
const TRIM: f64 = 0.2;

/// A window narrower than this share of its end is polled once, at its end.
const NARROW: f64 = 0.02;

/// Where a task's end is expected, as offsets from its submit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Window {
    pub start: Duration,
    pub end: Duration,
}

impl Window {
    fn middle(&self) -> Duration {
        self.start + (self.end - self.start) / 2
    }
}

/// The window for a task from `samples`, scaled to `video_s` when both it
/// and samples with a video length are known; `None` with no samples.
pub fn predict(samples: &[ProcessingSample], video_s: Option<f64>) -> Option<Window> {
    let with_length: Vec<&ProcessingSample> =
        samples.iter().filter(|s| s.video_s.is_some()).collect();
    // Per second of video when this task's length and some samples' are
    // known; else in plain seconds.
    let (chosen, scale) = match video_s {
        Some(length) if !with_length.is_empty() => (with_length, Some(length)),
        _ => (samples.iter().collect(), None),
    };
    if chosen.is_empty() {
        return None;
    }
    let per = |s: &ProcessingSample, seconds: f64| match (scale, s.video_s) {
        (Some(_), Some(length)) => seconds / length,
        _ => seconds,
    };
    let uppers: Vec<f64> = chosen.iter().map(|s| per(s, s.ended_by)).collect();
    let lowers: Vec<f64> = chosen
        .iter()
        .filter_map(|s| s.running_at.map(|r| per(s, r)))
        .collect();
    let upper = quantile(uppers, TRIM);
    let lower = if lowers.is_empty() {
        upper / 2.0
    } else {
        quantile(lowers, 1.0 - TRIM)
    };
    // Consistent samples: the end lies between. Conflicting ones (times
    // that vary): between the two, the other way round.
    let (start, end) = if lower <= upper {
        (lower, upper)
    } else {
        (upper, lower)
    };
    let seconds = |x: f64| Duration::from_secs_f64((x * scale.unwrap_or(1.0)).max(0.0));
    Some(Window {
        start: seconds(start),
        end: seconds(end),
    })
}

/// The `q` quantile (0 ≤ q ≤ 1) of `values`, interpolated.
fn quantile(mut values: Vec<f64>, q: f64) -> f64 {
    values.sort_by(f64::total_cmp);
    let at = q * (values.len() - 1) as f64;
    let (below, above) = (at.floor() as usize, at.ceil() as usize);
    values[below] + (values[above] - values[below]) * (at - below as f64)
}

/// The sample a task leaves: when it was last seen running and first seen
/// ended, from its submit.
pub fn sample(
    video_s: Option<u32>,
    running_at: Option<Duration>,
    ended_by: Duration,
) -> ProcessingSample {
    ProcessingSample {
        video_s: video_s.map(f64::from),
        running_at: running_at.map(|d| d.as_secs_f64()),
        ended_by: ended_by.as_secs_f64(),
    }
}

/// The processing times seen so far, per preset; cheap to clone. Read from
/// the store on first use, written back at every new sample.
#[derive(Clone)]
pub struct Timings {
    store: Store,
    presets: Arc<Mutex<HashMap<String, Vec<ProcessingSample>>>>,
}

impl Timings {
    pub fn new(store: Store) -> Timings {
        Timings {
            store,
            presets: Arc::default(),
        }
    }

    /// The window of a task of `preset` for a video of `video_s` seconds.
    pub fn predict(&self, preset: &str, video_s: Option<u32>) -> Option<Window> {
        let mut presets = self.presets.lock().expect("timings lock");
        let samples = self.loaded(&mut presets, preset);
        predict(samples, video_s.map(f64::from))
    }

    /// Keep a task's sample (and store it; a failure only costs precision).
    pub fn record(&self, preset: &str, sample: ProcessingSample) {
        let mut presets = self.presets.lock().expect("timings lock");
        let samples = self.loaded(&mut presets, preset);
        samples.push(sample);
        let excess = samples.len().saturating_sub(crate::store::MAX_SAMPLES);
        samples.drain(..excess);
        if let Err(err) = self.store.set_processing_samples(preset, samples) {
            tracing::debug!("could not store the processing times of preset {preset}: {err}");
        }
    }

    fn loaded<'a>(
        &self,
        presets: &'a mut HashMap<String, Vec<ProcessingSample>>,
        preset: &str,
    ) -> &'a mut Vec<ProcessingSample> {
        presets
            .entry(preset.to_owned())
            .or_insert_with(|| self.store.processing_samples(preset).unwrap_or_default())
    }
}

/// The poll plan of one task: its gaps' floor and ceiling, and how many
/// polls it has made past its window.
#[derive(Debug, Clone, Default)]
pub struct Cadence {
    floor: Duration,
    ceiling: Duration,
    overdue: u32,
    /// The poll planned last is at the window's middle: it only narrows
    /// the window (the one at its end sees the task's end anyway).
    narrows: bool,
}

impl Cadence {
    /// `floor` is cut to `ceiling` if it is longer.
    pub fn new(floor: Duration, ceiling: Duration) -> Cadence {
        let mut cadence = Cadence::default();
        cadence.set_limits(floor, ceiling);
        cadence
    }

    /// New limits (a reload); `floor` is cut to `ceiling`.
    pub fn set_limits(&mut self, floor: Duration, ceiling: Duration) {
        self.floor = floor.min(ceiling);
        self.ceiling = ceiling;
    }

    /// When the poll after the one due at `previous` is due (both offsets
    /// from the submit), given the window predicted now.
    pub fn next_due(&mut self, previous: Duration, window: Option<Window>) -> Duration {
        self.narrows = false;
        let Some(window) = window else {
            return previous + self.ceiling;
        };
        let narrow = window.end - window.start < self.floor.max(window.end.mul_f64(NARROW));
        let targets = if narrow {
            vec![window.end]
        } else {
            vec![window.middle(), window.end]
        };
        let next = match targets.into_iter().find(|t| *t > previous + self.floor / 2) {
            Some(target) => {
                self.overdue = 0;
                let sparse_cap = previous + self.ceiling * SPARSE_INTERVALS;
                self.narrows = !narrow && target == window.middle() && target <= sparse_cap;
                target.min(sparse_cap)
            }
            None => {
                // Past the window: polls close together at first, then
                // further apart, never more than the ceiling.
                let first = ((window.end - window.start) / 2).max(self.floor);
                let gap = first.saturating_mul(1 << self.overdue.min(16));
                self.overdue += 1;
                previous + gap.clamp(self.floor, self.ceiling)
            }
        };
        next.max(previous + self.floor)
    }

    /// Whether the poll planned last only narrows the predicted window (it
    /// is at its middle): worth making only with a token to spare.
    pub fn narrows(&self) -> bool {
        self.narrows
    }

    /// The gap before the `n`th poll (from 1) that checks a SUCCEEDED
    /// clip list has settled: the floor, doubling up to the ceiling.
    pub fn confirm_gap(&self, n: u32) -> Duration {
        self.floor
            .saturating_mul(1 << n.saturating_sub(1).min(16))
            .min(self.ceiling)
    }
}

/// A task's time as offsets from its submit, on tokio's clock (a task
/// resumed after a restart keeps its offsets).
#[derive(Debug, Clone, Copy)]
pub struct TaskClock {
    /// When this clock was made, and how long after the submit that was.
    start: Instant,
    ago: Duration,
}

impl TaskClock {
    pub fn since(submitted_at: Option<DateTime<Utc>>) -> TaskClock {
        let ago = submitted_at
            .and_then(|at| (Utc::now() - at).to_std().ok())
            .unwrap_or_default();
        TaskClock {
            start: Instant::now(),
            ago,
        }
    }

    /// The offset now.
    pub fn now(&self) -> Duration {
        self.ago + self.start.elapsed()
    }

    /// The instant of `offset` (now, if it is past).
    pub fn at(&self, offset: Duration) -> Instant {
        self.start + offset.saturating_sub(self.ago)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(video_s: Option<f64>, running_at: Option<f64>, ended_by: f64) -> ProcessingSample {
        ProcessingSample {
            video_s,
            running_at,
            ended_by,
        }
    }

    fn secs(x: f64) -> Duration {
        Duration::from_secs_f64(x)
    }

    #[test]
    fn nothing_seen_means_no_window() {
        assert_eq!(predict(&[], Some(600.0)), None);
        assert_eq!(predict(&[], None), None);
    }

    #[test]
    fn a_window_is_where_the_samples_pin_the_end() {
        // Seen running at 210 s and ended by 240 s, five times.
        let samples = vec![s(None, Some(210.0), 240.0); 5];
        let w = predict(&samples, None).unwrap();
        assert_eq!((w.start, w.end), (secs(210.0), secs(240.0)));
        // A later task split it: running at 225 s.
        let mut more = samples.clone();
        more.extend(vec![s(None, Some(225.0), 240.0); 5]);
        let w = predict(&more, None).unwrap();
        assert!(w.start >= secs(224.0) && w.end == secs(240.0), "{w:?}");
    }

    #[test]
    fn a_known_length_scales_the_window() {
        // 0.4 s of processing per second of video.
        let samples = vec![
            s(Some(600.0), Some(230.0), 240.0),
            s(Some(300.0), Some(115.0), 120.0),
        ];
        let w = predict(&samples, Some(900.0))
            .map(|w| (w.start, w.end))
            .unwrap();
        assert!(w.0 >= secs(340.0) && w.1 <= secs(360.0), "{w:?}");
        // No length for this one: the seconds the samples took.
        let w = predict(&samples, None).unwrap();
        assert!(w.start >= secs(115.0) && w.end <= secs(240.0), "{w:?}");
    }

    #[test]
    fn conflicting_samples_give_the_span_between_them() {
        let samples = vec![
            s(None, Some(90.0), 100.0),
            s(None, Some(290.0), 300.0),
            s(None, Some(190.0), 200.0),
        ];
        let w = predict(&samples, None).unwrap();
        assert!(w.start < secs(200.0) && w.end > secs(200.0), "{w:?}");
    }

    #[test]
    fn without_a_window_every_ceiling() {
        let mut cadence = Cadence::new(secs(5.0), secs(30.0));
        assert_eq!(cadence.next_due(Duration::ZERO, None), secs(30.0));
        assert_eq!(cadence.next_due(secs(30.0), None), secs(60.0));
    }

    #[test]
    fn sparse_before_then_middle_and_end_then_back_off_to_the_ceiling() {
        let mut cadence = Cadence::new(secs(1.0), secs(30.0));
        let w = Some(Window {
            start: secs(600.0),
            end: secs(640.0),
        });
        let mut due = Duration::ZERO;
        let mut plan = Vec::new();
        for _ in 0..9 {
            due = cadence.next_due(due, w);
            plan.push(due.as_secs_f64());
        }
        assert_eq!(
            plan,
            vec![300.0, 600.0, 620.0, 640.0, 660.0, 690.0, 720.0, 750.0, 780.0]
        );
    }

    #[test]
    fn only_the_poll_at_the_middle_of_a_wide_window_merely_narrows_it() {
        let mut cadence = Cadence::new(secs(1.0), secs(30.0));
        let w = Some(Window {
            start: secs(600.0),
            end: secs(640.0),
        });
        let mut due = Duration::ZERO;
        let mut narrows = Vec::new();
        for _ in 0..5 {
            due = cadence.next_due(due, w);
            narrows.push((due.as_secs_f64(), cadence.narrows()));
        }
        assert_eq!(
            narrows,
            vec![
                (300.0, false),
                (600.0, false),
                (620.0, true),
                (640.0, false),
                (660.0, false)
            ]
        );
        // A narrow window, or none: every poll may see the end.
        let narrow = Some(Window {
            start: secs(239.5),
            end: secs(240.0),
        });
        cadence.next_due(Duration::ZERO, narrow);
        assert!(!cadence.narrows());
        cadence.next_due(Duration::ZERO, None);
        assert!(!cadence.narrows());
    }

    #[test]
    fn a_narrow_window_is_polled_once_at_its_end() {
        let mut cadence = Cadence::new(secs(1.0), secs(30.0));
        let w = Some(Window {
            start: secs(239.5),
            end: secs(240.0),
        });
        assert_eq!(cadence.next_due(Duration::ZERO, w), secs(240.0));
        // Overdue: from the floor, doubling.
        assert_eq!(cadence.next_due(secs(240.0), w), secs(241.0));
        assert_eq!(cadence.next_due(secs(241.0), w), secs(243.0));
    }

    #[test]
    fn never_closer_than_the_floor_and_the_floor_never_above_the_ceiling() {
        let mut cadence = Cadence::new(secs(5.0), secs(30.0));
        let w = Some(Window {
            start: secs(10.0),
            end: secs(12.0),
        });
        assert_eq!(cadence.next_due(secs(11.0), w), secs(16.0));
        let mut tight = Cadence::new(secs(60.0), secs(30.0));
        assert_eq!(tight.next_due(Duration::ZERO, None), secs(30.0));
        assert_eq!(tight.confirm_gap(1), secs(30.0));
    }

    #[test]
    fn confirming_polls_start_at_the_floor_and_double() {
        let cadence = Cadence::new(secs(5.0), secs(30.0));
        let gaps: Vec<u64> = (1..=5).map(|n| cadence.confirm_gap(n).as_secs()).collect();
        assert_eq!(gaps, vec![5, 10, 20, 30, 30]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_resumed_task_keeps_its_offsets() {
        let clock = TaskClock::since(Some(Utc::now() - chrono::Duration::seconds(100)));
        assert!(clock.now() >= secs(100.0) && clock.now() < secs(101.0));
        tokio::time::advance(secs(20.0)).await;
        assert!(clock.now() >= secs(120.0) && clock.now() < secs(121.0));
        // A due offset already past is now, not earlier.
        assert!(clock.at(secs(50.0)) <= Instant::now());
        let ahead = clock.at(clock.now() + secs(30.0)) - Instant::now();
        assert!(ahead > secs(29.9) && ahead <= secs(30.0), "{ahead:?}");
    }

    #[test]
    fn samples_are_trimmed_to_the_newest_and_survive_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let timings = Timings::new(store.clone());
        assert_eq!(timings.predict("default", None), None);
        for _ in 0..40 {
            timings.record("default", sample(None, Some(secs(50.0)), secs(60.0)));
        }
        let again = Timings::new(store);
        let w = again.predict("default", None).unwrap();
        assert_eq!((w.start, w.end), (secs(50.0), secs(60.0)));
        assert_eq!(again.predict("other", None), None);
    }
}
