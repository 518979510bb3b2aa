//! The chain screen: the root cause in one highlighted line at the top, the tree
//! Certificate -> CertificateRequest -> Order -> Challenge, and the detail of the selection.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph};

use super::super::app::{App, ChainView, TreeItem, node_at, scroll_offset};
use super::super::fmt;
use super::super::theme::Theme;
use crate::diagnose::{ChainNode, Diagnosis};
use crate::model::{Kind, State};

/// Terminals at least this wide put the tree and the detail side by side.
pub const SIDE_BY_SIDE: u16 = 120;

/// The chain screen's regions.
#[derive(Debug, Clone, Copy)]
pub struct Areas {
    /// The title line.
    pub title: Rect,
    /// Root cause, advice and the next command (three lines).
    pub cause: Rect,
    /// The tree, with its border.
    pub tree: Rect,
    /// The detail pane, with its border.
    pub detail: Rect,
}

/// Splits the body (the screen minus the status bar) into the chain screen's regions.
pub fn areas(body: Rect) -> Areas {
    let [title, cause, main] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(3),
        Constraint::Fill(1),
    ])
    .areas(body);
    let [tree, detail] = if body.width >= SIDE_BY_SIDE {
        Layout::horizontal([Constraint::Percentage(45), Constraint::Fill(1)]).areas(main)
    } else {
        Layout::vertical([Constraint::Percentage(40), Constraint::Fill(1)]).areas(main)
    };
    Areas {
        title,
        cause,
        tree,
        detail,
    }
}

fn body(size: (u16, u16)) -> Rect {
    Rect::new(0, 0, size.0, size.1.saturating_sub(1))
}

/// Lines of tree shown in a terminal of `size`.
pub fn tree_height(size: (u16, u16)) -> usize {
    areas(body(size)).tree.height.saturating_sub(2).max(1) as usize
}

/// Lines of detail shown in a terminal of `size`.
pub fn detail_height(size: (u16, u16)) -> usize {
    areas(body(size)).detail.height.saturating_sub(2).max(1) as usize
}

/// Columns of detail text in a terminal of `size`.
pub fn detail_width(size: (u16, u16)) -> usize {
    areas(body(size)).detail.width.saturating_sub(2).max(1) as usize
}

/// Draws the chain screen into `area`.
pub fn render(app: &App, frame: &mut Frame, area: Rect) {
    let (Some(e), Some(c)) = (&app.estate, &app.chain) else {
        return;
    };
    let d = &e.diagnoses[c.diagnosis];
    let t = app.theme;
    let a = areas(area);
    let title = Line::from(vec![
        Span::styled("certdx ", t.heading()),
        Span::styled(
            format!("{} {} ", Theme::marker(d.status.state), d.subject),
            t.state(d.status.state),
        ),
        Span::styled(
            app.attempt
                .as_ref()
                .filter(|a| a.certificate == d.subject)
                .map(|a| format!("{} · ", a.label()))
                .unwrap_or_default(),
            t.state(State::InProgress),
        ),
        Span::styled(
            format!("· {} · Esc back · ? help", app.source_label),
            t.dim(),
        ),
    ]);
    frame.render_widget(Paragraph::new(title), a.title);
    frame.render_widget(Paragraph::new(cause_lines(app, d, a.cause.width)), a.cause);

    let tree_block = Block::bordered().title(format!(
        " chain{} ",
        if c.show_history {
            " (h folds history)"
        } else {
            ""
        }
    ));
    let inner = tree_block.inner(a.tree);
    frame.render_widget(tree_block, a.tree);
    frame.render_widget(
        Paragraph::new(tree_lines(app, c, d, inner.height as usize)),
        inner,
    );

    super::detail::render(app, frame, a.detail);
}

