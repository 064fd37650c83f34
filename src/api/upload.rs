//! What the Upload API accepts: the size limit and the video types, shared by
//! the drop folder (which refuses a file before queueing it) and the worker
//! (which checks again before anything is sent).

use std::path::Path;

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
