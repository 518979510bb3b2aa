//! The Certificate list: counts, filter line, the table (visible rows only) and the selected
//! row's root cause.

use crate::source::cluster::watch::LinkState;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Paragraph, Row as TableRow, Table};

use super::super::app::App;
use super::super::estate::{Estate, Row, TextWidths};
use super::super::fmt;
use super::super::theme::Theme;
use super::cause::{self, Part};
use crate::model::State;

/// Lines above the table: counts, then filter/namespace/sort.
const HEADER: u16 = 2;
/// Lines below the table: root cause and advice of the selected row.
const FOOTER: u16 = 2;

/// How many rows the table shows in a terminal of `size` (shared with `update`, which keeps
/// the selection on screen).
pub fn list_height(size: (u16, u16)) -> usize {
    // Status bar, header, table heading, footer.
    size.1.saturating_sub(1 + HEADER + 1 + FOOTER).max(1) as usize
}

/// Draws the overview into `area`.
pub fn render(app: &App, frame: &mut Frame, area: Rect) {
    let Some(e) = &app.estate else { return };
    let [head, table, foot] = Layout::vertical([
        Constraint::Length(HEADER),
        Constraint::Fill(1),
        Constraint::Length(FOOTER),
    ])
    .areas(area);
    frame.render_widget(Paragraph::new(header(app, e)), head);
    if e.rows.is_empty() {
        empty(app, frame, table);
        return;
    }
    if app.overview.visible.is_empty() {
        let msg =
            "no Certificate matches: Esc clears the filter, n cycles namespaces, o lists orphans";
        frame.render_widget(
            Paragraph::new(Line::from(Span::styled(msg, app.theme.dim()))),
            table,
        );
    } else {
        rows_table(app, e, frame, table);
    }
    frame.render_widget(Paragraph::new(footer(app, e, foot.width)), foot);
}

fn header(app: &App, e: &Estate) -> Vec<Line<'static>> {
    let t = app.theme;
    let c = e.counts;
    let count = |state: State, n: usize, label: &str| {
        Span::styled(
            format!("{} {n} {label} ", Theme::marker(state)),
            if n > 0 { t.state(state) } else { t.dim() },
        )
    };
    let mut first = vec![
        Span::styled("certdx ", t.heading()),
        Span::raw(format!(
            "{} · {} Certificates: ",
            app.source_label,
            c.certificates()
        )),
        count(State::Failed, c.failed, "failed"),
        count(State::InProgress, c.in_progress, "in progress"),
        count(State::Unknown, c.unknown, "unknown"),
        count(State::Ready, c.ready, "ready"),
    ];
    if c.silent > 0 {
        first.push(Span::styled(
            format!(
                "(! {} of them renewal overdue, expiring or unreconciled) ",
                c.silent
            ),
            t.severity(crate::model::Severity::Warning),
        ));
    }
    // Where the link stands goes first: a long source label must not push it off screen.
    if let Some(live) = &app.live {
        first.insert(
            1,
            match &live.link {
                Some(LinkState::Reconnecting(why)) => {
                    Span::styled(format!("reconnecting: {why} · "), t.error())
                }
                _ => Span::styled("live · ", t.state(State::Ready)),
            },
        );
    }
    // cert-manager's own trouble is said once, where it cannot be pushed off screen.
    if let Some(h) = e.cert_manager.as_ref().filter(|h| h.headline().is_some()) {
        let blocked = match h.blocked_certificates {
            0 => String::new(),
            n => format!(", root cause of {n}"),
        };
        first.insert(
            if app.live.is_some() { 2 } else { 1 },
            Span::styled(format!("✗ cert-manager unhealthy{blocked} · "), t.error()),
        );
    }
    // A retry being followed stays in sight until it ends.
    if let Some(a) = &app.attempt {
        // Before the source label, after the link and cert-manager's state.
        let at = first
            .iter()
            .position(|s| s.content.contains(" Certificates: "))
            .unwrap_or(first.len());
        first.insert(
            at,
            Span::styled(
                format!("{} ({}) · ", a.label(), a.certificate.name),
                t.state(State::InProgress),
            ),
        );
    }
    if c.orphans > 0 {
        let shown = if app.overview.show_orphans {
            "listed"
        } else {
            "o lists"
        };
        first.push(Span::styled(
            format!(
                "· {} orphan{} ({shown})",
                c.orphans,
                if c.orphans == 1 { "" } else { "s" }
            ),
            t.state(State::Unknown),
        ));
    }
    let ov = &app.overview;
    let filter = if ov.editing_filter {
        Span::styled(format!("/{}▏", ov.filter), t.key())
    } else if ov.filter.is_empty() {
        Span::styled("/ filter", t.dim())
    } else {
        Span::styled(format!("/{}", ov.filter), t.key())
    };
    let ns = ov
        .namespace
        .and_then(|i| e.namespaces.get(i))
        .map_or("all".to_owned(), Clone::clone);
    let mut second = vec![
        filter,
        Span::styled("  n ", t.key()),
        Span::raw(format!("namespace: {ns}")),
        Span::styled("  s ", t.key()),
        Span::raw(format!("sort: {}", ov.sort.label())),
        Span::styled(
            format!("  showing {} of {}", ov.visible.len(), e.rows.len()),
            t.dim(),
        ),
    ];
    if let Some(why) = &app.checks.disabled {
        second.push(Span::styled(format!("  checks off: {why}"), t.dim()));
    }
    if !app.load_problems.is_empty() {
        second.push(Span::styled(
            format!("  {} load problems", app.load_problems.len()),
            t.error(),
        ));
    }
    vec![Line::from(first), Line::from(second)]
}

