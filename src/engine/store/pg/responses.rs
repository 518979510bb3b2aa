//! Challenge responses kept in the database, so that any worker can answer any challenge:
//! HTTP-01 key authorizations looked up by token (whichever worker's listener the CA reaches),
//! DNS-01 TXT values listed by record name (whichever worker publishes the zone). Publishing
//! is idempotent: two workers publishing the same response leave one row, and a different
//! value for the same token is refused rather than silently replaced.

use super::super::error::StoreError;
use super::PgStore;

/// Schema version 4 (see pg/schema.rs).
pub(super) const MIGRATION: &str = r#"
    CREATE TABLE responses (
        challenge_type TEXT COLLATE "C" NOT NULL,
        -- HTTP-01: the token; DNS-01: the TXT record's name plus the value (several values
        -- may share a name: a wildcard and its base name).
        key            TEXT COLLATE "C" NOT NULL,
        record_name    TEXT COLLATE "C" NOT NULL,
        value          TEXT NOT NULL,
        published_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
        PRIMARY KEY (challenge_type, key)
    );
    CREATE INDEX responses_by_name ON responses(challenge_type, record_name);
"#;

impl PgStore {
    /// Publishes the HTTP-01 key authorization for `token`. Publishing the same value again is
    /// a no-op; another value for a token already published is [`StoreError::Conflict`] (a token
    /// names exactly one key authorization).
    pub fn publish_http01(&self, token: &str, key_authorization: &str) -> Result<(), StoreError> {
        self.publish("http-01", token, token, key_authorization)
    }

    /// The key authorization any worker published for `token`.
    pub fn http01_response(&self, token: &str) -> Result<Option<String>, StoreError> {
        let row = self.with(|c| {
            Ok(c.query_opt(
                "SELECT value FROM responses WHERE challenge_type = 'http-01' AND key = $1",
                &[&token],
            )?)
        })?;
        Ok(row.map(|r| r.try_get(0)).transpose()?)
    }

    /// Publishes a DNS-01 TXT value under `record_name` (idempotent per name and value).
    pub fn publish_dns01(&self, record_name: &str, value: &str) -> Result<(), StoreError> {
        let name = record_name.trim_end_matches('.').to_ascii_lowercase();
        self.publish("dns-01", &format!("{name} {value}"), &name, value)
    }

    /// Every TXT value published under `record_name`, sorted.
    pub fn dns01_values(&self, record_name: &str) -> Result<Vec<String>, StoreError> {
        let name = record_name.trim_end_matches('.').to_ascii_lowercase();
        let rows = self.with(|c| {
            Ok(c.query(
                "SELECT value FROM responses WHERE challenge_type = 'dns-01' AND record_name = $1
                 ORDER BY value",
                &[&name],
            )?)
        })?;
        rows.iter()
            .map(|r| Ok(r.try_get(0)?))
            .collect::<Result<_, StoreError>>()
    }

    /// Withdraws an HTTP-01 response (the challenge is decided). Withdrawing twice is fine.
    pub fn withdraw_http01(&self, token: &str) -> Result<(), StoreError> {
        self.withdraw("http-01", token)
    }

    /// Withdraws one DNS-01 TXT value. Withdrawing twice is fine.
    pub fn withdraw_dns01(&self, record_name: &str, value: &str) -> Result<(), StoreError> {
        let name = record_name.trim_end_matches('.').to_ascii_lowercase();
        self.withdraw("dns-01", &format!("{name} {value}"))
    }

    fn publish(&self, kind: &str, key: &str, name: &str, value: &str) -> Result<(), StoreError> {
        let stored: String = self.with(|c| {
            // The no-op update makes RETURNING yield the row that is there, new or old.
            Ok(c.query_one(
                "INSERT INTO responses (challenge_type, key, record_name, value)
                 VALUES ($1, $2, $3, $4)
                 ON CONFLICT (challenge_type, key) DO UPDATE SET key = responses.key
                 RETURNING value",
                &[&kind, &key, &name, &value],
            )?
            .try_get(0)?)
        })?;
        if stored != value {
            return Err(StoreError::Conflict {
                what: "challenge response",
                key: key.to_string(),
            });
        }
        Ok(())
    }

    fn withdraw(&self, kind: &str, key: &str) -> Result<(), StoreError> {
        self.with(|c| {
            c.execute(
                "DELETE FROM responses WHERE challenge_type = $1 AND key = $2",
                &[&kind, &key],
            )?;
            Ok(())
        })
    }
}
