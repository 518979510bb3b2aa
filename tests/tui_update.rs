//! `update` on its own: keys and results go in as messages; the state and the returned
//! commands come out. No terminal, no sleeping.

#[path = "tui_support/mod.rs"]
mod support;

use std::sync::Arc;

use certdx::actions::Action;
use certdx::checks::{CheckReport, CheckStatus};
use certdx::diagnose::playbook::{PlaybookResult, Target};
use certdx::model::{Code, Finding, Inventory, Kind, Severity, State};
use certdx::report::Format;
use certdx::tui::app::{ExportScope, Overlay, Sort, StatusKind, TreeItem};
use certdx::tui::keys::map_key;
use certdx::tui::{App, Cmd, Msg};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use support::{config, demo_app, feed};

const SIZE: (u16, u16) = (120, 40);

fn names(app: &App) -> Vec<String> {
    let e = app.estate.as_ref().unwrap();
    app.overview
        .visible
        .iter()
        .map(|&i| format!("{}/{}", e.rows[i].namespace, e.rows[i].name))
        .collect()
}

fn selected(app: &App) -> String {
    let r = app.selected_row().expect("a row is selected");
    format!("{}/{}", r.namespace, r.name)
}

fn select(app: &mut App, name: &str) {
    feed(app, [Msg::Home]);
    for _ in 0..app.overview.visible.len() {
        if selected(app) == name {
            return;
        }
        feed(app, [Msg::Down]);
    }
    panic!("{name} not in the list: {:?}", names(app));
}

fn key(code: KeyCode) -> KeyEvent {
    KeyEvent::new(code, KeyModifiers::NONE)
}

#[test]
fn overview_lists_failing_first_and_hides_orphans_until_asked() {
    let mut app = demo_app(SIZE);
    assert_eq!(
        names(&app),
        [
            "internal/legacy-portal",
            "marketing/promo",
            "api/api-gateway",
            "blog/blog-tls",
            "shop/www-shop",
            "blog/www-blog"
        ]
    );
    let c = app.estate.as_ref().unwrap().counts;
    assert_eq!(
        (c.failed, c.in_progress, c.unknown, c.ready, c.orphans),
        (2, 3, 0, 1, 1)
    );
    feed(&mut app, [Msg::ToggleOrphans]);
    assert_eq!(names(&app).len(), 7);
    assert_eq!(names(&app)[2], "marketing/old-landing-1-99120001-4021117");
}

#[test]
fn filter_matches_names_and_dns_names_and_esc_clears_it() {
    let mut app = demo_app(SIZE);
    let cmds = feed(
        &mut app,
        [
            Msg::FilterStart,
            Msg::FilterInput('P'),
            Msg::FilterInput('r'),
            Msg::FilterInput('o'),
        ],
    );
    assert!(cmds.is_empty());
    assert!(app.overview.editing_filter);
    assert_eq!(names(&app), ["marketing/promo"]);
    // A DNS name that is not in the object's name.
    feed(&mut app, [Msg::FilterCancel, Msg::FilterStart]);
    for c in "portal.example".chars() {
        feed(&mut app, [Msg::FilterInput(c)]);
    }
    feed(&mut app, [Msg::FilterAccept]);
    assert!(!app.overview.editing_filter);
    assert_eq!(names(&app), ["internal/legacy-portal"]);
    // Esc first clears the filter, then leaves.
    feed(&mut app, [Msg::Back]);
    assert_eq!(names(&app).len(), 6);
    assert!(!app.quit);
    feed(&mut app, [Msg::Back]);
    assert!(app.quit);
}

#[test]
fn typing_a_filter_sends_letters_to_the_filter_not_to_the_key_table() {
    let mut app = demo_app(SIZE);
    assert!(matches!(
        map_key(&app, key(KeyCode::Char('q'))),
        Some(Msg::Quit)
    ));
    feed(&mut app, [Msg::FilterStart]);
    assert!(matches!(
        map_key(&app, key(KeyCode::Char('q'))),
        Some(Msg::FilterInput('q'))
    ));
    let ctrl_c = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
    assert!(matches!(map_key(&app, ctrl_c), Some(Msg::Quit)));
    assert!(matches!(
        map_key(&app, key(KeyCode::Esc)),
        Some(Msg::FilterCancel)
    ));
}

/// Each claim of the help's "Keys compared with k9s and lazygit" holds for the key map.
#[test]
fn the_help_comparison_with_k9s_and_lazygit_is_true() {
    use certdx::tui::keys::COMPARED;
    let mut app = demo_app(SIZE);
    let press = |app: &certdx::tui::App, c: char| map_key(app, key(KeyCode::Char(c)));
    // `/` filters; no key searches or jumps to a next match.
    assert!(matches!(press(&app, '/'), Some(Msg::FilterStart)));
    // `n` cycles the namespace; `e` exports; nothing edits.
    assert!(matches!(press(&app, 'n'), Some(Msg::CycleNamespace)));
    assert!(matches!(press(&app, 'e'), Some(Msg::Export)));
    // The writes are capitals only: their lower-case letters do not write.
    assert!(matches!(press(&app, 'R'), Some(Msg::Retry)));
    assert!(matches!(press(&app, 'N'), Some(Msg::Renew)));
    for c in ['r', 'n'] {
        assert!(
            !matches!(press(&app, c), Some(Msg::Retry | Msg::Renew)),
            "{c} writes"
        );
    }
    for c in 'a'..='z' {
        for msg in [press(&app, c), {
            let mut chain = demo_app(SIZE);
            feed(&mut chain, [Msg::Open]);
            press(&chain, c)
        }] {
            assert!(
                !matches!(msg, Some(Msg::Retry | Msg::Renew)),
                "lower-case {c} writes"
            );
        }
    }
    // In the renew dialog only `y` confirms; Enter cancels.
    feed(&mut app, [Msg::Renew]);
    assert!(app.overlay.is_some(), "renew asks first");
    assert!(matches!(press(&app, 'y'), Some(Msg::Confirm)));
    assert!(matches!(
        map_key(&app, key(KeyCode::Enter)),
        Some(Msg::Back)
    ));
    for c in ('a'..='z').filter(|&c| c != 'y') {
        assert!(
            !matches!(press(&app, c), Some(Msg::Confirm)),
            "{c} confirms"
        );
    }
    // The help states exactly these keys.
    let keys: Vec<&str> = COMPARED
        .iter()
        .map(|(k, _)| *k)
        .filter(|k| !k.is_empty())
        .collect();
    assert_eq!(keys, ["/", "n", "e", "R / N", "confirm"]);
}

