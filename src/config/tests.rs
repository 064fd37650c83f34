use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::json;

use super::*;

const FILE: &str = "/etc/clipwatch/config.toml";

fn no_env(_: &str) -> Option<String> {
    None
}

fn ok(text: &str) -> Config {
    match parse(text, Path::new(FILE), &no_env) {
        Ok(config) => config,
        Err(e) => panic!("expected a valid config, got: {e}"),
    }
}

fn err(text: &str) -> ConfigError {
    match parse(text, Path::new("config.toml"), &no_env) {
        Ok(_) => panic!("expected an error for:\n{text}"),
        Err(e) => e,
    }
}

/// The error's Display names the file, the line and the key.
#[track_caller]
fn assert_error(text: &str, line: usize, key: &str, fragment: &str) {
    let e = err(text);
    let shown = e.to_string();
    assert!(
        shown.starts_with(&format!("config.toml:{line}: {key}: ")),
        "expected config.toml:{line}: {key}: …, got: {shown}"
    );
    assert!(
        shown.contains(fragment),
        "expected {fragment:?} in: {shown}"
    );
    assert!(!shown.contains('\n'), "one line expected: {shown}");
    assert_eq!(e.line(), Some(line));
    assert_eq!(e.key(), Some(key));
}

#[test]
fn empty_file_gives_every_default() {
    let c = ok("");
    assert_eq!(c.path, PathBuf::from(FILE));
    assert_eq!(c.api.base_url, "https://wayinvideo-api.wayin.ai/open/v2");
    assert!(c.api.api_key.is_none());
    assert!(c.api.api_key_source.is_none());
    assert_eq!(c.api.requests_per_minute, 15);
    assert_eq!(c.api.rate_window, Duration::from_secs(60));
    assert_eq!(c.api.max_concurrent_projects, 5);
    assert_eq!(c.api.poll_interval, Duration::from_secs(30));
    assert_eq!(c.api.timeout, Duration::from_secs(60));
    assert_eq!(c.api.daily_unit_budget, 0);
    assert_eq!(
        c.api.on_ambiguous_submit,
        crate::config::AmbiguousSubmit::Fail
    );
    assert_eq!(c.state.dir, PathBuf::from("/var/lib/clipwatch"));
    assert_eq!(c.output.dir, PathBuf::from("/srv/clips"));
    assert_eq!(c.output.folder.as_str(), "{feed}/{date} {title} [{id}]");
    assert_eq!(c.output.clip.as_str(), "{rank:02} {title}");
    assert_eq!(c.output.min_score, 0);
    assert_eq!(c.output.max_clips, 0);
    assert!(c.output.thumbnails);
    assert!(c.drop.is_none());
    assert_eq!(c.youtube.base_url, "https://www.youtube.com");
    assert!(c.feeds.is_empty());
    assert!(c.warnings.is_empty());
    assert_eq!(c.presets.keys().collect::<Vec<_>>(), ["default"]);
    let default = &c.presets["default"];
    assert_eq!(default.name, "default");
    assert!(default.export_enabled());
    assert_eq!(
        serde_json::Value::Object(default.options.clone()),
        json!({
            "enable_export": true, "ratio": "RATIO_9_16", "resolution": "HD_720",
            "enable_caption": true, "caption_display": "original",
            "cc_style_tpl": "temp-7", "enable_ai_reframe": true
        })
    );
}

#[test]
fn empty_drop_section_gives_drop_defaults() {
    let c = ok("[drop]\n");
    let drop = c.drop.unwrap();
    assert_eq!(drop.dir, PathBuf::from("/srv/clipwatch/inbox"));
    assert_eq!(drop.preset, "default");
    assert_eq!(drop.settle, Duration::from_secs(5));
    assert_eq!(drop.rescan, Duration::from_secs(60));
}

#[test]
fn example_config_is_valid_and_runs_from_a_checkout() {
    let text = include_str!("../../config.example.toml");
    let checkout = Path::new("/home/u/clipwatch");
    let c = parse(text, &checkout.join("config.example.toml"), &no_env)
        .unwrap_or_else(|e| panic!("config.example.toml: {e}"));
    assert_eq!(c.state.dir, checkout.join("state"));
    assert_eq!(c.output.dir, checkout.join("clips"));
    let drop = c.drop.as_ref().expect("example has [drop]");
    assert_eq!(drop.dir, checkout.join("inbox"));
    assert!(
        c.api.api_key.is_none(),
        "the example must not name a key file"
    );
    assert!(c.warnings.is_empty(), "{:?}", c.warnings);
    assert!(c.presets["default"].export_enabled());
    assert_eq!(c.presets["landscape"].options["ratio"], "RATIO_16_9");
    assert_eq!(c.presets["landscape"].options["resolution"], "HD_720");
    // Every feed in the example must be valid; none needs the network to load.
    for feed in &c.feeds {
        assert!(c.presets.contains_key(&feed.preset));
    }
}

