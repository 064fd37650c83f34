//! End to end: the real binary watching feeds served by a local feed server,
//! submitting to the fake WayinVideo API (SPEC §3 `[[feeds]]`, §4 "Feeds",
//! "Identity and dedupe").

mod support;

use std::time::Duration;

use serde_json::Value;
use support::feed_server::{fixture, FeedServer, Route};
use support::harness::{
    feed_toml, feeds_env as env_with, find_feed as feed, find_job as job, text, wait_until, Daemon,
};

const UC: &str = "UCtestchannel000000000AA";
const UULF: &str = "UULFtestchannel000000000AA";
const ETAG: &str = "\"channel-v1\"";
const MODIFIED: &str = "Mon, 20 May 2024 16:05:00 GMT";

fn watch(id: &str) -> String {
    format!("https://www.youtube.com/watch?v={id}")
}

fn time_of(value: &Value) -> chrono::DateTime<chrono::Utc> {
    value
        .as_str()
        .unwrap_or_else(|| panic!("a time: {value}"))
        .parse()
        .unwrap()
}

#[test]
fn a_channel_feed_backfills_filters_holds_premieres_and_rechecks_conditionally() {
    let feeds = FeedServer::start();
    let path = format!("/feeds/videos.xml?playlist_id={UULF}");
    feeds.route(
        &path,
        Route::xml(fixture("youtube_channel.xml"))
            .etag(ETAG)
            .last_modified(MODIFIED),
    );
    let env = env_with(
        &feeds,
        &format!(
            r#"[[feeds]]
name = "Chan"
youtube = "{UC}"
preset = "metadata"
backfill = 2
exclude = "(?i)trailer"
"#
        ),
    );
    env.once();

    // shorts = false reads the long-form uploads playlist.
    assert_eq!(feeds.requests_to("/feeds/").len(), 1);
    assert_eq!(feeds.requests()[0].path, path);
    // The two newest eligible videos were submitted, once each; nothing else.
    assert_eq!(env.api.submissions_for(&watch("chan0000002")), 1);
    assert_eq!(env.api.submissions_for(&watch("chan0000005")), 1);
    assert_eq!(env.api.submissions().len(), 2);

    let jobs = env.jobs();
    assert_eq!(jobs.len(), 14, "the premiere is held, not recorded");
    let done = job(&jobs, "youtube:chan0000002");
    assert_eq!(done["state"], "done");
    assert_eq!(done["feed"], "Chan");
    assert_eq!(done["origin"], "feed");
    assert_eq!(done["preset"], "metadata");
    assert_eq!(done["title"], "Episode 14: a long conversation");
    assert_eq!(done["url"], watch("chan0000002"));
    assert_eq!(done["published"], "2024-05-19T16:00:06Z");
    let short = job(&jobs, "youtube:chan0000003");
    assert_eq!(
        (&short["state"], &short["reason"]),
        (&"skipped".into(), &"shorts".into())
    );
    let trailer = job(&jobs, "youtube:chan0000004");
    assert_eq!(trailer["reason"], "exclude: (?i)trailer");
    for n in 6..=15 {
        let old = job(&jobs, &format!("youtube:chan{n:07}"));
        assert_eq!(
            (&old["state"], &old["reason"]),
            (&"skipped".into(), &"backfill".into())
        );
    }
    assert!(jobs.iter().all(|j| j["key"] != "youtube:chan0000001"));

    let health = env.feeds();
    let chan = feed(&health, "Chan");
    assert_eq!(chan["source"], format!("youtube:{UC}"));
    assert_eq!(chan["consecutive_failures"], 0);
    assert_eq!(chan["held"], 1, "the upcoming premiere waits");
    assert!(chan["last_new_entry"].is_string() && chan["last_success"].is_string());
    assert!(chan["last_error"].is_null());

    // A second pass asks "changed since?", gets 304, and submits nothing.
    env.once();
    let requests = feeds.requests_to("/feeds/");
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[0].if_none_match, None);
    assert_eq!(requests[1].if_none_match.as_deref(), Some(ETAG));
    assert_eq!(requests[1].if_modified_since.as_deref(), Some(MODIFIED));
    assert_eq!(requests[1].status, 304);
    assert_eq!(env.api.submissions().len(), 2);
    assert_eq!(env.jobs().len(), 14);

    // The premiere goes live (it has views now): the changed feed queues it.
    let live = String::from_utf8(fixture("youtube_channel.xml"))
        .unwrap()
        .replacen(r#"views="0""#, r#"views="42""#, 1);
    feeds.route(&path, Route::xml(live.into_bytes()).etag("\"channel-v2\""));
    env.once();
    assert_eq!(env.api.submissions_for(&watch("chan0000001")), 1);
    assert_eq!(env.api.submissions().len(), 3);
    assert_eq!(feed(&env.feeds(), "Chan")["held"], 0);

    // jobs --feed filters on the feed's name.
    let out = env.run(&["jobs", "--feed", "Chan", "--json"]);
    let listed: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(listed.len(), 15);
    let out = env.run(&["jobs", "--feed", "Other", "--json"]);
    let listed: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert!(listed.is_empty());
    let table = text(&env.run(&["feeds"]));
    assert!(
        table.contains("Chan") && table.contains("NEXT CHECK"),
        "{table}"
    );
}

