//! Orders made by `certdx trial`: recorded like any order (so every authorization they create
//! is known), marked as trials so that `certdx issue` never resumes or finalizes one, and so a
//! trial killed before its cleanup is cleaned up by the next one.

use jiff::Timestamp;
use rusqlite::params;

use super::Store;
use super::error::StoreError;
use super::types::{
    AccountId, AuthorizationRecord, OrderId, SqlTime, json_list, normalize_identifiers,
};

impl Store {
    /// Records a trial order for `identifiers` under `account`, in status `new`, before the
    /// newOrder request is sent (as [`Store::begin_order`], marked as a trial).
    pub fn begin_trial_order<S: AsRef<str>>(
        &self,
        account: AccountId,
        identifiers: &[S],
    ) -> Result<OrderId, StoreError> {
        let identifiers = normalize_identifiers(identifiers)?;
        let id = self
            .conn
            .prepare_cached(
                "INSERT INTO orders
                     (account_id, identifiers_json, status, purpose, created_at, updated_at)
                 VALUES (?1, ?2, 'new', 'trial', ?3, ?3) RETURNING id",
            )?
            .query_row(
                params![
                    account.0,
                    json_list(&identifiers),
                    SqlTime(Timestamp::now())
                ],
                |r| r.get(0),
            )?;
        Ok(OrderId(id))
    }

    /// Whether `order` was made by a trial.
    pub fn is_trial_order(&self, order: OrderId) -> Result<bool, StoreError> {
        let purpose: String = self
            .conn
            .prepare_cached("SELECT purpose FROM orders WHERE id = ?1")?
            .query_row([order.0], |r| r.get(0))
            .map_err(|e| match e {
                rusqlite::Error::QueryReturnedNoRows => StoreError::UnknownOrder(order),
                other => other.into(),
            })?;
        Ok(purpose == "trial")
    }

    /// Authorizations of trial orders on `directory_url` last seen pending: what a trial killed
    /// before its cleanup left behind, deactivated by the next trial before it orders anything.
    pub fn pending_trial_authorizations(
        &self,
        directory_url: &str,
    ) -> Result<Vec<(String, AuthorizationRecord)>, StoreError> {
        let records = self.query_authorizations(
            "z.status = 'pending' AND EXISTS (SELECT 1 FROM order_authorizations oa
                 JOIN orders o ON o.id = oa.order_id JOIN accounts a ON a.id = o.account_id
                 WHERE oa.authorization_url = z.url AND a.directory_url = ?1
                   AND o.purpose = 'trial')
             ORDER BY z.created_at, z.url",
            [directory_url],
        )?;
        let mut out = Vec::with_capacity(records.len());
        for record in records {
            let order_url: Option<String> = self
                .conn
                .prepare_cached(
                    "SELECT o.order_url FROM orders o JOIN order_authorizations oa
                         ON oa.order_id = o.id
                     WHERE oa.authorization_url = ?1 AND o.purpose = 'trial'
                       AND o.order_url IS NOT NULL
                     ORDER BY o.id DESC LIMIT 1",
                )?
                .query_row([&record.url], |r| r.get(0))
                .ok();
            if let Some(order_url) = order_url {
                out.push((order_url, record));
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::super::{AuthorizationStatus, OrderStatus};
    use super::*;

    const DIR: &str = "https://acme.test/dir";

    #[test]
    fn a_trial_order_is_never_resumed_by_issue_and_its_pending_authorizations_are_found() {
        let store = Store::open_in_memory().unwrap();
        let account = store
            .upsert_account(DIR, "https://acme.test/acct/1", "{}", &[])
            .unwrap();
        let issue = store.begin_order(account, &["a.example"]).unwrap();
        let trial = store.begin_trial_order(account, &["b.example"]).unwrap();
        assert!(store.is_trial_order(trial).unwrap());
        assert!(!store.is_trial_order(issue).unwrap());
        // Both still `new` without a URL: only the issue order is looked up again.
        let unconfirmed: Vec<OrderId> = store
            .unconfirmed_orders(DIR)
            .unwrap()
            .iter()
            .map(|o| o.id)
            .collect();
        assert_eq!(unconfirmed, [issue]);
        let trial = store
            .set_order_url(trial, "https://acme.test/order/t", None)
            .unwrap();
        store
            .record_authorization(
                trial,
                "https://acme.test/authz/t",
                "b.example",
                AuthorizationStatus::Pending,
                None,
            )
            .unwrap();
        let resumed: Vec<OrderId> = store
            .orders_to_resume(DIR)
            .unwrap()
            .iter()
            .map(|o| o.id)
            .collect();
        assert_eq!(resumed, [issue], "a trial order is never resumed");
        let left = store.pending_trial_authorizations(DIR).unwrap();
        assert_eq!(left.len(), 1);
        assert_eq!(left[0].0, "https://acme.test/order/t");
        assert_eq!(left[0].1.identifier, "b.example");
        store
            .set_authorization_status(
                "https://acme.test/authz/t",
                AuthorizationStatus::Deactivated,
                None,
            )
            .unwrap();
        store
            .set_order_status(trial, OrderStatus::Deactivated, None)
            .unwrap();
        assert!(store.pending_trial_authorizations(DIR).unwrap().is_empty());
        assert!(
            store
                .pending_trial_authorizations("https://other/dir")
                .unwrap()
                .is_empty()
        );
    }
}
