//! End to end: the drop folder (SPEC §4) with the real binary against the
//! fake WayinVideo API: every link format, preset subfolders, videos through
//! the Upload API, settling, and the rescan-only mode.

mod support;

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use support::harness::{
    base_config, file_names, sha256_hex, text, tiny_clips as quick, wait_until, Daemon, Env,
};

/// The base config plus a `landscape` preset and `[drop]`.
fn drop_env(settle: &str, rescan: &str) -> Env {
    let (settle, rescan) = (settle.to_string(), rescan.to_string());
    Env::with_config(quick(), move |url| {
        format!(
            "{}\n[presets.landscape]\nextends = \"default\"\nratio = \"RATIO_16_9\"\n\n\
             [drop]\ndir = \"inbox\"\nsettle = \"{settle}\"\nrescan = \"{rescan}\"\n",
            base_config(url)
        )
    })
}

fn inbox(env: &Env) -> PathBuf {
    env.dir.path().join("inbox")
}

fn put(env: &Env, name: &str, content: impl AsRef<[u8]>) -> PathBuf {
    let path = inbox(env).join(name);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, content).unwrap();
    path
}

fn yt(id: &str) -> String {
    format!("https://www.youtube.com/watch?v={id}")
}

fn note(env: &Env, name: &str) -> String {
    let path = inbox(env).join(".failed").join(format!("{name}.error.txt"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Pseudo-random bytes, different per seed.
fn video_bytes(seed: u8, len: usize) -> Vec<u8> {
    let mut state = u32::from(seed).wrapping_mul(2_654_435_761) | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            state as u8
        })
        .collect()
}

#[test]
fn once_takes_every_link_format_and_files_each_file() {
    let env = drop_env("300ms", "60s");
    put(
        &env,
        "crlf bom.txt",
        format!(
            "\u{feff}# my list\r\n\r\n  https://youtu.be/aaaaaaaaaaa  \r\n{}\r\n",
            "https://example.com/talk?utm_source=x"
        ),
    );
    put(
        &env,
        "plain",
        "\n# no extension\n\thttps://youtu.be/bbbbbbbbbbb\n",
    );
    put(
        &env,
        "mixed.urls",
        "https://youtu.be/ccccccccccc\nftp://example.com/x\nnot a url\n",
    );
    put(
        &env,
        "short.url",
        "[InternetShortcut]\r\nURL=https://youtu.be/ddddddddddd\r\n",
    );
    put(
        &env,
        "page.webloc",
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<plist version=\"1.0\"><dict>\n\
         <key>URL</key>\n<string>https://www.youtube.com/watch?v=eeeeeeeeeee&amp;t=1</string>\n\
         </dict></plist>\n",
    );
    put(
        &env,
        "one.json",
        r#"{"url": "https://youtu.be/fffffffffff", "name": "Named talk"}"#,
    );
    put(
        &env,
        "many.json",
        r#"[{"url": "https://youtu.be/ggggggggggg", "preset": "metadata"},
            {"url": "https://youtu.be/aaaaaaaaaaa"}]"#,
    );
    put(&env, "landscape/wide.txt", "https://youtu.be/hhhhhhhhhhh\n");
    put(
        &env,
        "landscape/deeper/x.txt",
        "https://youtu.be/iiiiiiiiiii\n",
    );
    put(&env, "nope/y.txt", "https://youtu.be/jjjjjjjjjjj\n");
    put(
        &env,
        "junk.txt",
        b"\x7fELF\x02\x01\x01\0\0\0\xff\xfe\0garbage",
    );
    put(&env, "junk", video_bytes(9, 4096));
    put(&env, "empty.txt", "");
    put(&env, "doc.pdf", "%PDF-1.4");
    // Ignored: hidden, partial, lock files.
    for name in [".hidden.txt", "dl.mp4.part", "~$lock.txt", "get.crdownload"] {
        put(&env, name, "https://youtu.be/zzzzzzzzzzz\n");
    }
    // A symlinked file inside the drop folder is read (the link is what
    // moves); links out of it are refused (tests/e2e_local.rs).
    let target = put(
        &env,
        ".links/elsewhere.txt",
        "https://youtu.be/kkkkkkkkkkk\n",
    );
    std::os::unix::fs::symlink(&target, inbox(&env).join("linked.txt")).unwrap();
    // An already filed name: the new one gets a suffix.
    put(&env, ".done/plain", "an older file");

    env.once();

    let submitted = support::harness::submitted_urls(&env);
    let mut expected: Vec<String> = "abcdefghik"
        .chars()
        .map(|c| yt(&c.to_string().repeat(11)))
        .chain(["https://example.com/talk".to_string()])
        .collect();
    expected.sort();
    assert_eq!(submitted, expected, "each URL submitted once");

    let by_url = |url: &str| {
        env.api
            .submissions()
            .into_iter()
            .find(|s| s["video_url"] == url)
            .unwrap()
    };
    assert_eq!(by_url(&yt("hhhhhhhhhhh"))["ratio"], "RATIO_16_9");
    assert_eq!(by_url(&yt("iiiiiiiiiii"))["ratio"], "RATIO_16_9");
    assert_eq!(by_url(&yt("aaaaaaaaaaa"))["ratio"], "RATIO_9_16");
    assert_eq!(by_url(&yt("ggggggggggg"))["enable_export"], false);
    assert_eq!(by_url(&yt("fffffffffff"))["project_name"], "Named talk");

    let jobs = env.jobs();
    assert_eq!(jobs.len(), 11);
    assert!(jobs.iter().all(|j| j["state"] == "done"), "{jobs:#?}");
    assert!(jobs.iter().all(|j| j["origin"] == "drop"));
    let folders = file_names(&env.clips().join("inbox"));
    assert_eq!(folders.len(), 11, "{folders:?}");
    assert!(folders
        .iter()
        .any(|f| f.contains(" Named talk [fffffffffff]")));

    assert_eq!(
        file_names(&inbox(&env).join(".done")),
        [
            "crlf bom.txt",
            "linked.txt",
            "many.json",
            "one.json",
            "page.webloc",
            "plain",
            "plain (2)",
            "short.url",
            "wide.txt",
            "x.txt",
        ]
    );
    assert_eq!(
        std::fs::read_to_string(inbox(&env).join(".done/plain")).unwrap(),
        "an older file",
        "never overwritten"
    );
    assert!(
        std::fs::symlink_metadata(inbox(&env).join(".done/linked.txt"))
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert_eq!(
        file_names(&inbox(&env).join(".failed")),
        [
            "doc.pdf",
            "doc.pdf.error.txt",
            "empty.txt",
            "empty.txt.error.txt",
            "junk",
            "junk.error.txt",
            "junk.txt",
            "junk.txt.error.txt",
            "mixed.urls",
            "mixed.urls.error.txt",
            "y.txt",
            "y.txt.error.txt",
        ]
    );
    let mixed = note(&env, "mixed.urls");
    assert!(
        mixed.contains("line 2: ") && mixed.contains("\"ftp\""),
        "{mixed}"
    );
    assert!(mixed.contains("line 3: "), "{mixed}");
    assert!(
        mixed.contains("other 1 URL(s) in it were queued"),
        "{mixed}"
    );
    assert!(note(&env, "y.txt").contains("\"nope\" names no preset"));
    assert!(note(&env, "junk.txt").contains("binary data"));
    assert!(note(&env, "junk").contains("binary data"));
    assert!(note(&env, "empty.txt").contains("empty"));
    assert!(note(&env, "doc.pdf").contains("unsupported file type"));
    // Ignored files stay where they were; emptied folders stay too.
    assert_eq!(
        file_names(&inbox(&env)),
        [
            ".done",
            ".failed",
            ".hidden.txt",
            ".links",
            "dl.mp4.part",
            "get.crdownload",
            "landscape",
            "nope",
            "~$lock.txt"
        ]
    );
}

#[test]
fn videos_are_uploaded_once_by_content_and_oversized_ones_refused() {
    let env = drop_env("300ms", "60s");
    let talk = video_bytes(1, 300_000);
    let wide = video_bytes(2, 100_000);
    put(&env, "talk.mp4", &talk);
    put(&env, "talk2.MP4", &talk);
    put(&env, "landscape/wide.mov", &wide);
    let big = std::fs::File::create(inbox(&env).join("huge.mp4")).unwrap();
    big.set_len(6_000_000_000).unwrap();
    drop(big);

    // -v, not -vv: the harness reads output only at exit, and a full pipe would stall it.
    let out = env.run(&["-v", "once"]);
    let log = text(&out);
    assert!(out.status.success(), "{log}");

    let mut uploads = env.api.uploads();
    uploads.sort_by_key(|u| u.2);
    assert_eq!(
        uploads.len(),
        2,
        "one upload per distinct video: {uploads:?}"
    );
    assert_eq!(uploads[0].1, sha256_hex(&wide));
    assert_eq!(uploads[0].2, wide.len() as u64);
    assert_eq!(uploads[0].3.as_deref(), Some("video/quicktime"));
    assert_eq!(uploads[1].1, sha256_hex(&talk));
    assert_eq!(uploads[1].3.as_deref(), Some("video/mp4"));
    assert_eq!(env.api.count("POST", "/open/v2/upload/single-file"), 2);
    for (identity, ..) in &uploads {
        assert_eq!(env.api.submissions_for(identity), 1);
    }
    let wide_submit = env
        .api
        .submissions()
        .into_iter()
        .find(|s| s["video_url"] == uploads[0].0.as_str())
        .unwrap();
    assert_eq!(wide_submit["ratio"], "RATIO_16_9");
    assert_eq!(wide_submit["project_name"], "wide");

    let jobs = env.jobs();
    assert_eq!(jobs.len(), 2, "{jobs:#?}");
    for job in &jobs {
        assert_eq!(job["state"], "done");
        assert!(job["key"].as_str().unwrap().starts_with("file:"));
    }
    assert!(jobs
        .iter()
        .any(|j| j["key"] == format!("file:{}", sha256_hex(&talk)).as_str()));
    let folders = file_names(&env.clips().join("inbox"));
    assert!(folders.iter().any(|f| f.contains(" talk [")), "{folders:?}");
    assert_eq!(
        file_names(&inbox(&env).join(".done")),
        ["talk.mp4", "talk2.MP4", "wide.mov"]
    );
    assert_eq!(
        file_names(&inbox(&env).join(".failed")),
        ["huge.mp4", "huge.mp4.error.txt"]
    );
    assert!(note(&env, "huge.mp4").contains("6.0 GB, over the 5.0 GB"));
    assert_eq!(
        std::fs::metadata(inbox(&env).join(".failed/huge.mp4"))
            .unwrap()
            .len(),
        6_000_000_000,
        "nothing dropped is changed"
    );

    // The presigned upload URL never reaches logs or --json output.
    let mut seen = log;
    for args in [
        &["jobs", "--json"][..],
        &["show", "1", "--json"],
        &["show", "2"],
    ] {
        seen += &text(&env.run(args));
    }
    assert!(seen.contains("DEBUG"), "debug logs were on");
    assert!(!seen.contains("X-Amz-Signature"), "a presigned URL leaked");
    assert!(!seen.contains("/upload-put/"), "a presigned URL leaked");
    assert!(!seen.contains(&env.api.config().api_key), "the key leaked");
}

#[test]
fn the_daemon_takes_files_present_at_start_and_waits_for_slow_writers() {
    let env = drop_env("700ms", "60s");
    put(&env, "early.txt", "https://youtu.be/aaaaaaaaaaa\n");
    let daemon = Daemon::spawn(&env, &["run"]);
    let done = inbox(&env).join(".done");
    let early = wait_until(Duration::from_secs(20), || done.join("early.txt").exists());
    assert!(early, "{}", daemon.log());

    let slow = inbox(&env).join("slow.txt");
    let mut file = std::fs::File::create(&slow).unwrap();
    let ids = [
        "bbbbbbbbbbb",
        "ccccccccccc",
        "ddddddddddd",
        "eeeeeeeeeee",
        "fffffffffff",
    ];
    for id in ids {
        // Half a line, a pause, the rest: a reader that took it early would
        // see a cut-off URL.
        file.write_all(b"https://youtu.be/").unwrap();
        file.flush().unwrap();
        std::thread::sleep(Duration::from_millis(150));
        assert!(slow.exists(), "taken while still being written");
        writeln!(file, "{id}").unwrap();
        file.flush().unwrap();
        std::thread::sleep(Duration::from_millis(150));
        assert!(slow.exists(), "taken while still being written");
    }
    drop(file);
    let taken = wait_until(Duration::from_secs(20), || done.join("slow.txt").exists());
    assert!(taken, "{}", daemon.log());
    let finished = wait_until(Duration::from_secs(30), || {
        env.api.submissions().len() == 6
            && std::fs::read_dir(env.clips().join("inbox")).is_ok_and(|d| d.count() == 6)
    });
    let log_text = daemon.stop();
    assert!(finished, "{log_text}");
    assert!(!inbox(&env).join(".failed").exists(), "{log_text}");
    for id in ids {
        assert_eq!(env.api.submissions_for(&yt(id)), 1, "{id}");
    }
}

#[test]
fn rescans_alone_find_files_when_inotify_is_disabled() {
    let env = drop_env("200ms", "300ms");
    let daemon = Daemon::spawn_with_env(&env, &["run"], &[("CLIPWATCH_DISABLE_INOTIFY", "1")]);
    let started = daemon.wait_log("watching the drop folder");
    assert!(started, "{}", daemon.log());
    put(&env, "landscape/late.txt", "https://youtu.be/aaaaaaaaaaa\n");
    put(&env, "late.json", r#"{"url": "https://example.com/v"}"#);
    let done = inbox(&env).join(".done");
    let taken = wait_until(Duration::from_secs(15), || {
        done.join("late.txt").exists() && done.join("late.json").exists()
    });
    let submitted = wait_until(Duration::from_secs(15), || env.api.submissions().len() == 2);
    let log_text = daemon.stop();
    assert!(taken && submitted, "{log_text}");
    assert!(log_text.contains("inotify disabled"), "{log_text}");
    assert_eq!(env.api.submissions_for(&yt("aaaaaaaaaaa")), 1, "{log_text}");
}
