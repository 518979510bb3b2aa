//! [`StateStore`]: what the engine needs from a state store, implemented by the embedded SQLite
//! [`Store`] and by [`super::PgStore`] on a shared PostgreSQL.
//!
//! A trait object rather than an enum: the batch holds one `Box<dyn StateStore>` and never
//! needs to know which backend it talks to, and a third backend would not touch the engine.
//! It stays object-safe by taking identifier sets as `&[String]` (the inherent SQLite methods
//! keep their generic signatures). Every method is synchronous and short; a backend whose
//! driver must not block a tokio worker thread keeps that rule inside its own methods.

use std::path::{Path, PathBuf};

use jiff::Timestamp;

use super::Store;
use super::error::StoreError;
use super::types::{
    AccountId, AccountRecord, AuthorizationOutcome, AuthorizationRecord, AuthorizationStatus,
    ChallengeRecord, ChallengeStatus, NameBackoff, OrderId, OrderRecord, OrderStatus,
};

/// The engine's state store, whichever database keeps it. Every method has the meaning of the
/// [`Store`] method of the same name; the invariants (records written before the engine acts,
/// final CA statuses overriding decisions, one account per directory) hold on every backend.
pub trait StateStore: Send {
    /// Which backend, for messages: `sqlite <path>` or a PostgreSQL URL without its password.
    fn describe(&self) -> String;
    /// The PostgreSQL store when this is one: what several workers share a batch through
    /// (claims, leases, account lock). `None` on SQLite, where one run holds the whole file.
    fn shared(&self) -> Option<&super::PgStore>;
    /// See [`Store::schema_version`].
    fn schema_version(&self) -> Result<i64, StoreError>;
    /// See [`Store::upsert_account`].
    fn upsert_account(
        &self,
        directory_url: &str,
        account_url: &str,
        credentials_json: &str,
        contact: &[String],
    ) -> Result<AccountId, StoreError>;
    /// See [`Store::account`].
    fn account(&self, directory_url: &str) -> Result<Option<AccountRecord>, StoreError>;
    /// See [`Store::begin_order`].
    fn begin_order(
        &self,
        account: AccountId,
        identifiers: &[String],
    ) -> Result<OrderId, StoreError>;
    /// See [`Store::note_order_request`].
    fn note_order_request(
        &self,
        order: OrderId,
        profile: Option<&str>,
        replaces: Option<&str>,
    ) -> Result<(), StoreError>;
    /// See [`Store::set_order_url`].
    fn set_order_url(
        &self,
        order: OrderId,
        order_url: &str,
        finalize_url: Option<&str>,
    ) -> Result<OrderId, StoreError>;
    /// See [`Store::set_order_status`].
    fn set_order_status(
        &self,
        order: OrderId,
        status: OrderStatus,
        error: Option<&str>,
    ) -> Result<(), StoreError>;
    /// See [`Store::issued`].
    fn issued(&self, order: OrderId, certificate_path: &Path) -> Result<(), StoreError>;
    /// See [`Store::order`].
    fn order(&self, order: OrderId) -> Result<Option<OrderRecord>, StoreError>;
    /// See [`Store::order_by_url`].
    fn order_by_url(&self, order_url: &str) -> Result<Option<OrderRecord>, StoreError>;
    /// See [`Store::orders_to_resume`].
    fn orders_to_resume(&self, directory_url: &str) -> Result<Vec<OrderRecord>, StoreError>;
    /// See [`Store::unconfirmed_orders`].
    fn unconfirmed_orders(&self, directory_url: &str) -> Result<Vec<OrderRecord>, StoreError>;
    /// See [`Store::issued_for`].
    fn issued_for(
        &self,
        directory_url: &str,
        identifiers: &[String],
    ) -> Result<Option<(OrderId, PathBuf)>, StoreError>;
    /// See [`Store::record_authorization`].
    fn record_authorization(
        &self,
        order: OrderId,
        url: &str,
        identifier: &str,
        status: AuthorizationStatus,
        expires_at: Option<Timestamp>,
    ) -> Result<(), StoreError>;
    /// See [`Store::set_authorization_status`].
    fn set_authorization_status(
        &self,
        url: &str,
        status: AuthorizationStatus,
        expires_at: Option<Timestamp>,
    ) -> Result<(), StoreError>;
    /// See [`Store::set_authorization_outcome`].
    fn set_authorization_outcome(
        &self,
        url: &str,
        outcome: AuthorizationOutcome,
        why: &str,
    ) -> Result<(), StoreError>;
    /// See [`Store::authorization`].
    fn authorization(&self, url: &str) -> Result<Option<AuthorizationRecord>, StoreError>;
    /// See [`Store::authorizations_for_order`].
    fn authorizations_for_order(
        &self,
        order: OrderId,
    ) -> Result<Vec<AuthorizationRecord>, StoreError>;
    /// See [`Store::all_authorizations`].
    fn all_authorizations(&self) -> Result<Vec<AuthorizationRecord>, StoreError>;
    /// See [`Store::pending_authorizations`].
    fn pending_authorizations(&self) -> Result<Vec<AuthorizationRecord>, StoreError>;
    /// See [`Store::pending_unknown_authorizations`].
    fn pending_unknown_authorizations(&self) -> Result<Vec<AuthorizationRecord>, StoreError>;
    /// See [`Store::valid_authorization`].
    fn valid_authorization(
        &self,
        directory_url: &str,
        identifier: &str,
        now: Timestamp,
    ) -> Result<Option<String>, StoreError>;
    /// See [`Store::outstanding_pending_count`].
    fn outstanding_pending_count(
        &self,
        directory_url: &str,
        now: Timestamp,
    ) -> Result<usize, StoreError>;
    /// See [`Store::record_challenge`].
    fn record_challenge(
        &self,
        authorization_url: &str,
        url: &str,
        challenge_type: &str,
        token: &str,
        status: ChallengeStatus,
    ) -> Result<(), StoreError>;
    /// See [`Store::set_challenge_status`].
    fn set_challenge_status(&self, url: &str, status: ChallengeStatus) -> Result<(), StoreError>;
    /// See [`Store::challenge_responded`].
    fn challenge_responded(&self, url: &str) -> Result<(), StoreError>;
    /// See [`Store::challenges_for_authorization`].
    fn challenges_for_authorization(
        &self,
        authorization_url: &str,
    ) -> Result<Vec<ChallengeRecord>, StoreError>;
    /// See [`Store::name_backoff`].
    fn name_backoff(
        &self,
        directory_url: &str,
        identifier: &str,
    ) -> Result<Option<NameBackoff>, StoreError>;
    /// See [`Store::name_backoffs`].
    fn name_backoffs(&self, directory_url: &str) -> Result<Vec<NameBackoff>, StoreError>;
    /// See [`Store::put_name_backoff`].
    fn put_name_backoff(&self, directory_url: &str, state: &NameBackoff) -> Result<(), StoreError>;
    /// See [`Store::update_name_backoff`]: the history as stored, changed and written back with
    /// no other worker's change in between.
    fn update_name_backoff(
        &self,
        directory_url: &str,
        identifier: &str,
        change: &mut (dyn FnMut(NameBackoff) -> NameBackoff + Send),
    ) -> Result<NameBackoff, StoreError>;
}

