//! Where each part of the screen goes. `update` needs the table's height to page and to keep
//! the selection visible, and `render` must agree with it, so both ask here.

use ratatui::layout::{Constraint, Layout, Rect};

/// The smallest terminal the batch view is laid out for.
pub(crate) const MIN_SIZE: (u16, u16) = (60, 16);

/// Header lines: title, phase, gauge, counts.
const HEADER: u16 = 4;

/// The screen's parts.
pub(crate) struct Areas {
    pub header: Rect,
    pub table: Rect,
    pub detail: Rect,
    pub footer: Rect,
}

/// Splits `area`: the header, the table, the selected certificate's detail, and one line for
/// the footer.
pub(crate) fn areas(area: Rect) -> Areas {
    let footer = 1;
    let body = area.height.saturating_sub(HEADER + footer);
    // The detail gets two fifths of the body: enough for a finding's summary and advice,
    // while the table keeps most of a tall terminal for the rows.
    let detail = (body * 2 / 5).clamp(6.min(body), 14);
    let [header, table, detail, footer] = Layout::vertical([
        Constraint::Length(HEADER),
        Constraint::Fill(1),
        Constraint::Length(detail),
        Constraint::Length(footer),
    ])
    .areas(area);
    Areas {
        header,
        table,
        detail,
        footer,
    }
}

/// How many certificate rows the table shows in a terminal of `size` (borders and the column
/// header row taken off).
pub(super) fn page(size: (u16, u16)) -> usize {
    let a = areas(Rect::new(0, 0, size.0, size.1));
    a.table.height.saturating_sub(3).max(1) as usize
}
