//! End to end: `transcript = true` and `summary = true` in a preset run a
//! transcription and a summarization task beside the clipping task, and
//! leave `transcript.{json,srt,vtt,txt}` and `summary.md` in the job's
//! folder, with chapters from the summary's highlights. The subtitles are
//! read back by the strict SubRip and WebVTT readers below, which share no
//! code with the writers, and by the published Python libraries `srt` and
//! `webvtt-py` (Debian's python3-srt and python3-webvtt, which `.ci/run`
//! installs; tests/subtitles/read.py). One task failing keeps the others' files and `retry` redoes
//! only it; a crash mid-way submits nothing twice and counts every unit once.

mod support;

use std::time::Duration;

use serde_json::Value;
use support::fake_api::tasks::{Kind, SUMMARY_UNITS, TRANSCRIPT_UNITS};
use support::harness::{
    assert_no_secrets, base_config, fake_for_prefix, file_names, read_json, text, Daemon, Env,
    VIDEO, VIDEO_KEY,
};
use support::{FakeConfig, Misbehave};

/// The fake's clipping cost: 3 clips at 10 units.
const CLIP_UNITS: u64 = 30;

fn config(url: &str) -> String {
    base_config(url).replace(
        "[presets.default]\n",
        "[presets.default]\ntranscript = true\nsummary = true\n",
    )
}

#[test]
fn transcript_and_summary_files_are_written_under_both_prefixes() {
    for prefix in ["/open/v2", "/api/v2"] {
        let env = Env::with_config(fake_for_prefix(prefix), config);
        let out = env.run(&["submit", VIDEO, "--wait"]);
        assert!(out.status.success(), "{prefix}: {}", text(&out));
        let folder = env.only_folder("inbox");
        let names = file_names(&folder);
        for name in [
            "transcript.json",
            "transcript.srt",
            "transcript.vtt",
            "transcript.txt",
            "summary.md",
            "chapters.txt",
            "project.json",
        ] {
            assert!(
                names.contains(&name.to_string()),
                "{prefix}: {name} in {names:?}"
            );
        }
        assert_eq!(env.api.extra_submits(Kind::Transcripts), 1, "{prefix}");
        assert_eq!(env.api.extra_submits(Kind::Summaries), 1, "{prefix}");

        // As returned, numbers as numbers whatever the API sent.
        let json = read_json(&folder.join("transcript.json"));
        let first = &json["transcript"][0];
        assert_eq!(first["start"], Value::from(0), "{prefix}: {json}");
        assert_eq!(first["end"], Value::from(4200), "{prefix}");
        assert_eq!(first["speaker"], "Speaker 1");
        assert!(first["words"].is_array(), "unknown keys are kept");

        let srt = std::fs::read_to_string(folder.join("transcript.srt")).unwrap();
        let cues = parse_srt(&srt).unwrap_or_else(|e| panic!("{prefix}: SRT: {e}\n{srt}"));
        assert_eq!(cues.len(), 4);
        assert_eq!(cues[0], (0, 4_200, "Speaker 1: Welcome back.".to_string()));
        assert_eq!(cues[3].0, 3_600_000);
        assert!(
            cues[2].2.starts_with("Speaker 1: Prices <went> up"),
            "{:?}",
            cues[2]
        );

        let vtt = std::fs::read_to_string(folder.join("transcript.vtt")).unwrap();
        let cues = parse_vtt(&vtt).unwrap_or_else(|e| panic!("{prefix}: VTT: {e}\n{vtt}"));
        assert_eq!(cues.len(), 4);
        assert_eq!(
            cues[1],
            (
                4_200,
                9_100,
                Some("Speaker 2".to_string()),
                "Glad to be here.".to_string()
            )
        );
        assert_eq!(cues[2].3, "Prices <went> up --> & so we talk tiers.");

        if let Some(read) = read_with_libraries(&folder) {
            let (srt, vtt) = (&read["srt"], &read["vtt"]);
            assert_eq!(srt.as_array().unwrap().len(), 4, "{prefix}: {read}");
            assert_eq!(
                srt[0],
                serde_json::json!([0, 4200, "Speaker 1: Welcome back."])
            );
            assert_eq!(srt[3][0], 3_600_000);
            assert_eq!(vtt.as_array().unwrap().len(), 4, "{prefix}: {read}");
            assert_eq!(
                (&vtt[1][0], &vtt[1][1]),
                (&Value::from(4200), &Value::from(9100))
            );
            let voiced = vtt[1][2].as_str().unwrap();
            assert!(
                voiced.contains("Speaker 2") && voiced.contains("Glad to be here."),
                "{voiced}"
            );
        }

        let txt = std::fs::read_to_string(folder.join("transcript.txt")).unwrap();
        assert!(
            txt.starts_with("[00:00:00] Speaker 1: Welcome back.\n"),
            "{txt}"
        );

        let md = std::fs::read_to_string(folder.join("summary.md")).unwrap();
        assert!(md.starts_with("# Pricing webinar\n"), "{md}");
        assert!(md.contains("#pricing #saas"), "{md}");
        assert!(
            md.contains("[00:45](https://youtu.be/dQw4w9WgXcQ?t=45) Three tiers introduced"),
            "{md}"
        );
        // The chapters come from the highlights, not the clips.
        let chapters = std::fs::read_to_string(folder.join("chapters.txt")).unwrap();
        assert_eq!(
            chapters,
            "00:00 Why tiers\n05:10 Enterprise plan\n10:20 Questions\n"
        );

        let job = env.job(VIDEO_KEY);
        assert_eq!(job["state"], "done", "{prefix}: {job}");
        assert_eq!(
            job["units"],
            Value::from(CLIP_UNITS + TRANSCRIPT_UNITS + SUMMARY_UNITS),
            "{prefix}: units summed per job"
        );
        let extras = job["extras"].as_array().unwrap();
        assert!(extras.iter().all(|e| e["state"] == "done"), "{extras:?}");
        assert_no_secrets(&env, &text(&out));
    }
}

