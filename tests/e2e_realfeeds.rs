//! End to end on real-world-shaped feeds (issue 13): the corpus in
//! `tests/fixtures/feeds/` (README.md there says where each shape comes
//! from) read through the real binary, and one test per defect fixed.

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::Value;
use support::feed_server::{fixture, FeedServer, Route};
use support::harness::{base_config, text, Env};
use support::FakeConfig;

fn quick() -> FakeConfig {
    FakeConfig {
        phase: Duration::from_millis(20),
        ..FakeConfig::default()
    }
}

fn env_with(feeds: &FeedServer, feed_toml: &str) -> Env {
    let youtube = feeds.base_url.clone();
    let feed_toml = feed_toml.to_string();
    Env::with_config(quick(), move |api| {
        format!(
            "{}\n[youtube]\nbase_url = \"{youtube}\"\n\n{feed_toml}",
            base_config(api)
        )
    })
}

fn once(env: &Env) -> String {
    let out = env.run(&["once"]);
    assert!(out.status.success(), "once: {}", text(&out));
    text(&out)
}

/// `jobs --json`, read while it is written (the corpus lists more than a
/// pipe holds, which `Env::run` waits on).
fn all_jobs(env: &Env) -> Vec<Value> {
    let out = std::process::Command::new(support::harness::BINARY)
        .arg("--config")
        .arg(env.config_path())
        .args(["jobs", "--json"])
        .env("WAYIN_API_KEY", &env.api.config().api_key)
        .env_remove("RUST_LOG")
        .env_remove("CLIPWATCH_CONFIG")
        .output()
        .expect("run clipwatch jobs");
    assert!(out.status.success(), "jobs --json: {}", text(&out));
    serde_json::from_slice(&out.stdout).expect("jobs --json is JSON")
}

fn feeds_json(env: &Env) -> Vec<Value> {
    let out = env.run(&["feeds", "--json"]);
    assert!(out.status.success(), "feeds --json: {}", text(&out));
    serde_json::from_slice(&out.stdout).expect("feeds --json is JSON")
}

fn feed<'a>(all: &'a [Value], name: &str) -> &'a Value {
    all.iter()
        .find(|f| f["name"] == name)
        .unwrap_or_else(|| panic!("feed {name} in {all:?}"))
}

fn job<'a>(jobs: &'a [Value], key: &str) -> &'a Value {
    jobs.iter()
        .find(|j| j["key"] == key)
        .unwrap_or_else(|| panic!("job {key} in {jobs:#?}"))
}

const RSS: &str = "application/rss+xml; charset=utf-8";
const ATOM: &str = "application/atom+xml; charset=utf-8";
const JSON: &str = "application/feed+json";
/// Many servers send XML without a charset.
const BARE_XML: &str = "text/xml";

/// One fixture of the corpus and what reading it must give: videos found
/// (recorded as `backfill` with `backfill = 0`), other skips by reason, and
/// entries ignored (no usable URL at all).
struct Case {
    fixture: &'static str,
    content_type: &'static str,
    enclosure: bool,
    found: usize,
    skipped: &'static [(&'static str, usize)],
    ignored: usize,
}

const fn case(
    fixture: &'static str,
    content_type: &'static str,
    enclosure: bool,
    found: usize,
    skipped: &'static [(&'static str, usize)],
    ignored: usize,
) -> Case {
    Case {
        fixture,
        content_type,
        enclosure,
        found,
        skipped,
        ignored,
    }
}

