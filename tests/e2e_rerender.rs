//! End to end: re-rendering a finished task's clips with another preset's
//! export options through Clips Export, without paying for the analysis
//! again — automatically (`also = ["landscape"]`) and on demand (`clipwatch
//! export JOB --preset landscape`, with the daemon running and stopped).
//! The export asks for exactly the clips the folder kept, its videos land
//! in a subfolder named after the preset, its units are added to the job's,
//! and no task is ever submitted twice.

mod support;

use std::path::Path;
use std::time::Duration;

use serde_json::{json, Value};
use support::fake_api::tasks::{Kind, EXPORT_UNITS};
use support::harness::{
    assert_no_secrets, base_config, fake_for_prefix, file_names, text, Daemon, Env, VIDEO,
    VIDEO_KEY,
};
use support::FakeConfig;

/// The fake's clipping cost: 3 clips at 10 units.
const CLIP_UNITS: u64 = 30;

const LANDSCAPE: &str = "\n[presets.landscape]\nenable_export = true\nratio = \"RATIO_16_9\"\n\
                         resolution = \"FHD_1080\"\nenable_ai_reframe = true\n";

/// The `.mp4` files in `dir`, sorted.
fn videos(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = file_names(dir)
        .into_iter()
        .filter(|n| n.ends_with(".mp4"))
        .collect();
    names.sort();
    names
}

/// Each video in `folder/landscape` holds the export task's bytes of the
/// clip with the same rank.
fn assert_export_videos(env: &Env, folder: &Path, export_id: &str, count: usize) {
    let sub = folder.join("landscape");
    let names = videos(&sub);
    assert_eq!(names.len(), count, "{names:?}");
    for (idx, name) in names.iter().enumerate() {
        assert!(name.starts_with(&format!("{:02} ", idx + 1)), "{name}");
        let bytes = std::fs::read(sub.join(name)).unwrap();
        assert_eq!(bytes, env.api.clip_bytes(export_id, idx), "{name}");
        assert_ne!(bytes, env.api.clip_bytes("proj_1", idx), "a new render");
    }
}

#[test]
fn also_renders_the_kept_clips_again_into_a_subfolder_under_both_prefixes() {
    for prefix in ["/open/v2", "/api/v2"] {
        let env = Env::with_config(fake_for_prefix(prefix), |url| {
            base_config(url)
                .replace(
                    "[presets.default]\n",
                    "[presets.default]\nalso = [\"landscape\"]\n",
                )
                .replace("dir = \"clips\"", "dir = \"clips\"\nmax_clips = 2")
                + LANDSCAPE
        });
        let out = env.run(&["submit", VIDEO, "--wait"]);
        assert!(out.status.success(), "{prefix}: {}", text(&out));
        assert_eq!(env.api.submissions().len(), 1, "one analysis");
        let bodies = env.api.extra_submit_bodies(Kind::Exports);
        assert_eq!(bodies.len(), 1, "{prefix}: {bodies:?}");
        let body = &bodies[0];
        assert_eq!(body["project_id"], "proj_1");
        assert_eq!(
            body["clip_indices"],
            json!([0, 1]),
            "the clips max_clips kept"
        );
        assert_eq!(body["ratio"], "RATIO_16_9");
        assert_eq!(body["resolution"], "FHD_1080");
        assert!(body.get("video_url").is_none() && body.get("enable_export").is_none());

        let folder = env.only_folder("inbox");
        assert_eq!(videos(&folder).len(), 2, "the first render stays");
        assert_export_videos(&env, &folder, "exp_1", 2);
        let job = env.job(VIDEO_KEY);
        assert_eq!(job["state"], "done");
        assert_eq!(
            job["units"],
            Value::from(CLIP_UNITS + EXPORT_UNITS),
            "{job}"
        );
        assert!(
            job["files"]
                .as_array()
                .unwrap()
                .iter()
                .any(|f| f.as_str().unwrap().starts_with("landscape/")),
            "{job}"
        );
        assert_no_secrets(&env, &text(&out));
    }
}

#[test]
fn export_on_demand_with_the_daemon_stopped() {
    let env = Env::with_config(fake_for_prefix("/api/v2"), |url| {
        base_config(url) + LANDSCAPE
    });
    env.run_ok(&["submit", VIDEO, "--wait"]);
    assert_eq!(env.api.extra_submits(Kind::Exports), 0);
    let out = env.run_ok(&["export", "1", "--preset", "landscape"]);
    assert!(out.contains("landscape/"), "{out}");
    assert_export_videos(&env, &env.only_folder("inbox"), "exp_1", 3);
    assert_eq!(env.api.submissions().len(), 1, "no new analysis");
    let job = env.job(VIDEO_KEY);
    assert_eq!(job["state"], "done");
    assert_eq!(job["units"], Value::from(CLIP_UNITS + EXPORT_UNITS));

    // Already rendered: refused, not paid again.
    let refused = env.run_code(&["export", "1", "--preset", "landscape"], 1);
    assert!(refused.contains("already rendered"), "{refused}");
    let unknown = env.run_code(&["export", "1", "--preset", "nope"], 2);
    assert!(unknown.contains("no preset named \"nope\""), "{unknown}");
    assert_eq!(env.api.extra_submits(Kind::Exports), 1);
}

