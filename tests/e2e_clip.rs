//! End to end: the real binary against the fake WayinVideo API, one video
//! from `submit` to a finished folder (SPEC §5, §6).

mod support;

use std::time::Duration;

use support::harness::{
    all_files, assert_no_secrets, base_config, file_names, projects, quick, read_json, text,
    wait_until, Daemon, Env, VIDEO as SUBMITTED,
};
use support::{CostField, Envelope, FakeConfig, Misbehave};

const VIDEO: &str = "https://youtu.be/dQw4w9WgXcQ?si=tracking123";

#[test]
fn export_on_writes_the_full_folder_with_correct_sidecars() {
    let env = Env::new(FakeConfig {
        clip_titles: vec![
            "Why it works".into(),
            "The twist".into(),
            "Q&A: what/next?".into(),
        ],
        ..quick()
    });
    let out = env.run(&["submit", VIDEO, "--wait", "--name", "My Talk"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("done:"),
        "{}",
        text(&out)
    );
    assert_eq!(env.api.submissions_for(SUBMITTED), 1);
    let submitted = &env.api.submissions()[0];
    assert_eq!(submitted["project_name"], "My Talk");
    assert_eq!(submitted["enable_export"], true);
    assert_eq!(submitted["ratio"], "RATIO_9_16");

    let folder = env.only_folder("inbox");
    let name = folder.file_name().unwrap().to_string_lossy().into_owned();
    assert!(name.ends_with(" My Talk [dQw4w9WgXcQ]"), "{name}");
    assert_eq!(
        file_names(&folder),
        [
            "01 Why it works.jpg",
            "01 Why it works.json",
            "01 Why it works.mp4",
            "02 The twist.jpg",
            "02 The twist.json",
            "02 The twist.mp4",
            "03 Q&A what next.jpg",
            "03 Q&A what next.json",
            "03 Q&A what next.mp4",
            "project.json",
        ]
    );
    let task = &env.api.task_ids()[0];
    for (idx, base) in ["01 Why it works", "02 The twist", "03 Q&A what next"]
        .iter()
        .enumerate()
    {
        let video = std::fs::read(folder.join(format!("{base}.mp4"))).unwrap();
        assert_eq!(video, env.api.clip_bytes(task, idx), "clip {idx} content");
        let thumb = std::fs::read(folder.join(format!("{base}.jpg"))).unwrap();
        assert_eq!(thumb, env.api.thumb_bytes(task, idx));
    }

    let first = read_json(&folder.join("01 Why it works.json"));
    assert_eq!(first["schema"], "clipwatch.clip/1");
    assert_eq!(first["rank"], 1);
    assert_eq!(first["idx"], 0);
    assert_eq!(first["title"], "Why it works");
    assert_eq!(first["description"], "Clip 1 description");
    assert_eq!(
        first["hashtags"],
        serde_json::json!(["#insight", "#analysis"])
    );
    assert!(
        first["score"].is_number(),
        "numbers even when the API sent strings"
    );
    assert!(first["begin_ms"].is_number());
    assert_eq!(first["begin_ms"], 15000);
    assert_eq!(first["end_ms"], 45000);
    assert_eq!(first["duration_ms"], 30000);
    assert_eq!(first["begin"], "00:00:15.000");
    assert_eq!(first["end"], "00:00:45.000");
    assert_eq!(first["source_link"], "https://youtu.be/dQw4w9WgXcQ?t=15");
    assert_eq!(first["files"]["video"], "01 Why it works.mp4");
    assert_eq!(first["files"]["thumbnail"], "01 Why it works.jpg");
    assert_eq!(first["source"]["key"], "youtube:dQw4w9WgXcQ");
    assert_eq!(first["source"]["url"], SUBMITTED);
    assert_eq!(first["task"]["id"], task.as_str());
    assert_eq!(first["task"]["preset"], "default");
    assert_eq!(first["task"]["options"]["resolution"], "HD_720");
    let second = read_json(&folder.join("02 The twist.json"));
    assert_eq!(second["rank"], 2);
    assert_eq!(second["source_link"], "https://youtu.be/dQw4w9WgXcQ?t=105");

    let project = read_json(&folder.join("project.json"));
    assert_eq!(project["schema"], "clipwatch.project/1");
    assert_eq!(project["task"]["id"], task.as_str());
    assert_eq!(project["task"]["status"], "SUCCEEDED");
    assert_eq!(project["task"]["api_units_usage"], 30);
    assert!(project["task"]["expire_at"].is_number());
    assert_eq!(project["clips"].as_array().unwrap().len(), 3);
    assert!(project["clips"]
        .as_array()
        .unwrap()
        .iter()
        .all(|c| c["downloaded"] == true));

    // project.json is written last.
    let modified = |p: &std::path::Path| std::fs::metadata(p).unwrap().modified().unwrap();
    let project_time = modified(&folder.join("project.json"));
    for file in all_files(&folder) {
        assert!(
            modified(&file) <= project_time,
            "{} after project.json",
            file.display()
        );
    }
    assert!(all_files(&env.clips())
        .iter()
        .all(|f| !f.to_string_lossy().ends_with(".part")));

    // The job is done and a second submit is recognised as the same video.
    let jobs = env.jobs();
    assert_eq!(jobs[0]["state"], "done");
    assert_eq!(jobs[0]["units"], 30);
    let again = env.run(&["submit", "https://www.youtube.com/watch?v=dQw4w9WgXcQ&t=42"]);
    assert!(again.status.success());
    assert!(
        text(&again).contains("already known as job 1 (done)"),
        "{}",
        text(&again)
    );
    assert_eq!(env.api.count("POST", "/open/v2/clips"), 1);
}

#[test]
fn export_off_writes_metadata_only_and_accepts_numbers_and_the_newer_envelope() {
    let env = Env::new(FakeConfig {
        numbers_as_strings: false,
        envelope: Envelope::DataOnly,
        cost_field: CostField::CostUsage,
        prefix: "/api/v2".into(),
        ..quick()
    });
    env.run_ok(&["submit", VIDEO, "--wait", "--preset", "metadata"]);
    let submitted = &env.api.submissions()[0];
    assert_eq!(submitted["enable_export"], false);
    let folder = env.only_folder("inbox");
    assert_eq!(
        file_names(&folder),
        [
            "01 Clip 1 title.json",
            "02 Clip 2 title.json",
            "03 Clip 3 title.json",
            "project.json"
        ]
    );
    let sidecar = read_json(&folder.join("01 Clip 1 title.json"));
    assert_eq!(sidecar["score"], 90);
    assert!(sidecar["files"].get("video").is_none());
    let project = read_json(&folder.join("project.json"));
    assert_eq!(
        project["task"]["api_units_usage"], 30,
        "cost_usage is read too"
    );
    assert!(project["clips"]
        .as_array()
        .unwrap()
        .iter()
        .all(|c| c["downloaded"] == false));
}

#[test]
fn min_score_and_max_clips_list_but_skip_clips() {
    let env = Env::with_config(quick(), |url| {
        base_config(url).replace(
            "dir = \"clips\"",
            "dir = \"clips\"\nmin_score = 50\nmax_clips = 1",
        )
    });
    env.run_ok(&["submit", VIDEO, "--wait"]);
    let folder = env.only_folder("inbox");
    assert_eq!(
        file_names(&folder),
        [
            "01 Clip 1 title.jpg",
            "01 Clip 1 title.json",
            "01 Clip 1 title.mp4",
            "project.json"
        ]
    );
    let project = read_json(&folder.join("project.json"));
    let clips = project["clips"].as_array().unwrap();
    assert_eq!(clips.len(), 3);
    assert!(clips[1]["not_downloaded"]
        .as_str()
        .unwrap()
        .contains("max_clips"));
    assert!(clips[2]["not_downloaded"]
        .as_str()
        .unwrap()
        .contains("min_score"));
}

#[test]
fn a_killed_daemon_resumes_polling_without_a_second_submit() {
    let env = Env::new(FakeConfig {
        phase: Duration::from_millis(700),
        ..FakeConfig::default()
    });
    env.run_ok(&["submit", VIDEO]);
    assert_eq!(
        env.api.submissions().len(),
        0,
        "submit without --wait only queues"
    );

    let mut daemon = Daemon::spawn(&env, &["run"]);
    daemon.expect("the daemon polled", Duration::from_secs(20), || {
        env.api.count("GET", "/open/v2/clips/results") >= 2
    });
    daemon.kill(); // SIGKILL
    assert_eq!(env.jobs()[0]["state"], "processing");

    let daemon = Daemon::spawn(&env, &["run"]);
    daemon.expect(
        "the restarted daemon finished the job",
        Duration::from_secs(30),
        || env.clips().join("inbox").exists() && !projects(&env.clips()).is_empty(),
    );
    // SIGTERM: a clean exit.
    daemon.stop();
    assert_eq!(env.api.submissions_for(SUBMITTED), 1, "exactly one submit");
    assert_eq!(env.jobs()[0]["state"], "done");
}

#[test]
fn a_refused_export_link_is_replaced_with_a_fresh_one() {
    let env = Env::with_fault(quick(), |m| m.export_links_refused_until_refresh = true);
    env.run_ok(&["submit", VIDEO, "--wait"]);
    let folder = env.only_folder("inbox");
    let task = &env.api.task_ids()[0];
    let video = std::fs::read(folder.join("01 Clip 1 title.mp4")).unwrap();
    assert_eq!(video, env.api.clip_bytes(task, 0));
    let refused = env
        .api
        .requests()
        .iter()
        .filter(|r| r.path.contains("/files/export/") && r.status == 403)
        .count();
    assert!(refused >= 1, "a link was refused at least once");
}

#[test]
fn a_failed_task_fails_the_job_with_the_api_message_and_writes_nothing() {
    let env = Env::with_fault(quick(), |m| {
        m.fail_tasks_with = Some("The video is private or unavailable".into())
    });
    let out = env.run_code(&["submit", VIDEO, "--wait"], 1);
    assert!(out.contains("The video is private or unavailable"), "{out}");
    let job = &env.jobs()[0];
    assert_eq!(job["state"], "failed");
    assert!(job["reason"]
        .as_str()
        .unwrap()
        .contains("The video is private or unavailable"));
    assert!(
        all_files(&env.clips()).is_empty(),
        "nothing written: {:?}",
        all_files(&env.clips())
    );
}

#[test]
fn rate_limits_and_server_errors_slow_down_but_never_fail_the_job() {
    // The fake allows 4 calls per second; clipwatch is told 600 a minute,
    // so it meets 429s and must wait them out.
    let env = Env::new(FakeConfig {
        rate_limit: Some((4, Duration::from_secs(1))),
        ..quick()
    });
    env.api.misbehave(Misbehave {
        server_errors: 2,
        ..Misbehave::default()
    });
    env.run_ok(&["submit", VIDEO, "--wait"]);
    assert!(
        env.api.count_429() >= 1,
        "the budget was exceeded at least once"
    );
    assert_eq!(env.api.submissions_for(SUBMITTED), 1);
    assert_eq!(env.jobs()[0]["state"], "done");
}

#[test]
fn a_rejected_key_pauses_work_until_it_is_accepted() {
    let env = Env::with_fault(quick(), |m| m.reject_key = true);
    env.run_ok(&["submit", VIDEO]);
    let daemon = Daemon::spawn(&env, &["run"]);
    let refused = wait_until(Duration::from_secs(10), || {
        env.api
            .requests()
            .iter()
            .filter(|r| r.status == 403)
            .count()
            >= 2
    });
    assert!(refused);
    let log_text = daemon.log();
    assert_eq!(
        log_text.matches("API work is paused").count(),
        1,
        "one clear line: {log_text}"
    );
    env.api.misbehave(Misbehave::default());
    let done = wait_until(Duration::from_secs(30), || {
        !projects(&env.clips()).is_empty()
    });
    let log_text = daemon.stop();
    assert!(done, "{log_text}");
    assert!(log_text.contains("API key accepted again"), "{log_text}");
}

#[test]
fn the_key_and_signed_links_never_reach_logs_output_or_files() {
    let env = Env::with_fault(quick(), |m| m.export_links_refused_until_refresh = true);
    let key = env.api.config().api_key.clone();
    let mut seen = String::new();
    let out = env.run(&["-vv", "submit", VIDEO, "--wait"]);
    assert!(out.status.success(), "{}", text(&out));
    seen += &text(&out);
    let out = env.run(&[
        "-v",
        "--log-format",
        "json",
        "submit",
        "https://youtu.be/aaaaaaaaaaa",
        "--wait",
    ]);
    seen += &text(&out);
    for args in [
        &["jobs", "--json"][..],
        &["show", "1", "--json"],
        &["show", "1"],
        &["status", "--json"],
        &["check"],
    ] {
        seen += &text(&env.run(args));
    }
    // A rejected key: the error messages must not carry it either.
    env.api.misbehave(Misbehave {
        reject_key: true,
        ..Misbehave::default()
    });
    let rejected = env.run_code(&["-v", "check"], 78);
    seen += &rejected;
    assert!(
        seen.contains("DEBUG") || seen.contains("\"level\":\"DEBUG\""),
        "debug logs were on"
    );
    assert!(!seen.contains(&key), "the API key leaked");
    // And in every file clipwatch wrote, outside the database.
    assert_no_secrets(&env, &seen);
}

#[test]
fn bad_configuration_exits_78_naming_file_line_and_key() {
    let env = Env::with_config(quick(), |url| {
        base_config(url).replace("ratio = \"RATIO_9_16\"", "ratio = \"RATIO_9_17\"")
    });
    let out = env.run(&["check", "--offline"]);
    assert_eq!(out.status.code(), Some(78));
    let message = text(&out);
    assert!(message.contains("config.toml:15"), "{message}");
    assert!(message.contains("presets.default.ratio"), "{message}");
    let out = env.run(&["run"]);
    assert_eq!(out.status.code(), Some(78), "the daemon does not start");
}

#[test]
fn example_configuration_passes_offline_check() {
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/config.example.toml");
    let out = std::process::Command::new(support::harness::BINARY)
        .args(["check", "--offline", "--config", example])
        .env_remove("WAYIN_API_KEY")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
}

#[test]
fn a_local_file_is_uploaded_once_and_clipped() {
    use sha2::Digest;
    let env = Env::new(quick());
    let video = env.dir.path().join("My Talk.mp4");
    let bytes: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(&video, &bytes).unwrap();
    let out = env.run(&["submit", video.to_str().unwrap(), "--wait"]);
    assert!(out.status.success(), "{}", text(&out));
    let uploads = env.api.uploads();
    assert_eq!(uploads.len(), 1);
    let (identity, sha, len, content_type) = &uploads[0];
    assert_eq!(sha, &format!("{:x}", sha2::Sha256::digest(&bytes)));
    assert_eq!(*len, bytes.len() as u64);
    assert_eq!(content_type.as_deref(), Some("video/mp4"));
    assert_eq!(env.api.submissions()[0]["video_url"], identity.as_str());
    let folder = env.only_folder("inbox");
    assert!(
        folder.to_string_lossy().contains("My Talk"),
        "{}",
        folder.display()
    );

    // The same content under another name is the same video.
    let copy = env.dir.path().join("renamed.mp4");
    std::fs::copy(&video, &copy).unwrap();
    let again = env.run(&["submit", copy.to_str().unwrap()]);
    assert!(
        text(&again).contains("already known as job 1 (done)"),
        "{}",
        text(&again)
    );
    assert_eq!(env.api.uploads().len(), 1);
}
