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

use crate::engine::store::pg::leases::Heartbeat;
use crate::engine::store::{PgStore, StateLocation, StateStore, Store};

use super::config::BatchConfig;
use super::error::BatchError;
use super::lock::{LockError, StateLock};

/// How often a waiting run asks PostgreSQL for the batch lock again.
const RETRY_EVERY: Duration = Duration::from_millis(200);
/// A running batch's worker lease on PostgreSQL, and how often its heartbeat renews it.
const WORKER_LEASE: Duration = Duration::from_secs(30);
const HEARTBEAT_EVERY: Duration = Duration::from_secs(10);

/// The open store and whatever keeps other runs out while it is used.
pub(super) struct OpenState {
    /// The store.
    pub store: Box<dyn StateStore>,
    // Held for the run on SQLite; PostgreSQL's lock lives in the store's own connection.
    _file_lock: Option<StateLock>,
    // On PostgreSQL the run is a registered worker, kept alive while it runs, so
    // `--status` lists it; it leaves the table when the run ends.
    _worker: Worker,
}

/// The run's registration as a worker on PostgreSQL: renewed while held, removed when dropped.
struct Worker(Option<Heartbeat>);

impl Drop for Worker {
    fn drop(&mut self) {
        if let Some(heartbeat) = self.0.take() {
            heartbeat.leave();
        }
    }
}

/// This machine's name, for the workers table.
fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "unknown".to_string())
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
                _worker: Worker(None),
            })
        }
        StateLocation::Postgres(url) => {
            let shown = url.to_string();
            let opening = url.clone();
            let store = tokio::task::spawn_blocking(move || PgStore::open(&opening))
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
            let worker = store.register_worker(&host_name(), std::process::id(), WORKER_LEASE)?;
            let heartbeat = tokio::task::spawn_blocking(move || {
                Heartbeat::start(&url, worker, WORKER_LEASE, HEARTBEAT_EVERY)
            })
            .await
            .map_err(|e| LockError::Io {
                path: PathBuf::from(&shown),
                reason: e.to_string(),
            })??;
            Ok(OpenState {
                store: Box::new(store),
                _file_lock: None,
                _worker: Worker(Some(heartbeat)),
            })
        }
    }
}
