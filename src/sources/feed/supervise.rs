//! The feed loop: each configured feed checked when due (never more than
//! a bounded number at once), feeds added or removed by a reload picked up,
//! and a check that panicked retried later instead of ending the loop.

use super::*;

/// How long a feed whose check crashed waits before it is checked again.
const AFTER_A_CRASH: Duration = Duration::from_secs(300);

fn configured_now(watcher: &Watcher, name: &str) -> bool {
    watcher.intake.config().feed(name).is_some()
}

/// Run each configured feed's checks when they are due, from one loop: a
/// feed's task exists only while it is being checked (at most
/// [`MAX_CONCURRENT_CHECKS`]). A task per feed held about 5 KB each for the
/// daemon's life (BENCHMARKS.md, "Footprint"). Feeds added to or removed from
/// the configuration are picked up within [`RECONCILE_EVERY`].
pub(super) async fn supervise(watcher: Watcher) {
    let cancel = watcher.intake.cancel.clone();
    // Feeds waiting for their next check, by when; `when` indexes it by name.
    let mut queue: BTreeSet<(Instant, String)> = BTreeSet::new();
    let mut when: HashMap<String, Instant> = HashMap::new();
    // What each queued time was worked out from: a reload that changes a
    // feed's interval or source schedules it again.
    let mut planned_from: HashMap<String, (Duration, String)> = HashMap::new();
    // Feeds being checked now.
    let mut running: HashMap<String, AbortHandle> = HashMap::new();
    let mut names: HashMap<tokio::task::Id, String> = HashMap::new();
    let mut checks: JoinSet<()> = JoinSet::new();
    let mut tick = tokio::time::interval(RECONCILE_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        crate::telemetry::health::beat(crate::telemetry::health::Part::FeedLoop, RECONCILE_EVERY);
        let config = watcher.intake.config();
        let configured: HashSet<&str> = config.feeds.iter().map(|f| f.name.as_str()).collect();
        when.retain(|name, at| {
            let keep = configured.contains(name.as_str());
            if !keep {
                queue.remove(&(*at, name.clone()));
            }
            keep
        });
        running.retain(|name, check| {
            let keep = configured.contains(name.as_str());
            if !keep {
                check.abort();
            }
            keep
        });
        for feed in &config.feeds {
            let basis = (feed.interval, source_label(&feed.source));
            if planned_from.get(&feed.name) != Some(&basis) {
                if let Some(at) = when.remove(&feed.name) {
                    queue.remove(&(at, feed.name.clone()));
                }
            }
            if !when.contains_key(&feed.name) && !running.contains_key(&feed.name) {
                let at = Instant::now() + watcher.due_in(&feed.name);
                queue.insert((at, feed.name.clone()));
                when.insert(feed.name.clone(), at);
                planned_from.insert(feed.name.clone(), basis);
            }
        }
        planned_from.retain(|name, _| configured.contains(name.as_str()));
        let now = Instant::now();
        while running.len() < MAX_CONCURRENT_CHECKS {
            let Some((at, _)) = queue.first() else { break };
            if *at > now {
                break;
            }
            let (_, name) = queue.pop_first().expect("just seen");
            when.remove(&name);
            let check = checks.spawn({
                let watcher = watcher.clone();
                let name = name.clone();
                async move {
                    watcher.check(&name).await;
                }
            });
            names.insert(check.id(), name.clone());
            running.insert(name, check);
        }
        // Wake for the next due feed only when a check could start.
        let next = queue
            .first()
            .map(|(at, _)| *at)
            .filter(|_| running.len() < MAX_CONCURRENT_CHECKS);
        tokio::select! {
            () = cancel.cancelled() => break,
            Some(done) = checks.join_next_with_id() => {
                let (id, panicked) = match done {
                    Ok((id, ())) => (id, false),
                    Err(err) => {
                        if err.is_panic() {
                            tracing::error!("a feed check stopped: {err}");
                        }
                        (err.id(), err.is_panic())
                    }
                };
                let Some(name) = names.remove(&id) else { continue };
                // A feed removed and added again meanwhile has a newer check.
                if running.get(&name).is_some_and(|check| check.id() == id) {
                    running.remove(&name);
                }
                if panicked && configured_now(&watcher, &name) {
                    // Its saved state may still say "due": not at once again.
                    let at = Instant::now() + AFTER_A_CRASH;
                    queue.insert((at, name.clone()));
                    when.insert(name, at);
                }
                // Otherwise scheduled again above, from its saved state.
            }
            _ = tick.tick() => {}
            () = sleep_until_some(next) => {}
        }
    }
    crate::telemetry::health::heartbeats().retire(crate::telemetry::health::Part::FeedLoop);
    // In-flight checks end at their next await; their state stays as saved.
    checks.abort_all();
    while checks.join_next().await.is_some() {}
}

async fn sleep_until_some(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
