//! The engine's challenge scheduler: cert-manager's rules and better.
//!
//! * At most [`SchedulerConfig::max_in_flight`] challenges in flight (cert-manager's 60).
//! * Never two items for the same (name, challenge type) at once: the second waits.
//! * Oldest first: strict FIFO by enqueue order; an item that is retried keeps its place.
//! * New orders wait while the account's pending authorizations would exceed the cap.
//! * A name that fails validation is backed off exponentially (persisted in the store), and
//!   never spends more than the CA's failure budget (Let's Encrypt: 5 per name per hour).
//!
//! It is a plain state machine updated by the engine's loop (Elm style): no clock, no threads,
//! no async. Time is always passed in, so the same calls give the same answers, and the only
//! side effect is writing name backoff to the [`StateStore`].

mod budget;
mod config;
mod types;

use std::collections::{BTreeMap, BTreeSet};

use jiff::Timestamp;

use crate::engine::store::{ChallengeType, NameBackoff, StateStore, normalize_identifiers};

pub use config::{
    DEFAULT_MAX_IN_FLIGHT, DEFAULT_MAX_PENDING_AUTHORIZATIONS,
    LETS_ENCRYPT_FAILURES_PER_IDENTIFIER_PER_HOUR, SchedulerConfig,
};
pub use types::{
    Admitted, BackoffView, Disposition, InFlightView, Outcome, Progress, QueuedView,
    SchedulerError, Waiting, WorkId, WorkItem,
};

/// A work item waiting for its turn.
#[derive(Debug, Clone)]
struct Queued {
    id: WorkId,
    item: WorkItem,
    enqueued_at: Timestamp,
    /// Set by a transient failure (the server's Retry-After or our own short backoff).
    not_before: Option<Timestamp>,
    validation_failures: u32,
    transient_failures: u32,
}

impl Queued {
    fn failed_tries(&self) -> u32 {
        self.validation_failures
            .saturating_add(self.transient_failures)
    }
}

/// A work item the engine is working on.
#[derive(Debug, Clone)]
struct Running {
    queued: Queued,
    admitted_at: Timestamp,
    /// Authorizations this item will create at the CA and that the store does not count yet.
    reserved: usize,
}

/// The scheduler. See the module documentation.
#[derive(Debug)]
pub struct Scheduler {
    config: SchedulerConfig,
    next_id: u64,
    /// Keyed by [`WorkId`], which grows with enqueue order: iteration order is FIFO order.
    queue: BTreeMap<WorkId, Queued>,
    running: BTreeMap<WorkId, Running>,
    busy: BTreeSet<(String, ChallengeType)>,
    /// Attempts in flight per name (any challenge type): each may still fail and spend budget.
    running_per_name: BTreeMap<String, u32>,
    /// Names with a failure history, as persisted.
    names: BTreeMap<String, NameBackoff>,
    last_pending: Option<usize>,
}

impl Scheduler {
    /// A scheduler for `config`, starting from the name backoff persisted in `store` for
    /// `config.directory_url`, so a restart keeps backing off the names that were failing.
    pub fn new(
        config: SchedulerConfig,
        store: &dyn StateStore,
    ) -> Result<Scheduler, SchedulerError> {
        config.validate()?;
        let names = store
            .name_backoffs(&config.directory_url)?
            .into_iter()
            .map(|n| (n.identifier.clone(), n))
            .collect();
        Ok(Scheduler {
            config,
            next_id: 1,
            queue: BTreeMap::new(),
            running: BTreeMap::new(),
            busy: BTreeSet::new(),
            running_per_name: BTreeMap::new(),
            names,
            last_pending: None,
        })
    }

    /// The configuration in force.
    pub fn config(&self) -> &SchedulerConfig {
        &self.config
    }

    /// Queues `item` behind everything queued before it. Its names are normalised (lowercase,
    /// no trailing dot), sorted and deduplicated. Enqueuing the same names twice is allowed: the
    /// second item simply waits until the first is no longer in flight.
    pub fn enqueue(&mut self, item: WorkItem, now: Timestamp) -> Result<WorkId, SchedulerError> {
        if item.identifiers.is_empty() {
            return Err(SchedulerError::EmptyWorkItem);
        }
        let identifiers = normalize_identifiers(&item.identifiers)?;
        let id = WorkId(self.next_id);
        self.next_id += 1;
        self.queue.insert(
            id,
            Queued {
                id,
                item: WorkItem {
                    identifiers,
                    ..item
                },
                enqueued_at: now,
                not_before: None,
                validation_failures: 0,
                transient_failures: 0,
            },
        );
        Ok(id)
    }

