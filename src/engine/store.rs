//! The engine's state store: by default an SQLite file that records every account, order, authorization and
//! challenge URL and state *before* the engine acts on it, so that a run killed with `kill -9`
//! can be resumed from it and no authorization is ever left pending and unknown.
//!
//! The API is synchronous and each call is short (one or two statements, prepared once and
//! cached). [`Store`] is `Send` but not `Sync`: the engine owns it in its loop or behind a mutex,
//! and calls it from `spawn_blocking` when it must not block the runtime.
//!
//! The engine reaches the store through [`StateStore`], implemented by [`Store`] (SQLite, the
//! embedded default) and by [`PgStore`] (PostgreSQL, shared by several workers; see [`pg`]).
//! [`open_state`] opens whichever a [`StateLocation`] names.

mod accounts;
mod authorizations;
mod backend;
mod backoff;
mod challenges;
#[doc(hidden)]
pub mod conformance;
mod error;
mod location;
mod orders;
pub mod pg;
mod schema;
mod trials;
mod types;

use std::fs::{File, OpenOptions};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

pub use backend::StateStore;
pub use error::StoreError;
pub use location::{StateLocation, open_state};
pub use pg::{PgStore, PgUrl};
pub use schema::LATEST as SCHEMA_VERSION;
pub use types::{
    AccountId, AccountRecord, AuthorizationOutcome, AuthorizationRecord, AuthorizationStatus,
    ChallengeRecord, ChallengeStatus, ChallengeType, NameBackoff, OrderId, OrderRecord,
    OrderStatus, normalize_identifier, normalize_identifiers,
};

/// How hard a commit tries to survive a crash.
///
/// The file is always in WAL mode. [`Durability::ProcessCrash`] (the default) sets
/// `synchronous=NORMAL`: SQLite documents that WAL with NORMAL never corrupts the file and loses
/// no committed transaction when the *process* dies (kill -9, panic, OOM kill), because a commit
/// is in the WAL in the kernel's page cache before `COMMIT` returns; only an OS crash or power
/// loss can roll back the last commits since a checkpoint. That is the failure the engine is
/// built to resume from, and skipping an fsync per commit matters here: a batch commits several
/// rows per certificate, and an fsync each would cap throughput at the disk's sync rate.
/// [`Durability::PowerLoss`] sets `synchronous=FULL` (an fsync of the WAL at every commit) for
/// operators who need the record to survive a power cut too.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Durability {
    /// `synchronous=NORMAL`: survives any process crash.
    #[default]
    ProcessCrash,
    /// `synchronous=FULL`: survives power loss as well, at one fsync per commit.
    PowerLoss,
}

/// The state store. See the module documentation.
pub struct Store {
    conn: Connection,
    path: Option<PathBuf>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

/// How long a call waits for another process holding the write lock before failing busy.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

impl Store {
    /// Opens (creating if needed) the store at `path` with [`Durability::ProcessCrash`].
    ///
    /// The file holds the ACME account's private key: it is created with mode 0600 before
    /// anything is written to it, and an existing file readable by others is tightened to 0600.
    pub fn open(path: impl AsRef<Path>) -> Result<Store, StoreError> {
        Store::open_with(path, Durability::default())
    }

    /// Opens the store at `path` with the given durability.
    pub fn open_with(path: impl AsRef<Path>, durability: Durability) -> Result<Store, StoreError> {
        let path = path.as_ref();
        secure_file(path)?;
        // SQLite creates the -wal and -shm files with the database file's mode, so they inherit
        // the 0600 set above; stale ones left by an older run are tightened here too.
        for suffix in ["-wal", "-shm"] {
            let mut side = path.as_os_str().to_owned();
            side.push(suffix);
            tighten_if_exists(Path::new(&side))?;
        }
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(path, flags)?;
        let synchronous = match durability {
            Durability::ProcessCrash => "NORMAL",
            Durability::PowerLoss => "FULL",
        };
        conn.busy_timeout(BUSY_TIMEOUT)?;
        let mode: String = conn.query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StoreError::Corrupt {
                what: "journal mode (WAL refused)",
                value: mode,
            });
        }
        conn.pragma_update(None, "synchronous", synchronous)?;
        Store::finish_open(conn, Some(path.to_path_buf()))
    }

    /// A store that lives in memory only, for tests.
    pub fn open_in_memory() -> Result<Store, StoreError> {
        Store::finish_open(Connection::open_in_memory()?, None)
    }

    fn finish_open(mut conn: Connection, path: Option<PathBuf>) -> Result<Store, StoreError> {
        // Off by default in SQLite; the schema relies on them to refuse orphans.
        conn.pragma_update(None, "foreign_keys", "ON")?;
        schema::migrate(&mut conn)?;
        Ok(Store { conn, path })
    }

    /// The file backing the store; `None` in memory.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// The schema version of the open file (always [`SCHEMA_VERSION`] after a successful open).
    pub fn schema_version(&self) -> Result<i64, StoreError> {
        schema::current_version(&self.conn)
    }

    /// Re-runs the migrations: a no-op on an up-to-date store. Returns the version reached.
    pub fn migrate(&mut self) -> Result<i64, StoreError> {
        schema::migrate(&mut self.conn)
    }
}

/// Creates `path` with mode 0600 if missing (the mode is applied by `open(2)` itself, so there is
/// no window in which the file exists with wider permissions), or tightens an existing file.
fn secure_file(path: &Path) -> Result<(), StoreError> {
    let file = open_private(path)?;
    tighten(&file, path)
}

/// Opens `path`, creating it with mode 0600 if it does not exist (an existing file keeps its
/// mode: [`tighten`] deals with it).
fn open_private(path: &Path) -> Result<File, StoreError> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(path)
        .map_err(|source| StoreError::Io {
            path: path.to_path_buf(),
            source,
        })
}

fn tighten_if_exists(path: &Path) -> Result<(), StoreError> {
    match OpenOptions::new().read(true).open(path) {
        Ok(file) => tighten(&file, path),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(StoreError::Io {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// Removes every group and other permission bit (through the open handle, so a file swapped
/// under the path in the meantime is not the one changed).
fn tighten(file: &File, path: &Path) -> Result<(), StoreError> {
    let io = |source| StoreError::Io {
        path: path.to_path_buf(),
        source,
    };
    let meta = file.metadata().map_err(io)?;
    if !meta.is_file() {
        return Err(StoreError::NotAFile(path.to_path_buf()));
    }
    if meta.permissions().mode() & 0o077 != 0 {
        file.set_permissions(std::fs::Permissions::from_mode(0o600))
            .map_err(io)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests;
