//! From a queued job to a finished folder. [`Pipeline`] is the handle the
//! daemon and the CLI hold; the [`scheduler`] runs jobs under the account's
//! limits (budget, slots, the daily unit cap), one [`worker`] per job in
//! flight, which runs the protocol steps one file each: [`upload`],
//! [`submit`], [`poll`], [`download`]; a job's extra tasks (transcript,
//! summary, re-renders: [`extra_export`]) are submitted beside the clipping task ([`extra_submit`]) and
//! finished in the download step (`extra_poll`). Every step returns one
//! [`Outcome`](step::Outcome) and sees only the shared [`context`], never
//! the scheduler.
//!
//! Dependencies point one way: `handle`/`scheduler` → `worker` → steps →
//! `step` → `context`.

pub mod cadence;
pub mod context;
pub mod download;
pub mod extra_export;
mod extra_poll;
pub mod extra_submit;
pub mod handle;
mod index;
mod moments;
pub mod pause;
pub mod poll;
pub mod scheduler;
pub mod step;
pub mod submit;
pub mod upload;
pub mod worker;

pub use context::{Context, Progress};
pub use handle::{Pipeline, PipelineError};
pub use scheduler::Scope;
