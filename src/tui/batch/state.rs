//! The batch view's whole state. The rows the table lists (all certificates, or only the
//! failed and retrying ones) are kept as indices into the latest snapshot, recomputed when a
//! snapshot arrives or the filter changes, so drawing and moving never scan the batch.

use jiff::Timestamp;

use super::layout;
use crate::engine::batch::{BatchProgress, ItemProgress, ItemState};
use crate::tui::theme::Theme;

/// The engine batch screen of the main view: whether it is the screen shown, and the batch
/// of this process, if one runs. No batch is a state, not an error: `certdx demo` and the
/// cluster views show the screen with a line saying how to start one.
#[derive(Debug, Clone, Default)]
pub struct BatchScreen {
    /// The batch screen is drawn instead of the list or the chain (which stay as they were,
    /// so going back returns to them).
    pub open: bool,
    /// The batch of this process (`certdx issue --tui`), or `None`.
    pub run: Option<BatchView>,
    /// The session has no cluster objects, only the batch: the list says so instead of
    /// listing nothing.
    pub session_only: bool,
}

impl BatchScreen {
    /// Whether a batch runs in this process and has not ended: leaving stops it.
    pub fn running(&self) -> bool {
        self.run.as_ref().is_some_and(BatchView::running)
    }

    /// Whether the screen shown changes with time.
    pub fn wants_ticks(&self) -> bool {
        self.open && self.run.as_ref().is_some_and(BatchView::wants_ticks)
    }
}

/// Everything the batch view shows.
#[derive(Debug, Clone)]
pub struct BatchView {
    /// The ACME directory the batch talks to.
    pub directory: String,
    /// The latest snapshot.
    pub progress: BatchProgress,
    /// The instant everything on screen is measured against (set by `Tick`).
    pub now: Timestamp,
    /// When the view (and so the batch) started.
    pub started: Timestamp,
    /// The batch's end: its summary or its error, and when it came.
    pub finished: Option<(Result<String, String>, Timestamp)>,
    /// Only failed or retrying certificates are listed.
    pub failed_only: bool,
    /// Indices into `progress.items` of the listed rows, in order.
    pub rows: Vec<usize>,
    /// The selected position in `rows`.
    pub selected: usize,
    /// The first position of `rows` on screen.
    pub offset: usize,
    /// The terminal's size.
    pub size: (u16, u16),
    /// How it is painted.
    pub theme: Theme,
}

impl BatchView {
    /// A view of a batch against `directory`, started at `now`, before any snapshot.
    pub fn new(directory: String, theme: Theme, size: (u16, u16), now: Timestamp) -> BatchView {
        BatchView {
            directory,
            progress: BatchProgress::default(),
            now,
            started: now,
            finished: None,
            failed_only: false,
            rows: Vec::new(),
            selected: 0,
            offset: 0,
            size,
            theme,
        }
    }

    /// The selected certificate's row, if any row is listed.
    pub fn selected_item(&self) -> Option<&ItemProgress> {
        self.rows
            .get(self.selected)
            .and_then(|&i| self.progress.items.get(i))
    }

    /// Whether the batch is still running (no end received yet).
    pub fn running(&self) -> bool {
        self.finished.is_none()
    }

    /// Whether anything on screen changes with time: the batch's elapsed time while it runs,
    /// the CA's pause, or a retry countdown. Otherwise the loop sleeps until a key.
    pub fn wants_ticks(&self) -> bool {
        let future = |t: Option<Timestamp>| t.is_some_and(|t| t > self.now);
        self.running()
            || future(self.progress.paused_until)
            || self.progress.items.iter().any(|i| future(i.retry_at))
    }

    /// How many rows fit in the table.
    pub fn page(&self) -> usize {
        layout::page(self.size)
    }

    /// Lists the rows again for the current snapshot and filter, keeping the selected
    /// certificate (found by its names) selected when it is still listed.
    pub(crate) fn relist(&mut self) {
        let keep = self.selected_item().map(|i| i.names.clone());
        let failed_only = self.failed_only;
        self.rows = self
            .progress
            .items
            .iter()
            .enumerate()
            .filter(|(_, i)| {
                !failed_only || matches!(i.state, ItemState::Failed | ItemState::Retrying)
            })
            .map(|(n, _)| n)
            .collect();
        let found = keep.and_then(|names| {
            self.rows
                .iter()
                .position(|&i| self.progress.items[i].names == names)
        });
        self.select(found.unwrap_or(self.selected));
    }

    /// Selects position `at` (clamped) and scrolls it into view.
    pub(crate) fn select(&mut self, at: usize) {
        self.selected = at.min(self.rows.len().saturating_sub(1));
        self.scroll();
    }

    /// Moves the window so the selection is on screen, and never past the last row.
    pub(crate) fn scroll(&mut self) {
        let page = self.page();
        if self.selected < self.offset {
            self.offset = self.selected;
        } else if self.selected >= self.offset + page {
            self.offset = self.selected + 1 - page;
        }
        self.offset = self.offset.min(self.rows.len().saturating_sub(page));
    }

    /// Lists only the failed and retrying certificates, or all of them again.
    pub fn toggle_failed_only(&mut self) {
        self.failed_only = !self.failed_only;
        self.relist();
    }

    /// Selects the next failed or retrying row after the selection, wrapping around; stays
    /// put when there is none.
    pub fn next_failing(&mut self) {
        let n = self.rows.len();
        let failing = |pos: usize| {
            let i = self.rows[pos];
            matches!(
                self.progress.items[i].state,
                ItemState::Failed | ItemState::Retrying
            )
        };
        if let Some(pos) = (1..=n)
            .map(|k| (self.selected + k) % n)
            .find(|&pos| failing(pos))
        {
            self.select(pos);
        }
    }
}
