//! The drop folder (SPEC §4): files put into `[drop] dir` become jobs.
//!
//! - [`spawn_watcher`] (the daemon) scans at start-up, then again on every
//!   inotify event (debounced), every `rescan` (network file systems and lost
//!   events), and when a file still settling is due. Setting
//!   `CLIPWATCH_DISABLE_INOTIFY=1` leaves only the rescans (tests, or file
//!   systems where inotify misbehaves).
//! - [`scan_once`] (`clipwatch once`) takes what is there and returns.
//!
//! A scan lists candidate files ([`files`]), waits until each is unchanged
//! for `settle` ([`settle`]), and takes it ([`take`]): links are parsed
//! ([`parse`]) and queued, videos are hashed and queued for upload, and the
//! file moves to `.done/` or `.failed/`. A first-level subfolder names the
//! preset (`inbox/landscape/a/b.txt` → `landscape`). A file that cannot be
//! read is reported once and tried again only when its size or times change.

pub mod files;
pub mod parse;
pub mod settle;
pub mod take;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use notify::event::{AccessKind, AccessMode};
use notify::{EventKind, RecursiveMode, Watcher};
use tokio::sync::Notify;
use tokio::task::JoinHandle;

use self::files::{list, DONE, FAILED};
use self::settle::{Readiness, Settler, Stamp};
use self::take::{take, Ctx, TakeError};
use crate::sources::Intake;

/// Set to `1` to watch by rescanning only.
pub const DISABLE_INOTIFY_ENV: &str = "CLIPWATCH_DISABLE_INOTIFY";
/// Events arrive in bursts (create, modify, close): one scan per burst.
const DEBOUNCE: Duration = Duration::from_millis(50);
/// `once` waits for files still settling at most `settle × 3` plus this.
const ONCE_EXTRA_WAIT: Duration = Duration::from_secs(2);

/// Watch the drop folder until `intake.cancel`; nothing to do without
/// `[drop]`.
pub fn spawn_watcher(intake: &Intake) -> JoinHandle<()> {
    let intake = intake.clone();
    tokio::spawn(async move { watch(intake).await })
}

/// One pass for `clipwatch once`: take every file present. Files last
/// modified at least `settle` ago are taken at once; younger ones are watched
/// until they settle, for a bounded time, else left for the next pass.
pub async fn scan_once(intake: &Intake) {
    let Some(drop) = intake.config().drop.clone() else {
        return;
    };
    let mut scanner = Scanner::new(intake.clone(), drop.settle);
    let give_up = Instant::now() + drop.settle * 3 + ONCE_EXTRA_WAIT;
    while let Some(wait) = scanner.scan(true).await {
        if Instant::now() + wait > give_up {
            tracing::info!(
                "files in the drop folder are still changing; they are left for the next pass"
            );
            break;
        }
        tokio::select! {
            () = intake.cancel.cancelled() => break,
            () = tokio::time::sleep(wait) => {}
        }
    }
}

