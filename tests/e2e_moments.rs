//! End to end: Find Moments (issue 18 item 1). A preset with a `query`
//! submits to `/clips/find-moments` instead of `/clips`, its results flow
//! into the same folder as clips do, and a query that matches nothing is a
//! finished job with no clips and a note, not a failure.

mod support;

use std::time::Duration;

use serde_json::Value;
use support::harness::{
    assert_no_secrets, base_config, feed_toml, feeds_env, file_names, quick, read_json, text,
    tiny_clips, Daemon, Env, VIDEO, VIDEO_KEY,
};
use support::{Envelope, FakeConfig, Misbehave};

/// The base config with a clipping preset that sets AI Clipping's own
/// `target_duration`, and two Find Moments presets extending it.
fn moments_config(url: &str) -> String {
    format!(
        "{}\n[presets.clipping]\nextends = \"default\"\ntarget_duration = \"DURATION_30_60\"\n\n\
         [presets.demos]\nextends = \"clipping\"\nquery = \"  product   demos \"\n\n\
         [presets.pricing]\nextends = \"clipping\"\nmode = \"moments\"\nquery = \"pricing\"\n",
        base_config(url)
    )
}

/// The later API edition: `/api/v2`, bare `{data}` replies, `cost_usage`.
fn api_v2(fake: FakeConfig) -> FakeConfig {
    FakeConfig {
        prefix: "/api/v2".into(),
        envelope: Envelope::DataOnly,
        numbers_as_strings: false,
        ..fake
    }
}

fn moments_key_prefix() -> String {
    format!("{VIDEO_KEY} moments:")
}

fn api_calls(env: &Env, method: &str, path: &str) -> usize {
    env.api
        .count(method, &format!("{}{path}", env.api.config().prefix))
}

/// The one project folder in the inbox, with its `project.json`.
fn inbox_project(env: &Env) -> (std::path::PathBuf, Value) {
    let folder = env.only_folder("inbox");
    let project = read_json(&folder.join("project.json"));
    (folder, project)
}

#[test]
fn a_query_preset_finds_moments_and_writes_them_like_clips() {
    let env = Env::with_config(quick(), moments_config);
    let queued = env.run_ok(&["submit", VIDEO, "--preset", "demos"]);
    let printed = env.once();

    // Submitted to Find Moments with the query, never to AI Clipping, and
    // without what only AI Clipping takes.
    assert_eq!(api_calls(&env, "POST", "/clips/find-moments"), 1);
    assert_eq!(
        api_calls(&env, "POST", "/clips"),
        1,
        "only the moments submit"
    );
    assert_eq!(api_calls(&env, "GET", "/clips/results/"), 0);
    assert!(api_calls(&env, "GET", "/clips/find-moments/results/") >= 2);
    let sent = env.api.moments_submissions();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0]["query"], "product demos");
    assert_eq!(sent[0]["video_url"], VIDEO);
    assert_eq!(sent[0]["enable_export"], true);
    assert!(sent[0].get("target_duration").is_none(), "{}", sent[0]);
    assert!(sent[0].get("mode").is_none(), "{}", sent[0]);

    let job = env.jobs().into_iter().next().expect("one job");
    let key = job["key"].as_str().unwrap();
    assert!(key.starts_with(&moments_key_prefix()), "{key}");
    assert_eq!(job["state"], "done", "{job}");
    assert!(job.get("reason").is_none(), "{job}");

    // The same folder shape as a clipping job, recording the query.
    let (folder, project) = inbox_project(&env);
    let task = &env.api.task_ids()[0];
    let names = file_names(&folder);
    for (idx, base) in ["01 Clip 1 title", "02 Clip 2 title", "03 Clip 3 title"]
        .iter()
        .enumerate()
    {
        assert!(names.contains(&format!("{base}.mp4")), "{names:?}");
        let video = std::fs::read(folder.join(format!("{base}.mp4"))).unwrap();
        assert_eq!(video, env.api.clip_bytes(task, idx));
        let sidecar = read_json(&folder.join(format!("{base}.json")));
        assert_eq!(sidecar["task"]["mode"], "moments");
        assert_eq!(sidecar["task"]["query"], "product demos");
        assert_eq!(sidecar["task"]["preset"], "demos");
        assert_eq!(sidecar["task"]["id"], task.as_str());
    }
    assert_eq!(project["task"]["mode"], "moments");
    assert_eq!(project["task"]["query"], "product demos");
    assert_eq!(project["task"]["options"]["query"], "product demos");
    assert_eq!(project["clips"].as_array().unwrap().len(), 3);
    assert!(project.get("note").is_none(), "{project}");
    // The `/open/v2` reply names the task `project_id`; it was understood.
    assert_eq!(job["task_id"], task.as_str());
    assert_no_secrets(&env, &format!("{queued}{printed}"));
}

