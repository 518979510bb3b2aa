//! Orders whose newOrder was sent but whose answer was never recorded: a run killed between
//! the two, or a newOrder whose response was lost (timeout, broken connection). The store has
//! them as `new` with no URL (recorded before the request); the CA may or may not have created
//! them, with pending authorizations.
//!
//! Where the CA publishes the account's orders list (RFC 8555 section 7.1.2.1; Pebble does), a
//! run reads it before ordering anything, fetches the orders the store does not know, and
//! matches each to a `new` record by its exact set of identifiers:
//! - still wanted by this run: the record takes the order's URL and the run continues that
//!   order instead of creating a second one;
//! - not wanted: its pending authorizations are deactivated (RFC 8555 section 7.5.2), so they
//!   do not sit against a pending-authorization limit for days, and the order is closed.
//!   Deactivating is safe here though `settle` never does it: Let's Encrypt, which counts a
//!   deactivated pending authorization as a failed validation, publishes no orders list, so no
//!   order is ever found this way there;
//! - a record no listed order matches: the CA never created it (Pebble lists every order but
//!   invalid ones), so it is closed.
//!
//! Where the CA publishes no list (Let's Encrypt), nothing can be looked up: the record is
//! closed and the report says what may remain at the CA ([`unlisted_note`]). The run then sends
//! newOrder for the names it still wants, and Boulder hands back the pending order it already
//! has for the same account and identifiers (`ra.NewOrder` calls `SA.GetOrderForNames`, which
//! returns an unexpired pending or ready order of that account for the exact set), so no
//! second order is created there. (It only looks at the oldest unexpired order for that set
//! of names, whoever owns it, and the profile must match: certdx sends none. When another
//! account holds an older order for the same names, a second order is made, and the first
//! expires on its own.)

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use serde::Serialize;
use tokio::time::Instant;

use crate::engine::acme::{AcmeClient, AcmeError, AcmeOrder, AuthzStatus};
use crate::engine::store::{
    AuthorizationOutcome, OrderId, OrderRecord, OrderStatus, StoreError, normalize_identifiers,
};

use super::record::{authz_status, order_status, record_authorizations};
use super::settle::leave_undecided;
use super::{SharedStore, lock_store};

/// Pages of the orders list read at most (Pebble shows 3 orders a page by default).
const MAX_PAGES: usize = 50;
/// Listed orders unknown to the store fetched at most, to find the unconfirmed ones.
const MAX_FETCHED: usize = 200;

/// What a run did about orders an earlier attempt sent newOrder for and never saw answered.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct InterruptedOrders {
    /// Found in the account's orders list and continued by this run.
    pub adopted: usize,
    /// Found in the account's orders list but no longer wanted: their pending authorizations
    /// were deactivated and the orders closed.
    pub closed: usize,
    /// Absent from the account's orders list (the CA never created them): closed.
    pub not_at_ca: usize,
    /// Closed without being looked up, because the CA publishes no orders list: see `note`.
    pub unlisted: usize,
    /// Left as they are because the CA could not be asked now: the next run tries again.
    pub unresolved: usize,
    /// What may remain at the CA, why it is harmless and when it expires; or why the
    /// reconciliation could not run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl InterruptedOrders {
    /// How many unconfirmed orders this run dealt with or found.
    pub fn total(&self) -> usize {
        self.adopted + self.closed + self.not_at_ca + self.unlisted + self.unresolved
    }

    /// Adds what a later pass of the same run did.
    pub(super) fn add(&mut self, more: InterruptedOrders) {
        self.adopted += more.adopted;
        self.closed += more.closed;
        self.not_at_ca += more.not_at_ca;
        self.unlisted += more.unlisted;
        self.unresolved = more.unresolved;
        if more.note.is_some() {
            self.note = more.note;
        }
    }
}

/// A reconciliation's outcome: the counts, and the orders whose authorizations it recorded
/// (for the run's tally).
#[derive(Debug, Default)]
pub(super) struct Reconciled {
    pub report: InterruptedOrders,
    pub touched: Vec<OrderId>,
}

/// What may remain at a CA without an orders list after `n` unconfirmed newOrders, and why it
/// does no harm. The figures are Let's Encrypt's (Boulder's `classic` profile and rate limits).
pub fn unlisted_note(n: usize) -> String {
    format!(
        "{n} newOrder request(s) of an interrupted run were never answered, and this CA \
         publishes no orders list (RFC 8555 section 7.1.2.1) to look them up. The CA may hold \
         such an order with one pending authorization per name. Harmless: a pending \
         authorization is not a failed validation, Let's Encrypt no longer limits pending \
         authorizations, and a lost newOrder counted once against its 'new orders per account' \
         limit (300 per 3 hours) like any other; a newOrder for the same names gets that \
         pending order back instead of a second one (counting once more). Otherwise it expires \
         with its authorizations 7 days after it was created (7 hours under the shortlived and \
         tlsserver profiles)."
    )
}

