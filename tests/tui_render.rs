//! Every screen and state drawn on ratatui's `TestBackend` and compared with insta snapshots
//! (`cargo insta review` after an intended change). Time is part of the state (`app.clock`),
//! so spinners, elapsed times and countdowns are deterministic.

#[path = "tui_support/mod.rs"]
mod support;

use std::sync::Arc;

use certdx::checks::CheckStatus;
use certdx::model::{Code, Finding, Inventory};
use certdx::tui::theme::Theme;
use certdx::tui::{App, Cmd, Msg};
use jiff::SignedDuration;
use ratatui::style::Color;
use support::{config, demo_app, draw, feed};

const NARROW: (u16, u16) = (80, 24);
const WIDE: (u16, u16) = (200, 50);

fn select(app: &mut App, name: &str) {
    feed(app, [Msg::Home]);
    for _ in 0..app.overview.visible.len() {
        let r = app.selected_row().unwrap();
        if format!("{}/{}", r.namespace, r.name) == name {
            return;
        }
        feed(app, [Msg::Down]);
    }
    panic!("{name} not listed");
}

#[test]
fn loading_screen() {
    let (app, _) = App::new(config(NARROW), certdx::source::demo::load().inventory);
    let screen = draw(&app);
    assert!(
        screen.contains("diagnosing 34 objects from demo"),
        "{screen}"
    );
    insta::assert_snapshot!("loading", screen);
}

#[test]
fn empty_estate_screen_lists_load_problems() {
    let mut cfg = config(NARROW);
    cfg.load_problems = vec!["dump.yaml:3 (document 1): not YAML".to_owned()];
    let app = support::app_with(cfg, Inventory::default());
    let screen = draw(&app);
    assert!(screen.contains("No Certificates in demo."));
    assert!(screen.contains("dump.yaml:3"));
    insta::assert_snapshot!("empty", screen);
}

#[test]
fn overview_narrow() {
    let app = demo_app(NARROW);
    let screen = draw(&app);
    assert!(screen.contains("2 failed"));
    assert!(
        screen.contains("retry in 1d21h"),
        "rate-limit countdown on the footer"
    );
    insta::assert_snapshot!("overview_80x24", screen);
}

#[test]
fn overview_wide_shows_every_column() {
    let app = demo_app(WIDE);
    let screen = draw(&app);
    for col in ["ISSUING", "NOT AFTER", "RENEWAL", "ISSUER", "ROOT CAUSE"] {
        assert!(screen.contains(col), "{col} missing");
    }
    insta::assert_snapshot!("overview_200x50", screen);
}

/// ROOT CAUSE takes the width the other columns leave and says the cause in words with its
/// code, at every common terminal size; nothing in it is cut mid-word.
#[test]
fn overview_root_cause_in_words_at_every_size() {
    for (size, name) in [
        ((80, 24), "overview_cause_80x24"),
        ((100, 30), "overview_cause_100x30"),
        ((160, 40), "overview_cause_160x40"),
        ((200, 50), "overview_cause_200x50"),
    ] {
        let app = demo_app(size);
        let screen = draw(&app);
        // Every code is shown whole, in parentheses after its words or on its own.
        for code in [
            "ratelimit-duplicate-certificate",
            "acme-caa",
            "challenge-stuck",
        ] {
            assert!(
                screen.contains(code),
                "{code} not whole at {size:?}:\n{screen}"
            );
        }
        assert!(
            screen.contains("1d21h (ratelimit-duplicate-certificate)"),
            "countdown and code at {size:?}:\n{screen}"
        );
        if size.0 >= 160 {
            assert!(
                screen.contains("Duplicate-certificate limit"),
                "the cause in words at {size:?}:\n{screen}"
            );
        }
        insta::assert_snapshot!(name, screen);
    }
}

#[test]
fn overview_countdown_moves_with_the_clock() {
    let mut app = demo_app(NARROW);
    feed(
        &mut app,
        [Msg::Tick("2026-01-17T08:12:00Z".parse().unwrap())],
    );
    assert!(draw(&app).contains("retry in 1h02m"));
}

