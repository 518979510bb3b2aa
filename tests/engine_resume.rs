//! `certdx issue` killed at the one point where the CA may hold something the state store never
//! saw: after newOrder reached the CA and before its answer was recorded. The fault proxy in
//! front of a real Pebble 2.4.0 forwards the newOrder, lets Pebble create the order, and keeps
//! the answer from the engine; the engine is then killed with SIGKILL while it waits. No hook in
//! the engine: the kill lands exactly there because that answer never comes.
//!
//! The resumed run (same store) must find the order in the account's orders list and continue
//! it, or deactivate its authorizations when the names are no longer asked for; against a CA
//! without an orders list (the proxy strips `orders` from the account object, as Boulder sends
//! it) it must say what may remain at the CA. Nothing may stay `new` in the store. The same
//! lost answer without a kill (the request times out) is reconciled at the end of that run.
//!
//! Every wait is bounded, every process is killed when its test ends (panics included), and the
//! scenarios run one at a time.

#[path = "common/acme_audit.rs"]
mod acme_audit;
#[path = "common/issue_run.rs"]
mod issue_run;
#[path = "common/pebble_lab.rs"]
mod pebble_lab;

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use acme_audit::{audit, certificates_by_name, stored_client};
use certdx::checks::dns::{Dns, DnsOptions};
use certdx::engine::acme::{AcmeConfig, AuthzStatus, RetryPolicy};
use certdx::engine::batch::{BatchConfig, CertStatus, SolverConfig, collect_requests, parse_group};
use issue_run::{issue_command, new_orders, order_rows, run_json, scenario};
use pebble_lab::{Endpoint, FaultProxy, PebbleLab};

/// Starts `certdx issue` for `domains` on a store holding no order yet, waits until its
/// newOrder reached Pebble and the answer was kept from it, kills it with SIGKILL, and returns
/// the created order's URL.
async fn kill_after_lost_new_order(
    lab: &PebbleLab,
    proxy: &FaultProxy,
    dir: &Path,
    domains: &Path,
) -> String {
    kill_after_lost_new_order_in(lab, proxy, dir, domains, 0).await
}

/// The orders the account has at the CA for exactly `names` (sorted), from its orders list.
async fn orders_at_ca_for(
    lab: &PebbleLab,
    directory: &str,
    state: &Path,
    names: &[&str],
) -> Vec<String> {
    let client = stored_client(lab, directory, state).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let url = client
        .orders_url(deadline)
        .await
        .expect("account fetched")
        .expect("Pebble publishes an orders list");
    let listing = client
        .list_orders(&url, 100, deadline)
        .await
        .expect("orders listed");
    assert!(listing.complete, "{listing:?}");
    let mut matching = Vec::new();
    for order_url in &listing.orders {
        let order = client.order(order_url, deadline).await.expect("order");
        let mut ids = order.info().identifiers.clone();
        ids.sort();
        if ids == names {
            matching.push(order_url.clone());
        }
    }
    matching
}

