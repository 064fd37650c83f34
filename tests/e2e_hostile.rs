//! Hostile input end to end: titles that try to escape the output folder or
//! break file systems, entity bombs and garbage feeds, garbage config files.
//! Each ends in a safe name or a clear error, and nothing lands outside
//! `output.dir`.

mod support;

use std::path::Component;
use std::time::Duration;

use support::feed_server::{FeedServer, Route};
use support::harness::{all_files, base_config, text, Env};
use support::FakeConfig;

#[test]
fn hostile_titles_become_safe_names_inside_the_output_folder() {
    let long = "Ω".repeat(1000);
    let titles = vec![
        "../../../../etc/passwd".to_string(),
        "/absolute/path".to_string(),
        "nul\0byte\x07bell\x1b[31m".to_string(),
        "CON".to_string(),
        long,
        "\u{202e}txt.exe\u{202c} 👨‍👩‍👧 مرحبا 中文".to_string(),
        "...".to_string(),
        "a:b*c?d\"e<f>g|h\\i".to_string(),
    ];
    let env = Env::new(FakeConfig {
        clips: titles.len(),
        clip_titles: titles,
        phase: Duration::from_millis(40),
        ..FakeConfig::default()
    });
    let out = env.run(&[
        "submit",
        "https://youtu.be/dQw4w9WgXcQ",
        "--wait",
        "--name",
        "../../escape/.. \x07 NUL.txt",
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let root = env.clips();
    let files = all_files(env.dir.path());
    for file in &files {
        let relative = file.strip_prefix(env.dir.path()).unwrap();
        assert!(
            relative
                .components()
                .all(|c| matches!(c, Component::Normal(_))),
            "{}",
            file.display()
        );
    }
    let outputs: Vec<_> = all_files(&root);
    // 8 clips × (mp4, jpg, json) + project.json, all in one folder.
    assert_eq!(outputs.len(), 8 * 3 + 1, "{outputs:#?}");
    let folder = outputs[0].parent().unwrap().to_path_buf();
    assert!(outputs.iter().all(|f| f.parent().unwrap() == folder));
    assert_eq!(folder.parent().unwrap(), root.join("inbox"));
    for file in &outputs {
        let name = file.file_name().unwrap().to_string_lossy();
        assert!(name.len() <= 130, "{name}");
        assert!(!name.starts_with('.'), "{name}");
        assert!(!name.chars().any(|c| c.is_control()), "{name:?}");
        assert!(!name.to_ascii_uppercase().starts_with("CON."), "{name}");
    }
}

#[test]
fn garbage_configuration_is_refused_with_exit_78() {
    let env = Env::with_config(FakeConfig::default(), |_| String::new());
    std::fs::write(env.config_path(), b"\x00\xff\xfe garbage = = [[[\n\x01").unwrap();
    let out = env.run(&["check", "--offline"]);
    assert_eq!(out.status.code(), Some(78), "{}", text(&out));
    assert!(text(&out).contains("config.toml"), "{}", text(&out));
    let out = env.run(&["run"]);
    assert_eq!(out.status.code(), Some(78));
}

#[test]
fn entity_bombs_and_garbage_feeds_fail_alone_and_cleanly() {
    let feeds = FeedServer::start();
    let bomb = r#"<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<rss version="2.0"><channel><title>&lol9;</title>
<item><title>&lol9;</title><link>https://bomb.example.com/v1</link></item>
</channel></rss>"#;
    let nested = format!(
        "<rss version=\"2.0\"><channel>{}</channel></rss>",
        "<a>".repeat(50_000)
    );
    feeds.route("/bomb.xml", Route::xml(bomb.as_bytes().to_vec()));
    feeds.route("/nested.xml", Route::xml(nested.into_bytes()));
    feeds.route(
        "/binary.xml",
        Route::xml((0..=255u8).cycle().take(100_000).collect()),
    );
    feeds.route(
        "/good.xml",
        Route::xml(
            br#"<?xml version="1.0"?><rss version="2.0"><channel><title>Good</title>
<item><title>Fine talk</title><link>https://good.example.com/talk</link>
<pubDate>Mon, 20 May 2024 16:00:00 GMT</pubDate></item></channel></rss>"#
                .to_vec(),
        ),
    );
    let youtube = feeds.base_url.clone();
    let feed = |name: &str, path: &str| {
        format!(
            "[[feeds]]\nname = \"{name}\"\nurl = \"{}\"\npreset = \"metadata\"\nbackfill = 5\n",
            feeds.url(path)
        )
    };
    let feed_toml = [
        feed("Bomb", "/bomb.xml"),
        feed("Nested", "/nested.xml"),
        feed("Binary", "/binary.xml"),
        feed("Good", "/good.xml"),
    ]
    .join("\n");
    let env = Env::with_config(
        FakeConfig {
            phase: Duration::from_millis(20),
            ..FakeConfig::default()
        },
        move |api| {
            format!(
                "{}\n[youtube]\nbase_url = \"{youtube}\"\n\n{feed_toml}",
                base_config(api)
            )
        },
    );
    let out = env.run(&["once"]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        env.api.submissions_for("https://good.example.com/talk"),
        1,
        "the good feed is unaffected"
    );
    // Whatever the bomb and the garbage produced, no entity was expanded into a
    // billion-character title and nothing else was submitted.
    for submission in env.api.submissions() {
        let name = submission["project_name"].as_str().unwrap_or_default();
        assert!(
            name.len() < 1000,
            "an expanded entity reached the API: {} chars",
            name.len()
        );
    }
    assert!(
        env.api.submissions().len() <= 2,
        "{:?}",
        env.api.submissions()
    );
    let health: Vec<serde_json::Value> =
        serde_json::from_slice(&env.run(&["feeds", "--json"]).stdout).unwrap();
    for name in ["Nested", "Binary"] {
        let feed = health.iter().find(|f| f["name"] == name).unwrap();
        assert!(
            feed["last_error"].is_string(),
            "{name} reports its error: {feed}"
        );
    }
}