#[test]
fn each_query_is_a_job_of_its_own_and_clipping_keeps_the_video_key() {
    let env = Env::with_config(quick(), moments_config);
    let first = env.run_ok(&["submit", VIDEO, "--preset", "demos"]);
    let again = env.run_ok(&["submit", VIDEO, "--preset", "demos"]);
    assert!(!first.contains("already"), "{first}");
    assert!(
        again.contains("already"),
        "the same query is the same job: {again}"
    );
    // Spelt differently, the same search: the same job.
    let respelt = Env::with_config(quick(), |url| {
        moments_config(url).replace("query = \"pricing\"", "query = \"Product Demos\"")
    });
    let keys = |env: &Env| -> Vec<String> {
        env.jobs()
            .iter()
            .map(|j| j["key"].as_str().unwrap().to_string())
            .collect()
    };
    respelt.run_ok(&["submit", VIDEO, "--preset", "demos"]);
    let same = respelt.run_ok(&["submit", VIDEO, "--preset", "pricing"]);
    assert!(same.contains("already"), "{same}");
    assert_eq!(keys(&respelt), keys(&env));

    env.run_ok(&["submit", VIDEO, "--preset", "pricing"]);
    env.run_ok(&["submit", VIDEO]);
    let mut all = keys(&env);
    all.sort();
    assert_eq!(all.len(), 3, "{all:?}");
    assert_eq!(all[0], VIDEO_KEY, "a clipping job keeps the video's key");
    assert!(all[1..]
        .iter()
        .all(|k| k.starts_with(&moments_key_prefix())));
    assert_ne!(all[1], all[2]);

    env.once();
    assert_eq!(api_calls(&env, "POST", "/clips/find-moments"), 2);
    assert_eq!(
        api_calls(&env, "POST", "/clips") - 2,
        1,
        "one clipping submit"
    );
    let queries: Vec<Value> = env
        .api
        .moments_submissions()
        .iter()
        .map(|b| b["query"].clone())
        .collect();
    assert!(queries.contains(&"product demos".into()) && queries.contains(&"pricing".into()));
    assert!(env.jobs().iter().all(|j| j["state"] == "done"));
    let folders = std::fs::read_dir(env.clips().join("inbox"))
        .unwrap()
        .count();
    assert_eq!(folders, 3, "one folder per job");
}

