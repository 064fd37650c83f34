//! Taking one settled file: read or hash it, queue what it names, and file it
//! away under `.done/` or, with a note saying why, `.failed/`.
//!
//! Order, so that a crash at any instant loses nothing:
//! - links: queue every URL, then move the file. A crash in between leaves
//!   the file in place; the next scan finds its URLs already known and files it.
//! - videos: choose the file's place in `.done/`, queue the job with that
//!   path (the upload reads the file there), then rename it and wake the
//!   scheduler. A crash in between leaves the file in place and a job waiting
//!   for it; the next scan hashes it, finds the job, and moves the file to
//!   exactly the path the job names. (Renaming first would need a hash of
//!   every video in `.done/` at each start to find one left without a job.)

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::Utc;

use super::files::{
    destination, kind_of, move_to, note_path, open_inside, read_at_most, sha256_file, Candidate,
    Kind, DONE, FAILED,
};
use super::parse::{parse, Format};
use super::settle::Stamp;
use crate::api::upload::MAX_UPLOAD_BYTES;
use crate::config::Config;
use crate::model::identity::file_key;
use crate::model::{Job, Source};
use crate::sources::Intake;
use crate::store::{Inserted, StoreError};
use crate::util::human_size;

/// Larger "lists of links" are refused as not being one.
pub const MAX_LIST_BYTES: u64 = 1024 * 1024;
/// `Source.origin` of drop-folder jobs.
const ORIGIN: &str = "drop";
/// Why a link that leaves the drop folder is refused. The target is not
/// named: anyone who can write to the inbox could otherwise probe paths.
const OUTSIDE: &str = "it is a symbolic link to a file outside the drop folder: links out of \
                       the drop folder are never followed (copy or move the file in instead)";
/// Error notes are never wider than this (and never wider than the file).
const NOTE_MODE: u32 = 0o640;

/// Why a file could not be taken this time (it stays where it is). Files
/// that can never be used are not errors: they are filed under `.failed/`.
#[derive(Debug, thiserror::Error)]
pub enum TakeError {
    #[error("cannot read {path}: {source}")]
    Read { path: String, source: io::Error },
    #[error("cannot file {path} away as {to}: {source}")]
    Move {
        path: String,
        to: String,
        source: io::Error,
    },
    #[error("{path} changed while it was read; it is taken once it settles")]
    Changed { path: String },
    #[error("shutting down")]
    Cancelled,
    #[error("cannot queue {path}: {source}")]
    Store { path: String, source: StoreError },
}

/// What taking needs: the intake, the configuration in force and the drop
/// folder (absolute).
pub struct Ctx<'a> {
    pub intake: &'a Intake,
    pub config: Arc<Config>,
    pub drop: &'a Path,
    pub default_preset: &'a str,
}

impl Ctx<'_> {
    fn shown(&self, path: &Path) -> String {
        super::files::shown(path, self.drop)
    }

    fn known_presets(&self) -> String {
        let names: Vec<&str> = self.config.presets.keys().map(String::as_str).collect();
        names.join(", ")
    }
}

/// Take one file whose last observation was `stamp`.
pub async fn take(ctx: &Ctx<'_>, c: &Candidate, stamp: Stamp) -> Result<(), TakeError> {
    let kind = kind_of(&c.path);
    if kind == Kind::Unsupported {
        let reason = "unsupported file type: links go in .txt, .urls, .url, .webloc or .json \
                      files (or a file without extension); videos must be .mp4, .mov, .webm or .avi";
        return reject(ctx, c, reason.into());
    }
    if stamp.size == 0 {
        return reject(ctx, c, "the file is empty".into());
    }
    let preset = match &c.folder {
        None => ctx.default_preset.to_string(),
        Some(folder) if ctx.config.presets.contains_key(folder) => folder.clone(),
        Some(folder) => {
            let reason = format!(
                "the folder \"{folder}\" names no preset (a subfolder of the drop folder \
                 names the preset to use; known presets: {})",
                ctx.known_presets()
            );
            return reject(ctx, c, reason);
        }
    };
    match kind {
        Kind::Video(_) => take_video(ctx, c, stamp, &preset).await,
        Kind::Links(format) => take_links(ctx, c, format, stamp, &preset).await,
        Kind::Unsupported => unreachable!("handled above"),
    }
}

