//! End to end: what another local user can do to clipwatch (issues 11 and
//! 12): links in the drop folder that lead to secrets, names that forge log
//! lines, deep folders, the state directory and the control socket (its
//! owner, its peer, idle connections, deletion), early signals, core dumps.

mod support;

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Child;
use std::time::Duration;

use support::harness::{
    all_files, assert_no_secrets, base_config, signal, text, tiny_clips as quick, wait_until,
    Daemon, Env,
};
use support::Misbehave;

/// The base config plus `[drop]` on `inbox`, rescanned often.
fn drop_env() -> Env {
    Env::with_config(quick(), |url| {
        format!(
            "{}\n[drop]\ndir = \"inbox\"\nsettle = \"100ms\"\nrescan = \"200ms\"\n",
            base_config(url)
        )
    })
}

fn inbox(env: &Env) -> PathBuf {
    env.dir.path().join("inbox")
}

fn mode(path: &Path) -> u32 {
    std::fs::symlink_metadata(path).unwrap().mode() & 0o7777
}

/// The service's secret `key` in a 0600 file `name`, outside the drop folder
/// (and outside the test directory, so that the no-secret scan does not
/// find it there): the directory (removed when dropped) and the file.
fn key_file_elsewhere(key: &str, name: &str) -> (tempfile::TempDir, PathBuf) {
    let elsewhere = tempfile::tempdir().unwrap();
    let secret = elsewhere.path().join(name);
    std::fs::write(&secret, format!("{key}\n")).unwrap();
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).unwrap();
    (elsewhere, secret)
}

#[test]
fn links_to_secrets_are_never_read_echoed_or_uploaded() {
    let env = drop_env();
    let key = env.api.config().api_key.clone();
    let (_elsewhere, secret) = key_file_elsewhere(&key, "wayin_api_key");
    let inbox = inbox(&env);
    std::fs::create_dir_all(inbox.join(".links")).unwrap();
    for name in ["notes.txt", "clip.mp4", "list.json", "short.url"] {
        std::os::unix::fs::symlink(&secret, inbox.join(name)).unwrap();
    }
    // The secret pasted into a list by mistake: its line is never quoted.
    let pasted = inbox.join("pasted.txt");
    std::fs::write(&pasted, format!("https://youtu.be/aaaaaaaaaaa\n{key}\n")).unwrap();
    std::fs::set_permissions(&pasted, std::fs::Permissions::from_mode(0o600)).unwrap();
    // A link that stays inside the drop folder is still followed.
    std::fs::write(
        inbox.join(".links/inside.txt"),
        "https://youtu.be/bbbbbbbbbbb\n",
    )
    .unwrap();
    std::os::unix::fs::symlink(".links/inside.txt", inbox.join("inside.txt")).unwrap();

    let out = env.run(&["once"]);
    let log = text(&out);
    assert!(out.status.success(), "{log}");

    let failed = inbox.join(".failed");
    for name in ["notes.txt", "clip.mp4", "list.json", "short.url"] {
        let note_path = failed.join(format!("{name}.error.txt"));
        let note = std::fs::read_to_string(&note_path)
            .unwrap_or_else(|e| panic!("{}: {e}\n{log}", note_path.display()));
        assert!(note.contains("outside the drop folder"), "{note}");
        assert_eq!(mode(&note_path) & !0o640, 0, "{name}: note mode");
        assert!(
            std::fs::symlink_metadata(failed.join(name))
                .unwrap()
                .is_symlink(),
            "{name}: the link itself is filed"
        );
    }
    let pasted_note = failed.join("pasted.txt.error.txt");
    let note = std::fs::read_to_string(&pasted_note).unwrap();
    assert!(note.contains("line 2: not a URL"), "{note}");
    assert_eq!(
        mode(&pasted_note),
        0o600,
        "the note is no wider than the file"
    );
    assert!(log.contains("line 2: not a URL"), "{log}");

    assert!(env.api.uploads().is_empty(), "nothing is uploaded");
    let submitted = support::harness::submitted_urls(&env);
    assert_eq!(
        submitted,
        [
            "https://www.youtube.com/watch?v=aaaaaaaaaaa",
            "https://www.youtube.com/watch?v=bbbbbbbbbbb"
        ]
    );
    let jobs = env.run(&["jobs", "--json"]);
    let mut seen = log + &text(&jobs);
    // Everything clipwatch wrote: not the database, not the links, not the
    // file the user pasted the key into.
    for file in all_files(env.dir.path()) {
        if file.starts_with(env.dir.path().join("state"))
            || file.is_symlink()
            || file == failed.join("pasted.txt")
        {
            continue;
        }
        seen += &String::from_utf8_lossy(&std::fs::read(&file).unwrap());
    }
    assert!(!seen.contains(key.as_str()), "the key leaked:\n{seen}");
}

