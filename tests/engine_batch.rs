//! The batch engine (`certdx issue`) against a real Pebble 2.4.0, through the fault proxy where a
//! scenario needs faults or a count of what reached the CA. Scenarios: 200 names, unresolvable
//! names stopped by the preflight, half the nonces rejected, a rate-limited newOrder, slow
//! finalization, `kill -9` mid-batch and resume, the same names asked for twice.
//!
//! Every wait is bounded, every process is killed when its test ends (panics included), and the
//! scenarios run one at a time (each starts its own Pebble; two at once would only fight for
//! the two cores and make the timings meaningless).

#[path = "common/acme_audit.rs"]
mod acme_audit;
#[path = "common/issue_run.rs"]
mod issue_run;
#[path = "common/pebble_lab.rs"]
mod pebble_lab;

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use acme_audit::{assert_one_issued_the_other_waited, audit, certificates_by_name, stored_client};
use certdx::checks::dns::{Dns, DnsOptions};
use certdx::engine::acme::AcmeConfig;
use certdx::engine::batch::{
    BatchConfig, BatchReport, CertRequest, CertStatus, SolverConfig, Stage, collect_requests,
    parse_group, run_batch,
};
use certdx::engine::store::{AuthorizationOutcome, Store};
use certdx::model::Code;
use issue_run::{OrderRow, issue_command, new_orders, order_rows, run_json, scenario};
use pebble_lab::{AriWindow, Endpoint, Fault, FaultProxy, Logged, PebbleLab, PebbleOptions};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use serde_json::Value;

fn names(prefix: &str, n: usize) -> Vec<String> {
    (0..n)
        .map(|i| format!("n{i:03}.{prefix}.certdx.example"))
        .collect()
}

/// A batch against `directory` (Pebble or the proxy in front of it) for single-name
/// certificates `names`, with its state and output under `dir`.
fn batch_config(lab: &PebbleLab, directory: &str, dir: &Path, names: &[String]) -> BatchConfig {
    let requests = collect_requests(
        names
            .iter()
            .map(|n| (parse_group(n), "--domain".to_owned())),
    )
    .expect("requests");
    batch_config_for(lab, directory, dir, requests)
}

/// A batch for `requests` (see [`batch_config`]).
fn batch_config_for(
    lab: &PebbleLab,
    directory: &str,
    dir: &Path,
    requests: Vec<CertRequest>,
) -> BatchConfig {
    let acme = AcmeConfig::new(directory).with_ca_cert_pem(lab.root_pem());
    let dns = Dns::new(DnsOptions {
        resolver: Some(lab.dns_addr()),
        timeout: Duration::from_secs(2),
        authoritative_port: 53,
    })
    .expect("DNS");
    let solver = SolverConfig::Http01 {
        listen: lab.http01_addr(),
    };
    let mut config = BatchConfig::new(acme, requests, solver, dns);
    config.state_path = dir.join("state.sqlite");
    config.out_dir = dir.join("certs");
    config.checks.http.allow_loopback = true;
    config.checks.http.http_port = lab.http01_port();
    config.checks.http.timeout = Duration::from_secs(5);
    config.checks.self_check_timeout = Duration::from_secs(10);
    config.batch_timeout = Duration::from_secs(240);
    // Pebble 2.4.0's store can deadlock on concurrent newOrder requests (seen here: every
    // handler waiting on its lock, found with a goroutine dump); one at a time avoids it.
    config.new_order_concurrency = Some(1);
    config
}

fn by_name(report: &BatchReport) -> BTreeMap<String, &certdx::engine::batch::CertResult> {
    report
        .certificates
        .iter()
        .map(|c| (c.name.clone(), c))
        .collect()
}

/// The certificate at `cert` is a PEM chain whose leaf belongs to the key at `key`, and the key
/// file has mode 0600.
fn assert_pair(cert: &Path, key: &Path) {
    let mode = std::fs::metadata(key).expect("key file").mode() & 0o777;
    assert_eq!(mode, 0o600, "{} has mode {mode:o}", key.display());
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .expect("chain file")
        .collect::<Result<_, _>>()
        .expect("PEM chain");
    assert!(
        chain.len() >= 2,
        "leaf and intermediate in {}",
        cert.display()
    );
    let key = PrivateKeyDer::from_pem_file(key).expect("PEM key");
    let signing = rustls::crypto::ring::sign::any_supported_type(&key).expect("a usable key");
    rustls::sign::CertifiedKey::new(chain, signing)
        .keys_match()
        .unwrap_or_else(|e| panic!("{} does not match its key: {e}", cert.display()));
}

/// No staging key is left behind in `out`.
fn assert_no_staged_keys(out: &Path) {
    let staged: Vec<_> = std::fs::read_dir(out)
        .expect("out dir")
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".certdx-"))
        .collect();
    assert!(staged.is_empty(), "left behind: {staged:?}");
}

