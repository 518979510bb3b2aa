//! The built-in demo estate: a realistic broken set of cert-manager objects shipped in assets/,
//! and [`DemoLab`], the loopback servers that make its names real enough for every playbook
//! check to run live and find what the scenario planted.

mod dns;
mod http;
mod lab;
mod ports;
mod scenario;
mod zones;

use std::path::Path;

use super::snapshot::{Snapshot, load_text};

pub use lab::{DemoLab, DemoLabError, Listener, ListenerKind};

/// The demo estate's YAML, embedded so `certdx demo` works from any directory.
pub const DEMO_YAML: &str = include_str!("../../../assets/demo/estate.yaml");

/// The instant the demo's timestamps are written relative to. Loading shifts every timestamp
/// by (now - this), so the demo always looks like it happened minutes ago.
pub const DEMO_ANCHOR: &str = "2026-01-15T12:00:00Z";

/// Loads the demo estate as it was at [`DEMO_ANCHOR`].
pub fn load() -> Snapshot {
    let mut snap = Snapshot::default();
    load_text(DEMO_YAML, Path::new("assets/demo/estate.yaml"), &mut snap);
    snap.files = 1;
    snap
}