    /// Admits, oldest first, every queued item that may start at `now`, and marks it in flight.
    ///
    /// An item waits while one of its (name, type) pairs is in flight, while one of its names is
    /// backed off or out of failure budget, or while a transient failure's retry time has not
    /// come; later items pass it. An item that is ready but finds no free in-flight slot stops
    /// admission, so it keeps its place in line. A new order that would take the account's
    /// pending authorizations (counted in `store`) over the cap stops the admission of later new
    /// orders, but not of items that resume stored orders.
    pub fn next_ready(
        &mut self,
        now: Timestamp,
        store: &dyn StateStore,
    ) -> Result<Vec<Admitted>, SchedulerError> {
        let reserved: usize = self.running.values().map(|r| r.reserved).sum();
        let mut pending = store
            .outstanding_pending_count(&self.config.directory_url, now)?
            .saturating_add(reserved);
        let mut load: usize = self
            .running
            .values()
            .map(|r| r.queued.item.identifiers.len())
            .sum();
        let mut new_orders_blocked = false;
        let mut admitted = Vec::new();
        let ids: Vec<WorkId> = self.queue.keys().copied().collect();
        for id in ids {
            if load >= self.config.max_in_flight {
                break;
            }
            let Some(queued) = self.queue.get(&id) else {
                continue;
            };
            if self.waiting(queued, now).is_some() {
                continue;
            }
            let size = queued.item.identifiers.len();
            // An item larger than the whole limit runs alone rather than never.
            if load > 0 && load + size > self.config.max_in_flight {
                break;
            }
            let new_order = queued.item.resumes.is_none();
            if new_order {
                let over = pending > 0 && pending + size > self.config.max_pending_authorizations;
                if new_orders_blocked || over {
                    new_orders_blocked = true;
                    continue;
                }
            }
            let Some(queued) = self.queue.remove(&id) else {
                continue;
            };
            let reserve = if new_order { size } else { 0 };
            pending += reserve;
            load += size;
            for name in &queued.item.identifiers {
                self.busy.insert((name.clone(), queued.item.challenge_type));
                *self.running_per_name.entry(name.clone()).or_insert(0) += 1;
            }
            admitted.push(Admitted {
                id,
                item: queued.item.clone(),
                attempt: queued.failed_tries().saturating_add(1),
            });
            self.running.insert(
                id,
                Running {
                    queued,
                    admitted_at: now,
                    reserved: reserve,
                },
            );
        }
        self.last_pending = Some(pending);
        Ok(admitted)
    }

    /// Tells the scheduler that the authorizations of in-flight `id` are now recorded in the
    /// store, so the pending-authorization cap counts them there instead of as a reservation.
    /// Skipping the call is safe: the count is then merely higher than the truth.
    pub fn authorizations_recorded(&mut self, id: WorkId) -> Result<(), SchedulerError> {
        let running = self
            .running
            .get_mut(&id)
            .ok_or(SchedulerError::UnknownWork(id))?;
        running.reserved = 0;
        Ok(())
    }

