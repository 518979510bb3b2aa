//! `certdx report`: diagnose a snapshot or a live cluster and export the result.

use std::path::PathBuf;
use std::process::ExitCode;

use jiff::Timestamp;

use super::args::{FailOn, GlobalArgs};
use super::probe::LiveChecks;
use super::{CliError, EXIT_OK, EXIT_PROBLEMS, ReportArgs, write_output};
use crate::diagnose::cm_health::{attribute, cert_manager_health};
use crate::diagnose::{DiagnoseOptions, add_cluster_checks, add_live_checks, diagnose_estate};
use crate::model::Code;
use crate::model::{ChainIndex, Inventory};
use crate::report::{Format, Report, render};

/// Runs `certdx report`.
pub fn run(a: &ReportArgs, g: &GlobalArgs) -> Result<ExitCode, CliError> {
    let started = std::time::Instant::now();
    let live = if a.offline {
        None
    } else {
        Some(a.probe.live()?)
    };
    let fallback;
    let rt = match &live {
        Some(l) => &l.runtime,
        None => {
            fallback = super::probe::runtime()?;
            &fallback
        }
    };
    let loaded = super::source::load(g, rt)?;
    tracing::debug!(elapsed = ?started.elapsed(), objects = loaded.inventory.len(), "objects loaded");
    // The CA directories' profiles, once per server, when live checks run.
    let directories = match &live {
        Some(l) => {
            let servers = loaded.inventory.acme_servers();
            let timeout = l.playbook.http.timeout;
            let found = l.runtime.block_on(crate::checks::directory::fetch_all(
                servers, &l.dns, timeout,
            ));
            for (url, r) in &found {
                if let Err(why) = r {
                    tracing::warn!(
                        "the ACME directory {url} could not be read ({why}): readiness uses what certdx knows of the CA"
                    );
                }
            }
            found
        }
        None => Default::default(),
    };
    let mut report = build_report(
        loaded.inventory,
        loaded.problems,
        &loaded.label,
        loaded.now,
        live.as_ref(),
        loaded.cluster.as_ref().map(|(c, _)| (&c.client, rt)),
        directories,
        a.readiness,
    );
    report.clock = loaded.clock;
    report.checked_from = Some(live.as_ref().map_or_else(
        || "none (--offline): only the objects were read".to_owned(),
        LiveChecks::vantage,
    ));
    tracing::debug!(elapsed = ?started.elapsed(), diagnoses = report.diagnoses.len(), "diagnosed");
    let (format, file) = output_choice(a)?;
    let code = emit(&report, format, file.as_deref()).map(|code| {
        // `--fail-on` narrows exit 1 to one class; `any` keeps every problem.
        let codes: &[Code] = match a.fail_on {
            FailOn::Any => return code,
            FailOn::Expiring => &[Code::CertificateExpiring],
            FailOn::Overdue => &[Code::RenewalOverdue, Code::NotReconciled],
        };
        let present = report
            .diagnoses
            .iter()
            .flat_map(|d| &d.findings)
            .any(|f| codes.contains(&f.code) && f.severity.is_problem());
        ExitCode::from(if present { EXIT_PROBLEMS } else { EXIT_OK })
    });
    tracing::debug!(elapsed = ?started.elapsed(), "written");
    code
}

/// The format and file the flags ask for. `-o` takes a format name as kubectl does, or a
/// file; `--output-file` is always a file.
pub fn output_choice(a: &ReportArgs) -> Result<(Format, Option<PathBuf>), CliError> {
    use clap::ValueEnum;
    let named = a
        .output
        .as_deref()
        .and_then(|o| Format::from_str(if o == "md" { "markdown" } else { o }, true).ok());
    let format = match (a.format, named) {
        (Some(f), Some(g)) if f != g => {
            return Err(CliError::Usage(format!(
                "--format {} and -o {} disagree: give one (a file named like a format: --output-file)",
                f.extension(),
                a.output.as_deref().unwrap_or_default()
            )));
        }
        (Some(f), _) | (None, Some(f)) => f,
        (None, None) => Format::Markdown,
    };
    let file = match (&a.output_file, named, &a.output) {
        (Some(f), _, _) => Some(f.clone()),
        (None, None, Some(o)) => Some(PathBuf::from(o)),
        _ => None,
    };
    Ok((format, file))
}

/// Writes the report and maps it to the exit code.
pub(super) fn emit(
    report: &Report,
    format: Format,
    output: Option<&std::path::Path>,
) -> Result<ExitCode, CliError> {
    write_output(output, &render(report, format))?;
    if let Some(p) = output {
        eprintln!(
            "certdx: wrote {} ({} diagnoses)",
            p.display(),
            report.diagnoses.len()
        );
    }
    Ok(ExitCode::from(if report.has_problems() {
        EXIT_PROBLEMS
    } else {
        EXIT_OK
    }))
}

/// Diagnoses loaded objects and builds the report; `problems` are what limited the load.
/// With `live`, the playbook runs on the failing Challenges, and with `cluster` too, their
/// cluster side (solver objects, controller logs). With `cluster`, cert-manager's own health
/// is read (also offline: it is objects, not network checks) and made the root cause of the
/// Certificates it leaves stuck. `directories` are the CA directories fetched for the
/// readiness findings; `readiness` makes it a `--readiness` report.
#[allow(clippy::too_many_arguments)]
pub fn build_report(
    inventory: Inventory,
    problems: Vec<String>,
    source: &str,
    now: Timestamp,
    live: Option<&LiveChecks>,
    cluster: Option<(&kube::Client, &tokio::runtime::Runtime)>,
    directories: crate::model::profile::Directories,
    readiness: bool,
) -> Report {
    let t = std::time::Instant::now();
    let index = ChainIndex::build(&inventory);
    tracing::debug!(elapsed = ?t.elapsed(), "chain index built");
    // cert-manager's health is objects, read before the diagnosis: the controller's flags
    // say which backoff the readiness findings measure against.
    let mut health = cluster.map(|(client, rt)| rt.block_on(cert_manager_health(client, now)));
    let opts = DiagnoseOptions {
        now,
        directories,
        backoff: health
            .as_ref()
            .and_then(|h| h.issuance_backoff.clone())
            .unwrap_or_default(),
        ..Default::default()
    };
    let mut diagnoses = diagnose_estate(&inventory, &index, &opts);
    tracing::debug!(elapsed = ?t.elapsed(), "estate diagnosed");
    if let Some(live) = live {
        let checked = live.runtime.block_on(add_live_checks(
            &mut diagnoses,
            &inventory,
            &live.dns,
            &live.playbook,
        ));
        tracing::debug!(elapsed = ?t.elapsed(), checked, "live checks done");
        if let Some((client, _)) = cluster {
            let looked = live.runtime.block_on(add_cluster_checks(
                &mut diagnoses,
                &inventory,
                client,
                &live.dns,
            ));
            tracing::debug!(elapsed = ?t.elapsed(), looked, "cluster checks done");
        }
    }
    // Freeing tens of thousands of objects takes longer than writing the report: do it off
    // the critical path (the process may exit before it finishes, which is fine).
    std::thread::spawn(move || drop((inventory, index)));
    if let Some(h) = health.as_mut() {
        let blocked = attribute(&mut diagnoses, h);
        tracing::debug!(elapsed = ?t.elapsed(), state = ?h.state, blocked, "cert-manager health read");
    }
    let mut report = if readiness {
        Report::readiness(source, now, diagnoses, problems)
    } else {
        Report::new(source, now, diagnoses, problems)
    };
    report.cert_manager = health;
    report
}
