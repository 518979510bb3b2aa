//! Several `certdx issue` workers sharing one batch through a real PostgreSQL, against the real
//! Pebble behind the fault proxy, with their HTTP-01 listeners behind a round-robin load
//! balancer on the port Pebble validates (tests/common/balancer.rs), as a hosting provider runs
//! them:
//!
//! - three workers on one batch of 500 names, one killed with SIGKILL mid-batch: the other two finish its
//!   work; each name is issued once; the in-flight cap holds over all workers at every instant
//!   (audited from the CA's side: the proxy's log of each order's requests); every backend
//!   answered validations, so tokens were answered by workers other than the one that ordered
//!   them; nothing is left pending and unknown, by the store and by Pebble;
//! - a worker stopped (SIGSTOP) past its lease: the other takes its certificates over, and the
//!   stopped one, once continued, changes nothing in the database and stops with the reason.

#[path = "common/acme_audit.rs"]
mod acme_audit;
#[path = "common/balancer.rs"]
mod balancer;
#[path = "common/issue_run.rs"]
mod issue_run;
#[path = "common/pebble_lab.rs"]
mod pebble_lab;
// Both labs include ports.rs; each copy hands out ports on its own, which is safe here because
// PostgreSQL is listening before Pebble picks its ports (a taken port fails the bind check).
#[path = "common/pg_issue.rs"]
mod pg_issue;
#[allow(clippy::duplicate_mod)]
#[path = "common/pg_lab.rs"]
mod pg_lab;

use std::collections::{BTreeMap, BTreeSet};
use std::process::Stdio;
use std::time::{Duration, Instant};

use acme_audit::{audit_store, certificates_by_name};
use balancer::Balancer;
use certdx::engine::store::{PgStore, PgUrl};
use issue_run::{new_orders, scenario};
use pebble_lab::{Endpoint, FaultProxy, Logged, PebbleLab};
use pg_issue::{free_loopback, order_counts, pg_issue_at};
use pg_lab::PgLab;
use serde_json::Value;

/// The in-flight cap every worker is given, enforced over all of them by the database.
const CAP: usize = 6;

/// A fresh database, Pebble behind the fault proxy, and a domains file of `n` names.
struct Setup {
    pg: PgLab,
    state: String,
    lab: PebbleLab,
    proxy: FaultProxy,
    dir: tempfile::TempDir,
    directory: String,
    names: Vec<String>,
    domains: std::path::PathBuf,
}

impl Setup {
    async fn start(label: &str, n: usize) -> Setup {
        let pg = tokio::task::spawn_blocking(PgLab::start).await.unwrap();
        let state = tokio::task::block_in_place(|| pg.database());
        let lab = PebbleLab::start().await;
        let proxy = FaultProxy::start(&lab).await;
        let dir = tempfile::tempdir().unwrap();
        let directory = proxy.directory_url();
        let names: Vec<String> = (0..n)
            .map(|i| format!("n{i:03}.{label}.certdx.example"))
            .collect();
        let domains = dir.path().join("domains.txt");
        std::fs::write(&domains, names.join("\n")).unwrap();
        Setup {
            pg,
            state,
            lab,
            proxy,
            dir,
            directory,
            names,
            domains,
        }
    }
}

/// Opens the store the tests read back through.
async fn watcher(state: &str) -> PgStore {
    let url = PgUrl::parse(state).unwrap();
    tokio::task::spawn_blocking(move || PgStore::open(&url).unwrap())
        .await
        .unwrap()
}

/// Waits for `child` (stdout piped) at most `limit`: its exit code and JSON document. On a
/// timeout the panic shows the fleet as the database sees it.
async fn finish(
    child: tokio::process::Child,
    limit: Duration,
    store: &PgStore,
) -> (i32, Value, String) {
    let Ok(out) = tokio::time::timeout(limit, child.wait_with_output()).await else {
        let fleet = tokio::task::block_in_place(|| store.fleet());
        panic!("a worker did not finish within {limit:?}; the fleet: {fleet:#?}");
    };
    let out = out.expect("worker output");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let doc = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    (out.status.code().unwrap_or(-1), doc, stderr)
}

/// The most orders the CA saw in progress at one instant: each order from its newOrder answer
/// to the last request about it (its polls, its finalization), leaving out those in progress
/// at `leaving_out_across` when given. A live worker holds the in-flight slots of an order's
/// names for longer than that span, so this can only undercount a breach.
fn most_orders_at_once(log: &[Logged], leaving_out_across: Option<Instant>) -> usize {
    let mut spans: BTreeMap<String, (Instant, Instant)> = BTreeMap::new();
    for l in log {
        if l.endpoint == Endpoint::NewOrder {
            if let Some(id) = l.location.as_deref().and_then(order_id) {
                spans.insert(id.to_string(), (l.answered, l.answered));
            }
        } else if matches!(l.endpoint, Endpoint::Order | Endpoint::Finalize)
            && let Some(span) = order_id(&l.path).and_then(|id| spans.get_mut(id))
        {
            span.1 = span.1.max(l.at);
        }
    }
    let mut edges: Vec<(Instant, i32)> = spans
        .values()
        .filter(|(start, end)| leaving_out_across.is_none_or(|t| !(*start <= t && t <= *end)))
        .flat_map(|(start, end)| [(*start, 1), (*end, -1)])
        .collect();
    // An order ending at the instant another starts does not overlap it.
    edges.sort_by_key(|(t, d)| (*t, *d));
    let (mut now, mut most) = (0i32, 0i32);
    for (_, d) in edges {
        now += d;
        most = most.max(now);
    }
    usize::try_from(most).unwrap_or(0)
}

