//! Submitting paused for the whole account: the API said the account has no
//! units left, or refused several different videos in a row with the same
//! message (an account-level refusal, whatever its wording). Failing each
//! queued job in turn would burn the queue down; instead new submits stop,
//! the refused job goes back to the queue, and one probe submit goes out
//! per interval. A submit that succeeds, or a configuration reload, ends
//! the pause. Polls and downloads of running tasks go on.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::time::Instant;

use crate::api::ApiError;

/// Identical refusals of different videos in a row that pause submitting.
pub const SAME_REFUSALS_TO_PAUSE: usize = 3;

/// Shared by the scheduler and the workers; cheap to clone.
#[derive(Clone, Default)]
pub struct SubmitPause(Arc<Mutex<PauseState>>);

#[derive(Default)]
struct PauseState {
    paused: Option<Paused>,
    /// The last refusal's signature and the jobs refused with it in a row.
    streak: Option<(String, Vec<String>)>,
}

struct Paused {
    reason: String,
    signature: String,
    since: DateTime<Utc>,
    /// No submit before this instant; then exactly one (the probe).
    next_probe: Instant,
}

/// What a worker does with a refused submit.
#[derive(Debug, PartialEq, Eq)]
pub enum Refusal {
    /// An account-level refusal: submitting is paused and the job goes back
    /// to the queue (it is not the job's fault).
    Requeue,
    /// The job's own problem: fail it.
    Fail,
}

/// What the scheduler may do now.
#[derive(Debug, PartialEq, Eq)]
pub enum MaySubmit {
    Yes,
    /// Paused, and this is the one probe for the interval.
    Probe,
    /// Paused until this instant.
    No(Instant),
}

impl SubmitPause {
    /// Why submitting is paused, and since when (`status`).
    pub fn paused(&self) -> Option<(String, DateTime<Utc>)> {
        let state = self.0.lock().expect("pause lock");
        state.paused.as_ref().map(|p| (p.reason.clone(), p.since))
    }

    /// A submit went through: the account can pay again.
    pub fn submitted(&self) {
        let mut state = self.0.lock().expect("pause lock");
        state.streak = None;
        if let Some(paused) = state.paused.take() {
            tracing::info!(
                "a submit went through: submitting resumes (it was paused: {})",
                paused.reason
            );
        }
    }

    /// A reload: the user may have fixed the account; try again at once.
    pub fn reloaded(&self) {
        let mut state = self.0.lock().expect("pause lock");
        state.streak = None;
        if let Some(paused) = state.paused.take() {
            tracing::info!(
                "configuration reloaded: submitting resumes (it was paused: {})",
                paused.reason
            );
        }
    }

    /// The API refused the submit of job `key` with `err` (an
    /// [`ApiError::Invalid`]). `probe_every` is the pause's probe interval.
    pub fn refused(&self, key: &str, err: &ApiError, probe_every: Duration) -> Refusal {
        let (code, message) = match err {
            ApiError::Invalid { code, message } => (code.clone().unwrap_or_default(), message),
            _ => return Refusal::Fail,
        };
        let signature = format!("{code}|{}", message.to_lowercase());
        let mut state = self.0.lock().expect("pause lock");
        if let Some(paused) = &mut state.paused {
            if paused.signature == signature || out_of_units(message) {
                // The probe met the same refusal: still paused.
                return Refusal::Requeue;
            }
        }
        let reason = if out_of_units(message) {
            Some(format!(
                "the API says the account is out of units ({message}); \
                 top up the WayinVideo account"
            ))
        } else {
            let streak = match state.streak.take() {
                Some((last, mut keys)) if last == signature => {
                    if !keys.iter().any(|k| k == key) {
                        keys.push(key.to_string());
                    }
                    keys
                }
                _ => vec![key.to_string()],
            };
            let count = streak.len();
            state.streak = Some((signature.clone(), streak));
            (count >= SAME_REFUSALS_TO_PAUSE).then(|| {
                format!(
                    "the API refused {count} different videos in a row with the same message \
                     ({message}); this looks like a problem with the account or the \
                     configuration, not with the videos"
                )
            })
        };
        let Some(reason) = reason else {
            return Refusal::Fail;
        };
        tracing::error!(
            "submitting paused: {reason}. Queued jobs wait; one submit is tried every {} \
             (or reload the configuration to try at once); polls and downloads go on",
            humantime::format_duration(probe_every)
        );
        state.paused = Some(Paused {
            reason,
            signature,
            since: Utc::now(),
            next_probe: Instant::now() + probe_every,
        });
        Refusal::Requeue
    }

