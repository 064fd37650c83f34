//! End to end: a new user's first ten minutes with the real binary (issue
//! 17): `init`, `feeds add/remove/edit` (comments kept, a running daemon
//! reloads), `feeds import` (OPML, Takeout CSV, NewPipe JSON, URL lists),
//! `preview` / `once --dry-run` (nothing recorded, nothing submitted),
//! completions and the man page, and the errors for bad input.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use serde_json::Value;
use support::feed_server::{fixture, FeedServer, Route};
use support::harness::{base_config, text, wait_until, Daemon, Env, BINARY};
use support::FakeConfig;

const UC: &str = "UCtestchannel000000000AA";
const UULF: &str = "UULFtestchannel000000000AA";

fn quick() -> FakeConfig {
    FakeConfig {
        phase: Duration::from_millis(20),
        ..FakeConfig::default()
    }
}

/// A feed server with the test channel (its page, its long-form playlist,
/// its channel feed), an Atom feed, a podcast and an HTML page.
fn feed_server() -> FeedServer {
    let feeds = FeedServer::start();
    feeds.route("/@testchannel", Route::html(fixture("channel_page.html")));
    for path in [
        format!("/feeds/videos.xml?playlist_id={UULF}"),
        format!("/feeds/videos.xml?channel_id={UC}"),
    ] {
        feeds.route(&path, Route::xml(fixture("youtube_channel.xml")));
    }
    feeds.route("/atom.xml", Route::xml(fixture("atom.xml")));
    feeds.route("/podcast.xml", Route::xml(fixture("podcast.xml")));
    feeds.route(
        "/page.html",
        Route::html(b"<html><head><title>A blog</title></head><body>hi</body></html>".to_vec()),
    );
    feeds
}

/// The harness config, with YouTube on the feed server, a commented drop
/// folder and `extra` at the end.
fn env_with(feeds: &FeedServer, extra: &str) -> Env {
    let youtube = feeds.base_url.clone();
    let extra = extra.to_owned();
    Env::with_config(quick(), move |api| {
        format!(
            "{}\n# The drop folder (a comment feeds add must keep).\n[drop]\ndir = \"inbox\"   # beside the config\nsettle = \"50ms\"\n\n[youtube]\nbase_url = \"{youtube}\"\n{extra}",
            base_config(api)
        )
    })
}

fn ok(out: &Output, what: &str) -> String {
    assert!(out.status.success(), "{what}: {}", text(out));
    text(out)
}

fn config_text(env: &Env) -> String {
    std::fs::read_to_string(env.config_path()).unwrap()
}

/// Every line of `before` is still in `after`, in the same order.
fn assert_lines_kept(before: &str, after: &str) {
    let mut rest = after.lines();
    for line in before.lines() {
        assert!(
            rest.any(|l| l == line),
            "line {line:?} lost or moved:\n{after}"
        );
    }
}

/// `jobs --json` keys.
fn job_keys(env: &Env) -> Vec<String> {
    let mut keys: Vec<String> = env
        .jobs()
        .iter()
        .map(|j| j["key"].as_str().unwrap().to_owned())
        .collect();
    keys.sort();
    keys
}

#[test]
fn init_writes_a_commented_config_that_checks_and_never_overwrites() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("etc/config.toml");
    let run = |args: &[&str]| {
        Command::new(BINARY)
            .args(args)
            .env_remove("CLIPWATCH_CONFIG")
            .env_remove("WAYIN_API_KEY")
            .stdin(Stdio::null())
            .output()
            .unwrap()
    };
    let path = |p: &str| dir.path().join(p).display().to_string();
    let config_arg = config.display().to_string();
    let out = run(&[
        "init",
        "--config",
        &config_arg,
        "--output",
        &path("clips"),
        "--drop",
        &path("inbox"),
        "--state",
        &path("state"),
        "--api-key-file",
        &path("api_key"),
    ]);
    let said = ok(&out, "init");
    assert!(said.contains("feeds add"), "the next commands: {said}");
    assert!(said.contains(" run"), "the next commands: {said}");
    for folder in ["clips", "inbox", "state"] {
        assert!(dir.path().join(folder).is_dir(), "{folder} created");
    }
    let written = std::fs::read_to_string(&config).unwrap();
    assert!(written.contains("# Presets: submit options"), "{written}");
    assert!(written.contains(&format!("dir = \"{}\"", path("clips"))));
    assert!(written.contains(&format!("api_key_file = \"{}\"", path("api_key"))));
    let check = run(&["check", "--offline", "--config", &config_arg]);
    let said = ok(&check, "check --offline");
    assert!(
        said.contains(&format!("output: {}", path("clips"))),
        "{said}"
    );

    let again = run(&["init", "--config", &config_arg, "--output", "/nowhere"]);
    assert_eq!(again.status.code(), Some(78), "{}", text(&again));
    assert!(
        text(&again).contains("never overwrites"),
        "{}",
        text(&again)
    );
    assert_eq!(std::fs::read_to_string(&config).unwrap(), written);
}

