//! End to end on real-world-shaped feeds (issue 13): the corpus in
//! `tests/fixtures/feeds/` (README.md there says where each shape comes
//! from) read through the real binary, and one test per defect fixed.

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use support::feed_server::{fixture, FeedServer, Route};
use support::harness::{
    assert_no_secrets, base_config, feed_toml, feeds_env as env_with, find_feed as feed,
    find_job as job, phase, text, Daemon, Env,
};

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
    env.once();
    assert!(
        env.api.submissions().is_empty(),
        "backfill = 0 submits nothing"
    );
    let jobs = env.jobs();
    let health = env.feeds();
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

fn watch(id: &str) -> String {
    format!("https://www.youtube.com/watch?v={id}")
}

/// The diary fixture (posts linked as `page.html#anchor`) as one feed,
/// read once.
fn diary_read_once() -> (FeedServer, Env) {
    let feeds =
        FeedServer::serving([("/diary.xml", Route::new(RSS, fixture("fragment_diary.xml")))]);
    let settings = "preset = \"metadata\"\nbackfill = 10";
    let env = env_with(
        &feeds,
        &feed_toml("Diary", &feeds.url("/diary.xml"), settings),
    );
    env.once();
    (feeds, env)
}

/// Issue 13 item 1: posts linked as `page.html#anchor` are one page to the
/// API (clipped once), and every other entry on that page is recorded as
/// skipped, saying which entry it repeats: none vanishes.
#[test]
fn entries_differing_only_by_fragment_are_recorded_not_lost() {
    let (feeds, env) = diary_read_once();
    let jobs = env.jobs();
    assert_eq!(jobs.len(), 6, "one record per entry: {jobs:#?}");
    for page in ["26", "25", "24"] {
        let url = format!("https://diary.example.jp/2024/06/{page}.html");
        assert_eq!(env.api.submissions_for(&url), 1, "{url}");
    }
    assert_eq!(env.api.submissions().len(), 3);
    let repeat = job(
        &jobs,
        "url:https://diary.example.jp/2024/06/26.html#a080604",
    );
    assert_eq!(repeat["state"], "skipped");
    assert_eq!(
        repeat["reason"],
        "same page as https://diary.example.jp/2024/06/26.html#a080605 (links differ only by #fragment)"
    );
    assert_eq!(repeat["title"], "Note a080604");

    // A later check: a new post on the same page, above the clipped one.
    // The clipped entry stays the page's; the new one is recorded.
    let body = String::from_utf8(fixture("fragment_diary.xml")).unwrap().replacen(
        " <item>",
        " <item>\n  <title>Note new</title>\n  <link>https://diary.example.jp/2024/06/26.html#new</link>\n  <pubDate>Wed, 26 Jun 2024 18:00:00 +0900</pubDate>\n </item>\n <item>",
        1,
    );
    feeds.route("/diary.xml", Route::new(RSS, body.into_bytes()));
    env.once();
    let jobs = env.jobs();
    assert_eq!(jobs.len(), 7, "one more record: {jobs:#?}");
    let new = job(&jobs, "url:https://diary.example.jp/2024/06/26.html#new");
    assert_eq!(
        (&new["state"], &new["reason"], &new["title"]),
        (
            &"skipped".into(),
            &"same page as https://diary.example.jp/2024/06/26.html#a080605 (links differ only by #fragment)".into(),
            &"Note new".into()
        )
    );
    assert!(
        !jobs
            .iter()
            .any(|j| j["key"] == "url:https://diary.example.jp/2024/06/26.html#a080605"),
        "the clipped entry is the page's job: {jobs:#?}"
    );
    assert_eq!(env.api.submissions().len(), 3);
}

/// Review of issue 13, defect 5: a "same page as" record is refused by
/// `retry` (it would submit the page again, paid twice), naming the job
/// that has the page, with the daemon stopped and running.
#[test]
fn retry_refuses_an_entry_recorded_as_the_same_page() {
    let (_feeds, env) = diary_read_once();
    let page = "https://diary.example.jp/2024/06/26.html";
    assert_eq!(env.api.submissions_for(page), 1);
    let jobs = env.jobs();
    let repeat = job(&jobs, &format!("url:{page}#a080604"))["id"].to_string();
    let has_page = job(&jobs, &format!("url:{page}"))["id"].to_string();
    let said = format!("same page as job {has_page} (url:{page})");

    let out = env.run(&["retry", &repeat]);
    assert!(!out.status.success(), "{}", text(&out));
    assert!(text(&out).contains(&said), "{}", text(&out));
    env.once();
    assert_eq!(env.api.submissions_for(page), 1, "not paid twice");
    assert_eq!(
        job(&env.jobs(), &format!("url:{page}#a080604"))["state"],
        "skipped"
    );

    // The running daemon answers the same.
    let mut daemon = Daemon::spawn(&env, &["run"]);
    assert!(daemon.wait_log(" started; "), "{}", daemon.log());
    let out = env.run(&["retry", &repeat]);
    let jobs = env.jobs();
    daemon.kill();
    assert!(!out.status.success(), "{}", text(&out));
    assert!(text(&out).contains(&said), "{}", text(&out));
    assert_eq!(
        job(&jobs, &format!("url:{page}#a080604"))["state"],
        "skipped"
    );
    assert_eq!(env.api.submissions_for(page), 1, "not paid twice");
}

