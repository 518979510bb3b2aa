//! `certdx issue` workers on a PostgreSQL state against the Pebble lab, and what the tests read
//! back from the store.

#![allow(dead_code)] // each test binary uses its part

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;

use certdx::engine::store::PgStore;

use super::pebble_lab::PebbleLab;

/// `certdx issue` for `lab` with its state in PostgreSQL at `state` (from the environment: the
/// lab's flags name an SQLite file, which is dropped here).
pub fn pg_issue(
    lab: &PebbleLab,
    directory: &str,
    dir: &Path,
    domains: &Path,
    state: &str,
) -> tokio::process::Command {
    pg_issue_at(lab, directory, dir, domains, state, None)
}

/// [`pg_issue`] with the HTTP-01 listener at `listen` instead of where the CA validates.
pub fn pg_issue_at(
    lab: &PebbleLab,
    directory: &str,
    dir: &Path,
    domains: &Path,
    state: &str,
    listen: Option<SocketAddr>,
) -> tokio::process::Command {
    let mut flags = lab.issue_flags(directory, dir);
    if let Some(addr) = listen {
        let at = flags.iter().position(|f| f == "--http01-listen").unwrap();
        flags[at + 1] = addr.to_string();
    }
    let at = flags.iter().position(|f| f == "--state").unwrap();
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_certdx"));
    cmd.arg("issue")
        .args(&flags[..at])
        .args(&flags[at + 2..])
        .arg("--domains-file")
        .arg(domains)
        .args(["--format", "json"])
        .env("CERTDX_STATE", state)
        .env_remove("CERTDX_LOG")
        .env_remove("CERTDX_EAB_HMAC_KEY")
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true);
    cmd
}

/// A loopback address no listener uses: where a worker the CA must not reach listens.
pub fn free_loopback() -> SocketAddr {
    let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    probe.local_addr().unwrap()
}

/// Orders per status in the store, through the fleet view.
pub fn order_counts(store: &PgStore) -> BTreeMap<String, i64> {
    tokio::task::block_in_place(|| store.fleet().unwrap())
        .orders
        .into_iter()
        .map(|o| (o.status, o.count))
        .collect()
}
