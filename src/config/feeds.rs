//! The forms a feed's source may take, checked without any network access.
//! Resolving them to feed URLs is the sources module's job.

use std::sync::LazyLock;

use regex::Regex;
use url::Url;

static CHANNEL_ID: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^UC[A-Za-z0-9_-]{22}$").expect("valid regex"));
// PL… (user playlists), UU… / UULF… (uploads, long-form uploads), OL… (albums).
static PLAYLIST_ID: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^(PL|UU|OL)[A-Za-z0-9_-]{10,}$").expect("valid regex"));
// YouTube handles: 3 to 30 letters, digits, '_', '-' or '.'.
static HANDLE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^@[\p{L}\p{N}_.-]{3,30}$").expect("valid regex"));

const YOUTUBE_HOSTS: &[&str] = &["youtube.com", "www.youtube.com", "m.youtube.com"];

const YOUTUBE_FORMS: &str = "expected an @handle, a UC… channel id, a PL…/UU…/OL… playlist id, \
     or a youtube.com /channel/UC…, /@handle, /c/NAME, /user/NAME or playlist?list=… URL";

/// Check a `youtube = "…"` value. `extra_host` is the host of the configured
/// `youtube.base_url`, whose URLs are accepted like youtube.com's.
pub(super) fn check_youtube(value: &str, extra_host: Option<&str>) -> Result<(), String> {
    if value.contains("://") {
        return check_youtube_url(value, extra_host);
    }
    if CHANNEL_ID.is_match(value) || PLAYLIST_ID.is_match(value) || HANDLE.is_match(value) {
        return Ok(());
    }
    if value.starts_with("UC") {
        return Err(format!(
            "\"{value}\" is not a channel id (UC followed by 22 letters, digits, '_' or '-')"
        ));
    }
    if value.starts_with("youtube.com") || value.starts_with("www.youtube.com") {
        return Err(format!("\"{value}\": write the URL in full, with https://"));
    }
    Err(format!(
        "\"{value}\" is not a YouTube channel or playlist; {YOUTUBE_FORMS}"
    ))
}

fn check_youtube_url(value: &str, extra_host: Option<&str>) -> Result<(), String> {
    let url = Url::parse(value).map_err(|e| format!("\"{value}\" is not a valid URL: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!(
            "\"{value}\": only http and https URLs are supported"
        ));
    }
    let host = url.host_str().unwrap_or_default().to_ascii_lowercase();
    if !YOUTUBE_HOSTS.contains(&host.as_str()) && Some(host.as_str()) != extra_host {
        return Err(format!(
            "\"{value}\" is not a youtube.com URL (use `url = …` for other feeds)"
        ));
    }
    let segments: Vec<&str> = url
        .path_segments()
        .map(|s| s.filter(|s| !s.is_empty()).collect())
        .unwrap_or_default();
    let ok = match segments.as_slice() {
        ["channel", id, ..] => CHANNEL_ID.is_match(id),
        ["c" | "user", name, ..] => !name.is_empty(),
        [handle, ..] if handle.starts_with('@') => handle.len() > 1,
        ["playlist"] => url
            .query_pairs()
            .any(|(k, v)| k == "list" && PLAYLIST_ID.is_match(&v)),
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        Err(format!(
            "\"{value}\" is not a YouTube channel or playlist URL; {YOUTUBE_FORMS}"
        ))
    }
}

/// An absolute http(s) URL with a host.
pub(super) fn check_http_url(value: &str) -> Result<Url, String> {
    let url = Url::parse(value).map_err(|e| format!("\"{value}\" is not a valid URL: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!(
            "\"{value}\": only http and https URLs are supported"
        ));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(format!("\"{value}\" has no host"));
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_every_documented_youtube_form() {
        for ok in [
            "@lexfridman",
            "@a.b-c_d",
            "UCSHZKyawb77ixDdsGog4iWA",
            "UULFSHZKyawb77ixDdsGog4iWA",
            "UUSHZKyawb77ixDdsGog4iWA",
            "PLrAXtmErZgOeiKm4sgNOknGvNjby9efdf",
            "OLAK5uy_kZ3tM0cX4_2Vd1a0bJ3qQZ9kFh4yIi0s8",
            "https://www.youtube.com/channel/UCSHZKyawb77ixDdsGog4iWA",
            "https://www.youtube.com/channel/UCSHZKyawb77ixDdsGog4iWA/videos",
            "https://youtube.com/@lexfridman",
            "https://m.youtube.com/@lexfridman/videos",
            "https://www.youtube.com/c/LexFridman",
            "https://www.youtube.com/user/lexfridman",
            "https://www.youtube.com/playlist?list=PLrAXtmErZgOeiKm4sgNOknGvNjby9efdf",
        ] {
            assert_eq!(check_youtube(ok, None), Ok(()), "{ok}");
        }
        assert_eq!(
            check_youtube("http://127.0.0.1:9/@x", Some("127.0.0.1")),
            Ok(())
        );
    }

    #[test]
    fn rejects_other_forms() {
        for bad in [
            "",
            "lexfridman",
            "@",
            "@ab",
            "UCshort",
            "PLx",
            "https://www.youtube.com/watch?v=dQw4w9WgXcQ",
            "https://www.youtube.com/playlist?list=bogus",
            "https://www.youtube.com/channel/UCbad",
            "https://example.com/@lexfridman",
            "ftp://www.youtube.com/@lexfridman",
            "youtube.com/@lexfridman",
            "https://www.youtube.com/",
        ] {
            assert!(check_youtube(bad, None).is_err(), "{bad}");
        }
    }

    #[test]
    fn http_urls() {
        assert!(check_http_url("https://example.com/feed.xml").is_ok());
        assert!(check_http_url("http://127.0.0.1:8080/f").is_ok());
        assert!(check_http_url("file:///etc/passwd").is_err());
        assert!(check_http_url("example.com/feed.xml").is_err());
    }
}
