//! Live checks: which Challenges the selection means, starting one command per Challenge,
//! and merging results into the diagnoses as they arrive.

use super::super::app::{App, CheckRun, StatusKind, TreeItem, node_at};
use super::super::cmd::Cmd;
use super::nav::refresh_visible;
use crate::diagnose::ChainNode;
use crate::diagnose::playbook::{PlaybookResult, Target};
use crate::model::profile::Directories;
use crate::model::{Kind, ObjectRef, State};

/// `c`: checks the selected Challenge, or every unfinished Challenge below the selection.
pub fn run_selection(app: &mut App) -> Vec<Cmd> {
    if let Some(why) = &app.checks.disabled {
        let text = format!("live checks are off: {why}");
        app.say(StatusKind::Error, text);
        return Vec::new();
    }
    let directories = read_directories(app);
    let Some(challenges) = selected_challenges(app) else {
        app.say(
            StatusKind::Info,
            "select a Certificate, Order or Challenge to check",
        );
        return directories.into_iter().collect();
    };
    if challenges.is_empty() {
        app.say(StatusKind::Info, "no unfinished Challenge to check here");
        return directories.into_iter().collect();
    }
    let mut cmds = start(app, &challenges);
    let skipped = challenges.len() - cmds.len();
    cmds.extend(directories);
    // The status bar's spinner says what runs; a message only for what did not start.
    app.status = None;
    if skipped > 0 {
        app.say(StatusKind::Info, format!("{skipped} already running"));
    }
    cmds
}

/// `r`: runs every check already run again (those not running now).
pub fn rerun(app: &mut App) -> Vec<Cmd> {
    if let Some(why) = &app.checks.disabled {
        let text = format!("live checks are off: {why}");
        app.say(StatusKind::Error, text);
        return Vec::new();
    }
    let mut keys: Vec<String> = app
        .checks
        .runs
        .iter()
        .filter(|(_, r)| r.running_since.is_none())
        .map(|(k, _)| k.clone())
        .collect();
    if keys.is_empty() {
        let text = if app.checks.running() > 0 {
            "every check is still running"
        } else {
            "no checks run yet: press c on a Certificate, Order or Challenge"
        };
        app.say(StatusKind::Info, text);
        return Vec::new();
    }
    keys.sort();
    let mut cmds = Vec::with_capacity(keys.len());
    for key in keys {
        let target = app.checks.runs[&key].target.clone();
        cmds.push(launch(app, key, target));
    }
    app.status = None;
    cmds
}

/// The first live check of the run also reads the CA directories of every ACME issuer, once
/// each, as `report` does: their `meta.profiles` tell the readiness findings what the CA
/// really offers, where otherwise only what certdx knows of the big CAs is used.
fn read_directories(app: &mut App) -> Option<Cmd> {
    if app.directories_asked {
        return None;
    }
    let mut servers = app.estate.as_ref()?.inventory.acme_servers();
    servers.sort_unstable();
    servers.dedup();
    if servers.is_empty() {
        return None;
    }
    app.directories_asked = true;
    Some(Cmd::ReadDirectories { servers })
}

/// The CA directories were read: keep them, say which could not be, and diagnose again so
/// the readiness findings judge each issuer's profile by what its CA advertises.
pub fn directories_read(app: &mut App, found: Directories) -> Vec<Cmd> {
    let failed: Vec<String> = found
        .iter()
        .filter_map(|(url, r)| r.as_ref().err().map(|why| format!("{url} ({why})")))
        .collect();
    let read = found.len() - failed.len();
    app.directories.extend(found);
    if failed.is_empty() {
        let s = if read == 1 { "y" } else { "ies" };
        app.say(
            StatusKind::Info,
            format!("read {read} CA director{s}: profiles judged by what the CA advertises"),
        );
    } else {
        app.say(
            StatusKind::Info,
            format!(
                "could not read {}: profiles judged by what certdx knows of the CA",
                failed.join(", ")
            ),
        );
    }
    let Some(inventory) = app.estate.as_ref().map(|e| e.inventory.clone()) else {
        return Vec::new();
    };
    if let Some(live) = &mut app.live {
        if live.diagnosing {
            // The diagnosis in flight used the old directories: the next one gets the new.
            live.pending.get_or_insert(inventory);
            return Vec::new();
        }
        live.diagnosing = true;
    }
    vec![Cmd::Diagnose {
        inventory,
        now: app.clock,
        directories: app.directories.clone(),
    }]
}

