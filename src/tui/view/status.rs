//! The status bar: what is running (spinners), the last outcome, and the keys that matter.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::super::app::{App, StatusKind};
use super::super::fmt;

/// Draws the status bar into `area` (one line).
pub fn render(app: &App, frame: &mut Frame, area: Rect) {
    let t = app.theme;
    let mut spans: Vec<Span> = Vec::new();
    if let Some(s) = super::checks::running_summary(app) {
        spans.push(s);
    }
    for b in &app.busy {
        let el = app.clock.duration_since(b.since);
        spans.push(Span::styled(
            format!("{} {} ", fmt::spinner(el), b.label),
            t.running(),
        ));
    }
    match &app.status {
        Some(s) => spans.push(Span::styled(
            s.text.clone(),
            match s.kind {
                StatusKind::Info => ratatui::style::Style::new(),
                StatusKind::Ok => t.ok(),
                StatusKind::Error => t.error(),
            },
        )),
        None if spans.is_empty() => {
            let hints: &[(&str, &str)] = if app.estate.is_none() {
                &[("q", "quit")]
            } else if app.chain.is_some() {
                &[
                    ("c", "check"),
                    ("R", "retry"),
                    ("N", "renew"),
                    ("e", "export"),
                    ("y", "yaml"),
                    ("h", "history"),
                    ("Esc", "back"),
                    ("?", "help"),
                ]
            } else {
                &[
                    ("Enter", "chain"),
                    ("/", "filter"),
                    ("f", "next failing"),
                    ("c", "check"),
                    ("e", "export"),
                    ("?", "help"),
                    ("q", "quit"),
                ]
            };
            for (k, what) in hints {
                spans.push(Span::styled(*k, t.key()));
                spans.push(Span::styled(format!(" {what}  "), t.dim()));
            }
        }
        None => {}
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}
