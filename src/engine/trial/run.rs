//! The trial: account, one order, each challenge triggered (answered when certdx can), the
//! CA's verdicts polled, then the cleanup, whatever happened in between.

use std::sync::Mutex;
use std::time::Duration;

use futures::StreamExt;
use futures::stream::FuturesUnordered;
use serde::Serialize;
use tokio::sync::mpsc::UnboundedSender;
use tokio::sync::watch;
use tokio::time::Instant;

use crate::engine::acme::{
    AcmeClient, AcmeConfig, AcmeOrder, AuthzInfo, AuthzStatus, ChallengeInfo, ChallengeKind,
};
use crate::engine::batch::account::{contact_uris, restore};
use crate::engine::batch::responder::{Publisher, Responder};
use crate::engine::batch::{CheckConfig, StateLock};
use crate::engine::store::{AccountId, AuthorizationOutcome, Store};

use super::TrialError;
use super::cleanup::{CleanupSummary, Tracker, lock, settle_leftovers, store_status};
use super::event::TrialEvent;
use super::request::{DirectoryKind, TrialMethod, TrialRequest};
use super::verdict::{NameVerdict, SelfCheck, VerdictStatus, verdict};

/// How long the account, the order and its authorizations may take to set up.
const SETUP_BOUND: Duration = Duration::from_secs(60);
/// How long a trial waits for another run holding the state store.
const LOCK_BOUND: Duration = Duration::from_secs(30);
/// The first and the longest pause between two polls of the pending authorizations.
const POLL_FIRST: Duration = Duration::from_millis(200);
const POLL_MAX: Duration = Duration::from_secs(3);

/// What a trial found: the document `certdx trial --format json` prints.
#[derive(Debug, Clone, Serialize)]
pub struct TrialReport {
    /// The directory tried.
    pub directory: String,
    /// What kind of directory it is.
    pub directory_kind: DirectoryKind,
    /// The method triggered.
    pub method: TrialMethod,
    /// The account used.
    pub account: String,
    /// The order (none when it could not be created: see the error instead).
    pub order: Option<String>,
    /// The verdict per name, in the order given.
    pub names: Vec<NameVerdict>,
    /// What the cleanup did.
    pub cleanup: CleanupSummary,
    /// How long the trial took, cleanup included.
    pub duration_ms: u64,
}

impl TrialReport {
    /// Whether the CA would issue for every name.
    pub fn all_valid(&self) -> bool {
        self.names.iter().all(|n| n.status.is_positive())
    }
}

/// Runs a trial (see the module documentation of [`crate::engine::trial`]). Refuses a production
/// directory without [`TrialRequest::production`] before any request. `events` gets the
/// progress; a closed receiver is fine.
pub async fn run_trial(
    req: TrialRequest,
    events: UnboundedSender<TrialEvent>,
) -> Result<TrialReport, TrialError> {
    let directory_kind = req.check()?;
    let started = Instant::now();
    let emit = |e: TrialEvent| {
        let _ = events.send(e);
    };
    let _lock = StateLock::acquire(&req.state_path, Instant::now() + LOCK_BOUND, || {}).await?;
    let store = Mutex::new(Store::open(&req.state_path)?);
    let mut acme = AcmeConfig::new(req.directory.trim().to_owned());
    if let Some(pem) = &req.ca_cert_pem {
        acme = acme.with_ca_cert_pem(pem.clone());
    }
    let setup = Instant::now() + SETUP_BOUND;
    let (client, account_id, created) = account(&store, &acme, &req, setup).await?;
    emit(TrialEvent::AccountReady {
        account: client.account_url().to_owned(),
        created,
    });
    let leftovers = settle_leftovers(&client, &store, &acme.directory_url, setup).await;
    if leftovers > 0 {
        emit(TrialEvent::LeftoversCleaned { count: leftovers });
    }
    let responder = match &req.solver {
        Some(solver) => Some(
            Responder::start(solver, None)
                .await
                .map_err(|e| TrialError::Solver(e.to_string()))?,
        ),
        None => None,
    };
    let publisher = responder.as_ref().map(Responder::publisher);
    let mut tracker = Tracker::new(client.clone(), req.state_path.clone());
    let outcome = {
        let work = trial_work(
            &req,
            &client,
            &store,
            account_id,
            publisher.as_ref(),
            &mut tracker,
            &emit,
        );
        tokio::select! {
            result = work => result,
            () = cancelled(req.cancel.clone()) => Err(TrialError::Cancelled),
        }
    };
    let (mut cleanup, ends) = tracker.finish(&store, publisher.as_ref()).await;
    if let Some(responder) = responder {
        responder.shutdown().await;
    }
    cleanup.leftovers_deactivated = leftovers;
    emit(TrialEvent::CleanupDone(cleanup.clone()));
    let (order, mut names) = outcome?;
    for v in &mut names {
        if let Some((_, end)) = ends.iter().find(|(url, _)| *url == v.authorization) {
            v.authorization_status.clone_from(end);
        }
    }
    Ok(TrialReport {
        directory: acme.directory_url.clone(),
        directory_kind,
        method: req.method,
        account: client.account_url().to_owned(),
        order: Some(order),
        names,
        cleanup,
        duration_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
    })
}

