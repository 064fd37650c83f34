//! clipwatch: turn new long videos into ranked short clips with the WayinVideo
//! AI Clipping API.
//!
//! The data flows one way:
//!
//! ```text
//! sources (feeds, drop folder, `submit`) ── canonical key ──▶ store (sled jobs)
//!     ──▶ pipeline (scheduler: budget, slots, polling) ──▶ api (WayinVideo client)
//!     ──▶ output (templates, .part + rename, sidecars, project.json)
//! ```
//!
//! `config` loads and validates the TOML file, `commands` is the typed
//! request/reply layer every front end shares (the command line, the
//! daemon's control socket, an HTTP API), `cli` implements each subcommand,
//! and `daemon` ties the long-running pieces together.

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
