//! One attempt at one certificate: find or create its order, validate, finalize, install. Runs
//! as its own task; everything it learns goes to the state store before it acts on it.

use std::path::PathBuf;
use std::sync::{Arc, MutexGuard};
use std::time::Duration;

use jiff::Timestamp;
use tokio::sync::mpsc;
use tokio::time::Instant;

use instant_acme::CertificateIdentifier;

use crate::engine::acme::{
    AcmeClient, AcmeError, AcmeOrder, AuthzInfo, KeyKind, OrderOptions, OrderStatus,
};
use crate::engine::scheduler::{Outcome, WorkId};
use crate::engine::store::pg::leases::Claim;
use crate::engine::store::{self, AccountId, OrderId, StateStore};
use crate::model::{Code, Finding};

use super::config::CheckConfig;
use super::error::BatchError;
use super::finalize::{Finalized, finalize};
use super::input::CertRequest;
use super::progress::{ItemState, Reporter};
use super::record::{order_status, record_authorizations};
use super::report::Stage;
use super::responder::Publisher;
use super::settle::leave_undecided;
use super::validate::{settle_failed_order, validate};
use super::{SharedStore, lock_store};

/// What every attempt shares: the store, the account, the solver, the checks.
pub(super) struct Ctx {
    pub store: SharedStore,
    pub client: AcmeClient,
    pub account: AccountId,
    pub publisher: Publisher,
    pub checks: CheckConfig,
    pub batch_deadline: Instant,
    pub attempt_timeout: Duration,
    pub out_dir: PathBuf,
    pub key_kind: KeyKind,
    /// Bounds the newOrder requests in flight (`BatchConfig::new_order_concurrency`).
    pub new_orders: Option<tokio::sync::Semaphore>,
    /// Tells the loop that an item's authorizations are in the store (the scheduler's pending
    /// cap then counts them there).
    pub recorded: mpsc::UnboundedSender<WorkId>,
    /// Where each attempt says which stage it is in.
    pub reporter: Arc<Reporter>,
    /// The certificate profile every newOrder asks for (`--profile`).
    pub profile: Option<String>,
}

impl Ctx {
    /// The store, for one short synchronous call (never held across an `.await`).
    pub(super) fn store(&self) -> MutexGuard<'_, Box<dyn StateStore>> {
        lock_store(&self.store)
    }

    /// Records an order's status, under `claim` when the batch is shared (see
    /// [`Ctx::issued`]).
    pub(super) fn order_status(
        &self,
        claim: Option<&Claim>,
        order: OrderId,
        status: store::OrderStatus,
        error: Option<&str>,
    ) -> Result<(), BatchError> {
        let store = self.store();
        match (claim, store.shared()) {
            (Some(claim), Some(pg)) => pg.set_order_status_under(claim, order, status, error)?,
            _ => store.set_order_status(order, status, error)?,
        }
        Ok(())
    }

    /// On a shared batch, fails with [`StoreError::LeaseLost`] unless this worker still holds
    /// `claim`: checked before files are installed, so a worker that lost the certificate to
    /// another does not overwrite what that one installed.
    pub(super) fn still_holds(&self, claim: Option<&Claim>) -> Result<(), BatchError> {
        let store = self.store();
        if let (Some(claim), Some(pg)) = (claim, store.shared()) {
            pg.under_claim(claim, |_| Ok(()))?;
        }
        Ok(())
    }

    /// Records an order issued. On a shared batch the write is made under the worker's claim
    /// on the certificate, so a worker whose lease ran out (stopped, cut off) while another
    /// took its certificate over records nothing when it comes back: the store refuses.
    pub(super) fn issued(
        &self,
        claim: Option<&Claim>,
        order: OrderId,
        path: &std::path::Path,
    ) -> Result<(), BatchError> {
        let store = self.store();
        match (claim, store.shared()) {
            (Some(claim), Some(pg)) => pg.issued_under(claim, order, path)?,
            _ => store.issued(order, path)?,
        }
        Ok(())
    }

    /// Records `order`'s authorizations as the CA has them now and tells the loop, whose
    /// pending-authorization cap then counts them from the store.
    pub(super) fn record(
        &self,
        work: WorkId,
        order_id: OrderId,
        order: &AcmeOrder,
        authorizations: &[AuthzInfo],
    ) -> Result<(), BatchError> {
        record_authorizations(
            &**self.store(),
            order_id,
            authorizations,
            order.info().expires,
        )?;
        // Losing the event only makes the pending cap count too high until the item ends.
        let _ = self.recorded.send(work);
        Ok(())
    }
}