#[test]
fn a_handle_resolves_once_through_the_channel_page() {
    let feeds = FeedServer::serving([
        ("/@testchannel", Route::html(fixture("channel_page.html"))),
        (
            &format!("/feeds/videos.xml?channel_id={UC}"),
            Route::xml(fixture("youtube_channel.xml")),
        ),
    ]);
    let env = env_with(
        &feeds,
        r#"[[feeds]]
name = "Handle"
youtube = "@testchannel"
preset = "metadata"
shorts = true
backfill = 3
"#,
    );
    env.once();
    // shorts = true: the channel feed itself, and the Short is clipped.
    assert_eq!(env.api.submissions_for(&watch("chan0000002")), 1);
    assert_eq!(env.api.submissions_for(&watch("chan0000003")), 1);
    assert_eq!(env.api.submissions_for(&watch("chan0000004")), 1);
    assert_eq!(env.api.submissions().len(), 3);
    assert_eq!(feed(&env.feeds(), "Handle")["channel_id"], UC);

    // The channel id is remembered: the page is not fetched again, and the
    // unchanged body (no validators here) queues nothing new.
    env.once();
    assert_eq!(feeds.requests_to("/@testchannel").len(), 1);
    assert_eq!(feeds.requests_to("/feeds/").len(), 2);
    assert_eq!(env.api.submissions().len(), 3);
}

#[test]
fn an_unresolvable_handle_is_reported_and_backs_off() {
    let feeds = FeedServer::serving([("/@nobody", Route::status(404))]);
    let env = env_with(
        &feeds,
        r#"[[feeds]]
name = "Nobody"
youtube = "@nobody"
interval = "10m"
"#,
    );
    env.once();
    let first = feed(&env.feeds(), "Nobody").clone();
    assert_eq!(first["consecutive_failures"], 1);
    let error = first["last_error"].as_str().unwrap();
    assert!(
        error.contains("Nobody") && error.contains("/@nobody") && error.contains("404"),
        "{error}"
    );
    assert!(first["channel_id"].is_null());

    env.once();
    let second = feed(&env.feeds(), "Nobody").clone();
    assert_eq!(second["consecutive_failures"], 2);
    let wait = |f: &Value| time_of(&f["next_check"]) - time_of(&f["last_check"]);
    assert!(
        wait(&second) > wait(&first),
        "backoff grows: {first} then {second}"
    );
    assert!(env.jobs().is_empty());
}

#[test]
fn one_video_via_two_feeds_and_a_later_submit_is_clipped_once() {
    let feeds = FeedServer::serving([
        (
            &format!("/feeds/videos.xml?channel_id={UC}"),
            Route::xml(fixture("youtube_channel.xml")),
        ),
        (
            "/feeds/videos.xml?playlist_id=PLtestplaylist0000001",
            Route::xml(fixture("youtube_playlist.xml")),
        ),
    ]);
    let env = env_with(
        &feeds,
        &format!(
            r#"[[feeds]]
name = "Chan"
youtube = "https://www.youtube.com/channel/{UC}"
preset = "metadata"
shorts = true
backfill = 1

[[feeds]]
name = "Best of"
youtube = "PLtestplaylist0000001"
preset = "metadata"
backfill = 3
"#
        ),
    );
    env.once();
    assert_eq!(env.api.submissions_for(&watch("chan0000002")), 1);
    assert_eq!(env.api.submissions_for(&watch("play0000001")), 1);
    assert_eq!(env.api.submissions_for(&watch("play0000002")), 1);
    assert_eq!(env.api.submissions().len(), 3);

    let out = env.run(&["submit", "https://youtu.be/chan0000002?si=shared"]);
    assert!(text(&out).contains("already known"), "{}", text(&out));
    env.once();
    assert_eq!(env.api.submissions_for(&watch("chan0000002")), 1);
    assert_eq!(env.api.submissions().len(), 3);
}