#[test]
fn relative_paths_resolve_against_the_config_folder() {
    let c = parse(
        "[state]\ndir = \"./state\"\n[output]\ndir = \"../clips\"\n[drop]\ndir = \"/abs/inbox\"\n",
        Path::new("/srv/cw/config.toml"),
        &no_env,
    )
    .unwrap();
    assert_eq!(c.state.dir, PathBuf::from("/srv/cw/state"));
    assert_eq!(c.output.dir, PathBuf::from("/srv/cw/../clips"));
    assert_eq!(c.drop.unwrap().dir, PathBuf::from("/abs/inbox"));
}

#[test]
fn config_path_is_made_absolute() {
    let c = parse("", Path::new("config.toml"), &no_env).unwrap();
    assert!(c.path.is_absolute());
    assert!(c.path.ends_with("config.toml"));
}

#[test]
fn all_sections_are_read() {
    let c = ok(r#"
[api]
base_url = "http://127.0.0.1:8080/api/v2/"
requests_per_minute = 30
rate_window = "1s"
max_concurrent_projects = 2
poll_interval = "250ms"
timeout = "1m 30s"
daily_unit_budget = 500
on_ambiguous_submit = "resubmit"

[output]
folder = "{feed}/{title}"
clip = "{rank} {title}"
min_score = 60
max_clips = 3
thumbnails = false

[drop]
preset = "landscape"
settle = "0s"
rescan = "2m"

[presets.landscape]
ratio = "RATIO_16_9"

[youtube]
base_url = "http://127.0.0.1:9000/"
"#);
    assert_eq!(c.api.base_url, "http://127.0.0.1:8080/api/v2");
    assert_eq!(c.api.requests_per_minute, 30);
    assert_eq!(c.api.rate_window, Duration::from_secs(1));
    assert_eq!(c.api.max_concurrent_projects, 2);
    assert_eq!(c.api.poll_interval, Duration::from_millis(250));
    assert_eq!(c.api.timeout, Duration::from_secs(90));
    assert_eq!(c.api.daily_unit_budget, 500);
    assert_eq!(
        c.api.on_ambiguous_submit,
        crate::config::AmbiguousSubmit::Resubmit
    );
    assert_eq!(c.output.folder.as_str(), "{feed}/{title}");
    assert_eq!(c.output.clip.as_str(), "{rank} {title}");
    assert_eq!(c.output.min_score, 60);
    assert_eq!(c.output.max_clips, 3);
    assert!(!c.output.thumbnails);
    let drop = c.drop.unwrap();
    assert_eq!(drop.preset, "landscape");
    assert_eq!(drop.settle, Duration::ZERO);
    assert_eq!(drop.rescan, Duration::from_secs(120));
    assert_eq!(c.youtube.base_url, "http://127.0.0.1:9000");
    assert!(c.warnings.is_empty(), "{:?}", c.warnings);
}

#[test]
fn plain_http_api_off_loopback_is_a_warning() {
    let c = ok("[api]\nbase_url = \"http://api.example.com/v2\"\n");
    assert_eq!(c.warnings.len(), 1);
    assert!(c.warnings[0].contains("plain http"));
}

#[test]
fn bad_values_name_file_line_and_key() {
    // (text, line, key, fragment of the message)
    let cases: &[(&str, usize, &str, &str)] = &[
        ("[api]\npoll_interval = \"soon\"\n", 2, "api.poll_interval", "invalid duration \"soon\""),
        ("[api]\n\ntimeout = \"0s\"\n", 3, "api.timeout", "greater than zero"),
        ("[api]\nrequests_per_minute = 0\n", 2, "api.requests_per_minute", "at least 1"),
        ("[api]\nmax_concurrent_projects = 0\n", 2, "api.max_concurrent_projects", "at least 1"),
        ("[api]\nrequests_per_minute = \"fast\"\n", 2, "api.requests_per_minute", "invalid type"),
        ("[api]\nbase_url = \"ftp://x.example\"\n", 2, "api.base_url", "http"),
        ("[api]\nbase_url = \"not a url\"\n", 2, "api.base_url", "not a valid URL"),
        ("[api]\napi_key_file = \"\"\n", 2, "api.api_key_file", "must not be empty"),
        ("[api]\napi_key = \"sk-secret\"\n", 2, "api.api_key", "WAYIN_API_KEY"),
        ("[api]\nrequests_per_minit = 3\n", 2, "api.requests_per_minit", "unknown field"),
        ("\n[state]\ndir = \"\"\n", 3, "state.dir", "must not be empty"),
        ("[output]\nmin_score = 101\n", 2, "output.min_score", "between 0 and 100"),
        ("[output]\nfolder = \"\"\n", 2, "output.folder", "must not be empty"),
        ("[output]\nclip = \" \"\n", 2, "output.clip", "must not be empty"),
        ("[output]\nfolder = \"{feed}/{titel}\"\n", 2, "output.folder", "titel"),
        ("[output]\nclip = \"{rank}/{title}\"\n", 2, "output.clip", "/"),
        ("[output]\nthumbnails = \"yes\"\n", 2, "output.thumbnails", "invalid type"),
        ("[drop]\nsettle = \"5 parsecs\"\n", 2, "drop.settle", "invalid duration"),
        ("[drop]\nrescan = \"0s\"\n", 2, "drop.rescan", "greater than zero"),
        ("[drop]\npreset = \"nope\"\n", 2, "drop.preset", "no preset named \"nope\""),
        ("[youtube]\nbase_url = \"youtube\"\n", 2, "youtube.base_url", "not a valid URL"),
        ("[youtube]\nproxy = 1\n", 2, "youtube.proxy", "unknown field"),
        ("[presets.default]\nratio = \"RATIO_9_17\"\n", 2, "presets.default.ratio",
         "unknown value \"RATIO_9_17\" (expected one of RATIO_ORIGINAL, RATIO_16_9, RATIO_1_1, RATIO_4_5, RATIO_9_16)"),
        ("[presets.default]\nratio = \"ratio_9_16\"\n", 2, "presets.default.ratio", "did you mean RATIO_9_16?"),
        ("[presets.p]\nresolution = \"8K\"\n", 2, "presets.p.resolution", "SD_480, HD_720, FHD_1080, QHD_2K, UHD_4K"),
        ("[presets.p]\ncaption_display = \"all\"\n", 2, "presets.p.caption_display", "both, original, translation"),
        ("[presets.p]\ntarget_duration = \"DURATION_0_60\"\n", 2, "presets.p.target_duration", "DURATION_0_30"),
        ("[presets.p]\nai_hook_position = \"middle\"\n", 2, "presets.p.ai_hook_position", "beginning, end"),
        ("[presets.p]\nenable_export = \"yes\"\n", 2, "presets.p.enable_export", "invalid type"),
        ("[presets.p]\nenable_caption = 1\n", 2, "presets.p.enable_caption", "invalid type"),
        ("[presets.p]\nlimit = 0\n", 2, "presets.p.limit", "positive integer"),
        ("[presets.p]\nlimit = -3\n", 2, "presets.p.limit", "positive integer"),
        ("[presets.p]\nlimit = 2.5\n", 2, "presets.p.limit", "invalid type"),
        ("[presets.p]\nsource_lang = \"english\"\n", 2, "presets.p.source_lang", "not a language code"),
        ("[presets.p]\ntarget_lang = \"zh_cn\"\n", 2, "presets.p.target_lang", "not a language code"),
        ("[presets.p]\ncc_style_tpl = \"\"\n", 2, "presets.p.cc_style_tpl", "caption style id"),
        ("[presets.p]\ncc_style_tpl = \"temp 7\"\n", 2, "presets.p.cc_style_tpl", "caption style id"),
        ("[presets.p]\nreframe_layout = \"\"\n", 2, "presets.p.reframe_layout", "must not be empty"),
        ("[presets.p]\nratoi = \"RATIO_1_1\"\n", 2, "presets.p.ratoi", "unknown field `ratoi`"),
        ("[presets.p]\nvideo_url = \"https://x\"\n", 2, "presets.p.video_url", "clipwatch sets it"),
        ("[presets.p]\nproject_name = \"x\"\n", 2, "presets.p.project_name", "clipwatch sets it"),
        ("[presets.p]\n[presets.p.extra]\nvideo_url = \"x\"\n", 3, "presets.p.extra.video_url", "clipwatch sets it"),
        ("[presets.p]\nextra = 3\n", 2, "presets.p.extra", "invalid type"),
        ("[presets.\"a/b\"]\nlimit = 1\n", 1, "presets.\"a/b\"", "no '/'"),
        ("[[feeds]]\nname = \"x\"\nurl = \"https://e.com/f\"\ninterval = \"0s\"\n", 4, "feeds[0].interval", "greater than zero"),
        ("[[feeds]]\nname = \"x\"\nurl = \"https://e.com/f\"\ndelay = \"later\"\n", 4, "feeds[0].delay", "invalid duration"),
        ("[[feeds]]\nname = \"x\"\nurl = \"https://e.com/f\"\npreset = \"vertical\"\n", 4, "feeds[0].preset", "no preset named \"vertical\" (presets: default)"),
        ("[[feeds]]\nname = \"x\"\nurl = \"https://e.com/f\"\ninclude = \"(unclosed\"\n", 4, "feeds[0].include", "feed \"x\": invalid regex \"(unclosed\": unclosed group"),
        ("[[feeds]]\nname = \"x\"\nurl = \"https://e.com/f\"\nexclude = \"[z-a]\"\n", 4, "feeds[0].exclude", "feed \"x\": invalid regex \"[z-a]\""),
        ("[feeds]\nname = \"x\"\n", 1, "feeds", "[[feeds]]"),
        ("[[feeds]]\nname = \"x\"\nurl = \"https://e.com/f\"\nuse = \"media\"\n", 4, "feeds[0].use", "link, enclosure"),
        ("[[feeds]]\nname = \"x\"\nurl = \"https://e.com/f\"\nbackfill = -1\n", 4, "feeds[0].backfill", "invalid value"),
        ("[[feeds]]\nname = \"x\"\nurl = \"https://e.com/f\"\nshort = true\n", 4, "feeds[0].short", "unknown field"),
        ("[[feeds]]\nname = \"x\"\nurl = \"https://e.com/f\"\n\n[[feeds]]\nname = \"y\"\nyoutube = \"lexfridman\"\n", 7, "feeds[1].youtube", "feed \"y\": \"lexfridman\" is not a YouTube"),
        ("[[feeds]]\nname = \"x\"\nurl = \"feed.xml\"\n", 3, "feeds[0].url", "feed \"x\""),
        ("[[feeds]]\nname = \"x\"\nyoutube = \"@x_y\"\nurl = \"https://e.com/f\"\n", 4, "feeds[0].url", "not both"),
        ("[[feeds]]\nname = \"\"\nurl = \"https://e.com/f\"\n", 2, "feeds[0].name", "must not be empty"),
    ];
    for (text, line, key, fragment) in cases {
        assert_error(text, *line, key, fragment);
    }
}

#[test]
fn feed_without_name_or_source() {
    let e = err("[output]\nmax_clips = 1\n\n[[feeds]]\nurl = \"https://e.com/f\"\n");
    assert_eq!(e.key(), Some("feeds[0].name"));
    assert!(e.to_string().starts_with("config.toml:"), "{e}");
    let e = err("[[feeds]]\nname = \"x\"\ninterval = \"1h\"\n");
    assert_eq!(e.key(), Some("feeds[0]"));
    assert!(e.to_string().contains("feed \"x\" needs a source"), "{e}");
}

#[test]
fn unknown_top_level_section_is_an_error() {
    assert_error(
        "[api]\ntimeout = \"5s\"\n\n[apis]\ntimeout = \"5s\"\n",
        4,
        "apis",
        "unknown field `apis`",
    );
    assert_error("verbose = true\n", 1, "verbose", "unknown field");
}

#[test]
fn syntax_errors_name_file_and_line() {
    let e = err("[api]\ntimeout = \"5s\n");
    let shown = e.to_string();
    assert!(shown.starts_with("config.toml:2: "), "{shown}");
    assert_eq!(e.key(), None);
    assert!(!shown.contains('\n'), "{shown}");
}

#[test]
fn a_table_where_a_value_belongs_is_reported_plainly() {
    let e = err("api = 5\n");
    assert!(e.to_string().contains("expected a table"), "{e}");
    assert!(!e.to_string().contains("Raw"), "{e}");
}

#[test]
fn durations_accept_humantime_forms() {
    let c = ok("[api]\npoll_interval = \"250ms\"\ntimeout = \"1h\"\n[[feeds]]\nname = \"f\"\nurl = \"https://e.com/f\"\ninterval = \"15m\"\ndelay = \"30s\"\n");
    assert_eq!(c.api.poll_interval, Duration::from_millis(250));
    assert_eq!(c.api.timeout, Duration::from_secs(3600));
    assert_eq!(c.feeds[0].interval, Duration::from_secs(900));
    assert_eq!(c.feeds[0].delay, Duration::from_secs(30));
}

#[test]
fn presets_extend_and_override() {
    let c = ok(r#"
[presets.base]
enable_export = false
ratio = "RATIO_1_1"
resolution = "FHD_1080"
[presets.base.extra]
keep = "base"
override_me = "base"

[presets.mid]
extends = "base"
ratio = "RATIO_4_5"
source_lang = "en"
[presets.mid.extra]
override_me = "mid"

[presets.top]
extends = "mid"
enable_export = true
target_lang = "zh-CN"
limit = 5
"#);
    let top = &c.presets["top"];
    assert_eq!(top.name, "top");
    assert!(top.export_enabled());
    assert_eq!(
        serde_json::Value::Object(top.options.clone()),
        json!({
            "enable_export": true, "ratio": "RATIO_4_5", "resolution": "FHD_1080",
            "source_lang": "en", "target_lang": "zh-CN", "limit": 5,
            "keep": "base", "override_me": "mid"
        })
    );
    assert!(!c.presets["base"].export_enabled());
    assert_eq!(c.presets["mid"].options["override_me"], "mid");
    // The built-in default still exists alongside.
    assert_eq!(c.presets["default"].options["cc_style_tpl"], "temp-7");
}

#[test]
fn presets_can_extend_the_builtin_default() {
    let c = ok("[presets.landscape]\nextends = \"default\"\nratio = \"RATIO_16_9\"\n");
    let p = &c.presets["landscape"];
    assert_eq!(p.options["ratio"], "RATIO_16_9");
    assert_eq!(p.options["cc_style_tpl"], "temp-7");
    assert!(p.export_enabled());
}

#[test]
fn a_written_default_replaces_the_builtin_one() {
    let c = ok("[presets.default]\nratio = \"RATIO_1_1\"\n");
    assert_eq!(
        serde_json::Value::Object(c.presets["default"].options.clone()),
        json!({"ratio": "RATIO_1_1"})
    );
    assert!(!c.presets["default"].export_enabled());
}

#[test]
fn preset_cycles_are_errors_naming_the_chain() {
    let e = err("[presets.a]\nextends = \"b\"\n\n[presets.b]\nextends = \"a\"\n");
    assert_eq!(
        e.to_string(),
        "config.toml:5: presets.b.extends: presets extend each other in a cycle: a → b → a"
    );
    let e = err("[presets.self]\nextends = \"self\"\n");
    assert!(e.to_string().contains("self → self"), "{e}");
}

#[test]
fn missing_parent_preset_is_an_error_naming_the_chain() {
    let e = err("[presets.a]\nextends = \"b\"\n\n[presets.b]\nextends = \"ghost\"\n");
    let shown = e.to_string();
    assert!(
        shown.starts_with("config.toml:5: presets.b.extends: "),
        "{shown}"
    );
    assert!(shown.contains("no preset named \"ghost\""), "{shown}");
    assert!(shown.contains("a → b → ghost"), "{shown}");
}

#[test]
fn extra_passes_through_verbatim() {
    let c = ok(r#"
[presets.default]
enable_export = true
[presets.default.extra]
new_option = "X"
count = 3
ratio_x = 1.5
flags = [1, "two", true]
nested = { deep = { yes = true } }
when = 2026-01-02T03:04:05Z
"#);
    let options = &c.presets["default"].options;
    assert_eq!(options["new_option"], "X");
    assert_eq!(options["count"], 3);
    assert_eq!(options["ratio_x"], 1.5);
    assert_eq!(options["flags"], json!([1, "two", true]));
    assert_eq!(options["nested"], json!({"deep": {"yes": true}}));
    assert_eq!(options["when"], "2026-01-02T03:04:05Z");
    assert!(!options.contains_key("extra"));
}

fn env_of(pairs: &[(&str, String)]) -> impl Fn(&str) -> Option<String> {
    let map: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect();
    move |name| map.get(name).cloned()
}

#[test]
fn api_key_lookup_order() {
    let dir = tempfile::tempdir().unwrap();
    let creds = dir.path().join("creds");
    std::fs::create_dir(&creds).unwrap();
    std::fs::write(creds.join("wayin_api_key"), "from-credential\n").unwrap();
    std::fs::write(dir.path().join("key"), "  from-file \n").unwrap();
    let config_path = dir.path().join("config.toml");
    let with_file = "[api]\napi_key_file = \"key\"\n";
    let creds_dir = creds.display().to_string();

    let run = |text: &str, env: &[(&str, String)]| {
        let c = parse(text, &config_path, &env_of(env)).unwrap();
        (
            c.api.api_key.map(|k| k.expose().to_owned()),
            c.api.api_key_source,
            c.warnings,
        )
    };

    // The environment beats the file and the credential.
    let (key, source, _) = run(
        with_file,
        &[
            ("WAYIN_API_KEY", " from-env\n".into()),
            ("CREDENTIALS_DIRECTORY", creds_dir.clone()),
        ],
    );
    assert_eq!(key.as_deref(), Some("from-env"));
    assert_eq!(source.as_deref(), Some("environment WAYIN_API_KEY"));

    // The file (relative to the config's folder) beats the credential;
    // an empty environment variable does not count.
    let (key, source, _) = run(
        with_file,
        &[
            ("WAYIN_API_KEY", "  ".into()),
            ("CREDENTIALS_DIRECTORY", creds_dir.clone()),
        ],
    );
    assert_eq!(key.as_deref(), Some("from-file"));
    assert_eq!(
        source,
        Some(format!("file {}", dir.path().join("key").display()))
    );

    // The credential is the last resort; an unreadable file is a warning.
    let (key, source, warnings) = run(
        "[api]\napi_key_file = \"missing\"\n",
        &[("CREDENTIALS_DIRECTORY", creds_dir.clone())],
    );
    assert_eq!(key.as_deref(), Some("from-credential"));
    assert_eq!(source.as_deref(), Some("systemd credential wayin_api_key"));
    assert_eq!(warnings.len(), 1);
    assert!(warnings[0].contains("missing"), "{warnings:?}");

    // Nothing anywhere: no key, not an error.
    let (key, source, warnings) = run("", &[]);
    assert_eq!(key, None);
    assert_eq!(source, None);
    assert!(warnings.is_empty());
}

#[test]
fn the_key_never_shows_in_debug_or_errors() {
    let env = env_of(&[("WAYIN_API_KEY", "sk-live-123".into())]);
    let c = parse("", Path::new("config.toml"), &env).unwrap();
    let shown = format!("{c:?}");
    assert!(!shown.contains("sk-live-123"));
    let e = parse("[api]\ntimeout = \"x\"\n", Path::new("config.toml"), &env).unwrap_err();
    assert!(!format!("{e} {e:?}").contains("sk-live-123"));
}

#[test]
fn config_is_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Config>();
    assert_send_sync::<ConfigError>();
}

#[test]
fn feed_forms() {
    let c = ok(r#"
[[feeds]]
name = "Lex Fridman"
youtube = "@lexfridman"
include = "(?i)podcast"
exclude = "(?i)trailer|teaser"
shorts = true
delay = "30m"
backfill = 2

[[feeds]]
name = "Uploads"
youtube = "https://www.youtube.com/channel/UCSHZKyawb77ixDdsGog4iWA"

[[feeds]]
name = "Playlist"
youtube = "PLrAXtmErZgOeiKm4sgNOknGvNjby9efdf"
preset = "default"

[[feeds]]
name = "My video podcast"
url = "https://example.com/feed.xml"
use = "enclosure"
"#);
    let names: Vec<&str> = c.feeds.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(
        names,
        ["Lex Fridman", "Uploads", "Playlist", "My video podcast"]
    );
    let lex = c.feed("Lex Fridman").unwrap();
    assert_eq!(lex.source, FeedSource::Youtube("@lexfridman".into()));
    assert!(lex.include.as_ref().unwrap().is_match("The PODCAST #1"));
    assert!(lex.exclude.as_ref().unwrap().is_match("Teaser"));
    assert!(lex.shorts);
    assert_eq!(lex.backfill, 2);
    assert_eq!(lex.delay, Duration::from_secs(1800));
    assert_eq!(lex.entry_use, EntryUse::Link);
    assert_eq!(lex.preset, "default");
    assert_eq!(lex.interval, Duration::from_secs(900));
    let podcast = c.feed("My video podcast").unwrap();
    assert_eq!(
        podcast.source,
        FeedSource::Url("https://example.com/feed.xml".into())
    );
    assert_eq!(podcast.entry_use, EntryUse::Enclosure);
    assert!(!podcast.shorts);
    assert_eq!(podcast.delay, Duration::ZERO);
    assert!(podcast.include.is_none());
}

#[test]
fn youtube_urls_on_the_configured_host_are_accepted() {
    let c = ok("[youtube]\nbase_url = \"http://127.0.0.1:9000\"\n[[feeds]]\nname = \"t\"\nyoutube = \"http://127.0.0.1:9000/@someone\"\n");
    assert_eq!(
        c.feeds[0].source,
        FeedSource::Youtube("http://127.0.0.1:9000/@someone".into())
    );
}

#[test]
fn enclosure_on_youtube_is_a_warning() {
    let c = ok("[[feeds]]\nname = \"t\"\nyoutube = \"@someone\"\nuse = \"enclosure\"\n");
    assert_eq!(c.warnings.len(), 1, "{:?}", c.warnings);
}

#[test]
fn duplicate_feed_names_are_errors() {
    let e = err("[[feeds]]\nname = \"Same\"\nurl = \"https://a.com/f\"\n\n[[feeds]]\nname = \"Same\"\nurl = \"https://b.com/f\"\n");
    let shown = e.to_string();
    assert!(
        shown.starts_with("config.toml:5: feeds[1].name: "),
        "{shown}"
    );
    assert!(
        shown.contains("\"Same\" is already used by the feed on line 1"),
        "{shown}"
    );
}

#[test]
fn locate_order() {
    let env = |pairs: &'static [(&'static str, &'static str)]| {
        move |name: &str| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| OsString::from(v))
        }
    };
    let nothing = |_: &Path| false;
    let everything = |_: &Path| true;

    let explicit = Path::new("/tmp/x.toml");
    assert_eq!(
        locate_with(
            Some(explicit),
            &env(&[("CLIPWATCH_CONFIG", "/e")]),
            &nothing
        )
        .unwrap(),
        explicit
    );
    assert_eq!(
        locate_with(None, &env(&[("CLIPWATCH_CONFIG", "/e.toml")]), &nothing).unwrap(),
        Path::new("/e.toml")
    );
    assert_eq!(
        locate_with(
            None,
            &env(&[("XDG_CONFIG_HOME", "/xdg"), ("HOME", "/home/u")]),
            &everything
        )
        .unwrap(),
        Path::new("/xdg/clipwatch/config.toml")
    );
    assert_eq!(
        locate_with(None, &env(&[("HOME", "/home/u")]), &everything).unwrap(),
        Path::new("/home/u/.config/clipwatch/config.toml")
    );
    assert_eq!(
        locate_with(None, &env(&[("HOME", "/home/u")]), &|p: &Path| p
            .starts_with("/etc"))
        .unwrap(),
        Path::new("/etc/clipwatch/config.toml")
    );
    let e = locate_with(None, &env(&[("HOME", "/home/u")]), &nothing).unwrap_err();
    let shown = e.to_string();
    assert!(
        shown.contains("/home/u/.config/clipwatch/config.toml, /etc/clipwatch/config.toml"),
        "{shown}"
    );
}

