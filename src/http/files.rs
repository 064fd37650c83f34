//! `GET /files/{id}/{name}`: one clip, thumbnail or sidecar of a job,
//! found by the job's id and a file name exactly as the job recorded it,
//! never by a path from the request. The file must be a regular file whose
//! real path (symlinks resolved) is inside `output.dir`. A single byte range
//! is honoured (`<video>` seeks with them). Anything else is 404.

use std::io::SeekFrom;
use std::path::{Component, Path, PathBuf};

use axum::body::Body;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use tokio::io::{AsyncReadExt as _, AsyncSeekExt as _};

use super::App;

pub async fn serve(app: &App, id: &str, name: &str, headers: &HeaderMap) -> Response {
    let Some(path) = locate(app, id, name) else {
        return not_found();
    };
    let Some((file, len)) = open_inside(&path, &app.pipeline.config().output.dir).await else {
        return not_found();
    };
    let range = headers
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
        .map(|v| parse_range(v, len));
    let (status, start, end) = match range {
        None => (StatusCode::OK, 0, len),
        Some(Some((start, end))) => (StatusCode::PARTIAL_CONTENT, start, end),
        Some(None) => {
            return (
                StatusCode::RANGE_NOT_SATISFIABLE,
                [(header::CONTENT_RANGE, format!("bytes */{len}"))],
            )
                .into_response()
        }
    };
    let mut file = file;
    if file.seek(SeekFrom::Start(start)).await.is_err() {
        return not_found();
    }
    let body = Body::from_stream(tokio_util::io::ReaderStream::new(file.take(end - start)));
    let mut response = Response::new(body);
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(content_type(name)),
    );
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(end - start));
    headers.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, max-age=3600"),
    );
    if status == StatusCode::PARTIAL_CONTENT {
        if let Ok(value) = HeaderValue::from_str(&format!("bytes {start}-{}/{len}", end - 1)) {
            headers.insert(header::CONTENT_RANGE, value);
        }
    }
    response
}

fn not_found() -> Response {
    (StatusCode::NOT_FOUND, "no such file\n").into_response()
}

/// `output.dir/<job folder>/<name>` when job `id` recorded `name`.
fn locate(app: &App, id: &str, name: &str) -> Option<PathBuf> {
    if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let job = app.pipeline.store.find(id).ok()?;
    let folder = job.folder.as_deref()?;
    if !job.files.iter().any(|recorded| recorded == name) {
        return None;
    }
    let plain = |p: &str| {
        Path::new(p)
            .components()
            .all(|c| matches!(c, Component::Normal(_)))
    };
    if !plain(folder) || !plain(name) {
        return None;
    }
    Some(app.pipeline.config().output.dir.join(folder).join(name))
}

/// Open `path` if it is a regular file, not a symlink itself, and really
/// inside `root`; with its length.
async fn open_inside(path: &Path, root: &Path) -> Option<(tokio::fs::File, u64)> {
    let real = tokio::fs::canonicalize(path).await.ok()?;
    let root = tokio::fs::canonicalize(root).await.ok()?;
    if !real.starts_with(&root) {
        return None;
    }
    let file = tokio::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
        .await
        .ok()?;
    let meta = file.metadata().await.ok()?;
    meta.is_file().then_some((file, meta.len()))
}

/// One range of `bytes=a-b`, `bytes=a-` or `bytes=-n` as `[start, end)`;
/// `None` when it cannot be satisfied (several ranges are not offered).
fn parse_range(value: &str, len: u64) -> Option<(u64, u64)> {
    let spec = value.trim().strip_prefix("bytes=")?;
    if spec.contains(',') {
        return None;
    }
    let (a, b) = spec.split_once('-')?;
    let (start, end) = match (a.trim(), b.trim()) {
        ("", n) => {
            let n: u64 = n.parse().ok()?;
            (len.saturating_sub(n), len)
        }
        (a, "") => (a.parse().ok()?, len),
        (a, b) => (
            a.parse().ok()?,
            b.parse::<u64>().ok()?.saturating_add(1).min(len),
        ),
    };
    (start < end && start < len).then_some((start, end))
}

fn content_type(name: &str) -> &'static str {
    let lower = name.to_ascii_lowercase();
    match lower.rsplit('.').next().unwrap_or_default() {
        "mp4" | "m4v" => "video/mp4",
        "webm" => "video/webm",
        "mov" => "video/quicktime",
        "jpg" | "jpeg" => "image/jpeg",
        "png" => "image/png",
        "webp" => "image/webp",
        "json" => "application/json",
        "srt" => "application/x-subrip",
        "vtt" => "text/vtt",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_are_parsed_within_the_file() {
        assert_eq!(parse_range("bytes=0-99", 1000), Some((0, 100)));
        assert_eq!(parse_range("bytes=900-", 1000), Some((900, 1000)));
        assert_eq!(parse_range("bytes=-100", 1000), Some((900, 1000)));
        assert_eq!(parse_range("bytes=990-2000", 1000), Some((990, 1000)));
        assert_eq!(parse_range("bytes=1000-", 1000), None);
        assert_eq!(parse_range("bytes=0-1,5-9", 1000), None);
        assert_eq!(parse_range("items=0-1", 1000), None);
    }
}
