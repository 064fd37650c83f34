//! End to end: the editor exports (`chapters.txt`, `clips.csv`, `clips.edl`,
//! `markers.xml`) a finished job leaves beside `project.json`, read back
//! with readers that share no code with the writers: the `csv` crate, a
//! small CMX 3600 reader below, and quick-xml checked against the FCPXML
//! 1.10 DTD's rules for the elements used.

mod support;

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;
use support::harness::{assert_no_secrets, base_config, file_names, read_json, text, Env};
use support::FakeConfig;

const VIDEO: &str = "https://youtu.be/dQw4w9WgXcQ";
const EXPORTS: [&str; 4] = ["chapters.txt", "clips.csv", "clips.edl", "markers.xml"];

fn quick() -> FakeConfig {
    FakeConfig {
        phase: Duration::from_millis(60),
        clips: 4,
        clip_titles: vec![
            "Why it works".into(),
            "The \"twist\", explained".into(),
            "Q&A: <what> next?".into(),
        ],
        ..FakeConfig::default()
    }
}

/// (begin_ms, end_ms) of the fake API's clip `idx` (see
/// `FakeApi::clip_json`).
fn fake_clip(idx: u64) -> (u64, u64) {
    let begin = 15_000 + 90_000 * idx;
    (begin, begin + 30_000 + 5_000 * idx)
}

#[test]
fn metadata_only_jobs_get_all_four_exports_that_readers_accept() {
    let env = Env::new(quick());
    let out = env.run(&["submit", VIDEO, "--wait", "--preset", "metadata"]);
    assert!(out.status.success(), "{}", text(&out));
    let folder = env.only_folder("inbox");
    let names = file_names(&folder);
    for export in EXPORTS {
        assert!(names.contains(&export.to_string()), "{export} in {names:?}");
    }
    let project = read_json(&folder.join("project.json"));
    let titles: Vec<String> = project["clips"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["title"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(titles.len(), 4);

    check_csv(&std::fs::read(folder.join("clips.csv")).unwrap(), &titles);
    check_edl(
        &std::fs::read_to_string(folder.join("clips.edl")).unwrap(),
        &titles,
    );
    check_fcpxml(
        &std::fs::read_to_string(folder.join("markers.xml")).unwrap(),
        &titles,
    );
    check_chapters(
        &std::fs::read_to_string(folder.join("chapters.txt")).unwrap(),
        &titles,
    );
}

#[test]
fn exports_list_only_the_clips_kept_and_name_their_files() {
    let env = Env::with_config(quick(), |url| {
        base_config(url).replace(
            "dir = \"clips\"",
            "dir = \"clips\"\nmax_clips = 2\nexports = [\"csv\", \"edl\"]",
        )
    });
    let out = env.run(&["submit", VIDEO, "--wait"]);
    assert!(out.status.success(), "{}", text(&out));
    let folder = env.only_folder("inbox");
    let names = file_names(&folder);
    assert!(names.contains(&"clips.csv".to_string()));
    assert!(names.contains(&"clips.edl".to_string()));
    assert!(!names.contains(&"chapters.txt".to_string()), "{names:?}");
    assert!(!names.contains(&"markers.xml".to_string()), "{names:?}");

    let mut reader = csv::Reader::from_path(folder.join("clips.csv")).unwrap();
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 2, "max_clips = 2 keeps two clips");
    for row in &rows {
        let file = &row[6];
        assert!(file.ends_with(".mp4"), "{file}");
        assert!(folder.join(file).is_file(), "{file} is in the folder");
    }
    let edl = std::fs::read_to_string(folder.join("clips.edl")).unwrap();
    assert_eq!(parse_edl(&edl).events.len(), 2);
    // The exports name files and times, never the signed links they came by.
    assert_no_secrets(&env, &text(&out));
}

#[test]
fn an_empty_exports_list_writes_none() {
    let env = Env::with_config(quick(), |url| {
        base_config(url).replace("dir = \"clips\"", "dir = \"clips\"\nexports = []")
    });
    let out = env.run(&["submit", VIDEO, "--wait", "--preset", "metadata"]);
    assert!(out.status.success(), "{}", text(&out));
    let names = file_names(&env.only_folder("inbox"));
    assert!(
        names.iter().all(|n| !EXPORTS.contains(&n.as_str())),
        "{names:?}"
    );
    assert!(names.contains(&"project.json".to_string()));
}

#[test]
fn an_unknown_export_is_a_config_error_naming_file_and_line() {
    let env = Env::with_config(quick(), |url| {
        base_config(url).replace(
            "dir = \"clips\"",
            "dir = \"clips\"\nexports = [\"csv\", \"avid\"]",
        )
    });
    let out = env.run(&["check", "--offline"]);
    assert_eq!(out.status.code(), Some(78), "{}", text(&out));
    let line = base_config("x")
        .lines()
        .position(|l| l == "dir = \"clips\"")
        .unwrap()
        + 2;
    let shown = text(&out);
    assert!(
        shown.contains(&format!(
            "config.toml:{line}: output.exports: unknown export \"avid\""
        )),
        "{shown}"
    );
}

// ---------------------------------------------------------------------------
// CSV

fn check_csv(bytes: &[u8], titles: &[String]) {
    assert!(
        bytes.windows(2).filter(|w| w == b"\r\n").count() >= 5,
        "CRLF rows"
    );
    let mut reader = csv::Reader::from_reader(bytes);
    let header: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
    assert_eq!(
        header,
        ["rank", "title", "start", "end", "duration", "score", "file"]
    );
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), titles.len());
    for (i, row) in rows.iter().enumerate() {
        let (begin, end) = fake_clip(i as u64);
        assert_eq!(&row[0], (i + 1).to_string());
        assert_eq!(&row[1], titles[i], "titles with quotes and commas survive");
        assert_eq!(&row[2], clock(begin));
        assert_eq!(&row[3], clock(end));
        assert_eq!(&row[4], clock(end - begin));
        assert!(row[5].parse::<f64>().is_ok(), "score {}", &row[5]);
        assert_eq!(&row[6], "", "metadata only: no video file");
    }
}