#[test]
fn feeds_add_shows_the_first_check_keeps_comments_and_a_running_daemon_picks_it_up() {
    let feeds = feed_server();
    let env = env_with(&feeds, "");
    let before = config_text(&env);
    let daemon = Daemon::start(&env);

    let out = env.run(&[
        "feeds",
        "add",
        "@testchannel",
        "--backfill",
        "1",
        "--preset",
        "metadata",
    ]);
    let said = ok(&out, "feeds add @testchannel");
    assert!(said.contains("Test Channel"), "the channel's title: {said}");
    assert!(said.contains("name: \"Test Channel\""), "{said}");
    assert!(
        said.contains("QUEUE") && said.contains("Episode 14: a long conversation"),
        "what the first check queues: {said}"
    );
    assert!(said.contains("SKIP"), "what it skips: {said}");
    assert!(
        said.contains(&format!("(pid {})", daemon.pid())),
        "the daemon was told: {said}"
    );
    let after = config_text(&env);
    assert_lines_kept(&before, &after);
    assert!(after.contains("name = \"Test Channel\"\nyoutube = \"@testchannel\"\npreset = \"metadata\"\nbackfill = 1"), "{after}");

    // Picked up without a restart: the channel's newest video is queued.
    let queued = wait_until(Duration::from_secs(20), || {
        job_keys(&env).contains(&"youtube:chan0000002".to_owned())
    });
    assert!(
        queued,
        "the daemon did not pick the feed up:\n{}",
        daemon.log()
    );

    // An RSS/Atom URL: named by its title.
    let atom = feeds.url("/atom.xml");
    let said = ok(
        &env.run(&["feeds", "add", &atom, "--preset", "metadata"]),
        "feeds add atom",
    );
    assert!(said.contains("name: \"Conference Talks\""), "{said}");
    assert!(config_text(&env).contains(&format!("url = \"{atom}\"")));

    // The same source again, or the same name, is refused with the entry.
    let again = env.run(&["feeds", "add", "@testchannel", "--name", "Other"]);
    assert_eq!(again.status.code(), Some(2), "{}", text(&again));
    assert!(
        text(&again).contains("already configured"),
        "{}",
        text(&again)
    );
    assert!(
        text(&again).contains("youtube = \"@testchannel\""),
        "{}",
        text(&again)
    );
    let taken = env.run(&[
        "feeds",
        "add",
        &feeds.url("/podcast.xml"),
        "--name",
        "Test Channel",
    ]);
    assert_eq!(taken.status.code(), Some(2), "{}", text(&taken));
    assert!(text(&taken).contains("already taken"), "{}", text(&taken));

    let log = daemon.stop();
    assert!(log.contains("configuration reloaded"), "{log}");
}

