//! `[[notify]]` sinks and `[notifications]`: where events go (issue 14).
//!
//! Each sink has a kind (webhook, ntfy, discord, slack, apprise, exec), a
//! target (a URL, from `url` or `url_file`, or a command), and filters by
//! event and by source. URLs are kept in a [`Secret`]: Discord and Slack
//! webhook URLs carry their token in the path, so only [`SinkConfig::shown`]
//! (redacted) ever reaches a message.

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use toml::Spanned;

use super::error::Source;
use super::raw::{RawNotifications, RawNotify};
use super::values::{duration, resolve_path};
use super::{feeds, ConfigError, FeedConfig};
use crate::secret::Secret;

/// Every event a sink can be sent, in the order the README lists them.
pub const EVENT_NAMES: [&str; 8] = [
    "done",
    "failed",
    "feed_failing",
    "feed_recovered",
    "key_rejected",
    "key_accepted",
    "paused",
    "resumed",
];

/// Names a sink's `feeds` filter accepts besides feed names: jobs from the
/// drop folder and from `clipwatch submit`.
pub const OTHER_SOURCES: [&str; 2] = ["drop", "submit"];

/// Failed checks in a row after which `feed_failing` is sent.
pub const DEFAULT_FEED_FAILING_AFTER: u32 = 5;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SinkKind {
    Webhook,
    Ntfy,
    Discord,
    Slack,
    Apprise,
    Exec,
}

impl SinkKind {
    pub const NAMES: [&'static str; 6] = ["webhook", "ntfy", "discord", "slack", "apprise", "exec"];

    pub fn name(self) -> &'static str {
        match self {
            SinkKind::Webhook => "webhook",
            SinkKind::Ntfy => "ntfy",
            SinkKind::Discord => "discord",
            SinkKind::Slack => "slack",
            SinkKind::Apprise => "apprise",
            SinkKind::Exec => "exec",
        }
    }

    fn parse(text: &str) -> Option<SinkKind> {
        Some(match text {
            "webhook" => SinkKind::Webhook,
            "ntfy" => SinkKind::Ntfy,
            "discord" => SinkKind::Discord,
            "slack" => SinkKind::Slack,
            "apprise" => SinkKind::Apprise,
            "exec" => SinkKind::Exec,
            _ => return None,
        })
    }

    /// Whether the URL itself is a credential (the token is in its path).
    fn url_is_secret(self) -> bool {
        matches!(self, SinkKind::Discord | SinkKind::Slack)
    }
}

/// `[notifications]` and every `[[notify]]` sink.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NotifyConfig {
    pub sinks: Vec<SinkConfig>,
    /// `feed_failing` after this many failed checks in a row.
    pub feed_failing_after: u32,
}

impl NotifyConfig {
    pub fn sink(&self, name: &str) -> Option<&SinkConfig> {
        self.sinks.iter().find(|s| s.name == name)
    }
}

/// One `[[notify]]` entry, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct SinkConfig {
    /// Unique; names the sink in logs, `status` and `notify test`.
    pub name: String,
    pub kind: SinkKind,
    /// Where HTTP kinds send; `None` for `exec`.
    pub url: Option<Secret>,
    /// The target safe to show: the URL redacted (only scheme and host for
    /// Discord, Slack and `url_file`), or the command's program.
    pub shown: String,
    /// `None`: every event.
    pub events: Option<Vec<String>>,
    /// `None`: every source. Feed names, `drop` or `submit`.
    pub feeds: Option<Vec<String>>,
    /// webhook: the HMAC-SHA256 key (`secret_file`).
    pub secret: Option<Secret>,
    /// exec: program and arguments, run without a shell.
    pub command: Vec<String>,
    /// One delivery attempt (a request, or the command's run).
    pub timeout: Duration,
    /// First wait after a failed attempt (doubles up to an hour).
    pub retry: Duration,
    /// An event not delivered after this long is dropped.
    pub give_up_after: Duration,
}

impl SinkConfig {
    /// Whether `event` from `source` (a feed name, `drop`, `submit`, or
    /// `None` for account-wide events, which every source filter lets
    /// through) goes to this sink.
    pub fn wants(&self, event: &str, source: Option<&str>) -> bool {
        let event_ok = self
            .events
            .as_ref()
            .is_none_or(|events| events.iter().any(|e| e == event));
        let source_ok = match (&self.feeds, source) {
            (Some(feeds), Some(source)) => feeds.iter().any(|f| f == source),
            _ => true,
        };
        event_ok && source_ok
    }
}

