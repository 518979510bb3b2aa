//! The batch view's whole state. The rows the table lists (all certificates, or only the
//! failed and retrying ones) are kept as indices into the latest snapshot, recomputed when a
//! snapshot arrives or the filter changes, so drawing and moving never scan the batch.

use jiff::Timestamp;

use super::layout;
use crate::engine::batch::{BatchProgress, ItemProgress, ItemState};
use crate::tui::theme::Theme;

/// How the user left the view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Stop the batch that is still running (confirmed, or Ctrl-C).
    Stop,
    /// Leave a finished batch.
    Leave,
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
    /// The line with every key is shown.
    pub help: bool,
    /// "Stop the batch?" is being asked.
    pub confirm: bool,
    /// Set when the user leaves; the loop then stops.
    pub exit: Option<Exit>,
    /// Set when the user asks to suspend (Ctrl-Z); the loop does it and clears it.
    pub suspend: bool,
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
            help: false,
            confirm: false,
            exit: None,
            suspend: false,
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
        layout::page(self.size, self.help)
    }

    /// Lists the rows again for the current snapshot and filter, keeping the selected
    /// certificate (found by its names) selected when it is still listed.
    pub(super) fn relist(&mut self) {
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
    pub(super) fn select(&mut self, at: usize) {
        self.selected = at.min(self.rows.len().saturating_sub(1));
        self.scroll();
    }

    /// Moves the window so the selection is on screen, and never past the last row.
    pub(super) fn scroll(&mut self) {
        let page = self.page();
        if self.selected < self.offset {
            self.offset = self.selected;
        } else if self.selected >= self.offset + page {
            self.offset = self.selected + 1 - page;
        }
        self.offset = self.offset.min(self.rows.len().saturating_sub(page));
    }
}
