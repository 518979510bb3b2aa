//! Finalization: a new key staged on disk before the CSR goes out, the order followed through
//! `processing` at the CA's pace (its `Retry-After`), the chain downloaded and installed.

use std::path::PathBuf;

use tokio::time::Instant;

use crate::engine::acme::{AcmeError, AcmeOrder, OrderStatus, new_key_and_csr};
use crate::engine::store::OrderId;
use crate::engine::store::pg::leases::Claim;
use crate::model::{Code, Finding};

use super::copies;
use super::error::BatchError;
use super::input::CertRequest;
use super::output;
use super::record::order_status;
use super::report::Stage;
use super::work::{Ctx, Failure};

/// How finalization ended.
pub(super) enum Finalized {
    /// The chain and key are in place and the store says issued.
    Installed { cert: PathBuf, key: PathBuf },
    /// Not issued (yet).
    Failed(Box<Failure>),
    /// The CA finalized the order with a key this run cannot find (the staging file was
    /// removed, or `--out` changed): the certificate would be useless.
    KeyLost,
}

/// Finalizes `order` (ready, processing or valid at the CA) for `request` and installs the
/// certificate under the batch's output directory; on a shared batch the status and the
/// issued record are written under `claim`.
pub(super) async fn finalize(
    ctx: &Ctx,
    claim: Option<&Claim>,
    order: &mut AcmeOrder,
    order_id: OrderId,
    request: &CertRequest,
    deadline: Instant,
) -> Result<Finalized, BatchError> {
    let paths = output::paths(&ctx.out_dir, request.first_name(), order_id);
    if order.info().status == OrderStatus::Ready {
        let (csr, key) = match new_key_and_csr(&request.names, ctx.key_kind) {
            Ok(pair) => pair,
            Err(why) => {
                let finding =
                    Finding::new(Code::AcmeOther, format!("{}: {why}", request.first_name()));
                return Ok(Finalized::Failed(Box::new(Failure::abandoned(
                    Stage::Finalize,
                    finding,
                ))));
            }
        };
        output::stage_key(&paths.staged_key, &key).map_err(|source| BatchError::Output {
            path: paths.staged_key.clone(),
            source,
        })?;
        if let Err(err) = order.finalize_csr(&csr, deadline).await {
            note_failed(ctx, order_id, &err)?;
            return Ok(Finalized::Failed(Box::new(Failure::from_acme(
                &err,
                Stage::Finalize,
            ))));
        }
        ctx.order_status(claim, order_id, order_status(&order.info().status), None)?;
    }
    let chain = match order.poll_certificate(deadline).await {
        Ok(chain) => chain,
        Err(err) => {
            note_failed(ctx, order_id, &err)?;
            return Ok(Finalized::Failed(Box::new(Failure::from_acme(
                &err,
                Stage::Finalize,
            ))));
        }
    };
    if !paths.staged_key.exists() {
        // An interrupted run may have installed both files and died before recording it: the
        // installed chain is this order's, and the key next to it is the staged one.
        let installed = std::fs::read_to_string(&paths.cert).is_ok_and(|c| c == chain);
        if !(installed && paths.key.exists()) {
            return Ok(Finalized::KeyLost);
        }
        copies::keep(&**ctx.store(), order_id, &paths, &chain)?;
        ctx.issued(claim, order_id, &paths.cert)?;
        return Ok(Finalized::Installed {
            cert: paths.cert,
            key: paths.key,
        });
    }
    ctx.still_holds(claim)?;
    output::install(&paths, &chain).map_err(|source| BatchError::Output {
        path: paths.cert.clone(),
        source,
    })?;
    copies::keep(&**ctx.store(), order_id, &paths, &chain)?;
    ctx.issued(claim, order_id, &paths.cert)?;
    Ok(Finalized::Installed {
        cert: paths.cert,
        key: paths.key,
    })
}

/// Records an order the CA reports as failed (finalization refused, issuance failed).
fn note_failed(ctx: &Ctx, order_id: OrderId, err: &AcmeError) -> Result<(), BatchError> {
    if let AcmeError::OrderFailed { status, .. } = err {
        ctx.store()
            .set_order_status(order_id, order_status(status), Some(&err.to_string()))?;
    }
    Ok(())
}
