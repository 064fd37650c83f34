//! Property tests: whatever the input, names stay single safe components
//! inside the output folder, canonical keys are stable, and lenient API
//! decoding never panics and keeps what it can.

use std::path::Component;

use clipwatch::api::types::{Clip, TaskResults};
use clipwatch::output::naming::{
    sanitize_component, Template, TemplateKind, Vars, MAX_COMPONENT_BYTES,
};
use clipwatch::sources::identity::canonical_key;
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
                {"idx": idx, "score": score, "begin_ms": begin, "tags": tags},
                {"idx": number.clone(), "score": number.clone(), "begin_ms": number, "title": "kept"},
            ],
        });
        if let Ok(results) = serde_json::from_value::<TaskResults>(body) {
            let kept: Vec<&Clip> = results.clips.iter().filter(|c| c.title.as_deref() == Some("kept")).collect();
            prop_assert_eq!(kept.len(), 1);
            prop_assert_eq!(kept[0].idx, n);
            prop_assert_eq!(kept[0].begin_ms, Some(n));
            prop_assert_eq!(kept[0].score, Some(n as f64));
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