/// Why an attempt did not issue, and what the scheduler should make of it.
#[derive(Debug, Clone)]
pub(super) struct Failure {
    pub outcome: Outcome,
    pub stage: Stage,
    pub finding: Finding,
    /// When the CA asked the whole account to wait (a 503, or an account-wide rate limit):
    /// no new work starts before it.
    pub pause_until: Option<Timestamp>,
}

impl Failure {
    /// A failure that cost nothing at the CA and will not get better by retrying.
    pub(super) fn abandoned(stage: Stage, finding: Finding) -> Failure {
        Failure {
            outcome: Outcome::Abandoned {
                why: finding.summary.clone(),
            },
            stage,
            finding,
            pause_until: None,
        }
    }

    /// The failure an ACME error means: retried through the scheduler when the CA did not
    /// judge anything (transport, deadline, badNonce, 429, 5xx), with its `Retry-After`.
    pub(super) fn from_acme(err: &AcmeError, stage: Stage) -> Failure {
        let finding = err.finding();
        let why = err.to_string();
        let status = err.status();
        let transient = matches!(
            err,
            AcmeError::Transport { .. } | AcmeError::Deadline { .. }
        ) || err.is_bad_nonce()
            || err.is_rate_limited()
            || status.is_some_and(|s| s >= 500);
        let retry_after = err.retry_after();
        // A rate limit on the account (new orders, registrations, an unnamed one) or a busy CA
        // holds every request back; a limit on one name's certificates holds only that name.
        let account_wide = status == Some(503)
            || (err.is_rate_limited()
                && matches!(
                    finding.code,
                    Code::RatelimitNewOrders
                        | Code::RatelimitNewRegistrations
                        | Code::RatelimitPendingAuthorizations
                        | Code::RatelimitOther
                ));
        Failure {
            outcome: if transient {
                Outcome::Transient { retry_after, why }
            } else {
                Outcome::Abandoned { why }
            },
            stage,
            finding,
            pause_until: retry_after.filter(|_| account_wide),
        }
    }
}

/// How an attempt ended.
#[derive(Debug)]
pub(super) enum Ended {
    /// Issued and installed.
    Issued { cert: PathBuf, key: PathBuf },
    /// Not issued.
    Failed(Box<Failure>),
}

/// An attempt's end, with the order it worked on (the next attempt continues that order while
/// it is open).
#[derive(Debug)]
pub(super) struct ItemEnd {
    pub ended: Ended,
    pub order: Option<OrderId>,
    pub order_url: Option<String>,
    /// Why the CA's refusal made the order go without `replaces`, when it did.
    pub replaces_dropped: Option<String>,
}

impl ItemEnd {
    fn failed(failure: Failure, order: Option<OrderId>, order_url: Option<String>) -> ItemEnd {
        ItemEnd {
            ended: Ended::Failed(Box::new(failure)),
            order,
            order_url,
            replaces_dropped: None,
        }
    }
}

