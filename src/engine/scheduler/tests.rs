//! Scheduler tests: simulated time, real (in-memory or file) stores.

use std::collections::BTreeMap;

use jiff::{SignedDuration, Timestamp};

use super::*;
use crate::engine::store::{AuthorizationStatus, Store};

const DIR: &str = "https://acme.test/dir";

fn t0() -> Timestamp {
    "2026-03-01T12:00:00Z".parse().unwrap()
}

fn at(secs: i64) -> Timestamp {
    t0().checked_add(SignedDuration::from_secs(secs)).unwrap()
}

fn http(names: &[&str]) -> WorkItem {
    WorkItem::new(names.iter().copied(), ChallengeType::Http01)
}

fn failed() -> Outcome {
    Outcome::ValidationFailed {
        identifiers: Vec::new(),
        why: "unauthorized".into(),
    }
}

fn scheduler(store: &Store) -> Scheduler {
    Scheduler::new(SchedulerConfig::new(DIR), store).unwrap()
}

fn ids(admitted: &[Admitted]) -> Vec<WorkId> {
    admitted.iter().map(|a| a.id).collect()
}

#[test]
fn the_in_flight_cap_holds_under_a_burst() {
    let store = Store::open_in_memory().unwrap();
    let mut s = scheduler(&store);
    for i in 0..500 {
        // Every seventh item is a three-name order: the cap counts challenges, not items.
        let names: Vec<String> = if i % 7 == 0 {
            (0..3).map(|k| format!("san{k}-{i}.example")).collect()
        } else {
            vec![format!("n{i}.example")]
        };
        s.enqueue(WorkItem::new(names, ChallengeType::Http01), t0())
            .unwrap();
    }
    let mut running = s.next_ready(t0(), &store).unwrap();
    assert!(s.challenges_in_flight() <= 60);
    assert!(
        s.challenges_in_flight() >= 58,
        "the burst must fill the cap, not trickle"
    );
    assert!(s.next_ready(t0(), &store).unwrap().is_empty());
    let mut done = 0;
    let mut now = t0();
    while let Some(a) = running.first().cloned() {
        running.remove(0);
        now = now.checked_add(SignedDuration::from_millis(10)).unwrap();
        assert_eq!(
            s.finished(a.id, Outcome::Succeeded, now, &store).unwrap(),
            Disposition::Done
        );
        done += 1;
        running.extend(s.next_ready(now, &store).unwrap());
        assert!(s.challenges_in_flight() <= 60, "cap exceeded");
    }
    assert_eq!(done, 500);
    assert!(s.is_idle());
}

#[test]
fn the_same_name_and_type_never_runs_twice_at_once() {
    let store = Store::open_in_memory().unwrap();
    let mut s = scheduler(&store);
    let a1 = s.enqueue(http(&["a.example"]), t0()).unwrap();
    // The same name requested twice concurrently, spelled differently.
    let a2 = s.enqueue(http(&["A.Example."]), t0()).unwrap();
    let b = s.enqueue(http(&["b.example"]), t0()).unwrap();
    let a_dns = s
        .enqueue(WorkItem::new(["a.example"], ChallengeType::Dns01), t0())
        .unwrap();
    let san = s.enqueue(http(&["c.example", "a.example"]), t0()).unwrap();

    let first = s.next_ready(t0(), &store).unwrap();
    assert_eq!(
        ids(&first),
        [a1, b, a_dns],
        "a2 and the SAN order must wait"
    );
    let waiting: Vec<_> = s
        .progress(t0())
        .queued
        .into_iter()
        .map(|q| (q.id, q.waiting))
        .collect();
    let dup = Waiting::Duplicate {
        identifier: "a.example".into(),
    };
    assert_eq!(waiting, [(a2, dup.clone()), (san, dup)]);
    assert!(s.next_ready(t0(), &store).unwrap().is_empty());
    assert_eq!(
        s.next_wakeup(t0()),
        None,
        "a duplicate waits for work, not time"
    );

    s.finished(a1, Outcome::Succeeded, at(1), &store).unwrap();
    assert_eq!(ids(&s.next_ready(at(1), &store).unwrap()), [a2]);
    s.finished(a2, Outcome::Succeeded, at(2), &store).unwrap();
    assert_eq!(ids(&s.next_ready(at(2), &store).unwrap()), [san]);
}

