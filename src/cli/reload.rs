//! Telling a running daemon that its configuration file changed: the same
//! SIGHUP that `systemctl reload clipwatch` sends. The daemon is found
//! through its control socket: the process serving it (`SO_PEERCRED`) is
//! the daemon, and it must run as this user (or this user is root), as the
//! control socket's own checks demand. The daemon loads the file again and
//! keeps its running configuration if the new one does not validate.

use std::path::Path;

use tokio::net::UnixStream;

/// What became of the reload request.
#[derive(Debug, PartialEq, Eq)]
pub enum Reload {
    /// No daemon answers on the state directory's control socket.
    NoDaemon,
    /// SIGHUP sent to this process id.
    Signalled(i32),
    /// A daemon answers, but it could not be signalled (why).
    Failed(String),
}

impl Reload {
    /// One line for the user, after the file was written.
    pub fn describe(&self) -> String {
        match self {
            Reload::NoDaemon => {
                "no daemon is running with this state directory; `clipwatch run` (or the \
                 service) reads the new configuration when it starts"
                    .to_owned()
            }
            Reload::Signalled(pid) => format!(
                "told the running daemon (pid {pid}) to reload its configuration \
                 (its log says whether it took it; `clipwatch feeds` shows the feeds it watches)"
            ),
            Reload::Failed(why) => format!(
                "the running daemon could not be told to reload ({why}): run \
                 `systemctl reload clipwatch` or send it SIGHUP"
            ),
        }
    }
}

/// Send SIGHUP to the daemon serving `<state_dir>/control.sock`, if any.
pub async fn tell_daemon(state_dir: &Path) -> Reload {
    let path = crate::daemon::control::socket_path(state_dir);
    let Ok(stream) = UnixStream::connect(&path).await else {
        return Reload::NoDaemon;
    };
    let cred = match stream.peer_cred() {
        Ok(cred) => cred,
        Err(err) => return Reload::Failed(format!("{}: {err}", path.display())),
    };
    drop(stream);
    if !crate::daemon::guard::trusted_owner(cred.uid()) {
        return Reload::Failed(format!(
            "{} is served by user id {}, not this user",
            path.display(),
            cred.uid()
        ));
    }
    let Some(pid) = cred.pid().filter(|pid| *pid > 0) else {
        return Reload::Failed(format!("{} names no process", path.display()));
    };
    // SAFETY: kill has no memory preconditions; the pid was read from the
    // socket's peer a moment ago.
    if unsafe { libc::kill(pid, libc::SIGHUP) } == 0 {
        Reload::Signalled(pid)
    } else {
        Reload::Failed(std::io::Error::last_os_error().to_string())
    }
}
