//! `T`: asks the CA itself, through the engine, whether it can validate the focused
//! Certificate's names (or the selected Challenge's), on the issuer's staging CA; shows the
//! trial's progress as it arrives and merges the CA's verdict into the diagnosis like a
//! live check, so it can become the root cause and is exported with it.

use super::super::app::{App, StatusKind, TrialRun};
use super::super::cmd::Cmd;
use super::nav::refresh_visible;
use crate::engine::trial::{
    DirectoryKind, TrialEvent, TrialMethod, TrialReport, classify_directory, staging_counterpart,
};
use crate::model::{Kind, ObjectRef};

/// What a trial of the focus asks: the Certificate it belongs to, the names, the method.
struct Ask {
    subject: ObjectRef,
    names: Vec<String>,
    method: TrialMethod,
    /// The issuer's ACME server.
    server: String,
}

/// `T` pressed.
pub fn start(app: &mut App) -> Vec<Cmd> {
    if let Some(why) = &app.trial_off {
        let text = format!("T asks the CA itself, which this view cannot: {why}");
        app.say(StatusKind::Info, text);
        return Vec::new();
    }
    let ask = match what_to_ask(app) {
        Ok(a) => a,
        Err(why) => {
            app.say(StatusKind::Info, why);
            return Vec::new();
        }
    };
    if app.trials.get(&ask.subject).is_some_and(TrialRun::running) {
        app.say(
            StatusKind::Info,
            format!("a trial of {} is still running", ask.subject),
        );
        return Vec::new();
    }
    let directory = match directory_for(app.trial_directory.as_deref(), &ask.server) {
        Ok(d) => d,
        Err(why) => {
            app.say(StatusKind::Info, why);
            return Vec::new();
        }
    };
    let id = app.next_id;
    app.next_id += 1;
    app.say(
        StatusKind::Info,
        format!(
            "asking {directory} to validate {} by {} (nothing is answered: the CA's own view; pending authorizations are deactivated)",
            ask.names.join(", "),
            ask.method.as_str()
        ),
    );
    app.trials.insert(
        ask.subject.clone(),
        TrialRun {
            id,
            directory: directory.clone(),
            names: ask.names.clone(),
            started: app.clock,
            progress: Vec::new(),
            report: None,
            error: None,
        },
    );
    vec![Cmd::Trial {
        id,
        names: ask.names,
        directory,
        method: ask.method,
    }]
}

/// The directory a trial for an issuer on `server` uses: the one the command line gave, the
/// server itself when it is a staging or test CA, else its staging counterpart. A production
/// CA without one is refused here: from the view, a failure must cost the account nothing.
fn directory_for(configured: Option<&str>, server: &str) -> Result<String, String> {
    if let Some(d) = configured {
        return Ok(d.to_owned());
    }
    match classify_directory(server) {
        DirectoryKind::Staging { .. } | DirectoryKind::Test => Ok(server.to_owned()),
        DirectoryKind::Production { ca, staging } => {
            match staging.or_else(|| staging_counterpart(server)) {
                Some(s) => Ok(s.to_owned()),
                None => Err(format!(
                    "{} runs no staging CA, and a failed trial on production counts toward the account's failed-validation limit: start the view with --trial-directory URL (a staging CA that sees your names the same way), or run `certdx trial NAME --directory {server} --production` if you accept the cost",
                    ca.unwrap_or("this issuer's CA")
                )),
            }
        }
    }
}

