//! End to end: the real daemon against network faults from the fake API
//! (issue 6) — connection resets, replies that hang past `[api] timeout`,
//! slow-drip bodies, malformed JSON on a 200, huge bodies and presigned upload
//! URLs that refuse.
//!
//! Each test proves its fault was hit (the fake records it in
//! `Recorded::fault`), then checks what a careful user expects: the job ends
//! done once the fault heals (or failed with a clear reason when it cannot,
//! as after a submit that may have been processed), no second task unless
//! `on_ambiguous_submit = "resubmit"` chose it, the files are the fake's
//! bytes, no `.part` is left, the daemon keeps running, and no secret shows.

mod support;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::Value;
use support::harness::{
    all_files, assert_no_secrets, base_config, peak_rss, read_json, text, wait_until, Daemon, Env,
};
use support::{Drip, FakeConfig, Misbehave, Target};

const VIDEO: &str = "https://www.youtube.com/watch?v=dQw4w9WgXcQ";
const RESULTS: &str = "/open/v2/clips/results/";

fn quick() -> FakeConfig {
    FakeConfig {
        phase: Duration::from_millis(60),
        ..FakeConfig::default()
    }
}

/// The base config with `[api] timeout` set to `timeout`.
fn env_with_timeout(fake: FakeConfig, timeout: &str) -> Env {
    let timeout = format!("timeout = \"{timeout}\"");
    Env::with_config(fake, |url| {
        base_config(url).replace("timeout = \"5s\"", &timeout)
    })
}

