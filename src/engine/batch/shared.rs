//! One batch shared by several workers on a PostgreSQL state: every worker offers all the
//! batch's certificates as claims (src/engine/store/pg/leases.rs) and runs only those it
//! claims, a few at a time, so the work spreads over the workers and a dead worker's
//! certificates are taken over when its leases run out. On SQLite there is one run per file
//! and none of this is used.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use jiff::Timestamp;

use crate::engine::store::pg::leases::{Claim, ClaimKind, WorkerId};
use crate::engine::store::{OrderId, OrderStatus, StateStore, StoreError};

use super::copies::{self, LocalCopy};
use super::error::BatchError;
use super::input::CertRequest;
use super::progress::FleetGlance;
use super::report::Stage;
use super::results::{Tracked, done_elsewhere, failed};
use super::{SharedStore, lock_store};
use crate::model::{Code, Finding};

/// How often a worker with nothing to claim looks again while other workers still hold
/// certificates of the batch.
pub(super) const CLAIM_POLL: Duration = Duration::from_millis(500);

/// What a claimed certificate turned out to need.
pub(super) enum Claimed {
    /// Issued already (by another worker, or by one that died before marking it done): the
    /// claim is completed and nothing is ordered.
    Done { index: usize, copy: LocalCopy },
    /// To be run, continuing the stored open order `resume` if there is one.
    Work {
        index: usize,
        resume: Option<OrderId>,
    },
}

/// This worker's part in a shared batch.
pub(super) struct Shared {
    worker: WorkerId,
    /// The claim key of every certificate still to do, to its request index.
    index: HashMap<String, usize>,
    /// Whether the request at an index renews an earlier certificate.
    renewing: HashMap<usize, bool>,
    keys: Vec<String>,
    lease: std::time::Duration,
    /// This worker's `--out`, where certificates other workers issue are installed too.
    out_dir: PathBuf,
    /// The claims this worker holds, by request index.
    pub claims: HashMap<usize, Claim>,
}

/// A certificate's claim key: its sorted identifiers (no identifier holds a comma).
fn claim_key(request: &CertRequest) -> String {
    request.key().join(",")
}

impl Shared {
    /// Offers the certificates still to do, `(index, renewing)` into `requests`, and marks
    /// done the claims of those found issued (`finished`), which a worker that died between
    /// installing a certificate and completing its claim left open.
    pub(super) fn offer(
        worker: WorkerId,
        requests: &[CertRequest],
        pending: &[(usize, bool)],
        finished: &[usize],
        lease: std::time::Duration,
        out_dir: &Path,
        store: &dyn StateStore,
    ) -> Result<Shared, BatchError> {
        let mut index = HashMap::new();
        let mut renewing = HashMap::new();
        for &(i, renews) in pending {
            index.entry(claim_key(&requests[i])).or_insert(i);
            renewing.insert(i, renews);
        }
        // Sorted: workers starting together upsert the same rows, and in the same order they
        // cannot deadlock on each other's row locks.
        let mut keys: Vec<String> = index.keys().cloned().collect();
        keys.sort();
        if let Some(pg) = store.shared() {
            pg.reopen(ClaimKind::Certificate, &keys)?;
            let mut finished: Vec<String> =
                finished.iter().map(|&i| claim_key(&requests[i])).collect();
            finished.sort();
            pg.settle_finished(ClaimKind::Certificate, &finished)?;
        }
        Ok(Shared {
            worker,
            index,
            renewing,
            keys,
            lease,
            out_dir: out_dir.to_owned(),
            claims: HashMap::new(),
        })
    }

    /// Claims up to `room` more certificates and says what each needs.
    pub(super) fn claim_more(
        &mut self,
        room: usize,
        store: &dyn StateStore,
        directory: &str,
        requests: &[CertRequest],
        since: Timestamp,
    ) -> Result<Vec<Claimed>, BatchError> {
        let Some(pg) = store.shared() else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        if room == 0 {
            return Ok(out);
        }
        let claims = pg.claim_among(
            self.worker,
            ClaimKind::Certificate,
            Some(&self.keys),
            room,
            self.lease,
        )?;
        for claim in claims {
            let Some(&i) = self.index.get(&claim.key) else {
                pg.release(&claim)?;
                continue;
            };
            let request = &requests[i];
            let renewing = self.renewing.get(&i).copied().unwrap_or(false);
            if let Some((order, cert)) = issued_since(store, directory, request, renewing, since)? {
                let copy = copies::local_copy(store, &self.out_dir, request, order, cert);
                complete(store, &claim);
                out.push(Claimed::Done { index: i, copy });
                continue;
            }
            let key = request.key();
            // The newest order the CA answered for these names, left open by a worker that
            // died or lost its claim: continued instead of ordered again.
            let resume = store
                .orders_to_resume(directory)?
                .into_iter()
                .filter(|o| o.identifiers == key && o.order_url.is_some())
                .filter(|o| o.status != OrderStatus::New)
                .max_by_key(|o| o.id.0)
                .map(|o| o.id);
            self.claims.insert(i, claim);
            out.push(Claimed::Work { index: i, resume });
        }
        Ok(out)
    }