const CORPUS: &[Case] = &[
    case("anchor_video_podcast.xml", RSS, true, 2, &[("no video enclosure (audio/x-m4a)", 1)], 0),
    case("atom.xml", ATOM, false, 2, &[], 0),
    case("atom_related_via.xml", ATOM, false, 3, &[], 0),
    case("blogger_atom.xml", ATOM, false, 3, &[], 0),
    case("buzzsprout_podcast.xml", RSS, true, 0, &[("no video enclosure (audio/mpeg)", 3)], 0),
    case("dailymotion_mrss.xml", RSS, true, 3, &[], 0),
    case("empty_href_atom.xml", ATOM, false, 2, &[], 2),
    case("feed.json", JSON, false, 2, &[], 0),
    case("feedburner_youtube_links.xml", RSS, false, 2, &[("shorts", 1)], 0),
    case("fragment_diary.xml", RSS, false, 3, &[("same page as https://diary.example.jp/2024/06/25.html#a080602 (links differ only by #fragment)", 1), ("same page as https://diary.example.jp/2024/06/26.html#a080605 (links differ only by #fragment)", 2)], 0),
    case("jekyll_atom_relative.xml", ATOM, false, 2, &[], 0),
    case("jsonfeed_1_0.json", JSON, true, 1, &[("no enclosure (use = \"enclosure\")", 1), ("no video enclosure (audio/mpeg)", 1)], 0),
    case("jsonfeed_1_1.json", JSON, true, 2, &[("no enclosure (use = \"enclosure\")", 1)], 0),
    case("jsonfeed_external_url.json", JSON, false, 3, &[], 0),
    case("jsonfeed_http_version.json", JSON, false, 4, &[], 0),
    case("jsonfeed_junk_items.json", JSON, false, 2, &[], 3),
    case("jsonfeed_string_tags.json", JSON, false, 5, &[], 0),
    case("latin1.xml", RSS, false, 1, &[], 0),
    case("latin1_no_declaration.xml", "text/xml; charset=ISO-8859-1", false, 2, &[], 0),
    case("libsyn_podcast.xml", RSS, true, 0, &[("no video enclosure (audio/mpeg)", 4)], 0),
    case("peertube_enclosure.xml", RSS, true, 3, &[], 0),
    case("peertube_rss.xml", RSS, false, 3, &[], 0),
    case("podcast.xml", RSS, true, 2, &[("no video enclosure (audio/mpeg)", 1)], 0),
    case("podcast_untyped_enclosures.xml", RSS, true, 2, &[("no video enclosure (unknown type)", 1)], 0),
    case("rdf_enclosure.xml", RSS, true, 1, &[("no enclosure (use = \"enclosure\")", 1), ("no video enclosure (audio/mpeg)", 1)], 0),
    case("rdf_rss1.xml", RSS, false, 3, &[], 0),
    case("rss_no_links.xml", RSS, false, 1, &[], 2),
    case("squarespace_rss.xml", RSS, true, 1, &[], 2),
    case("substack_rss.xml", RSS, false, 3, &[], 0),
    case("utf16be_no_bom.xml", BARE_XML, false, 2, &[], 0),
    case("utf16le_bom.xml", ATOM, false, 2, &[], 0),
    case("utf8_bom_no_declaration.xml", BARE_XML, false, 2, &[], 0),
    case("vimeo_user.xml", RSS, true, 3, &[], 0),
    case("windows1252_declared.xml", RSS, false, 2, &[], 0),
    case("windows1252_mislabelled.xml", RSS, false, 1, &[], 0),
    case("wordpress_rss.xml", RSS, false, 4, &[], 0),
    case("youtube_channel.xml", ATOM, false, 13, &[("shorts", 1)], 0),
    case("youtube_channel_corpus.xml", ATOM, false, 3, &[("shorts", 1)], 0),
    case("youtube_playlist.xml", ATOM, false, 3, &[], 0),
    case("youtube_playlist_corpus.xml", ATOM, false, 2, &[], 0),
];

/// Fixtures that name the same videos as another fixture (the JSON
/// version of a site whose Atom version is in the corpus; a playlist of a
/// channel in the corpus): read in a second environment, since a video is
/// recorded once, under whichever feed was checked first.
const SECOND_RUN: &[&str] = &["jsonfeed_external_url.json", "youtube_playlist.xml"];

#[test]
fn the_corpus_reads_as_expected_per_fixture() {
    assert!(CORPUS.len() >= 30);
    let first: Vec<&Case> = CORPUS
        .iter()
        .filter(|c| !SECOND_RUN.contains(&c.fixture))
        .collect();
    let second: Vec<&Case> = CORPUS
        .iter()
        .filter(|c| SECOND_RUN.contains(&c.fixture))
        .collect();
    let mut wrong = Vec::new();
    let mut report = String::new();
    for cases in [first, second] {
        read_corpus(&cases, &mut wrong, &mut report);
    }
    assert!(
        wrong.is_empty(),
        "changed counts:\n{}\nall:\n{report}",
        wrong.concat()
    );
}

fn read_corpus(cases: &[&Case], wrong: &mut Vec<String>, report: &mut String) {
    let feeds = FeedServer::start();
    let mut toml = String::new();
    for (n, case) in cases.iter().enumerate() {
        let path = format!("/corpus/{}", case.fixture);
        feeds.route(&path, Route::new(case.content_type, fixture(case.fixture)));
        toml += &format!(
            "[[feeds]]\nname = \"c{n:02} {}\"\nurl = \"{}\"\npreset = \"metadata\"\nbackfill = 0\n{}\n",
            case.fixture,
            feeds.url(&path),
            if case.enclosure {
                "use = \"enclosure\"\n"
            } else {
                ""
            }
        );
    }
    let env = env_with(&feeds, &toml);
    once(&env);
    assert!(
        env.api.submissions().is_empty(),
        "backfill = 0 submits nothing"
    );
    let jobs = all_jobs(&env);
    let health = feeds_json(&env);
    for (n, case) in cases.iter().enumerate() {
        let name = format!("c{n:02} {}", case.fixture);
        let state = feed(&health, &name);
        let mut reasons: BTreeMap<String, usize> = BTreeMap::new();
        for j in jobs.iter().filter(|j| j["feed"] == name.as_str()) {
            assert_eq!(j["state"], "skipped", "{j}");
            *reasons
                .entry(j["reason"].as_str().unwrap_or_default().to_owned())
                .or_default() += 1;
        }
        let found = reasons.remove("backfill").unwrap_or(0);
        let ignored = state["ignored_count"].as_u64().unwrap_or(0) as usize;
        let want: BTreeMap<String, usize> = case
            .skipped
            .iter()
            .map(|(r, c)| ((*r).to_owned(), *c))
            .collect();
        let line = format!(
            "{}: found {found}, skipped {reasons:?}, ignored {ignored}, error {}\n",
            case.fixture, state["last_error"]
        );
        *report += &line;
        if found != case.found
            || reasons != want
            || ignored != case.ignored
            || !state["last_error"].is_null()
        {
            wrong.push(line);
        }
    }
}
