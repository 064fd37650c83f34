//! End to end: the store commands as typed requests (`crate::commands`).
//! Each answers the same whether a daemon runs (the request goes over the
//! control socket) or not (it runs here), global flags included; a client
//! or daemon of another protocol version is told so; arguments that are
//! not UTF-8 never panic.

mod support;

use std::ffi::{OsStr, OsString};
use std::io::{BufRead, BufReader, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use serde_json::Value;
use support::feed_server::{FeedServer, Route};
use support::harness::{base_config, quick, text, wait_until, Daemon, Env, VIDEO};
use support::{FakeConfig, Misbehave};

const DONE: &str = VIDEO;
const FAILED: &str = "https://youtu.be/aaaaaaaaaaa";
const FORGOTTEN: &str = "https://youtu.be/bbbbbbbbbbb";
const NEW: &str = "https://youtu.be/ccccccccccc";

/// An environment with a feed checked once (not due again for an hour)
/// and jobs 1 done, 2 failed, 3 done.
fn prepared(feeds: &FeedServer) -> Env {
    let rss = br#"<?xml version="1.0"?><rss version="2.0"><channel><title>Quiet</title>
<link>https://quiet.example.com/</link></channel></rss>"#;
    feeds.route("/quiet.xml", Route::xml(rss.to_vec()));
    let url = feeds.url("/quiet.xml");
    let env = Env::with_config(quick(), |api| {
        format!(
            "{}\n[[feeds]]\nname = \"Quiet\"\nurl = \"{url}\"\ninterval = \"1h\"\n",
            base_config(api)
        )
    });
    assert_success(&env.run(&["submit", DONE, "--wait"]));
    env.api.misbehave(Misbehave {
        fail_tasks_with: Some("the video is private".into()),
        ..Misbehave::default()
    });
    assert_eq!(
        env.run(&["submit", FAILED, "--wait"]).status.code(),
        Some(1)
    );
    env.api.misbehave(Misbehave::default());
    assert_success(&env.run(&["submit", FORGOTTEN, "--wait"]));
    assert_success(&env.run(&["once"]));
    let states: Vec<Value> = env.jobs().iter().map(|j| j["state"].clone()).collect();
    assert_eq!(states, ["done", "failed", "done"]);
    env
}

fn assert_success(out: &Output) {
    assert!(out.status.success(), "{}", text(out));
}

/// Exit code, stdout and stderr of one command.
fn answer(out: &Output) -> (Option<i32>, String, String) {
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Every store command: reads first, then writes whose own output does not
/// depend on what a daemon does with the jobs they queue. Global flags in
/// front of and after the subcommand.
fn commands(env: &Env) -> Vec<Vec<String>> {
    let not_a_video = env.config_path().display().to_string();
    let lists: &[&[&str]] = &[
        &["jobs"],
        &["jobs", "--json"],
        &["jobs", "--state", "failed"],
        &["jobs", "--feed", "Quiet", "--json"],
        &["-q", "jobs", "--state", "done", "--json"],
        &["jobs", "--state", "bogus"],
        &["show", "1"],
        &["show", "2", "--json"],
        &["--log-format", "json", "show", "youtube:aaaaaaaaaaa"],
        &["show", "3", "--json", "-q"],
        &["show", "999"],
        &["feeds"],
        &["feeds", "--json"],
        &["retry", "1"],
        &["retry", "999"],
        &["forget", "999"],
        &["submit", FAILED],
        &["submit", NEW, "--preset", "nope"],
        &["submit", &not_a_video],
        &[
            "submit", DONE, "--force", "--name", "Again", "--preset", "metadata",
        ],
        &["retry", "--failed"],
        &["forget", "3"],
        &["submit", FORGOTTEN],
        &["submit", NEW, "--name", "New one"],
    ];
    lists
        .iter()
        .map(|args| args.iter().map(|a| a.to_string()).collect())
        .collect()
}

fn run_all(env: &Env) -> Vec<(Option<i32>, String, String)> {
    commands(env)
        .iter()
        .map(|args| {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            answer(&env.run(&args))
        })
        .collect()
}

/// `status --json` without what only a daemon knows, and that part.
fn status_json(env: &Env) -> (Value, Value) {
    let out = env.run(&["status", "--json"]);
    assert_success(&out);
    let mut status: Value = serde_json::from_slice(&out.stdout).unwrap();
    let daemon = status.as_object_mut().unwrap().remove("daemon").unwrap();
    (status, daemon)
}

/// `status` without the lines about a daemon, and those lines.
fn status_text(env: &Env) -> (String, String) {
    let out = env.run(&["status"]);
    assert_success(&out);
    let (daemon, rest): (Vec<&str>, Vec<&str>) = std::str::from_utf8(&out.stdout)
        .unwrap()
        .lines()
        .partition(|l| l.starts_with("daemon:") || l.starts_with("paused:"));
    (rest.join("\n"), daemon.join("\n"))
}

fn copy_dir(from: &Path, to: &Path) {
    let copied = std::process::Command::new("cp")
        .arg("-a")
        .arg(from)
        .arg(to)
        .status()
        .unwrap();
    assert!(copied.success());
}

#[test]
fn every_command_answers_the_same_with_the_daemon_running_and_stopped() {
    let feeds = FeedServer::start();
    let env = prepared(&feeds);
    let state = env.dir.path().join("state");
    let saved = env.dir.path().join("state.saved");
    copy_dir(&state, &saved);

    let daemon = Daemon::start(&env);
    let (status_running, live) = status_json(&env);
    let (text_running, live_text) = status_text(&env);
    let running = run_all(&env);
    daemon.stop();

    std::fs::remove_dir_all(&state).unwrap();
    copy_dir(&saved, &state);
    let (status_stopped, none) = status_json(&env);
    let (text_stopped, none_text) = status_text(&env);
    let stopped = run_all(&env);

    assert_eq!(status_running, status_stopped);
    let keys: Vec<&String> = status_running.as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        ["api_key", "feeds", "jobs", "notify", "running", "units"]
    );
    assert_eq!(text_running, text_stopped);
    assert!(live["slots"].as_u64().is_some(), "{live}");
    assert!(live_text.starts_with("daemon: running;"), "{live_text}");
    assert_eq!(none, Value::Null);
    assert_eq!(none_text, "daemon: not running");
    for ((args, through_daemon), here) in commands(&env).iter().zip(&running).zip(&stopped) {
        assert_eq!(through_daemon, here, "clipwatch {args:?}");
    }
    // What the requests did, as a person would read it.
    let said = |i: usize| format!("{}{}", running[i].1, running[i].2);
    let expect = [
        (
            13,
            "job 1 is done; only failed or skipped jobs can be retried",
            1,
        ),
        (14, "no job 999", 1),
        (16, "use --force to clip it again", 0),
        (17, "no preset \"nope\"", 2),
        (18, "not a video the Upload API takes", 2),
        (
            19,
            "queued job 1 for youtube:dQw4w9WgXcQ again (--force)",
            0,
        ),
        (20, "job 2 youtube:aaaaaaaaaaa: failed → queued", 0),
        (21, "forgot youtube:bbbbbbbbbbb (job 3)", 0),
        (22, "queued job 4 for youtube:bbbbbbbbbbb", 0),
        (23, "queued job 5 for youtube:ccccccccccc", 0),
    ];
    for (i, needle, code) in expect {
        assert!(
            said(i).contains(needle),
            "{:?}: {}",
            commands(&env)[i],
            said(i)
        );
        assert_eq!(
            running[i].0,
            Some(code),
            "{:?}: {}",
            commands(&env)[i],
            said(i)
        );
    }
    assert!(
        running[1].1.starts_with("[\n  {\n    \"id\": 1,"),
        "{}",
        running[1].1
    );
    assert_eq!(running[5].0, Some(2), "{}", said(5));
}

#[test]
fn a_running_task_and_its_age_show_with_the_daemon_running_and_stopped() {
    let env = Env::new(FakeConfig {
        phase: Duration::from_secs(60),
        ..FakeConfig::default()
    });
    let daemon = Daemon::start(&env);
    assert_success(&env.run(&["submit", DONE]));
    assert!(
        wait_until(Duration::from_secs(20), || env.jobs()[0]["state"]
            == "processing"),
        "{}",
        daemon.log()
    );
    let running_line = |mode: &str| {
        let out = env.run(&["status"]);
        let line = String::from_utf8_lossy(&out.stdout)
            .lines()
            .find(|l| l.starts_with("running:"))
            .unwrap_or_else(|| panic!("{mode}: {}", text(&out)))
            .to_string();
        let age = line
            .strip_prefix("running: job 1 youtube:dQw4w9WgXcQ task proj_1 for ")
            .unwrap_or_else(|| panic!("{mode}: {line}"));
        assert!(age.ends_with('s') && !age.contains(' '), "{mode}: {line}");
        let (status, _) = status_json(&env);
        assert_eq!(status["running"][0]["state"], "processing", "{mode}");
        assert!(
            !status.to_string().contains("submitted_at"),
            "{mode}: {status}"
        );
    };
    running_line("running");
    daemon.stop();
    running_line("stopped");
}

/// Send one raw line to the daemon's socket and read its one-line answer.
fn exchange(socket: &Path, frame: &str) -> Value {
    let mut stream = UnixStream::connect(socket).unwrap();
    stream.write_all(frame.as_bytes()).unwrap();
    stream.write_all(b"\n").unwrap();
    let mut line = String::new();
    BufReader::new(stream).read_line(&mut line).unwrap();
    serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}"))
}