/// Runs one attempt at `request`, continuing the stored order `resume` while it is open.
pub(super) async fn run_item(
    ctx: Arc<Ctx>,
    work: WorkId,
    index: usize,
    request: CertRequest,
    resume: Option<OrderId>,
    replaces: Option<CertificateIdentifier<'static>>,
    claim: Option<Claim>,
) -> Result<ItemEnd, BatchError> {
    let claim = claim.as_ref();
    let deadline = (Instant::now() + ctx.attempt_timeout).min(ctx.batch_deadline);
    let identifiers = request.key();
    let mut replaces_dropped = None;
    let (mut order_id, mut order) = match open_stored(&ctx, resume, deadline).await? {
        Opened::Order(id, mut order) => {
            note_validated(&ctx, work, &mut order, id, deadline).await?;
            (id, *order)
        }
        Opened::Failed(failure) => return Ok(ItemEnd::failed(*failure, resume, None)),
        Opened::Nothing => {
            match new_order(&ctx, &identifiers, replaces.as_ref(), deadline).await? {
                Ok(made) => {
                    replaces_dropped = made.replaces_dropped;
                    (made.id, made.order)
                }
                Err(failure) => return Ok(ItemEnd::failed(failure, None, None)),
            }
        }
    };
    // At most one fresh start: when an order was finalized but its key is gone.
    for _ in 0..2 {
        let url = order.url().to_owned();
        ctx.order_status(claim, order_id, order_status(&order.info().status), None)?;
        if order.info().status.is_final() && order.info().status != OrderStatus::Valid {
            let failure = settle_failed_order(&ctx, work, &mut order, order_id, deadline).await?;
            return Ok(ItemEnd::failed(failure, Some(order_id), Some(url)));
        }
        if order.info().status == OrderStatus::Pending {
            ctx.reporter.item(index, ItemState::Validating);
            if let Err(failure) = validate(&ctx, work, &mut order, order_id, deadline).await? {
                return Ok(ItemEnd::failed(failure, Some(order_id), Some(url)));
            }
            if let Err(err) = order.poll_ready(deadline).await {
                note_order_end(&ctx, order_id, &err)?;
                let failure = Failure::from_acme(&err, Stage::Validation);
                return Ok(ItemEnd::failed(failure, Some(order_id), Some(url)));
            }
            ctx.order_status(claim, order_id, order_status(&order.info().status), None)?;
        }
        ctx.reporter.item(index, ItemState::Finalizing);
        match finalize(&ctx, claim, &mut order, order_id, &request, deadline).await? {
            Finalized::Installed { cert, key } => {
                return Ok(ItemEnd {
                    ended: Ended::Issued { cert, key },
                    order: Some(order_id),
                    order_url: Some(url),
                    replaces_dropped,
                });
            }
            Finalized::Failed(failure) => {
                return Ok(ItemEnd::failed(*failure, Some(order_id), Some(url)));
            }
            Finalized::KeyLost => {
                ctx.store().set_order_status(
                    order_id,
                    store::OrderStatus::Abandoned,
                    Some("finalized, but the staged certificate key is gone: ordered again"),
                )?;
                match new_order(&ctx, &identifiers, None, deadline).await? {
                    Ok(made) => (order_id, order) = (made.id, made.order),
                    Err(failure) => return Ok(ItemEnd::failed(failure, None, None)),
                }
            }
        }
    }
    let finding = Finding::new(
        Code::AcmeOther,
        format!(
            "{}: the certificate key was lost twice",
            request.first_name()
        ),
    );
    Ok(ItemEnd::failed(
        Failure::abandoned(Stage::Finalize, finding),
        Some(order_id),
        None,
    ))
}

/// A reopened order the CA already validated (ready, processing, valid) skips validation; its
/// authorizations are recorded as the CA has them now, so the store does not keep calling
/// "answered" what an interrupted run never saw validated.
async fn note_validated(
    ctx: &Ctx,
    work: WorkId,
    order: &mut AcmeOrder,
    order_id: OrderId,
    deadline: Instant,
) -> Result<(), BatchError> {
    if !matches!(
        order.info().status,
        OrderStatus::Ready | OrderStatus::Processing | OrderStatus::Valid
    ) {
        return Ok(());
    }
    // A failed fetch changes nothing: the order goes on, the record stays as it was.
    if let Ok(authorizations) = order.authorizations(deadline).await {
        ctx.record(work, order_id, order, &authorizations)?;
    }
    Ok(())
}

/// Records how an order ended at the CA after a failed poll, when it did end.
fn note_order_end(ctx: &Ctx, order_id: OrderId, err: &AcmeError) -> Result<(), BatchError> {
    if let AcmeError::OrderFailed { status, .. } = err {
        let store = ctx.store();
        store.set_order_status(order_id, order_status(status), Some(&err.to_string()))?;
        leave_undecided(
            &**store,
            order_id,
            "the order failed: never answered, left to expire",
        )?;
    }
    Ok(())
}

enum Opened {
    Order(OrderId, Box<AcmeOrder>),
    Failed(Box<Failure>),
    Nothing,
}

/// Reopens the stored order `resume` at the CA while it is open there and here.
async fn open_stored(
    ctx: &Ctx,
    resume: Option<OrderId>,
    deadline: Instant,
) -> Result<Opened, BatchError> {
    let Some(id) = resume else {
        return Ok(Opened::Nothing);
    };
    let Some(record) = ctx.store().order(id)? else {
        return Ok(Opened::Nothing);
    };
    if record.status.is_final() {
        return Ok(Opened::Nothing);
    }
    let Some(url) = record.order_url else {
        // Recorded before newOrder, never answered: the CA may or may not have made it. Let's
        // Encrypt would hand back the same pending authorizations to a new order anyway.
        ctx.store().set_order_status(
            id,
            store::OrderStatus::Abandoned,
            Some("interrupted before the CA answered newOrder: replaced by a new order"),
        )?;
        return Ok(Opened::Nothing);
    };
    match ctx.client.order(&url, deadline).await {
        Ok(order) => Ok(Opened::Order(id, Box::new(order))),
        Err(err) => {
            let failure = Failure::from_acme(&err, Stage::Order);
            if matches!(failure.outcome, Outcome::Transient { .. }) {
                return Ok(Opened::Failed(Box::new(failure)));
            }
            // The CA no longer knows it (expired, another account): close it and start over.
            let store = ctx.store();
            store.set_order_status(id, store::OrderStatus::Abandoned, Some(&err.to_string()))?;
            leave_undecided(&**store, id, "the order is gone at the CA: left to expire")?;
            Ok(Opened::Nothing)
        }
    }
}

