//! `certdx trial`: ask the CA itself. Thin: the flags into a [`TrialRequest`], Ctrl-C into its
//! cancel signal (the cleanup still runs), the report out as lines or one JSON document.

use std::io::IsTerminal;
use std::process::ExitCode;
use std::time::Duration;

use serde::Serialize;
use tokio::sync::{mpsc, watch};

use super::args::{MethodArg, TrialArgs};
use super::{CliError, EXIT_OK, EXIT_PROBLEMS, TextOrJson, write_output};
use crate::engine::acme::AccountOptions;
use crate::engine::trial::{
    TrialEvent, TrialMethod, TrialReport, TrialRequest, VerdictStatus, run_trial,
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
        account: AccountOptions {
            contact_email: a.email.clone(),
            eab: None,
        },
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
                    eprintln!("{}", progress_line(&event));
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
    let report = report.map_err(|e| CliError::Usage(e.to_string()))?;
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

fn progress_line(event: &TrialEvent) -> String {
    match event {
        TrialEvent::AccountReady { account, created } => {
            let how = if *created { "registered" } else { "restored" };
            format!("account {how}: {account}")
        }
        TrialEvent::LeftoversCleaned { count } => {
            format!("deactivated {count} authorization(s) an interrupted trial left pending")
        }
        TrialEvent::OrderCreated { order, names } => {
            format!("ordered {} name(s): {order}", names.len())
        }
        TrialEvent::ChallengeTriggered { name, answered } => {
            let how = if *answered {
                "answered by certdx"
            } else {
                "not answered"
            };
            format!("challenge triggered for {name} ({how})")
        }
        TrialEvent::NameDecided(v) => format!("{}: {}", v.name, v.status.as_str()),
        TrialEvent::CleanupDone(c) => format!(
            "cleanup: {} valid, {} invalid, {} deactivated",
            c.valid, c.invalid, c.deactivated
        ),
    }
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