#[test]
fn overview_with_orphans_and_filter_being_typed() {
    let mut app = demo_app(NARROW);
    feed(
        &mut app,
        [
            Msg::ToggleOrphans,
            Msg::FilterStart,
            Msg::FilterInput('m'),
            Msg::FilterInput('a'),
        ],
    );
    insta::assert_snapshot!("overview_filter_orphans", draw(&app));
}

#[test]
fn overview_with_no_match() {
    let mut app = demo_app(NARROW);
    feed(
        &mut app,
        [
            Msg::FilterStart,
            Msg::FilterInput('z'),
            Msg::FilterInput('z'),
        ],
    );
    assert!(draw(&app).contains("no Certificate matches"));
}

#[test]
fn many_rows_draw_only_the_window_around_the_selection() {
    let mut app = support::synthetic_app(2000, NARROW);
    insta::assert_snapshot!("many_rows_top", draw(&app));
    feed(&mut app, [Msg::End]);
    let screen = draw(&app);
    assert!(screen.contains("showing 2000 of 2000"));
    insta::assert_snapshot!("many_rows_end", screen);
}

#[test]
fn chain_narrow_with_history_folded() {
    let mut app = demo_app(NARROW);
    feed(&mut app, [Msg::Open]);
    let screen = draw(&app);
    assert!(screen.contains("ROOT CAUSE ratelimit-duplicate-certificate"));
    assert!(screen.contains("5 older revisions"));
    insta::assert_snapshot!("chain_80x24", screen);
}

/// Under the root cause and its advice, the one command to run next, with the real names: the
/// same command the reports' answer table gives.
#[test]
fn chain_names_the_next_command() {
    let mut app = demo_app(WIDE);
    select(&mut app, "marketing/promo");
    feed(&mut app, [Msg::Open]);
    let screen = draw(&app);
    let line = screen
        .lines()
        .find(|l| l.contains(" next: "))
        .unwrap_or_else(|| panic!("no next command:\n{screen}"));
    assert!(line.contains("certdx check marketing/promo-"), "{line}");
    let mut rate_limited = demo_app(WIDE);
    feed(&mut rate_limited, [Msg::Open]);
    let screen = draw(&rate_limited);
    assert!(
        screen.contains(" next: ") && screen.contains("certdx renew"),
        "{screen}"
    );
}

#[test]
fn chain_wide_with_history_shown() {
    let mut app = demo_app(WIDE);
    feed(&mut app, [Msg::Open, Msg::ToggleHistory]);
    let screen = draw(&app);
    assert!(screen.contains("legacy-portal-1 (rev 1)"));
    insta::assert_snapshot!("chain_history_200x50", screen);
}

#[test]
fn detail_of_a_challenge_shows_its_fields_findings_and_events() {
    let mut app = demo_app(WIDE);
    select(&mut app, "marketing/promo");
    feed(&mut app, [Msg::Open, Msg::End]);
    let screen = draw(&app);
    for what in [
        "type: HTTP-01",
        "dnsName: promo.example.com",
        "token:",
        "key:",
        "presented: no",
        "processing: no",
        "solver:",
        "ACME server:",
        "acme-caa",
        "Live checks",
    ] {
        assert!(screen.contains(what), "{what} missing:\n{screen}");
    }
    insta::assert_snapshot!("detail_challenge_200x50", screen);
}

#[test]
fn detail_of_an_order() {
    let mut app = demo_app(WIDE);
    select(&mut app, "shop/www-shop");
    feed(&mut app, [Msg::Open, Msg::Down, Msg::Down]);
    insta::assert_snapshot!("detail_order_200x50", draw(&app));
}

