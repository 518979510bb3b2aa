//! The limits several workers of a shared batch obey together (src/engine/store/pg/limits.rs),
//! applied to what this worker's scheduler admits: an item starts only once the database gave
//! it an in-flight slot for each of its names and, for a new order, a reservation of its
//! pending authorizations. Otherwise it goes back in line ([`Scheduler::defer`]) and is tried
//! again shortly, or when the CA's pause ends. The scheduler's own limits still apply first;
//! this adds the other workers' share. On SQLite there is no gate.

use std::collections::HashMap;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};

use crate::engine::scheduler::{Admitted, WorkId};
use crate::engine::store::pg::leases::WorkerId;
use crate::engine::store::pg::limits::{PendingReservation, Slot, SlotRefusal};
use crate::engine::store::{StateStore, StoreError};

/// How soon an item the shared limits held back is tried again.
const RETRY_SOON: Duration = Duration::from_millis(300);

/// What the gate said about an admitted item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Verdict {
    /// It may start: its slots (and reservation) are held until [`Gate::release`].
    Go,
    /// Not now: try again at this time.
    Later(Timestamp),
    /// The CA asked every worker to wait (a `Retry-After` one of them received).
    Paused {
        /// When the pause ends.
        until: Timestamp,
        /// What the CA said.
        reason: String,
    },
}

/// What an item holds while it runs.
#[derive(Default)]
struct Held {
    slots: Vec<Slot>,
    pending: Option<PendingReservation>,
}

/// This worker's side of the shared limits.
pub(super) struct Gate {
    worker: WorkerId,
    directory: String,
    max_in_flight: usize,
    max_pending: usize,
    lease: Duration,
    held: HashMap<WorkId, Held>,
}

impl Gate {
    /// The gate for `worker` on `directory`, with the batch's caps (the same for every worker,
    /// since each passes its own `--concurrency`: the database enforces the one it is given).
    pub(super) fn new(
        worker: WorkerId,
        directory: &str,
        max_in_flight: usize,
        max_pending: usize,
        lease: Duration,
    ) -> Gate {
        Gate {
            worker,
            directory: directory.to_string(),
            max_in_flight: max_in_flight.max(1),
            max_pending,
            lease,
            held: HashMap::new(),
        }
    }

    /// Takes what `admitted` needs from the shared limits, all or nothing.
    pub(super) fn admit(
        &mut self,
        store: &dyn StateStore,
        admitted: &Admitted,
        now: Timestamp,
    ) -> Result<Verdict, StoreError> {
        let Some(pg) = store.shared() else {
            return Ok(Verdict::Go);
        };
        let mut held = Held::default();
        let kind = admitted.item.challenge_type.as_str();
        for name in &admitted.item.identifiers {
            let refused = match pg.take_slot(
                self.worker,
                &self.directory,
                name,
                kind,
                self.max_in_flight,
                self.lease,
            )? {
                Ok(slot) => {
                    held.slots.push(slot);
                    continue;
                }
                Err(refused) => refused,
            };
            self.give_back(store, held);
            return Ok(match refused {
                SlotRefusal::Paused { until, reason } => Verdict::Paused { until, reason },
                SlotRefusal::Full | SlotRefusal::Busy => Verdict::Later(soon(now)),
            });
        }
        if admitted.item.resumes.is_none() {
            match pg.reserve_pending(
                self.worker,
                &self.directory,
                admitted.item.identifiers.len(),
                self.max_pending,
                now,
                self.lease,
            )? {
                Ok(reservation) => held.pending = Some(reservation),
                Err(_full) => {
                    self.give_back(store, held);
                    return Ok(Verdict::Later(soon(now)));
                }
            }
        }
        self.held.insert(admitted.id, held);
        Ok(Verdict::Go)
    }

    /// The item's authorizations are in the store now, where every worker counts them: its
    /// reservation is no longer needed.
    pub(super) fn recorded(&mut self, store: &dyn StateStore, id: WorkId) {
        let reservation = self.held.get_mut(&id).and_then(|h| h.pending.take());
        if let (Some(pg), Some(reservation)) = (store.shared(), reservation)
            && let Err(e) = pg.release_pending(reservation)
        {
            // Its lease runs out by itself.
            tracing::warn!("could not release a pending-authorization reservation: {e}");
        }
    }

    /// The item ended: its slots and reservation go back.
    pub(super) fn release(&mut self, store: &dyn StateStore, id: WorkId) {
        if let Some(held) = self.held.remove(&id) {
            self.give_back(store, held);
        }
    }

    /// Tells every worker to wait `wait` (the CA's `Retry-After`).
    pub(super) fn pause(&self, store: &dyn StateStore, wait: Duration, reason: &str) {
        if let Some(pg) = store.shared()
            && let Err(e) = pg.pause(&self.directory, wait, reason)
        {
            tracing::warn!("could not share the CA's pause with the other workers: {e}");
        }
    }

    fn give_back(&self, store: &dyn StateStore, held: Held) {
        let Some(pg) = store.shared() else {
            return;
        };
        // A failed release only leaves a lease that runs out by itself.
        for slot in &held.slots {
            if let Err(e) = pg.release_slot(slot) {
                tracing::warn!("could not release an in-flight slot: {e}");
            }
        }
        if let Some(reservation) = held.pending
            && let Err(e) = pg.release_pending(reservation)
        {
            tracing::warn!("could not release a pending-authorization reservation: {e}");
        }
    }
}

fn soon(now: Timestamp) -> Timestamp {
    now.checked_add(SignedDuration::try_from(RETRY_SOON).unwrap_or(SignedDuration::ZERO))
        .unwrap_or(now)
}
