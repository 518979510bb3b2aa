//! Per-name failure budget and exponential backoff: pure functions of a name's history, the
//! configuration, and the instant passed in.

use jiff::{SignedDuration, Timestamp};

use super::config::SchedulerConfig;
use crate::engine::store::NameBackoff;

/// `t + d`, saturating instead of panicking at the end of time.
pub(super) fn after(t: Timestamp, d: SignedDuration) -> Timestamp {
    t.checked_add(d).unwrap_or(Timestamp::MAX)
}

/// `base * 2^(n-1)`, capped at `max`; `n` counts failures, so the first waits `base`.
pub(super) fn doubling(n: u32, base: SignedDuration, max: SignedDuration) -> SignedDuration {
    let mut delay = base;
    for _ in 1..n {
        delay = match delay.checked_mul(2) {
            Some(d) if d < max => d,
            _ => return max,
        };
    }
    delay.min(max)
}

/// Failures that still count at `now`: the CA's window ends `now`, and a failure exactly one
/// window old has just dropped out. A failure stamped after `now` (clock stepped back) counts.
fn in_window<'a>(
    state: &'a NameBackoff,
    now: Timestamp,
    window: SignedDuration,
) -> impl Iterator<Item = Timestamp> + 'a {
    let start = now.checked_sub(window).unwrap_or(Timestamp::MIN);
    state
        .recent_failures
        .iter()
        .copied()
        .filter(move |f| *f > start)
}

/// How many failures of the name count at `now`.
pub(super) fn failures_in_window(
    state: &NameBackoff,
    now: Timestamp,
    window: SignedDuration,
) -> usize {
    in_window(state, now, window).count()
}

/// The earliest instant (possibly before `now`, meaning "already") at which one more attempt of
/// the name fits the budget while `in_flight` other attempts of it may still fail, or `None`
/// when the in-flight attempts alone could use the whole budget (wait for them to finish).
///
/// An attempt admitted at `now` can only fail later than `now`, so if the failures inside the
/// window ending `now`, plus every attempt that might still fail, stay within the budget, no
/// window ending at any future failure can hold more than the budget either.
pub(super) fn budget_ready_at(
    state: &NameBackoff,
    now: Timestamp,
    config: &SchedulerConfig,
    in_flight: u32,
) -> Option<Timestamp> {
    let budget = config.failure_budget as usize;
    let in_flight = in_flight as usize;
    if in_flight >= budget {
        return None;
    }
    let mut counted: Vec<Timestamp> = in_window(state, now, config.budget_window).collect();
    counted.sort();
    // This many of the oldest counted failures must leave the window first.
    let excess = (counted.len() + in_flight + 1).saturating_sub(budget);
    match excess {
        0 => Some(now),
        k => counted
            .get(k - 1)
            .map(|oldest| after(*oldest, config.budget_window)),
    }
}

/// When the name may be attempted again: after its backoff and once the budget allows, `None`
/// while only finishing in-flight attempts can free it.
pub(super) fn ready_at(
    state: &NameBackoff,
    now: Timestamp,
    config: &SchedulerConfig,
    in_flight: u32,
) -> Option<Timestamp> {
    let budget = budget_ready_at(state, now, config, in_flight)?;
    Some(match state.next_attempt_at {
        Some(backoff) => backoff.max(budget),
        None => budget,
    })
}

/// The history after one more failed validation at `now`: the failure is counted, older ones
/// outside the window are forgotten, and the next attempt is pushed back exponentially.
pub(super) fn record_failure(
    state: &NameBackoff,
    now: Timestamp,
    config: &SchedulerConfig,
    why: &str,
) -> NameBackoff {
    let mut recent: Vec<Timestamp> = in_window(state, now, config.budget_window).collect();
    recent.push(now);
    recent.sort();
    let consecutive = state.consecutive_failures.saturating_add(1);
    let delay = doubling(consecutive, config.backoff_base, config.backoff_max);
    NameBackoff {
        identifier: state.identifier.clone(),
        consecutive_failures: consecutive,
        next_attempt_at: Some(after(now, delay)),
        recent_failures: recent,
        last_error: Some(why.to_string()),
    }
}

/// The history after a success: the backoff ends, but the failures stay counted until they leave
/// the window, because the CA keeps counting them too.
pub(super) fn record_success(
    state: &NameBackoff,
    now: Timestamp,
    config: &SchedulerConfig,
) -> NameBackoff {
    NameBackoff {
        identifier: state.identifier.clone(),
        consecutive_failures: 0,
        next_attempt_at: None,
        recent_failures: in_window(state, now, config.budget_window).collect(),
        last_error: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t0() -> Timestamp {
        "2026-03-01T12:00:00Z".parse().unwrap()
    }

    fn mins(m: i64) -> SignedDuration {
        SignedDuration::from_mins(m)
    }

    #[test]
    fn doubling_starts_at_base_and_caps() {
        let got: Vec<i64> = (1..=9)
            .map(|n| doubling(n, mins(1), mins(60)).as_secs() / 60)
            .collect();
        assert_eq!(got, [1, 2, 4, 8, 16, 32, 60, 60, 60]);
        assert_eq!(doubling(u32::MAX, mins(1), mins(60)), mins(60));
        assert_eq!(doubling(0, mins(1), mins(60)), mins(1));
    }

    #[test]
    fn the_budget_frees_when_the_oldest_failure_leaves_the_window() {
        let config = SchedulerConfig::new("https://acme.test/dir");
        let mut state = NameBackoff::clean("a.example");
        state.recent_failures = (0..5).map(|i| after(t0(), mins(i * 10))).collect();
        let now = after(t0(), mins(45));
        // Five counted: the first must leave, at t0 + 60 min.
        assert_eq!(
            budget_ready_at(&state, now, &config, 0),
            Some(after(t0(), mins(60)))
        );
        // With one more attempt in flight, the second must leave too.
        assert_eq!(
            budget_ready_at(&state, now, &config, 1),
            Some(after(t0(), mins(70)))
        );
        assert_eq!(budget_ready_at(&state, now, &config, 5), None);
        // At t0 + 60 exactly the first failure no longer counts.
        assert_eq!(
            failures_in_window(&state, after(t0(), mins(60)), config.budget_window),
            4
        );
        let later = after(t0(), mins(61));
        assert_eq!(budget_ready_at(&state, later, &config, 0), Some(later));
    }

    #[test]
    fn a_failure_forgets_old_ones_and_a_success_keeps_counting_recent_ones() {
        let config = SchedulerConfig::new("https://acme.test/dir");
        let mut state = NameBackoff::clean("a.example");
        state.recent_failures = vec![t0()];
        state.consecutive_failures = 1;
        let now = after(t0(), mins(90));
        let failed = record_failure(&state, now, &config, "unauthorized");
        assert_eq!(failed.recent_failures, [now]);
        assert_eq!(failed.consecutive_failures, 2);
        assert_eq!(failed.next_attempt_at, Some(after(now, mins(2))));
        let ok = record_success(&failed, after(now, mins(3)), &config);
        assert_eq!(ok.consecutive_failures, 0);
        assert_eq!(ok.next_attempt_at, None);
        assert_eq!(ok.recent_failures, [now]);
    }
}
