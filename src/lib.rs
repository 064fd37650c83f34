//! clipwatch: turn new long videos into ranked short clips with the WayinVideo
//! AI Clipping API.
//!
//! The data flows one way: sources (feeds, drop folder, `submit`) reduce
//! each video to a canonical key and record a job in the store; the
//! pipeline (scheduler: budget, slots, polling; one file per protocol step)
//! drives it through the API client; the output writes the folder (`.part`
//! then rename, sidecars, editor exports, `project.json`). Every durable job
//! write is published on one broadcast (`Store::subscribe`), which
//! notifications, metrics and the dashboard listen to.
//!
//! The layers, each importing only those below it (`.ci/layers.py` checks
//! the `crate::` references of every file: no cycle between these modules,
//! no file over 500 lines of code):
//!
//! ```text
//! front ends   cli ─────────────▶ daemon ──▶ http (dashboard, /api/v1, /metrics)
//!                │                  │          │
//! operations     └──▶ commands ◀────┴──────────┘   (typed Request/Reply)
//!                        │
//! work           pipeline   sources   notify
//!                   │    ╲     │    ╱   │
//! parts          output  api  store  config
//!                   │     │     │      │
//! leaves         model · util · secret · telemetry
//! ```
//!
//! `model` holds the job state machine and canonical keys; `util` the small
//! helpers written once; `secret` the redaction of keys and signed links;
//! `telemetry` the metrics registry and the heartbeats behind `/healthz`.
//! (`config` also reads `output`'s template syntax to check it; `cli` may
//! use any layer.)

pub mod api;
pub mod cli;
pub mod commands;
pub mod config;
pub mod daemon;
pub mod http;
pub mod model;
pub mod notify;
pub mod output;
pub mod pipeline;
pub mod secret;
pub mod sources;
pub mod store;
pub mod telemetry;
pub mod util;
