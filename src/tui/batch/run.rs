//! The loop that runs the batch view: keys, progress snapshots, the batch's end and a
//! once-a-second tick come in as messages; frames go out at most every [`FRAME`], however
//! many snapshots the batch sends. The batch itself is polled here, next to the keys, so
//! leaving the view drops it (and with it every attempt it runs): the state store makes
//! that safe, and the next run resumes. Nothing here awaits the network or the disk.

use std::future::Future;
use std::time::{Duration, Instant};

use crossterm::event::{Event, EventStream};
use futures::StreamExt;
use jiff::Timestamp;
use tokio::sync::watch;

use super::keys::map_key;
use super::msg::BatchMsg;
use super::state::BatchView;
use super::update::update;
use super::view::render;
use crate::engine::batch::{BatchError, BatchProgress, BatchReport};
use crate::tui::TuiError;
use crate::tui::terminal::{self, Term};
use crate::tui::theme::Theme;

/// The shortest time between two frames (10 a second).
const FRAME: Duration = Duration::from_millis(100);
/// Countdowns and the elapsed time move by the second.
const TICK: Duration = Duration::from_secs(1);

/// How the view ended.
#[derive(Debug)]
pub enum ViewExit {
    /// The batch ended (with its report or its error) and the user left.
    Finished(Box<Result<BatchReport, BatchError>>),
    /// The user stopped the batch while it ran; it was dropped where it stood.
    Stopped,
}

/// The line the view shows when the batch ends.
pub fn outcome_text(result: &Result<BatchReport, BatchError>) -> Result<String, String> {
    match result {
        Ok(r) => {
            let m = &r.summary;
            Ok(format!(
                "{} issued, {} already issued, {} failed in {:.1} s",
                m.issued,
                m.already_issued,
                m.failed,
                m.duration_ms as f64 / 1000.0
            ))
        }
        Err(e) => Err(e.to_string()),
    }
}

/// Takes over the terminal and shows `batch` (against `directory`) as it runs, from the
/// snapshots on `progress`, until the user leaves. The terminal is restored in every case:
/// normal exit, error, and panic (the hook restores it first). Must run inside a tokio
/// runtime; `batch` is polled by the view and dropped if the user stops it.
pub async fn run_batch_view<F>(
    directory: String,
    progress: watch::Receiver<BatchProgress>,
    batch: F,
) -> Result<ViewExit, TuiError>
where
    F: Future<Output = Result<BatchReport, BatchError>>,
{
    let mut session = terminal::enter()?;
    let result = match session.terminal.size() {
        Ok(size) => {
            let view = BatchView::new(
                directory,
                Theme::from_env(),
                (size.width, size.height),
                Timestamp::now(),
            );
            event_loop(&mut session.terminal, view, progress, batch).await
        }
        Err(e) => Err(TuiError::Terminal(e)),
    };
    let restored = session.leave();
    let exit = result?;
    restored?;
    Ok(exit)
}

async fn event_loop<F>(
    terminal: &mut Term,
    mut view: BatchView,
    mut progress: watch::Receiver<BatchProgress>,
    batch: F,
) -> Result<ViewExit, TuiError>
where
    F: Future<Output = Result<BatchReport, BatchError>>,
{
    let mut events = EventStream::new();
    let mut ticker = tokio::time::interval(TICK);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    tokio::pin!(batch);
    let mut report: Option<Result<BatchReport, BatchError>> = None;
    // A snapshot is only read when a frame is about to be drawn: a burst of changes costs
    // one clone, not one per change.
    let mut unread = true;
    let mut feed_open = true;
    let mut dirty = true;
    let mut drawn: Option<Instant> = None;
    loop {
        let due = drawn.map(|at| at + FRAME);
        if dirty && due.is_none_or(|d| Instant::now() >= d) {
            if unread {
                let snapshot = progress.borrow_and_update().clone();
                update(&mut view, BatchMsg::Progress(snapshot));
                unread = false;
            }
            update(&mut view, BatchMsg::Tick(Timestamp::now()));
            terminal.draw(|f| render(&view, f))?;
            drawn = Some(Instant::now());
            dirty = false;
        }
        let redraw = dirty.then_some(due).flatten();
        let msg = tokio::select! {
            ev = events.next() => match ev {
                Some(Ok(Event::Key(key))) => map_key(&view, key),
                Some(Ok(Event::Resize(w, h))) => Some(BatchMsg::Resize(w, h)),
                Some(Ok(_)) => None,
                Some(Err(e)) => return Err(TuiError::Terminal(e)),
                // The terminal is gone: nobody is left to watch or answer.
                None => Some(BatchMsg::Interrupt),
            },
            result = &mut batch, if report.is_none() => {
                let text = outcome_text(&result);
                report = Some(result);
                // The last snapshot (phase Done, final counts) comes with the end.
                unread = true;
                Some(BatchMsg::Finished(text))
            },
            changed = progress.changed(), if feed_open && !unread => {
                match changed {
                    Ok(()) => unread = true,
                    Err(_) => feed_open = false,
                }
                None
            },
            _ = ticker.tick(), if view.wants_ticks() => {
                dirty = true;
                None
            },
            _ = tokio::time::sleep_until(redraw.unwrap_or_else(Instant::now).into()), if redraw.is_some() => None,
        };
        if unread {
            dirty = true;
        }
        if let Some(m) = msg {
            update(&mut view, m);
            dirty = true;
        }
        if terminal::panicked() {
            return Err(TuiError::Panicked(
                "see the report above; the terminal was restored".to_owned(),
            ));
        }
        if std::mem::take(&mut view.suspend) {
            terminal::suspend(terminal)?;
            dirty = true;
        }
        if view.exit.is_some() {
            return Ok(match report {
                Some(r) => ViewExit::Finished(Box::new(r)),
                None => ViewExit::Stopped,
            });
        }
    }
}
