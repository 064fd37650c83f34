//! Find Moments: a job that asks the API for the clips matching a
//! natural-language query (`[presets.X] query = "product demos"`) instead
//! of the AI Clipping task's own picks.
//!
//! Such a job is a different paid task from clipping the same video, and
//! a different query is a different task again, so its identity in the
//! store is the video's canonical key with the query's tag appended:
//! `youtube:ID moments:1a2b3c4d5e6f`. A clipping job's key is the video's
//! key alone, exactly as before Find Moments existed, so no database
//! written earlier sees a key change (nor pays again). The separator is a
//! space, which no canonical key contains (a URL never holds one
//! unescaped; YouTube ids and file hashes neither), so the video's key is
//! always recovered with [`video_key`].
//!
//! The query itself travels in the task's frozen options (`query`), which
//! is how the pipeline, the sidecars and `project.json` know the task is a
//! Find Moments one, across restarts.

use super::job::Task;

/// The option (and API field) naming what to look for.
pub const QUERY_OPTION: &str = "query";
/// `mode` as the sidecars and `project.json` give it for such a task.
pub const MODE: &str = "moments";
/// Between the video's key and the query's tag in a job key.
const TAG_SEPARATOR: &str = " moments:";
/// Hex digits of the query's hash kept in the tag (48 bits).
const TAG_DIGITS: usize = 12;

/// The job key for the video `video_key` clipped by `query` (`None`: an
/// AI Clipping job, whose key is the video's own).
pub fn job_key(video_key: &str, query: Option<&str>) -> String {
    match query {
        Some(query) => format!("{video_key}{TAG_SEPARATOR}{}", query_tag(query)),
        None => video_key.to_string(),
    }
}

/// The video's canonical key within a job key (the key itself for a
/// clipping job).
pub fn video_key(job_key: &str) -> &str {
    job_key
        .split_once(TAG_SEPARATOR)
        .map_or(job_key, |(video, _)| video)
}

/// The key of the job that clips `video_key` the way `job_key` does: with
/// the same query's tag, or none (e.g. the page of a `#fragment` entry).
pub fn same_query_key(job_key: &str, video_key: &str) -> String {
    match job_key.split_once(TAG_SEPARATOR) {
        Some((_, tag)) => format!("{video_key}{TAG_SEPARATOR}{tag}"),
        None => video_key.to_string(),
    }
}

/// The query's tag: the same for queries that differ only in case or
/// spacing (the same search to the user; not worth paying twice).
fn query_tag(query: &str) -> String {
    let normal = normalize(query).to_lowercase();
    crate::util::sha256_hex(normal.as_bytes())[..TAG_DIGITS].to_string()
}

/// The query with surrounding space trimmed and inner runs of whitespace
/// made one space: what is sent, shown and recorded.
pub fn normalize(query: &str) -> String {
    query.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// What a finished Find Moments job that found nothing says (in `jobs`,
/// `show`, `project.json`).
pub fn no_match_note(query: &str) -> String {
    format!(
        "the query \"{query}\" matched nothing in this video (the task succeeded with no \
         moments; its units are charged). Reword the query in the preset to search again"
    )
}

impl Task {
    /// The Find Moments query this task was submitted with; `None` for an
    /// AI Clipping task.
    pub fn query(&self) -> Option<&str> {
        self.options
            .get(QUERY_OPTION)
            .and_then(serde_json::Value::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_clipping_key_is_the_video_key_unchanged() {
        assert_eq!(job_key("youtube:dQw4w9WgXcQ", None), "youtube:dQw4w9WgXcQ");
        assert_eq!(video_key("youtube:dQw4w9WgXcQ"), "youtube:dQw4w9WgXcQ");
        assert_eq!(video_key("url:https://a/b#ep2"), "url:https://a/b#ep2");
    }

    #[test]
    fn each_query_is_a_job_of_its_own_and_the_video_stays_recoverable() {
        let video = "url:https://example.com/watch?v=1#t";
        let demos = job_key(video, Some("product demos"));
        let pricing = job_key(video, Some("pricing"));
        assert_ne!(demos, pricing);
        assert_ne!(demos, video);
        assert!(demos.starts_with(video), "{demos}");
        assert_eq!(video_key(&demos), video);
        assert_eq!(video_key(&pricing), video);
        // Case and spacing do not make another task.
        assert_eq!(demos, job_key(video, Some("  Product   Demos ")));
        let file = job_key("file:abc123", Some("x"));
        assert!(file.starts_with("file:"));
        assert_eq!(video_key(&file), "file:abc123");
        // The page of a `#fragment` entry, searched with the same query.
        let entry = job_key("url:https://a/b#ep2", Some("x"));
        assert_eq!(
            same_query_key(&entry, "url:https://a/b"),
            job_key("url:https://a/b", Some("x"))
        );
        assert_eq!(
            same_query_key("url:https://a/b#ep2", "url:https://a/b"),
            "url:https://a/b"
        );
    }

    #[test]
    fn queries_are_normalized_for_sending() {
        assert_eq!(normalize("  product \t demos\n"), "product demos");
    }
}
