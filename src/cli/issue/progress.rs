//! The progress bar `certdx issue` draws on stderr while the batch runs (indicatif: drawn
//! only when stderr is a terminal, at most a few times a second), and the one line it always
//! prints when the run waits for another run holding the state file.

use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use tokio::sync::watch;

use crate::engine::batch::{BatchProgress, Phase};

/// How often the bar is redrawn.
const REDRAW_PER_SECOND: u8 = 5;
/// How often the snapshot is read when nothing changes (the elapsed time still moves).
const POLL: Duration = Duration::from_millis(200);

/// Follows `receiver` until the batch is done, then clears the bar.
pub(super) async fn show(mut receiver: watch::Receiver<BatchProgress>) {
    let bar =
        ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr_with_hz(REDRAW_PER_SECOND));
    bar.set_style(style());
    let mut told_lock = false;
    loop {
        let progress = receiver.borrow_and_update().clone();
        if progress.phase == Phase::Done {
            break;
        }
        if progress.phase == Phase::WaitingForLock && !told_lock {
            told_lock = true;
            // Printed even without a terminal: a run that seems stuck must say why.
            bar.suspend(|| {
                eprintln!(
                    "certdx issue: another run is using the state file; waiting for it to finish"
                );
            });
        }
        let (position, length) = counts(&progress);
        bar.set_length(length);
        bar.set_position(position);
        bar.set_prefix(stage(&progress));
        bar.set_message(message(&progress));
        let changed = tokio::time::timeout(POLL, receiver.changed()).await;
        if matches!(changed, Ok(Err(_))) {
            break;
        }
    }
    bar.finish_and_clear();
}

fn style() -> ProgressStyle {
    ProgressStyle::with_template("{prefix:>14} [{elapsed_precise}] {wide_bar} {pos}/{len} {msg}")
        .expect("the template is valid")
        .progress_chars("=> ")
}

/// What the bar counts: names during the preflight, certificates after.
fn counts(p: &BatchProgress) -> (u64, u64) {
    let n = |v: usize| u64::try_from(v).unwrap_or(u64::MAX);
    match p.phase {
        Phase::Preflight => (n(p.preflight_done), n(p.preflight_total)),
        _ => (n(p.issued + p.already_issued + p.failed), n(p.certificates)),
    }
}

fn stage(p: &BatchProgress) -> &'static str {
    match p.phase {
        Phase::Starting | Phase::Done => "starting",
        Phase::WaitingForLock => "waiting",
        Phase::Account => "account",
        Phase::Preflight => "checking names",
        Phase::Issuing => "issuing",
        Phase::Settling => "settling",
    }
}

fn message(p: &BatchProgress) -> String {
    match p.phase {
        Phase::WaitingForLock => "for another run on the same state file".to_owned(),
        Phase::Issuing | Phase::Settling => {
            let mut line = format!(
                "{} issued, {} already, {} failed; {} running, {} queued",
                p.issued, p.already_issued, p.failed, p.in_flight, p.queued
            );
            if let Some(until) = p.paused_until {
                line.push_str(&format!("; the CA asked to wait until {until}"));
            }
            if let Some(f) = &p.fleet {
                line.push_str(&format!(
                    "; fleet: {} workers, {} in flight over all, {} with others",
                    f.workers, f.in_flight, f.elsewhere
                ));
            }
            line
        }
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bar_counts_names_then_certificates_and_says_why_it_waits() {
        let mut p = BatchProgress {
            phase: Phase::Preflight,
            certificates: 10,
            preflight_done: 3,
            preflight_total: 12,
            ..BatchProgress::default()
        };
        assert_eq!(counts(&p), (3, 12));
        p.phase = Phase::Issuing;
        p.issued = 4;
        p.failed = 1;
        p.in_flight = 2;
        p.paused_until = Some("2026-11-29T07:00:00Z".parse().unwrap());
        assert_eq!(counts(&p), (5, 10));
        let line = message(&p);
        assert!(
            line.starts_with("4 issued, 0 already, 1 failed; 2 running"),
            "{line}"
        );
        assert!(line.contains("wait until 2026-11-29T07:00:00Z"), "{line}");
        p.fleet = Some(crate::engine::batch::FleetGlance {
            workers: 3,
            in_flight: 6,
            elsewhere: 40,
        });
        assert!(
            message(&p).ends_with("; fleet: 3 workers, 6 in flight over all, 40 with others"),
            "{}",
            message(&p)
        );
    }
}