fn clock(ms: u64) -> String {
    format!(
        "{:02}:{:02}:{:02}.{:03}",
        ms / 3_600_000,
        ms / 60_000 % 60,
        ms / 1000 % 60,
        ms % 1000
    )
}

// ---------------------------------------------------------------------------
// EDL: a small CMX 3600 reader

struct Edl {
    title: String,
    fcm: String,
    events: Vec<EdlEvent>,
}

struct EdlEvent {
    number: u32,
    reel: String,
    channels: String,
    transition: String,
    src_in: u64,
    src_out: u64,
    rec_in: u64,
    rec_out: u64,
    comments: Vec<String>,
}

/// Parse a CMX 3600 list of cuts at 30 fps; panics on anything malformed.
fn parse_edl(text: &str) -> Edl {
    let mut edl = Edl {
        title: String::new(),
        fcm: String::new(),
        events: Vec::new(),
    };
    for line in text.lines() {
        let line = line.trim_end_matches('\r');
        if let Some(title) = line.strip_prefix("TITLE:") {
            edl.title = title.trim().to_string();
        } else if let Some(fcm) = line.strip_prefix("FCM:") {
            edl.fcm = fcm.trim().to_string();
        } else if let Some(comment) = line.strip_prefix('*') {
            let event = edl.events.last_mut().expect("a comment follows an event");
            event.comments.push(comment.trim().to_string());
        } else if line.trim().is_empty() {
            continue;
        } else {
            let fields: Vec<&str> = line.split_whitespace().collect();
            assert_eq!(fields.len(), 8, "a cut has 8 fields: {line:?}");
            assert!(fields[0].len() == 3 && fields[0].bytes().all(|b| b.is_ascii_digit()));
            assert!(fields[1].len() <= 8, "reel names are at most 8 characters");
            edl.events.push(EdlEvent {
                number: fields[0].parse().unwrap(),
                reel: fields[1].to_string(),
                channels: fields[2].to_string(),
                transition: fields[3].to_string(),
                src_in: tc_frames(fields[4]),
                src_out: tc_frames(fields[5]),
                rec_in: tc_frames(fields[6]),
                rec_out: tc_frames(fields[7]),
                comments: Vec::new(),
            });
        }
    }
    edl
}