#[test]
fn namespace_cycles_through_each_then_back_to_all() {
    let mut app = demo_app(SIZE);
    let namespaces = app.estate.as_ref().unwrap().namespaces.clone();
    assert_eq!(namespaces, ["api", "blog", "internal", "marketing", "shop"]);
    feed(&mut app, [Msg::CycleNamespace]);
    assert_eq!(names(&app), ["api/api-gateway"]);
    feed(&mut app, [Msg::CycleNamespace]);
    assert_eq!(names(&app), ["blog/blog-tls", "blog/www-blog"]);
    for _ in 0..4 {
        feed(&mut app, [Msg::CycleNamespace]);
    }
    assert_eq!(app.overview.namespace, None);
    assert_eq!(names(&app).len(), 6);
}

#[test]
fn sort_cycles_and_keeps_the_selected_row() {
    let mut app = demo_app(SIZE);
    select(&mut app, "shop/www-shop");
    feed(&mut app, [Msg::CycleSort]);
    assert_eq!(app.overview.sort, Sort::Name);
    assert_eq!(names(&app)[0], "api/api-gateway");
    assert_eq!(selected(&app), "shop/www-shop");
    feed(&mut app, [Msg::CycleSort]);
    assert_eq!(app.overview.sort, Sort::Expiry);
    // Only www-blog has a notAfter: it comes first.
    assert_eq!(names(&app)[0], "blog/www-blog");
    feed(&mut app, [Msg::CycleSort]);
    assert_eq!(app.overview.sort, Sort::Urgency);
}

#[test]
fn next_failing_skips_healthy_rows_and_wraps() {
    let mut app = demo_app(SIZE);
    assert_eq!(selected(&app), "internal/legacy-portal");
    feed(&mut app, [Msg::NextFailing]);
    assert_eq!(selected(&app), "marketing/promo");
    feed(&mut app, [Msg::NextFailing]);
    // api-gateway is in progress but its root cause (a stuck challenge) is an error.
    assert_eq!(selected(&app), "api/api-gateway");
    feed(&mut app, [Msg::End, Msg::NextFailing]);
    assert_eq!(selected(&app), "internal/legacy-portal");
}

#[test]
fn movement_is_bounded_and_pages_keep_the_selection_on_screen() {
    let mut app = support::synthetic_app(2000, (80, 24));
    let height = certdx::tui::view::overview::list_height(app.size);
    feed(&mut app, [Msg::Up]);
    assert_eq!(app.overview.selected, 0);
    feed(&mut app, [Msg::PageDown]);
    assert_eq!(app.overview.selected, height);
    assert_eq!(app.overview.offset, 1);
    feed(&mut app, [Msg::End]);
    assert_eq!(app.overview.selected, 1999);
    assert_eq!(app.overview.offset, 2000 - height);
    feed(&mut app, [Msg::Down, Msg::Home]);
    assert_eq!((app.overview.selected, app.overview.offset), (0, 0));
    // A smaller terminal moves the window so the selection stays visible.
    feed(&mut app, [Msg::End, Msg::Resize(80, 12)]);
    let small = certdx::tui::view::overview::list_height(app.size);
    assert_eq!(app.overview.offset, 2000 - small);
}

#[test]
fn enter_opens_the_chain_with_history_folded_and_h_unfolds_it() {
    let mut app = demo_app(SIZE);
    feed(&mut app, [Msg::Open]);
    let c = app.chain.as_ref().expect("chain open");
    let d = &app.estate.as_ref().unwrap().diagnoses[c.diagnosis];
    assert_eq!(d.subject.name, "legacy-portal");
    // Certificate, current request, its order, then the fold line for 5 older revisions.
    assert_eq!(c.nodes.len(), 4);
    assert_eq!(c.nodes[3].item, TreeItem::Folded(5));
    feed(&mut app, [Msg::ToggleHistory]);
    assert_eq!(app.chain.as_ref().unwrap().nodes.len(), 8);
    feed(&mut app, [Msg::ToggleHistory, Msg::End, Msg::Open]);
    let c = app.chain.as_ref().unwrap();
    assert!(c.show_history, "Enter on the fold line unfolds");
    assert_eq!(c.nodes.len(), 8);
    feed(&mut app, [Msg::Back]);
    assert!(app.chain.is_none());
    assert!(!app.quit);
}

