//! Files into the output tree without ever showing a half-written one: each
//! download streams to `<name>.part` (resumed with `Range` after a restart),
//! is verified (length; not an HTML or XML error page) and only then renamed
//! into place. Small files (sidecars, `project.json`) go through
//! [`write_atomic`].

use std::path::{Path, PathBuf};
use std::time::Duration;

use reqwest::header::{CONTENT_LENGTH, CONTENT_RANGE, CONTENT_TYPE, RANGE};
use reqwest::StatusCode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Bytes buffered before a write to disk; memory stays flat whatever the size.
const WRITE_BUFFER: usize = 256 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum DownloadError {
    /// 403/404/410: the link expired or was refused; ask for a fresh one.
    #[error("the link was refused (HTTP {status}); it has probably expired")]
    Refused { status: u16 },
    /// The server answered with a web page instead of the file.
    #[error("the server sent an error page instead of the file")]
    NotMedia,
    #[error("the download stopped early: {got} of {expected} bytes")]
    Truncated { got: u64, expected: u64 },
    #[error("HTTP {status} from the file server")]
    Http { status: u16 },
    #[error("{0}")]
    Transport(String),
    #[error("cannot write {path}: {message}")]
    Io { path: PathBuf, message: String },
}

impl DownloadError {
    /// A fresh link from the results endpoint may fix this.
    pub fn needs_fresh_link(&self) -> bool {
        matches!(
            self,
            DownloadError::Refused { .. } | DownloadError::NotMedia
        )
    }

    /// Trying the same link again later may work.
    pub fn is_retryable(&self) -> bool {
        match self {
            DownloadError::Truncated { .. } | DownloadError::Transport(_) => true,
            DownloadError::Http { status } => *status == 408 || *status == 429 || *status >= 500,
            _ => false,
        }
    }
}

/// Downloads files from the API's CDN (no API headers, no request budget).
#[derive(Clone)]
pub struct Fetcher {
    http: reqwest::Client,
}

impl Fetcher {
    /// `stall` is the longest wait for the next bytes of a reply.
    pub fn new(stall: Duration) -> Result<Fetcher, DownloadError> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(30))
            .read_timeout(stall)
            .user_agent(concat!("clipwatch/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(transport)?;
        Ok(Fetcher { http })
    }

    /// Download `url` to `dest`. Returns the file's size. If `dest` exists it
    /// is taken as done; a `dest.part` left by an earlier run is resumed.
    pub async fn fetch(&self, url: &str, dest: &Path) -> Result<u64, DownloadError> {
        if let Ok(meta) = tokio::fs::metadata(dest).await {
            return Ok(meta.len());
        }
        let part = part_path(dest);
        let have = tokio::fs::metadata(&part)
            .await
            .map(|m| m.len())
            .unwrap_or(0);
        let mut request = self.http.get(url);
        if have > 0 {
            request = request.header(RANGE, format!("bytes={have}-"));
        }
        let mut reply = request.send().await.map_err(transport)?;
        let status = reply.status();
        let resume_from = match status {
            StatusCode::PARTIAL_CONTENT if have > 0 && range_start(&reply) == Some(have) => have,
            StatusCode::OK => 0,
            StatusCode::RANGE_NOT_SATISFIABLE if have > 0 => {
                // The part is no good against this file: start over.
                remove_quietly(&part).await;
                return Err(DownloadError::Truncated {
                    got: 0,
                    expected: have,
                });
            }
            StatusCode::FORBIDDEN | StatusCode::NOT_FOUND | StatusCode::GONE => {
                return Err(DownloadError::Refused {
                    status: status.as_u16(),
                })
            }
            _ => {
                return Err(DownloadError::Http {
                    status: status.as_u16(),
                })
            }
        };
        if is_html(&reply) {
            return Err(DownloadError::NotMedia);
        }
        let expected = reply
            .headers()
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok())
            .map(|len| len + resume_from);
        let file = open_part(&part, resume_from).await?;
        let mut writer = tokio::io::BufWriter::with_capacity(WRITE_BUFFER, file);
        let mut written = resume_from;
        loop {
            let chunk = match reply.chunk().await {
                Ok(Some(chunk)) => chunk,
                Ok(None) => break,
                Err(err) => {
                    // Keep what arrived: the next attempt resumes from it.
                    writer.flush().await.map_err(|e| io_error(&part, e))?;
                    return Err(transport(err));
                }
            };
            writer
                .write_all(&chunk)
                .await
                .map_err(|e| io_error(&part, e))?;
            written += chunk.len() as u64;
        }
        writer.flush().await.map_err(|e| io_error(&part, e))?;
        let file = writer.into_inner();
        if let Some(expected) = expected {
            if written != expected {
                return Err(DownloadError::Truncated {
                    got: written,
                    expected,
                });
            }
        }
        file.sync_all().await.map_err(|e| io_error(&part, e))?;
        drop(file);
        if starts_like_error_page(&part).await? {
            remove_quietly(&part).await;
            return Err(DownloadError::NotMedia);
        }
        tokio::fs::rename(&part, dest)
            .await
            .map_err(|e| io_error(dest, e))?;
        Ok(written)
    }
}

