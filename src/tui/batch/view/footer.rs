//! The footer: how the batch ended, else the main view's last message or the keys that matter
//! here (every key is in the main view's help, `?`).

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::super::state::BatchView;

/// The keys worth a hint on this screen; the help lists them all.
const HINTS: &[(&str, &str)] = &[
    ("↓/j", "next"),
    ("↑/k", "previous"),
    ("f", "next failed"),
    ("F", "only failed/retrying"),
    ("b/Esc", "back"),
    ("?", "keys"),
    ("q", "leave"),
];

/// Draws the footer into `area` (one line).
pub(super) fn render(view: &BatchView, note: Option<Line<'static>>, frame: &mut Frame, area: Rect) {
    let t = view.theme;
    let line = match (&view.finished, note) {
        (Some((Ok(summary), _)), note) => {
            let mut l = Line::from(Span::styled(format!("finished: {summary}"), t.ok()));
            push_note(&mut l, note, "q leaves and prints the report", view);
            l
        }
        (Some((Err(e), _)), note) => {
            let mut l = Line::from(Span::styled(format!("the batch stopped: {e}"), t.error()));
            push_note(&mut l, note, "q leaves", view);
            l
        }
        (None, Some(note)) => note,
        (None, None) => {
            let mut spans = Vec::new();
            for (key, what) in HINTS {
                spans.push(Span::styled(*key, t.key()));
                spans.push(Span::styled(format!(" {what}  "), t.dim()));
            }
            Line::from(spans)
        }
    };
    frame.render_widget(Paragraph::new(line), area);
}

/// After the batch's end: the note if there is one, else what leaving does.
fn push_note(
    line: &mut Line<'static>,
    note: Option<Line<'static>>,
    hint: &'static str,
    view: &BatchView,
) {
    line.spans.push(Span::raw("   "));
    match note {
        Some(n) => line.spans.extend(n.spans),
        None => line.spans.push(Span::styled(hint, view.theme.dim())),
    }
}
