//! The batch's loop: set up (lock, store, solver, account, preflight, resume), then admit work
//! from the scheduler, run each admitted item as a task, feed its end back to the scheduler,
//! and finally settle every authorization and build the report.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use jiff::Timestamp;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::engine::scheduler::{Disposition, Outcome, Scheduler, Waiting, WorkId, WorkItem};
use crate::engine::store::{OrderId, OrderRecord, OrderStatus, StoreError};
use crate::model::profile::{KnownCa, lets_encrypt_limits};
use crate::model::{Code, Finding};

use super::account::open_account;
use super::config::BatchConfig;
use super::copies;
use super::error::BatchError;
use super::gate::{Gate, Verdict};
use super::lock_store;
use super::output;
use super::preflight::{CaDomain, check_profile, preflight, profile_refusal};
use super::progress::{BatchProgress, ItemProgress, ItemState, Phase, Reporter};
use super::reconcile::reconcile;
use super::renewal::{self, Renewal};
use super::report::{BatchReport, BatchSummary, CertResult, CertStatus, Stage};
use super::responder::Responder;
use super::results::{
    Tracked, already_issued, count, done_elsewhere, failed, issued, join_detail, millis,
    show_result, waited,
};
use super::settle::{close_orders, decide_the_rest, settle_store};
use super::shared::{CLAIM_POLL, Claimed, Shared, alone};
use super::state;
use super::work::{Ctx, Ended, Failure, ItemEnd, run_item};

/// How long work still running at the run's deadline may take to wind down (every request and
/// poll has its own deadline already; this only guards against a bug) before it is aborted.
const WIND_DOWN: Duration = Duration::from_secs(60);
/// How often a worker of a shared batch reads the fleet for its progress view.
const FLEET_GLANCE_EVERY: Duration = Duration::from_secs(1);
/// How long closing stale orders may take at the end of a run.
const SETTLE_TIME: Duration = Duration::from_secs(30);

