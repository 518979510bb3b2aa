//! `update`: the one place the state changes. It never waits on anything: work that needs
//! the network, the disk or much CPU goes out as a [`Cmd`] and comes back as a [`Msg`].

mod batch;
mod checks;
mod live;
mod nav;
mod trial;
mod write;

use super::app::{App, ChainView, Overlay, StatusKind};
use super::cmd::Cmd;
use super::msg::Msg;

pub use nav::refresh_visible;

/// Applies `msg` to `app` and returns the work to start.
pub fn update(app: &mut App, msg: Msg) -> Vec<Cmd> {
    match msg {
        Msg::Quit if app.batch.running() => batch::ask_stop(app),
        Msg::Quit | Msg::Interrupt => app.quit = true,
        Msg::Suspend => app.suspend = true,
        Msg::Resize(w, h) => {
            app.size = (w, h);
            nav::keep_visible(app);
            batch::resized(app);
        }
        Msg::Tick(now) => app.clock = now.max(app.clock),
        Msg::Loaded(estate) => return live::loaded(app, *estate),
        Msg::SourceListing(n) => live::listing(app, n),
        Msg::SourceUpdated(inventory) => return live::updated(app, inventory),
        Msg::SourceLink(link) => live::link(app, link),
        Msg::Prefetched => {}
        Msg::LoadFailed(why) => app.say(StatusKind::Error, format!("diagnosis failed: {why}")),
        Msg::DirectoriesRead(found) => return checks::directories_read(app, found),
        Msg::TrialProgress { id, event } => trial::progress(app, id, event),
        Msg::TrialDone { id, result } => trial::done(app, id, result),
        Msg::CheckDone {
            key,
            generation,
            result,
        } => checks::done(app, key, generation, Ok(*result)),
        Msg::CheckFailed {
            key,
            generation,
            error,
        } => checks::done(app, key, generation, Err(error)),
        Msg::ActionDone { id, action, result } => write::action_done(app, id, action, result),
        Msg::Exported { id, result } => write::exported(app, id, result),
        Msg::UrlOpened(Ok(url)) => app.say(StatusKind::Info, format!("opened {url}")),
        Msg::UrlOpened(Err(why)) => app.say(
            StatusKind::Error,
            format!("could not open the browser ({why}): the link is in the advice"),
        ),
        Msg::Batch(news) => batch::news(app, news),
        Msg::ShowBatch => batch::toggle(app),
        Msg::Help => {
            app.overlay = match app.overlay {
                Some(Overlay::Help { .. }) => None,
                _ => Some(Overlay::Help { scroll: 0 }),
            }
        }
        // The batch screen and its question work before (or without) an estate.
        intent if app.batch.open && app.overlay.is_none() => {
            return batch::screen_key(app, intent);
        }
        intent if app.overlay == Some(Overlay::StopBatch) => return batch::stop_key(app, intent),
        intent => {
            // Until the estate is diagnosed, only leaving makes sense.
            if app.estate.is_none() {
                if matches!(intent, Msg::Back) {
                    app.quit = true;
                }
                return Vec::new();
            }
            return match &app.overlay {
                Some(Overlay::Help { .. }) => {
                    help_key(app, intent);
                    Vec::new()
                }
                Some(Overlay::Confirm(_)) | Some(Overlay::Export(_)) => {
                    write::dialog_key(app, intent)
                }
                Some(Overlay::StopBatch) => batch::stop_key(app, intent),
                None => screen_key(app, intent),
            };
        }
    }
    Vec::new()
}

/// `u`: a paused ACME account is lifted only at the CA's unpause page, and retrying before
/// only adds failed validations. Opens the page where a browser exists, else shows the link.
fn unpause(app: &mut App) -> Vec<Cmd> {
    let url = app
        .estate
        .as_ref()
        .zip(app.focused_diagnosis())
        .and_then(|(e, d)| e.diagnoses.get(d))
        .and_then(|d| d.root_cause.as_ref())
        .filter(|rc| rc.code == crate::model::Code::RatelimitAccountPaused)
        .map(|rc| rc.unpause_url.clone());
    match url {
        None => {
            app.say(
                StatusKind::Info,
                "u: this diagnosis is not a paused ACME account",
            );
            Vec::new()
        }
        Some(None) => {
            app.say(
                StatusKind::Info,
                "the CA's message was cut before its unpause link: find it in cert-manager's logs or the Order's reason",
            );
            Vec::new()
        }
        Some(Some(url)) if app.browser => {
            app.say(StatusKind::Info, format!("opening {url}"));
            vec![Cmd::OpenUrl { url }]
        }
        Some(Some(url)) => {
            app.say(
                StatusKind::Info,
                format!("no browser here: open {url} (Y copies it)"),
            );
            Vec::new()
        }
    }
}

/// `Y`: what the engineer pastes next, on the clipboard: the unpause link of a paused account
/// (the one thing that ends the pause), else the next command the root cause suggests.
fn copy(app: &mut App) {
    let Some(d) = app
        .estate
        .as_ref()
        .zip(app.focused_diagnosis())
        .and_then(|(e, d)| e.diagnoses.get(d))
    else {
        app.say(StatusKind::Info, "select a Certificate to copy from");
        return;
    };
    let unpause = d
        .root_cause
        .as_ref()
        .filter(|rc| rc.code == crate::model::Code::RatelimitAccountPaused)
        .and_then(|rc| rc.unpause_url.clone());
    let (what, text) = match unpause {
        Some(url) => ("the unpause link", url),
        None => match crate::report::next_command(d, app.clock) {
            Some(cmd) => ("the next command", cmd),
            None => {
                app.say(StatusKind::Info, "nothing to copy: no next command here");
                return;
            }
        },
    };
    app.say(
        StatusKind::Info,
        format!("copied {what} through the terminal (OSC 52): {text}"),
    );
    app.copy = Some(text);
}

fn help_key(app: &mut App, msg: Msg) {
    let Some(Overlay::Help { scroll }) = &mut app.overlay else {
        return;
    };
    match msg {
        Msg::Up => *scroll = scroll.saturating_sub(1),
        Msg::Down => *scroll += 1,
        Msg::PageUp => *scroll = scroll.saturating_sub(10),
        Msg::PageDown => *scroll += 10,
        Msg::Back => app.overlay = None,
        _ => {}
    }
    if let Some(Overlay::Help { scroll }) = &mut app.overlay {
        *scroll = (*scroll).min(super::view::help::max_scroll(app.size));
    }
}

fn screen_key(app: &mut App, msg: Msg) -> Vec<Cmd> {
    match msg {
        Msg::RunChecks => return checks::run_selection(app),
        Msg::Trial => return trial::start(app),
        Msg::RerunChecks => return checks::rerun(app),
        Msg::Retry => write::ask_retry(app),
        Msg::Renew => write::ask_renew(app),
        Msg::Export => write::ask_export(app, false),
        Msg::ExportAll => write::ask_export(app, true),
        Msg::Unpause => return unpause(app),
        Msg::Copy => copy(app),
        Msg::Back if app.chain.is_some() => app.chain = None,
        // A filter is the last thing to undo before leaving.
        Msg::Back if !app.overview.filter.is_empty() => nav::overview_key(app, Msg::FilterCancel),
        Msg::Back => app.quit = true,
        Msg::Open if app.chain.is_none() => {
            if let (Some(e), Some(d)) = (&app.estate, app.focused_diagnosis()) {
                app.chain = Some(ChainView::open(e, d));
            }
        }
        other if app.chain.is_some() => nav::chain_key(app, other),
        other => nav::overview_key(app, other),
    }
    Vec::new()
}