/// Check the `[[notify]]` tables against the configured `feeds`.
pub(super) fn check(
    src: &Source,
    raw: Vec<Spanned<RawNotify>>,
    settings: RawNotifications,
    feeds: &[FeedConfig],
    base: &Path,
    warnings: &mut Vec<String>,
) -> Result<NotifyConfig, ConfigError> {
    let feed_failing_after = match settings.feed_failing_after {
        Some(v) if *v.get_ref() == 0 => {
            return Err(src.error(
                Some(v.span()),
                "notifications.feed_failing_after",
                "must be at least 1",
            ))
        }
        Some(v) => *v.get_ref(),
        None => DEFAULT_FEED_FAILING_AFTER,
    };
    let mut sinks: Vec<SinkConfig> = Vec::new();
    let mut lines_by_name: HashMap<String, usize> = HashMap::new();
    for (index, entry) in raw.into_iter().enumerate() {
        let span = entry.span();
        let sink = check_sink(
            src,
            index,
            span.clone(),
            entry.into_inner(),
            feeds,
            base,
            warnings,
        )?;
        if let Some(first) = lines_by_name.insert(sink.name.clone(), src.line_of(span.start)) {
            return Err(src.error(
                Some(span),
                format!("notify[{index}].name"),
                format!(
                    "sink name \"{}\" is already used by the sink on line {first}; names must be unique",
                    sink.name
                ),
            ));
        }
        sinks.push(sink);
    }
    Ok(NotifyConfig {
        sinks,
        feed_failing_after,
    })
}

fn check_sink(
    src: &Source,
    index: usize,
    span: std::ops::Range<usize>,
    raw: RawNotify,
    feeds: &[FeedConfig],
    base: &Path,
    warnings: &mut Vec<String>,
) -> Result<SinkConfig, ConfigError> {
    let key = |field: &str| format!("notify[{index}].{field}");
    let name = match &raw.name {
        Some(n) if !n.get_ref().trim().is_empty() => n.get_ref().trim().to_owned(),
        Some(n) => return Err(src.error(Some(n.span()), key("name"), "must not be empty")),
        None => {
            return Err(src.error(
                Some(span),
                key("name"),
                "every sink needs a name (used by `clipwatch notify test NAME` and in logs)",
            ))
        }
    };
    let about = format!("sink \"{name}\"");
    let kind = match &raw.kind {
        Some(k) => SinkKind::parse(k.get_ref().trim()).ok_or_else(|| {
            src.error(
                Some(k.span()),
                key("kind"),
                format!(
                    "{about}: unknown kind \"{}\" (expected one of {})",
                    k.get_ref(),
                    SinkKind::NAMES.join(", ")
                ),
            )
        })?,
        None => {
            return Err(src.error(
                Some(span),
                key("kind"),
                format!(
                    "{about} needs a kind: one of {}",
                    SinkKind::NAMES.join(", ")
                ),
            ))
        }
    };
    let (url, shown, command) = target(src, &key, &about, span, &raw, kind, base)?;
    if kind.url_is_secret() && raw.url.is_some() {
        warnings.extend(crate::secret::readable_by_others(
            Path::new(&src.file),
            "the configuration file",
            &format!(
                ": {about} has its {} webhook URL (a token) inline; move it to url_file",
                kind.name()
            ),
        ));
    }
    let secret = match (&raw.secret_file, kind) {
        (None, _) => None,
        (Some(file), SinkKind::Webhook) => Some(read_secret_file(
            src,
            file,
            &key("secret_file"),
            &about,
            base,
        )?),
        (Some(file), _) => {
            return Err(src.error(
                Some(file.span()),
                key("secret_file"),
                format!("{about}: secret_file (HMAC signing) applies to kind = \"webhook\" only"),
            ))
        }
    };
    Ok(SinkConfig {
        events: names(src, &raw.events, &key("events"), &about, &EVENT_NAMES)?,
        feeds: source_names(src, &raw.feeds, &key("feeds"), &about, feeds)?,
        secret,
        timeout: duration(src, &raw.timeout, &key("timeout"), "10s", true)?,
        retry: duration(src, &raw.retry, &key("retry"), "5s", true)?,
        give_up_after: duration(src, &raw.give_up_after, &key("give_up_after"), "24h", true)?,
        name,
        kind,
        url,
        shown,
        command,
    })
}

type Target = (Option<Secret>, String, Vec<String>);

