//! What a running batch shows while it works (the CLI draws it on stderr).

use jiff::Timestamp;
use tokio::sync::watch;

/// Where the batch is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Phase {
    /// Opening the state store, binding the solver.
    #[default]
    Starting,
    /// Another run holds the state file; this one waits for it to finish.
    WaitingForLock,
    /// Restoring or registering the ACME account.
    Account,
    /// Checking every name before ordering.
    Preflight,
    /// Ordering, validating, finalizing.
    Issuing,
    /// Deciding about every authorization left, closing stale orders.
    Settling,
    /// Finished.
    Done,
}

/// A snapshot of the batch.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BatchProgress {
    /// Where the batch is.
    pub phase: Phase,
    /// Certificates requested.
    pub certificates: usize,
    /// Names checked by the preflight so far.
    pub preflight_done: usize,
    /// Names the preflight checks.
    pub preflight_total: usize,
    /// Issued so far.
    pub issued: usize,
    /// Issued by an earlier run.
    pub already_issued: usize,
    /// Failed so far.
    pub failed: usize,
    /// Attempts running.
    pub in_flight: usize,
    /// Waiting for their turn.
    pub queued: usize,
    /// When the CA asked the whole account to wait until, if it did.
    pub paused_until: Option<Timestamp>,
}

/// The batch's side of the progress channel (a no-op without a receiver).
pub(super) struct Reporter(Option<watch::Sender<BatchProgress>>);

impl Reporter {
    pub(super) fn new(sender: Option<watch::Sender<BatchProgress>>) -> Reporter {
        Reporter(sender)
    }

    /// Applies `change` to the current snapshot.
    pub(super) fn update(&self, change: impl FnOnce(&mut BatchProgress)) {
        if let Some(sender) = &self.0 {
            sender.send_modify(change);
        }
    }
}
