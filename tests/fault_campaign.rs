//! Seeded fault campaign (issue 6): the real daemon works through a dozen
//! videos (URL submits, a dropped video file and a `submit FILE`) while a
//! seeded RNG switches the fake API, every 100–300 ms, to a random
//! combination of transient faults: 429 storms of both flavours (request
//! budget, running-task limit), 5xx bursts, a rejected key, connection
//! resets, hangs and slow drips past `[api] timeout`, huge and malformed
//! results, missing export links, refused export links, HTML pages and
//! truncated or dripping downloads, refused upload URLs. Then everything
//! heals and the daemon must finish on its own. The faults are one table
//! ([`FAULTS`]: kind, chance, injection, expected outcome) that one driver
//! ([`run_campaign`]) draws from and checks against.
//!
//! Ambiguous submits are among the faults: a submit that the fake processed
//! and then cut off without a reply (`"ambiguous-submit"`), a submit hang
//! past the timeout, and resets after the request left. With the default
//! `[api] on_ambiguous_submit = "fail"`, each fails its job saying a task may
//! exist. After healing, the campaign acts as a careful user: it looks in the
//! "library" (the fake's tasks) for that video; if a task exists, it was
//! paid and the job is left failed (the clips are in the WayinVideo
//! library); if none exists, `clipwatch retry` submits again.
//!
//! At the end: every video has exactly one paid task (the target of issue
//! 11); every job is done, or failed as an ambiguous submit whose task is in
//! the library; every done video is once in the output tree with the fake's
//! bytes, and never more tasks than `submit_attempts`; no `.part`; every
//! sidecar and `project.json` parses and matches its files; the daemon is
//! still up and exits 0 on SIGTERM; no secret shows anywhere. Each run must
//! have injected every fault kind at least once.
//!
//! `cargo test --test fault_campaign -- --nocapture` prints the figures;
//! `-- --ignored` runs the long variant (more seeds, more videos).

mod support;

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use support::harness::{
    assert_no_part, assert_no_secrets, base_config, projects, read_json, sha256_hex, text,
    wait_until, Daemon, Env,
};
use support::{Drip, FakeConfig, Misbehave, Recorded, Target};

/// One kind of fault: its name as counted from the fake's records, how
/// often a fault set draws it, how it is put in, and what it may do to a
/// job once everything heals.
struct Fault {
    kind: &'static str,
    /// Percent chance per fault set; `None`: only when forced (see [`draw`]).
    chance: Option<u64>,
    inject: fn(&mut SplitMix, &mut Misbehave),
    outcome: Outcome,
}

