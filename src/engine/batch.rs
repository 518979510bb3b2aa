//! The batch engine behind `certdx issue`: many certificates through one ACME account, driven
//! by the [`crate::engine::scheduler`], recorded in the [`crate::engine::store`] before every
//! step, answered by one solver: the [`crate::engine::solver::http01`] listener, the embedded
//! [`crate::engine::solver::dns01`] server, or [`crate::engine::solver::rfc2136`] updates.
//!
//! A run, in order:
//! 1. takes the state file's lock (a second run on the same state waits for the first);
//! 2. restores the account kept for the directory, or registers one and stores it first;
//! 3. skips what an earlier run already issued for exactly the same names, unless its file is
//!    gone or broken, it expires within the renewal window, or the run is forced;
//! 4. checks every other name with certdx's playbook (name, the challenge method, CAA) before
//!    any order, so a name that cannot validate costs no failed authorization;
//! 5. continues the orders an interrupted run left open, then orders the rest, at most
//!    `--concurrency` challenges in flight, one (name, type) at a time, failing names backed
//!    off, `Retry-After` honoured through the scheduler;
//! 6. per order: records every authorization and challenge, publishes the responses, runs its
//!    own check of each (token fetched, TXT on every authoritative server), answers, polls,
//!    withdraws the responses, finalizes with a key already on disk, waits
//!    out `processing`, installs `<out>/<name>.crt` and `<name>.key` (0600);
//! 7. leaves no authorization pending without a recorded decision (see `settle`), and reports.

pub(crate) mod account;
mod config;
mod copies;
mod error;
mod finalize;
mod gate;
mod input;
mod lock;
mod output;
mod preflight;
mod progress;
mod reconcile;
mod record;
mod renewal;
mod report;
pub(crate) mod responder;
mod results;
mod run;
mod settle;
mod shared;
mod state;
mod validate;
mod work;

use std::sync::MutexGuard;

use crate::engine::store::StateStore;

pub use config::{BatchConfig, CheckConfig, DEFAULT_RENEW_BEFORE, SolverConfig};
pub use error::BatchError;
pub use input::{CertRequest, InputError, collect_requests, parse_domains_file, parse_group};
pub use lock::{LockError, StateLock};
pub use progress::{BatchProgress, FleetGlance, ItemProgress, ItemState, Phase};
pub use report::{
    AuthorizationTally, BatchReport, BatchSummary, CertResult, CertStatus, InterruptedOrders, Stage,
};
pub use run::run_batch;

/// The run's state store (SQLite or PostgreSQL) behind the mutex every task shares it through.
type SharedStore = std::sync::Mutex<Box<dyn StateStore>>;

/// The store behind its mutex, for one short call; a panic elsewhere does not make the record
/// unreadable (every write is its own transaction, so the data is consistent).
fn lock_store(store: &SharedStore) -> MutexGuard<'_, Box<dyn StateStore>> {
    store
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
