//! End to end: notifications (issue 14). The real daemon against the fake
//! WayinVideo API, with a local receiver standing in for every service:
//! the exact request each kind sends, durable at-least-once delivery across
//! a SIGKILL, retries and Retry-After, HMAC signatures, exec, filters, and
//! a hung receiver that holds up nothing else.

mod support;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use sha2::{Digest, Sha256};
use support::feed_server::{fixture, FeedServer, Route};
use support::harness::{assert_no_secrets, base_config, text, wait_until, Daemon, Env};
use support::receiver::{Receiver, Reply};
use support::{FakeConfig, Misbehave};

const VIDEO: &str = "https://www.youtube.com/watch?v=dQw4w9WgXcQ";
const OTHER_VIDEO: &str = "https://www.youtube.com/watch?v=9bZkp7q19f0";
const THIRD_VIDEO: &str = "https://www.youtube.com/watch?v=kJQP7kiw5Fk";
const WAIT: Duration = Duration::from_secs(40);
const DISCORD_TOKEN: &str = "DiscordTok3n-abcdef";
const SLACK_TOKEN: &str = "SlackTok3nXYZ";
const HMAC_KEY: &str = "webhook-signing-key-42";

fn quick() -> FakeConfig {
    FakeConfig {
        phase: Duration::from_millis(40),
        ..FakeConfig::default()
    }
}

/// `base_config` plus `extra` TOML.
fn env_with(extra: impl FnOnce(&str) -> String) -> Env {
    Env::with_config(quick(), |api| {
        format!("{}\n{}", base_config(api), extra(api))
    })
}

/// A `[[notify]]` webhook sink named `hook` posting to `{receiver}/hook`,
/// with `extra` keys (one `key = value` per line).
fn hook_sink(receiver: &str, extra: &str) -> String {
    format!("[[notify]]\nname = \"hook\"\nkind = \"webhook\"\nurl = \"{receiver}/hook\"\n{extra}")
}

/// HMAC-SHA256 written out here from RFC 2104, independent of the daemon's.
fn hmac_hex(key: &[u8], message: &[u8]) -> String {
    let mut block = [0u8; 64];
    block[..key.len()].copy_from_slice(key);
    let inner = Sha256::new()
        .chain_update(block.map(|b| b ^ 0x36))
        .chain_update(message)
        .finalize();
    let outer = Sha256::new()
        .chain_update(block.map(|b| b ^ 0x5c))
        .chain_update(inner)
        .finalize();
    outer.iter().map(|b| format!("{b:02x}")).collect()
}

