//! The interactive view on a live feed, through `update` alone: pictures are diagnosed one at
//! a time with the newest waiting one winning, a new estate keeps the user's place (selected
//! row, open chain), a deleted object is said to be gone, and the link state shows.

#[path = "tui_support/mod.rs"]
mod support;

use std::sync::Arc;

use certdx::model::Inventory;
use certdx::source::cluster::watch::LinkState;
use certdx::tui::app::StatusKind;
use certdx::tui::estate::Estate;
use certdx::tui::{App, Cmd, Msg};
use kube::ResourceExt;
use support::{config, draw, feed};

const SIZE: (u16, u16) = (120, 40);

fn demo() -> Inventory {
    certdx::source::demo::load().inventory
}

/// Runs every Diagnose command synchronously and feeds the result back.
fn settle(app: &mut App, mut cmds: Vec<Cmd>) {
    while let Some(cmd) = cmds.pop() {
        match cmd {
            Cmd::Diagnose {
                inventory,
                now,
                directories,
            } => {
                let estate = Estate::build_with(inventory, now, None, directories);
                cmds.extend(feed(app, [Msg::Loaded(Box::new(estate))]));
            }
            Cmd::Prefetch { .. } => {}
            other => panic!("unexpected command {other:?}"),
        }
    }
}

fn diagnose_count(cmds: &[Cmd]) -> usize {
    cmds.iter()
        .filter(|c| matches!(c, Cmd::Diagnose { .. }))
        .count()
}

#[test]
fn a_live_view_waits_for_the_first_picture_and_shows_listing_progress() {
    let mut app = App::new_live(config(SIZE));
    assert!(app.estate.is_none());
    feed(&mut app, [Msg::SourceListing(1234)]);
    let screen = draw(&app);
    assert!(screen.contains("listing cert-manager objects"), "{screen}");
    assert!(screen.contains("1234 so far"), "{screen}");
    let cmds = feed(&mut app, [Msg::SourceUpdated(Arc::new(demo()))]);
    assert_eq!(diagnose_count(&cmds), 1);
    settle(&mut app, cmds);
    assert!(app.estate.is_some());
}

#[test]
fn pictures_arriving_during_a_diagnosis_are_coalesced_to_the_newest() {
    let mut app = App::new_live(config(SIZE));
    let first = feed(&mut app, [Msg::SourceUpdated(Arc::new(demo()))]);
    assert_eq!(diagnose_count(&first), 1);
    // Two more pictures while the first is being diagnosed: no new work yet.
    let mut smaller = demo();
    smaller.certificates.pop();
    let newest_len = smaller.certificates.len();
    let waiting = feed(
        &mut app,
        [
            Msg::SourceUpdated(Arc::new(demo())),
            Msg::SourceUpdated(Arc::new(smaller)),
        ],
    );
    assert!(waiting.is_empty(), "no diagnosis starts while one runs");
    // The first result arrives: exactly one more diagnosis, of the newest picture.
    let Cmd::Diagnose { inventory, now, .. } = first.into_iter().next().unwrap() else {
        unreachable!()
    };
    let next = feed(
        &mut app,
        [Msg::Loaded(Box::new(Estate::build(inventory, now)))],
    );
    assert_eq!(diagnose_count(&next), 1);
    let Some(Cmd::Diagnose { inventory, .. }) =
        next.iter().find(|c| matches!(c, Cmd::Diagnose { .. }))
    else {
        unreachable!()
    };
    assert_eq!(inventory.certificates.len(), newest_len);
    settle(&mut app, next);
    assert!(!app.live.as_ref().unwrap().diagnosing);
}

