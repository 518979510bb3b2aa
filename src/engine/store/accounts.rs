//! Accounts: one per ACME directory, with instant-acme's credentials so a later run reuses the
//! account instead of registering a new one (new accounts are rate limited per IP address).

use jiff::Timestamp;
use rusqlite::{OptionalExtension, params};

use super::Store;
use super::error::StoreError;
use super::types::{AccountId, AccountRecord, SqlTime, json_list, parse_json_list};

impl Store {
    /// Records the account used on `directory_url`, replacing a previous one for that directory
    /// (its id is kept, so orders recorded under it stay attached). Call it as soon as the CA
    /// returned the account, before using it.
    pub fn upsert_account(
        &self,
        directory_url: &str,
        account_url: &str,
        credentials_json: &str,
        contact: &[String],
    ) -> Result<AccountId, StoreError> {
        let now = SqlTime(Timestamp::now());
        let id = self
            .conn
            .prepare_cached(
                "INSERT INTO accounts
                     (directory_url, account_url, credentials_json, contact_json, created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?5)
                 ON CONFLICT (directory_url) DO UPDATE SET
                     account_url = excluded.account_url,
                     credentials_json = excluded.credentials_json,
                     contact_json = excluded.contact_json,
                     updated_at = excluded.updated_at
                 RETURNING id",
            )?
            .query_row(
                params![
                    directory_url,
                    account_url,
                    credentials_json,
                    json_list(contact),
                    now
                ],
                |r| r.get(0),
            )?;
        Ok(AccountId(id))
    }

    /// The account kept for `directory_url`, if any.
    pub fn account(&self, directory_url: &str) -> Result<Option<AccountRecord>, StoreError> {
        let row = self
            .conn
            .prepare_cached(
                "SELECT id, account_url, credentials_json, contact_json, created_at, updated_at
                 FROM accounts WHERE directory_url = ?1",
            )?
            .query_row([directory_url], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, SqlTime>(4)?,
                    r.get::<_, SqlTime>(5)?,
                ))
            })
            .optional()?;
        let Some((id, account_url, credentials_json, contact, created, updated)) = row else {
            return Ok(None);
        };
        Ok(Some(AccountRecord {
            id: AccountId(id),
            directory_url: directory_url.to_string(),
            account_url,
            credentials_json,
            contact: parse_json_list("account contact list", &contact)?,
            created_at: created.0,
            updated_at: updated.0,
        }))
    }
}

// Tested with every backend's other queries in conformance.rs.
