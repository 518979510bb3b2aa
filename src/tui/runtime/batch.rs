//! `certdx issue --tui`: the main runtime, starting on the engine batch screen, with the
//! batch future and its progress feed polled by the loop next to the keys.

use std::future::Future;
use std::sync::Arc;

use jiff::Timestamp;
use tokio::sync::watch;

use super::super::app::{App, AppConfig};
use super::super::batch::{BatchEvent, BatchFeed, BatchMsg, BatchScreen, BatchView, ViewExit};
use super::super::error::TuiError;
use super::super::estate::Estate;
use super::super::msg::Msg;
use super::super::terminal;
use super::super::theme::Theme;
use super::super::update::update;
use super::{Executor, Runner, event_loop};
use crate::actions::{Actions, Unavailable};
use crate::engine::batch::{BatchError, BatchProgress, BatchReport};
use crate::model::Inventory;
use crate::model::profile::Directories;

/// Takes over the terminal and shows `batch` (against `directory`) as it runs, from the
/// snapshots on `progress`, until the user leaves. The terminal is restored in every case:
/// normal exit, error, and panic (the hook restores it first). Must run inside a tokio
/// runtime; `batch` is polled by the loop and dropped if the user stops it.
pub async fn run_batch_view<F>(
    directory: String,
    progress: watch::Receiver<BatchProgress>,
    batch: F,
) -> Result<ViewExit, TuiError>
where
    F: Future<Output = Result<BatchReport, BatchError>>,
{
    let mut session = terminal::enter()?;
    let mut feed = BatchFeed::new(progress, batch);
    let result = match session.terminal.size() {
        Ok(size) => {
            let (app, cmds) = batch_app(directory, (size.width, size.height), Theme::from_env());
            let actions: Arc<dyn Actions> = Arc::clone(&app.actions);
            let runner = Runner {
                executor: Arc::new(Executor::new(None, actions)),
            };
            event_loop(
                &mut session.terminal,
                app,
                cmds,
                runner,
                None,
                Some(&mut feed),
            )
            .await
        }
        Err(e) => Err(TuiError::Terminal(e)),
    };
    let restored = session.leave();
    result?;
    restored?;
    Ok(feed.exit())
}

/// The main view for a batch and nothing else: no cluster objects (the list says so), no
/// checks, no writes; it starts on the batch screen.
pub(super) fn batch_app(
    directory: String,
    size: (u16, u16),
    theme: Theme,
) -> (App, Vec<super::super::cmd::Cmd>) {
    let now = Timestamp::now();
    let why = "certdx issue: no cluster objects in this session".to_owned();
    let cfg = AppConfig {
        source_label: "certdx issue".to_owned(),
        load_problems: Vec::new(),
        now,
        checks_disabled: Some(why.clone()),
        checks_from: None,
        actions: Arc::new(Unavailable(why.clone())),
        read_only: true,
        export_dir: std::path::PathBuf::from("."),
        theme,
        size,
        filter: String::new(),
        read_directories: false,
        trial_off: Some(why),
        trial_directory: None,
    };
    let (mut app, _) = App::new(cfg, Inventory::default());
    // Nothing to diagnose, so no loading screen: the empty estate is built here, at once.
    let empty = Estate::build_with(Arc::default(), now, None, Directories::default());
    let cmds = update(&mut app, Msg::Loaded(Box::new(empty)));
    app.batch = BatchScreen {
        open: true,
        run: Some(BatchView::new(directory, theme, size, now)),
        session_only: true,
    };
    (app, cmds)
}

/// The feed's next event, or never without one.
pub(super) async fn next(engine: &mut Option<&mut BatchFeed<'_>>) -> BatchEvent {
    match engine {
        Some(feed) => feed.next().await,
        None => std::future::pending().await,
    }
}

/// The message an event becomes now; `None` for a new snapshot, which waits for a frame.
pub(super) fn news(ev: BatchEvent) -> Option<Msg> {
    match ev {
        BatchEvent::Finished(text) => Some(Msg::Batch(BatchMsg::Finished(text))),
        BatchEvent::Changed => None,
    }
}

/// Before a frame: the newest snapshot, and the wall clock the batch's times are measured
/// against.
pub(super) fn before_frame(app: &mut App, engine: &mut Option<&mut BatchFeed<'_>>) {
    let Some(feed) = engine else {
        return;
    };
    if let Some(p) = feed.snapshot() {
        update(app, Msg::Batch(BatchMsg::Progress(p)));
    }
    update(app, Msg::Batch(BatchMsg::Tick(Timestamp::now())));
}
