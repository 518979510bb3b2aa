//! The engine's DNS-01 solvers against real servers:
//!
//! - `embedded`: certdx's own authoritative server for a delegated zone, over real UDP and
//!   TCP on 127.0.0.1 (ephemeral ports);
//! - `lab`: the same server delegated to from a knotd zone and resolved by unbound, checked
//!   by certdx's DNS-01 playbook check (127.0.9.0/24);
//! - `rfc2136`: TSIG-signed dynamic updates to a real knotd primary (127.0.13.0/24, see
//!   `knot_primary`);
//! - `issue`: `certdx issue` over DNS-01 (embedded zone, RFC 2136) against a real Pebble that
//!   validates through the lab's unbound;
//! - `shared`: two workers on one PostgreSQL state, each serving the delegated zone, answering
//!   each other's values from the database.

#[path = "common/acme_audit.rs"]
mod acme_audit;
#[path = "common/dns_lab.rs"]
mod dns_lab;
#[path = "common/pebble_lab.rs"]
mod pebble_lab;
// Both labs include ports.rs; PostgreSQL listens before Pebble picks its ports.
#[allow(clippy::duplicate_mod)]
#[path = "common/pg_lab.rs"]
mod pg_lab;

#[path = "engine_dns01/embedded.rs"]
mod embedded;
#[path = "engine_dns01/issue.rs"]
mod issue;
#[path = "engine_dns01/knot_primary.rs"]
mod knot_primary;
#[path = "engine_dns01/lab.rs"]
mod lab;
#[path = "engine_dns01/rfc2136.rs"]
mod rfc2136;
#[path = "engine_dns01/shared.rs"]
mod shared;