#[test]
fn oldest_first_and_a_retried_item_keeps_its_place() {
    let store = Store::open_in_memory().unwrap();
    let config = SchedulerConfig {
        max_in_flight: 2,
        ..SchedulerConfig::new(DIR)
    };
    let mut s = Scheduler::new(config, &store).unwrap();
    let n: Vec<WorkId> = (0..6)
        .map(|i| s.enqueue(http(&[&format!("n{i}.example")]), at(i)).unwrap())
        .collect();
    assert_eq!(ids(&s.next_ready(at(10), &store).unwrap()), [n[0], n[1]]);
    s.finished(n[1], Outcome::Succeeded, at(11), &store)
        .unwrap();
    assert_eq!(ids(&s.next_ready(at(11), &store).unwrap()), [n[2]]);
    // n0 fails: backed off one minute, so n3 passes it for now.
    assert_eq!(
        s.finished(n[0], failed(), at(12), &store).unwrap(),
        Disposition::Retry { not_before: at(72) }
    );
    assert_eq!(ids(&s.next_ready(at(12), &store).unwrap()), [n[3]]);
    s.finished(n[2], Outcome::Succeeded, at(80), &store)
        .unwrap();
    s.finished(n[3], Outcome::Succeeded, at(80), &store)
        .unwrap();
    // Back from backoff, n0 is older than n4 and goes first.
    let again = s.next_ready(at(80), &store).unwrap();
    assert_eq!(ids(&again), [n[0], n[4]]);
    assert_eq!(again[0].attempt, 2);
    assert_eq!(again[1].attempt, 1);
}

#[test]
fn a_failing_name_backs_off_exponentially_up_to_the_cap() {
    let store = Store::open_in_memory().unwrap();
    let config = SchedulerConfig {
        // A large budget isolates the backoff from the hourly budget.
        failure_budget: 1000,
        max_validation_failures: None,
        ..SchedulerConfig::new(DIR)
    };
    let mut s = Scheduler::new(config, &store).unwrap();
    s.enqueue(http(&["a.example"]), t0()).unwrap();
    let mut now = t0();
    let mut waits = Vec::new();
    for _ in 0..9 {
        let admitted = s.next_ready(now, &store).unwrap();
        assert_eq!(admitted.len(), 1, "ready exactly when the backoff ends");
        let Disposition::Retry { not_before } =
            s.finished(admitted[0].id, failed(), now, &store).unwrap()
        else {
            panic!("expected a retry");
        };
        waits.push(now.duration_until(not_before).as_secs() / 60);
        let just_before = not_before
            .checked_sub(SignedDuration::from_secs(1))
            .unwrap();
        assert!(s.next_ready(just_before, &store).unwrap().is_empty());
        assert_eq!(s.next_wakeup(now), Some(not_before));
        now = not_before;
    }
    assert_eq!(waits, [1, 2, 4, 8, 16, 32, 60, 60, 60]);
    let persisted = store.name_backoff(DIR, "a.example").unwrap().unwrap();
    assert_eq!(persisted.consecutive_failures, 9);
}

/// A small deterministic pseudo-random sequence (LCG), so the simulation is reproducible.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, below: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % below
    }
}

