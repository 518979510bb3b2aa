//! `certdx trial`: ask the CA itself. Thin: the flags into a [`TrialRequest`], Ctrl-C into its
//! cancel signal (the cleanup still runs), the report out as lines or one JSON document.

use std::io::IsTerminal;
use std::process::ExitCode;
use std::time::Duration;

use serde::Serialize;
use tokio::sync::{mpsc, watch};

use super::args::{MethodArg, TrialArgs};
use super::{CliError, EXIT_OK, EXIT_PROBLEMS, TextOrJson, write_output};
use crate::engine::trial::{
    TrialError, TrialMethod, TrialReport, TrialRequest, VerdictStatus, run_trial,
};

#[derive(Serialize)]
struct TrialOutput<'a> {
    schema_version: u32,
    #[serde(flatten)]
    report: &'a TrialReport,
}

/// Runs `certdx trial`.
pub fn run(a: &TrialArgs) -> Result<ExitCode, CliError> {
    let solver = super::issue::solver_config(&a.solver)?;
    // Only an answer certdx publishes is checked; without a solver nothing is.
    let req_checks = match &solver {
        Some(_) => Some(super::issue::check_config(&a.checks)?.1),
        None => None,
    };
    let ca_cert_pem = match &a.ca_cert {
        Some(path) => Some(std::fs::read_to_string(path).map_err(|e| {
            CliError::Usage(format!("cannot read --ca-cert {}: {e}", path.display()))
        })?),
        None => None,
    };
    let (stop, cancel) = watch::channel(false);
    let req = TrialRequest {
        names: a.names.clone(),
        directory: a.directory.clone(),
        ca_cert_pem,
        method: match a.method {
            MethodArg::Http01 => TrialMethod::Http01,
            MethodArg::Dns01 => TrialMethod::Dns01,
        },
        solver,
        checks: req_checks,
        account: super::issue::account_options(&a.account)?,
        state_path: a.state.clone(),
        production: a.production,
        wait: Duration::from_secs(a.wait),
        cancel: Some(cancel),
    };
    // Refused before the runtime starts: a production directory never sees a request.
    req.check().map_err(|e| CliError::Usage(e.to_string()))?;
    let runtime = super::probe::runtime()?;
    let show = a.format == TextOrJson::Text && std::io::stderr().is_terminal();
    let report = runtime.block_on(async {
        let (events, mut received) = mpsc::unbounded_channel();
        let printer = tokio::spawn(async move {
            while let Some(event) = received.recv().await {
                if show {
                    eprintln!("{event}");
                }
            }
        });
        let ctrl_c = tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                eprintln!("stopping: deactivating what is still pending...");
                let _ = stop.send(true);
            }
        });
        let report = run_trial(req, events).await;
        ctrl_c.abort();
        let _ = printer.await;
        report
    });
    let report = report.map_err(|e| {
        let hint = match &e {
            TrialError::Account(e) => super::issue::account_hint(e),
            _ => "",
        };
        CliError::Usage(format!("{e}{hint}"))
    })?;
    let out = match a.format {
        TextOrJson::Json => {
            let doc = TrialOutput {
                schema_version: crate::report::SCHEMA_VERSION,
                report: &report,
            };
            serde_json::to_string_pretty(&doc).expect("serialisable") + "\n"
        }
        TextOrJson::Text => render_text(&report),
    };
    write_output(None, &out)?;
    Ok(ExitCode::from(if report.all_valid() {
        EXIT_OK
    } else {
        EXIT_PROBLEMS
    }))
}

fn render_text(report: &TrialReport) -> String {
    let width = report.names.iter().map(|n| n.name.len()).max().unwrap_or(0);
    let mut s = format!(
        "trial on {} ({})\n\n",
        report.directory,
        report.method.as_str()
    );
    for v in &report.names {
        s.push_str(&format!(
            "{:<13} {:<width$}  {}\n",
            v.status.as_str(),
            v.name,
            v.meaning
        ));
        for f in &v.findings {
            s.push_str(&format!("    {}: {}\n", f.code, f.summary));
            if !f.advice.is_empty() {
                s.push_str(&format!("    advice: {}\n", f.advice));
            }
        }
        if let Some(check) = &v.self_check {
            match &check.finding {
                None => s.push_str(&format!(
                    "    certdx saw its own answer first ({} ms)\n",
                    check.duration_ms
                )),
                Some(f) => s.push_str(&format!(
                    "    certdx's own check failed before the CA looked: {}: {}\n",
                    f.code, f.summary
                )),
            }
        }
        if let Some(secondary) = &v.secondary_validation {
            s.push_str(&format!("    secondary validation: {secondary}\n"));
        }
        for r in &v.validation_record {
            let url = r.url.as_deref().or(r.hostname.as_deref()).unwrap_or("-");
            let used = r.address_used.as_deref().unwrap_or("-");
            s.push_str(&format!(
                "    the CA fetched {url}: resolved [{}], used {used}\n",
                r.addresses_resolved.join(", ")
            ));
        }
        if v.status == VerdictStatus::Undecided {
            s.push_str(&format!(
                "    authorization {}: {}\n",
                v.authorization, v.authorization_status
            ));
        }
    }
    let c = &report.cleanup;
    s.push_str(&format!(
        "\nauthorizations: {} valid (kept), {} invalid, {} deactivated",
        c.valid, c.invalid, c.deactivated
    ));
    if c.leftovers_deactivated > 0 {
        s.push_str(&format!(
            ", {} left by an interrupted trial deactivated",
            c.leftovers_deactivated
        ));
    }
    s.push('\n');
    for f in &c.failed {
        s.push_str(&format!("not settled: {f}\n"));
    }
    s
}