#[test]
fn podcast_atom_json_and_latin1_feeds_are_read() {
    let feeds = FeedServer::serving([
        (
            "/podcast.xml",
            Route::new("application/rss+xml", fixture("podcast.xml")),
        ),
        ("/atom.xml", Route::xml(fixture("atom.xml"))),
        (
            "/feed.json",
            Route::new("application/feed+json", fixture("feed.json")),
        ),
        (
            "/latin1.xml",
            Route::new(
                "application/rss+xml; charset=ISO-8859-1",
                fixture("latin1.xml"),
            ),
        ),
    ]);
    let env = env_with(
        &feeds,
        &format!(
            r#"[[feeds]]
name = "Pod"
url = "{pod}"
use = "enclosure"
preset = "metadata"
backfill = 10

[[feeds]]
name = "Talks"
url = "{atom}"
preset = "metadata"
backfill = 10

[[feeds]]
name = "Notes"
url = "{json}"
use = "enclosure"
preset = "metadata"
backfill = 10

[[feeds]]
name = "Café"
url = "{latin1}"
preset = "metadata"
backfill = 10
"#,
            pod = feeds.url("/podcast.xml"),
            atom = feeds.url("/atom.xml"),
            json = feeds.url("/feed.json"),
            latin1 = feeds.url("/latin1.xml"),
        ),
    );
    env.once();
    let submitted = [
        // Podcast: the video enclosure (tracking removed), and the video
        // media:content preferred over an audio enclosure.
        "https://cdn.pod.example.com/ep3.mp4",
        "https://cdn.pod.example.com/ep1.mp4",
        // Atom: links, normalized.
        "https://talks.example.org/2024/keynote",
        "https://talks.example.org/2024/lightning",
        // JSON Feed: video attachments.
        "https://media.example.net/2.mp4",
        "https://media.example.net/1.webm",
        // ISO-8859-1.
        "https://cafe.example.fr/videos/creme",
    ];
    for url in submitted {
        assert_eq!(env.api.submissions_for(url), 1, "{url}");
    }
    assert_eq!(env.api.submissions().len(), submitted.len());

    let jobs = env.jobs();
    let audio = job(&jobs, "url:https://cdn.pod.example.com/ep2.mp3");
    assert_eq!(audio["state"], "skipped");
    assert_eq!(audio["reason"], "no video enclosure (audio/mpeg)");
    let cafe = job(&jobs, "url:https://cafe.example.fr/videos/creme");
    assert_eq!(cafe["title"], "Café crème à la française");
    assert_eq!(cafe["feed"], "Café");
    assert_eq!(
        job(&jobs, "url:https://cdn.pod.example.com/ep3.mp4")["title"],
        "Ep. 3: Video episode"
    );
}

#[test]
fn broken_feeds_fail_alone_with_their_reason() {
    let feeds = FeedServer::serving([("/malformed.xml", Route::xml(fixture("malformed.xml")))]);
    let mut huge =
        b"<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>Big</title>".to_vec();
    huge.resize(11 * 1024 * 1024, b' ');
    feeds.route("/huge.xml", Route::xml(huge));
    feeds.route("/error.xml", Route::status(500));
    feeds.route("/old.xml", Route::redirect(&feeds.url("/atom.xml")));
    feeds.route("/atom.xml", Route::xml(fixture("atom.xml")));
    let env = env_with(
        &feeds,
        &format!(
            r#"[[feeds]]
name = "Malformed"
url = "{}"

[[feeds]]
name = "Huge"
url = "{}"

[[feeds]]
name = "Error"
url = "{}"

[[feeds]]
name = "Moved"
url = "{}"
preset = "metadata"
backfill = 10
"#,
            feeds.url("/malformed.xml"),
            feeds.url("/huge.xml"),
            feeds.url("/error.xml"),
            feeds.url("/old.xml"),
        ),
    );
    env.once();
    // The redirected feed works despite its broken neighbours.
    assert_eq!(
        env.api
            .submissions_for("https://talks.example.org/2024/keynote"),
        1
    );
    assert_eq!(env.api.submissions().len(), 2);

    let health = env.feeds();
    let expect = [
        ("Malformed", "is not a readable feed"),
        ("Huge", "larger than 10485760 bytes"),
        ("Error", "HTTP 500"),
    ];
    for (name, words) in expect {
        let f = feed(&health, name);
        assert_eq!(f["consecutive_failures"], 1, "{name}: {f}");
        let error = f["last_error"].as_str().unwrap();
        assert!(
            error.contains(words) && error.contains(name),
            "{name}: {error}"
        );
        assert!(time_of(&f["next_check"]) > time_of(&f["last_check"]));
    }
    let moved = feed(&health, "Moved");
    assert_eq!(moved["consecutive_failures"], 0);
    assert!(moved["last_error"].is_null());
}

