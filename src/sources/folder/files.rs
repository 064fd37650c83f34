//! The drop folder on disk: which names are looked at, what kind of file each
//! is, where its preset comes from, how it is filed away (atomic renames into
//! `.done/` and `.failed/`, never overwriting), and content hashes.

use std::ffi::OsStr;
use std::fs;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use super::parse::Format;
use crate::api::upload::video_content_type;

/// Where taken files go.
pub const DONE: &str = ".done";
/// Where unusable files go, each with a `<name>.error.txt`.
pub const FAILED: &str = ".failed";
/// Suffix of the note beside a failed file.
pub const NOTE_SUFFIX: &str = ".error.txt";
/// Folders are read this many levels deep (a bound for pathological trees,
/// far beyond any real use); a folder deeper still is reported as an error
/// of the listing, never skipped silently.
pub const MAX_DEPTH: usize = 64;

/// What a file is, by extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Links(Format),
    /// An uploadable video and its `Content-Type`.
    Video(&'static str),
    Unsupported,
}

pub fn kind_of(path: &Path) -> Kind {
    if let Some(content_type) = video_content_type(path) {
        return Kind::Video(content_type);
    }
    let ext = path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase());
    match ext.as_deref() {
        None | Some("txt") | Some("urls") => Kind::Links(Format::Text),
        Some("url") => Kind::Links(Format::Shortcut),
        Some("webloc") => Kind::Links(Format::Webloc),
        Some("json") => Kind::Links(Format::Json),
        Some(_) => Kind::Unsupported,
    }
}

/// Names never looked at: hidden files (which covers `.done`, `.failed` and
/// editors' swap files), partial downloads and temporary files, Office lock
/// files (`~$…`), and the clutter file managers leave behind.
pub fn is_ignored(name: &OsStr) -> bool {
    let name = name.to_string_lossy();
    let lower = name.to_ascii_lowercase();
    name.starts_with('.')
        || name.starts_with("~$")
        || [".part", ".crdownload", ".tmp"]
            .iter()
            .any(|ext| lower.ends_with(ext))
        || lower == "thumbs.db"
        || lower == "desktop.ini"
}

/// A file found by a scan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub path: PathBuf,
    /// The first-level subfolder it sits in (under it at any depth): the
    /// preset it names. `None` at the top of the drop folder.
    pub folder: Option<String>,
}

impl Candidate {
    /// The path relative to the drop folder, for messages (control
    /// characters escaped).
    pub fn shown(&self, drop: &Path) -> String {
        shown(&self.path, drop)
    }
}

/// `path` relative to `drop`, for messages: control characters escaped, so
/// a name holding a newline or an escape sequence cannot forge log lines.
pub fn shown(path: &Path, drop: &Path) -> String {
    escape_controls(
        &path
            .strip_prefix(drop)
            .unwrap_or(path)
            .display()
            .to_string(),
    )
}

/// `text` with control characters (newline, carriage return, escape, DEL,
/// C1 controls) and bidirectional overrides written as `\n`, `\u{1b}`, …;
/// a backslash itself stays as it is.
pub fn escape_controls(text: &str) -> String {
    let bidi = |c: char| matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}');
    if !text.chars().any(|c| c.is_control() || bidi(c)) {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() || bidi(c) => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

/// Every candidate file under `drop`, and the folders that could not be read.
/// Symlinked files are candidates; symlinked folders are not descended.
pub fn list(drop: &Path) -> (Vec<Candidate>, Vec<(PathBuf, io::Error)>) {
    let mut found = Vec::new();
    let mut errors = Vec::new();
    walk(drop, None, 0, &mut found, &mut errors);
    found.sort_by(|a, b| a.path.cmp(&b.path));
    (found, errors)
}

fn walk(
    dir: &Path,
    folder: Option<&str>,
    depth: usize,
    found: &mut Vec<Candidate>,
    errors: &mut Vec<(PathBuf, io::Error)>,
) {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(err) => {
            errors.push((dir.to_path_buf(), err));
            return;
        }
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        if is_ignored(&name) {
            continue;
        }
        let path = entry.path();
        let Ok(file_type) = entry.file_type() else {
            continue;
        };
        if file_type.is_dir() {
            if depth < MAX_DEPTH {
                let sub = folder.map_or_else(|| name.to_string_lossy().into_owned(), String::from);
                walk(&path, Some(&sub), depth + 1, found, errors);
            } else {
                let why = format!(
                    "more than {MAX_DEPTH} folders deep: not read (move its files higher up)"
                );
                errors.push((path, io::Error::other(why)));
            }
            continue;
        }
        if file_type.is_symlink() && fs::metadata(&path).is_ok_and(|m| m.is_dir()) {
            continue;
        }
        found.push(Candidate {
            path,
            folder: folder.map(String::from),
        });
    }
}

