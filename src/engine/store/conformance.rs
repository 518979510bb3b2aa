//! The record-level assertions every [`StateStore`] backend must pass, written once and run
//! against the SQLite store by its unit tests and against a real PostgreSQL by
//! tests/store_pg.rs. Each case gets a fresh, empty store. Not part of the API: public only so
//! the integration tests can reach it.

use std::path::Path;

use jiff::{SignedDuration, Timestamp};

use super::{
    AccountId, AuthorizationOutcome as Outcome, AuthorizationStatus as Status, ChallengeStatus,
    NameBackoff, OrderId, OrderStatus, StateStore, StoreError,
};

mod authorizations;
mod orders;
mod schema;

use authorizations::*;
use orders::*;
use schema::*;

const DIR: &str = "https://acme.test/dir";

/// One case: it gets a fresh, empty store and panics when the backend is wrong.
pub type Case = fn(&dyn StateStore);

/// Every case, by name.
pub const CASES: &[(&str, Case)] = &[
    (
        "an_account_is_replaced_in_place_per_directory",
        an_account_is_replaced_in_place_per_directory,
    ),
    (
        "an_order_is_recorded_before_the_ca_knows_it_and_resumed_until_final",
        an_order_is_recorded_before_the_ca_knows_it_and_resumed_until_final,
    ),
    (
        "unconfirmed_orders_are_the_new_ones_without_an_answer",
        unconfirmed_orders_are_the_new_ones_without_an_answer,
    ),
    (
        "issued_for_matches_the_exact_normalised_set_only",
        issued_for_matches_the_exact_normalised_set_only,
    ),
    (
        "a_reused_order_url_keeps_the_first_record",
        a_reused_order_url_keeps_the_first_record,
    ),
    (
        "unknown_orders_and_bad_identifiers_are_typed_errors",
        unknown_orders_and_bad_identifiers_are_typed_errors,
    ),
    (
        "a_recorded_pending_authorization_is_unknown_until_answered_or_decided",
        a_recorded_pending_authorization_is_unknown_until_answered_or_decided,
    ),
    (
        "a_final_ca_status_overrides_the_outcome_and_answering_does_not_downgrade_it",
        a_final_ca_status_overrides_the_outcome_and_answering_does_not_downgrade_it,
    ),
    (
        "a_reused_authorization_links_to_every_order_and_is_found_for_reuse_until_it_expires",
        a_reused_authorization_links_to_every_order_and_is_found_for_reuse_until_it_expires,
    ),
    (
        "unknown_urls_are_typed_errors",
        unknown_urls_are_typed_errors,
    ),
    (
        "re_recording_a_challenge_updates_its_status_and_keeps_when_it_was_answered",
        re_recording_a_challenge_updates_its_status_and_keeps_when_it_was_answered,
    ),
    (
        "backoff_round_trips_per_directory_and_a_clean_history_is_deleted",
        backoff_round_trips_per_directory_and_a_clean_history_is_deleted,
    ),
    (
        "an_update_changes_the_stored_history_and_a_clean_one_is_deleted",
        an_update_changes_the_stored_history_and_a_clean_one_is_deleted,
    ),
    (
        "every_enum_value_is_accepted_by_the_schema",
        every_enum_value_is_accepted_by_the_schema,
    ),
    ("a_filled_store_reads_back", a_filled_store_reads_back),
];

fn t(s: &str) -> Timestamp {
    s.parse().unwrap()
}

fn ids(names: &[&str]) -> Vec<String> {
    names.iter().map(|n| n.to_string()).collect()
}

fn with_account(store: &dyn StateStore) -> AccountId {
    store
        .upsert_account(DIR, "https://acme.test/acct/1", "{}", &[])
        .unwrap()
}

fn with_order(store: &dyn StateStore) -> OrderId {
    let account = with_account(store);
    store
        .begin_order(account, &ids(&["a.example", "b.example"]))
        .unwrap()
}

/// Writes one of everything, the way a run would before being killed.
pub fn fill(store: &dyn StateStore) -> OrderId {
    let account = store
        .upsert_account(DIR, "https://acme.test/acct/1", r#"{"key":"secret"}"#, &[])
        .unwrap();
    let order = store.begin_order(account, &ids(&["a.example"])).unwrap();
    store
        .set_order_url(
            order,
            "https://acme.test/order/1",
            Some("https://acme.test/fin/1"),
        )
        .unwrap();
    store
        .record_authorization(
            order,
            "https://acme.test/authz/1",
            "a.example",
            Status::Pending,
            None,
        )
        .unwrap();
    store
        .record_challenge(
            "https://acme.test/authz/1",
            "https://acme.test/chall/1",
            "http-01",
            "tok",
            ChallengeStatus::Pending,
        )
        .unwrap();
    store
        .challenge_responded("https://acme.test/chall/1")
        .unwrap();
    store
        .put_name_backoff(
            DIR,
            &NameBackoff {
                consecutive_failures: 1,
                ..NameBackoff::clean("b.example")
            },
        )
        .unwrap();
    order
}

/// Checks that everything [`fill`] wrote is there.
pub fn assert_filled(store: &dyn StateStore, order: OrderId) {
    let account = store.account(DIR).unwrap().expect("account lost");
    assert_eq!(account.credentials_json, r#"{"key":"secret"}"#);
    let resumed = store.orders_to_resume(DIR).unwrap();
    assert_eq!(resumed.len(), 1);
    assert_eq!(resumed[0].id, order);
    assert_eq!(
        resumed[0].order_url.as_deref(),
        Some("https://acme.test/order/1")
    );
    let authz = store
        .authorization("https://acme.test/authz/1")
        .unwrap()
        .unwrap();
    assert_eq!(authz.outcome, Outcome::Answered);
    assert!(store.pending_unknown_authorizations().unwrap().is_empty());
    assert_eq!(
        store
            .name_backoff(DIR, "b.example")
            .unwrap()
            .unwrap()
            .consecutive_failures,
        1
    );
}

fn a_filled_store_reads_back(store: &dyn StateStore) {
    let order = fill(store);
    assert_filled(store, order);
    assert!(store.schema_version().unwrap() > 0);
}
