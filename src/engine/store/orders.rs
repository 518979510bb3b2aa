//! Orders: recorded before newOrder is sent, then followed to issuance; the source of "resume what
//! was interrupted" and "never order twice what was already issued".

use std::path::{Path, PathBuf};

use jiff::Timestamp;
use rusqlite::{OptionalExtension, Row, params};

use super::Store;
use super::error::StoreError;
use super::types::{
    AccountId, OrderId, OrderRecord, OrderStatus, SqlTime, json_list, normalize_identifiers,
    parse_json_list,
};

/// The columns every order query selects, in the order [`RawOrder::from_row`] reads them.
const ORDER_COLUMNS: &str = "o.id, o.account_id, a.directory_url, o.identifiers_json, o.order_url,
     o.status, o.finalize_url, o.certificate_path, o.error, o.created_at, o.updated_at";

/// A row as SQLite returns it; the JSON column is decoded afterwards so a corrupt value becomes a
/// [`StoreError::Corrupt`] rather than a generic SQLite error.
struct RawOrder {
    id: i64,
    account: i64,
    directory_url: String,
    identifiers_json: String,
    order_url: Option<String>,
    status: OrderStatus,
    finalize_url: Option<String>,
    certificate_path: Option<String>,
    error: Option<String>,
    created_at: SqlTime,
    updated_at: SqlTime,
}

impl RawOrder {
    fn from_row(r: &Row<'_>) -> rusqlite::Result<RawOrder> {
        Ok(RawOrder {
            id: r.get(0)?,
            account: r.get(1)?,
            directory_url: r.get(2)?,
            identifiers_json: r.get(3)?,
            order_url: r.get(4)?,
            status: r.get(5)?,
            finalize_url: r.get(6)?,
            certificate_path: r.get(7)?,
            error: r.get(8)?,
            created_at: r.get(9)?,
            updated_at: r.get(10)?,
        })
    }

    fn into_record(self) -> Result<OrderRecord, StoreError> {
        Ok(OrderRecord {
            id: OrderId(self.id),
            account: AccountId(self.account),
            directory_url: self.directory_url,
            identifiers: parse_json_list("order identifier list", &self.identifiers_json)?,
            order_url: self.order_url,
            status: self.status,
            finalize_url: self.finalize_url,
            certificate_path: self.certificate_path.map(PathBuf::from),
            error: self.error,
            created_at: self.created_at.0,
            updated_at: self.updated_at.0,
        })
    }
}

fn path_text(path: &Path) -> Result<&str, StoreError> {
    path.to_str()
        .ok_or_else(|| StoreError::NonUtf8Path(path.to_path_buf()))
}

impl Store {
    /// Records an order for `identifiers` (normalised, sorted, deduplicated) under `account`, in
    /// status `new`, *before* the newOrder request is sent.
    pub fn begin_order<S: AsRef<str>>(
        &self,
        account: AccountId,
        identifiers: &[S],
    ) -> Result<OrderId, StoreError> {
        let identifiers = normalize_identifiers(identifiers)?;
        let now = SqlTime(Timestamp::now());
        let id = self
            .conn
            .prepare_cached(
                "INSERT INTO orders (account_id, identifiers_json, status, created_at, updated_at)
                 VALUES (?1, ?2, 'new', ?3, ?3) RETURNING id",
            )?
            .query_row(params![account.0, json_list(&identifiers), now], |r| {
                r.get(0)
            })?;
        Ok(OrderId(id))
    }

    /// Records what `order` asks for beyond its names, before newOrder is sent: the profile
    /// and the certificate it replaces.
    pub fn note_order_request(
        &self,
        order: OrderId,
        profile: Option<&str>,
        replaces: Option<&str>,
    ) -> Result<(), StoreError> {
        self.conn
            .prepare_cached("UPDATE orders SET profile = ?2, replaces = ?3 WHERE id = ?1")?
            .execute(params![order.0, profile, replaces])?;
        Ok(())
    }

