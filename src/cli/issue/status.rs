//! `certdx issue --state postgres://... --status`: the fleet sharing a PostgreSQL state.

use std::fmt::Write as _;
use std::process::ExitCode;

use serde::Serialize;

use super::super::args::IssueArgs;
use super::super::{CliError, EXIT_OK, TextOrJson, write_output};
use crate::engine::store::pg::fleet::Fleet;
use crate::engine::store::{PgStore, StateLocation};

#[derive(Serialize)]
struct StatusOutput<'a> {
    schema_version: u32,
    /// The state URL, password masked.
    state: String,
    #[serde(flatten)]
    fleet: &'a Fleet,
}

/// Prints the fleet; an SQLite state has no fleet (one run at a time), which is a usage error.
pub fn run(a: &IssueArgs) -> Result<ExitCode, CliError> {
    let location =
        StateLocation::parse(&a.state).map_err(|e| CliError::Usage(format!("--state: {e}")))?;
    let StateLocation::Postgres(url) = location else {
        return Err(CliError::Usage(format!(
            "--status shows the workers sharing a postgres:// state; {location} is an SQLite \
             file, used by one run at a time"
        )));
    };
    let fleet = PgStore::open(&url)
        .and_then(|store| store.fleet())
        .map_err(|e| CliError::Usage(format!("--state: {e}")))?;
    let out = match a.format {
        TextOrJson::Json => {
            let doc = StatusOutput {
                schema_version: crate::report::SCHEMA_VERSION,
                state: url.to_string(),
                fleet: &fleet,
            };
            serde_json::to_string_pretty(&doc).expect("serialisable") + "\n"
        }
        TextOrJson::Text => render(&url.to_string(), &fleet),
    };
    write_output(None, &out)?;
    Ok(ExitCode::from(EXIT_OK))
}

fn render(state: &str, fleet: &Fleet) -> String {
    let mut s = format!("state {state}\n");
    let _ = writeln!(s, "workers: {}", fleet.workers.len());
    for w in &fleet.workers {
        let _ = writeln!(
            s,
            "  #{} {} pid {}: {}, heartbeat {:.1} s ago, {} claim(s), {} challenge(s) in flight",
            w.id,
            w.host,
            w.pid,
            if w.alive { "alive" } else { "lease expired" },
            w.heartbeat_age_secs,
            w.claims,
            w.in_flight
        );
        if !w.holding.is_empty() {
            let more = if w.claims > w.holding.len() as i64 {
                ", ..."
            } else {
                ""
            };
            let _ = writeln!(s, "    holding {}{more}", w.holding.join("; "));
        }
    }
    for c in &fleet.claims {
        let _ = writeln!(
            s,
            "{}s: {} free, {} held, {} expired (to be taken over), {} done",
            c.kind, c.free, c.held, c.expired, c.done
        );
    }
    for d in &fleet.in_flight {
        let _ = writeln!(s, "in flight on {}: {}", d.directory_url, d.count);
    }
    for d in &fleet.reserved_pending {
        let _ = writeln!(
            s,
            "pending authorizations reserved on {}: {}",
            d.directory_url, d.count
        );
    }
    for p in &fleet.pauses {
        let _ = writeln!(
            s,
            "paused on {} for {:.0} s more: {}",
            p.directory_url, p.remaining_secs, p.reason
        );
    }
    let orders: Vec<String> = fleet
        .orders
        .iter()
        .map(|o| format!("{} {}", o.count, o.status))
        .collect();
    let _ = writeln!(
        s,
        "orders: {}",
        if orders.is_empty() {
            "none".to_string()
        } else {
            orders.join(", ")
        }
    );
    s
}
