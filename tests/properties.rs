//! Property tests: whatever the input, names stay single safe components
//! inside the output folder, canonical keys are stable, lenient API
//! decoding never panics and keeps what it can, and the drop folder's URL
//! files never panic and give back only the URLs they hold, and feed
//! bodies of any shape and encoding are read without panicking.

use std::path::Component;

use clipwatch::api::types::{Clip, TaskResults};
use clipwatch::model::identity::canonical_key;
use clipwatch::output::naming::{
    sanitize_component, Template, TemplateKind, Vars, MAX_COMPONENT_BYTES,
};
use clipwatch::sources::folder::parse::{decode_text, parse, Format, ParseError};
use proptest::prelude::*;
use serde_json::{json, Value};

/// Strings rich in the characters that break file names.
fn hostile_text() -> impl Strategy<Value = String> {
    let pieces = prop::sample::select(vec![
        "..",
        ".",
        "/",
        "\\",
        "\0",
        "\n",
        "\r",
        "\t",
        "\u{7f}",
        "\u{202e}",
        "\u{200b}",
        "\u{feff}",
        "CON",
        "nul",
        "com1",
        "lpt9",
        " ",
        "<",
        ">",
        ":",
        "\"",
        "|",
        "?",
        "*",
        "~",
        "é",
        "中文",
        "🎬",
        "👨‍👩‍👧",
        "עברית",
        "a",
        "Title",
    ]);
    prop_oneof![
        prop::collection::vec(pieces, 0..40).prop_map(|p| p.concat()),
        any::<String>(),
        "[a-zé.🎬 /]{0,400}",
    ]
}

fn assert_safe_component(name: &str) {
    assert!(!name.is_empty());
    assert!(name.len() <= MAX_COMPONENT_BYTES, "{} bytes", name.len());
    assert!(name != "." && name != "..");
    assert!(!name.starts_with('.'), "{name:?}");
    assert!(!name.ends_with('.') && !name.ends_with(' '), "{name:?}");
    assert!(
        !name
            .chars()
            .any(|c| c.is_control() || "<>:\"/\\|?*".contains(c)),
        "{name:?}"
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn sanitized_names_are_single_safe_components(raw in hostile_text()) {
        let name = sanitize_component(&raw);
        assert_safe_component(&name);
        prop_assert_eq!(sanitize_component(&name), name.clone(), "idempotent");
        let path = std::path::Path::new(&name);
        prop_assert_eq!(path.components().count(), 1);
        prop_assert!(matches!(path.components().next(), Some(Component::Normal(_))));
    }

    #[test]
    fn rendered_folders_stay_inside_the_output_folder(
        feed in hostile_text(), title in hostile_text(), id in hostile_text(),
    ) {
        let template = Template::parse("{feed}/{date} {title} [{id}]", TemplateKind::Folder).unwrap();
        let vars = Vars { feed, title, id, date: "2026-11-27".into(), ..Vars::default() };
        let path = template.render(&vars);
        prop_assert!(path.is_relative());
        prop_assert!(path.components().count() <= 2);
        for component in path.components() {
            match component {
                Component::Normal(part) => assert_safe_component(&part.to_string_lossy()),
                other => prop_assert!(false, "unexpected component {:?}", other),
            }
        }
        let clip = Template::parse("{rank:02} {title}", TemplateKind::Clip).unwrap();
        let name = clip.render(&Vars { title: vars.title.clone(), rank: Some(1), ..Vars::default() });
        prop_assert_eq!(name.components().count(), 1);
    }

    #[test]
    fn every_youtube_form_gives_one_key(
        id in "[A-Za-z0-9_-]{11}",
        form in 0usize..9,
        junk in "[a-z]{1,8}",
        https in any::<bool>(),
    ) {
        let scheme = if https { "https" } else { "http" };
        let url = match form {
            0 => format!("{scheme}://www.youtube.com/watch?v={id}"),
            1 => format!("{scheme}://youtube.com/watch?x{junk}=1&v={id}&t=42s#{junk}"),
            2 => format!("{scheme}://youtu.be/{id}?si={junk}"),
            3 => format!("{scheme}://www.youtube.com/shorts/{id}"),
            4 => format!("{scheme}://m.youtube.com/watch?v={id}&feature={junk}"),
            5 => format!("{scheme}://music.youtube.com/watch?v={id}&list=RD{junk}"),
            6 => format!("{scheme}://www.youtube.com/embed/{id}?start=3"),
            7 => format!("{scheme}://www.youtube.com/live/{id}?x{junk}=x"),
            _ => format!("yt:video:{id}"),
        };
        let key = canonical_key(&url).unwrap();
        prop_assert_eq!(&key.key, &format!("youtube:{id}"));
        prop_assert_eq!(canonical_key(&key.submit_url).unwrap().key, key.key);
    }

    #[test]
    fn canonical_keys_are_idempotent(input in prop_oneof![
        any::<String>(),
        "https?://[A-Za-z0-9.-]{1,20}(:[0-9]{1,5})?(/[A-Za-z0-9._~%-]{0,10}){0,3}(\\?([a-z_]{1,6}=[a-z0-9]{0,4}&?){0,4})?(#[a-z]{0,5})?",
    ]) {
        if let Ok(key) = canonical_key(&input) {
            let again = canonical_key(&key.submit_url).expect("a submit URL is valid input");
            prop_assert_eq!(again.key, key.key);
            prop_assert!(!key.submit_url.contains('#'), "fragments are removed");
            prop_assert!(!key.submit_url.contains("utm_"), "tracking parameters are removed");
        }
    }

    #[test]
    fn lenient_decoding_never_panics_and_keeps_numeric_clips(
        status in any_json(),
        idx in any_json(),
        score in any_json(),
        begin in any_json(),
        tags in any_json(),
        cost in any_json(),
        as_string in any::<bool>(),
        n in 0u64..1000,
    ) {
        let number = if as_string { json!(n.to_string()) } else { json!(n) };
        let body = json!({
            "status": status,
            "api_units_usage": cost,
            "clips": [
                {"idx": number.clone(), "score": number.clone(), "begin_ms": number, "title": "kept"},
                {"idx": idx, "score": score, "begin_ms": begin, "tags": tags},
            ],
        });
        if let Ok(results) = serde_json::from_value::<TaskResults>(body) {
            let kept: Vec<&Clip> = results.clips.iter().filter(|c| c.title.as_deref() == Some("kept")).collect();
            prop_assert_eq!(kept.len(), 1);
            prop_assert_eq!(kept[0].idx, n);
            prop_assert_eq!(kept[0].begin_ms, Some(n));
            prop_assert_eq!(kept[0].score, Some(n as f64));
            // Whatever the other clip's idx, the two never share a rank.
            prop_assert_eq!(results.clips.len(), 2);
            prop_assert!(results.clips[0].idx != results.clips[1].idx);
        }
    }
}

fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        ".{0,12}".prop_map(Value::String),
        "[0-9]{1,25}".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-z_]{1,8}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