/// The sink's URL (from `url` or `url_file`) or its command.
fn target(
    src: &Source,
    key: &dyn Fn(&str) -> String,
    about: &str,
    span: std::ops::Range<usize>,
    raw: &RawNotify,
    kind: SinkKind,
    base: &Path,
) -> Result<Target, ConfigError> {
    if kind == SinkKind::Exec {
        if let Some(url) = raw.url.as_ref().or(raw.url_file.as_ref()) {
            return Err(src.error(
                Some(url.span()),
                key("url"),
                format!("{about}: kind = \"exec\" runs `command`; it takes no url"),
            ));
        }
        return match &raw.command {
            Some(c) if c.get_ref().first().is_some_and(|p| !p.trim().is_empty()) => {
                let command = c.get_ref().clone();
                Ok((None, command[0].clone(), command))
            }
            Some(c) => Err(src.error(
                Some(c.span()),
                key("command"),
                format!("{about}: command must name a program: [\"/path/to/program\", \"arg\", …]"),
            )),
            None => Err(src.error(
                Some(span),
                key("command"),
                format!(
                    "{about}: kind = \"exec\" needs command = [\"/path/to/program\", \"arg\", …] \
                     (run without a shell; the event JSON is on its stdin)"
                ),
            )),
        };
    }
    if let Some(c) = &raw.command {
        return Err(src.error(
            Some(c.span()),
            key("command"),
            format!("{about}: command applies to kind = \"exec\" only"),
        ));
    }
    let (text, value_span, field, from_file) = match (&raw.url, &raw.url_file) {
        (Some(u), None) => (u.get_ref().trim().to_owned(), u.span(), "url", false),
        (None, Some(f)) => {
            let text = read_secret_file(src, f, &key("url_file"), about, base)?;
            (text.expose().to_owned(), f.span(), "url_file", true)
        }
        (Some(_), Some(f)) => {
            return Err(src.error(
                Some(f.span()),
                key("url_file"),
                format!("{about}: set either url or url_file, not both"),
            ))
        }
        (None, None) => {
            return Err(src.error(
                Some(span),
                key("url"),
                format!(
                    "{about}: kind = \"{}\" needs url = \"https://…\" (or url_file = \"/path\" \
                     for a URL that carries a token)",
                    kind.name()
                ),
            ))
        }
    };
    feeds::check_http_url(&text).map_err(|m| {
        // Never quote a URL read from a file: it is a secret.
        let m = if from_file {
            "the file does not hold an http(s) URL".to_owned()
        } else {
            m
        };
        src.error(Some(value_span), key(field), format!("{about}: {m}"))
    })?;
    let shown = if from_file || kind.url_is_secret() {
        host_only(&text)
    } else {
        crate::secret::redact_url(&text)
    };
    Ok((Some(Secret::new(text)), shown, Vec::new()))
}

/// `https://discord.com/…`: enough to recognise the target, nothing more.
pub fn host_only(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(u) => format!(
            "{}://{}/… (redacted)",
            u.scheme(),
            u.host_str().unwrap_or_default()
        ),
        Err(_) => "(redacted)".to_owned(),
    }
}

fn read_secret_file(
    src: &Source,
    file: &Spanned<String>,
    key: &str,
    about: &str,
    base: &Path,
) -> Result<Secret, ConfigError> {
    let path = resolve_path(base, file.get_ref());
    match std::fs::read_to_string(&path) {
        Ok(text) if !text.trim().is_empty() => Ok(Secret::new(text.trim())),
        Ok(_) => Err(src.error(
            Some(file.span()),
            key,
            format!("{about}: {} is empty", path.display()),
        )),
        Err(e) => Err(src.error(
            Some(file.span()),
            key,
            format!("{about}: cannot read {}: {e}", path.display()),
        )),
    }
}

/// A list whose items must be among `known`; `None` when absent.
fn names(
    src: &Source,
    value: &Option<Vec<Spanned<String>>>,
    key: &str,
    about: &str,
    known: &[&str],
) -> Result<Option<Vec<String>>, ConfigError> {
    let Some(items) = value else {
        return Ok(None);
    };
    for item in items {
        if !known.contains(&item.get_ref().as_str()) {
            return Err(src.error(
                Some(item.span()),
                key,
                format!(
                    "{about}: unknown event \"{}\" (events: {})",
                    item.get_ref(),
                    known.join(", ")
                ),
            ));
        }
    }
    Ok(Some(items.iter().map(|i| i.get_ref().clone()).collect()))
}

