//! `clipwatch init`: write a commented configuration (the example's text,
//! with the user's paths), create its folders, and say what to run next.
//! Never overwrites a file. Also the generator of the Debian package's
//! `/etc/clipwatch/config.toml` (`--no-create`, see `packaging/generate`).

use std::path::{Path, PathBuf};

use clap::Args;

use super::{EXIT_CONFIG, EXIT_FAILURE};

/// The example configuration, comments and all.
const EXAMPLE: &str = include_str!("../../config.example.toml");

const EXAMPLE_HEADER: &str = "# clipwatch configuration — an example that runs from a checkout:\n#\n#     WAYIN_API_KEY=… clipwatch run --config config.example.toml\n";
const STATE_LINE: &str = "dir = \"state\"\n";
const OUTPUT_LINE: &str = "dir = \"clips\"\n";
const DROP_LINE: &str = "dir = \"inbox\"                   # default: \"/srv/clipwatch/inbox\"\n";
const KEY_FILE_LINE: &str = "# api_key_file = \"/etc/clipwatch/api_key\"\n";

#[derive(Debug, Clone, Default, Args)]
pub struct InitArgs {
    /// Where clips are written [default: /srv/clips as root, else ~/clipwatch/clips].
    #[arg(long, value_name = "DIR")]
    pub output: Option<PathBuf>,
    /// The drop folder [default: /srv/clipwatch/inbox as root, else ~/clipwatch/inbox].
    #[arg(long, value_name = "DIR")]
    pub drop: Option<PathBuf>,
    /// The database and control socket [default: /var/lib/clipwatch as root, else $XDG_STATE_HOME/clipwatch].
    #[arg(long, value_name = "DIR")]
    pub state: Option<PathBuf>,
    /// A file holding the API key (written as api_key_file; the file itself is yours to create).
    #[arg(long, value_name = "FILE")]
    pub api_key_file: Option<PathBuf>,
    /// Write the file only; leave the folders to someone else (a package's tmpfiles snippet).
    #[arg(long)]
    pub no_create: bool,
}

/// The paths a new configuration names, all absolute.
#[derive(Debug, Clone, PartialEq)]
pub struct Paths {
    pub state: PathBuf,
    pub output: PathBuf,
    pub drop: PathBuf,
    pub api_key_file: Option<PathBuf>,
}

pub fn run(config: Option<&Path>, args: &InitArgs) -> u8 {
    let is_root = crate::daemon::guard::euid() == 0;
    let home = std::env::var_os("HOME").map(PathBuf::from);
    let env = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
    let Some(path) = config.map(Path::to_path_buf).or_else(|| {
        default_config_path(
            is_root,
            env("XDG_CONFIG_HOME").map(PathBuf::from),
            home.as_deref(),
        )
    }) else {
        eprintln!("clipwatch: no HOME to put the configuration in: give --config FILE");
        return super::EXIT_USAGE;
    };
    let path = absolute(&path);
    if path.exists() {
        eprintln!(
            "clipwatch: {} exists; init never overwrites a configuration. Edit it, add feeds \
             with `clipwatch feeds add`, or give another --config FILE",
            path.display()
        );
        return EXIT_CONFIG;
    }
    let paths = match choose_paths(args, is_root, env("XDG_STATE_HOME"), home.as_deref()) {
        Some(paths) => paths,
        None => {
            eprintln!(
                "clipwatch: no HOME to put the folders in: give --state, --output and --drop"
            );
            return super::EXIT_USAGE;
        }
    };
    let text = render(&paths);
    if let Err(err) = crate::config::parse(&text, &path, &|_| None) {
        eprintln!("clipwatch: the configuration to write would not load: {err}");
        return EXIT_CONFIG;
    }
    if let Err(err) = write_new(&path, &text) {
        eprintln!("clipwatch: cannot write {}: {err}", path.display());
        return EXIT_FAILURE;
    }
    println!("wrote {}", path.display());
    if !args.no_create {
        if let Err(message) = create_folders(&paths) {
            eprintln!("clipwatch: {message}");
            return EXIT_FAILURE;
        }
    }
    print_next(&path, &paths, is_root, home.as_deref());
    0
}

/// The example's text with `paths` in place of its checkout paths.
pub fn render(paths: &Paths) -> String {
    let quoted = |p: &Path| toml_edit::Value::from(p.display().to_string()).to_string();
    let header = "# clipwatch configuration, written by `clipwatch init` from the commented\n# example; run it with: clipwatch run --config FILE\n";
    let mut text = EXAMPLE
        .replacen(EXAMPLE_HEADER, header, 1)
        .replacen(STATE_LINE, &format!("dir = {}\n", quoted(&paths.state)), 1)
        .replacen(
            OUTPUT_LINE,
            &format!("dir = {}\n", quoted(&paths.output)),
            1,
        )
        .replacen(
            DROP_LINE,
            &format!(
                "dir = {}{}\n",
                quoted(&paths.drop),
                "                   # default: \"/srv/clipwatch/inbox\""
            ),
            1,
        );
    if let Some(file) = &paths.api_key_file {
        text = text.replacen(
            KEY_FILE_LINE,
            &format!("api_key_file = {}\n", quoted(file)),
            1,
        );
    }
    text
}