#[test]
fn load_reads_the_file_and_reports_missing_ones() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.toml");
    std::fs::write(&path, "[state]\ndir = \"state\"\n").unwrap();
    let c = load(&path).unwrap();
    assert_eq!(c.state.dir, dir.path().join("state"));
    assert_eq!(c.path, path);

    let missing = dir.path().join("nope.toml");
    let e = load(&missing).unwrap_err();
    assert!(matches!(e, ConfigError::Read { .. }));
    assert!(e.to_string().contains("nope.toml"), "{e}");
}

#[test]
fn output_sizes_are_read_with_units() {
    let c = ok("");
    assert_eq!(c.output.min_free_space, 1 << 30);
    assert_eq!(c.output.max_video_size, 4 << 30);
    let c = ok("[output]\nmin_free_space = \"0\"\nmax_video_size = \"500MB\"\n");
    assert_eq!(c.output.min_free_space, 0);
    assert_eq!(c.output.max_video_size, 500_000_000);
    assert_eq!(parse_size("64KiB"), Some(65_536));
    assert_eq!(parse_size("1.5 GiB"), Some(3 << 29));
    assert_eq!(parse_size("12"), Some(12));
    assert_eq!(parse_size("12 parsecs"), None);
    assert_eq!(parse_size("-1MB"), None);
    assert_error(
        "[output]\nmax_video_size = \"lots\"\n",
        2,
        "output.max_video_size",
        "invalid size \"lots\"",
    );
    assert_error(
        "[output]\nmax_video_size = \"0\"\n",
        2,
        "output.max_video_size",
        "greater than zero",
    );
}

