//! The `[http]` server of the real daemon (issue 15): the dashboard, the
//! JSON API (the CLI's `--json`), clip files, `/metrics`, `/healthz`, and
//! the token-guarded actions.

mod support;

use std::time::Duration;

use support::harness::{assert_no_secrets, base_config, wait_until, Daemon, Env};
use support::http::{free_port, get, request};
use support::receiver::{Receiver, Reply};
use support::FakeConfig;

const TOKEN: &str = "test-token-0123456789abcdef";
const VIDEO: &str = "https://www.youtube.com/watch?v=dQw4w9WgXcQ";

/// A fake API serving real media (tests/fixtures/media), and a daemon
/// configuration with `[http]` on a free port (and `token_file` if asked),
/// followed by `extra` configuration.
fn http_env(token: bool, extra: &str) -> (Env, String) {
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let media = |name: &str| {
        std::fs::read(format!(
            "{}/tests/fixtures/media/{name}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap()
    };
    let fake = FakeConfig {
        media: Some((media("clip.mp4"), media("thumb.jpg"))),
        clip_titles: vec!["Opening <b>bold</b> take".into(), "The punchline".into()],
        ..FakeConfig::default()
    };
    let env = Env::with_config(fake, |url| {
        let mut config = base_config(url);
        config += &format!("\n[http]\nlisten = \"{addr}\"\n");
        if token {
            config += "token_file = \"http_token\"\n";
        }
        config + extra
    });
    std::fs::write(env.dir.path().join("http_token"), format!("{TOKEN}\n")).unwrap();
    (env, addr)
}

/// The value of the sample `series` (e.g. `clipwatch_jobs{state="done"}`)
/// in Prometheus text; every line is checked to be a comment or a sample.
fn sample(text: &str, series: &str) -> Option<f64> {
    let mut found = None;
    for line in text.lines() {
        if line.starts_with('#') {
            continue;
        }
        let (name, value) = line
            .rsplit_once(' ')
            .unwrap_or_else(|| panic!("not a sample line: {line}"));
        let value: f64 = value
            .parse()
            .unwrap_or_else(|_| panic!("not a number in: {line}"));
        assert!(
            name.starts_with("clipwatch_"),
            "unexpected series in: {line}"
        );
        if name == series {
            found = Some(value);
        }
    }
    assert!(text.ends_with("# EOF\n"), "no # EOF terminator");
    found
}

fn job_done(env: &Env) -> bool {
    env.jobs().first().is_some_and(|j| j["state"] == "done")
}

#[test]
fn the_dashboard_api_and_metrics_follow_a_job_and_files_are_served_only_as_recorded() {
    // A webhook that refuses once with 503: one retry, then delivered.
    let receiver = Receiver::start();
    receiver.script("/hook", vec![Reply::Status(503)]);
    let hook = format!(
        "\n[[notify]]\nname = \"hook\"\nkind = \"webhook\"\nurl = \"{}\"\nevents = [\"done\"]\nretry = \"20ms\"\n",
        receiver.url("/hook")
    );
    let (env, addr) = http_env(false, &hook);
    let daemon = Daemon::start(&env);
    assert!(wait_until(Duration::from_secs(10), || {
        std::net::TcpStream::connect(&addr).is_ok()
    }));
    let health = get(&addr, "/healthz");
    assert_eq!((health.status, health.text().as_str()), (200, "ok\n"));
    let before = get(&addr, "/metrics").text();
    assert_eq!(sample(&before, "clipwatch_jobs{state=\"done\"}"), Some(0.0));
    assert!(before.contains(&format!(
        "clipwatch_build_info{{version=\"{}\"}} 1",
        env!("CARGO_PKG_VERSION")
    )));

    let out = env.run(&["submit", VIDEO]);
    assert!(out.status.success());
    assert!(wait_until(Duration::from_secs(30), || job_done(&env)));

    // Metrics moved with the job.
    let metrics = get(&addr, "/metrics");
    assert_eq!(metrics.status, 200);
    let text = metrics.text();
    assert_eq!(sample(&text, "clipwatch_jobs{state=\"done\"}"), Some(1.0));
    assert_eq!(sample(&text, "clipwatch_jobs{state=\"queued\"}"), Some(0.0));
    assert_eq!(
        sample(
            &text,
            "clipwatch_job_transitions_total{from=\"processing\",to=\"downloading\"}"
        ),
        Some(1.0)
    );
    assert_eq!(
        sample(
            &text,
            "clipwatch_api_requests_total{endpoint=\"submit\",status=\"200\"}"
        ),
        Some(1.0)
    );
    assert!(sample(&text, "clipwatch_download_bytes_total").unwrap() > 8000.0);
    assert_eq!(sample(&text, "clipwatch_api_units_total"), Some(30.0));
    receiver.wait_for("/hook", 2, Duration::from_secs(10));
    let delivered = "clipwatch_notify_deliveries_total{sink=\"hook\",result=\"delivered\"}";
    assert!(wait_until(Duration::from_secs(10), || {
        sample(&get(&addr, "/metrics").text(), delivered) == Some(1.0)
    }));
    let text = get(&addr, "/metrics").text();
    assert_eq!(
        sample(
            &text,
            "clipwatch_notify_deliveries_total{sink=\"hook\",result=\"retry\"}"
        ),
        Some(1.0)
    );

    // The JSON API is the CLI's --json.
    let cli_jobs: serde_json::Value =
        serde_json::from_slice(&env.run(&["jobs", "--json"]).stdout).unwrap();
    assert_eq!(get(&addr, "/api/v1/jobs").json(), cli_jobs);
    let cli_show: serde_json::Value =
        serde_json::from_slice(&env.run(&["show", "1", "--json"]).stdout).unwrap();
    assert_eq!(get(&addr, "/api/v1/jobs/1").json(), cli_show);
    assert_eq!(get(&addr, "/api/v1/jobs/99").status, 404);
    assert_eq!(get(&addr, "/api/v1/status").json()["jobs"]["done"], 1);
    assert!(get(&addr, "/api/v1/feeds").json().is_array());

    // The pages: the job in the list, its clips with videos; titles escaped.
    let dashboard = get(&addr, "/").text();
    assert!(dashboard.contains("href=\"/jobs/1\""), "{dashboard}");
    let page = get(&addr, "/jobs/1").text();
    assert!(
        page.contains("Opening &lt;b&gt;bold&lt;/b&gt; take"),
        "{page}"
    );
    assert!(page.contains("The punchline"));
    assert!(page.contains("<video controls"));

    // A recorded file, whole and by range.
    let files: Vec<String> = cli_show["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap().to_string())
        .collect();
    let video = files.iter().find(|f| f.ends_with(".mp4")).unwrap();
    let target = format!("/files/1/{}", escape(video));
    let whole = get(&addr, &target);
    assert_eq!(whole.status, 200);
    assert_eq!(whole.header("content-type"), Some("video/mp4"));
    let on_disk = std::fs::read(
        env.clips()
            .join(cli_show["folder"].as_str().unwrap())
            .join(video),
    )
    .unwrap();
    assert_eq!(whole.body, on_disk);
    let part = request(&addr, "GET", &target, &[("Range", "bytes=100-199")], b"");
    assert_eq!(part.status, 206);
    assert_eq!(part.body, on_disk[100..200]);
    assert_eq!(
        part.header("content-range"),
        Some(format!("bytes 100-199/{}", on_disk.len()).as_str())
    );

    // Nothing but recorded files: no traversal, no listing, no symlink out.
    let folder = env.clips().join(cli_show["folder"].as_str().unwrap());
    std::fs::write(folder.join("unrecorded.txt"), "not recorded").unwrap();
    for target in [
        "/files/1/../../config.toml".to_string(),
        "/files/1/..%2F..%2Fconfig.toml".into(),
        "/files/1/%2e%2e/%2e%2e/config.toml".into(),
        "/files/1/%2E%2E%2F%2E%2E%2Fhttp_token".into(),
        "/files/1//etc/passwd".into(),
        "/files/1/%2Fetc%2Fpasswd".into(),
        "/files/1/unrecorded.txt".into(),
        "/files/1/".into(),
        "/files/..%2F1/x".into(),
        format!("/files/2/{}", escape(video)),
    ] {
        let reply = get(&addr, &target);
        assert_eq!(reply.status, 404, "{target}: {}", reply.text());
        assert!(!reply.text().contains(TOKEN) && !reply.text().contains("[api]"));
    }
    // A recorded name replaced by a symlink that leads out of output.dir.
    let thumb = files.iter().find(|f| f.ends_with(".jpg")).unwrap();
    std::fs::remove_file(folder.join(thumb)).unwrap();
    std::os::unix::fs::symlink(env.config_path(), folder.join(thumb)).unwrap();
    assert_eq!(
        get(&addr, &format!("/files/1/{}", escape(thumb))).status,
        404
    );

    // Without token_file the actions do not exist.
    let submit = request(
        &addr,
        "POST",
        "/api/v1/jobs",
        &[("Authorization", &format!("Bearer {TOKEN}"))],
        br#"{"url":"https://youtu.be/aaaaaaaaaaa"}"#,
    );
    assert_eq!(submit.status, 405);
    assert_eq!(
        request(&addr, "DELETE", "/api/v1/jobs/1", &[], b"").status,
        405
    );
    assert_eq!(
        request(&addr, "POST", "/api/v1/jobs/1/retry", &[], b"").status,
        404
    );
    assert_eq!(get(&addr, "/login").status, 404);

    let mut seen = before + &text + &dashboard + &page;
    seen += &get(&addr, "/api/v1/status").text();
    let log = daemon.stop();
    assert_no_secrets(&env, &(seen + &log));
}

#[test]
fn actions_need_the_token_and_a_valid_csrf_token() {
    let (env, addr) = http_env(true, "");
    let daemon = Daemon::start(&env);
    assert!(wait_until(Duration::from_secs(10), || {
        std::net::TcpStream::connect(&addr).is_ok()
    }));
    let body = format!(r#"{{"url":"{VIDEO}"}}"#);
    let json = ("Content-Type", "application/json");
    let none = request(&addr, "POST", "/api/v1/jobs", &[json], body.as_bytes());
    assert_eq!(none.status, 401);
    let garbage = request(&addr, "POST", "/api/v1/jobs", &[], b"not json");
    assert_eq!(garbage.status, 401, "the token is checked first");
    let wrong = request(
        &addr,
        "POST",
        "/api/v1/jobs",
        &[
            json,
            ("Authorization", "Bearer test-token-0123456789abcdeX"),
        ],
        body.as_bytes(),
    );
    assert_eq!(wrong.status, 401);
    assert!(env.jobs().is_empty(), "nothing was submitted");
    let bearer = format!("Bearer {TOKEN}");
    let auth = ("Authorization", bearer.as_str());
    let local = request(
        &addr,
        "POST",
        "/api/v1/jobs",
        &[json, auth],
        br#"{"url":"/etc/passwd"}"#,
    );
    assert_eq!(local.status, 400, "a server path is never uploaded");
    let made = request(
        &addr,
        "POST",
        "/api/v1/jobs",
        &[json, auth],
        body.as_bytes(),
    );
    assert_eq!(made.status, 200, "{}", made.text());
    assert_eq!(made.json()["key"], "youtube:dQw4w9WgXcQ");
    assert!(wait_until(Duration::from_secs(30), || job_done(&env)));
    assert_eq!(
        request(&addr, "DELETE", "/api/v1/jobs/1", &[], b"").status,
        401
    );

    // The page: a login with the token, then forms that carry the CSRF token.
    let form = ("Content-Type", "application/x-www-form-urlencoded");
    let bad_login = request(&addr, "POST", "/login", &[form], b"token=nope");
    assert_eq!(bad_login.status, 401);
    let login = request(
        &addr,
        "POST",
        "/login",
        &[form],
        format!("token={TOKEN}").as_bytes(),
    );
    assert_eq!(login.status, 303, "{}", login.text());
    let cookie = login
        .header("set-cookie")
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    assert!(login.header("set-cookie").unwrap().contains("HttpOnly"));
    let page = request(&addr, "GET", "/jobs/1", &[("Cookie", &cookie)], b"").text();
    let csrf = page
        .split("name=csrf value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("a CSRF token in the job page's forms")
        .to_string();
    let forget = |cookie: Option<&str>, csrf: &str| {
        let mut headers = vec![form];
        if let Some(cookie) = cookie {
            headers.push(("Cookie", cookie));
        }
        request(
            &addr,
            "POST",
            "/act/jobs/1/forget",
            &headers,
            format!("csrf={csrf}").as_bytes(),
        )
    };
    assert_eq!(forget(None, &csrf).status, 401);
    assert_eq!(forget(Some(&cookie), "forged").status, 403);
    assert_eq!(env.jobs().len(), 1, "refused forms change nothing");
    let done = forget(Some(&cookie), &csrf);
    assert_eq!(done.status, 303, "{}", done.text());
    assert!(env.jobs().is_empty());

    // The API's forget answers with the job as it was.
    let again = request(
        &addr,
        "POST",
        "/api/v1/jobs",
        &[json, auth],
        body.as_bytes(),
    );
    assert_eq!(again.status, 200);
    let id = again.json()["id"].as_u64().unwrap();
    assert!(wait_until(Duration::from_secs(30), || job_done(&env)));
    let forgot = request(&addr, "DELETE", &format!("/api/v1/jobs/{id}"), &[auth], b"");
    assert_eq!(forgot.status, 200, "{}", forgot.text());
    assert_eq!(forgot.json()["state"], "done");
    let log = daemon.stop();
    assert!(!log.contains(TOKEN), "the token is never logged");
    assert_no_secrets(&env, &(page + &log));
}

/// A recorded file name as a URL path.
fn escape(name: &str) -> String {
    name.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

// ---- health ------------------------------------------------------------

/// An ext4 file system in a loop-mounted image, which `fsfreeze` can freeze:
/// every write then waits, as on a dead disk or a hung network volume.
/// Thawed and unmounted when dropped.
struct FreezableVolume {
    path: std::path::PathBuf,
    image: std::path::PathBuf,
}

impl FreezableVolume {
    /// `None` (after saying why) where it cannot be made outside CI.
    fn mount(path: &std::path::Path) -> Option<FreezableVolume> {
        let image = path.with_extension("img");
        std::fs::create_dir_all(path).unwrap();
        let script = format!(
            "truncate -s 64M {img} && mkfs.ext4 -q {img} && mount -o loop {img} {dir} && chmod 700 {dir}",
            img = image.display(),
            dir = path.display()
        );
        let out = std::process::Command::new("sh")
            .args(["-c", &script])
            .output();
        match out {
            Ok(out) if out.status.success() => Some(FreezableVolume {
                path: path.to_path_buf(),
                image,
            }),
            other => {
                let why = match other {
                    Ok(out) => String::from_utf8_lossy(&out.stderr).trim().to_string(),
                    Err(e) => e.to_string(),
                };
                assert!(
                    std::env::var_os("CI").is_none(),
                    "CI is set but an ext4 loop volume cannot be mounted: {why}"
                );
                eprintln!("SKIPPED: this test needs to mount an ext4 loop volume (root): {why}");
                None
            }
        }
    }

    fn freeze(&self, frozen: bool) {
        let flag = if frozen { "-f" } else { "-u" };
        let status = std::process::Command::new("fsfreeze")
            .arg(flag)
            .arg(&self.path)
            .status()
            .unwrap();
        assert!(status.success(), "fsfreeze {flag}");
    }
}

impl Drop for FreezableVolume {
    fn drop(&mut self) {
        // Already thawed unless the test failed half-way: quietly.
        let _ = std::process::Command::new("fsfreeze")
            .arg("-u")
            .arg(&self.path)
            .stderr(std::process::Stdio::null())
            .status();
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.path)
            .status();
        let _ = std::fs::remove_file(&self.image);
    }
}

#[test]
fn health_is_503_naming_the_store_while_its_volume_hangs_and_ok_again_after() {
    let (env, addr) = http_env(false, "");
    let Some(volume) = FreezableVolume::mount(&env.dir.path().join("state")) else {
        return;
    };
    let daemon = Daemon::start(&env);
    let health = || {
        std::net::TcpStream::connect(&addr)
            .ok()
            .map(|_| get(&addr, "/healthz"))
    };
    assert!(wait_until(Duration::from_secs(10), || health()
        .is_some_and(|h| h.status == 200)));

    volume.freeze(true);
    let mut last = None;
    let wedged = wait_until(Duration::from_secs(30), || {
        last = health();
        last.as_ref().is_some_and(|h| h.status == 503)
    });
    volume.freeze(false);
    let reply = last.expect("an answer");
    assert!(wedged, "still {}: {}", reply.status, reply.text());
    assert!(
        reply
            .text()
            .starts_with("store: a database write has not finished for"),
        "{}",
        reply.text()
    );

    assert!(
        wait_until(Duration::from_secs(30), || health()
            .is_some_and(|h| h.status == 200 && h.text() == "ok\n")),
        "healthy again once the volume thaws"
    );
    daemon.stop();
}

// ---- headless Chromium ----------------------------------------------------

/// Headless Chromium driven over the DevTools protocol by
/// tests/browser/cdp.py (Python standard library only).
struct Browser {
    child: std::process::Child,
    input: std::process::ChildStdin,
    output: std::io::BufReader<std::process::ChildStdout>,
}

impl Browser {
    /// `None` (the test is skipped, loudly) when Chromium is missing and CI
    /// is not set; under CI a missing Chromium fails (`.ci/run` installs it).
    fn start() -> Option<Browser> {
        let found = std::process::Command::new("sh")
            .args(["-c", "command -v chromium || command -v chromium-browser"])
            .output()
            .is_ok_and(|o| o.status.success());
        if !found {
            assert!(
                std::env::var_os("CI").is_none(),
                "CI is set but chromium is not installed (apt-get install chromium)"
            );
            eprintln!("SKIPPED: the browser test needs chromium (apt-get install chromium)");
            return None;
        }
        let script = format!("{}/tests/browser/cdp.py", env!("CARGO_MANIFEST_DIR"));
        let mut child = std::process::Command::new("python3")
            .arg(script)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("python3 runs tests/browser/cdp.py");
        let input = child.stdin.take().unwrap();
        let output = std::io::BufReader::new(child.stdout.take().unwrap());
        Some(Browser {
            child,
            input,
            output,
        })
    }

    fn ask(&mut self, command: serde_json::Value) -> serde_json::Value {
        use std::io::{BufRead, Write};
        writeln!(self.input, "{command}").unwrap();
        let mut line = String::new();
        self.output.read_line(&mut line).unwrap();
        let answer: serde_json::Value =
            serde_json::from_str(&line).unwrap_or_else(|e| panic!("cdp.py answered {line:?}: {e}"));
        assert!(answer.get("error").is_none(), "{command}: {answer}");
        answer
    }

    fn navigate(&mut self, url: &str) {
        self.ask(serde_json::json!({ "navigate": url }));
    }

    /// The value of `js`, evaluated again until truthy for up to `secs`.
    fn eval_until(&mut self, js: &str, secs: u64) -> serde_json::Value {
        self.ask(serde_json::json!({ "eval": js, "until": secs }))["value"].clone()
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Set `UPDATE_SCREENSHOT=1` to refresh docs/dashboard.png from this run.
#[test]
fn in_chromium_the_dashboard_shows_titles_thumbnails_playable_clips_and_live_moves() {
    let Some(mut browser) = Browser::start() else {
        return;
    };
    let (env, addr) = http_env(false, "");
    let daemon = Daemon::start(&env);
    let out = env.run(&["submit", VIDEO, "--name", "Keynote: the long version"]);
    assert!(out.status.success());
    assert!(wait_until(Duration::from_secs(30), || job_done(&env)));
    let base = format!("http://{addr}");

    browser.navigate(&format!("{base}/"));
    let titles = browser.eval_until(
        "[...document.querySelectorAll('#jobs tr a')].map(a => a.textContent).join('|')",
        5,
    );
    assert_eq!(titles, "Keynote: the long version");
    let thumbnails = browser.eval_until(
        "(() => { const imgs = [...document.querySelectorAll('img.thumb')]; \
         return imgs.length > 0 && imgs.every(i => i.complete && i.naturalWidth > 0) \
         ? imgs.length : 0; })()",
        10,
    );
    assert_eq!(thumbnails, 1, "the job's thumbnail is shown");

    browser.navigate(&format!("{base}/jobs/1"));
    let duration = browser.eval_until(
        "(async () => { const v = document.querySelector('video'); \
         if (v.readyState < 1) await new Promise(r => { v.onloadedmetadata = r; v.onerror = r; \
         setTimeout(r, 10000); }); return v.error ? 'error ' + v.error.code : v.duration; })()",
        0,
    );
    let seconds = duration
        .as_f64()
        .unwrap_or_else(|| panic!("no duration: {duration}"));
    assert!(
        (1.5..2.5).contains(&seconds),
        "the 2 s fixture reports {seconds}"
    );
    let posters = browser.eval_until("document.querySelectorAll('video[poster]').length", 0);
    assert_eq!(posters, 3);

    // Live: the page stays loaded (its marker survives) while a second job
    // appears and moves to done.
    browser.navigate(&format!("{base}/"));
    browser.eval_until("window.__loadedOnce = 'yes'", 0);
    let out = env.run(&[
        "submit",
        "https://youtu.be/aaaaaaaaaaa",
        "--name",
        "Second talk",
    ]);
    assert!(out.status.success());
    let moved = browser.eval_until(
        "window.__loadedOnce === 'yes' && [...document.querySelectorAll('#jobs tr')].some(tr => \
         tr.textContent.includes('Second talk') && tr.querySelector('.state').textContent === 'done') \
         && document.getElementById('count-done').textContent === '2'",
        30,
    );
    assert_eq!(
        moved, true,
        "the dashboard showed the job done without a reload"
    );

    let loaded = browser.eval_until(
        "[...document.querySelectorAll('img.thumb')].every(i => i.complete && i.naturalWidth > 0)",
        10,
    );
    assert_eq!(loaded, true, "the new row's thumbnail loads too");
    let shot = env.dir.path().join("dashboard.png");
    browser.ask(serde_json::json!({ "screenshot": shot }));
    let png = std::fs::read(&shot).unwrap();
    assert!(png.starts_with(b"\x89PNG") && png.len() > 10_000);
    if std::env::var_os("UPDATE_SCREENSHOT").is_some() {
        std::fs::write(
            format!("{}/docs/dashboard.png", env!("CARGO_MANIFEST_DIR")),
            &png,
        )
        .unwrap();
    }
    daemon.stop();
}