fn nothing_unconfirmed(state: &Path) {
    let rows = order_rows(state);
    assert!(
        rows.iter().all(|r| r.status != "new"),
        "an order stayed unconfirmed: {rows:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_order_created_unseen_before_a_kill_is_found_and_continued() {
    scenario(Duration::from_secs(300), async {
        let lab = PebbleLab::start().await;
        let proxy = FaultProxy::start(&lab).await;
        let dir = tempfile::tempdir().unwrap();
        let directory = proxy.directory_url();
        let state = dir.path().join("state.sqlite");
        let names = ["a.lost.certdx.example", "b.lost.certdx.example"];
        let domains = dir.path().join("domains.txt");
        std::fs::write(&domains, names.join(" ")).unwrap();
        // Three orders before it fill Pebble's first page of the orders list (3 a page), so the
        // lost one is found only by following `Link: rel="next"`.
        let warmup = dir.path().join("warmup.txt");
        std::fs::write(
            &warmup,
            "w1.lost.certdx.example\nw2.lost.certdx.example\nw3.lost.certdx.example\n",
        )
        .unwrap();
        let (code, _, stderr) = run_json(
            issue_command(&lab, &directory, dir.path(), &warmup),
            Duration::from_secs(120),
        )
        .await;
        assert_eq!(code, 0, "{stderr}");
        let warmed = order_rows(&state).len();

        let location =
            kill_after_lost_new_order_in(&lab, &proxy, dir.path(), &domains, warmed).await;

        let (code, doc, stderr) = run_json(
            issue_command(&lab, &directory, dir.path(), &domains),
            Duration::from_secs(120),
        )
        .await;
        assert_eq!(code, 0, "stderr:\n{stderr}\n{doc:#}");
        let certs = certificates_by_name(&doc);
        let cert = &certs[names[0]];
        assert_eq!(cert["status"], "issued", "{cert}");
        assert_eq!(cert["resumed"], true, "{cert}");
        assert_eq!(cert["order_url"], location.as_str(), "{cert}");
        let lost = &doc["summary"]["interrupted_orders"];
        assert_eq!(lost["adopted"], 1, "{lost}");
        assert_eq!(lost["unresolved"], 0, "{lost}");

        // The CA saw one newOrder for these names, the lost one, and holds one order for them.
        let log = proxy.log();
        assert!(
            log.iter()
                .any(|l| l.path.starts_with("/list-orderz/") && l.path.contains("/page/2")),
            "the resumed run followed the orders list to its second page"
        );
        let for_names = new_orders(&log)
            .into_iter()
            .filter(|l| l.lost || l.location.as_deref() == Some(location.as_str()))
            .count();
        assert_eq!(for_names, 1, "{:?}", new_orders(&log));
        assert_eq!(
            new_orders(&log).len(),
            warmed + 1,
            "the resumed run sent no newOrder"
        );
        assert_eq!(
            orders_at_ca_for(&lab, &directory, &state, &names).await,
            std::slice::from_ref(&location)
        );
        nothing_unconfirmed(&state);
        let rows = order_rows(&state);
        let row = rows
            .iter()
            .find(|r| r.identifiers == names)
            .expect("the order's row");
        assert_eq!(row.url.as_deref(), Some(location.as_str()));
        assert_eq!(row.status, "valid");
        let audit = audit(&lab, &directory, &state).await;
        assert!(
            audit.pending_unknown.is_empty(),
            "{:?}",
            audit.pending_unknown
        );
    })
    .await;
}

/// [`kill_after_lost_new_order`] on a store that already holds `earlier` orders.
async fn kill_after_lost_new_order_in(
    lab: &PebbleLab,
    proxy: &FaultProxy,
    dir: &Path,
    domains: &Path,
    earlier: usize,
) -> String {
    proxy.lose_answers(Endpoint::NewOrder, 1);
    let mut first = issue_command(lab, &proxy.directory_url(), dir, domains);
    first.stdout(Stdio::null()).stderr(Stdio::null());
    let mut child = first.spawn().expect("certdx started");
    let until = Instant::now() + Duration::from_secs(90);
    let location = loop {
        let log = proxy.log();
        if let Some(lost) = new_orders(&log).into_iter().find(|l| l.lost) {
            assert_eq!(lost.status, 201, "Pebble created the order");
            break lost.location.clone().expect("the created order's URL");
        }
        assert!(Instant::now() < until, "newOrder never reached the CA");
        assert!(
            child.try_wait().unwrap().is_none(),
            "the first run ended before the kill"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    child.start_kill().expect("SIGKILL");
    child.wait().await.expect("reaped");
    let rows = order_rows(&dir.join("state.sqlite"));
    assert_eq!(rows.len(), earlier + 1, "{rows:?}");
    let last = rows.last().expect("a row");
    assert_eq!(last.status, "new", "recorded before the request was sent");
    assert_eq!(last.url, None, "its answer never reached the store");
    location
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_order_created_unseen_that_is_no_longer_wanted_has_its_authorizations_deactivated() {
    scenario(Duration::from_secs(300), async {
        let lab = PebbleLab::start().await;
        let proxy = FaultProxy::start(&lab).await;
        let dir = tempfile::tempdir().unwrap();
        let directory = proxy.directory_url();
        let state = dir.path().join("state.sqlite");
        let dropped = ["dropped.lost.certdx.example"];
        let domains = dir.path().join("domains.txt");
        std::fs::write(&domains, dropped.join(" ")).unwrap();
        let location = kill_after_lost_new_order(&lab, &proxy, dir.path(), &domains).await;

        // The next run asks for other names only.
        let other = dir.path().join("other.txt");
        std::fs::write(&other, "kept.lost.certdx.example\n").unwrap();
        let (code, doc, stderr) = run_json(
            issue_command(&lab, &directory, dir.path(), &other),
            Duration::from_secs(120),
        )
        .await;
        assert_eq!(code, 0, "stderr:\n{stderr}\n{doc:#}");
        let lost = &doc["summary"]["interrupted_orders"];
        assert_eq!(lost["closed"], 1, "{lost}");
        assert_eq!(lost["adopted"], 0, "{lost}");
        assert_eq!(
            doc["summary"]["authorizations"]["deactivated"], 1,
            "{doc:#}"
        );

        // At the CA: the order found, its authorization deactivated.
        let client = stored_client(&lab, &directory, &state).await;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        let mut order = client.order(&location, deadline).await.expect("order");
        let authorizations = order
            .authorizations(deadline)
            .await
            .expect("authorizations");
        assert_eq!(authorizations.len(), 1);
        assert_eq!(authorizations[0].status, AuthzStatus::Deactivated);
        let rows = order_rows(&state);
        let row = rows
            .iter()
            .find(|r| r.identifiers == dropped)
            .expect("the order's row");
        assert_eq!(row.url.as_deref(), Some(location.as_str()), "{row:?}");
        assert_eq!(row.status, "abandoned", "{row:?}");
        nothing_unconfirmed(&state);
        let audit = audit(&lab, &directory, &state).await;
        assert!(
            audit.pending_unknown.is_empty(),
            "{:?}",
            audit.pending_unknown
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_an_orders_list_the_run_says_what_may_remain_at_the_ca() {
    scenario(Duration::from_secs(300), async {
        let lab = PebbleLab::start().await;
        let proxy = FaultProxy::start(&lab).await;
        proxy.hide_orders_list();
        let dir = tempfile::tempdir().unwrap();
        let directory = proxy.directory_url();
        let state = dir.path().join("state.sqlite");
        let names = ["unlisted.lost.certdx.example"];
        let domains = dir.path().join("domains.txt");
        std::fs::write(&domains, names.join(" ")).unwrap();
        kill_after_lost_new_order(&lab, &proxy, dir.path(), &domains).await;

        let (code, doc, stderr) = run_json(
            issue_command(&lab, &directory, dir.path(), &domains),
            Duration::from_secs(120),
        )
        .await;
        assert_eq!(code, 0, "stderr:\n{stderr}\n{doc:#}");
        assert_eq!(certificates_by_name(&doc)[names[0]]["status"], "issued");
        let lost = &doc["summary"]["interrupted_orders"];
        assert_eq!(lost["unlisted"], 1, "{lost}");
        let note = lost["note"].as_str().expect("a note");
        for needed in [
            "orders list",
            "pending authorization",
            "300 per 3 hours",
            "7 days",
        ] {
            assert!(note.contains(needed), "{needed:?} missing from {note}");
        }
        let rows = order_rows(&state);
        assert_eq!(rows[0].status, "abandoned", "{rows:?}");
        assert!(
            rows[0]
                .error
                .as_deref()
                .is_some_and(|e| e.contains("no orders list")),
            "{rows:?}"
        );
        nothing_unconfirmed(&state);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_order_answer_lost_in_a_run_is_reconciled_at_its_end() {
    scenario(Duration::from_secs(300), async {
        let lab = PebbleLab::start().await;
        let proxy = FaultProxy::start(&lab).await;
        let dir = tempfile::tempdir().unwrap();
        let directory = proxy.directory_url();
        let state = dir.path().join("state.sqlite");
        let name = "timeout.lost.certdx.example";
        proxy.lose_answers(Endpoint::NewOrder, 1);

        // In process, with a short request timeout: the lost answer ends the request quickly.
        let policy = RetryPolicy {
            request_timeout: Duration::from_secs(3),
            ..RetryPolicy::default()
        };
        let acme = AcmeConfig::new(&directory)
            .with_ca_cert_pem(lab.root_pem())
            .with_policy(policy);
        let dns = Dns::new(DnsOptions {
            resolver: Some(lab.dns_addr()),
            timeout: Duration::from_secs(2),
            authoritative_port: 53,
        })
        .expect("DNS");
        let requests =
            collect_requests([(parse_group(name), "--domain".to_owned())]).expect("requests");
        let solver = SolverConfig::Http01 {
            listen: lab.http01_addr(),
        };
        let mut config = BatchConfig::new(acme, requests, solver, dns);
        config.state_path = state.clone();
        config.out_dir = dir.path().join("certs");
        config.checks.http.allow_loopback = true;
        config.checks.http.http_port = lab.http01_port();
        config.checks.http.timeout = Duration::from_secs(5);
        config.batch_timeout = Duration::from_secs(120);
        config.new_order_concurrency = Some(1);
        let report = certdx::engine::batch::run_batch(config, None)
            .await
            .expect("the batch ran");

        assert_eq!(report.certificates[0].status, CertStatus::Issued);
        let log = proxy.log();
        let created = new_orders(&log);
        assert_eq!(created.len(), 2, "the lost newOrder, then the retry");
        let lost_url = created[0].location.clone().expect("the lost order's URL");
        let lost = &report.summary.interrupted_orders;
        assert_eq!(lost.closed, 1, "{lost:?}");
        assert_eq!(lost.unresolved, 0, "{lost:?}");

        let client = stored_client(&lab, &directory, &state).await;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        let mut order = client.order(&lost_url, deadline).await.expect("order");
        let authorizations = order
            .authorizations(deadline)
            .await
            .expect("authorizations");
        assert_eq!(authorizations[0].status, AuthzStatus::Deactivated);
        nothing_unconfirmed(&state);
        let audit = audit(&lab, &directory, &state).await;
        assert!(
            audit.pending_unknown.is_empty(),
            "{:?}",
            audit.pending_unknown
        );
    })
    .await;
}