#[test]
fn a_query_that_matches_nothing_is_done_with_no_clips_and_says_so() {
    let fake = api_v2(FakeConfig {
        moments_found: Some(0),
        ..quick()
    });
    let env = Env::with_config(fake, moments_config);
    env.run_ok(&["submit", VIDEO, "--preset", "demos"]);
    let printed = env.once();

    let job = env.jobs().into_iter().next().expect("one job");
    assert_eq!(job["state"], "done", "{job}");
    let reason = job["reason"].as_str().expect("a note on the done job");
    assert!(
        reason.contains("\"product demos\" matched nothing"),
        "{reason}"
    );
    assert!(
        job["units"].as_u64().unwrap() > 0,
        "the task is charged: {job}"
    );
    let table = env.run_ok(&["jobs"]);
    assert!(table.contains("matched nothing"), "{table}");
    let shown = env.run_ok(&["show", &job["id"].to_string()]);
    assert!(shown.contains("matched nothing"), "{shown}");

    let (folder, project) = inbox_project(&env);
    assert_eq!(project["clips"], serde_json::json!([]));
    assert!(project["note"]
        .as_str()
        .unwrap()
        .contains("matched nothing"));
    assert_eq!(project["task"]["query"], "product demos");
    assert_eq!(project["task"]["status"], "SUCCEEDED");
    let names = file_names(&folder);
    assert!(
        names.iter().all(|n| !n.ends_with(".mp4")),
        "no clip written: {names:?}"
    );
    // `/api/v2` wants the query and got it; nothing went to AI Clipping.
    assert_eq!(api_calls(&env, "POST", "/clips/find-moments"), 1);
    assert_eq!(api_calls(&env, "GET", "/clips/results/"), 0);
    assert_eq!(env.api.moments_submissions()[0]["query"], "product demos");
    assert_no_secrets(&env, &printed);
}

#[test]
fn moments_listed_late_are_not_taken_for_no_match() {
    // SUCCEEDED twice with an empty list before the moments appear: an
    // empty list must stay empty across the confirmation polls to be final.
    let env = Env::with_config(quick(), moments_config);
    env.api.misbehave(Misbehave {
        empty_clips_polls: 2,
        ..Misbehave::default()
    });
    env.run_ok(&["submit", VIDEO, "--preset", "demos"]);
    env.once();
    assert_eq!(env.api.faults("empty-clips").len(), 2);
    let job = env.jobs().into_iter().next().unwrap();
    assert_eq!(job["state"], "done", "{job}");
    assert!(job.get("reason").is_none(), "{job}");
    let (_, project) = inbox_project(&env);
    assert_eq!(project["clips"].as_array().unwrap().len(), 3);
}

#[test]
fn the_daemon_runs_find_moments_and_reports_no_match() {
    let fake = api_v2(FakeConfig {
        moments_found: Some(0),
        ..quick()
    });
    let addr = format!("127.0.0.1:{}", support::http::free_port());
    let listen = addr.clone();
    let env = Env::with_config(fake, move |url| {
        format!("{}\n[http]\nlisten = \"{listen}\"\n", moments_config(url))
    });
    let daemon = Daemon::start(&env);
    let out = env.run_ok(&["submit", VIDEO, "--preset", "pricing", "--wait"]);
    assert!(out.contains("done"), "{out}");
    daemon.expect("the job done", Duration::from_secs(20), || {
        env.jobs().first().is_some_and(|j| j["state"] == "done")
    });
    let job = env.jobs().into_iter().next().unwrap();
    assert!(
        job["reason"]
            .as_str()
            .unwrap()
            .contains("\"pricing\" matched nothing"),
        "{job}"
    );
    assert_eq!(env.api.moments_submissions()[0]["query"], "pricing");
    assert_eq!(api_calls(&env, "POST", "/clips/find-moments"), 1);
    // The dashboard's job page and the metrics say it too.
    let page = support::http::get(&addr, &format!("/jobs/{}", job["id"])).text();
    assert!(page.contains("matched nothing"), "{page}");
    let metrics = support::http::get(&addr, "/metrics").text();
    assert!(
        metrics
            .contains("clipwatch_api_requests_total{endpoint=\"moments_submit\",status=\"200\"} 1"),
        "{metrics}"
    );
    let log = daemon.stop();
    assert!(log.contains("matched nothing"), "{log}");
    assert_no_secrets(&env, &format!("{out}{log}{page}"));
}

