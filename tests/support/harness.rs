//! Running the real `clipwatch` binary in a temporary directory against the
//! fake API, in the steps every e2e test takes: an environment (config,
//! state, clips, the fake API, optionally feeds), a fault, a [`Daemon`] (or
//! one command), waiting, looking at what was left (jobs, folders, clip
//! bytes, `.part` files, feed health, notify messages), and the no-secret
//! check. Volumes that fill up come from [`Tmpfs`].

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::fake_api::{CostField, Envelope, FakeApi, FakeConfig, Misbehave};
use super::feed_server::FeedServer;

pub const BINARY: &str = env!("CARGO_BIN_EXE_clipwatch");

/// The video most tests submit, and its job's key.
pub const VIDEO: &str = "https://www.youtube.com/watch?v=dQw4w9WgXcQ";
pub const VIDEO_KEY: &str = "youtube:dQw4w9WgXcQ";

/// The fake API with tasks that take `ms` per phase.
pub fn phase(ms: u64) -> FakeConfig {
    FakeConfig {
        phase: Duration::from_millis(ms),
        ..FakeConfig::default()
    }
}

/// A quick fake (60 ms phases) answering like the API under `prefix`:
/// `/api/v2` bare `data` with `cost_usage` and numbers as numbers,
/// `/open/v2` the seed's envelope with `api_units_usage` and numbers as
/// strings.
pub fn fake_for_prefix(prefix: &str) -> FakeConfig {
    let later = prefix == "/api/v2";
    FakeConfig {
        phase: Duration::from_millis(60),
        prefix: prefix.into(),
        envelope: if later {
            Envelope::DataOnly
        } else {
            Envelope::Seed
        },
        cost_field: if later {
            CostField::CostUsage
        } else {
            CostField::ApiUnitsUsage
        },
        numbers_as_strings: !later,
        ..FakeConfig::default()
    }
}

/// The fake API most tests use: 60 ms phases.
pub fn quick() -> FakeConfig {
    phase(60)
}

/// Quicker still, with one small clip per task (drop-folder tests).
pub fn tiny_clips() -> FakeConfig {
    FakeConfig {
        clips: 1,
        clip_bytes: 1024,
        ..phase(40)
    }
}

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

/// `base_config` with `extra` lines at the end of `[api]`.
pub fn with_api(url: &str, extra: &str) -> String {
    base_config(url).replace("timeout = \"5s\"", &format!("timeout = \"5s\"\n{extra}"))
}

/// `base_config` with `extra` lines at the start of `[output]`.
pub fn with_output(url: &str, extra: &str) -> String {
    base_config(url).replace("[output]\n", &format!("[output]\n{extra}\n"))
}

/// An environment whose config has `[youtube] base_url` on `feeds` and the
/// given `[[feeds]]` TOML, with 20 ms task phases.
pub fn feeds_env(feeds: &FeedServer, feed_toml: &str) -> Env {
    let youtube = feeds.base_url.clone();
    Env::with_config(phase(20), move |api| {
        format!(
            "{}\n[youtube]\nbase_url = \"{youtube}\"\n\n{feed_toml}",
            base_config(api)
        )
    })
}

/// One `[[feeds]]` table: `name`, `url` (or `youtube = …` when `url`
/// starts with `youtube = `), then `settings` lines as they are.
pub fn feed_toml(name: &str, url: &str, settings: &str) -> String {
    let source = if url.starts_with("youtube = ") {
        url.to_string()
    } else {
        format!("url = \"{url}\"")
    };
    format!("[[feeds]]\nname = \"{name}\"\n{source}\n{settings}\n")
}

impl Env {
    pub fn new(fake: FakeConfig) -> Env {
        Env::with_config(fake, base_config)
    }

    /// [`Env::new`] with the fake misbehaving from the start as `fault`
    /// sets it (e.g. `|m| m.reject_key = true`).
    pub fn with_fault(fake: FakeConfig, fault: impl FnOnce(&mut Misbehave)) -> Env {
        let env = Env::new(fake);
        let mut m = Misbehave::default();
        fault(&mut m);
        env.api.misbehave(m);
        env
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

    /// `clipwatch --config <this env's> args…` with the key and a clean
    /// environment, stdin closed; stdout and stderr are the caller's choice.
    pub fn command(&self, args: &[&str]) -> Command {
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

    /// Run a command to the end (at most 60 s), reading its output while it
    /// runs (a full pipe never stalls it).
    pub fn run(&self, args: &[&str]) -> Output {
        let child = self
            .command(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start clipwatch");
        let pid = child.id();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || tx.send(child.wait_with_output().expect("output")));
        match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(out) => out,
            Err(_) => {
                signal(pid, "-KILL");
                let out = rx.recv().expect("output after kill");
                panic!(
                    "clipwatch {args:?} did not finish in time\nstdout: {}\nstderr: {}",
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr)
                );
            }
        }
    }