fn empty(app: &App, frame: &mut Frame, area: Rect) {
    let t = app.theme;
    if app.batch.session_only {
        // `certdx issue --tui`: nothing was read from a cluster or a file, by design.
        let lines = vec![
            Line::from(""),
            Line::from(Span::styled(
                "no cluster objects in this session: b shows the engine batch",
                t.heading(),
            )),
            Line::from(""),
            Line::from(Span::styled("? help · q quit", t.dim())),
        ];
        frame.render_widget(Paragraph::new(lines), area);
        return;
    }
    let mut lines = vec![
        Line::from(""),
        Line::from(Span::styled(
            format!("No Certificates in {}.", app.source_label),
            t.heading(),
        )),
        Line::from(
            "certdx reads Certificates, CertificateRequests, Orders, Challenges, Issuers, ClusterIssuers and Events.",
        ),
    ];
    if !app.load_problems.is_empty() {
        lines.push(Line::from(""));
        lines.push(Line::from(Span::styled("Load problems:", t.error())));
        for p in &app.load_problems {
            lines.push(Line::from(format!("  {p}")));
        }
    }
    lines.push(Line::from(""));
    lines.push(Line::from(Span::styled("? help · q quit", t.dim())));
    frame.render_widget(Paragraph::new(lines), area);
}

/// A column of the Certificate table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Col {
    State,
    Namespace,
    Name,
    Issuing,
    NotAfter,
    Renewal,
    Issuer,
    Cause,
}

impl Col {
    fn title(self, width: u16) -> &'static str {
        match self {
            // Narrower than 80 columns the state is its marker alone.
            Col::State if width < 80 => "S",
            Col::State => "STATE",
            Col::Namespace => "NAMESPACE",
            Col::Name => "NAME",
            Col::Issuing => "ISSUING",
            Col::NotAfter => "NOT AFTER",
            Col::Renewal => "RENEWAL",
            Col::Issuer => "ISSUER",
            Col::Cause => "ROOT CAUSE",
        }
    }
}

/// The columns shown and their widths; ROOT CAUSE (last) gets what the others leave.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Plan {
    cols: Vec<Col>,
    widths: Vec<u16>,
}

impl Plan {
    fn cause_width(&self) -> usize {
        self.widths.last().copied().unwrap_or(0) as usize
    }
}

