//! The `[http]` server of the real daemon (issue 15): the dashboard, the
//! JSON API (the CLI's `--json`), clip files, `/metrics`, `/healthz`, and
//! the token-guarded actions.

mod support;

use std::time::Duration;

use support::harness::{assert_no_secrets, base_config, wait_until, Daemon, Env};
use support::http::{free_port, get, request};
use support::FakeConfig;

const TOKEN: &str = "test-token-0123456789abcdef";
const VIDEO: &str = "https://www.youtube.com/watch?v=dQw4w9WgXcQ";

/// A fake API serving real media (tests/fixtures/media), and a daemon
/// configuration with `[http]` on a free port (and `token_file` if asked).
fn http_env(token: bool) -> (Env, String) {
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
        config
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
    let (env, addr) = http_env(false);
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
    let (env, addr) = http_env(true);
    let daemon = Daemon::start(&env);
    assert!(wait_until(Duration::from_secs(10), || {
        std::net::TcpStream::connect(&addr).is_ok()
    }));
    let body = format!(r#"{{"url":"{VIDEO}"}}"#);
    let json = ("Content-Type", "application/json");
    let none = request(&addr, "POST", "/api/v1/jobs", &[json], body.as_bytes());
    assert_eq!(none.status, 401);
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
