//! `certdx trial`: what the CA itself sees. One order for the names on an ACME CA (a staging or
//! test CA unless the caller says production), each authorization's challenge triggered (and
//! answered only when certdx can answer it for real from where it runs), and the CA's verdict
//! per name: its problem document, its validation record, and what that means in one line,
//! classified into finding codes by the same classifier as every other ACME message.
//!
//! Nothing is left behind: every authorization the trial created ends valid, invalid or
//! deactivated, on every exit path ([`cleanup`]), and the state store says which.
//!
//! - [`request`]: what to try, and which directories are test CAs ([`staging_counterpart`]);
//! - [`run`]: the trial itself ([`run_trial`]);
//! - [`event`]: its progress as it happens ([`TrialEvent`]);
//! - [`verdict`]: the CA's answer read into a [`NameVerdict`];
//! - [`cleanup`]: deactivation of what is still pending.

pub mod cleanup;
pub mod event;
pub mod request;
pub mod run;
pub mod verdict;

pub use cleanup::CleanupSummary;
pub use event::TrialEvent;
pub use request::{
    DirectoryKind, KnownCa, LETS_ENCRYPT_STAGING, TrialMethod, TrialRequest, classify_directory,
    known_cas, staging_counterpart,
};
pub use run::{TrialReport, run_trial};
pub use verdict::{NameVerdict, SelfCheck, ValidationRecord, VerdictStatus};

use crate::engine::acme::AcmeError;
use crate::engine::batch::LockError;
use crate::engine::store::StoreError;

/// Why a trial could not run (usage or runtime error, exit 2 at the command line). A CA that
/// refuses a name is not an error: it is that name's verdict.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TrialError {
    /// No names were given.
    #[error("give at least one name to try")]
    NoNames,
    /// A production directory without `--production`: nothing was sent to it.
    #[error(
        "{directory} is a production ACME directory: every failed trial counts toward the \
         account's failed-validation limit (Let's Encrypt: 5 per name per hour) and, repeated, \
         toward pausing the account for that name (after 1,152 consecutive failures); \
         {instead}; or pass --production to try there anyway"
    )]
    Production {
        /// The directory refused.
        directory: String,
        /// What to use instead, in words (the staging counterpart when there is one).
        instead: String,
    },
    /// The directory URL does not parse as an https URL (or http on loopback).
    #[error("--directory {0:?} is not an ACME directory URL")]
    BadDirectory(String),
    /// The solver was set up for the other method.
    #[error("{0}")]
    SolverMismatch(String),
    /// Another run holds the state store.
    #[error(transparent)]
    Lock(#[from] LockError),
    /// The state store failed.
    #[error("state store: {0}")]
    Store(#[from] StoreError),
    /// The account could not be restored or registered.
    #[error("ACME account: {0}")]
    Account(AcmeError),
    /// The order could not be created or read.
    #[error("ACME order: {0}")]
    Order(AcmeError),
    /// The solver could not start (its listener could not bind).
    #[error("solver: {0}")]
    Solver(String),
    /// Stopped by the caller (Ctrl-C) before the CA decided; the cleanup ran.
    #[error("stopped before the CA decided; pending authorizations were deactivated")]
    Cancelled,
}