    /// Records the order URL (and finalize URL) the CA returned for `order`, moving it from
    /// `new` to `pending`.
    ///
    /// The CA may hand back an order it gave us before: Let's Encrypt returns the existing pending
    /// order for the same identifiers, e.g. after a crash between newOrder and this call. Then the
    /// record that already holds the URL wins, `order` is closed as `abandoned` with a note, and
    /// the surviving id is returned: carry on with the returned id.
    pub fn set_order_url(
        &self,
        order: OrderId,
        order_url: &str,
        finalize_url: Option<&str>,
    ) -> Result<OrderId, StoreError> {
        let tx = self.conn.unchecked_transaction()?;
        let now = SqlTime(Timestamp::now());
        let owner: Option<i64> = tx
            .prepare_cached("SELECT id FROM orders WHERE order_url = ?1")?
            .query_row([order_url], |r| r.get(0))
            .optional()?;
        let survivor = match owner {
            Some(existing) if existing != order.0 => {
                let changed = tx.prepare_cached(
                    "UPDATE orders SET status = 'abandoned', error = ?2, updated_at = ?3 WHERE id = ?1",
                )?
                .execute(params![
                    order.0,
                    format!("the CA returned the existing order#{existing} ({order_url})"),
                    now
                ])?;
                if changed == 0 {
                    return Err(StoreError::UnknownOrder(order));
                }
                tx.prepare_cached(
                    "UPDATE orders SET finalize_url = COALESCE(?2, finalize_url), updated_at = ?3
                     WHERE id = ?1",
                )?
                .execute(params![existing, finalize_url, now])?;
                OrderId(existing)
            }
            _ => {
                let changed = tx
                    .prepare_cached(
                        "UPDATE orders SET order_url = ?2,
                             finalize_url = COALESCE(?3, finalize_url),
                             status = CASE status WHEN 'new' THEN 'pending' ELSE status END,
                             updated_at = ?4
                         WHERE id = ?1",
                    )?
                    .execute(params![order.0, order_url, finalize_url, now])?;
                if changed == 0 {
                    return Err(StoreError::UnknownOrder(order));
                }
                order
            }
        };
        tx.commit()?;
        Ok(survivor)
    }

    /// Records the order's status as last seen at the CA (or decided by the engine), with the
    /// problem detail when it failed; `error: None` keeps any earlier error.
    pub fn set_order_status(
        &self,
        order: OrderId,
        status: OrderStatus,
        error: Option<&str>,
    ) -> Result<(), StoreError> {
        let changed = self
            .conn
            .prepare_cached(
                "UPDATE orders SET status = ?2, error = COALESCE(?3, error), updated_at = ?4
                 WHERE id = ?1",
            )?
            .execute(params![order.0, status, error, SqlTime(Timestamp::now())])?;
        if changed == 0 {
            return Err(StoreError::UnknownOrder(order));
        }
        Ok(())
    }

    /// Records that `order` was issued and its certificate written to `certificate_path`.
    pub fn issued(&self, order: OrderId, certificate_path: &Path) -> Result<(), StoreError> {
        let changed = self
            .conn
            .prepare_cached(
                "UPDATE orders SET status = 'valid', certificate_path = ?2, error = NULL,
                     updated_at = ?3
                 WHERE id = ?1",
            )?
            .execute(params![
                order.0,
                path_text(certificate_path)?,
                SqlTime(Timestamp::now())
            ])?;
        if changed == 0 {
            return Err(StoreError::UnknownOrder(order));
        }
        Ok(())
    }

    /// One order by id.
    pub fn order(&self, order: OrderId) -> Result<Option<OrderRecord>, StoreError> {
        self.one_order("o.id = ?1", [order.0])
    }

    /// One order by its URL at the CA.
    pub fn order_by_url(&self, order_url: &str) -> Result<Option<OrderRecord>, StoreError> {
        self.one_order("o.order_url = ?1", [order_url])
    }

    /// The order matching `condition` (on `orders o` joined with `accounts a`), if any.
    fn one_order<P: rusqlite::Params>(
        &self,
        condition: &str,
        params: P,
    ) -> Result<Option<OrderRecord>, StoreError> {
        let sql = format!(
            "SELECT {ORDER_COLUMNS} FROM orders o JOIN accounts a ON a.id = o.account_id
             WHERE {condition}"
        );
        self.conn
            .prepare_cached(&sql)?
            .query_row(params, RawOrder::from_row)
            .optional()?
            .map(RawOrder::into_record)
            .transpose()
    }

    /// Orders on `directory_url` that are not final (`new`, `pending`, `ready`, `processing`),
    /// oldest first: what a run after a crash picks up again before ordering anything new.
    pub fn orders_to_resume(&self, directory_url: &str) -> Result<Vec<OrderRecord>, StoreError> {
        let sql = format!(
            "SELECT {ORDER_COLUMNS} FROM orders o JOIN accounts a ON a.id = o.account_id
             WHERE a.directory_url = ?1 AND o.status IN ('new','pending','ready','processing')
                 AND o.purpose = 'issue'
             ORDER BY o.id"
        );
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let rows = stmt.query_map([directory_url], RawOrder::from_row)?;
        rows.map(|r| r?.into_record()).collect()
    }

    /// Orders on `directory_url` recorded before newOrder was sent whose answer was never
    /// recorded (status `new`, no URL), oldest first: the CA may hold them unseen, so a run
    /// reconciles them with the account's orders list before ordering anything.
    pub fn unconfirmed_orders(&self, directory_url: &str) -> Result<Vec<OrderRecord>, StoreError> {
        let sql = format!(
            "SELECT {ORDER_COLUMNS} FROM orders o JOIN accounts a ON a.id = o.account_id
             WHERE a.directory_url = ?1 AND o.status = 'new' AND o.order_url IS NULL
                 AND o.purpose = 'issue'
             ORDER BY o.id"
        );
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let rows = stmt.query_map([directory_url], RawOrder::from_row)?;
        rows.map(|r| r?.into_record()).collect()
    }