#[test]
fn yaml_view_of_the_selected_object() {
    let mut app = demo_app(WIDE);
    select(&mut app, "marketing/promo");
    feed(&mut app, [Msg::Open, Msg::End, Msg::ToggleYaml]);
    let screen = draw(&app);
    assert!(screen.contains("kind: Challenge"));
    assert!(screen.contains("typed fields only"));
    insta::assert_snapshot!("detail_yaml_200x50", screen);
}

fn start_checks(app: &mut App) -> Vec<(String, u64, certdx::diagnose::playbook::Target)> {
    feed(app, [Msg::RunChecks])
        .into_iter()
        .filter_map(|c| match c {
            Cmd::RunCheck {
                key,
                generation,
                target,
            } => Some((key, generation, target)),
            _ => None,
        })
        .collect()
}

#[test]
fn checks_running_show_a_spinner_and_elapsed_time() {
    let mut app = demo_app(WIDE);
    select(&mut app, "shop/www-shop");
    feed(&mut app, [Msg::Open, Msg::End]);
    assert_eq!(start_checks(&mut app).len(), 1);
    let later = support::demo_now() + SignedDuration::from_millis(1_340);
    feed(&mut app, [Msg::Tick(later)]);
    let screen = draw(&app);
    assert!(screen.contains("checking 1.3s"), "{screen}");
    assert!(screen.contains("running for 1.3s"));
    insta::assert_snapshot!("checks_running_200x50", screen);
}

#[test]
fn checks_finished_merge_findings_and_change_the_root_cause() {
    let mut app = demo_app(WIDE);
    select(&mut app, "shop/www-shop");
    feed(&mut app, [Msg::Open, Msg::End]);
    let (key, generation, target) = start_checks(&mut app).remove(0);
    let finding = Finding::new(
        Code::Http01WrongStatus,
        "GET http://www.shop.example.com/.well-known/acme-challenge/x answered 404 (nginx)",
    )
    .with_evidence(certdx::model::Evidence::Http(certdx::model::HttpEvidence {
        url: "http://www.shop.example.com/.well-known/acme-challenge/x".into(),
        address: Some("127.0.80.10".parse().unwrap()),
        port: Some(80),
        status: Some(404),
        server: Some("nginx".into()),
        elapsed_ms: 3,
        ..Default::default()
    }));
    let mut result = tui_result(&target, vec![finding]);
    result.checks[1].status = CheckStatus::Failed;
    feed(
        &mut app,
        [
            Msg::Tick(support::demo_now() + SignedDuration::from_secs(2)),
            Msg::CheckDone {
                key,
                generation,
                result: Box::new(result),
            },
        ],
    );
    let screen = draw(&app);
    assert!(screen.contains("ROOT CAUSE http01-wrong-status"));
    assert!(screen.contains("GET http://www.shop.example.com/.well-known/acme-challenge/x via 127.0.80.10:80: 404 (nginx)"));
    insta::assert_snapshot!("checks_finished_200x50", screen);
}

