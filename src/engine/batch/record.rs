//! Writing what the CA said into the state store, and the mapping between the ACME client's
//! statuses and the store's.

use jiff::Timestamp;

use crate::engine::acme::{self, AuthzInfo, AuthzStatus};
use crate::engine::store::{
    AuthorizationStatus, ChallengeStatus, OrderId, OrderStatus, StateStore, StoreError,
};

/// Records every authorization of `order` and every challenge each offers, as the CA describes
/// them now. Called before any of them is acted on.
///
/// The CA does not say when an authorization expires in what the client parses, so a pending
/// one is given the order's expiry: an order cannot outlive its pending authorizations, and
/// without an instant the pending-authorization cap would count it forever.
pub(super) fn record_authorizations(
    store: &dyn StateStore,
    order: OrderId,
    authorizations: &[AuthzInfo],
    order_expires: Option<Timestamp>,
) -> Result<(), StoreError> {
    for authz in authorizations {
        let status = authz_status(&authz.status);
        let expires = (status == AuthorizationStatus::Pending)
            .then_some(order_expires)
            .flatten();
        store.record_authorization(order, &authz.url, &authz.ordered_name(), status, expires)?;
        for challenge in &authz.challenges {
            store.record_challenge(
                &authz.url,
                &challenge.url,
                challenge.kind.as_str(),
                &challenge.token,
                challenge_status(&challenge.status),
            )?;
        }
    }
    Ok(())
}

/// The store's name for an authorization status; one the client does not know is kept as
/// pending, the state that still needs a decision.
pub(super) fn authz_status(status: &AuthzStatus) -> AuthorizationStatus {
    match status {
        AuthzStatus::Valid => AuthorizationStatus::Valid,
        AuthzStatus::Invalid => AuthorizationStatus::Invalid,
        AuthzStatus::Deactivated => AuthorizationStatus::Deactivated,
        AuthzStatus::Expired => AuthorizationStatus::Expired,
        AuthzStatus::Revoked => AuthorizationStatus::Revoked,
        AuthzStatus::Pending | AuthzStatus::Other(_) => AuthorizationStatus::Pending,
    }
}

/// The store's name for a challenge status (unknown ones as pending).
pub(super) fn challenge_status(status: &acme::ChallengeStatus) -> ChallengeStatus {
    match status {
        acme::ChallengeStatus::Processing => ChallengeStatus::Processing,
        acme::ChallengeStatus::Valid => ChallengeStatus::Valid,
        acme::ChallengeStatus::Invalid => ChallengeStatus::Invalid,
        acme::ChallengeStatus::Pending | acme::ChallengeStatus::Other(_) => {
            ChallengeStatus::Pending
        }
    }
}

/// The store's status for an order as the CA reports it. `valid` is stored as `processing`
/// until the certificate is written (`Store::issued`): a valid order whose chain is not on disk
/// yet must stay resumable, and the store treats `valid` as final.
pub(super) fn order_status(status: &acme::OrderStatus) -> OrderStatus {
    match status {
        acme::OrderStatus::Pending => OrderStatus::Pending,
        acme::OrderStatus::Ready => OrderStatus::Ready,
        acme::OrderStatus::Processing | acme::OrderStatus::Valid => OrderStatus::Processing,
        acme::OrderStatus::Deactivated => OrderStatus::Deactivated,
        acme::OrderStatus::Invalid | acme::OrderStatus::Other(_) => OrderStatus::Invalid,
    }
}