const UNLISTED_WHY: &str = "newOrder was sent but its answer never recorded, and the CA \
     publishes no orders list: if the CA created the order, the next newOrder for these names \
     gets it back, else it expires with its pending authorizations (7 days at Let's Encrypt)";
const NOT_AT_CA_WHY: &str = "newOrder was sent but its answer never recorded; the account's \
     orders list has no such order: the CA never created it";
const NOT_FOUND_WHY: &str = "newOrder was sent but its answer never recorded; no such order in \
     the part of the account's orders list that was read";
const CLOSED_WHY: &str = "found in the account's orders list after its newOrder answer was \
     lost; no longer requested: its pending authorizations were deactivated";
const DEACTIVATE_WHY: &str = "its order was created unseen (newOrder answer lost) and is no \
     longer requested: deactivated";

/// Reconciles every unconfirmed order on `directory` with the CA (see the module
/// documentation); `wanted` holds the identifier sets this run still orders. Never fails for
/// what the CA answers: a CA that cannot be asked leaves the records for the next run.
pub(super) async fn reconcile(
    store: &SharedStore,
    client: &AcmeClient,
    directory: &str,
    wanted: &BTreeSet<Vec<String>>,
    deadline: Instant,
) -> Result<Reconciled, StoreError> {
    let unconfirmed = lock_store(store).unconfirmed_orders(directory)?;
    let mut done = Reconciled::default();
    if unconfirmed.is_empty() {
        return Ok(done);
    }
    let n = unconfirmed.len();
    let listing = match client.orders_url(deadline).await {
        Ok(None) => Err(None),
        Ok(Some(url)) => client
            .list_orders(&url, MAX_PAGES, deadline)
            .await
            .map_err(Some),
        Err(err) => Err(Some(err)),
    };
    let listing = match listing {
        Ok(listing) => listing,
        // No list, or one this CA will never serve: nothing can be looked up, now or later.
        Err(refused) if refused.as_ref().is_none_or(|e| !passing(e)) => {
            let store = lock_store(store);
            for row in &unconfirmed {
                store.set_order_status(row.id, OrderStatus::Abandoned, Some(UNLISTED_WHY))?;
            }
            let mut note = unlisted_note(n);
            if let Some(err) = refused {
                note = format!("{note} (the orders list could not be read: {err})");
            }
            tracing::warn!(orders = n, "{note}");
            done.report.unlisted = n;
            done.report.note = Some(note);
            return Ok(done);
        }
        Err(err) => {
            let err = err.map_or_else(String::new, |e| e.to_string());
            done.report.unresolved = n;
            done.report.note = Some(format!(
                "{n} order(s) whose newOrder answer was lost could not be looked up at the CA \
                 ({err}); the next run tries again"
            ));
            return Ok(done);
        }
    };

    let mut waiting: BTreeMap<Vec<String>, VecDeque<OrderRecord>> = BTreeMap::new();
    for row in unconfirmed {
        waiting
            .entry(row.identifiers.clone())
            .or_default()
            .push_back(row);
    }
    let mut complete = listing.complete;
    let mut fetched = 0;
    let mut cut_short: Option<AcmeError> = None;
    for url in &listing.orders {
        if waiting.values().all(VecDeque::is_empty) {
            break;
        }
        if lock_store(store).order_by_url(url)?.is_some() {
            continue;
        }
        if fetched >= MAX_FETCHED {
            complete = false;
            break;
        }
        fetched += 1;
        let mut order = match client.order(url, deadline).await {
            Ok(order) => order,
            // The CA could not answer now: what was not matched yet waits for the next run.
            Err(err) if passing(&err) => {
                cut_short = Some(err);
                break;
            }
            // Gone since it was listed (expired), or not this account's: not one of ours.
            Err(err) => {
                tracing::debug!(%url, error = %err, "a listed order could not be fetched");
                continue;
            }
        };
        let Ok(key) = normalize_identifiers(order.info().identifiers.as_slice()) else {
            continue;
        };
        let Some(row) = waiting.get_mut(&key).and_then(VecDeque::pop_front) else {
            continue;
        };
        let finalize = order.info().finalize.clone();
        let id = {
            let store = lock_store(store);
            let id = store.set_order_url(
                row.id,
                order.url(),
                Some(finalize.as_str()).filter(|f| !f.is_empty()),
            )?;
            store.set_order_status(id, order_status(&order.info().status), None)?;
            id
        };
        done.touched.push(id);
        if wanted.contains(&key) && !order.info().status.is_final() {
            tracing::info!(order = %id, url = %order.url(), "an order whose newOrder answer was lost is continued");
            done.report.adopted += 1;
        } else {
            close(store, &mut order, id, deadline).await?;
            done.report.closed += 1;
        }
    }

    if let Some(err) = cut_short {
        let left = waiting.values().map(VecDeque::len).sum::<usize>();
        done.report.unresolved = left;
        if left > 0 {
            done.report.note = Some(format!(
                "{left} order(s) whose newOrder answer was lost were not found before the CA \
                 stopped answering ({err}); the next run looks again"
            ));
        }
        return Ok(done);
    }
    let why = if complete {
        NOT_AT_CA_WHY
    } else {
        NOT_FOUND_WHY
    };
    let store = lock_store(store);
    for row in waiting.into_values().flatten() {
        store.set_order_status(row.id, OrderStatus::Abandoned, Some(why))?;
        done.report.not_at_ca += 1;
    }
    if !complete && done.report.not_at_ca > 0 {
        done.report.note = Some(format!(
            "the account's orders list was read only in part ({} pages, {fetched} orders \
             fetched): {} order(s) whose newOrder answer was lost were not found in it and may \
             remain pending at the CA until they expire",
            listing.pages, done.report.not_at_ca
        ));
    }
    Ok(done)
}

