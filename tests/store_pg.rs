//! The state store on a real PostgreSQL (tests/common/pg_lab.rs): the lab itself, the same
//! record-level assertions as the SQLite store's unit tests, migrations, the CLI's handling of
//! a `postgres://` state, and the leases that let several workers share one batch.

#[path = "common/pg_lab.rs"]
mod pg_lab;

use std::collections::BTreeSet;
use std::process::Command;
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use certdx::engine::store::conformance::{self, assert_filled, fill};
use certdx::engine::store::pg::SCHEMA_VERSION as SCHEMA_VERSION_PG;
use certdx::engine::store::pg::leases::{ClaimKind, Heartbeat};
use certdx::engine::store::pg::limits::{PendingFull, SlotRefusal};
use certdx::engine::store::{
    NameBackoff, OrderStatus, PgStore, PgUrl, StateLocation, StateStore, StoreError, open_state,
};
use pg_lab::PgLab;

/// One server for the tests running at the same time (each test has its own database); it
/// stops when the last of them drops it.
fn lab() -> Arc<PgLab> {
    static SHARED: Mutex<Weak<PgLab>> = Mutex::new(Weak::new());
    let mut shared = SHARED.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(lab) = shared.upgrade() {
        return lab;
    }
    let lab = Arc::new(PgLab::start());
    *shared = Arc::downgrade(&lab);
    lab
}

fn open(url: &str) -> PgStore {
    PgStore::open(&PgUrl::parse(url).unwrap()).unwrap()
}

/// The lab starts a real server, hands out separate databases, and stops it when dropped.
#[test]
fn the_lab_serves_separate_databases_and_stops_on_drop() {
    let lab = PgLab::start();
    let a = lab.database();
    let b = lab.database();
    assert_ne!(a, b);
    lab.execute(&a, "CREATE TABLE only_here (x int)");
    lab.execute(&b, "CREATE TABLE only_here (x int)");
    let port = lab.port();
    drop(lab);
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
        "the server still listens after the lab was dropped"
    );
}

#[test]
fn every_conformance_case_passes_on_postgres() {
    let lab = lab();
    for (name, case) in conformance::CASES {
        eprintln!("conformance case {name}");
        let url = lab.database();
        let store = open_state(&StateLocation::parse(&url).unwrap()).unwrap();
        case(store.as_ref());
    }
}

#[test]
fn a_role_with_table_rights_only_runs_a_worker_once_the_owner_migrated() {
    let lab = lab();
    let owner_url = lab.database();
    let db = owner_url.rsplit('/').next().unwrap().to_string();
    let role = format!("w_{db}");
    lab.execute(&owner_url, &format!("CREATE ROLE {role} LOGIN"));
    lab.execute(
        &owner_url,
        &format!("GRANT CONNECT ON DATABASE {db} TO {role}"),
    );
    let worker_url = owner_url.replace("postgres://certdx@", &format!("postgres://{role}@"));

    // Before the owner created the schema, the worker's role cannot: a clear refusal.
    let refused = PgStore::open(&PgUrl::parse(&worker_url).unwrap()).unwrap_err();
    assert!(
        refused.to_string().contains("permission denied"),
        "{refused}"
    );

    open(&owner_url);
    lab.execute(
        &owner_url,
        &format!(
            "GRANT USAGE ON SCHEMA public TO {role};
             GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role};
             GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {role};"
        ),
    );
    let store = open(&worker_url);
    assert_eq!(store.schema_version().unwrap(), SCHEMA_VERSION_PG);
    let me = store.register_worker("host", 1, LONG).unwrap();
    store.offer(ClaimKind::Certificate, &keys(3)).unwrap();
    assert_eq!(
        store
            .claim(me, ClaimKind::Certificate, 3, LONG)
            .unwrap()
            .len(),
        3
    );
    store
        .take_slot(me, DIR, "a.example", "http-01", 10, LONG)
        .unwrap()
        .unwrap();
    store.publish_http01("tok", "tok.thumb").unwrap();
    assert_filled(&store, fill(&store));
}

