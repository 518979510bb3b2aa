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

fn an_account_is_replaced_in_place_per_directory(store: &dyn StateStore) {
    assert!(store.account(DIR).unwrap().is_none());
    let first = store
        .upsert_account(
            DIR,
            "https://acme.test/acct/1",
            r#"{"k":1}"#,
            &["mailto:a@x.test".into()],
        )
        .unwrap();
    let again = store
        .upsert_account(DIR, "https://acme.test/acct/2", r#"{"k":2}"#, &[])
        .unwrap();
    assert_eq!(first, again, "the row id must survive a replacement");
    let got = store.account(DIR).unwrap().unwrap();
    assert_eq!(got.account_url, "https://acme.test/acct/2");
    assert_eq!(got.credentials_json, r#"{"k":2}"#);
    assert!(got.contact.is_empty());
    let other = store
        .upsert_account("https://other.test/dir", "https://other.test/a", "{}", &[])
        .unwrap();
    assert_ne!(other, first);
    assert!(
        !format!("{got:?}").contains("\"k\""),
        "credentials must not be printed by Debug"
    );
}

fn an_order_is_recorded_before_the_ca_knows_it_and_resumed_until_final(store: &dyn StateStore) {
    let account = with_account(store);
    let a = store
        .begin_order(account, &ids(&["B.example.", "a.example"]))
        .unwrap();
    let got = store.order(a).unwrap().unwrap();
    assert_eq!(got.status, OrderStatus::New);
    assert_eq!(got.identifiers, ["a.example", "b.example"]);
    assert_eq!(got.order_url, None);

    let b = store.begin_order(account, &ids(&["c.example"])).unwrap();
    assert_eq!(
        store
            .set_order_url(
                b,
                "https://acme.test/order/b",
                Some("https://acme.test/fin/b")
            )
            .unwrap(),
        b
    );
    let resume: Vec<_> = store
        .orders_to_resume(DIR)
        .unwrap()
        .iter()
        .map(|o| o.id)
        .collect();
    assert_eq!(resume, [a, b], "oldest first, `new` included");
    assert_eq!(
        store.order(b).unwrap().unwrap().status,
        OrderStatus::Pending
    );

    store
        .set_order_status(b, OrderStatus::Processing, None)
        .unwrap();
    store.issued(b, Path::new("/out/c.example.pem")).unwrap();
    store
        .set_order_status(a, OrderStatus::Invalid, Some("rejectedIdentifier"))
        .unwrap();
    assert!(store.orders_to_resume(DIR).unwrap().is_empty());
    assert!(
        store
            .orders_to_resume("https://other.test/dir")
            .unwrap()
            .is_empty()
    );
    let by_url = store
        .order_by_url("https://acme.test/order/b")
        .unwrap()
        .unwrap();
    assert_eq!(by_url.status, OrderStatus::Valid);
    assert_eq!(
        by_url.finalize_url.as_deref(),
        Some("https://acme.test/fin/b")
    );
    assert_eq!(
        store.order(a).unwrap().unwrap().error.as_deref(),
        Some("rejectedIdentifier")
    );
}

fn unconfirmed_orders_are_the_new_ones_without_an_answer(store: &dyn StateStore) {
    let account = with_account(store);
    let sent = store.begin_order(account, &ids(&["a.example"])).unwrap();
    let answered = store.begin_order(account, &ids(&["b.example"])).unwrap();
    store
        .set_order_url(answered, "https://acme.test/order/b", None)
        .unwrap();
    let refused = store.begin_order(account, &ids(&["c.example"])).unwrap();
    store
        .set_order_status(refused, OrderStatus::Abandoned, Some("newOrder failed"))
        .unwrap();
    let lost = store.begin_order(account, &ids(&["a.example"])).unwrap();
    store
        .set_order_status(lost, OrderStatus::New, Some("newOrder: timed out"))
        .unwrap();
    let got: Vec<_> = store
        .unconfirmed_orders(DIR)
        .unwrap()
        .iter()
        .map(|o| o.id)
        .collect();
    assert_eq!(got, [sent, lost]);
    assert!(
        store
            .unconfirmed_orders("https://other.test/dir")
            .unwrap()
            .is_empty()
    );
}

fn issued_for_matches_the_exact_normalised_set_only(store: &dyn StateStore) {
    let account = with_account(store);
    let o = store
        .begin_order(account, &ids(&["www.example", "example"]))
        .unwrap();
    assert_eq!(
        store
            .issued_for(DIR, &ids(&["example", "www.example"]))
            .unwrap(),
        None
    );
    store.issued(o, Path::new("/out/example.pem")).unwrap();
    let hit = store
        .issued_for(DIR, &ids(&["WWW.example.", "example"]))
        .unwrap();
    assert_eq!(hit, Some((o, "/out/example.pem".into())));
    assert_eq!(store.issued_for(DIR, &ids(&["example"])).unwrap(), None);
    assert_eq!(
        store
            .issued_for("https://other.test/dir", &ids(&["example", "www.example"]))
            .unwrap(),
        None
    );
}

fn a_reused_order_url_keeps_the_first_record(store: &dyn StateStore) {
    let account = with_account(store);
    let first = store.begin_order(account, &ids(&["a.example"])).unwrap();
    store
        .set_order_url(first, "https://acme.test/order/1", None)
        .unwrap();
    let second = store.begin_order(account, &ids(&["a.example"])).unwrap();
    let survivor = store
        .set_order_url(
            second,
            "https://acme.test/order/1",
            Some("https://acme.test/fin/1"),
        )
        .unwrap();
    assert_eq!(survivor, first);
    assert_eq!(
        store.order(second).unwrap().unwrap().status,
        OrderStatus::Abandoned
    );
    let kept = store.order(first).unwrap().unwrap();
    assert_eq!(
        kept.finalize_url.as_deref(),
        Some("https://acme.test/fin/1")
    );
    let resume: Vec<_> = store
        .orders_to_resume(DIR)
        .unwrap()
        .iter()
        .map(|o| o.id)
        .collect();
    assert_eq!(resume, [first]);
}

fn unknown_orders_and_bad_identifiers_are_typed_errors(store: &dyn StateStore) {
    let account = with_account(store);
    let ghost = OrderId(999);
    assert!(matches!(
        store.set_order_status(ghost, OrderStatus::Valid, None),
        Err(StoreError::UnknownOrder(_))
    ));
    assert!(
        store
            .issued(ghost, Path::new("/x"))
            .unwrap_err()
            .is_unknown_record()
    );
    assert!(matches!(
        store.begin_order(account, &ids(&["bad name"])),
        Err(StoreError::InvalidIdentifier(_))
    ));
    let orphan = store.begin_order(AccountId(42), &ids(&["a.example"]));
    assert!(
        orphan.is_err(),
        "foreign keys must refuse an order without its account"
    );
}

fn a_recorded_pending_authorization_is_unknown_until_answered_or_decided(store: &dyn StateStore) {
    let order = with_order(store);
    let exp = Some(t("2026-06-08T00:00:00Z"));
    store
        .record_authorization(
            order,
            "https://acme.test/authz/a",
            "A.example.",
            Status::Pending,
            exp,
        )
        .unwrap();
    store
        .record_authorization(
            order,
            "https://acme.test/authz/b",
            "b.example",
            Status::Pending,
            exp,
        )
        .unwrap();
    let unknown: Vec<_> = store
        .pending_unknown_authorizations()
        .unwrap()
        .into_iter()
        .map(|a| a.identifier)
        .collect();
    assert_eq!(unknown, ["a.example", "b.example"]);

    store
        .record_challenge(
            "https://acme.test/authz/a",
            "https://acme.test/chall/a",
            "http-01",
            "tok",
            ChallengeStatus::Pending,
        )
        .unwrap();
    store
        .challenge_responded("https://acme.test/chall/a")
        .unwrap();
    store
        .set_authorization_outcome(
            "https://acme.test/authz/b",
            Outcome::LeftToExpire,
            "name has no address",
        )
        .unwrap();
    assert!(store.pending_unknown_authorizations().unwrap().is_empty());

    let a = store
        .authorization("https://acme.test/authz/a")
        .unwrap()
        .unwrap();
    assert_eq!((a.status, a.outcome), (Status::Pending, Outcome::Answered));
    assert_eq!(a.orders, [order]);
    let chall = store.challenges_for_authorization(&a.url).unwrap();
    assert_eq!(chall.len(), 1);
    assert!(chall[0].responded_at.is_some());
    let b = store
        .authorization("https://acme.test/authz/b")
        .unwrap()
        .unwrap();
    assert_eq!(b.why.as_deref(), Some("name has no address"));
    // Both still pending at the CA: both count against the cap until they expire.
    assert_eq!(
        store
            .outstanding_pending_count(DIR, t("2026-06-01T00:00:00Z"))
            .unwrap(),
        2
    );
    assert_eq!(
        store
            .outstanding_pending_count(DIR, t("2026-06-09T00:00:00Z"))
            .unwrap(),
        0
    );
    assert_eq!(
        store
            .outstanding_pending_count("https://other.test/dir", t("2026-06-01T00:00:00Z"))
            .unwrap(),
        0
    );
    assert_eq!(store.pending_authorizations().unwrap().len(), 2);
}

fn a_final_ca_status_overrides_the_outcome_and_answering_does_not_downgrade_it(
    store: &dyn StateStore,
) {
    let order = with_order(store);
    let url = "https://acme.test/authz/a";
    store
        .record_authorization(order, url, "a.example", Status::Pending, None)
        .unwrap();
    store
        .record_challenge(
            url,
            "https://acme.test/chall/a",
            "dns-01",
            "tok",
            ChallengeStatus::Pending,
        )
        .unwrap();
    store
        .set_authorization_status(url, Status::Invalid, None)
        .unwrap();
    store
        .challenge_responded("https://acme.test/chall/a")
        .unwrap();
    let got = store.authorization(url).unwrap().unwrap();
    assert_eq!(
        (got.status, got.outcome),
        (Status::Invalid, Outcome::Invalid)
    );
    store
        .set_challenge_status("https://acme.test/chall/a", ChallengeStatus::Invalid)
        .unwrap();
    assert_eq!(
        store.challenges_for_authorization(url).unwrap()[0].status,
        ChallengeStatus::Invalid
    );
    // Deactivation decided first, then confirmed by the CA.
    let b = "https://acme.test/authz/b";
    store
        .record_authorization(order, b, "b.example", Status::Pending, None)
        .unwrap();
    store
        .set_authorization_outcome(b, Outcome::Deactivated, "order abandoned")
        .unwrap();
    store
        .set_authorization_status(b, Status::Deactivated, None)
        .unwrap();
    assert_eq!(
        store.authorization(b).unwrap().unwrap().outcome,
        Outcome::Deactivated
    );
    assert!(store.pending_unknown_authorizations().unwrap().is_empty());
}

fn a_reused_authorization_links_to_every_order_and_is_found_for_reuse_until_it_expires(
    store: &dyn StateStore,
) {
    let first = with_order(store);
    let account = store.account(DIR).unwrap().unwrap().id;
    let second = store.begin_order(account, &ids(&["a.example"])).unwrap();
    let url = "https://acme.test/authz/a";
    let expires = t("2026-07-01T00:00:00Z");
    store
        .record_authorization(first, url, "a.example", Status::Pending, Some(expires))
        .unwrap();
    let before = t("2026-06-01T00:00:00Z");
    assert_eq!(
        store.valid_authorization(DIR, "a.example", before).unwrap(),
        None
    );
    store
        .record_authorization(second, url, "a.example", Status::Valid, None)
        .unwrap();
    let got = store.authorization(url).unwrap().unwrap();
    assert_eq!(got.orders, [first, second]);
    assert_eq!(
        got.expires_at,
        Some(expires),
        "a missing expiry must not erase the known one"
    );
    assert_eq!(got.outcome, Outcome::Valid);
    assert_eq!(
        store
            .valid_authorization(DIR, "A.Example.", before)
            .unwrap()
            .as_deref(),
        Some(url)
    );
    assert_eq!(
        store
            .valid_authorization(DIR, "a.example", expires)
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .valid_authorization(DIR, "a.example", expires - SignedDuration::from_secs(1))
            .unwrap()
            .as_deref(),
        Some(url)
    );
    assert_eq!(
        store
            .valid_authorization("https://other.test/dir", "a.example", before)
            .unwrap(),
        None
    );
    assert_eq!(store.authorizations_for_order(second).unwrap().len(), 1);
    assert_eq!(store.all_authorizations().unwrap().len(), 1);
}

fn unknown_urls_are_typed_errors(store: &dyn StateStore) {
    with_order(store);
    assert!(matches!(
        store.set_authorization_outcome("https://x/authz", Outcome::Answered, ""),
        Err(StoreError::UnknownAuthorization(_))
    ));
    assert!(
        store
            .set_authorization_status("https://x/authz", Status::Valid, None)
            .unwrap_err()
            .is_unknown_record()
    );
    assert!(matches!(
        store.record_challenge(
            "https://x/authz",
            "https://x/ch",
            "http-01",
            "t",
            ChallengeStatus::Pending
        ),
        Err(StoreError::UnknownAuthorization(_))
    ));
    assert!(matches!(
        store.challenge_responded("https://x/ch"),
        Err(StoreError::UnknownChallenge(_))
    ));
    assert!(matches!(
        store.set_challenge_status("https://x/ch", ChallengeStatus::Valid),
        Err(StoreError::UnknownChallenge(_))
    ));
    assert!(matches!(
        store.record_authorization(
            OrderId(77),
            "https://x/authz",
            "a.example",
            Status::Pending,
            None
        ),
        Err(StoreError::UnknownOrder(_))
    ));
}

fn re_recording_a_challenge_updates_its_status_and_keeps_when_it_was_answered(
    store: &dyn StateStore,
) {
    let account = with_account(store);
    let order = store.begin_order(account, &ids(&["a.example"])).unwrap();
    let authz = "https://acme.test/authz/1";
    store
        .record_authorization(order, authz, "a.example", Status::Pending, None)
        .unwrap();
    // A type the engine does not solve is still recorded as the CA named it.
    for (url, kind) in [
        ("https://acme.test/ch/1", "http-01"),
        ("https://acme.test/ch/2", "dns-account-01"),
    ] {
        store
            .record_challenge(authz, url, kind, "tok", ChallengeStatus::Pending)
            .unwrap();
    }
    store.challenge_responded("https://acme.test/ch/1").unwrap();
    store
        .record_challenge(
            authz,
            "https://acme.test/ch/1",
            "http-01",
            "tok",
            ChallengeStatus::Valid,
        )
        .unwrap();
    let got = store.challenges_for_authorization(authz).unwrap();
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].status, ChallengeStatus::Valid);
    assert!(
        got[0].responded_at.is_some(),
        "re-recording must not forget the answer"
    );
    assert_eq!(got[1].challenge_type, "dns-account-01");
    assert_eq!(got[1].responded_at, None);
}