fn tc_frames(tc: &str) -> u64 {
    let parts: Vec<u64> = tc.split(':').map(|p| p.parse().unwrap()).collect();
    assert_eq!(parts.len(), 4, "HH:MM:SS:FF: {tc}");
    assert!(parts[1] < 60 && parts[2] < 60 && parts[3] < 30, "{tc}");
    ((parts[0] * 60 + parts[1]) * 60 + parts[2]) * 30 + parts[3]
}

fn check_edl(text: &str, titles: &[String]) {
    let edl = parse_edl(text);
    assert!(!edl.title.is_empty());
    assert_eq!(edl.fcm, "NON-DROP FRAME");
    assert_eq!(edl.events.len(), titles.len());
    let mut record = 3600 * 30;
    for (i, event) in edl.events.iter().enumerate() {
        // The fake's clips are in time order by rank, so event i is clip i.
        let (begin, end) = fake_clip(i as u64);
        assert_eq!(event.number, i as u32 + 1);
        assert_eq!(event.reel, "AX");
        assert_eq!(event.channels, "AA/V");
        assert_eq!(event.transition, "C");
        assert_eq!(event.src_in, begin * 30 / 1000);
        assert_eq!(event.src_out, end * 30 / 1000);
        assert_eq!(event.rec_in, record, "record timecode is consecutive");
        assert_eq!(event.rec_out - event.rec_in, event.src_out - event.src_in);
        record = event.rec_out;
        assert!(event.comments[0].starts_with("FROM CLIP NAME: "));
        assert!(event.comments[0].ends_with(".mp4"));
        assert!(
            event.comments[1].contains(&titles[i]),
            "{:?}",
            event.comments
        );
    }
}

// ---------------------------------------------------------------------------
// FCPXML: well-formed, and the FCPXML 1.10 DTD's rules for what is used

/// Element → (children it may hold, attributes it must have), from the
/// FCPXML 1.10 DTD.
fn dtd_rules() -> HashMap<&'static str, (Vec<&'static str>, Vec<&'static str>)> {
    HashMap::from([
        (
            "fcpxml",
            (
                vec!["import-options", "resources", "library", "event"],
                vec!["version"],
            ),
        ),
        (
            "resources",
            (
                vec!["asset", "effect", "format", "media", "locator"],
                vec![],
            ),
        ),
        ("format", (vec![], vec!["id"])),
        ("asset", (vec!["media-rep", "metadata"], vec!["id"])),
        ("media-rep", (vec!["bookmark"], vec!["src"])),
        ("library", (vec!["event", "smart-collection"], vec![])),
        ("event", (vec!["asset-clip", "clip", "project"], vec![])),
        (
            "asset-clip",
            (
                vec![
                    "note",
                    "marker",
                    "chapter-marker",
                    "rating",
                    "keyword",
                    "metadata",
                ],
                vec!["ref"],
            ),
        ),
        ("marker", (vec![], vec!["start", "value"])),
    ])
}

