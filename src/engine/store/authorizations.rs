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

#[cfg(test)]
mod tests {
    use jiff::{SignedDuration, Timestamp};

    use crate::engine::store::{
        AuthorizationOutcome as Outcome, AuthorizationStatus as Status, ChallengeStatus, OrderId,
        Store, StoreError,
    };

    const DIR: &str = "https://acme.test/dir";

    fn t(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn setup() -> (Store, OrderId) {
        let store = Store::open_in_memory().unwrap();
        let account = store
            .upsert_account(DIR, "https://acme.test/acct/1", "{}", &[])
            .unwrap();
        let order = store
            .begin_order(account, &["a.example", "b.example"])
            .unwrap();
        (store, order)
    }

    #[test]
    fn a_recorded_pending_authorization_is_unknown_until_answered_or_decided() {
        let (store, order) = setup();
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

    #[test]
    fn a_final_ca_status_overrides_the_outcome_and_answering_does_not_downgrade_it() {
        let (store, order) = setup();
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

    #[test]
    fn a_reused_authorization_links_to_every_order_and_is_found_for_reuse_until_it_expires() {
        let (store, first) = setup();
        let account = store.account(DIR).unwrap().unwrap().id;
        let second = store.begin_order(account, &["a.example"]).unwrap();
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

    #[test]
    fn unknown_urls_are_typed_errors() {
        let (store, _) = setup();
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
}
