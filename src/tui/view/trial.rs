//! How a trial at the CA (`T`) looks in the detail pane: a hint before one runs, its
//! progress while it runs, and the CA's verdict per name (what it means, the problem, where
//! the CA connected) when it ends.

use ratatui::text::{Line, Span};

use super::super::app::App;
use super::super::fmt;
use crate::model::ObjectRef;

/// The "Trial at the CA" section for the Certificate `subject`, wrapped to `width` columns.
pub fn lines(app: &App, subject: &ObjectRef, width: usize) -> Vec<Line<'static>> {
    let t = app.theme;
    let width = width.saturating_sub(6).max(8);
    let mut out = vec![Line::from(Span::styled("Trial at the CA", t.heading()))];
    let text = |out: &mut Vec<Line<'static>>, indent: &str, s: &str, style| {
        for part in fmt::wrap(s, width) {
            out.push(Line::from(Span::styled(format!("{indent}{part}"), style)));
        }
    };
    if let Some(why) = &app.trial_off {
        text(&mut out, "  ", &format!("off: {why}"), t.dim());
        return out;
    }
    let Some(run) = app.trials.get(subject) else {
        text(
            &mut out,
            "  ",
            "not run: T asks the issuer's staging CA to validate these names from the Internet (nothing is answered; pending authorizations are deactivated)",
            t.dim(),
        );
        return out;
    };
    if run.running() {
        let el = app.clock.duration_since(run.started);
        text(
            &mut out,
            "  ",
            &format!(
                "{} asking {} for {} ({})",
                fmt::spinner(el),
                run.directory,
                run.names.join(", "),
                fmt::elapsed(el)
            ),
            t.running(),
        );
        for p in &run.progress {
            text(&mut out, "    ", p, t.dim());
        }
        return out;
    }
    if let Some(e) = &run.error {
        text(&mut out, "  ", &format!("could not run: {e}"), t.error());
        return out;
    }
    let Some(report) = &run.report else {
        return out;
    };
    text(
        &mut out,
        "  ",
        &format!(
            "{} by {} in {} ms",
            report.directory,
            report.method.as_str(),
            report.duration_ms
        ),
        t.dim(),
    );
    for v in &report.names {
        let (mark, style) = if v.status.is_positive() {
            ("✓", t.ok())
        } else {
            ("✗", t.error())
        };
        text(
            &mut out,
            "  ",
            &format!("{mark} {}: {} ({})", v.name, v.status.as_str(), v.meaning),
            style,
        );
        if let Some(detail) = v.problem.as_ref().and_then(|p| p.detail.as_ref()) {
            text(&mut out, "      ", &format!("CA: {detail}"), t.dim());
        }
        for r in &v.validation_record {
            let mut where_ = Vec::new();
            if let Some(u) = &r.url {
                where_.push(u.clone());
            }
            if let Some(a) = &r.address_used {
                where_.push(format!("at {a}"));
            }
            if !r.addresses_resolved.is_empty() {
                where_.push(format!("resolved {}", r.addresses_resolved.join(", ")));
            }
            if !where_.is_empty() {
                text(&mut out, "      ", &where_.join(" "), t.dim());
            }
        }
        if let Some(s) = &v.secondary_validation {
            text(
                &mut out,
                "      ",
                &format!("other vantage points: {s}"),
                t.dim(),
            );
        }
        for f in &v.findings {
            text(
                &mut out,
                "      ",
                &format!("{}: {}", f.code, f.summary),
                t.severity(f.severity),
            );
        }
    }
    let c = &report.cleanup;
    text(
        &mut out,
        "  ",
        &format!(
            "nothing left pending: {} valid, {} invalid, {} deactivated",
            c.valid, c.invalid, c.deactivated
        ),
        t.dim(),
    );
    out
}
