//! One batch per state file at a time, across processes.
//!
//! Two `certdx issue` runs on the same state file would both see a name as not yet issued and
//! both order it. The second run therefore waits for the first to finish (and then finds its
//! names issued). The lock is an exclusive SQLite transaction held on a side file
//! (`<state>.lock`) for the whole batch: SQLite's file locks are released by the kernel when a
//! process dies, so a `kill -9` never leaves a stale lock behind, and no extra dependency is
//! needed for `flock`. The side file keeps the lock off the state file itself, whose own
//! transactions the engine uses all the time.

use std::fs::OpenOptions;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, ErrorCode, OpenFlags};
use tokio::time::Instant;

/// How often a waiting run tries the lock again.
const RETRY_EVERY: Duration = Duration::from_millis(200);

/// Why the lock was not taken.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LockError {
    /// Another run still held the lock at the deadline.
    #[error("another certdx issue is still using {0} (waited for it to finish)")]
    Busy(PathBuf),
    /// The lock file could not be created or locked.
    #[error("locking {path}: {reason}")]
    Io {
        /// The lock file.
        path: PathBuf,
        /// What failed.
        reason: String,
    },
}

/// The held lock; released when dropped (or when the process dies).
#[derive(Debug)]
pub struct StateLock {
    path: PathBuf,
    // Holding the connection inside its EXCLUSIVE transaction is the lock.
    _conn: Connection,
}

impl StateLock {
    /// The lock file for the state file `state`.
    pub fn path_for(state: &Path) -> PathBuf {
        let mut path = state.as_os_str().to_owned();
        path.push(".lock");
        PathBuf::from(path)
    }

    /// Takes the lock for `state`, waiting until `deadline` while another run holds it;
    /// `on_wait` is called once if it has to wait (to tell the user why nothing happens).
    pub async fn acquire(
        state: &Path,
        deadline: Instant,
        mut on_wait: impl FnMut(),
    ) -> Result<StateLock, LockError> {
        let path = StateLock::path_for(state);
        let io = |reason: String| LockError::Io {
            path: path.clone(),
            reason,
        };
        // Created 0600 like the state file: it holds nothing, but it sits next to secrets.
        OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(&path)
            .map_err(|e| io(e.to_string()))?;
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(&path, flags).map_err(|e| io(e.to_string()))?;
        // rusqlite waits 5 s inside SQLite for a busy lock by default, blocking the runtime's
        // thread; the loop below waits asynchronously instead.
        conn.busy_timeout(Duration::ZERO)
            .map_err(|e| io(e.to_string()))?;
        let mut told = false;
        loop {
            // No journal file is needed for a transaction that never writes (setting the mode
            // needs a shared lock, so it is retried with the lock).
            let taken = conn
                .query_row("PRAGMA journal_mode=MEMORY", [], |r| r.get::<_, String>(0))
                .and_then(|_| conn.execute_batch("BEGIN EXCLUSIVE"));
            match taken {
                Ok(()) => return Ok(StateLock { path, _conn: conn }),
                Err(rusqlite::Error::SqliteFailure(e, _))
                    if matches!(e.code, ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) =>
                {
                    if !told {
                        on_wait();
                        told = true;
                    }
                    if Instant::now() + RETRY_EVERY > deadline {
                        return Err(LockError::Busy(state.to_path_buf()));
                    }
                    tokio::time::sleep(RETRY_EVERY).await;
                }
                Err(e) => return Err(io(e.to_string())),
            }
        }
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_second_holder_waits_until_the_first_lets_go() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state.sqlite");
        let first = StateLock::acquire(&state, Instant::now(), || {})
            .await
            .unwrap();
        let mut waited = false;
        let busy = StateLock::acquire(&state, Instant::now() + Duration::from_millis(500), || {
            waited = true
        })
        .await;
        assert!(matches!(busy, Err(LockError::Busy(_))), "{busy:?}");
        assert!(waited);
        drop(first);
        let second = StateLock::acquire(&state, Instant::now() + Duration::from_secs(2), || {})
            .await
            .unwrap();
        assert!(second.path().ends_with("state.sqlite.lock"));
    }
}
