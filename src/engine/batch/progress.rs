//! What a running batch shows while it works: counts for the CLI's progress line on stderr,
//! and one row per certificate for the TUI's batch view.

use jiff::Timestamp;
use tokio::sync::watch;

use crate::model::Finding;

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
    /// On a PostgreSQL state, the workers sharing the batch, as last read from the database.
    pub fleet: Option<FleetGlance>,
    /// One row per certificate request, in the order requested.
    pub items: Vec<ItemProgress>,
}

/// The workers of a shared batch at a glance (see [`BatchProgress::fleet`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FleetGlance {
    /// Workers whose lease is alive, this one included.
    pub workers: usize,
    /// Challenges in flight on the CA over all workers.
    pub in_flight: usize,
    /// Certificates of this batch other workers hold or have still to claim.
    pub elsewhere: u64,
}

/// Where one certificate is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ItemState {
    /// Waiting for the preflight (or for an earlier run's record to be read).
    #[default]
    Checking,
    /// Passed the preflight; waiting for the scheduler to admit it.
    Queued,
    /// Creating or reopening its order.
    Ordering,
    /// Publishing, self-checking and answering challenges; waiting for the CA's verdicts.
    Validating,
    /// Finalizing, waiting out `processing`, downloading.
    Finalizing,
    /// An attempt failed and the scheduler will try again (after `retry_at`, when known).
    Retrying,
    /// Issued in this run.
    Issued,
    /// Issued by an earlier run.
    AlreadyIssued,
    /// Given up; `last` says why.
    Failed,
}

impl ItemState {
    /// A short lower-case word for the state, as shown in lists.
    pub fn as_str(self) -> &'static str {
        match self {
            ItemState::Checking => "checking",
            ItemState::Queued => "queued",
            ItemState::Ordering => "ordering",
            ItemState::Validating => "validating",
            ItemState::Finalizing => "finalizing",
            ItemState::Retrying => "retrying",
            ItemState::Issued => "issued",
            ItemState::AlreadyIssued => "already-issued",
            ItemState::Failed => "failed",
        }
    }

    /// Whether the certificate has reached its end in this run.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            ItemState::Issued | ItemState::AlreadyIssued | ItemState::Failed
        )
    }
}

/// One certificate's row.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ItemProgress {
    /// Its names, first one first.
    pub names: Vec<String>,
    /// Where it is.
    pub state: ItemState,
    /// When it entered `state`.
    pub since: Option<Timestamp>,
    /// Attempts started so far.
    pub attempts: u32,
    /// The last failure (of an attempt that will be retried, or the final one).
    pub last: Option<Finding>,
    /// When the next attempt may start, when it waits for a rate limit or a backoff.
    pub retry_at: Option<Timestamp>,
    /// The certificate file, once issued.
    pub certificate: Option<std::path::PathBuf>,
}

/// The batch's side of the progress channel (a no-op without a receiver). Shared by the loop
/// and the attempts, which say when they move from one stage to the next.
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

    /// Moves certificate `index` to `state` (a no-op for an index out of range).
    pub(super) fn item(&self, index: usize, state: ItemState) {
        self.update(|p| {
            if let Some(item) = p.items.get_mut(index)
                && item.state != state
            {
                item.state = state;
                item.since = Some(Timestamp::now());
            }
        });
    }
}
