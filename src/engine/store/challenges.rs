//! Challenges: which one was answered and when, recorded before the engine tells the CA.

use jiff::Timestamp;
use rusqlite::{OptionalExtension, params};

use super::Store;
use super::error::StoreError;
use super::types::{ChallengeRecord, ChallengeStatus, SqlTime, opt_time};

impl Store {
    /// Records a challenge offered by an authorization (before answering it). Recording a URL
    /// again updates its status.
    pub fn record_challenge(
        &self,
        authorization_url: &str,
        url: &str,
        challenge_type: &str,
        token: &str,
        status: ChallengeStatus,
    ) -> Result<(), StoreError> {
        let now = SqlTime(Timestamp::now());
        let tx = self.conn.unchecked_transaction()?;
        let known: Option<i64> = tx
            .prepare_cached("SELECT 1 FROM authorizations WHERE url = ?1")?
            .query_row([authorization_url], |r| r.get(0))
            .optional()?;
        if known.is_none() {
            return Err(StoreError::UnknownAuthorization(
                authorization_url.to_string(),
            ));
        }
        tx.prepare_cached(
            "INSERT INTO challenges (url, authorization_url, type, token, status, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT (url) DO UPDATE SET status = excluded.status, updated_at = excluded.updated_at",
        )?
        .execute(params![url, authorization_url, challenge_type, token, status, now])?;
        tx.commit()?;
        Ok(())
    }

    /// Records the challenge's status as the CA now reports it.
    pub fn set_challenge_status(
        &self,
        url: &str,
        status: ChallengeStatus,
    ) -> Result<(), StoreError> {
        let changed = self
            .conn
            .prepare_cached("UPDATE challenges SET status = ?2, updated_at = ?3 WHERE url = ?1")?
            .execute(params![url, status, SqlTime(Timestamp::now())])?;
        if changed == 0 {
            return Err(StoreError::UnknownChallenge(url.to_string()));
        }
        Ok(())
    }

    /// Records, *before* the request is sent, that the engine is telling the CA the challenge is
    /// ready; its authorization's outcome becomes `answered` unless something was already decided.
    pub fn challenge_responded(&self, url: &str) -> Result<(), StoreError> {
        let now = SqlTime(Timestamp::now());
        let tx = self.conn.unchecked_transaction()?;
        let authz: Option<String> = tx
            .prepare_cached(
                "UPDATE challenges SET responded_at = ?2, updated_at = ?2 WHERE url = ?1
                 RETURNING authorization_url",
            )?
            .query_row(params![url, now], |r| r.get(0))
            .optional()?;
        let Some(authz) = authz else {
            return Err(StoreError::UnknownChallenge(url.to_string()));
        };
        tx.prepare_cached(
            "UPDATE authorizations SET outcome = 'answered', updated_at = ?2
             WHERE url = ?1 AND outcome = 'pending'",
        )?
        .execute(params![authz, now])?;
        tx.commit()?;
        Ok(())
    }

    /// The challenges of an authorization, by URL.
    pub fn challenges_for_authorization(
        &self,
        authorization_url: &str,
    ) -> Result<Vec<ChallengeRecord>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT url, authorization_url, type, token, status, responded_at, updated_at
             FROM challenges WHERE authorization_url = ?1 ORDER BY url",
        )?;
        let rows = stmt.query_map([authorization_url], |r| {
            Ok(ChallengeRecord {
                url: r.get(0)?,
                authorization_url: r.get(1)?,
                challenge_type: r.get(2)?,
                token: r.get(3)?,
                status: r.get(4)?,
                responded_at: opt_time(r.get(5)?),
                updated_at: r.get::<_, SqlTime>(6)?.0,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

// Tested with every backend's other queries in conformance.rs.