#[test]
fn control_characters_in_drop_names_cannot_forge_log_lines() {
    let env = drop_env();
    let inbox = inbox(&env);
    std::fs::create_dir_all(&inbox).unwrap();
    let name = "evil\nERROR forged line\r\u{1b}[2K.pdf";
    std::fs::write(inbox.join(name), "x").unwrap();
    let out = env.run(&["once"]);
    let log = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{log}");
    assert!(
        inbox.join(".failed").join(name).exists(),
        "filed under .failed"
    );
    assert!(
        !log.lines().any(|l| l.starts_with("ERROR forged line")),
        "a name split the log:\n{log}"
    );
    assert!(
        !log.contains('\u{1b}'),
        "an escape reached the log:\n{log:?}"
    );
    assert!(
        log.contains("evil\\nERROR forged line\\r\\u{1b}[2K.pdf"),
        "{log}"
    );
}

#[test]
fn files_nine_and_more_folders_deep_are_taken() {
    let env = drop_env();
    let deep = (1..=12).fold(inbox(&env).join("default"), |p, n| p.join(format!("d{n}")));
    std::fs::create_dir_all(&deep).unwrap();
    std::fs::write(deep.join("deep.txt"), "https://youtu.be/ddddddddddd\n").unwrap();
    let out = env.run(&["once"]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        env.api
            .submissions_for("https://www.youtube.com/watch?v=ddddddddddd"),
        1,
        "{}",
        text(&out)
    );
    assert!(inbox(&env).join(".done/deep.txt").exists());
}

/// The test's second local user `(uid, gid)`, created if needed; `None`
/// (with a message) where users cannot be created, except under CI.
fn second_user() -> Option<(u32, u32)> {
    const NAME: &str = "clipwatch-e2e";
    let id = |flag: &str| {
        std::process::Command::new("id")
            .args([flag, NAME])
            .output()
            .ok()
            .filter(|o| o.status.success())
            .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
    };
    if id("-u").is_none() {
        let made = std::process::Command::new("useradd")
            .args([
                "--system",
                "--no-create-home",
                "--shell",
                "/usr/sbin/nologin",
                NAME,
            ])
            .output();
        // Another test may have created it meanwhile.
        if id("-u").is_none() {
            let why = match made {
                Ok(out) => String::from_utf8_lossy(&out.stderr).into_owned(),
                Err(err) => err.to_string(),
            };
            assert!(
                std::env::var_os("CI").is_none(),
                "CI must be able to create a second user: {why}"
            );
            eprintln!("SKIPPED: cannot create a second local user ({why})");
            return None;
        }
    }
    Some((id("-u")?, id("-g")?))
}

/// A directory the second user owns, with a config whose state is inside.
fn user_home(env: &Env, uid: u32, gid: u32) -> tempfile::TempDir {
    let home = tempfile::tempdir().unwrap();
    std::fs::write(
        home.path().join("config.toml"),
        base_config(&env.api.base_url),
    )
    .unwrap();
    for path in [home.path().to_path_buf(), home.path().join("config.toml")] {
        std::os::unix::fs::chown(&path, Some(uid), Some(gid)).unwrap();
    }
    home
}

