//! Two `certdx issue` workers sharing one batch on PostgreSQL, each with its own embedded DNS
//! server for the delegated zone: the zone has both as nameservers, and the CA (Pebble through
//! the lab's unbound) asks whichever unbound picks. Every TXT value either worker publishes goes
//! to the database first, and each server answers the values it does not hold from there. Each
//! worker's self-check asks every nameserver of the zone before telling the CA to look, so no
//! name is issued unless the other worker's server answered its value too.
//!
//! PostgreSQL starts before Pebble picks its ports (both labs hand out ports on their own; a
//! taken port fails the bind check).

use std::net::SocketAddr;
use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;

use super::dns_lab::LabBuilder;
use super::lab::SLOTS;
use crate::acme_audit::{audit_store, issued_by_each};
use crate::pebble_lab::{PebbleLab, PebbleOptions};
use crate::pg_lab::PgLab;
use certdx::engine::store::{PgStore, PgUrl};

/// How long one worker may take here.
const RUN_LIMIT: Duration = Duration::from_secs(180);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_workers_answer_each_others_dns01_values_from_the_database() {
    let pg = tokio::task::spawn_blocking(PgLab::start).await.unwrap();
    let state = {
        let pg = &pg;
        tokio::task::block_in_place(|| pg.database())
    };
    let servers = SLOTS.take();
    let (embedded_a, embedded_b) = (
        SocketAddr::from((servers.ip(1), 53)),
        SocketAddr::from((servers.ip(2), 53)),
    );
    let names: Vec<String> = (0..6).map(|i| format!("w{i}.example.com")).collect();
    let mut records = String::new();
    for i in 0..6 {
        records.push_str(&format!(
            "w{i} A 192.0.2.1\n_acme-challenge.w{i} CNAME w{i}.example.com.acme.example.net.\n"
        ));
    }
    let mut b = LabBuilder::new(&SLOTS);
    let ns = b.knot("a");
    b.zone("example.com", &[("ns1", ns)], &records).zone(
        "example.net",
        &[("ns1", ns)],
        &format!(
            "acme NS ns1.acme.example.net.\nacme NS ns2.acme.example.net.\n\
             ns1.acme A {}\nns2.acme A {}\n",
            embedded_a.ip(),
            embedded_b.ip()
        ),
    );
    let dns = b.start().await;
    let pebble = PebbleLab::start_with(PebbleOptions {
        dns_server: Some(dns.resolver),
        ..PebbleOptions::default()
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("lab-root.pem");
    std::fs::write(&root, pebble.root_pem()).unwrap();
    let nameservers = [
        format!("ns1.acme.example.net={}", embedded_a.ip()),
        format!("ns2.acme.example.net={}", embedded_b.ip()),
    ];
    let worker = |listen: SocketAddr, out: &str| {
        let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_certdx"));
        cmd.arg("issue")
            .args(["--directory", &pebble.directory_url()])
            .arg("--ca-cert")
            .arg(&root)
            .args(["--resolver", &dns.resolver.to_string()])
            .arg("--out")
            .arg(dir.path().join(out))
            .args(["--dns01-embedded", &listen.to_string()])
            .args(["--dns01-zone", "acme.example.net"])
            .args(["--dns01-nameserver", &nameservers[0]])
            .args(["--dns01-nameserver", &nameservers[1]])
            .args(["--concurrency", "2", "--new-order-concurrency", "1"])
            .args(["--self-check-timeout", "20", "--format", "json"])
            .env("CERTDX_STATE", &state)
            .env_remove("CERTDX_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        for name in &names {
            cmd.args(["--domain", name]);
        }
        async move {
            let out = tokio::time::timeout(RUN_LIMIT, cmd.spawn().unwrap().wait_with_output())
                .await
                .expect("the worker finished in time")
                .unwrap();
            let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
            let doc: Value = serde_json::from_slice(&out.stdout)
                .unwrap_or_else(|e| panic!("one JSON document ({e}); stderr:\n{stderr}"));
            (out.status.code().unwrap_or(-1), doc, stderr)
        }
    };
    let ((code_a, doc_a, err_a), (code_b, doc_b, err_b)) =
        tokio::join!(worker(embedded_a, "certs-a"), worker(embedded_b, "certs-b"));
    assert_eq!(
        (code_a, code_b),
        (0, 0),
        "stderr:\n{err_a}\n---\n{err_b}\n{doc_a:#}\n---\n{doc_b:#}\npebble:\n{}",
        pebble.pebble_log(40)
    );
    let (by_a, by_b) = issued_by_each(&names, &doc_a, &doc_b);
    assert!(
        by_a >= 1 && by_b >= 1,
        "both workers issued: {by_a}, {by_b}"
    );
    assert_eq!(by_a + by_b, names.len(), "each name issued once");

    let url = PgUrl::parse(&state).unwrap();
    let store = tokio::task::spawn_blocking(move || PgStore::open(&url).unwrap())
        .await
        .unwrap();
    let audit = tokio::task::block_in_place(|| {
        tokio::runtime::Handle::current().block_on(audit_store(
            &pebble,
            &pebble.directory_url(),
            &store,
        ))
    });
    assert!(
        audit.pending_unknown.is_empty(),
        "pending at the CA and undecided in the store: {:?}",
        audit.pending_unknown
    );
    assert_eq!(
        audit.statuses.get("valid"),
        Some(&names.len()),
        "{:?}",
        audit.statuses
    );
    tokio::task::spawn_blocking(move || drop((store, pg)))
        .await
        .unwrap();
}
