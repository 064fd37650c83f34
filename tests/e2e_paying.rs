//! End to end: paying twice or for nothing (issue 11 items 4–7 and 13,
//! issue 12 items 4–5). The real binary against the fake API: ambiguous
//! submits, an account out of units, `check` against a wrong base URL, job
//! numbers across restarts, a job missing from the work list.

mod support;

use std::time::Duration;

use serde_json::Value;
use support::harness::{
    assert_no_secrets, base_config, quick, text, wait_until, Daemon, Env, Tmpfs, VIDEO,
};
use support::{Misbehave, Target};

/// Polls `jobs --json` until the job numbered `id` is done or failed.
fn wait_job_end(env: &Env, id: u64) -> Value {
    env.wait_job_end(id, 0, Duration::from_secs(40))
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
    env.run_ok(&["submit", VIDEO]);
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

// ---- item 7: `check` against a wrong base URL -------------------------------

#[test]
fn check_accepts_the_key_only_when_the_api_itself_answered() {
    // The right prefix: the fake answers "task not found" in the API's own
    // envelope, after checking the key.
    let env = Env::new(quick());
    let out = env.run_code(&["check"], 0);
    assert!(out.contains("API key: accepted"), "{out}");

    // A wrong prefix on the right host: the gateway's 404 proves nothing.
    let wrong_prefix = Env::with_config(quick(), |url| {
        base_config(&url.replace("/open/v2", "/api/v1"))
    });
    let out = wrong_prefix.run(&["check"]);
    let shown = text(&out);
    assert_eq!(out.status.code(), Some(78), "{shown}");
    assert!(!shown.contains("accepted"), "{shown}");
    assert!(
        shown.contains("/api/v1/clips/results/") && shown.contains("not the WayinVideo API"),
        "names the URL tried: {shown}"
    );
    assert!(shown.contains("api.base_url"), "says what to fix: {shown}");
    assert_no_secrets(&wrong_prefix, &shown);

    // A wrong host: some other server that answers 404 in HTML.
    let other = support::feed_server::FeedServer::start();
    let wrong_host = Env::with_config(quick(), |_| base_config(&other.url("/v2")));
    let out = wrong_host.run(&["check"]);
    let shown = text(&out);
    assert_eq!(out.status.code(), Some(78), "{shown}");
    assert!(shown.contains("not the WayinVideo API"), "{shown}");
    assert_no_secrets(&wrong_host, &shown);
}

// ---- item 6: no units left ----------------------------------------------------

fn submit_all(env: &Env, urls: &[String]) -> String {
    urls.iter()
        .map(|url| env.run_ok(&["submit", url]))
        .collect()
}

fn urls(n: usize) -> Vec<String> {
    (0..n)
        .map(|i| format!("https://www.youtube.com/watch?v=nounits000{i}"))
        .collect()
}

#[test]
fn no_units_left_pauses_submitting_instead_of_failing_the_queue() {
    let env = Env::with_fault(quick(), |m| m.no_units = true);
    let daemon = Daemon::start(&env);
    let videos = urls(3);
    let mut seen = submit_all(&env, &videos);
    // A few probes go out (one per interval), every one refused.
    let api = &env.api;
    let probed = wait_until(Duration::from_secs(20), || {
        api.faults("no-units").len() >= 3
    });
    assert!(probed, "{}", daemon.log());
    let jobs = env.jobs();
    assert!(
        jobs.iter().all(|j| j["state"] == "queued"),
        "nothing failed, nothing lost: {jobs:#?}"
    );
    assert!(jobs.iter().all(|j| j["attempts"] == 0), "{jobs:#?}");
    let log = daemon.log();
    let said = log
        .lines()
        .filter(|l| l.contains("ERROR") && l.contains("submitting paused"))
        .count();
    assert_eq!(said, 1, "said once: {log}");
    assert!(log.contains("out of units"), "{log}");
    let status = env.run(&["status"]);
    assert!(
        text(&status).contains("paused: submitting") && text(&status).contains("out of units"),
        "{}",
        text(&status)
    );
    let json: Value = env.json(&["status", "--json"]);
    let paused = &json["daemon"]["submit_paused"];
    assert!(
        paused["reason"].as_str().unwrap().contains("out of units"),
        "{json:#}"
    );
    assert!(paused["since"].is_string(), "{json:#}");
    seen += &text(&status);

    // Units bought: the next probe goes through and everything is clipped.
    env.api.misbehave(Misbehave::default());
    for id in 1..=3 {
        let job = wait_job_end(&env, id);
        assert_eq!(job["state"], "done", "{job}\n{}", daemon.log());
    }
    for video in &videos {
        assert_eq!(env.api.submissions_for(video), 1, "{video}");
    }
    let json: Value = env.json(&["status", "--json"]);
    assert!(json["daemon"]["submit_paused"].is_null(), "{json:#}");
    seen += &daemon.stop();
    assert!(seen.contains("submitting resumes"), "{seen}");
    assert_no_secrets(&env, &seen);
}

#[test]
fn the_same_refusal_for_several_videos_pauses_until_a_reload() {
    // A refusal clipwatch cannot read as "no units": the third different
    // video refused with the same message pauses submitting.
    let env = Env::with_fault(quick(), |m| {
        m.invalid_submit = Some("account suspended".into())
    });
    let daemon = Daemon::start(&env);
    let videos = urls(5);
    let mut seen = submit_all(&env, &videos);
    let log_says = |what: &str| wait_until(Duration::from_secs(20), || daemon.log().contains(what));
    assert!(log_says("submitting paused"), "{}", daemon.log());
    // Which two fail first is up to the scheduler (jobs submitted while
    // the daemon runs may start in any order); how many is not.
    let ids_in = |state: &str| -> Vec<u64> {
        env.jobs()
            .iter()
            .filter(|j| j["state"] == state)
            .map(|j| j["id"].as_u64().unwrap())
            .collect()
    };
    let (failed, queued) = (ids_in("failed"), ids_in("queued"));
    assert_eq!((failed.len(), queued.len()), (2, 3), "{}", daemon.log());
    // Fixed on the account's side; a reload tries again at once.
    env.api.misbehave(Misbehave::default());
    daemon.hup();
    for id in queued {
        let job = wait_job_end(&env, id);
        assert_eq!(job["state"], "done", "{job}\n{}", daemon.log());
    }
    assert_eq!(ids_in("failed"), failed);
    seen += &daemon.stop();
    assert!(
        seen.contains("configuration reloaded: submitting resumes"),
        "{seen}"
    );
    assert_no_secrets(&env, &seen);
}

// ---- item 4 and issue 12 item 5: interrupted and unrecorded submits ----------

#[test]
fn a_submit_interrupted_by_a_crash_is_not_sent_again_by_default() {
    // The submit leaves, the API creates the task, and the daemon dies before
    // the answer is stored (the reply is held back until it is killed).
    let env = Env::new(quick());
    env.api.misbehave(Misbehave {
        hang_api_calls: 1,
        target: Target::Submit,
        ..Misbehave::default()
    });
    let mut daemon = Daemon::start(&env);
    let mut seen = submit_all(&env, &[VIDEO.to_string()]);
    let api = &env.api;
    assert!(wait_until(Duration::from_secs(20), || api
        .faults("hang")
        .len()
        == 1));
    daemon.kill();
    seen += &daemon.log();
    assert_eq!(env.jobs()[0]["state"], "submitting");

    env.api.misbehave(Misbehave::default());
    let out = env.run(&["once"]);
    seen += &text(&out);
    assert_eq!(out.status.code(), Some(1), "a job failed: {}", text(&out));
    let job = &env.jobs()[0];
    assert_eq!(job["state"], "failed", "{job}");
    let reason = job["reason"].as_str().unwrap();
    assert!(
        reason.contains("interrupted while submitting") && reason.contains("a task may exist"),
        "{reason}"
    );
    assert!(reason.contains("clipwatch retry 1"), "{reason}");
    assert_eq!(env.api.submissions_for(VIDEO), 1, "not paid twice");
    assert_no_secrets(&env, &seen);
}

#[test]
fn a_cut_connection_after_the_submit_fails_the_job_and_the_campaign_fault_is_real() {
    // The fake creates the task, then closes the connection without a reply.
    let env = Env::with_fault(quick(), |m| m.cut_after_submit = 1);
    let out = env.run(&["submit", VIDEO, "--wait"]);
    let shown = text(&out);
    assert_eq!(env.api.faults("cut").len(), 1, "{shown}");
    let job = &env.jobs()[0];
    assert_eq!(job["state"], "failed", "{job}\n{shown}");
    assert!(
        job["reason"].as_str().unwrap().contains("a task may exist"),
        "{job}"
    );
    assert_eq!(env.api.submissions_for(VIDEO), 1);
    assert_no_secrets(&env, &shown);
}

/// `VIDEO` queued, then the state volume (a 24 MiB tmpfs) filled to about
/// 3 MiB free: enough for the database to work, less than the 8 MiB a
/// submit needs to be sure its answer can be stored. Returns the env, the
/// volume and the filler file; `None` where a tmpfs cannot be mounted.
fn queued_with_a_full_state_volume() -> Option<(Env, Tmpfs, std::path::PathBuf)> {
    let env = Env::new(quick());
    let state = env.dir.path().join("state");
    let volume = Tmpfs::mount(&state, "24m", "")?;
    env.run_ok(&["submit", VIDEO]);
    let filler = state.join("filler");
    let fill = volume.free_bytes().saturating_sub(3 * 1024 * 1024);
    std::fs::write(&filler, vec![0u8; fill as usize]).unwrap();
    Some((env, volume, filler))
}

#[test]
fn nothing_is_submitted_while_the_state_volume_has_no_room_for_the_answer() {
    let Some((env, volume, filler)) = queued_with_a_full_state_volume() else {
        return;
    };
    let daemon = Daemon::start(&env);
    let said = wait_until(Duration::from_secs(20), || {
        daemon.log().contains("state volume")
    });
    assert!(said, "{}", daemon.log());
    std::thread::sleep(Duration::from_millis(800));
    assert_eq!(env.api.submissions().len(), 0, "{}", daemon.log());
    assert_eq!(env.jobs()[0]["state"], "queued");
    let log = daemon.log();
    assert!(log.contains("free some space"), "{log}");

    std::fs::remove_file(&filler).unwrap();
    let job = wait_job_end(&env, 1);
    assert_eq!(job["state"], "done", "{job}\n{}", daemon.log());
    assert_eq!(env.api.submissions_for(VIDEO), 1);
    let log = daemon.stop();
    assert!(log.contains("has room again"), "{log}");
    assert_no_secrets(&env, &log);
    drop(volume);
}

#[test]
fn a_restart_while_the_key_is_rejected_does_not_fail_the_waiting_submit() {
    // The key is rejected: the submit waits for it. A restart meanwhile must
    // not read that job as an ambiguous submit (a 403 was not processed).
    let env = Env::with_fault(quick(), |m| m.reject_key = true);
    let mut daemon = Daemon::start(&env);
    let mut seen = submit_all(&env, &[VIDEO.to_string()]);
    let api = &env.api;
    assert!(wait_until(Duration::from_secs(20), || !api
        .faults("rejected-key")
        .is_empty()));
    std::thread::sleep(Duration::from_millis(300));
    daemon.kill();
    seen += &daemon.log();
    env.api.misbehave(Misbehave::default());
    let out = env.run(&["once"]);
    seen += &text(&out);
    let job = &env.jobs()[0];
    assert_eq!(job["state"], "done", "{job}\n{seen}");
    assert_eq!(env.api.submissions_for(VIDEO), 1);
    assert_no_secrets(&env, &seen);
}

#[test]
fn a_submit_that_never_left_is_retried_under_the_default_policy() {
    // Connection refused: nothing was sent, so nothing can have been paid;
    // the default "fail" policy does not apply, the submit is retried.
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let env = Env::new(quick());
    let real = env.api.base_url.clone();
    let config = std::fs::read_to_string(env.config_path()).unwrap();
    let refused = config.replace(&real, &format!("http://127.0.0.1:{closed}/open/v2"));
    std::fs::write(env.config_path(), &refused).unwrap();
    let daemon = Daemon::start(&env);
    let mut seen = submit_all(&env, &[VIDEO.to_string()]);
    assert!(
        wait_until(Duration::from_secs(20), || daemon
            .log()
            .contains("could not connect")),
        "{}",
        daemon.log()
    );
    let job = &env.jobs()[0];
    assert_eq!(
        job["state"], "queued",
        "waiting to retry, not failed: {job}"
    );
    // The API is reachable again (here: the right URL, reloaded).
    std::fs::write(env.config_path(), &config).unwrap();
    daemon.hup();
    let job = wait_job_end(&env, 1);
    assert_eq!(job["state"], "done", "{job}\n{}", daemon.log());
    assert_eq!(env.api.submissions_for(VIDEO), 1);
    seen += &daemon.stop();
    assert_no_secrets(&env, &seen);
}

#[test]
fn once_with_no_room_for_the_answer_submits_nothing_and_ends() {
    // The path without a daemon: `once` must say why and exit, not wait for
    // room that nothing here will free.
    let Some((env, volume, filler)) = queued_with_a_full_state_volume() else {
        return;
    };
    let out = env.run(&["once"]);
    let shown = text(&out);
    assert_eq!(out.status.code(), Some(1), "{shown}");
    assert!(shown.contains("free some space"), "{shown}");
    assert_eq!(env.api.submissions().len(), 0, "{shown}");
    assert_eq!(env.jobs()[0]["state"], "queued");
    std::fs::remove_file(&filler).unwrap();
    let out = env.run(&["once"]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(env.api.submissions_for(VIDEO), 1);
    assert_no_secrets(&env, &shown);
    drop(volume);
}
