//! The embedded ACME issuance engine: the ACME client, the HTTP-01 and DNS-01 solvers, the
//! challenge scheduler and the persistent state store (docs/ARCHITECTURE.md, "The engine").
//!
//! Like `checks` and `diagnose`, this layer knows nothing of the TUI: the CLI, the TUI and the
//! tests drive it the same way.

pub mod acme;
pub mod batch;
pub mod scheduler;
pub mod solver;
pub mod store;
pub mod trial;