#[test]
fn a_client_of_another_protocol_version_is_told_both_versions() {
    let env = Env::new(quick());
    let daemon = Daemon::start(&env);
    let socket = env.dir.path().join("state/control.sock");

    let future = r#"{"protocol": 999, "clipwatch": "9.9.9", "request": {"command": "status"}}"#;
    let answer = exchange(&socket, future);
    assert_eq!(answer["protocol"], 1, "{answer}");
    assert_eq!(answer["error"]["kind"], "protocol", "{answer}");
    let message = answer["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("(clipwatch 9.9.9) speaks protocol version 999")
            && message.contains("speaks protocol version 1;"),
        "{message}"
    );

    // A clipwatch from before protocol versions sent its command line and
    // prints `out`: it is told in the shape it reads.
    let answer = exchange(&socket, r#"{"args": ["status"]}"#);
    let stderr = answer["out"]["stderr"].as_str().unwrap();
    assert_eq!(answer["code"], 1, "{answer}");
    assert!(stderr.contains("protocol version mismatch"), "{stderr}");
    assert!(!stderr.contains("Usage:"), "not a clap error: {stderr}");

    // A request added in a later version.
    let newer = r#"{"protocol": 1, "request": {"command": "notify_test"}}"#;
    let answer = exchange(&socket, newer);
    assert_eq!(answer["error"]["kind"], "bad_request", "{answer}");
    assert!(
        answer["error"]["message"]
            .as_str()
            .unwrap()
            .contains("restart the daemon"),
        "{answer}"
    );

    // The same socket still answers this version.
    let answer = exchange(
        &socket,
        r#"{"protocol": 1, "request": {"command": "jobs"}}"#,
    );
    assert_eq!(
        answer["reply"],
        serde_json::json!({"kind": "jobs", "data": []})
    );
    let log = daemon.stop();
    assert!(!log.contains("panicked"), "{log}");
}

/// A daemon stand-in on `env`'s control socket: takes one request, answers
/// `reply`, and returns the request it read.
fn fake_daemon(env: &Env, reply: &'static str) -> std::thread::JoinHandle<String> {
    let state = env.dir.path().join("state");
    std::fs::create_dir_all(&state).unwrap();
    std::fs::set_permissions(&state, std::fs::Permissions::from_mode(0o700)).unwrap();
    let socket = state.join("control.sock");
    let _ = std::fs::remove_file(&socket);
    let listener = UnixListener::bind(&socket).unwrap();
    std::thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        let mut request = String::new();
        let mut reader = BufReader::new(stream);
        reader.read_line(&mut request).unwrap();
        let mut stream = reader.into_inner();
        stream.write_all(reply.as_bytes()).unwrap();
        stream.write_all(b"\n").unwrap();
        request
    })
}