/// Resolves when `cancel` turns true; never without one (or once its sender is gone).
async fn cancelled(cancel: Option<watch::Receiver<bool>>) {
    let Some(mut rx) = cancel else {
        return std::future::pending().await;
    };
    loop {
        if *rx.borrow_and_update() {
            return;
        }
        if rx.changed().await.is_err() {
            return std::future::pending().await;
        }
    }
}

/// The store's account for the directory, or a new one stored before use (as `certdx issue`).
async fn account(
    store: &Mutex<Store>,
    acme: &AcmeConfig,
    req: &TrialRequest,
    deadline: Instant,
) -> Result<(AcmeClient, AccountId, bool), TrialError> {
    let stored = lock(store).account(&acme.directory_url)?;
    if let Some(record) = stored {
        let client = restore(&record, acme, deadline)
            .await
            .map_err(TrialError::Account)?;
        return Ok((client, record.id, false));
    }
    let client = AcmeClient::create_account(acme, &req.account, deadline)
        .await
        .map_err(TrialError::Account)?;
    let id = lock(store).upsert_account(
        &acme.directory_url,
        client.account_url(),
        &client.credentials().to_string(),
        &contact_uris(&req.account),
    )?;
    Ok((client, id, true))
}

/// A name whose challenge was triggered, waiting for the CA.
struct Waiting {
    authz: AuthzInfo,
    answered: bool,
    self_check: Option<SelfCheck>,
}

/// certdx's own check of the answer it published for `a`, from where it runs; `None` when
/// checks are off. DNS-01 is retried until the self-check timeout, since the point is to let
/// the record reach every authoritative server before the CA looks. HTTP-01 is tried once: a
/// token is served or not, and a failure here may be only this host's view (no hairpin NAT to
/// its own public address), so the CA is asked at once and its verdict decides.
async fn self_check(
    publisher: Option<&Publisher>,
    checks: Option<&CheckConfig>,
    a: &AuthzInfo,
    challenge: &ChallengeInfo,
    emit: &impl Fn(TrialEvent),
) -> Option<SelfCheck> {
    let (publisher, checks) = (publisher?, checks?);
    let once;
    let checks = if publisher.kind() == ChallengeKind::Http01 {
        once = CheckConfig {
            self_check_timeout: Duration::ZERO,
            ..checks.clone()
        };
        &once
    } else {
        checks
    };
    let started = Instant::now();
    let result = publisher
        .self_check(
            checks,
            &a.identifier,
            challenge,
            started + checks.self_check_timeout,
        )
        .await;
    let check = SelfCheck {
        passed: result.is_ok(),
        duration_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        finding: result.err(),
    };
    emit(TrialEvent::SelfChecked {
        name: a.ordered_name(),
        passed: check.passed,
        summary: check.finding.as_ref().map(|f| f.summary.clone()),
    });
    Some(check)
}