#[test]
fn chain_navigation_selects_nodes_and_resets_the_detail_scroll() {
    // Small enough that the Certificate's detail needs scrolling.
    let mut app = demo_app((80, 24));
    select(&mut app, "shop/www-shop");
    feed(&mut app, [Msg::Open]);
    let kinds = |app: &App| {
        let c = app.chain.as_ref().unwrap();
        let d = &app.estate.as_ref().unwrap().diagnoses[c.diagnosis];
        c.selected_node(d).map(|n| n.object.kind)
    };
    assert_eq!(kinds(&app), Some(Kind::Certificate));
    feed(&mut app, [Msg::DetailDown, Msg::DetailDown]);
    assert_eq!(app.chain.as_ref().unwrap().detail_scroll, 2);
    feed(&mut app, [Msg::End]);
    assert_eq!(kinds(&app), Some(Kind::Challenge));
    assert_eq!(app.chain.as_ref().unwrap().detail_scroll, 0);
    // Scrolling is bounded by the content.
    feed(&mut app, std::iter::repeat_n(Msg::PageDown, 50));
    let max = certdx::tui::view::detail::max_scroll(&app);
    assert_eq!(app.chain.as_ref().unwrap().detail_scroll, max);
    feed(&mut app, [Msg::ToggleYaml]);
    let c = app.chain.as_ref().unwrap();
    assert!(c.yaml);
    assert_eq!(c.detail_scroll, 0);
}

fn finding(code: Code, summary: &str) -> Finding {
    Finding::new(code, summary)
}

/// A result as `run_playbook` would return it for `target`.
pub fn result_for(target: &Target, findings: Vec<Finding>) -> PlaybookResult {
    let status = if findings.iter().any(|f| f.severity >= Severity::Error) {
        CheckStatus::Failed
    } else {
        CheckStatus::Passed
    };
    PlaybookResult {
        target: target.clone(),
        checks: vec![
            CheckReport {
                name: "name".into(),
                target: target.name.clone(),
                status: CheckStatus::Passed,
                duration_ms: 3,
                findings: Vec::new(),
            },
            CheckReport {
                name: "http01".into(),
                target: target.name.clone(),
                status,
                duration_ms: 40,
                findings: findings.clone(),
            },
        ],
        findings,
        duration_ms: 44,
        cluster: None,
    }
}

fn run_checks(app: &mut App) -> Vec<(String, u64, Target)> {
    feed(app, [Msg::RunChecks])
        .into_iter()
        .map(|c| match c {
            Cmd::RunCheck {
                key,
                generation,
                target,
            } => (key, generation, target),
            other => panic!("expected a check, got {other:?}"),
        })
        .collect()
}

#[test]
fn checks_start_one_command_per_unfinished_challenge_and_merge_results() {
    let mut app = demo_app(SIZE);
    select(&mut app, "shop/www-shop");
    let root_before = app.selected_row().unwrap().root.unwrap().0;
    assert_eq!(root_before, Code::SelfcheckHttp01WrongStatus);
    let started = run_checks(&mut app);
    // www-shop's current Order has two Challenges, one already valid: only one is checked.
    let keys: Vec<&str> = started.iter().map(|s| s.0.as_str()).collect();
    assert_eq!(keys.len(), 1, "{keys:?}");
    let (key, generation, target) = started[0].clone();
    assert!(key.starts_with("Challenge shop/www-shop-1-"));
    assert_eq!(target.name, "www.shop.example.com");
    assert_eq!(app.checks.running(), 1);
    assert!(app.wants_ticks(), "a running check animates");
    // Pressing c again does not start a second run of the same Challenge.
    assert!(run_checks(&mut app).is_empty());

    let result = result_for(
        &target,
        vec![finding(
            Code::Http01WrongStatus,
            "GET http://www.shop.example.com/... answered 404",
        )],
    );
    feed(
        &mut app,
        [Msg::CheckDone {
            key: key.clone(),
            generation,
            result: Box::new(result),
        }],
    );
    assert_eq!(app.checks.running(), 0);
    // Only the rate-limited row's countdown still needs ticks, not the finished check.
    assert!(!app.checks.runs.values().any(|r| r.running_since.is_some()));
    let row = app.selected_row().unwrap();
    assert_eq!(
        row.root.unwrap().0,
        Code::Http01WrongStatus,
        "root cause recomputed"
    );
    let e = app.estate.as_ref().unwrap();
    let d = &e.diagnoses[row.diagnosis];
    assert!(d.findings.iter().any(|f| f.code == Code::Http01WrongStatus
        && f.subject.as_ref().map(ToString::to_string).as_deref() == Some(key.as_str())));
    assert_eq!(app.status.as_ref().unwrap().kind, StatusKind::Ok);
}

#[test]
fn a_new_diagnosis_keeps_the_check_results_already_merged() {
    let mut app = demo_app(SIZE);
    select(&mut app, "shop/www-shop");
    let (key, generation, target) = run_checks(&mut app).remove(0);
    let result = result_for(&target, vec![finding(Code::Http01WrongStatus, "404")]);
    feed(
        &mut app,
        [Msg::CheckDone {
            key,
            generation,
            result: Box::new(result),
        }],
    );
    assert_eq!(
        app.selected_row().unwrap().root.unwrap().0,
        Code::Http01WrongStatus
    );
    // A new picture (or the CA directories arriving) diagnoses the objects again from scratch.
    let e = app.estate.as_ref().unwrap();
    let fresh = certdx::tui::estate::Estate::build(e.inventory.clone(), app.data_now);
    feed(&mut app, [Msg::Loaded(Box::new(fresh))]);
    assert_eq!(
        app.selected_row().unwrap().root.unwrap().0,
        Code::Http01WrongStatus,
        "the finished check is merged into the new diagnosis"
    );
}