#[test]
fn a_daemon_of_another_protocol_version_is_named_by_the_cli() {
    let env = Env::new(quick());
    let answers = [
        (
            r#"{"protocol": 999, "clipwatch": "9.9.9", "reply": {"kind": "jobs", "data": []}}"#,
            "the daemon (clipwatch 9.9.9) speaks protocol version 999",
        ),
        (
            r#"{"code": 0, "out": {"stdout": "ID  STATE\n", "stderr": ""}}"#,
            "the daemon is an older clipwatch that takes command lines",
        ),
    ];
    for (reply, said) in answers {
        let daemon = fake_daemon(&env, reply);
        let out = env.run(&["jobs", "--state", "failed", "--json"]);
        let request: Value = serde_json::from_str(&daemon.join().unwrap()).unwrap();
        assert_eq!(request["protocol"], 1, "{request}");
        assert_eq!(
            request["request"],
            serde_json::json!({"command": "jobs", "state": "failed", "feed": null})
        );
        assert_eq!(out.status.code(), Some(1), "{}", text(&out));
        assert!(out.stdout.is_empty(), "{}", text(&out));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("protocol version mismatch")
                && stderr.contains(said)
                && stderr.contains("speaks protocol version 1;"),
            "{stderr}"
        );
    }
}

fn os(bytes: &[u8]) -> OsString {
    OsStr::from_bytes(bytes).to_os_string()
}

