//! Cases on accounts and orders.

use super::*;

pub(super) fn an_account_is_replaced_in_place_per_directory(store: &dyn StateStore) {
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

pub(super) fn an_order_is_recorded_before_the_ca_knows_it_and_resumed_until_final(
    store: &dyn StateStore,
) {
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

pub(super) fn unconfirmed_orders_are_the_new_ones_without_an_answer(store: &dyn StateStore) {
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

pub(super) fn issued_for_matches_the_exact_normalised_set_only(store: &dyn StateStore) {
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

pub(super) fn a_reused_order_url_keeps_the_first_record(store: &dyn StateStore) {
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

pub(super) fn unknown_orders_and_bad_identifiers_are_typed_errors(store: &dyn StateStore) {
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
