//! Protection against other local users and against leaking the key from
//! memory: no core dumps, SIGHUP ignored until the daemon's handler is in
//! place, and a state directory only its owner can write (the control socket
//! lives there: whoever can replace it can answer the CLI in the daemon's
//! name), with database files 0600.

use std::fs;
use std::io;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Make the process not dumpable: no core file, no ptrace by the same user,
/// `/proc/<pid>/mem` and `environ` readable by root only. The API key lives
/// in memory.
pub fn no_core_dumps() {
    #[cfg(target_os = "linux")]
    // SAFETY: prctl(PR_SET_DUMPABLE, 0) only changes a flag of this process.
    unsafe {
        libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0);
    }
    let none = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: setrlimit reads the struct passed by reference.
    unsafe {
        libc::setrlimit(libc::RLIMIT_CORE, &none);
    }
}

/// Ignore SIGHUP until the daemon's own handler replaces this (a reload
/// request that arrives while the configuration is loaded for the first time
/// has nothing to reload).
pub fn ignore_sighup() {
    // SAFETY: setting a signal's disposition to SIG_IGN; no handler runs.
    unsafe {
        libc::signal(libc::SIGHUP, libc::SIG_IGN);
    }
}

/// Let a closed standard output end the process quietly, as `ls | head`
/// does, instead of a panic inside `println!`. Only for commands that print
/// a report and change nothing.
pub fn die_quietly_on_closed_stdout() {
    // SAFETY: restoring SIGPIPE's default disposition; no handler runs.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

/// Why the state directory is refused.
#[derive(Debug, thiserror::Error)]
pub enum StateDirError {
    #[error(
        "state.dir {dir} is writable by other users (mode {mode:04o}): anyone who can write \
         there can replace the control socket and the database. Run: chmod 700 {dir}"
    )]
    Writable { dir: String, mode: u32 },
    #[error(
        "state.dir {dir} belongs to user id {owner}, not to this user ({me}): that user could \
         replace the control socket and the database. Run clipwatch as its owner, or \
         chown it to this user"
    )]
    Owner { dir: String, owner: u32, me: u32 },
    #[error("state.dir {dir} is not a directory")]
    NotDir { dir: String },
    #[error("state.dir {dir}: {source}")]
    Io { dir: String, source: io::Error },
}

/// The effective user id of this process.
pub fn euid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

/// Whether files owned by `uid` may be trusted: our own, or root's (root
/// can do anything to us anyway).
pub fn trusted_owner(uid: u32) -> bool {
    uid == euid() || uid == 0
}

/// Create the state directory 0700, or check an existing one: it must
/// belong to this user (or root) and be writable by nobody else. A directory
/// of ours readable by others is narrowed to 0700.
pub fn secure_state_dir(dir: &Path) -> Result<(), StateDirError> {
    let shown = dir.display().to_string();
    let io_err = |source| StateDirError::Io {
        dir: shown.clone(),
        source,
    };
    if let Err(err) = fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
    {
        if !dir.is_dir() {
            return Err(io_err(err));
        }
    }
    let meta = fs::metadata(dir).map_err(io_err)?;
    if !meta.is_dir() {
        return Err(StateDirError::NotDir { dir: shown });
    }
    if !trusted_owner(meta.uid()) {
        return Err(StateDirError::Owner {
            dir: shown,
            owner: meta.uid(),
            me: euid(),
        });
    }
    let mode = meta.mode() & 0o7777;
    if mode & 0o022 != 0 {
        return Err(StateDirError::Writable { dir: shown, mode });
    }
    if meta.uid() == euid() && mode & 0o077 != 0 {
        fs::set_permissions(dir, fs::Permissions::from_mode(0o700)).map_err(io_err)?;
        tracing::info!(dir = %shown, "state directory narrowed to mode 0700 (was {mode:04o})");
    }
    Ok(())
}

/// Narrow every file the database left in `dir` to 0600 and its folders to
/// 0700 (sled creates them with the umask's modes). Symlinks are left alone.
pub fn tighten_database_files(dir: &Path) {
    let mut stack: Vec<PathBuf> = vec![dir.to_path_buf()];
    while let Some(folder) = stack.pop() {
        let Ok(entries) = fs::read_dir(&folder) else {
            continue;
        };
        for entry in entries.flatten() {
            let Ok(meta) = entry.path().symlink_metadata() else {
                continue;
            };
            let mode = meta.mode() & 0o7777;
            let wanted = if meta.is_dir() {
                stack.push(entry.path());
                mode & 0o700
            } else if meta.is_file() {
                mode & 0o600
            } else {
                continue;
            };
            if wanted != mode && meta.uid() == euid() {
                if let Err(err) =
                    fs::set_permissions(entry.path(), fs::Permissions::from_mode(wanted))
                {
                    tracing::warn!("cannot narrow {}: {err}", entry.path().display());
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_state_dir_is_0700_and_an_open_one_is_refused() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("a/state");
        secure_state_dir(&dir).unwrap();
        assert_eq!(fs::metadata(&dir).unwrap().mode() & 0o777, 0o700);

        fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).unwrap();
        secure_state_dir(&dir).unwrap();
        assert_eq!(fs::metadata(&dir).unwrap().mode() & 0o777, 0o700);

        for open in [0o777, 0o1777, 0o770] {
            fs::set_permissions(&dir, fs::Permissions::from_mode(open)).unwrap();
            let err = secure_state_dir(&dir).unwrap_err();
            assert!(matches!(err, StateDirError::Writable { .. }), "{err}");
            assert!(err.to_string().contains("chmod 700"), "{err}");
        }
    }

    #[test]
    fn database_files_are_narrowed() {
        let root = tempfile::tempdir().unwrap();
        let d = root.path();
        fs::create_dir(d.join("blobs")).unwrap();
        fs::write(d.join("db"), "x").unwrap();
        fs::write(d.join("blobs/1"), "x").unwrap();
        for p in ["db", "blobs/1"] {
            fs::set_permissions(d.join(p), fs::Permissions::from_mode(0o644)).unwrap();
        }
        fs::set_permissions(d.join("blobs"), fs::Permissions::from_mode(0o755)).unwrap();
        tighten_database_files(d);
        assert_eq!(fs::metadata(d.join("db")).unwrap().mode() & 0o777, 0o600);
        assert_eq!(
            fs::metadata(d.join("blobs/1")).unwrap().mode() & 0o777,
            0o600
        );
        assert_eq!(fs::metadata(d.join("blobs")).unwrap().mode() & 0o777, 0o700);
    }
}
