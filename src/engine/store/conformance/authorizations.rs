//! Cases on authorizations and challenges.

use super::*;

pub(super) fn a_recorded_pending_authorization_is_unknown_until_answered_or_decided(
    store: &dyn StateStore,
) {
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

pub(super) fn a_final_ca_status_overrides_the_outcome_and_answering_does_not_downgrade_it(
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

pub(super) fn a_reused_authorization_links_to_every_order_and_is_found_for_reuse_until_it_expires(
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

pub(super) fn unknown_urls_are_typed_errors(store: &dyn StateStore) {
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

pub(super) fn re_recording_a_challenge_updates_its_status_and_keeps_when_it_was_answered(
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
