//! The engine batch screen's keys and the batch's news. The screen is shown over the list or
//! the chain, which stay as they were: going back returns there. Leaving the program while a
//! batch runs drops the batch, so `q` asks first; Ctrl-C does not.

use super::super::app::{App, Overlay, StatusKind};
use super::super::batch::{self, BatchMsg};
use super::super::cmd::Cmd;
use super::super::msg::Msg;

/// `b`: the batch screen, or back from it.
pub fn toggle(app: &mut App) {
    app.batch.open = !app.batch.open;
    // A message about the other screen would be read as one about this one.
    app.status = None;
}

/// `q` while a batch runs: ask before dropping it.
pub fn ask_stop(app: &mut App) {
    app.overlay = Some(Overlay::StopBatch);
}

/// A key in the "stop the batch?" question.
pub fn stop_key(app: &mut App, msg: Msg) -> Vec<Cmd> {
    match msg {
        Msg::Confirm => {
            app.overlay = None;
            app.quit = true;
        }
        Msg::Back => app.overlay = None,
        _ => {}
    }
    Vec::new()
}

/// News from the batch.
pub fn news(app: &mut App, msg: BatchMsg) {
    let Some(view) = &mut app.batch.run else {
        return;
    };
    let finished = matches!(msg, BatchMsg::Finished(_));
    batch::update(view, msg);
    // Nothing is left to stop: the question no longer applies.
    if finished && app.overlay == Some(Overlay::StopBatch) {
        app.overlay = None;
    }
}

/// The terminal's new size.
pub fn resized(app: &mut App) {
    let size = app.size;
    if let Some(view) = &mut app.batch.run {
        view.resize(size);
    }
}

/// A key intent while the batch screen is shown (and no dialog is open).
pub fn screen_key(app: &mut App, msg: Msg) -> Vec<Cmd> {
    if matches!(msg, Msg::Back) {
        toggle(app);
        return Vec::new();
    }
    let Some(view) = &mut app.batch.run else {
        // No batch in this process: nothing to move through.
        return Vec::new();
    };
    match msg {
        Msg::Up => view.up(),
        Msg::Down => view.down(),
        Msg::PageUp => view.page_up(),
        Msg::PageDown => view.page_down(),
        Msg::Home => view.home(),
        Msg::End => view.end(),
        Msg::NextFailing => view.next_failing(),
        Msg::ToggleFailedOnly => view.toggle_failed_only(),
        Msg::RunChecks
        | Msg::RerunChecks
        | Msg::Retry
        | Msg::Renew
        | Msg::Export
        | Msg::ExportAll
        | Msg::Unpause
        | Msg::Copy => app.say(
            StatusKind::Info,
            "that key works on the Certificate list and the chain: b or Esc goes back",
        ),
        _ => {}
    }
    Vec::new()
}