/// `feeds = [...]`: feed names, `drop` or `submit`.
fn source_names(
    src: &Source,
    value: &Option<Vec<Spanned<String>>>,
    key: &str,
    about: &str,
    feeds: &[FeedConfig],
) -> Result<Option<Vec<String>>, ConfigError> {
    let Some(items) = value else {
        return Ok(None);
    };
    for item in items {
        let name = item.get_ref();
        if !feeds.iter().any(|f| &f.name == name) && !OTHER_SOURCES.contains(&name.as_str()) {
            let mut known: Vec<&str> = feeds.iter().map(|f| f.name.as_str()).collect();
            known.extend(OTHER_SOURCES);
            return Err(src.error(
                Some(item.span()),
                key,
                format!(
                    "{about}: no feed named \"{name}\" (sources: {}); a feed removed or \
                     renamed must leave this list too",
                    known.join(", ")
                ),
            ));
        }
    }
    Ok(Some(items.iter().map(|i| i.get_ref().clone()).collect()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str, dir: &Path) -> Result<crate::config::Config, ConfigError> {
        crate::config::parse(text, &dir.join("config.toml"), &|_| None)
    }

    const FEED: &str = "[[feeds]]\nname = \"Talks\"\nurl = \"https://example.com/feed.xml\"\n";

    #[test]
    fn defaults_and_filters() {
        let dir = tempfile::tempdir().unwrap();
        let text = format!(
            "{FEED}\n[[notify]]\nname = \"a\"\nkind = \"ntfy\"\nurl = \"https://ntfy.sh/t?auth=xyz\"\n\
             events = [\"done\", \"paused\"]\nfeeds = [\"Talks\", \"drop\"]\n"
        );
        let config = parse(&text, dir.path()).unwrap();
        assert_eq!(config.notify.feed_failing_after, 5);
        let sink = config.notify.sink("a").unwrap();
        assert_eq!(sink.timeout, Duration::from_secs(10));
        assert_eq!(sink.give_up_after, Duration::from_secs(24 * 3600));
        assert_eq!(sink.shown, "https://ntfy.sh/t?auth=redacted");
        assert!(sink.wants("done", Some("Talks")));
        assert!(sink.wants("done", Some("drop")));
        assert!(!sink.wants("done", Some("submit")));
        assert!(!sink.wants("failed", Some("Talks")));
        assert!(
            sink.wants("paused", None),
            "account events pass source filters"
        );
    }

    #[test]
    fn token_urls_are_shown_by_host_only_and_never_quoted() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("url"), "not a url TOKEN123\n").unwrap();
        let text = "[[notify]]\nname = \"d\"\nkind = \"discord\"\nurl_file = \"url\"\n";
        let err = parse(text, dir.path()).unwrap_err().to_string();
        assert!(err.contains("notify[0].url_file"), "{err}");
        assert!(!err.contains("TOKEN123"), "{err}");
        std::fs::write(
            dir.path().join("url"),
            "https://discord.com/api/webhooks/1/TOKEN123\n",
        )
        .unwrap();
        let config = parse(text, dir.path()).unwrap();
        let sink = config.notify.sink("d").unwrap();
        assert_eq!(sink.shown, "https://discord.com/… (redacted)");
        assert!(!format!("{sink:?}").contains("TOKEN123"));
    }

    #[test]
    fn names_are_unique_and_keys_fit_their_kind() {
        let dir = tempfile::tempdir().unwrap();
        let two = "[[notify]]\nname = \"a\"\nkind = \"exec\"\ncommand = [\"/bin/true\"]\n\n\
                   [[notify]]\nname = \"a\"\nkind = \"exec\"\ncommand = [\"/bin/true\"]\n";
        let err = parse(two, dir.path()).unwrap_err();
        assert_eq!(err.line(), Some(6));
        assert!(
            err.to_string()
                .contains("already used by the sink on line 1"),
            "{err}"
        );

        std::fs::write(dir.path().join("key"), "k").unwrap();
        let signed_ntfy =
            "[[notify]]\nname = \"n\"\nkind = \"ntfy\"\nurl = \"https://x/t\"\nsecret_file = \"key\"\n";
        let err = parse(signed_ntfy, dir.path()).unwrap_err();
        assert_eq!(
            (err.line(), err.key()),
            (Some(5), Some("notify[0].secret_file"))
        );

        let exec_url = "[[notify]]\nname = \"e\"\nkind = \"exec\"\nurl = \"https://x\"\n";
        assert_eq!(parse(exec_url, dir.path()).unwrap_err().line(), Some(4));

        let zero = "[notifications]\nfeed_failing_after = 0\n";
        assert_eq!(parse(zero, dir.path()).unwrap_err().line(), Some(2));
    }
}
