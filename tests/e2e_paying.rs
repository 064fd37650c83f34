//! End to end: paying twice or for nothing (issue 11 items 4–7 and 13,
//! issue 12 items 4–5). The real binary against the fake API: ambiguous
//! submits, an account out of units, `check` against a wrong base URL, job
//! numbers across restarts, a job missing from the work list.

mod support;

use std::path::PathBuf;
use std::process::Child;
use std::time::{Duration, Instant};

use serde_json::Value;
use support::harness::{assert_no_secrets, base_config, text, wait_until, Env};
use support::{FakeConfig, Misbehave, Target};

const VIDEO: &str = "https://www.youtube.com/watch?v=dQw4w9WgXcQ";

fn quick() -> FakeConfig {
    FakeConfig {
        phase: Duration::from_millis(60),
        ..FakeConfig::default()
    }
}

/// A `clipwatch run` daemon for one test.
struct Daemon {
    child: Child,
    log: PathBuf,
}

impl Daemon {
    fn start(env: &Env) -> Daemon {
        let log = env.dir.path().join("daemon.log");
        let child = env.spawn(&["-v", "run"], &log);
        let socket = env.dir.path().join("state").join("control.sock");
        let up = wait_until(Duration::from_secs(20), || socket.exists());
        let daemon = Daemon { child, log };
        assert!(up, "no control socket: {}", daemon.log());
        daemon
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Asserts the daemon is still up, stops it with SIGTERM and returns its log.
    fn stop(mut self) -> String {
        assert!(
            self.child.try_wait().unwrap().is_none(),
            "the daemon died: {}",
            self.log()
        );
        let status = std::process::Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let exit = self.child.wait().unwrap();
        let log = self.log();
        assert!(exit.success(), "exit after SIGTERM: {exit:?}\n{log}");
        log
    }
}

/// Polls `jobs --json` until the job numbered `id` is done or failed.
fn wait_job_end(env: &Env, id: u64, timeout: Duration) -> Value {
    let deadline = Instant::now() + timeout;
    loop {
        let jobs = env.jobs();
        if let Some(job) = jobs.iter().find(|j| j["id"] == id) {
            if job["state"] == "done" || job["state"] == "failed" {
                return job.clone();
            }
            assert!(Instant::now() < deadline, "job {id} never ended: {job}");
        }
        assert!(Instant::now() < deadline, "no job {id}: {jobs:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

// ---- item 13 and issue 12 item 4: numbering, the work list ----------------

#[test]
fn job_numbers_count_one_two_three_across_restarts() {
    let env = Env::new(quick());
    // Each `submit` without a daemon opens (and closes) the database: sled's
    // generate_id skipped a million numbers at every reopen.
    for n in 1..=3 {
        let url = format!("https://www.youtube.com/watch?v=abcdefghij{n}");
        let out = env.run(&["submit", &url]);
        assert!(out.status.success(), "{}", text(&out));
        assert!(
            text(&out).contains(&format!("job {n} ")),
            "submit {n} named its number: {}",
            text(&out)
        );
    }
    let ids: Vec<u64> = env
        .jobs()
        .iter()
        .map(|j| j["id"].as_u64().unwrap())
        .collect();
    assert_eq!(ids, [1, 2, 3]);
    let shown = env.run(&["show", "3"]);
    assert!(shown.status.success(), "{}", text(&shown));
    assert!(text(&shown).contains("abcdefghij3"), "{}", text(&shown));
}

#[test]
fn a_job_missing_from_the_work_list_is_scheduled_at_start_up() {
    let env = Env::new(quick());
    let out = env.run(&["submit", VIDEO]);
    assert!(out.status.success(), "{}", text(&out));
    // What a failed half-write by an older version left: the record and
    // its number, but no work-list entry.
    {
        let db = sled::open(env.dir.path().join("state").join("db")).unwrap();
        let active = db.open_tree("active").unwrap();
        assert_eq!(active.len(), 1);
        active.clear().unwrap();
        db.flush().unwrap();
    }
    let out = env.run(&["-v", "once"]);
    let log = text(&out);
    assert!(out.status.success(), "{log}");
    let jobs = env.jobs();
    assert_eq!(jobs[0]["state"], "done", "{jobs:?}\n{log}");
    assert!(log.contains("missing from the work list"), "{log}");
    assert_eq!(env.api.submissions_for(VIDEO), 1);
}
