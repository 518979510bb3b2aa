//! Accounts, orders and name backoff on PostgreSQL: the SQLite store's queries (see
//! src/engine/store/{accounts,orders,backoff}.rs for what each one means), in PostgreSQL's
//! dialect.

use std::path::{Path, PathBuf};

use jiff::Timestamp;
use postgres::{GenericClient, Row};

use super::super::error::StoreError;
use super::super::types::{
    AccountId, AccountRecord, NameBackoff, OrderId, OrderRecord, OrderStatus, SqlTime, json_list,
    normalize_identifier, normalize_identifiers, parse_json_list,
};
use super::PgStore;
use super::leases::Claim;

/// Now, as stored.
pub(super) fn now_text() -> String {
    SqlTime(Timestamp::now()).text()
}

/// A stored time back to a timestamp; a bad text is a corrupt record, not a panic.
pub(super) fn time(text: String) -> Result<Timestamp, StoreError> {
    text.parse().map_err(|_| StoreError::Corrupt {
        what: "timestamp",
        value: text,
    })
}

/// An optional stored time.
pub(super) fn opt_time(text: Option<String>) -> Result<Option<Timestamp>, StoreError> {
    text.map(time).transpose()
}

/// A stored enum text back to its value.
pub(super) fn parse_enum<T>(
    what: &'static str,
    text: String,
    parse: fn(&str) -> Option<T>,
) -> Result<T, StoreError> {
    parse(&text).ok_or(StoreError::Corrupt { what, value: text })
}

const ORDER_COLUMNS: &str = "o.id, o.account_id, a.directory_url, o.identifiers_json, o.order_url,
     o.status, o.finalize_url, o.certificate_path, o.error, o.created_at, o.updated_at";

fn order_from_row(r: &Row) -> Result<OrderRecord, StoreError> {
    Ok(OrderRecord {
        id: OrderId(r.try_get(0)?),
        account: AccountId(r.try_get(1)?),
        directory_url: r.try_get(2)?,
        identifiers: parse_json_list("order identifier list", r.try_get(3)?)?,
        order_url: r.try_get(4)?,
        status: parse_enum("order status", r.try_get(5)?, OrderStatus::parse)?,
        finalize_url: r.try_get(6)?,
        certificate_path: r.try_get::<_, Option<String>>(7)?.map(PathBuf::from),
        error: r.try_get(8)?,
        created_at: time(r.try_get(9)?)?,
        updated_at: time(r.try_get(10)?)?,
    })
}

fn path_text(path: &Path) -> Result<&str, StoreError> {
    path.to_str()
        .ok_or_else(|| StoreError::NonUtf8Path(path.to_path_buf()))
}

impl PgStore {
    /// See [`super::super::Store::upsert_account`].
    pub fn upsert_account(
        &self,
        directory_url: &str,
        account_url: &str,
        credentials_json: &str,
        contact: &[String],
    ) -> Result<AccountId, StoreError> {
        let contact = json_list(contact);
        self.with(|c| {
            let row = c.query_one(
                "INSERT INTO accounts
                     (directory_url, account_url, credentials_json, contact_json, created_at, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $5)
                 ON CONFLICT (directory_url) DO UPDATE SET
                     account_url = excluded.account_url,
                     credentials_json = excluded.credentials_json,
                     contact_json = excluded.contact_json,
                     updated_at = excluded.updated_at
                 RETURNING id",
                &[&directory_url, &account_url, &credentials_json, &contact, &now_text()],
            )?;
            Ok(AccountId(row.try_get(0)?))
        })
    }

    /// See [`super::super::Store::account`].
    pub fn account(&self, directory_url: &str) -> Result<Option<AccountRecord>, StoreError> {
        let row = self.with(|c| {
            Ok(c.query_opt(
                "SELECT id, account_url, credentials_json, contact_json, created_at, updated_at
                 FROM accounts WHERE directory_url = $1",
                &[&directory_url],
            )?)
        })?;
        let Some(r) = row else { return Ok(None) };
        Ok(Some(AccountRecord {
            id: AccountId(r.try_get(0)?),
            directory_url: directory_url.to_string(),
            account_url: r.try_get(1)?,
            credentials_json: r.try_get(2)?,
            contact: parse_json_list("account contact list", r.try_get(3)?)?,
            created_at: time(r.try_get(4)?)?,
            updated_at: time(r.try_get(5)?)?,
        }))
    }