#[test]
fn feeds_edit_and_remove_change_only_that_feed() {
    let feeds = feed_server();
    let atom = feeds.url("/atom.xml");
    let env = env_with(
        &feeds,
        &format!(
            "\n# Talks I like.\n[[feeds]]\nname = \"Talks\"\nurl = \"{atom}\"\ninterval = \"15m\"   # the default\n\n# Keep this one.\n[[feeds]]\nname = \"Chan\"\nyoutube = \"{UC}\"\n"
        ),
    );
    let said = ok(
        &env.run(&[
            "feeds",
            "edit",
            "Talks",
            "--interval",
            "1h",
            "--exclude",
            "(?i)lightning",
        ]),
        "feeds edit",
    );
    assert!(said.contains("changed interval, exclude"), "{said}");
    let edited = config_text(&env);
    assert!(
        edited.contains("interval = \"1h\"   # the default"),
        "{edited}"
    );
    assert!(edited.contains("exclude = \"(?i)lightning\""), "{edited}");
    assert!(edited.contains("# Talks I like.") && edited.contains("# Keep this one."));
    ok(&env.run(&["check", "--offline"]), "check after edit");

    ok(&env.run(&["feeds", "remove", "Talks"]), "feeds remove");
    let removed = config_text(&env);
    assert!(!removed.contains("name = \"Talks\""), "{removed}");
    assert!(
        removed.contains("# Keep this one.\n[[feeds]]\nname = \"Chan\""),
        "{removed}"
    );
    assert!(removed.contains("# The drop folder (a comment feeds add must keep)."));

    let missing = env.run(&["feeds", "remove", "Talks"]);
    assert_eq!(missing.status.code(), Some(78), "{}", text(&missing));
    assert!(
        text(&missing).contains("no feed named \"Talks\""),
        "{}",
        text(&missing)
    );
    let bad = env.run(&["feeds", "edit", "Chan", "--interval", "soon"]);
    assert_eq!(bad.status.code(), Some(78), "{}", text(&bad));
    assert!(text(&bad).contains("left unchanged"), "{}", text(&bad));
    assert_eq!(config_text(&env), removed);
}

