//! The Certificate list: counts, filter line, the table (visible rows only) and the selected
//! row's root cause.

use crate::source::cluster::watch::LinkState;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Paragraph, Row as TableRow, Table};

use super::super::app::App;
use super::super::estate::{Estate, Row};
use super::super::fmt;
use super::super::theme::Theme;
use crate::model::{Kind, State};

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

/// Column sets by terminal width: the widest layout that fits.
fn columns(width: u16) -> (Vec<&'static str>, Vec<Constraint>) {
    use Constraint::{Fill, Length};
    if width >= 150 {
        (
            vec![
                "STATE",
                "NAMESPACE",
                "NAME",
                "ISSUING",
                "NOT AFTER",
                "RENEWAL",
                "ISSUER",
                "ROOT CAUSE",
            ],
            vec![
                Length(13),
                Length(16),
                Fill(2),
                Length(7),
                Length(10),
                Length(10),
                Fill(1),
                Length(33),
            ],
        )
    } else if width >= 100 {
        (
            vec![
                "STATE",
                "NAMESPACE",
                "NAME",
                "ISSUING",
                "NOT AFTER",
                "ROOT CAUSE",
            ],
            vec![
                Length(13),
                Length(14),
                Fill(1),
                Length(7),
                Length(10),
                Length(33),
            ],
        )
    } else if width >= 80 {
        (
            vec!["STATE", "NAMESPACE", "NAME", "ROOT CAUSE"],
            vec![Length(13), Length(12), Fill(1), Length(33)],
        )
    } else {
        // Narrower than 80 columns: the state is its marker alone.
        (
            vec!["S", "NAMESPACE", "NAME", "ROOT CAUSE"],
            vec![Length(1), Length(12), Fill(1), Length(33)],
        )
    }
}

fn rows_table(app: &App, e: &Estate, frame: &mut Frame, area: Rect) {
    let t = app.theme;
    let ov = &app.overview;
    let height = area.height.saturating_sub(1) as usize;
    // The stored offset keeps the selection on screen; clamp again in case the size changed
    // since the last update.
    let offset = super::super::app::scroll_offset(ov.offset, ov.selected, height);
    let (titles, widths) = columns(area.width);
    let ncols = titles.len();
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
            TableRow::new(cells(app, r, ncols)).style(style)
        });
    let table = Table::new(rows, widths)
        .header(TableRow::new(titles.into_iter().map(Cell::from)).style(t.heading()))
        .column_spacing(1);
    frame.render_widget(table, area);
}

fn cells(app: &App, r: &Row, ncols: usize) -> Vec<Cell<'static>> {
    let t = app.theme;
    let now = app.clock;
    let state_text = if app.size.0 >= 80 {
        format!("{} {}", Theme::marker(r.state), r.state)
    } else {
        Theme::marker(r.state).to_owned()
    };
    let state = Cell::from(Span::styled(state_text, t.state(r.state)));
    let name = if r.kind == Kind::Certificate {
        r.name.clone()
    } else {
        format!("{} {}", r.kind, r.name)
    };
    let cause = match r.root {
        // Every rate-limited row counts down, not only the selected one.
        Some((code, sev)) => Cell::from(Line::from(match r.retry_after.filter(|at| *at > now) {
            // The countdown first: on a narrow terminal the code is cut, not the time.
            Some(at) => vec![
                Span::styled(
                    format!("{} ", fmt::countdown(at.duration_since(now))),
                    t.running(),
                ),
                Span::styled(code.as_str(), t.severity(sev)),
            ],
            None => vec![Span::styled(code.as_str(), t.severity(sev))],
        })),
        None => Cell::from(""),
    };
    let time =
        |ts: Option<jiff::Timestamp>| ts.map(|ts| fmt::relative(ts, now)).unwrap_or_default();
    let mut out = vec![state, Cell::from(r.namespace.clone()), Cell::from(name)];
    if ncols >= 6 {
        out.push(Cell::from(if r.issuing { "yes" } else { "" }));
        out.push(Cell::from(time(r.not_after)));
    }
    if ncols >= 8 {
        out.push(Cell::from(time(r.renewal)));
        out.push(Cell::from(r.issuer.clone()));
    }
    out.push(cause);
    out
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
            first.push(Span::raw(format!(": {}", rc.summary)));
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
