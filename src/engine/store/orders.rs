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

// Tested with every backend's other queries in conformance.rs.