enum Outcome {
    /// Every job it meets ends done.
    Heals,
    /// A submit it met may have been processed: the job may fail with a
    /// reason saying this (and is then retried or left, see the module doc).
    MayFailSaying(&'static str),
}

const HEALS: Outcome = Outcome::Heals;
const AMBIGUOUS: Outcome = Outcome::MayFailSaying("a task may exist");

/// A row of [`FAULTS`].
const fn fault(
    kind: &'static str,
    chance: Option<u64>,
    inject: fn(&mut SplitMix, &mut Misbehave),
    outcome: Outcome,
) -> Fault {
    Fault {
        kind,
        chance,
        inject,
        outcome,
    }
}

/// The campaign's table, in the order a fault set draws it (the order of
/// the seeded draws is part of each seed's campaign). `"drip"` is split into
/// API replies and downloads; `"submit-hang"` is a hang that fell on a
/// submit: the fake processed it, so a task exists whose id never arrives,
/// unless the account's running-task limit answered it with a 429 that was
/// never sent either.
#[rustfmt::skip]
const FAULTS: [Fault; 17] = [
    fault("rejected-key",        Some(8),  |_, m| m.reject_key = true,                            HEALS),
    fault("rate-limited",        Some(8),  |_, m| m.rate_limited = true,                          HEALS),
    fault("concurrency-limited", Some(12), |_, m| m.concurrency_limited = true,                   HEALS),
    fault("server-error",        Some(30), |r, m| m.server_errors = r.range(1, 3) as u32,         HEALS),
    // A reset after the request left is an ambiguous submit.
    fault("reset",               Some(30), |r, m| m.reset_api_calls = r.range(1, 3) as u32,       AMBIGUOUS),
    fault("hang",                Some(20), |r, m| m.hang_api_calls = r.range(1, 2) as u32,        AMBIGUOUS),
    fault("drip-api",            Some(15), drip_results,                                          HEALS),
    fault("huge",                Some(15), huge_results,                                          HEALS),
    fault("malformed",           Some(25), |r, m| m.malformed_results = r.range(1, 2) as u32,     HEALS),
    fault("missing-links",       Some(25), |r, m| m.missing_export_links_polls = r.range(1, 3) as u32, HEALS),
    fault("refused-export",      Some(25), |_, m| m.export_links_refused_until_refresh = true,    HEALS),
    fault("html",                Some(12), |_, m| m.html_instead_of_mp4 = true,                   HEALS),
    fault("truncated",           Some(20), |_, m| m.truncate_downloads = true,                    HEALS),
    fault("drip-download",       Some(20), drip_downloads,                                        HEALS),
    fault("refused-upload",      Some(40), |r, m| m.refuse_uploads = r.range(1, 2) as u32,        HEALS),
    fault("ambiguous-submit",    Some(15), |_, m| m.cut_after_submit = 1,                         AMBIGUOUS),
    fault("submit-hang",         None,     hang_a_submit,                                         AMBIGUOUS),
];

/// A submit's 200 whose body drips past the timeout fails the job on
/// purpose (it may have paid): drips go to results calls only.
fn drip_results(_: &mut SplitMix, m: &mut Misbehave) {
    m.target = Target::Results;
    m.drip_api = Some(Drip {
        bytes: 8,
        every: Duration::from_millis(25),
    });
}

/// A huge 2xx submit reply fails the job on purpose (it may have paid):
/// huge replies go to results calls only.
fn huge_results(_: &mut SplitMix, m: &mut Misbehave) {
    m.target = Target::Results;
    m.huge_replies = 1;
    m.huge_bytes = 9 * 1024 * 1024;
}

fn drip_downloads(_: &mut SplitMix, m: &mut Misbehave) {
    m.drip_downloads = Some(Drip {
        bytes: 4 * 1024,
        every: Duration::from_millis(40),
    });
}

/// Every call a submit, hanging (no huge or dripping reply in its way).
fn hang_a_submit(_: &mut SplitMix, m: &mut Misbehave) {
    m.target = Target::Submit;
    m.hang_api_calls = m.hang_api_calls.max(1);
    m.huge_replies = 0;
    m.drip_api = None;
}

/// What a failed job's reason may say: the outcomes of the table's faults.
fn may_fail_saying() -> Vec<&'static str> {
    FAULTS
        .iter()
        .filter_map(|f| match f.outcome {
            Outcome::MayFailSaying(reason) => Some(reason),
            Outcome::Heals => None,
        })
        .collect()
}

const SUBMIT_PATH: &str = "/open/v2/clips";

struct Campaign {
    seed: u64,
    /// URL videos; two local video files come on top.
    url_videos: usize,
    /// Faults run at least this long, and until every kind was injected.
    min_chaos: Duration,
    /// The campaign fails if not every kind was injected by then.
    max_chaos: Duration,
}

#[test]
fn quick_fault_campaign() {
    run_campaign(Campaign {
        seed: 0x5eed_0001,
        url_videos: 10,
        min_chaos: Duration::from_secs(8),
        // The campaign ends as soon as every kind was met (usually 8-15 s);
        // the ceiling only bounds a run on a loaded machine, where a task
        // whose polls keep failing backs off for seconds between polls
        // (failed once at 25 s with the download faults not yet met).
        max_chaos: Duration::from_secs(60),
    });
}

