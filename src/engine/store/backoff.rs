//! Per-name failure history (`name_backoff`): the scheduler's failed-validation budget and
//! exponential backoff, kept so that a restart does not forget a name is failing and spend the
//! account's budget on it again.

use jiff::Timestamp;
use rusqlite::{OptionalExtension, Row, params};

use super::Store;
use super::error::StoreError;
use super::types::{NameBackoff, SqlTime, normalize_identifier, opt_time};

struct RawBackoff {
    identifier: String,
    consecutive_failures: i64,
    next_attempt_at: Option<SqlTime>,
    recent_failures_json: String,
    last_error: Option<String>,
}

impl RawBackoff {
    fn from_row(r: &Row<'_>) -> rusqlite::Result<RawBackoff> {
        Ok(RawBackoff {
            identifier: r.get(0)?,
            consecutive_failures: r.get(1)?,
            next_attempt_at: r.get(2)?,
            recent_failures_json: r.get(3)?,
            last_error: r.get(4)?,
        })
    }

    fn into_backoff(self) -> Result<NameBackoff, StoreError> {
        let corrupt = |what| StoreError::Corrupt {
            what,
            value: self.recent_failures_json.clone(),
        };
        let texts: Vec<String> = serde_json::from_str(&self.recent_failures_json)
            .map_err(|_| corrupt("name failure list"))?;
        let mut recent_failures = texts
            .iter()
            .map(|t| t.parse::<Timestamp>())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| corrupt("name failure timestamp"))?;
        recent_failures.sort();
        Ok(NameBackoff {
            identifier: self.identifier,
            consecutive_failures: u32::try_from(self.consecutive_failures).unwrap_or(u32::MAX),
            next_attempt_at: opt_time(self.next_attempt_at),
            recent_failures,
            last_error: self.last_error,
        })
    }
}

impl Store {
    /// The failure history of `identifier` on `directory_url`, if it ever failed there.
    pub fn name_backoff(
        &self,
        directory_url: &str,
        identifier: &str,
    ) -> Result<Option<NameBackoff>, StoreError> {
        let identifier = normalize_identifier(identifier)?;
        self.conn
            .prepare_cached(
                "SELECT identifier, consecutive_failures, next_attempt_at, recent_failures_json,
                        last_error
                 FROM name_backoff WHERE directory_url = ?1 AND identifier = ?2",
            )?
            .query_row(params![directory_url, identifier], RawBackoff::from_row)
            .optional()?
            .map(RawBackoff::into_backoff)
            .transpose()
    }

    /// Every name with a failure history on `directory_url`, by name: loaded once when a
    /// scheduler starts.
    pub fn name_backoffs(&self, directory_url: &str) -> Result<Vec<NameBackoff>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT identifier, consecutive_failures, next_attempt_at, recent_failures_json,
                    last_error
             FROM name_backoff WHERE directory_url = ?1 ORDER BY identifier",
        )?;
        let rows = stmt.query_map([directory_url], RawBackoff::from_row)?;
        rows.map(|r| r?.into_backoff()).collect()
    }

    /// Changes the failure history of `identifier` on `directory_url`: `change` gets the history
    /// as stored (a clean one if none) and returns the new one, which is written. One process
    /// holds a SQLite state (the state lock), so nothing can come in between; PostgreSQL's
    /// version locks the name.
    pub fn update_name_backoff(
        &self,
        directory_url: &str,
        identifier: &str,
        change: impl FnOnce(NameBackoff) -> NameBackoff + Send,
    ) -> Result<NameBackoff, StoreError> {
        let identifier = normalize_identifier(identifier)?;
        let current = self
            .name_backoff(directory_url, &identifier)?
            .unwrap_or_else(|| NameBackoff::clean(identifier.clone()));
        let next = NameBackoff {
            identifier,
            ..change(current)
        };
        self.put_name_backoff(directory_url, &next)?;
        Ok(next)
    }

    /// Replaces the failure history of `state.identifier` on `directory_url`. A history with no
    /// failures left and no backoff is deleted, so the table only holds names that matter.
    pub fn put_name_backoff(
        &self,
        directory_url: &str,
        state: &NameBackoff,
    ) -> Result<(), StoreError> {
        let identifier = normalize_identifier(&state.identifier)?;
        if state.consecutive_failures == 0
            && state.next_attempt_at.is_none()
            && state.recent_failures.is_empty()
        {
            self.conn
                .prepare_cached(
                    "DELETE FROM name_backoff WHERE directory_url = ?1 AND identifier = ?2",
                )?
                .execute(params![directory_url, identifier])?;
            return Ok(());
        }
        let failures: Vec<String> = state
            .recent_failures
            .iter()
            .map(|t| SqlTime(*t).text())
            .collect();
        self.conn
            .prepare_cached(
                "INSERT INTO name_backoff (directory_url, identifier, consecutive_failures,
                     next_attempt_at, recent_failures_json, last_error, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                 ON CONFLICT (directory_url, identifier) DO UPDATE SET
                     consecutive_failures = excluded.consecutive_failures,
                     next_attempt_at = excluded.next_attempt_at,
                     recent_failures_json = excluded.recent_failures_json,
                     last_error = excluded.last_error,
                     updated_at = excluded.updated_at",
            )?
            .execute(params![
                directory_url,
                identifier,
                state.consecutive_failures,
                state.next_attempt_at.map(SqlTime),
                serde_json::to_string(&failures).unwrap_or_else(|_| "[]".to_string()),
                state.last_error,
                SqlTime(Timestamp::now())
            ])?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::engine::store::{NameBackoff, Store, StoreError};

    const DIR: &str = "https://acme.test/dir";

    #[test]
    fn a_corrupt_failure_list_is_an_error_not_a_panic() {
        let store = Store::open_in_memory().unwrap();
        store
            .put_name_backoff(
                DIR,
                &NameBackoff {
                    consecutive_failures: 1,
                    ..NameBackoff::clean("a.example")
                },
            )
            .unwrap();
        store
            .conn
            .execute(
                "UPDATE name_backoff SET recent_failures_json = '[\"yesterday\"]'",
                [],
            )
            .unwrap();
        assert!(matches!(
            store.name_backoff(DIR, "a.example"),
            Err(StoreError::Corrupt { .. })
        ));
    }
}