/// Implements [`StateStore`] for a type by calling its inherent methods of the same names, so
/// each backend keeps its queries in small per-concern files and this list is written once.
macro_rules! delegate_state_store {
    ($t:ty) => {
        impl StateStore for $t {
            fn describe(&self) -> String {
                <$t>::describe(self)
            }
            fn shared(&self) -> Option<&super::PgStore> {
                <$t>::shared(self)
            }
            fn schema_version(&self) -> Result<i64, StoreError> {
                <$t>::schema_version(self)
            }
            fn upsert_account(
                &self,
                directory_url: &str,
                account_url: &str,
                credentials_json: &str,
                contact: &[String],
            ) -> Result<AccountId, StoreError> {
                <$t>::upsert_account(self, directory_url, account_url, credentials_json, contact)
            }
            fn account(&self, directory_url: &str) -> Result<Option<AccountRecord>, StoreError> {
                <$t>::account(self, directory_url)
            }
            fn begin_order(
                &self,
                account: AccountId,
                identifiers: &[String],
            ) -> Result<OrderId, StoreError> {
                <$t>::begin_order(self, account, identifiers)
            }
            fn note_order_request(
                &self,
                order: OrderId,
                profile: Option<&str>,
                replaces: Option<&str>,
            ) -> Result<(), StoreError> {
                <$t>::note_order_request(self, order, profile, replaces)
            }
            fn set_order_url(
                &self,
                order: OrderId,
                order_url: &str,
                finalize_url: Option<&str>,
            ) -> Result<OrderId, StoreError> {
                <$t>::set_order_url(self, order, order_url, finalize_url)
            }
            fn set_order_status(
                &self,
                order: OrderId,
                status: OrderStatus,
                error: Option<&str>,
            ) -> Result<(), StoreError> {
                <$t>::set_order_status(self, order, status, error)
            }
            fn issued(&self, order: OrderId, certificate_path: &Path) -> Result<(), StoreError> {
                <$t>::issued(self, order, certificate_path)
            }
            fn order(&self, order: OrderId) -> Result<Option<OrderRecord>, StoreError> {
                <$t>::order(self, order)
            }
            fn order_by_url(&self, order_url: &str) -> Result<Option<OrderRecord>, StoreError> {
                <$t>::order_by_url(self, order_url)
            }
            fn orders_to_resume(
                &self,
                directory_url: &str,
            ) -> Result<Vec<OrderRecord>, StoreError> {
                <$t>::orders_to_resume(self, directory_url)
            }
            fn unconfirmed_orders(
                &self,
                directory_url: &str,
            ) -> Result<Vec<OrderRecord>, StoreError> {
                <$t>::unconfirmed_orders(self, directory_url)
            }
            fn issued_for(
                &self,
                directory_url: &str,
                identifiers: &[String],
            ) -> Result<Option<(OrderId, PathBuf)>, StoreError> {
                <$t>::issued_for(self, directory_url, identifiers)
            }
            fn record_authorization(
                &self,
                order: OrderId,
                url: &str,
                identifier: &str,
                status: AuthorizationStatus,
                expires_at: Option<Timestamp>,
            ) -> Result<(), StoreError> {
                <$t>::record_authorization(self, order, url, identifier, status, expires_at)
            }
            fn set_authorization_status(
                &self,
                url: &str,
                status: AuthorizationStatus,
                expires_at: Option<Timestamp>,
            ) -> Result<(), StoreError> {
                <$t>::set_authorization_status(self, url, status, expires_at)
            }
            fn set_authorization_outcome(
                &self,
                url: &str,
                outcome: AuthorizationOutcome,
                why: &str,
            ) -> Result<(), StoreError> {
                <$t>::set_authorization_outcome(self, url, outcome, why)
            }
            fn authorization(&self, url: &str) -> Result<Option<AuthorizationRecord>, StoreError> {
                <$t>::authorization(self, url)
            }
            fn authorizations_for_order(
                &self,
                order: OrderId,
            ) -> Result<Vec<AuthorizationRecord>, StoreError> {
                <$t>::authorizations_for_order(self, order)
            }
            fn all_authorizations(&self) -> Result<Vec<AuthorizationRecord>, StoreError> {
                <$t>::all_authorizations(self)
            }
            fn pending_authorizations(&self) -> Result<Vec<AuthorizationRecord>, StoreError> {
                <$t>::pending_authorizations(self)
            }
            fn pending_unknown_authorizations(
                &self,
            ) -> Result<Vec<AuthorizationRecord>, StoreError> {
                <$t>::pending_unknown_authorizations(self)
            }
            fn valid_authorization(
                &self,
                directory_url: &str,
                identifier: &str,
                now: Timestamp,
            ) -> Result<Option<String>, StoreError> {
                <$t>::valid_authorization(self, directory_url, identifier, now)
            }
            fn outstanding_pending_count(
                &self,
                directory_url: &str,
                now: Timestamp,
            ) -> Result<usize, StoreError> {
                <$t>::outstanding_pending_count(self, directory_url, now)
            }
            fn record_challenge(
                &self,
                authorization_url: &str,
                url: &str,
                challenge_type: &str,
                token: &str,
                status: ChallengeStatus,
            ) -> Result<(), StoreError> {
                <$t>::record_challenge(self, authorization_url, url, challenge_type, token, status)
            }
            fn set_challenge_status(
                &self,
                url: &str,
                status: ChallengeStatus,
            ) -> Result<(), StoreError> {
                <$t>::set_challenge_status(self, url, status)
            }
            fn challenge_responded(&self, url: &str) -> Result<(), StoreError> {
                <$t>::challenge_responded(self, url)
            }
            fn challenges_for_authorization(
                &self,
                authorization_url: &str,
            ) -> Result<Vec<ChallengeRecord>, StoreError> {
                <$t>::challenges_for_authorization(self, authorization_url)
            }
            fn name_backoff(
                &self,
                directory_url: &str,
                identifier: &str,
            ) -> Result<Option<NameBackoff>, StoreError> {
                <$t>::name_backoff(self, directory_url, identifier)
            }
            fn name_backoffs(&self, directory_url: &str) -> Result<Vec<NameBackoff>, StoreError> {
                <$t>::name_backoffs(self, directory_url)
            }
            fn put_name_backoff(
                &self,
                directory_url: &str,
                state: &NameBackoff,
            ) -> Result<(), StoreError> {
                <$t>::put_name_backoff(self, directory_url, state)
            }
            fn update_name_backoff(
                &self,
                directory_url: &str,
                identifier: &str,
                change: &mut (dyn FnMut(NameBackoff) -> NameBackoff + Send),
            ) -> Result<NameBackoff, StoreError> {
                <$t>::update_name_backoff(self, directory_url, identifier, change)
            }
        }
    };
}

delegate_state_store!(Store);
delegate_state_store!(super::PgStore);

impl Store {
    /// `sqlite <path>`, or `sqlite (in memory)`.
    pub fn describe(&self) -> String {
        match self.path() {
            Some(path) => format!("sqlite {}", path.display()),
            None => "sqlite (in memory)".to_string(),
        }
    }

    /// Never shared: an SQLite file is held by one run at a time.
    pub fn shared(&self) -> Option<&super::PgStore> {
        None
    }
}