#[test]
#[ignore = "long: a few minutes"]
fn long_fault_campaign() {
    for seed in [0x5eed_0002, 0x5eed_0003, 0x5eed_0004] {
        run_campaign(Campaign {
            seed,
            url_videos: 22,
            min_chaos: Duration::from_secs(20),
            max_chaos: Duration::from_secs(60),
        });
    }
}

/// SplitMix64: small, deterministic, good enough to draw faults.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// In `lo..=hi`.
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo + 1)
    }

    fn percent(&mut self, p: u64) -> bool {
        self.next() % 100 < p
    }
}

/// A random combination of transient faults: each row of [`FAULTS`] on
/// with its chance. When `force` is not empty (the campaign is half over
/// and these kinds were not injected yet), only the kinds in it are on, so
/// that the jobs left get to meet them instead of backing off from
/// everything else; the draws are made all the same.
fn draw(rng: &mut SplitMix, force: &[&str]) -> Misbehave {
    let mut m = Misbehave {
        target: match rng.range(0, 3) {
            0 => Target::Any,
            1 => Target::Submit,
            2 => Target::Results,
            _ => Target::UploadInit,
        },
        ..Misbehave::default()
    };
    for fault in &FAULTS {
        let drawn = fault.chance.is_some_and(|p| rng.percent(p));
        let on = if force.is_empty() {
            drawn
        } else {
            force.contains(&fault.kind)
        };
        if on {
            (fault.inject)(rng, &mut m);
        }
    }
    m
}

/// Whether a fault still to be forced only happens on a submit.
fn force_needs_submits(force: &[&str]) -> bool {
    force.iter().any(|k| {
        matches!(
            *k,
            "concurrency-limited" | "ambiguous-submit" | "submit-hang"
        )
    })
}

/// The campaign's name for the fault a request met.
fn kind_of(r: &Recorded) -> Option<&'static str> {
    match r.fault? {
        "drip" if r.path.starts_with("/files/") => Some("drip-download"),
        "drip" => Some("drip-api"),
        "cut" => Some("ambiguous-submit"),
        other => Some(other),
    }
}

fn injected_per_kind(env: &Env) -> BTreeMap<&'static str, usize> {
    let mut counts: BTreeMap<&'static str, usize> = FAULTS.iter().map(|f| (f.kind, 0)).collect();
    for r in env.api.requests() {
        if let Some(kind) = kind_of(&r) {
            *counts.entry(kind).or_default() += 1;
        }
        if r.fault == Some("hang") && r.method == "POST" && r.path == SUBMIT_PATH {
            *counts.entry("submit-hang").or_default() += 1;
        }
    }
    counts
}

/// Eleven-character ids that are valid YouTube video ids.
fn video_url(seed: u64, n: usize) -> String {
    format!("https://youtu.be/fc{:04x}v{n:04}", seed & 0xffff)
}

/// Distinct pseudo-random "video" bytes.
fn local_video(seed: u64, n: u64) -> Vec<u8> {
    let mut rng = SplitMix(seed ^ (n << 32));
    (0..200_000 / 8)
        .flat_map(|_| rng.next().to_le_bytes())
        .collect()
}

fn submit(env: &Env, what: &str, seen: &mut String) {
    *seen += &env.run_ok(&["submit", what]);
}

