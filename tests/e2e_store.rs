//! The compact store (issue 19 part 2) seen from the binary: a database
//! written by an earlier release (10705a0: every job JSON; 5e2abd9: compact
//! skips one entry each) is converted on first start,
//! and a conversion killed half way finishes on the next start with every
//! job and skipped key still there.

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::Utc;
use serde_json::Value;
use support::harness::*;
use support::legacy_store;

/// Jobs per state as `jobs --json` lists them.
fn states(env: &Env) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for job in env.jobs() {
        *counts
            .entry(job["state"].as_str().unwrap().to_string())
            .or_default() += 1;
    }
    counts
}

fn expected(n: u64) -> BTreeMap<String, usize> {
    let hundreds = (n / 100) as usize;
    BTreeMap::from([
        ("failed".to_string(), hundreds),
        ("queued".to_string(), hundreds),
        ("skipped".to_string(), n as usize - 2 * hundreds),
    ])
}

/// A copy of `tests/fixtures/store-10705a0/db`, written by that release's
/// binary, lists exactly as that binary listed it.
#[test]
fn the_fixture_written_by_the_10705a0_release_binary_reads_the_same() {
    fixture_reads_the_same("store-10705a0");
}

/// The same for the release with compact skips as one entry each, whose
/// skips move into buckets.
#[test]
fn the_fixture_written_by_the_5e2abd9_release_binary_reads_the_same() {
    fixture_reads_the_same("store-5e2abd9");
}

fn fixture_reads_the_same(name: &str) {
    use std::os::unix::fs::DirBuilderExt;
    let env = Env::new(quick());
    let fixture = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    let db = env.dir.path().join("state/db");
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&db)
        .unwrap();
    for file in all_files(&fixture.join("db")) {
        let to = db.join(file.strip_prefix(fixture.join("db")).unwrap());
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(&file, &to).unwrap();
    }
    // The fixture really is in the old format: this first start converts it.
    let log = env.dir.path().join("first.log");
    let first = env
        .spawn_with_env(&["status"], &log, &[("RUST_LOG", "clipwatch=info")])
        .wait()
        .unwrap();
    assert!(first.success());
    let converted = std::fs::read_to_string(&log).unwrap();
    assert!(
        converted.contains("the database is converted"),
        "{converted}"
    );
    let before: Value = read_json(&fixture.join("jobs.json"));
    let after: Value = env.json(&["jobs", "--json"]);
    assert_eq!(after, before);
    let status: Value = env.json(&["status", "--json"]);
    assert_eq!(status["jobs"]["skipped"], 30);
    assert_eq!(status["jobs"]["queued"], 3);
    let out = env.run_ok(&["submit", "https://www.youtube.com/watch?v=fixture0004"]);
    assert!(out.contains("job 34"), "{out}");
    // A converted skip is found by number and by key, and forgetting it
    // takes it out of the count.
    let shown: Value = env.json(&["show", "7", "--json"]);
    assert_eq!(shown["key"], "url:https://videos.example/rss1/6.mp4");
    assert_eq!(shown["state"], "skipped");
    env.run_ok(&["forget", "url:https://videos.example/rss1/6.mp4"]);
    let status: Value = env.json(&["status", "--json"]);
    assert_eq!(status["jobs"]["skipped"], 29);
    assert_eq!(env.jobs().len(), 33);
}

/// The same through a store of 1 000 jobs made by the old code path
/// (`support::legacy_store`), field by field.
#[test]
fn a_database_of_the_previous_release_is_converted_on_first_start() {
    let env = Env::new(quick());
    let written = legacy_store::jobs(1_000, Utc::now());
    legacy_store::write(&env.dir.path().join("state"), &written);

    let status: Value = env.json(&["status", "--json"]);
    assert_eq!(status["jobs"]["skipped"], 980);
    assert_eq!(status["jobs"]["failed"], 10);
    assert_eq!(status["jobs"]["queued"], 10);
    assert_eq!(states(&env), expected(1_000));

    // Every field of every job reads back as the old release wrote it.
    let listed = env.jobs();
    for job in &written {
        let shown = find_job(&listed, &job.key);
        assert_eq!(shown["id"], job.id, "{}", job.key);
        assert_eq!(shown["state"], job.state.name(), "{}", job.key);
    }
    let shown: Value = env.json(&["show", "123", "--json"]);
    assert_eq!(shown["key"], "youtube:v0000000123");
    assert_eq!(shown["title"], "Episode 123");
    assert_eq!(shown["feed"], "news");
    assert_eq!(shown["url"], "https://www.youtube.com/watch?v=v0000000123");
    assert_eq!(shown["reason"], "backfill");
    assert_eq!(shown["history"][0]["note"], "backfill");
    let failed: Vec<Value> = env.json(&["jobs", "--state", "failed", "--json"]);
    let mut ids: Vec<u64> = failed.iter().map(|j| j["id"].as_u64().unwrap()).collect();
    ids.sort();
    assert_eq!(ids, (1..=10).map(|n| n * 100).collect::<Vec<_>>());

    // The next job continues the old numbering, and a second start
    // converts nothing more.
    let out = env.run_ok(&["submit", "https://www.youtube.com/watch?v=newvideo001"]);
    assert!(out.contains("1001"), "{out}");
    let log = env.dir.path().join("again.log");
    let status = env
        .spawn_with_env(&["status"], &log, &[("RUST_LOG", "clipwatch=info")])
        .wait()
        .unwrap();
    assert!(status.success());
    let again = std::fs::read_to_string(&log).unwrap();
    assert!(!again.contains("converting"), "{again}");
}

#[test]
fn a_conversion_killed_half_way_loses_nothing_and_finishes_on_restart() {
    let env = Env::new(quick());
    let n = 40_000;
    legacy_store::write(
        &env.dir.path().join("state"),
        &legacy_store::jobs(n, Utc::now()),
    );

    let log = env.dir.path().join("first.log");
    let mut first = env.spawn_with_env(&["status"], &log, &[("RUST_LOG", "clipwatch=info")]);
    let progressed = wait_until(Duration::from_secs(60), || {
        std::fs::read_to_string(&log).is_ok_and(|l| l.contains("database conversion"))
    });
    assert!(progressed, "no progress line");
    signal(first.id(), "-KILL");
    first.wait().unwrap();
    let cut = std::fs::read_to_string(&log).unwrap();
    assert!(
        !cut.contains("is converted"),
        "the kill landed after the conversion: {cut}"
    );

    assert_eq!(states(&env), expected(n));
    let mut ids: Vec<u64> = env
        .jobs()
        .iter()
        .map(|j| j["id"].as_u64().unwrap())
        .collect();
    ids.sort();
    assert_eq!(ids, (1..=n).collect::<Vec<_>>(), "every job, once");
    let shown: Value = env.json(&["show", "39999", "--json"]);
    assert_eq!(shown["key"], "youtube:v0000039999");
    assert_eq!(shown["state"], "skipped");
    let failed: Vec<Value> = env.json(&["jobs", "--state", "failed", "--json"]);
    assert_eq!(failed.len(), 400);
    let queued: Vec<Value> = env.json(&["jobs", "--state", "queued", "--json"]);
    assert_eq!(queued.len(), 400);
}
