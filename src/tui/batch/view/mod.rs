//! The batch screen's drawing: a pure function of the [`BatchView`]. It draws only the rows
//! on screen, so a frame costs the same for five certificates or five thousand. The main
//! view's `render` calls it when the batch screen is shown (`tui/view/batch.rs`).

mod detail;
mod footer;
mod header;
mod table;
#[cfg(test)]
mod tests;

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::Line;
use ratatui::widgets::{Block, Clear, Paragraph};

use super::layout::{self, MIN_SIZE};
use super::state::BatchView;
use crate::engine::batch::ItemState;
use crate::model::{Severity, State};
use crate::tui::theme::Theme;

/// Draws the batch screen for `view` into `area`. `note` (the main view's last status
/// message, if any) takes the place of the key hints in the footer.
pub fn render(view: &BatchView, note: Option<Line<'static>>, frame: &mut Frame, area: Rect) {
    if area.width < MIN_SIZE.0 || area.height < MIN_SIZE.1 {
        crate::tui::view::too_small(frame, area, "the batch screen", MIN_SIZE, "q leaves");
        return;
    }
    let a = layout::areas(area);
    header::render(view, frame, a.header);
    table::render(view, frame, a.table);
    detail::render(view, frame, a.detail);
    footer::render(view, note, frame, a.footer);
}

/// Draws the question "stop the batch?" over `area`.
pub fn confirm(t: Theme, frame: &mut Frame, area: Rect) {
    let r = crate::tui::view::centered(area, 64, 6);
    frame.render_widget(Clear, r);
    let block = Block::bordered()
        .title(" stop the batch? ")
        .border_style(t.error());
    let text = vec![
        Line::from("stop the batch? it resumes from the state file next run"),
        Line::from(""),
        Line::from(vec![
            ratatui::text::Span::styled("y", t.key()),
            ratatui::text::Span::raw(" stop and leave   "),
            ratatui::text::Span::styled("n / Esc", t.key()),
            ratatui::text::Span::raw(" keep it running"),
        ]),
    ];
    frame.render_widget(
        Paragraph::new(text)
            .block(block)
            .wrap(ratatui::widgets::Wrap { trim: true }),
        r,
    );
}

/// The marker before a state, so the state reads without colour too.
fn marker(state: ItemState) -> &'static str {
    match state {
        ItemState::Failed => "✗",
        ItemState::Issued | ItemState::AlreadyIssued => "✓",
        ItemState::Retrying => "↻",
        ItemState::Ordering | ItemState::Validating | ItemState::Finalizing => "●",
        ItemState::Checking | ItemState::Queued => "·",
    }
}

/// The colour of a state: the main view's colours for failed, done and working; retrying is
/// bold so it stands out among the many that merely work.
fn state_style(theme: Theme, state: ItemState) -> Style {
    match state {
        ItemState::Failed => theme.state(State::Failed),
        ItemState::Issued | ItemState::AlreadyIssued => theme.state(State::Ready),
        ItemState::Retrying => theme
            .severity(Severity::Warning)
            .add_modifier(Modifier::BOLD),
        ItemState::Ordering | ItemState::Validating | ItemState::Finalizing => theme.running(),
        ItemState::Checking | ItemState::Queued => theme.dim(),
    }
}

/// The first name, and how many more the certificate has.
fn label(names: &[String]) -> String {
    match names {
        [] => String::new(),
        [one] => one.clone(),
        [first, rest @ ..] => format!("{first} (+{} more)", rest.len()),
    }
}
