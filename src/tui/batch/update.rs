//! The batch's news applied to its state. Key intents are handled by the main view's
//! `update` (`tui/update/batch.rs`), which moves through the rows with [`BatchView`]'s methods.

use super::msg::BatchMsg;
use super::state::BatchView;

/// Applies `msg` to `view`.
pub fn update(view: &mut BatchView, msg: BatchMsg) {
    match msg {
        BatchMsg::Progress(p) => {
            view.progress = p;
            view.relist();
        }
        BatchMsg::Tick(now) => view.now = now,
        BatchMsg::Finished(outcome) => view.finished = Some((outcome, view.now)),
    }
}

impl BatchView {
    /// Selects the previous row.
    pub fn up(&mut self) {
        self.select(self.selected.saturating_sub(1));
    }

    /// Selects the next row.
    pub fn down(&mut self) {
        self.select(self.selected + 1);
    }

    /// Moves a page up.
    pub fn page_up(&mut self) {
        self.select(self.selected.saturating_sub(self.page()));
    }

    /// Moves a page down.
    pub fn page_down(&mut self) {
        self.select(self.selected + self.page());
    }

    /// Selects the first row.
    pub fn home(&mut self) {
        self.select(0);
    }

    /// Selects the last row.
    pub fn end(&mut self) {
        self.select(usize::MAX);
    }

    /// The terminal's new size: the window moves so the selection stays on screen.
    pub fn resize(&mut self, size: (u16, u16)) {
        self.size = size;
        self.scroll();
    }
}
#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::batch::{BatchProgress, ItemProgress, ItemState};
    use crate::tui::theme::Theme;

    fn item(name: &str, state: ItemState) -> ItemProgress {
        ItemProgress {
            names: vec![name.to_owned()],
            state,
            ..ItemProgress::default()
        }
    }

    fn progress(states: &[ItemState]) -> BatchProgress {
        BatchProgress {
            certificates: states.len(),
            items: states
                .iter()
                .enumerate()
                .map(|(i, s)| item(&format!("n{i:02}.example"), *s))
                .collect(),
            ..BatchProgress::default()
        }
    }

    fn view(states: &[ItemState]) -> BatchView {
        let now = "2026-01-15T12:00:00Z".parse().unwrap();
        let mut v = BatchView::new("https://ca/dir".to_owned(), Theme::MONO, (100, 30), now);
        update(&mut v, BatchMsg::Progress(progress(states)));
        v
    }

    fn selected_name(v: &BatchView) -> &str {
        &v.selected_item().expect("a selection").names[0]
    }

    #[test]
    fn moving_stays_within_the_rows_and_pages_by_the_table_height() {
        let mut v = view(&[ItemState::Queued; 40]);
        v.up();
        assert_eq!(v.selected, 0);
        v.down();
        v.down();
        assert_eq!(selected_name(&v), "n02.example");
        let page = v.page();
        assert!(page > 3 && page < 40, "page {page}");
        v.page_down();
        assert_eq!(v.selected, 2 + page);
        // The selection is on screen: the window moved with it.
        assert!(v.offset <= v.selected && v.selected < v.offset + page);
        v.end();
        assert_eq!(selected_name(&v), "n39.example");
        assert_eq!(v.offset, 40 - page);
        v.down();
        assert_eq!(v.selected, 39);
        v.home();
        assert_eq!((v.selected, v.offset), (0, 0));
        v.page_up();
        assert_eq!(v.selected, 0);
    }

    #[test]
    fn the_filter_lists_only_failed_and_retrying_and_keeps_the_selection() {
        use ItemState::*;
        let mut v = view(&[Issued, Failed, Validating, Retrying, Queued, Failed]);
        v.down();
        v.down();
        v.down();
        assert_eq!(selected_name(&v), "n03.example");
        v.toggle_failed_only();
        assert_eq!(v.rows, vec![1, 3, 5]);
        assert_eq!(selected_name(&v), "n03.example", "still the retrying one");
        v.end();
        assert_eq!(selected_name(&v), "n05.example");
        v.toggle_failed_only();
        assert_eq!(v.rows.len(), 6);
        assert_eq!(selected_name(&v), "n05.example");
    }

    #[test]
    fn a_snapshot_replaces_the_rows_and_keeps_the_selected_certificate_by_name() {
        use ItemState::*;
        let mut v = view(&[Queued, Queued, Retrying, Queued]);
        v.toggle_failed_only();
        assert_eq!(selected_name(&v), "n02.example");
        // n01 starts failing: it is listed before the selected row, which must stay selected.
        let mut p = progress(&[Queued, Failed, Retrying, Queued]);
        p.items[1].attempts = 3;
        update(&mut v, BatchMsg::Progress(p));
        assert_eq!(v.rows, vec![1, 2]);
        assert_eq!(selected_name(&v), "n02.example");
        assert_eq!(v.selected, 1);
        // n02 is issued: it leaves the filtered list; the selection stays in range.
        update(
            &mut v,
            BatchMsg::Progress(progress(&[Queued, Failed, Issued, Queued])),
        );
        assert_eq!(v.rows, vec![1]);
        assert_eq!(selected_name(&v), "n01.example");
        assert_eq!(v.selected_item().unwrap().state, Failed);
    }

    #[test]
    fn next_failing_finds_failed_and_retrying_rows_and_wraps() {
        use ItemState::*;
        let mut v = view(&[Issued, Failed, Validating, Retrying, Queued]);
        v.next_failing();
        assert_eq!(selected_name(&v), "n01.example");
        v.next_failing();
        assert_eq!(selected_name(&v), "n03.example");
        v.next_failing();
        assert_eq!(selected_name(&v), "n01.example", "wraps");
        let mut v = view(&[Issued, Queued]);
        v.down();
        v.next_failing();
        assert_eq!(selected_name(&v), "n01.example", "none failing: stays");
    }

    #[test]
    fn ticks_are_wanted_while_running_or_counting_down() {
        let mut v = view(&[ItemState::Issued]);
        assert!(v.wants_ticks(), "running");
        update(&mut v, BatchMsg::Finished(Ok(String::new())));
        assert!(!v.wants_ticks(), "finished, nothing counts down");
        let mut p = v.progress.clone();
        p.items[0].retry_at = Some(v.now + jiff::SignedDuration::from_secs(30));
        update(&mut v, BatchMsg::Progress(p));
        assert!(v.wants_ticks(), "a retry counts down");
        let later = v.now + jiff::SignedDuration::from_secs(31);
        update(&mut v, BatchMsg::Tick(later));
        assert!(!v.wants_ticks(), "the countdown ended");
    }
}