async fn take_links(
    ctx: &Ctx<'_>,
    c: &Candidate,
    format: Format,
    stamp: Stamp,
    folder_preset: &str,
) -> Result<(), TakeError> {
    let shown = ctx.shown(&c.path);
    if stamp.size > MAX_LIST_BYTES {
        let reason = format!(
            "{} is too large for a list of links (at most {})",
            human_size(stamp.size),
            human_size(MAX_LIST_BYTES)
        );
        return reject(ctx, c, reason);
    }
    let read_err = |source| TakeError::Read {
        path: shown.clone(),
        source,
    };
    let Some(file) = open_inside(&c.path, ctx.drop).map_err(read_err)? else {
        return reject(ctx, c, OUTSIDE.into());
    };
    // The size above is from the last look: a file that grew since is
    // never read whole.
    let bytes = read_at_most(file, MAX_LIST_BYTES).map_err(read_err)?;
    let Some(bytes) = bytes else {
        return Err(TakeError::Changed { path: shown });
    };
    let parsed = match parse(format, &bytes) {
        Ok(parsed) => parsed,
        Err(err) => return reject(ctx, c, err.to_string()),
    };
    let mut problems = parsed.problems;
    let (mut queued, mut known) = (0, 0);
    // A file that holds one link is named after its video (`Talk.webloc`).
    let file_title = match format {
        Format::Shortcut | Format::Webloc => true,
        Format::Json => parsed.entries.len() == 1,
        Format::Text => false,
    }
    .then(|| {
        c.path
            .file_stem()
            .map(|s| s.to_string_lossy().trim().to_owned())
    })
    .flatten()
    .filter(|s| !s.is_empty());
    let mut lookups = crate::sources::title::MAX_LOOKUPS_AT_ONCE;
    for mut entry in parsed.entries {
        let preset = entry.preset.clone();
        let preset = preset.as_deref().unwrap_or(folder_preset);
        if !ctx.config.presets.contains_key(preset) {
            problems.push(format!(
                "{}: no preset \"{preset}\" (known presets: {})",
                entry.place,
                ctx.known_presets()
            ));
            continue;
        }
        // A Find Moments preset makes a job of its own (see model::moments).
        let job_key = ctx.config.job_key(&entry.key.key, preset);
        entry.key.key = job_key;
        // The video's own title (oEmbed) first, then the name given, then
        // the file's, then the page's `og:title`/`<title>`.
        let found = if lookups > 0 {
            lookups -= 1;
            crate::sources::look_up_title(&ctx.config, &ctx.intake.store, &entry.key).await
        } else {
            crate::sources::title::Found::default()
        };
        let source = Source {
            url: entry.key.submit_url.clone(),
            title: found
                .title
                .clone()
                .filter(|_| found.from_oembed)
                .or_else(|| entry.name.clone())
                .or_else(|| file_title.clone())
                .or(found.title),
            feed: None,
            published: found.published,
            origin: ORIGIN.into(),
            link: None,
            duration_s: found.duration_s,
        };
        let inserted = crate::sources::enqueue(ctx.intake, &entry.key.key, source, preset, None)
            .await
            .map_err(|source| TakeError::Store {
                path: shown.clone(),
                source,
            })?;
        match inserted {
            Inserted::New(_) => queued += 1,
            Inserted::Existing(job) => {
                known += 1;
                tracing::info!(job = job.id, key = %job.key, "{shown} {}: already known", entry.place);
            }
        }
    }
    if problems.is_empty() {
        let to = file_away(ctx, c, DONE, None)?;
        tracing::info!(queued, known, "took {shown} → {}", ctx.shown(&to));
        return Ok(());
    }
    let used = queued + known;
    let mut reason = problems.join("\n");
    if used > 0 {
        reason.push_str(&format!(
            "\n\nThe other {used} URL(s) in it were queued ({known} of them already known). \
             Fix the lines above and drop the file again: URLs already queued are not queued twice."
        ));
    }
    reject(ctx, c, reason)
}

async fn take_video(
    ctx: &Ctx<'_>,
    c: &Candidate,
    stamp: Stamp,
    preset: &str,
) -> Result<(), TakeError> {
    let shown = ctx.shown(&c.path);
    if stamp.size > MAX_UPLOAD_BYTES {
        let reason = format!(
            "the video is {}, over the {} the WayinVideo Upload API accepts",
            human_size(stamp.size),
            human_size(MAX_UPLOAD_BYTES)
        );
        return reject(ctx, c, reason);
    }
    if c.path.to_str().is_none() {
        return reject(ctx, c, "the file name is not valid UTF-8: rename it".into());
    }
    let opened = open_inside(&c.path, ctx.drop).map_err(|source| TakeError::Read {
        path: shown.clone(),
        source,
    })?;
    let Some(file) = opened else {
        return reject(ctx, c, OUTSIDE.into());
    };
    let hash = hash(ctx, file, &shown).await?;
    let now = fs::metadata(&c.path).map(|m| Stamp::of(&m));
    if now.ok() != Some(stamp) {
        return Err(TakeError::Changed { path: shown });
    }
    let mut key = file_key(&hash);
    key.key = ctx.config.job_key(&key.key, preset);
    let store_err = |source| TakeError::Store {
        path: shown.clone(),
        source,
    };
    if let Some(job) = ctx.intake.store.get(&key.key).map_err(store_err)? {
        return file_duplicate(ctx, c, &job);
    }
    let to = destination(ctx.drop, DONE, &c.path).map_err(|e| move_error(ctx, c, ctx.drop, e))?;
    // A symlink is moved as a link: the upload reads its target (a relative
    // link would point elsewhere from `.done/`).
    let upload_from = if is_symlink(&c.path) {
        fs::canonicalize(&c.path).map_err(|source| TakeError::Read {
            path: shown.clone(),
            source,
        })?
    } else {
        to.clone()
    };
    let title = c.path.file_stem().map(|s| s.to_string_lossy().into_owned());
    let source = Source {
        url: upload_from.to_string_lossy().into_owned(),
        title,
        feed: None,
        published: None,
        origin: ORIGIN.into(),
        link: None,
        duration_s: None,
    };
    // Not `sources::enqueue`: the scheduler is woken only once the file is
    // where the job says.
    let inserted = ctx
        .intake
        .store
        .insert_new(&key.key, source, preset, None, Utc::now())
        .await
        .map_err(store_err)?;
    let job = match inserted {
        Inserted::New(job) => job,
        Inserted::Existing(job) => return file_duplicate(ctx, c, &job),
    };
    move_to(&c.path, &to).map_err(|e| move_error(ctx, c, &to, e))?;
    tracing::info!(job = job.id, key = %job.key, "queued {shown} for upload; filed as {}", ctx.shown(&to));
    ctx.intake.wake();
    Ok(())
}