/// A multi-server check's findings read as sentences in the chain screen: what was checked,
/// how it went, who answered what, with the codes in parentheses.
#[test]
fn multi_server_findings_read_as_sentences() {
    use certdx::checks::CheckReport;
    use certdx::model::{DnsEvidence, Evidence};
    let mut app = demo_app(WIDE);
    select(&mut app, "api/api-gateway");
    feed(&mut app, [Msg::Open, Msg::End]);
    let (key, generation, target) = start_checks(&mut app).remove(0);
    let answer = |server: &str, addr: &str, rcode: &str, serial| DnsEvidence {
        server: server.into(),
        address: Some(addr.parse().unwrap()),
        question: "_acme-challenge.api.example.net. TXT".into(),
        rcode: Some(rcode.into()),
        soa_serial: Some(serial),
        elapsed_ms: 2,
        ..Default::default()
    };
    let mut missing = Finding::new(
        Code::Dns01TxtMissing,
        "1 of 2 nameservers has no TXT at _acme-challenge.api.example.net.: ns2.example.net. (127.0.53.32:53)",
    );
    missing.evidence = vec![Evidence::Dns(answer(
        "ns2.example.net.",
        "127.0.53.32:53",
        "NXDOMAIN",
        2026011501,
    ))];
    let check = |name: &str, findings: Vec<Finding>| {
        CheckReport::from_findings(
            name,
            &target.name,
            std::time::Duration::from_millis(3),
            findings,
        )
    };
    let result = certdx::diagnose::playbook::PlaybookResult {
        target: target.clone(),
        checks: vec![
            check("name", Vec::new()),
            check("dns01", vec![missing.clone()]),
            check("caa", Vec::new()),
        ],
        findings: vec![missing],
        duration_ms: 9,
        cluster: None,
    };
    feed(
        &mut app,
        [
            Msg::Tick(support::demo_now() + SignedDuration::from_secs(1)),
            Msg::CheckDone {
                key,
                generation,
                result: Box::new(result),
            },
        ],
    );
    let screen = draw(&app);
    for sentence in [
        "1 of 2 nameservers has no TXT at _acme-challenge.api.example.net.",
        "the TXT on every authoritative nameserver failed in 3 ms: 1 problem (dns01-txt-missing)",
        "ns2.example.net. (127.0.53.32:53) answered NXDOMAIN with no records for",
        "CAA for the CA passed in 3 ms (caa)",
    ] {
        assert!(screen.contains(sentence), "{sentence:?} missing:\n{screen}");
    }
    insta::assert_snapshot!("checks_multi_server_sentences_200x50", screen);
}

fn tui_result(
    target: &certdx::diagnose::playbook::Target,
    findings: Vec<Finding>,
) -> certdx::diagnose::playbook::PlaybookResult {
    use certdx::checks::CheckReport;
    let report = |name: &str, ms| CheckReport {
        name: name.into(),
        target: target.name.clone(),
        status: CheckStatus::Passed,
        duration_ms: ms,
        findings: Vec::new(),
    };
    certdx::diagnose::playbook::PlaybookResult {
        target: target.clone(),
        checks: vec![report("name", 2), report("http01", 35), report("caa", 4)],
        findings,
        duration_ms: 41,
        cluster: None,
    }
}

#[test]
fn checks_off_are_explained() {
    let mut cfg = config(WIDE);
    cfg.checks_disabled = Some("offline session: certdx was started without network checks".into());
    let mut app = support::app_with(cfg, certdx::source::demo::load().inventory);
    select(&mut app, "shop/www-shop");
    feed(&mut app, [Msg::Open, Msg::End, Msg::RunChecks]);
    let screen = draw(&app);
    assert!(screen.contains("off: offline session"));
    assert!(screen.contains("live checks are off: offline session"));
}

#[test]
fn confirm_dialog_disabled_with_the_reason() {
    let mut app = demo_app(NARROW);
    feed(&mut app, [Msg::Retry]);
    let screen = draw(&app);
    assert!(screen.contains("Not available: demo: read-only source"));
    insta::assert_snapshot!("dialog_retry_disabled_80x24", screen);
}

#[test]
fn confirm_dialog_states_what_will_change() {
    let mut cfg = config(NARROW);
    cfg.actions = Arc::new(certdx::actions::Unavailable("unused".into()));
    cfg.actions = Arc::new(support::Allowed);
    let mut app = support::app_with(cfg, certdx::source::demo::load().inventory);
    feed(&mut app, [Msg::Renew]);
    let screen = draw(&app);
    assert!(screen.contains("exactly this: renew Certificate internal/legacy-portal"));
    insta::assert_snapshot!("dialog_renew_80x24", screen);
}

