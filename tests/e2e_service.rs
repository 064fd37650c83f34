//! End to end: the daemon as a service (SPEC §2, §7) — readiness on a
//! systemd notify socket, the control socket, reload, a second instance,
//! and the same output whether or not the daemon runs.

mod support;

use std::os::unix::net::UnixDatagram;
use std::process::Child;
use std::time::{Duration, Instant};

use support::harness::{all_files, base_config, text, wait_until, Env};
use support::FakeConfig;

const VIDEO: &str = "https://www.youtube.com/watch?v=dQw4w9WgXcQ";

fn quick() -> FakeConfig {
    FakeConfig {
        phase: Duration::from_millis(60),
        ..FakeConfig::default()
    }
}

fn sigterm(child: &Child) {
    signal(child, "-TERM");
}

fn signal(child: &Child, which: &str) {
    let status = std::process::Command::new("kill")
        .args([which, &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

fn socket_up(env: &Env) -> bool {
    wait_until(Duration::from_secs(10), || {
        env.dir.path().join("state/control.sock").exists()
    })
}

#[test]
fn ready_status_and_stopping_reach_the_notify_socket() {
    let env = Env::new(quick());
    let notify_path = env.dir.path().join("notify.sock");
    let notify = UnixDatagram::bind(&notify_path).unwrap();
    notify
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let log = env.dir.path().join("run.log");
    let mut command = std::process::Command::new(support::harness::BINARY);
    command
        .args(["--config"])
        .arg(env.config_path())
        .arg("run")
        .env("WAYIN_API_KEY", &env.api.config().api_key)
        .env("NOTIFY_SOCKET", &notify_path)
        .env("WATCHDOG_USEC", "200000")
        .stderr(std::fs::File::create(&log).unwrap());
    let mut daemon = command.spawn().unwrap();
    let mut messages = String::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut buf = [0u8; 4096];
    while Instant::now() < deadline && !messages.contains("READY=1") {
        if let Ok(n) = notify.recv(&mut buf) {
            messages.push_str(&String::from_utf8_lossy(&buf[..n]));
        }
    }
    assert!(messages.contains("READY=1"), "got: {messages:?}");
    assert!(messages.contains("STATUS=idle"), "got: {messages:?}");
    // READY comes after the database is open: the control socket answers.
    assert!(socket_up(&env));
    // Watchdog pings at half of WATCHDOG_USEC; RELOADING/READY around SIGHUP.
    signal(&daemon, "-HUP");
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline
        && !(messages.matches("WATCHDOG=1").count() >= 3 && messages.contains("RELOADING=1"))
    {
        if let Ok(n) = notify.recv(&mut buf) {
            messages.push_str(&String::from_utf8_lossy(&buf[..n]));
        }
    }
    assert!(
        messages.matches("WATCHDOG=1").count() >= 3,
        "got: {messages:?}"
    );
    let reloading = messages.find("RELOADING=1").expect("RELOADING=1 sent");
    assert!(
        messages[reloading..].contains("READY=1"),
        "READY=1 after the reload: {messages:?}"
    );
    sigterm(&daemon);
    assert!(daemon.wait().unwrap().success());
    while let Ok(n) = notify.recv(&mut buf) {
        messages.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    assert!(messages.contains("STOPPING=1"), "got: {messages:?}");
    assert!(
        !env.dir.path().join("state/control.sock").exists(),
        "socket removed on exit"
    );
}

#[test]
fn commands_give_the_same_output_through_the_daemon_and_without_it() {
    let env = Env::new(quick());
    let log = env.dir.path().join("run.log");
    let mut daemon = env.spawn(&["run"], &log);
    assert!(socket_up(&env));
    // Queued through the socket (the database is the daemon's).
    let submitted = env.run(&["submit", VIDEO, "--wait"]);
    assert!(submitted.status.success(), "{}", text(&submitted));
    assert!(text(&submitted).contains("done:"), "{}", text(&submitted));
    let mode = std::fs::metadata(env.dir.path().join("state/control.sock")).unwrap();
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&mode.permissions()) & 0o777,
        0o600
    );

    let commands: [&[&str]; 4] = [
        &["jobs"],
        &["jobs", "--json"],
        &["show", "1"],
        &["show", "youtube:dQw4w9WgXcQ", "--json"],
    ];
    let running: Vec<String> = commands.iter().map(|args| text(&env.run(args))).collect();
    let status = env.run(&["status"]);
    assert!(
        text(&status).contains("daemon: running"),
        "{}",
        text(&status)
    );

    sigterm(&daemon);
    assert!(daemon.wait().unwrap().success());
    let stopped: Vec<String> = commands.iter().map(|args| text(&env.run(args))).collect();
    assert_eq!(running, stopped);
    assert!(running[0].contains("done"), "{}", running[0]);
    let status = env.run(&["status"]);
    assert!(
        text(&status).contains("daemon: not running"),
        "{}",
        text(&status)
    );
    assert_eq!(env.api.submissions_for(VIDEO), 1);
}

#[test]
fn a_second_daemon_on_the_same_state_is_refused_at_once() {
    let env = Env::new(quick());
    let mut daemon = env.spawn(&["run"], &env.dir.path().join("run.log"));
    assert!(socket_up(&env));
    let started = Instant::now();
    let second = env.run(&["run"]);
    assert_eq!(second.status.code(), Some(1), "{}", text(&second));
    assert!(
        text(&second).contains("already running"),
        "{}",
        text(&second)
    );
    assert!(started.elapsed() < Duration::from_secs(10));
    let once = env.run(&["once"]);
    assert_eq!(once.status.code(), Some(1), "{}", text(&once));
    assert!(
        text(&once).contains("in use by another clipwatch"),
        "{}",
        text(&once)
    );
    sigterm(&daemon);
    assert!(daemon.wait().unwrap().success());
}

#[test]
fn a_stale_socket_from_a_crash_is_replaced() {
    let env = Env::new(quick());
    let mut daemon = env.spawn(&["run"], &env.dir.path().join("run1.log"));
    assert!(socket_up(&env));
    daemon.kill().unwrap();
    daemon.wait().unwrap();
    assert!(
        env.dir.path().join("state/control.sock").exists(),
        "kill -9 leaves the socket"
    );
    // Without a daemon, commands open the database themselves.
    assert!(env.run(&["jobs"]).status.success());
    let mut daemon = env.spawn(&["run"], &env.dir.path().join("run2.log"));
    let answered = wait_until(Duration::from_secs(10), || {
        text(&env.run(&["status"])).contains("daemon: running")
    });
    assert!(answered);
    sigterm(&daemon);
    assert!(daemon.wait().unwrap().success());
}

#[test]
fn sighup_applies_a_valid_file_and_refuses_an_invalid_one() {
    let env = Env::new(quick());
    let config = env.config_path();
    let log = env.dir.path().join("run.log");
    let mut daemon = env.spawn(&["run"], &log);
    assert!(socket_up(&env));

    let good = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &config,
        good.replace("enable_export = false", "enable_export = maybe"),
    )
    .unwrap();
    signal(&daemon, "-HUP");
    assert!(wait_until(Duration::from_secs(10), || {
        std::fs::read_to_string(&log)
            .unwrap()
            .contains("reload refused")
    }));
    let log_text = std::fs::read_to_string(&log).unwrap();
    assert!(
        log_text.contains("config.toml:"),
        "the refusal names the file and line: {log_text}"
    );

    // Still running on the old configuration; now a valid file with a new preset.
    let with_square =
        format!("{good}\n[presets.square]\nextends = \"default\"\nratio = \"RATIO_1_1\"\n");
    std::fs::write(&config, with_square).unwrap();
    signal(&daemon, "-HUP");
    assert!(wait_until(Duration::from_secs(10), || {
        std::fs::read_to_string(&log)
            .unwrap()
            .contains("configuration reloaded")
    }));
    let submitted = env.run(&["submit", VIDEO, "--preset", "square", "--wait"]);
    assert!(submitted.status.success(), "{}", text(&submitted));
    assert_eq!(
        env.api.submissions()[0]["ratio"],
        "RATIO_1_1",
        "the daemon used the reloaded preset"
    );
    sigterm(&daemon);
    assert!(daemon.wait().unwrap().success());
    assert!(all_files(&env.clips())
        .iter()
        .any(|f| f.ends_with("project.json")));
}

#[test]
fn sigterm_during_a_download_loses_nothing() {
    // Big, slowly served clips keep the daemon in `downloading` long enough.
    let env = Env::with_config(
        FakeConfig {
            clip_bytes: 4 * 1024 * 1024,
            ..quick()
        },
        base_config,
    );
    env.api.misbehave(support::Misbehave {
        response_delay: Some(Duration::from_millis(300)),
        ..support::Misbehave::default()
    });
    let log = env.dir.path().join("run1.log");
    assert!(env.run(&["submit", VIDEO]).status.success());
    let mut daemon = env.spawn(&["run"], &log);
    let downloading = wait_until(Duration::from_secs(20), || {
        env.api
            .requests()
            .iter()
            .any(|r| r.path.contains("/files/"))
    });
    assert!(downloading, "{}", std::fs::read_to_string(&log).unwrap());
    sigterm(&daemon);
    assert!(daemon.wait().unwrap().success(), "clean exit");
    assert_eq!(env.jobs()[0]["state"], "downloading");
    env.api.misbehave(support::Misbehave::default());
    let once = env.run(&["once"]);
    assert!(once.status.success(), "{}", text(&once));
    let files = all_files(&env.clips());
    assert!(files.iter().any(|f| f.ends_with("project.json")));
    assert!(
        files
            .iter()
            .all(|f| !f.to_string_lossy().ends_with(".part")),
        "{files:?}"
    );
    let task = &env.api.task_ids()[0];
    let video = files
        .iter()
        .find(|f| f.to_string_lossy().ends_with("01 Clip 1 title.mp4"))
        .unwrap();
    assert_eq!(std::fs::read(video).unwrap(), env.api.clip_bytes(task, 0));
    assert_eq!(env.api.submissions_for(VIDEO), 1);
}

#[test]
fn a_notify_socket_nobody_reads_never_stalls_the_daemon() {
    // Regression: a blocking sd_notify send stalled the daemon (and its
    // SIGTERM handling) once the reader's queue (10 datagrams) was full.
    let env = Env::new(quick());
    let notify_path = env.dir.path().join("notify.sock");
    let _never_read = UnixDatagram::bind(&notify_path).unwrap();
    let mut daemon = std::process::Command::new(support::harness::BINARY)
        .arg("--config")
        .arg(env.config_path())
        .arg("run")
        .env("WAYIN_API_KEY", &env.api.config().api_key)
        .env("NOTIFY_SOCKET", &notify_path)
        .env("WATCHDOG_USEC", "20000") // a ping every 10 ms fills the queue at once
        .stderr(std::fs::File::create(env.dir.path().join("run.log")).unwrap())
        .spawn()
        .unwrap();
    assert!(socket_up(&env));
    std::thread::sleep(Duration::from_millis(500));
    let answered = env.run(&["status"]);
    assert!(
        text(&answered).contains("daemon: running"),
        "{}",
        text(&answered)
    );
    let asked = Instant::now();
    sigterm(&daemon);
    let exited = wait_until(Duration::from_secs(10), || {
        daemon.try_wait().unwrap().is_some()
    });
    if !exited {
        daemon.kill().unwrap();
    }
    assert!(exited, "the daemon did not stop within 10 s");
    assert!(
        asked.elapsed() < Duration::from_secs(5),
        "stopped in {:?}",
        asked.elapsed()
    );
}
