//! What happens to each candidate of a feed: queued, skipped with a reason
//! (filters, Shorts, first-sight backfill), or held (younger than `delay`, an
//! upcoming premiere). Pure: the caller passes the clock and what was held
//! before.

use std::time::Duration;

use chrono::{DateTime, Utc};
use regex::Regex;

use super::entries::Candidate;
use crate::config::FeedConfig;

/// The reason recorded for history skipped on first sight.
pub const BACKFILL: &str = "backfill";
/// The reason recorded for Shorts when `shorts = false`.
pub const SHORTS: &str = "shorts";

/// The reason recorded, with `use = "enclosure"`, for an entry with only a
/// page link.
pub const NO_ENCLOSURE: &str = "no enclosure (use = \"enclosure\")";
/// The start of the reason recorded for an entry read by an enclosure that
/// is not a video (`no video enclosure (audio/mpeg)`).
pub const NO_VIDEO_ENCLOSURE: &str = "no video enclosure (";

/// The start of the reason recorded for an entry whose link differs from
/// another's only by `#fragment` (one page, clipped once).
pub const SAME_PAGE: &str = "same page as ";

/// Whether a skip `reason` is one feed's own choice (backfill, Shorts,
/// include/exclude, what `use =` reads), which another feed wanting the
/// video overrules.
pub fn is_feed_rule(reason: &str) -> bool {
    reason == BACKFILL
        || reason == SHORTS
        || reason == NO_ENCLOSURE
        || reason.starts_with(NO_VIDEO_ENCLOSURE)
        || reason.starts_with("exclude: ")
        || reason.starts_with("include: ")
}

/// A candidate's fate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Queue,
    Skip(String),
    /// Not recorded yet: looked at again once `ready_at` passes (or, without
    /// a time, when the feed shows the premiere has started).
    Hold {
        ready_at: Option<DateTime<Utc>>,
    },
}

/// The feed settings that decide.
#[derive(Debug, Clone)]
pub struct Rules<'a> {
    pub shorts: bool,
    pub include: Option<&'a Regex>,
    pub exclude: Option<&'a Regex>,
    pub delay: Duration,
    /// `Some(backfill)` on first sight of the feed.
    pub first_sight: Option<u32>,
}