#[test]
fn busy_action_and_outcome_in_the_status_line() {
    let mut cfg = config(NARROW);
    cfg.actions = Arc::new(support::Allowed);
    let mut app = support::app_with(cfg, certdx::source::demo::load().inventory);
    // marketing/promo, the second row: its request failed on CAA, so retry renews it.
    let cmds = feed(&mut app, [Msg::Down, Msg::Retry, Msg::Confirm]);
    let screen = draw(&app);
    assert!(
        screen.contains("renew Certificate marketing/promo"),
        "{screen}"
    );
    let Cmd::Perform { id, action } = cmds[0].clone() else {
        panic!()
    };
    feed(
        &mut app,
        [Msg::ActionDone {
            id,
            action,
            result: Err("forbidden: RBAC".into()),
        }],
    );
    assert!(draw(&app).contains("renew Certificate marketing/promo failed: forbidden: RBAC"));
}

#[test]
fn export_dialog() {
    let mut app = demo_app(NARROW);
    feed(&mut app, [Msg::Export, Msg::ExportNextFormat]);
    let screen = draw(&app);
    assert!(screen.contains("[j JSON]"));
    assert!(screen.contains("/tmp/certdx-exports"));
    insta::assert_snapshot!("dialog_export_80x24", screen);
}

#[test]
fn help_narrow_and_wide_lists_every_key() {
    let mut app = demo_app(WIDE);
    feed(&mut app, [Msg::Help]);
    let screen = draw(&app);
    for b in certdx::tui::keys::BINDINGS {
        assert!(screen.contains(b.help), "help lacks {:?}", b.help);
    }
    insta::assert_snapshot!("help_200x50", screen);
    let mut app = demo_app(NARROW);
    feed(&mut app, [Msg::Help]);
    insta::assert_snapshot!("help_80x24", draw(&app));
    feed(&mut app, std::iter::repeat_n(Msg::PageDown, 6));
    let end = draw(&app);
    // The last section, how the keys compare with k9s's and lazygit's, is reachable.
    for (key, why) in certdx::tui::keys::COMPARED {
        assert!(end.contains(why), "help end lacks {key} {why:?}:\n{end}");
    }
    assert!(end.contains("Keys compared with k9s and lazygit"));
    insta::assert_snapshot!("help_80x24_scrolled", end);
}

#[test]
fn tiny_terminal_says_so() {
    let app = demo_app((50, 10));
    let screen = draw(&app);
    assert!(screen.contains("terminal too small"));
    insta::assert_snapshot!("too_small", screen);
    // Degenerate sizes draw nothing and do not panic.
    for size in [(0, 0), (1, 1), (59, 40), (200, 11), (60, 12)] {
        support::terminal(&demo_app(size));
    }
}

#[test]
fn no_color_emits_no_colour_and_keeps_markers() {
    let mut app = demo_app(NARROW);
    app.theme = Theme::MONO;
    feed(&mut app, [Msg::Open]);
    let t = support::terminal(&app);
    let buf = t.backend().buffer();
    for cell in buf.content() {
        assert_eq!(
            cell.fg,
            Color::Reset,
            "colour in NO_COLOR mode at {:?}",
            cell.symbol()
        );
        assert_eq!(cell.bg, Color::Reset);
    }
    assert!(t.backend().to_string().contains("✗ Certificate"));
}

#[test]
fn colours_mark_failed_rows_red() {
    let mut app = demo_app(NARROW);
    app.theme = Theme::COLOR;
    let t = support::terminal(&app);
    let buf = t.backend().buffer();
    // Row 3 is the first data row: legacy-portal, failed.
    let cell = &buf[(0, 3)];
    assert_eq!(cell.symbol(), "✗");
    assert_eq!(cell.fg, Color::Red);
}

