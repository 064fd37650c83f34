//! End to end: the real daemon against network faults from the fake API
//! (issue 6) — connection resets, replies that hang past `[api] timeout`,
//! slow-drip bodies, malformed JSON on a 200, huge bodies and presigned upload
//! URLs that refuse.
//!
//! One table: each row is a fault (what the fake does, and when it heals)
//! and what a careful user expects of it; [`run`] drives every row the same
//! way: environment → fault → daemon (or `submit --wait`) → wait for the job
//! → assertions → no secret. Each row proves its fault was hit (the fake
//! records it in `Recorded::fault`), then checks that the job ends done once
//! the fault heals (or failed with a clear reason when it cannot, as after a
//! submit that may have been processed, and then done after `retry`), no
//! second task unless `on_ambiguous_submit = "resubmit"` chose it, the files
//! are the fake's bytes, no `.part` is left, the daemon keeps running, what
//! happened is in the log, and no secret shows.

mod support;

use std::time::Duration;

use serde_json::Value;
use support::harness::{
    all_files, assert_clip_videos, assert_no_part, assert_no_secrets, base_config, peak_rss, phase,
    read_json, wait_until, Daemon, Env, VIDEO,
};
use support::{Drip, Misbehave, Target};

const RESULTS: &str = "/open/v2/clips/results/";
const SUBMIT: (&str, &str) = ("POST", "/open/v2/clips");

/// One fault and what must come of it.
#[derive(Clone, Copy)]
struct Case {
    /// `[api] timeout`.
    timeout: &'static str,
    /// `[api] on_ambiguous_submit = "resubmit"` instead of the default.
    resubmit: bool,
    /// How long each phase of a task takes at the fake, in ms.
    phase_ms: u64,
    /// How the video reaches clipwatch.
    submit: Submit,
    /// The fault, in place before anything is submitted.
    fault: fn() -> Misbehave,
    /// What happens to the fault while the job runs.
    then: Then,
    /// The requests that met the fault.
    hits: Hits,
    outcome: Outcome,
    /// Paid tasks for the video once the job ended.
    paid: usize,
    /// `submit_attempts` once the job ended.
    attempts: u64,
    /// The log (or the command's output) says so.
    says: Option<&'static str>,
    /// The daemon's peak RSS stays below this many MiB.
    peak_mib: Option<u64>,
    /// After a failed job: the user retries (after the API heals).
    retry: Option<Retry>,
}

#[derive(Clone, Copy)]
enum Submit {
    /// `submit VIDEO` to a running `clipwatch -v run`.
    UrlToDaemon,
    /// `clipwatch -v submit "My Talk.mp4" --wait`, no daemon: an upload.
    FileAndWait { upload_urls: usize },
}

