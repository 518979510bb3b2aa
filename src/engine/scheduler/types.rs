//! What goes into the scheduler, what comes out, and what a progress view can see.

use std::fmt;

use jiff::Timestamp;

use crate::engine::store::{ChallengeType, OrderId, StoreError};

/// The scheduler's handle on one work item, stable across retries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct WorkId(pub(crate) u64);

impl fmt::Display for WorkId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "work#{}", self.0)
    }
}

/// One unit of work: an order for a set of names, validated with one challenge type. In flight
/// from admission (newOrder, or picking up `resumes`) until its authorizations are settled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkItem {
    /// The names (normalised, sorted, deduplicated by [`super::Scheduler::enqueue`]).
    pub identifiers: Vec<String>,
    /// The challenge type the engine will answer.
    pub challenge_type: ChallengeType,
    /// The stored order this item resumes after a restart, if any: its authorizations already
    /// exist at the CA, so it does not add to the pending-authorization count.
    pub resumes: Option<OrderId>,
}

impl WorkItem {
    /// A new order for `identifiers`.
    pub fn new<S: Into<String>>(
        identifiers: impl IntoIterator<Item = S>,
        challenge_type: ChallengeType,
    ) -> WorkItem {
        WorkItem {
            identifiers: identifiers.into_iter().map(Into::into).collect(),
            challenge_type,
            resumes: None,
        }
    }

    /// Work that picks up the stored, unfinished `order`.
    pub fn resume<S: Into<String>>(
        order: OrderId,
        identifiers: impl IntoIterator<Item = S>,
        challenge_type: ChallengeType,
    ) -> WorkItem {
        WorkItem {
            resumes: Some(order),
            ..WorkItem::new(identifiers, challenge_type)
        }
    }
}

/// Work the engine may start now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Admitted {
    /// Pass it back to [`super::Scheduler::finished`].
    pub id: WorkId,
    /// What to do.
    pub item: WorkItem,
    /// 1 for the first try, then counting every earlier failed try of this item.
    pub attempt: u32,
}

/// How a work item ended, as the engine reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Every authorization is valid (the order can be finalized).
    Succeeded,
    /// The CA judged a challenge and the authorization became invalid: each listed name spends
    /// one from its failure budget and is backed off. An empty list means every name of the item.
    ValidationFailed {
        /// The names whose authorization failed.
        identifiers: Vec<String>,
        /// The ACME problem detail, for the report.
        why: String,
    },
    /// The engine deactivated pending authorizations (it gave the order up). Let's Encrypt counts
    /// that as a failed validation (boulder PR 7835), so it costs the same budget; the item is
    /// done. An empty list means every name of the item.
    Deactivated {
        /// The names whose pending authorization was deactivated.
        identifiers: Vec<String>,
        /// Why the engine gave up.
        why: String,
    },
    /// A failure the CA did not count (network error, badNonce exhausted, 429/5xx, a solver that
    /// could not present): retried after `retry_after` (the server's Retry-After) or a short
    /// backoff, without touching the names' budget.
    Transient {
        /// When the server said to come back.
        retry_after: Option<Timestamp>,
        /// What went wrong.
        why: String,
    },
    /// The engine dropped the work without costing anything (already issued, rejected before
    /// ordering, cancelled).
    Abandoned {
        /// Why.
        why: String,
    },
}

/// What the scheduler did with a finished item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Disposition {
    /// Nothing more to do for it.
    Done,
    /// Queued again (at its original place in line); not before `not_before`.
    Retry {
        /// The earliest instant it can run, as known now.
        not_before: Timestamp,
    },
    /// Given up: the engine reports the item's names as failed.
    GaveUp {
        /// Why, for the report.
        why: String,
    },
}

/// Why a queued item is not running.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Waiting {
    /// Nothing but a free slot (in-flight or pending-authorization cap).
    Slot,
    /// The same name and challenge type is in flight (cert-manager holds duplicates back too).
    Duplicate {
        /// The name in flight.
        identifier: String,
    },
    /// The server asked to come back later, or a transient failure is being backed off.
    RetryAfter {
        /// Until when.
        until: Timestamp,
    },
    /// A name failed validation recently and is backed off.
    Backoff {
        /// The name.
        identifier: String,
        /// Until when (backoff and failure budget together); `None` while its other in-flight
        /// work decides.
        until: Option<Timestamp>,
    },
}

/// A queued item, for a progress view.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuedView {
    /// Its handle.
    pub id: WorkId,
    /// Its names.
    pub identifiers: Vec<String>,
    /// Its challenge type.
    pub challenge_type: ChallengeType,
    /// When it was first enqueued.
    pub enqueued_at: Timestamp,
    /// Earlier failed tries.
    pub failed_tries: u32,
    /// Why it is not running.
    pub waiting: Waiting,
}

/// An item in flight, for a progress view.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InFlightView {
    /// Its handle.
    pub id: WorkId,
    /// Its names.
    pub identifiers: Vec<String>,
    /// Its challenge type.
    pub challenge_type: ChallengeType,
    /// When it was admitted.
    pub admitted_at: Timestamp,
    /// Which try this is (1 for the first).
    pub attempt: u32,
}

/// A name under backoff, for a progress view.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackoffView {
    /// The name.
    pub identifier: String,
    /// Failed validations since its last success.
    pub consecutive_failures: u32,
    /// Failed validations inside the budget window.
    pub failures_in_window: usize,
    /// When it may be tried again (backoff and budget together).
    pub until: Option<Timestamp>,
    /// Its last failure's reason.
    pub last_error: Option<String>,
}

/// Everything a progress view shows, at one instant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Progress {
    /// Waiting items, oldest first.
    pub queued: Vec<QueuedView>,
    /// Running items, by admission.
    pub in_flight: Vec<InFlightView>,
    /// Names backed off now, by name.
    pub backed_off: Vec<BackoffView>,
    /// The pending-authorization estimate at the last [`super::Scheduler::next_ready`].
    pub pending_authorizations: Option<usize>,
}

/// Why a scheduler call failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SchedulerError {
    /// The state store failed (or a name is not a valid identifier).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A configuration that cannot work.
    #[error("scheduler configuration: {0}")]
    InvalidConfig(String),
    /// A work item with no identifiers.
    #[error("a work item needs at least one identifier")]
    EmptyWorkItem,
    /// A handle that is not in flight (finished twice, or never admitted).
    #[error("{0} is not in flight")]
    UnknownWork(WorkId),
}