// ---- URL-file parsing (the drop folder's .txt/.urls/.url/.webloc/.json) ----

const FORMATS: [Format; 4] = [Format::Text, Format::Shortcut, Format::Webloc, Format::Json];

/// Lines rich in what URL lists hold: URLs of every kind, comments, blanks,
/// junk, stray BOMs and spaces.
fn list_line() -> impl Strategy<Value = String> {
    let url = prop_oneof![
        "[A-Za-z0-9_-]{11}".prop_map(|id| format!("https://youtu.be/{id}")),
        "[A-Za-z0-9_-]{11}".prop_map(|id| format!("https://www.youtube.com/watch?v={id}&t=1")),
        "https?://[a-z0-9.-]{1,12}\\.[a-z]{2,3}(/[A-Za-z0-9._~%-]{0,8}){0,3}(\\?utm_source=[a-z]{1,4})?",
    ];
    let other = prop::sample::select(vec![
        "",
        "   ",
        "# a comment https://youtu.be/commentedxx",
        "ftp://example.com/x",
        "mailto:x@y",
        "not a url",
        "\u{feff}",
        "[InternetShortcut]",
        "URL=",
        "<key>URL</key>",
        "{\"url\": 1}",
        "\t",
    ])
    .prop_map(String::from);
    (
        prop_oneof![3 => url, 2 => other, 1 => any::<String>()],
        "[ \t]{0,2}",
        "[ \t]{0,2}",
    )
        .prop_map(|(line, before, after)| format!("{before}{line}{after}"))
}

/// Lines joined with one kind of line end, maybe with a BOM, maybe UTF-16.
fn url_list() -> impl Strategy<Value = (Vec<u8>, Vec<String>)> {
    (
        prop::collection::vec(list_line(), 0..12),
        prop::sample::select(vec!["\n", "\r\n", "\r"]),
        0usize..3,
    )
        .prop_map(|(lines, end, encoding)| {
            let text = lines.join(end);
            let bytes = match encoding {
                0 => text.clone().into_bytes(),
                1 => format!("\u{feff}{text}").into_bytes(),
                _ => {
                    let mut bytes = vec![0xFF, 0xFE];
                    for unit in text.encode_utf16() {
                        bytes.extend(unit.to_le_bytes());
                    }
                    bytes
                }
            };
            (bytes, lines)
        })
}