#[test]
fn output_exports_default_to_all_and_can_be_chosen_or_turned_off() {
    use crate::output::exports::ExportKind;
    assert_eq!(ok("").output.exports, ExportKind::ALL);
    assert!(ok("[output]\nexports = []\n").output.exports.is_empty());
    assert_eq!(
        ok("[output]\nexports = [\"edl\", \"csv\", \"edl\"]\n")
            .output
            .exports,
        [ExportKind::Edl, ExportKind::Csv]
    );
    assert_error(
        "[output]\nexports = [\n  \"csv\",\n  \"premiere\",\n]\n",
        4,
        "output.exports",
        "unknown export \"premiere\" (expected any of chapters, csv, edl, fcpxml; [] writes none)",
    );
    assert_error(
        "[output]\nexports = \"csv\"\n",
        2,
        "output.exports",
        "invalid type",
    );
}

#[test]
fn newer_clipping_options_are_accepted_and_checked_together() {
    let c = ok("[presets.short]\n\
         enable_express_mode = true\n\
         enable_more_results = false\n\
         enable_ai_reframe = true\n\
         ratio = \"RATIO_16_9\"\n\
         reframe_layout = \"Screen First\"\n\
         [presets.tall]\n\
         extends = \"short\"\n\
         ratio = \"RATIO_4_5\"\n\
         reframe_layout = \"Gameplay B\"\n");
    let short = &c.presets["short"].options;
    assert_eq!(short["enable_express_mode"], json!(true));
    assert_eq!(short["enable_more_results"], json!(false));
    assert_eq!(short["reframe_layout"], json!("Screen First"));
    assert_eq!(
        c.presets["tall"].options["enable_express_mode"],
        json!(true)
    );
    // Reframing off: any ratio, RATIO_ORIGINAL included, and no layout check.
    ok("[presets.p]\nenable_ai_reframe = false\nratio = \"RATIO_ORIGINAL\"\nreframe_layout = \"Trio\"\n");
    // A layout newer than clipwatch goes through extra unchecked.
    let c = ok(
        "[presets.p]\nenable_ai_reframe = true\nratio = \"RATIO_1_1\"\n\
                [presets.p.extra]\nreframe_layout = \"Orbit\"\n",
    );
    assert_eq!(c.presets["p"].options["reframe_layout"], json!("Orbit"));
}

