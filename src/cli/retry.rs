//! `certdx retry OBJECT`: make cert-manager issue again now. The write is chosen by
//! [`decide_retry`] from a fresh list of the namespace, then planned, confirmed and applied
//! through the same guarded path as the view ([`KubeActions::plan`]: fresh read of the object
//! written, state check, SelfSubjectAccessReview, preconditions). With `--wait` the new
//! attempt is followed to its end.
//!
//! Exit codes: 0 written (with `--wait`: Ready), 1 the attempt failed (`--wait`), 2 refused,
//! denied, not confirmed, or `--wait` gave up.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use jiff::Timestamp;

use super::args::{GlobalArgs, RetryArgs};
use super::source::connect;
use super::write::{check_target, confirm, refuse};
use super::{CliError, EXIT_ERROR, EXIT_OK, EXIT_PROBLEMS, probe};
use crate::actions::Action;
use crate::actions::attempt::{Attempt, AttemptOutcome};
use crate::actions::kube::KubeActions;
use crate::actions::retry::{
    RetryContext, RetryDecision, RetryWrite, current_challenges, decide_retry,
};
use crate::actions::target::find_target;
use crate::diagnose::playbook::{Target, run_many};
use crate::diagnose::{DiagnoseOptions, Diagnosis, diagnose_estate};
use crate::model::{ChainIndex, Inventory, Kind, ObjectRef, Severity};
use crate::source::cluster::Connection;
use crate::source::cluster::list::list_inventory;
use crate::source::cluster::preflight::Preflight;

/// How often `--wait` reads the namespace again.
const POLL: Duration = Duration::from_secs(2);

/// `certdx retry OBJECT [-n NS] [--dry-run] [--force] [--wait [--timeout SECS]]`.
pub fn retry(a: &RetryArgs, g: &GlobalArgs) -> Result<ExitCode, CliError> {
    check_target("retry", "chain", g)?;
    let rt = probe::runtime()?;
    rt.block_on(async {
        let (conn, pre) = connect(g).await?;
        let namespace = conn.scope.namespace().map(str::to_owned).unwrap_or_default();
        let read = Read::now(&conn, &pre).await?;
        let target = match find_target(&read.inventory, &namespace, &a.target) {
            Ok(t) => t,
            Err(why) => return Ok(refuse(&why)),
        };
        let write = match decide_retry(&read.context(), &target) {
            RetryDecision::Refuse(why) => return Ok(refuse(&why)),
            RetryDecision::Write(w) => w,
        };
        let mut write = write;
        eprintln!("context {} ({})", conn.context, conn.server);
        eprintln!("Why: {}", write.why);
        if let Some(blocker) = &write.blocker {
            if !a.force {
                return Ok(refuse(&format!(
                    "not retrying: {blocker}. Wait, or pass --force to retry anyway (nothing changed)"
                )));
            }
            eprintln!("Warning (--force): {blocker}");
        }
        if g.read_only {
            return Ok(refuse(&format!(
                "read-only session: {} is a write and --read-only forbids it (nothing changed)",
                write.action
            )));
        }
        if !a.offline {
            write.warnings.extend(check_current(a, &read, &write).await?);
        }
        for w in &write.warnings {
            eprintln!("Warning: {w}");
        }
        let actions = KubeActions::new(conn.client.clone(), false);
        let plan = match actions.plan(&write.action).await {
            Ok(plan) => plan,
            Err(reason) => return Ok(refuse(&reason)),
        };
        eprintln!(
            "{}{}",
            if a.dry_run { "Would: " } else { "Write: " },
            plan.describe()
        );
        if !a.dry_run && !a.yes {
            if !std::io::IsTerminal::is_terminal(&std::io::stdin()) {
                return Ok(refuse(&format!(
                    "not confirmed: standard input is not a terminal, so certdx cannot ask; pass --yes to {} (nothing changed)",
                    write.action
                )));
            }
            if !confirm() {
                return Ok(refuse("not confirmed: nothing changed"));
            }
        }
        let since = Timestamp::now();
        match actions.apply(plan, a.dry_run).await {
            Ok(outcome) => println!("{outcome}"),
            Err(reason) => return Ok(refuse(&reason)),
        }
        let follow = match (&write.certificate, a.wait, a.dry_run) {
            (Some(cert), true, false) => cert.clone(),
            (None, true, false) => {
                eprintln!("certdx: --wait: no Certificate owns {target}, so there is no attempt to follow");
                return Ok(ExitCode::from(EXIT_OK));
            }
            _ => return Ok(ExitCode::from(EXIT_OK)),
        };
        let attempt = Attempt::begin(follow, &read.inventory, &read.index, since);
        Ok(wait(&conn, &pre, &attempt, Duration::from_secs(a.timeout)).await)
    })
}