/// Split as clipwatch documents it: LF, CRLF, or lone CR line ends.
fn text_lines(text: &str) -> Vec<&str> {
    if text.contains('\n') {
        text.lines().collect()
    } else {
        text.split('\r').collect()
    }
}

fn is_blank_or_comment(line: &str) -> bool {
    let line = line.trim_matches(|c: char| c.is_whitespace() || c == '\u{feff}');
    line.is_empty() || line.starts_with('#')
}

fn xml_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// Whatever the bytes, every format answers without panicking, and
    /// every URL a text list yields is the canonical key of the line it
    /// names, found in the input.
    #[test]
    fn url_files_never_panic_and_only_return_urls_from_the_input(
        bytes in prop_oneof![
            prop::collection::vec(any::<u8>(), 0..600),
            url_list().prop_map(|(bytes, _)| bytes),
            any::<String>().prop_map(String::into_bytes),
        ],
    ) {
        for format in FORMATS {
            let _ = parse(format, &bytes);
        }
        if let Ok(parsed) = parse(Format::Text, &bytes) {
            let text = decode_text(&bytes).expect("parsed text decodes");
            let lines = text_lines(&text);
            prop_assert!(parsed.entries.len() + parsed.problems.len() <= lines.len());
            for entry in &parsed.entries {
                let n: usize = entry.place.strip_prefix("line ").unwrap().parse().unwrap();
                let line = lines[n - 1].trim_matches(|c: char| c.is_whitespace() || c == '\u{feff}');
                prop_assert_eq!(&canonical_key(line).unwrap().key, &entry.key.key);
                prop_assert!(entry.preset.is_none() && entry.name.is_none());
            }
        }
    }

    /// A text list: each line that is neither blank nor a comment is exactly
    /// one entry (if it is a usable URL) or one problem naming its line, in
    /// order, whatever the line ends, BOM or encoding.
    #[test]
    fn every_listed_line_is_an_entry_or_a_problem((bytes, lines) in url_list()) {
        let used: Vec<(usize, &String)> = lines
            .iter()
            .enumerate()
            .filter(|(_, l)| !is_blank_or_comment(l))
            .collect();
        // A line that itself holds a line break is split by the reader too:
        // only lists of single lines are compared line by line.
        prop_assume!(lines.iter().all(|l| !l.contains(['\n', '\r'])));
        match parse(Format::Text, &bytes) {
            Ok(parsed) => {
                let mut entries = parsed.entries.iter();
                let mut problems = parsed.problems.iter();
                for (n, line) in used {
                    let trimmed = line.trim_matches(|c: char| c.is_whitespace() || c == '\u{feff}');
                    let place = format!("line {}", n + 1);
                    match canonical_key(trimmed) {
                        Ok(key) => {
                            let entry = entries.next().expect("an entry per usable line");
                            prop_assert_eq!(&entry.key.key, &key.key);
                            prop_assert_eq!(&entry.place, &place);
                        }
                        Err(_) => {
                            let problem = problems.next().expect("a problem per unusable line");
                            prop_assert!(problem.starts_with(&format!("{place}: ")), "{problem}");
                        }
                    }
                }
                prop_assert!(entries.next().is_none() && problems.next().is_none());
            }
            Err(ParseError::Empty) => prop_assert!(bytes.is_empty()),
            Err(ParseError::NoUrls) => prop_assert!(used.is_empty()),
            Err(ParseError::Binary(_)) => {
                prop_assert!(lines.iter().any(|l| l.contains('\0')), "{:?}", lines)
            }
            Err(other) => prop_assert!(false, "unexpected {:?}", other),
        }
    }

    /// `.url`, `.webloc` (XML, escaped) and `.json` give back the URL they
    /// hold, as its canonical key, with the JSON name and preset trimmed.
    #[test]
    fn shortcuts_weblocs_and_json_give_back_their_url(
        url in list_line(),
        name in any::<String>(),
        preset in "[ a-z]{0,8}",
    ) {
        let url = url.trim().to_string();
        let expected = canonical_key(&url).ok().map(|k| k.key);
        let keys = |parsed: Result<_, ParseError>| -> Vec<String> {
            parsed.map(|p: clipwatch::sources::folder::parse::Parsed| {
                p.entries.into_iter().map(|e| e.key.key).collect()
            }).unwrap_or_default()
        };
        if !url.contains(['\n', '\r']) {
            let shortcut = format!("[InternetShortcut]\r\nURL={url}\r\n");
            prop_assert_eq!(keys(parse(Format::Shortcut, shortcut.as_bytes())), expected.clone().into_iter().collect::<Vec<_>>());
        }
        let webloc = format!(
            "<?xml version=\"1.0\"?><plist version=\"1.0\"><dict><key>URL</key><string>{}</string></dict></plist>",
            xml_escape(&url)
        );
        if !url.contains('\0') {
            prop_assert_eq!(keys(parse(Format::Webloc, webloc.as_bytes())), expected.clone().into_iter().collect::<Vec<_>>());
        }
        let item = json!({"url": url, "name": name, "preset": preset});
        let text = json!([item, {"url": url}]).to_string();
        match parse(Format::Json, text.as_bytes()) {
            Ok(parsed) => {
                prop_assert_eq!(parsed.entries.len() + parsed.problems.len(), 2);
                for entry in &parsed.entries {
                    prop_assert_eq!(Some(&entry.key.key), expected.as_ref());
                }
                if let Some(first) = parsed.entries.iter().find(|e| e.place == "item 1") {
                    let trimmed_name = name.trim();
                    prop_assert_eq!(first.name.as_deref(), (!trimmed_name.is_empty()).then_some(trimmed_name));
                    let trimmed_preset = preset.trim();
                    prop_assert_eq!(first.preset.as_deref(), (!trimmed_preset.is_empty()).then_some(trimmed_preset));
                }
            }
            Err(ParseError::Binary(_)) => prop_assert!(text.contains('\0')),
            Err(other) => prop_assert!(false, "unexpected {:?}", other),
        }
    }
}

