//! Crash-restart campaign (SPEC §5): the real daemon is killed with SIGKILL
//! at seeded random moments, again and again, while it works through many
//! videos. At the end every source is done exactly once in the output tree,
//! no video was paid for twice except where a kill provably fell between a
//! submit leaving and its task id being stored (counted and reported), no
//! `.part` file is left, every sidecar and `project.json` is valid and
//! matches the files, and the database opens cleanly.
//!
//! The quick variant runs in the normal suite; `cargo test --test
//! crash_campaign -- --ignored` runs the long one (more videos, more kills).

mod support;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use support::harness::{all_files, read_json, text, wait_until, Env};
use support::FakeConfig;

struct Campaign {
    seed: u64,
    videos: usize,
    min_kills: usize,
}

#[test]
fn quick_crash_campaign() {
    run_campaign(Campaign {
        seed: 7,
        videos: 20,
        min_kills: 25,
    });
}

#[test]
#[ignore = "long: about a minute"]
fn long_crash_campaign() {
    for seed in [11, 23, 42] {
        run_campaign(Campaign {
            seed,
            videos: 40,
            min_kills: 60,
        });
    }
}

/// Eleven-character ids that are valid YouTube video ids.
fn video_id(n: usize) -> String {
    format!("crashvid{n:03}")
}

fn run_campaign(campaign: Campaign) {
    let mut rng = fastrand::Rng::with_seed(campaign.seed);
    let env = Env::new(FakeConfig {
        phase: Duration::from_millis(250),
        clip_bytes: 96 * 1024,
        ..FakeConfig::default()
    });
    // Slow API replies widen the submitting window so kills land in it too.
    env.api.misbehave(support::Misbehave {
        response_delay: Some(Duration::from_millis(60)),
        ..support::Misbehave::default()
    });
    for n in 0..campaign.videos {
        let url = format!("https://youtu.be/{}", video_id(n));
        let out = env.run(&["submit", &url]);
        assert!(out.status.success(), "{}", text(&out));
    }
    let started = Instant::now();
    let mut kills = 0;
    let mut states_at_kill: HashMap<String, usize> = HashMap::new();
    loop {
        let log = env.dir.path().join(format!("run{kills}.log"));
        let mut daemon = env.spawn(&["run"], &log);
        let finished = |env: &Env| count_done_folders(env) == campaign.videos;
        if kills >= campaign.min_kills {
            // Enough crashes: let it finish.
            assert!(
                wait_until(Duration::from_secs(60), || finished(&env)),
                "the last run did not finish: {}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
            let _ = std::process::Command::new("kill")
                .args(["-TERM", &daemon.id().to_string()])
                .status();
            assert!(daemon.wait().unwrap().success());
            break;
        }
        std::thread::sleep(Duration::from_millis(rng.u64(30..400)));
        daemon.kill().unwrap(); // SIGKILL
        daemon.wait().unwrap();
        kills += 1;
        for job in env.jobs() {
            let state = job["state"].as_str().unwrap().to_string();
            if state != "done" {
                *states_at_kill.entry(state).or_default() += 1;
            }
        }
        if finished(&env) && kills >= campaign.min_kills {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(600),
            "campaign took too long"
        );
    }

    // Every source done exactly once, with a valid folder.
    let jobs = env.jobs();
    assert_eq!(jobs.len(), campaign.videos);
    let mut resubmitted = 0;
    for job in &jobs {
        assert_eq!(job["state"], "done", "{job}");
        let url = job["url"].as_str().unwrap();
        let submissions = env.api.submissions_for(url);
        let attempts = job["submit_attempts"].as_u64().unwrap() as usize;
        if submissions > 1 {
            // Only a kill between the request leaving and the task id being
            // stored can cause this, and the job records each such attempt.
            assert!(
                submissions <= attempts,
                "{url}: {submissions} tasks for {attempts} attempts"
            );
            resubmitted += 1;
        }
        assert!(submissions >= 1);
    }
    check_output_tree(&env, campaign.videos);
    let reopened = env.run(&["status", "--json"]);
    assert!(
        reopened.status.success(),
        "the database opens cleanly: {}",
        text(&reopened)
    );
    println!(
        "crash campaign seed {}: {} videos, {kills} kills, states seen at kill time {states_at_kill:?}, \
         {resubmitted} videos submitted twice (kill between submit and storing the task id)",
        campaign.seed, campaign.videos
    );
    for state in ["queued", "submitting", "processing", "downloading"] {
        assert!(
            states_at_kill.contains_key(state),
            "no kill caught a job {state}: {states_at_kill:?}"
        );
    }
}

fn count_done_folders(env: &Env) -> usize {
    all_files(&env.clips())
        .iter()
        .filter(|f| f.ends_with("project.json"))
        .count()
}

/// No part files; every project.json and sidecar is valid JSON whose files
/// exist with the bytes the API served.
fn check_output_tree(env: &Env, videos: usize) {
    let files = all_files(&env.clips());
    let parts: Vec<_> = files
        .iter()
        .filter(|f| f.to_string_lossy().ends_with(".part"))
        .collect();
    assert!(parts.is_empty(), "part files left: {parts:?}");
    let projects: Vec<_> = files
        .iter()
        .filter(|f| f.ends_with("project.json"))
        .collect();
    assert_eq!(projects.len(), videos);
    for project_path in projects {
        let folder = project_path.parent().unwrap();
        let project = read_json(project_path);
        let task = project["task"]["id"].as_str().unwrap();
        for clip in project["clips"].as_array().unwrap() {
            let sidecar_name = clip["files"]["sidecar"].as_str().unwrap();
            let sidecar = read_json(&folder.join(sidecar_name));
            assert_eq!(sidecar["task"]["id"], task);
            let video = sidecar["files"]["video"].as_str().unwrap();
            let idx = sidecar["idx"].as_u64().unwrap() as usize;
            let bytes = std::fs::read(folder.join(video)).unwrap();
            assert_eq!(
                bytes,
                env.api.clip_bytes(task, idx),
                "{}",
                folder.join(video).display()
            );
        }
        let expected_files = project["clips"].as_array().unwrap().len() * 3 + 1;
        let present = std::fs::read_dir(folder).unwrap().count();
        assert_eq!(
            present,
            expected_files,
            "no orphan files in {}",
            folder.display()
        );
    }
}