/// A program for `kind = "exec"` that keeps its stdin, argument and
/// environment in `dir`, one pair of files per event id.
fn write_exec_script(dir: &Path) -> String {
    let script = dir.join("on-event.sh");
    std::fs::write(
        &script,
        "#!/bin/sh\nout=\"$(dirname \"$0\")/exec.$CLIPWATCH_EVENT_ID\"\ncat > \"$out.json\"\n\
         printf '%s\\n' \"$1\" \"$CLIPWATCH_EVENT\" \"$CLIPWATCH_JOB\" \"$CLIPWATCH_FOLDER\" \
         \"${WAYIN_API_KEY:-no key}\" > \"$out.env.tmp\"\nmv \"$out.env.tmp\" \"$out.env\"\n",
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    script.display().to_string()
}

fn submit(env: &Env, url: &str) {
    let out = env.run(&["submit", url]);
    assert!(out.status.success(), "{}", text(&out));
}

fn status(env: &Env) -> String {
    let out = env.run(&["status"]);
    assert!(out.status.success(), "{}", text(&out));
    text(&out)
}

#[test]
fn every_kind_gets_its_documented_request_and_the_same_event_id() {
    let receiver = Receiver::start();
    let r = receiver.base_url.clone();
    let env = env_with(|_| {
        format!(
            r#"
[[notify]]
name = "hook"
kind = "webhook"
url = "{r}/hook"
secret_file = "hook.secret"

[[notify]]
name = "phone"
kind = "ntfy"
url = "{r}/ntfy/clips"

[[notify]]
name = "chat"
kind = "discord"
url = "{r}/api/webhooks/123/{DISCORD_TOKEN}"

[[notify]]
name = "team"
kind = "slack"
url_file = "slack.url"

[[notify]]
name = "apprise"
kind = "apprise"
url = "{r}/notify/clips"

[[notify]]
name = "script"
kind = "exec"
command = ["EXEC", "--fast"]
"#
        )
    });
    let dir = env.dir.path();
    std::fs::write(dir.join("hook.secret"), format!("{HMAC_KEY}\n")).unwrap();
    std::fs::write(
        dir.join("slack.url"),
        format!("{r}/services/T1/B2/{SLACK_TOKEN}\n"),
    )
    .unwrap();
    let script = write_exec_script(dir);
    let config = std::fs::read_to_string(env.config_path()).unwrap();
    std::fs::write(env.config_path(), config.replace("EXEC", &script)).unwrap();

    let daemon = Daemon::start(&env);
    submit(&env, VIDEO);

    // webhook: clipwatch.event/1, signed, with the id as Idempotency-Key.
    let hook = receiver.wait_for("/hook", 1, WAIT).remove(0);
    assert_eq!(hook.method, "POST");
    assert_eq!(hook.header("content-type"), Some("application/json"));
    let event = hook.json();
    let id = event["id"].as_str().unwrap().to_string();
    assert!(id.starts_with("evt_"), "{id}");
    assert_eq!(hook.header("idempotency-key"), Some(id.as_str()));
    assert_eq!(hook.header("x-clipwatch-event"), Some("done"));
    assert_eq!(
        hook.header("x-clipwatch-signature").unwrap(),
        format!("sha256={}", hmac_hex(HMAC_KEY.as_bytes(), &hook.body)),
        "the signature is the HMAC-SHA256 of the exact body"
    );
    assert_eq!(event["schema"], "clipwatch.event/1");
    assert_eq!(event["event"], "done");
    assert!(event["at"].as_str().unwrap().ends_with('Z'));
    let job = &event["job"];
    assert_eq!(job["id"], 1);
    assert_eq!(job["key"], "youtube:dQw4w9WgXcQ");
    assert_eq!(job["state"], "done");
    assert_eq!(job["url"], VIDEO);
    assert_eq!(job["source"], "submit");
    assert_eq!(job["preset"], "default");
    let folder = Path::new(job["folder"].as_str().unwrap());
    assert!(folder.is_absolute() && folder.is_dir(), "{folder:?}");
    let clips = job["clips"].as_array().unwrap();
    assert!(!clips.is_empty());
    assert_eq!(clips[0]["rank"], 1);
    assert!(clips[0]["score"].is_number());
    assert!(clips[0]["duration_ms"].is_number());
    for clip in clips {
        for file in ["file", "thumbnail", "sidecar"] {
            let name = clip[file].as_str().unwrap();
            assert!(folder.join(name).is_file(), "{file} {name}");
        }
    }

    // ntfy, with a thumbnail: "attach local file", the image as the body of
    // a PUT to the topic URL and every field in the query.
    let ntfy = receiver.wait_for("/ntfy/clips", 1, WAIT).remove(0);
    assert_eq!(ntfy.method, "PUT");
    let query: std::collections::HashMap<String, String> =
        url::Url::parse(&format!("http://x{}", ntfy.path))
            .unwrap()
            .query_pairs()
            .into_owned()
            .collect();
    let title = format!("{} · submit", job["title"].as_str().unwrap());
    assert_eq!(query["title"], title);
    let message = &query["message"];
    assert!(
        message.starts_with(&format!("{} clips ready. Best: \"", clips.len())),
        "{message}"
    );
    assert!(
        message.contains(clips[0]["title"].as_str().unwrap()),
        "{message}"
    );
    assert_eq!(query["click"], VIDEO);
    assert_eq!(query["tags"], "white_check_mark,clipwatch");
    assert_eq!(query["priority"], "3");
    assert_eq!(query["filename"], "thumbnail.jpg");
    let best_thumb = std::fs::read(folder.join(clips[0]["thumbnail"].as_str().unwrap())).unwrap();
    assert_eq!(ntfy.body, best_thumb, "the best clip's thumbnail");

    // Discord: multipart with payload_json and the thumbnail as files[0],
    // the embed's image pointing at it.
    let discord_path = format!("/api/webhooks/123/{DISCORD_TOKEN}");
    let discord = receiver.wait_for(&discord_path, 1, WAIT).remove(0);
    let content_type = discord.header("content-type").unwrap().to_string();
    let boundary = content_type
        .strip_prefix("multipart/form-data; boundary=")
        .unwrap_or_else(|| panic!("{content_type}"));
    let parts: Vec<&[u8]> = split_parts(&discord.body, boundary);
    assert_eq!(parts.len(), 2, "payload_json and one file");
    let (head, json) = split_head(parts[0]);
    assert!(head.contains("name=\"payload_json\""), "{head}");
    let payload: serde_json::Value = serde_json::from_slice(json).unwrap();
    let embed = &payload["embeds"][0];
    assert_eq!(embed["title"], title.as_str());
    assert_eq!(embed["description"], message.as_str());
    assert_eq!(embed["url"], VIDEO);
    assert_eq!(embed["image"]["url"], "attachment://thumbnail.jpg");
    assert_eq!(payload["allowed_mentions"]["parse"], serde_json::json!([]));
    let (head, image) = split_head(parts[1]);
    assert!(
        head.contains("name=\"files[0]\"; filename=\"thumbnail.jpg\""),
        "{head}"
    );
    assert_eq!(image, &best_thumb[..], "the best clip's thumbnail");

    // Slack: incoming-webhook JSON with a text fallback and blocks.
    let slack = receiver
        .wait_for(&format!("/services/T1/B2/{SLACK_TOKEN}"), 1, WAIT)
        .remove(0);
    let body = slack.json();
    assert!(body["text"].as_str().unwrap().contains("clips ready"));
    assert_eq!(body["blocks"][0]["type"], "header");
    assert_eq!(body["blocks"][0]["text"]["type"], "plain_text");
    assert_eq!(body["blocks"][0]["text"]["text"], embed["title"]);
    assert_eq!(body["blocks"][1]["text"]["type"], "mrkdwn");
    assert_eq!(body["blocks"][2]["type"], "context");

    // Apprise API: POST /notify/KEY with title, body, type.
    let apprise = receiver.wait_for("/notify/clips", 1, WAIT).remove(0);
    let body = apprise.json();
    assert_eq!(body["title"], embed["title"]);
    assert_eq!(body["type"], "success");
    assert_eq!(body["format"], "text");
    assert!(body["body"].as_str().unwrap().ends_with(VIDEO));

    // exec: the same JSON on stdin, argv as written, the environment.
    let env_file = dir.join(format!("exec.{id}.env"));
    assert!(wait_until(WAIT, || env_file.exists()), "exec never ran");
    let got: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join(format!("exec.{id}.json"))).unwrap())
            .unwrap();
    assert_eq!(got, event, "exec gets the webhook's JSON, same id");
    let lines: Vec<String> = std::fs::read_to_string(&env_file)
        .unwrap()
        .lines()
        .map(String::from)
        .collect();
    assert_eq!(
        lines,
        ["--fast", "done", "1", folder.to_str().unwrap(), "no key"]
    );

    // Status shows each sink, redacted; nothing pending.
    let shown = status(&env);
    assert!(shown.contains("notifications: 6 sink(s)"), "{shown}");
    for name in ["hook", "phone", "chat", "team", "apprise", "script"] {
        let line = shown
            .lines()
            .find(|l| l.trim_start().starts_with(&format!("{name} (")))
            .unwrap_or_else(|| panic!("{name} in {shown}"));
        assert!(line.contains("0 pending"), "{line}");
        assert!(line.contains("last success 20"), "{line}");
    }
    let log = daemon.stop();
    for seen in [&shown, &log] {
        assert!(!seen.contains(DISCORD_TOKEN), "the Discord token leaked");
        assert!(!seen.contains(SLACK_TOKEN), "the Slack token leaked");
        assert!(!seen.contains(HMAC_KEY), "the signing key leaked");
    }
    assert_no_secrets(&env, &format!("{shown}{log}"));
}