    /// Records how in-flight `id` ended at `now`: frees its slot, spends and persists the failure
    /// budget and backoff of the names that failed (before anything else changes, so a store
    /// error leaves the item in flight and the call can be repeated), and queues it again at its
    /// old place or drops it.
    pub fn finished(
        &mut self,
        id: WorkId,
        outcome: Outcome,
        now: Timestamp,
        store: &dyn StateStore,
    ) -> Result<Disposition, SchedulerError> {
        let names = self
            .running
            .get(&id)
            .ok_or(SchedulerError::UnknownWork(id))?
            .queued
            .item
            .identifiers
            .clone();
        // Counted from what the store holds now, which other workers may have added to.
        self.refresh_names(&names, store)?;
        let config = &self.config;
        // A success changes only a name with a history; a failure is counted where it is
        // stored, under the store's lock on the name (`update_name_backoff`), so a failure
        // another worker records at the same moment is never lost.
        let changed: Vec<String> = match &outcome {
            Outcome::Succeeded => names
                .iter()
                .filter(|n| {
                    self.names
                        .get(*n)
                        .is_some_and(|s| budget::record_success(s, now, config) != *s)
                })
                .cloned()
                .collect(),
            Outcome::ValidationFailed { identifiers, .. }
            | Outcome::Deactivated { identifiers, .. } => {
                if identifiers.is_empty() {
                    names.clone()
                } else {
                    normalize_identifiers(identifiers)?
                }
            }
            Outcome::Transient { .. } | Outcome::Abandoned { .. } => Vec::new(),
        };
        let mut updates: Vec<NameBackoff> = Vec::with_capacity(changed.len());
        for name in changed {
            let mut change = |state: NameBackoff| match &outcome {
                Outcome::ValidationFailed { why, .. } | Outcome::Deactivated { why, .. } => {
                    budget::record_failure(&state, now, config, why)
                }
                _ => budget::record_success(&state, now, config),
            };
            updates.push(store.update_name_backoff(&config.directory_url, &name, &mut change)?);
        }
        let Some(running) = self.running.remove(&id) else {
            return Err(SchedulerError::UnknownWork(id));
        };
        let mut queued = running.queued;
        self.release_names(&queued.item);
        for state in updates {
            self.names.insert(state.identifier.clone(), state);
        }

        let disposition = match outcome {
            Outcome::Succeeded | Outcome::Abandoned { .. } | Outcome::Deactivated { .. } => {
                Disposition::Done
            }
            Outcome::ValidationFailed { why, .. } => {
                queued.validation_failures = queued.validation_failures.saturating_add(1);
                queued.transient_failures = 0;
                match self.config.max_validation_failures {
                    Some(max) if queued.validation_failures >= max => Disposition::GaveUp {
                        why: format!(
                            "validation failed {} times in a row; last: {why}",
                            queued.validation_failures
                        ),
                    },
                    _ => self.requeue(queued, now),
                }
            }
            Outcome::Transient { retry_after, why } => {
                queued.transient_failures = queued.transient_failures.saturating_add(1);
                if queued.transient_failures > self.config.max_transient_failures {
                    Disposition::GaveUp {
                        why: format!(
                            "{} transient failures in a row; last: {why}",
                            queued.transient_failures
                        ),
                    }
                } else {
                    let delay = budget::doubling(
                        queued.transient_failures,
                        self.config.transient_backoff_base,
                        self.config.transient_backoff_max,
                    );
                    let ours = budget::after(now, delay);
                    queued.not_before = Some(retry_after.map_or(ours, |server| server.max(ours)));
                    self.requeue(queued, now)
                }
            }
        };
        Ok(disposition)
    }

    /// Reads the backoff and failure budget of `names` again from `store`: another worker
    /// sharing the store may have spent some of it since this scheduler loaded it.
    pub fn refresh_names(
        &mut self,
        names: &[String],
        store: &dyn StateStore,
    ) -> Result<(), SchedulerError> {
        for name in normalize_identifiers(names)? {
            if let Some(state) = store.name_backoff(&self.config.directory_url, &name)? {
                self.names.insert(name, state);
            }
        }
        Ok(())
    }

    /// Puts in-flight `id` back in line at its old place, to start again at `not_before` or
    /// later, without counting a failure: something outside the scheduler (the limits several
    /// workers share in the database) did not let it start.
    pub fn defer(&mut self, id: WorkId, not_before: Timestamp) -> Result<(), SchedulerError> {
        let running = self
            .running
            .remove(&id)
            .ok_or(SchedulerError::UnknownWork(id))?;
        let mut queued = running.queued;
        self.release_names(&queued.item);
        queued.not_before = Some(queued.not_before.map_or(not_before, |t| t.max(not_before)));
        self.queue.insert(queued.id, queued);
        Ok(())
    }

    /// Frees the (name, type) pairs of an item that stopped running.
    fn release_names(&mut self, item: &WorkItem) {
        for name in &item.identifiers {
            self.busy.remove(&(name.clone(), item.challenge_type));
            if let Some(count) = self.running_per_name.get_mut(name) {
                *count = count.saturating_sub(1);
                if *count == 0 {
                    self.running_per_name.remove(name);
                }
            }
        }
    }

    fn requeue(&mut self, queued: Queued, now: Timestamp) -> Disposition {
        let not_before = self.ready_time(&queued, now).unwrap_or(now).max(now);
        self.queue.insert(queued.id, queued);
        Disposition::Retry { not_before }
    }

