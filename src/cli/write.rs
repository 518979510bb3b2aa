//! `certdx renew`, and what every guarded write on the command line shares (refusals,
//! confirmation); `certdx retry` is in `retry.rs`.
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

/// `certdx renew CERTIFICATE [-n NS]`: set Issuing=True (ManuallyTriggered) on a Certificate.
pub fn renew(a: &WriteArgs, g: &GlobalArgs) -> Result<ExitCode, CliError> {
    check_target("renew", "Certificate", g)?;
    run(
        |namespace| Action::RenewCertificate {
            namespace,
            name: a.name.clone(),
        },
        a,
        g,
    )
}

/// Refuses what cannot name one object in one cluster. Without `-n` the context's namespace
/// is used, as kubectl does: the plan printed before the confirmation names the namespace.
pub(super) fn check_target(command: &str, kind: &str, g: &GlobalArgs) -> Result<(), CliError> {
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
    Ok(())
}

fn run(
    action: impl FnOnce(String) -> Action,
    a: &WriteArgs,
    g: &GlobalArgs,
) -> Result<ExitCode, CliError> {
    if g.read_only {
        return Err(CliError::Usage(format!(
            "read-only session: {} is a write and --read-only forbids it",
            action(g.namespace.clone().unwrap_or_default())
        )));
    }
    let rt = probe::runtime()?;
    rt.block_on(async {
        let connection = connect(&g.cluster_target()).await?;
        // `-n`, else the context's namespace (the connection resolved it).
        let namespace = connection
            .scope
            .namespace()
            .map(str::to_owned)
            .unwrap_or_default();
        let action = action(namespace);
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
pub(super) fn refuse(reason: &str) -> ExitCode {
    eprintln!("certdx: {reason}");
    ExitCode::from(EXIT_ERROR)
}

/// Asks `Proceed? [y/N]` on stderr and reads one line; anything but y/yes is no.
pub(super) fn confirm() -> bool {
    eprint!("Proceed? [y/N] ");
    let _ = std::io::stderr().flush();
    let mut line = String::new();
    if std::io::stdin().lock().read_line(&mut line).is_err() {
        return false;
    }
    matches!(line.trim().to_ascii_lowercase().as_str(), "y" | "yes")
}