fn check_fcpxml(xml: &str, titles: &[String]) {
    let rules = dtd_rules();
    let mut reader = Reader::from_str(xml);
    let mut stack: Vec<String> = Vec::new();
    let mut ids: HashSet<String> = HashSet::new();
    let mut refs: Vec<String> = Vec::new();
    let mut markers: Vec<HashMap<String, String>> = Vec::new();
    let mut root_version = None;
    loop {
        let (element, empty) = match reader.read_event().expect("well-formed XML") {
            Event::Start(e) => (e.into_owned(), false),
            Event::Empty(e) => (e.into_owned(), true),
            Event::End(_) => {
                stack.pop();
                continue;
            }
            Event::Eof => break,
            _ => continue,
        };
        let name = String::from_utf8(element.name().as_ref().to_vec()).unwrap();
        let attrs = attributes(&element);
        let (_, required) = rules
            .get(name.as_str())
            .unwrap_or_else(|| panic!("<{name}> is not expected"));
        for key in required {
            assert!(attrs.contains_key(*key), "<{name}> needs {key}");
        }
        match stack.last() {
            None => assert_eq!(name, "fcpxml", "the root"),
            Some(parent) => assert!(
                rules[parent.as_str()].0.contains(&name.as_str()),
                "<{name}> may not be inside <{parent}>"
            ),
        }
        if let Some(id) = attrs.get("id") {
            assert!(ids.insert(id.clone()), "id {id} is unique");
        }
        for key in ["ref", "format"] {
            refs.extend(attrs.get(key).cloned());
        }
        for key in ["start", "duration", "frameDuration"] {
            if let Some(time) = attrs.get(key) {
                assert!(is_time(time), "{key}={time:?} is an FCPXML time");
            }
        }
        if name == "fcpxml" {
            root_version = attrs.get("version").cloned();
        }
        if name == "marker" {
            markers.push(attrs);
        }
        if !empty {
            stack.push(name);
        }
    }
    assert!(stack.is_empty());
    assert_eq!(root_version.as_deref(), Some("1.10"));
    for r in refs {
        assert!(ids.contains(&r), "IDREF {r} points at an id");
    }
    assert_eq!(markers.len(), titles.len());
    for (i, marker) in markers.iter().enumerate() {
        let (begin, end) = fake_clip(i as u64);
        assert_eq!(
            marker["start"],
            format!("{}/3000s", begin * 30 / 1000 * 100)
        );
        assert_eq!(
            marker["duration"],
            format!("{}/3000s", (end - begin) * 30 / 1000 * 100)
        );
        assert_eq!(marker["value"], format!("#{} {}", i + 1, titles[i]));
    }
}

fn attributes(e: &BytesStart) -> HashMap<String, String> {
    e.attributes()
        .map(|a| {
            let a = a.unwrap();
            (
                String::from_utf8(a.key.as_ref().to_vec()).unwrap(),
                a.normalized_value(quick_xml::XmlVersion::Implicit1_0)
                    .unwrap()
                    .into_owned(),
            )
        })
        .collect()
}

/// "0s", "5s" or "N/Ds": FCPXML rational seconds.
fn is_time(text: &str) -> bool {
    let Some(number) = text.strip_suffix('s') else {
        return false;
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    match number.split_once('/') {
        Some((n, d)) => digits(n) && digits(d) && d != "0",
        None => digits(number),
    }
}

// ---------------------------------------------------------------------------
// Chapters: YouTube's rules

fn check_chapters(text: &str, titles: &[String]) {
    let chapters: Vec<(u64, &str)> = text
        .lines()
        .map(|line| {
            let (time, title) = line.split_once(' ').expect("TIME Title");
            let secs = time
                .split(':')
                .fold(0, |acc, part| acc * 60 + part.parse::<u64>().unwrap());
            (secs, title)
        })
        .collect();
    assert!(chapters.len() >= 3, "YouTube needs three chapters: {text}");
    assert_eq!(chapters[0].0, 0, "the first chapter starts at 00:00");
    assert!(text.starts_with("00:00 "));
    for pair in chapters.windows(2) {
        assert!(
            pair[1].0 >= pair[0].0 + 10,
            "each chapter lasts 10 s: {text}"
        );
    }
    // The fake's first clip starts at 0:15, so an opening chapter comes first.
    let listed: Vec<&str> = chapters[1..].iter().map(|(_, t)| *t).collect();
    let expected: Vec<&str> = titles.iter().map(String::as_str).collect();
    assert_eq!(listed, expected);
    assert_eq!(chapters[1].0, fake_clip(0).0 / 1000);
}