#[test]
fn export_on_demand_through_the_running_daemon() {
    let env = Env::with_config(fake_for_prefix("/open/v2"), |url| {
        base_config(url) + LANDSCAPE
    });
    let daemon = Daemon::start(&env);
    env.run_ok(&["submit", VIDEO]);
    daemon.expect("the job is done", Duration::from_secs(20), || {
        env.job_state(VIDEO_KEY) == "done"
    });
    let out = env.run(&["export", VIDEO_KEY, "--preset", "landscape"]);
    assert!(out.status.success(), "{}\n{}", text(&out), daemon.log());
    assert_export_videos(&env, &env.only_folder("inbox"), "exp_1", 3);
    assert_eq!(env.api.extra_submits(Kind::Exports), 1);
    assert_eq!(env.api.submissions().len(), 1);
    let status: Value = env.json(&["status", "--json"]);
    assert_eq!(
        status["units"]["total"],
        Value::from(CLIP_UNITS + EXPORT_UNITS),
        "{status}"
    );
    daemon.stop();
}

#[test]
fn a_crash_while_exporting_submits_the_export_once() {
    let env = Env::with_config(
        FakeConfig {
            phase: Duration::from_millis(700),
            ..fake_for_prefix("/api/v2")
        },
        |url| {
            base_config(url).replace(
                "[presets.default]\n",
                "[presets.default]\nalso = [\"landscape\"]\n",
            ) + LANDSCAPE
        },
    );
    let mut daemon = Daemon::start(&env);
    env.run_ok(&["submit", VIDEO]);
    // Killed once the export's task id is stored (a kill between its
    // request and that write is an ambiguous submit: see e2e_transcripts).
    daemon.expect("the export recorded", Duration::from_secs(20), || {
        env.job(VIDEO_KEY)["extras"]
            .as_array()
            .is_some_and(|e| e.iter().any(|t| t["state"] == "running"))
    });
    assert_eq!(env.api.extra_submits(Kind::Exports), 1);
    daemon.kill();
    assert_ne!(env.job_state(VIDEO_KEY), "done", "killed mid-way");
    let daemon = Daemon::start(&env);
    daemon.expect("the job finished", Duration::from_secs(30), || {
        env.job_state(VIDEO_KEY) == "done"
    });
    daemon.stop();
    assert_eq!(env.api.extra_submits(Kind::Exports), 1);
    assert_eq!(env.api.submissions().len(), 1);
    assert_export_videos(&env, &env.only_folder("inbox"), "exp_1", 3);
    let job = env.job(VIDEO_KEY);
    assert_eq!(
        job["units"],
        Value::from(CLIP_UNITS + EXPORT_UNITS),
        "{job}"
    );
}

#[test]
fn a_refused_export_link_is_fetched_again_not_paid_again() {
    let env = Env::with_config(fake_for_prefix("/api/v2"), |url| {
        base_config(url).replace(
            "[presets.default]\n",
            "[presets.default]\nalso = [\"landscape\"]\n",
        ) + LANDSCAPE
    });
    env.api.misbehave(support::Misbehave {
        export_links_refused_until_refresh: true,
        ..Default::default()
    });
    let out = env.run(&["submit", VIDEO, "--wait"]);
    assert!(out.status.success(), "{}", text(&out));
    let job = env.job(VIDEO_KEY);
    assert_eq!(job["state"], "done", "{job}");
    assert_eq!(
        env.api.extra_submit_bodies(Kind::Exports).len(),
        1,
        "one export task, its links fetched again"
    );
    let folder = env.only_folder("inbox");
    assert_export_videos(&env, &folder, "exp_1", 3);
    let refused = env
        .api
        .requests()
        .iter()
        .filter(|r| r.path.contains("/files/export/exp_1/") && r.status == 403)
        .count();
    assert!(refused >= 1, "an export link was refused at least once");
    assert_eq!(
        job["units"],
        Value::from(CLIP_UNITS + EXPORT_UNITS),
        "{job}"
    );
    assert_no_secrets(&env, &text(&out));
}