/// `name` in `dir` if neither it nor its note exists there, else
/// `stem (2).ext`, `stem (3).ext`, …
pub fn free_name(dir: &Path, name: &OsStr) -> PathBuf {
    let taken = |candidate: &Path| {
        let mut note = candidate.as_os_str().to_os_string();
        note.push(NOTE_SUFFIX);
        fs::symlink_metadata(candidate).is_ok() || fs::symlink_metadata(&note).is_ok()
    };
    let first = dir.join(name);
    if !taken(&first) {
        return first;
    }
    let as_path = Path::new(name);
    let stem = as_path
        .file_stem()
        .unwrap_or(name)
        .to_string_lossy()
        .into_owned();
    let ext = as_path
        .extension()
        .map(|e| format!(".{}", e.to_string_lossy()))
        .unwrap_or_default();
    (2..)
        .map(|n| dir.join(format!("{stem} ({n}){ext}")))
        .find(|candidate| !taken(candidate))
        .expect("some suffix is free")
}

/// Where `file` will go in `bin` (`.done` or `.failed` under `drop`); the
/// bin is created if needed.
pub fn destination(drop: &Path, bin: &str, file: &Path) -> io::Result<PathBuf> {
    let dir = drop.join(bin);
    fs::create_dir_all(&dir)?;
    let name = file.file_name().unwrap_or(OsStr::new("file"));
    Ok(free_name(&dir, name))
}

/// Move `file` to `to` with one rename (same file system: both are inside
/// the drop folder), refusing to overwrite.
pub fn move_to(file: &Path, to: &Path) -> io::Result<()> {
    if fs::symlink_metadata(to).is_ok() {
        return Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            format!("{} already exists", to.display()),
        ));
    }
    fs::rename(file, to)
}

/// The note beside a failed file: `<name>.error.txt`.
pub fn note_path(filed: &Path) -> PathBuf {
    let mut note = filed.as_os_str().to_os_string();
    note.push(NOTE_SUFFIX);
    PathBuf::from(note)
}

/// Open `path` for reading if what it names (after any symlinks) lies inside
/// `drop`; `Ok(None)` if it lies outside. The check is made on the file
/// actually opened (`/proc/self/fd`), so a link swapped after the check
/// cannot lead elsewhere. Opened without blocking: a FIFO put in its place
/// is refused, not waited on.
pub fn open_inside(path: &Path, drop: &Path) -> io::Result<Option<fs::File>> {
    use std::os::unix::fs::OpenOptionsExt;
    use std::os::unix::io::AsRawFd;
    let file = fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)?;
    if !file.metadata()?.is_file() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "not a regular file",
        ));
    }
    let real = fs::read_link(format!("/proc/self/fd/{}", file.as_raw_fd()))
        .or_else(|_| fs::canonicalize(path))?;
    let root = fs::canonicalize(drop)?;
    Ok(real.starts_with(&root).then_some(file))
}

/// The file's content if it holds at most `limit` bytes, else `None` (it
/// grew since its size was checked). Never reads more than `limit + 1`.
pub fn read_at_most(file: fs::File, limit: u64) -> io::Result<Option<Vec<u8>>> {
    let mut bytes = Vec::new();
    file.take(limit.saturating_add(1)).read_to_end(&mut bytes)?;
    Ok((bytes.len() as u64 <= limit).then_some(bytes))
}