fn run_campaign(campaign: Campaign) {
    let seed = campaign.seed;
    let mut rng = SplitMix(seed);
    let env = Env::with_config(
        FakeConfig {
            phase: Duration::from_millis(150),
            ..FakeConfig::default()
        },
        |url| {
            format!(
                "{}\n[drop]\ndir = \"inbox\"\nsettle = \"200ms\"\nrescan = \"1s\"\n",
                base_config(url).replace("timeout = \"5s\"", "timeout = \"400ms\"")
            )
        },
    );
    let inbox = env.dir.path().join("inbox");
    std::fs::create_dir_all(&inbox).unwrap();
    let locals: Vec<Vec<u8>> = (0..2).map(|n| local_video(seed, n)).collect();
    let daemon = Daemon::start(&env);
    let mut seen = String::new();

    // Most videos now, the rest (and the second file) half way through.
    let early = campaign.url_videos * 3 / 4;
    let mut urls: Vec<String> = (0..campaign.url_videos)
        .map(|n| video_url(seed, n))
        .collect();
    for url in &urls[..early] {
        submit(&env, url, &mut seen);
    }
    let staged = env.dir.path().join("talk one.mp4");
    std::fs::write(&staged, &locals[0]).unwrap();
    std::fs::rename(&staged, inbox.join("talk one.mp4")).unwrap();

    let started = Instant::now();
    let mut epochs = 0;
    let mut late_submitted = false;
    loop {
        let elapsed = started.elapsed();
        let counts = injected_per_kind(&env);
        let missing: Vec<&str> = FAULTS
            .iter()
            .map(|f| f.kind)
            .filter(|k| counts[k] == 0)
            .collect();
        if elapsed >= campaign.min_chaos && missing.is_empty() {
            break;
        }
        assert!(
            elapsed < campaign.max_chaos,
            "seed {seed:#x}: kinds never injected in {elapsed:?}: {missing:?}\n{}",
            diagnose(&env, &daemon)
        );
        let half_way = elapsed >= campaign.min_chaos / 2;
        let force = if half_way { missing } else { Vec::new() };
        env.api.misbehave(draw(&mut rng, &force));
        epochs += 1;
        if half_way && !late_submitted {
            late_submitted = true;
            for url in &urls[early..] {
                submit(&env, url, &mut seen);
            }
            let file = env.dir.path().join("talk two.mp4");
            std::fs::write(&file, &locals[1]).unwrap();
            submit(&env, file.to_str().unwrap(), &mut seen);
        }
        // Faults on submits need submits: when every video has ended while
        // a submit fault was never met, one more video gives it its chance
        // (the pipeline may be quick enough to submit them all early).
        if late_submitted
            && force_needs_submits(&force)
            && !env
                .jobs()
                .iter()
                .any(|j| j["state"] == "queued" || j["state"] == "submitting")
        {
            let url = video_url(seed, urls.len());
            submit(&env, &url, &mut seen);
            urls.push(url);
        }
        std::thread::sleep(Duration::from_millis(rng.range(100, 300)));
    }
    let chaos = started.elapsed();
    env.api.misbehave(Misbehave::default());
    let healed = Instant::now();

    let videos = urls.len() + locals.len();
    let ended = |env: &Env| {
        env.jobs()
            .iter()
            .all(|j| j["state"] == "done" || j["state"] == "failed")
    };
    let finished = wait_until(Duration::from_secs(120), || {
        env.jobs().len() == videos && ended(&env)
    });
    assert!(
        finished,
        "seed {seed:#x}: not finished 120 s after healing\n{}",
        diagnose(&env, &daemon)
    );

    // Which video each task belongs to: URL videos by their 11-character
    // id, uploads by content.
    let tasks_by_video = |env: &Env| -> (HashMap<String, String>, BTreeMap<String, usize>) {
        let mut upload_owner: HashMap<String, String> = HashMap::new();
        for (identity, sha, ..) in env.api.uploads() {
            let n = locals
                .iter()
                .position(|l| sha256_hex(l) == sha)
                .unwrap_or_else(|| panic!("an upload matches no local video: {identity}"));
            upload_owner.insert(identity, format!("local{n}"));
        }
        let mut task_owner = HashMap::new();
        let mut tasks_of = BTreeMap::new();
        for (task, body) in env.api.task_ids().iter().zip(env.api.submissions()) {
            let url = body["video_url"].as_str().unwrap();
            let video = if url.starts_with("upload://") {
                upload_owner
                    .get(url)
                    .cloned()
                    .unwrap_or_else(|| panic!("a submit names an upload never stored: {url}"))
            } else {
                url[url.len() - 11..].to_string()
            };
            *tasks_of.entry(video.clone()).or_default() += 1;
            task_owner.insert(task.clone(), video);
        }
        (task_owner, tasks_of)
    };
    // The job's video, named the same way.
    let video_of = |job: &serde_json::Value| -> String {
        let url = job["url"].as_str().unwrap();
        if let Some(u) = urls.iter().find(|u| url.contains(&u[u.len() - 11..])) {
            return u[u.len() - 11..].to_string();
        }
        let bytes = std::fs::read(url).unwrap_or_else(|e| panic!("{url}: {e}"));
        let n = locals
            .iter()
            .position(|l| *l == bytes)
            .unwrap_or_else(|| panic!("job {url} is no known video"));
        format!("local{n}")
    };

    // Ambiguous submits failed their jobs. A careful user looks in the
    // library: a task there was paid (left as it is); none: retry.
    let (_, tasks_before) = tasks_by_video(&env);
    let mut in_library: Vec<String> = Vec::new();
    let mut retried = 0;
    for job in env.jobs().iter().filter(|j| j["state"] == "failed") {
        let reason = job["reason"].as_str().unwrap();
        assert!(
            may_fail_saying().iter().any(|said| reason.contains(said)),
            "seed {seed:#x}: only ambiguous submits may fail a job: {job}"
        );
        let video = video_of(job);
        if tasks_before.contains_key(&video) {
            in_library.push(video);
        } else {
            seen += &env.run_ok(&["retry", &job["id"].to_string()]);
            retried += 1;
        }
    }
    let in_library_count = in_library.len();
    let finished = wait_until(Duration::from_secs(120), || {
        let jobs = env.jobs();
        jobs.iter().filter(|j| j["state"] == "done").count() == videos - in_library_count
            && projects(&env.clips()).len() == videos - in_library_count
    });
    assert!(
        finished,
        "seed {seed:#x}: retried jobs not done 120 s later\n{}",
        diagnose(&env, &daemon)
    );
    let jobs = env.jobs();
    let settle = healed.elapsed();
    let (task_owner, tasks_of) = tasks_by_video(&env);

    // Exactly one paid task per video; every job done, or failed with its
    // task in the library.
    assert_eq!(jobs.len(), videos, "{jobs:#?}");
    let mut attempts_total = 0;
    let mut local_jobs = 0;
    for job in &jobs {
        let video = video_of(job);
        if video.starts_with("local") {
            local_jobs += 1;
        }
        let tasks = tasks_of.get(&video).copied().unwrap_or(0);
        assert_eq!(
            tasks, 1,
            "seed {seed:#x}: {video} has {tasks} paid tasks: {job}"
        );
        let attempts = job["submit_attempts"].as_u64().unwrap() as usize;
        attempts_total += attempts;
        assert!(
            tasks <= attempts,
            "{video}: {tasks} tasks for {attempts} recorded attempts"
        );
        if in_library.contains(&video) {
            assert_eq!(job["state"], "failed", "{job}");
            continue;
        }
        assert_eq!(job["state"], "done", "{job}");
        let task = job["task_id"].as_str().unwrap();
        assert_eq!(
            task_owner.get(task),
            Some(&video),
            "job's task {task} is not its video's: {job}"
        );
    }
    assert_eq!(local_jobs, locals.len(), "{jobs:#?}");
    assert_eq!(
        tasks_of.len(),
        videos,
        "a task for every video: {tasks_of:?}"
    );

    // The output tree: one folder per video, its own task, the fake's bytes.
    let mut folders_of: BTreeMap<String, usize> = BTreeMap::new();
    for project in check_output_tree(&env) {
        let video = task_owner[&project].clone();
        *folders_of.entry(video).or_default() += 1;
    }
    assert_eq!(
        folders_of.len(),
        videos - in_library_count,
        "{folders_of:?}"
    );
    assert!(folders_of.values().all(|n| *n == 1), "{folders_of:?}");

    // Still up; a clean stop; no secret anywhere.
    seen += &daemon.stop();
    seen += &text(&env.run(&["jobs"]));
    assert_no_secrets(&env, &seen);

    let counts = injected_per_kind(&env);
    let missing: Vec<_> = counts.iter().filter(|(_, n)| **n == 0).collect();
    assert!(missing.is_empty(), "not injected: {missing:?}");
    println!(
        "fault campaign seed {seed:#x}: {videos} videos ({} local), {epochs} fault sets over {:.1} s, \
         all settled {:.1} s after healing; {} API calls, {} 429s in all; faults injected per kind {counts:?}; \
         paid tasks per video: exactly 1 for all {videos}; ambiguous submits failed {} jobs: \
         {retried} had no task and were retried (done), {in_library_count} had their task in the \
         library and were left failed; {attempts_total} submit attempts for {videos} jobs",
        locals.len(),
        chaos.as_secs_f64(),
        settle.as_secs_f64(),
        env.api
            .requests()
            .iter()
            .filter(|r| r.path.starts_with("/open/v2/"))
            .count(),
        env.api.count_429(),
        retried + in_library_count,
    );
}