#[test]
fn a_store_survives_reconnecting_and_migrations_are_idempotent() {
    let lab = lab();
    let url = lab.database();
    let store = open(&url);
    let order = fill(&store);
    assert_eq!(store.migrate().unwrap(), SCHEMA_VERSION_PG);
    assert_eq!(store.migrate().unwrap(), SCHEMA_VERSION_PG);
    drop(store);
    // A new connection (another worker, or the same after a crash) reads it all back.
    let again = open(&url);
    assert_eq!(again.schema_version().unwrap(), SCHEMA_VERSION_PG);
    assert_filled(&again, order);
    lab.execute(
        &url,
        "DO $$ BEGIN IF (SELECT COUNT(*) FROM schema_migrations) <> (SELECT MAX(version) FROM schema_migrations) THEN RAISE EXCEPTION 'a migration was recorded twice'; END IF; END $$",
    );
    lab.execute(
        &url,
        &format!(
            "INSERT INTO schema_migrations (version, applied_at) VALUES ({}, 'x')",
            SCHEMA_VERSION_PG + 1
        ),
    );
    match PgStore::open(&PgUrl::parse(&url).unwrap()) {
        Err(StoreError::SchemaTooNew { found, supported }) => {
            assert_eq!(
                (found, supported),
                (SCHEMA_VERSION_PG + 1, SCHEMA_VERSION_PG)
            );
        }
        other => panic!("expected SchemaTooNew, got {other:?}"),
    }
}

#[test]
fn workers_starting_together_migrate_once() {
    let lab = lab();
    let url = lab.database();
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let url = url.clone();
            std::thread::spawn(move || open(&url).schema_version().unwrap())
        })
        .collect();
    for t in threads {
        assert_eq!(t.join().unwrap(), SCHEMA_VERSION_PG);
    }
}

#[test]
fn the_store_works_from_inside_a_tokio_runtime() {
    // The synchronous driver panics on a runtime thread unless the store moves its calls off it.
    let lab = lab();
    let url = lab.database();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let store: Box<dyn StateStore> = open_state(&StateLocation::parse(&url).unwrap()).unwrap();
        let order = fill(store.as_ref());
        let handle = tokio::spawn(async move {
            store
                .set_order_status(order, OrderStatus::Ready, None)
                .unwrap();
            store.order(order).unwrap().unwrap().status
        });
        assert_eq!(handle.await.unwrap(), OrderStatus::Ready);
    });
}

// ---- leases ------------------------------------------------------------------------------

const LONG: Duration = Duration::from_secs(60);

fn keys(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("name-{i:04}.example")).collect()
}

#[test]
fn two_claimers_never_get_the_same_row() {
    let lab = lab();
    let url = lab.database();
    let setup = open(&url);
    let all = keys(300);
    setup.offer(ClaimKind::Certificate, &all).unwrap();
    // Offering again changes nothing.
    setup.offer(ClaimKind::Certificate, &all[..10]).unwrap();
    let workers: Vec<_> = (0..2)
        .map(|i| {
            let url = url.clone();
            std::thread::spawn(move || {
                // Each worker its own connection, as separate processes would have.
                let store = open(&url);
                let me = store.register_worker("lab", 1000 + i, LONG).unwrap();
                let mut got = Vec::new();
                loop {
                    let batch = store.claim(me, ClaimKind::Certificate, 7, LONG).unwrap();
                    if batch.is_empty() {
                        break;
                    }
                    for claim in &batch {
                        assert_eq!(claim.owner, me);
                        assert_eq!(claim.generation, 1, "a first claim is generation 1");
                    }
                    got.extend(batch.into_iter().map(|c| c.key));
                }
                got
            })
        })
        .collect();
    let results: Vec<Vec<String>> = workers.into_iter().map(|w| w.join().unwrap()).collect();
    let a: BTreeSet<_> = results[0].iter().cloned().collect();
    let b: BTreeSet<_> = results[1].iter().cloned().collect();
    assert_eq!(a.len(), results[0].len(), "a worker got a row twice");
    assert_eq!(b.len(), results[1].len(), "a worker got a row twice");
    assert!(
        a.is_disjoint(&b),
        "both workers claimed {:?}",
        a.intersection(&b).next()
    );
    let union: BTreeSet<_> = a.union(&b).cloned().collect();
    assert_eq!(union, all.iter().cloned().collect::<BTreeSet<_>>());
    // Everything is claimed with a live lease: a third worker finds nothing.
    let late = setup.register_worker("lab", 3, LONG).unwrap();
    assert!(
        setup
            .claim(late, ClaimKind::Certificate, 1000, LONG)
            .unwrap()
            .is_empty()
    );
}

