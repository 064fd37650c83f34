//! The shipped unit file passes `systemd-analyze verify` and rates at most
//! 2.0 in `systemd-analyze security --offline=true` (SPEC §7). The unit is
//! checked with ExecStart pointing at the freshly built binary, since verify
//! insists the program exists. CI installs systemd-analyze (`.ci/run`); a
//! machine without it skips these checks unless `CI` is set.

use std::path::Path;
use std::process::Command;

const UNIT: &str = include_str!("../systemd/clipwatch.service");

fn analyze_available() -> bool {
    let found = Command::new("systemd-analyze")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must provide systemd-analyze"
        );
        eprintln!("systemd-analyze not found: unit checks skipped");
    }
    found
}

/// The unit as installed, with the binary where the test can find it.
fn unit_for_test(dir: &Path) -> std::path::PathBuf {
    let unit = UNIT.replace("/usr/local/bin/clipwatch", env!("CARGO_BIN_EXE_clipwatch"));
    let path = dir.join("clipwatch.service");
    std::fs::write(&path, unit).unwrap();
    path
}

#[test]
fn unit_verifies_cleanly() {
    if !analyze_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let unit = unit_for_test(dir.path());
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&unit)
        .output()
        .unwrap();
    let messages =
        String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout);
    // Lines about other units on this machine are not ours to judge.
    let ours: Vec<&str> = messages
        .lines()
        .filter(|l| l.contains("clipwatch"))
        .collect();
    assert!(
        out.status.success() && ours.is_empty(),
        "systemd-analyze verify:\n{messages}"
    );
}

#[test]
fn unit_exposure_is_at_most_2() {
    if !analyze_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let unit = unit_for_test(dir.path());
    let out = Command::new("systemd-analyze")
        .args(["security", "--offline=true", "--no-pager"])
        .arg(&unit)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .find(|l| l.contains("Overall exposure level"))
        .unwrap_or_else(|| panic!("no exposure line in:\n{text}"));
    let score: f64 = line
        .split(':')
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("cannot read the score in {line:?}"));
    println!("systemd-analyze security --offline=true: exposure {score}");
    assert!(score <= 2.0, "{line}");
}

#[test]
fn unit_has_what_the_service_contract_needs() {
    for needed in [
        "Type=notify",
        "ExecReload=/bin/kill -HUP $MAINPID",
        "WatchdogSec=",
        "Restart=on-failure",
        "RestartPreventExitStatus=78",
        "StateDirectory=clipwatch",
        "ConfigurationDirectory=clipwatch",
        "LoadCredential=wayin_api_key:",
        "ReadWritePaths=",
        "ProtectSystem=strict",
        "NoNewPrivileges=yes",
        "PrivateTmp=yes",
        "RestrictAddressFamilies=",
        "SystemCallFilter=",
        "LimitCORE=0",
    ] {
        assert!(UNIT.contains(needed), "the unit lacks {needed}");
    }
}
