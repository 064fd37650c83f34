//! The domain model, at the bottom of the layers: a job and its state
//! machine ([`job`]), and how a source is named ([`identity`]: canonical keys
//! and short ids; [`moments`]: the keys and query of Find Moments jobs).
//! It depends on no other module of ours; the store, the pipeline, the
//! sources, the output and every front end depend on it.

pub mod extra;
pub mod identity;
pub mod job;
pub mod moments;

pub use extra::{ExtraKind, ExtraState, ExtraTask, Extras};
pub use job::*;
