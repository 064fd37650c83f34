//! Editing the configuration file in place for `feeds add/remove/edit/
//! import`: the TOML is edited as a document (`toml_edit`), so every
//! comment, blank line and key order the user wrote stays as it was. The
//! result is checked like a loaded file before it replaces the old one, and
//! is written atomically (a temporary file renamed over it) with the old
//! file's mode and owner.

use std::io::Write as _;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use toml_edit::{ArrayOfTables, DocumentMut, Item, Table, Value};

use super::{Config, ConfigError, FeedSource};

/// Why the file could not be edited. Each message names the file.
#[derive(Debug, thiserror::Error)]
pub enum EditError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is not valid TOML, so it cannot be edited: {reason}")]
    Syntax { path: PathBuf, reason: String },
    #[error(
        "cannot write {path}: {source}. Run this as a user who may write it (e.g. with sudo), \
         or edit the file by hand"
    )]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "{path} writes `feeds` as an inline array, which clipwatch does not edit; write each \
         feed as a [[feeds]] table, or edit the file by hand"
    )]
    InlineFeeds { path: PathBuf },
    #[error("no feed named {name:?} in {path}; `clipwatch feeds` lists them")]
    NoSuchFeed { name: String, path: PathBuf },
    #[error("the edited configuration would not load, so {path} was left unchanged: {source}")]
    Invalid {
        path: PathBuf,
        source: Box<ConfigError>,
    },
}