#[test]
fn the_failure_budget_is_never_exceeded_in_any_sliding_hour() {
    let store = Store::open_in_memory().unwrap();
    let config = SchedulerConfig {
        max_in_flight: 10,
        // Backoff shorter than the budget's spacing: the budget is what must hold the line.
        backoff_base: SignedDuration::from_secs(1),
        backoff_max: SignedDuration::from_secs(2),
        max_validation_failures: None,
        max_transient_failures: u32::MAX,
        ..SchedulerConfig::new(DIR)
    };
    let window = config.budget_window;
    let mut s = Scheduler::new(config, &store).unwrap();
    let names: Vec<String> = (0..8).map(|i| format!("n{i}.example")).collect();
    for name in &names {
        // Two challenge types per name: two attempts of one name can be in flight together.
        for kind in [ChallengeType::Http01, ChallengeType::Dns01] {
            s.enqueue(WorkItem::new([name.clone()], kind), t0())
                .unwrap();
        }
    }
    let mut rng = Lcg(7);
    let mut running: Vec<(Timestamp, Admitted)> = Vec::new();
    let mut failures: BTreeMap<String, Vec<Timestamp>> = BTreeMap::new();
    let mut now = t0();
    let end = at(6 * 3600);
    let mut steps = 0;
    while now < end {
        steps += 1;
        assert!(steps < 100_000, "simulation does not progress");
        for a in s.next_ready(now, &store).unwrap() {
            let latency = SignedDuration::from_secs(1 + rng.next(30) as i64);
            running.push((now.checked_add(latency).unwrap(), a));
        }
        assert!(s.challenges_in_flight() <= 10);
        let next_finish = running.iter().map(|(t, _)| *t).min();
        now = match (next_finish, s.next_wakeup(now)) {
            (Some(a), Some(b)) => a.min(b),
            (Some(a), None) | (None, Some(a)) => a,
            (None, None) => panic!("work queued but nothing will ever wake the scheduler"),
        };
        let (due, rest): (Vec<_>, Vec<_>) = running.into_iter().partition(|(t, _)| *t <= now);
        running = rest;
        for (_, a) in due {
            let roll = rng.next(10);
            let outcome = match roll {
                0 => Outcome::Succeeded,
                1 => Outcome::Transient {
                    retry_after: None,
                    why: "503".into(),
                },
                _ => failed(),
            };
            if matches!(outcome, Outcome::ValidationFailed { .. }) {
                let name = a.item.identifiers[0].clone();
                failures.entry(name).or_default().push(now);
            }
            if s.finished(a.id, outcome, now, &store).unwrap() == Disposition::Done {
                s.enqueue(a.item, now).unwrap();
            }
        }
    }
    let mut total = 0;
    for (name, times) in &failures {
        for (i, t) in times.iter().enumerate() {
            let start = t.checked_sub(window).unwrap();
            let in_hour = times[..=i].iter().filter(|f| **f > start).count();
            assert!(
                in_hour <= 5,
                "{name}: {in_hour} failures in the hour ending {t}"
            );
        }
        total += times.len();
    }
    // Six hours, eight names, five per sliding hour: at most 240 failures fit. Reaching nearly
    // all of them shows the budget is used, not merely respected by over-throttling.
    assert!(
        total >= 220,
        "only {total} failures: the scheduler throttles far below the budget"
    );
}

