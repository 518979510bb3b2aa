//! The batch engine (`certdx issue`) with its state on a real PostgreSQL (tests/common/
//! pg_lab.rs) against a real Pebble (tests/common/pebble_lab.rs): the whole run goes through
//! the PostgreSQL store; two workers started at once on the same database share the batch and
//! issue each name once, one answering the other's HTTP-01 tokens from the store; and a worker
//! killed with SIGKILL mid-batch leaves nothing locked: the next one resumes from what
//! PostgreSQL recorded; a 429 with Retry-After one worker receives pauses the other too.
//! tests/engine_pg_fleet.rs has three workers, kills and stops.

#[path = "common/acme_audit.rs"]
mod acme_audit;
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

use std::net::SocketAddr;
use std::time::Duration;

use acme_audit::{certificates_by_name, issued_by_each};
use certdx::engine::store::{PgStore, PgUrl};
use issue_run::{new_orders, run_json, scenario};
use pebble_lab::{FaultProxy, PebbleLab};
use pg_issue::{free_loopback, order_counts, pg_issue, pg_issue_at};
use pg_lab::PgLab;

/// The password in the state URL: the server trusts loopback and ignores it, so it only
/// serves to check that it is shown nowhere.
const PASSWORD: &str = "never-shown-8d2f";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_killed_mid_batch_is_resumed_by_the_next_from_postgres() {
    scenario(Duration::from_secs(400), async {
        let pg = tokio::task::spawn_blocking(PgLab::start).await.unwrap();
        let state = tokio::task::block_in_place(|| pg.database());
        let lab = PebbleLab::start().await;
        let proxy = FaultProxy::start(&lab).await;
        let dir = tempfile::tempdir().unwrap();
        let directory = proxy.directory_url();
        let names: Vec<String> = (0..40)
            .map(|i| format!("k{i:02}.pg.certdx.example"))
            .collect();
        let domains = dir.path().join("domains.txt");
        std::fs::write(&domains, names.join("\n")).unwrap();
        let url = PgUrl::parse(&state).unwrap();
        let watcher = {
            let url = url.clone();
            tokio::task::spawn_blocking(move || PgStore::open(&url).unwrap())
                .await
                .unwrap()
        };

        let mut first = pg_issue(&lab, &directory, dir.path(), &domains, &state);
        first
            .args(["--concurrency", "8", "--worker-lease", "3"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        let mut child = first.spawn().expect("certdx started");
        let until = std::time::Instant::now() + Duration::from_secs(120);
        loop {
            let counts = order_counts(&watcher);
            let open: i64 = ["new", "pending", "ready", "processing"]
                .iter()
                .map(|s| counts.get(*s).copied().unwrap_or(0))
                .sum();
            if counts.get("valid").copied().unwrap_or(0) >= 5 && open > 0 {
                break;
            }
            assert!(
                std::time::Instant::now() < until,
                "the first worker never got half-way"
            );
            assert!(
                child.try_wait().unwrap().is_none(),
                "the first worker ended before the kill"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        child.start_kill().expect("SIGKILL");
        child.wait().await.expect("reaped");
        let issued_before = order_counts(&watcher).get("valid").copied().unwrap_or(0);
        assert!((5..40).contains(&issued_before), "{issued_before}");
        // The dead worker's row stays (its lease runs out by itself); its batch lock went with
        // its connection, so the next worker does not wait for it.
        let fleet = tokio::task::block_in_place(|| watcher.fleet().unwrap());
        assert_eq!(fleet.workers.len(), 1, "{fleet:?}");

        tokio::time::sleep(Duration::from_millis(500)).await;
        let mut next = pg_issue(&lab, &directory, dir.path(), &domains, &state);
        next.args(["--worker-lease", "3"]);
        let (code, doc, stderr) = run_json(next, Duration::from_secs(300)).await;
        assert_eq!(code, 0, "stderr:\n{stderr}\n{doc:#}");
        assert!(
            !stderr.contains("waiting"),
            "the next worker waited for a dead one:\n{stderr}"
        );
        let certs = certificates_by_name(&doc);
        assert_eq!(certs.len(), 40);
        let already = certs
            .values()
            .filter(|c| c["status"] == "already-issued")
            .count();
        assert_eq!(already as i64, issued_before, "{doc:#}");
        assert!(
            certs
                .values()
                .all(|c| c["status"] == "already-issued" || c["status"] == "issued")
        );
        assert!(
            doc["summary"]["resumed_orders"].as_u64().unwrap() >= 1,
            "an open order was continued: {}",
            doc["summary"]
        );
        assert_eq!(doc["summary"]["authorizations"]["pending_unknown"], 0);
        assert_eq!(
            order_counts(&watcher).get("valid").copied(),
            Some(40),
            "each name issued exactly once"
        );
        tokio::task::spawn_blocking(move || drop((watcher, pg)))
            .await
            .unwrap();
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_workers_on_one_postgres_state_issue_each_name_once() {
    scenario(Duration::from_secs(300), async {
        let pg = tokio::task::spawn_blocking(PgLab::start).await.unwrap();
        let db = {
            let pg = &pg;
            tokio::task::block_in_place(|| pg.database())
        };
        let state = db.replace(
            "postgres://certdx@",
            &format!("postgres://certdx:{PASSWORD}@"),
        );
        let lab = PebbleLab::start().await;
        let proxy = FaultProxy::start(&lab).await;
        let dir = tempfile::tempdir().unwrap();
        let directory = proxy.directory_url();
        let names: Vec<String> = (0..12).map(|i| format!("n{i}.pg.certdx.example")).collect();
        let domains = dir.path().join("domains.txt");
        std::fs::write(&domains, names.join("\n")).unwrap();
        // A listens where the CA validates; B on a port nothing reaches, so every token B
        // ordered is answered by A's listener from the store.
        let unreachable = free_loopback();
        let worker = |listen: Option<SocketAddr>| {
            let mut cmd = pg_issue_at(&lab, &directory, dir.path(), &domains, &state, listen);
            cmd.args(["--concurrency", "2"]);
            run_json(cmd, Duration::from_secs(200))
        };
        let ((code_a, doc_a, err_a), (code_b, doc_b, err_b)) =
            tokio::join!(worker(None), worker(Some(unreachable)));
        assert_eq!(
            (code_a, code_b),
            (0, 0),
            "stderr:\n{err_a}\n---\n{err_b}\n{doc_a:#}\n---\n{doc_b:#}"
        );
        let (by_a, by_b) = issued_by_each(&names, &doc_a, &doc_b);
        assert!(by_a >= 1, "A issued nothing: {doc_a:#}");
        assert!(
            by_b >= 1,
            "B issued nothing, so nothing shows A answering B's tokens: {doc_b:#}"
        );
        assert_eq!(
            new_orders(&proxy.log()).len(),
            names.len(),
            "one newOrder per name"
        );
        for out in [doc_a.to_string(), doc_b.to_string(), err_a, err_b] {
            assert!(!out.contains(PASSWORD), "the password leaked: {out}");
        }
        assert!(
            doc_a["state"]
                .as_str()
                .unwrap()
                .contains("certdx:***@127.0.0.1"),
            "{}",
            doc_a["state"]
        );

        // Everything is in PostgreSQL, with no SQLite file beside it: one account, one valid
        // order per name, no authorization pending without a decision.
        assert!(!dir.path().join("state.sqlite").exists());
        let url = PgUrl::parse(&state).unwrap();
        let store = tokio::task::spawn_blocking(move || PgStore::open(&url).unwrap())
            .await
            .unwrap();
        assert!(store.account(&directory).unwrap().is_some());
        for name in &names {
            let issued = store
                .issued_for(&directory, std::slice::from_ref(name))
                .unwrap();
            assert!(issued.is_some(), "{name} has no issued order in the store");
        }
        assert!(store.pending_unknown_authorizations().unwrap().is_empty());
        assert!(store.orders_to_resume(&directory).unwrap().is_empty());
        // Each run was a registered worker while it ran, and left the table when it ended.
        let fleet = store.fleet().unwrap();
        assert!(fleet.workers.is_empty(), "{fleet:?}");
        tokio::task::spawn_blocking(move || drop((store, pg)))
            .await
            .unwrap();
    })
    .await;
}

/// Boulder's wording, so the classifier names the limit.
const NEW_ORDERS_LIMIT: &str = "Error creating new order :: too many new orders (300) from this \
    account in the last 3h0m0s: see https://letsencrypt.org/docs/rate-limits/#new-orders-per-account";

/// A 429 with Retry-After that one worker receives pauses the other too: once the pause is in
/// the database, no newOrder of either worker reaches the CA until it ends. Without the sharing,
/// the worker that was not refused would go on ordering at full speed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_after_one_worker_receives_pauses_every_worker() {
    scenario(Duration::from_secs(300), async {
        let pg = tokio::task::spawn_blocking(PgLab::start).await.unwrap();
        let state = {
            let pg = &pg;
            tokio::task::block_in_place(|| pg.database())
        };
        let lab = PebbleLab::start().await;
        let proxy = FaultProxy::start(&lab).await;
        let dir = tempfile::tempdir().unwrap();
        let directory = proxy.directory_url();
        let names: Vec<String> = (0..16)
            .map(|i| format!("p{i}.pause.certdx.example"))
            .collect();
        let domains = dir.path().join("domains.txt");
        std::fs::write(&domains, names.join("\n")).unwrap();
        // One listener where the CA validates; the other worker's answers are served from it.
        let worker = |listen: Option<SocketAddr>| {
            let mut cmd = pg_issue_at(&lab, &directory, dir.path(), &domains, &state, listen);
            cmd.args(["--concurrency", "2"]);
            run_json(cmd, Duration::from_secs(200))
        };
        // The 429 comes once both workers are ordering: after the third newOrder.
        let injector = async {
            let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
            while new_orders(&proxy.log()).len() < 3 {
                assert!(tokio::time::Instant::now() < deadline, "no orders came");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            proxy.inject(
                pebble_lab::Endpoint::NewOrder,
                pebble_lab::Fault::RateLimited {
                    retry_after: "4".into(),
                    detail: NEW_ORDERS_LIMIT.into(),
                },
                1,
            );
        };
        let ((code_a, doc_a, err_a), (code_b, doc_b, err_b), ()) =
            tokio::join!(worker(None), worker(Some(free_loopback())), injector);
        assert_eq!(
            (code_a, code_b),
            (0, 0),
            "stderr:\n{err_a}\n---\n{err_b}\n{doc_a:#}\n---\n{doc_b:#}"
        );
        let (by_a, by_b) = issued_by_each(&names, &doc_a, &doc_b);
        assert!(
            by_a >= 1 && by_b >= 1,
            "both workers issued: {by_a}, {by_b}"
        );

        let log = proxy.log();
        let orders = new_orders(&log);
        let limited = orders
            .iter()
            .find(|l| l.injected)
            .expect("the 429 was answered");
        assert_eq!(limited.status, 429);
        // Requests already admitted when the 429 came back may still land just after it; then
        // nothing until the pause ends.
        let quiet_from = limited.answered + Duration::from_secs(1);
        let quiet_to = limited.answered + Duration::from_millis(3500);
        let during: Vec<_> = orders
            .iter()
            .filter(|l| l.at > quiet_from && l.at < quiet_to)
            .map(|l| l.at - limited.answered)
            .collect();
        assert!(
            during.is_empty(),
            "newOrders reached the CA during the shared pause, this long after the 429: {during:?}"
        );
        let after = orders.iter().filter(|l| l.at >= quiet_to).count();
        assert!(after >= 1, "the batch went on after the pause");
        tokio::task::spawn_blocking(move || drop(pg)).await.unwrap();
    })
    .await;
}

/// Workers with their own `--out` (as on separate machines): each ends with every certificate
/// of the batch and its key, installed from the copy the issuing worker kept in the database;
/// and a later run on a machine that has none of the files installs them and orders nothing,
/// where it used to take "not in my --out" for "lost" and order every certificate again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_worker_installs_every_certificate_and_a_later_run_elsewhere_orders_nothing() {
    use std::os::unix::fs::PermissionsExt;
    scenario(Duration::from_secs(300), async {
        let pg = tokio::task::spawn_blocking(PgLab::start).await.unwrap();
        let state = {
            let pg = &pg;
            tokio::task::block_in_place(|| pg.database())
        };
        let lab = PebbleLab::start().await;
        let proxy = FaultProxy::start(&lab).await;
        let directory = proxy.directory_url();
        let names: Vec<String> = (0..8)
            .map(|i| format!("c{i}.copies.certdx.example"))
            .collect();
        let (dir_a, dir_b, dir_c) = (
            tempfile::tempdir().unwrap(),
            tempfile::tempdir().unwrap(),
            tempfile::tempdir().unwrap(),
        );
        let domains = dir_c.path().join("domains.txt");
        std::fs::write(&domains, names.join("\n")).unwrap();
        let worker = |dir: &std::path::Path, listen: Option<SocketAddr>| {
            let mut cmd = pg_issue_at(&lab, &directory, dir, &domains, &state, listen);
            cmd.args(["--concurrency", "2"]);
            run_json(cmd, Duration::from_secs(200))
        };
        let ((code_a, doc_a, err_a), (code_b, doc_b, err_b)) = tokio::join!(
            worker(dir_a.path(), None),
            worker(dir_b.path(), Some(free_loopback()))
        );
        assert_eq!((code_a, code_b), (0, 0), "{err_a}\n---\n{err_b}");
        let (by_a, by_b) = issued_by_each(&names, &doc_a, &doc_b);
        assert!(
            by_a >= 1 && by_b >= 1,
            "both workers issued: {by_a}, {by_b}"
        );
        let chain = |dir: &tempfile::TempDir, name: &str| {
            let certs = dir.path().join("certs");
            let key = certs.join(format!("{name}.key"));
            let mode = std::fs::metadata(&key)
                .unwrap_or_else(|e| panic!("{}: {e}", key.display()))
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600, "{}", key.display());
            std::fs::read_to_string(certs.join(format!("{name}.crt"))).unwrap()
        };
        for name in &names {
            assert_eq!(chain(&dir_a, name), chain(&dir_b, name), "{name}");
        }
        for doc in [&doc_a, &doc_b] {
            for (name, c) in certificates_by_name(doc) {
                let path = c["certificate"].as_str().unwrap_or_default();
                assert!(
                    path.starts_with(&*dir_a.path().to_string_lossy()) == std::ptr::eq(doc, &doc_a),
                    "{name}: each worker reports its own copy, {path}"
                );
            }
        }
        let ordered = new_orders(&proxy.log()).len();
        assert_eq!(ordered, names.len());

        // Each worker reports the other's certificates as copied here.
        for (doc, issued_here) in [(&doc_a, by_a), (&doc_b, by_b)] {
            let copied = certificates_by_name(doc)
                .values()
                .filter(|c| c["copied"] == true)
                .count();
            assert_eq!(copied, names.len() - issued_here, "{doc:#}");
        }

        // A run on a machine that has neither worker's files: it installs every certificate,
        // runs the deploy hook for each (this host serves them now), and orders nothing.
        drop((dir_a, dir_b));
        let hooks = dir_c.path().join("hooks.log");
        let mut cmd = pg_issue_at(&lab, &directory, dir_c.path(), &domains, &state, None);
        cmd.arg("--deploy-hook")
            .arg(format!("echo \"$CERTDX_NAME\" >> {}", hooks.display()));
        let (code, doc, stderr) = run_json(cmd, Duration::from_secs(200)).await;
        assert_eq!(code, 0, "{stderr}\n{doc:#}");
        let mut deployed: Vec<String> = std::fs::read_to_string(&hooks)
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect();
        deployed.sort();
        let mut expected = names.clone();
        expected.sort();
        assert_eq!(
            deployed, expected,
            "the deploy hook ran once per copy: {doc:#}"
        );
        assert_eq!(
            new_orders(&proxy.log()).len(),
            ordered,
            "nothing ordered again: {doc:#}"
        );
        for (name, c) in certificates_by_name(&doc) {
            assert_eq!(c["status"], "already-issued", "{name}: {c:#}");
        }
        for name in &names {
            assert!(chain(&dir_c, name).contains("BEGIN CERTIFICATE"), "{name}");
        }
        tokio::task::spawn_blocking(move || drop(pg)).await.unwrap();
    })
    .await;
}
