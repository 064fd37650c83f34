//! End to end: downloads that go wrong (SPEC §5, §6) — HTML error pages,
//! truncated transfers resumed with Range, late export links — and the
//! daily unit budget.

mod support;

use std::time::Duration;

use support::harness::{assert_no_video_kept, file_names, quick, wait_until, with_api, Env, VIDEO};
use support::{Drip, FakeConfig, Misbehave};

#[test]
fn an_html_error_page_is_never_kept_and_retry_polls_the_same_task() {
    let env = Env::with_fault(quick(), |m| m.html_instead_of_mp4 = true);
    let shown = env.run_code(&["submit", VIDEO, "--wait"], 1);
    assert!(shown.contains("error page"), "{shown}");
    assert_no_video_kept(&env.clips());
    assert_eq!(env.jobs()[0]["state"], "failed");

    // The CDN recovers; `retry` polls the same task again instead of paying twice.
    env.api.misbehave(Misbehave::default());
    let retried = env.run_ok(&["retry", "1"]);
    assert!(retried.contains("failed → processing"), "{retried}");
    env.once();
    assert_eq!(env.jobs()[0]["state"], "done");
    assert_eq!(env.api.submissions_for(VIDEO), 1, "one submit in all");
    env.assert_inbox_clip(0);
}

#[test]
fn an_html_error_page_for_a_moment_does_not_fail_the_job() {
    // Regression (fault campaign, seed 0x5eed0001): the four fresh-link
    // requests were spent within 3 ms, so an error page served for a moment
    // failed the job. Later refreshes now wait with a backoff.
    let env = Env::with_fault(quick(), |m| m.html_instead_of_mp4 = true);
    let log = env.dir.path().join("submit.log");
    let mut child = env.spawn(&["submit", VIDEO, "--wait"], &log);
    let api = &env.api;
    assert!(wait_until(Duration::from_secs(20), || !api
        .faults("html")
        .is_empty()));
    std::thread::sleep(Duration::from_millis(200));
    api.misbehave(Misbehave::default());
    let status = child.wait().unwrap();
    let out = std::fs::read_to_string(&log).unwrap();
    assert!(status.success(), "{out}");
    assert!(api.faults("html").len() >= 2, "the page was met again");
    assert_eq!(env.jobs()[0]["state"], "done");
    assert_eq!(api.submissions_for(VIDEO), 1);
    env.assert_inbox_clip(0);
}

#[test]
fn fresh_links_without_an_export_link_are_polled_again_not_skipped() {
    // Regression (fault campaign, long run): a refused link was replaced by
    // a results call that lacked the last clip's export link, and that clip
    // was written without its video ("the API gave no export link"), the job
    // done. Fresh results now wait (bounded) for every link, as after SUCCEEDED.
    let env = Env::new(quick());
    let slow = Misbehave {
        export_links_refused_until_refresh: true,
        drip_downloads: Some(Drip {
            bytes: 4 * 1024,
            every: Duration::from_millis(40),
        }),
        ..Misbehave::default()
    };
    env.api.misbehave(slow.clone());
    let log = env.dir.path().join("submit.log");
    let mut child = env.spawn(&["submit", VIDEO, "--wait"], &log);
    let api = &env.api;
    // Clip 1 is dripping in; the refresh for clip 2 will lack clip 3's link.
    assert!(wait_until(Duration::from_secs(20), || !api
        .faults("drip")
        .is_empty()));
    api.misbehave(Misbehave {
        missing_export_links_polls: u32::MAX,
        ..slow.clone()
    });
    assert!(wait_until(Duration::from_secs(20), || !api
        .faults("missing-links")
        .is_empty()));
    api.misbehave(slow);
    let status = child.wait().unwrap();
    let out = std::fs::read_to_string(&log).unwrap();
    assert!(status.success(), "{out}");
    for idx in 0..3 {
        env.assert_inbox_clip(idx);
    }
    assert_eq!(api.submissions_for(VIDEO), 1);
}

#[test]
fn a_truncated_download_is_resumed_with_range() {
    let env = Env::new(FakeConfig {
        clips: 1,
        clip_bytes: 512 * 1024,
        ..quick()
    });
    env.api.misbehave(Misbehave {
        truncate_downloads: true,
        ..Misbehave::default()
    });
    let api = &env.api;
    std::thread::scope(|scope| {
        scope.spawn(|| {
            // Once a transfer has been cut, let the next one through.
            let cut = wait_until(Duration::from_secs(20), || {
                api.requests()
                    .iter()
                    .any(|r| r.path.contains("/files/export/"))
            });
            assert!(cut);
            api.misbehave(Misbehave::default());
        });
        env.run_ok(&["submit", VIDEO, "--wait"]);
    });
    env.assert_inbox_clip(0);
    let resumed = env
        .api
        .requests()
        .iter()
        .filter(|r| r.path.contains("/files/export/") && r.status == 206)
        .count();
    assert!(resumed >= 1, "the second request asked for the rest only");
    assert!(file_names(&env.only_folder("inbox"))
        .iter()
        .all(|n| !n.ends_with(".part")));
}

#[test]
fn export_links_that_arrive_late_are_waited_for() {
    let env = Env::with_fault(quick(), |m| m.missing_export_links_polls = 3);
    env.run_ok(&["submit", VIDEO, "--wait"]);
    let folder = env.only_folder("inbox");
    let videos = file_names(&folder)
        .into_iter()
        .filter(|n| n.ends_with(".mp4"))
        .count();
    assert_eq!(
        videos, 3,
        "every clip's video, including the one whose link came late"
    );
}

#[test]
fn the_daily_unit_budget_stops_new_submissions() {
    // Each task costs 30 units (3 clips × 10); the cap is 30.
    let env = Env::with_config(quick(), |url| {
        with_api(url, "daily_unit_budget = 30\nmax_concurrent_projects = 1")
    });
    for url in [VIDEO, "https://youtu.be/aaaaaaaaaaa"] {
        assert!(env.run(&["submit", url]).status.success());
    }
    let once = env.once();
    assert!(once.contains("daily unit budget reached"), "{once}");
    let jobs = env.jobs();
    assert_eq!(jobs[0]["state"], "done");
    assert_eq!(jobs[1]["state"], "queued");
    assert_eq!(env.api.submissions().len(), 1);
    let status: serde_json::Value = env.json(&["status", "--json"]);
    assert_eq!(status["units"]["today"], 30);
    assert_eq!(status["units"]["daily_budget"], 30);
}
