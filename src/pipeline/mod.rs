//! From a queued job to a finished folder: `job` is the pure state machine,
//! `scheduler` runs jobs through submit → poll → download under the
//! account's limits, `download` fetches and verifies files.

pub mod pause;
pub mod scheduler;
pub mod worker;

pub use scheduler::{Pipeline, Progress, Scope};