/// The streamed SHA-256, off the async threads.
async fn hash(ctx: &Ctx<'_>, file: fs::File, shown: &str) -> Result<String, TakeError> {
    let cancel = ctx.intake.cancel.clone();
    let hashed = tokio::task::spawn_blocking(move || sha256_file(file, &cancel))
        .await
        .map_err(|e| io::Error::other(e.to_string()));
    match hashed {
        Ok(Ok(hash)) => Ok(hash),
        Ok(Err(err)) if err.kind() == io::ErrorKind::Interrupted => Err(TakeError::Cancelled),
        Ok(Err(source)) | Err(source) => Err(TakeError::Read {
            path: shown.to_string(),
            source,
        }),
    }
}

/// A video already known: never uploaded again, filed under `.done/`. If
/// its job still waits for a file at a `.done/` path that is missing (a
/// crash between queueing and moving), this is that file: it goes there.
fn file_duplicate(ctx: &Ctx<'_>, c: &Candidate, job: &Job) -> Result<(), TakeError> {
    let expected = PathBuf::from(&job.source.url);
    let waiting = job.source.origin == ORIGIN
        && !job.state.is_terminal()
        && job.video_url.is_none()
        && expected.parent() == Some(ctx.drop.join(DONE).as_path())
        && fs::symlink_metadata(&expected).is_err();
    let to = if waiting {
        move_to(&c.path, &expected).map_err(|e| move_error(ctx, c, &expected, e))?;
        ctx.intake.wake();
        expected
    } else {
        file_away(ctx, c, DONE, None)?
    };
    tracing::info!(
        job = job.id, key = %job.key,
        "{} is a video already known as job {} ({}): not uploaded again; filed as {}",
        ctx.shown(&c.path), job.id, job.state.name(), ctx.shown(&to)
    );
    Ok(())
}

/// File `c` under `.failed/` with a note saying why.
fn reject(ctx: &Ctx<'_>, c: &Candidate, reason: String) -> Result<(), TakeError> {
    let note = format!(
        "clipwatch could not use {} (taken {}):\n\n{reason}\n",
        ctx.shown(&c.path),
        crate::util::rfc3339(Utc::now())
    );
    let to = file_away(ctx, c, FAILED, Some(&note))?;
    let first_line = reason.lines().next().unwrap_or_default();
    tracing::warn!("{} → {}: {first_line}", ctx.shown(&c.path), ctx.shown(&to));
    Ok(())
}

/// Move `c` into `bin` under a free name; a note, if any, is written first
/// (a crash between the two leaves the file to be taken again).
fn file_away(
    ctx: &Ctx<'_>,
    c: &Candidate,
    bin: &str,
    note: Option<&str>,
) -> Result<PathBuf, TakeError> {
    let to = destination(ctx.drop, bin, &c.path)
        .map_err(|e| move_error(ctx, c, &ctx.drop.join(bin), e))?;
    if let Some(note) = note {
        let note_file = note_path(&to);
        write_note(&note_file, note, note_mode(&c.path))
            .map_err(|e| move_error(ctx, c, &note_file, e))?;
    }
    move_to(&c.path, &to).map_err(|e| move_error(ctx, c, &to, e))?;
    Ok(to)
}

/// The mode of an error note: the taken file's, never wider than
/// [`NOTE_MODE`] (a symlink's own 0777 counts as nothing narrower).
fn note_mode(taken: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    let mode = fs::symlink_metadata(taken)
        .ok()
        .filter(|m| !m.file_type().is_symlink())
        .map_or(NOTE_MODE, |m| m.permissions().mode());
    mode & NOTE_MODE
}

/// Write a new note with `mode` (exact: the umask can only narrow it
/// further, and an existing file is never written through).
fn write_note(path: &Path, note: &str, mode: u32) -> io::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)?;
    file.write_all(note.as_bytes())?;
    file.sync_all()
}

fn move_error(ctx: &Ctx<'_>, c: &Candidate, to: &Path, source: io::Error) -> TakeError {
    TakeError::Move {
        path: ctx.shown(&c.path),
        to: ctx.shown(to),
        source,
    }
}

fn is_symlink(path: &Path) -> bool {
    fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink())
}
