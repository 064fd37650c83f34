//! Files into the output tree without ever showing a half-written one: each
//! download streams to `<name>.part` (resumed with `Range` after a restart),
//! is verified (length; not an HTML or XML error page; under its size cap)
//! and only then renamed into place, and the folder is synced after the
//! rename. Small files (sidecars, `project.json`) go through
//! [`write_atomic`]. Links are fetched under a [`LinkPolicy`].

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{CONTENT_LENGTH, CONTENT_RANGE, CONTENT_TYPE, RANGE};
use reqwest::StatusCode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::links::{self, GuardedResolver, LinkPolicy, LinkRefused};
use crate::util::human_size;

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
    /// The link (or a redirect) goes somewhere links may not go.
    #[error("link not fetched: {0}")]
    UnsafeLink(LinkRefused),
    /// Over the size cap: stopped there, the `.part` removed.
    #[error("the file is larger than the {} cap ({setting}); stopped there and not kept", human_size(*.limit))]
    TooLarge { limit: u64, setting: &'static str },
    #[error("cannot write {path}: {message}")]
    Io {
        path: PathBuf,
        message: String,
        /// The OS error number, to tell a full disk from a bad path.
        errno: Option<i32>,
    },
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

    /// The output volume is full, read-only or refuses us: this clears when
    /// the user fixes it, so the download waits instead of failing.
    pub fn output_can_clear(&self) -> bool {
        match self {
            DownloadError::Io { errno, .. } => errno
                .is_some_and(|n| super::space::can_clear(&std::io::Error::from_raw_os_error(n))),
            _ => false,
        }
    }

    fn out_of_space(&self) -> bool {
        matches!(self, DownloadError::Io { errno: Some(n), .. } if *n == libc::ENOSPC || *n == libc::EDQUOT)
    }
}

/// Downloads files from the API's CDN (no API headers, no request budget).
#[derive(Clone)]
pub struct Fetcher {
    /// Swapped whole when a reload changes the link policy.
    current: Arc<std::sync::RwLock<Arc<Client>>>,
    stall: Duration,
}

/// An HTTP client and the policy its resolver and redirects apply.
struct Client {
    http: reqwest::Client,
    policy: Arc<LinkPolicy>,
}

impl Fetcher {
    /// `stall` is the longest wait for the next bytes of a reply; `policy`
    /// says which links (and redirects) may be followed.
    pub fn new(stall: Duration, policy: LinkPolicy) -> Result<Fetcher, DownloadError> {
        let client = Client::new(stall, policy)?;
        Ok(Fetcher {
            current: Arc::new(std::sync::RwLock::new(Arc::new(client))),
            stall,
        })
    }

    /// Apply a new link policy (a reload changed `[api] base_url`);
    /// downloads already running finish under the old one.
    pub fn set_policy(&self, policy: LinkPolicy) -> Result<(), DownloadError> {
        let client = Arc::new(Client::new(self.stall, policy)?);
        *self.current.write().expect("fetcher lock") = client;
        Ok(())
    }

    fn client(&self) -> Arc<Client> {
        self.current.read().expect("fetcher lock").clone()
    }
}

impl Client {
    fn new(stall: Duration, policy: LinkPolicy) -> Result<Client, DownloadError> {
        let policy = Arc::new(policy);
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(30))
            .read_timeout(stall)
            .user_agent(concat!("clipwatch/", env!("CARGO_PKG_VERSION")))
            // A Referer would carry the signed link to wherever it redirects.
            .referer(false)
            .redirect(policy.redirects())
            .dns_resolver(Arc::new(GuardedResolver {
                policy: policy.clone(),
            }))
            .build()
            .map_err(transport)?;
        Ok(Client { http, policy })
    }
}

impl Fetcher {
    /// Download `url` to `dest`, at most `limit` bytes (`setting` names the
    /// cap in messages). Returns the file's size. If `dest` exists it is
    /// taken as done; a `dest.part` left by an earlier run is resumed. On a
    /// full disk or over the cap the `.part` is removed.
    pub async fn fetch(
        &self,
        url: &str,
        dest: &Path,
        limit: u64,
        setting: &'static str,
    ) -> Result<u64, DownloadError> {
        if let Ok(meta) = tokio::fs::metadata(dest).await {
            return Ok(meta.len());
        }
        let client = self.client();
        let url = client
            .policy
            .check_str(url)
            .map_err(DownloadError::UnsafeLink)?;
        let part = part_path(dest);
        let fetched = client.fetch_to_part(url, &part, limit, setting).await;
        let written = match fetched {
            Ok(written) => written,
            Err(err) => {
                if err.out_of_space() || matches!(err, DownloadError::TooLarge { .. }) {
                    remove_quietly(&part).await;
                }
                return Err(err);
            }
        };
        if starts_like_error_page(&part).await? {
            remove_quietly(&part).await;
            return Err(DownloadError::NotMedia);
        }
        tokio::fs::rename(&part, dest)
            .await
            .map_err(|e| io_error(dest, e))?;
        sync_parent(dest).await?;
        Ok(written)
    }
}