/// Feeds `a` and `b` (TOML for a URL) on two copies of one feed, read in
/// every order: `a` alone and then `b` added in a later pass (`a_alone`
/// checks in between), both in one pass with `a` first, and `b` first;
/// `check` runs after each, given the order's name.
fn in_every_order(
    route: impl Fn() -> Route,
    a: impl Fn(&str) -> String,
    b: impl Fn(&str) -> String,
    a_alone: impl Fn(&Env, &str),
    check: impl Fn(&Env, &str),
) {
    for order in ["a first", "together", "b first"] {
        let feeds = FeedServer::start();
        feeds.route("/a.xml", route());
        feeds.route("/b.xml", route());
        let (a, b) = (a(&feeds.url("/a.xml")), b(&feeds.url("/b.xml")));
        let env = match order {
            "a first" => env_with(&feeds, &a),
            "together" => env_with(&feeds, &format!("{a}\n{b}")),
            _ => env_with(&feeds, &format!("{b}\n{a}")),
        };
        env.once();
        if order == "a first" {
            a_alone(&env, order);
            let config = std::fs::read_to_string(env.config_path()).unwrap();
            std::fs::write(env.config_path(), config + "\n" + &b).unwrap();
            env.once();
        }
        check(&env, order);
    }
}

/// Issue 13 item 2: feed A (backfill 0, shorts = false, an exclude) skips
/// videos that feed B (backfill 5, shorts = true) wants; B queues them
/// once, whichever feed is checked first.
#[test]
fn one_feeds_skip_does_not_block_another_feed_in_either_order() {
    let strict = |url: &str| {
        let settings = "preset = \"metadata\"\nbackfill = 0\nexclude = \"(?i)two\"";
        feed_toml("Strict", url, settings)
    };
    let keen = |url: &str| {
        feed_toml(
            "Keen",
            url,
            "preset = \"metadata\"\nbackfill = 5\nshorts = true",
        )
    };
    let wanted = ["corpus00004", "corpus00003", "corpus00002", "corpus00001"];
    in_every_order(
        || Route::new(ATOM, fixture("youtube_channel_corpus.xml")),
        strict,
        keen,
        |env, order| assert!(env.api.submissions().is_empty(), "{order}"),
        |env, order| {
            for id in wanted {
                assert_eq!(env.api.submissions_for(&watch(id)), 1, "{order}: {id}");
            }
            let jobs = env.jobs();
            assert_eq!(jobs.len(), 4, "{order}");
            for j in &jobs {
                assert_eq!(
                    (&j["state"], &j["feed"]),
                    (&"done".into(), &"Keen".into()),
                    "{order}: {j}"
                );
            }
            // Later passes change nothing.
            env.once();
            assert_eq!(env.api.submissions().len(), 4, "{order}");
        },
    );
}

/// Review of issue 13, defect 3: `no enclosure (use = "enclosure")` is one
/// feed's setting: a `use = "link"` feed of the same site gets the page,
/// once, whichever feed is checked first.
#[test]
fn a_use_enclosure_skip_does_not_block_a_use_link_feed_in_either_order() {
    let files = |url: &str| {
        let settings = "preset = \"metadata\"\nbackfill = 10\nuse = \"enclosure\"";
        feed_toml("Files", url, settings)
    };
    let pages = |url: &str| feed_toml("Pages", url, "preset = \"metadata\"\nbackfill = 10");
    let page = "https://lectures.example.edu/l/1";
    in_every_order(
        || Route::new(RSS, fixture("rdf_enclosure.xml")),
        files,
        pages,
        |env, order| assert_eq!(env.api.submissions_for(page), 0, "{order}"),
        |env, order| {
            assert_eq!(env.api.submissions_for(page), 1, "{order}");
            let jobs = env.jobs();
            let j = job(&jobs, &format!("url:{page}"));
            assert_eq!(
                (&j["state"], &j["feed"]),
                (&"done".into(), &"Pages".into()),
                "{order}: {j}"
            );
            env.once();
            assert_eq!(env.api.submissions_for(page), 1, "{order}: later passes");
        },
    );
}