/// Neither a panic nor a clap usage dump: a message and exit code 2.
fn assert_refused_clearly(out: &Output, said: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(out.status.code(), Some(2), "{}", text(out));
    assert!(stderr.contains(said), "{stderr}");
}

#[test]
fn arguments_that_are_not_utf8_never_panic() {
    let env = Env::new(quick());
    assert_success(&env.run(&["submit", DONE, "--wait"]));
    let dir = env.dir.path();
    // A configuration file whose name is not UTF-8, and a folder too.
    let config = dir.join(os(b"conf\xff.toml"));
    std::fs::copy(env.config_path(), &config).unwrap();
    let odd_dir: PathBuf = dir.join(os(b"videos\xfe"));
    std::fs::create_dir(&odd_dir).unwrap();
    std::fs::write(odd_dir.join("clip.mp4"), b"not really a video").unwrap();
    let absolute_config = env.config_path();

    let expected = env.run(&["jobs", "--json"]);
    assert_success(&expected);
    let check = |mode: &str| {
        let jobs = env.run_raw(
            dir,
            &[
                OsStr::new("--config"),
                config.as_os_str(),
                OsStr::new("jobs"),
                OsStr::new("--json"),
            ],
        );
        assert_success(&jobs);
        assert_eq!(jobs.stdout, expected.stdout, "{mode}");
        let show = env.run_raw(
            dir,
            &[
                OsStr::new("--config"),
                config.as_os_str(),
                OsStr::new("show"),
                &os(b"\xff"),
            ],
        );
        assert_refused_clearly(&show, "invalid UTF-8");
        let submit = env.run_raw(
            dir,
            &[
                OsStr::new("--config"),
                absolute_config.as_os_str(),
                OsStr::new("submit"),
                odd_dir.join("clip.mp4").as_os_str(),
            ],
        );
        assert_refused_clearly(&submit, "invalid UTF-8");
        // A plain name, in a folder whose path is not UTF-8.
        let relative = env.run_raw(
            &odd_dir,
            &[
                OsStr::new("--config"),
                absolute_config.as_os_str(),
                OsStr::new("submit"),
                OsStr::new("clip.mp4"),
            ],
        );
        assert_refused_clearly(&relative, "path is not valid UTF-8");
    };
    check("stopped");
    let daemon = Daemon::start(&env);
    check("running");
    let log = daemon.stop();
    assert!(!log.contains("panicked"), "{log}");
    assert_eq!(env.jobs().len(), 1, "nothing was queued");
}