#[test]
fn backoff_and_budget_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    {
        let store = Store::open(&path).unwrap();
        let mut s = scheduler(&store);
        let id = s.enqueue(http(&["a.example"]), t0()).unwrap();
        s.next_ready(t0(), &store).unwrap();
        s.finished(id, failed(), t0(), &store).unwrap();
        // Five failures of b.example inside 41 minutes, each after the previous backoff ended.
        let config = SchedulerConfig {
            max_validation_failures: None,
            ..SchedulerConfig::new(DIR)
        };
        let mut quick = Scheduler::new(config, &store).unwrap();
        for i in 0..5 {
            let id = quick.enqueue(http(&["b.example"]), at(i * 600)).unwrap();
            let admitted = quick.next_ready(at(i * 600 + 60), &store).unwrap();
            assert_eq!(ids(&admitted), [id], "attempt {i}");
            quick
                .finished(id, failed(), at(i * 600 + 60), &store)
                .unwrap();
            quick.queue.clear();
        }
        // Dropped without any shutdown: the scheduler has nothing to flush.
    }
    let store = Store::open(&path).unwrap();
    let mut s = scheduler(&store);
    let a = s.enqueue(http(&["a.example"]), at(30)).unwrap();
    let b = s.enqueue(http(&["b.example"]), at(30)).unwrap();
    assert!(s.next_ready(at(30), &store).unwrap().is_empty());
    assert_eq!(s.next_wakeup(at(30)), Some(at(60)));
    let progress = s.progress(at(30));
    let backed: Vec<_> = progress
        .backed_off
        .iter()
        .map(|v| (v.identifier.as_str(), v.until))
        .collect();
    // b's first failure (at 60 s) leaves the window an hour later.
    assert_eq!(
        backed,
        [("a.example", Some(at(60))), ("b.example", Some(at(3660)))]
    );
    assert_eq!(progress.backed_off[1].failures_in_window, 5);
    assert_eq!(ids(&s.next_ready(at(60), &store).unwrap()), [a]);
    assert!(s.next_ready(at(3659), &store).unwrap().is_empty());
    assert_eq!(ids(&s.next_ready(at(3660), &store).unwrap()), [b]);
}

#[test]
fn the_pending_authorization_cap_holds_back_new_orders_only() {
    let store = Store::open_in_memory().unwrap();
    let account = store
        .upsert_account(DIR, "https://acme.test/acct/1", "{}", &[])
        .unwrap();
    let old = store.begin_order(account, &["old.example"]).unwrap();
    let expires = Some(at(7 * 86400));
    for i in 0..298 {
        store
            .record_authorization(
                old,
                &format!("https://acme.test/authz/old{i}"),
                "old.example",
                AuthorizationStatus::Pending,
                expires,
            )
            .unwrap();
    }
    let mut s = scheduler(&store);
    let new: Vec<WorkId> = (0..5)
        .map(|i| s.enqueue(http(&[&format!("n{i}.example")]), t0()).unwrap())
        .collect();
    let resumed = s
        .enqueue(
            WorkItem::resume(old, ["old.example"], ChallengeType::Http01),
            t0(),
        )
        .unwrap();
    let first = s.next_ready(t0(), &store).unwrap();
    assert_eq!(
        ids(&first),
        [new[0], new[1], resumed],
        "298 + 2 reach the cap of 300; resuming is never held back"
    );
    assert_eq!(s.progress(t0()).pending_authorizations, Some(300));
    assert_eq!(s.progress(t0()).queued[0].waiting, Waiting::Slot);

    // The two new orders' authorizations get recorded: counted once, not twice.
    for (i, id) in new[..2].iter().enumerate() {
        store
            .record_authorization(
                old,
                &format!("https://acme.test/authz/new{i}"),
                &format!("n{i}.example"),
                AuthorizationStatus::Pending,
                expires,
            )
            .unwrap();
        s.authorizations_recorded(*id).unwrap();
    }
    assert!(s.next_ready(at(1), &store).unwrap().is_empty());
    assert_eq!(s.progress(at(1)).pending_authorizations, Some(300));

    // Three old authorizations get validated: three new orders fit.
    for i in 0..3 {
        store
            .set_authorization_status(
                &format!("https://acme.test/authz/old{i}"),
                AuthorizationStatus::Valid,
                None,
            )
            .unwrap();
    }
    assert_eq!(
        ids(&s.next_ready(at(2), &store).unwrap()),
        new[2..].to_vec()
    );
}