    /// Whether the scheduler may start a submit now. While paused, one
    /// probe per `probe_every`.
    pub fn may_submit(&self, now: Instant, probe_every: Duration) -> MaySubmit {
        let mut state = self.0.lock().expect("pause lock");
        let Some(paused) = &mut state.paused else {
            return MaySubmit::Yes;
        };
        if now < paused.next_probe {
            return MaySubmit::No(paused.next_probe);
        }
        paused.next_probe = now + probe_every;
        MaySubmit::Probe
    }
}

/// Whether a refusal's message says the account has run out of units. The
/// API documents neither the code nor the message, so this is lenient.
pub fn out_of_units(message: &str) -> bool {
    let message = message.to_lowercase();
    message.contains("http 402")
        || ["units", "credit", "balance", "quota", "insufficient"]
            .iter()
            .any(|word| message.contains(word))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn invalid(message: &str) -> ApiError {
        ApiError::Invalid {
            code: Some("40001".into()),
            message: message.into(),
        }
    }

    #[test]
    fn out_of_units_messages_are_recognised() {
        for m in [
            "HTTP 400: Insufficient API units",
            "not enough credits",
            "balance too low",
            "HTTP 402: Payment Required",
            "quota exceeded",
        ] {
            assert!(out_of_units(m), "{m}");
        }
        assert!(!out_of_units("HTTP 400: video_url is required"));
    }

    #[tokio::test(start_paused = true)]
    async fn no_units_pauses_at_once_and_a_probe_per_interval() {
        let pause = SubmitPause::default();
        let every = Duration::from_secs(60);
        assert_eq!(
            pause.refused("a", &invalid("insufficient units"), every),
            Refusal::Requeue
        );
        assert!(pause.paused().is_some());
        let now = Instant::now();
        assert!(matches!(pause.may_submit(now, every), MaySubmit::No(_)));
        tokio::time::advance(every).await;
        assert_eq!(pause.may_submit(Instant::now(), every), MaySubmit::Probe);
        assert!(matches!(
            pause.may_submit(Instant::now(), every),
            MaySubmit::No(_)
        ));
        assert_eq!(
            pause.refused("a", &invalid("insufficient units"), every),
            Refusal::Requeue
        );
        pause.submitted();
        assert!(pause.paused().is_none());
        assert_eq!(pause.may_submit(Instant::now(), every), MaySubmit::Yes);
    }

    #[test]
    fn the_same_refusal_of_different_videos_pauses_on_the_third() {
        let pause = SubmitPause::default();
        let every = Duration::from_secs(60);
        let same = invalid("HTTP 404: Not Found");
        assert_eq!(pause.refused("a", &same, every), Refusal::Fail);
        // The same video again does not count twice.
        assert_eq!(pause.refused("a", &same, every), Refusal::Fail);
        assert_eq!(pause.refused("b", &same, every), Refusal::Fail);
        assert_eq!(pause.refused("c", &same, every), Refusal::Requeue);
        assert!(pause.paused().is_some());
        pause.reloaded();
        assert!(pause.paused().is_none());
        // A different message breaks the streak.
        let other = invalid("video too long");
        assert_eq!(pause.refused("d", &same, every), Refusal::Fail);
        assert_eq!(pause.refused("e", &other, every), Refusal::Fail);
        assert_eq!(pause.refused("f", &same, every), Refusal::Fail);
    }
}
