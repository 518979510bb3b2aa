//! The engine batch screen, when it is the screen shown: the batch of this process, or one
//! line saying there is none and how to start one.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

use super::super::app::{App, StatusKind};

/// What the screen says when no batch runs in this process.
pub const NO_BATCH: &str = "no engine batch in this session: certdx issue --tui --directory URL --domain NAME (and a solver flag) runs one on this screen";

/// Draws the batch screen into `area` (the whole terminal: it has its own footer).
pub fn render(app: &App, frame: &mut Frame, area: Rect) {
    match &app.batch.run {
        Some(view) => crate::tui::batch::render(view, note(app), frame, area),
        None => no_batch(app, frame, area),
    }
}

/// The main view's last message, for the batch footer.
fn note(app: &App) -> Option<Line<'static>> {
    let s = app.status.as_ref()?;
    let style = match s.kind {
        StatusKind::Info => Style::new(),
        StatusKind::Ok => app.theme.ok(),
        StatusKind::Error => app.theme.error(),
    };
    Some(Line::from(Span::styled(s.text.clone(), style)))
}

fn no_batch(app: &App, frame: &mut Frame, area: Rect) {
    let t = app.theme;
    let lines = vec![
        Line::from(Span::styled("Engine batch", t.heading())),
        Line::from(""),
        Line::from(NO_BATCH),
        Line::from(""),
        Line::from(vec![
            Span::styled("b", t.key()),
            Span::styled(" or ", t.dim()),
            Span::styled("Esc", t.key()),
            Span::styled(" goes back, ", t.dim()),
            Span::styled("?", t.key()),
            Span::styled(" lists every key", t.dim()),
        ]),
    ];
    let h = 7.min(area.height);
    let rect = Rect::new(
        area.x,
        area.y + area.height.saturating_sub(h) / 2,
        area.width,
        h,
    );
    frame.render_widget(
        Paragraph::new(lines).centered().wrap(Wrap { trim: true }),
        rect,
    );
}