/// Polls `jobs --json` until job 1 is done or failed; returns it.
fn wait_job_end(env: &Env, timeout: Duration) -> Value {
    let deadline = Instant::now() + timeout;
    loop {
        let jobs = env.jobs();
        if let Some(job) = jobs.first() {
            if job["state"] == "done" || job["state"] == "failed" {
                return job.clone();
            }
            assert!(Instant::now() < deadline, "job 1 never ended: {job}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Polls `jobs --json` until job 1 is done or failed after at least
/// `submits` submit attempts.
fn wait_job_end_after(env: &Env, timeout: Duration, submits: u64) -> Value {
    let deadline = Instant::now() + timeout;
    loop {
        let job = env.jobs()[0].clone();
        let ended = job["state"] == "done" || job["state"] == "failed";
        if ended && job["submit_attempts"].as_u64() >= Some(submits) {
            return job;
        }
        assert!(Instant::now() < deadline, "job 1 never ended: {job}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Submits `VIDEO` (to the daemon, when one runs) and checks the reply.
fn submit(env: &Env) -> String {
    let out = env.run(&["submit", VIDEO]);
    assert!(out.status.success(), "{}", text(&out));
    text(&out)
}

/// The three clips of `task` are in the one folder with the fake's bytes,
/// `project.json` is there and no `.part` is left anywhere.
fn assert_clips_of(env: &Env, task: &str) {
    let folder = env.only_folder("inbox");
    for idx in 0..3 {
        let name = format!("0{} Clip {} title.mp4", idx + 1, idx + 1);
        let video = std::fs::read(folder.join(&name)).unwrap();
        assert!(
            video == env.api.clip_bytes(task, idx),
            "{name} is not clip {idx} of {task}"
        );
    }
    let project = read_json(&folder.join("project.json"));
    assert_eq!(project["task"]["id"], task);
    assert_no_part(env.dir.path());
}

fn assert_no_part(root: &Path) {
    let parts: Vec<PathBuf> = all_files(root)
        .into_iter()
        .filter(|f| f.to_string_lossy().ends_with(".part"))
        .collect();
    assert!(parts.is_empty(), "part files left: {parts:?}");
}

/// The methods and paths of the requests that met `fault`.
fn hits(env: &Env, fault: &str) -> Vec<(String, String)> {
    env.api
        .faults(fault)
        .into_iter()
        .map(|r| (r.method, r.path))
        .collect()
}

#[test]
fn connection_resets_on_submit_and_polls_are_retried_with_one_task() {
    // Long enough phases that the test can switch faults before the task ends.
    // A reset after the submit left is ambiguous: with the default policy the
    // job would fail (see a_hung_submit_fails_the_job_saying_a_task_may_exist);
    // this test is about retrying, so it chooses "resubmit".
    let env = Env::with_config(
        FakeConfig {
            phase: Duration::from_millis(400),
            ..FakeConfig::default()
        },
        |url| {
            base_config(url).replace(
                "timeout = \"5s\"",
                "timeout = \"5s\"\non_ambiguous_submit = \"resubmit\"",
            )
        },
    );
    env.api.misbehave(Misbehave {
        reset_api_calls: 1,
        target: Target::Submit,
        ..Misbehave::default()
    });
    let daemon = Daemon::start(&env);
    let mut seen = submit(&env);
    let api = &env.api;
    let switched = wait_until(Duration::from_secs(20), || !api.task_ids().is_empty());
    assert!(switched, "no task: {}", daemon.log());
    api.misbehave(Misbehave {
        reset_api_calls: 2,
        target: Target::Results,
        ..Misbehave::default()
    });
    let job = wait_job_end(&env, Duration::from_secs(40));
    assert_eq!(job["state"], "done", "{job}\n{}", daemon.log());

    let resets = hits(&env, "reset");
    assert_eq!(resets.len(), 3, "{resets:?}");
    assert_eq!(resets[0], ("POST".into(), "/open/v2/clips".into()));
    assert!(resets[1..]
        .iter()
        .all(|(m, p)| m == "GET" && p.starts_with(RESULTS)));
    // A reset submit was never processed: the retry made the only task.
    assert_eq!(env.api.submissions_for(VIDEO), 1);
    assert_eq!(job["submit_attempts"], 2, "both attempts are recorded");
    assert_eq!(job["task_id"], "proj_1");
    assert_clips_of(&env, "proj_1");
    seen += &daemon.stop();
    assert!(
        seen.contains("will retry"),
        "the reset was reported: {seen}"
    );
    assert_no_secrets(&env, &seen);
}

#[test]
fn hung_polls_are_abandoned_at_the_timeout_and_polled_again() {
    let env = env_with_timeout(quick(), "300ms");
    env.api.misbehave(Misbehave {
        hang_api_calls: 2,
        target: Target::Results,
        ..Misbehave::default()
    });
    let daemon = Daemon::start(&env);
    let mut seen = submit(&env);
    let job = wait_job_end(&env, Duration::from_secs(40));
    assert_eq!(job["state"], "done", "{job}\n{}", daemon.log());
    let hangs = hits(&env, "hang");
    assert_eq!(hangs.len(), 2, "{hangs:?}");
    assert!(hangs.iter().all(|(_, p)| p.starts_with(RESULTS)));
    assert_eq!(env.api.submissions_for(VIDEO), 1);
    assert_eq!(job["submit_attempts"], 1);
    assert_clips_of(&env, "proj_1");
    seen += &daemon.stop();
    assert!(
        seen.contains("timed out"),
        "the timeout was reported: {seen}"
    );
    assert_no_secrets(&env, &seen);
}

#[test]
fn a_hung_submit_fails_the_job_saying_a_task_may_exist() {
    // The hung submit created a task before hanging: the reply was lost after
    // the request left, so clipwatch cannot know whether it was processed.
    // By default (on_ambiguous_submit = "fail") it does not submit again: the
    // job fails saying a task may exist, and one task is all that was paid.
    let env = env_with_timeout(quick(), "300ms");
    env.api.misbehave(Misbehave {
        hang_api_calls: 1,
        target: Target::Submit,
        ..Misbehave::default()
    });
    let daemon = Daemon::start(&env);
    let mut seen = submit(&env);
    let job = wait_job_end(&env, Duration::from_secs(40));
    assert_eq!(job["state"], "failed", "{job}\n{}", daemon.log());
    assert_eq!(
        hits(&env, "hang"),
        [("POST".into(), "/open/v2/clips".into())]
    );
    assert_eq!(env.api.submissions_for(VIDEO), 1, "no second paid task");
    assert_eq!(job["submit_attempts"], 1);
    let reason = job["reason"].as_str().unwrap();
    assert!(
        reason.contains("timed out") && reason.contains("a task may exist"),
        "{reason}"
    );
    assert!(reason.contains("WayinVideo library"), "{reason}");
    assert!(reason.contains("clipwatch retry 1"), "{reason}");
    // The user checked the library and wants it clipped: retry submits again.
    let retried = env.run(&["retry", "1"]);
    assert!(retried.status.success(), "{}", text(&retried));
    let job = wait_job_end_after(&env, Duration::from_secs(40), 2);
    assert_eq!(job["state"], "done", "{job}\n{}", daemon.log());
    assert_eq!(env.api.submissions_for(VIDEO), 2);
    assert_eq!(job["task_id"], "proj_2");
    assert_clips_of(&env, "proj_2");
    seen += &text(&env.run(&["show", "1"]));
    seen += &daemon.stop();
    assert_no_secrets(&env, &seen);
}

#[test]
fn a_hung_submit_is_resubmitted_when_the_policy_says_so() {
    // on_ambiguous_submit = "resubmit": the old behaviour, by choice. The
    // hung submit's task and the retry's: both attempts are recorded.
    let env = Env::with_config(quick(), |url| {
        base_config(url).replace(
            "timeout = \"5s\"",
            "timeout = \"300ms\"\non_ambiguous_submit = \"resubmit\"",
        )
    });
    env.api.misbehave(Misbehave {
        hang_api_calls: 1,
        target: Target::Submit,
        ..Misbehave::default()
    });
    let daemon = Daemon::start(&env);
    let mut seen = submit(&env);
    let job = wait_job_end(&env, Duration::from_secs(40));
    assert_eq!(job["state"], "done", "{job}\n{}", daemon.log());
    assert_eq!(
        hits(&env, "hang"),
        [("POST".into(), "/open/v2/clips".into())]
    );
    assert_eq!(
        env.api.submissions_for(VIDEO),
        2,
        "the hung submit's task and the retry's"
    );
    assert_eq!(job["submit_attempts"], 2);
    assert_eq!(job["task_id"], "proj_2", "the task whose id arrived");
    assert_clips_of(&env, "proj_2");
    seen += &daemon.stop();
    assert!(seen.contains("resubmit"), "the log says why: {seen}");
    assert_no_secrets(&env, &seen);
}

#[test]
fn a_results_reply_dripping_past_the_timeout_is_abandoned_until_it_heals() {
    let env = env_with_timeout(quick(), "300ms");
    // ~1.5 kB at 8 bytes per 25 ms: several seconds, far past 300 ms.
    env.api.misbehave(Misbehave {
        drip_api: Some(Drip {
            bytes: 8,
            every: Duration::from_millis(25),
        }),
        target: Target::Results,
        ..Misbehave::default()
    });
    let daemon = Daemon::start(&env);
    let mut seen = submit(&env);
    let api = &env.api;
    let dripped = wait_until(Duration::from_secs(20), || api.faults("drip").len() >= 2);
    assert!(dripped, "{}", daemon.log());
    api.misbehave(Misbehave::default());
    let job = wait_job_end(&env, Duration::from_secs(40));
    assert_eq!(job["state"], "done", "{job}\n{}", daemon.log());
    assert!(hits(&env, "drip")
        .iter()
        .all(|(_, p)| p.starts_with(RESULTS)));
    assert_eq!(env.api.submissions_for(VIDEO), 1);
    assert_clips_of(&env, "proj_1");
    seen += &daemon.stop();
    assert!(
        seen.contains("timed out"),
        "the timeout was reported: {seen}"
    );
    assert_no_secrets(&env, &seen);
}

#[test]
fn slowly_dripping_downloads_that_keep_moving_complete() {
    // 64 KiB at 4 KiB per 40 ms: 640 ms per clip, longer than the 300 ms API
    // timeout, but no gap between bytes is longer than it.
    let env = env_with_timeout(quick(), "300ms");
    env.api.misbehave(Misbehave {
        drip_downloads: Some(Drip {
            bytes: 4 * 1024,
            every: Duration::from_millis(40),
        }),
        ..Misbehave::default()
    });
    let daemon = Daemon::start(&env);
    let mut seen = submit(&env);
    let job = wait_job_end(&env, Duration::from_secs(40));
    assert_eq!(job["state"], "done", "{job}\n{}", daemon.log());
    let dripped = hits(&env, "drip");
    assert_eq!(
        dripped.len(),
        3,
        "each clip once, not restarted: {dripped:?}"
    );
    assert!(dripped.iter().all(|(_, p)| p.starts_with("/files/export/")));
    assert_clips_of(&env, "proj_1");
    seen += &daemon.stop();
    assert_no_secrets(&env, &seen);
}

#[test]
fn malformed_results_are_polled_again() {
    let env = Env::new(quick());
    env.api.misbehave(Misbehave {
        malformed_results: 2,
        ..Misbehave::default()
    });
    let daemon = Daemon::start(&env);
    let mut seen = submit(&env);
    let job = wait_job_end(&env, Duration::from_secs(40));
    assert_eq!(job["state"], "done", "{job}\n{}", daemon.log());
    let malformed = hits(&env, "malformed");
    assert_eq!(malformed.len(), 2);
    assert!(malformed.iter().all(|(_, p)| p.starts_with(RESULTS)));
    assert_eq!(env.api.submissions_for(VIDEO), 1);
    assert_clips_of(&env, "proj_1");
    seen += &daemon.stop();
    assert!(
        seen.contains("not JSON"),
        "the bad reply was reported: {seen}"
    );
    assert_no_secrets(&env, &seen);
}

#[test]
fn a_malformed_submit_reply_fails_the_job_instead_of_paying_again() {
    // Every submit is accepted (the task is created) and answered 200 with
    // cut-off JSON: the id is lost. Each automatic resubmit would pay again.
    let env = Env::new(quick());
    env.api.misbehave(Misbehave {
        malformed_submits: u32::MAX,
        ..Misbehave::default()
    });
    let daemon = Daemon::start(&env);
    let mut seen = submit(&env);
    let job = wait_job_end(&env, Duration::from_secs(40));
    assert_eq!(job["state"], "failed", "{job}\n{}", daemon.log());
    let reason = job["reason"].as_str().unwrap();
    assert!(reason.contains("not JSON"), "{reason}");
    assert!(reason.contains("may exist"), "{reason}");
    assert!(reason.contains("clipwatch retry 1"), "{reason}");
    assert_eq!(hits(&env, "malformed").len(), 1);
    assert_eq!(
        env.api.submissions_for(VIDEO),
        1,
        "paid once, not once per attempt"
    );
    assert_eq!(job["submit_attempts"], 1);
    assert!(all_files(&env.clips()).is_empty(), "nothing written");

    // The API heals; the user decides to submit again.
    env.api.misbehave(Misbehave::default());
    let retried = env.run(&["retry", "1"]);
    assert!(retried.status.success(), "{}", text(&retried));
    seen += &text(&retried);
    let job = wait_job_end(&env, Duration::from_secs(40));
    assert_eq!(job["state"], "done", "{job}\n{}", daemon.log());
    assert_eq!(env.api.submissions_for(VIDEO), 2);
    assert_eq!(job["submit_attempts"], 2);
    assert_eq!(job["task_id"], "proj_2");
    assert_clips_of(&env, "proj_2");
    seen += &daemon.stop();
    assert_no_secrets(&env, &seen);
}

#[test]
fn a_submit_reply_cut_off_after_its_200_fails_the_job_instead_of_paying_again() {
    // The submit is processed (the task exists) and answered 200, but the
    // body drips past the timeout: the status said yes, the id is lost.
    let env = Env::new(quick());
    env.api.misbehave(Misbehave {
        target: Target::Submit,
        drip_api: Some(Drip {
            bytes: 1,
            every: Duration::from_millis(100),
        }),
        ..Misbehave::default()
    });
    let daemon = Daemon::start(&env);
    let mut seen = submit(&env);
    let job = wait_job_end(&env, Duration::from_secs(40));
    assert_eq!(job["state"], "failed", "{job}\n{}", daemon.log());
    let reason = job["reason"].as_str().unwrap();
    assert!(reason.contains("cut off"), "{reason}");
    assert!(reason.contains("may exist"), "{reason}");
    assert_eq!(hits(&env, "drip").len(), 1);
    assert_eq!(env.api.submissions_for(VIDEO), 1, "paid once");
    assert_eq!(job["submit_attempts"], 1);
    seen += &daemon.stop();
    assert_no_secrets(&env, &seen);
}

#[test]
fn a_huge_results_reply_is_cut_off_and_memory_stays_bounded() {
    const HUGE: u64 = 256 * 1024 * 1024;
    const BOUND: u64 = 100 * 1024 * 1024;
    let env = Env::new(quick());
    env.api.misbehave(Misbehave {
        huge_replies: 2,
        huge_bytes: HUGE,
        target: Target::Results,
        ..Misbehave::default()
    });
    let daemon = Daemon::start(&env);
    let mut seen = submit(&env);
    let job = wait_job_end(&env, Duration::from_secs(40));
    let peak = peak_rss(daemon.pid());
    assert_eq!(job["state"], "done", "{job}\n{}", daemon.log());
    let huge = hits(&env, "huge");
    assert_eq!(huge.len(), 2, "both huge replies were served");
    assert!(
        peak < BOUND,
        "the daemon's peak RSS was {} MiB reading {} MiB replies",
        peak / (1024 * 1024),
        HUGE / (1024 * 1024)
    );
    eprintln!("peak RSS {} MiB", peak / (1024 * 1024));
    assert_eq!(env.api.submissions_for(VIDEO), 1);
    assert_clips_of(&env, "proj_1");
    seen += &daemon.stop();
    assert!(
        seen.contains("not read further"),
        "the cut was reported: {seen}"
    );
    assert_no_secrets(&env, &seen);
}

#[test]
fn refused_upload_urls_are_replaced_with_fresh_ones() {
    let env = Env::new(quick());
    env.api.misbehave(Misbehave {
        refuse_uploads: 2,
        ..Misbehave::default()
    });
    let video = env.dir.path().join("My Talk.mp4");
    let bytes: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(&video, &bytes).unwrap();
    let out = env.run(&["-v", "submit", video.to_str().unwrap(), "--wait"]);
    assert!(out.status.success(), "{}", text(&out));
    let refused = hits(&env, "refused-upload");
    assert_eq!(refused.len(), 2, "{refused:?}");
    assert_eq!(
        env.api.count("POST", "/open/v2/upload/single-file"),
        3,
        "one upload URL per refusal, then the one that worked"
    );
    let uploads = env.api.uploads();
    assert_eq!(uploads.len(), 1);
    assert_eq!(uploads[0].2, bytes.len() as u64);
    assert_eq!(env.api.submissions_for(&uploads[0].0), 1);
    let job = &env.jobs()[0];
    assert_eq!(job["state"], "done");
    assert_eq!(job["submit_attempts"], 1);
    let folder = env.only_folder("inbox");
    let video = std::fs::read(folder.join("01 Clip 1 title.mp4")).unwrap();
    assert_eq!(video, env.api.clip_bytes("proj_1", 0));
    assert_no_part(env.dir.path());
    assert!(
        text(&out).contains("asking for a new upload URL"),
        "{}",
        text(&out)
    );
    assert_no_secrets(&env, &text(&out));
}