#[test]
fn a_new_picture_keeps_the_open_chain_and_the_selected_row() {
    let mut app = App::new_live(config(SIZE));
    let cmds = feed(&mut app, [Msg::SourceUpdated(Arc::new(demo()))]);
    settle(&mut app, cmds);
    // Select the last row and open its chain, one node down.
    feed(&mut app, [Msg::End]);
    let row = app.selected_row().unwrap().clone();
    feed(&mut app, [Msg::Open, Msg::Down]);
    let chain = app.chain.clone().expect("chain open");
    let node = chain.nodes[chain.selected].clone();

    // The same cluster with one unrelated Certificate gone: rows move, the view stays put.
    let mut changed = demo();
    let keep = (row.namespace.clone(), row.name.clone());
    let victim = changed
        .certificates
        .iter()
        .position(|c| (c.namespace().unwrap_or_default(), c.name_any()) != keep)
        .unwrap();
    changed.certificates.remove(victim);
    let cmds = feed(&mut app, [Msg::SourceUpdated(Arc::new(changed))]);
    settle(&mut app, cmds);
    let chain_now = app.chain.as_ref().expect("the chain stays open");
    assert_eq!(chain_now.nodes[chain_now.selected], node);
    let d = &app.estate.as_ref().unwrap().diagnoses[chain_now.diagnosis];
    assert_eq!((d.subject.namespace.clone(), d.subject.name.clone()), keep);
    feed(&mut app, [Msg::Back]);
    let sel = app.selected_row().unwrap();
    assert_eq!((sel.namespace.clone(), sel.name.clone()), keep);

    // Now the Certificate itself is deleted: the chain closes and the view says why.
    let mut gone = demo();
    gone.certificates
        .retain(|c| (c.namespace().unwrap_or_default(), c.name_any()) != keep);
    feed(&mut app, [Msg::Open]);
    assert!(app.chain.is_some());
    let cmds = feed(&mut app, [Msg::SourceUpdated(Arc::new(gone))]);
    settle(&mut app, cmds);
    assert!(app.chain.is_none());
    let status = app.status.as_ref().expect("a status line");
    assert!(
        status.text.contains(&keep.1) && status.text.contains("deleted"),
        "{}",
        status.text
    );
}

#[test]
fn the_header_shows_live_and_reconnecting() {
    let mut app = App::new_live(config(SIZE));
    let cmds = feed(
        &mut app,
        [
            Msg::SourceUpdated(Arc::new(demo())),
            Msg::SourceLink(LinkState::Live),
        ],
    );
    settle(&mut app, cmds);
    assert!(draw(&app).contains("live · "));
    feed(
        &mut app,
        [Msg::SourceLink(LinkState::Reconnecting(
            "connection refused".to_owned(),
        ))],
    );
    let screen = draw(&app);
    assert!(
        screen.contains("reconnecting: connection refused"),
        "{screen}"
    );
    assert_eq!(app.status.as_ref().unwrap().kind, StatusKind::Error);
    feed(&mut app, [Msg::SourceLink(LinkState::Live)]);
    assert!(app.status.as_ref().unwrap().text.contains("reconnected"));
    assert!(draw(&app).contains("live · "));
}

#[test]
fn write_permissions_are_asked_once_per_namespace_as_namespaces_appear() {
    let mut app = App::new_live(config(SIZE));
    let cmds = feed(&mut app, [Msg::SourceUpdated(Arc::new(demo()))]);
    let Cmd::Diagnose { inventory, now, .. } = cmds.into_iter().next().unwrap() else {
        unreachable!()
    };
    let after = feed(
        &mut app,
        [Msg::Loaded(Box::new(Estate::build(inventory, now)))],
    );
    let asked: Vec<&Vec<String>> = after
        .iter()
        .filter_map(|c| match c {
            Cmd::Prefetch { namespaces } => Some(namespaces),
            _ => None,
        })
        .collect();
    assert_eq!(asked.len(), 1);
    assert_eq!(*asked[0], app.estate.as_ref().unwrap().namespaces);
    assert!(asked[0].len() > 1, "the demo spans several namespaces");
    // The same namespaces again: nothing more to ask.
    let cmds = feed(&mut app, [Msg::SourceUpdated(Arc::new(demo()))]);
    let Cmd::Diagnose { inventory, now, .. } = cmds.into_iter().next().unwrap() else {
        unreachable!()
    };
    let again = feed(
        &mut app,
        [Msg::Loaded(Box::new(Estate::build(inventory, now)))],
    );
    assert!(
        !again.iter().any(|c| matches!(c, Cmd::Prefetch { .. })),
        "{again:?}"
    );
}