/// The identifiers of each order in `rows` that has a URL, as the CA lists them, by order id.
async fn orders_at_ca(
    lab: &PebbleLab,
    directory: &str,
    state: &Path,
    rows: &[OrderRow],
) -> BTreeMap<i64, Vec<String>> {
    let client = stored_client(lab, directory, state).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    let mut out = BTreeMap::new();
    for row in rows {
        if let Some(url) = &row.url {
            let order = client.order(url, deadline).await.expect("order fetched");
            let mut names = order.info().identifiers.clone();
            names.sort();
            out.insert(row.id, names);
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_names_are_issued_with_private_keys() {
    scenario(Duration::from_secs(600), async {
        let lab = PebbleLab::start().await;
        let dir = tempfile::tempdir().unwrap();
        let names = names("two-hundred", 200);
        let config = batch_config(&lab, &lab.directory_url(), dir.path(), &names);
        let started = Instant::now();
        let report = run_batch(config, None).await.expect("the batch ran");
        eprintln!(
            "200 names: {:?} (preflight {} ms), {:.1} certificates/s",
            started.elapsed(),
            report.summary.preflight_ms,
            report.summary.certificates_per_second
        );
        let failures: Vec<_> = report
            .certificates
            .iter()
            .filter(|c| c.failed())
            .take(3)
            .collect();
        assert!(
            failures.is_empty(),
            "{failures:#?}\npebble:\n{}",
            lab.pebble_log(60)
        );
        assert_eq!(report.summary.issued, 200);
        assert!(report.account_created);
        let out = dir.path().join("certs");
        for c in &report.certificates {
            let cert = out.join(format!("{}.crt", c.name));
            let key = out.join(format!("{}.key", c.name));
            assert_eq!(c.certificate.as_deref(), Some(cert.as_path()));
            assert_eq!(c.key.as_deref(), Some(key.as_path()));
            assert_pair(&cert, &key);
        }
        assert_no_staged_keys(&out);
        let z = &report.summary.authorizations;
        assert_eq!((z.valid, z.pending_unknown, z.left_to_expire), (200, 0, 0));
        let store = Store::open(dir.path().join("state.sqlite")).unwrap();
        for name in &names {
            let (_, path) = store
                .issued_for(&lab.directory_url(), &[name])
                .unwrap()
                .unwrap_or_else(|| panic!("the store records {name} as issued"));
            assert_eq!(path, out.join(format!("{name}.crt")));
        }
        assert!(store.pending_unknown_authorizations().unwrap().is_empty());
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unresolvable_names_are_stopped_before_any_order_and_nothing_is_left_pending() {
    scenario(Duration::from_secs(400), async {
        let lab = PebbleLab::start().await;
        let proxy = FaultProxy::start(&lab).await;
        let dir = tempfile::tempdir().unwrap();
        let names = names("partly", 100);
        let bad: BTreeSet<String> = names.iter().step_by(5).cloned().collect();
        assert_eq!(bad.len(), 20);
        for name in &bad {
            lab.set_servfail(name).await;
        }
        let directory = proxy.directory_url();
        let config = batch_config(&lab, &directory, dir.path(), &names);
        let started = Instant::now();
        let report = run_batch(config, None).await.expect("the batch ran");
        eprintln!("100 names, 20 unresolvable: {:?}", started.elapsed());

        for c in &report.certificates {
            if bad.contains(&c.name) {
                assert_eq!(c.status, CertStatus::Failed, "{c:?}");
                assert_eq!(c.stage, Some(Stage::Preflight), "{c:?}");
                assert_eq!(c.code, Some(Code::DnsLookupFailed), "{c:?}");
                assert_eq!(c.order_url, None);
                assert_eq!(c.attempts, 0);
            } else {
                assert_eq!(c.status, CertStatus::Issued, "{c:?}");
            }
        }
        assert_eq!(report.summary.not_ordered, 20);
        assert_eq!(report.summary.issued, 80);

        // What reached the CA: one newOrder per resolvable name, and none of Pebble's orders
        // names an unresolvable one.
        let log = proxy.log();
        let orders = new_orders(&log);
        assert_eq!(orders.len(), 80, "newOrder requests seen by the proxy");
        assert!(orders.iter().all(|l| l.status == 201));
        let rows = order_rows(&dir.path().join("state.sqlite"));
        assert_eq!(rows.len(), 80);
        let at_ca = orders_at_ca(&lab, &directory, &dir.path().join("state.sqlite"), &rows).await;
        assert_eq!(at_ca.len(), 80);
        for names in at_ca.values() {
            assert!(names.iter().all(|n| !bad.contains(n)), "ordered: {names:?}");
        }

        // Every authorization the store knows, as the CA sees it now: none pending and unknown.
        let audit = audit(&lab, &directory, &dir.path().join("state.sqlite")).await;
        assert_eq!(audit.fetched, 80);
        assert!(
            audit.pending_unknown.is_empty(),
            "{:?}",
            audit.pending_unknown
        );
        assert_eq!(
            audit.statuses.get("valid"),
            Some(&80),
            "{:?}",
            audit.statuses
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_the_nonces_rejected_the_batch_still_issues_everything() {
    scenario(Duration::from_secs(400), async {
        let lab = PebbleLab::start_with(PebbleOptions {
            nonce_reject_percent: 50,
            ..PebbleOptions::default()
        })
        .await;
        let proxy = FaultProxy::start(&lab).await;
        let dir = tempfile::tempdir().unwrap();
        let names = names("nonces", 30);
        let config = batch_config(&lab, &proxy.directory_url(), dir.path(), &names);
        let started = Instant::now();
        let report = run_batch(config, None).await.expect("the batch ran");
        eprintln!("30 names, 50% nonces rejected: {:?}", started.elapsed());
        let failures: Vec<_> = report.certificates.iter().filter(|c| c.failed()).collect();
        assert!(
            failures.is_empty(),
            "{failures:#?}\npebble:\n{}",
            lab.pebble_log(60)
        );
        assert_eq!(report.summary.issued, 30);
        let rejected = proxy
            .log()
            .iter()
            .filter(|l| l.method == "POST" && l.status == 400)
            .count();
        assert!(rejected >= 20, "badNonce answers seen: {rejected}");
        assert_eq!(report.summary.authorizations.pending_unknown, 0);
    })
    .await;
}

/// Boulder's wording, so the classifier names the limit.
const NEW_ORDERS_LIMIT: &str = "Error creating new order :: too many new orders (300) from this \
    account in the last 3h0m0s: see https://letsencrypt.org/docs/rate-limits/#new-orders-per-account";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rate_limited_new_order_waits_for_retry_after_then_succeeds() {
    scenario(Duration::from_secs(300), async {
        let lab = PebbleLab::start().await;
        let proxy = FaultProxy::start(&lab).await;
        let dir = tempfile::tempdir().unwrap();
        let names = names("limited", 12);
        let mut config = batch_config(&lab, &proxy.directory_url(), dir.path(), &names);
        config.scheduler.max_in_flight = 4;
        proxy.inject(
            Endpoint::NewOrder,
            Fault::RateLimited {
                retry_after: "3".into(),
                detail: NEW_ORDERS_LIMIT.into(),
            },
            1,
        );
        let report = run_batch(config, None).await.expect("the batch ran");
        let failures: Vec<_> = report.certificates.iter().filter(|c| c.failed()).collect();
        assert!(
            failures.is_empty(),
            "{failures:#?}\npebble:\n{}",
            lab.pebble_log(60)
        );
        let retried: Vec<_> = report
            .certificates
            .iter()
            .filter(|c| c.attempts == 2)
            .collect();
        assert_eq!(
            retried.len(),
            1,
            "exactly the rate-limited certificate needed two attempts"
        );

        let log = proxy.log();
        let orders = new_orders(&log);
        let limited = orders
            .iter()
            .find(|l| l.injected)
            .expect("the 429 was answered");
        assert_eq!(limited.status, 429);
        assert_eq!(orders.len(), 13, "12 orders and the one refused");
        // Nothing new was ordered while the CA asked the account to wait (a request already on
        // its way when the 429 came back may land just after it).
        let quiet_from = limited.answered + Duration::from_millis(300);
        let quiet_to = limited.answered + Duration::from_secs(3);
        let during: Vec<_> = orders
            .iter()
            .filter(|l| l.at > quiet_from && l.at < quiet_to)
            .collect();
        assert!(
            during.is_empty(),
            "newOrder during the Retry-After: {during:?}"
        );
        let retry = orders
            .iter()
            .filter(|l| l.at > limited.answered)
            .map(|l| l.at.duration_since(limited.answered))
            .max()
            .expect("the refused order was retried");
        assert!(retry >= Duration::from_secs(3), "retried after {retry:?}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rate_limit_past_the_deadline_is_reported_with_its_retry_time_by_the_cli() {
    scenario(Duration::from_secs(200), async {
        let lab = PebbleLab::start().await;
        let proxy = FaultProxy::start(&lab).await;
        let dir = tempfile::tempdir().unwrap();
        proxy.inject(
            Endpoint::NewOrder,
            Fault::RateLimited {
                retry_after: "3600".into(),
                detail: NEW_ORDERS_LIMIT.into(),
            },
            100,
        );
        let domains = dir.path().join("domains.txt");
        std::fs::write(
            &domains,
            "a.later.certdx.example\nb.later.certdx.example\nc.later.certdx.example\n",
        )
        .unwrap();
        let mut cmd = issue_command(&lab, &proxy.directory_url(), dir.path(), &domains);
        cmd.args(["--batch-timeout", "60"]);
        let started = Instant::now();
        let (code, doc, stderr) = run_json(cmd, Duration::from_secs(120)).await;
        let took = started.elapsed();
        assert_eq!(
            code, 1,
            "a failed certificate is exit code 1; stderr:\n{stderr}"
        );
        assert!(
            took < Duration::from_secs(30),
            "gave up at once, not at the deadline: {took:?}"
        );
        let in_an_hour = jiff::Timestamp::now() + jiff::SignedDuration::from_secs(3600);
        let certs = certificates_by_name(&doc);
        assert_eq!(certs.len(), 3);
        for c in certs.values() {
            assert_eq!(c["status"], "failed", "{c}");
            assert_eq!(c["code"], "ratelimit-new-orders", "{c}");
            assert_eq!(c["stage"], "order", "{c}");
            let at: jiff::Timestamp = c["finding"]["retry_after"]
                .as_str()
                .expect("the finding carries retry_after")
                .parse()
                .unwrap();
            let off = in_an_hour.duration_since(at).abs();
            assert!(
                off < jiff::SignedDuration::from_secs(120),
                "retry_after {at}"
            );
        }
        assert_eq!(doc["summary"]["failed"], 3);
        assert_eq!(doc["schema_version"], 2);
        let orders = new_orders(&proxy.log()).len();
        assert_eq!(orders, 3, "each order asked once, then the account waits");
        let rows = order_rows(&dir.path().join("state.sqlite"));
        assert!(
            rows.iter()
                .all(|r| r.url.is_none() && r.status == "abandoned"),
            "{rows:?}"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_finalization_is_followed_at_the_cas_pace() {
    scenario(Duration::from_secs(300), async {
        let lab = PebbleLab::start().await;
        let proxy = FaultProxy::start(&lab).await;
        let dir = tempfile::tempdir().unwrap();
        let names = names("slow", 4);
        let config = batch_config(&lab, &proxy.directory_url(), dir.path(), &names);
        proxy.hold_processing(8, 1);
        let report = run_batch(config, None).await.expect("the batch ran");
        let failures: Vec<_> = report.certificates.iter().filter(|c| c.failed()).collect();
        assert!(
            failures.is_empty(),
            "{failures:#?}\npebble:\n{}",
            lab.pebble_log(60)
        );
        let out = dir.path().join("certs");
        for name in &names {
            assert_pair(
                &out.join(format!("{name}.crt")),
                &out.join(format!("{name}.key")),
            );
        }
        let log = proxy.log();
        let held: Vec<&Logged> = log.iter().filter(|l| l.held).collect();
        assert_eq!(held.len(), 8, "every hold was used");
        let id = |path: &str| path.rsplit('/').next().unwrap_or_default().to_owned();
        for h in &held {
            let next = log
                .iter()
                .filter(|l| l.endpoint == Endpoint::Order && id(&l.path) == id(&h.path))
                .find(|l| l.at > h.answered)
                .expect("the order was polled again");
            let gap = next.at.duration_since(h.answered);
            assert!(
                gap >= Duration::from_millis(900),
                "polled after {gap:?}, Retry-After is 1 s"
            );
        }
    })
    .await;
}

fn crt_count(out: &Path) -> usize {
    std::fs::read_dir(out)
        .map(|d| {
            d.filter_map(Result::ok)
                .filter(|e| e.file_name().to_string_lossy().ends_with(".crt"))
                .count()
        })
        .unwrap_or(0)
}

fn is_open(row: &OrderRow) -> bool {
    row.url.is_some() && ["pending", "ready", "processing"].contains(&row.status.as_str())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_killed_mid_way_resumes_and_never_orders_an_issued_name_twice() {
    scenario(Duration::from_secs(500), async {
        let lab = PebbleLab::start().await;
        let proxy = FaultProxy::start(&lab).await;
        let dir = tempfile::tempdir().unwrap();
        let directory = proxy.directory_url();
        let state = dir.path().join("state.sqlite");
        let out = dir.path().join("certs");
        let names = names("killed", 60);
        let domains = dir.path().join("domains.txt");
        std::fs::write(&domains, names.join("\n")).unwrap();

        // First run: killed with SIGKILL once some certificates are out and some orders are
        // half-way (open at the CA, recorded in the store).
        let mut first = issue_command(&lab, &directory, dir.path(), &domains);
        first
            .args(["--concurrency", "8"])
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let mut child = first.spawn().expect("certdx started");
        let until = Instant::now() + Duration::from_secs(120);
        loop {
            let half_way = state.exists() && order_rows(&state).iter().any(is_open);
            if crt_count(&out) >= 10 && half_way {
                break;
            }
            assert!(Instant::now() < until, "the first run never got half-way");
            assert!(
                child.try_wait().unwrap().is_none(),
                "the first run ended before the kill"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        child.start_kill().expect("SIGKILL");
        child.wait().await.expect("reaped");
        let rows_before = order_rows(&state);
        let issued_before: BTreeSet<String> = rows_before
            .iter()
            .filter(|r| r.status == "valid")
            .flat_map(|r| r.identifiers.clone())
            .collect();
        let open_before = rows_before.iter().filter(|r| is_open(r)).count();
        let last_before = rows_before.last().map_or(0, |r| r.id);
        eprintln!(
            "killed after {} issued, {} orders open, {} orders recorded",
            issued_before.len(),
            open_before,
            rows_before.len()
        );
        assert!(issued_before.len() >= 10 && issued_before.len() < 60);

        // Second run, same state: finishes everything. Requests the first run sent just before
        // the kill may reach the proxy a moment after it: the second run's count starts later.
        tokio::time::sleep(Duration::from_millis(500)).await;
        let started = Instant::now();
        let (code, doc, stderr) = run_json(
            issue_command(&lab, &directory, dir.path(), &domains),
            Duration::from_secs(300),
        )
        .await;
        eprintln!("the resumed run took {:?}", started.elapsed());
        // A challenge the first run answered just before the kill fails at the CA (its solver
        // died with it): that name is then backed off a minute, as the CA counted a failure.
        eprintln!(
            "resumed {} open orders; authorizations: {}",
            doc["summary"]["resumed_orders"], doc["summary"]["authorizations"]
        );
        assert_eq!(code, 0, "stderr:\n{stderr}\n{doc:#}");
        let certs = certificates_by_name(&doc);
        assert_eq!(certs.len(), 60);
        for (name, c) in &certs {
            let expected = if issued_before.contains(name) {
                "already-issued"
            } else {
                "issued"
            };
            assert_eq!(c["status"], expected, "{c}");
            assert_pair(
                &out.join(format!("{name}.crt")),
                &out.join(format!("{name}.key")),
            );
        }
        assert_no_staged_keys(&out);
        assert!(
            doc["summary"]["resumed_orders"].as_u64().unwrap() >= 1,
            "an open order was continued: {}",
            doc["summary"]
        );
        assert_eq!(doc["summary"]["authorizations"]["pending_unknown"], 0);

        // What the CA saw after the kill: exactly the orders the second run recorded, and none
        // of them for a name the first run had issued.
        let log = proxy.log();
        let after_kill = new_orders(&log)
            .into_iter()
            .filter(|l| l.at > started)
            .count();
        let rows = order_rows(&state);
        let second: Vec<OrderRow> = rows
            .iter()
            .filter(|r| r.id > last_before)
            .cloned()
            .collect();
        assert_eq!(
            after_kill,
            second.iter().filter(|r| r.url.is_some()).count(),
            "every newOrder of the second run is recorded"
        );
        let at_ca = orders_at_ca(&lab, &directory, &state, &rows).await;
        let mut orders_per_name: BTreeMap<String, usize> = BTreeMap::new();
        for names in at_ca.values() {
            for name in names {
                *orders_per_name.entry(name.clone()).or_default() += 1;
            }
        }
        for row in &second {
            if let Some(names) = at_ca.get(&row.id) {
                assert!(
                    names.iter().all(|n| !issued_before.contains(n)),
                    "{names:?} ordered again after being issued"
                );
            }
        }
        for name in &issued_before {
            assert_eq!(orders_per_name.get(name), Some(&1), "{name} ordered once");
        }

        let audit = audit(&lab, &directory, &state).await;
        assert!(
            audit.pending_unknown.is_empty(),
            "{:?}",
            audit.pending_unknown
        );
        assert!(audit.fetched >= 60);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn names_listed_twice_are_ordered_once() {
    scenario(Duration::from_secs(300), async {
        let lab = PebbleLab::start().await;
        let proxy = FaultProxy::start(&lab).await;
        let dir = tempfile::tempdir().unwrap();
        let names = names("twice", 6);
        let mut text = String::new();
        for name in names.iter().chain(&names) {
            text.push_str(&format!("{name}\n"));
        }
        text.push_str("a.san.certdx.example b.san.certdx.example\n");
        text.push_str("# the same certificate again, in another order\n");
        text.push_str("B.san.certdx.example., a.san.certdx.example\n");
        let groups = certdx::engine::batch::parse_domains_file(&text, "domains.txt");
        let requests = collect_requests(groups).unwrap();
        assert_eq!(requests.len(), 7);
        let config = batch_config_for(&lab, &proxy.directory_url(), dir.path(), requests);
        let report = run_batch(config, None).await.expect("the batch ran");
        assert!(!report.any_failed(), "{:#?}", report.certificates);
        assert!(report.certificates.iter().all(|c| c.requested == 2));
        assert_eq!(
            new_orders(&proxy.log()).len(),
            7,
            "one newOrder per distinct set"
        );
        let by = by_name(&report);
        let san = by["a.san.certdx.example"];
        assert_eq!(san.names, ["a.san.certdx.example", "b.san.certdx.example"]);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_runs_on_the_same_state_at_once_issue_each_name_once() {
    scenario(Duration::from_secs(300), async {
        let lab = PebbleLab::start().await;
        let proxy = FaultProxy::start(&lab).await;
        let dir = tempfile::tempdir().unwrap();
        let directory = proxy.directory_url();
        let names = names("racing", 8);
        let domains = dir.path().join("domains.txt");
        std::fs::write(&domains, names.join("\n")).unwrap();
        let a = run_json(
            issue_command(&lab, &directory, dir.path(), &domains),
            Duration::from_secs(200),
        );
        let b = run_json(
            issue_command(&lab, &directory, dir.path(), &domains),
            Duration::from_secs(200),
        );
        let ((code_a, doc_a, err_a), (code_b, doc_b, err_b)) = tokio::join!(a, b);
        assert_eq!((code_a, code_b), (0, 0), "stderr:\n{err_a}\n---\n{err_b}");
        assert_one_issued_the_other_waited(&names, (&doc_a, &err_a), (&doc_b, &err_b));
        assert_eq!(
            new_orders(&proxy.log()).len(),
            8,
            "one newOrder per name in total"
        );
    })
    .await;
}

#[tokio::test]
async fn bad_dns01_flags_are_usage_errors_naming_the_flag() {
    let dir = tempfile::tempdir().unwrap();
    let loose_key = dir.path().join("loose.key");
    std::fs::write(
        &loose_key,
        "key \"k\" { algorithm hmac-sha256; secret \"c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0\"; };\n",
    )
    .unwrap();
    std::fs::set_permissions(
        &loose_key,
        std::os::unix::fs::PermissionsExt::from_mode(0o644),
    )
    .unwrap();
    let cases: [(&[&str], &str); 4] = [
        (
            &[
                "--dns01-embedded",
                "127.0.0.1:0",
                "--dns01-zone",
                "bad..zone",
            ],
            "--dns01-zone",
        ),
        (
            &[
                "--dns01-embedded",
                "127.0.0.1:0",
                "--dns01-zone",
                "acme.example.net",
                "--dns01-nameserver",
                "ns1.acme.example.net",
            ],
            "--dns01-nameserver",
        ),
        (
            &[
                "--dns01-rfc2136",
                "127.0.0.1",
                "--tsig-key",
                "/nonexistent/key",
            ],
            "--tsig-key /nonexistent/key",
        ),
        (
            &[
                "--dns01-rfc2136",
                "127.0.0.1",
                "--tsig-key",
                loose_key.to_str().unwrap(),
            ],
            "--tsig-key",
        ),
    ];
    for (solver, named) in cases {
        let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_certdx"))
            .args(["issue", "--directory", "https://127.0.0.1:1/dir"])
            .args(["--domain", "a.certdx.example"])
            .arg("--state")
            .arg(dir.path().join("state.sqlite"))
            .args(solver)
            .output()
            .await
            .expect("certdx ran");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{solver:?}: {stderr}");
        assert!(stderr.contains(named), "{solver:?}: {stderr}");
        assert!(
            !stderr.contains("c2VjcmV0"),
            "the secret is never printed: {stderr}"
        );
        assert!(out.stdout.is_empty());
    }
    assert!(
        !dir.path().join("state.sqlite").exists(),
        "nothing was started: no state file"
    );
}

/// A plain HTTP server on `addr` that answers 404 to everything: a name pointing at the wrong
/// web server. Stops when the returned task is aborted (or the test's runtime ends).
async fn wrong_server(addr: SocketAddr) -> tokio::task::JoinHandle<()> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .expect("binding the wrong server");
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = stream.read(&mut buf).await;
                let _ = stream
                    .write_all(
                        b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                    )
                    .await;
            });
        }
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broken_local_setup_fails_locally_and_its_authorization_is_left_to_expire() {
    scenario(Duration::from_secs(300), async {
        let lab = PebbleLab::start().await;
        let proxy = FaultProxy::start(&lab).await;
        let dir = tempfile::tempdir().unwrap();
        let good = "good.local.certdx.example".to_owned();
        let elsewhere = "elsewhere.local.certdx.example".to_owned();
        // The name points at another web server (on the port the CA uses), which answers 404
        // for every path: reachable, so the preflight lets it through, but not our solver.
        let other = SocketAddr::from(([127, 0, 0, 2], lab.http01_port()));
        let server = wrong_server(other).await;
        lab.add_a(&elsewhere, &["127.0.0.2"]).await;
        let directory = proxy.directory_url();
        let mut config = batch_config(
            &lab,
            &directory,
            dir.path(),
            &[good.clone(), elsewhere.clone()],
        );
        config.checks.self_check_timeout = Duration::from_secs(2);
        let report = run_batch(config, None).await.expect("the batch ran");
        server.abort();
        let by = by_name(&report);
        assert_eq!(by[&good].status, CertStatus::Issued);
        let failed = by[&elsewhere];
        assert_eq!(failed.status, CertStatus::Failed, "{failed:?}");
        assert_eq!(failed.stage, Some(Stage::Validation));
        assert_eq!(failed.code, Some(Code::Http01WrongStatus), "{failed:?}");
        assert_eq!(
            failed.attempts, 1,
            "a local failure is not retried into the CA"
        );
        assert!(failed.order_url.is_some(), "ordered, but never answered");
        assert_eq!(report.summary.authorizations.left_to_expire, 1);
        assert_eq!(report.summary.authorizations.pending_unknown, 0);

        // The CA never heard "ready" for it: its challenge was never posted to, and its
        // authorization is still pending there, with the store saying why.
        let log = proxy.log();
        let challenges = log
            .iter()
            .filter(|l| l.endpoint == Endpoint::Challenge)
            .count();
        assert_eq!(challenges, 1, "only the good name's challenge was answered");
        let audit = audit(&lab, &directory, &dir.path().join("state.sqlite")).await;
        assert_eq!(
            audit.statuses.get("pending"),
            Some(&1),
            "{:?}",
            audit.statuses
        );
        assert!(audit.pending_unknown.is_empty());
        let store = Store::open(dir.path().join("state.sqlite")).unwrap();
        let left: Vec<_> = store
            .all_authorizations()
            .unwrap()
            .into_iter()
            .filter(|a| a.outcome == AuthorizationOutcome::LeftToExpire)
            .collect();
        assert_eq!(left.len(), 1);
        assert_eq!(left[0].identifier, elsewhere);
        let why = left[0].why.as_deref().unwrap_or_default();
        assert!(why.contains("http01-wrong-status"), "{why}");
        // Nothing was counted against the name: no backoff recorded.
        assert_eq!(store.name_backoff(&directory, &elsewhere).unwrap(), None);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issued_certificates_are_kept_until_the_renewal_window_a_lost_file_or_force() {
    scenario(Duration::from_secs(300), async {
        let lab = PebbleLab::start().await;
        let proxy = FaultProxy::start(&lab).await;
        let directory = proxy.directory_url();
        let dir = tempfile::tempdir().unwrap();
        let domains = dir.path().join("domains.txt");
        std::fs::write(
            &domains,
            "keep.renew.certdx.example\nlost.renew.certdx.example\n",
        )
        .unwrap();
        let run = |extra: &'static [&'static str]| {
            let mut cmd = issue_command(&lab, &directory, dir.path(), &domains);
            cmd.args(extra);
            run_json(cmd, Duration::from_secs(120))
        };
        let status = |doc: &Value, name: &str| -> (String, Value) {
            let c = &certificates_by_name(doc)[name];
            (
                c["status"].as_str().unwrap().to_owned(),
                c["renewed"].clone(),
            )
        };

        let (code, first, _) = run(&[]).await;
        assert_eq!(code, 0, "{first:#}");
        assert_eq!(new_orders(&proxy.log()).len(), 2);

        // Pebble's certificates last years: nothing is due with the default window.
        let (code, second, _) = run(&[]).await;
        assert_eq!(code, 0);
        assert_eq!(
            status(&second, "keep.renew.certdx.example").0,
            "already-issued"
        );
        let keep = &certificates_by_name(&second)["keep.renew.certdx.example"];
        let not_after: jiff::Timestamp = keep["not_after"].as_str().unwrap().parse().unwrap();
        let renew_from: jiff::Timestamp = keep["renew_from"].as_str().unwrap().parse().unwrap();
        assert_eq!(
            not_after.duration_since(renew_from),
            jiff::SignedDuration::from_hours(30 * 24),
            "a long-lived certificate renews 30 days before its end: {keep:#}"
        );
        assert_eq!(new_orders(&proxy.log()).len(), 2, "nothing ordered again");

        // A lost certificate file is ordered again, the other one is kept.
        let lost = dir.path().join("certs/lost.renew.certdx.example.crt");
        std::fs::remove_file(&lost).unwrap();
        let (code, third, _) = run(&[]).await;
        assert_eq!(code, 0, "{third:#}");
        let (state, why) = status(&third, "lost.renew.certdx.example");
        assert_eq!(state, "issued");
        assert!(why.as_str().unwrap().contains("is gone"), "{why}");
        assert_eq!(
            status(&third, "keep.renew.certdx.example").0,
            "already-issued"
        );
        assert!(lost.exists());
        assert_eq!(new_orders(&proxy.log()).len(), 3);

        // A window longer than the certificates' life renews both; so does --force.
        let (code, fourth, _) = run(&["--renew-before-days", "100000"]).await;
        assert_eq!(code, 0, "{fourth:#}");
        let (state, why) = status(&fourth, "keep.renew.certdx.example");
        assert_eq!(state, "issued");
        assert!(why.as_str().unwrap().contains("renewal window"), "{why}");
        let (code, fifth, _) = run(&["--force"]).await;
        assert_eq!(code, 0, "{fifth:#}");
        let (state, why) = status(&fifth, "keep.renew.certdx.example");
        assert_eq!(state, "issued");
        assert!(why.as_str().unwrap().contains("--force"), "{why}");
        assert_eq!(new_orders(&proxy.log()).len(), 7);
        assert_pair(
            &dir.path().join("certs/keep.renew.certdx.example.crt"),
            &dir.path().join("certs/keep.renew.certdx.example.key"),
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_deploy_hook_runs_once_per_certificate_issued_and_its_failure_is_reported() {
    scenario(Duration::from_secs(300), async {
        let lab = PebbleLab::start().await;
        let directory = lab.directory_url();
        let dir = tempfile::tempdir().unwrap();
        let domains = dir.path().join("domains.txt");
        std::fs::write(&domains, "a.hook.certdx.example\nb.hook.certdx.example c.hook.certdx.example\n")
            .unwrap();
        let log = dir.path().join("hook.log");
        let hook = format!(
            "echo \"$CERTDX_NAME|$CERTDX_NAMES|$CERTDX_CERT|$CERTDX_KEY|$CERTDX_NOT_AFTER\" >> '{}'",
            log.display()
        );
        let mut cmd = issue_command(&lab, &directory, dir.path(), &domains);
        cmd.args(["--deploy-hook", &hook, "--key-type", "ecdsa-p384"]);
        let (code, doc, stderr) = run_json(cmd, Duration::from_secs(120)).await;
        assert_eq!(code, 0, "{doc:#}\n{stderr}");
        let lines: Vec<String> = std::fs::read_to_string(&log)
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect();
        assert_eq!(lines.len(), 2, "{lines:?}");
        let b: Vec<&str> = lines
            .iter()
            .find(|l| l.starts_with("b.hook"))
            .expect("a run for the SAN certificate")
            .split('|')
            .collect();
        assert_eq!(b[1], "b.hook.certdx.example c.hook.certdx.example");
        assert!(b[2].ends_with("certs/b.hook.certdx.example.crt"), "{b:?}");
        assert!(b[3].ends_with("certs/b.hook.certdx.example.key"), "{b:?}");
        assert!(b[4].parse::<jiff::Timestamp>().is_ok(), "{b:?}");
        assert_eq!(doc["deploy_hooks"].as_array().map(Vec::len), Some(2));
        // --key-type: the certificate carries a P-384 key (97-byte uncompressed point).
        let pem = std::fs::read(dir.path().join("certs/a.hook.certdx.example.crt")).unwrap();
        let (_, pem) = x509_parser::pem::parse_x509_pem(&pem).unwrap();
        let cert = pem.parse_x509().unwrap();
        assert_eq!(cert.public_key().subject_public_key.data.len(), 97);
        assert_pair(
            &dir.path().join("certs/a.hook.certdx.example.crt"),
            &dir.path().join("certs/a.hook.certdx.example.key"),
        );

        // Nothing issued, nothing run.
        let mut again = issue_command(&lab, &directory, dir.path(), &domains);
        again.args(["--deploy-hook", &hook]);
        let (code, doc, _) = run_json(again, Duration::from_secs(120)).await;
        assert_eq!(code, 0);
        assert!(doc.get("deploy_hooks").is_none(), "{doc:#}");
        assert_eq!(std::fs::read_to_string(&log).unwrap().lines().count(), 2);

        // A failing hook: the certificates are issued, the run says the hook failed, exit 1.
        let mut failing = issue_command(&lab, &directory, dir.path(), &domains);
        failing.args(["--force", "--deploy-hook", "echo reload refused >&2; exit 3"]);
        let (code, doc, _) = run_json(failing, Duration::from_secs(120)).await;
        assert_eq!(code, 1, "{doc:#}");
        let runs = doc["deploy_hooks"].as_array().unwrap();
        assert_eq!(runs.len(), 2);
        assert!(runs.iter().all(|r| r["ok"] == false && r["exit_code"] == 3), "{runs:?}");
        assert_eq!(runs[0]["output"], "reload refused");
        assert!(certificates_by_name(&doc).values().all(|c| c["status"] == "issued"));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cas_renewal_information_renews_a_certificate_early_and_no_sooner() {
    scenario(Duration::from_secs(300), async {
        let lab = PebbleLab::start().await;
        let proxy = FaultProxy::start(&lab).await;
        let directory = proxy.directory_url();
        let dir = tempfile::tempdir().unwrap();
        let domains = dir.path().join("domains.txt");
        std::fs::write(&domains, "a.ari.certdx.example\nb.ari.certdx.example\n").unwrap();
        let days = |d: i64| {
            jiff::Timestamp::now()
                .checked_add(jiff::SignedDuration::from_hours(24 * d))
                .unwrap()
                .to_string()
        };
        let (soon_start, soon_end) = (days(10), days(12));
        proxy.serve_ari(AriWindow {
            start: soon_start.clone(),
            end: soon_end.clone(),
            explanation_url: None,
        });
        let (code, doc, _) = run_json(
            issue_command(&lab, &directory, dir.path(), &domains),
            Duration::from_secs(120),
        )
        .await;
        assert_eq!(code, 0, "{doc:#}");

        // The CA's window is days away: kept, and the CA was asked about each certificate by
        // its RFC 9773 identifier (the serial part is the certificate's own serial).
        let (code, doc, _) = run_json(
            issue_command(&lab, &directory, dir.path(), &domains),
            Duration::from_secs(120),
        )
        .await;
        assert_eq!(code, 0);
        assert!(
            certificates_by_name(&doc)
                .values()
                .all(|c| c["status"] == "already-issued"),
            "{doc:#}"
        );
        // The CA's window is sooner than the local one (Pebble's certificates last years): the
        // report says the renewal is due inside the CA's window.
        let (start, end): (jiff::Timestamp, jiff::Timestamp) =
            (soon_start.parse().unwrap(), soon_end.parse().unwrap());
        for c in certificates_by_name(&doc).values() {
            let from: jiff::Timestamp = c["renew_from"].as_str().unwrap().parse().unwrap();
            assert!(
                start <= from && from <= end,
                "{from} outside {start}..{end}"
            );
        }
        let asked: Vec<String> = proxy
            .log()
            .iter()
            .filter(|l| l.endpoint == Endpoint::RenewalInfo)
            .map(|l| l.path.clone())
            .collect();
        assert_eq!(asked.len(), 2, "{asked:?}");
        let pem = std::fs::read(dir.path().join("certs/a.ari.certdx.example.crt")).unwrap();
        let (_, pem) = x509_parser::pem::parse_x509_pem(&pem).unwrap();
        let cert = pem.parse_x509().unwrap();
        use base64::Engine as _;
        let serial = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(cert.raw_serial());
        assert!(
            asked.iter().any(|p| p.ends_with(&format!(".{serial}"))),
            "{asked:?} names serial {serial}"
        );

        // The CA moves the window into the past (an incident): both are renewed now, with why.
        proxy.serve_ari(AriWindow {
            start: days(-2),
            end: days(-1),
            explanation_url: Some("https://ca.example/incident-42".into()),
        });
        let before = new_orders(&proxy.log()).len();
        let (code, doc, _) = run_json(
            issue_command(&lab, &directory, dir.path(), &domains),
            Duration::from_secs(120),
        )
        .await;
        assert_eq!(code, 0, "{doc:#}");
        for c in certificates_by_name(&doc).values() {
            assert_eq!(c["status"], "issued", "{c:#}");
            let why = c["renewed"].as_str().unwrap_or_default();
            assert!(why.contains("renewal information (ARI)"), "{why}");
            assert!(why.contains("incident-42"), "{why}");
        }
        assert_eq!(new_orders(&proxy.log()).len(), before + 2);
    })
    .await;
}