/// Issue 13 item 3: an item whose JSON Feed `external_url` (or Atom
/// `rel="related"`/`"via"` link) is a video is that video: the Atom and
/// JSON versions of one site give the same keys, clipped once.
#[test]
fn external_url_and_related_links_that_are_videos_are_the_video() {
    let feeds = FeedServer::serving([
        (
            "/atom.xml",
            Route::new(ATOM, fixture("atom_related_via.xml")),
        ),
        (
            "/feed.json",
            Route::new(JSON, fixture("jsonfeed_external_url.json")),
        ),
    ]);
    let env = env_with(
        &feeds,
        &format!(
            "[[feeds]]\nname = \"Atom\"\nurl = \"{}\"\npreset = \"metadata\"\nbackfill = 5\n\n\
             [[feeds]]\nname = \"Json\"\nurl = \"{}\"\npreset = \"metadata\"\nbackfill = 5\n",
            feeds.url("/atom.xml"),
            feeds.url("/feed.json")
        ),
    );
    env.once();
    let jobs = env.jobs();
    let keys: std::collections::BTreeSet<&str> =
        jobs.iter().map(|j| j["key"].as_str().unwrap()).collect();
    assert_eq!(
        keys,
        [
            "url:https://linkblog.example/2024/05/01/article",
            "url:https://vimeo.com/76979871",
            "youtube:linkblog003",
        ]
        .into_iter()
        .collect(),
        "{jobs:#?}"
    );
    assert_eq!(env.api.submissions_for(&watch("linkblog003")), 1);
    assert_eq!(env.api.submissions_for("https://vimeo.com/76979871"), 1);
    assert_eq!(env.api.submissions().len(), 3);
}

/// Issue 13 items 4 and 5: a Latin-1 feed with no declaration, labelled by
/// its HTTP charset; a Windows-1252 feed labelled UTF-8 by its server; a
/// UTF-16 feed; a JSON feed with string tags and an http:// version, and
/// one with junk items: all read, titles intact, what was left out named.
#[test]
fn charsets_and_sloppy_json_feeds_are_read() {
    let feeds = FeedServer::start();
    let routes = [
        (
            "/latin1.xml",
            "text/xml; charset=ISO-8859-1",
            "latin1_no_declaration.xml",
        ),
        ("/cp1252.xml", RSS, "windows1252_mislabelled.xml"),
        ("/utf16.xml", BARE_XML, "utf16be_no_bom.xml"),
        ("/tags.json", JSON, "jsonfeed_string_tags.json"),
        ("/old.json", JSON, "jsonfeed_http_version.json"),
        ("/junk.json", JSON, "jsonfeed_junk_items.json"),
    ];
    let mut toml = String::new();
    for (path, content_type, name) in routes {
        feeds.route(path, Route::new(content_type, fixture(name)));
        toml += &format!(
            "[[feeds]]\nname = \"{}\"\nurl = \"{}\"\npreset = \"metadata\"\nbackfill = 0\n\n",
            &path[1..],
            feeds.url(path)
        );
    }
    let env = env_with(&feeds, &toml);
    env.once();
    let jobs = env.jobs();
    let title = |key: &str| job(&jobs, key)["title"].as_str().unwrap().to_owned();
    assert_eq!(title("url:https://chaine.example.fr/v/1"), "Première vidéo");
    assert_eq!(
        title("url:https://buecher.example.de/lesung/1"),
        "Lesung: \u{201e}Faust\u{201c} \u{2013} Teil 1"
    );
    assert_eq!(title("url:https://omegabe.example/t/2"), "Λόγος 2");
    assert_eq!(title("url:https://sloppy.example/v/5"), "Video 5");
    assert_eq!(title("url:http://oldstyle.example/posts/4"), "Post 4");
    let health = env.feeds();
    for f in &health {
        assert!(f["last_error"].is_null(), "{f}");
    }
    let tags = feed(&health, "tags.json");
    assert_eq!(tags["notes_count"], 5);
    assert_eq!(
        tags["notes"][0],
        "item 1: \"tags\" is a string; read as a comma-separated list"
    );
    let junk = feed(&health, "junk.json");
    assert_eq!(junk["ignored_count"], 3);
    assert_eq!(
        junk["ignored"],
        serde_json::json!([
            "item 2 (null, not an object)",
            "item 3 (a string, not an object)",
            "entry \"No url at all\""
        ])
    );
    let table = text(&env.run(&["feeds"]));
    assert!(table.contains("3 entries ignored"), "{table}");
}

/// Issue 13 item 6: an empty `href=""` (the feed's own URL once resolved),
/// a link to the site root or to the feed's home page is not a video:
/// nothing submitted for it, and the entry is reported as ignored.
#[test]
fn empty_hrefs_and_site_roots_are_not_videos() {
    let feeds = FeedServer::serving([(
        "/atom.xml",
        Route::new(ATOM, fixture("empty_href_atom.xml")),
    )]);
    let env = env_with(
        &feeds,
        &feed_toml(
            "Static",
            &feeds.url("/atom.xml"),
            "preset = \"metadata\"\nbackfill = 10",
        ),
    );
    env.once();
    let submitted = env.api.submissions();
    assert_eq!(
        submitted.len(),
        2,
        "the real post and the relative link only: {submitted:?}"
    );
    assert_eq!(
        env.api
            .submissions_for("https://static.example/posts/real/"),
        1
    );
    assert_eq!(env.api.submissions_for(&feeds.url("/posts/relative/")), 1);
    assert_eq!(env.api.submissions_for(&feeds.url("/atom.xml")), 0);
    let static_feed = env.feeds();
    let f = feed(&static_feed, "Static");
    assert_eq!(f["ignored_count"], 2);
    assert_eq!(
        f["ignored"],
        serde_json::json!([
            "entry \"Draft with an empty link\"",
            "entry \"Linked to the home page\""
        ])
    );
}