#[test]
fn feeds_add_refuses_what_is_not_a_feed() {
    let feeds = feed_server();
    let env = env_with(&feeds, "");
    let before = config_text(&env);
    let page = feeds.url("/page.html");
    let out = env.run(&["feeds", "add", &page]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let said = text(&out);
    assert!(said.contains("is not a feed clipwatch can read"), "{said}");
    assert!(said.contains("nothing was added"), "{said}");
    let gone = env.run(&["feeds", "add", &feeds.url("/missing.xml")]);
    assert_eq!(gone.status.code(), Some(1), "{}", text(&gone));
    assert!(text(&gone).contains("404"), "{}", text(&gone));
    let watch = env.run(&[
        "feeds",
        "add",
        "https://www.youtube.com/watch?v=dQw4w9WgXcQ",
    ]);
    assert_eq!(watch.status.code(), Some(2), "{}", text(&watch));
    assert!(
        text(&watch).contains("not a YouTube channel or playlist"),
        "{}",
        text(&watch)
    );
    assert_eq!(config_text(&env), before);
}

/// `tests/fixtures/import/NAME` with `FEEDS/` pointing at the feed server.
fn import_file(env: &Env, feeds: &FeedServer, name: &str) -> PathBuf {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/import")
        .join(name);
    let body = std::fs::read_to_string(path)
        .unwrap()
        .replace("FEEDS/", &feeds.url("/"));
    let copy = env.dir.path().join(name);
    std::fs::write(&copy, body).unwrap();
    copy
}

fn import(env: &Env, feeds: &FeedServer, name: &str) -> String {
    let file = import_file(env, feeds, name);
    ok(&env.run(&["feeds", "import", file.to_str().unwrap()]), name)
}

fn configured_feeds(env: &Env) -> Vec<(String, String)> {
    let out = env.run(&["feeds", "--json"]);
    let all: Vec<Value> = serde_json::from_slice(&out.stdout).expect("feeds --json");
    all.iter()
        .map(|f| {
            (
                f["name"].as_str().unwrap().to_owned(),
                f["source"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[test]
fn import_reads_opml_takeout_newpipe_and_url_lists_and_skips_duplicates() {
    let feeds = feed_server();
    let env = env_with(&feeds, "");
    let before = config_text(&env);

    let file = import_file(&env, &feeds, "freetube_subscriptions.opml");
    let dry = ok(
        &env.run(&["feeds", "import", file.to_str().unwrap(), "--dry-run"]),
        "import --dry-run",
    );
    assert!(
        dry.contains("2 to add") && dry.contains("--dry-run"),
        "{dry}"
    );
    assert_eq!(config_text(&env), before, "--dry-run wrote nothing");

    let said = import(&env, &feeds, "freetube_subscriptions.opml");
    assert!(said.contains("added 2 feed(s)"), "{said}");
    let said = import(&env, &feeds, "subscriptions.csv");
    assert!(said.contains("1 to add, 2 duplicate(s) skipped"), "{said}");
    let said = import(&env, &feeds, "newpipe_subscriptions.json");
    assert!(said.contains("1 to add, 1 duplicate(s) skipped"), "{said}");
    let said = import(&env, &feeds, "feed_reader.opml");
    assert!(
        said.contains("2 to add, 1 duplicate(s) skipped"),
        "nested outlines: {said}"
    );
    let said = import(&env, &feeds, "urls.txt");
    assert!(
        said.contains("1 to add, 3 duplicate(s) skipped, 1 invalid"),
        "{said}"
    );

    let names: Vec<String> = configured_feeds(&env).into_iter().map(|(n, _)| n).collect();
    assert_eq!(
        names,
        [
            "Test Channel",
            "Cooking & Science",
            "Third",
            "Only in NewPipe",
            "Conference Talks",
            "A video podcast",
            "testchannel"
        ]
    );
    let sources: Vec<String> = configured_feeds(&env).into_iter().map(|(_, s)| s).collect();
    assert_eq!(
        sources[0],
        format!("youtube:{UC}"),
        "a feed URL becomes the channel id"
    );
    assert_lines_kept(&before, &config_text(&env));
    ok(&env.run(&["check", "--offline"]), "check after import");
}

#[test]
fn import_explains_files_it_cannot_read() {
    let feeds = feed_server();
    let env = env_with(&feeds, "");
    let before = config_text(&env);
    for (name, expected) in [
        ("not_xml.opml", "is not XML, so not an OPML file"),
        (
            "wrong_columns.csv",
            "has no \"Channel Id\" column (its columns: Name, Url)",
        ),
    ] {
        let file = import_file(&env, &feeds, name);
        let out = env.run(&["feeds", "import", file.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(2), "{name}: {}", text(&out));
        assert!(text(&out).contains(expected), "{name}: {}", text(&out));
    }
    assert_eq!(config_text(&env), before);
}

#[test]
fn a_config_that_cannot_be_written_is_reported_and_left_alone() {
    let feeds = feed_server();
    let env = env_with(&feeds, "");
    let before = config_text(&env);
    let list = env.dir.path().join("list.txt");
    std::fs::write(&list, feeds.url("/atom.xml")).unwrap();
    let is_root = unsafe_euid() == 0;
    let mut command = if is_root {
        // Root may write anything: run the command as nobody instead.
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(env.dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::set_permissions(&list, std::fs::Permissions::from_mode(0o644)).unwrap();
        let mut c = Command::new("setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups", BINARY]);
        c
    } else {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(env.config_path(), std::fs::Permissions::from_mode(0o444))
            .unwrap();
        std::fs::set_permissions(env.dir.path(), std::fs::Permissions::from_mode(0o555)).unwrap();
        Command::new(BINARY)
    };
    let out = command
        .arg("--config")
        .arg(env.config_path())
        .args(["feeds", "import", list.to_str().unwrap()])
        .env_remove("CLIPWATCH_CONFIG")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    if !is_root {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(env.dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    assert_eq!(out.status.code(), Some(78), "{}", text(&out));
    let said = text(&out);
    assert!(
        said.contains(&format!("cannot write {}", env.config_path().display())),
        "{said}"
    );
    assert!(said.contains("Permission denied"), "{said}");
    assert!(said.contains("with sudo"), "{said}");
    assert_eq!(config_text(&env), before);
}

fn unsafe_euid() -> u32 {
    let out = Command::new("id").arg("-u").output().unwrap();
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
}

#[test]
fn preview_records_nothing_and_submits_nothing() {
    let feeds = feed_server();
    let env = env_with(
        &feeds,
        &format!(
            "\n[[feeds]]\nname = \"Chan\"\nyoutube = \"{UC}\"\npreset = \"metadata\"\nbackfill = 5\n\n[[feeds]]\nname = \"Talks\"\nurl = \"{}\"\npreset = \"metadata\"\nbackfill = 1\n",
            feeds.url("/atom.xml")
        ),
    );
    let inbox = env.dir.path().join("inbox");
    std::fs::create_dir_all(&inbox).unwrap();
    std::fs::write(
        inbox.join("links.txt"),
        "https://www.youtube.com/watch?v=dropdrop001\n",
    )
    .unwrap();

    let out = env.run(&["preview", "--json"]);
    let report: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("preview --json: {e}: {}", text(&out)));
    let mut would: Vec<String> = report["feeds"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|f| f["entries"].as_array().unwrap().clone())
        .filter(|e| e["action"] == "queue")
        .map(|e| e["key"].as_str().unwrap().to_owned())
        .collect();
    assert!(
        would.contains(&"youtube:chan0000002".to_owned()),
        "{report:#}"
    );
    assert!(report["drop"][0]["action"] == "queue", "{report:#}");
    would.push("youtube:dropdrop001".into());
    would.sort();
    let skipped = report["feeds"][0]["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["key"] == "youtube:chan0000003")
        .unwrap();
    assert_eq!(skipped["action"], "skip");
    assert_eq!(skipped["reason"], "shorts");

    // Nothing submitted, nothing recorded, nothing moved.
    assert_eq!(env.api.submissions().len(), 0);
    assert!(
        !env.dir.path().join("state/db").exists(),
        "preview created the database"
    );
    assert!(inbox.join("links.txt").exists());
    let text_out = ok(&env.run(&["once", "--dry-run"]), "once --dry-run");
    assert!(
        text_out.contains("nothing was recorded or submitted"),
        "{text_out}"
    );
    assert_eq!(env.api.submissions().len(), 0);

    // The real pass queues exactly what the preview said.
    ok(&env.run(&["once"]), "once");
    let submitted = support::harness::submitted_urls(&env);
    let jobs = env.jobs();
    let mut done: Vec<String> = jobs
        .iter()
        .filter(|j| j["state"] == "done")
        .map(|j| j["key"].as_str().unwrap().to_owned())
        .collect();
    done.sort();
    assert_eq!(done, would, "submitted: {submitted:?}");
    assert_eq!(submitted.len(), would.len());

    // Afterwards the preview knows them.
    let again = ok(&env.run(&["preview", "Chan"]), "preview Chan");
    assert!(
        again.contains("SEEN") && again.contains("would submit 0 video(s)"),
        "{again}"
    );

    // A new feed of the same preset: its cost is estimated from what the
    // done jobs of that preset cost.
    let podcast = feeds.url("/podcast.xml");
    let args = [
        "feeds",
        "add",
        podcast.as_str(),
        "--preset",
        "metadata",
        "--use",
        "enclosure",
        "--backfill",
        "2",
    ];
    ok(&env.run(&args), "feeds add podcast");
    let out = env.run(&["preview", "--json", "The Video Podcast"]);
    let report: Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&out)));
    let units: Vec<f64> = jobs
        .iter()
        .filter(|j| j["state"] == "done" && j["preset"] == "metadata")
        .map(|j| j["units"].as_f64().expect("units of a done job"))
        .collect();
    assert!(!units.is_empty());
    let cost = &report["cost"][0];
    assert_eq!(cost["preset"], "metadata", "{report:#}");
    assert_eq!(cost["sample"], units.len(), "{report:#}");
    let average = units.iter().sum::<f64>() / units.len() as f64;
    assert_eq!(
        cost["units_per_video"].as_f64(),
        Some(average),
        "{report:#}"
    );
    assert_eq!(
        env.api.submissions().len(),
        would.len(),
        "preview submitted nothing"
    );
}

#[test]
fn completions_and_the_man_page_generate() {
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let out = Command::new(BINARY)
            .args(["completions", shell])
            .output()
            .unwrap();
        assert!(out.status.success(), "{shell}: {}", text(&out));
        let script = String::from_utf8_lossy(&out.stdout);
        assert!(
            script.contains("clipwatch") && script.contains("import"),
            "{shell}: {script}"
        );
    }
    let out = Command::new(BINARY).arg("man").output().unwrap();
    let page = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    assert!(page.contains(".TH clipwatch 1"), "{page}");
    assert!(
        page.contains("CLIPWATCH FEEDS ADD") && page.contains("\\-\\-backfill"),
        "{page}"
    );
    let bad = Command::new(BINARY)
        .args(["completions", "tcsh"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
}

/// `clipwatch man | head` and friends: a reader that goes away ends a
/// printing command quietly (as SIGPIPE ends `ls`), never with a panic.
#[test]
fn a_closed_stdout_ends_a_printing_command_without_a_panic() {
    use std::os::unix::process::ExitStatusExt;
    for args in [&["man"][..], &["completions", "bash"]] {
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let out = Command::new(BINARY)
            .args(args)
            .stdout(writer)
            .stderr(std::process::Stdio::piped())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert_eq!(
            out.status.signal(),
            Some(libc::SIGPIPE),
            "{args:?}: {stderr}"
        );
    }
}

/// The files `packaging/generate` writes are what the binary generates now
/// (run `packaging/generate` and commit when this fails).
#[test]
fn the_packaged_files_are_up_to_date() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let committed = |name: &str| {
        std::fs::read_to_string(root.join("packaging").join(name))
            .unwrap_or_else(|e| panic!("packaging/{name}: {e}"))
    };
    let generated = |args: &[&str]| {
        let out = Command::new(BINARY).args(args).output().unwrap();
        assert!(out.status.success(), "{args:?}: {}", text(&out));
        String::from_utf8(out.stdout).unwrap()
    };
    let stale = "stale: run packaging/generate and commit";
    assert_eq!(
        committed("clipwatch.1"),
        generated(&["man"]),
        "clipwatch.1 {stale}"
    );
    for (shell, file) in [
        ("bash", "completions/clipwatch.bash"),
        ("zsh", "completions/_clipwatch"),
        ("fish", "completions/clipwatch.fish"),
    ] {
        assert_eq!(
            committed(file),
            generated(&["completions", shell]),
            "{file} {stale}"
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.toml");
    generated(&[
        "init",
        "--no-create",
        "--config",
        config.to_str().unwrap(),
        "--state",
        "/var/lib/clipwatch",
        "--output",
        "/srv/clips",
        "--drop",
        "/srv/clipwatch/inbox",
    ]);
    assert_eq!(
        committed("config.toml"),
        std::fs::read_to_string(&config).unwrap(),
        "config.toml {stale}"
    );
    let unit = std::fs::read_to_string(root.join("systemd/clipwatch.service")).unwrap();
    assert_eq!(
        committed("clipwatch.service"),
        unit.replace(
            "\nExecStart=/usr/local/bin/clipwatch ",
            "\nExecStart=/usr/bin/clipwatch "
        ),
        "clipwatch.service {stale}"
    );
    // The tmpfiles snippet makes the folders the packaged config names.
    let tmpfiles = std::fs::read_to_string(root.join("systemd/clipwatch.tmpfiles")).unwrap();
    for dir in ["/srv/clips ", "/srv/clipwatch/inbox "] {
        assert!(tmpfiles.contains(dir), "{dir} in the tmpfiles snippet");
    }
}

/// A private feed's token is in the config (it must be) and nowhere else:
/// not in what `feeds add`, `preview` (text and JSON) or `feeds edit` print.
#[test]
fn a_private_feed_token_is_never_printed() {
    let feeds = feed_server();
    feeds.route("/private.xml", Route::xml(fixture("podcast.xml")));
    let env = env_with(&feeds, "");
    let url = format!("{}?token=s3cr3tvalue", feeds.url("/private.xml"));
    let mut seen = ok(
        &env.run(&[
            "feeds",
            "add",
            &url,
            "--name",
            "Private",
            "--use",
            "enclosure",
        ]),
        "feeds add private",
    );
    seen += &ok(&env.run(&["preview"]), "preview");
    seen += &ok(&env.run(&["preview", "--json"]), "preview --json");
    seen += &ok(
        &env.run(&["feeds", "edit", "Private", "--interval", "1h"]),
        "feeds edit",
    );
    seen += &text(&env.run(&["feeds", "add", &url]));
    assert!(config_text(&env).contains("s3cr3tvalue"));
    assert!(!seen.contains("s3cr3tvalue"), "the token leaked:\n{seen}");
    assert!(seen.contains("redacted"), "{seen}");
    support::harness::assert_no_secrets(&env, &seen);
}
