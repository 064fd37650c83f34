//! `submit`: queue one video by URL or local file, once per canonical key
//! (`force` starts a finished one over). Following the job to its end
//! (`--wait`) is the command line's part.

use chrono::Utc;
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use super::{CommandError, Context, JobRef};
use crate::model::identity;
use crate::model::{Event, Job, Source};
use crate::store::Inserted;

/// The fields of [`super::Request::Submit`].
pub struct Submit {
    pub target: String,
    pub preset: Option<String>,
    pub name: Option<String>,
    pub force: bool,
}

/// What `submit` did. On the wire: `{"outcome": …, "job": {…}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Submitted {
    /// A new job.
    Queued { job: JobRef },
    /// A finished job started over (`force`).
    Requeued { job: JobRef },
    /// The key is known already; nothing changed. `finished`: `force`
    /// would start it over.
    AlreadyKnown { job: JobRef, finished: bool },
}

impl Submitted {
    pub fn job(&self) -> &JobRef {
        match self {
            Submitted::Queued { job }
            | Submitted::Requeued { job }
            | Submitted::AlreadyKnown { job, .. } => job,
        }
    }
}

/// What `submit` queues: the canonical key, the URL the API gets (or the
/// local file to upload), and a title when one is known.
struct Resolved {
    key: String,
    url: String,
    title: Option<String>,
}

/// Queue the video (once per canonical key), or start a finished job over
/// with `force`.
pub async fn queue(ctx: &Context, submit: &Submit) -> Result<Submitted, CommandError> {
    let preset = submit
        .preset
        .clone()
        .unwrap_or_else(|| crate::config::DEFAULT_PRESET.to_string());
    if !ctx.config.presets.contains_key(&preset) {
        let known: Vec<&str> = ctx.config.presets.keys().map(String::as_str).collect();
        return Err(CommandError::usage(format!(
            "no preset \"{preset}\" (known: {})",
            known.join(", ")
        )));
    }
    let mut resolved = resolve(&submit.target, ctx.local_files).await?;
    // A Find Moments preset makes a job of its own (see model::moments).
    resolved.key = ctx.config.job_key(&resolved.key, &preset);
    let mut source = Source {
        url: resolved.url,
        title: resolved.title,
        feed: None,
        published: None,
        origin: "submit".into(),
        link: None,
        duration_s: None,
    };
    // A URL's real title and date (oEmbed, the page), unless named here.
    if source.title.is_none() && submit.name.is_none() {
        if let Ok(url_key) = identity::canonical_key(&source.url) {
            let found = crate::sources::look_up_title(&ctx.config, &ctx.store, &url_key).await;
            source.title = found.title;
            source.published = found.published;
            source.duration_s = found.duration_s;
        }
    }
    let inserted = ctx
        .store
        .insert_new(
            &resolved.key,
            source,
            &preset,
            submit.name.clone(),
            Utc::now(),
        )
        .await?;
    let submitted = match inserted {
        Inserted::New(job) => Submitted::Queued {
            job: JobRef::new(&job),
        },
        Inserted::Existing(job) => requeue_existing(ctx, job, submit, &preset).await?,
    };
    ctx.wake();
    Ok(submitted)
}

/// A URL, or (with `local_files`) a local video file, which must exist
/// where the request runs.
async fn resolve(target: &str, local_files: bool) -> Result<Resolved, CommandError> {
    let path = std::path::Path::new(target);
    if local_files && path.is_file() {
        return local_video(path).await;
    }
    let key = identity::canonical_key(target).map_err(|e| CommandError::usage(e.to_string()))?;
    Ok(Resolved {
        key: key.key,
        url: key.submit_url,
        title: None,
    })
}

/// A local video: its content hash is its identity; it is uploaded later.
async fn local_video(path: &std::path::Path) -> Result<Resolved, CommandError> {
    let shown = path.display().to_string();
    if crate::api::upload::video_content_type(path).is_none() {
        return Err(CommandError::usage(format!(
            "{shown}: not a video the Upload API takes (.mp4 .mov .webm .avi)"
        )));
    }
    let unreadable = |e: std::io::Error| CommandError::usage(format!("{shown}: {e}"));
    let absolute = std::fs::canonicalize(path).map_err(unreadable)?;
    let to_hash = absolute.clone();
    let hash = tokio::task::spawn_blocking(move || {
        std::fs::File::open(&to_hash)
            .and_then(|f| crate::util::sha256_file(f, &CancellationToken::new()))
    })
    .await
    .map_err(CommandError::failed)?
    .map_err(unreadable)?;
    Ok(Resolved {
        key: identity::file_key(&hash).key,
        title: absolute
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned()),
        url: absolute.to_string_lossy().into_owned(),
    })
}

/// A key seen before: `force` starts it over; otherwise say where it is.
async fn requeue_existing(
    ctx: &Context,
    mut job: Job,
    submit: &Submit,
    preset: &str,
) -> Result<Submitted, CommandError> {
    let finished = job.state.is_terminal();
    if !submit.force {
        return Ok(Submitted::AlreadyKnown {
            job: JobRef::new(&job),
            finished,
        });
    }
    if !finished {
        return Err(CommandError::refused(format!(
            "job {} is {}; --force applies to finished jobs",
            job.id,
            job.state.name()
        )));
    }
    job.apply(Event::Forced, Utc::now())
        .map_err(CommandError::failed)?;
    job.preset = preset.to_string();
    if submit.name.is_some() {
        job.name = submit.name.clone();
    }
    ctx.store.save(&job).await?;
    Ok(Submitted::Requeued {
        job: JobRef::new(&job),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn local_files_are_taken_only_where_allowed() {
        let dir = tempfile::tempdir().unwrap();
        let video = dir.path().join("talk.mp4");
        std::fs::write(&video, b"a video").unwrap();
        let target = video.to_str().unwrap();
        let resolved = resolve(target, true).await.unwrap();
        assert!(resolved.key.starts_with("file:"), "{}", resolved.key);
        assert_eq!(resolved.title.as_deref(), Some("talk"));
        let refused = resolve(target, false).await.err().expect("a path refused");
        assert_eq!(refused.kind, super::super::ErrorKind::Usage);
    }
}
