//! Authorizations: the record that proves no authorization was left pending and unknown, and
//! the source of authorization reuse after a restart.

use jiff::Timestamp;
use rusqlite::{OptionalExtension, Row, params};

use super::Store;
use super::error::StoreError;
use super::types::{
    AuthorizationOutcome, AuthorizationRecord, AuthorizationStatus, OrderId, SqlTime,
    normalize_identifier, opt_time,
};

/// The columns every authorization query selects, in the order [`RawAuthz::from_row`] reads them.
const AUTHZ_COLUMNS: &str = "z.url, z.identifier, z.status, z.expires_at, z.outcome, z.why,
     z.created_at, z.updated_at,
     (SELECT json_group_array(oa.order_id) FROM order_authorizations oa
       WHERE oa.authorization_url = z.url)";

/// Restricts to authorizations reached through an order of the account on directory `?1`.
const ON_DIRECTORY: &str = "EXISTS (SELECT 1 FROM order_authorizations oa
       JOIN orders o ON o.id = oa.order_id JOIN accounts a ON a.id = o.account_id
       WHERE oa.authorization_url = z.url AND a.directory_url = ?1)";

struct RawAuthz {
    url: String,
    identifier: String,
    status: AuthorizationStatus,
    expires_at: Option<SqlTime>,
    outcome: AuthorizationOutcome,
    why: Option<String>,
    created_at: SqlTime,
    updated_at: SqlTime,
    orders_json: String,
}

impl RawAuthz {
    fn from_row(r: &Row<'_>) -> rusqlite::Result<RawAuthz> {
        Ok(RawAuthz {
            url: r.get(0)?,
            identifier: r.get(1)?,
            status: r.get(2)?,
            expires_at: r.get(3)?,
            outcome: r.get(4)?,
            why: r.get(5)?,
            created_at: r.get(6)?,
            updated_at: r.get(7)?,
            orders_json: r.get(8)?,
        })
    }

    fn into_record(self) -> Result<AuthorizationRecord, StoreError> {
        let orders: Vec<i64> =
            serde_json::from_str(&self.orders_json).map_err(|_| StoreError::Corrupt {
                what: "authorization order list",
                value: self.orders_json.clone(),
            })?;
        Ok(AuthorizationRecord {
            url: self.url,
            identifier: self.identifier,
            status: self.status,
            expires_at: opt_time(self.expires_at),
            outcome: self.outcome,
            why: self.why,
            orders: orders.into_iter().map(OrderId).collect(),
            created_at: self.created_at.0,
            updated_at: self.updated_at.0,
        })
    }
}

/// A final status reported by the CA is a fact that overrides whatever the engine had decided;
/// `pending`, `expired` and `revoked` leave the decision as it was.
const OUTCOME_FOLLOWS_STATUS: &str = "CASE ?3
         WHEN 'valid' THEN 'valid'
         WHEN 'invalid' THEN 'invalid'
         WHEN 'deactivated' THEN 'deactivated'
         ELSE outcome END";

fn initial_outcome(status: AuthorizationStatus) -> AuthorizationOutcome {
    match status {
        AuthorizationStatus::Valid => AuthorizationOutcome::Valid,
        AuthorizationStatus::Invalid => AuthorizationOutcome::Invalid,
        AuthorizationStatus::Deactivated => AuthorizationOutcome::Deactivated,
        _ => AuthorizationOutcome::Pending,
    }
}

impl Store {
    pub(super) fn query_authorizations(
        &self,
        filter: &str,
        params: impl rusqlite::Params,
    ) -> Result<Vec<AuthorizationRecord>, StoreError> {
        let sql = format!("SELECT {AUTHZ_COLUMNS} FROM authorizations z WHERE {filter}");
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let rows = stmt.query_map(params, RawAuthz::from_row)?;
        rows.map(|r| r?.into_record()).collect()
    }

    /// Records an authorization of `order` as fetched from the CA (before any challenge of it is
    /// answered). Recording a URL again updates its status and expiry and links it to `order`
    /// too: the CA reuses authorizations across orders.
    pub fn record_authorization(
        &self,
        order: OrderId,
        url: &str,
        identifier: &str,
        status: AuthorizationStatus,
        expires_at: Option<Timestamp>,
    ) -> Result<(), StoreError> {
        let identifier = normalize_identifier(identifier)?;
        let now = SqlTime(Timestamp::now());
        let tx = self.conn.unchecked_transaction()?;
        let known: Option<i64> = tx
            .prepare_cached("SELECT 1 FROM orders WHERE id = ?1")?
            .query_row([order.0], |r| r.get(0))
            .optional()?;
        if known.is_none() {
            return Err(StoreError::UnknownOrder(order));
        }
        let upsert = format!(
            "INSERT INTO authorizations
                 (url, identifier, status, expires_at, outcome, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)
             ON CONFLICT (url) DO UPDATE SET
                 status = excluded.status,
                 expires_at = COALESCE(excluded.expires_at, expires_at),
                 outcome = {OUTCOME_FOLLOWS_STATUS},
                 updated_at = excluded.updated_at"
        );
        tx.prepare_cached(&upsert)?.execute(params![
            url,
            identifier,
            status,
            expires_at.map(SqlTime),
            initial_outcome(status),
            now
        ])?;
        tx.prepare_cached(
            "INSERT OR IGNORE INTO order_authorizations (order_id, authorization_url) VALUES (?1, ?2)",
        )?
        .execute(params![order.0, url])?;
        tx.commit()?;
        Ok(())
    }

