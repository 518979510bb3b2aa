//! The key list, built from the same table that maps the keys.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph};

use super::super::app::App;
use super::super::keys::{BINDINGS, COMPARED, Context, MODAL_HELP};
use super::super::theme::Theme;

fn lines(theme: Theme) -> Vec<Line<'static>> {
    let mut out = Vec::new();
    for ctx in [
        Context::Global,
        Context::Overview,
        Context::Chain,
        Context::Batch,
    ] {
        if !out.is_empty() {
            out.push(Line::from(""));
        }
        out.push(Line::from(Span::styled(ctx.title(), theme.heading())));
        for b in BINDINGS.iter().filter(|b| b.context == ctx) {
            out.push(Line::from(vec![
                Span::styled(format!("  {:<16}", b.label), theme.key()),
                Span::raw(b.help),
            ]));
        }
    }
    out.push(Line::from(""));
    out.push(Line::from(Span::styled("In dialogs", theme.heading())));
    for (when, keys) in MODAL_HELP {
        out.push(Line::from(vec![
            Span::styled(format!("  {when:<16}"), theme.key()),
            Span::raw(*keys),
        ]));
    }
    out.push(Line::from(""));
    out.push(Line::from(Span::styled(
        "Keys compared with k9s and lazygit",
        theme.heading(),
    )));
    for (key, why) in COMPARED {
        out.push(Line::from(vec![
            Span::styled(format!("  {key:<16}"), theme.key()),
            Span::raw(*why),
        ]));
    }
    out
}

fn rect(area: Rect) -> Rect {
    super::centered(
        area,
        90.min(area.width.saturating_sub(2)),
        area.height.saturating_sub(2),
    )
}

/// How far the help can scroll in a terminal of `size`.
pub fn max_scroll(size: (u16, u16)) -> usize {
    let inner = rect(Rect::new(0, 0, size.0, size.1))
        .height
        .saturating_sub(2) as usize;
    lines(Theme::MONO).len().saturating_sub(inner)
}

/// Draws the help over `area`.
pub fn render(app: &App, scroll: usize, frame: &mut Frame, area: Rect) {
    let r = rect(area);
    frame.render_widget(Clear, r);
    let block = Block::bordered().title(" Keys (? or Esc closes, ↑/↓ scroll) ");
    let inner = block.inner(r);
    frame.render_widget(block, r);
    let all = lines(app.theme);
    let scroll = scroll.min(all.len().saturating_sub(inner.height as usize));
    let shown: Vec<Line> = all.into_iter().skip(scroll).collect();
    frame.render_widget(Paragraph::new(shown), inner);
}
