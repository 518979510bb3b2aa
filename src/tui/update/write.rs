//! Things that change the world: cluster writes (always behind a confirmation that says what
//! will change) and exports to files.

use std::path::PathBuf;

use super::super::app::{App, Busy, Confirm, ExportDialog, ExportScope, Overlay, StatusKind};
use super::super::cmd::Cmd;
use super::super::msg::Msg;
use crate::actions::Action;
use crate::actions::attempt::{Attempt, AttemptOutcome};
use crate::actions::retry::{RetryContext, RetryDecision, decide_retry};
use crate::model::Kind;
use crate::model::ObjectRef;
use crate::report::{Format, Report};

/// `R`: retry by intent on the object in focus (the selected node of the open chain, else
/// the selected Certificate): the dialog says which write that comes to and why, or why
/// there is nothing to write.
pub fn ask_retry(app: &mut App) {
    let (Some(target), Some(e)) = (app.focused_object(), app.estate.as_ref()) else {
        app.say(
            StatusKind::Info,
            "select a Certificate, or an object of its chain, to retry",
        );
        return;
    };
    let cx = RetryContext {
        inventory: &e.inventory,
        index: &e.index,
        diagnoses: &e.diagnoses,
        now: app.clock,
    };
    let title = format!(" Retry {target}? ");
    let write = match decide_retry(&cx, &target) {
        RetryDecision::Write(w) => w,
        RetryDecision::Refuse(why) => {
            app.overlay = Some(Overlay::Confirm(Box::new(Confirm {
                title,
                action: None,
                why: None,
                description: String::new(),
                warnings: Vec::new(),
                blocked: Some(why),
                follow: None,
            })));
            return;
        }
    };
    let follow = write
        .certificate
        .clone()
        .map(|c| Attempt::begin(c, &e.inventory, &e.index, app.clock));
    // What no flag overrides (the source, the session, RBAC) comes before the rate limit.
    let blocked = write_blocked(app, &write.action).or_else(|| {
        write
            .blocker
            .map(|b| format!("{b}; `certdx retry --force` on the command line overrides this"))
    });
    let description = app.actions.describe(&write.action);
    app.overlay = Some(Overlay::Confirm(Box::new(Confirm {
        title,
        action: Some(write.action),
        why: Some(write.why),
        description,
        warnings: write.warnings,
        blocked,
        follow,
    })));
}

/// `N`: asks to renew the Certificate in focus.
pub fn ask_renew(app: &mut App) {
    let subject = app
        .focused_diagnosis()
        .and_then(|d| Some(app.estate.as_ref()?.diagnoses[d].subject.clone()))
        .filter(|s| s.kind == Kind::Certificate);
    let Some(s) = subject else {
        app.say(StatusKind::Info, "select a Certificate to renew");
        return;
    };
    let action = Action::RenewCertificate {
        namespace: s.namespace.clone(),
        name: s.name.clone(),
    };
    let follow = app
        .estate
        .as_ref()
        .map(|e| Attempt::begin(s, &e.inventory, &e.index, app.clock));
    app.overlay = Some(Overlay::Confirm(Box::new(Confirm {
        title: format!(" {}? ", capitalised(&action.label())),
        blocked: write_blocked(app, &action),
        description: app.actions.describe(&action),
        action: Some(action),
        why: None,
        warnings: Vec::new(),
        follow,
    })));
}

/// Why `action` cannot be written now (a read-only session, a permission the API denied).
fn write_blocked(app: &App, action: &Action) -> Option<String> {
    if app.read_only {
        Some("read-only session: writes are disabled".to_owned())
    } else {
        app.actions.availability(action).err()
    }
}

