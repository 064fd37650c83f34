//! Whether the output volume can take a job's files: `output.dir` exists or
//! can be made, a file can be written and synced there, and it has at least
//! `output.min_free_space` free. Checked at start-up, by `check --offline`,
//! before each submit (a task is paid for: its clips must have somewhere to
//! go) and while a download waits for a full or unwritable volume to clear.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::util::human_size;

/// What is wrong with the output volume; says what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct OutputProblem(pub String);

/// An I/O error that can clear without clipwatch doing anything (space
/// freed, permissions or a read-only mount fixed): worth waiting for.
pub fn can_clear(err: &std::io::Error) -> bool {
    matches!(
        err.raw_os_error(),
        Some(libc::ENOSPC | libc::EDQUOT | libc::EACCES | libc::EPERM | libc::EROFS)
    )
}

/// Free bytes for unprivileged users on the file system holding `path`.
pub fn free_bytes(path: &Path) -> std::io::Result<u64> {
    use std::os::unix::ffi::OsStrExt;
    let c_path = std::ffi::CString::new(path.as_os_str().as_bytes())
        .map_err(|_| std::io::Error::from(std::io::ErrorKind::InvalidInput))?;
    let mut stat: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: a valid NUL-terminated path and a zeroed out-parameter.
    if unsafe { libc::statvfs(c_path.as_ptr(), &mut stat) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok((stat.f_bavail as u64).saturating_mul(stat.f_frsize as u64))
}

/// The daemon's check: make `dir` if missing, write, sync and remove a small
/// probe file, then compare the free space with `min_free`. Blocking; call
/// from `spawn_blocking`.
pub fn probe(dir: &Path, min_free: u64) -> Result<(), OutputProblem> {
    let shown = dir.display();
    std::fs::create_dir_all(dir).map_err(|e| {
        OutputProblem(format!(
            "output.dir {shown} cannot be created: {e}; create it or fix its permissions"
        ))
    })?;
    remove_stale_probes(dir);
    let probe = dir.join(format!(".clipwatch-probe-{}", std::process::id()));
    let written = std::fs::File::create(&probe).and_then(|mut file| {
        file.write_all(b"clipwatch")?;
        file.sync_all()
    });
    let _ = std::fs::remove_file(&probe);
    if let Err(e) = written {
        let hint = match e.raw_os_error() {
            Some(libc::ENOSPC | libc::EDQUOT) => "free some space on it",
            Some(libc::EROFS) => "it is mounted read-only; remount it read-write",
            _ => "fix its permissions for the user clipwatch runs as",
        };
        return Err(OutputProblem(format!(
            "output.dir {shown} cannot be written: {e}; {hint}"
        )));
    }
    enough_space(dir, min_free)
}

/// A probe file left by a process killed between writing and removing it
/// (`kill -9`, a power cut) is removed, so nothing of ours lingers in
/// `output.dir`. Best effort: a file that cannot be removed is left.
fn remove_stale_probes(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        if entry
            .file_name()
            .to_string_lossy()
            .starts_with(".clipwatch-probe-")
        {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// `check --offline`: the same questions without writing anything. A
/// missing `dir` passes when its nearest existing parent is writable.
/// Returns a note on what was found.
pub fn check_offline(dir: &Path, min_free: u64) -> Result<String, OutputProblem> {
    let shown = dir.display();
    let existing = nearest_existing(dir);
    let Some(existing) = existing else {
        return Err(OutputProblem(format!(
            "output.dir {shown}: no part of the path exists"
        )));
    };
    if !existing.is_dir() {
        return Err(OutputProblem(format!(
            "output.dir {shown}: {} is not a folder",
            existing.display()
        )));
    }
    writable(&existing).map_err(|e| {
        let what = if existing == dir {
            format!("output.dir {shown} is not writable")
        } else {
            format!(
                "output.dir {shown} does not exist and cannot be created in {}",
                existing.display()
            )
        };
        OutputProblem(format!("{what}: {e}"))
    })?;
    enough_space(&existing, min_free)?;
    let free = free_bytes(&existing).map(human_size).unwrap_or_default();
    Ok(if existing == dir {
        format!("writable, {free} free")
    } else {
        format!("will be created in {}, {free} free", existing.display())
    })
}

fn enough_space(dir: &Path, min_free: u64) -> Result<(), OutputProblem> {
    let free = free_bytes(dir).map_err(|e| {
        OutputProblem(format!(
            "cannot tell the free space of output.dir {}: {e}",
            dir.display()
        ))
    })?;
    if free < min_free {
        return Err(OutputProblem(format!(
            "output.dir {} has {} free, below output.min_free_space ({}); free some space",
            dir.display(),
            human_size(free),
            human_size(min_free)
        )));
    }
    Ok(())
}

fn nearest_existing(dir: &Path) -> Option<PathBuf> {
    let mut current = Some(dir);
    while let Some(path) = current {
        if path.exists() {
            return Some(path.to_path_buf());
        }
        current = path.parent();
    }
    None
}

/// `access(W_OK | X_OK)`: for root it still reports a read-only mount.
fn writable(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::ffi::OsStrExt;
    let c_path = std::ffi::CString::new(dir.as_os_str().as_bytes())
        .map_err(|_| std::io::Error::from(std::io::ErrorKind::InvalidInput))?;
    // SAFETY: a valid NUL-terminated path.
    if unsafe { libc::access(c_path.as_ptr(), libc::W_OK | libc::X_OK) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// Whether submitting is paused because the output volume cannot take a
/// job's files; shared by the scheduler, `status` and systemd's STATUS.
#[derive(Clone, Default)]
pub struct OutputGate {
    paused: std::sync::Arc<std::sync::Mutex<Option<String>>>,
    /// Set by [`OutputGate::block`] (`once`: a download gave up): kept for
    /// the rest of the run, since a probe of `output.dir` cannot tell that
    /// the job's own folder, or the room a clip needs, is fine again.
    held: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl OutputGate {
    /// The problem submitting is paused for, if any.
    pub fn paused(&self) -> Option<String> {
        self.paused.lock().expect("output gate lock").clone()
    }

    /// Record a problem found while writing (a download that gave up).
    pub fn block(&self, reason: String) {
        self.held.store(true, std::sync::atomic::Ordering::SeqCst);
        self.paused
            .lock()
            .expect("output gate lock")
            .get_or_insert(reason);
    }

    /// Probe `dir` now and record the outcome: one ERROR when submitting
    /// pauses (or the reason changes), one INFO when it resumes. Returns
    /// whether submitting may go on.
    pub async fn check(&self, dir: &Path, min_free: u64) -> bool {
        if self.held.load(std::sync::atomic::Ordering::SeqCst) {
            return false;
        }
        let owned = dir.to_path_buf();
        let probed = tokio::task::spawn_blocking(move || probe(&owned, min_free))
            .await
            .unwrap_or_else(|e| Err(OutputProblem(e.to_string())));
        let mut paused = self.paused.lock().expect("output gate lock");
        match probed {
            Ok(()) => {
                if paused.take().is_some() {
                    tracing::info!(
                        "output.dir {} is usable again: submitting resumes",
                        dir.display()
                    );
                }
                true
            }
            Err(problem) => {
                let reason = problem.0;
                if paused.as_deref() != Some(reason.as_str()) {
                    tracing::error!("submitting paused (nothing is paid for while the clips would have nowhere to go): {reason}");
                    *paused = Some(reason);
                }
                false
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_folder_in_a_writable_parent_passes_and_is_not_created() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("a/b");
        let note = check_offline(&dir, 0).unwrap();
        assert!(note.starts_with("will be created in"), "{note}");
        assert!(!dir.exists());
        probe(&dir, 0).unwrap();
        assert!(dir.is_dir());
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0, "probe removed");
    }

    #[tokio::test]
    async fn a_download_that_gave_up_holds_the_gate_whatever_the_probe_says() {
        let root = tempfile::tempdir().unwrap();
        let gate = OutputGate::default();
        assert!(gate.check(root.path(), 0).await, "a usable folder passes");
        gate.block("clip 1: No space left on device".into());
        // output.dir itself probes fine, but the failed download's folder or
        // size may not: no more submits in this run.
        assert!(!gate.check(root.path(), 0).await);
        assert_eq!(
            gate.paused().as_deref(),
            Some("clip 1: No space left on device")
        );
    }

    #[test]
    fn too_little_free_space_is_a_problem() {
        let root = tempfile::tempdir().unwrap();
        let err = probe(root.path(), u64::MAX).unwrap_err();
        assert!(err.0.contains("below output.min_free_space"), "{err}");
        assert!(check_offline(root.path(), u64::MAX).is_err());
    }

    #[test]
    fn a_file_in_the_way_is_a_problem() {
        let root = tempfile::tempdir().unwrap();
        let file = root.path().join("f");
        std::fs::write(&file, b"x").unwrap();
        assert!(check_offline(&file.join("out"), 0)
            .unwrap_err()
            .0
            .contains("not a folder"));
        assert!(probe(&file.join("out"), 0).is_err());
    }

    #[test]
    fn errors_that_clear_are_recognised() {
        for errno in [libc::ENOSPC, libc::EACCES, libc::EROFS, libc::EDQUOT] {
            assert!(can_clear(&std::io::Error::from_raw_os_error(errno)));
        }
        assert!(!can_clear(&std::io::Error::from_raw_os_error(libc::EISDIR)));
    }
}