/// Merges every finished check into a freshly diagnosed estate: a new diagnosis starts from
/// the objects alone, and results the user already has must not vanish with it.
pub fn reapply_all(app: &mut App) {
    let keys: Vec<String> = app
        .checks
        .runs
        .iter()
        .filter(|(_, r)| r.result.is_some())
        .map(|(k, _)| k.clone())
        .collect();
    let runs = &app.checks.runs;
    if let Some(e) = &mut app.estate
        && !keys.is_empty()
    {
        e.apply_checks(&keys, |k| runs.get(k).and_then(|r| r.result.as_ref()));
    }
}

/// A check finished (or its task died).
pub fn done(app: &mut App, key: String, generation: u64, result: Result<PlaybookResult, String>) {
    let Some(run) = app.checks.runs.get_mut(&key) else {
        return;
    };
    if run.generation != generation {
        return; // superseded by a re-run
    }
    run.running_since = None;
    match result {
        Ok(r) => {
            run.result = Some(r);
            run.error = None;
            let runs = &app.checks.runs;
            if let Some(e) = &mut app.estate {
                e.apply_checks(std::slice::from_ref(&key), |k| {
                    runs.get(k).and_then(|r| r.result.as_ref())
                });
            }
            refresh_visible(app);
        }
        Err(e) => {
            run.error = Some(e.clone());
            app.say(StatusKind::Error, format!("checks for {key} failed: {e}"));
        }
    }
    if app.checks.running() == 0
        && app
            .status
            .as_ref()
            .is_none_or(|s| s.kind != StatusKind::Error)
    {
        app.say(
            StatusKind::Ok,
            "checks finished: findings merged, root cause updated",
        );
    }
}

pub(super) fn start(app: &mut App, challenges: &[ObjectRef]) -> Vec<Cmd> {
    let mut cmds = Vec::new();
    for r in challenges {
        let key = r.to_string();
        if app
            .checks
            .runs
            .get(&key)
            .is_some_and(|run| run.running_since.is_some())
        {
            continue;
        }
        let Some(target) = app
            .estate
            .as_ref()
            .and_then(|e| Some(Target::from_challenge(e.challenge(r)?, &e.inventory)))
        else {
            continue;
        };
        cmds.push(launch(app, key, target));
    }
    cmds
}

fn launch(app: &mut App, key: String, target: Target) -> Cmd {
    app.checks.next_gen += 1;
    let generation = app.checks.next_gen;
    let run = app
        .checks
        .runs
        .entry(key.clone())
        .or_insert_with(|| CheckRun {
            target: target.clone(),
            generation,
            running_since: None,
            result: None,
            error: None,
        });
    run.generation = generation;
    run.running_since = Some(app.clock);
    run.target = target.clone();
    Cmd::RunCheck {
        key,
        generation,
        target,
    }
}

/// The Challenges the selection stands for; `None` when nothing checkable is selected.
fn selected_challenges(app: &App) -> Option<Vec<ObjectRef>> {
    let e = app.estate.as_ref()?;
    let node: &ChainNode = match &app.chain {
        Some(c) => {
            let d = &e.diagnoses[c.diagnosis];
            match &c.nodes.get(c.selected)?.item {
                TreeItem::Node(path) => node_at(&d.chain, path)?,
                TreeItem::Folded(_) => return None,
            }
        }
        None => &e.diagnoses[app.selected_row()?.diagnosis].chain,
    };
    let mut out = Vec::new();
    if node.object.kind == Kind::Challenge {
        // Explicitly chosen: checked even when valid.
        out.push(node.object.clone());
    } else {
        unfinished(node, node.history, &mut out);
    }
    Some(out)
}

/// Unfinished Challenges below `node`; history is skipped unless the walk starts in it.
fn unfinished(node: &ChainNode, in_history: bool, out: &mut Vec<ObjectRef>) {
    if node.history && !in_history {
        return;
    }
    if node.object.kind == Kind::Challenge && node.status.state != State::Ready {
        out.push(node.object.clone());
    }
    for c in &node.children {
        unfinished(c, in_history, out);
    }
}
