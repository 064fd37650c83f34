//! The WayinVideo AI Clipping API: a lenient client that every pipeline stage
//! goes through.
//!
//! `client` sends the calls, `types` decodes what comes back (both envelope
//! styles, numbers as strings or numbers, renamed fields), `error` classifies
//! failures, `upload` holds what the Upload API accepts, `moments` the Find Moments
//! calls, `limiter` holds the account's shared request budget and
//! `slots` its running-task slots. `tasks` holds the other task kinds (transcripts,
//! summaries, clip exports), decoded as loosely as their documentation.

pub mod client;
pub mod error;
pub mod limiter;
pub mod moments;
pub mod slots;
pub mod tasks;
pub mod types;
pub mod upload;

pub use client::{ApiClient, KeyCheck};
pub use error::ApiError;
pub use limiter::{Budget, SlotPool};
pub use types::{Clip, TaskResults, TaskStatus};
