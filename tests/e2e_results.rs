//! End to end: what a paid task hands back, and what becomes of it (issue 11,
//! "paid results lost", and the odd clip lists of items 12, 14–16): clip
//! lists that fill in after SUCCEEDED, results that vanish mid-download,
//! `retry` through a running daemon, odd `idx` values, the API's clip order,
//! two videos with one title, and local files' sidecars.

mod support;

use std::path::Path;
use std::time::Duration;

use serde_json::{json, Value};
use support::harness::{
    all_files, assert_clip_videos, assert_no_secrets, base_config, file_names, quick, read_json,
    text, wait_until, with_api, Daemon, Env, Notify, VIDEO,
};
use support::{Drip, FakeConfig, Misbehave};

const FIRST: &str = "youtube:dQw4w9WgXcQ";
const SECOND: &str = "youtube:aaaaaaaaaaa";

/// `clipwatch once` as a daemon would run, waited for (at most `limit`):
/// its exit status and log.
fn once_within(env: &Env, limit: Duration) -> (std::process::ExitStatus, String) {
    let mut once = Daemon::spawn(env, &["once"]);
    let exited = wait_until(limit, || !once.is_running());
    assert!(
        exited,
        "clipwatch did not exit within {limit:?}\n{}",
        once.log()
    );
    (once.child.wait().unwrap(), once.log())
}

/// Every clip of `task` is in `folder` under its rank, with the fake's bytes.
fn assert_all_clips(env: &Env, folder: &Path, task: &str, clips: usize) {
    assert_clip_videos(env, folder, task, 0..clips);
    let project = read_json(&folder.join("project.json"));
    assert_eq!(project["clips"].as_array().unwrap().len(), clips);
}

// ---- item 1: SUCCEEDED before the clip list is whole ----------------------

#[test]
fn clips_listed_after_succeeded_are_waited_for_and_all_delivered() {
    // Two polls with no clips, one with the first two of three, then all.
    // (A list is taken once it is the same at two polls in a row, so a
    // partial list that stays put that long would be taken: the rule.)
    let env = Env::new(quick());
    env.api.misbehave(Misbehave {
        empty_clips_polls: 2,
        partial_clips_polls: 1,
        ..Misbehave::default()
    });
    let out = env.run_ok(&["submit", VIDEO, "--wait"]);
    assert_eq!(
        env.api.faults("empty-clips").len(),
        2,
        "empty lists were met"
    );
    assert_eq!(
        env.api.faults("partial-clips").len(),
        1,
        "a partial one too"
    );
    let folder = env.only_folder("inbox");
    let task = &env.api.task_ids()[0];
    assert_all_clips(&env, &folder, task, 3);
    assert_eq!(env.jobs()[0]["state"], "done");
    assert_eq!(env.api.submissions_for(VIDEO), 1);
    assert_no_secrets(&env, &out);
}

#[test]
fn a_task_that_succeeds_with_no_clips_fails_and_retry_polls_again_without_paying() {
    let env = Env::with_config(quick(), |url| with_api(url, "results_wait = \"400ms\""));
    env.api.misbehave(Misbehave {
        empty_clips_polls: u32::MAX,
        ..Misbehave::default()
    });
    env.run_code(&["submit", VIDEO, "--wait"], 1);
    let job = &env.jobs()[0];
    assert_eq!(job["state"], "failed", "{job}");
    let reason = job["reason"].as_str().unwrap_or_default();
    assert!(reason.contains("no clips"), "{reason}");
    assert!(reason.contains("clipwatch retry 1"), "{reason}");
    assert!(reason.contains("without paying"), "{reason}");
    assert!(
        all_files(&env.clips()).is_empty(),
        "no empty project.json: {:?}",
        all_files(&env.clips())
    );
    assert!(env.api.faults("empty-clips").len() >= 2);

    // The list arrives; `retry` polls the same task, no new submit.
    env.api.misbehave(Misbehave::default());
    let retried = env.run_ok(&["retry", "1"]);
    assert!(retried.contains("failed → processing"), "{retried}");
    env.once();
    assert_eq!(env.jobs()[0]["state"], "done");
    assert_eq!(env.api.submissions_for(VIDEO), 1, "paid once");
    let folder = env.only_folder("inbox");
    assert_all_clips(&env, &folder, &env.api.task_ids()[0], 3);
}

// ---- item 2: expired or vanished results ------------------------------------

