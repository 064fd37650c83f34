//! Shared helpers for clipwatch's integration tests.
//!
//! Each test file includes this with `mod support;`; not every file uses every
//! helper, hence the blanket `dead_code` allowance.
#![allow(dead_code, unused_imports)]

pub mod background;
pub mod fake_api;
pub mod feed_server;
pub mod harness;
pub mod http;
pub mod receiver;

pub use fake_api::{CostField, Drip, Envelope, FakeApi, FakeConfig, Misbehave, Recorded, Target};