#[test]
fn a_transient_failure_honours_retry_after_and_spends_no_budget() {
    let store = Store::open_in_memory().unwrap();
    let mut s = scheduler(&store);
    let id = s.enqueue(http(&["a.example"]), t0()).unwrap();
    s.next_ready(t0(), &store).unwrap();
    let rate_limited = Outcome::Transient {
        retry_after: Some(at(120)),
        why: "429 rateLimited".into(),
    };
    assert_eq!(
        s.finished(id, rate_limited, t0(), &store).unwrap(),
        Disposition::Retry {
            not_before: at(120)
        }
    );
    assert_eq!(store.name_backoff(DIR, "a.example").unwrap(), None);
    assert!(s.next_ready(at(119), &store).unwrap().is_empty());
    assert_eq!(
        s.progress(at(119)).queued[0].waiting,
        Waiting::RetryAfter { until: at(120) }
    );
    assert_eq!(s.next_wakeup(at(119)), Some(at(120)));
    assert_eq!(ids(&s.next_ready(at(120), &store).unwrap()), [id]);
    // Without Retry-After our own backoff doubles: 10 s, then 20 s.
    let plain = || Outcome::Transient {
        retry_after: None,
        why: "connection reset".into(),
    };
    assert_eq!(
        s.finished(id, plain(), at(120), &store).unwrap(),
        Disposition::Retry {
            not_before: at(140)
        }
    );
    // Five transient failures in a row are tolerated (two so far); the sixth gives up.
    let mut now = at(140);
    for _ in 0..3 {
        assert_eq!(ids(&s.next_ready(now, &store).unwrap()), [id]);
        let Disposition::Retry { not_before } = s.finished(id, plain(), now, &store).unwrap()
        else {
            panic!("gave up too early");
        };
        now = not_before;
    }
    assert_eq!(ids(&s.next_ready(now, &store).unwrap()), [id]);
    assert!(matches!(
        s.finished(id, plain(), now, &store).unwrap(),
        Disposition::GaveUp { .. }
    ));
    assert!(s.is_idle());
}

#[test]
fn repeated_validation_failures_give_up_and_success_ends_the_backoff() {
    let store = Store::open_in_memory().unwrap();
    let mut s = scheduler(&store);
    let id = s.enqueue(http(&["a.example"]), t0()).unwrap();
    let mut now = t0();
    for round in 1..=3 {
        assert_eq!(
            ids(&s.next_ready(now, &store).unwrap()),
            [id],
            "round {round}"
        );
        match s.finished(id, failed(), now, &store).unwrap() {
            Disposition::Retry { not_before } => now = not_before,
            Disposition::GaveUp { why } => {
                assert_eq!(round, 3);
                assert!(why.contains("3 times"), "{why}");
            }
            Disposition::Done => panic!("a failure is not done"),
        }
    }
    assert!(s.is_idle());
    let persisted = store.name_backoff(DIR, "a.example").unwrap().unwrap();
    assert_eq!(persisted.consecutive_failures, 3);
    assert_eq!(persisted.recent_failures.len(), 3);

    // Later, after the fix, it succeeds: no more backoff, but the failures still count.
    let later = at(3000);
    let id = s.enqueue(http(&["a.example"]), later).unwrap();
    assert_eq!(ids(&s.next_ready(later, &store).unwrap()), [id]);
    s.finished(id, Outcome::Succeeded, later, &store).unwrap();
    let persisted = store.name_backoff(DIR, "a.example").unwrap().unwrap();
    assert_eq!(persisted.consecutive_failures, 0);
    assert_eq!(persisted.next_attempt_at, None);
    assert_eq!(persisted.recent_failures.len(), 3);
    assert!(s.progress(later).backed_off.is_empty());
}

#[test]
fn deactivating_costs_budget_and_ends_the_item() {
    let store = Store::open_in_memory().unwrap();
    let mut s = scheduler(&store);
    let id = s.enqueue(http(&["a.example", "b.example"]), t0()).unwrap();
    s.next_ready(t0(), &store).unwrap();
    let outcome = Outcome::Deactivated {
        identifiers: vec!["B.example".into()],
        why: "a.example failed; order abandoned".into(),
    };
    assert_eq!(
        s.finished(id, outcome, t0(), &store).unwrap(),
        Disposition::Done
    );
    assert_eq!(store.name_backoff(DIR, "a.example").unwrap(), None);
    let b = store.name_backoff(DIR, "b.example").unwrap().unwrap();
    assert_eq!(b.recent_failures, [t0()]);
    assert!(s.is_idle());
}

