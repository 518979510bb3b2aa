//! Validating an order's authorizations: record them all, publish the responses (token or
//! TXT), run certdx's own check of each (so a broken local setup fails here, before the CA is
//! asked and before it can count a failed validation), answer, wait for the verdicts, and
//! withdraw the responses.

use futures::future::join_all;
use tokio::time::Instant;

use crate::engine::acme::{
    AcmeError, AcmeOrder, AuthzInfo, AuthzStatus, ChallengeInfo, ChallengeStatus,
};
use crate::engine::scheduler::{Outcome, WorkId};
use crate::engine::store::{
    AuthorizationOutcome, AuthorizationStatus, ChallengeStatus as StoredChallenge, OrderId,
};
use crate::model::{Code, Finding};

use super::error::BatchError;
use super::record::authz_status;
use super::report::Stage;
use super::settle::leave_undecided;
use super::work::{Ctx, Failure};

/// Validates every authorization of `order` (recorded under `order_id`); `Ok(Ok(()))` when
/// all are valid. On every failure path each pending authorization ends answered or left to
/// expire in the store (see `settle`).
pub(super) async fn validate(
    ctx: &Ctx,
    work: WorkId,
    order: &mut AcmeOrder,
    order_id: OrderId,
    deadline: Instant,
) -> Result<Result<(), Failure>, BatchError> {
    let authorizations = match order.authorizations(deadline).await {
        Ok(a) => a,
        Err(err) => return Ok(Err(Failure::from_acme(&err, Stage::Validation))),
    };
    ctx.record(work, order_id, order, &authorizations)?;

    if let Some(failure) = already_failed(ctx, order_id, &authorizations)? {
        return Ok(Err(failure));
    }
    let publisher = &ctx.publisher;
    let kind = publisher.kind();
    let mut to_answer: Vec<(&AuthzInfo, &ChallengeInfo)> = Vec::new();
    let mut answered: Vec<(&AuthzInfo, &ChallengeInfo)> = Vec::new();
    for authz in authorizations
        .iter()
        .filter(|a| a.status == AuthzStatus::Pending)
    {
        let Some(challenge) = authz.challenge(&kind) else {
            let finding = Finding::new(
                Code::SolverNoMatch,
                format!(
                    "the CA offers no {kind} challenge for {}",
                    authz.ordered_name()
                ),
            );
            let why = format!("not answered: {}", finding.summary);
            leave_undecided(&**ctx.store(), order_id, &why)?;
            return Ok(Err(Failure::abandoned(Stage::Validation, finding)));
        };
        // The CA's word, not the store's, decides whether to answer: a "ready" that got a 429
        // or a 503 was never acted on, and one sent just before a crash may have been.
        if challenge.status == ChallengeStatus::Pending {
            to_answer.push((authz, challenge));
        } else {
            answered.push((authz, challenge));
        }
    }
    // Served from now on, including challenges answered by an interrupted run: the CA may be
    // looking at them right now.
    let published = join_all(
        to_answer
            .iter()
            .chain(&answered)
            .map(|(authz, challenge)| publisher.publish(&authz.identifier, challenge)),
    )
    .await;
    let checks = match published.into_iter().find_map(Result::err) {
        Some(finding) => vec![Err(finding)],
        None => {
            join_all(to_answer.iter().map(|(authz, challenge)| {
                publisher.self_check(&ctx.checks, &authz.identifier, challenge, deadline)
            }))
            .await
        }
    };
    if let Some(finding) = checks.into_iter().find_map(Result::err) {
        join_all(
            to_answer
                .iter()
                .map(|(authz, challenge)| publisher.withdraw(&authz.identifier, challenge)),
        )
        .await;
        let why = format!(
            "not answered: certdx's own {kind} check failed first ({}: {})",
            finding.code, finding.summary
        );
        leave_undecided(&**ctx.store(), order_id, &why)?;
        return Ok(Err(Failure::abandoned(Stage::Validation, finding)));
    }

    for (authz, challenge) in &to_answer {
        {
            let store = ctx.store();
            // Recorded before the request: after a crash the store must not claim "never
            // answered" about a challenge the CA may be validating.
            store.challenge_responded(&challenge.url)?;
            store.set_authorization_outcome(
                &authz.url,
                AuthorizationOutcome::Answered,
                &format!("answered over {kind}"),
            )?;
        }
        if let Err(err) = order.set_challenge_ready(&challenge.url, deadline).await {
            leave_undecided(
                &**ctx.store(),
                order_id,
                "not answered: telling the CA another challenge was ready failed first",
            )?;
            return Ok(Err(Failure::from_acme(&err, Stage::Validation)));
        }
        answered.push((authz, challenge));
    }

    let mut failed: Vec<(String, Finding)> = Vec::new();
    for (authz, challenge) in &answered {
        match order.poll_authorization(&authz.url, deadline).await {
            Ok(done) => {
                {
                    let store = ctx.store();
                    store.set_authorization_status(&authz.url, authz_status(&done.status), None)?;
                    store.set_challenge_status(&challenge.url, StoredChallenge::Valid)?;
                }
                publisher.withdraw(&authz.identifier, challenge).await;
            }
            Err(err @ AcmeError::AuthorizationFailed { .. }) => {
                if let AcmeError::AuthorizationFailed { status, .. } = &err {
                    let store = ctx.store();
                    store.set_authorization_status(&authz.url, authz_status(status), None)?;
                    store.set_challenge_status(&challenge.url, StoredChallenge::Invalid)?;
                }
                publisher.withdraw(&authz.identifier, challenge).await;
                failed.push((authz.ordered_name(), err.finding()));
            }
            // No verdict yet: the authorization stays "answered" and its token stays served
            // (taking it away now could make the CA's validation fail); the next attempt reads
            // the verdict from the CA.
            Err(err) => return Ok(Err(Failure::from_acme(&err, Stage::Validation))),
        }
    }
    let Some((_, finding)) = failed.first().cloned() else {
        return Ok(Ok(()));
    };
    Ok(Err(Failure {
        outcome: Outcome::ValidationFailed {
            identifiers: failed.iter().map(|(name, _)| name.clone()).collect(),
            why: finding.summary.clone(),
        },
        stage: Stage::Validation,
        finding,
        pause_until: None,
    }))
}