    /// Records the authorization's status as the CA now reports it (and its expiry when given).
    /// A final status (`valid`, `invalid`, `deactivated`) also becomes the outcome.
    pub fn set_authorization_status(
        &self,
        url: &str,
        status: AuthorizationStatus,
        expires_at: Option<Timestamp>,
    ) -> Result<(), StoreError> {
        let sql = format!(
            "UPDATE authorizations SET status = ?3,
                 expires_at = COALESCE(?4, expires_at),
                 outcome = {OUTCOME_FOLLOWS_STATUS},
                 updated_at = ?2
             WHERE url = ?1"
        );
        let changed = self.conn.prepare_cached(&sql)?.execute(params![
            url,
            SqlTime(Timestamp::now()),
            status,
            expires_at.map(SqlTime)
        ])?;
        if changed == 0 {
            return Err(StoreError::UnknownAuthorization(url.to_string()));
        }
        Ok(())
    }

    /// Records what the engine decided about an authorization and why, before acting on it
    /// (answering, deactivating, or knowingly leaving it to expire).
    pub fn set_authorization_outcome(
        &self,
        url: &str,
        outcome: AuthorizationOutcome,
        why: &str,
    ) -> Result<(), StoreError> {
        let changed = self
            .conn
            .prepare_cached(
                "UPDATE authorizations SET outcome = ?2, why = ?3, updated_at = ?4 WHERE url = ?1",
            )?
            .execute(params![url, outcome, why, SqlTime(Timestamp::now())])?;
        if changed == 0 {
            return Err(StoreError::UnknownAuthorization(url.to_string()));
        }
        Ok(())
    }

    /// One authorization by URL.
    pub fn authorization(&self, url: &str) -> Result<Option<AuthorizationRecord>, StoreError> {
        Ok(self.query_authorizations("z.url = ?1", [url])?.pop())
    }

    /// The authorizations linked to `order`, by identifier.
    pub fn authorizations_for_order(
        &self,
        order: OrderId,
    ) -> Result<Vec<AuthorizationRecord>, StoreError> {
        self.query_authorizations(
            "z.url IN (SELECT authorization_url FROM order_authorizations WHERE order_id = ?1)
             ORDER BY z.identifier, z.url",
            [order.0],
        )
    }

    /// Every authorization the store knows, by URL: what a test (or an audit) fetches from the CA
    /// to check that none is pending without the store knowing why.
    pub fn all_authorizations(&self) -> Result<Vec<AuthorizationRecord>, StoreError> {
        self.query_authorizations("1 ORDER BY z.url", [])
    }

    /// Authorizations last seen `pending` at the CA, whatever the engine decided: what a resumed
    /// run refreshes before anything else.
    pub fn pending_authorizations(&self) -> Result<Vec<AuthorizationRecord>, StoreError> {
        self.query_authorizations("z.status = 'pending' ORDER BY z.created_at, z.url", [])
    }

    /// Authorizations pending at the CA about which the engine has decided nothing (not
    /// answered, not left to expire, not deactivated). Must be empty at the end of every run.
    pub fn pending_unknown_authorizations(&self) -> Result<Vec<AuthorizationRecord>, StoreError> {
        self.query_authorizations(
            "z.status = 'pending' AND z.outcome = 'pending' ORDER BY z.created_at, z.url",
            [],
        )
    }

    /// A valid authorization for `identifier` on `directory_url`'s account that is still valid
    /// at `now` (pass `now` plus a margin to leave time to finalize), the longest-lived first:
    /// the CA would reuse it anyway, and knowing it saves answering a challenge.
    pub fn valid_authorization(
        &self,
        directory_url: &str,
        identifier: &str,
        now: Timestamp,
    ) -> Result<Option<String>, StoreError> {
        let identifier = normalize_identifier(identifier)?;
        let sql = format!(
            "SELECT z.url FROM authorizations z
             WHERE z.identifier = ?2 AND z.status = 'valid' AND z.expires_at > ?3 AND {ON_DIRECTORY}
             ORDER BY z.expires_at DESC LIMIT 1"
        );
        Ok(self
            .conn
            .prepare_cached(&sql)?
            .query_row(params![directory_url, identifier, SqlTime(now)], |r| {
                r.get(0)
            })
            .optional()?)
    }

    /// How many authorizations of `directory_url`'s account are pending at the CA and not yet
    /// expired at `now`, answered or not: what the scheduler's pending-authorization cap counts.
    pub fn outstanding_pending_count(
        &self,
        directory_url: &str,
        now: Timestamp,
    ) -> Result<usize, StoreError> {
        let sql = format!(
            "SELECT COUNT(*) FROM authorizations z
             WHERE z.status = 'pending' AND (z.expires_at IS NULL OR z.expires_at > ?2)
               AND {ON_DIRECTORY}"
        );
        let count: i64 = self
            .conn
            .prepare_cached(&sql)?
            .query_row(params![directory_url, SqlTime(now)], |r| r.get(0))?;
        Ok(usize::try_from(count).unwrap_or(0))
    }
}

// Tested with every backend's other queries in conformance.rs.
