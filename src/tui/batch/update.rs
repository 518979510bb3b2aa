//! State changes. Nothing here waits: the loop feeds messages in and draws afterwards.

use super::msg::BatchMsg;
use super::state::{BatchView, Exit};

/// Applies `msg` to `view`. Leaving is recorded in `view.exit` for the loop to act on.
pub fn update(view: &mut BatchView, msg: BatchMsg) {
    if view.confirm {
        // The question is modal: only its answer (or Ctrl-C, Ctrl-Z, time, news) gets through.
        match msg {
            BatchMsg::Answer(yes) => {
                view.confirm = false;
                if yes {
                    view.exit = Some(leaving(view));
                }
                return;
            }
            BatchMsg::Quit => {
                view.confirm = false;
                return;
            }
            BatchMsg::Interrupt
            | BatchMsg::Suspend
            | BatchMsg::Resize(..)
            | BatchMsg::Progress(_)
            | BatchMsg::Tick(_)
            | BatchMsg::Finished(_) => {}
            _ => return,
        }
    }
    match msg {
        BatchMsg::Up => view.select(view.selected.saturating_sub(1)),
        BatchMsg::Down => view.select(view.selected + 1),
        BatchMsg::PageUp => view.select(view.selected.saturating_sub(view.page())),
        BatchMsg::PageDown => view.select(view.selected + view.page()),
        BatchMsg::Home => view.select(0),
        BatchMsg::End => view.select(usize::MAX),
        BatchMsg::ToggleFailedOnly => {
            view.failed_only = !view.failed_only;
            view.relist();
        }
        BatchMsg::Help => {
            view.help = !view.help;
            view.scroll();
        }
        BatchMsg::Quit => {
            if view.running() {
                view.confirm = true;
            } else {
                view.exit = Some(Exit::Leave);
            }
        }
        BatchMsg::Answer(_) => {}
        BatchMsg::Interrupt => view.exit = Some(leaving(view)),
        BatchMsg::Suspend => view.suspend = true,
        BatchMsg::Resize(w, h) => {
            view.size = (w, h);
            view.scroll();
        }
        BatchMsg::Progress(p) => {
            view.progress = p;
            view.relist();
        }
        BatchMsg::Tick(now) => view.now = now,
        BatchMsg::Finished(outcome) => {
            view.finished = Some((outcome, view.now));
            // Nothing is left to stop: the question no longer applies.
            view.confirm = false;
        }
    }
}

fn leaving(view: &BatchView) -> Exit {
    if view.running() {
        Exit::Stop
    } else {
        Exit::Leave
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
        update(&mut v, BatchMsg::Up);
        assert_eq!(v.selected, 0);
        update(&mut v, BatchMsg::Down);
        update(&mut v, BatchMsg::Down);
        assert_eq!(selected_name(&v), "n02.example");
        let page = v.page();
        assert!(page > 3 && page < 40, "page {page}");
        update(&mut v, BatchMsg::PageDown);
        assert_eq!(v.selected, 2 + page);
        // The selection is on screen: the window moved with it.
        assert!(v.offset <= v.selected && v.selected < v.offset + page);
        update(&mut v, BatchMsg::End);
        assert_eq!(selected_name(&v), "n39.example");
        assert_eq!(v.offset, 40 - page);
        update(&mut v, BatchMsg::Down);
        assert_eq!(v.selected, 39);
        update(&mut v, BatchMsg::Home);
        assert_eq!((v.selected, v.offset), (0, 0));
        update(&mut v, BatchMsg::PageUp);
        assert_eq!(v.selected, 0);
    }

    #[test]
    fn the_filter_lists_only_failed_and_retrying_and_keeps_the_selection() {
        use ItemState::*;
        let mut v = view(&[Issued, Failed, Validating, Retrying, Queued, Failed]);
        update(&mut v, BatchMsg::Down);
        update(&mut v, BatchMsg::Down);
        update(&mut v, BatchMsg::Down);
        assert_eq!(selected_name(&v), "n03.example");
        update(&mut v, BatchMsg::ToggleFailedOnly);
        assert_eq!(v.rows, vec![1, 3, 5]);
        assert_eq!(selected_name(&v), "n03.example", "still the retrying one");
        update(&mut v, BatchMsg::End);
        assert_eq!(selected_name(&v), "n05.example");
        update(&mut v, BatchMsg::ToggleFailedOnly);
        assert_eq!(v.rows.len(), 6);
        assert_eq!(selected_name(&v), "n05.example");
    }

    #[test]
    fn a_snapshot_replaces_the_rows_and_keeps_the_selected_certificate_by_name() {
        use ItemState::*;
        let mut v = view(&[Queued, Queued, Retrying, Queued]);
        update(&mut v, BatchMsg::ToggleFailedOnly);
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
    fn leaving_a_running_batch_asks_first() {
        let mut v = view(&[ItemState::Validating]);
        update(&mut v, BatchMsg::Quit);
        assert!(v.confirm);
        assert_eq!(v.exit, None);
        // Keys other than the answer do nothing while asking.
        update(&mut v, BatchMsg::ToggleFailedOnly);
        assert!(!v.failed_only);
        update(&mut v, BatchMsg::Answer(false));
        assert!(!v.confirm);
        assert_eq!(v.exit, None);
        update(&mut v, BatchMsg::Quit);
        update(&mut v, BatchMsg::Answer(true));
        assert_eq!(v.exit, Some(Exit::Stop));
    }

    #[test]
    fn a_finished_batch_is_left_at_once_and_the_question_is_dropped() {
        let mut v = view(&[ItemState::Validating]);
        update(&mut v, BatchMsg::Quit);
        assert!(v.confirm);
        update(&mut v, BatchMsg::Finished(Ok("1 issued".to_owned())));
        assert!(!v.confirm, "nothing left to stop");
        assert!(!v.running());
        update(&mut v, BatchMsg::Quit);
        assert_eq!(v.exit, Some(Exit::Leave));
    }

    #[test]
    fn ctrl_c_stops_at_once() {
        let mut v = view(&[ItemState::Validating]);
        update(&mut v, BatchMsg::Interrupt);
        assert_eq!(v.exit, Some(Exit::Stop));
        let mut v = view(&[ItemState::Issued]);
        update(&mut v, BatchMsg::Finished(Err("store".to_owned())));
        update(&mut v, BatchMsg::Interrupt);
        assert_eq!(v.exit, Some(Exit::Leave));
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