#[test]
fn the_daemon_downloads_what_a_query_found() {
    // The daemon path with moments found; the query comes from the preset.
    let env = Env::with_config(api_v2(quick()), moments_config);
    let daemon = Daemon::start(&env);
    env.run_ok(&["submit", VIDEO, "--preset", "demos"]);
    daemon.expect("the job done", Duration::from_secs(20), || {
        env.jobs().first().is_some_and(|j| j["state"] == "done")
    });
    let (_, project) = inbox_project(&env);
    assert_eq!(project["clips"].as_array().unwrap().len(), 3);
    assert_eq!(project["task"]["query"], "product demos");
    let log = daemon.stop();
    assert_no_secrets(&env, &log);
}

#[test]
fn moments_presets_are_checked_before_anything_is_paid() {
    let long = format!("[presets.x]\nquery = \"{}\"\n", "word ".repeat(60));
    let cases = [
        (
            "[presets.x]\nmode = \"moments\"\n".to_string(),
            "preset \"x\" sets mode = \"moments\" but no query",
        ),
        ("[presets.x]\nquery = \"   \"\n".into(), "query is empty"),
        (
            "[presets.x]\nmode = \"moment\"\nquery = \"a\"\n".into(),
            "unknown mode \"moment\"",
        ),
        (
            "[presets.x]\nquery = \"a\"\n[presets.y]\nextends = \"x\"\nmode = \"clips\"\n".into(),
            "preset \"y\" sets mode = \"clips\"",
        ),
        (
            "[presets.x.extra]\nquery = \"a\"\n".into(),
            "query cannot be set in extra",
        ),
        (long, "keep it under 200"),
    ];
    for (toml, expected) in cases {
        let env = Env::with_config(quick(), |url| format!("{}\n{toml}", base_config(url)));
        let out = env.run(&["check", "--offline"]);
        let said = text(&out);
        assert!(!out.status.success(), "{toml}: {said}");
        assert!(said.contains(expected), "{toml}: {said}");
        assert!(said.contains("presets."), "names the preset's key: {said}");
    }
}

#[test]
fn a_feed_with_a_query_preset_makes_jobs_beside_a_clipping_feed() {
    use support::feed_server::{fixture, FeedServer, Route};
    const UC: &str = "UCtestchannel000000000AA";
    let feeds = FeedServer::start();
    feeds.route(
        "/feeds/videos.xml?playlist_id=UULFtestchannel000000000AA",
        Route::xml(fixture("youtube_channel.xml")),
    );
    let channel = format!("youtube = \"{UC}\"");
    let toml = format!(
        "{}{}\n[presets.demos]\nextends = \"metadata\"\nquery = \"product demos\"\n",
        feed_toml("Demos", &channel, "preset = \"demos\"\nbackfill = 1"),
        feed_toml("Clips", &channel, "preset = \"metadata\"\nbackfill = 1"),
    );
    let env = feeds_env(&feeds, &toml);
    env.once();

    // The same newest video, once per kind of task.
    let submitted = env.api.submissions();
    assert_eq!(submitted.len(), 2, "{submitted:?}");
    assert_eq!(submitted[0]["video_url"], submitted[1]["video_url"]);
    assert_eq!(api_calls(&env, "POST", "/clips/find-moments"), 1);
    assert_eq!(env.api.moments_submissions()[0]["query"], "product demos");

    let jobs = env.jobs();
    let done: Vec<&Value> = jobs.iter().filter(|j| j["state"] == "done").collect();
    assert_eq!(done.len(), 2, "{jobs:?}");
    let video_key = done
        .iter()
        .map(|j| j["key"].as_str().unwrap())
        .find(|k| !k.contains(" moments:"))
        .expect("the clipping job keeps the video's key");
    let moments = done
        .iter()
        .find(|j| j["key"].as_str().unwrap().contains(" moments:"))
        .expect("a Find Moments job");
    let moments_key = moments["key"].as_str().unwrap();
    assert!(
        moments_key.starts_with(&format!("{video_key} moments:")),
        "{moments_key}"
    );
    assert_eq!(moments["feed"], "Demos");
    // Backfill skips are recorded per kind too: each feed's own.
    let skipped_moments = jobs
        .iter()
        .filter(|j| j["state"] == "skipped" && j["key"].as_str().unwrap().contains(" moments:"))
        .count();
    assert!(skipped_moments > 0, "{jobs:?}");
}

