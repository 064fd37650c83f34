//! Which of a task's clips are written, and under which names: the plan
//! (`min_score`, then `max_clips` by rank), clip base names from the clip
//! template, made unique within a folder.

use std::collections::HashSet;

use crate::api::types::{Clip, TaskResults};
use crate::output::naming::{Template, Vars};

/// Which clips to download: those at or above `min_score`, then the best
/// `max_clips` by rank. Each clip comes with the reason it is left out, if any.
pub fn plan_clips(clips: &[Clip], min_score: u32, max_clips: u32) -> Vec<(Clip, Option<String>)> {
    // By rank, whatever order the API listed them in (ranks are unique, see
    // `assign_ranks`), so the answer depends only on the clips.
    let mut by_rank: Vec<&Clip> = clips.iter().collect();
    by_rank.sort_by_key(|clip| clip.idx);
    let mut kept = 0u32;
    by_rank
        .into_iter()
        .map(|clip| {
            let below = min_score > 0 && clip.score.is_none_or(|s| s < f64::from(min_score));
            let reason = if below {
                Some(match clip.score {
                    Some(score) => format!("score {score} is below min_score {min_score}"),
                    None => format!("no score (min_score {min_score})"),
                })
            } else if max_clips > 0 && kept >= max_clips {
                Some(format!("beyond max_clips {max_clips}"))
            } else {
                kept += 1;
                None
            };
            (clip.clone(), reason)
        })
        .collect()
}

/// `clip` in another reply of the same task: the same clip by content
/// (links are new on every call), else the one with the same `idx` as sent
/// and the same times.
pub fn find_clip<'a>(results: &'a TaskResults, clip: &Clip) -> Option<&'a Clip> {
    results
        .clips
        .iter()
        .find(|c| c.same_clip(clip))
        .or_else(|| {
            results.clips.iter().find(|c| {
                c.sent_idx == clip.sent_idx
                    && c.begin_ms == clip.begin_ms
                    && c.end_ms == clip.end_ms
            })
        })
}

/// `name`, or `name (2)`, `name (3)`… if an earlier clip took it.
pub fn unique_name(taken: &mut HashSet<String>, name: &str) -> String {
    let mut candidate = name.to_string();
    let mut n = 2;
    while !taken.insert(candidate.to_lowercase()) {
        candidate = format!("{name} ({n})");
        n += 1;
    }
    candidate
}

/// A clip's file name without extension, from the clip template; `short_id`
/// is the job's short id (`{id}`).
pub fn clip_base(template: &Template, clip: &Clip, short_id: &str) -> String {
    let vars = Vars {
        title: clip
            .title
            .clone()
            .filter(|t| !t.trim().is_empty())
            .unwrap_or_else(|| format!("clip {}", clip.idx + 1)),
        id: short_id.to_string(),
        rank: Some(clip.idx as u32 + 1),
        idx: Some(clip.idx as u32),
        score: clip
            .score
            .map(|s| s.round().clamp(0.0, u32::MAX as f64) as u32),
        ..Vars::default()
    };
    template.render(&vars).to_string_lossy().into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clip(idx: u64, score: Option<f64>) -> Clip {
        let mut value = serde_json::json!({ "idx": idx });
        if let Some(score) = score {
            value["score"] = serde_json::json!(score);
        }
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn plan_applies_min_score_then_max_clips() {
        let clips = [
            clip(0, Some(90.0)),
            clip(1, Some(40.0)),
            clip(2, Some(75.0)),
            clip(3, None),
            clip(4, Some(60.0)),
        ];
        let plan = plan_clips(&clips, 50, 2);
        let kept: Vec<u64> = plan
            .iter()
            .filter(|(_, r)| r.is_none())
            .map(|(c, _)| c.idx)
            .collect();
        assert_eq!(kept, [0, 2]);
        assert!(plan[1].1.as_deref().unwrap().contains("below min_score 50"));
        assert!(plan[3].1.as_deref().unwrap().contains("no score"));
        assert!(plan[4].1.as_deref().unwrap().contains("max_clips 2"));
        assert_eq!(
            plan_clips(&clips, 0, 0)
                .iter()
                .filter(|(_, r)| r.is_none())
                .count(),
            5
        );
    }

    #[test]
    fn names_are_made_unique() {
        let mut taken = HashSet::new();
        assert_eq!(unique_name(&mut taken, "a"), "a");
        assert_eq!(unique_name(&mut taken, "A"), "A (2)");
        assert_eq!(unique_name(&mut taken, "a"), "a (3)");
    }

    #[test]
    fn the_plan_does_not_depend_on_the_api_order() {
        let clips = [
            clip(0, Some(90.0)),
            clip(1, Some(40.0)),
            clip(2, Some(75.0)),
            clip(3, None),
            clip(4, Some(60.0)),
        ];
        let summary = |plan: Vec<(Clip, Option<String>)>| -> Vec<(u64, Option<String>)> {
            plan.into_iter().map(|(c, r)| (c.idx, r)).collect()
        };
        let expected = summary(plan_clips(&clips, 50, 2));
        let mut shuffled = clips.to_vec();
        for seed in 0..20u64 {
            // A cheap deterministic shuffle.
            shuffled.sort_by_key(|c| (c.idx * 7 + seed * 13) % 5);
            assert_eq!(summary(plan_clips(&shuffled, 50, 2)), expected);
            shuffled.reverse();
            assert_eq!(summary(plan_clips(&shuffled, 50, 2)), expected);
        }
    }
}
