//! What the Upload API accepts: the size limit and the video types, shared by
//! the drop folder (which refuses a file before queueing it) and the worker
//! (which checks again before anything is sent); and its two calls, the
//! upload ticket and the file itself.

use std::path::Path;
use std::time::Duration;

use reqwest::header::CONTENT_TYPE;
use reqwest::Method;

use super::client::{read_capped, ApiClient};
use super::error::ApiError;
use super::types::UploadTicket;

/// The Upload API's limit, "5 GB", read as decimal gigabytes (5 × 1000³
/// bytes): the stricter reading, so a file clipwatch accepts is never refused
/// by the API for its size.
pub const MAX_UPLOAD_BYTES: u64 = 5 * 1000 * 1000 * 1000;

/// The `Content-Type` of an uploadable video, by extension (case-insensitive);
/// `None` for anything the Upload API does not take.
pub fn video_content_type(path: &Path) -> Option<&'static str> {
    let ext = path.extension()?.to_str()?.to_ascii_lowercase();
    match ext.as_str() {
        "mp4" => Some("video/mp4"),
        "mov" => Some("video/quicktime"),
        "webm" => Some("video/webm"),
        "avi" => Some("video/x-msvideo"),
        _ => None,
    }
}

/// The `Code` and `Message` of an S3-style XML error body, never the raw body
/// (which can echo parts of the presigned request).
pub fn bucket_message(body: &str) -> String {
    let field = |name: &str| {
        let open = format!("<{name}>");
        let start = body.find(&open)? + open.len();
        let end = body[start..].find(&format!("</{name}>"))? + start;
        Some(body[start..end].trim().to_string())
    };
    match (field("Code"), field("Message")) {
        (Some(code), Some(message)) => format!("{code}: {message}"),
        (Some(code), None) => code,
        (None, Some(message)) => message,
        (None, None) => "no details given".to_string(),
    }
}

impl ApiClient {
    /// `POST /upload/single-file`: step 1 of an upload.
    pub async fn upload_ticket(&self, file_name: &str) -> Result<UploadTicket, ApiError> {
        let body = serde_json::json!({ "name": file_name });
        self.call(Method::POST, "/upload/single-file", Some(body))
            .await
    }

    /// Step 2 of an upload: stream the file to the presigned URL. No API
    /// headers go with it (the URL itself is the credential). A 4xx from the
    /// bucket is [`ApiError::UploadRefused`]: the caller asks for a new URL.
    pub async fn upload_file(
        &self,
        ticket: &UploadTicket,
        file: tokio::fs::File,
        length: u64,
        content_type: &str,
    ) -> Result<(), ApiError> {
        use tokio::io::AsyncReadExt;
        // The caller opened and checked this handle; exactly `length` bytes
        // of it are sent, whatever is appended meanwhile.
        let body = reqwest::Body::wrap_stream(tokio_util::io::ReaderStream::with_capacity(
            file.take(length),
            256 * 1024,
        ));
        let reply = self
            .http
            .put(&ticket.upload_url)
            .header(CONTENT_TYPE, content_type)
            .header(reqwest::header::CONTENT_LENGTH, length)
            // An upload may take far longer than one API call.
            .timeout(Duration::from_secs(6 * 3600))
            .body(body)
            .send()
            .await
            .map_err(ApiError::from_transport)?;
        let status = reply.status();
        if status.is_success() {
            return Ok(());
        }
        let (text, _) = read_capped(reply).await.unwrap_or_default();
        let message = bucket_message(&text);
        Err(match status.as_u16() {
            429 => ApiError::RateLimited {
                retry_after: None,
                message,
            },
            code @ 400..=499 => ApiError::UploadRefused {
                status: code,
                message,
            },
            code => ApiError::Transient {
                message: format!("upload HTTP {code}: {message}"),
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn video_types_by_extension() {
        assert_eq!(video_content_type(Path::new("a.MP4")), Some("video/mp4"));
        assert_eq!(
            video_content_type(Path::new("x/b.mov")),
            Some("video/quicktime")
        );
        assert_eq!(video_content_type(Path::new("c.webm")), Some("video/webm"));
        assert_eq!(
            video_content_type(Path::new("d.avi")),
            Some("video/x-msvideo")
        );
        assert_eq!(video_content_type(Path::new("e.mkv")), None);
        assert_eq!(video_content_type(Path::new("mp4")), None);
    }

    #[test]
    fn sizes_read_well() {
        assert_eq!(MAX_UPLOAD_BYTES, 5_000_000_000);
    }

    #[test]
    fn bucket_errors_keep_code_and_message_only() {
        let body = "<?xml version=\"1.0\"?><Error><Code>AccessDenied</Code>\
                    <Message>Request has expired</Message><X-Amz-Expires>3600</X-Amz-Expires></Error>";
        assert_eq!(bucket_message(body), "AccessDenied: Request has expired");
        assert_eq!(bucket_message("X-Amz-Signature=abc"), "no details given");
    }
}