/// Issue 13 item 7: with `use = "enclosure"`, RDF `enc:enclosure`, MRSS
/// `media:content medium="video"` and a lone `media:player` are videos; an
/// entry without an enclosure is recorded as skipped, with why.
#[test]
fn rdf_and_mrss_enclosures_are_read_and_missing_ones_recorded() {
    let feeds = FeedServer::serving([
        ("/rdf.xml", Route::new(RSS, fixture("rdf_enclosure.xml"))),
        ("/dm.xml", Route::new(RSS, fixture("dailymotion_mrss.xml"))),
        ("/vimeo.xml", Route::new(RSS, fixture("vimeo_user.xml"))),
    ]);
    let mut toml = String::new();
    for name in ["rdf", "dm", "vimeo"] {
        toml += &format!(
            "[[feeds]]\nname = \"{name}\"\nurl = \"{}\"\npreset = \"metadata\"\nbackfill = 10\nuse = \"enclosure\"\n\n",
            feeds.url(&format!("/{name}.xml"))
        );
    }
    let env = env_with(&feeds, &toml);
    env.once();
    assert_eq!(
        env.api
            .submissions_for("https://lectures.example.edu/media/l3.mp4"),
        1
    );
    for n in 1..=3 {
        assert_eq!(
            env.api.submissions_for(&format!(
                "https://www.dailymotion.com/embed/video/x8news{n}"
            )),
            1
        );
        assert_eq!(
            env.api
                .submissions_for(&format!("https://player.vimeo.com/video/90000000{n}")),
            1
        );
    }
    assert_eq!(env.api.submissions().len(), 7);
    let jobs = env.jobs();
    let slides = job(&jobs, "url:https://lectures.example.edu/l/1");
    assert_eq!(
        (&slides["state"], &slides["reason"]),
        (
            &"skipped".into(),
            &"no enclosure (use = \"enclosure\")".into()
        )
    );
    let audio = job(&jobs, "url:https://lectures.example.edu/media/l2.mp3");
    assert_eq!(audio["reason"], "no video enclosure (audio/mpeg)");
}

/// Review of issue 13, defect 9: when the media pass counts other entries
/// than the parser (here an extension element named `item` at channel
/// level), the feed's RDF/MRSS enclosures are not read: `feeds --json`
/// says so in its notes instead of dropping them silently.
#[test]
fn a_media_pass_that_miscounts_entries_is_reported() {
    let body = String::from_utf8(fixture("dailymotion_mrss.xml"))
        .unwrap()
        .replacen(
            " <item>",
            " <ex:item xmlns:ex=\"urn:example\"/>\n <item>",
            1,
        );
    let feeds = FeedServer::serving([("/dm.xml", Route::new(RSS, body.into_bytes()))]);
    let env = env_with(
        &feeds,
        &feed_toml(
            "dm",
            &feeds.url("/dm.xml"),
            "preset = \"metadata\"\nbackfill = 10\nuse = \"enclosure\"",
        ),
    );
    let log = env.once();
    let health = env.feeds();
    let dm = feed(&health, "dm");
    let notes = dm["notes"].to_string();
    assert!(
        notes.contains("the media pass found 4 entries where the feed has 3"),
        "{dm}\n{log}"
    );
    assert!(log.contains("the media pass found"), "{log}");
}

const CORPUS_UC: &str = "UCcorpus00000000000000AA";

/// The corpus channel's long-form playlist (`UULF…`) and channel feed paths.
fn corpus_feed_paths() -> (String, String) {
    (
        format!("/feeds/videos.xml?playlist_id=UULF{}", &CORPUS_UC[2..]),
        format!("/feeds/videos.xml?channel_id={CORPUS_UC}"),
    )
}

/// The corpus channel as one `[[feeds]]` table, with `backfill`.
fn corpus_channel(backfill: u32) -> String {
    let settings = format!("preset = \"metadata\"\nbackfill = {backfill}");
    feed_toml("Chan", &format!("youtube = \"{CORPUS_UC}\""), &settings)
}