#[test]
fn a_batch_claims_only_its_own_keys_and_settles_what_it_found_issued() {
    let lab = lab();
    let store = open(&lab.database());
    let wanted: Vec<String> = ["b.example", "c.example"].map(String::from).to_vec();
    // An open row first in key order that this batch does not want: left by a worker that
    // died after issuing it, or another batch's.
    let stray = vec!["a.example".to_string()];
    store.offer(ClaimKind::Certificate, &stray).unwrap();
    store.offer(ClaimKind::Certificate, &wanted).unwrap();
    let me = store.register_worker("lab", 1, LONG).unwrap();
    let got = store
        .claim_among(me, ClaimKind::Certificate, Some(&wanted), 1, LONG)
        .unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].key, "b.example", "the stray row came first");
    let all = store.claim(me, ClaimKind::Certificate, 1, LONG).unwrap();
    assert_eq!(all[0].key, "a.example", "unrestricted claims take any row");

    // Settling: a free row is marked done, a live claim stays with its owner.
    store
        .settle_finished(
            ClaimKind::Certificate,
            &["a.example".into(), "c.example".into()],
        )
        .unwrap();
    assert_eq!(
        store.unfinished(ClaimKind::Certificate, &stray).unwrap(),
        1,
        "a live claim was settled under its owner"
    );
    assert_eq!(
        store
            .unfinished(ClaimKind::Certificate, &["c.example".into()])
            .unwrap(),
        0
    );
}

#[test]
fn an_expired_claim_is_taken_over_and_the_stale_owners_writes_are_refused() {
    let lab = lab();
    let url = lab.database();
    let (first, second) = (open(&url), open(&url));
    let order = fill(&first);
    first
        .offer(ClaimKind::Certificate, &["a.example".to_string()])
        .unwrap();
    let short = Duration::from_millis(400);
    let w1 = first.register_worker("host-1", 1, short).unwrap();
    let w2 = second.register_worker("host-2", 2, LONG).unwrap();
    let mine = first.claim(w1, ClaimKind::Certificate, 10, short).unwrap();
    assert_eq!(mine.len(), 1);
    // While the lease runs, nobody else gets it.
    assert!(
        second
            .claim(w2, ClaimKind::Certificate, 10, LONG)
            .unwrap()
            .is_empty()
    );
    // A write under a live claim goes through.
    first
        .under_claim(&mine[0], |tx| {
            tx.execute(
                "UPDATE orders SET status = 'ready' WHERE id = $1",
                &[&order.get()],
            )?;
            Ok(())
        })
        .unwrap();

    // The first worker stops renewing (dead, or SIGSTOP'd): after the lease it is free.
    let taken = wait_for(Duration::from_secs(10), || {
        let got = second.claim(w2, ClaimKind::Certificate, 10, LONG).unwrap();
        (!got.is_empty()).then_some(got)
    });
    assert_eq!(taken[0].key, "a.example");
    assert_eq!(taken[0].generation, mine[0].generation + 1);

    // The stale owner wakes up: the database refuses its writes, and applies none of them.
    let refused = first.under_claim(&mine[0], |tx| {
        tx.execute(
            "UPDATE orders SET status = 'invalid' WHERE id = $1",
            &[&order.get()],
        )?;
        Ok(())
    });
    assert!(
        matches!(refused, Err(StoreError::LeaseLost { .. })),
        "{refused:?}"
    );
    assert_eq!(
        first.order(order).unwrap().unwrap().status,
        OrderStatus::Ready
    );
    assert!(matches!(
        first.complete(&mine[0]),
        Err(StoreError::LeaseLost { .. })
    ));
    // Its renewal does not revive the claim, nor the worker's own lease.
    assert!(matches!(
        first.renew(w1, LONG),
        Err(StoreError::WorkerLeaseLost { .. })
    ));
    assert!(matches!(
        first.complete(&mine[0]),
        Err(StoreError::LeaseLost { .. })
    ));

    // The new owner writes and completes; completed work is never claimed again.
    second
        .under_claim(&taken[0], |tx| {
            tx.execute(
                "UPDATE orders SET status = 'valid' WHERE id = $1",
                &[&order.get()],
            )?;
            Ok(())
        })
        .unwrap();
    second.complete(&taken[0]).unwrap();
    assert_eq!(
        first.order(order).unwrap().unwrap().status,
        OrderStatus::Valid
    );
    let w3 = first.register_worker("host-3", 3, LONG).unwrap();
    std::thread::sleep(Duration::from_millis(50));
    assert!(
        first
            .claim(w3, ClaimKind::Certificate, 10, LONG)
            .unwrap()
            .is_empty()
    );
}