#[test]
fn a_failed_summary_keeps_the_rest_and_retry_redoes_only_the_summary() {
    let env = Env::with_config(fake_for_prefix("/api/v2"), config);
    env.api.misbehave(Misbehave {
        fail_summaries_with: Some("video has no speech to summarize".into()),
        ..Misbehave::default()
    });
    let out = env.run(&["submit", VIDEO, "--wait"]);
    assert!(
        !out.status.success(),
        "the job needs attention: {}",
        text(&out)
    );
    let job = env.job(VIDEO_KEY);
    assert_eq!(job["state"], "failed", "{job}");
    let reason = job["reason"].as_str().unwrap();
    assert!(reason.contains("summary task"), "{reason}");
    assert!(
        reason.contains("video has no speech to summarize"),
        "{reason}"
    );
    assert!(reason.contains("clipwatch retry 1"), "{reason}");
    let folder = env.only_folder("inbox");
    let names = file_names(&folder);
    assert!(
        names.contains(&"project.json".to_string()),
        "clips kept: {names:?}"
    );
    assert!(names.contains(&"transcript.srt".to_string()), "{names:?}");
    assert!(!names.contains(&"summary.md".to_string()), "{names:?}");
    // Chapters from the clips while there is no summary.
    let chapters = std::fs::read_to_string(folder.join("chapters.txt")).unwrap();
    assert!(chapters.starts_with("00:00 "), "{chapters}");
    assert!(!chapters.contains("Why tiers"), "{chapters}");
    assert_eq!(job["units"], Value::from(CLIP_UNITS + TRANSCRIPT_UNITS));

    env.api.misbehave(Misbehave::default());
    env.run_ok(&["retry", "1"]);
    env.once();
    let job = env.job(VIDEO_KEY);
    assert_eq!(job["state"], "done", "{job}");
    assert_eq!(
        env.api.submissions().len(),
        1,
        "the clips were not submitted again"
    );
    assert_eq!(
        env.api.extra_submits(Kind::Transcripts),
        1,
        "nor the transcript"
    );
    assert_eq!(
        env.api.extra_submits(Kind::Summaries),
        2,
        "only the summary"
    );
    let names = file_names(&env.only_folder("inbox"));
    assert!(names.contains(&"summary.md".to_string()), "{names:?}");
    let chapters = std::fs::read_to_string(folder.join("chapters.txt")).unwrap();
    assert!(
        chapters.starts_with("00:00 Why tiers\n"),
        "now from the summary: {chapters}"
    );
    assert_eq!(
        job["units"],
        Value::from(CLIP_UNITS + TRANSCRIPT_UNITS + SUMMARY_UNITS)
    );
}

