//! The schema and its migrations. `schema_migrations` records every applied version; a file at
//! version N is brought to [`LATEST`] by applying migrations N+1.. in order, each in its own
//! transaction, so an interrupted upgrade resumes where it stopped.

use jiff::Timestamp;
use rusqlite::{Connection, TransactionBehavior};

use super::error::StoreError;
use super::types::SqlTime;

/// Migration `i` brings the schema from version `i` to version `i + 1`. Append only: a released
/// migration is never edited, since files in the field already ran it.
const MIGRATIONS: &[&str] = &[
    // 0 -> 1: the first schema.
    r#"
    CREATE TABLE accounts (
        id               INTEGER PRIMARY KEY,
        directory_url    TEXT NOT NULL UNIQUE,
        account_url      TEXT NOT NULL,
        -- instant-acme's AccountCredentials JSON: holds the account's private key.
        credentials_json TEXT NOT NULL,
        contact_json     TEXT NOT NULL DEFAULT '[]',
        created_at       TEXT NOT NULL,
        updated_at       TEXT NOT NULL
    ) STRICT;

    CREATE TABLE orders (
        id               INTEGER PRIMARY KEY,
        account_id       INTEGER NOT NULL REFERENCES accounts(id),
        -- JSON array, normalised, sorted, deduplicated: equal sets have equal text.
        identifiers_json TEXT NOT NULL,
        -- NULL until the CA answered newOrder.
        order_url        TEXT UNIQUE,
        status           TEXT NOT NULL CHECK (status IN
                           ('new','pending','ready','processing','valid','invalid','deactivated','abandoned')),
        finalize_url     TEXT,
        certificate_path TEXT,
        error            TEXT,
        created_at       TEXT NOT NULL,
        updated_at       TEXT NOT NULL
    ) STRICT;
    CREATE INDEX orders_by_account_status ON orders(account_id, status);
    CREATE INDEX orders_by_identifiers ON orders(account_id, identifiers_json, status);

    CREATE TABLE authorizations (
        url         TEXT PRIMARY KEY,
        identifier  TEXT NOT NULL,
        status      TEXT NOT NULL CHECK (status IN
                      ('pending','valid','invalid','deactivated','expired','revoked')),
        expires_at  TEXT,
        outcome     TEXT NOT NULL DEFAULT 'pending' CHECK (outcome IN
                      ('pending','answered','valid','invalid','left_to_expire','deactivated')),
        why         TEXT,
        created_at  TEXT NOT NULL,
        updated_at  TEXT NOT NULL
    ) STRICT;
    CREATE INDEX authorizations_by_status ON authorizations(status, outcome);
    CREATE INDEX authorizations_by_identifier ON authorizations(identifier, status, expires_at);

    -- The CA hands the same authorization to several orders (pending and valid reuse).
    CREATE TABLE order_authorizations (
        order_id          INTEGER NOT NULL REFERENCES orders(id),
        authorization_url TEXT NOT NULL REFERENCES authorizations(url),
        PRIMARY KEY (order_id, authorization_url)
    ) STRICT, WITHOUT ROWID;
    CREATE INDEX order_authorizations_by_url ON order_authorizations(authorization_url, order_id);

    CREATE TABLE challenges (
        url               TEXT PRIMARY KEY,
        authorization_url TEXT NOT NULL REFERENCES authorizations(url),
        type              TEXT NOT NULL,
        token             TEXT NOT NULL,
        status            TEXT NOT NULL CHECK (status IN ('pending','processing','valid','invalid')),
        responded_at      TEXT,
        updated_at        TEXT NOT NULL
    ) STRICT;
    CREATE INDEX challenges_by_authorization ON challenges(authorization_url);

    -- Per (directory, name): the failed-validation budget and the exponential backoff.
    CREATE TABLE name_backoff (
        directory_url        TEXT NOT NULL,
        identifier           TEXT NOT NULL,
        consecutive_failures INTEGER NOT NULL CHECK (consecutive_failures >= 0),
        next_attempt_at      TEXT,
        -- JSON array of failure timestamps inside the budget window, oldest first.
        recent_failures_json TEXT NOT NULL DEFAULT '[]',
        last_error           TEXT,
        updated_at           TEXT NOT NULL,
        PRIMARY KEY (directory_url, identifier)
    ) STRICT, WITHOUT ROWID;
    "#,
    // 1 -> 2: what each order asked for beyond its names (the 2025 ACME extensions).
    r#"
    -- The certificate profile sent in newOrder (draft-ietf-acme-profiles), NULL for none.
    ALTER TABLE orders ADD COLUMN profile TEXT;
    -- The ARI identifier of the certificate this order replaces (RFC 9773), NULL for none.
    ALTER TABLE orders ADD COLUMN replaces TEXT;
    "#,
    // 2 -> 3: orders made by `certdx trial` (never finalized: they only ask the CA for its
    // verdict), so `certdx issue` never resumes one and a later trial can clean up after a
    // killed one.
    r#"
    ALTER TABLE orders ADD COLUMN purpose TEXT NOT NULL DEFAULT 'issue'
        CHECK (purpose IN ('issue','trial'));
    "#,
];

/// The schema version this build writes.
pub const LATEST: i64 = MIGRATIONS.len() as i64;

/// The version recorded in the file; 0 for a new, empty database.
pub fn current_version(conn: &Connection) -> Result<i64, StoreError> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
             version    INTEGER PRIMARY KEY,
             applied_at TEXT NOT NULL
         ) STRICT;",
    )?;
    let version: Option<i64> =
        conn.query_row("SELECT MAX(version) FROM schema_migrations", [], |r| {
            r.get(0)
        })?;
    Ok(version.unwrap_or(0))
}

/// Brings the schema to [`LATEST`]; a no-op on an up-to-date file. Returns the version reached.
pub fn migrate(conn: &mut Connection) -> Result<i64, StoreError> {
    let found = current_version(conn)?;
    if found > LATEST {
        return Err(StoreError::SchemaTooNew {
            found,
            supported: LATEST,
        });
    }
    for (index, sql) in MIGRATIONS.iter().enumerate() {
        let target = index as i64 + 1;
        // IMMEDIATE takes the write lock first, so two processes opening the same file cannot
        // both decide to run the same migration: the loser re-reads the version and skips it.
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let version: Option<i64> =
            tx.query_row("SELECT MAX(version) FROM schema_migrations", [], |r| {
                r.get(0)
            })?;
        if version.unwrap_or(0) >= target {
            continue;
        }
        tx.execute_batch(sql)?;
        tx.execute(
            "INSERT INTO schema_migrations (version, applied_at) VALUES (?1, ?2)",
            rusqlite::params![target, SqlTime(Timestamp::now())],
        )?;
        tx.commit()?;
    }
    Ok(LATEST)
}