/// A short account of the jobs; the daemon's log is kept in the temp dir's
/// parent as `fault-campaign-<pid>.log` for reading.
fn diagnose(env: &Env, daemon: &Daemon) -> String {
    let kept = std::env::temp_dir().join(format!("fault-campaign-{}.log", std::process::id()));
    let _ = std::fs::write(&kept, daemon.log());
    let mut out = format!("daemon log kept at {}\n", kept.display());
    for job in env.jobs() {
        out += &format!(
            "job {} {} task {} attempts {} retry_at {} last_error {}\n",
            job["id"],
            job["state"],
            job["task_id"],
            job["submit_attempts"],
            job["retry_at"],
            job["last_error"]
        );
    }
    out += &format!("faults so far {:?}\n", injected_per_kind(env));
    out
}

/// No part files; every `project.json` and sidecar is valid JSON whose files
/// exist with the bytes the API served, and nothing else is in the folder.
/// Returns the task id of each folder.
fn check_output_tree(env: &Env) -> Vec<String> {
    assert_no_part(&env.clips());
    let mut tasks = Vec::new();
    for project_path in &projects(&env.clips()) {
        let folder = project_path.parent().unwrap();
        let project = read_json(project_path);
        let task = project["task"]["id"].as_str().unwrap().to_string();
        let clips = project["clips"].as_array().unwrap();
        assert_eq!(clips.len(), env.api.config().clips, "{project}");
        for clip in clips {
            let sidecar = read_json(&folder.join(clip["files"]["sidecar"].as_str().unwrap()));
            assert_eq!(sidecar["task"]["id"], task.as_str());
            let idx = sidecar["idx"].as_u64().unwrap() as usize;
            let video = sidecar["files"]["video"].as_str().unwrap_or_else(|| {
                panic!("clip {idx} in {} has no video: {sidecar}", folder.display())
            });
            let video = folder.join(video);
            let bytes = std::fs::read(&video).unwrap();
            assert!(
                bytes == env.api.clip_bytes(&task, idx),
                "{} is not clip {idx} of {task}",
                video.display()
            );
        }
        let present = std::fs::read_dir(folder).unwrap().count();
        assert_eq!(
            present,
            // Three files per clip, the four editor exports and project.json.
            clips.len() * 3 + 4 + 1,
            "no orphan files in {}",
            folder.display()
        );
        tasks.push(task);
    }
    tasks
}
