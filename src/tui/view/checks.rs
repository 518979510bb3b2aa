//! How live checks look: a spinner with elapsed time while running, each check's outcome
//! when done, and why checks are off when they are.

use ratatui::text::{Line, Span};

use super::super::app::App;
use super::super::fmt;
use crate::checks::CheckStatus;

/// A short indicator for a Challenge's checks (tree lines), if they were ever started.
pub fn indicator(app: &App, key: &str) -> Option<Span<'static>> {
    let t = app.theme;
    let run = app.checks.runs.get(key)?;
    if let Some(since) = run.running_since {
        let el = app.clock.duration_since(since);
        return Some(Span::styled(
            format!("{} checking {}", fmt::spinner(el), fmt::elapsed(el)),
            t.running(),
        ));
    }
    if run.error.is_some() {
        return Some(Span::styled("✗ check failed", t.error()));
    }
    let r = run.result.as_ref()?;
    let problems = r
        .findings
        .iter()
        .filter(|f| f.severity.is_problem())
        .count();
    Some(match r.worst() {
        Some(sev) if sev.is_problem() => Span::styled(
            format!(
                "✗ checked: {problems} problem{}",
                if problems == 1 { "" } else { "s" }
            ),
            t.severity(sev),
        ),
        _ => Span::styled("✓ checked", t.ok()),
    })
}

/// The "Live checks" section of a Challenge's detail, wrapped to `width` columns.
pub fn lines(app: &App, key: &str, width: usize) -> Vec<Line<'static>> {
    let t = app.theme;
    let mut out = vec![Line::from(Span::styled("Live checks", t.heading()))];
    if let Some(why) = &app.checks.disabled {
        out.push(Line::from(Span::styled(format!("  off: {why}"), t.dim())));
        return out;
    }
    let Some(run) = app.checks.runs.get(key) else {
        out.push(Line::from(Span::styled(
            "  not run yet: c runs the playbook (name, HTTP-01 or DNS-01, CAA)",
            t.dim(),
        )));
        return out;
    };
    if let Some(since) = run.running_since {
        let el = app.clock.duration_since(since);
        out.push(Line::from(Span::styled(
            format!(
                "  {} running for {} against {}",
                fmt::spinner(el),
                fmt::elapsed(el),
                run.target.name
            ),
            t.running(),
        )));
    }
    if let Some(e) = &run.error {
        out.push(Line::from(Span::styled(
            format!("  failed: {e}"),
            t.error(),
        )));
    }
    if let Some(r) = &run.result {
        let prefix = if run.running_since.is_some() {
            "previous run"
        } else {
            "finished"
        };
        out.push(Line::from(format!(
            "  {prefix} in {} ms: {} {} (CA {})",
            r.duration_ms,
            r.target.method.as_str(),
            r.target.name,
            r.target.ca_domain
        )));
        if let Some(from) = &app.checks.from {
            out.push(Line::from(Span::styled(format!("  from {from}"), t.dim())));
        }
        for c in &r.checks {
            let (mark, style) = match c.status {
                CheckStatus::Passed => ("✓", t.ok()),
                CheckStatus::Warning => ("!", t.severity(crate::model::Severity::Warning)),
                CheckStatus::Failed => ("✗", t.error()),
                CheckStatus::Skipped => ("-", t.dim()),
                CheckStatus::Reachable => ("~", t.dim()),
            };
            let width = width.saturating_sub(6).max(8);
            for (i, part) in fmt::wrap(&super::sentence::check_line(c), width)
                .into_iter()
                .enumerate()
            {
                let lead = if i == 0 {
                    Span::styled(format!("    {mark} "), style)
                } else {
                    Span::raw("      ")
                };
                out.push(Line::from(vec![lead, Span::raw(part)]));
            }
        }
        if r.findings.is_empty() {
            out.push(Line::from(Span::styled("    nothing wrong found", t.ok())));
        }
        if let Some(side) = &r.cluster {
            cluster_lines(app, side, &mut out);
        }
    }
    out
}

/// What the cluster side added: notes on what could not be read, and the controller's log
/// lines about the Challenge and its Order, newest first.
fn cluster_lines(
    app: &App,
    side: &crate::diagnose::cluster::ClusterSide,
    out: &mut Vec<Line<'static>>,
) {
    let t = app.theme;
    for note in &side.notes {
        out.push(Line::from(Span::styled(
            format!("    note: {note}"),
            t.dim(),
        )));
    }
    if side.log_lines.is_empty() {
        return;
    }
    out.push(Line::from(Span::styled(
        format!(
            "  cert-manager controller log ({} lines, newest first)",
            side.log_lines.len()
        ),
        t.heading(),
    )));
    for l in &side.log_lines {
        out.push(Line::from(vec![
            Span::styled(format!("    {} ", l.pod), t.dim()),
            Span::raw(l.text.clone()),
        ]));
    }
}

/// The status-bar summary of running checks, if any run.
pub fn running_summary(app: &App) -> Option<Span<'static>> {
    let n = app.checks.running();
    if n == 0 {
        return None;
    }
    let oldest = app
        .checks
        .runs
        .values()
        .filter_map(|r| r.running_since)
        .min()?;
    let el = app.clock.duration_since(oldest);
    Some(Span::styled(
        format!(
            "{} checking {n} Challenge{} {} ",
            fmt::spinner(el),
            if n == 1 { "" } else { "s" },
            fmt::elapsed(el)
        ),
        app.theme.running(),
    ))
}
