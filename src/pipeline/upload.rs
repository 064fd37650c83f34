//! The upload step, for local files (`file:` keys): the taken file is
//! checked again (never through a link, still the content that was hashed)
//! and streamed to a presigned URL from the Upload API; the API's identity
//! for it is what submit then sends.

use std::path::{Path, PathBuf};

use tokio_util::sync::CancellationToken;

use super::step::{JobRun, Outcome, Stepped};
use crate::api::upload::{video_content_type, MAX_UPLOAD_BYTES};
use crate::api::{ApiClient, ApiError};
use crate::model::Event;
use crate::util::human_size;
use crate::util::sha256_file;

/// New upload URLs asked for in one attempt when the bucket refuses one.
const MAX_UPLOAD_TICKETS: u32 = 3;

impl JobRun {
    /// A local file (`file:` key) not uploaded yet.
    pub(super) fn needs_upload(&self) -> bool {
        self.job.key.starts_with("file:") && self.job.video_url.is_none()
    }

    /// Upload a local file (see `upload_step`).
    pub(super) async fn upload(&mut self) -> Outcome {
        self.upload_step().await.into()
    }

    /// Upload the file named by the job's source (its place under the drop
    /// folder's `.done/`), then record the API's identity for it. A refused
    /// presigned URL (expired, 403) is replaced with a new one; a new URL is
    /// also asked for on every later attempt, so none outlives its hour.
    async fn upload_step(&mut self) -> Stepped {
        let Some(api) = self.ctx.api.clone() else {
            return Ok(Outcome::Released);
        };
        let path = PathBuf::from(&self.job.source.url);
        self.progress("uploading");
        // Durable before the first request: a crash mid-upload is redone.
        self.transition(Event::UploadStarted).await?;
        let mut tickets = 0;
        loop {
            match self.upload_once(&api, &path).await {
                Ok(identity) => {
                    self.transition(Event::Uploaded {
                        video_url: identity,
                    })
                    .await?;
                    return Ok(Outcome::Moved);
                }
                Err(Upload::Cancelled) => return Ok(Outcome::Cancelled),
                Err(Upload::Refused(err)) if tickets < MAX_UPLOAD_TICKETS => {
                    tickets += 1;
                    tracing::info!(job = self.job.id, key = %self.job.key, "{err}; asking for a new upload URL");
                }
                Err(Upload::Fatal(reason)) => return self.fail(reason).await,
                Err(Upload::Retry(err) | Upload::Refused(err)) => {
                    return self.defer("upload", err).await
                }
            }
        }
    }

    /// One ticket and one PUT. Returns the identity to submit. The file is
    /// opened and checked just before the PUT ([`open_taken`]), which streams from
    /// that very handle, so a `.done/` entry swapped after it was taken (for
    /// a symlink to a secret, or another file) never reaches the bucket.
    async fn upload_once(&self, api: &ApiClient, path: &Path) -> Result<String, Upload> {
        let shown = path.display();
        let Some(content_type) = video_content_type(path) else {
            return Err(Upload::Fatal(format!(
                "{shown}: the Upload API takes .mp4, .mov, .webm and .avi files"
            )));
        };
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "video.mp4".into());
        let ticket = match api.upload_ticket(&name).await {
            Ok(ticket) => ticket,
            Err(ApiError::Cancelled) => return Err(Upload::Cancelled),
            Err(err @ ApiError::Invalid { .. }) => return Err(Upload::Fatal(err.to_string())),
            Err(err) => return Err(Upload::Retry(err.to_string())),
        };
        // Opened and checked after the ticket, which may wait out a pause
        // for hours: as close to the send as can be.
        let (file, size) = open_taken(path, &self.job.key, &self.ctx.cancel).await?;
        self.progress(format!("uploading {}", human_size(size)));
        let sent = tokio::select! {
            () = self.ctx.cancel.cancelled() => return Err(Upload::Cancelled),
            sent = api.upload_file(&ticket, file, size, content_type) => sent,
        };
        match sent {
            Ok(()) => {
                tracing::info!(job = self.job.id, key = %self.job.key, size, "uploaded {name}");
                Ok(ticket.identity)
            }
            Err(err @ ApiError::UploadRefused { .. }) => Err(Upload::Refused(err.to_string())),
            Err(ApiError::Cancelled) => Err(Upload::Cancelled),
            Err(err) => Err(Upload::Retry(err.to_string())),
        }
    }
}