    /// The newest issued order for exactly this set of identifiers on `directory_url`, with the
    /// certificate's path: the engine never orders again what is already issued.
    pub fn issued_for<S: AsRef<str>>(
        &self,
        directory_url: &str,
        identifiers: &[S],
    ) -> Result<Option<(OrderId, PathBuf)>, StoreError> {
        let key = json_list(&normalize_identifiers(identifiers)?);
        let row: Option<(i64, String)> = self
            .conn
            .prepare_cached(
                "SELECT o.id, o.certificate_path FROM orders o
                 JOIN accounts a ON a.id = o.account_id
                 WHERE a.directory_url = ?1 AND o.identifiers_json = ?2 AND o.status = 'valid'
                   AND o.certificate_path IS NOT NULL
                 ORDER BY o.id DESC LIMIT 1",
            )?
            .query_row(params![directory_url, key], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        Ok(row.map(|(id, path)| (OrderId(id), PathBuf::from(path))))
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::engine::store::{OrderStatus, Store, StoreError};

    const DIR: &str = "https://acme.test/dir";

    fn store_with_account() -> (Store, crate::engine::store::AccountId) {
        let store = Store::open_in_memory().unwrap();
        let account = store
            .upsert_account(DIR, "https://acme.test/acct/1", "{}", &[])
            .unwrap();
        (store, account)
    }

    #[test]
    fn an_order_is_recorded_before_the_ca_knows_it_and_resumed_until_final() {
        let (store, account) = store_with_account();
        let a = store
            .begin_order(account, &["B.example.", "a.example"])
            .unwrap();
        let got = store.order(a).unwrap().unwrap();
        assert_eq!(got.status, OrderStatus::New);
        assert_eq!(got.identifiers, ["a.example", "b.example"]);
        assert_eq!(got.order_url, None);

        let b = store.begin_order(account, &["c.example"]).unwrap();
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

    #[test]
    fn unconfirmed_orders_are_the_new_ones_without_an_answer() {
        let (store, account) = store_with_account();
        let sent = store.begin_order(account, &["a.example"]).unwrap();
        let answered = store.begin_order(account, &["b.example"]).unwrap();
        store
            .set_order_url(answered, "https://acme.test/order/b", None)
            .unwrap();
        let refused = store.begin_order(account, &["c.example"]).unwrap();
        store
            .set_order_status(refused, OrderStatus::Abandoned, Some("newOrder failed"))
            .unwrap();
        let lost = store.begin_order(account, &["a.example"]).unwrap();
        store
            .set_order_status(lost, OrderStatus::New, Some("newOrder: timed out"))
            .unwrap();
        let ids: Vec<_> = store
            .unconfirmed_orders(DIR)
            .unwrap()
            .iter()
            .map(|o| o.id)
            .collect();
        assert_eq!(ids, [sent, lost]);
        assert!(
            store
                .unconfirmed_orders("https://other.test/dir")
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn issued_for_matches_the_exact_normalised_set_only() {
        let (store, account) = store_with_account();
        let o = store
            .begin_order(account, &["www.example", "example"])
            .unwrap();
        assert_eq!(
            store.issued_for(DIR, &["example", "www.example"]).unwrap(),
            None
        );
        store.issued(o, Path::new("/out/example.pem")).unwrap();
        let hit = store.issued_for(DIR, &["WWW.example.", "example"]).unwrap();
        assert_eq!(hit, Some((o, "/out/example.pem".into())));
        assert_eq!(store.issued_for(DIR, &["example"]).unwrap(), None);
        assert_eq!(
            store
                .issued_for("https://other.test/dir", &["example", "www.example"])
                .unwrap(),
            None
        );
    }

    #[test]
    fn a_reused_order_url_keeps_the_first_record() {
        let (store, account) = store_with_account();
        let first = store.begin_order(account, &["a.example"]).unwrap();
        store
            .set_order_url(first, "https://acme.test/order/1", None)
            .unwrap();
        let second = store.begin_order(account, &["a.example"]).unwrap();
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

    #[test]
    fn unknown_orders_and_bad_identifiers_are_typed_errors() {
        let (store, account) = store_with_account();
        let ghost = crate::engine::store::OrderId(999);
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
            store.begin_order(account, &["bad name"]),
            Err(StoreError::InvalidIdentifier(_))
        ));
        let orphan = store.begin_order(crate::engine::store::AccountId(42), &["a.example"]);
        assert!(
            orphan.is_err(),
            "foreign keys must refuse an order without its account"
        );
    }
}