    /// The fleet at a glance for the progress view: workers alive, challenges in flight on
    /// `directory` over all of them, and the batch's certificates not in this worker's hands.
    pub(super) fn glance(
        &self,
        store: &dyn StateStore,
        directory: &str,
    ) -> Result<Option<FleetGlance>, BatchError> {
        let Some(pg) = store.shared() else {
            return Ok(None);
        };
        let workers = pg.workers()?.iter().filter(|w| w.alive).count();
        let unfinished = pg.unfinished(ClaimKind::Certificate, &self.keys)?;
        Ok(Some(FleetGlance {
            workers,
            in_flight: pg.in_flight(directory)?,
            elsewhere: unfinished.saturating_sub(self.claims.len() as u64),
        }))
    }

    /// At the end of the run, the result of every certificate this worker does not hold:
    /// issued by another worker (since `since`, for a renewal), or ended there without one.
    pub(super) fn settle_the_rest(
        &self,
        tracked: &mut [Tracked],
        store: &dyn StateStore,
        directory: &str,
        requests: &[CertRequest],
        since: Timestamp,
    ) -> Result<(), BatchError> {
        for (i, t) in tracked.iter_mut().enumerate() {
            if t.result.is_some() || self.claims.contains_key(&i) {
                continue;
            }
            let request = &requests[i];
            let issued = issued_since(store, directory, request, t.renewing.is_some(), since)?;
            t.result = Some(match issued {
                Some((order, cert)) => {
                    let copy = copies::local_copy(store, &self.out_dir, request, order, cert);
                    done_elsewhere(request, copy)
                }
                None => failed(
                    request,
                    t,
                    Stage::Waiting,
                    Finding::new(
                        Code::AcmeOther,
                        format!(
                            "{}: another worker of this batch ended it without a certificate",
                            request.key().join(", ")
                        ),
                    )
                    .with_detail(
                        "That worker's report says why; `certdx issue --status` lists the \
                         workers and the orders by status.",
                    ),
                ),
            });
        }
        Ok(())
    }

    /// How many of the batch's certificates no worker has finished yet.
    pub(super) fn unfinished(&self, store: &dyn StateStore) -> Result<u64, BatchError> {
        match store.shared() {
            Some(pg) => Ok(pg.unfinished(ClaimKind::Certificate, &self.keys)?),
            None => Ok(0),
        }
    }

    /// Marks the certificate at `index` done for every worker.
    pub(super) fn complete(&mut self, index: usize, store: &dyn StateStore) {
        if let Some(claim) = self.claims.remove(&index) {
            complete(store, &claim);
        }
    }
}

/// A lost claim here means another worker took the certificate over: it finishes it.
fn complete(store: &dyn StateStore, claim: &Claim) {
    if let Some(Err(e)) = store.shared().map(|pg| pg.complete(claim)) {
        tracing::warn!(key = %claim.key, "could not mark the certificate done: {e}");
    }
}

/// The certificate issued for `request`'s names that makes ordering it now pointless: any
/// issued one, or for a renewal only one issued since the run began.
fn issued_since(
    store: &dyn StateStore,
    directory: &str,
    request: &CertRequest,
    renewing: bool,
    since: Timestamp,
) -> Result<Option<(OrderId, PathBuf)>, StoreError> {
    let Some((id, path)) = store.issued_for(directory, &request.key())? else {
        return Ok(None);
    };
    if !renewing {
        return Ok(Some((id, path)));
    }
    let fresh = store.order(id)?.is_some_and(|o| o.created_at >= since);
    Ok(fresh.then_some((id, path)))
}

/// Whether this worker is the only live one on the database.
pub(super) fn alone(store: &SharedStore) -> Result<bool, BatchError> {
    let store = lock_store(store);
    match store.shared() {
        Some(pg) => Ok(pg.workers()?.iter().filter(|w| w.alive).count() <= 1),
        None => Ok(true),
    }
}
