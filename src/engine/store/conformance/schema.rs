//! Cases on name backoff and on the schema accepting every value the engine writes.

use super::*;

pub(super) fn backoff_round_trips_per_directory_and_a_clean_history_is_deleted(
    store: &dyn StateStore,
) {
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

pub(super) fn an_update_changes_the_stored_history_and_a_clean_one_is_deleted(
    store: &dyn StateStore,
) {
    let mut fail = |mut state: NameBackoff| {
        state.consecutive_failures += 1;
        state.recent_failures.push(t("2026-01-01T00:00:00Z"));
        state
    };
    // The first change starts from a clean history, with the name normalised.
    let first = store
        .update_name_backoff(DIR, "B.example.", &mut fail)
        .unwrap();
    assert_eq!(first.identifier, "b.example");
    assert_eq!(first.consecutive_failures, 1);
    let second = store
        .update_name_backoff(DIR, "b.example", &mut fail)
        .unwrap();
    assert_eq!(
        second.consecutive_failures, 2,
        "the change sees what is stored"
    );
    assert_eq!(store.name_backoff(DIR, "b.example").unwrap(), Some(second));
    let cleared = store
        .update_name_backoff(DIR, "b.example", &mut |s: NameBackoff| {
            NameBackoff::clean(s.identifier)
        })
        .unwrap();
    assert_eq!(cleared.consecutive_failures, 0);
    assert_eq!(store.name_backoff(DIR, "b.example").unwrap(), None);
}

pub(super) fn every_enum_value_is_accepted_by_the_schema(store: &dyn StateStore) {
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
