//! `certdx report`: diagnose a snapshot and export the result.

use std::process::ExitCode;

use jiff::Timestamp;

use super::args::GlobalArgs;
use super::probe::LiveChecks;
use super::{CliError, EXIT_OK, EXIT_PROBLEMS, ReportArgs, write_output};
use crate::diagnose::{DiagnoseOptions, add_live_checks, diagnose_estate};
use crate::model::{ChainIndex, Inventory};
use crate::report::{Format, Report, render};

use crate::source::snapshot::{self, Snapshot};

/// Runs `certdx report`.
pub fn run(a: &ReportArgs, g: &GlobalArgs) -> Result<ExitCode, CliError> {
    let Some(path) = &g.snapshot else {
        return Err(CliError::Usage(
            "live clusters are not supported yet: pass --snapshot PATH (e.g. the output of `kubectl get certificates,certificaterequests,orders,challenges,issuers,clusterissuers,events -A -o yaml`)".to_owned(),
        ));
    };
    let started = std::time::Instant::now();
    let snap = snapshot::load(path)?;
    tracing::debug!(elapsed = ?started.elapsed(), objects = snap.inventory.len(), "snapshot loaded");
    for p in &snap.problems {
        tracing::warn!("skipped {p}");
    }
    let live = if a.offline {
        None
    } else {
        Some(a.probe.live()?)
    };
    let report = build_report(
        snap,
        &path.display().to_string(),
        g.namespace.as_deref(),
        g.now.unwrap_or_else(Timestamp::now),
        live.as_ref(),
    );
    tracing::debug!(elapsed = ?started.elapsed(), diagnoses = report.diagnoses.len(), "diagnosed");
    let code = emit(&report, a.format, a.output.as_deref());
    tracing::debug!(elapsed = ?started.elapsed(), "written");
    code
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

/// Diagnoses a loaded snapshot and builds the report.
pub fn build_report(
    snap: Snapshot,
    source: &str,
    namespace: Option<&str>,
    now: Timestamp,
    live: Option<&LiveChecks>,
) -> Report {
    let inventory = match namespace {
        Some(ns) => only_namespace(snap.inventory, ns),
        None => snap.inventory,
    };
    let t = std::time::Instant::now();
    let index = ChainIndex::build(&inventory);
    tracing::debug!(elapsed = ?t.elapsed(), "chain index built");
    let opts = DiagnoseOptions {
        now,
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
    }
    let mut problems: Vec<String> = snap.problems.iter().map(ToString::to_string).collect();
    if !snap.ignored_kinds.is_empty() {
        problems.push(format!(
            "ignored objects of other kinds: {}",
            snapshot::ignored_summary(&snap.ignored_kinds)
        ));
    }
    // Freeing tens of thousands of objects takes longer than writing the report: do it off
    // the critical path (the process may exit before it finishes, which is fine).
    std::thread::spawn(move || drop((inventory, index)));
    Report::new(source, now, diagnoses, problems)
}

/// Keeps the objects of one namespace (and the cluster-scoped ones).
fn only_namespace(mut inv: Inventory, ns: &str) -> Inventory {
    use kube::ResourceExt;
    inv.certificates
        .retain(|o| o.namespace().as_deref() == Some(ns));
    inv.requests
        .retain(|o| o.namespace().as_deref() == Some(ns));
    inv.orders.retain(|o| o.namespace().as_deref() == Some(ns));
    inv.challenges
        .retain(|o| o.namespace().as_deref() == Some(ns));
    inv.issuers.retain(|o| o.namespace().as_deref() == Some(ns));
    inv.events
        .retain(|o| o.involved_object.namespace.as_deref() == Some(ns));
    inv
}
