//! Dialogs: the confirmation of a cluster write (stating exactly what will change, or why it
//! cannot be done) and the export format choice.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph};

use super::super::app::{App, Confirm, ExportDialog, ExportScope};
use super::super::fmt;
use crate::report::Format;

const WIDTH: u16 = 76;

fn boxed(frame: &mut Frame, area: Rect, title: String, lines: Vec<Line<'static>>) {
    let w = WIDTH.min(area.width.saturating_sub(2));
    let h = (lines.len() as u16 + 2).min(area.height);
    let rect = super::centered(area, w, h);
    frame.render_widget(Clear, rect);
    let block = Block::bordered().title(title);
    let inner = block.inner(rect);
    frame.render_widget(block, rect);
    frame.render_widget(Paragraph::new(lines), inner);
}

fn wrapped(text: &str, width: usize, indent: usize, style: Style) -> Vec<Line<'static>> {
    fmt::wrap(text, width.saturating_sub(indent))
        .into_iter()
        .map(|l| Line::from(vec![Span::raw(" ".repeat(indent)), Span::styled(l, style)]))
        .collect()
}

/// Draws the confirmation of a cluster write.
pub fn confirm(app: &App, c: &Confirm, frame: &mut Frame, area: Rect) {
    let t = app.theme;
    let width = WIDTH.min(area.width.saturating_sub(2)).saturating_sub(2) as usize;
    let mut lines = Vec::new();
    // What blocks the write comes first: it is the answer to "can I retry?".
    if let Some(why) = &c.blocked {
        lines.extend(wrapped(
            &format!("Not available: {why}"),
            width,
            0,
            t.error(),
        ));
        lines.push(Line::from(""));
    }
    if let Some(why) = &c.why {
        lines.push(Line::from(Span::styled("Why:", t.heading())));
        lines.extend(wrapped(why, width, 2, Style::new()));
    }
    if c.action.is_some() {
        lines.push(Line::from(Span::styled("What would change:", t.heading())));
        lines.extend(wrapped(&c.description, width, 2, Style::new()));
    }
    for w in &c.warnings {
        lines.extend(wrapped(&format!("Warning: {w}"), width, 0, t.error()));
    }
    lines.push(Line::from(""));
    match (&c.blocked, &c.action) {
        (Some(_), Some(_)) => {
            lines.push(Line::from(vec![
                Span::styled("y", t.disabled()),
                Span::styled(" confirm (disabled)   ", t.disabled()),
                Span::styled("Esc", t.key()),
                Span::raw(" close"),
            ]));
        }
        (_, None) => lines.push(Line::from(vec![
            Span::styled("Esc", t.key()),
            Span::raw(" close"),
        ])),
        (None, Some(_)) => lines.push(Line::from(vec![
            Span::styled("y", t.key()),
            Span::raw(" do it   "),
            Span::styled("n / Esc / Enter", t.key()),
            Span::raw(" cancel"),
        ])),
    }
    // A long reason must not push the keys off the screen: cut the middle, keep the end.
    let room = area.height.saturating_sub(2) as usize;
    if lines.len() > room && room >= 3 {
        let tail = lines.split_off(lines.len() - 2);
        lines.truncate(room - 3);
        lines.push(Line::from(Span::styled("  …", t.dim())));
        lines.extend(tail);
    }
    boxed(frame, area, c.title.clone(), lines);
}

/// Draws the export format choice.
pub fn export(app: &App, x: &ExportDialog, frame: &mut Frame, area: Rect) {
    let t = app.theme;
    let what = match (x.scope, &app.estate) {
        (ExportScope::All, Some(e)) => format!(
            "every diagnosis ({} Certificates and orphans)",
            e.diagnoses.len()
        ),
        (ExportScope::Diagnosis(d), Some(e)) => e.diagnoses[d].subject.to_string(),
        (_, None) => String::new(),
    };
    let mut formats = vec![Span::raw("Format: ")];
    for (f, key) in [
        (Format::Markdown, "m"),
        (Format::Json, "j"),
        (Format::Html, "h"),
    ] {
        let name = format!(
            "{key} {}",
            match f {
                Format::Markdown => "Markdown",
                Format::Json => "JSON",
                Format::Html => "HTML",
                Format::Yaml => "YAML",
            }
        );
        if f == x.format {
            formats.push(Span::styled(
                format!("[{name}]"),
                t.selected().add_modifier(Modifier::BOLD),
            ));
        } else {
            formats.push(Span::raw(format!(" {name} ")));
        }
        formats.push(Span::raw("  "));
    }
    let lines = vec![
        Line::from(vec![Span::styled("Export ", t.heading()), Span::raw(what)]),
        Line::from(format!("into {}", app.export_dir.display())),
        Line::from(formats),
        Line::from(""),
        Line::from(vec![
            Span::styled("m/j/h", t.key()),
            Span::raw(" write that format  "),
            Span::styled("←/→", t.key()),
            Span::raw(" choose  "),
            Span::styled("Enter", t.key()),
            Span::raw(" write  "),
            Span::styled("Esc", t.key()),
            Span::raw(" cancel"),
        ]),
    ];
    boxed(frame, area, " Export ".to_owned(), lines);
}