/// Runs a batch to its end. `progress`, if given, receives snapshots as the batch goes.
///
/// Interrupting the run (Ctrl-C, `kill -9`) is safe by design: everything is in the state
/// store before the CA hears of it, and the next run with the same `--state` resumes.
pub async fn run_batch(
    config: BatchConfig,
    progress: Option<watch::Sender<BatchProgress>>,
) -> Result<BatchReport, BatchError> {
    let started = Instant::now();
    let deadline = started + config.batch_timeout;
    let reporter = Arc::new(Reporter::new(progress));
    let requests = config.requests.clone();
    reporter.update(|p| {
        p.certificates = requests.len();
        p.items = requests
            .iter()
            .map(|r| ItemProgress {
                names: r.names.clone(),
                ..ItemProgress::default()
            })
            .collect();
    });
    let directory = config.acme.directory_url.clone();

    let state = state::open(&config, deadline, || {
        reporter.update(|p| p.phase = Phase::WaitingForLock);
    })
    .await?;
    reporter.update(|p| p.phase = Phase::Starting);
    output::ensure_dir(&config.out_dir).map_err(|source| BatchError::Output {
        path: config.out_dir.clone(),
        source,
    })?;
    let worker = state.worker;
    let store = Mutex::new(state.store);
    let solver = Responder::start(&config.solver, state.responses).await?;
    let publisher = solver.publisher();
    let challenge_type = publisher.challenge_type();

    reporter.update(|p| p.phase = Phase::Account);
    let mut acme = config.acme.clone();
    // Every Retry-After of a 429 or 503 goes back to the scheduler, which holds the item (and,
    // for an account-wide limit, all new work) until then, instead of each request sleeping it
    // out on its own and sixty of them coming back at the same instant.
    acme.policy.max_retry_after = Duration::ZERO;
    let account = open_account(&store, &acme, &config.account, deadline).await?;
    if let Some(asked) = &config.profile {
        check_profile(asked, &account.client.profiles())?;
    }

    let mut tracked: Vec<Tracked> = requests.iter().map(|_| Tracked::default()).collect();
    let policy = renewal::Policy {
        window: config.renew_before,
        force: config.force,
    };
    let earlier = renewal::earlier_runs(
        &store,
        &account.client,
        &directory,
        &config.out_dir,
        &requests,
        policy,
        deadline,
    )
    .await?;
    for ((request, t), earlier) in requests.iter().zip(&mut tracked).zip(earlier) {
        match earlier {
            Some(Renewal::Keep {
                cert,
                not_after,
                renew_from,
                copied,
            }) => {
                let mut result = already_issued(request, cert, not_after, copied);
                result.renew_from = Some(renew_from);
                t.result = Some(result);
            }
            Some(Renewal::Renew { why }) => {
                t.renewing = Some(why);
                t.replaces = renewal::replaced_id(&store, &directory, request);
            }
            None => {}
        }
    }

    let preflight_started = Instant::now();
    let names: Vec<String> = requests
        .iter()
        .zip(&tracked)
        .filter(|(_, t)| t.result.is_none())
        .flat_map(|(r, _)| r.names.iter().cloned())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    reporter.update(|p| {
        p.phase = Phase::Preflight;
        p.preflight_total = names.len();
    });
    let ca = CaDomain::resolve(config.checks.ca_domain.as_deref(), &directory);
    let blocked = preflight(&names, &config.checks, &publisher, &ca, || {
        reporter.update(|p| p.preflight_done += 1);
    })
    .await;
    // The profile's own limits, where certdx knows them (Let's Encrypt's), stop a certificate
    // before it costs an order; elsewhere the CA's answer says it.
    let limits = config.profile.as_deref().and_then(|p| {
        (KnownCa::of_server(&directory) == Some(KnownCa::LetsEncrypt))
            .then(|| lets_encrypt_limits(p))
            .flatten()
    });
    for (request, t) in requests.iter().zip(&mut tracked) {
        if t.result.is_some() {
            continue;
        }
        let refused = limits
            .as_ref()
            .and_then(|l| profile_refusal(&request.names, l))
            .or_else(|| request.names.iter().find_map(|n| blocked.get(n)).cloned());
        if let Some(finding) = refused {
            let result = failed(request, t, Stage::Preflight, finding);
            t.result = Some(result);
        }
    }
    reporter.update(|p| {
        let now = Timestamp::now();
        for (item, t) in p.items.iter_mut().zip(&tracked) {
            item.since = Some(now);
            match &t.result {
                Some(r) => show_result(item, r),
                None => item.state = ItemState::Queued,
            }
        }
    });
    let preflight_ms = millis(preflight_started.elapsed());

    // Orders an interrupted run sent newOrder for and never saw answered: looked up at the CA
    // first, so one this run still wants is continued below instead of ordered twice.
    let wanted: BTreeSet<Vec<String>> = requests
        .iter()
        .zip(&tracked)
        .filter(|(_, t)| t.result.is_none())
        .map(|(r, _)| r.key())
        .collect();
    let reconcile_deadline = (Instant::now() + SETTLE_TIME).min(deadline);
    // Another live worker's newOrder may be in flight right now, its record still `new`:
    // looking up unanswered orders is only safe while no other worker runs.
    let reconciled = if worker.is_none() || alone(&store)? {
        reconcile(
            &store,
            &account.client,
            &directory,
            &wanted,
            reconcile_deadline,
        )
        .await?
    } else {
        Default::default()
    };
    let mut interrupted = reconciled.report;

    // Orders an interrupted run left open: continued when this run asks for the same names,
    // closed at the end otherwise. Unconfirmed ones the CA could not be asked about now are
    // kept as they are, for the next run to look up.
    let mut open: BTreeMap<Vec<String>, Vec<OrderRecord>> = BTreeMap::new();
    for order in lock_store(&store).orders_to_resume(&directory)? {
        if order.status == OrderStatus::New && order.order_url.is_none() {
            continue;
        }
        open.entry(order.identifiers.clone())
            .or_default()
            .push(order);
    }
    let mut scheduler_config = config.scheduler.clone();
    let max_in_flight = scheduler_config.max_in_flight.max(1);
    scheduler_config.directory_url = directory.clone();
    let mut gate = worker.map(|w| {
        Gate::new(
            w,
            &directory,
            max_in_flight,
            scheduler_config.max_pending_authorizations,
            config.worker_lease,
        )
    });
    let mut scheduler = Scheduler::new(scheduler_config, &**lock_store(&store))?;
    let mut work_of: HashMap<WorkId, usize> = HashMap::new();
    let mut fresh = Vec::new();
    let mut touched: BTreeSet<OrderId> = reconciled.touched.into_iter().collect();
    let now = Timestamp::now();
    let mut shared = match worker {
        Some(worker) => {
            // Every worker offers the whole batch and then claims certificates one at a time;
            // an open order of one of them is continued by whoever claims it (`claim_more`).
            for key in &wanted {
                open.remove(key);
            }
            let pending: Vec<(usize, bool)> = tracked
                .iter()
                .enumerate()
                .filter(|(_, t)| t.result.is_none())
                .map(|(i, t)| (i, t.renewing.is_some()))
                .collect();
            let finished: Vec<usize> = tracked
                .iter()
                .enumerate()
                .filter(|(_, t)| {
                    t.result
                        .as_ref()
                        .is_some_and(|r| r.status == CertStatus::AlreadyIssued)
                })
                .map(|(i, _)| i)
                .collect();
            Some(Shared::offer(
                worker,
                &requests,
                &pending,
                &finished,
                config.worker_lease,
                &config.out_dir,
                &**lock_store(&store),
            )?)
        }
        None => None,
    };
    for (i, request) in requests.iter().enumerate() {
        if tracked[i].result.is_some() || shared.is_some() {
            continue;
        }
        let resume = open.get_mut(&request.key()).and_then(|orders| {
            // The newest order the CA answered is continued; the others are closed at the end.
            let pick = orders.iter().rposition(|o| o.order_url.is_some())?;
            Some(orders.remove(pick).id)
        });
        match resume {
            Some(order) => {
                let item = WorkItem::resume(order, request.key(), challenge_type);
                let id = scheduler.enqueue(item, now)?;
                work_of.insert(id, i);
                tracked[i].order = Some(order);
                tracked[i].resumed = true;
                touched.insert(order);
            }
            None => fresh.push(i),
        }
    }
    for i in fresh {
        let item = WorkItem::new(requests[i].key(), challenge_type);
        let id = scheduler.enqueue(item, now)?;
        work_of.insert(id, i);
    }
    let leftovers: Vec<OrderRecord> = open.into_values().flatten().collect();

    let (recorded, mut recorded_rx) = mpsc::unbounded_channel();
    let ctx = Arc::new(Ctx {
        store,
        client: account.client.clone(),
        account: account.id,
        publisher,
        checks: config.checks.clone(),
        batch_deadline: deadline,
        attempt_timeout: config.attempt_timeout,
        out_dir: config.out_dir.clone(),
        key_kind: config.key_kind,
        new_orders: config
            .new_order_concurrency
            .map(|n| tokio::sync::Semaphore::new(n.max(1))),
        recorded,
        reporter: Arc::clone(&reporter),
        profile: config.profile.clone(),
    });
    reporter.update(|p| p.phase = Phase::Issuing);

    let mut tasks: JoinSet<Result<ItemEnd, BatchError>> = JoinSet::new();
    let mut task_work: HashMap<tokio::task::Id, WorkId> = HashMap::new();
    let mut paused_until: Option<Timestamp> = None;
    let mut pause_finding: Option<Finding> = None;
    let run_started = Timestamp::now();
    let mut glanced: Option<Instant> = None;
    let fatal = loop {
        let now = Timestamp::now();
        let past_deadline = Instant::now() >= deadline;
        let paused = paused_until.is_some_and(|p| p > now);
        let mut others_busy = false;
        if let Some(sh) = shared.as_mut().filter(|_| !past_deadline && !paused) {
            let room = max_in_flight.saturating_sub(tasks.len() + scheduler.queued_len());
            let claimed = sh.claim_more(room, &**ctx.store(), &directory, &requests, run_started);
            for c in claimed? {
                match c {
                    Claimed::Done { index, copy } => {
                        let result = done_elsewhere(&requests[index], copy);
                        reporter.update(|p| {
                            if let Some(item) = p.items.get_mut(index) {
                                show_result(item, &result);
                            }
                        });
                        tracked[index].result = Some(result);
                    }
                    Claimed::Work { index, resume } => {
                        let key = requests[index].key();
                        scheduler.refresh_names(&key, &**ctx.store())?;
                        let item = match resume {
                            Some(order) => {
                                tracked[index].order = Some(order);
                                tracked[index].resumed = true;
                                touched.insert(order);
                                WorkItem::resume(order, key, challenge_type)
                            }
                            None => WorkItem::new(key, challenge_type),
                        };
                        let id = scheduler.enqueue(item, now)?;
                        work_of.insert(id, index);
                    }
                }
            }
            // Its own claims are the scheduler's business; only the others' keep it waiting.
            others_busy = sh.unfinished(&**ctx.store())? > sh.claims.len() as u64;
            if glanced.is_none_or(|at| at.elapsed() >= FLEET_GLANCE_EVERY) {
                glanced = Some(Instant::now());
                let fleet = sh.glance(&**ctx.store(), &directory)?;
                reporter.update(|p| p.fleet = fleet);
            }
        }
        if !past_deadline && !paused {
            let admitted = scheduler.next_ready(now, &**ctx.store())?;
            for a in admitted {
                let Some(&i) = work_of.get(&a.id) else {
                    continue;
                };
                if let Some(gate) = gate.as_mut() {
                    match gate.admit(&**ctx.store(), &a, now)? {
                        Verdict::Go => {}
                        Verdict::Later(at) => {
                            scheduler.defer(a.id, at)?;
                            continue;
                        }
                        Verdict::Paused { until, reason } => {
                            scheduler.defer(a.id, until)?;
                            paused_until = Some(paused_until.map_or(until, |p| p.max(until)));
                            pause_finding = Some(Finding::new(
                                Code::AcmeOther,
                                format!(
                                    "the CA asked every worker to wait until {until}: {reason}"
                                ),
                            ));
                            continue;
                        }
                    }
                }
                let t = &mut tracked[i];
                t.attempts = a.attempt;
                t.started.get_or_insert((now, Instant::now()));
                reporter.update(|p| {
                    if let Some(item) = p.items.get_mut(i) {
                        item.attempts = a.attempt;
                        item.retry_at = None;
                    }
                });
                reporter.item(i, ItemState::Ordering);
                let handle = tasks.spawn(run_item(
                    Arc::clone(&ctx),
                    a.id,
                    i,
                    requests[i].clone(),
                    t.order,
                    t.replaces.clone(),
                    shared.as_ref().and_then(|sh| sh.claims.get(&i).cloned()),
                ));
                task_work.insert(handle.id(), a.id);
            }
        }
        reporter.update(|p| {
            p.in_flight = tasks.len();
            p.queued = scheduler.queued_len();
            p.paused_until = paused_until.filter(|t| *t > now);
            count(p, &tracked);
        });
        let mut wake = if paused {
            paused_until
        } else {
            scheduler.next_wakeup(now)
        };
        if shared.is_some() {
            // Certificates other workers hold are looked at again soon, to take over any whose
            // worker stopped renewing its lease; and a worker that was stopped past its own
            // lease learns it here (the store refuses it) even while its attempts are still
            // waiting on the CA.
            let again = now + CLAIM_POLL;
            wake = Some(wake.map_or(again, |w| w.min(again)));
        }
        if tasks.is_empty() && !others_busy {
            let nothing_before_deadline =
                wake.is_none_or(|at| instant_of(at) >= deadline) || past_deadline;
            if scheduler.is_idle() || nothing_before_deadline {
                break None;
            }
        }
        let mut sleep_until = wake.map_or(deadline, instant_of).min(deadline);
        if past_deadline {
            sleep_until = deadline + WIND_DOWN;
            if Instant::now() >= sleep_until {
                tasks.abort_all();
            }
        }
        tokio::select! {
            Some(joined) = tasks.join_next_with_id(), if !tasks.is_empty() => {
                let now = Timestamp::now();
                let (task, end) = match joined {
                    Ok((task, Ok(end))) => (task, end),
                    Ok((task, Err(BatchError::Store(StoreError::LeaseLost { key, .. })))) => {
                        // Another worker took this certificate over while this one was stopped
                        // or cut off: it is theirs now, nothing more is recorded here.
                        let finding = Finding::new(
                            Code::AcmeOther,
                            format!("{key}: this worker lost its claim; another worker took it over"),
                        );
                        let end = ItemEnd {
                            ended: Ended::Failed(Box::new(Failure::abandoned(Stage::Order, finding))),
                            order: None,
                            order_url: None,
                            replaces_dropped: None,
                        };
                        let lost = task_work.get(&task).and_then(|w| work_of.get(w));
                        if let (Some(i), Some(sh)) = (lost, shared.as_mut()) {
                            sh.claims.remove(i);
                        }
                        (task, end)
                    }
                    Ok((_, Err(fatal))) => break Some(fatal),
                    Err(join) => {
                        let finding = Finding::new(
                            Code::AcmeOther,
                            format!("the attempt stopped unexpectedly: {join}"),
                        );
                        let end = ItemEnd {
                            ended: Ended::Failed(Box::new(Failure::abandoned(Stage::Order, finding))),
                            order: None,
                            order_url: None,
                            replaces_dropped: None,
                        };
                        (join.id(), end)
                    }
                };
                let Some(work) = task_work.remove(&task) else { continue };
                if let Some(gate) = gate.as_mut() {
                    gate.release(&**ctx.store(), work);
                }
                let Some(&i) = work_of.get(&work) else { continue };
                let t = &mut tracked[i];
                if let Some(order) = end.order {
                    touched.insert(order);
                    t.order = Some(order);
                }
                if end.order_url.is_some() {
                    t.order_url = end.order_url;
                }
                if end.replaces_dropped.is_some() {
                    t.replaces_dropped = end.replaces_dropped;
                }
                match end.ended {
                    Ended::Issued { cert, key } => {
                        scheduler.finished(work, Outcome::Succeeded, now, &**ctx.store())?;
                        if let Some(sh) = shared.as_mut() {
                            sh.complete(i, &**ctx.store());
                        }
                        let result = issued(&requests[i], t, cert, key);
                        if let Some(tx) = &config.on_issued {
                            // A listener that has gone away only misses the news.
                            let _ = tx.send(result.clone());
                        }
                        reporter.update(|p| {
                            if let Some(item) = p.items.get_mut(i) {
                                show_result(item, &result);
                            }
                        });
                        t.result = Some(result);
                    }
                    Ended::Failed(failure) => {
                        let failure = *failure;
                        if let Some(until) = failure.pause_until {
                            paused_until = Some(paused_until.map_or(until, |p| p.max(until)));
                            pause_finding = Some(failure.finding.clone());
                            if let (Some(gate), Ok(wait)) =
                                (gate.as_ref(), Duration::try_from(until.duration_since(now)))
                            {
                                gate.pause(&**ctx.store(), wait, &failure.finding.summary);
                            }
                        }
                        let disposition =
                            scheduler.finished(work, failure.outcome, now, &**ctx.store())?;
                        let (stage, mut finding) = (failure.stage, failure.finding);
                        t.last = Some((stage, finding.clone()));
                        let result = match disposition {
                            Disposition::Retry { not_before } => {
                                reporter.update(|p| {
                                    if let Some(item) = p.items.get_mut(i) {
                                        item.last = Some(finding.clone());
                                        item.retry_at = Some(not_before).filter(|t| *t > now);
                                    }
                                });
                                reporter.item(i, ItemState::Retrying);
                                None
                            }
                            Disposition::Done => Some(failed(&requests[i], t, stage, finding)),
                            Disposition::GaveUp { why } => {
                                finding.detail = join_detail(&finding.detail, &why);
                                Some(failed(&requests[i], t, stage, finding))
                            }
                        };
                        if let Some(result) = result {
                            if let Some(sh) = shared.as_mut() {
                                sh.complete(i, &**ctx.store());
                            }
                            reporter.update(|p| {
                                if let Some(item) = p.items.get_mut(i) {
                                    show_result(item, &result);
                                }
                            });
                            t.result = Some(result);
                        }
                    }
                }
            }
            Some(work) = recorded_rx.recv() => {
                // The item may have ended already: nothing is reserved for it then.
                let _ = scheduler.authorizations_recorded(work);
                if let Some(gate) = gate.as_mut() {
                    gate.recorded(&**ctx.store(), work);
                }
            }
            () = tokio::time::sleep_until(sleep_until) => {}
        }
    };
    if let Some(fatal) = fatal {
        tasks.abort_all();
        while tasks.join_next().await.is_some() {}
        // Best effort: the store may be what failed.
        let _ = decide_the_rest(&**ctx.store());
        solver.shutdown().await;
        return Err(fatal);
    }

    // On a shared batch, what this worker does not hold was another worker's.
    if let Some(sh) = &shared {
        sh.settle_the_rest(
            &mut tracked,
            &**ctx.store(),
            &directory,
            &requests,
            run_started,
        )?;
    }
    copies::announce(config.on_issued.as_ref(), &tracked);
    // What never finished: reported with the last reason it failed, else why it waited.
    let waiting: HashMap<WorkId, Waiting> = scheduler
        .progress(Timestamp::now())
        .queued
        .into_iter()
        .map(|q| (q.id, q.waiting))
        .collect();
    for (&work, &i) in &work_of {
        let t = &mut tracked[i];
        if t.result.is_some() {
            continue;
        }
        let (stage, finding) = match (t.last.clone(), &pause_finding) {
            (Some(last), _) => last,
            (None, Some(pause)) => (Stage::Waiting, pause.clone()),
            (None, None) => (Stage::Waiting, waited(&requests[i], waiting.get(&work))),
        };
        let result = failed(&requests[i], t, stage, finding);
        t.result = Some(result);
    }

    reporter.update(|p| {
        p.phase = Phase::Settling;
        p.in_flight = 0;
        p.queued = 0;
        count(p, &tracked);
        for (item, t) in p.items.iter_mut().zip(&tracked) {
            if let Some(r) = &t.result {
                show_result(item, r);
            }
        }
    });
    let settle_deadline = Instant::now() + SETTLE_TIME;
    let settled = close_orders(&ctx.store, &ctx.client, &leftovers, settle_deadline).await?;
    // newOrder answers this run lost (timeouts, broken connections): nothing continues them now.
    let late = if worker.is_none() || alone(&ctx.store)? {
        reconcile(
            &ctx.store,
            &ctx.client,
            &directory,
            &BTreeSet::new(),
            settle_deadline,
        )
        .await?
    } else {
        Default::default()
    };
    touched.extend(late.touched);
    interrupted.add(late.report);
    let authorizations = settle_store(&ctx, &directory, &config.out_dir, &touched)?;
    solver.shutdown().await;

    let certificates: Vec<CertResult> = tracked
        .into_iter()
        .zip(&requests)
        .map(|(t, r)| {
            t.result.unwrap_or_else(|| {
                let finding = Finding::new(Code::AcmeOther, "never scheduled (internal error)");
                failed(r, &Tracked::default(), Stage::Waiting, finding)
            })
        })
        .collect();
    let mut summary = BatchSummary::of(&certificates, started.elapsed(), authorizations);
    summary.settled_orders = settled;
    summary.interrupted_orders = interrupted;
    summary.preflight_ms = preflight_ms;
    reporter.update(|p| {
        p.phase = Phase::Done;
        p.issued = summary.issued;
        p.already_issued = summary.already_issued;
        p.failed = summary.failed;
    });
    Ok(BatchReport {
        directory_url: directory,
        account_url: account.client.account_url().to_owned(),
        account_created: account.created,
        state: match &config.state_postgres {
            Some(url) => PathBuf::from(url.to_string()),
            None => config.state_path.clone(),
        },
        out_dir: config.out_dir.clone(),
        certificates,
        summary,
    })
}

/// The monotonic instant matching wall-clock `at` (now if it has passed).
fn instant_of(at: Timestamp) -> Instant {
    let left = at.duration_since(Timestamp::now());
    Instant::now() + Duration::try_from(left).unwrap_or(Duration::ZERO)
}