#[test]
fn results_that_vanish_mid_download_fail_the_job_and_once_exits() {
    let env = Env::new(FakeConfig {
        clips: 2,
        ..quick()
    });
    env.api.misbehave(Misbehave {
        drip_downloads: Some(Drip {
            bytes: 4 * 1024,
            every: Duration::from_millis(30),
        }),
        ..Misbehave::default()
    });
    assert!(env.run(&["submit", VIDEO]).status.success());
    let mut once = Daemon::spawn(&env, &["once"]);
    let api = &env.api;
    assert!(wait_until(Duration::from_secs(20), || !api
        .faults("drip")
        .is_empty()));
    // The task is gone from the API while the first clip is arriving: the
    // second clip's link is refused and fresh links cannot be had.
    api.misbehave(Misbehave {
        results_gone: true,
        ..Misbehave::default()
    });
    let exited = wait_until(Duration::from_secs(30), || !once.is_running());
    assert!(exited, "clipwatch did not exit within 30 s\n{}", once.log());
    let (status, out) = (once.child.wait().unwrap(), once.log());
    assert_eq!(status.code(), Some(1), "{out}");
    assert!(!api.faults("gone").is_empty(), "the 404 was met");
    let job = &env.jobs()[0];
    assert_eq!(job["state"], "failed", "{job}");
    let reason = job["reason"].as_str().unwrap_or_default();
    assert!(reason.contains("task not found"), "{reason}");
    assert!(
        !all_files(&env.clips())
            .iter()
            .any(|f| f.ends_with("project.json")),
        "not complete, so no project.json"
    );
    assert_eq!(api.submissions_for(VIDEO), 1);
    assert_no_secrets(&env, &out);
}

#[test]
fn results_past_expire_at_fail_the_job_without_asking_again() {
    // Results live 2.5 s; each clip takes about 1.3 s to arrive.
    let env = Env::new(FakeConfig {
        clips: 3,
        clip_bytes: 128 * 1024,
        results_ttl: Duration::from_millis(2500),
        ..quick()
    });
    env.api.misbehave(Misbehave {
        drip_downloads: Some(Drip {
            bytes: 4 * 1024,
            every: Duration::from_millis(40),
        }),
        ..Misbehave::default()
    });
    assert!(env.run(&["submit", VIDEO]).status.success());
    let (status, out) = once_within(&env, Duration::from_secs(40));
    assert_eq!(status.code(), Some(1), "{out}");
    let job = &env.jobs()[0];
    assert_eq!(job["state"], "failed", "{job}");
    let reason = job["reason"].as_str().unwrap_or_default();
    assert!(reason.contains("expired"), "{reason}");
    assert_eq!(env.api.submissions_for(VIDEO), 1);
}

// ---- item 3: `retry` through a running daemon ------------------------------

#[test]
fn retry_through_a_running_daemon_is_polled_and_finished() {
    let env = Env::with_fault(quick(), |m| m.html_instead_of_mp4 = true);
    let mut daemon = Daemon::spawn(&env, &["run"]).wait_up();
    env.run_ok(&["submit", VIDEO]);
    daemon.expect("job 1 failed", Duration::from_secs(30), || {
        env.job_state(FIRST) == "failed"
    });
    env.api.misbehave(Misbehave::default());
    let retried = env.run_ok(&["retry", "1"]);
    assert!(retried.contains("failed → processing"), "{retried}");
    daemon.expect(
        "the running daemon took the retried job",
        Duration::from_secs(20),
        || env.job_state(FIRST) == "done",
    );

    // The same with the daemon stopped: the retried job waits for the next start.
    env.api.misbehave(Misbehave {
        html_instead_of_mp4: true,
        ..Misbehave::default()
    });
    assert!(env
        .run(&["submit", "https://youtu.be/aaaaaaaaaaa"])
        .status
        .success());
    assert!(wait_until(Duration::from_secs(30), || env
        .job_state(SECOND)
        == "failed"));
    daemon.terminate();
    let log = daemon.log();
    env.api.misbehave(Misbehave::default());
    env.run_ok(&["retry", SECOND]);
    let mut daemon = Daemon::spawn(&env, &["run"]);
    let finished = wait_until(Duration::from_secs(20), || env.job_state(SECOND) == "done");
    daemon.terminate();
    assert!(finished, "the restarted daemon finished the retried job");
    assert_eq!(env.api.submissions().len(), 2, "one task per video");
    assert_no_secrets(&env, &log);
}

// ---- item 12: odd clip idx values ------------------------------------------

/// The clips in `folder`'s project.json, by rank.
fn project_clips(folder: &Path) -> Vec<Value> {
    read_json(&folder.join("project.json"))["clips"]
        .as_array()
        .unwrap()
        .clone()
}

