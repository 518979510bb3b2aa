//! On a shared store every worker keeps every certificate of the batch in its own `--out`: the
//! worker that issues one keeps a copy of the chain and key in the database
//! ([`keep`]), and the others install it from there ([`local_copy`]) when they find it issued,
//! in this run or at a later one's renewal check. A worker on another machine then serves the
//! certificate too, and never mistakes "not in my `--out`" for "lost" and orders it again.

use std::path::{Path, PathBuf};

use super::input::CertRequest;
use super::output::{self, OutputPaths};
use crate::engine::acme::PrivateKeyPem;
use crate::engine::store::{OrderId, StateStore, StoreError};

/// Keeps the certificate this worker just installed at `paths` for the other workers (a no-op
/// on SQLite). Written before the order is recorded issued, so a worker that sees it issued
/// finds the copy.
pub(super) fn keep(
    store: &dyn StateStore,
    order: OrderId,
    paths: &OutputPaths,
    chain_pem: &str,
) -> Result<(), StoreError> {
    let Some(pg) = store.shared() else {
        return Ok(());
    };
    let key = match std::fs::read_to_string(&paths.key) {
        Ok(pem) => PrivateKeyPem::from_pem(pem),
        Err(e) => {
            // The certificate is installed here; the others fall back to the recorded path.
            tracing::warn!(key = %paths.key.display(), "could not read the installed key to share it: {e}");
            return Ok(());
        }
    };
    pg.put_issued_copy(order, chain_pem, &key)
}

/// Where this worker has a certificate of the batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct LocalCopy {
    /// The certificate file.
    pub cert: PathBuf,
    /// Whether this call installed it (new here, or newer than what was here).
    pub installed: bool,
}

/// Where this worker has the certificate `order` issued for `request`: on a shared store, its
/// own `--out` copy, installed (or brought up to date) from the database's copy; else, or when
/// the database holds none (a worker of an older certdx issued it), `recorded`, the path the
/// issuing worker recorded.
pub(super) fn local_copy(
    store: &dyn StateStore,
    out_dir: &Path,
    request: &CertRequest,
    order: OrderId,
    recorded: PathBuf,
) -> LocalCopy {
    let as_recorded = LocalCopy {
        cert: recorded,
        installed: false,
    };
    let Some(pg) = store.shared() else {
        return as_recorded;
    };
    let copy = match pg.issued_copy(order) {
        Ok(Some(copy)) => copy,
        Ok(None) => return as_recorded,
        Err(e) => {
            tracing::warn!(
                order = order.get(),
                "could not read the fleet's copy of a certificate: {e}"
            );
            return as_recorded;
        }
    };
    let paths = output::paths(out_dir, request.first_name(), order);
    let current = std::fs::read_to_string(&paths.cert).is_ok_and(|c| c == copy.chain_pem)
        && paths.key.exists();
    if current {
        return LocalCopy {
            cert: paths.cert,
            installed: false,
        };
    }
    let installed = output::ensure_dir(out_dir)
        .and_then(|()| output::install_copy(&paths, &copy.chain_pem, &copy.key));
    match installed {
        Ok(()) => LocalCopy {
            cert: paths.cert,
            installed: true,
        },
        Err(e) => {
            tracing::warn!(cert = %paths.cert.display(), "could not install another worker's certificate here: {e}");
            as_recorded
        }
    }
}

/// Sends the deploy hook's queue every certificate another worker issued that this run
/// installed here: this host serves it now, so it reloads too.
pub(super) fn announce(
    on_issued: Option<&tokio::sync::mpsc::UnboundedSender<super::report::CertResult>>,
    tracked: &[super::results::Tracked],
) {
    let Some(tx) = on_issued else {
        return;
    };
    for r in tracked
        .iter()
        .filter_map(|t| t.result.as_ref())
        .filter(|r| r.copied)
    {
        // A listener that has gone away only misses the news.
        let _ = tx.send(r.clone());
    }
}