    /// See [`super::super::Store::begin_order`].
    pub fn begin_order(
        &self,
        account: AccountId,
        identifiers: &[String],
    ) -> Result<OrderId, StoreError> {
        let key = json_list(&normalize_identifiers(identifiers)?);
        self.with(|c| {
            let row = c.query_one(
                "INSERT INTO orders (account_id, identifiers_json, status, created_at, updated_at)
                 VALUES ($1, $2, 'new', $3, $3) RETURNING id",
                &[&account.0, &key, &now_text()],
            )?;
            Ok(OrderId(row.try_get(0)?))
        })
    }

    /// See [`super::super::Store::note_order_request`].
    pub fn note_order_request(
        &self,
        order: OrderId,
        profile: Option<&str>,
        replaces: Option<&str>,
    ) -> Result<(), StoreError> {
        self.with(|c| {
            c.execute(
                "UPDATE orders SET profile = $2, replaces = $3 WHERE id = $1",
                &[&order.0, &profile, &replaces],
            )?;
            Ok(())
        })
    }

    /// See [`super::super::Store::set_order_url`].
    pub fn set_order_url(
        &self,
        order: OrderId,
        order_url: &str,
        finalize_url: Option<&str>,
    ) -> Result<OrderId, StoreError> {
        self.with(|c| {
            let mut tx = c.transaction()?;
            let now = now_text();
            // The row holding the URL is locked, so two workers told the same URL agree.
            let owner: Option<i64> = tx
                .query_opt("SELECT id FROM orders WHERE order_url = $1 FOR UPDATE", &[&order_url])?
                .map(|r| r.try_get(0))
                .transpose()?;
            let survivor = match owner {
                Some(existing) if existing != order.0 => {
                    let note = format!("the CA returned the existing order#{existing} ({order_url})");
                    let changed = tx.execute(
                        "UPDATE orders SET status = 'abandoned', error = $2, updated_at = $3
                         WHERE id = $1",
                        &[&order.0, &note, &now],
                    )?;
                    if changed == 0 {
                        return Err(StoreError::UnknownOrder(order));
                    }
                    tx.execute(
                        "UPDATE orders SET finalize_url = COALESCE($2, finalize_url), updated_at = $3
                         WHERE id = $1",
                        &[&existing, &finalize_url, &now],
                    )?;
                    OrderId(existing)
                }
                _ => {
                    let changed = tx.execute(
                        "UPDATE orders SET order_url = $2,
                             finalize_url = COALESCE($3, finalize_url),
                             status = CASE status WHEN 'new' THEN 'pending' ELSE status END,
                             updated_at = $4
                         WHERE id = $1",
                        &[&order.0, &order_url, &finalize_url, &now],
                    )?;
                    if changed == 0 {
                        return Err(StoreError::UnknownOrder(order));
                    }
                    order
                }
            };
            tx.commit()?;
            Ok(survivor)
        })
    }

    /// See [`super::super::Store::set_order_status`].
    pub fn set_order_status(
        &self,
        order: OrderId,
        status: OrderStatus,
        error: Option<&str>,
    ) -> Result<(), StoreError> {
        let changed = self.with(|c| {
            Ok(c.execute(
                "UPDATE orders SET status = $2, error = COALESCE($3, error), updated_at = $4
                 WHERE id = $1",
                &[&order.0, &status.as_str(), &error, &now_text()],
            )?)
        })?;
        if changed == 0 {
            return Err(StoreError::UnknownOrder(order));
        }
        Ok(())
    }

    /// See [`super::super::Store::issued`].
    pub fn issued(&self, order: OrderId, certificate_path: &Path) -> Result<(), StoreError> {
        let path = path_text(certificate_path)?;
        let changed = self.with(|c| {
            Ok(c.execute(
                "UPDATE orders SET status = 'valid', certificate_path = $2, error = NULL,
                     updated_at = $3
                 WHERE id = $1",
                &[&order.0, &path, &now_text()],
            )?)
        })?;
        if changed == 0 {
            return Err(StoreError::UnknownOrder(order));
        }
        Ok(())
    }

    /// [`PgStore::set_order_status`] made under `claim`: refused with
    /// [`StoreError::LeaseLost`] when the worker no longer holds it, so a worker that was
    /// stopped past its lease cannot overwrite what the worker that took over recorded.
    pub fn set_order_status_under(
        &self,
        claim: &Claim,
        order: OrderId,
        status: OrderStatus,
        error: Option<&str>,
    ) -> Result<(), StoreError> {
        let changed = self.under_claim(claim, |tx| {
            Ok(tx.execute(
                "UPDATE orders SET status = $2, error = COALESCE($3, error), updated_at = $4
                 WHERE id = $1",
                &[&order.0, &status.as_str(), &error, &now_text()],
            )?)
        })?;
        if changed == 0 {
            return Err(StoreError::UnknownOrder(order));
        }
        Ok(())
    }