#[test]
fn reframing_needs_a_ratio_and_a_layout_of_that_ratio() {
    // (text, line, key, fragment of the message)
    let cases: &[(&str, usize, &str, &str)] = &[
        ("[presets.p]\nenable_ai_reframe = true\n", 2, "presets.p.enable_ai_reframe",
         "needs a ratio (the API requires one): add ratio = one of RATIO_9_16, RATIO_16_9, RATIO_1_1, RATIO_4_5"),
        ("[presets.p]\nenable_ai_reframe = true\nratio = \"RATIO_ORIGINAL\"\n", 3, "presets.p.ratio",
         "RATIO_ORIGINAL is not one"),
        ("[presets.p]\nenable_ai_reframe = true\nratio = \"RATIO_1_1\"\nreframe_layout = \"PiP\"\n", 4,
         "presets.p.reframe_layout",
         "\"PiP\" is not a layout for RATIO_1_1 (expected one of Auto, Full, Fit, Grid 4, Trio); \"PiP\" is a layout for RATIO_9_16"),
        ("[presets.p]\nenable_ai_reframe = true\nratio = \"RATIO_16_9\"\nreframe_layout = \"screen first\"\n", 4,
         "presets.p.reframe_layout", "did you mean \"Screen First\"? (case and spaces count)"),
        ("[presets.p]\nenable_ai_reframe = true\nratio = \"RATIO_9_16\"\nreframe_layout = \"OTS\"\n", 4,
         "presets.p.reframe_layout", "is a layout for RATIO_16_9"),
        // Inherited: the line is where the value was written, the message says which preset.
        ("[presets.base]\nenable_ai_reframe = true\nratio = \"RATIO_16_9\"\nreframe_layout = \"OTS\"\n\
          [presets.tall]\nextends = \"base\"\nratio = \"RATIO_9_16\"\n", 4, "presets.tall.reframe_layout",
         "\"OTS\" (set in preset \"base\") is not a layout for RATIO_9_16"),
        ("[presets.base]\nenable_ai_reframe = true\n[presets.child]\nextends = \"base\"\nratio = \"RATIO_ORIGINAL\"\n",
         2, "presets.base.enable_ai_reframe", "needs a ratio"),
        ("[presets.p]\nenable_express_mode = \"yes\"\n", 2, "presets.p.enable_express_mode", "invalid type"),
        ("[presets.p]\nenable_more_results = 1\n", 2, "presets.p.enable_more_results", "invalid type"),
        ("[presets.p]\n[presets.p.extra]\nenable_ai_reframe = true\n", 3, "presets.p.enable_ai_reframe",
         "needs a ratio"),
    ];
    for (text, line, key, fragment) in cases {
        assert_error(text, *line, key, fragment);
    }
}

