//! What a feed check keeps: new entries recorded as jobs (queued, held or
//! skipped with the reason), titles looked up for those the feed left
//! untitled, and held entries released once their delay has passed.

use super::*;

impl Watcher {
    /// Act on one decision. Returns 1 if a new job was queued. Skipped
    /// entries wait in `skipped` and are written together (one flush), before
    /// any other decision so that they keep their order. `lookups`: title
    /// lookups this check may still make.
    pub(super) async fn record(
        &self,
        feed: &FeedConfig,
        state: &mut FeedState,
        candidate: Candidate,
        decision: Decision,
        skipped: &mut Vec<(String, Source, String)>,
        lookups: &mut usize,
    ) -> Result<usize, FeedError> {
        let key = candidate.key.key.clone();
        let untitled = candidate.title.is_empty().then(|| candidate.key.clone());
        let mut source = source_of(feed, candidate);
        if let Decision::Skip(reason) = decision {
            skipped.push((key, source, reason));
            return Ok(0);
        }
        self.record_skipped(feed, std::mem::take(skipped)).await?;
        let store_error = |source| FeedError::Store {
            feed: feed.name.clone(),
            source,
        };
        match decision {
            Decision::Queue => {
                // An untitled entry: the video's real title, if it can be found.
                if let Some(video) = untitled.filter(|_| *lookups > 0) {
                    *lookups -= 1;
                    let found = self.title_for(feed, &video).await;
                    source.title = found.title;
                    source.published = source.published.or(found.published);
                    source.duration_s = source.duration_s.or(found.duration_s);
                }
                let queued =
                    crate::sources::enqueue_for_feed(&self.intake, &key, source, &feed.preset)
                        .await
                        .map_err(store_error)?;
                return Ok(usize::from(queued));
            }
            Decision::Skip(_) => unreachable!("recorded above"),
            Decision::Hold { ready_at } => {
                let known = self.intake.store.get(&key).map_err(store_error)?;
                if known.is_none_or(|job| crate::sources::wanted_elsewhere(&job, &feed.name)) {
                    state.held.push(Held {
                        key,
                        source,
                        ready_at,
                    });
                }
            }
        }
        Ok(0)
    }

    /// The real title of an untitled entry this feed queues: looked up for
    /// a new key, and for a key another feed skipped by its own rules
    /// (queued for this one), whose record's title is used if it has one.
    pub(super) async fn title_for(
        &self,
        feed: &FeedConfig,
        video: &crate::model::identity::SourceKey,
    ) -> crate::sources::title::Found {
        let config = self.intake.config();
        match self.intake.store.get(&video.key) {
            Ok(Some(job)) if crate::sources::wanted_elsewhere(&job, &feed.name) => {
                match job.source.title {
                    Some(title) => crate::sources::title::Found {
                        title: Some(title),
                        published: job.source.published,
                        from_oembed: false,
                        duration_s: job.source.duration_s,
                    },
                    None => crate::sources::find_title(&config, video).await,
                }
            }
            _ => crate::sources::look_up_title(&config, &self.intake.store, video).await,
        }
    }

    /// Write the skipped entries gathered so far, with one flush.
    pub(super) async fn record_skipped(
        &self,
        feed: &FeedConfig,
        skipped: Vec<(String, Source, String)>,
    ) -> Result<(), FeedError> {
        crate::sources::record_skipped(&self.intake, skipped, &feed.preset)
            .await
            .map_err(|source| FeedError::Store {
                feed: feed.name.clone(),
                source,
            })
    }

    /// Queue held entries whose delay has passed (also when the feed did
    /// not change).
    pub(super) async fn release_ready(
        &self,
        feed: &FeedConfig,
        state: &mut FeedState,
        now: DateTime<Utc>,
    ) -> Result<usize, FeedError> {
        let (ready, waiting): (Vec<Held>, Vec<Held>) = std::mem::take(&mut state.held)
            .into_iter()
            .partition(|h| h.ready_at.is_some_and(|at| at <= now));
        state.held = waiting;
        let mut new = 0;
        let mut lookups = crate::sources::title::MAX_LOOKUPS_AT_ONCE;
        for mut held in ready {
            // Held untitled: its real title, now that it is queued.
            if held.source.title.is_none() && lookups > 0 {
                if let Ok(mut video) = crate::model::identity::canonical_key(&held.source.url) {
                    video.key = held.key.clone();
                    lookups -= 1;
                    let found = self.title_for(feed, &video).await;
                    held.source.title = found.title;
                    held.source.published = held.source.published.or(found.published);
                    held.source.duration_s = held.source.duration_s.or(found.duration_s);
                }
            }
            let queued = crate::sources::enqueue_for_feed(
                &self.intake,
                &held.key,
                held.source,
                &feed.preset,
            )
            .await
            .map_err(|source| FeedError::Store {
                feed: feed.name.clone(),
                source,
            })?;
            new += usize::from(queued);
        }
        Ok(new)
    }
}

pub(super) fn source_of(feed: &FeedConfig, candidate: Candidate) -> Source {
    let link = Some(candidate.link).filter(|l| *l != candidate.key.submit_url);
    Source {
        link,
        url: candidate.key.submit_url,
        title: Some(candidate.title).filter(|t| !t.is_empty()),
        feed: Some(feed.name.clone()),
        published: candidate.published,
        origin: "feed".into(),
        duration_s: candidate.duration_s,
    }
}
