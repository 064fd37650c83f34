//! Running the real `clipwatch` binary in a temporary directory against the
//! fake API: config files, commands, daemons, and looking at what they left.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use super::fake_api::{FakeApi, FakeConfig};

pub const BINARY: &str = env!("CARGO_BIN_EXE_clipwatch");

/// A temporary home for one test: config, state, clips, and a fake API.
pub struct Env {
    pub dir: tempfile::TempDir,
    pub api: FakeApi,
}

/// The config every test starts from: fast polling, a generous budget.
pub fn base_config(api_base_url: &str) -> String {
    format!(
        r#"[api]
base_url = "{api_base_url}"
requests_per_minute = 600
poll_interval = "40ms"
timeout = "5s"

[state]
dir = "state"

[output]
dir = "clips"

[presets.default]
enable_export = true
ratio = "RATIO_9_16"
resolution = "HD_720"

[presets.metadata]
enable_export = false

# Tests never look titles up on the internet; the title tests turn it on.
[titles]
lookup = false
"#
    )
}

impl Env {
    pub fn new(fake: FakeConfig) -> Env {
        Env::with_config(fake, base_config)
    }

    /// `config` receives the fake API's base URL and returns the TOML.
    pub fn with_config(fake: FakeConfig, config: impl FnOnce(&str) -> String) -> Env {
        let api = FakeApi::start_blocking(fake);
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(dir.path().join("config.toml"), config(&api.base_url))
            .expect("write config");
        Env { dir, api }
    }

    pub fn config_path(&self) -> PathBuf {
        self.dir.path().join("config.toml")
    }

    pub fn clips(&self) -> PathBuf {
        self.dir.path().join("clips")
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(BINARY);
        cmd.arg("--config")
            .arg(self.config_path())
            .args(args)
            .env("WAYIN_API_KEY", &self.api.config().api_key)
            .env_remove("RUST_LOG")
            .env_remove("CLIPWATCH_CONFIG")
            .env_remove("CREDENTIALS_DIRECTORY")
            .stdin(Stdio::null());
        cmd
    }

    /// Run a command to the end (bounded by `timeout`).
    pub fn run(&self, args: &[&str]) -> Output {
        let mut child = self
            .command(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start clipwatch");
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if child.try_wait().expect("wait").is_some() {
                return child.wait_with_output().expect("output");
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let out = child.wait_with_output().expect("output");
                panic!(
                    "clipwatch {args:?} did not finish in time\nstdout: {}\nstderr: {}",
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr)
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Start a long-running command (e.g. `run`); its stderr goes to `log`.
    pub fn spawn(&self, args: &[&str], log: &Path) -> Child {
        let log = std::fs::File::create(log).expect("log file");
        self.command(args)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start clipwatch")
    }

    /// [`Env::spawn`] with extra environment variables.
    pub fn spawn_with_env(&self, args: &[&str], log: &Path, vars: &[(&str, &str)]) -> Child {
        let log = std::fs::File::create(log).expect("log file");
        self.command(args)
            .envs(vars.iter().copied())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start clipwatch")
    }

    /// Every job as `jobs --json` prints it.
    pub fn jobs(&self) -> Vec<serde_json::Value> {
        let out = self.run(&["jobs", "--json"]);
        assert!(
            out.status.success(),
            "jobs --json: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).expect("jobs --json is JSON")
    }

    /// The one folder of finished clips under `clips/<feed>/`.
    pub fn only_folder(&self, feed: &str) -> PathBuf {
        let parent = self.clips().join(feed);
        let entries: Vec<PathBuf> = std::fs::read_dir(&parent)
            .unwrap_or_else(|e| panic!("{}: {e}", parent.display()))
            .map(|e| e.unwrap().path())
            .collect();
        assert_eq!(
            entries.len(),
            1,
            "one folder expected in {}: {entries:?}",
            parent.display()
        );
        entries.into_iter().next().unwrap()
    }

    /// Run the binary from `cwd` with exactly `args` (no `--config` added;
    /// they need not be UTF-8), for at most 60 s (`timeout`: exit 124).
    pub fn run_raw(&self, cwd: &Path, args: &[&std::ffi::OsStr]) -> Output {
        let mut cmd = Command::new("timeout");
        cmd.arg("60").arg(BINARY).args(args).current_dir(cwd);
        for (name, value) in self.command(&[]).get_envs() {
            match value {
                Some(value) => cmd.env(name, value),
                None => cmd.env_remove(name),
            };
        }
        cmd.stdin(Stdio::null()).output().expect("start clipwatch")
    }
}

/// Names of the files in `dir`, sorted.
pub fn file_names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// Every file under `root`, recursively.
pub fn all_files(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(root) else {
        return out;
    };
    for entry in entries {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(all_files(&path));
        } else {
            out.push(path);
        }
    }
    out
}

/// Poll `condition` every 20 ms until it holds or `timeout` passes.
pub fn wait_until(timeout: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if condition() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    condition()
}

pub fn read_json(path: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

pub fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// The daemon's peak resident memory (VmHWM), in bytes.
pub fn peak_rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .expect("VmHWM in /proc/<pid>/status");
    let kib: u64 = line
        .trim_start_matches("VmHWM:")
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .unwrap();
    kib * 1024
}

/// Neither the key nor a signed query is in `seen` or in any file outside
/// the database.
pub fn assert_no_secrets(env: &Env, seen: &str) {
    let mut seen = seen.to_string();
    for file in all_files(env.dir.path()) {
        // A symlink (a drop-folder link filed away) is not what clipwatch wrote.
        if !file.starts_with(env.dir.path().join("state")) && !file.is_symlink() {
            seen += &String::from_utf8_lossy(&std::fs::read(&file).unwrap());
        }
    }
    let key = &env.api.config().api_key;
    assert!(!seen.contains(key.as_str()), "the API key leaked");
    assert!(!seen.contains("sig="), "a signed link leaked");
    assert!(!seen.contains("X-Amz-Signature"), "a presigned URL leaked");
}

/// A `clipwatch -v run` daemon for one test, killed if the test ends first.
pub struct Daemon {
    pub child: Child,
    log: PathBuf,
}

impl Daemon {
    /// Starts the daemon and waits for its control socket.
    pub fn start(env: &Env) -> Daemon {
        let log = env.dir.path().join("daemon.log");
        let child = env.spawn(&["-v", "run"], &log);
        let socket = env.dir.path().join("state").join("control.sock");
        let up = wait_until(Duration::from_secs(20), || socket.exists());
        let daemon = Daemon { child, log };
        assert!(up, "no control socket: {}", daemon.log());
        daemon
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Asserts the daemon is still up, stops it with SIGTERM, asserts a
    /// clean exit and returns its log.
    pub fn stop(mut self) -> String {
        assert!(
            self.child.try_wait().unwrap().is_none(),
            "the daemon died: {}",
            self.log()
        );
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let exit = self.child.wait().unwrap();
        let log = self.log();
        assert!(exit.success(), "exit after SIGTERM: {exit:?}\n{log}");
        log
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
