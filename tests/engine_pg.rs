//! The batch engine (`certdx issue`) with its state on a real PostgreSQL (tests/common/
//! pg_lab.rs) against a real Pebble (tests/common/pebble_lab.rs): the whole run goes through
//! the PostgreSQL store, and two workers started at once on the same database issue each name
//! once (the second waits for the first's batch lock, then finds everything issued).

#[path = "common/acme_audit.rs"]
mod acme_audit;
#[path = "common/issue_run.rs"]
mod issue_run;
#[path = "common/pebble_lab.rs"]
mod pebble_lab;
// Both labs include ports.rs; each copy hands out ports on its own, which is safe here because
// PostgreSQL is listening before Pebble picks its ports (a taken port fails the bind check).
#[allow(clippy::duplicate_mod)]
#[path = "common/pg_lab.rs"]
mod pg_lab;

use std::time::Duration;

use acme_audit::certificates_by_name;
use certdx::engine::store::{PgStore, PgUrl};
use issue_run::{new_orders, run_json, scenario};
use pebble_lab::{FaultProxy, PebbleLab};
use pg_lab::PgLab;

/// The password in the state URL: the server trusts loopback and ignores it, so it only
/// serves to check that it is shown nowhere.
const PASSWORD: &str = "never-shown-8d2f";

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
        let names: Vec<String> = (0..6).map(|i| format!("n{i}.pg.certdx.example")).collect();
        let domains = dir.path().join("domains.txt");
        std::fs::write(&domains, names.join("\n")).unwrap();
        let worker = || {
            // The lab's flags name an SQLite file; the URL comes from the environment instead.
            let flags = lab.issue_flags(&directory, dir.path());
            let at = flags.iter().position(|f| f == "--state").unwrap();
            let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_certdx"));
            cmd.arg("issue")
                .args(&flags[..at])
                .args(&flags[at + 2..])
                .arg("--domains-file")
                .arg(&domains)
                .args(["--format", "json"])
                .env("CERTDX_STATE", &state)
                .env_remove("CERTDX_LOG")
                .env_remove("CERTDX_EAB_HMAC_KEY")
                .stdin(std::process::Stdio::null())
                .kill_on_drop(true);
            run_json(cmd, Duration::from_secs(200))
        };
        let ((code_a, doc_a, err_a), (code_b, doc_b, err_b)) = tokio::join!(worker(), worker());
        assert_eq!((code_a, code_b), (0, 0), "stderr:\n{err_a}\n---\n{err_b}");
        let (a, b) = (certificates_by_name(&doc_a), certificates_by_name(&doc_b));
        for name in &names {
            let mut statuses = [
                a[name]["status"].as_str().unwrap(),
                b[name]["status"].as_str().unwrap(),
            ];
            statuses.sort();
            assert_eq!(statuses, ["already-issued", "issued"], "{name}");
        }
        assert!(
            err_a.contains("waiting") || err_b.contains("waiting"),
            "the second worker said it waits:\n{err_a}\n---\n{err_b}"
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
        assert!(fleet.batch_lock.is_none(), "{fleet:?}");
        tokio::task::spawn_blocking(move || drop((store, pg)))
            .await
            .unwrap();
    })
    .await;
}