#[test]
fn a_heartbeat_keeps_claims_alive_and_they_expire_once_it_stops() {
    let lab = lab();
    let url = lab.database();
    let (first, second) = (open(&url), open(&url));
    first
        .offer(
            ClaimKind::Challenge,
            &["https://ca.test/chall/1".to_string()],
        )
        .unwrap();
    let lease = Duration::from_millis(600);
    let w1 = first.register_worker("host-1", 1, lease).unwrap();
    let w2 = second.register_worker("host-2", 2, LONG).unwrap();
    let held = first.claim(w1, ClaimKind::Challenge, 1, lease).unwrap();
    assert_eq!(held.len(), 1);
    let beat = Heartbeat::start(&PgUrl::parse(&url).unwrap(), w1, lease, lease / 4).unwrap();
    // Three lease lengths later the claim is still held, because it was renewed.
    let until = Instant::now() + lease * 3;
    while Instant::now() < until {
        assert!(
            second
                .claim(w2, ClaimKind::Challenge, 1, LONG)
                .unwrap()
                .is_empty(),
            "a renewed claim was taken over"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let fleet = second.workers().unwrap();
    assert!(
        fleet.iter().any(|w| w.id == w1 && w.alive && w.claims == 1),
        "{fleet:?}"
    );
    drop(beat);
    let taken = wait_for(Duration::from_secs(10), || {
        let got = second.claim(w2, ClaimKind::Challenge, 1, LONG).unwrap();
        (!got.is_empty()).then_some(got)
    });
    assert_eq!(taken[0].generation, 2);
    assert!(matches!(
        first.complete(&held[0]),
        Err(StoreError::LeaseLost { .. })
    ));
}

/// Polls `f` until it returns a value, for at most `limit`.
fn wait_for<T>(limit: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "condition not reached within {limit:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

// ---- limits shared by all workers ---------------------------------------------------------

const DIR: &str = "https://ca.test/dir";

#[test]
fn the_in_flight_cap_holds_across_workers_counting_at_once() {
    let lab = lab();
    let url = lab.database();
    let max = 5;
    let workers: Vec<_> = (0..2u32)
        .map(|i| {
            let url = url.clone();
            std::thread::spawn(move || {
                let store = open(&url);
                let me = store.register_worker("lab", i, LONG).unwrap();
                let mut got = 0;
                for n in 0..20 {
                    let name = format!("w{i}-{n}.example");
                    if store
                        .take_slot(me, DIR, &name, "http-01", max, LONG)
                        .unwrap()
                        .is_ok()
                    {
                        got += 1;
                    }
                }
                got
            })
        })
        .collect();
    let total: usize = workers.into_iter().map(|w| w.join().unwrap()).sum();
    assert_eq!(total, max, "the slots taken by both workers together");
    assert_eq!(open(&url).in_flight(DIR).unwrap(), max);
    // Another directory has its own cap.
    let store = open(&url);
    let me = store.register_worker("lab", 9, LONG).unwrap();
    assert!(
        store
            .take_slot(
                me,
                "https://other.test/dir",
                "a.example",
                "http-01",
                max,
                LONG
            )
            .unwrap()
            .is_ok()
    );
}

#[test]
fn one_name_and_type_is_in_flight_once_and_a_dead_workers_slots_expire() {
    let lab = lab();
    let url = lab.database();
    let (first, second) = (open(&url), open(&url));
    let short = Duration::from_millis(400);
    let w1 = first.register_worker("host-1", 1, short).unwrap();
    let w2 = second.register_worker("host-2", 2, LONG).unwrap();
    let held = first
        .take_slot(w1, DIR, "A.example.", "http-01", 10, short)
        .unwrap()
        .unwrap();
    assert_eq!(held.identifier, "a.example");
    assert_eq!(
        second
            .take_slot(w2, DIR, "a.example", "http-01", 10, LONG)
            .unwrap(),
        Err(SlotRefusal::Busy),
        "the same (name, type) from another worker"
    );
    assert_eq!(
        first
            .take_slot(w1, DIR, "a.example", "http-01", 10, short)
            .unwrap(),
        Err(SlotRefusal::Busy),
        "the same (name, type) from the same worker"
    );
    let other_type = second
        .take_slot(w2, DIR, "a.example", "dns-01", 10, LONG)
        .unwrap()
        .unwrap();
    // The first worker stops (no heartbeat): its slot stops counting once the lease is out.
    let taken = wait_for(Duration::from_secs(10), || {
        second
            .take_slot(w2, DIR, "a.example", "http-01", 10, LONG)
            .unwrap()
            .ok()
    });
    assert_eq!(taken.owner, w2);
    assert_eq!(second.in_flight(DIR).unwrap(), 2);
    // Releasing the stale slot (already gone) takes nothing from the new holder.
    first.release_slot(&held).unwrap();
    assert_eq!(second.in_flight(DIR).unwrap(), 2);
    second.release_slot(&other_type).unwrap();
    second.release_slot(&taken).unwrap();
    assert_eq!(second.in_flight(DIR).unwrap(), 0);
}

#[test]
fn one_workers_retry_after_pauses_every_worker() {
    let lab = lab();
    let url = lab.database();
    let (first, second) = (open(&url), open(&url));
    let w1 = first.register_worker("host-1", 1, LONG).unwrap();
    let w2 = second.register_worker("host-2", 2, LONG).unwrap();
    first
        .pause(
            DIR,
            Duration::from_millis(700),
            "429 rateLimited: too many new orders",
        )
        .unwrap();
    // A shorter pause received later does not shorten it.
    second.pause(DIR, Duration::from_millis(10), "503").unwrap();
    match second
        .take_slot(w2, DIR, "b.example", "http-01", 10, LONG)
        .unwrap()
    {
        Err(SlotRefusal::Paused { reason, .. }) => assert!(reason.starts_with("429"), "{reason}"),
        other => panic!("expected a pause, got {other:?}"),
    }
    assert!(matches!(
        first
            .take_slot(w1, DIR, "c.example", "http-01", 10, LONG)
            .unwrap(),
        Err(SlotRefusal::Paused { .. })
    ));
    // Other directories are not paused.
    assert!(
        second
            .take_slot(
                w2,
                "https://other.test/dir",
                "b.example",
                "http-01",
                10,
                LONG
            )
            .unwrap()
            .is_ok()
    );
    let slot = wait_for(Duration::from_secs(10), || {
        second
            .take_slot(w2, DIR, "b.example", "http-01", 10, LONG)
            .unwrap()
            .ok()
    });
    assert_eq!(slot.identifier, "b.example");
}

#[test]
fn failures_of_one_name_recorded_by_workers_at_once_are_all_counted() {
    let lab = lab();
    let url = lab.database();
    let threads: Vec<_> = (0..2)
        .map(|w| {
            let url = url.clone();
            std::thread::spawn(move || {
                let store = open(&url);
                for i in 0..10 {
                    store
                        .update_name_backoff(DIR, "Busy.example.", |mut state| {
                            state.consecutive_failures += 1;
                            state.recent_failures.push(jiff::Timestamp::now());
                            state.last_error = Some(format!("worker {w} failure {i}"));
                            state
                        })
                        .unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let got = open(&url)
        .name_backoff(DIR, "busy.example")
        .unwrap()
        .unwrap();
    assert_eq!(
        got.consecutive_failures, 20,
        "a failure recorded by one worker was lost"
    );
    assert_eq!(got.recent_failures.len(), 20);
    // A change that clears the history deletes the row, as put_name_backoff does.
    let store = open(&url);
    let cleared = store
        .update_name_backoff(DIR, "busy.example", |s| NameBackoff::clean(s.identifier))
        .unwrap();
    assert_eq!(cleared.consecutive_failures, 0);
    assert_eq!(store.name_backoff(DIR, "busy.example").unwrap(), None);
}

#[test]
fn the_pending_authorization_cap_counts_the_store_and_every_workers_reservations() {
    let lab = lab();
    let url = lab.database();
    let (first, second) = (open(&url), open(&url));
    let a = first.register_worker("host-a", 1, LONG).unwrap();
    let b = second.register_worker("host-b", 2, LONG).unwrap();
    let now = jiff::Timestamp::now();
    let cap = 10;
    let held = first
        .reserve_pending(a, DIR, 6, cap, now, LONG)
        .unwrap()
        .unwrap();
    assert_eq!(
        second.reserve_pending(b, DIR, 5, cap, now, LONG).unwrap(),
        Err(PendingFull {
            outstanding: 0,
            reserved: 6
        })
    );
    let small = second
        .reserve_pending(b, DIR, 4, cap, now, LONG)
        .unwrap()
        .unwrap();
    // The first worker's order came back with 3 pending authorizations: recorded, then its
    // reservation is given back. They now count from the store.
    let order = {
        let account = first
            .upsert_account(DIR, "https://ca.test/acct/1", "{}", &[])
            .unwrap();
        first
            .begin_order(account, &["x.example".to_string()])
            .unwrap()
    };
    for i in 0..3 {
        first
            .record_authorization(
                order,
                &format!("https://ca.test/authz/{i}"),
                &format!("n{i}.example"),
                certdx::engine::store::AuthorizationStatus::Pending,
                None,
            )
            .unwrap();
    }
    first.release_pending(held).unwrap();
    assert_eq!(
        first.reserve_pending(a, DIR, 4, cap, now, LONG).unwrap(),
        Err(PendingFull {
            outstanding: 3,
            reserved: 4
        })
    );
    let last = first
        .reserve_pending(a, DIR, 3, cap, now, LONG)
        .unwrap()
        .unwrap();
    // Another account's directory has its own cap.
    assert!(
        second
            .reserve_pending(b, "https://other.test/dir", 10, cap, now, LONG)
            .unwrap()
            .is_ok()
    );
    second.release_pending(small).unwrap();
    first.release_pending(last).unwrap();
    first.release_pending(last).unwrap();

    // Many reservations at once from two workers: never more than the cap in total.
    let threads: Vec<_> = (0..2)
        .map(|w| {
            let url = url.clone();
            std::thread::spawn(move || {
                let store = open(&url);
                let me = store.register_worker("lab", 10 + w, LONG).unwrap();
                (0..20)
                    .filter(|_| {
                        store
                            .reserve_pending(me, DIR, 1, cap, now, LONG)
                            .unwrap()
                            .is_ok()
                    })
                    .count()
            })
        })
        .collect();
    let total: usize = threads.into_iter().map(|t| t.join().unwrap()).sum();
    assert_eq!(
        total,
        cap - 3,
        "the 3 pending in the store leave 7 to reserve"
    );
}

// ---- responses any worker can serve ---------------------------------------------------------

#[test]
fn a_response_published_by_one_worker_is_served_by_another_and_publishing_is_idempotent() {
    let lab = lab();
    let url = lab.database();
    let (first, second) = (open(&url), open(&url));
    first.publish_http01("tok-1", "tok-1.thumb").unwrap();
    first.publish_http01("tok-1", "tok-1.thumb").unwrap();
    second.publish_http01("tok-1", "tok-1.thumb").unwrap();
    assert_eq!(
        second.http01_response("tok-1").unwrap().as_deref(),
        Some("tok-1.thumb")
    );
    assert_eq!(second.http01_response("tok-2").unwrap(), None);
    assert!(
        matches!(
            second.publish_http01("tok-1", "tok-1.other"),
            Err(StoreError::Conflict { .. })
        ),
        "a token names one key authorization"
    );
    assert_eq!(
        first.http01_response("tok-1").unwrap().as_deref(),
        Some("tok-1.thumb")
    );

    // DNS-01: a wildcard and its base name share one record name, two values.
    let name = "_acme-challenge.Example.ORG.";
    first.publish_dns01(name, "value-base").unwrap();
    second
        .publish_dns01("_acme-challenge.example.org", "value-wild")
        .unwrap();
    second.publish_dns01(name, "value-base").unwrap();
    assert_eq!(
        first.dns01_values("_acme-challenge.example.org").unwrap(),
        ["value-base", "value-wild"]
    );
    first.withdraw_dns01(name, "value-base").unwrap();
    first.withdraw_dns01(name, "value-base").unwrap();
    assert_eq!(second.dns01_values(name).unwrap(), ["value-wild"]);
    second.withdraw_http01("tok-1").unwrap();
    assert_eq!(first.http01_response("tok-1").unwrap(), None);
}

// ---- the CLI -----------------------------------------------------------------------------

fn issue_with_state(state: &str, via_env: bool) -> std::process::Output {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_certdx"));
    cmd.current_dir(dir.path()).args([
        "issue",
        "--directory",
        "https://127.0.0.1:9/dir",
        "--http01-listen",
        "127.0.0.1:0",
        "--domain",
        "a.example",
    ]);
    if via_env {
        cmd.env("CERTDX_STATE", state);
    } else {
        cmd.env_remove("CERTDX_STATE").args(["--state", state]);
    }
    cmd.output().unwrap()
}

#[test]
fn a_bad_or_unreachable_state_url_is_exit_2_without_the_password() {
    // Nothing listens on the port: unreachable. The password must appear nowhere.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let cases = [
        (
            format!("postgres://certdx:Sup3rS3cret@127.0.0.1:{closed}/db"),
            false,
            "cannot connect",
        ),
        (
            format!("postgres://certdx:Sup3rS3cret@127.0.0.1:{closed}/db"),
            true,
            "cannot connect",
        ),
        (
            "postgres://certdx:Sup3rS3cret@127.0.0.1:notaport/db".to_string(),
            false,
            "not usable",
        ),
    ];
    for (url, via_env, expect) in cases {
        let out = issue_with_state(&url, via_env);
        let stderr = String::from_utf8_lossy(&out.stderr);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(2), "{url} env={via_env}: {stderr}");
        assert!(stderr.contains(expect), "{url}: {stderr}");
        assert!(stderr.contains("certdx:***@127.0.0.1"), "{url}: {stderr}");
        assert!(
            !stderr.contains("Sup3rS3cret") && !stdout.contains("Sup3rS3cret"),
            "the password leaked: {stderr}{stdout}"
        );
    }
}

#[test]
fn a_reachable_state_url_is_migrated_by_the_cli_before_anything_else() {
    let lab = lab();
    let url = lab.database();
    // The CA is unreachable, so the run fails later; the store was reached and migrated first.
    let _ = issue_with_state(&url, true);
    assert_eq!(open(&url).schema_version().unwrap(), SCHEMA_VERSION_PG);
}

fn status(state: &str, json: bool) -> std::process::Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_certdx"));
    cmd.args(["issue", "--status"]).env("CERTDX_STATE", state);
    if json {
        cmd.args(["--format", "json"]);
    }
    cmd.output().unwrap()
}

#[test]
fn status_shows_the_fleet_its_work_and_the_running_batch() {
    let lab = lab();
    let url = lab.database();
    let (first, second) = (open(&url), open(&url));
    let alive = first.register_worker("host-a", 101, LONG).unwrap();
    let dead = second
        .register_worker("host-b", 202, Duration::from_millis(1))
        .unwrap();
    first.offer(ClaimKind::Certificate, &keys(5)).unwrap();
    first.claim(alive, ClaimKind::Certificate, 2, LONG).unwrap();
    second
        .claim(dead, ClaimKind::Certificate, 1, Duration::from_millis(1))
        .unwrap();
    first
        .take_slot(alive, DIR, "a.example", "http-01", 10, LONG)
        .unwrap()
        .unwrap();
    first.pause(DIR, LONG, "429 rateLimited").unwrap();
    fill(&first);
    second
        .reserve_pending(dead, DIR, 3, 100, jiff::Timestamp::now(), LONG)
        .unwrap()
        .unwrap();
    std::thread::sleep(Duration::from_millis(20));

    let state = url.replace("postgres://certdx@", "postgres://certdx:status-pw@");
    let out = status(&state, true);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!stdout.contains("status-pw"), "{stdout}");
    let doc: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let workers = doc["workers"].as_array().unwrap();
    assert_eq!(workers.len(), 2, "{doc:#}");
    assert_eq!(
        (
            workers[0]["host"].as_str(),
            workers[0]["pid"].as_i64(),
            workers[0]["alive"].as_bool()
        ),
        (Some("host-a"), Some(101), Some(true))
    );
    assert_eq!(
        (
            workers[0]["claims"].as_i64(),
            workers[0]["in_flight"].as_i64()
        ),
        (Some(2), Some(1))
    );
    assert_eq!(workers[1]["alive"].as_bool(), Some(false), "{doc:#}");
    let certs = &doc["claims"][0];
    assert_eq!(
        (
            certs["free"].as_i64(),
            certs["held"].as_i64(),
            certs["expired"].as_i64(),
            certs["done"].as_i64()
        ),
        (Some(2), Some(2), Some(1), Some(0)),
        "{doc:#}"
    );
    assert_eq!(doc["in_flight"][0]["count"].as_i64(), Some(1));
    assert_eq!(doc["pauses"][0]["reason"].as_str(), Some("429 rateLimited"));
    assert_eq!(doc["orders"][0]["status"].as_str(), Some("pending"));
    assert_eq!(
        workers[0]["holding"].as_array().map(Vec::len),
        Some(2),
        "{doc:#}"
    );
    assert_eq!(doc["reserved_pending"][0]["count"].as_i64(), Some(3));

    let text = status(&state, false);
    let text = String::from_utf8_lossy(&text.stdout);
    for want in [
        "workers: 2",
        "#",
        "host-a pid 101: alive",
        "lease expired",
        "holding ",
        "pending authorizations reserved on",
        "paused on",
    ] {
        assert!(text.contains(want), "{want:?} missing from:\n{text}");
    }
}

#[test]
fn status_on_an_sqlite_state_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_certdx"))
        .args(["issue", "--status", "--state"])
        .arg(dir.path().join("state.sqlite"))
        .env_remove("CERTDX_STATE")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("postgres://"));
}

/// A root and a server certificate for `localhost` only, as a company CA would issue them.
fn tls_material(ca: &str, names: &[&str]) -> (String, String, String) {
    use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
    let mut root = CertificateParams::new(Vec::<String>::new()).unwrap();
    root.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    root.distinguished_name.push(DnType::CommonName, ca);
    let root = CertifiedIssuer::self_signed(root, KeyPair::generate().unwrap()).unwrap();
    let leaf =
        CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>()).unwrap();
    let key = KeyPair::generate().unwrap();
    let cert = leaf.signed_by(&key, &root).unwrap();
    (root.pem(), cert.pem(), key.serialize_pem())
}

/// Whether the server sees certdx's session (application_name certdx) encrypted.
fn certdx_session_is_encrypted(db_url: &str) -> bool {
    let url = db_url.to_owned();
    std::thread::spawn(move || {
        let mut admin = postgres::Client::connect(&url, postgres::NoTls).unwrap();
        let rows = admin
            .query(
                "SELECT s.ssl FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid)
                 WHERE a.application_name = 'certdx'",
                &[],
            )
            .unwrap();
        assert_eq!(rows.len(), 1, "one certdx session");
        rows[0].get::<_, bool>(0)
    })
    .join()
    .unwrap()
}

/// `--state` URLs take libpq's sslmode and sslrootcert: encrypted unless disabled, the chain
/// checked from verify-ca (and require with a root), the host name from verify-full; a server
/// without TLS refuses require. The server here has a certificate for `localhost` only.
#[test]
fn tls_to_the_database_verifies_as_libpq_does() {
    let (root, cert, key) = tls_material("Example Corp database CA", &["localhost"]);
    let (other_root, _, _) = tls_material("Some other CA", &["localhost"]);
    let tls_lab = PgLab::start_with_tls(&cert, &key);
    let dir = tempfile::tempdir().unwrap();
    let root_file = dir.path().join("root.pem");
    std::fs::write(&root_file, root).unwrap();
    let other_file = dir.path().join("other.pem");
    std::fs::write(&other_file, other_root).unwrap();
    let db = tls_lab.database();
    let name = db.rsplit('/').next().unwrap().to_owned();
    let at = |host: &str, query: &str| {
        format!("postgres://certdx@{host}:{}/{name}?{query}", tls_lab.port())
    };
    let opens = |url: String| -> Result<PgStore, StoreError> {
        PgStore::open(&PgUrl::parse(&url).unwrap())
    };
    let root = root_file.display().to_string();
    let other = other_file.display().to_string();

    for (url, encrypted) in [
        (
            at(
                "localhost",
                &format!("sslmode=verify-full&sslrootcert={root}"),
            ),
            true,
        ),
        (
            at(
                "127.0.0.1",
                &format!("sslmode=verify-ca&sslrootcert={root}"),
            ),
            true,
        ),
        (
            at("127.0.0.1", &format!("sslmode=require&sslrootcert={root}")),
            true,
        ),
        (at("127.0.0.1", "sslmode=require"), true),
        (at("127.0.0.1", ""), true),
        (at("127.0.0.1", "sslmode=disable"), false),
    ] {
        let store = opens(url.clone()).unwrap_or_else(|e| panic!("{url}: {e}"));
        assert_eq!(certdx_session_is_encrypted(&db), encrypted, "{url}");
        drop(store);
    }

    // The command line: exit 2 with the reason, before any work.
    let out = issue_with_state(
        &at(
            "127.0.0.1",
            &format!("sslmode=verify-full&sslrootcert={root}"),
        ),
        true,
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("not valid for name"), "{stderr}");
    // The certificate is for localhost, not for the address.
    let refused = opens(at(
        "127.0.0.1",
        &format!("sslmode=verify-full&sslrootcert={root}"),
    ))
    .expect_err("verify-full checks the host name");
    assert!(
        matches!(refused, StoreError::Unreachable { .. }),
        "{refused}"
    );
    assert!(
        refused
            .to_string()
            .contains("certificate not valid for name"),
        "{refused}"
    );
    // Another CA's root: the chain is refused.
    for mode in ["verify-ca", "require"] {
        let refused = opens(at(
            "localhost",
            &format!("sslmode={mode}&sslrootcert={other}"),
        ))
        .err()
        .unwrap_or_else(|| panic!("{mode} with another root"));
        assert!(
            refused.to_string().contains("UnknownIssuer"),
            "{mode}: {refused}"
        );
    }
    // A server that offers no TLS refuses require and serves prefer in plain text.
    let plain = lab();
    let plain_db = plain.database();
    let refused = opens(format!("{plain_db}?sslmode=require")).err().unwrap();
    assert!(
        matches!(refused, StoreError::Unreachable { .. }),
        "{refused}"
    );
    opens(plain_db.clone()).unwrap();
    // A mode libpq does not know is a bad URL, named.
    let bad = PgUrl::parse(&at("localhost", "sslmode=verify")).unwrap_err();
    assert!(
        bad.to_string().contains("sslmode=verify is not one of"),
        "{bad}"
    );
}