    /// [`PgStore::issued`] made under `claim` (see [`PgStore::set_order_status_under`]).
    pub fn issued_under(
        &self,
        claim: &Claim,
        order: OrderId,
        certificate_path: &Path,
    ) -> Result<(), StoreError> {
        let path = path_text(certificate_path)?;
        let changed = self.under_claim(claim, |tx| {
            Ok(tx.execute(
                "UPDATE orders SET status = 'valid', certificate_path = $2, error = NULL,
                     updated_at = $3
                 WHERE id = $1",
                &[&order.0, &path, &now_text()],
            )?)
        })?;
        if changed == 0 {
            return Err(StoreError::UnknownOrder(order));
        }
        Ok(())
    }

    fn orders_where(
        &self,
        condition: &str,
        params: &[&(dyn postgres::types::ToSql + Sync)],
    ) -> Result<Vec<OrderRecord>, StoreError> {
        let sql = format!(
            "SELECT {ORDER_COLUMNS} FROM orders o JOIN accounts a ON a.id = o.account_id
             WHERE {condition}"
        );
        let rows = self.with(|c| Ok(c.query(&sql, params)?))?;
        rows.iter().map(order_from_row).collect()
    }

    /// See [`super::super::Store::order`].
    pub fn order(&self, order: OrderId) -> Result<Option<OrderRecord>, StoreError> {
        Ok(self.orders_where("o.id = $1", &[&order.0])?.pop())
    }

    /// See [`super::super::Store::order_by_url`].
    pub fn order_by_url(&self, order_url: &str) -> Result<Option<OrderRecord>, StoreError> {
        Ok(self.orders_where("o.order_url = $1", &[&order_url])?.pop())
    }

    /// See [`super::super::Store::orders_to_resume`].
    pub fn orders_to_resume(&self, directory_url: &str) -> Result<Vec<OrderRecord>, StoreError> {
        self.orders_where(
            "a.directory_url = $1 AND o.status IN ('new','pending','ready','processing')
             ORDER BY o.id",
            &[&directory_url],
        )
    }

    /// See [`super::super::Store::unconfirmed_orders`].
    pub fn unconfirmed_orders(&self, directory_url: &str) -> Result<Vec<OrderRecord>, StoreError> {
        self.orders_where(
            "a.directory_url = $1 AND o.status = 'new' AND o.order_url IS NULL ORDER BY o.id",
            &[&directory_url],
        )
    }

    /// See [`super::super::Store::issued_for`].
    pub fn issued_for(
        &self,
        directory_url: &str,
        identifiers: &[String],
    ) -> Result<Option<(OrderId, PathBuf)>, StoreError> {
        let key = json_list(&normalize_identifiers(identifiers)?);
        let row = self.with(|c| {
            Ok(c.query_opt(
                "SELECT o.id, o.certificate_path FROM orders o
                 JOIN accounts a ON a.id = o.account_id
                 WHERE a.directory_url = $1 AND o.identifiers_json = $2 AND o.status = 'valid'
                   AND o.certificate_path IS NOT NULL
                 ORDER BY o.id DESC LIMIT 1",
                &[&directory_url, &key],
            )?)
        })?;
        row.map(|r| -> Result<_, StoreError> {
            Ok((
                OrderId(r.try_get(0)?),
                PathBuf::from(r.try_get::<_, String>(1)?),
            ))
        })
        .transpose()
    }

    /// See [`super::super::Store::name_backoff`].
    pub fn name_backoff(
        &self,
        directory_url: &str,
        identifier: &str,
    ) -> Result<Option<NameBackoff>, StoreError> {
        let identifier = normalize_identifier(identifier)?;
        let rows = self.with(|c| {
            Ok(c.query(
                "SELECT identifier, consecutive_failures, next_attempt_at, recent_failures_json,
                        last_error
                 FROM name_backoff WHERE directory_url = $1 AND identifier = $2",
                &[&directory_url, &identifier],
            )?)
        })?;
        rows.iter().map(backoff_from_row).next().transpose()
    }

    /// See [`super::super::Store::name_backoffs`].
    pub fn name_backoffs(&self, directory_url: &str) -> Result<Vec<NameBackoff>, StoreError> {
        let rows = self.with(|c| {
            Ok(c.query(
                "SELECT identifier, consecutive_failures, next_attempt_at, recent_failures_json,
                        last_error
                 FROM name_backoff WHERE directory_url = $1 ORDER BY identifier",
                &[&directory_url],
            )?)
        })?;
        rows.iter().map(backoff_from_row).collect()
    }

