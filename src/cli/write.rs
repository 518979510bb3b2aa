//! `certdx retry` and `certdx renew`: the two guarded writes, on the live cluster.
//!
//! The decision (fresh read, state check, SelfSubjectAccessReview) is the one the interactive
//! view makes ([`KubeActions::plan`]); this file adds only what a command line needs: the
//! plan printed to stderr, a confirmation on the terminal (or `--yes`), and exit codes (0 done,
//! 2 refused, denied, not found or failed). Nothing is written without confirmation.

use std::io::{BufRead, IsTerminal, Write};
use std::process::ExitCode;

use super::args::{GlobalArgs, WriteArgs};
use super::{CliError, EXIT_ERROR, EXIT_OK, probe};
use crate::actions::Action;
use crate::actions::kube::KubeActions;
use crate::source::cluster::connect;

/// `certdx retry ORDER -n NS`: delete a failed Order so cert-manager creates a new one.
pub fn retry(a: &WriteArgs, g: &GlobalArgs) -> Result<ExitCode, CliError> {
    let namespace = namespace_of("retry", "Order", g)?;
    run(
        Action::RetryOrder {
            namespace,
            name: a.name.clone(),
        },
        a,
        g,
    )
}

/// `certdx renew CERTIFICATE -n NS`: set Issuing=True (ManuallyTriggered) on a Certificate.
pub fn renew(a: &WriteArgs, g: &GlobalArgs) -> Result<ExitCode, CliError> {
    let namespace = namespace_of("renew", "Certificate", g)?;
    run(
        Action::RenewCertificate {
            namespace,
            name: a.name.clone(),
        },
        a,
        g,
    )
}

/// The namespace the write targets: `-n` only. A context's default namespace is not enough:
/// a write should name exactly the object it changes.
fn namespace_of(command: &str, kind: &str, g: &GlobalArgs) -> Result<String, CliError> {
    if g.snapshot.is_some() {
        return Err(CliError::Usage(format!(
            "{command} writes to a live cluster: --snapshot is read-only"
        )));
    }
    if g.all_namespaces {
        return Err(CliError::Usage(format!(
            "{command} changes one {kind}: name its namespace with -n NAMESPACE (-A makes no sense here)"
        )));
    }
    match &g.namespace {
        Some(ns) if !ns.is_empty() => Ok(ns.clone()),
        _ => Err(CliError::Usage(format!(
            "{command} needs the {kind}'s namespace: -n NAMESPACE"
        ))),
    }
}

fn run(action: Action, a: &WriteArgs, g: &GlobalArgs) -> Result<ExitCode, CliError> {
    if g.read_only {
        return Err(CliError::Usage(format!(
            "read-only session: {action} is a write and --read-only forbids it"
        )));
    }
    let rt = probe::runtime()?;
    rt.block_on(async {
        let connection = connect(&g.cluster_target()).await?;
        let actions = KubeActions::new(connection.client.clone(), false);
        let plan = match actions.plan(&action).await {
            Ok(plan) => plan,
            Err(reason) => return Ok(refuse(&reason)),
        };
        eprintln!("context {} ({})", connection.context, connection.server);
        eprintln!(
            "{}{}",
            if a.dry_run { "Would: " } else { "Plan: " },
            plan.describe()
        );
        // A dry run changes nothing, so it needs no confirmation.
        if !a.dry_run && !a.yes {
            if !std::io::stdin().is_terminal() {
                return Ok(refuse(&format!(
                    "not confirmed: standard input is not a terminal, so certdx cannot ask; pass --yes to {action} (nothing changed)"
                )));
            }
            if !confirm() {
                return Ok(refuse("not confirmed: nothing changed"));
            }
        }
        match actions.apply(plan, a.dry_run).await {
            Ok(outcome) => {
                println!("{outcome}");
                Ok(ExitCode::from(EXIT_OK))
            }
            Err(reason) => Ok(refuse(&reason)),
        }
    })
}

/// Prints why nothing was done and returns exit code 2.
fn refuse(reason: &str) -> ExitCode {
    eprintln!("certdx: {reason}");
    ExitCode::from(EXIT_ERROR)
}

/// Asks `Proceed? [y/N]` on stderr and reads one line; anything but y/yes is no.
fn confirm() -> bool {
    eprint!("Proceed? [y/N] ");
    let _ = std::io::stderr().flush();
    let mut line = String::new();
    if std::io::stdin().lock().read_line(&mut line).is_err() {
        return false;
    }
    matches!(line.trim().to_ascii_lowercase().as_str(), "y" | "yes")
}