/// Issue 13 item 9: while YouTube's long-form playlist (`UULF…`) answers
/// 404, a `shorts = false` channel is read through its channel feed (Shorts
/// skipped by their link), said once in the log and shown by `feeds`; it
/// returns to `UULF…` when that works again.
#[test]
fn a_failing_long_form_playlist_falls_back_to_the_channel_feed_and_back() {
    let feeds = FeedServer::start();
    let (uulf, channel) = corpus_feed_paths();
    feeds.route(&uulf, Route::status(404));
    feeds.route(
        &channel,
        Route::new(ATOM, fixture("youtube_channel_corpus.xml")),
    );
    let env = env_with(&feeds, &corpus_channel(5));
    let first = env.once();
    for id in ["corpus00004", "corpus00002", "corpus00001"] {
        assert_eq!(env.api.submissions_for(&watch(id)), 1, "{id}");
    }
    assert_eq!(env.api.submissions().len(), 3, "the Short is skipped");
    assert_eq!(job(&env.jobs(), "youtube:corpus00003")["reason"], "shorts");
    let said = "answered HTTP 404; reading";
    assert_eq!(first.matches(said).count(), 1, "{first}");
    let health = env.feeds();
    let chan = feed(&health, "Chan");
    assert!(chan["last_error"].is_null(), "{chan}");
    let fallback = chan["fallback"].as_str().expect("the fallback is shown");
    assert!(
        fallback.contains("UULF")
            && fallback.contains("HTTP 404")
            && fallback.contains("channel_id="),
        "{fallback}"
    );
    let table = text(&env.run(&["feeds"]));
    assert!(table.contains("UULF failing"), "{table}");

    // Still failing: read the channel feed again, not said again.
    let second = env.once();
    assert_eq!(second.matches(said).count(), 0, "{second}");
    assert_eq!(feeds.requests_to(&uulf).len(), 2);
    assert_eq!(feeds.requests_to(&channel).len(), 2);

    // UULF works again (with a new upload): read it, and only it.
    let body = String::from_utf8(fixture("youtube_channel_corpus.xml"))
        .unwrap()
        .replace("corpus00004", "corpus00005");
    feeds.route(&uulf, Route::new(ATOM, body.into_bytes()));
    let third = env.once();
    assert!(third.contains("works again"), "{third}");
    assert_eq!(env.api.submissions_for(&watch("corpus00005")), 1);
    assert_eq!(env.api.submissions().len(), 4);
    assert_eq!(
        feeds.requests_to(&channel).len(),
        2,
        "the channel feed rests"
    );
    assert!(feed(&env.feeds(), "Chan")["fallback"].is_null());
    assert_no_secrets(&env, &format!("{first}{second}{third}{table}"));
}

/// Review of issue 13, defect 1: a channel first read through its channel
/// feed while `UULF…` fails (backfill 0) does not queue `UULF…`'s older
/// long-form videos when it comes back, nor the channel feed's past live
/// streams when `UULF…` fails again after a first read through it: the first
/// body from each URL is first sight.
#[test]
fn switching_between_uulf_and_the_channel_feed_never_queues_a_back_catalogue() {
    let corpus = String::from_utf8(fixture("youtube_channel_corpus.xml")).unwrap();
    // Older long-form uploads the channel feed's window no longer lists.
    let older = corpus
        .replace("corpus00001", "corpusold01")
        .replace("corpus00002", "corpusold02");
    // A past live stream, which `UULF…` never lists.
    let with_live = corpus.replace("corpus00001", "corpuslive1");
    let (uulf, channel) = corpus_feed_paths();
    let toml = corpus_channel(0);
    for uulf_first in [false, true] {
        let feeds = FeedServer::start();
        if uulf_first {
            feeds.route(&uulf, Route::new(ATOM, corpus.clone().into_bytes()));
        } else {
            feeds.route(&uulf, Route::status(404));
        }
        feeds.route(&channel, Route::new(ATOM, corpus.clone().into_bytes()));
        let env = env_with(&feeds, &toml);
        env.once();
        assert!(env.api.submissions().is_empty(), "backfill 0");
        // Switch: `UULF…` back with older uploads, or failing with the
        // channel feed showing a past live stream.
        if uulf_first {
            feeds.route(&uulf, Route::status(404));
            feeds.route(&channel, Route::new(ATOM, with_live.clone().into_bytes()));
        } else {
            feeds.route(&uulf, Route::new(ATOM, older.clone().into_bytes()));
        }
        env.once();
        assert!(
            env.api.submissions().is_empty(),
            "uulf first: {uulf_first}: {:?}",
            env.api.submissions()
        );
        let jobs = env.jobs();
        let back = if uulf_first {
            "youtube:corpuslive1"
        } else {
            "youtube:corpusold01"
        };
        assert_eq!(job(&jobs, back)["reason"], "backfill", "{uulf_first}");
        // A new upload after the switch is clipped.
        let newer =
            if uulf_first { &with_live } else { &older }.replace("corpus00004", "corpus00005");
        let path = if uulf_first { &channel } else { &uulf };
        feeds.route(path, Route::new(ATOM, newer.into_bytes()));
        env.once();
        assert_eq!(env.api.submissions_for(&watch("corpus00005")), 1);
        assert_eq!(env.api.submissions().len(), 1, "{uulf_first}");
    }
}

