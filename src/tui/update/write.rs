//! Things that change the world: cluster writes (always behind a confirmation that says what
//! will change) and exports to files.

use std::path::PathBuf;

use super::super::app::{
    App, Busy, Confirm, ExportDialog, ExportScope, Overlay, StatusKind, TreeItem, node_at,
};
use super::super::cmd::Cmd;
use super::super::msg::Msg;
use crate::actions::Action;
use crate::diagnose::ChainNode;
use crate::model::Kind;
use crate::report::{Format, Report};

/// `R`: asks to retry the Order in focus.
pub fn ask_retry(app: &mut App) {
    match focused_order(app) {
        Some(o) => confirm(
            app,
            Action::RetryOrder {
                namespace: o.namespace,
                name: o.name,
            },
        ),
        None => app.say(StatusKind::Info, "no Order to retry here"),
    }
}

/// `N`: asks to renew the Certificate in focus.
pub fn ask_renew(app: &mut App) {
    let subject = app
        .focused_diagnosis()
        .and_then(|d| Some(app.estate.as_ref()?.diagnoses[d].subject.clone()))
        .filter(|s| s.kind == Kind::Certificate);
    match subject {
        Some(s) => confirm(
            app,
            Action::RenewCertificate {
                namespace: s.namespace,
                name: s.name,
            },
        ),
        None => app.say(StatusKind::Info, "select a Certificate to renew"),
    }
}

fn confirm(app: &mut App, action: Action) {
    let blocked = if app.read_only {
        Some("read-only session: writes are disabled".to_owned())
    } else {
        app.actions.availability(&action).err()
    };
    let description = app.actions.describe(&action);
    app.overlay = Some(Overlay::Confirm(Confirm {
        action,
        description,
        blocked,
    }));
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
        (Some(Overlay::Confirm(c)), Msg::Confirm) => match c.blocked {
            Some(why) => {
                app.say(StatusKind::Error, format!("cannot {}: {why}", c.action));
                Vec::new()
            }
            None => {
                let id = busy(app, c.action.label());
                vec![Cmd::Perform {
                    id,
                    action: c.action,
                }]
            }
        },
        (Some(Overlay::Confirm(c)), Msg::Back) => {
            app.say(StatusKind::Info, format!("cancelled: {}", c.action));
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

/// A write finished.
pub fn action_done(app: &mut App, id: u64, action: Action, result: Result<String, String>) {
    app.busy.retain(|b| b.id != id);
    match result {
        Ok(what) => app.say(StatusKind::Ok, format!("{action}: {what}")),
        Err(why) => app.say(StatusKind::Error, format!("{action} failed: {why}")),
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

/// The Order in focus: the selected Order, the Order above the selected Challenge, else the
/// newest Order of the current revision.
fn focused_order(app: &App) -> Option<crate::model::ObjectRef> {
    let e = app.estate.as_ref()?;
    let d = &e.diagnoses[app.focused_diagnosis()?];
    if let Some(c) = &app.chain
        && let Some(TreeItem::Node(path)) = c.nodes.get(c.selected).map(|n| &n.item)
    {
        // The nearest Order on the way from the selection up to the root.
        for len in (0..=path.len()).rev() {
            let n = node_at(&d.chain, &path[..len])?;
            if n.object.kind == Kind::Order {
                return Some(n.object.clone());
            }
        }
        // Otherwise the selection's own first Order below it (a request, or the Certificate).
        let n = node_at(&d.chain, path)?;
        return first_order(n);
    }
    first_order(&d.chain)
}

fn first_order(node: &ChainNode) -> Option<crate::model::ObjectRef> {
    if node.object.kind == Kind::Order {
        return Some(node.object.clone());
    }
    node.children
        .iter()
        .filter(|c| !c.history || node.history)
        .find_map(first_order)
}