    /// See [`super::super::Store::put_name_backoff`].
    pub fn put_name_backoff(
        &self,
        directory_url: &str,
        state: &NameBackoff,
    ) -> Result<(), StoreError> {
        let identifier = normalize_identifier(&state.identifier)?;
        self.with(|c| write_backoff(c, directory_url, &identifier, state))
    }

    /// Changes the failure history of `identifier` on `directory_url` atomically: `change` gets
    /// the history as stored (a clean one if none) and returns the new one, which is written
    /// before any other worker can read the name's history. Several workers recording failures
    /// of one name at once therefore lose none of them, and a budget decided in `change` is
    /// decided on everything every worker recorded. Returns the history written.
    pub fn update_name_backoff(
        &self,
        directory_url: &str,
        identifier: &str,
        change: impl FnOnce(NameBackoff) -> NameBackoff + Send,
    ) -> Result<NameBackoff, StoreError> {
        let identifier = normalize_identifier(identifier)?;
        self.with(|c| {
            let mut tx = c.transaction()?;
            // A name with no row yet has nothing to lock: lock its key instead, for every case.
            tx.execute(
                "SELECT pg_advisory_xact_lock(
                     hashtextextended('certdx-name:' || $1 || ' ' || $2, 0))",
                &[&directory_url, &identifier],
            )?;
            let current = tx
                .query(
                    "SELECT identifier, consecutive_failures, next_attempt_at,
                            recent_failures_json, last_error
                     FROM name_backoff WHERE directory_url = $1 AND identifier = $2",
                    &[&directory_url, &identifier],
                )?
                .iter()
                .map(backoff_from_row)
                .next()
                .transpose()?
                .unwrap_or_else(|| NameBackoff::clean(identifier.clone()));
            let next = NameBackoff {
                identifier: identifier.clone(),
                ..change(current)
            };
            write_backoff(&mut tx, directory_url, &identifier, &next)?;
            tx.commit()?;
            Ok(next)
        })
    }
}

/// Replaces a name's history (deleting a clean one), on a client or inside a transaction.
fn write_backoff(
    c: &mut impl GenericClient,
    directory_url: &str,
    identifier: &str,
    state: &NameBackoff,
) -> Result<(), StoreError> {
    if state.consecutive_failures == 0
        && state.next_attempt_at.is_none()
        && state.recent_failures.is_empty()
    {
        c.execute(
            "DELETE FROM name_backoff WHERE directory_url = $1 AND identifier = $2",
            &[&directory_url, &identifier],
        )?;
        return Ok(());
    }
    let failures: Vec<String> = state
        .recent_failures
        .iter()
        .map(|t| SqlTime(*t).text())
        .collect();
    let failures = json_list(&failures);
    let next = state.next_attempt_at.map(|t| SqlTime(t).text());
    let count = i64::from(state.consecutive_failures);
    c.execute(
        "INSERT INTO name_backoff (directory_url, identifier, consecutive_failures,
             next_attempt_at, recent_failures_json, last_error, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (directory_url, identifier) DO UPDATE SET
             consecutive_failures = excluded.consecutive_failures,
             next_attempt_at = excluded.next_attempt_at,
             recent_failures_json = excluded.recent_failures_json,
             last_error = excluded.last_error,
             updated_at = excluded.updated_at",
        &[
            &directory_url,
            &identifier,
            &count,
            &next,
            &failures,
            &state.last_error,
            &now_text(),
        ],
    )?;
    Ok(())
}

fn backoff_from_row(r: &Row) -> Result<NameBackoff, StoreError> {
    let json: String = r.try_get(3)?;
    let corrupt = |what| StoreError::Corrupt {
        what,
        value: json.clone(),
    };
    let texts: Vec<String> =
        serde_json::from_str(&json).map_err(|_| corrupt("name failure list"))?;
    let mut recent_failures = texts
        .iter()
        .map(|t| t.parse::<Timestamp>())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| corrupt("name failure timestamp"))?;
    recent_failures.sort();
    let count: i64 = r.try_get(1)?;
    Ok(NameBackoff {
        identifier: r.try_get(0)?,
        consecutive_failures: u32::try_from(count).unwrap_or(u32::MAX),
        next_attempt_at: opt_time(r.try_get(2)?)?,
        recent_failures,
        last_error: r.try_get(4)?,
    })
}