#[test]
fn the_daemon_backs_off_on_errors_and_recovers() {
    let feeds =
        FeedServer::serving([("/flaky.xml", Route::xml(fixture("atom.xml")).fail_first(4))]);
    let env = env_with(
        &feeds,
        &feed_toml(
            "Flaky",
            &feeds.url("/flaky.xml"),
            "preset = \"metadata\"\ninterval = \"200ms\"\nbackfill = 10",
        ),
    );
    let daemon = Daemon::spawn(&env, &["run"]);
    let recovered = wait_until(Duration::from_secs(20), || {
        feeds.requests_to("/flaky.xml").len() >= 6
            && env
                .api
                .submissions_for("https://talks.example.org/2024/keynote")
                == 1
    });
    let log_text = daemon.stop();
    assert!(recovered, "{log_text}");

    let seen = feeds.requests_to("/flaky.xml");
    let statuses: Vec<u16> = seen.iter().map(|s| s.status).collect();
    assert_eq!(&statuses[..5], [500, 500, 500, 500, 200]);
    let gaps: Vec<Duration> = seen.windows(2).map(|w| w[1].at - w[0].at).collect();
    // Doubling with ±20 % jitter: compare gaps two apart, so a scheduling
    // hiccup on a busy machine cannot invert them.
    assert!(
        gaps[2] > gaps[0] && gaps[3] > gaps[1],
        "backoff grows: {gaps:?}"
    );
    assert!(
        gaps[4] < gaps[3],
        "back to the interval after success: {gaps:?}"
    );

    let flaky = feed(&env.feeds(), "Flaky").clone();
    assert_eq!(flaky["consecutive_failures"], 0);
    assert!(
        flaky["last_error"].as_str().unwrap().contains("HTTP 500"),
        "{flaky}"
    );
    assert!(time_of(&flaky["last_success"]) > time_of(&flaky["last_error_at"]));
}

#[test]
fn a_delayed_entry_is_queued_when_it_matures_although_the_feed_did_not_change() {
    let feeds = FeedServer::start();
    let published = chrono::Utc::now();
    let body = format!(
        r#"<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
 <title>Fresh</title><id>urn:fresh</id><updated>{now}</updated>
 <entry>
  <title>Just out</title><id>urn:fresh:1</id>
  <link href="https://fresh.example.com/just-out"/>
  <published>{now}</published><updated>{now}</updated>
 </entry>
</feed>"#,
        now = published.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
    );
    feeds.route(
        "/fresh.xml",
        Route::xml(body.into_bytes()).etag("\"fresh\""),
    );
    let env = env_with(
        &feeds,
        &feed_toml(
            "Fresh",
            &feeds.url("/fresh.xml"),
            "preset = \"metadata\"\ninterval = \"200ms\"\ndelay = \"2s\"\nbackfill = 1",
        ),
    );
    let daemon = Daemon::spawn(&env, &["run"]);
    let url = "https://fresh.example.com/just-out";
    let submitted = wait_until(Duration::from_secs(20), || {
        env.api.submissions_for(url) == 1
    });
    let submitted_at = chrono::Utc::now();
    let log_text = daemon.stop();
    assert!(submitted, "{log_text}");
    assert!(
        submitted_at - published >= chrono::TimeDelta::seconds(2),
        "held for its delay"
    );
    // Only the first request had a body; the entry matured while the feed
    // answered 304.
    let seen = feeds.requests_to("/fresh.xml");
    assert!(seen.len() >= 3, "{seen:?}");
    assert_eq!(seen[0].status, 200);
    assert!(seen[1..].iter().all(|s| s.status == 304), "{seen:?}");
    let jobs = env.jobs();
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0]["key"], format!("url:{url}"));
    assert!(jobs[0]["task_id"].is_string(), "submitted: {}", jobs[0]);
    assert_eq!(feed(&env.feeds(), "Fresh")["held"], 0);
}

