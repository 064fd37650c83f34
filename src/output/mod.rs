//! The output tree: names from templates, downloads through `.part` files,
//! sidecars and `project.json`.

pub mod download;
pub mod sidecar;
