//! The signals clipwatch handles, in one place for `run` and `once`:
//! SIGTERM/SIGINT ask for a graceful stop and a second one exits at once;
//! SIGHUP (daemon only) reloads the configuration.

use tokio::signal::unix::{signal, Signal, SignalKind};
use tokio_util::sync::CancellationToken;

/// SIGTERM and SIGINT: "stop".
pub struct Stop {
    term: Signal,
    interrupt: Signal,
}

impl Stop {
    pub fn install() -> std::io::Result<Stop> {
        Ok(Stop {
            term: signal(SignalKind::terminate())?,
            interrupt: signal(SignalKind::interrupt())?,
        })
    }

    /// The next SIGTERM or SIGINT.
    pub async fn recv(&mut self) {
        tokio::select! {
            _ = self.term.recv() => {}
            _ = self.interrupt.recv() => {}
        }
    }

    /// From now on, the next stop signal ends the process at once with
    /// `code`: every transition is already on disk, so this loses nothing a
    /// crash would not.
    pub fn exit_on_next(mut self, code: i32) {
        tokio::spawn(async move {
            self.recv().await;
            tracing::warn!("second signal: exiting now");
            std::process::exit(code);
        });
    }

    /// The first stop signal cancels `cancel` (graceful), the second exits.
    pub fn cancel_on_first(mut self, cancel: CancellationToken) {
        tokio::spawn(async move {
            self.recv().await;
            tracing::info!("stopping: finishing in-flight requests (signal again to exit at once)");
            cancel.cancel();
            self.exit_on_next(0);
        });
    }
}

/// The daemon's signals, registered before anything else starts.
pub struct Signals {
    pub stop: Stop,
    pub hangup: Signal,
}

impl Signals {
    pub fn install() -> std::io::Result<Signals> {
        Ok(Signals {
            stop: Stop::install()?,
            hangup: signal(SignalKind::hangup())?,
        })
    }
}
