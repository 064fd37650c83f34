//! The output tree under `output.dir` (SPEC §6): folder and clip names from
//! templates ([`naming`]), downloads through `.part` files ([`download`]),
//! and the JSON sidecars and `project.json` ([`sidecar`]), written so that
//! nothing half-finished is ever visible.

pub mod download;
pub mod exports;
pub mod links;
pub mod naming;
pub mod sidecar;
pub mod space;