/// Records the authorizations of an order the CA reports as failed (invalid, deactivated) and
/// says why it failed: an authorization's verdict when one failed, else the order's own error.
/// Nothing is answered: the undecided ones are left to expire.
pub(super) async fn settle_failed_order(
    ctx: &Ctx,
    work: WorkId,
    order: &mut AcmeOrder,
    order_id: OrderId,
    deadline: Instant,
) -> Result<Failure, BatchError> {
    if let Ok(authorizations) = order.authorizations(deadline).await {
        ctx.record(work, order_id, order, &authorizations)?;
        if let Some(failure) = already_failed(ctx, order_id, &authorizations)? {
            return Ok(failure);
        }
    }
    leave_undecided(
        &**ctx.store(),
        order_id,
        "not answered: the order failed at the CA",
    )?;
    let err = AcmeError::OrderFailed {
        url: order.url().to_owned(),
        status: order.info().status.clone(),
        problem: order.info().error.clone().map(Box::new),
    };
    Ok(Failure::from_acme(&err, Stage::Order))
}

/// The order cannot succeed when one of its authorizations is already final and not valid
/// (an interrupted run's verdict, or a deactivation): the undecided others are left to expire,
/// and the failure counts as what it was at the CA.
fn already_failed(
    ctx: &Ctx,
    order_id: OrderId,
    authorizations: &[AuthzInfo],
) -> Result<Option<Failure>, BatchError> {
    let dead: Vec<&AuthzInfo> = authorizations
        .iter()
        .filter(|a| !matches!(a.status, AuthzStatus::Pending | AuthzStatus::Valid))
        .collect();
    let Some(first) = dead.first() else {
        return Ok(None);
    };
    let err = AcmeError::AuthorizationFailed {
        url: first.url.clone(),
        identifier: first.ordered_name(),
        status: first.status.clone(),
        problem: first.problem().cloned().map(Box::new),
    };
    let finding = err.finding();
    let why = format!(
        "not answered: the authorization of {} is {}",
        first.ordered_name(),
        first.status
    );
    leave_undecided(&**ctx.store(), order_id, &why)?;
    let names = |status: AuthorizationStatus| -> Vec<String> {
        dead.iter()
            .filter(|a| authz_status(&a.status) == status)
            .map(|a| a.ordered_name())
            .collect()
    };
    let outcome = match authz_status(&first.status) {
        AuthorizationStatus::Invalid => Outcome::ValidationFailed {
            identifiers: names(AuthorizationStatus::Invalid),
            why: finding.summary.clone(),
        },
        AuthorizationStatus::Deactivated => Outcome::Deactivated {
            identifiers: names(AuthorizationStatus::Deactivated),
            why: finding.summary.clone(),
        },
        // Expired or revoked: the CA counted nothing against the names; start a new order.
        _ => Outcome::Transient {
            retry_after: None,
            why: finding.summary.clone(),
        },
    };
    Ok(Some(Failure {
        outcome,
        stage: Stage::Validation,
        finding,
        pause_until: None,
    }))
}