#[test]
fn rerun_replaces_findings_and_drops_stale_results() {
    let mut app = demo_app(SIZE);
    select(&mut app, "shop/www-shop");
    let (key, g1, target) = run_checks(&mut app).remove(0);
    let bad = result_for(&target, vec![finding(Code::Http01WrongStatus, "404")]);
    feed(
        &mut app,
        [Msg::CheckDone {
            key: key.clone(),
            generation: g1,
            result: Box::new(bad.clone()),
        }],
    );
    let cmds = feed(&mut app, [Msg::RerunChecks]);
    let g2 = match &cmds[..] {
        [
            Cmd::RunCheck {
                key: k, generation, ..
            },
        ] if *k == key => *generation,
        other => panic!("expected one re-run, got {other:?}"),
    };
    assert!(g2 > g1);
    // A late answer from the first run changes nothing.
    feed(
        &mut app,
        [Msg::CheckDone {
            key: key.clone(),
            generation: g1,
            result: Box::new(bad),
        }],
    );
    assert_eq!(app.checks.running(), 1);
    // The re-run finds the route fixed: its finding is gone, not piled on.
    feed(
        &mut app,
        [Msg::CheckDone {
            key: key.clone(),
            generation: g2,
            result: Box::new(result_for(&target, Vec::new())),
        }],
    );
    let row = app.selected_row().unwrap();
    let d = &app.estate.as_ref().unwrap().diagnoses[row.diagnosis];
    assert!(d.findings.iter().all(|f| f.code != Code::Http01WrongStatus));
    assert_eq!(row.root.unwrap().0, Code::SelfcheckHttp01WrongStatus);
}

#[test]
fn checks_on_a_selected_challenge_run_even_when_it_is_valid() {
    let mut app = demo_app(SIZE);
    select(&mut app, "shop/www-shop");
    feed(&mut app, [Msg::Open, Msg::End, Msg::Up]);
    let started = run_checks(&mut app);
    assert_eq!(started.len(), 1);
    let c = app.chain.as_ref().unwrap();
    let d = &app.estate.as_ref().unwrap().diagnoses[c.diagnosis];
    assert_eq!(started[0].0, c.selected_node(d).unwrap().object.to_string());
}

#[test]
fn checks_off_say_why_and_start_nothing() {
    let mut cfg = config(SIZE);
    cfg.checks_disabled = Some("offline session".to_owned());
    let mut app = support::app_with(cfg, certdx::source::demo::load().inventory);
    assert!(feed(&mut app, [Msg::RunChecks]).is_empty());
    let s = app.status.as_ref().unwrap();
    assert_eq!(s.kind, StatusKind::Error);
    assert!(s.text.contains("offline session"), "{}", s.text);
    assert!(feed(&mut app, [Msg::RerunChecks]).is_empty());
}

#[test]
fn retry_by_intent_names_the_write_and_what_blocks_it_first() {
    let mut cfg = config(SIZE);
    cfg.actions = Arc::new(support::Allowed);
    let mut app = support::app_with(cfg, certdx::source::demo::load().inventory);
    // legacy-portal: its request failed on the duplicate-certificate limit, in force for
    // another 1d21h.
    assert!(feed(&mut app, [Msg::Retry]).is_empty());
    let Some(Overlay::Confirm(c)) = &app.overlay else {
        panic!("a confirmation opens")
    };
    assert_eq!(
        c.action,
        Some(Action::RenewCertificate {
            namespace: "internal".into(),
            name: "legacy-portal".into()
        })
    );
    let why = c.why.as_deref().unwrap();
    assert!(
        why.contains("failed") && why.contains("so deleting its Order would change nothing; renewing Certificate internal/legacy-portal"),
        "{why}"
    );
    let blocked = c.blocked.as_deref().unwrap();
    assert!(blocked.starts_with("the CA refuses until"), "{blocked}");
    assert!(blocked.contains("certdx retry --force"), "{blocked}");
    // Confirming a blocked retry does nothing but say why.
    assert!(feed(&mut app, [Msg::Confirm]).is_empty());
    assert!(app.overlay.is_none());
    let s = app.status.as_ref().unwrap();
    assert_eq!(s.kind, StatusKind::Error);
    assert!(s.text.contains("the CA refuses until"), "{}", s.text);
}

#[test]
fn retry_on_a_chain_still_working_is_refused_with_what_it_waits_for() {
    let mut cfg = config(SIZE);
    cfg.actions = Arc::new(support::Allowed);
    let mut app = support::app_with(cfg, certdx::source::demo::load().inventory);
    select(&mut app, "api/api-gateway");
    assert!(feed(&mut app, [Msg::Retry]).is_empty());
    let Some(Overlay::Confirm(c)) = &app.overlay else {
        panic!("a dialog opens")
    };
    assert_eq!(c.action, None);
    let why = c.blocked.as_deref().unwrap();
    assert!(
        why.starts_with(
            "nothing failed: cert-manager is still working on Certificate api/api-gateway"
        ),
        "{why}"
    );
    assert!(feed(&mut app, [Msg::Confirm]).is_empty());
}