/// Lays the table out for `width` columns: NAMESPACE, NAME and ISSUER as wide as their
/// content (capped), the fixed columns the width allows, and the rest for ROOT CAUSE. Optional
/// columns are dropped, least useful first, until the root cause has room for words and code
/// (`words, retry in 1d21h (ratelimit-duplicate-certificate)` wants about 80).
fn plan(width: u16, content: TextWidths) -> Plan {
    use Col::*;
    let mut cols = if width >= 150 {
        vec![
            State, Namespace, Name, Issuing, NotAfter, Renewal, Issuer, Cause,
        ]
    } else if width >= 100 {
        vec![State, Namespace, Name, Issuing, NotAfter, Cause]
    } else {
        vec![State, Namespace, Name, Cause]
    };
    let want_cause: usize = match width {
        150.. => 80,
        100.. => 60,
        _ => 40,
    };
    let fit = |content: usize, title: &str, cap: usize| content.max(title.len()).min(cap);
    let namespace = fit(
        content.namespace,
        "NAMESPACE",
        if width >= 100 { 20 } else { 14 },
    );
    let issuer = fit(content.issuer, "ISSUER", 32);
    let fixed = |c: Col| -> usize {
        match c {
            State if width < 80 => 1,
            State => 13,
            Namespace => namespace,
            Issuing => 7,
            NotAfter | Renewal => 10,
            Issuer => issuer,
            Name | Cause => 0,
        }
    };
    // Everything but NAME and ROOT CAUSE, with one space between columns.
    let taken = |cols: &[Col]| -> usize {
        cols.iter().map(|&c| fixed(c)).sum::<usize>() + cols.len().saturating_sub(1)
    };
    let name_min = content.name.clamp(4, 16);
    for drop in [Issuing, Renewal, Issuer, NotAfter] {
        if (width as usize).saturating_sub(taken(&cols)) < name_min + want_cause {
            cols.retain(|&c| c != drop);
        }
    }
    let left = (width as usize).saturating_sub(taken(&cols));
    // NAME gives way to the root cause, down to a floor that still tells names apart.
    let name = content
        .name
        .max(4)
        .min(left.saturating_sub(want_cause).max(name_min))
        .min(left);
    let cause = left - name;
    let widths = cols
        .iter()
        .map(|&c| match c {
            Name => name,
            Cause => cause,
            c => fixed(c),
        } as u16)
        .collect();
    Plan { cols, widths }
}

fn rows_table(app: &App, e: &Estate, frame: &mut Frame, area: Rect) {
    let t = app.theme;
    let ov = &app.overview;
    let height = area.height.saturating_sub(1) as usize;
    // The stored offset keeps the selection on screen; clamp again in case the size changed
    // since the last update.
    let offset = super::super::app::scroll_offset(ov.offset, ov.selected, height);
    let content = if ov.show_orphans {
        e.widths_with_orphans
    } else {
        e.widths
    };
    let plan = plan(area.width, content);
    let rows = ov
        .visible
        .iter()
        .enumerate()
        .skip(offset)
        .take(height)
        .map(|(pos, &i)| {
            let r = &e.rows[i];
            let style = if pos == ov.selected {
                t.selected()
            } else {
                Style::new()
            };
            TableRow::new(cells(app, e, r, &plan)).style(style)
        });
    let titles = plan.cols.iter().map(|c| Cell::from(c.title(area.width)));
    let widths = plan.widths.iter().map(|&w| Constraint::Length(w));
    let table = Table::new(rows, widths)
        .header(TableRow::new(titles).style(t.heading()))
        .column_spacing(1);
    frame.render_widget(table, area);
}

/// The ROOT CAUSE cell: the cause in words, the countdown of a rate limit in force, and the
/// code, fitted to `width` at word boundaries.
fn cause_cell(app: &App, e: &Estate, r: &Row, width: usize) -> Cell<'static> {
    let t = app.theme;
    let now = app.clock;
    let Some((code, sev)) = r.root else {
        return Cell::from("");
    };
    // Every rate-limited row counts down, not only the selected one.
    let countdown = r
        .retry_after
        .filter(|at| *at > now)
        .map(|at| fmt::countdown(at.duration_since(now)));
    let summary = e.diagnoses[r.diagnosis]
        .root_cause
        .as_ref()
        .map_or("", |rc| rc.summary.as_str());
    let words = cause::words(summary, countdown.is_some());
    let pieces = cause::fit(words, countdown.as_deref(), code.as_str(), width);
    let spans: Vec<Span<'static>> = pieces
        .into_iter()
        .map(|(part, text)| match part {
            Part::Words | Part::Plain => Span::raw(text),
            Part::Countdown => Span::styled(text, t.running()),
            Part::Code => Span::styled(text, t.severity(sev)),
        })
        .collect();
    Cell::from(Line::from(spans))
}