/// The order, the triggers and the polling: returns the order URL and the verdicts, in the
/// order of the names given. Everything it creates is in `tracker` before the CA hears of it.
async fn trial_work(
    req: &TrialRequest,
    client: &AcmeClient,
    store: &Mutex<Store>,
    account_id: AccountId,
    publisher: Option<&Publisher>,
    tracker: &mut Tracker,
    emit: &impl Fn(TrialEvent),
) -> Result<(String, Vec<NameVerdict>), TrialError> {
    let mut names: Vec<String> = Vec::new();
    for n in &req.names {
        let n = n.trim().trim_end_matches('.').to_ascii_lowercase();
        if !n.is_empty() && !names.contains(&n) {
            names.push(n);
        }
    }
    let setup = Instant::now() + SETUP_BOUND;
    let order_id = lock(store).begin_trial_order(account_id, &names)?;
    tracker.order = Some((order_id, None));
    let mut order = client
        .new_order(&names, setup)
        .await
        .map_err(TrialError::Order)?;
    let order_id =
        lock(store).set_order_url(order_id, order.url(), Some(&order.info().finalize))?;
    tracker.order = Some((order_id, Some(order.url().to_owned())));
    emit(TrialEvent::OrderCreated {
        order: order.url().to_owned(),
        names: names.clone(),
    });
    let authorizations = order
        .authorizations(setup)
        .await
        .map_err(TrialError::Order)?;
    for a in &authorizations {
        if let Some(status) = store_status(&a.status) {
            lock(store).record_authorization(order_id, &a.url, &a.identifier, status, None)?;
        }
        tracker.authorizations.push(a.url.clone());
    }

    let kind = req.method.kind();
    let mut verdicts: Vec<NameVerdict> = Vec::new();
    let mut ready: Vec<(AuthzInfo, ChallengeInfo, bool)> = Vec::new();
    for a in authorizations {
        let challenge = a.challenge(&kind).cloned();
        let (AuthzStatus::Pending, Some(challenge)) = (&a.status, challenge) else {
            // Already decided (a valid authorization the CA reused), or no challenge of the
            // method: the verdict is what the CA holds now.
            let v = verdict(&a, None, &kind, false, a.status == AuthzStatus::Valid);
            emit(TrialEvent::NameDecided(Box::new(v.clone())));
            verdicts.push(v);
            continue;
        };
        let mut answered = false;
        if let Some(publisher) = publisher {
            tracker
                .published
                .push((a.identifier.clone(), challenge.clone()));
            match publisher.publish(&a.identifier, &challenge).await {
                Ok(()) => answered = true,
                Err(f) => {
                    tracing::warn!(name = %a.identifier, why = %f.summary, "publishing the response failed: triggered unanswered")
                }
            }
        }
        ready.push((a, challenge, answered));
    }
    // Each name is triggered as soon as certdx has seen its own answer (or given up on it):
    // a slow name never holds back the others.
    let mut checked: FuturesUnordered<_> = ready
        .into_iter()
        .map(|(a, challenge, answered)| async move {
            let check = match answered {
                true => self_check(publisher, req.checks.as_ref(), &a, &challenge, emit).await,
                false => None,
            };
            (a, challenge, answered, check)
        })
        .collect();
    let mut waiting: Vec<Waiting> = Vec::new();
    while let Some((a, challenge, answered, self_check)) = checked.next().await {
        let why = if answered {
            "trial: answered by certdx"
        } else {
            "trial: triggered without an answer, for the CA's verdict"
        };
        lock(store).set_authorization_outcome(&a.url, AuthorizationOutcome::Answered, why)?;
        if let Err(e) = order.set_challenge_ready(&challenge.url, setup).await {
            // The CA refused to start (a paused account, a rate limit): that is its verdict.
            let mut v = verdict(&a, None, &kind, answered, false);
            v.status = VerdictStatus::Invalid;
            v.findings = e.findings();
            v.problem = e.problem().cloned();
            v.meaning = format!(
                "the CA refused to validate {}: {}",
                a.ordered_name(),
                v.findings
                    .first()
                    .map_or_else(|| e.to_string(), |f| f.summary.clone())
            );
            let v = v.with_self_check(self_check);
            emit(TrialEvent::NameDecided(Box::new(v.clone())));
            verdicts.push(v);
            continue;
        }
        emit(TrialEvent::ChallengeTriggered {
            name: a.ordered_name(),
            answered,
        });
        waiting.push(Waiting {
            authz: a,
            answered,
            self_check,
        });
    }

    poll(
        &mut order,
        store,
        &kind,
        req.wait,
        &mut waiting,
        &mut verdicts,
        emit,
    )
    .await;
    for w in waiting {
        let v = verdict(&w.authz, None, &kind, w.answered, false).with_self_check(w.self_check);
        emit(TrialEvent::NameDecided(Box::new(v.clone())));
        verdicts.push(v);
    }
    // In the order the names were given.
    verdicts.sort_by_key(|v| {
        names
            .iter()
            .position(|n| *n == v.name)
            .unwrap_or(usize::MAX)
    });
    Ok((order.url().to_owned(), verdicts))
}

/// Polls every waiting authorization until the CA decides or `wait` passes; decided ones move
/// to `verdicts` (their status recorded).
async fn poll(
    order: &mut AcmeOrder,
    store: &Mutex<Store>,
    kind: &crate::engine::acme::ChallengeKind,
    wait: Duration,
    waiting: &mut Vec<Waiting>,
    verdicts: &mut Vec<NameVerdict>,
    emit: &impl Fn(TrialEvent),
) {
    let until = Instant::now() + wait;
    let mut pause = POLL_FIRST;
    while !waiting.is_empty() && Instant::now() + pause < until {
        tokio::time::sleep(pause).await;
        pause = (pause.mul_f32(1.5)).min(POLL_MAX);
        let mut still = Vec::with_capacity(waiting.len());
        for w in waiting.drain(..) {
            let fetched = order.authorization_document(&w.authz.url, until).await;
            let Ok((authz, raw)) = fetched else {
                // A read that failed is tried again at the next poll (bounded by `until`).
                still.push(w);
                continue;
            };
            if authz.status == AuthzStatus::Pending {
                still.push(Waiting { authz, ..w });
                continue;
            }
            if let Some(status) = store_status(&authz.status) {
                let _ = lock(store).set_authorization_status(&authz.url, status, None);
            }
            let v = verdict(&authz, raw.as_ref(), kind, w.answered, false)
                .with_self_check(w.self_check);
            emit(TrialEvent::NameDecided(Box::new(v.clone())));
            verdicts.push(v);
        }
        *waiting = still;
    }
}
