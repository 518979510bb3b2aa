//! Commands executed for real by the runtime's executor, their answers fed back to `update`:
//! exports land on disk, writes report their outcome, and live checks against the demo lab
//! (real DNS and HTTP servers on loopback) change the root cause on screen.

#[path = "tui_support/mod.rs"]
mod support;

use std::sync::Arc;
use std::time::Duration;

use certdx::checks::dns::Dns;
use certdx::diagnose::playbook::PlaybookOptions;
use certdx::model::Code;
use certdx::report::Format;
use certdx::source::demo::DemoLab;
use certdx::tui::app::StatusKind;
use certdx::tui::{ChecksConfig, Cmd, Executor, Msg};
use support::{config, demo_app, feed};
use tokio::time::timeout;

const SIZE: (u16, u16) = (120, 40);
/// Every command here talks only to loopback or the disk; far more than enough.
const LIMIT: Duration = Duration::from_secs(30);

fn select(app: &mut certdx::tui::App, name: &str) {
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

#[tokio::test]
async fn export_writes_the_file_and_says_where() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(SIZE);
    cfg.export_dir = dir.path().join("reports");
    let mut app = support::app_with(cfg, certdx::source::demo::load().inventory);
    let exec = Executor::new(None, Arc::new(support::Allowed));
    for (format, marker) in [
        (Format::Markdown, "# certdx report"),
        (Format::Json, "\"schema_version\""),
        (Format::Html, "<html"),
    ] {
        let mut cmds = feed(&mut app, [Msg::ExportAll, Msg::ExportFormat(format)]);
        let msg = timeout(LIMIT, exec.execute(cmds.remove(0))).await.unwrap();
        let Msg::Exported {
            result: Ok(path), ..
        } = &msg
        else {
            panic!("export failed: {msg:?}")
        };
        let text = std::fs::read_to_string(path).unwrap();
        assert!(text.contains(marker), "{format:?} lacks {marker}");
        assert!(text.contains("legacy-portal"));
        let shown = path.display().to_string();
        feed(&mut app, [msg]);
        let s = app.status.as_ref().unwrap();
        assert_eq!(s.kind, StatusKind::Ok);
        assert_eq!(s.text, format!("wrote {shown}"));
        assert!(app.busy.is_empty());
    }
}

#[tokio::test]
async fn export_failure_is_reported() {
    let file = tempfile::NamedTempFile::new().unwrap();
    let mut cfg = config(SIZE);
    // A directory that cannot exist: its parent is a file.
    cfg.export_dir = file.path().join("sub");
    let mut app = support::app_with(cfg, certdx::source::demo::load().inventory);
    let exec = Executor::new(None, Arc::new(support::Allowed));
    let mut cmds = feed(&mut app, [Msg::Export, Msg::Confirm]);
    let msg = timeout(LIMIT, exec.execute(cmds.remove(0))).await.unwrap();
    feed(&mut app, [msg]);
    let s = app.status.as_ref().unwrap();
    assert_eq!(s.kind, StatusKind::Error);
    assert!(s.text.starts_with("export failed:"), "{}", s.text);
}

#[tokio::test]
async fn perform_runs_the_action_and_the_outcome_reaches_the_status_line() {
    let mut cfg = config(SIZE);
    cfg.actions = Arc::new(support::Allowed);
    let mut app = support::app_with(cfg, certdx::source::demo::load().inventory);
    let exec = Executor::new(None, Arc::new(support::Allowed));
    // marketing/promo (second row): its request failed on CAA, so retry renews it.
    let mut cmds = feed(&mut app, [Msg::Down, Msg::Retry, Msg::Confirm]);
    let msg = timeout(LIMIT, exec.execute(cmds.remove(0))).await.unwrap();
    feed(&mut app, [msg]);
    let s = app.status.as_ref().unwrap();
    assert_eq!(s.kind, StatusKind::Ok);
    assert!(
        s.text.ends_with("done: renew Certificate marketing/promo"),
        "{}",
        s.text
    );
}

#[tokio::test]
async fn diagnose_answers_with_the_estate() {
    let (mut app, mut cmds) =
        certdx::tui::App::new(config(SIZE), certdx::source::demo::load().inventory);
    let exec = Executor::new(None, Arc::new(support::Allowed));
    let msg = timeout(LIMIT, exec.execute(cmds.remove(0))).await.unwrap();
    feed(&mut app, [msg]);
    assert_eq!(app.estate.as_ref().unwrap().rows.len(), 7);
    assert_eq!(app.overview.visible.len(), 6);
}

#[tokio::test]
async fn checks_without_network_config_answer_that_they_are_off() {
    let mut app = demo_app(SIZE);
    select(&mut app, "shop/www-shop");
    let mut cmds = feed(&mut app, [Msg::RunChecks]);
    let exec = Executor::new(None, Arc::new(support::Allowed));
    let msg = timeout(LIMIT, exec.execute(cmds.remove(0))).await.unwrap();
    assert!(matches!(&msg, Msg::CheckFailed { error, .. } if error.contains("off")));
    feed(&mut app, [msg]);
    assert_eq!(app.checks.running(), 0);
    assert_eq!(app.status.as_ref().unwrap().kind, StatusKind::Error);
}

#[tokio::test(flavor = "multi_thread")]
async fn live_checks_against_the_demo_lab_change_the_root_cause() {
    let lab = timeout(LIMIT, DemoLab::start())
        .await
        .expect("the lab starts in time")
        .expect("the lab starts");
    let checks = ChecksConfig {
        dns: Dns::new(lab.dns_options()).unwrap(),
        playbook: PlaybookOptions {
            http: lab.http_options(),
            ..PlaybookOptions::default()
        },
        read_directories: false,
    };
    let exec = Executor::new(Some(checks), Arc::new(support::Allowed));
    let mut app = demo_app(SIZE);
    select(&mut app, "blog/blog-tls");
    assert_eq!(
        app.selected_row().unwrap().root.unwrap().0,
        Code::SelfcheckHttp01RequestFailed
    );
    let cmds = feed(&mut app, [Msg::RunChecks]);
    assert_eq!(cmds.len(), 1);
    for cmd in cmds {
        assert!(matches!(cmd, Cmd::RunCheck { .. }));
        let msg = timeout(LIMIT, exec.execute(cmd))
            .await
            .expect("the check ends in time");
        feed(&mut app, [msg]);
    }
    // The lab's blog redirects to port 8443, which a CA will not follow.
    assert_eq!(
        app.selected_row().unwrap().root.unwrap().0,
        Code::Http01BadRedirect
    );
    drop(lab);
}