impl<'a> Rules<'a> {
    pub fn new(feed: &'a FeedConfig, first_sight: bool) -> Rules<'a> {
        Rules {
            shorts: feed.shorts,
            include: feed.include.as_ref(),
            exclude: feed.exclude.as_ref(),
            delay: feed.delay,
            first_sight: first_sight.then_some(feed.backfill),
        }
    }
}

/// Decide every candidate, newest first. `held_until` gives the release
/// time of an undated entry held before, so its wait is not restarted.
pub fn decide(
    mut candidates: Vec<Candidate>,
    rules: &Rules,
    now: DateTime<Utc>,
    held_until: impl Fn(&str) -> Option<DateTime<Utc>>,
) -> Vec<(Candidate, Decision)> {
    // Stable: undated entries keep the feed's (usually newest-first) order.
    candidates.sort_by_key(|c| std::cmp::Reverse(c.published));
    let mut backfilled = 0;
    candidates
        .into_iter()
        .map(|c| {
            let decision = if let Some(reason) = skip_reason(&c, rules) {
                Decision::Skip(reason)
            } else if c.upcoming {
                // Not history: a premiere is new whenever it starts.
                Decision::Hold { ready_at: None }
            } else if rules.first_sight.is_some_and(|n| backfilled >= n) {
                Decision::Skip(BACKFILL.into())
            } else {
                backfilled += 1;
                delay_decision(&c, rules.delay, now, &held_until)
            };
            (c, decision)
        })
        .collect()
}

/// Why a candidate is skipped whatever its age, if it is.
pub fn skip_reason(c: &Candidate, rules: &Rules) -> Option<String> {
    if let Some(reason) = &c.unusable {
        return Some(reason.clone());
    }
    if c.short && !rules.shorts {
        return Some(SHORTS.into());
    }
    if let Some(re) = rules.exclude.filter(|re| re.is_match(&c.title)) {
        return Some(format!("exclude: {re}"));
    }
    if let Some(re) = rules.include.filter(|re| !re.is_match(&c.title)) {
        return Some(format!("include: {re} not matched"));
    }
    None
}

fn delay_decision(
    c: &Candidate,
    delay: Duration,
    now: DateTime<Utc>,
    held_until: &impl Fn(&str) -> Option<DateTime<Utc>>,
) -> Decision {
    if delay.is_zero() {
        return Decision::Queue;
    }
    let delay = chrono::TimeDelta::from_std(delay).unwrap_or(chrono::TimeDelta::MAX);
    let ready_at = match c.published {
        Some(published) => published.checked_add_signed(delay),
        // Undated: wait `delay` from when it was first seen.
        None => held_until(&c.key.key).or_else(|| now.checked_add_signed(delay)),
    };
    match ready_at {
        Some(at) if at > now => Decision::Hold { ready_at: Some(at) },
        _ => Decision::Queue,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::identity::canonical_key;

    #[test]
    fn what_one_feed_reads_is_its_own_rule() {
        assert!(is_feed_rule(NO_ENCLOSURE));
        assert!(is_feed_rule("no video enclosure (audio/mpeg)"));
        assert!(is_feed_rule(BACKFILL));
        assert!(!is_feed_rule(
            "same page as https://a.example/p.html#x (links differ only by #fragment)"
        ));
    }

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn c(id: &str, title: &str, published: Option<&str>) -> Candidate {
        Candidate {
            key: canonical_key(&format!("https://example.com/{id}")).unwrap(),
            title: title.into(),
            published: published.map(at),
            short: false,
            upcoming: false,
            unusable: None,
            link: String::new(),
            duration_s: None,
        }
    }

    fn base() -> Rules<'static> {
        Rules {
            shorts: false,
            include: None,
            exclude: None,
            delay: Duration::ZERO,
            first_sight: None,
        }
    }

    fn names(decided: &[(Candidate, Decision)]) -> Vec<(String, Decision)> {
        decided
            .iter()
            .map(|(c, d)| (c.title.clone(), d.clone()))
            .collect()
    }

    const NOW: &str = "2024-06-01T12:00:00Z";

    #[test]
    fn first_sight_queues_the_newest_n_and_skips_the_rest() {
        let list = vec![
            c("1", "old", Some("2024-01-01T00:00:00Z")),
            c("2", "newest", Some("2024-03-01T00:00:00Z")),
            c("3", "middle", Some("2024-02-01T00:00:00Z")),
        ];
        let rules = Rules {
            first_sight: Some(2),
            ..base()
        };
        let got = names(&decide(list.clone(), &rules, at(NOW), |_| None));
        assert_eq!(
            got,
            [
                ("newest".into(), Decision::Queue),
                ("middle".into(), Decision::Queue),
                ("old".into(), Decision::Skip(BACKFILL.into())),
            ]
        );
        let none = Rules {
            first_sight: Some(0),
            ..base()
        };
        assert!(decide(list.clone(), &none, at(NOW), |_| None)
            .iter()
            .all(|(_, d)| *d == Decision::Skip(BACKFILL.into())));
        // Later checks queue everything new.
        assert!(decide(list, &base(), at(NOW), |_| None)
            .iter()
            .all(|(_, d)| *d == Decision::Queue));
    }

    #[test]
    fn filters_give_their_reason_and_do_not_use_up_the_backfill() {
        let include = Regex::new("(?i)podcast").unwrap();
        let exclude = Regex::new("(?i)trailer").unwrap();
        let mut short = c("s", "Podcast short", Some("2024-05-04T00:00:00Z"));
        short.short = true;
        let list = vec![
            short,
            c("t", "Podcast trailer", Some("2024-05-03T00:00:00Z")),
            c("o", "Other show", Some("2024-05-02T00:00:00Z")),
            c("p", "Podcast #1", Some("2024-05-01T00:00:00Z")),
        ];
        let rules = Rules {
            include: Some(&include),
            exclude: Some(&exclude),
            first_sight: Some(1),
            ..base()
        };
        let got = names(&decide(list, &rules, at(NOW), |_| None));
        assert_eq!(
            got,
            [
                ("Podcast short".into(), Decision::Skip("shorts".into())),
                (
                    "Podcast trailer".into(),
                    Decision::Skip("exclude: (?i)trailer".into())
                ),
                (
                    "Other show".into(),
                    Decision::Skip("include: (?i)podcast not matched".into())
                ),
                ("Podcast #1".into(), Decision::Queue),
            ]
        );
    }

    #[test]
    fn shorts_pass_when_allowed() {
        let mut short = c("s", "x", None);
        short.short = true;
        let rules = Rules {
            shorts: true,
            ..base()
        };
        assert_eq!(skip_reason(&short, &rules), None);
    }

    #[test]
    fn young_entries_are_held_until_the_delay_has_passed() {
        let rules = Rules {
            delay: Duration::from_secs(30 * 60),
            ..base()
        };
        let list = vec![
            c("young", "young", Some("2024-06-01T11:50:00Z")),
            c("old", "old", Some("2024-06-01T11:00:00Z")),
        ];
        let got = names(&decide(list.clone(), &rules, at(NOW), |_| None));
        assert_eq!(
            got,
            [
                (
                    "young".into(),
                    Decision::Hold {
                        ready_at: Some(at("2024-06-01T12:20:00Z"))
                    }
                ),
                ("old".into(), Decision::Queue),
            ]
        );
        let later = decide(list, &rules, at("2024-06-01T12:20:00Z"), |_| None);
        assert!(later.iter().all(|(_, d)| *d == Decision::Queue));
    }

    #[test]
    fn undated_entries_wait_from_when_they_were_first_held() {
        let rules = Rules {
            delay: Duration::from_secs(60),
            ..base()
        };
        let list = vec![c("u", "undated", None)];
        let first = decide(list.clone(), &rules, at(NOW), |_| None);
        assert_eq!(
            first[0].1,
            Decision::Hold {
                ready_at: Some(at("2024-06-01T12:01:00Z"))
            }
        );
        let held = |_: &str| Some(at("2024-06-01T12:01:00Z"));
        let again = decide(list, &rules, at("2024-06-01T12:01:30Z"), held);
        assert_eq!(again[0].1, Decision::Queue);
    }

    #[test]
    fn upcoming_premieres_are_held_even_on_first_sight() {
        let mut premiere = c("p", "premiere", Some("2024-05-01T00:00:00Z"));
        premiere.upcoming = true;
        let list = vec![premiere, c("o", "older", Some("2024-04-01T00:00:00Z"))];
        let rules = Rules {
            first_sight: Some(0),
            ..base()
        };
        let got = names(&decide(list, &rules, at(NOW), |_| None));
        assert_eq!(got[0].1, Decision::Hold { ready_at: None });
        assert_eq!(got[1].1, Decision::Skip(BACKFILL.into()));
    }
}
