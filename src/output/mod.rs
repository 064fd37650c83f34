//! The output tree under `output.dir` (SPEC §6): folder and clip names from
//! templates ([`naming`]), which clips are kept ([`plan`]), the job's folder
//! claimed once ([`folder`]), downloads through `.part` files ([`download`]),
//! and the JSON sidecars and `project.json` ([`sidecar`], put together by
//! [`assemble`]), written so that nothing half-finished is ever visible;
//! the files of a job's extra tasks (transcript, summary: [`extras`]).
//! Fed plain data (`model::Job`, API results); it knows nothing of the
//! pipeline that drives it.

pub mod assemble;
pub mod download;
pub mod exports;
pub mod extras;
pub mod folder;
pub mod links;
pub mod naming;
pub mod plan;
pub mod sidecar;
pub mod space;