/// The order id at the end of an order or finalize URL or path.
fn order_id(url: &str) -> Option<&str> {
    url.rsplit('/').next().filter(|id| !id.is_empty())
}

/// Names ordered more than once, from the newOrder payloads.
fn ordered_twice(log: &[Logged]) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    let mut twice = BTreeSet::new();
    for l in new_orders(log) {
        let names: Vec<String> = l.payload.as_ref().unwrap()["identifiers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["value"].as_str().unwrap().to_string())
            .collect();
        let key = names.join(",");
        if !seen.insert(key.clone()) {
            twice.insert(key);
        }
    }
    twice
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_workers_share_a_batch_survive_a_kill_and_keep_the_limits() {
    scenario(Duration::from_secs(500), async {
        let Setup {
            pg,
            state,
            lab,
            proxy,
            dir,
            directory,
            names,
            domains,
        } = Setup::start("fleet", 500).await;
        let listens: Vec<_> = (0..3).map(|_| free_loopback()).collect();
        let balancer = Balancer::start(lab.http01_addr(), listens.clone()).await;
        let store = watcher(&state).await;

        let mut workers = Vec::new();
        for listen in &listens {
            let mut cmd = pg_issue_at(
                &lab,
                &directory,
                dir.path(),
                &domains,
                &state,
                Some(*listen),
            );
            // A lease long enough that a heartbeat delayed by a loaded CI machine never lets
            // a live worker's slots expire (which would let the others exceed the cap).
            cmd.args(["--concurrency", &CAP.to_string(), "--worker-lease", "10"])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped());
            workers.push(cmd.spawn().expect("worker started"));
        }
        let mut doomed = workers.pop().unwrap();
        let doomed_pid = i64::from(doomed.id().unwrap());

        // Kill the third worker once the batch is well under way and it holds work.
        let until = Instant::now() + Duration::from_secs(180);
        let held_at_kill = loop {
            let fleet = tokio::task::block_in_place(|| store.fleet().unwrap());
            let valid = order_counts(&store).get("valid").copied().unwrap_or(0);
            let held = fleet
                .workers
                .iter()
                .find(|w| w.pid == doomed_pid)
                .map_or(0, |w| w.claims);
            if valid >= 100 && held > 0 {
                break held;
            }
            assert!(Instant::now() < until, "the batch never got under way");
            assert!(
                doomed.try_wait().unwrap().is_none(),
                "it ended before the kill"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        doomed.start_kill().expect("SIGKILL");
        let killed_at = Instant::now();
        doomed.wait().await.expect("reaped");

        let b = workers.pop().unwrap();
        let a = workers.pop().unwrap();
        let ((code_a, doc_a, err_a), (code_b, doc_b, err_b)) = tokio::join!(
            finish(a, Duration::from_secs(240), &store),
            finish(b, Duration::from_secs(240), &store)
        );
        assert_eq!((code_a, code_b), (0, 0), "{err_a}\n---\n{err_b}\n{doc_a:#}");

        // Each name issued exactly once, and each survivor reports every name done.
        assert_eq!(
            order_counts(&store).get("valid").copied(),
            Some(names.len() as i64)
        );
        for doc in [&doc_a, &doc_b] {
            let certs = certificates_by_name(doc);
            assert_eq!(certs.len(), names.len());
            assert!(
                certs
                    .values()
                    .all(|c| c["status"] == "issued" || c["status"] == "already-issued"),
                "{doc:#}"
            );
            assert!(
                certs.values().any(|c| c["status"] == "issued"),
                "a survivor did no work: {doc:#}"
            );
        }
        let log = proxy.log();
        // A name is ordered again only when the killed worker had sent its newOrder and died
        // before recording the answer; it held at most `held_at_kill` certificates.
        let twice = ordered_twice(&log);
        assert!(
            twice.len() as i64 <= held_at_kill,
            "ordered twice: {twice:?} (the killed worker held {held_at_kill})"
        );
        // An order the killed worker left open stays open at the CA until a survivor takes it
        // over, holding no slot meanwhile: the cap is checked on the orders that did not
        // span the kill, and all orders may exceed it by at most what the dead worker held.
        let most = most_orders_at_once(&log, None);
        let most_apart = most_orders_at_once(&log, Some(killed_at));
        assert!(
            most_apart <= CAP,
            "{most_apart} orders in progress at once, over {CAP}"
        );
        assert!(most as i64 <= CAP as i64 + held_at_kill, "{most}");
        assert!(
            most_apart >= 2,
            "the workers never ran side by side ({most_apart})"
        );
        // Round robin over all three listeners: most tokens were answered by a worker that did
        // not order them, from the store.
        let served = balancer.served();
        assert!(served.iter().all(|n| *n > 0), "{served:?}");

        // Nothing pending and unknown, by the store and by the CA.
        let unknown = tokio::task::block_in_place(|| store.pending_unknown_authorizations());
        assert!(unknown.unwrap().is_empty());
        let audit = audit_store(&lab, &directory, &store).await;
        assert!(
            audit.pending_unknown.is_empty(),
            "{:?}",
            audit.pending_unknown
        );
        assert!(audit.fetched >= names.len(), "{}", audit.fetched);
        tokio::task::spawn_blocking(move || drop((store, pg)))
            .await
            .unwrap();
    })
    .await;
}

/// A digest of every table but `workers` (whose heartbeat columns a live worker moves).
fn snapshot(state: &str) -> Vec<String> {
    let state = state.to_string();
    std::thread::spawn(move || {
        let mut c = postgres::Client::connect(&state, postgres::NoTls).unwrap();
        [
            "accounts",
            "orders",
            "authorizations",
            "order_authorizations",
            "challenges",
            "name_backoff",
            "claims",
            "inflight",
            "pauses",
            "pending_reservations",
            "responses",
        ]
        .iter()
        .map(|t| {
            let q = format!(
                "SELECT COALESCE(md5(string_agg(t::text, '|' ORDER BY t::text)), '') FROM {t} t"
            );
            format!(
                "{t}:{}",
                c.query_one(q.as_str(), &[]).unwrap().get::<_, String>(0)
            )
        })
        .collect()
    })
    .join()
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_stopped_past_its_lease_writes_nothing_when_it_continues() {
    scenario(Duration::from_secs(400), async {
        let Setup {
            pg,
            state,
            lab,
            proxy,
            dir,
            directory,
            domains,
            ..
        } = Setup::start("stop", 20).await;
        let store = watcher(&state).await;
        let spawn = |listen| {
            let mut cmd = pg_issue_at(&lab, &directory, dir.path(), &domains, &state, listen);
            cmd.args(["--concurrency", "4", "--worker-lease", "3"])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped());
            cmd.spawn().expect("worker started")
        };
        // The stopped worker listens where nothing reaches: the other, at the CA's port,
        // answers every token, the stopped one's included.
        let stopped = spawn(Some(free_loopback()));
        let other = spawn(None);
        let pid = stopped.id().unwrap();
        let until = Instant::now() + Duration::from_secs(120);
        let held = loop {
            let fleet = tokio::task::block_in_place(|| store.fleet().unwrap());
            let held = fleet
                .workers
                .iter()
                .find(|w| w.pid == i64::from(pid) && w.claims > 0 && w.in_flight > 0)
                .map(|w| w.claims);
            if let Some(held) = held {
                break held;
            }
            assert!(Instant::now() < until, "the worker never took work");
            tokio::time::sleep(Duration::from_millis(10)).await;
        };
        let pid = nix_pid(pid);
        signal(pid, libc::SIGSTOP);

        let (code, doc, stderr) = finish(other, Duration::from_secs(200), &store).await;
        assert_eq!(code, 0, "{stderr}\n{doc:#}");
        assert_eq!(order_counts(&store).get("valid").copied(), Some(20));
        let certs = certificates_by_name(&doc);
        let issued_here = certs.values().filter(|c| c["status"] == "issued").count();
        let before = snapshot(&state);

        signal(pid, libc::SIGCONT);
        let (code, stopped_doc, stderr) = finish(stopped, Duration::from_secs(60), &store).await;
        assert_ne!(code, 0, "the stopped worker carried on: {stderr}");
        // Stopped between two statements, it learns that its lease ran out; stopped inside a
        // transaction, the server ended its session after 10 s (freeing the locks the other
        // worker waited on), and it learns that.
        assert!(
            stderr.contains("lease ran out") || stderr.contains("idle-in-transaction"),
            "exit {code}: {stderr}\n{stopped_doc:#}"
        );
        assert_eq!(
            snapshot(&state),
            before,
            "the stopped worker wrote after it continued"
        );
        // It was stopped holding work that the other then did.
        assert!(issued_here > 0 && issued_here <= 20);
        assert_eq!(order_counts(&store).get("valid").copied(), Some(20));
        // Ordered again only if it was stopped between sending a newOrder and recording it.
        let twice = ordered_twice(&proxy.log());
        assert!(twice.len() as i64 <= held, "{twice:?}");
        tokio::task::spawn_blocking(move || drop((store, pg)))
            .await
            .unwrap();
    })
    .await;
}

fn nix_pid(pid: u32) -> libc::pid_t {
    libc::pid_t::try_from(pid).unwrap()
}

fn signal(pid: libc::pid_t, sig: libc::c_int) {
    // SAFETY: kill(2) on a child this test started and has not reaped.
    let rc = unsafe { libc::kill(pid, sig) };
    assert_eq!(rc, 0, "kill({pid}, {sig})");
}