fn cells(app: &App, e: &Estate, r: &Row, plan: &Plan) -> Vec<Cell<'static>> {
    let t = app.theme;
    let now = app.clock;
    let time =
        |ts: Option<jiff::Timestamp>| ts.map(|ts| fmt::relative(ts, now)).unwrap_or_default();
    plan.cols
        .iter()
        .zip(&plan.widths)
        .map(|(&col, &w)| match col {
            Col::State => {
                let text = if w > 1 {
                    format!("{} {}", Theme::marker(r.state), r.state)
                } else {
                    Theme::marker(r.state).to_owned()
                };
                Cell::from(Span::styled(text, t.state(r.state)))
            }
            Col::Namespace => Cell::from(fmt::truncate(&r.namespace, w as usize)),
            Col::Name => Cell::from(fmt::truncate(&r.label(), w as usize)),
            Col::Issuing => Cell::from(if r.issuing { "yes" } else { "" }),
            Col::NotAfter => Cell::from(time(r.not_after)),
            Col::Renewal => Cell::from(time(r.renewal)),
            Col::Issuer => Cell::from(fmt::truncate(&r.issuer, w as usize)),
            Col::Cause => cause_cell(app, e, r, plan.cause_width()),
        })
        .collect()
}

fn footer(app: &App, e: &Estate, width: u16) -> Vec<Line<'static>> {
    let t = app.theme;
    let Some(r) = app.selected_row() else {
        return Vec::new();
    };
    let d = &e.diagnoses[r.diagnosis];
    match &d.root_cause {
        Some(rc) => {
            let mut first = vec![
                Span::styled(format!("{} ", rc.code.as_str()), t.severity(rc.severity)),
                Span::raw(format!("({})", rc.severity)),
            ];
            // The countdown goes before the summary so a narrow terminal does not cut it.
            if let Some(at) = rc.retry_after {
                first.push(Span::styled(
                    format!(" {}", fmt::retry_in(at, app.clock)),
                    t.running(),
                ));
            }
            // The summary gets what is left, cut at a word: the table above has the start of
            // it, the chain screen all of it.
            let used: usize = first.iter().map(|s| s.content.chars().count()).sum();
            let room = (width as usize).saturating_sub(used + 2);
            if let Some(words) = cause::cut_at_word(&rc.summary, room) {
                first.push(Span::raw(format!(": {words}")));
            }
            vec![
                Line::from(first),
                Line::from(Span::styled(
                    fmt::truncate(&format!("→ {}", rc.advice), width as usize),
                    t.dim(),
                )),
            ]
        }
        None => vec![Line::from(vec![
            Span::styled(
                format!("{} ", Theme::marker(d.status.state)),
                t.state(d.status.state),
            ),
            Span::raw(format!("{}: {}", d.status.state, d.status.reason)),
        ])],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn total(p: &Plan) -> usize {
        p.widths.iter().map(|&w| w as usize).sum::<usize>() + p.widths.len() - 1
    }

    #[test]
    fn the_root_cause_takes_what_the_other_columns_leave() {
        let short = TextWidths {
            namespace: 9,
            name: 13,
            issuer: 30,
        };
        for width in 60..=260u16 {
            let p = plan(width, short);
            assert_eq!(total(&p), width as usize, "{p:?} at {width}");
            assert_eq!(p.cols.last(), Some(&Col::Cause));
            // Short names are shown whole.
            let name = p.cols.iter().position(|&c| c == Col::Name).unwrap();
            assert_eq!(p.widths[name], 13);
        }
        // Wide terminals keep every column; the root cause has room for words and code.
        let p = plan(200, short);
        assert_eq!(p.cols.len(), 8);
        assert!(p.cause_width() >= 80, "{p:?}");
        let p = plan(100, short);
        assert!(p.cause_width() >= 60, "{p:?}");
    }

    #[test]
    fn long_names_give_way_to_the_root_cause_down_to_a_floor() {
        let long = TextWidths {
            namespace: 40,
            name: 63,
            issuer: 60,
        };
        for width in 60..=260u16 {
            let p = plan(width, long);
            assert_eq!(total(&p), width as usize, "{p:?} at {width}");
        }
        let p = plan(80, long);
        assert_eq!(p.widths, [13, 14, 16, 34]);
        let p = plan(200, long);
        assert!(p.cause_width() >= 80, "{p:?}");
    }
}