fn backoff_round_trips_per_directory_and_a_clean_history_is_deleted(store: &dyn StateStore) {
    assert_eq!(store.name_backoff(DIR, "a.example").unwrap(), None);
    let state = NameBackoff {
        identifier: "A.example.".into(),
        consecutive_failures: 2,
        next_attempt_at: Some(t("2026-01-01T00:02:00Z")),
        recent_failures: vec![t("2026-01-01T00:00:00Z"), t("2026-01-01T00:01:00.250Z")],
        last_error: Some("unauthorized".into()),
    };
    store.put_name_backoff(DIR, &state).unwrap();
    let got = store.name_backoff(DIR, "a.example").unwrap().unwrap();
    assert_eq!(
        got,
        NameBackoff {
            identifier: "a.example".into(),
            ..state.clone()
        }
    );
    assert_eq!(store.name_backoffs(DIR).unwrap(), [got]);
    assert!(
        store
            .name_backoffs("https://other.test/dir")
            .unwrap()
            .is_empty()
    );
    store
        .put_name_backoff(DIR, &NameBackoff::clean("a.example"))
        .unwrap();
    assert_eq!(store.name_backoff(DIR, "a.example").unwrap(), None);
}

fn every_enum_value_is_accepted_by_the_schema(store: &dyn StateStore) {
    // The CHECK constraints repeat the enums' texts: a variant added on one side only fails here.
    let account = store
        .upsert_account(DIR, "https://acme.test/a", "{}", &[])
        .unwrap();
    let order = store.begin_order(account, &ids(&["a.example"])).unwrap();
    for status in OrderStatus::ALL {
        store.set_order_status(order, *status, None).unwrap();
        assert_eq!(store.order(order).unwrap().unwrap().status, *status);
    }
    let url = "https://acme.test/authz";
    store
        .record_authorization(order, url, "a.example", Status::Pending, None)
        .unwrap();
    for status in Status::ALL {
        store.set_authorization_status(url, *status, None).unwrap();
    }
    for outcome in Outcome::ALL {
        store.set_authorization_outcome(url, *outcome, "").unwrap();
        assert_eq!(store.authorization(url).unwrap().unwrap().outcome, *outcome);
    }
    store
        .record_challenge(
            url,
            "https://acme.test/ch",
            "http-01",
            "t",
            ChallengeStatus::Pending,
        )
        .unwrap();
    for status in ChallengeStatus::ALL {
        store
            .set_challenge_status("https://acme.test/ch", *status)
            .unwrap();
    }
}