#[test]
fn confirmed_actions_become_commands_and_report_their_outcome() {
    let mut cfg = config(SIZE);
    cfg.actions = Arc::new(support::Allowed);
    let mut app = support::app_with(cfg, certdx::source::demo::load().inventory);
    select(&mut app, "shop/www-shop");
    feed(&mut app, [Msg::Renew]);
    let Some(Overlay::Confirm(c)) = &app.overlay else {
        panic!("a confirmation opens")
    };
    assert_eq!(c.blocked, None);
    assert_eq!(
        c.description,
        "exactly this: renew Certificate shop/www-shop"
    );
    // Only y confirms: Enter, pressed out of habit, and n cancel.
    let key = |code| KeyEvent::new(code, KeyModifiers::NONE);
    assert!(matches!(
        map_key(&app, key(KeyCode::Enter)),
        Some(Msg::Back)
    ));
    assert!(matches!(
        map_key(&app, key(KeyCode::Char('n'))),
        Some(Msg::Back)
    ));
    assert!(matches!(
        map_key(&app, key(KeyCode::Char('y'))),
        Some(Msg::Confirm)
    ));
    assert!(feed(&mut app, [Msg::Back]).is_empty());
    assert!(app.overlay.is_none());
    let cmds = feed(&mut app, [Msg::Renew, Msg::Confirm]);
    let (id, action) = match &cmds[..] {
        [Cmd::Perform { id, action }] => (*id, action.clone()),
        other => panic!("expected one write, got {other:?}"),
    };
    assert_eq!(
        action,
        Action::RenewCertificate {
            namespace: "shop".into(),
            name: "www-shop".into()
        }
    );
    assert_eq!(app.busy.len(), 1);
    assert!(app.wants_ticks());
    feed(
        &mut app,
        [Msg::ActionDone {
            id,
            action,
            result: Ok("Issuing=True set".into()),
        }],
    );
    assert!(app.busy.is_empty());
    let s = app.status.as_ref().unwrap();
    assert_eq!(s.kind, StatusKind::Ok);
    assert_eq!(s.text, "renew Certificate shop/www-shop: Issuing=True set");
}

#[test]
fn retry_on_a_selected_challenge_finds_its_chain_and_read_only_blocks_writes() {
    let mut cfg = config(SIZE);
    cfg.actions = Arc::new(support::Allowed);
    cfg.read_only = true;
    let mut app = support::app_with(cfg, certdx::source::demo::load().inventory);
    select(&mut app, "marketing/promo");
    feed(&mut app, [Msg::Open, Msg::End, Msg::Retry]);
    let Some(Overlay::Confirm(c)) = &app.overlay else {
        panic!("a confirmation opens")
    };
    assert!(c.title.contains("Challenge marketing/"), "{}", c.title);
    assert_eq!(
        c.action,
        Some(Action::RenewCertificate {
            namespace: "marketing".into(),
            name: "promo".into()
        })
    );
    // CAA forbids the CA: the retry would fail the same way, and the dialog says so.
    assert!(
        c.warnings.iter().any(|w| w.contains("(acme-caa)")),
        "{:?}",
        c.warnings
    );
    assert!(c.blocked.as_deref().unwrap().contains("read-only"));
    assert!(feed(&mut app, [Msg::Confirm]).is_empty());
}

#[test]
fn export_asks_the_format_and_writes_into_the_export_dir() {
    let mut app = demo_app(SIZE);
    feed(&mut app, [Msg::Export]);
    assert!(matches!(
        &app.overlay,
        Some(Overlay::Export(x)) if x.format == Format::Markdown && matches!(x.scope, ExportScope::Diagnosis(_))
    ));
    feed(&mut app, [Msg::ExportNextFormat]);
    assert!(matches!(&app.overlay, Some(Overlay::Export(x)) if x.format == Format::Json));
    let cmds = feed(&mut app, [Msg::Confirm]);
    let [
        Cmd::Export {
            path,
            format,
            report,
            ..
        },
    ] = &cmds[..]
    else {
        panic!("expected one export, got {cmds:?}")
    };
    assert_eq!(*format, Format::Json);
    assert_eq!(path.parent().unwrap(), support::export_dir());
    assert_eq!(
        path.file_name().unwrap().to_str().unwrap(),
        "certdx-internal-legacy-portal-20260115T120000Z.json"
    );
    assert_eq!(report.diagnoses.len(), 1);
    assert_eq!(report.source, "demo");

    let cmds = feed(&mut app, [Msg::ExportAll, Msg::ExportFormat(Format::Html)]);
    let [Cmd::Export { path, report, .. }] = &cmds[..] else {
        panic!("expected one export, got {cmds:?}")
    };
    assert!(
        path.to_str()
            .unwrap()
            .ends_with("certdx-estate-20260115T120000Z.html")
    );
    assert_eq!(report.summary.certificates, 6);
    assert_eq!(report.summary.orphans, 1);
}

#[test]
fn help_toggles_and_swallows_screen_keys() {
    let mut app = demo_app(SIZE);
    feed(&mut app, [Msg::Help]);
    assert!(matches!(app.overlay, Some(Overlay::Help { .. })));
    feed(&mut app, [Msg::Down, Msg::Open]);
    assert!(
        app.chain.is_none(),
        "keys under the help do not reach the screen"
    );
    assert_eq!(app.overview.selected, 0);
    feed(&mut app, [Msg::Back]);
    assert!(app.overlay.is_none());
    assert!(!app.quit);
}

#[test]
fn countdowns_tick_only_while_visible() {
    let mut app = demo_app(SIZE);
    // legacy-portal's rate limit lifts at 2026-01-17T09:14:02Z: its row counts down, whichever
    // row is selected.
    assert!(app.wants_ticks());
    select(&mut app, "blog/www-blog");
    assert!(app.wants_ticks(), "every listed row counts down");
    // Filtered out of the list, nothing counts down.
    feed(&mut app, [Msg::FilterStart]);
    feed(&mut app, "www-blog".chars().map(Msg::FilterInput));
    feed(&mut app, [Msg::FilterAccept]);
    assert_eq!(names(&app), ["blog/www-blog"]);
    assert!(!app.wants_ticks());
    feed(&mut app, [Msg::FilterStart, Msg::FilterCancel]);
    assert!(app.wants_ticks());
    feed(
        &mut app,
        [Msg::Tick("2026-01-18T00:00:00Z".parse().unwrap())],
    );
    assert!(!app.wants_ticks(), "the window has passed");
    // Time never goes backwards.
    feed(&mut app, [Msg::Tick(support::demo_now())]);
    assert_eq!(app.clock, "2026-01-18T00:00:00Z".parse().unwrap());
}