#[test]
fn duplicate_idx_values_never_overwrite_a_clip() {
    let env = Env::new(FakeConfig {
        clip_idx: vec![json!(0), json!(0), json!(0)],
        ..quick()
    });
    env.run_ok(&["submit", VIDEO, "--wait"]);
    let folder = env.only_folder("inbox");
    let task = &env.api.task_ids()[0];
    // Ranked by position: the list order is all there is to go by.
    assert_all_clips(&env, &folder, task, 3);
    let clips = project_clips(&folder);
    let ranks: Vec<u64> = clips.iter().map(|c| c["rank"].as_u64().unwrap()).collect();
    assert_eq!(ranks, [1, 2, 3]);
    for clip in &clips[1..] {
        let note = clip["rank_note"].as_str().unwrap_or_default();
        assert!(
            note.contains("duplicate") && note.contains("by position"),
            "{clip}"
        );
    }
}

#[test]
fn negative_missing_and_huge_idx_values_keep_every_clip() {
    let env = Env::new(FakeConfig {
        clips: 4,
        clip_idx: vec![json!(-1), Value::Null, json!("4294967295"), json!(1)],
        ..quick()
    });
    let out = env.run_ok(&["submit", VIDEO, "--wait"]);
    let folder = env.only_folder("inbox");
    let task = &env.api.task_ids()[0];
    let clips = project_clips(&folder);
    assert_eq!(clips.len(), 4, "no clip dropped: {clips:?}");
    // idx 1 is kept; the three odd ones take the free ranks in list order.
    let by_title = |title: &str| {
        clips
            .iter()
            .find(|c| c["title"] == title)
            .unwrap_or_else(|| panic!("{title} in {clips:?}"))
            .clone()
    };
    let expect = [
        ("Clip 1 title", 1, 0),
        ("Clip 2 title", 3, 1),
        ("Clip 3 title", 4, 2),
        ("Clip 4 title", 2, 3),
    ];
    for (title, rank, position) in expect {
        let clip = by_title(title);
        assert_eq!(clip["rank"], rank, "{clip}");
        let video = clip["files"]["video"].as_str().unwrap();
        assert!(video.starts_with(&format!("{rank:02} ")), "{video}");
        assert!(
            std::fs::read(folder.join(video)).unwrap() == env.api.clip_bytes(task, position),
            "{video} holds its own clip"
        );
        if rank != 2 {
            assert!(clip["rank_note"].as_str().is_some(), "{clip}");
        } else {
            assert!(clip.get("rank_note").is_none(), "{clip}");
        }
    }
    let notes = out + &std::fs::read_to_string(folder.join("project.json")).unwrap();
    assert!(!notes.contains("4294967296"), "no wrapped rank");
    assert!(by_title("Clip 1 title")["rank_note"]
        .as_str()
        .unwrap()
        .contains("-1"));
}

// ---- item 15: the API's clip order -----------------------------------------

#[test]
fn the_clip_order_of_the_api_does_not_change_what_is_downloaded() {
    let plan = |reverse: bool| {
        let env = Env::with_config(
            FakeConfig {
                clips: 5,
                reverse_clips: reverse,
                ..quick()
            },
            |url| {
                base_config(url).replace(
                    "dir = \"clips\"",
                    "dir = \"clips\"\nmin_score = 30\nmax_clips = 2",
                )
            },
        );
        // The last clip's link never comes: only a plan that waits for the
        // links of clips it will not download would notice.
        env.api.misbehave(Misbehave {
            missing_export_links_polls: u32::MAX,
            ..Misbehave::default()
        });
        let out = env.run(&["submit", VIDEO, "--wait"]);
        assert!(out.status.success(), "{}", text(&out));
        let folder = env.only_folder("inbox");
        let clips = project_clips(&folder);
        let summary: Vec<(u64, bool, String)> = clips
            .iter()
            .map(|c| {
                (
                    c["rank"].as_u64().unwrap(),
                    c["downloaded"].as_bool().unwrap(),
                    c["not_downloaded"].as_str().unwrap_or_default().to_string(),
                )
            })
            .collect();
        let waits = env.api.faults("missing-links").len();
        (summary, file_names(&folder), waits)
    };
    let (listed, files, waits) = plan(false);
    let (reversed, reversed_files, reversed_waits) = plan(true);
    assert_eq!(listed, reversed);
    assert_eq!(files, reversed_files);
    let kept: Vec<u64> = listed.iter().filter(|c| c.1).map(|c| c.0).collect();
    assert_eq!(kept, [1, 2], "{listed:?}");
    // Clip 5 is left out, so its missing link holds nothing up (two polls
    // to see the list settle, in either order).
    assert!(
        waits <= 3 && reversed_waits <= 3,
        "{waits} {reversed_waits}"
    );
}

// ---- item 14: two videos, one title ------------------------------------------

