//! Authorizations and challenges on PostgreSQL: the SQLite store's queries (see
//! src/engine/store/{authorizations,challenges}.rs), in PostgreSQL's dialect.

use jiff::Timestamp;
use postgres::Row;
use postgres::types::ToSql;

use super::super::error::StoreError;
use super::super::types::{
    AuthorizationOutcome, AuthorizationRecord, AuthorizationStatus, ChallengeRecord,
    ChallengeStatus, OrderId, SqlTime, normalize_identifier,
};
use super::PgStore;
use super::records::{now_text, opt_time, parse_enum, time};

const AUTHZ_COLUMNS: &str = "z.url, z.identifier, z.status, z.expires_at, z.outcome, z.why,
     z.created_at, z.updated_at,
     COALESCE((SELECT json_agg(oa.order_id ORDER BY oa.order_id)::text
               FROM order_authorizations oa WHERE oa.authorization_url = z.url), '[]')";

/// Restricts to authorizations reached through an order of the account on directory `$1`.
pub(super) const ON_DIRECTORY: &str = "EXISTS (SELECT 1 FROM order_authorizations oa
       JOIN orders o ON o.id = oa.order_id JOIN accounts a ON a.id = o.account_id
       WHERE oa.authorization_url = z.url AND a.directory_url = $1)";

/// A final CA status overrides the engine's decision (see the SQLite store); `$3` is the status.
const OUTCOME_FOLLOWS_STATUS: &str = "CASE $3::text
         WHEN 'valid' THEN 'valid'
         WHEN 'invalid' THEN 'invalid'
         WHEN 'deactivated' THEN 'deactivated'
         ELSE authorizations.outcome END";

fn initial_outcome(status: AuthorizationStatus) -> AuthorizationOutcome {
    match status {
        AuthorizationStatus::Valid => AuthorizationOutcome::Valid,
        AuthorizationStatus::Invalid => AuthorizationOutcome::Invalid,
        AuthorizationStatus::Deactivated => AuthorizationOutcome::Deactivated,
        _ => AuthorizationOutcome::Pending,
    }
}

fn authz_from_row(r: &Row) -> Result<AuthorizationRecord, StoreError> {
    let orders_json: String = r.try_get(8)?;
    let orders: Vec<i64> = serde_json::from_str(&orders_json).map_err(|_| StoreError::Corrupt {
        what: "authorization order list",
        value: orders_json.clone(),
    })?;
    Ok(AuthorizationRecord {
        url: r.try_get(0)?,
        identifier: r.try_get(1)?,
        status: parse_enum(
            "authorization status",
            r.try_get(2)?,
            AuthorizationStatus::parse,
        )?,
        expires_at: opt_time(r.try_get(3)?)?,
        outcome: parse_enum(
            "authorization outcome",
            r.try_get(4)?,
            AuthorizationOutcome::parse,
        )?,
        why: r.try_get(5)?,
        orders: orders.into_iter().map(OrderId).collect(),
        created_at: time(r.try_get(6)?)?,
        updated_at: time(r.try_get(7)?)?,
    })
}