#[test]
fn a_slow_feed_does_not_delay_another() {
    let feeds = FeedServer::serving([
        (
            "/slow.xml",
            Route::xml(fixture("atom.xml")).delay(Duration::from_secs(8)),
        ),
        (
            "/fast.xml",
            Route::xml(fixture("feed.json")).etag("\"fast\""),
        ),
    ]);
    let env = env_with(
        &feeds,
        &[
            feed_toml("Slow", &feeds.url("/slow.xml"), "interval = \"200ms\""),
            feed_toml("Fast", &feeds.url("/fast.xml"), "interval = \"200ms\""),
        ]
        .join("\n"),
    );
    let daemon = Daemon::spawn(&env, &["run"]);
    let fast_kept_going = wait_until(Duration::from_secs(5), || {
        feeds.requests_to("/fast.xml").len() >= 4
    });
    let slow_answered = feeds.requests_to("/slow.xml").len();
    let log_text = daemon.stop();
    assert!(fast_kept_going, "{log_text}");
    assert_eq!(
        slow_answered, 0,
        "the slow feed was still in its first request"
    );
}

#[test]
fn sighup_starts_an_added_feed_and_stops_a_removed_one() {
    let feeds = FeedServer::serving([
        ("/first.xml", Route::xml(fixture("atom.xml"))),
        (
            "/second.json",
            Route::new("application/feed+json", fixture("feed.json")),
        ),
    ]);
    let feed_toml = |name: &str, path: &str| {
        format!(
            "[[feeds]]\nname = \"{name}\"\nurl = \"{}\"\npreset = \"metadata\"\ninterval = \"150ms\"\n",
            feeds.url(path)
        )
    };
    let first = feed_toml("First", "/first.xml");
    let env = env_with(&feeds, &first);
    let config_path = env.config_path();
    let base = std::fs::read_to_string(&config_path).unwrap();
    let daemon = Daemon::spawn(&env, &["run"]);
    assert!(wait_until(Duration::from_secs(10), || feeds
        .requests_to("/first.xml")
        .len()
        >= 2));
    assert!(feeds.requests_to("/second.json").is_empty());

    // Add a feed: it is checked without a restart.
    std::fs::write(
        &config_path,
        format!("{base}\n{}", feed_toml("Second", "/second.json")),
    )
    .unwrap();
    daemon.hup();
    let added = wait_until(Duration::from_secs(10), || {
        !feeds.requests_to("/second.json").is_empty()
    });
    assert!(added, "{}", daemon.log());

    // Remove the first: its checks stop.
    std::fs::write(
        &config_path,
        base.replace(&first, "") + &feed_toml("Second", "/second.json"),
    )
    .unwrap();
    daemon.hup();
    assert!(wait_until(Duration::from_secs(10), || daemon
        .log()
        .matches("configuration reloaded")
        .count()
        >= 2));
    std::thread::sleep(Duration::from_millis(1500));
    let settled = feeds.requests_to("/first.xml").len();
    std::thread::sleep(Duration::from_millis(1000));
    assert_eq!(
        feeds.requests_to("/first.xml").len(),
        settled,
        "a removed feed is no longer checked"
    );
    assert!(
        feeds.requests_to("/second.json").len() >= 3,
        "the added feed keeps its interval"
    );
    daemon.stop();
}

#[test]
fn sighup_with_a_shorter_interval_takes_effect_at_once() {
    let feeds = FeedServer::serving([("/slow.xml", Route::xml(fixture("atom.xml")))]);
    let feed_toml = |interval: &str| {
        format!(
            "[[feeds]]\nname = \"Slow\"\nurl = \"{}\"\npreset = \"metadata\"\ninterval = \"{interval}\"\n",
            feeds.url("/slow.xml")
        )
    };
    let env = env_with(&feeds, &feed_toml("1h"));
    let config_path = env.config_path();
    let config = std::fs::read_to_string(&config_path).unwrap();
    let daemon = Daemon::spawn(&env, &["run"]);
    assert!(wait_until(Duration::from_secs(10), || feeds
        .requests_to("/slow.xml")
        .len()
        == 1));
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(feeds.requests_to("/slow.xml").len(), 1, "next check in 1h");

    // The user wants it every 200 ms now: not in an hour.
    std::fs::write(
        &config_path,
        config.replace(&feed_toml("1h"), &feed_toml("200ms")),
    )
    .unwrap();
    daemon.hup();
    let sooner = wait_until(Duration::from_secs(10), || {
        feeds.requests_to("/slow.xml").len() >= 3
    });
    assert!(sooner, "{}", daemon.log());
    daemon.stop();
}
