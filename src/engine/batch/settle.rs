//! Deciding what happens to authorizations the engine will not (or not yet) answer, so none is
//! ever left pending at the CA without the store saying why.
//!
//! The decision for a pending authorization on a failure path:
//! - **answered** (challenge responded, the CA's verdict pending): kept as it is; the next run
//!   that resumes the order reads the verdict.
//! - **left_to_expire**, for every authorization that was never answered: the engine decides
//!   never to answer it, and the CA drops it when it expires (7 days at Let's Encrypt). It costs
//!   nothing: an unanswered authorization is not a failed validation, and Let's Encrypt hands a
//!   pending authorization back to the next order for the same name, so a retry reuses it.
//! - **deactivated**: never chosen on these paths. Let's Encrypt now counts deactivating a
//!   *pending* authorization as a failed validation (boulder PR 7835), the same as letting the
//!   CA reject it, which would spend the name's failure budget (5 per hour) for nothing; and its
//!   only benefit, freeing a slot under the pending-authorizations limit, no longer exists there
//!   (the limit was retired). The scheduler still caps pending authorizations itself. The one
//!   exception is in `reconcile`: an order created unseen at a CA that lists orders (so not
//!   Let's Encrypt) and no longer wanted.

use std::collections::BTreeSet;

use tokio::time::Instant;

use crate::engine::acme::AcmeClient;
use crate::engine::store::{
    AuthorizationOutcome, AuthorizationStatus, OrderId, OrderRecord, OrderStatus, StateStore,
    StoreError,
};

use super::record::record_authorizations;
use super::report::AuthorizationTally;
use super::{SharedStore, lock_store};

/// Marks every authorization of `order` that is pending with no decision as left to expire,
/// with `why`; returns how many. Answered ones keep their outcome.
pub(super) fn leave_undecided(
    store: &dyn StateStore,
    order: OrderId,
    why: &str,
) -> Result<usize, StoreError> {
    let mut decided = 0;
    for authz in store.authorizations_for_order(order)? {
        if authz.status == AuthorizationStatus::Pending
            && authz.outcome == AuthorizationOutcome::Pending
        {
            store.set_authorization_outcome(&authz.url, AuthorizationOutcome::LeftToExpire, why)?;
            decided += 1;
        }
    }
    Ok(decided)
}

/// Closes orders an earlier run left open that this run does not continue (nothing asks for
/// their names any more, or a newer order replaced them): their authorizations are fetched and
/// recorded when the CA answers by `deadline`, the undecided ones left to expire, and the order
/// marked abandoned. Returns how many were closed.
pub(super) async fn close_orders(
    store: &SharedStore,
    client: &AcmeClient,
    orders: &[OrderRecord],
    deadline: Instant,
) -> Result<usize, StoreError> {
    let why = "not continued by a later run: never answered, left to expire";
    for record in orders {
        if let Some(url) = &record.order_url
            && let Ok(mut order) = client.order(url, deadline).await
            && let Ok(authorizations) = order.authorizations(deadline).await
        {
            let expires = order.info().expires;
            record_authorizations(&**lock_store(store), record.id, &authorizations, expires)?;
        }
        let store = lock_store(store);
        leave_undecided(&**store, record.id, why)?;
        store.set_order_status(
            record.id,
            OrderStatus::Abandoned,
            Some("not continued: the names are no longer requested or a newer order replaced it"),
        )?;
    }
    Ok(orders.len())
}

/// The last guard of a run: any authorization still pending with no decision (whatever order
/// it came from) was never answered, since an answer is recorded before it is sent, so it is
/// left to expire. Returns how many.
pub(super) fn decide_the_rest(store: &dyn StateStore) -> Result<usize, StoreError> {
    let rest = store.pending_unknown_authorizations()?;
    for authz in &rest {
        store.set_authorization_outcome(
            &authz.url,
            AuthorizationOutcome::LeftToExpire,
            "end of run: never answered, left to expire",
        )?;
    }
    Ok(rest.len())
}