#[test]
fn an_unhealthy_cert_manager_is_said_once_in_the_header() {
    use certdx::diagnose::cm_health::{CertManagerHealth, HealthState};
    use certdx::tui::estate::Estate;
    let mut finding = Finding::new(
        Code::CertManagerUnhealthy,
        "cert-manager's controller is not ready: 0 of 1 replicas",
    );
    finding.severity = certdx::model::Severity::Fatal;
    let health = CertManagerHealth {
        state: HealthState::Unhealthy,
        findings: vec![finding],
        ..CertManagerHealth::default()
    };
    let mut app = demo_app(NARROW);
    let estate = Estate::build_with_health(
        Arc::new(certdx::source::demo::load().inventory),
        app.data_now,
        Some(health),
    );
    feed(&mut app, [Msg::Loaded(Box::new(estate))]);
    let screen = draw(&app);
    let first = screen.lines().next().unwrap_or_default();
    assert_eq!(
        first.matches("cert-manager unhealthy").count(),
        1,
        "{screen}"
    );
    assert_eq!(
        screen.matches("cert-manager unhealthy").count(),
        1,
        "{screen}"
    );
    // Without a reading (a snapshot, the demo), nothing is said.
    assert!(!draw(&demo_app(NARROW)).contains("cert-manager unhealthy"));
}

/// The batch screen of the main view, with a batch half-way (one issued, one failed, one
/// retrying with its countdown, one validating), drawn by the main `render`.
#[test]
fn batch_screen_in_the_main_view() {
    use certdx::engine::batch::{BatchProgress, ItemProgress, ItemState, Phase};
    use certdx::tui::batch::{BatchMsg, BatchView};
    let now = support::demo_now();
    let mut app = demo_app((100, 30));
    app.batch.run = Some(BatchView::new(
        "https://127.0.0.1:14000/dir".to_owned(),
        app.theme,
        app.size,
        now - SignedDuration::from_secs(12),
    ));
    let item = |name: &str, state, attempts| ItemProgress {
        names: vec![name.to_owned()],
        state,
        attempts,
        since: Some(now - SignedDuration::from_secs(75)),
        ..ItemProgress::default()
    };
    let mut retrying = item("c.example", ItemState::Retrying, 2);
    retrying.retry_at = Some(now + SignedDuration::from_secs(90));
    retrying.last = Some(Finding::new(
        Code::Http01WrongStatus,
        "the challenge URL answered 404",
    ));
    let progress = BatchProgress {
        phase: Phase::Issuing,
        certificates: 4,
        issued: 1,
        failed: 1,
        in_flight: 2,
        items: vec![
            item("a.example", ItemState::Issued, 1),
            item("b.example", ItemState::Failed, 3),
            retrying,
            item("d.example", ItemState::Validating, 1),
        ],
        ..BatchProgress::default()
    };
    feed(
        &mut app,
        [
            Msg::Batch(BatchMsg::Progress(progress)),
            Msg::Batch(BatchMsg::Tick(now)),
            Msg::ShowBatch,
            Msg::NextFailing,
            Msg::NextFailing,
        ],
    );
    let screen = draw(&app);
    assert!(screen.contains("certdx issue"), "{screen}");
    assert!(screen.contains("2/4 done"), "{screen}");
    assert!(screen.contains("↻ retrying"), "{screen}");
    assert!(
        screen.contains("F only failed/retrying"),
        "the hints: {screen}"
    );
    // The list's status bar is not drawn under the batch's own footer.
    assert!(!screen.contains("Enter chain"), "{screen}");
    insta::assert_snapshot!("batch_screen_100x30", screen);
}

#[test]
fn batch_screen_without_a_batch_says_how_to_start_one() {
    let mut app = demo_app(NARROW);
    feed(&mut app, [Msg::ShowBatch]);
    let screen = draw(&app);
    assert!(
        screen.contains("no engine batch in this session"),
        "{screen}"
    );
    insta::assert_snapshot!("batch_none_80x24", screen);
}

/// `certdx issue --tui` has no cluster objects: the list says so and where the batch is,
/// rather than "loading" forever or an empty table.
#[test]
fn a_batch_only_session_says_the_list_has_no_cluster_objects() {
    let mut app = support::app_with(config(NARROW), Inventory::default());
    app.batch.session_only = true;
    let screen = draw(&app);
    assert!(
        screen.contains("no cluster objects in this session: b shows the engine batch"),
        "{screen}"
    );
    assert!(!screen.contains("diagnosing"), "{screen}");
}