    /// When `queued` stops being held back by time (its retry time, its names' backoff and
    /// budget), ignoring slots and duplicates; `None` while only in-flight work can free it.
    fn ready_time(&self, queued: &Queued, now: Timestamp) -> Option<Timestamp> {
        let mut at = queued.not_before.unwrap_or(now);
        for name in &queued.item.identifiers {
            if let Some(state) = self.names.get(name) {
                let running = self.running_per_name.get(name).copied().unwrap_or(0);
                at = at.max(budget::ready_at(state, now, &self.config, running)?);
            }
        }
        Some(at)
    }

    /// Why `queued` cannot start at `now` for reasons of its own (not slots); `None` if it can.
    fn waiting(&self, queued: &Queued, now: Timestamp) -> Option<Waiting> {
        if let Some(until) = queued.not_before.filter(|t| *t > now) {
            return Some(Waiting::RetryAfter { until });
        }
        for name in &queued.item.identifiers {
            if self
                .busy
                .contains(&(name.clone(), queued.item.challenge_type))
            {
                return Some(Waiting::Duplicate {
                    identifier: name.clone(),
                });
            }
        }
        for name in &queued.item.identifiers {
            let Some(state) = self.names.get(name) else {
                continue;
            };
            let running = self.running_per_name.get(name).copied().unwrap_or(0);
            match budget::ready_at(state, now, &self.config, running) {
                Some(at) if at <= now => {}
                until => {
                    return Some(Waiting::Backoff {
                        identifier: name.clone(),
                        until,
                    });
                }
            }
        }
        None
    }

    /// The earliest instant after `now` at which a queued item held back only by time (retry
    /// time, backoff, budget) becomes ready: when the engine's loop should wake up if no work
    /// finishes first. `None` if no item is waiting on the clock.
    pub fn next_wakeup(&self, now: Timestamp) -> Option<Timestamp> {
        self.queue
            .values()
            .filter(|q| {
                !q.item
                    .identifiers
                    .iter()
                    .any(|name| self.busy.contains(&(name.clone(), q.item.challenge_type)))
            })
            .filter_map(|q| self.ready_time(q, now))
            .filter(|at| *at > now)
            .min()
    }

    /// Items queued.
    pub fn queued_len(&self) -> usize {
        self.queue.len()
    }

    /// Items in flight.
    pub fn in_flight_len(&self) -> usize {
        self.running.len()
    }

    /// Challenges in flight (an item with k names counts k): what the in-flight cap limits.
    pub fn challenges_in_flight(&self) -> usize {
        self.running
            .values()
            .map(|r| r.queued.item.identifiers.len())
            .sum()
    }

    /// True when nothing is queued or in flight: the batch is over.
    pub fn is_idle(&self) -> bool {
        self.queue.is_empty() && self.running.is_empty()
    }

    /// Everything a progress view shows at `now`: queued items and why they wait, items in
    /// flight, and names under backoff.
    pub fn progress(&self, now: Timestamp) -> Progress {
        let queued = self
            .queue
            .values()
            .map(|q| QueuedView {
                id: q.id,
                identifiers: q.item.identifiers.clone(),
                challenge_type: q.item.challenge_type,
                enqueued_at: q.enqueued_at,
                failed_tries: q.failed_tries(),
                waiting: self.waiting(q, now).unwrap_or(Waiting::Slot),
            })
            .collect();
        let in_flight = self
            .running
            .values()
            .map(|r| InFlightView {
                id: r.queued.id,
                identifiers: r.queued.item.identifiers.clone(),
                challenge_type: r.queued.item.challenge_type,
                admitted_at: r.admitted_at,
                attempt: r.queued.failed_tries().saturating_add(1),
            })
            .collect();
        let backed_off = self
            .names
            .values()
            .filter_map(|state| {
                let running = self
                    .running_per_name
                    .get(&state.identifier)
                    .copied()
                    .unwrap_or(0);
                let until = budget::ready_at(state, now, &self.config, running);
                if until.is_some_and(|at| at <= now) {
                    return None;
                }
                Some(BackoffView {
                    identifier: state.identifier.clone(),
                    consecutive_failures: state.consecutive_failures,
                    failures_in_window: budget::failures_in_window(
                        state,
                        now,
                        self.config.budget_window,
                    ),
                    until,
                    last_error: state.last_error.clone(),
                })
            })
            .collect();
        Progress {
            queued,
            in_flight,
            backed_off,
            pending_authorizations: self.last_pending,
        }
    }
}

#[cfg(test)]
mod tests;