/// Runs the playbook on the current attempt's Challenges, from where certdx runs: each one
/// that fails now is a wall the retry runs into again (and a failed validation the account
/// pays for). A released Challenge has nothing to check.
async fn check_current(
    a: &RetryArgs,
    read: &Read,
    write: &RetryWrite,
) -> Result<Vec<String>, CliError> {
    let Some(cert) = &write.certificate else {
        return Ok(Vec::new());
    };
    if matches!(write.action, Action::ReleaseChallenge { .. }) {
        return Ok(Vec::new());
    }
    let challenges = current_challenges(&read.inventory, &read.index, cert);
    if challenges.is_empty() {
        return Ok(Vec::new());
    }
    let probe = a.probe();
    let dns = probe.dns()?;
    let targets: Vec<Target> = challenges
        .iter()
        .map(|ch| Target::from_challenge(ch, &read.inventory))
        .collect();
    eprintln!(
        "Checking the {} Challenge(s) of the current attempt from here (--offline skips this)",
        targets.len()
    );
    let results = run_many(&dns, &targets, &probe.playbook()).await;
    Ok(challenges
        .iter()
        .zip(&results)
        .filter_map(|(ch, r)| {
            let f = r.findings.first().filter(|f| f.severity >= Severity::Error)?;
            Some(format!(
                "certdx's checks on {} fail now, from where certdx runs: {} ({}); unless that is fixed, the retry fails the same way",
                ObjectRef::of(Kind::Challenge, *ch),
                f.summary,
                f.code
            ))
        })
        .collect())
}

/// Follows `attempt` until it ends or `timeout` passes.
async fn wait(
    conn: &Connection,
    pre: &Preflight,
    attempt: &Attempt,
    timeout: Duration,
) -> ExitCode {
    let deadline = Instant::now() + timeout;
    eprintln!(
        "{} of {}: following it (at most {}s)",
        attempt.label(),
        attempt.certificate,
        timeout.as_secs()
    );
    let mut last = String::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        tokio::time::sleep(POLL.min(left)).await;
        match Read::now(conn, pre).await {
            Ok(read) => match attempt.outcome(&read.inventory, &read.index, &read.diagnoses) {
                AttemptOutcome::Ready => {
                    println!(
                        "{} is Ready: attempt {} succeeded",
                        attempt.certificate, attempt.number
                    );
                    return ExitCode::from(EXIT_OK);
                }
                AttemptOutcome::Failed(cause) => {
                    println!("attempt {} failed: {cause}", attempt.number);
                    return ExitCode::from(EXIT_PROBLEMS);
                }
                AttemptOutcome::Running(now) if now != last => {
                    eprintln!("{} {now}", Timestamp::now().strftime("%H:%M:%S"));
                    last = now;
                }
                AttemptOutcome::Running(_) => {}
            },
            // A failed read is one missed look, not the end of the attempt.
            Err(e) => eprintln!("certdx: reading the namespace failed ({e}); trying again"),
        }
        if Instant::now() >= deadline {
            eprintln!(
                "certdx: gave up after {}s: the attempt is still running ({last}); follow it with `certdx -n {}`",
                timeout.as_secs(),
                attempt.certificate.namespace
            );
            return ExitCode::from(EXIT_ERROR);
        }
    }
}

/// One read of the namespace, linked and diagnosed.
struct Read {
    inventory: Inventory,
    index: ChainIndex,
    diagnoses: Vec<Diagnosis>,
    now: Timestamp,
}

impl Read {
    async fn now(conn: &Connection, pre: &Preflight) -> Result<Read, CliError> {
        let inventory = list_inventory(conn, pre).await?;
        let index = ChainIndex::build(&inventory);
        let now = Timestamp::now();
        let diagnoses = diagnose_estate(
            &inventory,
            &index,
            &DiagnoseOptions {
                now,
                ..Default::default()
            },
        );
        Ok(Read {
            inventory,
            index,
            diagnoses,
            now,
        })
    }

    fn context(&self) -> RetryContext<'_> {
        RetryContext {
            inventory: &self.inventory,
            index: &self.index,
            diagnoses: &self.diagnoses,
            now: self.now,
        }
    }
}