#[test]
fn extra_tasks_are_inherited_and_never_sent_as_options() {
    let c = ok("[presets.default]\ntranscript = true\n\n\
         [presets.pod]\nextends = \"default\"\nsummary = true\nalso = [\"wide\"]\n\n\
         [presets.wide]\nratio = \"RATIO_16_9\"\n");
    let pod = &c.presets["pod"];
    assert!(pod.transcript && pod.summary, "{pod:?}");
    assert_eq!(pod.also, ["wide"]);
    for key in ["transcript", "summary", "also"] {
        assert!(!pod.options.contains_key(key), "{key} is not an API option");
    }
    assert!(!c.presets["wide"].transcript);
    // Inherited, a preset's own name is left out of its `also`.
    let c = ok("[presets.default]\nalso = [\"wide\"]\n\n\
         [presets.wide]\nextends = \"default\"\nratio = \"RATIO_16_9\"\n");
    assert_eq!(c.presets["default"].also, ["wide"]);
    assert!(c.presets["wide"].also.is_empty());
    assert_error(
        "[presets.default]\nalso = [\"nope\"]\n",
        2,
        "presets.default.also",
        "\"nope\" is not another preset",
    );
    assert_error(
        "[presets.default]\nalso = [\"default\"]\n",
        2,
        "presets.default.also",
        "is not another preset",
    );
}
