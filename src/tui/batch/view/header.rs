//! The header: where the batch goes, what phase it is in, how far it got, and the CA's pause.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{LineGauge, Paragraph};

use super::super::state::BatchView;
use crate::engine::batch::{BatchProgress, FleetGlance, Phase};
use crate::tui::fmt;

/// Draws the four header lines into `area`.
pub(super) fn render(view: &BatchView, frame: &mut Frame, area: Rect) {
    let t = view.theme;
    let p = &view.progress;
    let [title, phase, gauge, counts] = Layout::vertical([Constraint::Length(1); 4]).areas(area);
    frame.render_widget(
        Paragraph::new(Line::from(vec![
            Span::styled("certdx issue  ", t.heading()),
            Span::styled(view.directory.clone(), t.dim()),
        ])),
        title,
    );

    let end = view.finished.as_ref().map_or(view.now, |(_, at)| *at);
    let mut spans = vec![
        Span::styled("phase ", t.label()),
        Span::raw(phase_text(view)),
        Span::styled("   elapsed ", t.label()),
        Span::raw(fmt::countdown(end.duration_since(view.started))),
    ];
    if let Some(until) = p.paused_until.filter(|u| *u > view.now) {
        spans.push(Span::raw("   "));
        spans.push(Span::styled(
            format!("CA asked to wait: {}", wait(until.duration_since(view.now))),
            t.error(),
        ));
    }
    if let Some(fleet) = &p.fleet {
        spans.push(Span::styled("   fleet ", t.label()));
        spans.push(Span::raw(fleet_text(fleet)));
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), phase);

    let done = p.issued + p.already_issued + p.failed;
    let ratio = if p.certificates == 0 {
        0.0
    } else {
        (done as f64 / p.certificates as f64).clamp(0.0, 1.0)
    };
    frame.render_widget(
        LineGauge::default()
            .ratio(ratio)
            .label(format!("{done}/{} done ", p.certificates))
            .filled_symbol("━")
            .unfilled_symbol("─")
            .filled_style(if p.failed > 0 { t.error() } else { t.ok() })
            .unfilled_style(t.dim()),
        gauge,
    );

    let count = |label: &'static str, n: usize, style| {
        [
            Span::styled(format!("{label} "), t.label()),
            Span::styled(format!("{n}   "), if n > 0 { style } else { t.dim() }),
        ]
    };
    let spans: Vec<Span> = [
        count("issued", p.issued, t.ok()),
        count("already", p.already_issued, t.ok()),
        count("failed", p.failed, t.error()),
        count("running", p.in_flight, t.running()),
        count("queued", p.queued, ratatui::style::Style::new()),
    ]
    .into_iter()
    .flatten()
    .collect();
    frame.render_widget(Paragraph::new(Line::from(spans)), counts);
}

/// The workers sharing the batch, in a few words.
fn fleet_text(f: &FleetGlance) -> String {
    format!(
        "{} worker{} alive, {} in flight over all, {} with others",
        f.workers,
        if f.workers == 1 { "" } else { "s" },
        f.in_flight,
        f.elsewhere
    )
}

fn phase_text(view: &BatchView) -> String {
    match &view.finished {
        Some((Ok(_), _)) => "finished".to_owned(),
        Some((Err(_), _)) => "stopped by an error".to_owned(),
        None => phase(&view.progress),
    }
}

fn phase(p: &BatchProgress) -> String {
    match p.phase {
        Phase::Starting => "starting".to_owned(),
        Phase::WaitingForLock => "waiting for another run on the same state file".to_owned(),
        Phase::Account => "ACME account".to_owned(),
        Phase::Preflight => format!("checking names {}/{}", p.preflight_done, p.preflight_total),
        Phase::Issuing => "issuing".to_owned(),
        Phase::Settling => "settling authorizations".to_owned(),
        Phase::Done => "done".to_owned(),
    }
}

/// A wait in seconds while it is short (`41 s`: the number the CA gave), else two units.
fn wait(d: jiff::SignedDuration) -> String {
    let secs = d.as_secs().max(0);
    if secs < 120 {
        format!("{secs} s")
    } else {
        fmt::countdown(d)
    }
}