/// The root cause in one highlighted line, the advice under it, and the one command to run
/// next with the real names filled in (the same as the reports' `next`).
fn cause_lines(app: &App, d: &Diagnosis, width: u16) -> Vec<Line<'static>> {
    let t = app.theme;
    let w = width as usize;
    match &d.root_cause {
        Some(rc) => {
            // The countdown goes before the summary so a narrow terminal does not cut it.
            let countdown = rc
                .retry_after
                .map(|at| format!(" {}", fmt::retry_in(at, app.clock)))
                .unwrap_or_default();
            let text = format!(
                " ROOT CAUSE {} ({}){countdown}: {}",
                rc.code.as_str(),
                rc.severity,
                rc.summary
            );
            let pad = w.saturating_sub(text.chars().count());
            let mut lines = vec![
                Line::from(Span::styled(
                    format!("{}{}", fmt::truncate(&text, w), " ".repeat(pad)),
                    t.root_cause(),
                )),
                Line::from(Span::styled(
                    fmt::truncate(&format!(" → {}", rc.advice), w),
                    Style::new().add_modifier(ratatui::style::Modifier::BOLD),
                )),
            ];
            if let Some(next) = crate::report::next_command(d, app.clock) {
                lines.push(Line::from(vec![
                    Span::styled(" next: ", t.dim()),
                    Span::raw(fmt::truncate(&next, w.saturating_sub(7))),
                ]));
            }
            lines
        }
        None => vec![Line::from(Span::styled(
            format!(
                " {} {}: no problem found{}",
                Theme::marker(d.status.state),
                d.status.state,
                if app.checks.disabled.is_none() {
                    " (c runs the live checks)"
                } else {
                    ""
                }
            ),
            t.state(d.status.state),
        ))],
    }
}

fn tree_lines(app: &App, c: &ChainView, d: &Diagnosis, height: usize) -> Vec<Line<'static>> {
    let t = app.theme;
    let offset = scroll_offset(c.offset, c.selected, height);
    c.nodes
        .iter()
        .enumerate()
        .skip(offset)
        .take(height)
        .map(|(pos, row)| {
            let indent = "  ".repeat(row.depth as usize);
            let mut spans = vec![Span::raw(indent)];
            match &row.item {
                TreeItem::Folded(n) => spans.push(Span::styled(
                    format!(
                        "▸ {n} older revision{} (h shows)",
                        if *n == 1 { "" } else { "s" }
                    ),
                    t.dim(),
                )),
                TreeItem::Node(path) => {
                    if let Some(n) = node_at(&d.chain, path) {
                        spans.extend(node_spans(app, n));
                    }
                }
            }
            let line = Line::from(spans);
            if pos == c.selected {
                line.patch_style(t.selected())
            } else {
                line
            }
        })
        .collect()
}

/// One node: marker, kind, name, check indicator and reason.
fn node_spans(app: &App, n: &ChainNode) -> Vec<Span<'static>> {
    let t = app.theme;
    let st = n.status.state;
    let fact = |k: &str| {
        n.facts
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.clone())
    };
    let label = match n.object.kind {
        Kind::Challenge => format!(
            "Challenge {} {}",
            fact("dnsName").unwrap_or_else(|| n.object.name.clone()),
            fact("type").unwrap_or_default()
        ),
        Kind::CertificateRequest => match n.revision {
            Some(r) => format!("Request {} (rev {r})", n.object.name),
            None => format!("Request {}", n.object.name),
        },
        kind => format!("{kind} {}", n.object.name),
    };
    let style = if n.history { t.dim() } else { t.state(st) };
    let mut spans = vec![
        Span::styled(format!("{} ", Theme::marker(st)), style),
        Span::styled(label, style),
    ];
    if n.object.kind == Kind::Challenge
        && let Some(ind) = super::checks::indicator(app, &n.object.to_string())
    {
        spans.push(Span::raw(" "));
        spans.push(ind);
    }
    spans.push(Span::styled(
        format!("  {}", n.status.reason),
        if n.history { t.dim() } else { Style::new() },
    ));
    spans
}

/// The detail pane's title for the current selection.
pub fn selection_title(app: &App) -> String {
    let (Some(e), Some(c)) = (&app.estate, &app.chain) else {
        return String::new();
    };
    match c.selected_node(&e.diagnoses[c.diagnosis]) {
        Some(n) => n.object.to_string(),
        None => "older revisions".to_owned(),
    }
}
