//! Opening the run's state store, one batch per store at a time.
//!
//! On SQLite the file lock of [`StateLock`] serialises runs on the same file. On PostgreSQL the
//! batch takes a session advisory lock on its own connection ([`PgStore::try_lock_batch`]),
//! released when that connection ends, also when the process is killed: until the batch claims
//! its certificates one by one through leases (src/engine/store/pg/leases.rs), a second worker
//! on the same database waits for the first, exactly as a second run on one file does.

use std::path::PathBuf;
use std::time::Duration;

use tokio::time::Instant;

use crate::engine::store::{PgStore, StateLocation, StateStore, Store};

use super::config::BatchConfig;
use super::error::BatchError;
use super::lock::{LockError, StateLock};

/// How often a waiting run asks PostgreSQL for the batch lock again.
const RETRY_EVERY: Duration = Duration::from_millis(200);

/// The open store and whatever keeps other runs out while it is used.
pub(super) struct OpenState {
    /// The store.
    pub store: Box<dyn StateStore>,
    // Held for the run on SQLite; PostgreSQL's lock lives in the store's own connection.
    _file_lock: Option<StateLock>,
}

/// Opens `config`'s store once no other run uses it, waiting until `deadline`; `on_wait` is
/// called once if it has to wait.
pub(super) async fn open(
    config: &BatchConfig,
    deadline: Instant,
    mut on_wait: impl FnMut(),
) -> Result<OpenState, BatchError> {
    match config.state_location() {
        StateLocation::Sqlite(path) => {
            let lock = StateLock::acquire(&path, deadline, on_wait).await?;
            Ok(OpenState {
                store: Box::new(Store::open(&path)?),
                _file_lock: Some(lock),
            })
        }
        StateLocation::Postgres(url) => {
            let shown = url.to_string();
            let store = tokio::task::spawn_blocking(move || PgStore::open(&url))
                .await
                .map_err(|e| LockError::Io {
                    path: PathBuf::from(&shown),
                    reason: e.to_string(),
                })??;
            let mut waited = false;
            while !store.try_lock_batch()? {
                if Instant::now() >= deadline {
                    return Err(LockError::Busy(PathBuf::from(shown)).into());
                }
                if !waited {
                    waited = true;
                    on_wait();
                }
                tokio::time::sleep(RETRY_EVERY).await;
            }
            Ok(OpenState {
                store: Box::new(store),
                _file_lock: None,
            })
        }
    }
}