/// Records an order, then asks the CA for it, with the run's profile and, for a renewal, the
/// certificate it replaces. A CA that refuses the `replaces` (already replaced, not this
/// account's certificate, unknown) gets the same order without it: the renewal matters more
/// than the CA's replacement bookkeeping; why is recorded on the order and returned.
async fn new_order(
    ctx: &Ctx,
    identifiers: &[String],
    replaces: Option<&CertificateIdentifier<'static>>,
    deadline: Instant,
) -> Result<Result<NewOrderOutcome, Failure>, BatchError> {
    let mut options = OrderOptions {
        profile: ctx.profile.clone(),
        replaces: replaces.cloned(),
    };
    let mut dropped = None;
    loop {
        let replaces_text = options.replaces.as_ref().map(ToString::to_string);
        match new_order_once(ctx, identifiers, &options, deadline).await? {
            Err((err, id)) if replaces_text.is_some() && replaces_refused(&err) => {
                let why = format!(
                    "the CA refused `replaces` {}: {err}; ordered without it",
                    replaces_text.unwrap_or_default()
                );
                ctx.store()
                    .set_order_status(id, store::OrderStatus::Abandoned, Some(&why))?;
                dropped = Some(why);
                options.replaces = None;
            }
            Err((err, _)) => return Ok(Err(Failure::from_acme(&err, Stage::Order))),
            Ok((id, order)) => {
                return Ok(Ok(NewOrderOutcome {
                    id,
                    order,
                    replaces_dropped: dropped,
                }));
            }
        }
    }
}

/// A created order, and why its `replaces` was dropped if it was.
pub(super) struct NewOrderOutcome {
    pub id: OrderId,
    pub order: AcmeOrder,
    pub replaces_dropped: Option<String>,
}

/// Whether the CA refused the order because of its `replaces` field (RFC 9773 section 5;
/// Boulder answers alreadyReplaced, or unauthorized / malformed / notFound naming the
/// replaced certificate).
fn replaces_refused(err: &AcmeError) -> bool {
    let Some(problem) = err.problem() else {
        return false;
    };
    let kind = problem.kind.as_deref().unwrap_or_default();
    let detail = problem
        .detail
        .as_deref()
        .unwrap_or_default()
        .to_ascii_lowercase();
    kind.ends_with(":alreadyReplaced")
        || ([":unauthorized", ":malformed", ":notFound"]
            .iter()
            .any(|k| kind.ends_with(k))
            && detail.contains("replace"))
}

/// One newOrder: recorded first (with what it asks for), then sent. `Err` carries the order
/// record, already closed (or left `new` when the answer was lost).
async fn new_order_once(
    ctx: &Ctx,
    identifiers: &[String],
    options: &OrderOptions,
    deadline: Instant,
) -> Result<Result<(OrderId, AcmeOrder), (AcmeError, OrderId)>, BatchError> {
    let id = ctx.store().begin_order(ctx.account, identifiers)?;
    ctx.store().note_order_request(
        id,
        options.profile.as_deref(),
        options
            .replaces
            .as_ref()
            .map(ToString::to_string)
            .as_deref(),
    )?;
    // The semaphore is never closed, so acquiring only fails if it were.
    let _permit = match &ctx.new_orders {
        Some(limit) => limit.acquire().await.ok(),
        None => None,
    };
    match ctx
        .client
        .new_order_with(identifiers, options, deadline)
        .await
    {
        Ok(order) => {
            let finalize = order.info().finalize.clone();
            let survivor = ctx.store().set_order_url(
                id,
                order.url(),
                Some(finalize.as_str()).filter(|f| !f.is_empty()),
            )?;
            Ok(Ok((survivor, order)))
        }
        Err(err) => {
            // An answer lost after the request may have left means the CA may have created the
            // order: the record stays `new` for the reconciliation (`reconcile`) to look up.
            let status = if answer_lost(&err) {
                store::OrderStatus::New
            } else {
                store::OrderStatus::Abandoned
            };
            ctx.store()
                .set_order_status(id, status, Some(&format!("newOrder failed: {err}")))?;
            Ok(Err((err, id)))
        }
    }
}

/// Whether newOrder may have reached the CA and been acted on though no answer came: the
/// connection broke or timed out after the request could have left.
fn answer_lost(err: &AcmeError) -> bool {
    matches!(
        err,
        AcmeError::Transport {
            maybe_sent: true,
            ..
        } | AcmeError::Deadline { .. }
    )
}
