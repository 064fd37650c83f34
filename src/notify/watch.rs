//! Account-wide events nobody writes a record for: the API key rejected or
//! accepted again, submitting paused or resumed. The daemon hands in a
//! [`Probe`] that reads the pipeline's in-memory state; this task looks a
//! few times a second and enqueues an event on each change. What was last
//! announced is kept with the outbox, so a restart does not repeat it.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use serde_json::{json, Map, Value};
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::store::{Store, StoreError};

const TICK: Duration = Duration::from_millis(250);

/// What the pipeline knows now.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Conditions {
    /// The API refuses the key (all API work paused).
    pub key_rejected: bool,
    /// API replies that were not a refusal of the key, since start.
    pub answered: u64,
    /// Why submitting is paused for the account, if it is.
    pub submit_paused: Option<String>,
}

/// Reads [`Conditions`] from the running pipeline.
pub type Probe = Arc<dyn Fn() -> Conditions + Send + Sync>;

pub async fn run(store: Store, config: Arc<Config>, probe: Probe, cancel: CancellationToken) {
    let mut tick = tokio::time::interval(TICK);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            () = cancel.cancelled() => return,
        }
        if let Err(err) = look(&store, &config, &probe()).await {
            tracing::warn!("cannot record a notification event: {err}");
        }
    }
}

async fn look(store: &Store, config: &Config, now: &Conditions) -> Result<(), StoreError> {
    let key = store.outbox_flag("key")?;
    if now.key_rejected && key.as_deref() != Some("rejected") {
        let reason =
            "The WayinVideo API refused the API key (check WAYIN_API_KEY or api_key_file).";
        announce(
            store,
            "key",
            "rejected",
            "key_rejected",
            reason_detail(reason),
        )
        .await?;
    } else if !now.key_rejected && now.answered > 0 && key.as_deref() == Some("rejected") {
        announce(store, "key", "accepted", "key_accepted", Map::new()).await?;
    }
    let paused = now
        .submit_paused
        .clone()
        .or(daily_budget_spent(store, config)?);
    let flag = store.outbox_flag("pause")?;
    match paused {
        Some(reason) if flag.as_deref() != Some("paused") => {
            announce(store, "pause", "paused", "paused", reason_detail(&reason)).await?;
        }
        None if flag.as_deref() == Some("paused") => {
            announce(store, "pause", "resumed", "resumed", Map::new()).await?;
        }
        _ => {}
    }
    Ok(())
}

/// Enqueue first, then remember: a crash in between repeats the event
/// rather than losing it.
async fn announce(
    store: &Store,
    flag: &str,
    value: &str,
    event: &str,
    detail: Map<String, Value>,
) -> Result<(), StoreError> {
    store.enqueue_event(event, None, detail).await?;
    store.set_outbox_flag(flag, value)
}

fn reason_detail(reason: &str) -> Map<String, Value> {
    let mut detail = Map::new();
    detail.insert("reason".into(), json!(reason));
    detail
}

fn daily_budget_spent(store: &Store, config: &Config) -> Result<Option<String>, StoreError> {
    let cap = config.api.daily_unit_budget;
    if cap == 0 {
        return Ok(None);
    }
    let used = store.units_on(Utc::now().date_naive())?;
    Ok((used >= cap).then(|| {
        format!(
            "The daily unit budget is reached ({used} of {cap} units today): no new \
             submissions until midnight UTC."
        )
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> Config {
        let dir = tempfile::tempdir().unwrap();
        crate::config::parse("", &dir.path().join("c.toml"), &|_| None).unwrap()
    }

    fn events(store: &Store) -> Vec<String> {
        store
            .outbox_after(0, 100)
            .unwrap()
            .into_iter()
            .map(|e| e.event)
            .collect()
    }

    #[tokio::test]
    async fn each_change_is_announced_once_and_survives_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let config = config();
        let rejected = Conditions {
            key_rejected: true,
            ..Conditions::default()
        };
        let paused = Conditions {
            submit_paused: Some("no units".into()),
            answered: 3,
            ..Conditions::default()
        };
        {
            let store = Store::open(dir.path()).unwrap();
            store.enable_outbox(true);
            look(&store, &config, &Conditions::default()).await.unwrap();
            assert!(events(&store).is_empty(), "nothing changed");
            look(&store, &config, &rejected).await.unwrap();
            look(&store, &config, &rejected).await.unwrap();
            assert_eq!(events(&store), ["key_rejected"]);
        }
        // A restart: nothing answered yet, so the key is not known good.
        let store = Store::open(dir.path()).unwrap();
        store.enable_outbox(true);
        look(&store, &config, &Conditions::default()).await.unwrap();
        assert_eq!(events(&store), ["key_rejected"]);
        look(&store, &config, &paused).await.unwrap();
        look(&store, &config, &paused).await.unwrap();
        look(
            &store,
            &config,
            &Conditions {
                answered: 4,
                ..Conditions::default()
            },
        )
        .await
        .unwrap();
        assert_eq!(
            events(&store),
            ["key_rejected", "key_accepted", "paused", "resumed"]
        );
        let paused_event = &store.outbox_after(0, 100).unwrap()[2];
        assert_eq!(paused_event.detail["reason"], "no units");
    }
}