#[test]
fn a_find_moments_task_survives_a_crash_and_is_polled_where_it_lives() {
    let env = Env::with_config(support::harness::phase(500), moments_config);
    let mut daemon = Daemon::start(&env);
    env.run_ok(&["submit", VIDEO, "--preset", "demos"]);
    // Killed once the task is stored, before it ends (three 500 ms phases).
    daemon.expect("the task stored", Duration::from_secs(20), || {
        env.jobs()
            .first()
            .is_some_and(|j| j["state"] == "processing")
    });
    daemon.kill();
    assert_eq!(env.jobs()[0]["state"], "processing");
    // The next run polls the same task at the Find Moments endpoint.
    env.once();
    let job = env.jobs().into_iter().next().unwrap();
    assert_eq!(job["state"], "done", "{job}");
    assert_eq!(job["submit_attempts"], 1);
    assert_eq!(api_calls(&env, "POST", "/clips"), 1, "submitted once");
    assert_eq!(api_calls(&env, "GET", "/clips/results/"), 0);
    let (_, project) = inbox_project(&env);
    assert_eq!(project["task"]["query"], "product demos");
    assert_eq!(project["clips"].as_array().unwrap().len(), 3);
}

#[test]
fn a_drop_subfolder_named_after_a_query_preset_finds_moments_in_links_and_files() {
    let env = Env::with_config(tiny_clips(), |url| {
        format!(
            "{}\n[drop]\ndir = \"inbox\"\nsettle = \"50ms\"\n",
            moments_config(url)
        )
    });
    let inbox = env.dir.path().join("inbox");
    std::fs::create_dir_all(inbox.join("demos")).unwrap();
    std::fs::write(inbox.join("demos/list.txt"), format!("{VIDEO}\n")).unwrap();
    std::fs::write(
        inbox.join("demos/talk.mp4"),
        b"not really a video, but bytes",
    )
    .unwrap();
    std::fs::write(inbox.join("top.txt"), format!("{VIDEO}\n")).unwrap();
    std::thread::sleep(Duration::from_millis(200));
    env.once();

    let jobs = env.jobs();
    assert_eq!(jobs.len(), 3, "{jobs:?}");
    assert!(jobs.iter().all(|j| j["state"] == "done"), "{jobs:?}");
    let keys: Vec<&str> = jobs.iter().map(|j| j["key"].as_str().unwrap()).collect();
    assert!(
        keys.contains(&VIDEO_KEY),
        "the top-level link is clipped: {keys:?}"
    );
    assert!(
        keys.iter().any(|k| k.starts_with(&moments_key_prefix())),
        "the link in demos/ finds moments: {keys:?}"
    );
    let file_job = keys
        .iter()
        .find(|k| k.starts_with("file:"))
        .expect("the dropped video's job");
    assert!(file_job.contains(" moments:"), "{file_job}");
    // The upload was checked against the file's hash within the key, and
    // the uploaded file searched with the query.
    assert_eq!(env.api.uploads().len(), 1);
    let sent = env.api.moments_submissions();
    assert_eq!(sent.len(), 2, "{sent:?}");
    assert!(sent.iter().all(|b| b["query"] == "product demos"));
    assert!(sent
        .iter()
        .any(|b| b["video_url"].as_str().unwrap().starts_with("upload://")));
    assert_eq!(
        api_calls(&env, "POST", "/clips") - 2,
        1,
        "one clipping submit"
    );
}
