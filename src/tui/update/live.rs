//! A live cluster feed: new pictures are diagnosed one at a time (the newest waiting one
//! wins), and a new estate keeps what the user was looking at: the selected row, the open
//! chain and its selected node, or says that the object is gone.

use std::sync::Arc;

use super::super::app::{App, ChainView, StatusKind};
use super::super::cmd::Cmd;
use super::super::estate::Estate;
use super::nav;
use crate::model::{Inventory, ObjectRef};
use crate::source::cluster::watch::LinkState;

/// Listing progress before the first picture.
pub fn listing(app: &mut App, objects: usize) {
    if let Some(live) = &mut app.live {
        live.listed = objects;
        app.object_count = objects;
    }
}

/// A new picture: diagnose it now, or after the diagnosis in flight.
pub fn updated(app: &mut App, inventory: Arc<Inventory>) -> Vec<Cmd> {
    let Some(live) = &mut app.live else {
        return Vec::new();
    };
    live.pictures += 1;
    if live.diagnosing {
        live.pending = Some(inventory);
        return Vec::new();
    }
    live.diagnosing = true;
    app.object_count = inventory.len();
    vec![Cmd::Diagnose {
        inventory,
        now: app.clock,
        directories: app.directories.clone(),
    }]
}

/// The feed's connection changed.
pub fn link(app: &mut App, link: LinkState) {
    let Some(live) = &mut app.live else {
        return;
    };
    match (&live.link, &link) {
        (Some(LinkState::Reconnecting(_)), LinkState::Live) => {
            app.say(StatusKind::Info, "reconnected to the API server");
        }
        (_, LinkState::Reconnecting(why)) => {
            app.say(
                StatusKind::Error,
                format!("lost the API server, reconnecting: {why}"),
            );
        }
        _ => {}
    }
    if let Some(live) = &mut app.live {
        live.link = Some(link);
    }
}

/// A diagnosed estate arrived: show it, keeping the user's place, and start on the next
/// waiting picture.
pub fn loaded(app: &mut App, estate: Estate) -> Vec<Cmd> {
    let selected_row = app.selected_row().map(row_identity);
    let open_chain = app.chain.as_ref().and_then(|c| {
        Some((
            app.estate
                .as_ref()?
                .diagnoses
                .get(c.diagnosis)?
                .subject
                .clone(),
            c.clone(),
        ))
    });
    app.estate = Some(estate);
    super::checks::reapply_all(app);
    super::trial::reapply_all(app);
    app.chain = None;
    nav::refresh_visible(app);
    if let Some(key) = selected_row {
        reselect_row(app, &key);
    }
    if let Some((subject, old)) = open_chain {
        reopen_chain(app, &subject, old);
    }
    let mut cmds = follow_attempt_checks(app);
    let Some(live) = &mut app.live else {
        return cmds;
    };
    live.diagnosing = false;
    // Writes are offered only where the API says they are allowed: ask once per namespace,
    // as namespaces appear.
    let fresh: Vec<String> = app
        .estate
        .as_ref()
        .map(|e| e.namespaces.iter())
        .into_iter()
        .flatten()
        .filter(|ns| !live.prefetched.contains(*ns))
        .cloned()
        .collect();
    if !fresh.is_empty() && !app.read_only {
        live.prefetched.extend(fresh.iter().cloned());
        cmds.push(Cmd::Prefetch { namespaces: fresh });
    }
    if let Some(inventory) = live.pending.take() {
        live.diagnosing = true;
        app.object_count = inventory.len();
        cmds.push(Cmd::Diagnose {
            inventory,
            now: app.clock,
            directories: app.directories.clone(),
        });
    }
    cmds
}

fn row_identity(r: &super::super::estate::Row) -> (crate::model::Kind, String, String) {
    (r.kind, r.namespace.clone(), r.name.clone())
}

fn reselect_row(app: &mut App, key: &(crate::model::Kind, String, String)) {
    let Some(e) = &app.estate else { return };
    let found = app
        .overview
        .visible
        .iter()
        .position(|&i| row_identity(&e.rows[i]) == *key);
    if let Some(pos) = found {
        app.overview.selected = pos;
        nav::keep_visible(app);
    }
}

fn reopen_chain(app: &mut App, subject: &ObjectRef, old: ChainView) {
    let Some(e) = &app.estate else { return };
    match e.diagnoses.iter().position(|d| d.subject == *subject) {
        Some(d) => {
            let mut view = old;
            view.diagnosis = d;
            view.rebuild(&e.diagnoses[d]);
            app.chain = Some(view);
        }
        None => app.say(
            StatusKind::Info,
            format!("{subject} was deleted from the cluster"),
        ),
    }
}

/// Ends or goes on following a retry's attempt, and starts the checks of each Challenge of it
/// that cert-manager has presented and that was not checked yet.
fn follow_attempt_checks(app: &mut App) -> Vec<Cmd> {
    let presented = super::write::follow_attempt(app);
    if app.checks.disabled.is_some() {
        return Vec::new();
    }
    let fresh: Vec<_> = presented
        .into_iter()
        .filter(|c| !app.checks.runs.contains_key(&c.to_string()))
        .collect();
    super::checks::start(app, &fresh)
}