/// `name.ext` → `name.ext.part`.
pub fn part_path(dest: &Path) -> PathBuf {
    let mut name = dest.file_name().unwrap_or_default().to_os_string();
    name.push(".part");
    dest.with_file_name(name)
}

/// Write `bytes` to `dest` through `dest.part`, fsync, then rename.
pub async fn write_atomic(dest: &Path, bytes: &[u8]) -> Result<(), DownloadError> {
    let part = part_path(dest);
    let mut file = tokio::fs::File::create(&part)
        .await
        .map_err(|e| io_error(&part, e))?;
    file.write_all(bytes)
        .await
        .map_err(|e| io_error(&part, e))?;
    file.sync_all().await.map_err(|e| io_error(&part, e))?;
    drop(file);
    tokio::fs::rename(&part, dest)
        .await
        .map_err(|e| io_error(dest, e))
}

async fn open_part(part: &Path, resume_from: u64) -> Result<tokio::fs::File, DownloadError> {
    let mut options = tokio::fs::OpenOptions::new();
    if resume_from > 0 {
        options.append(true);
    } else {
        options.write(true).create(true).truncate(true);
    }
    options.open(part).await.map_err(|e| io_error(part, e))
}

fn range_start(reply: &reqwest::Response) -> Option<u64> {
    // "bytes 100-199/200"
    let text = reply.headers().get(CONTENT_RANGE)?.to_str().ok()?;
    let range = text.trim().strip_prefix("bytes")?.trim();
    range.split('-').next()?.trim().parse().ok()
}

fn is_html(reply: &reqwest::Response) -> bool {
    reply
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| {
            let ct = ct.to_ascii_lowercase();
            ct.starts_with("text/html") || ct.starts_with("application/xhtml")
        })
}

/// An HTML page or an XML error document (S3-style `<Error>`) where media
/// should be.
async fn starts_like_error_page(path: &Path) -> Result<bool, DownloadError> {
    let mut file = tokio::fs::File::open(path)
        .await
        .map_err(|e| io_error(path, e))?;
    let mut head = vec![0u8; 512];
    let n = file.read(&mut head).await.map_err(|e| io_error(path, e))?;
    Ok(looks_like_markup(&head[..n]))
}

pub fn looks_like_markup(head: &[u8]) -> bool {
    let text = String::from_utf8_lossy(head);
    let text = text
        .trim_start_matches('\u{feff}')
        .trim_start()
        .to_ascii_lowercase();
    [
        "<!doctype html",
        "<html",
        "<?xml",
        "<error",
        "<head",
        "<body",
    ]
    .iter()
    .any(|p| text.starts_with(p))
}

async fn remove_quietly(path: &Path) {
    let _ = tokio::fs::remove_file(path).await;
}

fn transport(err: reqwest::Error) -> DownloadError {
    // Never the URL: export and upload links are signed.
    let err = err.without_url();
    let mut text = err.to_string();
    let mut source = std::error::Error::source(&err);
    while let Some(inner) = source {
        text.push_str(": ");
        text.push_str(&inner.to_string());
        source = inner.source();
    }
    DownloadError::Transport(text)
}

fn io_error(path: &Path, err: std::io::Error) -> DownloadError {
    DownloadError::Io {
        path: path.to_path_buf(),
        message: err.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_is_recognised() {
        assert!(looks_like_markup(b"  <!DOCTYPE html><html>"));
        assert!(looks_like_markup(b"\xef\xbb\xbf<html lang=en>"));
        assert!(looks_like_markup(
            b"<?xml version=\"1.0\"?><Error><Code>AccessDenied"
        ));
        assert!(!looks_like_markup(b"\0\0\0\x20ftypisom"));
        assert!(!looks_like_markup(b"\xff\xd8\xff\xe0JFIF"));
    }

    #[test]
    fn part_names() {
        assert_eq!(
            part_path(Path::new("/o/01 a.mp4")),
            Path::new("/o/01 a.mp4.part")
        );
    }

    #[tokio::test]
    async fn atomic_writes_leave_no_part() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("project.json");
        write_atomic(&dest, b"{}").await.unwrap();
        assert_eq!(std::fs::read(&dest).unwrap(), b"{}");
        assert!(!part_path(&dest).exists());
    }
}