#[test]
fn the_chain_of_a_rate_limited_certificate_ticks_for_its_countdown() {
    let mut app = demo_app(SIZE);
    feed(&mut app, [Msg::Open]);
    assert!(app.wants_ticks());
    feed(&mut app, [Msg::Back]);
    select(&mut app, "shop/www-shop");
    feed(&mut app, [Msg::Open]);
    assert!(
        !app.wants_ticks(),
        "no countdown, nothing running: no ticks"
    );
}

#[test]
fn loading_ignores_keys_but_lets_the_user_leave() {
    let (mut app, cmds) = App::new(config(SIZE), certdx::source::demo::load().inventory);
    assert!(matches!(&cmds[..], [Cmd::Diagnose { .. }]));
    assert!(
        feed(
            &mut app,
            [
                Msg::Down,
                Msg::Open,
                Msg::RunChecks,
                Msg::Retry,
                Msg::Export
            ]
        )
        .is_empty()
    );
    assert!(app.overlay.is_none());
    feed(&mut app, [Msg::Back]);
    assert!(app.quit);
}

#[test]
fn an_empty_estate_never_panics() {
    let mut app = support::app_with(config(SIZE), Inventory::default());
    let all = [
        Msg::Down,
        Msg::Up,
        Msg::PageDown,
        Msg::End,
        Msg::Home,
        Msg::NextFailing,
        Msg::Open,
        Msg::CycleNamespace,
        Msg::CycleSort,
        Msg::ToggleOrphans,
        Msg::RunChecks,
        Msg::RerunChecks,
        Msg::Retry,
        Msg::Renew,
        Msg::Export,
        Msg::ToggleHistory,
        Msg::ToggleYaml,
        Msg::FilterStart,
        Msg::FilterInput('x'),
        Msg::FilterAccept,
    ];
    assert!(feed(&mut app, all).is_empty());
    assert!(app.chain.is_none());
    // Everything can still be exported (an empty report).
    let cmds = feed(&mut app, [Msg::ExportAll, Msg::Confirm]);
    assert!(matches!(&cmds[..], [Cmd::Export { .. }]));
}

#[test]
fn ready_rows_are_not_failing_and_failed_rows_are() {
    let app = demo_app(SIZE);
    let e = app.estate.as_ref().unwrap();
    for r in &e.rows {
        if r.state == State::Failed {
            assert!(r.is_failing());
        }
        if r.state == State::Ready {
            assert!(!r.is_failing());
        }
    }
}

#[test]
fn a_certificates_detail_lists_the_events_of_its_whole_chain() {
    let mut app = demo_app(SIZE);
    select(&mut app, "shop/www-shop");
    feed(&mut app, [Msg::Open]);
    let text: String = certdx::tui::view::detail::lines(&app, 200)
        .iter()
        .map(|l| l.to_string() + "\n")
        .collect();
    assert!(
        text.contains("Events of the chain (1, newest first)"),
        "{text}"
    );
    assert!(
        text.contains("[Challenge www-shop-1-2841905717-1198735113]"),
        "the Challenge's Event is labelled with its object: {text}"
    );
}

/// `certdx --filter TEXT` (what the k9s plugin passes as the selected Certificate) opens the
/// list filtered to it.
#[test]
fn the_view_opens_filtered_when_asked() {
    let mut cfg = config(SIZE);
    cfg.filter = "www-shop".to_owned();
    let app = support::app_with(cfg, certdx::source::demo::load().inventory);
    let e = app.estate.as_ref().expect("diagnosed");
    assert!(!app.overview.visible.is_empty());
    assert!(app.overview.visible.len() < e.rows.len());
    for &i in &app.overview.visible {
        assert!(
            e.rows[i].search.contains("www-shop"),
            "{:?}",
            e.rows[i].search
        );
    }
}

/// Ready Certificates that fail silently sort with the failing ones and the header counts
/// them; the healthy one comes last.
#[test]
fn silent_failures_sort_with_the_failing() {
    let mut cfg = config(SIZE);
    cfg.now = "2026-01-15T12:00:00Z".parse().unwrap();
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/silent-failures.yaml");
    let inv = certdx::source::snapshot::load(&path).unwrap().inventory;
    let app = support::app_with(cfg, inv);
    let e = app.estate.as_ref().expect("diagnosed");
    assert_eq!(e.counts.silent, 4, "overdue, last-days, expired, edited");
    let order: Vec<&str> = app
        .overview
        .visible
        .iter()
        .map(|&i| e.rows[i].name.as_str())
        .collect();
    assert_eq!(order.last(), Some(&"fine"), "{order:?}");
    let pos = |n: &str| order.iter().position(|o| *o == n).unwrap();
    assert!(
        pos("expired") < pos("overdue") && pos("last-days") < pos("overdue"),
        "{order:?}"
    );
}

/// The demo inventory with `edit` applied to Certificate shop/www-shop's status.
fn demo_with_www_shop(edit: impl FnOnce(&mut certdx::model::CertificateStatus)) -> Inventory {
    let mut inv = certdx::source::demo::load().inventory;
    let cert = inv
        .certificates
        .iter_mut()
        .find(|c| c.metadata.name.as_deref() == Some("www-shop"))
        .expect("the demo has shop/www-shop");
    edit(cert.status.get_or_insert_with(Default::default));
    inv
}

fn loaded(app: &mut App, inv: Inventory) -> Vec<Cmd> {
    let estate = certdx::tui::estate::Estate::build(Arc::new(inv), app.clock);
    feed(app, [Msg::Loaded(Box::new(estate))])
}

