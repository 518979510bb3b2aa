//! Running `certdx issue` against the Pebble lab from a test, and reading what it left in its
//! state store: shared by the engine's batch and resume tests.

#![allow(dead_code)] // each test binary uses a different part

use std::future::Future;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;

use crate::pebble_lab::{Endpoint, Logged, PebbleLab};

/// One scenario at a time: each starts its own Pebble, and two at once would starve each
/// other on a 2-core machine.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Runs `body` within `limit`, one scenario at a time.
pub async fn scenario<F: Future<Output = ()>>(limit: Duration, body: F) {
    let _turn = SERIAL.lock().await;
    tokio::time::timeout(limit, body)
        .await
        .unwrap_or_else(|_| panic!("the scenario did not finish within {limit:?}"));
}

/// The `certdx issue` command for `lab` through `directory`, its state and output in `dir`,
/// the certificates in `domains` (one per line), JSON on stdout.
pub fn issue_command(
    lab: &PebbleLab,
    directory: &str,
    dir: &Path,
    domains: &Path,
) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_certdx"));
    cmd.arg("issue")
        .args(lab.issue_flags(directory, dir))
        .arg("--domains-file")
        .arg(domains)
        .args(["--format", "json"])
        .env_remove("CERTDX_LOG")
        .env_remove("CERTDX_EAB_HMAC_KEY")
        .stdin(Stdio::null())
        .kill_on_drop(true);
    cmd
}

/// Runs `cmd` to its end within `limit`: exit code and the JSON document it printed.
pub async fn run_json(mut cmd: tokio::process::Command, limit: Duration) -> (i32, Value, String) {
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let child = cmd.spawn().expect("certdx started");
    let out = tokio::time::timeout(limit, child.wait_with_output())
        .await
        .expect("certdx finished in time")
        .expect("certdx output");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let doc: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("stdout is one JSON document ({e}); stderr:\n{stderr}"));
    (out.status.code().unwrap_or(-1), doc, stderr)
}

/// The newOrder requests in a proxy's log.
pub fn new_orders(log: &[Logged]) -> Vec<&Logged> {
    log.iter()
        .filter(|l| l.endpoint == Endpoint::NewOrder)
        .collect()
}

/// One row of the store's `orders` table, read straight from the file: the store's API has no
/// "every order" query, and the tests want all of them, whatever their status.
#[derive(Debug, Clone)]
pub struct OrderRow {
    /// The row id.
    pub id: i64,
    /// The order URL, once the CA answered newOrder.
    pub url: Option<String>,
    /// The names ordered.
    pub identifiers: Vec<String>,
    /// The store's status word.
    pub status: String,
    /// Why it ended, when it did.
    pub error: Option<String>,
    /// The certificate profile it asked for.
    pub profile: Option<String>,
    /// The certificate it replaces (RFC 9773 identifier).
    pub replaces: Option<String>,
}

/// Every order row of the store at `state`, oldest first.
pub fn order_rows(state: &Path) -> Vec<OrderRow> {
    let conn =
        rusqlite::Connection::open_with_flags(state, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .expect("state store");
    // The store's file exists a moment before its tables do: a poll in that moment sees no
    // order yet.
    let mut stmt = match conn.prepare(
        "SELECT id, order_url, identifiers_json, status, error, profile, replaces
             FROM orders ORDER BY id",
    ) {
        Ok(stmt) => stmt,
        Err(e) if e.to_string().contains("no such table") => return Vec::new(),
        Err(e) => panic!("reading the state store: {e}"),
    };
    stmt.query_map([], |r| {
        let json: String = r.get(2)?;
        Ok(OrderRow {
            id: r.get(0)?,
            url: r.get(1)?,
            identifiers: serde_json::from_str(&json).unwrap_or_default(),
            status: r.get(3)?,
            error: r.get(4)?,
            profile: r.get(5)?,
            replaces: r.get(6)?,
        })
    })
    .unwrap()
    .collect::<Result<_, _>>()
    .unwrap()
}
