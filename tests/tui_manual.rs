//! Runs the interactive view on the real terminal, for a human (or tmux) to drive:
//! `cargo test --test tui_manual -- --ignored --nocapture`. Ignored by default: it needs a
//! terminal and waits for `q`. The demo lab serves the demo's names on loopback so live
//! checks find what the scenario planted; writes go to a stand-in that succeeds after 1 s.
//!
//! `CERTDX_TUI_SNAPSHOT=path` shows a snapshot instead of the demo.

use std::path::PathBuf;
use std::time::Duration;

use certdx::actions::{Action, Actions};
use certdx::checks::dns::Dns;
use certdx::diagnose::playbook::PlaybookOptions;
use certdx::source::demo::{self, DemoLab};
use certdx::tui::{ChecksConfig, TuiInput, run};
use futures::future::BoxFuture;

/// Pretends to write: says what it would have done.
struct Pretend;

impl Actions for Pretend {
    fn availability(&self, action: &Action) -> Result<(), String> {
        match action {
            Action::RenewCertificate { name, .. } if name == "www-blog" => {
                Err("the Certificate is Ready and not due for renewal".to_owned())
            }
            _ => Ok(()),
        }
    }

    fn describe(&self, action: &Action) -> String {
        format!("(test stand-in) would {action}; nothing is written")
    }

    fn perform(&self, action: Action) -> BoxFuture<'static, Result<String, String>> {
        Box::pin(async move {
            tokio::time::sleep(Duration::from_secs(1)).await;
            Ok(format!("pretended to {action}"))
        })
    }
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "interactive: needs a terminal and a human (or tmux) pressing q"]
async fn run_in_terminal() {
    let (label, snap, now) = match std::env::var_os("CERTDX_TUI_SNAPSHOT") {
        Some(p) => {
            let path = PathBuf::from(p);
            let snap = certdx::source::snapshot::load(&path).expect("snapshot loads");
            (path.display().to_string(), snap, jiff::Timestamp::now())
        }
        None => (
            "demo".to_owned(),
            demo::load(),
            demo::DEMO_ANCHOR.parse().expect("anchor"),
        ),
    };
    let lab = DemoLab::start().await.ok();
    let checks = lab.as_ref().map(|lab| ChecksConfig {
        dns: Dns::new(lab.dns_options()).expect("dns"),
        playbook: PlaybookOptions {
            http: lab.http_options(),
            ..PlaybookOptions::default()
        },
        read_directories: false,
    });
    let input = TuiInput {
        source_label: label,
        inventory: snap.inventory,
        now,
        load_problems: snap.problems.iter().map(ToString::to_string).collect(),
        checks,
        actions: Box::new(Pretend),
        read_only: false,
        export_dir: std::env::temp_dir().join("certdx-tui-manual"),
        live: None,
        filter: String::new(),
        trial: Err("the manual view has no CA".to_owned()),
    };
    run(input)
        .await
        .expect("the view runs and restores the terminal");
    drop(lab);
}

/// A panic while the terminal is taken over: the hook restores the terminal first, then the
/// report is printed on the normal screen. Run it in tmux and look at the pane afterwards:
/// `cargo test --test tui_manual panic -- --ignored --nocapture`.
#[test]
#[ignore = "interactive: takes over the terminal"]
#[should_panic(expected = "deliberate panic")]
fn panic_restores_the_terminal_before_the_report() {
    let mut session = certdx::tui::terminal::enter().expect("a terminal");
    session
        .terminal
        .draw(|f| f.render_widget(ratatui::widgets::Paragraph::new("about to panic"), f.area()))
        .expect("draw");
    std::thread::sleep(Duration::from_millis(500));
    panic!("deliberate panic: the report must be readable on the normal screen");
}
