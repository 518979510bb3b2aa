//! `render`: a pure function of the state. It reads the precomputed rows and draws only what
//! is on screen; it never waits, locks or touches the disk or network.

pub mod batch;
pub mod cause;
pub mod chain;
pub mod checks;
pub mod detail;
pub mod dialog;
pub mod help;
pub mod overview;
pub mod sentence;
pub mod status;
pub mod trial;

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::app::{App, Overlay};

/// The smallest terminal the views are laid out for.
pub const MIN_SIZE: (u16, u16) = (60, 12);

/// Draws the whole screen for `app`.
pub fn render(app: &App, frame: &mut Frame) {
    let area = frame.area();
    if area.width < MIN_SIZE.0 || area.height < MIN_SIZE.1 {
        too_small(frame, area, "certdx", MIN_SIZE, "q quits");
        return;
    }
    let [body, bar] = Layout::vertical([Constraint::Fill(1), Constraint::Length(1)]).areas(area);
    match (&app.estate, &app.chain) {
        _ if app.batch.open => batch::render(app, frame, area),
        (None, _) => loading(app, frame, body),
        (Some(_), Some(_)) => chain::render(app, frame, body),
        (Some(_), None) => overview::render(app, frame, body),
    }
    if !app.batch.open {
        status::render(app, frame, bar);
    }
    match &app.overlay {
        Some(Overlay::Help { scroll }) => help::render(app, *scroll, frame, area),
        Some(Overlay::Confirm(c)) => dialog::confirm(app, c, frame, area),
        Some(Overlay::Export(x)) => dialog::export(app, x, frame, area),
        Some(Overlay::StopBatch) => super::batch::confirm(app.theme, frame, area),
        None => {}
    }
}

/// Says, centred, that the terminal is smaller than `min` (columns, rows), which `who` needs,
/// and how to leave.
pub fn too_small(frame: &mut Frame, area: Rect, who: &str, min: (u16, u16), leave: &str) {
    let text = vec![
        Line::from("terminal too small"),
        Line::from(format!(
            "{}x{}: {who} needs {}x{}",
            area.width, area.height, min.0, min.1
        )),
        Line::from(leave.to_owned()),
    ];
    let y = area.height.saturating_sub(3) / 2;
    let rect = Rect::new(area.x, area.y + y, area.width, area.height.min(3));
    frame.render_widget(Paragraph::new(text).centered(), rect);
}

fn loading(app: &App, frame: &mut Frame, area: Rect) {
    let t = app.theme;
    let doing = match &app.live {
        Some(live) if !live.diagnosing => format!(
            "listing cert-manager objects from {}: {} so far…",
            app.source_label, live.listed
        ),
        _ => format!(
            "diagnosing {} objects from {}…",
            app.object_count, app.source_label
        ),
    };
    let mut lines = vec![
        Line::from(Span::styled("certdx", t.heading())),
        Line::from(doing),
    ];
    if let Some(s) = &app.status {
        // Only a failure can be said while loading: show it where the eye is.
        lines.push(Line::from(Span::styled(s.text.clone(), t.error())));
        lines.push(Line::from(Span::styled("q quits", t.dim())));
    }
    let h = lines.len() as u16;
    let y = area.height.saturating_sub(h) / 2;
    let rect = Rect::new(area.x, area.y + y, area.width, h.min(area.height));
    frame.render_widget(Paragraph::new(lines).centered(), rect);
}

/// A centred rectangle of at most `w` x `h` inside `area`.
pub fn centered(area: Rect, w: u16, h: u16) -> Rect {
    let w = w.min(area.width);
    let h = h.min(area.height);
    Rect::new(
        area.x + (area.width - w) / 2,
        area.y + (area.height - h) / 2,
        w,
        h,
    )
}