/// Review of issue 13, defect 2: the `UULF…` fallback is for 404 and 5xx
/// only; a 429 or 403 is an error of that check (backed off), and the
/// channel feed is not read in its place.
#[test]
fn the_uulf_fallback_is_for_404_and_5xx_only() {
    let (uulf, channel) = corpus_feed_paths();
    for status in [429, 403, 503] {
        let feeds = FeedServer::start();
        feeds.route(&uulf, Route::status(status));
        feeds.route(
            &channel,
            Route::new(ATOM, fixture("youtube_channel_corpus.xml")),
        );
        let env = env_with(&feeds, &corpus_channel(5));
        env.run(&["once"]);
        let health = env.feeds();
        let chan = feed(&health, "Chan");
        if status == 503 {
            assert_eq!(feeds.requests_to(&channel).len(), 1, "{status}");
            assert!(
                chan["fallback"].as_str().unwrap().contains("HTTP 503"),
                "{chan}"
            );
            assert_eq!(env.api.submissions().len(), 3, "{status}");
        } else {
            assert!(feeds.requests_to(&channel).is_empty(), "{status}");
            assert!(chan["fallback"].is_null(), "{status}: {chan}");
            assert!(
                chan["last_error"]
                    .as_str()
                    .unwrap()
                    .contains(&status.to_string()),
                "{chan}"
            );
            assert!(env.api.submissions().is_empty(), "{status}");
        }
    }
}