    /// [`Env::run`], asserting success; returns stdout and stderr.
    pub fn run_ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(out.status.success(), "clipwatch {args:?}: {}", text(&out));
        text(&out)
    }

    /// [`Env::run`], asserting the exit code; returns stdout and stderr.
    pub fn run_code(&self, args: &[&str], code: i32) -> String {
        let out = self.run(args);
        assert_eq!(
            out.status.code(),
            Some(code),
            "clipwatch {args:?}: {}",
            text(&out)
        );
        text(&out)
    }

    /// `clipwatch once`, asserting success; returns what it printed.
    pub fn once(&self) -> String {
        self.run_ok(&["once"])
    }

    /// `--json` output of a command that succeeds, parsed.
    pub fn json<T: serde::de::DeserializeOwned>(&self, args: &[&str]) -> T {
        let out = self.run(args);
        assert!(out.status.success(), "clipwatch {args:?}: {}", text(&out));
        serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("clipwatch {args:?} is not JSON: {e}"))
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
    pub fn jobs(&self) -> Vec<Value> {
        self.json(&["jobs", "--json"])
    }

    /// The job with `key`, as `jobs --json` prints it.
    pub fn job(&self, key: &str) -> Value {
        find_job(&self.jobs(), key).clone()
    }

    /// The state of the job with `key` (empty while there is none).
    pub fn job_state(&self, key: &str) -> String {
        self.jobs()
            .iter()
            .find(|j| j["key"] == key)
            .and_then(|j| j["state"].as_str().map(str::to_string))
            .unwrap_or_default()
    }

    /// Every feed as `feeds --json` prints it.
    pub fn feeds(&self) -> Vec<Value> {
        self.json(&["feeds", "--json"])
    }

    /// The feed named `name`, as `feeds --json` prints it.
    pub fn feed(&self, name: &str) -> Value {
        find_feed(&self.feeds(), name).clone()
    }

    /// Polls `jobs --json` until job `id` is done or failed, with at least
    /// `submits` submit attempts; returns it.
    pub fn wait_job_end(&self, id: u64, submits: u64, timeout: Duration) -> Value {
        let deadline = Instant::now() + timeout;
        loop {
            let jobs = self.jobs();
            let job = jobs.iter().find(|j| j["id"] == id);
            if let Some(job) = job {
                let ended = job["state"] == "done" || job["state"] == "failed";
                let attempts = job["submit_attempts"].as_u64();
                if ended && (submits == 0 || attempts >= Some(submits)) {
                    return job.clone();
                }
            }
            assert!(Instant::now() < deadline, "job {id} never ended: {jobs:?}");
            std::thread::sleep(Duration::from_millis(100));
        }
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

    /// Clip `idx` of the first task is in the one folder under `inbox/`,
    /// under its rank, with the fake's bytes.
    pub fn assert_inbox_clip(&self, idx: usize) {
        let task = &self.api.task_ids()[0];
        assert_clip_videos(self, &self.only_folder("inbox"), task, idx..idx + 1);
    }
}

/// The job with `key` among `jobs`.
pub fn find_job<'a>(jobs: &'a [Value], key: &str) -> &'a Value {
    jobs.iter()
        .find(|j| j["key"] == key)
        .unwrap_or_else(|| panic!("job {key} in {jobs:#?}"))
}

/// The feed named `name` among `feeds`.
pub fn find_feed<'a>(feeds: &'a [Value], name: &str) -> &'a Value {
    feeds
        .iter()
        .find(|f| f["name"] == name)
        .unwrap_or_else(|| panic!("feed {name} in {feeds:?}"))
}

/// Clips `idxs` of `task` are in `folder` as `NN Clip N title.mp4` with the
/// fake's bytes.
pub fn assert_clip_videos(env: &Env, folder: &Path, task: &str, idxs: std::ops::Range<usize>) {
    for idx in idxs {
        let name = format!("{:02} Clip {} title.mp4", idx + 1, idx + 1);
        let video = std::fs::read(folder.join(&name))
            .unwrap_or_else(|e| panic!("{name}: {e}; files: {:?}", file_names(folder)));
        assert!(
            video == env.api.clip_bytes(task, idx),
            "{name} is not clip {idx} of {task}"
        );
    }
}

