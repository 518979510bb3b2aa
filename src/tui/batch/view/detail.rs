//! The detail pane: everything about the selected certificate, its last finding first in
//! words a person acts on (summary, advice, when to retry), the raw detail last.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph};

use super::super::state::BatchView;
use crate::engine::batch::ItemProgress;
use crate::model::Finding;
use crate::tui::fmt;
use crate::tui::theme::Theme;

/// Lines wrapped to the pane's width, so nothing is cut mid-word at the edge.
struct Out {
    lines: Vec<Line<'static>>,
    width: usize,
    theme: Theme,
}

impl Out {
    /// `label: value`, the value wrapped under itself.
    fn kv(&mut self, label: &str, value: &str, style: Style) {
        let head = format!("{label}: ");
        self.lines.extend(fmt::labelled(
            &head,
            value,
            self.width,
            self.theme.label(),
            style,
        ));
    }
}

/// Draws the pane for the selected certificate into `area`.
pub(super) fn render(view: &BatchView, frame: &mut Frame, area: Rect) {
    let Some(item) = view.selected_item() else {
        frame.render_widget(Block::bordered().title(" Details "), area);
        return;
    };
    let block = Block::bordered().title(format!(
        " {} ",
        item.names.first().map(String::as_str).unwrap_or("Details")
    ));
    let inner = block.inner(area);
    let lines = lines(view, item, inner.width as usize);
    frame.render_widget(Paragraph::new(lines).block(block), area);
}

/// The pane's lines for `item`, wrapped to `width` columns.
fn lines(view: &BatchView, item: &ItemProgress, width: usize) -> Vec<Line<'static>> {
    let t = view.theme;
    let now = view.now;
    let mut out = Out {
        lines: Vec::new(),
        width,
        theme: t,
    };
    let plain = Style::new();
    if item.names.len() > 1 {
        out.kv("names", &item.names.join(", "), plain);
    }
    let mut state = format!("{} {}", super::marker(item.state), item.state.as_str());
    if let Some(since) = item.since {
        state.push_str(&format!(
            " since {} ({})",
            fmt::stamp(since),
            fmt::countdown(now.duration_since(since))
        ));
    }
    state.push_str(&format!(", attempts {}", item.attempts));
    out.kv("state", &state, super::state_style(t, item.state));
    if let Some(at) = item.retry_at {
        out.kv(
            "next attempt",
            &format!("{} ({})", fmt::stamp(at), fmt::retry_in(at, now)),
            plain,
        );
    }
    if let Some(path) = &item.certificate {
        out.kv("certificate", &path.display().to_string(), t.ok());
    }
    if let Some(f) = &item.last {
        finding(&mut out, f, now);
    }
    out.lines
}

fn finding(out: &mut Out, f: &Finding, now: jiff::Timestamp) {
    let t = out.theme;
    let plain = Style::new();
    out.lines.push(Line::from(vec![
        Span::styled("last finding: ", t.label()),
        Span::styled(
            format!("{} {}", f.severity.as_str(), f.code.as_str()),
            t.severity(f.severity),
        ),
    ]));
    out.kv("  summary", &f.summary, plain);
    let advice = if f.advice.is_empty() {
        f.code.advice()
    } else {
        &f.advice
    };
    out.kv("  advice", advice, plain);
    if let Some(rl) = &f.rate_limit {
        out.kv("  limit", rl.limit.as_deref().unwrap_or_default(), plain);
        out.kv(
            "  identifier",
            rl.identifier.as_deref().unwrap_or_default(),
            plain,
        );
        if let Some(at) = rl.retry_after {
            out.kv(
                "  retry after",
                &format!("{} ({})", fmt::stamp(at), fmt::retry_in(at, now)),
                plain,
            );
        }
    }
    if !f.detail.is_empty() && f.detail != f.summary {
        out.kv("  detail", &f.detail, t.dim());
    }
    out.kv("  means", f.code.meaning(), t.dim());
}