#[test]
fn two_same_titled_videos_never_share_a_folder() {
    let env = Env::with_config(
        FakeConfig {
            clips: 2,
            ..quick()
        },
        |url| {
            with_api(url, "max_concurrent_projects = 5").replace(
                "dir = \"clips\"",
                "dir = \"clips\"\nfolder = \"{feed}/{title}\"",
            )
        },
    );
    let videos = [
        "https://youtu.be/aaaaaaaaaaa",
        "https://youtu.be/bbbbbbbbbbb",
        "https://youtu.be/ccccccccccc",
        "https://youtu.be/ddddddddddd",
    ];
    // The first one fails after its folder was made; the user removes the
    // empty folder; the others take the name in turn.
    env.api.misbehave(Misbehave {
        html_instead_of_mp4: true,
        ..Misbehave::default()
    });
    env.run_code(&["submit", videos[0], "--name", "Same talk", "--wait"], 1);
    std::fs::remove_dir_all(env.clips().join("inbox/Same talk")).unwrap();
    env.api.misbehave(Misbehave::default());
    for video in &videos[1..] {
        env.run_ok(&["submit", video, "--name", "Same talk"]);
    }
    env.once();
    // Now the first one is retried: its recorded folder belongs to another job.
    assert!(env.run(&["retry", "1"]).status.success());
    env.once();

    let jobs = env.jobs();
    let mut folders: Vec<String> = jobs
        .iter()
        .map(|j| {
            assert_eq!(j["state"], "done", "{j}");
            j["folder"].as_str().unwrap().to_string()
        })
        .collect();
    folders.sort();
    folders.dedup();
    assert_eq!(folders.len(), 4, "one folder per video: {folders:?}");
    let tasks = env.api.task_ids();
    for dir in std::fs::read_dir(env.clips().join("inbox")).unwrap() {
        let dir = dir.unwrap().path();
        let project = read_json(&dir.join("project.json"));
        let task = project["task"]["id"].as_str().unwrap().to_string();
        assert!(tasks.contains(&task));
        let job = jobs.iter().find(|j| j["id"] == project["job"]).unwrap();
        assert!(
            dir.ends_with(job["folder"].as_str().unwrap()),
            "{} is job {}'s",
            dir.display(),
            job["id"]
        );
        for idx in 0..2 {
            let name = format!("{:02} Clip {} title.mp4", idx + 1, idx + 1);
            assert!(
                std::fs::read(dir.join(&name)).unwrap() == env.api.clip_bytes(&task, idx),
                "{} / {name} is from task {task}",
                dir.display()
            );
        }
    }
}

// ---- item 16: a local file's sidecar ---------------------------------------

#[test]
fn a_local_files_sidecar_names_the_file_and_the_times_not_a_path() {
    let env = Env::new(FakeConfig {
        clips: 1,
        ..quick()
    });
    let video = env.dir.path().join("My Talk.mp4");
    let bytes: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(&video, &bytes).unwrap();
    let out = env.run(&["submit", video.to_str().unwrap(), "--wait"]);
    assert!(out.status.success(), "{}", text(&out));
    let folder = env.only_folder("inbox");
    let sidecar = read_json(&folder.join("01 Clip 1 title.json"));
    assert!(sidecar["source_link"].is_null(), "{sidecar}");
    assert_eq!(
        sidecar["source_file"],
        json!({"name": "My Talk.mp4", "begin": "00:00:15.000", "end": "00:00:45.000"})
    );
    let dir = env.dir.path().to_string_lossy().into_owned();
    assert!(!sidecar.to_string().contains("#t="), "{sidecar}");
    assert!(
        !sidecar["source_file"].to_string().contains(&dir),
        "no filesystem path"
    );
}

// ---- issue 12 item 13: the scheduler keeps its queue in memory ---------------

#[test]
fn the_status_line_counts_jobs_from_memory_as_they_move() {
    // The scheduler no longer reads every job to count them: the counts it
    // keeps must follow jobs queued through the control socket and moved
    // by workers.
    let env = Env::with_config(
        FakeConfig {
            phase: Duration::from_secs(30),
            ..FakeConfig::default()
        },
        |url| with_api(url, "max_concurrent_projects = 1"),
    );
    let mut notify = Notify::bind(&env, Duration::from_millis(200));
    let mut daemon =
        Daemon::spawn_with_env(&env, &["run"], &[("NOTIFY_SOCKET", &notify.var())]).wait_up();
    for video in [
        VIDEO,
        "https://youtu.be/aaaaaaaaaaa",
        "https://youtu.be/bbbbbbbbbbb",
    ] {
        env.run_ok(&["submit", video]);
    }
    let counted = "STATUS=1 processing, 2 queued";
    notify.wait_for(Duration::from_secs(20), |m| m.contains(counted));
    daemon.terminate();
    assert!(
        notify.text().contains(counted),
        "{:?}\n{}",
        notify.messages,
        daemon.log()
    );
}