/// Issue 13 item 9: an intermittent 404 or 500 from the plain channel feed
/// is an error of that check only: the resolved channel id, the first
/// sight (no second backfill) and conditional GET survive it.
#[test]
fn an_intermittent_channel_feed_error_keeps_the_feed_state() {
    let feeds = FeedServer::serving([
        ("/@corpus", Route::html(
        format!(r#"<html><head><link rel="canonical" href="https://www.youtube.com/channel/{CORPUS_UC}"></head></html>"#)
            .into_bytes(),
    )),
    ]);
    let channel = format!("/feeds/videos.xml?channel_id={CORPUS_UC}");
    let body = fixture("youtube_channel_corpus.xml");
    feeds.route(&channel, Route::new(ATOM, body.clone()).etag("\"v1\""));
    let env = env_with(
        &feeds,
        "[[feeds]]\nname = \"Chan\"\nyoutube = \"@corpus\"\npreset = \"metadata\"\nshorts = true\nbackfill = 0\n",
    );
    env.once();
    assert!(env.api.submissions().is_empty());
    for status in [404, 500] {
        feeds.route(&channel, Route::status(status));
        env.once();
        let chan = env.feeds();
        let chan = feed(&chan, "Chan");
        assert_eq!(chan["channel_id"], CORPUS_UC);
        assert!(
            chan["last_error"]
                .as_str()
                .unwrap()
                .contains(&status.to_string()),
            "{chan}"
        );
    }
    let newer = String::from_utf8(body)
        .unwrap()
        .replace("corpus00004", "corpus00009");
    feeds.route(
        &channel,
        Route::new(ATOM, newer.into_bytes()).etag("\"v2\""),
    );
    env.once();
    assert_eq!(env.api.submissions_for(&watch("corpus00009")), 1);
    assert_eq!(env.api.submissions().len(), 1, "no second backfill");
    assert_eq!(feeds.requests_to("/@corpus").len(), 1, "resolved once");
    let last = feeds.requests_to(&channel).pop().unwrap();
    assert_eq!(last.if_none_match.as_deref(), Some("\"v1\""));
    let chan = env.feeds();
    assert_eq!(feed(&chan, "Chan")["consecutive_failures"], 0);
}

/// An environment with title lookups on, `[youtube] base_url` on the feed
/// server, a drop folder, and `extra` TOML.
fn titles_env(feeds: &FeedServer, extra: &str) -> Env {
    let youtube = feeds.base_url.clone();
    let extra = extra.to_string();
    Env::with_config(phase(20), move |api| {
        format!(
            "{}\n[youtube]\nbase_url = \"{youtube}\"\n\n[drop]\ndir = \"inbox\"\nsettle = \"50ms\"\nrescan = \"1s\"\n\n{extra}",
            base_config(api).replace("lookup = false", "lookup = true")
        )
    })
}

fn oembed(title: &str) -> Route {
    Route::new(
        "application/json",
        serde_json::json!({"type": "video", "version": "1.0", "title": title, "provider_name": "YouTube"})
            .to_string()
            .into_bytes(),
    )
}

fn project_name_for(env: &Env, video_url: &str) -> String {
    env.api
        .submissions()
        .iter()
        .find(|s| s["video_url"] == video_url)
        .unwrap_or_else(|| panic!("{video_url} submitted"))["project_name"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// Review of issue 13, defect 6: a dropped link's title is the video's own
/// (oEmbed), then the `.json` `name` or the `.webloc`/`.url` file's name,
/// then the page's `og:title`/`<title>`.
#[test]
fn a_dropped_links_name_beats_the_pages_title_but_not_oembed() {
    let feeds = FeedServer::serving([
        ("/oembed", oembed("Real title from oEmbed")),
        (
            "/page",
            Route::html(
                b"<html><head><title>Page title | Site</title></head><body></body></html>".to_vec(),
            ),
        ),
    ]);
    let env = titles_env(&feeds, "");
    let inbox = env.dir.path().join("inbox");
    std::fs::create_dir_all(&inbox).unwrap();
    let page = |n: u32| feeds.url(&format!("/page?n={n}"));
    std::fs::write(
        inbox.join("named.json"),
        format!(
            r#"[{{"url": "{}", "name": "Named in JSON"}}, {{"url": "https://youtu.be/namedvideo1", "name": "Named too"}}]"#,
            page(1)
        ),
    )
    .unwrap();
    std::fs::write(
        inbox.join("Great talk.url"),
        format!("[InternetShortcut]\r\nURL={}\r\n", page(2)),
    )
    .unwrap();
    std::fs::write(inbox.join("list.txt"), format!("{}\n", page(3))).unwrap();
    std::thread::sleep(Duration::from_millis(200));
    env.once();
    let jobs = env.jobs();
    let title = |key: &str| job(&jobs, key)["title"].clone();
    assert_eq!(title(&format!("url:{}", page(1))), "Named in JSON");
    assert_eq!(title(&format!("url:{}", page(2))), "Great talk");
    assert_eq!(title(&format!("url:{}", page(3))), "Page title | Site");
    assert_eq!(title("youtube:namedvideo1"), "Real title from oEmbed");
}

/// Review of issue 13, defect 7: an untitled video skipped by one feed and
/// queued for another gets its real title (oEmbed) like a new one.
#[test]
fn an_untitled_video_queued_for_another_feed_gets_its_real_title() {
    let feeds = FeedServer::serving([("/oembed", oembed("Real title from oEmbed"))]);
    let untitled = r#"<?xml version="1.0"?><rss version="2.0"><channel><title>t</title><link>https://blog.example/</link>
<item><link>https://youtu.be/untitled002</link><pubDate>Wed, 01 May 2024 08:00:00 GMT</pubDate></item>
</channel></rss>"#;
    feeds.route("/a.xml", Route::new(RSS, untitled.as_bytes().to_vec()));
    feeds.route("/b.xml", Route::new(RSS, untitled.as_bytes().to_vec()));
    let feed_toml = |name: &str, path: &str, backfill: u32| {
        format!(
            "[[feeds]]\nname = \"{name}\"\nurl = \"{}\"\npreset = \"metadata\"\nbackfill = {backfill}\n",
            feeds.url(path)
        )
    };
    let env = titles_env(&feeds, &feed_toml("Strict", "/a.xml", 0));
    env.once();
    assert!(env.api.submissions().is_empty());
    std::fs::write(
        env.config_path(),
        std::fs::read_to_string(env.config_path()).unwrap()
            + "\n"
            + &feed_toml("Keen", "/b.xml", 5),
    )
    .unwrap();
    env.once();
    let jobs = env.jobs();
    let j = job(&jobs, "youtube:untitled002");
    assert_eq!(
        (&j["feed"], &j["state"]),
        (&"Keen".into(), &"done".into()),
        "{j}"
    );
    assert_eq!(j["title"], "Real title from oEmbed", "{j}");
    assert_eq!(
        project_name_for(&env, &watch("untitled002")),
        "Real title from oEmbed"
    );
}

/// Issue 13 item 8: `submit URL` takes the video's real title from YouTube's
/// oEmbed (under `[youtube] base_url`), or from any other page's oEmbed
/// discovery link or `<title>`, with its upload date; the title names the
/// folder and is the project name sent to the API. A lookup that fails
/// leaves the title unknown (`null`), and the job goes on.
#[test]
fn submitted_urls_get_their_real_title_and_date() {
    let feeds = FeedServer::serving([(
        "/oembed",
        oembed("Never Gonna Give You Up (Official Video)"),
    )]);
    let page = |head: &str| {
        Route::html(
            format!("<!doctype html><html><head>{head}</head><body>video</body></html>")
                .into_bytes(),
        )
    };
    feeds.route(
        "/watch/42",
        page(&format!(
            r#"<title>ignored</title><link rel="alternate" type="application/json+oembed" href="{}/vendor-oembed?id=42" title="x">
<meta itemprop="uploadDate" content="2024-03-05T08:00:00Z">"#,
            feeds.base_url
        )),
    );
    feeds.route("/vendor-oembed", oembed("Lecture 42: Types"));
    feeds.route("/plain", page("<title>A plain &amp; simple page</title>"));
    feeds.route("/gone", Route::status(500));
    let env = titles_env(&feeds, "");
    let yt = "https://www.youtube.com/watch?v=dQw4w9WgXcQ";
    let vendor = feeds.url("/watch/42");
    let plain = feeds.url("/plain");
    let gone = feeds.url("/gone");
    for url in [yt, vendor.as_str(), plain.as_str(), gone.as_str()] {
        let out = env.run(&["submit", url, "--preset", "metadata"]);
        assert!(out.status.success(), "{}", text(&out));
    }
    let asked = feeds.requests_to("/oembed");
    assert_eq!(asked.len(), 1);
    assert!(asked[0].path.contains("dQw4w9WgXcQ"), "{}", asked[0].path);
    let log = env.once();
    assert_no_secrets(&env, &log);
    let jobs = env.jobs();
    let yt_job = job(&jobs, "youtube:dQw4w9WgXcQ");
    assert_eq!(yt_job["title"], "Never Gonna Give You Up (Official Video)");
    assert!(yt_job["published"].is_null(), "not the submit time");
    assert_eq!(
        project_name_for(&env, yt),
        "Never Gonna Give You Up (Official Video)"
    );
    let folder = yt_job["folder"].as_str().unwrap();
    assert!(folder.contains("Never Gonna Give You Up"), "{folder}");
    // The folder needs a date (the submit date); the sidecar's `published`
    // is the video's, unknown here.
    let submitted = &yt_job["created_at"].as_str().unwrap()[..10];
    let name = std::path::Path::new(folder).file_name().unwrap();
    assert!(name.to_string_lossy().starts_with(submitted), "{folder}");
    let project = support::harness::read_json(&env.clips().join(folder).join("project.json"));
    assert!(project["source"]["published"].is_null(), "{project}");
    let vendor_job = job(&jobs, &format!("url:{vendor}"));
    assert_eq!(vendor_job["title"], "Lecture 42: Types");
    assert_eq!(vendor_job["published"], "2024-03-05T08:00:00Z");
    let project = support::harness::read_json(
        &env.clips()
            .join(vendor_job["folder"].as_str().unwrap())
            .join("project.json"),
    );
    assert_eq!(project["source"]["published"], "2024-03-05T08:00:00Z");
    assert_eq!(project_name_for(&env, &vendor), "Lecture 42: Types");
    assert_eq!(
        job(&jobs, &format!("url:{plain}"))["title"],
        "A plain & simple page"
    );
    let gone_job = job(&jobs, &format!("url:{gone}"));
    assert!(gone_job["title"].is_null(), "{gone_job}");
    assert_eq!(
        gone_job["state"], "done",
        "a failed lookup never fails a job"
    );
    assert_eq!(project_name_for(&env, &gone), format!("url:{gone}"));
}

/// Issue 13 item 8: drop-folder links and untitled feed entries get the
/// video's real title; when none can be found, a `.webloc`/`.url` file's own
/// name, or a `.json` link's `name`.
#[test]
fn dropped_links_and_untitled_entries_get_real_titles() {
    let feeds = FeedServer::serving([
        ("/oembed", oembed("Real title from oEmbed")),
        ("/nothing", Route::status(404)),
    ]);
    let untitled = format!(
        r#"<?xml version="1.0"?><rss version="2.0"><channel><title>t</title><link>{0}/</link>
<item><link>https://youtu.be/untitled001</link><pubDate>Wed, 01 May 2024 08:00:00 GMT</pubDate></item>
<item><title>  </title><link>{0}/nothing</link><pubDate>Tue, 30 Apr 2024 08:00:00 GMT</pubDate></item>
</channel></rss>"#,
        feeds.base_url
    );
    feeds.route("/untitled.xml", Route::new(RSS, untitled.into_bytes()));
    let env = titles_env(
        &feeds,
        &feed_toml(
            "Untitled",
            &feeds.url("/untitled.xml"),
            "preset = \"metadata\"\nbackfill = 5",
        ),
    );
    let inbox = env.dir.path().join("inbox");
    std::fs::create_dir_all(&inbox).unwrap();
    std::fs::write(
        inbox.join("Great talk.webloc"),
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<plist version=\"1.0\"><dict>\n\
             <key>URL</key>\n<string>{}</string>\n</dict></plist>\n",
            feeds.url("/nothing?talk=1")
        ),
    )
    .unwrap();
    std::fs::write(
        inbox.join("shortcut.url"),
        "[InternetShortcut]\r\nURL=https://youtu.be/droppedurl1\r\n",
    )
    .unwrap();
    std::fs::write(
        inbox.join("named.json"),
        format!(
            r#"{{"url": "{}", "name": "Named in JSON"}}"#,
            feeds.url("/nothing?talk=2")
        ),
    )
    .unwrap();
    std::thread::sleep(Duration::from_millis(200));
    env.once();
    let jobs = env.jobs();
    assert_eq!(
        job(&jobs, "youtube:untitled001")["title"],
        "Real title from oEmbed"
    );
    assert!(job(&jobs, &format!("url:{}/nothing", feeds.base_url))["title"].is_null());
    assert_eq!(
        job(&jobs, "youtube:droppedurl1")["title"],
        "Real title from oEmbed"
    );
    assert_eq!(
        job(&jobs, &format!("url:{}", feeds.url("/nothing?talk=1")))["title"],
        "Great talk"
    );
    assert_eq!(
        job(&jobs, &format!("url:{}", feeds.url("/nothing?talk=2")))["title"],
        "Named in JSON"
    );
    for j in &jobs {
        assert_eq!(j["state"], "done", "{j}");
    }
}
