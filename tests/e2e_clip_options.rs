//! End to end: the AI Clipping options of the API's April 2026 edition
//! (`enable_express_mode`, `enable_more_results`, `reframe_layout`, and
//! `ratio` with `enable_ai_reframe`) go from a preset into the submit body,
//! and mistakes stop at the configuration instead of at a paid task.

mod support;

use std::time::Duration;

use serde_json::json;
use support::harness::{base_config, text, Env};
use support::FakeConfig;

const VIDEO: &str = "https://youtu.be/dQw4w9WgXcQ";

fn quick() -> FakeConfig {
    FakeConfig {
        phase: Duration::from_millis(60),
        ..FakeConfig::default()
    }
}

fn with_presets(presets: &'static str) -> impl FnOnce(&str) -> String {
    move |url| format!("{}\n{presets}", base_config(url))
}

#[test]
fn the_newer_options_reach_the_submitted_body() {
    let env = Env::with_config(
        quick(),
        with_presets(
            "[presets.wide]\n\
             extends = \"default\"\n\
             enable_express_mode = true\n\
             enable_more_results = true\n\
             enable_ai_reframe = true\n\
             ratio = \"RATIO_16_9\"\n\
             reframe_layout = \"Screen First\"\n",
        ),
    );
    let out = env.run(&["submit", VIDEO, "--wait", "--preset", "wide"]);
    assert!(out.status.success(), "{}", text(&out));
    let submitted = &env.api.submissions()[0];
    assert_eq!(submitted["enable_express_mode"], json!(true));
    assert_eq!(submitted["enable_more_results"], json!(true));
    assert_eq!(submitted["enable_ai_reframe"], json!(true));
    assert_eq!(submitted["ratio"], json!("RATIO_16_9"));
    assert_eq!(submitted["reframe_layout"], json!("Screen First"));
    assert_eq!(submitted["enable_export"], json!(true), "inherited");
}

#[test]
fn reframing_without_a_ratio_is_a_config_error_and_nothing_is_submitted() {
    let env = Env::with_config(
        quick(),
        with_presets("[presets.tall]\nenable_export = true\nenable_ai_reframe = true\n"),
    );
    let line = base_config("x").lines().count() + 4;
    let out = env.run(&["submit", VIDEO, "--wait", "--preset", "tall"]);
    assert_eq!(out.status.code(), Some(78), "{}", text(&out));
    let shown = text(&out);
    assert!(
        shown.contains(&format!(
            "config.toml:{line}: presets.tall.enable_ai_reframe: enable_ai_reframe = true needs a ratio"
        )),
        "{shown}"
    );
    assert!(env.api.submissions().is_empty());
}

#[test]
fn a_layout_the_ratio_lacks_is_a_config_error_naming_the_choices() {
    let env = Env::with_config(
        quick(),
        with_presets(
            "[presets.square]\nenable_ai_reframe = true\nratio = \"RATIO_1_1\"\nreframe_layout = \"Split 2\"\n",
        ),
    );
    let out = env.run(&["check", "--offline"]);
    assert_eq!(out.status.code(), Some(78), "{}", text(&out));
    let line = base_config("x").lines().count() + 5;
    assert!(
        text(&out).contains(&format!(
            "config.toml:{line}: presets.square.reframe_layout: \"Split 2\" is not a layout for \
             RATIO_1_1 (expected one of Auto, Full, Fit, Grid 4, Trio)"
        )),
        "{}",
        text(&out)
    );
}

#[test]
fn a_layout_passed_through_extra_meets_the_apis_own_check() {
    let env = Env::with_config(
        quick(),
        with_presets(
            "[presets.new]\nenable_ai_reframe = true\nratio = \"RATIO_1_1\"\n\
             [presets.new.extra]\nreframe_layout = \"Orbit\"\n",
        ),
    );
    let check = env.run(&["check", "--offline"]);
    assert!(
        check.status.success(),
        "extra is not checked: {}",
        text(&check)
    );
    let out = env.run(&["submit", VIDEO, "--wait", "--preset", "new"]);
    assert!(!out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("invalid reframe_layout \"Orbit\" for RATIO_1_1"),
        "the API's refusal is shown: {}",
        text(&out)
    );
    assert!(env.api.submissions().is_empty());
}
