//! The fake API's task kinds beside AI Clipping (`WAYINVIDEO_API_MORE.md`):
//! Video Transcription (`POST /transcripts`, `GET /transcripts/results/{id}`)
//! and Video Summarization (`POST /summaries`, `GET /summaries/results/{id}`),
//! under either prefix. A submit answers `data.project_id` under `/open/v2`
//! and `data.id` under `/api/v2`; results come only at SUCCEEDED, with
//! `start`/`end`/`timestamp` in ms (as strings when `numbers_as_strings`).
//! Clips Export (`POST /clips/export` with `project_id` and `clip_indices`,
//! `GET /clips/export/{id}`, under either prefix) answers
//! `data.export_task_id` and, at SUCCEEDED, the clips asked for with export
//! links the fake's CDN serves (content of the export task's own id).
//! Tasks run through CREATED → QUEUED → ONGOING like clipping tasks and
//! count against `max_running`. `Misbehave::fail_transcripts_with` /
//! `fail_summaries_with` make the next ones end FAILED.

use std::collections::HashMap;
use std::time::Instant;

use axum::response::Response;
use serde_json::{json, Map, Value};

use super::{api_error, epoch_ms, CostField, Shared, Status, World};

/// Units a SUCCEEDED transcript costs (FAILED costs 0).
pub const TRANSCRIPT_UNITS: u64 = 4;
/// Units a SUCCEEDED summary costs.
pub const SUMMARY_UNITS: u64 = 6;
/// Units a SUCCEEDED clip export costs (the docs give no figure).
pub const EXPORT_UNITS: u64 = 2;

/// The two kinds, as their paths name them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    Transcripts,
    Summaries,
    Exports,
}

impl Kind {
    pub fn path(self) -> &'static str {
        match self {
            Kind::Transcripts => "/transcripts",
            Kind::Summaries => "/summaries",
            Kind::Exports => "/clips/export",
        }
    }

    fn id_prefix(self) -> &'static str {
        match self {
            Kind::Transcripts => "tr",
            Kind::Summaries => "sm",
            Kind::Exports => "exp",
        }
    }

    fn units(self) -> u64 {
        match self {
            Kind::Transcripts => TRANSCRIPT_UNITS,
            Kind::Summaries => SUMMARY_UNITS,
            Kind::Exports => EXPORT_UNITS,
        }
    }
}

/// Every transcript and summary task the fake holds.
#[derive(Default)]
pub struct Tasks {
    tasks: HashMap<String, ExtraTask>,
    /// Accepted submit bodies, by kind.
    pub submits: HashMap<Kind, Vec<Value>>,
    /// Summary submits left to cut off after creating their task.
    pub cuts_left: u32,
}

struct ExtraTask {
    kind: Kind,
    created: Instant,
    fail_with: Option<String>,
    expire_at_ms: i64,
    /// Exports: the clip indices asked for.
    clip_indices: Vec<usize>,
}

impl Tasks {
    /// Tasks not yet ended (they hold one of `max_running`).
    pub(super) fn running(&self, shared: &Shared, now: Instant) -> usize {
        self.tasks
            .values()
            .filter(|t| !status(shared, t, now).ended())
            .count()
    }

    /// Whether `id` is an export task (its links are served by the CDN).
    pub(super) fn is_export(&self, id: &str) -> bool {
        self.tasks.get(id).is_some_and(|t| t.kind == Kind::Exports)
    }
}

fn status(shared: &Shared, task: &ExtraTask, now: Instant) -> Status {
    let phase = shared.cfg.phase;
    let elapsed = now.saturating_duration_since(task.created);
    if elapsed < phase {
        Status::Created
    } else if elapsed < phase * 2 {
        Status::Queued
    } else if elapsed < phase * 3 {
        Status::Ongoing
    } else if task.fail_with.is_some() {
        Status::Failed
    } else {
        Status::Succeeded
    }
}

/// The kind and the call a path under the prefix is, if it is one of these.
pub fn route(method: &str, rest: &str) -> Option<(Kind, Option<String>)> {
    if let Some(id) = rest.strip_prefix("/clips/export/") {
        let id = id.strip_prefix("results/").unwrap_or(id);
        return (method == "GET").then(|| (Kind::Exports, Some(id.to_string())));
    }
    for kind in [Kind::Transcripts, Kind::Summaries, Kind::Exports] {
        if method == "POST" && rest == kind.path() {
            return Some((kind, None));
        }
        let results = format!("{}/results/", kind.path());
        if let Some(id) = rest.strip_prefix(results.as_str()) {
            if method == "GET" {
                return Some((kind, Some(id.to_string())));
            }
        }
    }
    None
}

impl Shared {
    pub(super) fn extra_task(
        &self,
        w: &mut World,
        kind: Kind,
        id: Option<String>,
        body: Option<&Value>,
        now: Instant,
    ) -> Response {
        match id {
            None => self.extra_submit(w, kind, body, now),
            Some(id) => self.extra_results(w, &id, now),
        }
    }

