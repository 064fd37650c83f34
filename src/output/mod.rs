//! The output tree under `output.dir` (SPEC §6): folder and clip names from
//! templates ([`naming`]), written so nothing half-finished is ever visible.

pub mod naming;