/// The parts of a multipart body, without their delimiters.
fn split_parts<'a>(body: &'a [u8], boundary: &str) -> Vec<&'a [u8]> {
    let delimiter = format!("--{boundary}");
    let mut parts = Vec::new();
    let mut rest = body;
    while let Some(start) = find(rest, delimiter.as_bytes()) {
        rest = &rest[start + delimiter.len()..];
        if rest.starts_with(b"--") {
            break;
        }
        let end = find(rest, delimiter.as_bytes()).unwrap_or(rest.len());
        let part = &rest[..end];
        let part = part.strip_prefix(b"\r\n").unwrap_or(part);
        parts.push(part.strip_suffix(b"\r\n").unwrap_or(part));
        rest = &rest[end..];
    }
    parts
}

fn split_head(part: &[u8]) -> (String, &[u8]) {
    let at = find(part, b"\r\n\r\n").expect("part headers");
    (
        String::from_utf8_lossy(&part[..at]).into_owned(),
        &part[at + 4..],
    )
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[test]
fn an_event_whose_delivery_was_cut_by_sigkill_is_delivered_after_restart_with_its_id() {
    let receiver = Receiver::start();
    let r = receiver.base_url.clone();
    let env = env_with(|_| {
        hook_sink(
            &r,
            r#"timeout = "60s"
"#,
        )
    });
    // The first delivery never gets an answer: the daemon dies meanwhile.
    receiver.script("/hook", vec![Reply::Hang]);
    let mut daemon = Daemon::start(&env);
    submit(&env, VIDEO);
    let first = receiver.wait_for("/hook", 1, WAIT).remove(0);
    let id = first.json()["id"].as_str().unwrap().to_string();
    assert_eq!(first.json()["event"], "done");
    let status = Command::new("kill")
        .args(["-KILL", &daemon.pid().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    daemon.child.wait().unwrap();
    drop(daemon);

    let daemon = Daemon::start(&env);
    let again = receiver.wait_for("/hook", 2, WAIT);
    assert_eq!(
        again[1].json()["id"],
        id.as_str(),
        "the same event, same id"
    );
    assert_eq!(again[1].header("idempotency-key"), Some(id.as_str()));
    assert_eq!(again[1].body, first.body, "byte for byte the same payload");
    let shown = status_when(&env, |s| s.contains("0 pending"));
    assert!(shown.contains("last success"), "{shown}");
    daemon.stop();
    assert_eq!(
        receiver.requests("/hook").len(),
        2,
        "delivered once more, not twice"
    );
}

/// `status` once `ready` holds (bounded).
fn status_when(env: &Env, ready: impl Fn(&str) -> bool) -> String {
    let mut shown = String::new();
    let ok = wait_until(WAIT, || {
        shown = status(env);
        ready(&shown)
    });
    assert!(ok, "{shown}");
    shown
}

#[test]
fn failures_are_retried_with_backoff_and_retry_after_until_delivered() {
    let receiver = Receiver::start();
    let r = receiver.base_url.clone();
    let env = env_with(|_| {
        hook_sink(
            &r,
            r#"retry = "20ms"
"#,
        )
    });
    receiver.script(
        "/hook",
        vec![
            Reply::Status(500),
            Reply::Status(503),
            Reply::With(429, vec![("retry-after", "1".into())]),
        ],
    );
    let daemon = Daemon::start(&env);
    submit(&env, VIDEO);
    let seen = receiver.wait_for("/hook", 4, WAIT);
    let ids: Vec<&str> = seen
        .iter()
        .map(|r| r.header("idempotency-key").unwrap())
        .collect();
    assert!(
        ids.iter().all(|id| *id == ids[0]),
        "one event, one id: {ids:?}"
    );
    assert!(
        seen[3].at.duration_since(seen[2].at) >= Duration::from_millis(950),
        "the 429's Retry-After: 1 was honoured"
    );
    let shown = status_when(&env, |s| {
        s.contains("0 pending") && s.contains("(HTTP 200)")
    });
    assert!(shown.contains("last error"), "{shown}");
    assert!(
        shown.contains("HTTP 429"),
        "the last error is the 429: {shown}"
    );
    daemon.stop();
    assert_eq!(receiver.requests("/hook").len(), 4);
}

#[test]
fn an_event_still_undelivered_after_give_up_after_is_dropped_with_one_warning() {
    let receiver = Receiver::start();
    let r = receiver.base_url.clone();
    let env = env_with(|_| {
        hook_sink(
            &r,
            r#"retry = "50ms"
give_up_after = "400ms"
"#,
        )
    });
    receiver.script("/hook", vec![Reply::Status(502); 1000]);
    let daemon = Daemon::start(&env);
    submit(&env, VIDEO);
    let shown = status_when(&env, |s| s.contains("1 dropped"));
    assert!(shown.contains("0 pending"), "{shown}");
    assert!(shown.contains("HTTP 502"), "{shown}");
    let tried = receiver.requests("/hook").len();
    assert!(tried >= 2, "retried before giving up: {tried}");
    let log = daemon.stop();
    let warnings: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("giving up on the done notification"))
        .collect();
    assert_eq!(warnings.len(), 1, "{log}");
    assert!(warnings[0].contains("WARN"), "{}", warnings[0]);
}

#[test]
fn filters_pick_events_by_name_and_source_and_account_events_pass_source_filters() {
    let receiver = Receiver::start();
    let feeds = FeedServer::start();
    feeds.route("/other.xml", Route::xml(fixture("youtube_channel.xml")));
    let r = receiver.base_url.clone();
    let feed_url = feeds.url("/other.xml");
    let env = env_with(|_| {
        format!(
            r#"
[[feeds]]
name = "Other"
url = "{feed_url}"
interval = "1h"

[[notify]]
name = "all"
kind = "webhook"
url = "{r}/all"

[[notify]]
name = "failures"
kind = "webhook"
url = "{r}/failures"
events = ["failed"]

[[notify]]
name = "other-feed"
kind = "webhook"
url = "{r}/other"
feeds = ["Other"]
events = ["done", "failed", "paused"]
"#
        )
    });
    let daemon = Daemon::start(&env);
    submit(&env, VIDEO);
    receiver.wait_for("/all", 1, WAIT);
    env.api.misbehave(Misbehave {
        fail_tasks_with: Some("the video is private".into()),
        ..Misbehave::default()
    });
    submit(&env, OTHER_VIDEO);
    receiver.wait_for("/all", 2, WAIT);
    env.api.misbehave(Misbehave {
        no_units: true,
        ..Misbehave::default()
    });
    submit(&env, THIRD_VIDEO);
    let all = receiver.wait_for("/all", 3, WAIT);
    let events: Vec<String> = all
        .iter()
        .map(|r| r.json()["event"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(events, ["done", "failed", "paused"]);
    let failed = all[1].json();
    assert_eq!(failed["job"]["state"], "failed");
    assert_eq!(failed["job"]["will_retry"], false);
    assert!(failed["job"]["reason"]
        .as_str()
        .unwrap()
        .contains("the video is private"));
    assert!(all[2].json()["reason"].as_str().unwrap().contains("units"));

    // Each sink delivers in outbox order, so once a sink has the paused
    // event it has already passed over the two before it.
    let other = receiver.wait_for("/other", 1, WAIT);
    assert_eq!(
        other[0].json()["event"],
        "paused",
        "the submit jobs are not from feed Other"
    );
    let failures = receiver.wait_for("/failures", 1, WAIT);
    assert_eq!(failures[0].json()["id"], failed["id"]);
    let shown = status_when(&env, |s| s.matches("0 pending").count() == 3);
    daemon.stop();
    assert_eq!(receiver.requests("/other").len(), 1, "{shown}");
    assert_eq!(receiver.requests("/failures").len(), 1, "{shown}");
}

#[test]
fn a_hung_receiver_holds_up_neither_the_pipeline_nor_other_sinks_nor_shutdown() {
    let receiver = Receiver::start();
    let r = receiver.base_url.clone();
    let env = env_with(|_| {
        format!(
            r#"
[[notify]]
name = "stuck"
kind = "webhook"
url = "{r}/stuck"
timeout = "1h"

[[notify]]
name = "fine"
kind = "webhook"
url = "{r}/fine"
"#
        )
    });
    receiver.script("/stuck", vec![Reply::Hang; 10]);
    let daemon = Daemon::start(&env);
    submit(&env, VIDEO);
    receiver.wait_for("/stuck", 1, WAIT);
    submit(&env, OTHER_VIDEO);
    let fine = receiver.wait_for("/fine", 2, WAIT);
    let keys: Vec<&str> = fine
        .iter()
        .map(|r| r.header("x-clipwatch-event").unwrap())
        .collect();
    assert_eq!(keys, ["done", "done"], "both jobs finished and were told");
    assert_eq!(
        receiver.requests("/stuck").len(),
        1,
        "still waiting on the first"
    );
    let shown = status(&env);
    assert!(
        shown
            .lines()
            .any(|l| l.contains("stuck (") && l.contains("2 pending")),
        "{shown}"
    );
    // Stops cleanly (the harness asserts exit 0) with a request in flight.
    daemon.stop();
}

#[test]
fn failing_feeds_and_a_rejected_key_are_announced() {
    let receiver = Receiver::start();
    let feeds = FeedServer::start();
    feeds.route("/flaky.xml", Route::status(500));
    let r = receiver.base_url.clone();
    let feed_url = feeds.url("/flaky.xml");
    let env = env_with(|_| {
        format!(
            r#"
[notifications]
feed_failing_after = 2

[[feeds]]
name = "Flaky"
url = "{feed_url}"
interval = "100ms"

[[notify]]
name = "hook"
kind = "webhook"
url = "{r}/hook"
"#
        )
    });
    let daemon = Daemon::start(&env);
    let first = receiver.wait_for("/hook", 1, WAIT).remove(0).json();
    assert_eq!(first["event"], "feed_failing");
    assert_eq!(first["feed"]["name"], "Flaky");
    assert_eq!(first["feed"]["consecutive_failures"], 2);
    assert!(
        first["feed"]["error"].as_str().unwrap().contains("500"),
        "{first}"
    );
    feeds.route("/flaky.xml", Route::xml(fixture("youtube_channel.xml")));
    let second = receiver.wait_for("/hook", 2, WAIT)[1].json();
    assert_eq!(second["event"], "feed_recovered");
    assert_eq!(second["feed"]["name"], "Flaky");

    env.api.misbehave(Misbehave {
        reject_key: true,
        ..Misbehave::default()
    });
    submit(&env, VIDEO);
    let third = receiver.wait_for("/hook", 3, WAIT)[2].json();
    assert_eq!(third["event"], "key_rejected");
    env.api.misbehave(Misbehave::default());
    daemon.stop();
}

#[test]
fn notify_test_reports_each_sink_and_names_the_unknown() {
    let receiver = Receiver::start();
    let r = receiver.base_url.clone();
    let env = env_with(|_| {
        format!(
            r#"
[[notify]]
name = "good"
kind = "webhook"
url = "{r}/good"

[[notify]]
name = "gone"
kind = "discord"
url = "{r}/api/webhooks/9/{DISCORD_TOKEN}"

[[notify]]
name = "script"
kind = "exec"
command = ["/bin/false"]

[[notify]]
name = "phone"
kind = "ntfy"
url = "{r}/ntfy/clips"
"#
        )
    });
    receiver.script(
        &format!("/api/webhooks/9/{DISCORD_TOKEN}"),
        vec![Reply::Status(404)],
    );
    let out = env.run(&["notify", "test"]);
    let shown = text(&out);
    assert_eq!(out.status.code(), Some(1), "{shown}");
    let good = receiver.wait_for("/good", 1, WAIT).remove(0).json();
    assert_eq!(good["event"], "test");
    assert_eq!(good["test"], true);
    assert!(shown.contains("good (webhook "), "{shown}");
    assert!(shown.contains("): ok: HTTP 200"), "{shown}");
    assert!(shown.contains("): FAILED: HTTP 404"), "{shown}");
    assert!(
        shown.contains("script (exec /bin/false): FAILED: exit 1"),
        "{shown}"
    );
    assert!(!shown.contains(DISCORD_TOKEN), "{shown}");
    // ntfy without an attachment: "publish as JSON" to the server's root.
    let ntfy = receiver.wait_for("/ntfy/", 1, WAIT).remove(0);
    assert_eq!(ntfy.method, "POST");
    let body = ntfy.json();
    assert_eq!(body["topic"], "clips");
    assert_eq!(body["title"], "clipwatch test notification");
    assert_eq!(
        body["message"],
        "If you can read this, the sink \"phone\" works."
    );
    assert_eq!(
        body["tags"],
        serde_json::json!(["information_source", "clipwatch"])
    );
    assert_eq!(body["priority"], 3);

    let out = env.run(&["notify", "test", "good"]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(receiver.requests("/good").len(), 2);

    let out = env.run(&["notify", "test", "nope"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out).contains("no sink named \"nope\"")
            && text(&out).contains("good, gone, script, phone"),
        "{}",
        text(&out)
    );
}

#[test]
fn check_points_at_the_line_of_a_bad_sink() {
    for (sink, line, expect) in [
        (
            "kind = \"pager\"\nurl = \"http://x\"",
            3,
            "notify[0].kind: sink \"s\": unknown kind \"pager\"",
        ),
        (
            "kind = \"webhook\"",
            1,
            "notify[0].url: sink \"s\": kind = \"webhook\" needs url",
        ),
        ("kind = \"exec\"", 1, "notify[0].command"),
        (
            "kind = \"ntfy\"\nurl = \"http://x/t\"\nevents = [\"done\", \"finished\"]",
            5,
            "unknown event \"finished\"",
        ),
        (
            "kind = \"ntfy\"\nurl = \"http://x/t\"\nfeeds = [\"Nope\"]",
            5,
            "no feed named \"Nope\" (sources: drop, submit)",
        ),
    ] {
        let env = env_with(|_| format!("[[notify]]\nname = \"s\"\n{sink}\n"));
        let base_lines = base_config("x").lines().count() + 1;
        let out = env.run(&["check", "--offline"]);
        let shown = text(&out);
        assert_eq!(out.status.code(), Some(78), "{shown}");
        let at = format!("config.toml:{}: ", base_lines + line);
        assert!(shown.contains(&at), "{at} in {shown}");
        assert!(shown.contains(expect), "{expect} in {shown}");
    }
}

#[test]
fn once_delivers_the_events_of_its_pass_before_it_exits() {
    let receiver = Receiver::start();
    let r = receiver.base_url.clone();
    let env = env_with(|_| hook_sink(&r, ""));
    submit(&env, VIDEO);
    let out = env.run(&["once"]);
    assert!(out.status.success(), "{}", text(&out));
    let seen = receiver.requests("/hook");
    assert_eq!(seen.len(), 1, "delivered before exit");
    assert_eq!(seen[0].json()["event"], "done");
    assert!(status(&env).contains("0 pending"));
}

#[test]
fn submit_wait_without_a_daemon_delivers_its_event_too() {
    let receiver = Receiver::start();
    let r = receiver.base_url.clone();
    let env = env_with(|_| hook_sink(&r, ""));
    let out = env.run(&["submit", VIDEO, "--wait"]);
    assert!(out.status.success(), "{}", text(&out));
    let seen = receiver.requests("/hook");
    assert_eq!(seen.len(), 1, "delivered before exit");
    assert_eq!(seen[0].json()["job"]["state"], "done");
}

#[test]
fn a_sink_added_by_a_reload_gets_the_events_after_it() {
    let receiver = Receiver::start();
    let r = receiver.base_url.clone();
    let env = env_with(|_| String::new());
    let daemon = Daemon::start(&env);
    submit(&env, VIDEO);
    assert!(wait_until(WAIT, || env
        .jobs()
        .iter()
        .any(|j| j["state"] == "done")));
    let config = std::fs::read_to_string(env.config_path()).unwrap();
    std::fs::write(
        env.config_path(),
        format!("{config}\n[[notify]]\nname = \"hook\"\nkind = \"webhook\"\nurl = \"{r}/hook\"\n"),
    )
    .unwrap();
    let hup = Command::new("kill")
        .args(["-HUP", &daemon.pid().to_string()])
        .status()
        .unwrap();
    assert!(hup.success());
    assert!(wait_until(WAIT, || daemon
        .log()
        .contains("configuration reloaded")));
    submit(&env, OTHER_VIDEO);
    let seen = receiver.wait_for("/hook", 1, WAIT);
    assert_eq!(
        seen[0].json()["job"]["key"],
        "youtube:9bZkp7q19f0",
        "not the video done before"
    );
    daemon.stop();
    assert_eq!(receiver.requests("/hook").len(), 1);
}

#[test]
fn a_feed_a_sink_filters_on_cannot_be_removed_from_under_it() {
    let env = env_with(|_| {
        "[[feeds]]\nname = \"Talks\"\nurl = \"http://127.0.0.1:9/feed.xml\"\n\n\
         [[notify]]\nname = \"s\"\nkind = \"ntfy\"\nurl = \"http://127.0.0.1:9/t\"\nfeeds = [\"Talks\"]\n"
            .to_string()
    });
    let before = std::fs::read_to_string(env.config_path()).unwrap();
    let out = env.run(&["feeds", "remove", "Talks"]);
    let shown = text(&out);
    assert_eq!(out.status.code(), Some(78), "{shown}");
    assert!(
        shown.contains("notify[0].feeds: sink \"s\": no feed named \"Talks\""),
        "{shown}"
    );
    assert_eq!(
        shown.matches("no feed named").count(),
        1,
        "said once: {shown}"
    );
    assert_eq!(std::fs::read_to_string(env.config_path()).unwrap(), before);
}
