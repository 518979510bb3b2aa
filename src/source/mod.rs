//! Where cert-manager objects come from: a live cluster, saved snapshots and the built-in demo.

pub mod cluster;
pub mod demo;
pub mod snapshot;
