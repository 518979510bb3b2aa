//! Why a batch could not run at all (as opposed to a certificate failing, which is a result).

use std::path::PathBuf;

use crate::engine::acme::AcmeError;
use crate::engine::scheduler::SchedulerError;
use crate::engine::solver::dns01::Dns01Error;
use crate::engine::solver::http01::Http01Error;
use crate::engine::store::StoreError;

use super::lock::LockError;

/// A failure that stops the whole batch (exit code 2 in the CLI).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BatchError {
    /// Another run holds the state file for longer than this run may wait.
    #[error(transparent)]
    Lock(#[from] LockError),
    /// The state store failed: without it nothing may be sent to the CA.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The scheduler refused its configuration or lost track of work.
    #[error(transparent)]
    Scheduler(#[from] SchedulerError),
    /// The HTTP-01 solver could not start (port in use, no permission for port 80).
    #[error(transparent)]
    Solver(#[from] Http01Error),
    /// The embedded DNS server could not start (port in use, no permission for port 53).
    #[error(transparent)]
    DnsSolver(#[from] Dns01Error),
    /// The CA does not offer the certificate profile asked for: nothing was ordered.
    #[error("--profile {asked}: {why}")]
    Profile {
        /// The profile asked for.
        asked: String,
        /// What the directory offers instead.
        why: String,
    },
    /// The account could not be registered or restored.
    #[error("ACME account: {0}")]
    Account(#[source] AcmeError),
    /// A certificate or key file could not be written. The order stays resumable: the next run
    /// downloads the certificate again and pairs it with the staged key.
    #[error("writing {path}: {source}")]
    Output {
        /// The file or directory.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },
}