/// One `[[feeds]]` key and its value, in the order written.
pub type FeedKey = (&'static str, Value);

/// The configuration file as an editable document.
pub struct ConfigFile {
    path: PathBuf,
    doc: DocumentMut,
}

impl ConfigFile {
    pub fn read(path: &Path) -> Result<ConfigFile, EditError> {
        let text = std::fs::read_to_string(path).map_err(|source| EditError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let doc = text
            .parse::<DocumentMut>()
            .map_err(|err| EditError::Syntax {
                path: path.to_path_buf(),
                reason: err.to_string(),
            })?;
        if doc
            .get("feeds")
            .is_some_and(|feeds| !feeds.is_array_of_tables())
        {
            return Err(EditError::InlineFeeds {
                path: path.to_path_buf(),
            });
        }
        Ok(ConfigFile {
            path: path.to_path_buf(),
            doc,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The document as it would be written.
    pub fn text(&self) -> String {
        self.doc.to_string()
    }

    /// Append a `[[feeds]]` table with `keys`. The first feed of a file
    /// takes the file's closing comments (the example's commented-out
    /// feeds) above it, so they stay where they were.
    pub fn add_feed(&mut self, keys: Vec<FeedKey>) {
        let mut table = Table::new();
        for (key, value) in keys {
            table.insert(key, Item::Value(value));
        }
        if self.feeds().is_none() {
            let trailing = self.doc.trailing().as_str().unwrap_or_default().to_owned();
            if !trailing.trim().is_empty() {
                table.decor_mut().set_prefix(format!("{trailing}\n"));
                self.doc.set_trailing("");
            } else {
                table.decor_mut().set_prefix("\n");
            }
            self.doc
                .insert("feeds", Item::ArrayOfTables(ArrayOfTables::new()));
        } else {
            table.decor_mut().set_prefix("\n");
        }
        self.feeds_mut().expect("just made").push(table);
    }

    /// Remove the `[[feeds]]` table named `name` (with the comments above it).
    pub fn remove_feed(&mut self, name: &str) -> Result<(), EditError> {
        let index = self.feed_index(name)?;
        let feeds = self.feeds_mut().expect("found above");
        feeds.remove(index);
        if feeds.is_empty() {
            self.doc.remove("feeds");
        }
        Ok(())
    }

    /// Set (or, with `None`, remove) `key` of the feed named `name`. A
    /// replaced value keeps its line's comment.
    pub fn set_feed_key(
        &mut self,
        name: &str,
        key: &str,
        value: Option<Value>,
    ) -> Result<(), EditError> {
        let index = self.feed_index(name)?;
        let table = self
            .feeds_mut()
            .and_then(|feeds| feeds.get_mut(index))
            .expect("found above");
        match value {
            None => {
                table.remove(key);
            }
            Some(mut value) => {
                if let Some(old) = table.get(key).and_then(Item::as_value) {
                    *value.decor_mut() = old.decor().clone();
                }
                table.insert(key, Item::Value(value));
            }
        }
        Ok(())
    }

    /// The source and name of each `[[feeds]]` table, as written.
    pub fn feed_names(&self) -> Vec<String> {
        self.feeds()
            .map(|feeds| {
                feeds
                    .iter()
                    .filter_map(|t| t.get("name").and_then(Item::as_str).map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The `[[feeds]]` table named `name`, as its TOML text.
    pub fn feed_text(&self, name: &str) -> Option<String> {
        let index = self.feed_index(name).ok()?;
        let table = self.feeds()?.get(index)?;
        let mut shown = table.clone();
        shown.decor_mut().clear();
        Some(format!("[[feeds]]\n{shown}"))
    }

    /// Check the edited document as the configuration would be loaded.
    pub fn check(&self) -> Result<Config, EditError> {
        super::parse(&self.text(), &self.path, &|name| std::env::var(name).ok()).map_err(|source| {
            EditError::Invalid {
                path: self.path.clone(),
                source: Box::new(source),
            }
        })
    }

    /// Replace the file with the document: a temporary file beside it,
    /// with the old file's mode and owner, renamed over it. Where the folder
    /// cannot take a new file but the file itself may be written, the file
    /// is rewritten in place.
    pub fn write(&self) -> Result<(), EditError> {
        let write_error = |source| EditError::Write {
            path: self.path.clone(),
            source,
        };
        let text = self.text();
        let meta = std::fs::metadata(&self.path).map_err(write_error)?;
        let dir = self
            .path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        match tempfile_in(dir, &self.path) {
            Ok((tmp_path, mut file)) => {
                let result = (|| {
                    file.set_permissions(std::fs::Permissions::from_mode(meta.mode() & 0o7777))?;
                    // Only root may give a file away; keep the group where we can.
                    let _ = std::os::unix::fs::fchown(&file, Some(meta.uid()), Some(meta.gid()));
                    file.write_all(text.as_bytes())?;
                    file.sync_all()?;
                    std::fs::rename(&tmp_path, &self.path)
                })();
                if result.is_err() {
                    let _ = std::fs::remove_file(&tmp_path);
                }
                result.map_err(write_error)
            }
            Err(err) if err.kind() == std::io::ErrorKind::PermissionDenied => {
                std::fs::write(&self.path, text).map_err(write_error)
            }
            Err(err) => Err(write_error(err)),
        }
    }

    fn feeds(&self) -> Option<&ArrayOfTables> {
        self.doc.get("feeds").and_then(Item::as_array_of_tables)
    }

    fn feeds_mut(&mut self) -> Option<&mut ArrayOfTables> {
        self.doc
            .get_mut("feeds")
            .and_then(Item::as_array_of_tables_mut)
    }

    fn feed_index(&self, name: &str) -> Result<usize, EditError> {
        self.feeds()
            .and_then(|feeds| {
                feeds
                    .iter()
                    .position(|t| t.get("name").and_then(Item::as_str) == Some(name))
            })
            .ok_or_else(|| EditError::NoSuchFeed {
                name: name.to_owned(),
                path: self.path.clone(),
            })
    }
}

/// A new file `.NAME.clipwatch-edit-PID` in `dir`, created exclusively.
fn tempfile_in(dir: &Path, target: &Path) -> std::io::Result<(PathBuf, std::fs::File)> {
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "config.toml".into());
    let path = dir.join(format!(".{name}.clipwatch-edit-{}", std::process::id()));
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)?;
    Ok((path, file))
}

/// What `feeds add SOURCE` means: a YouTube channel or playlist in any form
/// `youtube =` accepts, else an http(s) feed URL. `youtube_host` is the host
/// of `[youtube] base_url` (its URLs count as youtube.com's).
pub fn classify_source(value: &str, youtube_host: Option<&str>) -> Result<FeedSource, String> {
    let value = value.trim();
    let youtube = super::feeds::check_youtube(value, youtube_host);
    if youtube.is_ok() {
        return Ok(FeedSource::Youtube(value.to_owned()));
    }
    // youtube.com URLs are channels or playlists; other URLs on the
    // `[youtube] base_url` host (a proxy) may be feeds.
    let looks_like_youtube = !value.contains("://")
        || url::Url::parse(value)
            .is_ok_and(|u| u.host_str().unwrap_or_default().ends_with("youtube.com"));
    if looks_like_youtube {
        return Err(youtube.expect_err("checked above"));
    }
    super::feeds::check_http_url(value).map(|url| FeedSource::Url(url.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const WITH_COMMENTS: &str = "# top comment\n[api]\nbase_url = \"http://127.0.0.1:9/open/v2\" # where\n\n[state]\ndir = \"state\"\n\n[output]\ndir = \"clips\"\n\n# Feeds: examples below\n# [[feeds]]\n# name = \"x\"\n";

    fn file(text: &str) -> (tempfile::TempDir, ConfigFile) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        std::fs::write(&path, text).unwrap();
        let file = ConfigFile::read(&path).unwrap();
        (dir, file)
    }

    fn feed(name: &str, url: &str) -> Vec<FeedKey> {
        vec![("name", name.into()), ("url", url.into())]
    }

    #[test]
    fn adding_keeps_every_comment_and_the_closing_examples_above_the_feed() {
        let (_dir, mut file) = file(WITH_COMMENTS);
        file.add_feed(feed("One", "https://example.com/feed.xml"));
        file.add_feed(feed("Two", "https://example.com/two.xml"));
        let text = file.text();
        assert!(text.starts_with(WITH_COMMENTS.trim_end()), "{text}");
        let examples = text.find("# name = \"x\"").unwrap();
        let one = text.find("name = \"One\"").unwrap();
        let two = text.find("name = \"Two\"").unwrap();
        assert!(examples < one && one < two, "{text}");
        assert_eq!(file.feed_names(), ["One", "Two"]);
        file.check().unwrap();
    }

    #[test]
    fn removing_and_editing_touch_only_that_feed() {
        let (_dir, mut file) = file(WITH_COMMENTS);
        file.add_feed(feed("One", "https://example.com/feed.xml"));
        file.add_feed(feed("Two", "https://example.com/two.xml"));
        file.set_feed_key("Two", "interval", Some("30m".into()))
            .unwrap();
        file.remove_feed("One").unwrap();
        assert_eq!(file.feed_names(), ["Two"]);
        assert!(file.text().contains("interval = \"30m\""));
        assert!(file.text().contains("# where"));
        assert!(matches!(
            file.remove_feed("One"),
            Err(EditError::NoSuchFeed { .. })
        ));
        file.remove_feed("Two").unwrap();
        assert!(file.feed_names().is_empty());
        file.check().unwrap();
    }

    #[test]
    fn a_replaced_value_keeps_its_comment() {
        let text =
            "[[feeds]]\nname = \"A\"\nurl = \"https://e.com/f\"\ninterval = \"15m\"   # often\n";
        let (_dir, mut file) = file(text);
        file.set_feed_key("A", "interval", Some("1h".into()))
            .unwrap();
        assert!(
            file.text().contains("interval = \"1h\"   # often"),
            "{}",
            file.text()
        );
    }

    #[test]
    fn an_inline_feeds_array_is_not_edited() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        std::fs::write(
            &path,
            "feeds = [{ name = \"A\", url = \"https://e.com/f\" }]\n",
        )
        .unwrap();
        assert!(matches!(
            ConfigFile::read(&path),
            Err(EditError::InlineFeeds { .. })
        ));
    }

    #[test]
    fn an_invalid_result_is_refused() {
        let (_dir, mut file) = file(WITH_COMMENTS);
        file.add_feed(vec![("name", "X".into()), ("url", "notaurl".into())]);
        assert!(matches!(file.check(), Err(EditError::Invalid { .. })));
    }

    #[test]
    fn sources_are_youtube_forms_or_feed_urls() {
        assert_eq!(
            classify_source("@lexfridman", None),
            Ok(FeedSource::Youtube("@lexfridman".into()))
        );
        assert!(matches!(
            classify_source("https://example.com/feed.xml", None),
            Ok(FeedSource::Url(_))
        ));
        assert!(classify_source("https://www.youtube.com/watch?v=x", None).is_err());
        assert!(classify_source("lexfridman", None).is_err());
        assert!(classify_source("ftp://example.com/f", None).is_err());
    }

    #[test]
    fn writing_keeps_the_mode() {
        let (dir, mut file) = file(WITH_COMMENTS);
        let path = dir.path().join("config.toml");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
        file.add_feed(feed("One", "https://example.com/feed.xml"));
        file.write().unwrap();
        let meta = std::fs::metadata(&path).unwrap();
        assert_eq!(meta.mode() & 0o777, 0o640);
        assert!(std::fs::read_to_string(&path)
            .unwrap()
            .contains("name = \"One\""));
    }
}