impl PgStore {
    fn authorizations_where(
        &self,
        filter: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<AuthorizationRecord>, StoreError> {
        let sql = format!("SELECT {AUTHZ_COLUMNS} FROM authorizations z WHERE {filter}");
        let rows = self.with(|c| Ok(c.query(&sql, params)?))?;
        rows.iter().map(authz_from_row).collect()
    }

    /// See [`super::super::Store::record_authorization`].
    pub fn record_authorization(
        &self,
        order: OrderId,
        url: &str,
        identifier: &str,
        status: AuthorizationStatus,
        expires_at: Option<Timestamp>,
    ) -> Result<(), StoreError> {
        let identifier = normalize_identifier(identifier)?;
        let expires = expires_at.map(|t| SqlTime(t).text());
        let upsert = format!(
            "INSERT INTO authorizations
                 (url, identifier, status, expires_at, outcome, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $6)
             ON CONFLICT (url) DO UPDATE SET
                 status = excluded.status,
                 expires_at = COALESCE(excluded.expires_at, authorizations.expires_at),
                 outcome = {OUTCOME_FOLLOWS_STATUS},
                 updated_at = excluded.updated_at"
        );
        self.with(|c| {
            let mut tx = c.transaction()?;
            if tx
                .query_opt("SELECT 1 FROM orders WHERE id = $1", &[&order.0])?
                .is_none()
            {
                return Err(StoreError::UnknownOrder(order));
            }
            tx.execute(
                &upsert,
                &[
                    &url,
                    &identifier,
                    &status.as_str(),
                    &expires,
                    &initial_outcome(status).as_str(),
                    &now_text(),
                ],
            )?;
            tx.execute(
                "INSERT INTO order_authorizations (order_id, authorization_url) VALUES ($1, $2)
                 ON CONFLICT DO NOTHING",
                &[&order.0, &url],
            )?;
            tx.commit()?;
            Ok(())
        })
    }

    /// See [`super::super::Store::set_authorization_status`].
    pub fn set_authorization_status(
        &self,
        url: &str,
        status: AuthorizationStatus,
        expires_at: Option<Timestamp>,
    ) -> Result<(), StoreError> {
        let sql = format!(
            "UPDATE authorizations SET status = $3,
                 expires_at = COALESCE($4, expires_at),
                 outcome = {OUTCOME_FOLLOWS_STATUS},
                 updated_at = $2
             WHERE url = $1"
        );
        let expires = expires_at.map(|t| SqlTime(t).text());
        let changed =
            self.with(|c| Ok(c.execute(&sql, &[&url, &now_text(), &status.as_str(), &expires])?))?;
        if changed == 0 {
            return Err(StoreError::UnknownAuthorization(url.to_string()));
        }
        Ok(())
    }

    /// See [`super::super::Store::set_authorization_outcome`].
    pub fn set_authorization_outcome(
        &self,
        url: &str,
        outcome: AuthorizationOutcome,
        why: &str,
    ) -> Result<(), StoreError> {
        let changed = self.with(|c| {
            Ok(c.execute(
                "UPDATE authorizations SET outcome = $2, why = $3, updated_at = $4 WHERE url = $1",
                &[&url, &outcome.as_str(), &why, &now_text()],
            )?)
        })?;
        if changed == 0 {
            return Err(StoreError::UnknownAuthorization(url.to_string()));
        }
        Ok(())
    }

    /// See [`super::super::Store::authorization`].
    pub fn authorization(&self, url: &str) -> Result<Option<AuthorizationRecord>, StoreError> {
        Ok(self.authorizations_where("z.url = $1", &[&url])?.pop())
    }

    /// See [`super::super::Store::authorizations_for_order`].
    pub fn authorizations_for_order(
        &self,
        order: OrderId,
    ) -> Result<Vec<AuthorizationRecord>, StoreError> {
        self.authorizations_where(
            "z.url IN (SELECT authorization_url FROM order_authorizations WHERE order_id = $1)
             ORDER BY z.identifier, z.url",
            &[&order.0],
        )
    }

    /// See [`super::super::Store::all_authorizations`].
    pub fn all_authorizations(&self) -> Result<Vec<AuthorizationRecord>, StoreError> {
        self.authorizations_where("true ORDER BY z.url", &[])
    }

    /// See [`super::super::Store::pending_authorizations`].
    pub fn pending_authorizations(&self) -> Result<Vec<AuthorizationRecord>, StoreError> {
        self.authorizations_where("z.status = 'pending' ORDER BY z.created_at, z.url", &[])
    }

    /// See [`super::super::Store::pending_unknown_authorizations`].
    pub fn pending_unknown_authorizations(&self) -> Result<Vec<AuthorizationRecord>, StoreError> {
        self.authorizations_where(
            "z.status = 'pending' AND z.outcome = 'pending' ORDER BY z.created_at, z.url",
            &[],
        )
    }

    /// See [`super::super::Store::valid_authorization`].
    pub fn valid_authorization(
        &self,
        directory_url: &str,
        identifier: &str,
        now: Timestamp,
    ) -> Result<Option<String>, StoreError> {
        let identifier = normalize_identifier(identifier)?;
        let sql = format!(
            "SELECT z.url FROM authorizations z
             WHERE z.identifier = $2 AND z.status = 'valid' AND z.expires_at > $3 AND {ON_DIRECTORY}
             ORDER BY z.expires_at DESC LIMIT 1"
        );
        let now = SqlTime(now).text();
        let row = self.with(|c| Ok(c.query_opt(&sql, &[&directory_url, &identifier, &now])?))?;
        Ok(row.map(|r| r.try_get(0)).transpose()?)
    }

    /// See [`super::super::Store::outstanding_pending_count`].
    pub fn outstanding_pending_count(
        &self,
        directory_url: &str,
        now: Timestamp,
    ) -> Result<usize, StoreError> {
        let sql = format!(
            "SELECT COUNT(*) FROM authorizations z
             WHERE z.status = 'pending' AND (z.expires_at IS NULL OR z.expires_at > $2)
               AND {ON_DIRECTORY}"
        );
        let now = SqlTime(now).text();
        let count: i64 =
            self.with(|c| Ok(c.query_one(&sql, &[&directory_url, &now])?.try_get(0)?))?;
        Ok(usize::try_from(count).unwrap_or(0))
    }

    /// See [`super::super::Store::record_challenge`].
    pub fn record_challenge(
        &self,
        authorization_url: &str,
        url: &str,
        challenge_type: &str,
        token: &str,
        status: ChallengeStatus,
    ) -> Result<(), StoreError> {
        self.with(|c| {
            let mut tx = c.transaction()?;
            if tx
                .query_opt(
                    "SELECT 1 FROM authorizations WHERE url = $1",
                    &[&authorization_url],
                )?
                .is_none()
            {
                return Err(StoreError::UnknownAuthorization(
                    authorization_url.to_string(),
                ));
            }
            tx.execute(
                "INSERT INTO challenges (url, authorization_url, type, token, status, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $6)
                 ON CONFLICT (url) DO UPDATE SET
                     status = excluded.status, updated_at = excluded.updated_at",
                &[
                    &url,
                    &authorization_url,
                    &challenge_type,
                    &token,
                    &status.as_str(),
                    &now_text(),
                ],
            )?;
            tx.commit()?;
            Ok(())
        })
    }

    /// See [`super::super::Store::set_challenge_status`].
    pub fn set_challenge_status(
        &self,
        url: &str,
        status: ChallengeStatus,
    ) -> Result<(), StoreError> {
        let changed = self.with(|c| {
            Ok(c.execute(
                "UPDATE challenges SET status = $2, updated_at = $3 WHERE url = $1",
                &[&url, &status.as_str(), &now_text()],
            )?)
        })?;
        if changed == 0 {
            return Err(StoreError::UnknownChallenge(url.to_string()));
        }
        Ok(())
    }

    /// See [`super::super::Store::challenge_responded`].
    pub fn challenge_responded(&self, url: &str) -> Result<(), StoreError> {
        self.with(|c| {
            let mut tx = c.transaction()?;
            let now = now_text();
            let Some(row) = tx.query_opt(
                "UPDATE challenges SET responded_at = $2, updated_at = $2 WHERE url = $1
                 RETURNING authorization_url",
                &[&url, &now],
            )?
            else {
                return Err(StoreError::UnknownChallenge(url.to_string()));
            };
            let authz: String = row.try_get(0)?;
            tx.execute(
                "UPDATE authorizations SET outcome = 'answered', updated_at = $2
                 WHERE url = $1 AND outcome = 'pending'",
                &[&authz, &now],
            )?;
            tx.commit()?;
            Ok(())
        })
    }

    /// See [`super::super::Store::challenges_for_authorization`].
    pub fn challenges_for_authorization(
        &self,
        authorization_url: &str,
    ) -> Result<Vec<ChallengeRecord>, StoreError> {
        let rows = self.with(|c| {
            Ok(c.query(
                "SELECT url, authorization_url, type, token, status, responded_at, updated_at
                 FROM challenges WHERE authorization_url = $1 ORDER BY url",
                &[&authorization_url],
            )?)
        })?;
        rows.iter()
            .map(|r| {
                Ok(ChallengeRecord {
                    url: r.try_get(0)?,
                    authorization_url: r.try_get(1)?,
                    challenge_type: r.try_get(2)?,
                    token: r.try_get(3)?,
                    status: parse_enum("challenge status", r.try_get(4)?, ChallengeStatus::parse)?,
                    responded_at: opt_time(r.try_get(5)?)?,
                    updated_at: time(r.try_get(6)?)?,
                })
            })
            .collect()
    }
}