#[test]
fn a_crash_mid_way_submits_each_task_once_and_counts_units_once() {
    let env = Env::with_config(
        FakeConfig {
            phase: Duration::from_millis(700),
            ..fake_for_prefix("/open/v2")
        },
        config,
    );
    let mut daemon = Daemon::start(&env);
    env.run_ok(&["submit", VIDEO]);
    // Killed once both task ids are stored (a kill between a request and
    // that write is the ambiguous submit tested below).
    daemon.expect("both extra tasks recorded", Duration::from_secs(20), || {
        env.job(VIDEO_KEY)["extras"]
            .as_array()
            .is_some_and(|e| e.len() == 2 && e.iter().all(|t| t["state"] == "running"))
    });
    assert_eq!(env.api.extra_submits(Kind::Transcripts), 1);
    assert_eq!(env.api.extra_submits(Kind::Summaries), 1);
    daemon.kill();
    assert_ne!(env.job_state(VIDEO_KEY), "done", "killed mid-way");

    let daemon = Daemon::start(&env);
    daemon.expect("the job finished", Duration::from_secs(30), || {
        env.job_state(VIDEO_KEY) == "done"
    });
    daemon.stop();
    assert_eq!(env.api.submissions().len(), 1);
    assert_eq!(env.api.extra_submits(Kind::Transcripts), 1);
    assert_eq!(env.api.extra_submits(Kind::Summaries), 1);
    let total = CLIP_UNITS + TRANSCRIPT_UNITS + SUMMARY_UNITS;
    let job = env.job(VIDEO_KEY);
    assert_eq!(job["units"], Value::from(total), "{job}");
    let status: Value = env.json(&["status", "--json"]);
    assert_eq!(status["units"]["total"], Value::from(total), "{status}");
    let names = file_names(&env.only_folder("inbox"));
    assert!(names.contains(&"summary.md".to_string()), "{names:?}");
    assert!(names.contains(&"transcript.vtt".to_string()), "{names:?}");
}

#[test]
fn a_summary_submit_that_lost_its_answer_is_never_sent_again_on_its_own() {
    let env = Env::with_config(fake_for_prefix("/open/v2"), config);
    env.api.misbehave(Misbehave {
        cut_after_summary_submit: 1,
        ..Misbehave::default()
    });
    let out = env.run(&["submit", VIDEO, "--wait"]);
    assert!(!out.status.success(), "{}", text(&out));
    assert_eq!(env.api.faults("cut").len(), 1, "the fault was met");
    let job = env.job(VIDEO_KEY);
    let reason = job["reason"].as_str().unwrap();
    assert!(
        reason.contains("a summary task may exist and be charged"),
        "{reason}"
    );
    assert_eq!(env.api.extra_submits(Kind::Summaries), 1, "not sent again");
    let names = file_names(&env.only_folder("inbox"));
    assert!(names.contains(&"transcript.txt".to_string()), "{names:?}");

    // The user's word submits it again, and only it.
    env.run_ok(&["retry", "1"]);
    env.once();
    assert_eq!(env.job_state(VIDEO_KEY), "done");
    assert_eq!(env.api.extra_submits(Kind::Summaries), 2);
    assert_eq!(env.api.extra_submits(Kind::Transcripts), 1);
    assert_eq!(env.api.submissions().len(), 1);
}

// ---------------------------------------------------------------------------
// Strict readers

/// `HH:MM:SS<sep>mmm` to ms.
/// `transcript.srt` and `transcript.vtt` in `folder` as the Python
/// subtitle libraries read them; `None` (said loudly) when they are not
/// installed and CI is not set. Under CI a missing library fails.
fn read_with_libraries(folder: &std::path::Path) -> Option<Value> {
    // Debian's interpreter: the libraries are Debian packages, and a
    // `python3` earlier on PATH (pyenv, a venv) does not see them.
    let python = ["/usr/bin/python3", "python3"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
        .unwrap_or("python3");
    let out = std::process::Command::new(python)
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/subtitles/read.py"
        ))
        .arg(folder.join("transcript.srt"))
        .arg(folder.join("transcript.vtt"))
        .output()
        .expect("python3 runs tests/subtitles/read.py");
    if out.status.code() == Some(3) {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI is set but the subtitle libraries are missing \
             (apt-get install python3-srt python3-webvtt)"
        );
        eprintln!("SKIPPED: reading subtitles with libraries needs python3-srt and python3-webvtt");
        return None;
    }
    assert!(out.status.success(), "read.py: {}", text(&out));
    Some(serde_json::from_slice(&out.stdout).expect("read.py prints JSON"))
}

