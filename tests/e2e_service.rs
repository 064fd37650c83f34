//! End to end: the daemon as a service (SPEC §2, §7) — readiness on a
//! systemd notify socket, the control socket, reload, a second instance,
//! and the same output whether or not the daemon runs.

mod support;

use std::os::unix::net::UnixDatagram;
use std::time::{Duration, Instant};

use support::harness::{
    all_files, base_config, quick, text, wait_until, Daemon, Env, Notify, VIDEO,
};
use support::FakeConfig;

#[test]
fn ready_status_and_stopping_reach_the_notify_socket() {
    let env = Env::new(quick());
    let mut notify = Notify::bind(&env, Duration::from_millis(200));
    let vars = [
        ("NOTIFY_SOCKET", notify.var()),
        ("WATCHDOG_USEC", "200000".into()),
    ];
    let mut command = std::process::Command::new(support::harness::BINARY);
    command
        .args(["--config"])
        .arg(env.config_path())
        .arg("run")
        .env("WAYIN_API_KEY", &env.api.config().api_key)
        .envs(vars.iter().map(|(k, v)| (k, v)));
    let log = env.dir.path().join("run.log");
    let mut daemon = Daemon::from_command(&mut command, log, &env);
    let ready = notify.wait_for(Duration::from_secs(10), |m| m.contains("READY=1"));
    let messages = notify.text();
    assert!(ready, "got: {messages:?}");
    assert!(messages.contains("STATUS=idle"), "got: {messages:?}");
    // READY comes after the database is open: the control socket answers.
    daemon = daemon.wait_up();
    // Watchdog pings at half of WATCHDOG_USEC; RELOADING/READY around SIGHUP.
    daemon.hup();
    notify.wait_for(Duration::from_secs(10), |m| {
        m.matches("WATCHDOG=1").count() >= 3 && m.contains("RELOADING=1")
    });
    let messages = notify.text();
    assert!(
        messages.matches("WATCHDOG=1").count() >= 3,
        "got: {messages:?}"
    );
    let reloading = messages.find("RELOADING=1").expect("RELOADING=1 sent");
    assert!(
        messages[reloading..].contains("READY=1"),
        "READY=1 after the reload: {messages:?}"
    );
    daemon.stop();
    notify.receive();
    let messages = notify.text();
    assert!(messages.contains("STOPPING=1"), "got: {messages:?}");
    assert!(
        !env.dir.path().join("state/control.sock").exists(),
        "socket removed on exit"
    );
}

#[test]
fn commands_give_the_same_output_through_the_daemon_and_without_it() {
    let env = Env::new(quick());
    let daemon = Daemon::spawn(&env, &["run"]).wait_up();
    // Queued through the socket (the database is the daemon's).
    let submitted = env.run_ok(&["submit", VIDEO, "--wait"]);
    assert!(submitted.contains("done:"), "{submitted}");
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

    daemon.stop();
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
    let daemon = Daemon::spawn(&env, &["run"]).wait_up();
    let started = Instant::now();
    let second = env.run_code(&["run"], 1);
    assert!(second.contains("already running"), "{second}");
    assert!(started.elapsed() < Duration::from_secs(10));
    let once = env.run_code(&["once"], 1);
    assert!(once.contains("in use by another clipwatch"), "{once}");
    daemon.stop();
}

#[test]
fn a_stale_socket_from_a_crash_is_replaced() {
    let env = Env::new(quick());
    let mut daemon = Daemon::spawn(&env, &["run"]).wait_up();
    daemon.kill();
    assert!(
        env.dir.path().join("state/control.sock").exists(),
        "kill -9 leaves the socket"
    );
    // Without a daemon, commands open the database themselves.
    assert!(env.run(&["jobs"]).status.success());
    let daemon = Daemon::spawn(&env, &["run"]);
    let answered = wait_until(Duration::from_secs(10), || {
        text(&env.run(&["status"])).contains("daemon: running")
    });
    assert!(answered);
    daemon.stop();
}

#[test]
fn sighup_applies_a_valid_file_and_refuses_an_invalid_one() {
    let env = Env::new(quick());
    let config = env.config_path();
    let daemon = Daemon::spawn(&env, &["run"]).wait_up();

    let good = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &config,
        good.replace("enable_export = false", "enable_export = maybe"),
    )
    .unwrap();
    daemon.hup();
    assert!(daemon.wait_log("reload refused"), "{}", daemon.log());
    let log_text = daemon.log();
    assert!(
        log_text.contains("config.toml:"),
        "the refusal names the file and line: {log_text}"
    );

    // Still running on the old configuration; now a valid file with a new preset.
    let with_square =
        format!("{good}\n[presets.square]\nextends = \"default\"\nratio = \"RATIO_1_1\"\n");
    std::fs::write(&config, with_square).unwrap();
    daemon.hup();
    assert!(
        daemon.wait_log("configuration reloaded"),
        "{}",
        daemon.log()
    );
    env.run_ok(&["submit", VIDEO, "--preset", "square", "--wait"]);
    assert_eq!(
        env.api.submissions()[0]["ratio"],
        "RATIO_1_1",
        "the daemon used the reloaded preset"
    );
    daemon.stop();
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
    env.run_ok(&["submit", VIDEO]);
    let daemon = Daemon::spawn(&env, &["run"]);
    daemon.expect("downloading", Duration::from_secs(20), || {
        env.api
            .requests()
            .iter()
            .any(|r| r.path.contains("/files/"))
    });
    daemon.stop();
    assert_eq!(env.jobs()[0]["state"], "downloading");
    env.api.misbehave(support::Misbehave::default());
    env.once();
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
    let notify_var = notify_path.to_string_lossy().into_owned();
    let vars = [
        ("NOTIFY_SOCKET", notify_var.as_str()),
        ("WATCHDOG_USEC", "20000"), // a ping every 10 ms fills the queue at once
    ];
    let mut daemon = Daemon::spawn_with_env(&env, &["run"], &vars).wait_up();
    std::thread::sleep(Duration::from_millis(500));
    let answered = env.run(&["status"]);
    assert!(
        text(&answered).contains("daemon: running"),
        "{}",
        text(&answered)
    );
    let asked = Instant::now();
    support::harness::signal(daemon.pid(), "-TERM");
    let exited = wait_until(Duration::from_secs(10), || !daemon.is_running());
    assert!(exited, "the daemon did not stop within 10 s");
    assert!(
        asked.elapsed() < Duration::from_secs(5),
        "stopped in {:?}",
        asked.elapsed()
    );
}