/// The `video_url` of every submit the fake API took, sorted.
pub fn submitted_urls(env: &Env) -> Vec<String> {
    let mut urls: Vec<String> = env
        .api
        .submissions()
        .iter()
        .map(|s| s["video_url"].as_str().unwrap().to_string())
        .collect();
    urls.sort();
    urls
}

/// The `.part` files under `root`.
pub fn part_files(root: &Path) -> Vec<PathBuf> {
    all_files(root)
        .into_iter()
        .filter(|f| f.to_string_lossy().ends_with(".part"))
        .collect()
}

pub fn assert_no_part(root: &Path) {
    let parts = part_files(root);
    assert!(parts.is_empty(), "part files left: {parts:?}");
}

/// The `project.json` files under `root`: one per finished folder.
pub fn projects(root: &Path) -> Vec<PathBuf> {
    all_files(root)
        .into_iter()
        .filter(|f| f.ends_with("project.json"))
        .collect()
}

/// No video, no `.part` and no `project.json` under `root`.
pub fn assert_no_video_kept(root: &Path) {
    let files = all_files(root);
    assert!(
        files.iter().all(|f| {
            let name = f.to_string_lossy();
            !name.ends_with(".mp4") && !name.ends_with(".part") && !name.ends_with("project.json")
        }),
        "no video, no part file, no project.json: {files:?}"
    );
}

