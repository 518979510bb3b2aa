//! Where cert-manager objects come from: saved snapshots and the built-in demo.

pub mod demo;
pub mod snapshot;
pub mod synthetic;
