//! Opening the run's state store.
//!
//! On SQLite the file lock of [`StateLock`] serialises runs on the same file: one run at a
//! time. On PostgreSQL several runs (workers, on one host or many) share the batch: each
//! registers as a worker, keeps its lease alive with a heartbeat, and claims certificates one
//! at a time (src/engine/store/pg/leases.rs, batch/shared.rs), so a dead worker's certificates
//! are taken over when its leases run out. The challenge responses each publishes go to the
//! store too, read by every worker's listener through a connection of its own.

use std::path::PathBuf;
use std::sync::Arc;

use tokio::time::Instant;

use crate::engine::store::pg::leases::{Heartbeat, WorkerId};
use crate::engine::store::{PgStore, StateLocation, StateStore, Store};

use super::config::BatchConfig;
use super::error::BatchError;
use super::lock::{LockError, StateLock};

/// The open store and whatever keeps other runs out while it is used.
pub(super) struct OpenState {
    /// The store.
    pub store: Box<dyn StateStore>,
    /// This run's worker on PostgreSQL, which claims certificates; `None` on SQLite.
    pub worker: Option<WorkerId>,
    /// On PostgreSQL, a second connection for the challenge listener, which looks up the
    /// responses other workers published while the run uses the first.
    pub responses: Option<Arc<PgStore>>,
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
    on_wait: impl FnMut(),
) -> Result<OpenState, BatchError> {
    match config.state_location() {
        StateLocation::Sqlite(path) => {
            let lock = StateLock::acquire(&path, deadline, on_wait).await?;
            Ok(OpenState {
                store: Box::new(Store::open(&path)?),
                worker: None,
                responses: None,
                _file_lock: Some(lock),
                _worker: Worker(None),
            })
        }
        StateLocation::Postgres(url) => {
            let shown = url.to_string();
            let opening = url.clone();
            let second = url.clone();
            let store = tokio::task::spawn_blocking(move || PgStore::open(&opening))
                .await
                .map_err(|e| LockError::Io {
                    path: PathBuf::from(&shown),
                    reason: e.to_string(),
                })??;
            let lease = config.worker_lease;
            let worker = store.register_worker(&host_name(), std::process::id(), lease)?;
            // Past this, the worker was stopped or cut off long enough that its work may be
            // another's: the store refuses everything it asks (see `PgStore::fence_to`).
            store.fence_to(worker, lease / 6)?;
            let heartbeat = tokio::task::spawn_blocking(move || {
                Heartbeat::start(&url, worker, lease, lease / 3)
            })
            .await
            .map_err(|e| LockError::Io {
                path: PathBuf::from(&shown),
                reason: e.to_string(),
            })??;
            let responses = tokio::task::spawn_blocking(move || PgStore::open(&second))
                .await
                .map_err(|e| LockError::Io {
                    path: PathBuf::from(&shown),
                    reason: e.to_string(),
                })??;
            Ok(OpenState {
                store: Box::new(store),
                worker: Some(worker),
                responses: Some(Arc::new(responses)),
                _file_lock: None,
                _worker: Worker(Some(heartbeat)),
            })
        }
    }
}