/// Renews shop/www-shop and reports the write done: the attempt is followed from here.
fn renewed_www_shop() -> App {
    let mut cfg = config(SIZE);
    cfg.actions = Arc::new(support::Allowed);
    let mut app = support::app_with(cfg, certdx::source::demo::load().inventory);
    select(&mut app, "shop/www-shop");
    let cmds = feed(&mut app, [Msg::Renew, Msg::Confirm]);
    let [Cmd::Perform { id, action }] = &cmds[..] else {
        panic!("expected one write, got {cmds:?}")
    };
    feed(
        &mut app,
        [Msg::ActionDone {
            id: *id,
            action: action.clone(),
            result: Ok("Issuing=True set".into()),
        }],
    );
    let attempt = app.attempt.as_ref().expect("the attempt is followed");
    assert_eq!(attempt.label(), "retrying: attempt 1 since 12:00:00");
    app
}

#[test]
fn a_followed_attempt_checks_its_presented_challenges_and_ends_when_ready() {
    let mut app = renewed_www_shop();
    // The header says it is following, on the list and on the chain.
    assert!(
        support::draw(&app).contains("retrying: attempt 1 since 12:00:00 (www-shop) · demo"),
        "{}",
        support::draw(&app)
    );
    feed(&mut app, [Msg::Open]);
    assert!(support::draw(&app).contains("shop/www-shop retrying: attempt 1 since 12:00:00"));
    feed(&mut app, [Msg::Back]);
    // The next picture: the chain's presented Challenge is checked on its own, once.
    let cmds = loaded(&mut app, certdx::source::demo::load().inventory);
    let checks: Vec<&String> = cmds
        .iter()
        .filter_map(|c| match c {
            Cmd::RunCheck { key, .. } => Some(key),
            _ => None,
        })
        .collect();
    assert_eq!(checks.len(), 1, "{cmds:?}");
    assert!(checks[0].starts_with("Challenge shop/"), "{checks:?}");
    assert!(app.attempt.is_some());
    // Issued: Ready at a newer revision ends the attempt, said in the status line.
    loaded(
        &mut app,
        demo_with_www_shop(|s| {
            s.revision = Some(s.revision.unwrap_or(0) + 1);
            s.conditions = vec![certdx::model::Condition {
                type_: "Ready".into(),
                status: "True".into(),
                reason: Some("Ready".into()),
                message: Some("Certificate is up to date and has not expired".into()),
                last_transition_time: None,
                observed_generation: None,
            }];
        }),
    );
    assert!(app.attempt.is_none());
    let s = app.status.as_ref().unwrap();
    assert_eq!(s.kind, StatusKind::Ok);
    assert_eq!(
        s.text,
        "Certificate shop/www-shop is Ready: attempt 1 succeeded"
    );
}

#[test]
fn a_followed_attempt_that_fails_says_so_with_its_new_root_cause() {
    let mut app = renewed_www_shop();
    let at = app.clock;
    loaded(
        &mut app,
        demo_with_www_shop(|s| {
            s.last_failure_time = Some(at);
            s.failed_issuance_attempts = Some(1);
        }),
    );
    assert!(app.attempt.is_none());
    let s = app.status.as_ref().unwrap();
    assert_eq!(s.kind, StatusKind::Error);
    assert!(
        s.text
            .starts_with("attempt 1 of Certificate shop/www-shop failed: "),
        "{}",
        s.text
    );
    assert!(
        s.text.contains("selfcheck-http01-wrong-status"),
        "{}",
        s.text
    );
}

/// A running batch of four certificates (issued, failed, retrying, validating) on the batch
/// screen of the demo app.
fn batch_app() -> App {
    use certdx::engine::batch::{BatchProgress, ItemProgress, ItemState};
    use certdx::tui::batch::{BatchMsg, BatchView};
    let mut app = demo_app(SIZE);
    let now = support::demo_now();
    app.batch.run = Some(BatchView::new(
        "https://127.0.0.1:14000/dir".to_owned(),
        app.theme,
        app.size,
        now,
    ));
    let states = [
        ItemState::Issued,
        ItemState::Failed,
        ItemState::Retrying,
        ItemState::Validating,
    ];
    let progress = BatchProgress {
        certificates: states.len(),
        items: states
            .iter()
            .enumerate()
            .map(|(i, s)| ItemProgress {
                names: vec![format!("n{i}.example")],
                state: *s,
                ..ItemProgress::default()
            })
            .collect(),
        ..BatchProgress::default()
    };
    feed(&mut app, [Msg::Batch(BatchMsg::Progress(progress))]);
    let b = map_key(&app, key(KeyCode::Char('b'))).expect("b is bound");
    assert!(matches!(b, Msg::ShowBatch), "{b:?}");
    feed(&mut app, [b]);
    assert!(app.batch.open);
    app
}

fn batch_selected(app: &App) -> String {
    let view = app.batch.run.as_ref().expect("a batch");
    view.selected_item().expect("a row").names[0].clone()
}

#[test]
fn b_shows_the_batch_screen_and_b_or_esc_comes_back_where_the_user_was() {
    let mut app = demo_app(SIZE);
    select(&mut app, "shop/www-shop");
    feed(&mut app, [Msg::Open, Msg::Down]);
    let node = app.chain.as_ref().unwrap().selected;
    let press = |app: &App, code| map_key(app, key(code)).expect("bound");

    let b = press(&app, KeyCode::Char('b'));
    feed(&mut app, [b]);
    assert!(app.batch.open, "b opens the batch screen");
    let screen = support::draw(&app);
    assert!(
        screen.contains("no engine batch in this session"),
        "{screen}"
    );
    assert!(screen.contains("certdx issue --tui"), "{screen}");
    // With no batch, the list's keys do nothing here and nothing is asked on leaving.
    let m = press(&app, KeyCode::Char('j'));
    feed(&mut app, [m]);
    let esc = press(&app, KeyCode::Esc);
    feed(&mut app, [esc]);
    assert!(!app.batch.open, "Esc comes back");
    assert!(!app.quit);
    let chain = app.chain.as_ref().expect("back on the chain");
    assert_eq!(chain.selected, node, "where the user was");

    // From the list too, and `b` again comes back.
    feed(&mut app, [Msg::Back]);
    assert!(app.chain.is_none());
    let row = app.overview.selected;
    let m = press(&app, KeyCode::Char('b'));
    feed(&mut app, [m]);
    assert!(app.batch.open);
    let m = press(&app, KeyCode::Char('b'));
    feed(&mut app, [m]);
    assert!(!app.batch.open);
    assert_eq!(app.overview.selected, row);
    // No batch: q leaves at once, as before.
    assert!(matches!(press(&app, KeyCode::Char('q')), Msg::Quit));
    feed(&mut app, [Msg::Quit]);
    assert!(app.quit);
}