/// Open the taken file at `path` for its upload, and prove it is still the
/// file that was taken: never through a symlink (`O_NOFOLLOW`; the take
/// already resolved any link the user dropped), a regular non-empty file
/// within the Upload API's limit, whose SHA-256 is the one in the job's key
/// (`file:<sha256>`). Hashing reads the file once more before any byte is
/// sent; the handle is then rewound and returned with the size to send.
/// Anything else fails the job: the `.done/` entry was replaced, and the
/// user drops the video again.
async fn open_taken(
    path: &Path,
    key: &str,
    cancel: &CancellationToken,
) -> Result<(tokio::fs::File, u64), Upload> {
    let path = path.to_path_buf();
    let expected = crate::model::moments::video_key(key)
        .strip_prefix("file:")
        .unwrap_or_default()
        .to_ascii_lowercase();
    let cancel = cancel.clone();
    let checked =
        tokio::task::spawn_blocking(move || open_taken_blocking(&path, &expected, &cancel))
            .await
            .map_err(|e| Upload::Retry(format!("checking the file to upload failed: {e}")))?;
    let (file, size) = checked?;
    Ok((tokio::fs::File::from_std(file), size))
}

fn open_taken_blocking(
    path: &Path,
    expected: &str,
    cancel: &CancellationToken,
) -> Result<(std::fs::File, u64), Upload> {
    use std::io::{Seek, SeekFrom};
    use std::os::unix::fs::OpenOptionsExt;
    let shown = path.display();
    let replaced = |what: &str| {
        Upload::Fatal(format!(
            "{shown} {what} since it was taken: the file in .done/ was replaced, so it is \
             not uploaded. Drop the video in again to clip it"
        ))
    };
    let file = match std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
    {
        Ok(file) => file,
        Err(err) if err.raw_os_error() == Some(libc::ELOOP) => {
            return Err(replaced("is a symbolic link now"))
        }
        Err(err) => return Err(Upload::Retry(format!("cannot read {shown}: {err}"))),
    };
    let meta = file
        .metadata()
        .map_err(|e| Upload::Retry(format!("cannot read {shown}: {e}")))?;
    if !meta.is_file() {
        return Err(replaced("is no longer a regular file"));
    }
    let size = meta.len();
    if size == 0 {
        return Err(Upload::Fatal(format!("{shown} is empty")));
    }
    if size > MAX_UPLOAD_BYTES {
        return Err(Upload::Fatal(format!(
            "{shown} is {}, over the {} the Upload API accepts",
            human_size(size),
            human_size(MAX_UPLOAD_BYTES)
        )));
    }
    let reader = file
        .try_clone()
        .map_err(|e| Upload::Retry(format!("cannot read {shown}: {e}")))?;
    let hash = match sha256_file(reader, cancel) {
        Ok(hash) => hash,
        Err(err) if err.kind() == std::io::ErrorKind::Interrupted => return Err(Upload::Cancelled),
        Err(err) => return Err(Upload::Retry(format!("cannot read {shown}: {err}"))),
    };
    if hash != expected {
        return Err(replaced("has other content"));
    }
    let mut file = file;
    file.seek(SeekFrom::Start(0))
        .map_err(|e| Upload::Retry(format!("cannot read {shown}: {e}")))?;
    Ok((file, size))
}

/// How one upload attempt ended, when it did not succeed.
enum Upload {
    Cancelled,
    /// The bucket refused the presigned URL: ask for a new one.
    Refused(String),
    /// Transient: back to the queue with a backoff.
    Retry(String),
    /// Retrying cannot help (too large, refused by the API).
    Fatal(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_taken_file_is_opened_only_if_unchanged_and_not_a_link() {
        use std::io::Read;
        let dir = tempfile::tempdir().unwrap();
        let taken = dir.path().join("talk.mp4");
        std::fs::write(&taken, b"video bytes").unwrap();
        let cancel = CancellationToken::new();
        let file = std::fs::File::open(&taken).unwrap();
        let hash = sha256_file(file, &cancel).unwrap();
        let (mut file, size) = open_taken_blocking(&taken, &hash, &cancel)
            .unwrap_or_else(|_| panic!("the taken file opens"));
        let mut sent = Vec::new();
        file.read_to_end(&mut sent).unwrap();
        assert_eq!((sent.as_slice(), size), (&b"video bytes"[..], 11));

        let secret = dir.path().join("secret");
        std::fs::rename(&taken, &secret).unwrap();
        std::os::unix::fs::symlink(&secret, &taken).unwrap();
        let Err(Upload::Fatal(reason)) = open_taken_blocking(&taken, &hash, &cancel) else {
            panic!("a link is not followed");
        };
        assert!(reason.contains("is a symbolic link now"), "{reason}");

        std::fs::remove_file(&taken).unwrap();
        std::fs::write(&taken, b"other bytes").unwrap();
        let Err(Upload::Fatal(reason)) = open_taken_blocking(&taken, &hash, &cancel) else {
            panic!("other content is refused");
        };
        assert!(reason.contains("has other content"), "{reason}");
    }
}
