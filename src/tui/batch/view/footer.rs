//! The footer: how the batch ended (or the keys that matter), and every key when asked.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

use super::super::keys::{CONTROL_KEYS, KEYS};
use super::super::state::BatchView;

/// Draws the footer into `area` (one line, three with the key list).
pub(super) fn render(view: &BatchView, frame: &mut Frame, area: Rect) {
    let t = view.theme;
    let mut lines = vec![match &view.finished {
        Some((Ok(summary), _)) => Line::from(vec![
            Span::styled(format!("finished: {summary}"), t.ok()),
            Span::styled("   q leaves and prints the report", t.dim()),
        ]),
        Some((Err(e), _)) => Line::from(vec![
            Span::styled(format!("the batch stopped: {e}"), t.error()),
            Span::styled("   q leaves", t.dim()),
        ]),
        None => hints(view, |k| k.hint),
    }];
    if view.help {
        let mut all = hints(view, |_| true);
        for (key, help) in CONTROL_KEYS {
            all.spans.push(Span::styled(key, t.key()));
            all.spans.push(Span::styled(format!(" {help}  "), t.dim()));
        }
        lines.push(all);
    }
    frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: true }), area);
}

fn hints(view: &BatchView, pick: impl Fn(&super::super::keys::Key) -> bool) -> Line<'static> {
    let t = view.theme;
    let mut spans = Vec::new();
    for k in KEYS.iter().filter(|k| pick(k)) {
        spans.push(Span::styled(k.label, t.key()));
        spans.push(Span::styled(format!(" {}  ", k.help), t.dim()));
    }
    Line::from(spans)
}