async fn watch(intake: Intake) {
    let Some(drop) = intake.config().drop.clone() else {
        return;
    };
    let dir = absolute(&drop.dir);
    let _ = std::fs::create_dir_all(&dir); // a failure is reported by the scan
    let changed = Arc::new(Notify::new());
    // Kept alive for as long as the loop runs.
    let _inotify = start_inotify(&dir, changed.clone(), drop.rescan);
    tracing::info!(dir = %dir.display(), settle = ?drop.settle, rescan = ?drop.rescan, "watching the drop folder");
    let mut scanner = Scanner::new(intake.clone(), drop.settle);
    let mut rescan =
        tokio::time::interval_at(tokio::time::Instant::now() + drop.rescan, drop.rescan);
    rescan.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let due = |wait: Option<Duration>| wait.map(|w| tokio::time::Instant::now() + w);
    crate::telemetry::health::beat(crate::telemetry::health::Part::DropWatcher, drop.rescan);
    let mut next = due(scanner.scan(true).await);
    loop {
        crate::telemetry::health::beat(crate::telemetry::health::Part::DropWatcher, drop.rescan);
        let settling = async {
            match next {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            () = intake.cancel.cancelled() => break,
            () = changed.notified() => tokio::time::sleep(DEBOUNCE).await,
            _ = rescan.tick() => {}
            () = settling => {}
        }
        if intake.cancel.is_cancelled() {
            break;
        }
        next = due(scanner.scan(false).await);
    }
    crate::telemetry::health::heartbeats().retire(crate::telemetry::health::Part::DropWatcher);
    tracing::debug!("drop folder watcher stopped");
}

/// inotify on the whole tree, waking `changed` on anything but reads and
/// moves inside `.done`/`.failed`. `None` when disabled or unavailable.
fn start_inotify(
    dir: &Path,
    changed: Arc<Notify>,
    rescan: Duration,
) -> Option<notify::RecommendedWatcher> {
    if std::env::var_os(DISABLE_INOTIFY_ENV).is_some_and(|v| v == "1") {
        tracing::info!("inotify disabled ({DISABLE_INOTIFY_ENV}=1): the drop folder is rescanned every {rescan:?}");
        return None;
    }
    let bins = [dir.join(DONE), dir.join(FAILED)];
    let handler = move |event: notify::Result<notify::Event>| {
        let relevant = match &event {
            Ok(event) => {
                let write = match event.kind {
                    EventKind::Access(AccessKind::Close(AccessMode::Write)) => true,
                    EventKind::Access(_) => false,
                    _ => true,
                };
                let outside_bins = event.paths.is_empty()
                    || event
                        .paths
                        .iter()
                        .any(|p| !bins.iter().any(|bin| p.starts_with(bin)));
                write && outside_bins
            }
            // Overflow and the like: a scan finds whatever was missed.
            Err(_) => true,
        };
        if relevant {
            changed.notify_one();
        }
    };
    let config = notify::Config::default().with_follow_symlinks(false);
    let watcher = notify::RecommendedWatcher::new(handler, config).and_then(|mut watcher| {
        watcher.watch(dir, RecursiveMode::Recursive)?;
        Ok(watcher)
    });
    match watcher {
        Ok(watcher) => Some(watcher),
        Err(err) => {
            tracing::warn!(
                "cannot watch {} with inotify ({err}); relying on the rescan every {rescan:?}",
                dir.display()
            );
            None
        }
    }
}

/// The state kept between scans.
struct Scanner {
    intake: Intake,
    settler: Settler,
    /// Files that failed to be taken, with the stamp they had: not tried
    /// again until it changes (no tight retry loop on an unreadable file).
    blocked: HashMap<PathBuf, Stamp>,
    /// The last problem logged per path, so each is logged once.
    reported: HashMap<PathBuf, String>,
}

impl Scanner {
    fn new(intake: Intake, settle: Duration) -> Scanner {
        Scanner {
            intake,
            settler: Settler::new(settle),
            blocked: HashMap::new(),
            reported: HashMap::new(),
        }
    }

    /// One pass over the folder. Returns when to look again for files still
    /// settling, if any.
    async fn scan(&mut self, trust_age: bool) -> Option<Duration> {
        let config = self.intake.config();
        let drop_config = config.drop.clone()?;
        let drop = absolute(&drop_config.dir);
        if let Err(err) = std::fs::create_dir_all(&drop) {
            self.report(
                &drop,
                format!("cannot create the drop folder {}: {err}", drop.display()),
            );
            return None;
        }
        let listed = {
            let drop = drop.clone();
            tokio::task::spawn_blocking(move || list(&drop)).await
        };
        let Ok((candidates, errors)) = listed else {
            return None;
        };
        let mut present: HashSet<PathBuf> = HashSet::new();
        for (dir, err) in errors {
            self.report(
                &dir,
                format!(
                    "cannot read the folder {}: {err}",
                    files::shown(&dir, &drop)
                ),
            );
            present.insert(dir);
        }
        let ctx = Ctx {
            intake: &self.intake,
            config: config.clone(),
            drop: &drop,
            default_preset: &drop_config.preset,
        };
        let mut next: Option<Duration> = None;
        let mut soonest = |wait: Duration| next = Some(next.map_or(wait, |n| n.min(wait)));
        for candidate in candidates {
            if self.intake.cancel.is_cancelled() {
                break;
            }
            present.insert(candidate.path.clone());
            let shown = candidate.shown(&drop);
            let meta = match std::fs::metadata(&candidate.path) {
                Ok(meta) => meta,
                Err(err) => {
                    report(
                        &mut self.reported,
                        &candidate.path,
                        format!("cannot read {shown}: {err}"),
                    );
                    continue;
                }
            };
            if !meta.is_file() {
                let message = format!("{shown} is not a regular file; left alone");
                report(&mut self.reported, &candidate.path, message);
                continue;
            }
            let stamp = Stamp::of(&meta);
            if self.blocked.get(&candidate.path) == Some(&stamp) {
                continue;
            }
            self.blocked.remove(&candidate.path);
            let age = stamp.age(SystemTime::now());
            match self
                .settler
                .observe(&candidate.path, stamp, age, trust_age, Instant::now())
            {
                Readiness::After(wait) => soonest(wait),
                Readiness::Now => {
                    self.settler.forget(&candidate.path);
                    match take(&ctx, &candidate, stamp).await {
                        Ok(()) => {
                            crate::telemetry::metrics().drop_file(true);
                            self.reported.remove(&candidate.path);
                        }
                        Err(TakeError::Cancelled) => break,
                        Err(err @ TakeError::Changed { .. }) => {
                            tracing::debug!("{err}");
                            soonest(drop_config.settle);
                        }
                        Err(err) => {
                            crate::telemetry::metrics().drop_file(false);
                            self.blocked.insert(candidate.path.clone(), stamp);
                            report(&mut self.reported, &candidate.path, err.to_string());
                        }
                    }
                }
            }
        }
        self.settler.retain(&present);
        self.blocked.retain(|path, _| present.contains(path));
        self.reported
            .retain(|path, _| present.contains(path) || path == &drop);
        next
    }

    fn report(&mut self, path: &Path, message: String) {
        report(&mut self.reported, path, message);
    }
}

/// Log `message` unless it is what was last logged for `path`.
fn report(reported: &mut HashMap<PathBuf, String>, path: &Path, message: String) {
    if reported.get(path) != Some(&message) {
        tracing::warn!("drop folder: {message}");
        reported.insert(path.to_path_buf(), message);
    }
}

fn absolute(dir: &Path) -> PathBuf {
    std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bins_and_partial_files_are_never_candidates() {
        let drop = tempfile::tempdir().unwrap();
        let d = drop.path();
        std::fs::create_dir_all(d.join(".done")).unwrap();
        std::fs::write(d.join(".done/a.txt"), "x").unwrap();
        std::fs::write(d.join("b.mp4.crdownload"), "x").unwrap();
        std::fs::write(d.join("c.txt"), "x").unwrap();
        let (found, _) = list(d);
        let names: Vec<String> = found.iter().map(|c| c.shown(d)).collect();
        assert_eq!(names, ["c.txt"]);
    }
}