/// Streamed SHA-256 of a file (the `file:` key); see [`crate::util::sha256_file`].
pub use crate::util::sha256_file;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ignored_names() {
        for name in [
            ".hidden.txt",
            ".done",
            ".failed",
            "video.mp4.part",
            "video.MP4.crdownload",
            "list.txt.tmp",
            "~$report.docx",
            "Thumbs.db",
            "desktop.ini",
        ] {
            assert!(is_ignored(OsStr::new(name)), "{name}");
        }
        for name in ["talk.txt", "links", "clip.mp4", "a~$b.txt", "part.txt"] {
            assert!(!is_ignored(OsStr::new(name)), "{name}");
        }
    }

    #[test]
    fn kinds_by_extension() {
        assert_eq!(kind_of(Path::new("a.txt")), Kind::Links(Format::Text));
        assert_eq!(kind_of(Path::new("a.URLS")), Kind::Links(Format::Text));
        assert_eq!(kind_of(Path::new("links")), Kind::Links(Format::Text));
        assert_eq!(kind_of(Path::new("a.url")), Kind::Links(Format::Shortcut));
        assert_eq!(kind_of(Path::new("a.webloc")), Kind::Links(Format::Webloc));
        assert_eq!(kind_of(Path::new("a.json")), Kind::Links(Format::Json));
        assert_eq!(kind_of(Path::new("a.Mov")), Kind::Video("video/quicktime"));
        assert_eq!(kind_of(Path::new("a.mkv")), Kind::Unsupported);
        assert_eq!(kind_of(Path::new("a.pdf")), Kind::Unsupported);
    }

    #[test]
    fn listing_names_presets_and_skips_bins_hidden_and_symlinked_dirs() {
        let drop = tempfile::tempdir().unwrap();
        let d = drop.path();
        for dir in [".done", ".failed", "landscape/2024", ".hidden", "real"] {
            fs::create_dir_all(d.join(dir)).unwrap();
        }
        for file in [
            "top.txt",
            ".done/old.txt",
            ".failed/bad.txt",
            "landscape/talk.txt",
            "landscape/2024/deep.json",
            ".hidden/x.txt",
            "real/inside.txt",
            "movie.mp4.part",
        ] {
            fs::write(d.join(file), "x").unwrap();
        }
        std::os::unix::fs::symlink(d.join("real"), d.join("linked-dir")).unwrap();
        std::os::unix::fs::symlink(d.join("top.txt"), d.join("linked.txt")).unwrap();
        let (found, errors) = list(d);
        assert!(errors.is_empty());
        let got: Vec<(String, Option<&str>)> = found
            .iter()
            .map(|c| (c.shown(d), c.folder.as_deref()))
            .collect();
        assert_eq!(
            got,
            [
                ("landscape/2024/deep.json".to_string(), Some("landscape")),
                ("landscape/talk.txt".to_string(), Some("landscape")),
                ("linked.txt".to_string(), None),
                ("real/inside.txt".to_string(), Some("real")),
                ("top.txt".to_string(), None),
            ]
        );
    }

    #[test]
    fn clashes_get_suffixes_and_nothing_is_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        assert_eq!(free_name(d, OsStr::new("a.txt")), d.join("a.txt"));
        fs::write(d.join("a.txt"), "1").unwrap();
        assert_eq!(free_name(d, OsStr::new("a.txt")), d.join("a (2).txt"));
        fs::write(d.join("a (2).txt.error.txt"), "note").unwrap();
        assert_eq!(free_name(d, OsStr::new("a.txt")), d.join("a (3).txt"));
        fs::write(d.join("links"), "1").unwrap();
        assert_eq!(free_name(d, OsStr::new("links")), d.join("links (2)"));

        fs::write(d.join("src.txt"), "new").unwrap();
        let err = move_to(&d.join("src.txt"), &d.join("a.txt")).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AlreadyExists);
        assert_eq!(fs::read_to_string(d.join("a.txt")).unwrap(), "1");
        let to = destination(d, DONE, &d.join("src.txt")).unwrap();
        assert_eq!(to, d.join(".done/src.txt"));
        move_to(&d.join("src.txt"), &to).unwrap();
        assert_eq!(fs::read_to_string(&to).unwrap(), "new");
        assert_eq!(note_path(&to), d.join(".done/src.txt.error.txt"));
    }

    #[test]
    fn reads_stop_past_the_limit() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("list.txt");
        fs::write(&file, b"12345").unwrap();
        let open = || fs::File::open(&file).unwrap();
        assert_eq!(
            read_at_most(open(), 5).unwrap().as_deref(),
            Some(&b"12345"[..])
        );
        assert_eq!(read_at_most(open(), 4).unwrap(), None);
        // A file that grows without end is not read whole.
        let zero = fs::File::open("/dev/zero").unwrap();
        assert_eq!(read_at_most(zero, 1024).unwrap(), None);
    }

    #[test]
    fn control_characters_in_names_are_escaped() {
        assert_eq!(escape_controls("plain name.txt"), "plain name.txt");
        assert_eq!(
            escape_controls("a\nWARN forged\r\x1b[31m\u{202e}.txt"),
            "a\\nWARN forged\\r\\u{1b}[31m\\u{202e}.txt"
        );
        let drop = Path::new("/in");
        assert_eq!(shown(Path::new("/in/x\ny.txt"), drop), "x\\ny.txt");
    }

    #[test]
    fn links_leaving_the_drop_folder_are_not_opened() {
        let root = tempfile::tempdir().unwrap();
        let drop = root.path().join("inbox");
        fs::create_dir_all(drop.join(".links")).unwrap();
        fs::write(root.path().join("secret"), "k").unwrap();
        fs::write(drop.join(".links/inside.txt"), "x").unwrap();
        fs::write(drop.join("plain.txt"), "x").unwrap();
        std::os::unix::fs::symlink(root.path().join("secret"), drop.join("out.txt")).unwrap();
        std::os::unix::fs::symlink(".links/inside.txt", drop.join("in.txt")).unwrap();
        assert!(open_inside(&drop.join("out.txt"), &drop).unwrap().is_none());
        assert!(open_inside(&drop.join("in.txt"), &drop).unwrap().is_some());
        assert!(open_inside(&drop.join("plain.txt"), &drop)
            .unwrap()
            .is_some());
    }
}