fn clock(text: &str, sep: char) -> Result<u64, String> {
    let (hms, ms) = text
        .split_once(sep)
        .ok_or_else(|| format!("no '{sep}' in {text:?}"))?;
    let parts: Vec<&str> = hms.split(':').collect();
    if parts.len() != 3 || ms.len() != 3 || parts.iter().any(|p| p.len() != 2) {
        return Err(format!("bad time {text:?}"));
    }
    let n = |s: &str| s.parse::<u64>().map_err(|e| format!("{text:?}: {e}"));
    let (h, m, s) = (n(parts[0])?, n(parts[1])?, n(parts[2])?);
    if m > 59 || s > 59 {
        return Err(format!("bad time {text:?}"));
    }
    Ok(((h * 60 + m) * 60 + s) * 1000 + n(ms)?)
}

fn timing(line: &str, sep: char) -> Result<(u64, u64), String> {
    let (a, b) = line
        .split_once(" --> ")
        .ok_or_else(|| format!("not a timing line: {line:?}"))?;
    let (start, end) = (clock(a, sep)?, clock(b, sep)?);
    if end < start {
        return Err(format!("cue ends before it starts: {line:?}"));
    }
    Ok((start, end))
}

/// SubRip: numbered cues from 1, a timing line, text lines, a blank line.
fn parse_srt(text: &str) -> Result<Vec<(u64, u64, String)>, String> {
    let mut cues = Vec::new();
    for (i, block) in text.split_terminator("\n\n").enumerate() {
        let mut lines = block.lines();
        let number = lines.next().ok_or("empty block")?;
        if number != (i + 1).to_string() {
            return Err(format!("cue {} numbered {number:?}", i + 1));
        }
        let (start, end) = timing(lines.next().ok_or("no timing")?, ',')?;
        let words: Vec<&str> = lines.collect();
        if words.is_empty()
            || words
                .iter()
                .any(|l| l.trim().is_empty() || l.contains("-->"))
        {
            return Err(format!("bad cue text in {block:?}"));
        }
        cues.push((start, end, words.join("\n")));
    }
    if !text.ends_with("\n\n") {
        return Err("the last cue is not ended by a blank line".into());
    }
    Ok(cues)
}

/// (start ms, end ms, speaker, words) of one WebVTT cue.
type VttCue = (u64, u64, Option<String>, String);

/// WebVTT: the header, then cues of a timing line and text; a voice span
/// `<v Name>…</v>` gives the speaker; no other markup, entities decoded.
fn parse_vtt(text: &str) -> Result<Vec<VttCue>, String> {
    let body = text
        .strip_prefix("WEBVTT\n\n")
        .ok_or("no WEBVTT header and blank line")?;
    let mut cues = Vec::new();
    for block in body.split_terminator("\n\n") {
        let mut lines = block.lines();
        let (start, end) = timing(lines.next().ok_or("empty cue")?, '.')?;
        let payload: Vec<&str> = lines.collect();
        if payload.len() != 1 || payload[0].contains("-->") {
            return Err(format!("bad payload in {block:?}"));
        }
        let mut line = payload[0].to_string();
        let mut speaker = None;
        if let Some(rest) = line.strip_prefix("<v ") {
            let (name, words) = rest.split_once('>').ok_or("unclosed voice tag")?;
            let words = words.strip_suffix("</v>").ok_or("unclosed voice span")?;
            speaker = Some(name.to_string());
            line = words.to_string();
        }
        if line.contains('<') || line.contains('>') {
            return Err(format!("unescaped markup in {line:?}"));
        }
        if line
            .replace("&amp;", "")
            .replace("&lt;", "")
            .replace("&gt;", "")
            .contains('&')
        {
            return Err(format!("bare ampersand in {line:?}"));
        }
        let words = line
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&amp;", "&");
        cues.push((start, end, speaker, words));
    }
    Ok(cues)
}
