//! The state store's typed error.

use std::path::PathBuf;

use super::types::OrderId;

/// Why a state-store operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The database file could not be created, inspected or have its permissions tightened.
    #[error("state store {path}: {source}")]
    Io {
        /// The database file.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },
    /// The path exists but is not a regular file (a directory, a socket, ...).
    #[error("state store {0} is not a regular file")]
    NotAFile(PathBuf),
    /// SQLite refused (locked beyond the busy timeout, disk full, corrupt file, ...).
    #[error("state store: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// PostgreSQL refused or failed (constraint, lost connection, ...).
    #[error("state store (postgres): {}", error_chain(.0))]
    Postgres(#[from] postgres::Error),
    /// A `postgres://` state URL that does not parse (shown with its password masked).
    #[error("state store URL {url} is not usable: {reason}")]
    BadUrl {
        /// The URL, password masked.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The PostgreSQL server could not be reached or refused the connection.
    #[error("cannot connect to the state store {url}: {reason}")]
    Unreachable {
        /// The URL, password masked.
        url: String,
        /// What the driver said (password masked).
        reason: String,
    },
    /// A write under a claim whose lease expired or was taken over by another worker: the
    /// database refused it, and nothing of it was applied.
    #[error("the claim on {key} (generation {generation}) is no longer held by this worker")]
    LeaseLost {
        /// The claimed work's key.
        key: String,
        /// The generation the worker held.
        generation: i64,
    },
    /// This worker's own lease ran out (the process was stopped, or cut off from the database,
    /// for longer than the lease): other workers may have taken its work over, so the store
    /// refuses everything it asks from then on.
    #[error(
        "worker {worker}'s lease ran out (stopped or cut off for longer than --worker-lease): \
         the other workers take its certificates over, and this one stops without writing"
    )]
    WorkerLeaseLost {
        /// The worker's id in the workers table.
        worker: i64,
    },
    /// Another worker already published a different response under the same key.
    #[error("another {what} is already published for {key}")]
    Conflict {
        /// Which kind of response.
        what: &'static str,
        /// The token or record.
        key: String,
    },
    /// The file was written by a newer certdx whose schema this one does not know.
    #[error(
        "state store schema version {found} is newer than this certdx understands ({supported}); \
         upgrade certdx or use another --state file"
    )]
    SchemaTooNew {
        /// The version recorded in the file.
        found: i64,
        /// The newest version this build can migrate to.
        supported: i64,
    },
    /// An identifier that is empty or not a DNS name once normalised.
    #[error("invalid identifier {0:?}")]
    InvalidIdentifier(String),
    /// A file path that is not valid UTF-8 cannot be kept in the store's text columns.
    #[error("path {0:?} is not valid UTF-8")]
    NonUtf8Path(PathBuf),
    /// An order id the store has never issued.
    #[error("unknown order {0}")]
    UnknownOrder(OrderId),
    /// An authorization URL the store has never recorded.
    #[error("unknown authorization {0}")]
    UnknownAuthorization(String),
    /// A challenge URL the store has never recorded.
    #[error("unknown challenge {0}")]
    UnknownChallenge(String),
    /// A stored value that does not parse (edited by hand, or written by a buggy build).
    #[error("state store holds a corrupt {what}: {value:?}")]
    Corrupt {
        /// Which kind of value.
        what: &'static str,
        /// The text found.
        value: String,
    },
}

impl StoreError {
    /// True when the error names an order, authorization or challenge the store does not know:
    /// a caller bug or a store from another run, not an I/O failure.
    pub fn is_unknown_record(&self) -> bool {
        matches!(
            self,
            StoreError::UnknownOrder(_)
                | StoreError::UnknownAuthorization(_)
                | StoreError::UnknownChallenge(_)
        )
    }

    /// True when SQLite gave up waiting for another process holding the database lock.
    pub fn is_busy(&self) -> bool {
        matches!(
            self,
            StoreError::Sqlite(rusqlite::Error::SqliteFailure(e, _))
                if matches!(e.code, rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
        )
    }
}

/// An error and its causes on one line: the PostgreSQL driver's own message is only its kind
/// ("db error", "error connecting to server"), the useful part is in its source.
pub(crate) fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(c) = cause {
        text.push_str(": ");
        text.push_str(&c.to_string());
        cause = c.source();
    }
    text
}