/// Counts the decisions about the authorizations of `orders`.
pub(super) fn tally(
    store: &dyn StateStore,
    orders: &BTreeSet<OrderId>,
) -> Result<AuthorizationTally, StoreError> {
    let mut seen = BTreeSet::new();
    let mut tally = AuthorizationTally::default();
    for order in orders {
        for authz in store.authorizations_for_order(*order)? {
            if !seen.insert(authz.url.clone()) {
                continue;
            }
            match (authz.status, authz.outcome) {
                (AuthorizationStatus::Pending, AuthorizationOutcome::Pending) => {
                    tally.pending_unknown += 1;
                }
                (_, AuthorizationOutcome::Valid) => tally.valid += 1,
                (_, AuthorizationOutcome::Invalid) => tally.invalid += 1,
                (_, AuthorizationOutcome::Answered) => tally.answered += 1,
                (_, AuthorizationOutcome::LeftToExpire) => tally.left_to_expire += 1,
                (_, AuthorizationOutcome::Deactivated) => tally.deactivated += 1,
                // Expired or revoked at the CA before anything was decided: nothing pending.
                (_, AuthorizationOutcome::Pending) => {}
            }
        }
    }
    Ok(tally)
}

/// The end of a run in the store: every undecided authorization decided, files of finished
/// orders swept from the output directory, and the tally of this run's authorizations.
pub(super) fn settle_store(
    ctx: &super::work::Ctx,
    directory: &str,
    out_dir: &std::path::Path,
    touched: &BTreeSet<crate::engine::store::OrderId>,
) -> Result<super::report::AuthorizationTally, super::error::BatchError> {
    let store = ctx.store();
    decide_the_rest(&**store)?;
    let open_orders: BTreeSet<crate::engine::store::OrderId> = store
        .orders_to_resume(directory)?
        .into_iter()
        .map(|o| o.id)
        .collect();
    for path in super::output::sweep(out_dir, |id| open_orders.contains(&id)) {
        tracing::warn!(path = %path.display(), "could not remove a file left by an interrupted run");
    }
    let mut authorizations = tally(&**store, touched)?;
    authorizations.pending_unknown = store.pending_unknown_authorizations()?.len();
    Ok(authorizations)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::store::{AuthorizationStatus as Status, ChallengeStatus, Store};

    #[test]
    fn only_undecided_pending_authorizations_are_left_to_expire() {
        let store = Store::open_in_memory().unwrap();
        let account = store
            .upsert_account("https://ca.test/dir", "https://ca.test/acct/1", "{}", &[])
            .unwrap();
        let order = store
            .begin_order(account, &["a.test", "b.test", "c.test"])
            .unwrap();
        for (url, name, status) in [
            ("https://ca.test/authz/a", "a.test", Status::Pending),
            ("https://ca.test/authz/b", "b.test", Status::Pending),
            ("https://ca.test/authz/c", "c.test", Status::Valid),
        ] {
            store
                .record_authorization(order, url, name, status, None)
                .unwrap();
        }
        store
            .record_challenge(
                "https://ca.test/authz/a",
                "https://ca.test/chall/a",
                "http-01",
                "t",
                ChallengeStatus::Pending,
            )
            .unwrap();
        store
            .challenge_responded("https://ca.test/chall/a")
            .unwrap();
        assert_eq!(leave_undecided(&store, order, "test").unwrap(), 1);
        let b = store
            .authorization("https://ca.test/authz/b")
            .unwrap()
            .unwrap();
        assert_eq!(b.outcome, AuthorizationOutcome::LeftToExpire);
        let tally = tally(&store, &BTreeSet::from([order])).unwrap();
        assert_eq!(
            tally,
            AuthorizationTally {
                valid: 1,
                answered: 1,
                left_to_expire: 1,
                ..AuthorizationTally::default()
            }
        );
        assert_eq!(decide_the_rest(&store).unwrap(), 0);
    }
}