#[test]
fn the_batch_screen_moves_through_its_rows_with_the_one_key_table() {
    let mut app = batch_app();
    let press = |app: &App, c: char| map_key(app, key(KeyCode::Char(c))).expect("bound");
    assert_eq!(batch_selected(&app), "n0.example");
    let m = press(&app, 'j');
    feed(&mut app, [m]);
    assert_eq!(batch_selected(&app), "n1.example");
    let m = press(&app, 'G');
    feed(&mut app, [m]);
    assert_eq!(batch_selected(&app), "n3.example");
    let m = press(&app, 'g');
    feed(&mut app, [m]);
    // f: the next failed or retrying certificate.
    let m = press(&app, 'f');
    feed(&mut app, [m]);
    assert_eq!(batch_selected(&app), "n1.example");
    let m = press(&app, 'f');
    feed(&mut app, [m]);
    assert_eq!(batch_selected(&app), "n2.example");
    // F: only those are listed.
    let f = press(&app, 'F');
    assert!(matches!(f, Msg::ToggleFailedOnly), "{f:?}");
    feed(&mut app, [f]);
    let view = app.batch.run.as_ref().unwrap();
    assert!(view.failed_only);
    assert_eq!(view.rows, vec![1, 2]);
    assert_eq!(batch_selected(&app), "n2.example");
    // The list underneath did not move, and a list-only key says where it works.
    assert_eq!(app.overview.selected, 0);
    let m = press(&app, 'c');
    feed(&mut app, [m]);
    let said = app.status.as_ref().expect("a message").text.clone();
    assert!(said.contains("b or Esc goes back"), "{said}");
    assert!(support::draw(&app).contains("b or Esc goes back"));
}

#[test]
fn q_asks_before_dropping_a_running_batch_and_ctrl_c_does_not() {
    use certdx::tui::batch::BatchMsg;
    let mut app = batch_app();
    let press = |app: &App, c: char| map_key(app, key(KeyCode::Char(c)));
    let m = press(&app, 'q').unwrap();
    feed(&mut app, [m]);
    assert_eq!(app.overlay, Some(Overlay::StopBatch));
    assert!(!app.quit);
    assert!(
        support::draw(&app).contains("stop the batch? it resumes from the state file next run")
    );
    // Only y stops; the list keys are not taken while asking.
    assert!(press(&app, 'j').is_none());
    assert!(matches!(
        map_key(&app, key(KeyCode::Enter)),
        Some(Msg::Back)
    ));
    let m = press(&app, 'n').unwrap();
    feed(&mut app, [m]);
    assert_eq!(app.overlay, None);
    assert!(!app.quit && app.batch.open);
    // From the list as well: leaving drops the batch wherever the user is.
    feed(&mut app, [Msg::ShowBatch, Msg::Quit]);
    assert_eq!(app.overlay, Some(Overlay::StopBatch));
    let m = press(&app, 'y').unwrap();
    feed(&mut app, [m]);
    assert!(app.quit, "y stops and leaves");

    // Ctrl-C stops at once.
    let mut app = batch_app();
    let ctrl_c = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
    let m = map_key(&app, ctrl_c).unwrap();
    assert!(matches!(m, Msg::Interrupt), "{m:?}");
    feed(&mut app, [m]);
    assert!(app.quit && app.overlay.is_none());

    // The batch ending drops the question; then q leaves without asking.
    let mut app = batch_app();
    feed(&mut app, [Msg::Quit]);
    feed(
        &mut app,
        [Msg::Batch(BatchMsg::Finished(Ok("4 issued".to_owned())))],
    );
    assert_eq!(app.overlay, None, "nothing left to stop");
    assert!(matches!(map_key(&app, ctrl_c), Some(Msg::Quit)));
    feed(&mut app, [Msg::Quit]);
    assert!(app.quit);
}

#[test]
fn the_help_lists_the_batch_keys_with_the_others() {
    let mut app = batch_app();
    feed(&mut app, [Msg::Help]);
    assert!(matches!(app.overlay, Some(Overlay::Help { .. })));
    let mut big = app;
    big.size = (200, 60);
    let screen = support::draw(&big);
    for heading in [
        "Everywhere",
        "Certificate list",
        "Chain and detail",
        "Engine batch",
    ] {
        assert!(screen.contains(heading), "{heading}: {screen}");
    }
    for b in certdx::tui::keys::BINDINGS
        .iter()
        .filter(|b| b.context == certdx::tui::keys::Context::Batch)
    {
        assert!(screen.contains(b.help), "help lacks {:?}: {screen}", b.help);
    }
    assert!(screen.contains("engine batch screen (b or Esc comes back)"));
    // The help closes back onto the batch screen.
    feed(&mut big, [Msg::Back]);
    assert!(big.overlay.is_none() && big.batch.open);
}