#[derive(Clone, Copy)]
enum Then {
    /// The fault stays as it is (counted faults run out by themselves).
    Stays,
    /// Once the task exists, the fault becomes this one.
    SwitchOnTask(fn() -> Misbehave),
    /// Once the fake recorded this fault so many times, the API heals.
    HealAfter(&'static str, usize),
}

#[derive(Clone, Copy)]
struct Hits {
    /// The fake's name for the fault (`Recorded::fault`).
    fault: &'static str,
    count: Count,
    at: At,
}

#[derive(Clone, Copy)]
enum Count {
    Exactly(usize),
    AtLeast(usize),
}

/// Where the requests that met the fault went.
#[derive(Clone, Copy)]
enum At {
    Results,
    Submit,
    /// The first on the submit, the others on results.
    SubmitThenResults,
    Downloads,
    Anywhere,
}

#[derive(Clone, Copy)]
enum Outcome {
    /// Done with this task's three clips.
    Done { task: &'static str },
    /// Failed, the reason saying all of these; nothing written.
    Failed { reason: &'static [&'static str] },
}

#[derive(Clone, Copy)]
struct Retry {
    /// The API heals before the retry.
    heal: bool,
    paid: usize,
    attempts: u64,
    task: &'static str,
}

/// The defaults rows start from.
const ROW: Case = Case {
    timeout: "5s",
    resubmit: false,
    phase_ms: 60,
    submit: Submit::UrlToDaemon,
    fault: Misbehave::default,
    then: Then::Stays,
    hits: Hits {
        fault: "",
        count: Count::Exactly(0),
        at: At::Anywhere,
    },
    outcome: Outcome::Done { task: "proj_1" },
    paid: 1,
    attempts: 1,
    says: None,
    peak_mib: None,
    retry: None,
};

/// One `#[test]` per row of the table, each run by [`run`].
macro_rules! fault_table {
    ($($(#[$doc:meta])* $name:ident => $case:expr;)*) => {
        $($(#[$doc])* #[test] fn $name() { run(&$case); })*
    };
}

fault_table! {
    // Long enough phases that the fault can switch before the task ends. A
    // reset after the submit left is ambiguous: with the default policy the
    // job would fail (see a_hung_submit_fails_the_job_saying_a_task_may_exist);
    // this row is about retrying, so it chooses "resubmit".
    connection_resets_on_submit_and_polls_are_retried_with_one_task => Case {
        resubmit: true,
        phase_ms: 400,
        fault: || Misbehave { reset_api_calls: 1, target: Target::Submit, ..Misbehave::default() },
        then: Then::SwitchOnTask(|| Misbehave {
            reset_api_calls: 2,
            target: Target::Results,
            ..Misbehave::default()
        }),
        hits: Hits { fault: "reset", count: Count::Exactly(3), at: At::SubmitThenResults },
        // A reset submit was never processed: the retry made the only task;
        // both attempts are recorded.
        attempts: 2,
        says: Some("will retry"),
        ..ROW
    };
    hung_polls_are_abandoned_at_the_timeout_and_polled_again => Case {
        timeout: "300ms",
        fault: || Misbehave { hang_api_calls: 2, target: Target::Results, ..Misbehave::default() },
        hits: Hits { fault: "hang", count: Count::Exactly(2), at: At::Results },
        says: Some("timed out"),
        ..ROW
    };
    // The hung submit created a task before hanging: the reply was lost after
    // the request left, so clipwatch cannot know whether it was processed.
    // By default (on_ambiguous_submit = "fail") it does not submit again: the
    // job fails saying a task may exist, and one task is all that was paid.
    // The user checked the library and wants it clipped: retry submits again.
    a_hung_submit_fails_the_job_saying_a_task_may_exist => Case {
        timeout: "300ms",
        fault: || Misbehave { hang_api_calls: 1, target: Target::Submit, ..Misbehave::default() },
        hits: Hits { fault: "hang", count: Count::Exactly(1), at: At::Submit },
        outcome: Outcome::Failed {
            reason: &["timed out", "a task may exist", "WayinVideo library", "clipwatch retry 1"],
        },
        retry: Some(Retry { heal: false, paid: 2, attempts: 2, task: "proj_2" }),
        ..ROW
    };
    // on_ambiguous_submit = "resubmit": the old behaviour, by choice. The
    // hung submit's task and the retry's: both attempts are recorded, and
    // the task whose id arrived is the job's.
    a_hung_submit_is_resubmitted_when_the_policy_says_so => Case {
        timeout: "300ms",
        resubmit: true,
        fault: || Misbehave { hang_api_calls: 1, target: Target::Submit, ..Misbehave::default() },
        hits: Hits { fault: "hang", count: Count::Exactly(1), at: At::Submit },
        outcome: Outcome::Done { task: "proj_2" },
        paid: 2,
        attempts: 2,
        says: Some("resubmit"),
        ..ROW
    };
    // ~1.5 kB at 8 bytes per 25 ms: several seconds, far past 300 ms.
    a_results_reply_dripping_past_the_timeout_is_abandoned_until_it_heals => Case {
        timeout: "300ms",
        fault: || Misbehave {
            drip_api: Some(Drip { bytes: 8, every: Duration::from_millis(25) }),
            target: Target::Results,
            ..Misbehave::default()
        },
        then: Then::HealAfter("drip", 2),
        hits: Hits { fault: "drip", count: Count::AtLeast(2), at: At::Results },
        says: Some("timed out"),
        ..ROW
    };
    // 64 KiB at 4 KiB per 40 ms: 640 ms per clip, longer than the 300 ms API
    // timeout, but no gap between bytes is longer than it. Each clip is
    // dripped once, not restarted.
    slowly_dripping_downloads_that_keep_moving_complete => Case {
        timeout: "300ms",
        fault: || Misbehave {
            drip_downloads: Some(Drip { bytes: 4 * 1024, every: Duration::from_millis(40) }),
            ..Misbehave::default()
        },
        hits: Hits { fault: "drip", count: Count::Exactly(3), at: At::Downloads },
        ..ROW
    };
    malformed_results_are_polled_again => Case {
        fault: || Misbehave { malformed_results: 2, ..Misbehave::default() },
        hits: Hits { fault: "malformed", count: Count::Exactly(2), at: At::Results },
        says: Some("not JSON"),
        ..ROW
    };
    // Every submit is accepted (the task is created) and answered 200 with
    // cut-off JSON: the id is lost. Each automatic resubmit would pay again,
    // so it is paid once, not once per attempt. The API heals; the user
    // decides to submit again.
    a_malformed_submit_reply_fails_the_job_instead_of_paying_again => Case {
        fault: || Misbehave { malformed_submits: u32::MAX, ..Misbehave::default() },
        hits: Hits { fault: "malformed", count: Count::Exactly(1), at: At::Submit },
        outcome: Outcome::Failed { reason: &["not JSON", "may exist", "clipwatch retry 1"] },
        retry: Some(Retry { heal: true, paid: 2, attempts: 2, task: "proj_2" }),
        ..ROW
    };
    // The submit is processed (the task exists) and answered 200, but the
    // body drips past the timeout: the status said yes, the id is lost.
    a_submit_reply_cut_off_after_its_200_fails_the_job_instead_of_paying_again => Case {
        fault: || Misbehave {
            target: Target::Submit,
            drip_api: Some(Drip { bytes: 1, every: Duration::from_millis(100) }),
            ..Misbehave::default()
        },
        hits: Hits { fault: "drip", count: Count::Exactly(1), at: At::Submit },
        outcome: Outcome::Failed { reason: &["cut off", "may exist"] },
        ..ROW
    };
    // Both 256 MiB replies are served; the daemon reads neither whole.
    a_huge_results_reply_is_cut_off_and_memory_stays_bounded => Case {
        fault: || Misbehave {
            huge_replies: 2,
            huge_bytes: 256 * 1024 * 1024,
            target: Target::Results,
            ..Misbehave::default()
        },
        hits: Hits { fault: "huge", count: Count::Exactly(2), at: At::Results },
        says: Some("not read further"),
        peak_mib: Some(100),
        ..ROW
    };
    // One upload URL per refusal, then the one that worked.
    refused_upload_urls_are_replaced_with_fresh_ones => Case {
        submit: Submit::FileAndWait { upload_urls: 3 },
        fault: || Misbehave { refuse_uploads: 2, ..Misbehave::default() },
        hits: Hits { fault: "refused-upload", count: Count::Exactly(2), at: At::Anywhere },
        says: Some("asking for a new upload URL"),
        ..ROW
    };
}

/// The driver: every row runs through these steps.
fn run(case: &Case) {
    let env = environment(case);
    env.api.misbehave((case.fault)());
    let (mut daemon, mut seen, video) = submit(&env, case.submit);
    let log = || daemon.as_ref().map(Daemon::log).unwrap_or_default();
    meet_the_fault(&env, case.then, &log);
    let job = env.wait_job_end(1, 0, Duration::from_secs(40));
    if let (Some(bound), Some(daemon)) = (case.peak_mib, &daemon) {
        let peak = peak_rss(daemon.pid()) / (1024 * 1024);
        eprintln!("peak RSS {peak} MiB");
        assert!(peak < bound, "the daemon's peak RSS was {peak} MiB");
    }
    check_outcome(&env, &job, case.outcome, &log());
    check_hits(&env, case.hits);
    assert_eq!(env.api.submissions_for(&video), case.paid, "paid tasks");
    assert_eq!(job["submit_attempts"], case.attempts, "{job}");
    if let Some(retry) = case.retry {
        seen += &retry_and_check(&env, retry, &log());
    }
    if let Some(daemon) = daemon.take() {
        seen += &daemon.stop();
    }
    if let Some(says) = case.says {
        assert!(seen.contains(says), "the log says {says:?}: {seen}");
    }
    assert_no_secrets(&env, &seen);
}

fn environment(case: &Case) -> Env {
    let mut api = format!("timeout = \"{}\"", case.timeout);
    if case.resubmit {
        api += "\non_ambiguous_submit = \"resubmit\"";
    }
    Env::with_config(phase(case.phase_ms), |url| {
        base_config(url).replace("timeout = \"5s\"", &api)
    })
}

/// Submits the video; returns the daemon (if one runs), what was printed
/// and the video's name at the API.
fn submit(env: &Env, how: Submit) -> (Option<Daemon>, String, String) {
    match how {
        Submit::UrlToDaemon => {
            let daemon = Daemon::start(env);
            let seen = env.run_ok(&["submit", VIDEO]);
            (Some(daemon), seen, VIDEO.to_string())
        }
        Submit::FileAndWait { upload_urls } => {
            let file = env.dir.path().join("My Talk.mp4");
            let bytes: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
            std::fs::write(&file, &bytes).unwrap();
            let seen = env.run_ok(&["-v", "submit", file.to_str().unwrap(), "--wait"]);
            assert_eq!(
                env.api.count("POST", "/open/v2/upload/single-file"),
                upload_urls,
                "upload URLs asked for"
            );
            let uploads = env.api.uploads();
            assert_eq!(uploads.len(), 1, "{uploads:?}");
            assert_eq!(uploads[0].2, bytes.len() as u64);
            (None, seen, uploads[0].0.clone())
        }
    }
}

fn meet_the_fault(env: &Env, then: Then, log: &dyn Fn() -> String) {
    let api = &env.api;
    match then {
        Then::Stays => {}
        Then::SwitchOnTask(next) => {
            let task = wait_until(Duration::from_secs(20), || !api.task_ids().is_empty());
            assert!(task, "no task: {}", log());
            api.misbehave(next());
        }
        Then::HealAfter(fault, times) => {
            let met = wait_until(Duration::from_secs(20), || api.faults(fault).len() >= times);
            assert!(met, "{fault} met {times} times: {}", log());
            api.misbehave(Misbehave::default());
        }
    }
}

fn check_outcome(env: &Env, job: &Value, outcome: Outcome, log: &str) {
    match outcome {
        Outcome::Done { task } => {
            assert_eq!(job["state"], "done", "{job}\n{log}");
            assert_eq!(job["task_id"], task, "{job}");
            assert_clips_of(env, task);
        }
        Outcome::Failed { reason } => {
            assert_eq!(job["state"], "failed", "{job}\n{log}");
            let said = job["reason"].as_str().unwrap();
            for words in reason {
                assert!(said.contains(words), "{words:?} in {said}");
            }
            assert!(all_files(&env.clips()).is_empty(), "nothing written");
        }
    }
}

fn check_hits(env: &Env, expected: Hits) {
    let hits: Vec<(String, String)> = env
        .api
        .faults(expected.fault)
        .into_iter()
        .map(|r| (r.method, r.path))
        .collect();
    match expected.count {
        Count::Exactly(n) => assert_eq!(hits.len(), n, "{hits:?}"),
        Count::AtLeast(n) => assert!(hits.len() >= n, "{hits:?}"),
    }
    let submit = |(m, p): &(String, String)| (m.as_str(), p.as_str()) == SUBMIT;
    let results = |(_, p): &(String, String)| p.starts_with(RESULTS);
    let fine = match expected.at {
        At::Results => hits.iter().all(results),
        At::Submit => hits.iter().all(submit),
        At::SubmitThenResults => {
            submit(&hits[0]) && hits[1..].iter().all(|h| h.0 == "GET" && results(h))
        }
        At::Downloads => hits.iter().all(|(_, p)| p.starts_with("/files/export/")),
        At::Anywhere => true,
    };
    assert!(fine, "{} met in the wrong places: {hits:?}", expected.fault);
}

/// `clipwatch retry 1` after a failed job; returns what it printed and
/// what `show 1` prints after.
fn retry_and_check(env: &Env, retry: Retry, log: &str) -> String {
    if retry.heal {
        env.api.misbehave(Misbehave::default());
    }
    let mut seen = env.run_ok(&["retry", "1"]);
    let job = env.wait_job_end(1, retry.attempts, Duration::from_secs(40));
    assert_eq!(job["state"], "done", "{job}\n{log}");
    assert_eq!(env.api.submissions_for(VIDEO), retry.paid);
    assert_eq!(job["submit_attempts"], retry.attempts);
    assert_eq!(job["task_id"], retry.task);
    assert_clips_of(env, retry.task);
    seen += &env.run_ok(&["show", "1"]);
    seen
}

/// The three clips of `task` are in the one folder with the fake's bytes,
/// `project.json` is there and no `.part` is left anywhere.
fn assert_clips_of(env: &Env, task: &str) {
    let folder = env.only_folder("inbox");
    assert_clip_videos(env, &folder, task, 0..3);
    let project = read_json(&folder.join("project.json"));
    assert_eq!(project["task"]["id"], task);
    assert_no_part(env.dir.path());
}