fn default_config_path(
    is_root: bool,
    xdg_config: Option<PathBuf>,
    home: Option<&Path>,
) -> Option<PathBuf> {
    if is_root {
        return Some(PathBuf::from("/etc/clipwatch/config.toml"));
    }
    xdg_config
        .filter(|p| p.is_absolute())
        .or_else(|| home.map(|h| h.join(".config")))
        .map(|dir| dir.join("clipwatch").join("config.toml"))
}

fn choose_paths(
    args: &InitArgs,
    is_root: bool,
    xdg_state: Option<std::ffi::OsString>,
    home: Option<&Path>,
) -> Option<Paths> {
    let (state, output, drop) = if is_root {
        (
            PathBuf::from(crate::config::DEFAULT_STATE_DIR),
            PathBuf::from(crate::config::DEFAULT_OUTPUT_DIR),
            PathBuf::from(crate::config::DEFAULT_DROP_DIR),
        )
    } else {
        let home = home?;
        let state_home = xdg_state
            .map(PathBuf::from)
            .filter(|p| p.is_absolute())
            .unwrap_or_else(|| home.join(".local/state"));
        (
            state_home.join("clipwatch"),
            home.join("clipwatch/clips"),
            home.join("clipwatch/inbox"),
        )
    };
    Some(Paths {
        state: args.state.as_deref().map_or(state, absolute),
        output: args.output.as_deref().map_or(output, absolute),
        drop: args.drop.as_deref().map_or(drop, absolute),
        api_key_file: args.api_key_file.as_deref().map(absolute),
    })
}

fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

fn write_new(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o644)
        .open(path)?;
    file.write_all(text.as_bytes())?;
    file.sync_all()
}

fn create_folders(paths: &Paths) -> Result<(), String> {
    crate::daemon::guard::secure_state_dir(&paths.state)
        .map_err(|err| format!("state folder: {err}"))?;
    for (what, dir) in [("output", &paths.output), ("drop", &paths.drop)] {
        std::fs::create_dir_all(dir)
            .map_err(|err| format!("cannot create the {what} folder {}: {err}", dir.display()))?;
    }
    println!(
        "created {}, {} and {}",
        paths.state.display(),
        paths.output.display(),
        paths.drop.display()
    );
    Ok(())
}

/// The next two commands: add a feed, then run.
fn print_next(path: &Path, paths: &Paths, is_root: bool, home: Option<&Path>) {
    let found_by_default = default_config_path(
        is_root,
        std::env::var_os("XDG_CONFIG_HOME").map(PathBuf::from),
        home,
    )
    .is_some_and(|default| default == path)
        && std::env::var_os("CLIPWATCH_CONFIG").is_none();
    let config = if found_by_default {
        String::new()
    } else {
        format!(" --config '{}'", path.display())
    };
    let key = match &paths.api_key_file {
        Some(file) => format!("(the key goes in {})", file.display()),
        None => "(with WAYIN_API_KEY set, or api_key_file in the config)".into(),
    };
    println!("next:");
    println!(
        "  clipwatch{config} feeds add @channel        # a YouTube @handle, channel or feed URL"
    );
    println!("  clipwatch{config} run                       {key}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_replaced_line_is_in_the_example_once() {
        for line in [
            EXAMPLE_HEADER,
            STATE_LINE,
            OUTPUT_LINE,
            DROP_LINE,
            KEY_FILE_LINE,
        ] {
            assert_eq!(EXAMPLE.matches(line).count(), 1, "{line:?}");
        }
    }

    #[test]
    fn the_written_config_names_the_paths_and_keeps_the_comments() {
        let paths = Paths {
            state: "/var/lib/clipwatch".into(),
            output: "/srv/clips".into(),
            drop: "/srv/clipwatch/inbox".into(),
            api_key_file: Some("/etc/clipwatch/api_key".into()),
        };
        let text = render(&paths);
        let config =
            crate::config::parse(&text, Path::new("/etc/clipwatch/config.toml"), &|_| None)
                .unwrap();
        assert_eq!(config.state.dir, paths.state);
        assert_eq!(config.output.dir, paths.output);
        assert_eq!(config.drop.unwrap().dir, paths.drop);
        assert!(text.contains("api_key_file = \"/etc/clipwatch/api_key\""));
        assert!(text.contains("# Presets: submit options"));
        assert!(text.contains("# Feeds: each checked on its own interval."));
    }
}