/// Lower-case hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Sends `kill <which> <pid>` (e.g. `"-TERM"`), asserting it was delivered.
pub fn signal(pid: u32, which: &str) {
    let status = Command::new("kill")
        .args([which, &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success(), "kill {which} {pid}");
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

/// A long-running `clipwatch` (usually `run`) for one test, its stderr in
/// its own log file; killed if the test ends first.
pub struct Daemon {
    pub child: Child,
    log: PathBuf,
    socket: PathBuf,
}

impl Daemon {
    /// `clipwatch -v run`, once its control socket is up.
    pub fn start(env: &Env) -> Daemon {
        Daemon::spawn(env, &["-v", "run"]).wait_up()
    }

    /// Starts `clipwatch args…` without waiting for anything.
    pub fn spawn(env: &Env, args: &[&str]) -> Daemon {
        Daemon::spawn_with_env(env, args, &[])
    }

    /// [`Daemon::spawn`] with extra environment variables.
    pub fn spawn_with_env(env: &Env, args: &[&str], vars: &[(&str, &str)]) -> Daemon {
        let dir = env.dir.path();
        let log = (1..)
            .map(|n| dir.join(format!("daemon{n}.log")))
            .find(|p| !p.exists())
            .unwrap();
        Daemon::from_command(env.command(args).envs(vars.iter().copied()), log, env)
    }

    /// Starts a prepared command (stdout is dropped, stderr goes to `log`).
    pub fn from_command(command: &mut Command, log: PathBuf, env: &Env) -> Daemon {
        let child = command
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("log file"))
            .spawn()
            .expect("start clipwatch");
        let socket = env.dir.path().join("state").join("control.sock");
        Daemon { child, log, socket }
    }

    /// Waits (at most 20 s) for the control socket, failing with the log.
    pub fn wait_up(self) -> Daemon {
        assert!(self.socket_up(), "no control socket: {}", self.log());
        self
    }

    /// Whether the control socket is there (waiting at most 20 s for it).
    pub fn socket_up(&self) -> bool {
        wait_until(Duration::from_secs(20), || self.socket.exists())
    }

    /// Waits (at most 20 s) until the log says `line`.
    pub fn wait_log(&self, line: &str) -> bool {
        wait_until(Duration::from_secs(20), || self.log().contains(line))
    }

    /// Asserts that `condition` comes true within `timeout`, showing `what`
    /// and the log otherwise.
    pub fn expect(&self, what: &str, timeout: Duration, condition: impl FnMut() -> bool) {
        let held = wait_until(timeout, condition);
        assert!(held, "{what}: {}", self.log());
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn is_running(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    pub fn hup(&self) {
        signal(self.pid(), "-HUP");
    }

    /// SIGKILL, as a crash would.
    pub fn kill(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// SIGTERM, then waits (at most 20 s) for the exit, whatever it is.
    pub fn terminate(&mut self) -> ExitStatus {
        signal(self.pid(), "-TERM");
        let stopped = wait_until(Duration::from_secs(20), || {
            self.child.try_wait().unwrap().is_some()
        });
        assert!(stopped, "the daemon did not stop: {}", self.log());
        self.child.wait().unwrap()
    }

    /// Asserts the daemon is still up, stops it with SIGTERM, asserts a
    /// clean exit and returns its log.
    pub fn stop(mut self) -> String {
        assert!(self.is_running(), "the daemon died: {}", self.log());
        let exit = self.terminate();
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

/// A systemd notify socket (`NOTIFY_SOCKET`) that a test reads.
pub struct Notify {
    socket: std::os::unix::net::UnixDatagram,
    pub path: PathBuf,
    /// Every datagram received so far, in order.
    pub messages: Vec<String>,
}

impl Notify {
    /// Binds `notify.sock` in the env; each read waits at most `read_wait`.
    pub fn bind(env: &Env, read_wait: Duration) -> Notify {
        let path = env.dir.path().join("notify.sock");
        let socket = std::os::unix::net::UnixDatagram::bind(&path).unwrap();
        socket.set_read_timeout(Some(read_wait)).unwrap();
        Notify {
            socket,
            path,
            messages: Vec::new(),
        }
    }

    /// The path, for `NOTIFY_SOCKET`.
    pub fn var(&self) -> String {
        self.path.to_string_lossy().into_owned()
    }

    /// Takes what has arrived (until a read times out).
    pub fn receive(&mut self) {
        let mut buf = [0u8; 4096];
        while let Ok(n) = self.socket.recv(&mut buf) {
            self.messages
                .push(String::from_utf8_lossy(&buf[..n]).into_owned());
        }
    }

    /// Every message so far, concatenated.
    pub fn text(&self) -> String {
        self.messages.concat()
    }

    /// Reads until `condition` holds of [`Notify::text`] or `timeout` passes.
    pub fn wait_for(&mut self, timeout: Duration, condition: impl Fn(&str) -> bool) -> bool {
        let mut buf = [0u8; 4096];
        let deadline = Instant::now() + timeout;
        while !condition(&self.text()) {
            if Instant::now() >= deadline {
                return false;
            }
            if let Ok(n) = self.socket.recv(&mut buf) {
                self.messages
                    .push(String::from_utf8_lossy(&buf[..n]).into_owned());
            }
        }
        true
    }
}

/// A tmpfs mounted for one test, unmounted when dropped. Mounting needs
/// root (or CAP_SYS_ADMIN): where it is impossible the test is skipped,
/// saying why, unless `CI` is set: then it fails, so CI cannot pass without
/// running it.
pub struct Tmpfs {
    path: PathBuf,
}

impl Tmpfs {
    /// Mount a tmpfs of `size` (e.g. `"1m"`) at `path` with extra `options`.
    /// `None` (after saying why) where mounting is impossible outside CI.
    pub fn mount(path: &Path, size: &str, options: &str) -> Option<Tmpfs> {
        std::fs::create_dir_all(path).unwrap();
        // mode=0700: a tmpfs root is 1777 by default, and a state dir that
        // others may write is refused.
        let mut all = format!("size={size},mode=0700");
        if !options.is_empty() {
            all = format!("{all},{options}");
        }
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &all, "tmpfs"])
            .arg(path)
            .output();
        let why = match out {
            Ok(out) if out.status.success() => {
                return Some(Tmpfs {
                    path: path.to_path_buf(),
                })
            }
            Ok(out) => String::from_utf8_lossy(&out.stderr).trim().to_string(),
            Err(e) => e.to_string(),
        };
        // CI must run these tests, not skip them (.ci/run sets CI).
        assert!(
            std::env::var_os("CI").is_none(),
            "CI is set but a tmpfs cannot be mounted at {}: {why}",
            path.display()
        );
        eprintln!(
            "SKIPPED: this test needs to mount a tmpfs (run as root, or set CI \
             to make this a failure): {why}"
        );
        None
    }

    pub fn remount(&self, options: &str) {
        let status = Command::new("mount")
            .args(["-o", &format!("remount,{options}")])
            .arg(&self.path)
            .status()
            .unwrap();
        assert!(status.success(), "remount {options}");
    }

    /// The bytes still free on the volume.
    pub fn free_bytes(&self) -> u64 {
        let out = Command::new("df")
            .args(["--output=avail", "-B1"])
            .arg(&self.path)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .nth(1)
            .unwrap()
            .trim()
            .parse()
            .unwrap()
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.path).status();
    }
}