/// The focused Certificate (or selected Challenge) as a trial: names, method, issuer server.
fn what_to_ask(app: &App) -> Result<Ask, String> {
    let (Some(e), Some(i)) = (app.estate.as_ref(), app.focused_diagnosis()) else {
        return Err("select a Certificate or a Challenge to ask the CA about".to_owned());
    };
    let d = &e.diagnoses[i];
    if d.subject.kind != Kind::Certificate {
        return Err(
            "T asks about a Certificate's names: select a Certificate or one of its Challenges"
                .to_owned(),
        );
    }
    let Some(crate::tui::estate::Object::Certificate(cert)) = e.object(&d.subject) else {
        return Err(format!("{} is not in the objects read", d.subject));
    };
    let ns = cert.metadata.namespace.clone().unwrap_or_default();
    let server = e
        .inventory
        .acme_issuer(&cert.spec.issuer_ref, &ns)
        .map(|(acme, _)| acme.server.clone())
        .ok_or_else(|| {
            format!(
                "the issuer of {} is not an ACME issuer in the objects read: a trial needs its CA",
                d.subject
            )
        })?;
    // A selected Challenge narrows the trial to its name and type.
    let selected = app.focused_object();
    if let Some(r) = selected.filter(|r| r.kind == Kind::Challenge)
        && let Some(ch) = e.challenge(&r)
    {
        let name = if ch.spec.wildcard {
            format!("*.{}", ch.spec.dns_name)
        } else {
            ch.spec.dns_name.clone()
        };
        let method = if ch.spec.type_.eq_ignore_ascii_case("dns-01") {
            TrialMethod::Dns01
        } else {
            TrialMethod::Http01
        };
        return Ok(Ask {
            subject: d.subject.clone(),
            names: vec![name],
            method,
            server,
        });
    }
    let mut names = cert.spec.dns_names.clone();
    if names.is_empty()
        && let Some(cn) = &cert.spec.common_name
    {
        names.push(cn.clone());
    }
    if names.is_empty() {
        return Err(format!("{} names no DNS name to try", d.subject));
    }
    // Wildcards validate only by DNS-01; otherwise the type its Challenges use, else HTTP-01.
    let mut current = Vec::new();
    crate::tui::estate::current_challenges(&d.chain, &mut current);
    let dns01 = names.iter().any(|n| n.starts_with("*."))
        || current
            .iter()
            .filter_map(|r| e.challenge(r))
            .any(|c| c.spec.type_.eq_ignore_ascii_case("dns-01"));
    Ok(Ask {
        subject: d.subject.clone(),
        names,
        method: if dns01 {
            TrialMethod::Dns01
        } else {
            TrialMethod::Http01
        },
        server,
    })
}

/// A trial's progress arrived.
pub fn progress(app: &mut App, id: u64, event: TrialEvent) {
    let Some(run) = app.trials.values_mut().find(|r| r.id == id) else {
        return;
    };
    run.progress.push(event.to_string());
}

/// A trial ended: keep its report and merge the CA's verdict into the diagnosis.
pub fn done(app: &mut App, id: u64, result: Result<Box<TrialReport>, String>) {
    let Some((subject, run)) = app.trials.iter_mut().find(|(_, r)| r.id == id) else {
        return;
    };
    let subject = subject.clone();
    match result {
        Err(why) => {
            run.error = Some(why.clone());
            app.say(
                StatusKind::Error,
                format!("the trial of {subject} could not run: {why}"),
            );
        }
        Ok(report) => {
            let refused: Vec<&crate::engine::trial::NameVerdict> = report
                .names
                .iter()
                .filter(|v| !v.status.is_positive())
                .collect();
            let text = match refused.first() {
                None => format!(
                    "the CA validated every name of {subject} ({})",
                    report.names.len()
                ),
                Some(first) => format!(
                    "the CA refused {} of {} name(s) of {subject}: {}: {}",
                    refused.len(),
                    report.names.len(),
                    first.name,
                    first.meaning
                ),
            };
            let kind = if refused.is_empty() {
                StatusKind::Ok
            } else {
                StatusKind::Error
            };
            run.report = Some(*report);
            app.say(kind, text);
            merge(app, &subject);
        }
    }
    refresh_visible(app);
}

/// The CA's findings of the trial of `subject`, with the Certificate as their subject.
fn findings_of(app: &App, subject: &ObjectRef) -> Vec<crate::model::Finding> {
    let Some(report) = app.trials.get(subject).and_then(|r| r.report.as_ref()) else {
        return Vec::new();
    };
    report
        .names
        .iter()
        .flat_map(|v| v.findings.iter().cloned())
        .map(|mut f| {
            f.subject.get_or_insert_with(|| subject.clone());
            f
        })
        .collect()
}

fn merge(app: &mut App, subject: &ObjectRef) {
    let findings = findings_of(app, subject);
    let runs = &app.checks.runs;
    if let Some(e) = &mut app.estate {
        e.apply_trial(subject, findings, |k| {
            runs.get(k).and_then(|r| r.result.as_ref())
        });
    }
}

/// Merges every finished trial into a freshly diagnosed estate.
pub fn reapply_all(app: &mut App) {
    let done: Vec<ObjectRef> = app
        .trials
        .iter()
        .filter(|(_, r)| r.report.is_some())
        .map(|(s, _)| s.clone())
        .collect();
    for subject in done {
        merge(app, &subject);
    }
}
