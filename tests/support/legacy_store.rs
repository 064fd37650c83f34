//! A database as clipwatch 10705a0 (the release before the compact store)
//! wrote it, made by that release's own code path: every job a JSON record
//! (`serde_json::to_vec`, its `store::encode`) under its canonical key, the
//! number → key tree, a work-list entry per unfinished job and the next job
//! number in `meta`. No `store:format`, no state index.

use std::path::Path;

use chrono::{DateTime, Utc};
use clipwatch::model::{Event, Job, Source};

/// Write `jobs` into `state_dir/db` in the old layout.
pub fn write(state_dir: &Path, jobs: &[Job]) {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(state_dir)
        .unwrap();
    let db = sled::open(state_dir.join("db")).expect("open a new sled db");
    let records = db.open_tree("jobs").unwrap();
    let numbers = db.open_tree("job_numbers").unwrap();
    let active = db.open_tree("active").unwrap();
    let meta = db.open_tree("meta").unwrap();
    for job in jobs {
        let json = serde_json::to_vec(job).unwrap();
        records.insert(job.key.as_bytes(), json).unwrap();
        numbers
            .insert(job.id.to_be_bytes(), job.key.as_bytes())
            .unwrap();
        if !job.state.is_terminal() {
            active.insert(job.key.as_bytes(), &[]).unwrap();
        }
    }
    let next = jobs.iter().map(|j| j.id).max().unwrap_or(0) + 1;
    meta.insert("jobs:next_number", &next.to_be_bytes())
        .unwrap();
    db.flush().unwrap();
}

/// `n` jobs numbered from 1: every 100th failed, every 100th (offset 50)
/// queued, the rest skipped on first sight by feed `news`, as a feed check
/// records them.
pub fn jobs(n: u64, now: DateTime<Utc>) -> Vec<Job> {
    (1..=n)
        .map(|id| {
            let source = Source {
                url: format!("https://www.youtube.com/watch?v=v{id:010}"),
                title: Some(format!("Episode {id}")),
                feed: Some("news".into()),
                published: Some(now),
                origin: "feed".into(),
                link: None,
                duration_s: None,
            };
            let key = format!("youtube:v{id:010}");
            let mut job = Job::new(id, key, source, "default".into(), now);
            let event = match id % 100 {
                0 => Event::Failed {
                    reason: "task failed: video unavailable".into(),
                    will_retry: false,
                },
                50 => return job,
                _ => Event::Skipped {
                    reason: "backfill".into(),
                },
            };
            job.apply(event, now).unwrap();
            job
        })
        .collect()
}