/// `clipwatch run` as the second user.
fn run_as(env: &Env, uid: u32, gid: u32, home: &Path, log: &Path) -> Child {
    std::process::Command::new("setpriv")
        .arg(format!("--reuid={uid}"))
        .arg(format!("--regid={gid}"))
        .arg("--clear-groups")
        .arg("--")
        .arg(support::harness::BINARY)
        .arg("--config")
        .arg(home.join("config.toml"))
        .arg("run")
        .env("WAYIN_API_KEY", &env.api.config().api_key)
        .env_remove("CREDENTIALS_DIRECTORY")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(log).unwrap())
        .spawn()
        .expect("setpriv")
}

#[test]
fn an_open_or_foreign_state_dir_is_refused_and_a_new_one_is_private() {
    let env = Env::new(quick());
    let state = env.dir.path().join("state");
    // A fresh state directory is 0700, its database files 0600.
    let out = env.run(&["once"]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(mode(&state), 0o700);
    for file in all_files(&state) {
        assert_eq!(mode(&file) & 0o077, 0, "{}", file.display());
    }
    for open in [0o777, 0o1777, 0o775] {
        std::fs::set_permissions(&state, std::fs::Permissions::from_mode(open)).unwrap();
        for command in ["run", "once"] {
            let out = env.run(&[command]);
            assert_eq!(out.status.code(), Some(78), "{command}: {}", text(&out));
            assert!(
                text(&out).contains("writable by other users") && text(&out).contains("chmod 700"),
                "{}",
                text(&out)
            );
        }
    }
    assert!(!state.join("control.sock").exists());
    std::fs::set_permissions(&state, std::fs::Permissions::from_mode(0o700)).unwrap();
    let Some((uid, gid)) = second_user() else {
        return;
    };
    std::os::unix::fs::chown(&state, Some(uid), Some(gid)).unwrap();
    let out = env.run_code(&["run"], 78);
    assert!(out.contains(&format!("belongs to user id {uid}")), "{out}");
}

#[test]
fn key_file_and_config_readable_by_everyone_are_warned_about() {
    let env = Env::with_config(quick(), |url| {
        format!(
            "{}\n[[feeds]]\nname = \"private\"\nurl = \"http://127.0.0.1:9/feed.xml?token=abc\"\n",
            base_config(url).replace("[api]\n", "[api]\napi_key_file = \"api_key\"\n")
        )
    });
    std::fs::write(env.dir.path().join("api_key"), "k").unwrap();
    for file in ["api_key", "config.toml"] {
        std::fs::set_permissions(
            env.dir.path().join(file),
            std::fs::Permissions::from_mode(0o644),
        )
        .unwrap();
    }
    let out = env.run(&["check", "--offline"]);
    let shown = text(&out);
    assert!(
        shown.contains("api.api_key_file") && shown.contains("readable by every user"),
        "{shown}"
    );
    assert!(shown.contains("holds URLs with credentials"), "{shown}");
    for file in ["api_key", "config.toml"] {
        std::fs::set_permissions(
            env.dir.path().join(file),
            std::fs::Permissions::from_mode(0o640),
        )
        .unwrap();
    }
    let out = env.run(&["check", "--offline"]);
    assert!(
        !text(&out).contains("readable by every user"),
        "{}",
        text(&out)
    );
}

#[test]
fn the_cli_refuses_a_socket_or_a_daemon_of_another_user() {
    let env = Env::new(quick());
    let Some((uid, gid)) = second_user() else {
        return;
    };
    let state = env.dir.path().join("state");
    std::fs::create_dir_all(&state).unwrap();
    std::fs::set_permissions(&state, std::fs::Permissions::from_mode(0o700)).unwrap();
    // The other user's daemon, in its own directory.
    let home = user_home(&env, uid, gid);
    let log = home.path().join("run.log");
    let mut impostor = run_as(&env, uid, gid, home.path(), &log);
    let theirs = home.path().join("state/control.sock");
    assert!(
        wait_until(Duration::from_secs(10), || theirs.exists()),
        "{}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );
    // Its socket appears in our state directory (the state of things an
    // open directory allowed).
    std::fs::hard_link(&theirs, state.join("control.sock")).unwrap();
    let out = env.run_code(&["status"], 1);
    assert!(out.contains(&format!("belongs to user id {uid}")), "{out}");
    assert!(!out.contains("daemon: running"), "{out}");
    // Even when the file looks like ours, the peer's credentials tell.
    std::os::unix::fs::chown(state.join("control.sock"), Some(0), Some(0)).unwrap();
    let out = env.run_code(&["status"], 1);
    assert!(
        out.contains(&format!("served by a process of user id {uid}")),
        "{out}"
    );
    assert!(!out.contains("daemon: running"), "{out}");
    signal(impostor.id(), "-TERM");
    impostor.wait().unwrap();
}

#[test]
fn the_daemon_cannot_dump_core() {
    let env = Env::new(quick());
    let Some((uid, gid)) = second_user() else {
        return;
    };
    let home = user_home(&env, uid, gid);
    let log = home.path().join("run.log");
    let mut daemon = run_as(&env, uid, gid, home.path(), &log);
    assert!(
        wait_until(Duration::from_secs(10), || home
            .path()
            .join("state/control.sock")
            .exists()),
        "{}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );
    // A process that is not dumpable has its /proc files owned by root.
    let status = PathBuf::from(format!("/proc/{}/status", daemon.id()));
    let owner = std::fs::metadata(&status).unwrap().uid();
    let limits = std::fs::read_to_string(format!("/proc/{}/limits", daemon.id())).unwrap();
    signal(daemon.id(), "-TERM");
    daemon.wait().unwrap();
    assert_eq!(owner, 0, "the daemon (uid {uid}) is dumpable");
    let core = limits
        .lines()
        .find(|l| l.starts_with("Max core file size"))
        .unwrap();
    assert!(
        core.split_whitespace().nth(4) == Some("0"),
        "core size not 0: {core}"
    );
}

#[test]
fn early_sighups_never_kill_the_daemon() {
    // A large configuration keeps the daemon loading it for a while.
    let env = Env::with_config(quick(), |url| {
        let filler = format!("# {}\n", "x".repeat(200)).repeat(100_000);
        format!("{filler}{}", base_config(url))
    });
    for attempt in 0..3 {
        let mut daemon = Daemon::spawn(&env, &["run"]);
        // Once the runtime's threads exist, send SIGHUP after SIGHUP.
        let tasks = PathBuf::from(format!("/proc/{}/task", daemon.pid()));
        let threads = || std::fs::read_dir(&tasks).map_or(0, |d| d.count());
        let started = std::time::Instant::now();
        while threads() < 2 && started.elapsed() < Duration::from_secs(10) {
            std::thread::sleep(Duration::from_micros(200));
        }
        for _ in 0..5 {
            daemon.hup();
            std::thread::sleep(Duration::from_millis(2));
        }
        let up = daemon.socket_up();
        let exited = daemon.child.try_wait().unwrap();
        assert!(
            up && exited.is_none(),
            "attempt {attempt}: the daemon died: {exited:?}\n{}",
            daemon.log()
        );
        daemon.stop();
    }
}

#[test]
fn a_deleted_control_socket_is_created_again() {
    let env = Env::new(quick());
    let daemon = Daemon::spawn(&env, &["run"]).wait_up();
    std::fs::remove_file(env.dir.path().join("state/control.sock")).unwrap();
    let out = env.run(&["status"]);
    assert!(
        out.status.success() && text(&out).contains("daemon: running"),
        "{}",
        text(&out)
    );
    let log = daemon.log();
    assert!(
        log.contains("control socket was deleted; created it again"),
        "{log}"
    );
    daemon.stop();
}

#[test]
fn idle_connections_never_lock_the_cli_out() {
    use std::os::unix::process::CommandExt;
    let env = Env::new(quick());
    let log = env.dir.path().join("run.log");
    // Few file handles, as on a small system: 1 100 idle connections would
    // exhaust them.
    let mut command = env.command(&["run"]);
    unsafe {
        command.pre_exec(|| {
            let limit = libc::rlimit {
                rlim_cur: 256,
                rlim_max: 256,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut daemon = Daemon::from_command(&mut command, log, &env).wait_up();
    let socket = env.dir.path().join("state/control.sock");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let idle: Vec<tokio::net::UnixStream> = runtime.block_on(async {
        let mut idle = Vec::new();
        for _ in 0..1100 {
            // A full backlog refuses at once: those simply are not held.
            if let Ok(stream) = tokio::net::UnixStream::connect(&socket).await {
                idle.push(stream);
            }
        }
        idle
    });
    assert!(idle.len() > 256, "only {} connections opened", idle.len());
    println!("{} idle connections held open", idle.len());
    // Commands still answer while every one of them is held open.
    let answers: Vec<_> = (0..3).map(|_| env.run(&["status"])).collect();
    if answers
        .iter()
        .any(|out| !text(out).contains("daemon: running"))
    {
        daemon.kill();
    }
    for out in &answers {
        assert!(
            out.status.success() && text(out).contains("daemon: running"),
            "{}",
            text(out)
        );
    }
    drop(idle);
    let log = daemon.stop();
    let warnings: Vec<&str> = log.lines().filter(|l| l.contains(" WARN ")).collect();
    // Under load the accept loop may briefly outrun the closing of the
    // connections it displaced: that is said once, not every 100 ms.
    println!("warnings logged: {} {warnings:?}", warnings.len());
    assert!(warnings.len() <= 1, "{log}");
}

#[test]
fn a_daemon_that_never_answers_gives_a_clear_timeout() {
    let env = Env::new(quick());
    let state = env.dir.path().join("state");
    std::fs::create_dir_all(&state).unwrap();
    // Accepts and then says nothing.
    let listener = std::os::unix::net::UnixListener::bind(state.join("control.sock")).unwrap();
    let held = std::thread::spawn(move || listener.accept().map(|(stream, _)| stream));
    let mut cmd = std::process::Command::new(support::harness::BINARY);
    let out = cmd
        .arg("--config")
        .arg(env.config_path())
        .arg("jobs")
        .env("CLIPWATCH_CONTROL_TIMEOUT", "300ms")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("did not answer") && text(&out).contains("300ms"),
        "{}",
        text(&out)
    );
    drop(held);
}

#[test]
fn private_feed_tokens_never_reach_logs_keys_sidecars_or_json() {
    use support::feed_server::{FeedServer, Route};
    const TOKEN: &str = "PRIVATEtoken0123456789";
    let feeds = FeedServer::start();
    let rss = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>Private</title><link>https://pod.example.com/</link>
<item><title>Members episode</title><guid isPermaLink="false">m-1</guid>
<pubDate>Wed, 15 May 2024 08:00:00 +0000</pubDate>
<enclosure url="https://cdn.pod.example.com/m1.mp4?token={TOKEN}&amp;sig={TOKEN}2" length="1000" type="video/mp4"/>
</item></channel></rss>"#
    );
    feeds.route("/private.xml", Route::xml(rss.into_bytes()));
    let feed_url = format!("{}?auth={TOKEN}3", feeds.url("/private.xml"));
    let env = Env::with_config(quick(), |api| {
        format!(
            "{}\n[[feeds]]\nname = \"Private\"\nurl = \"{feed_url}\"\nuse = \"enclosure\"\n\
             backfill = 5\n",
            base_config(api)
        )
    });
    let out = env.run(&["-v", "once"]);
    let mut seen = text(&out);
    assert!(out.status.success(), "{seen}");
    // The API is given the real link: the token is needed to fetch it.
    let submitted = env.api.submissions();
    assert_eq!(submitted.len(), 1, "{seen}");
    assert!(submitted[0]["video_url"]
        .as_str()
        .unwrap()
        .contains(&format!("token={TOKEN}")));
    for args in [
        &["jobs", "--json"][..],
        &["jobs"],
        &["show", "1"],
        &["show", "1", "--json"],
        &["status"],
        &["feeds", "--json"],
    ] {
        let out = env.run(args);
        assert!(out.status.success(), "{args:?}: {}", text(&out));
        seen += &text(&out);
    }
    assert!(seen.contains("token=redacted"), "{seen}");
    for file in all_files(env.dir.path()) {
        if !file.starts_with(env.dir.path().join("state")) && !file.ends_with("config.toml") {
            seen += &String::from_utf8_lossy(&std::fs::read(&file).unwrap());
        }
    }
    assert!(
        all_files(&env.clips())
            .iter()
            .any(|f| f.ends_with("project.json")),
        "the job finished"
    );
    assert!(!seen.contains(TOKEN), "a token leaked:\n{seen}");
}

#[test]
fn commands_without_a_daemon_also_keep_the_state_dir_private() {
    // `submit`, `jobs`, `retry` open the database themselves when no daemon
    // runs: the same rules as `run` and `once`.
    let env = Env::new(quick());
    let state = env.dir.path().join("state");
    let out = env.run(&["submit", "https://www.youtube.com/watch?v=dQw4w9WgXcQ"]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(mode(&state), 0o700);
    for file in all_files(&state) {
        assert_eq!(mode(&file) & 0o077, 0, "{}", file.display());
    }
    std::fs::set_permissions(&state, std::fs::Permissions::from_mode(0o777)).unwrap();
    let out = env.run(&["jobs"]);
    assert!(!out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("writable by other users"),
        "{}",
        text(&out)
    );
}

/// Issue 11 item 8, at upload time: a video is checked when it is taken, but
/// uploaded later (here: while the key is refused). Whoever can write the
/// inbox can write `.done/` too; a taken video swapped there for a symlink to
/// a secret, or for another file, is never sent: the job fails saying so.
#[test]
fn a_taken_video_swapped_in_done_is_never_uploaded() {
    let env = drop_env();
    env.api.misbehave(Misbehave {
        reject_key: true,
        ..Misbehave::default()
    });
    let key = env.api.config().api_key.clone();
    let (_elsewhere, secret) = key_file_elsewhere(&key, "api_key");
    let inbox = inbox(&env);
    std::fs::create_dir_all(&inbox).unwrap();
    let mut daemon = Daemon::spawn(&env, &["run"]);
    std::fs::write(inbox.join("linked.mp4"), vec![1u8; 4096]).unwrap();
    std::fs::write(inbox.join("other.mp4"), vec![2u8; 4096]).unwrap();
    let done = inbox.join(".done");
    let taken = wait_until(Duration::from_secs(20), || {
        done.join("linked.mp4").exists() && done.join("other.mp4").exists() && {
            env.api
                .requests()
                .iter()
                .filter(|r| r.status == 403)
                .count()
                >= 1
        }
    });
    assert!(taken, "{}", daemon.log());
    // Swapped while the job waits: a link to the secret, and a regular file
    // of other content (the same size, so only the hash can tell).
    std::fs::remove_file(done.join("linked.mp4")).unwrap();
    std::os::unix::fs::symlink(&secret, done.join("linked.mp4")).unwrap();
    std::fs::remove_file(done.join("other.mp4")).unwrap();
    std::fs::write(done.join("other.mp4"), vec![3u8; 4096]).unwrap();
    env.api.misbehave(Misbehave::default());
    let failed = wait_until(Duration::from_secs(30), || {
        let jobs = env.jobs();
        jobs.len() == 2 && jobs.iter().all(|j| j["state"] == "failed")
    });
    daemon.terminate();
    let log_text = daemon.log();
    let jobs = env.jobs();
    assert!(failed, "{jobs:?}\n{}", log_text);
    for job in &jobs {
        let reason = job["reason"].as_str().unwrap_or_default();
        assert!(
            reason.contains("the file in .done/ was replaced")
                && reason.contains("Drop the video in again"),
            "{reason}"
        );
    }
    assert!(env.api.uploads().is_empty(), "{:?}", env.api.uploads());
    assert!(
        !env.api.requests().iter().any(|r| r.method == "PUT"),
        "no byte went to the bucket"
    );
    let jobs_json = env.run(&["jobs", "--json"]);
    assert_no_secrets(&env, &(log_text + &text(&jobs_json)));
}
