//! Shared by the `tui_*` tests: an App on the demo or a synthetic estate, diagnosed
//! synchronously, and a frame drawn on ratatui's `TestBackend`.

#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::Arc;

#[path = "../common/synthetic.rs"]
pub mod synthetic;

use certdx::actions::{Action, Actions, Unavailable};
use certdx::model::Inventory;
use certdx::tui::theme::Theme;
use certdx::tui::{App, AppConfig, Cmd, Estate, Msg, render, update};
use futures::future::BoxFuture;
use ratatui::Terminal;
use ratatui::backend::TestBackend;

/// The demo's instant.
pub fn demo_now() -> jiff::Timestamp {
    certdx::source::demo::DEMO_ANCHOR.parse().expect("anchor")
}

/// Where exports go in tests that only look at the commands.
pub fn export_dir() -> PathBuf {
    PathBuf::from("/tmp/certdx-exports")
}

/// Actions that are allowed and succeed, saying what they did.
pub struct Allowed;

impl Actions for Allowed {
    fn availability(&self, _action: &Action) -> Result<(), String> {
        Ok(())
    }

    fn describe(&self, action: &Action) -> String {
        format!("exactly this: {action}")
    }

    fn perform(&self, action: Action) -> BoxFuture<'static, Result<String, String>> {
        Box::pin(async move { Ok(format!("done: {action}")) })
    }
}

/// The configuration tests use: demo label, monochrome, checks on, writes unavailable.
pub fn config(size: (u16, u16)) -> AppConfig {
    AppConfig {
        source_label: "demo".to_owned(),
        load_problems: Vec::new(),
        now: demo_now(),
        checks_disabled: None,
        checks_from: Some("host lab, resolver 127.0.0.53:53".to_owned()),
        actions: Arc::new(Unavailable("demo: read-only source".to_owned())),
        read_only: false,
        export_dir: export_dir(),
        theme: Theme::MONO,
        size,
        filter: String::new(),
        read_directories: false,
        trial_off: Some("tests: no CA".to_owned()),
        trial_directory: None,
    }
}

/// An App on `inventory`, with the diagnosis command executed synchronously.
pub fn app_with(cfg: AppConfig, inventory: Inventory) -> App {
    let (mut app, cmds) = App::new(cfg, inventory);
    for c in cmds {
        match c {
            Cmd::Diagnose {
                inventory,
                now,
                directories,
            } => {
                let estate = Estate::build_with(inventory, now, None, directories);
                assert!(update(&mut app, Msg::Loaded(Box::new(estate))).is_empty());
            }
            other => panic!("unexpected start-up command {other:?}"),
        }
    }
    app
}

/// The demo estate at `size`.
pub fn demo_app(size: (u16, u16)) -> App {
    app_with(config(size), certdx::source::demo::load().inventory)
}

/// A synthetic estate of `certificates` Certificates (4 objects each).
pub fn synthetic_app(certificates: usize, size: (u16, u16)) -> App {
    let yaml = synthetic::estate_yaml(certificates);
    let mut snap = certdx::source::snapshot::Snapshot::default();
    certdx::source::snapshot::load_text(&yaml, std::path::Path::new("synthetic.yaml"), &mut snap);
    app_with(config(size), snap.inventory)
}

/// Applies `msgs` in order, collecting every command.
pub fn feed(app: &mut App, msgs: impl IntoIterator<Item = Msg>) -> Vec<Cmd> {
    msgs.into_iter().flat_map(|m| update(app, m)).collect()
}

/// Draws `app` on a test terminal of its own size.
pub fn terminal(app: &App) -> Terminal<TestBackend> {
    let mut t = Terminal::new(TestBackend::new(app.size.0, app.size.1)).expect("test terminal");
    t.draw(|f| render(app, f)).expect("draw");
    t
}

/// Draws `app` and returns the screen as text (one line per row, quoted, as insta shows it).
pub fn draw(app: &App) -> String {
    terminal(app).backend().to_string()
}
