//! What the CA says about what a state store knows: every authorization the store recorded,
//! fetched from the CA with the stored account, so a test can prove that nothing was left
//! pending without a decision; and what `certdx issue` reported, by name.
//!
//! Include it next to `pebble_lab` (`#[path = "common/acme_audit.rs"] mod acme_audit;`).

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use certdx::engine::acme::{AcmeClient, AcmeConfig, AcmeOrder, AuthzStatus};
use certdx::engine::store::{AuthorizationOutcome, StateStore, Store};
use serde_json::Value;

use crate::pebble_lab::PebbleLab;

/// What the CA says about everything the state store knows.
pub struct Audit {
    /// Authorizations pending at the CA whose store outcome is still "pending" (undecided).
    pub pending_unknown: Vec<String>,
    /// Authorizations fetched from the CA.
    pub fetched: usize,
    /// CA status -> count.
    pub statuses: BTreeMap<String, usize>,
}

/// Fetches every authorization URL and every order URL the store at `state` knows from the CA
/// (with the stored account), and compares.
pub async fn audit(lab: &PebbleLab, directory: &str, state: &Path) -> Audit {
    audit_store(lab, directory, &Store::open(state).expect("state store")).await
}

/// [`audit`] of any store (SQLite or PostgreSQL).
pub async fn audit_store(lab: &PebbleLab, directory: &str, store: &dyn StateStore) -> Audit {
    let client = client_of(lab, directory, store).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    let mut orders: BTreeMap<String, AcmeOrder> = BTreeMap::new();
    let mut audit = Audit {
        pending_unknown: Vec::new(),
        fetched: 0,
        statuses: BTreeMap::new(),
    };
    for authz in store.all_authorizations().unwrap() {
        let order_id = *authz.orders.first().expect("linked to an order");
        let order_record = store.order(order_id).unwrap().expect("order");
        let url = order_record
            .order_url
            .expect("an order with authorizations has a URL");
        if !orders.contains_key(&url) {
            let order = client.order(&url, deadline).await.expect("order fetched");
            orders.insert(url.clone(), order);
        }
        let order = orders.get_mut(&url).unwrap();
        let (info, _) = order
            .refresh_authorization(&authz.url, deadline)
            .await
            .expect("authorization fetched");
        audit.fetched += 1;
        *audit.statuses.entry(info.status.to_string()).or_default() += 1;
        if info.status == AuthzStatus::Pending && authz.outcome == AuthorizationOutcome::Pending {
            audit.pending_unknown.push(authz.url.clone());
        }
    }
    audit
}

/// The account the store at `state` keeps for `directory`.
pub async fn stored_client(lab: &PebbleLab, directory: &str, state: &Path) -> AcmeClient {
    client_of(lab, directory, &Store::open(state).expect("state store")).await
}

/// The account `store` keeps for `directory`.
async fn client_of(lab: &PebbleLab, directory: &str, store: &dyn StateStore) -> AcmeClient {
    let config = AcmeConfig::new(directory).with_ca_cert_pem(lab.root_pem());
    let record = store
        .account(directory)
        .unwrap()
        .expect("the stored account");
    let credentials: Value = serde_json::from_str(&record.credentials_json).unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    AcmeClient::from_credentials(&config, &credentials, deadline)
        .await
        .expect("account restored")
}

/// The certificates of a `certdx issue --format json` document, by first name.
pub fn certificates_by_name(doc: &Value) -> BTreeMap<String, Value> {
    doc["certificates"]
        .as_array()
        .expect("certificates")
        .iter()
        .map(|c| (c["name"].as_str().unwrap().to_owned(), c.clone()))
        .collect()
}

/// Two runs on one state that started together: every name was issued by exactly one of them
/// and found already issued by the other, and one of them said it waited for the other.
pub fn assert_one_issued_the_other_waited(
    names: &[String],
    (doc_a, err_a): (&Value, &str),
    (doc_b, err_b): (&Value, &str),
) {
    issued_by_each(names, doc_a, doc_b);
    assert!(
        err_a.contains("waiting") || err_b.contains("waiting"),
        "one run said it waits:\n{err_a}\n---\n{err_b}"
    );
}

/// Two runs on one state: every name was issued by exactly one of them and reported already
/// issued by the other. Returns how many each issued.
#[allow(dead_code)] // not every test binary that includes this file shares a state
pub fn issued_by_each(names: &[String], doc_a: &Value, doc_b: &Value) -> (usize, usize) {
    let (a, b) = (certificates_by_name(doc_a), certificates_by_name(doc_b));
    let mut counts = (0, 0);
    for name in names {
        let (sa, sb) = (
            a[name]["status"].as_str().unwrap(),
            b[name]["status"].as_str().unwrap(),
        );
        let mut statuses = [sa, sb];
        statuses.sort();
        assert_eq!(statuses, ["already-issued", "issued"], "{name}");
        if sa == "issued" {
            counts.0 += 1;
        } else {
            counts.1 += 1;
        }
    }
    counts
}