/// Whether `err` says nothing about the order, only that the CA could not answer now.
fn passing(err: &AcmeError) -> bool {
    matches!(
        err,
        AcmeError::Transport { .. } | AcmeError::Deadline { .. }
    ) || err.is_rate_limited()
        || err.status().is_some_and(|s| s >= 500)
}

/// Closes an order found unseen that this run does not continue: its authorizations recorded,
/// the pending ones deactivated (decided in the store first), the order abandoned.
async fn close(
    store: &SharedStore,
    order: &mut AcmeOrder,
    id: OrderId,
    deadline: Instant,
) -> Result<(), StoreError> {
    if let Ok(authorizations) = order.authorizations(deadline).await {
        record_authorizations(
            &**lock_store(store),
            id,
            &authorizations,
            order.info().expires,
        )?;
        for authz in authorizations
            .iter()
            .filter(|a| a.status == AuthzStatus::Pending)
        {
            // Shared with an order the store already knows (the CA reuses authorizations):
            // that order decides about it.
            let shared = lock_store(store)
                .authorization(&authz.url)?
                .is_some_and(|r| r.orders.len() > 1);
            if shared {
                continue;
            }
            lock_store(store).set_authorization_outcome(
                &authz.url,
                AuthorizationOutcome::Deactivated,
                DEACTIVATE_WHY,
            )?;
            match order.deactivate_authorization(&authz.url, deadline).await {
                Ok(info) => {
                    lock_store(store).set_authorization_status(
                        &info.url,
                        authz_status(&info.status),
                        None,
                    )?;
                }
                Err(err) => {
                    let why = format!("deactivation failed ({err}): left to expire");
                    lock_store(store).set_authorization_outcome(
                        &authz.url,
                        AuthorizationOutcome::LeftToExpire,
                        &why,
                    )?;
                }
            }
        }
    }
    let store = lock_store(store);
    leave_undecided(&**store, id, CLOSED_WHY)?;
    store.set_order_status(id, OrderStatus::Abandoned, Some(CLOSED_WHY))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_note_names_what_remains_why_harmless_and_when_it_expires() {
        let note = unlisted_note(2);
        for needed in [
            "2 newOrder",
            "pending authorization",
            "300 per 3 hours",
            "7 days",
        ] {
            assert!(note.contains(needed), "{needed:?} missing from {note}");
        }
    }

    #[test]
    fn only_a_ca_that_cannot_answer_now_defers_the_lookup() {
        let http = |status| AcmeError::Http {
            operation: crate::engine::acme::Operation::FetchOrder,
            url: "https://ca.test/order/1".into(),
            status,
            retry_after: None,
            body: String::new(),
        };
        assert!(passing(&http(503)));
        assert!(passing(&http(429)));
        assert!(!passing(&http(404)));
        assert!(!passing(&http(403)));
        assert!(passing(&AcmeError::Transport {
            operation: crate::engine::acme::Operation::FetchOrder,
            url: String::new(),
            reason: "timed out".into(),
            maybe_sent: true,
        }));
    }

    #[test]
    fn a_later_pass_adds_to_the_counts_and_replaces_what_is_unresolved() {
        let mut first = InterruptedOrders {
            adopted: 1,
            unresolved: 2,
            ..InterruptedOrders::default()
        };
        first.add(InterruptedOrders {
            closed: 1,
            note: Some("n".into()),
            ..InterruptedOrders::default()
        });
        assert_eq!(
            first,
            InterruptedOrders {
                adopted: 1,
                closed: 1,
                note: Some("n".into()),
                ..InterruptedOrders::default()
            }
        );
        assert_eq!(first.total(), 2);
    }
}