fn capitalised(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(first) => first.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

/// `e` / `E`: asks for the export format.
pub fn ask_export(app: &mut App, all: bool) {
    let scope = if all {
        ExportScope::All
    } else {
        match app.focused_diagnosis() {
            Some(d) => ExportScope::Diagnosis(d),
            None => {
                app.say(
                    StatusKind::Info,
                    "nothing selected to export (E exports everything)",
                );
                return;
            }
        }
    };
    app.overlay = Some(Overlay::Export(ExportDialog {
        scope,
        format: Format::Markdown,
    }));
}

/// Keys while a confirmation or the export dialog is open.
pub fn dialog_key(app: &mut App, msg: Msg) -> Vec<Cmd> {
    match (app.overlay.take(), msg) {
        (Some(Overlay::Confirm(c)), Msg::Confirm) => match (c.blocked, c.action) {
            (Some(why), action) => {
                let what = action.map_or_else(|| "retry".to_owned(), |a| a.to_string());
                app.say(StatusKind::Error, format!("cannot {what}: {why}"));
                Vec::new()
            }
            (None, Some(action)) => {
                let id = busy(app, action.label());
                app.pending_attempt = c.follow.map(|a| (id, a));
                vec![Cmd::Perform { id, action }]
            }
            (None, None) => Vec::new(),
        },
        (Some(Overlay::Confirm(c)), Msg::Back) => {
            let what = c
                .action
                .map_or_else(|| "retry".to_owned(), |a| a.to_string());
            app.say(StatusKind::Info, format!("cancelled: {what}"));
            Vec::new()
        }
        (Some(Overlay::Export(mut x)), Msg::ExportNextFormat) => {
            x.format = match x.format {
                Format::Markdown => Format::Json,
                Format::Json => Format::Html,
                Format::Html | Format::Yaml => Format::Markdown,
            };
            app.overlay = Some(Overlay::Export(x));
            Vec::new()
        }
        (Some(Overlay::Export(x)), Msg::ExportFormat(format)) => export(app, x.scope, format),
        (Some(Overlay::Export(x)), Msg::Confirm) => export(app, x.scope, x.format),
        (Some(Overlay::Export(_)), Msg::Back) => Vec::new(),
        (overlay, _) => {
            app.overlay = overlay;
            Vec::new()
        }
    }
}

fn export(app: &mut App, scope: ExportScope, format: Format) -> Vec<Cmd> {
    let Some(e) = &app.estate else {
        return Vec::new();
    };
    let (slug, diagnoses) = match scope {
        ExportScope::All => ("estate".to_owned(), e.diagnoses.clone()),
        ExportScope::Diagnosis(d) => {
            let s = &e.diagnoses[d].subject;
            (
                slug(&format!("{}-{}", s.namespace, s.name)),
                vec![e.diagnoses[d].clone()],
            )
        }
    };
    let report = Report::new(
        app.source_label.clone(),
        app.clock,
        diagnoses,
        app.load_problems.clone(),
    );
    let file = format!(
        "certdx-{slug}-{}.{}",
        app.clock.strftime("%Y%m%dT%H%M%SZ"),
        format.extension()
    );
    let path: PathBuf = app.export_dir.join(file);
    let id = busy(app, format!("exporting {}", path.display()));
    vec![Cmd::Export {
        id,
        path,
        format,
        report: Box::new(report),
    }]
}

/// A file-name-safe version of `s`.
fn slug(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect::<String>()
        .trim_matches('-')
        .to_owned()
}

fn busy(app: &mut App, label: String) -> u64 {
    let id = app.next_id;
    app.next_id += 1;
    app.busy.push(Busy {
        id,
        label,
        since: app.clock,
    });
    id
}

/// A write finished: on success the attempt it started is followed (see
/// [`follow_attempt`]).
pub fn action_done(app: &mut App, id: u64, action: Action, result: Result<String, String>) {
    app.busy.retain(|b| b.id != id);
    let attempt = app
        .pending_attempt
        .take_if(|(pending, _)| *pending == id)
        .map(|(_, a)| a);
    match result {
        Ok(what) => {
            app.say(StatusKind::Ok, format!("{action}: {what}"));
            if let Some(mut a) = attempt {
                // Measured from the write, not from when the dialog opened.
                a.since = app.clock;
                app.attempt = Some(a);
            }
        }
        Err(why) => app.say(StatusKind::Error, format!("{action} failed: {why}")),
    }
}

/// A new picture arrived: ends the followed attempt when it succeeded or failed, saying which
/// (with the new root cause), and returns the Challenges of its chain that cert-manager has
/// presented, so their checks run on their own.
pub fn follow_attempt(app: &mut App) -> Vec<ObjectRef> {
    let (Some(a), Some(e)) = (&app.attempt, &app.estate) else {
        return Vec::new();
    };
    match a.outcome(&e.inventory, &e.index, &e.diagnoses) {
        AttemptOutcome::Ready => {
            let text = format!("{} is Ready: attempt {} succeeded", a.certificate, a.number);
            app.attempt = None;
            app.say(StatusKind::Ok, text);
            Vec::new()
        }
        AttemptOutcome::Failed(cause) => {
            let text = format!("attempt {} of {} failed: {cause}", a.number, a.certificate);
            app.attempt = None;
            app.say(StatusKind::Error, text);
            Vec::new()
        }
        AttemptOutcome::Running(_) => a.presented_challenges(&e.inventory, &e.index),
    }
}

/// An export finished.
pub fn exported(app: &mut App, id: u64, result: Result<PathBuf, String>) {
    app.busy.retain(|b| b.id != id);
    match result {
        Ok(path) => app.say(StatusKind::Ok, format!("wrote {}", path.display())),
        Err(why) => app.say(StatusKind::Error, format!("export failed: {why}")),
    }
}