    fn extra_submit(
        &self,
        w: &mut World,
        kind: Kind,
        body: Option<&Value>,
        now: Instant,
    ) -> Response {
        let Some(body) = body.filter(|b| b.is_object()) else {
            return api_error(400, "40001", "request body must be a JSON object");
        };
        let mut clip_indices = Vec::new();
        if kind == Kind::Exports {
            let project = body.get("project_id").and_then(Value::as_str).unwrap_or("");
            if !w.tasks.contains_key(project) {
                return api_error(404, "40400", &format!("task not found: {project}"));
            }
            let asked = body.get("clip_indices").and_then(Value::as_array);
            for idx in asked.into_iter().flatten() {
                match idx.as_u64() {
                    Some(i) if (i as usize) < self.cfg.clips => clip_indices.push(i as usize),
                    _ => return api_error(400, "40001", &format!("bad clip index {idx}")),
                }
            }
            if asked.is_none() {
                clip_indices = (0..self.cfg.clips).collect();
            }
        } else {
            match body.get("video_url").and_then(Value::as_str) {
                Some(u) if !u.trim().is_empty() => {}
                _ => return api_error(400, "40001", "video_url is required"),
            }
        }
        if w.running(self.cfg.phase, now).count() + w.extra.running(self, now)
            >= self.cfg.max_running
        {
            let path = format!("{}{}", self.cfg.prefix, kind.path());
            return super::gateway_error(429, &path, Some(self.cfg.phase));
        }
        let fail_with = match kind {
            Kind::Transcripts => w.misbehave.fail_transcripts_with.clone(),
            Kind::Summaries => w.misbehave.fail_summaries_with.clone(),
            Kind::Exports => None,
        };
        let submits = w.extra.submits.entry(kind).or_default();
        submits.push(body.clone());
        let id = format!("{}_{}", kind.id_prefix(), submits.len());
        w.extra.tasks.insert(
            id.clone(),
            ExtraTask {
                kind,
                created: now,
                fail_with,
                expire_at_ms: epoch_ms() + self.cfg.results_ttl.as_millis() as i64,
                clip_indices,
            },
        );
        if kind == Kind::Exports {
            return self.ok(json!({ "export_task_id": id }));
        }
        let id_field = if self.cfg.prefix == "/open/v2" {
            "project_id"
        } else {
            "id"
        };
        self.ok(json!({id_field: id, "name": "", "status": "CREATED"}))
    }

    fn extra_results(&self, w: &mut World, id: &str, now: Instant) -> Response {
        let Some(task) = w.extra.tasks.get(id) else {
            return api_error(404, "40400", &format!("task not found: {id}"));
        };
        let status = status(self, task, now);
        let (kind, fail_with, expire_at_ms, indices) = (
            task.kind,
            task.fail_with.clone(),
            task.expire_at_ms,
            task.clip_indices.clone(),
        );
        let mut data = Map::new();
        data.insert("id".into(), json!(id));
        data.insert("name".into(), json!("episode"));
        data.insert("status".into(), json!(status.as_str()));
        data.insert("expire_at".into(), json!(expire_at_ms));
        if status.ended() {
            let cost = if status == Status::Succeeded {
                kind.units()
            } else {
                0
            };
            let field = match self.cfg.cost_field {
                CostField::ApiUnitsUsage => "api_units_usage",
                CostField::CostUsage => "cost_usage",
            };
            data.insert(field.into(), self.number(cost));
        }
        if status == Status::Failed {
            data.insert("error_message".into(), json!(fail_with));
        }
        if status == Status::Succeeded {
            match kind {
                Kind::Transcripts => {
                    data.insert("transcript".into(), self.transcript());
                }
                Kind::Summaries => self.summary(&mut data),
                Kind::Exports => {
                    data.insert("export_task_id".into(), json!(id));
                    let clips: Vec<Value> = indices
                        .into_iter()
                        .map(|idx| {
                            let mut clip = self.clip_json(id, idx);
                            let link = self.issue_link(w, id, idx, now);
                            clip.insert("export_link".into(), Value::String(link));
                            Value::Object(clip)
                        })
                        .collect();
                    data.insert("clips".into(), Value::Array(clips));
                }
            }
        }
        self.ok(Value::Object(data))
    }

    /// Two speakers, one line with characters subtitles must escape.
    fn transcript(&self) -> Value {
        let segment = |speaker: &str, start: u64, end: u64, text: &str| {
            json!({"speaker": speaker, "start": self.number(start), "end": self.number(end),
                   "text": text, "language": "en", "words": [{"w": "x", "s": start}]})
        };
        json!([
            segment("Speaker 1", 0, 4_200, "Welcome back."),
            segment("Speaker 2", 4_200, 9_100, "Glad to be here."),
            segment(
                "Speaker 1",
                9_100,
                15_500,
                "Prices <went> up --> & so\nwe talk tiers."
            ),
            segment("Speaker 2", 3_600_000, 3_605_250, "One hour in."),
        ])
    }

    fn summary(&self, data: &mut Map<String, Value>) {
        data.insert("title".into(), json!("Pricing webinar"));
        data.insert(
            "summary".into(),
            json!("The team walks through the new pricing tiers."),
        );
        data.insert("tags".into(), json!(["#pricing", "#saas"]));
        data.insert(
            "highlights".into(),
            json!([
                {"desc": "Why tiers", "start": self.number(0), "end": self.number(310_000),
                 "events": [{"timestamp": self.number(45_000), "desc": "Three tiers introduced"}]},
                {"desc": "Enterprise plan", "start": self.number(310_000), "end": self.number(620_000),
                 "events": []},
                {"desc": "Questions", "start": self.number(620_000), "end": self.number(900_000),
                 "events": [{"timestamp": self.number(700_000), "desc": "Discounts"}]}
            ]),
        );
    }
}
