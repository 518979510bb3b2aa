//! The certificate table: one row per certificate, only those on screen built.

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Row, Table, TableState};

use super::super::state::BatchView;
use crate::engine::batch::ItemProgress;
use crate::tui::fmt;

/// Draws the table (with its border) into `area`.
pub(super) fn render(view: &BatchView, frame: &mut Frame, area: Rect) {
    let t = view.theme;
    let total = view.progress.items.len();
    let title = if view.failed_only {
        format!(
            " Failed or retrying: {} of {total} (F: all) ",
            view.rows.len()
        )
    } else {
        format!(" Certificates: {total} ")
    };
    let mut block = Block::bordered().title(title);
    if view.rows.len() > 1 {
        block = block.title_bottom(
            Line::from(format!(" {}/{} ", view.selected + 1, view.rows.len())).right_aligned(),
        );
    }
    let inner = block.inner(area);
    if view.rows.is_empty() {
        let why = if total == 0 {
            "waiting for the batch to list its certificates…"
        } else {
            "no certificate has failed or is retrying (F lists all)"
        };
        frame.render_widget(block, area);
        frame.render_widget(Paragraph::new(Span::styled(why, t.dim())), inner);
        return;
    }
    let page = inner.height.saturating_sub(1) as usize;
    let end = (view.offset + page).min(view.rows.len());
    let rows: Vec<Row> = view.rows[view.offset..end]
        .iter()
        .filter_map(|&i| view.progress.items.get(i))
        .map(|item| row(view, item))
        .collect();
    let header = Row::new([
        "state",
        "certificate",
        "tries",
        "in state",
        "retry",
        "last finding",
    ])
    .style(t.heading());
    let table = Table::new(
        rows,
        [
            Constraint::Length(16),
            Constraint::Fill(3),
            Constraint::Length(5),
            Constraint::Length(8),
            Constraint::Length(8),
            Constraint::Fill(2),
        ],
    )
    .header(header)
    .block(block)
    .row_highlight_style(t.selected());
    let mut state =
        TableState::new().with_selected(Some(view.selected.saturating_sub(view.offset)));
    frame.render_stateful_widget(table, area, &mut state);
}

fn row<'a>(view: &BatchView, item: &'a ItemProgress) -> Row<'a> {
    let t = view.theme;
    let since = item
        .since
        .map(|s| fmt::countdown(view.now.duration_since(s)))
        .unwrap_or_default();
    let retry = item
        .retry_at
        .filter(|at| *at > view.now)
        .map(|at| fmt::countdown(at.duration_since(view.now)))
        .unwrap_or_default();
    let code = item
        .last
        .as_ref()
        .map(|f| Span::styled(f.code.as_str(), t.severity(f.severity)))
        .unwrap_or_default();
    Row::new([
        Line::from(Span::styled(
            format!("{} {}", super::marker(item.state), item.state.as_str()),
            super::state_style(t, item.state),
        )),
        Line::from(super::label(&item.names)),
        Line::from(item.attempts.to_string()),
        Line::from(since),
        Line::from(retry),
        Line::from(code),
    ])
}