/// Feed bodies from pieces of real feeds: tags, entities, encodings, JSON.
fn feed_body() -> impl Strategy<Value = Vec<u8>> {
    let pieces = prop::sample::select(vec![
        "<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>",
        "<?xml version='1.0' encoding='UTF-16'?>",
        "<rss version=\"2.0\"><channel>",
        "<rdf:RDF xmlns:rdf=\"http://www.w3.org/1999/02/22-rdf-syntax-ns#\" xmlns=\"http://purl.org/rss/1.0/\" xmlns:enc=\"http://purl.oclc.org/net/rss_2.0/enc#\">",
        "<feed xmlns=\"http://www.w3.org/2005/Atom\">",
        "<item>",
        "</item>",
        "<entry>",
        "</entry>",
        "<link>https://e.com/a#b</link>",
        "<link href=\"\"/>",
        "<link rel=\"related\" href=\"https://youtu.be/dQw4w9WgXcQ\"/>",
        "<enclosure url=\"https://e.com/v.mp4\" type=\"video/mp4\"/>",
        "<enc:enclosure rdf:resource=\"v.mp4\" enc:type=\"video/mp4\"/>",
        "<media:content medium=\"video\"><media:player url=\"https://p.e.com/1\"/></media:content>",
        "<title>Caf\u{e9} &amp; &#233;</title>",
        "&bogus;",
        "</channel></rss>",
        "</feed>",
        "{\"version\":\"http://jsonfeed.org/version/1\",\"items\":[",
        "{\"id\":1,\"url\":\"https://e.com/1\",\"tags\":\"a,b\",\"external_url\":\"https://vimeo.com/1\"}",
        "null,",
        "\"x\",",
        "]}",
    ]);
    prop_oneof![
        prop::collection::vec(pieces.clone(), 0..30).prop_map(|p| p.concat().into_bytes()),
        prop::collection::vec(any::<u8>(), 0..600),
        prop::collection::vec(pieces, 0..30).prop_map(|p| {
            // The same text in UTF-16 LE with a BOM.
            let text = p.concat();
            let mut out = vec![0xFF, 0xFE];
            for unit in text.encode_utf16() {
                out.extend_from_slice(&unit.to_le_bytes());
            }
            out
        }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    /// Whatever a server sends, reading a feed never panics, and every
    /// video it finds has a canonical key that is not the feed itself.
    #[test]
    fn reading_any_feed_body_never_panics(
        body in feed_body(),
        content_type in prop::sample::select(vec![
            None,
            Some("text/xml"),
            Some("text/xml; charset=ISO-8859-1"),
            Some("application/rss+xml; charset=utf-8"),
            Some("application/feed+json; charset=\"bogus\""),
        ]),
        enclosure in any::<bool>(),
    ) {
        use clipwatch::config::EntryUse;
        use clipwatch::sources::feed::entries::{parse, Kind};
        let feed_url = "https://feed.example/feed.xml";
        let kind = Kind::Other(if enclosure { EntryUse::Enclosure } else { EntryUse::Link });
        let now = "2024-06-01T00:00:00Z".parse().unwrap();
        if let Ok(parsed) = parse(&body, content_type, feed_url, kind, now, &|_| None) {
            for c in &parsed.candidates {
                prop_assert!(canonical_key(&c.key.submit_url).is_ok() || c.key.key.contains('#'));
                prop_assert_ne!(c.key.key.as_str(), "url:https://feed.example/feed.xml");
                prop_assert_ne!(c.key.key.as_str(), "url:https://feed.example/");
            }
        }
    }
}