impl Client {
    async fn fetch_to_part(
        &self,
        url: url::Url,
        part: &Path,
        limit: u64,
        setting: &'static str,
    ) -> Result<u64, DownloadError> {
        let too_large = || DownloadError::TooLarge { limit, setting };
        let have = tokio::fs::metadata(part)
            .await
            .map(|m| m.len())
            .unwrap_or(0);
        if have > limit {
            return Err(too_large());
        }
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
                remove_quietly(part).await;
                return Err(DownloadError::Truncated {
                    got: 0,
                    expected: have,
                });
            }
            redirect if redirect.is_redirection() => {
                // A redirect the client did not follow: to a scheme it does
                // not speak (file://, ftp://), or one without a Location.
                let location = reply
                    .headers()
                    .get(reqwest::header::LOCATION)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|l| reply.url().join(l).ok());
                if let Some(Err(refused)) = location.map(|l| self.policy.check(&l)) {
                    return Err(DownloadError::UnsafeLink(refused));
                }
                return Err(DownloadError::Http {
                    status: status.as_u16(),
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
        if expected.is_some_and(|len| len > limit) {
            return Err(too_large());
        }
        let file = open_part(part, resume_from).await?;
        let mut writer = tokio::io::BufWriter::with_capacity(WRITE_BUFFER, file);
        let mut written = resume_from;
        loop {
            let chunk = match reply.chunk().await {
                Ok(Some(chunk)) => chunk,
                Ok(None) => break,
                Err(err) => {
                    // Keep what arrived: the next attempt resumes from it.
                    writer.flush().await.map_err(|e| io_error(part, e))?;
                    return Err(transport(err));
                }
            };
            written += chunk.len() as u64;
            if written > limit {
                return Err(too_large());
            }
            writer
                .write_all(&chunk)
                .await
                .map_err(|e| io_error(part, e))?;
            crate::telemetry::metrics().downloaded(chunk.len());
        }
        // flush() reports a write that failed in the background (a full
        // disk); sync_all alone would not.
        writer.flush().await.map_err(|e| io_error(part, e))?;
        let mut file = writer.into_inner();
        file.flush().await.map_err(|e| io_error(part, e))?;
        if let Some(expected) = expected {
            if written != expected {
                return Err(DownloadError::Truncated {
                    got: written,
                    expected,
                });
            }
        }
        file.sync_all().await.map_err(|e| io_error(part, e))?;
        drop(file);
        check_length(part, written).await?;
        Ok(written)
    }
}

/// `name.ext` → `name.ext.part`.
pub fn part_path(dest: &Path) -> PathBuf {
    let mut name = dest.file_name().unwrap_or_default().to_os_string();
    name.push(".part");
    dest.with_file_name(name)
}

/// Write `bytes` to `dest` through `dest.part`: every write flushed and
/// checked, the length verified, synced, renamed, and the folder synced (a
/// power cut must not lose a `project.json` of a job recorded done). On any
/// error the `.part` is removed.
pub async fn write_atomic(dest: &Path, bytes: &[u8]) -> Result<(), DownloadError> {
    let part = part_path(dest);
    let written = write_part(&part, bytes).await;
    if let Err(err) = written {
        remove_quietly(&part).await;
        return Err(err);
    }
    if let Err(e) = tokio::fs::rename(&part, dest).await {
        remove_quietly(&part).await;
        return Err(io_error(dest, e));
    }
    sync_parent(dest).await
}

async fn write_part(part: &Path, bytes: &[u8]) -> Result<(), DownloadError> {
    let mut file = tokio::fs::File::create(part)
        .await
        .map_err(|e| io_error(part, e))?;
    file.write_all(bytes).await.map_err(|e| io_error(part, e))?;
    // A tokio file writes in the background: without flush() a failed write
    // (ENOSPC) is never reported and a 0-byte file is renamed into place.
    file.flush().await.map_err(|e| io_error(part, e))?;
    file.sync_all().await.map_err(|e| io_error(part, e))?;
    drop(file);
    check_length(part, bytes.len() as u64).await
}

/// The file on disk holds exactly `expected` bytes.
async fn check_length(path: &Path, expected: u64) -> Result<(), DownloadError> {
    let len = tokio::fs::metadata(path)
        .await
        .map_err(|e| io_error(path, e))?
        .len();
    if len != expected {
        return Err(DownloadError::Io {
            path: path.to_path_buf(),
            message: format!("{len} bytes on disk where {expected} were written"),
            errno: None,
        });
    }
    Ok(())
}

/// fsync the folder holding `path`, so a rename (or a `create_dir`) in it
/// is durable.
pub async fn sync_parent(path: &Path) -> Result<(), DownloadError> {
    let Some(dir) = path.parent().map(Path::to_path_buf) else {
        return Ok(());
    };
    let synced = tokio::task::spawn_blocking({
        let dir = dir.clone();
        move || std::fs::File::open(&dir)?.sync_all()
    })
    .await
    .unwrap_or_else(|e| Err(std::io::Error::other(e)));
    synced.map_err(|e| io_error(&dir, e))
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
    if let Some(refused) = links::refusal_in(&err) {
        return DownloadError::UnsafeLink(refused);
    }
    // Never the URL: export and upload links are signed.
    DownloadError::Transport(crate::util::error_chain(&err.without_url()))
}

fn io_error(path: &Path, err: std::io::Error) -> DownloadError {
    DownloadError::Io {
        path: path.to_path_buf(),
        message: err.to_string(),
        errno: err.raw_os_error(),
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