#[test]
fn misuse_is_a_typed_error() {
    let store = Store::open_in_memory().unwrap();
    let mut s = scheduler(&store);
    assert!(matches!(
        s.enqueue(http(&[]), t0()),
        Err(SchedulerError::EmptyWorkItem)
    ));
    assert!(matches!(
        s.enqueue(http(&["bad name"]), t0()),
        Err(SchedulerError::Store(_))
    ));
    let id = s.enqueue(http(&["a.example"]), t0()).unwrap();
    assert!(matches!(
        s.finished(id, Outcome::Succeeded, t0(), &store),
        Err(SchedulerError::UnknownWork(_))
    ));
    s.next_ready(t0(), &store).unwrap();
    s.finished(id, Outcome::Succeeded, t0(), &store).unwrap();
    assert!(matches!(
        s.finished(id, Outcome::Succeeded, t0(), &store),
        Err(SchedulerError::UnknownWork(_))
    ));
    assert!(s.authorizations_recorded(id).is_err());
    for bad in [
        SchedulerConfig {
            max_in_flight: 0,
            ..SchedulerConfig::new(DIR)
        },
        SchedulerConfig {
            failure_budget: 0,
            ..SchedulerConfig::new(DIR)
        },
        SchedulerConfig {
            backoff_base: SignedDuration::from_hours(2),
            ..SchedulerConfig::new(DIR)
        },
        SchedulerConfig {
            budget_window: SignedDuration::ZERO,
            ..SchedulerConfig::new(DIR)
        },
    ] {
        assert!(matches!(
            Scheduler::new(bad, &store),
            Err(SchedulerError::InvalidConfig(_))
        ));
    }
}

#[test]
fn a_deferred_item_waits_at_its_place_without_spending_a_try() {
    let store = Store::open_in_memory().unwrap();
    let mut s = scheduler(&store);
    let first = s.enqueue(http(&["a.example"]), t0()).unwrap();
    let second = s.enqueue(http(&["b.example"]), t0()).unwrap();
    assert_eq!(ids(&s.next_ready(t0(), &store).unwrap()), [first, second]);
    // The shared limits refused `first`: back in line, its name free, no failure counted.
    s.defer(first, at(5)).unwrap();
    assert_eq!(s.challenges_in_flight(), 1);
    assert!(s.next_ready(at(4), &store).unwrap().is_empty(), "early");
    assert_eq!(s.next_wakeup(at(4)), Some(at(5)));
    let again = s.next_ready(at(5), &store).unwrap();
    assert_eq!(ids(&again), [first]);
    assert_eq!(again[0].attempt, 1, "a deferral is no failed try");
    assert!(matches!(
        s.defer(WorkId(999), at(6)),
        Err(SchedulerError::UnknownWork(_))
    ));
}

#[test]
fn a_name_another_worker_failed_is_backed_off_once_refreshed() {
    let store = Store::open_in_memory().unwrap();
    // Two workers' schedulers on one store, both started before any failure.
    let mut first = scheduler(&store);
    let mut second = scheduler(&store);
    let id = first.enqueue(http(&["a.example"]), t0()).unwrap();
    assert_eq!(ids(&first.next_ready(t0(), &store).unwrap()), [id]);
    first.finished(id, failed(), t0(), &store).unwrap();

    let theirs = second.enqueue(http(&["a.example"]), t0()).unwrap();
    second
        .refresh_names(&["a.example".to_string()], &store)
        .unwrap();
    assert!(
        second.next_ready(at(1), &store).unwrap().is_empty(),
        "the other worker's failure was ignored"
    );
    assert!(second.next_wakeup(at(1)).is_some_and(|t| t > at(1)));
    let _ = theirs;
}
