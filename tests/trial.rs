//! `certdx trial` against a real CA: Debian's Pebble 2.4.0 validates for real, against real
//! listeners on loopback addresses of this binary's own blocks (127.0.10.0/24 from the DNS lab's
//! `Slots`, and 127.0.11.1 for the RFC 2136 primary; no other test uses them):
//!
//! - a name whose web server answers 404, one whose address accepts TCP and never answers,
//!   one certdx answers (`--http01-listen`): Pebble's own verdicts;
//! - a name whose CAA forbids the CA: the one mocked answer. Pebble 2.4.0 has no CAA check at
//!   all, so the fault proxy reports Pebble's real refusal of that name the way Boulder words a
//!   CAA refusal (see `FaultProxy::forbid_by_caa` for the source of the shape);
//! - DNS-01 answered through RFC 2136 on a real knotd primary, Pebble resolving through the DNS
//!   lab's unbound;
//! - a trial stopped mid-way: its pending authorization is deactivated;
//! - a production directory refused before any request.
//!
//! After each run every authorization the state store knows is fetched from Pebble: none may be
//! pending. Pebble's VA gives up on a silent server after its HTTP client's 15 s timeout
//! (`validationTimeout` in pebble's va/va.go), so the first test takes about that long: the
//! shortest honest setup for "accepts and never answers".

#[path = "common/acme_audit.rs"]
mod acme_audit;
#[path = "common/dns_lab.rs"]
mod dns_lab;
#[allow(dead_code)]
#[path = "engine_dns01/knot_primary.rs"]
mod knot_primary;
#[path = "common/pebble_lab.rs"]
mod pebble_lab;

use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use certdx::engine::batch::{CheckConfig, SolverConfig};
use certdx::engine::solver::rfc2136::TsigKey;
use certdx::engine::store::{AuthorizationOutcome, Store};
use certdx::engine::trial::{
    TrialError, TrialEvent, TrialMethod, TrialRequest, VerdictStatus, run_trial,
};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use dns_lab::{LabBuilder, Slots};
use knot_primary::{KnotPrimary, ZoneSpec, keymgr_key};
use pebble_lab::{FaultProxy, PebbleLab, PebbleOptions};

static SLOTS: Slots = Slots::new(&[10]);

/// How long one `certdx trial` may take here (Pebble's 15 s VA timeout, plus setup).
const RUN_LIMIT: Duration = Duration::from_secs(120);

/// A web server that answers every request with 404, as an ingress without the solver's route.
async fn answer_404(addr: SocketAddr) -> JoinHandle<()> {
    let listener = TcpListener::bind(addr).await.expect("bind the 404 server");
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                continue;
            };
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf)).await;
                let _ = stream
                    .write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\nConnection: close\r\n\r\nnot found")
                    .await;
                let _ = stream.shutdown().await;
            });
        }
    })
}

/// A listener that accepts every connection and never answers (a stuck proxy); connections are
/// held until the task is aborted.
async fn never_answer(addr: SocketAddr) -> JoinHandle<()> {
    let listener = TcpListener::bind(addr)
        .await
        .expect("bind the silent server");
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            held.push(stream);
        }
    })
}

/// Runs the built binary's `certdx trial` with `args`: exit code and stdout as JSON.
async fn trial_binary(args: &[String], envs: &[(&str, &str)]) -> (i32, Value, String) {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_certdx"));
    cmd.arg("trial")
        .args(args)
        .args(["--format", "json"])
        .env_remove("CERTDX_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let out = tokio::time::timeout(RUN_LIMIT, cmd.spawn().expect("certdx").wait_with_output())
        .await
        .expect("certdx trial finished in time")
        .expect("output");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is one JSON document ({e}): {}\nstderr: {stderr}",
            String::from_utf8_lossy(&out.stdout)
        )
    });
    (out.status.code().unwrap_or(-1), doc, stderr)
}

/// Every authorization the store at `state` knows, fetched from Pebble: none is pending.
async fn assert_none_pending(lab: &PebbleLab, directory: &str, state: &Path) {
    let audit = acme_audit::audit(lab, directory, state).await;
    assert!(audit.fetched > 0, "the store recorded authorizations");
    assert!(
        !audit.statuses.contains_key("pending"),
        "authorizations left pending at the CA: {:?}",
        audit.statuses
    );
}

fn verdict<'a>(doc: &'a Value, name: &str) -> &'a Value {
    doc["names"]
        .as_array()
        .expect("names")
        .iter()
        .find(|v| v["name"] == name)
        .unwrap_or_else(|| panic!("no verdict for {name}: {doc:#}"))
}

fn codes(v: &Value) -> Vec<String> {
    v["findings"]
        .as_array()
        .map(|f| {
            f.iter()
                .map(|f| f["code"].as_str().unwrap_or_default().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http01_verdicts_404_silent_caa_and_answered_through_the_binary() {
    let lab = PebbleLab::start().await;
    let proxy = FaultProxy::start(&lab).await;
    let port = lab.http01_port();
    let block = SLOTS.take();
    let at = |i: u8| SocketAddr::from((block.ip(i), port));
    let (notfound, silent, answered) = (at(1), at(2), at(3));
    let web = answer_404(notfound).await;
    let stuck = never_answer(silent).await;
    lab.add_a("notfound.certdx.example", &[&notfound.ip().to_string()])
        .await;
    lab.add_a("silent.certdx.example", &[&silent.ip().to_string()])
        .await;
    // The CAA name goes to the 404 server: Pebble refuses it for real; the proxy says why as
    // Boulder would have.
    lab.add_a("caa.certdx.example", &[&notfound.ip().to_string()])
        .await;
    lab.add_a("ok.certdx.example", &[&answered.ip().to_string()])
        .await;
    proxy.forbid_by_caa("caa.certdx.example");

    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root.pem");
    std::fs::write(&root, lab.root_pem()).unwrap();
    let state = dir.path().join("state.sqlite");
    let directory = proxy.directory_url();
    let args: Vec<String> = [
        "notfound.certdx.example",
        "silent.certdx.example",
        "caa.certdx.example",
        "ok.certdx.example",
        "--directory",
        &directory,
        "--ca-cert",
        &root.display().to_string(),
        "--state",
        &state.display().to_string(),
        "--http01-listen",
        &answered.to_string(),
        // certdx's own check of each answer, through the lab's DNS, before the CA looks.
        "--resolver",
        &lab.dns_addr().to_string(),
        "--allow-loopback",
        "--http-port",
        &port.to_string(),
        "--timeout",
        "2",
    ]
    .map(str::to_owned)
    .to_vec();
    let started = std::time::Instant::now();
    let (code, doc, stderr) = trial_binary(&args, &[]).await;
    assert_eq!(code, 1, "the CA refused some names: {doc:#}\n{stderr}");
    assert_eq!(doc["directory_kind"]["kind"], "test", "{doc:#}");

    let v = verdict(&doc, "notfound.certdx.example");
    assert_eq!(v["status"], "invalid", "{v:#}");
    assert!(codes(v).contains(&"acme-unauthorized".to_owned()), "{v:#}");
    let meaning = v["meaning"].as_str().unwrap();
    assert!(meaning.contains("got 404 from the web server"), "{meaning}");
    // certdx published the token on its own listener, and saw that the name's address serves
    // someone else's 404 before the CA did.
    assert_eq!(v["self_check"]["passed"], false, "{v:#}");
    assert!(
        meaning.contains("certdx's own check failed before the CA looked"),
        "{meaning}"
    );
    assert!(
        v["problem"]["detail"].as_str().unwrap().contains("404"),
        "{v:#}"
    );

    let v = verdict(&doc, "silent.certdx.example");
    assert_eq!(v["status"], "invalid", "{v:#}");
    assert!(codes(v).contains(&"acme-connection".to_owned()), "{v:#}");
    let meaning = v["meaning"].as_str().unwrap();
    assert!(
        meaning.contains("accepts connections there and never answers"),
        "{meaning}"
    );

    let v = verdict(&doc, "caa.certdx.example");
    assert_eq!(v["status"], "invalid", "{v:#}");
    assert_eq!(
        codes(v).first().map(String::as_str),
        Some("acme-caa"),
        "{v:#}"
    );
    assert!(
        v["meaning"]
            .as_str()
            .unwrap()
            .contains("CAA records forbid"),
        "{v:#}"
    );
    let record = &v["validation_record"][0];
    assert_eq!(record["address_used"], "192.0.2.80", "{v:#}");
    assert_eq!(record["hostname"], "caa.certdx.example");

    let v = verdict(&doc, "ok.certdx.example");
    assert_eq!(v["status"], "valid", "{v:#}");
    assert_eq!(v["answered"], true);
    assert_eq!(v["self_check"]["passed"], true, "{v:#}");
    assert!(v["self_check"].get("finding").is_none(), "{v:#}");
    assert_eq!(
        verdict(&doc, "silent.certdx.example")["self_check"]["passed"],
        false,
        "{doc:#}"
    );

    assert!(codes(v).is_empty(), "{v:#}");
    assert!(
        v["meaning"]
            .as_str()
            .unwrap()
            .contains("certdx's answer reached it"),
        "{v:#}"
    );

    // Pebble decided on every name: nothing needed deactivating, and the store says so.
    let cleanup = &doc["cleanup"];
    assert_eq!(cleanup["valid"], 1, "{doc:#}");
    assert_eq!(cleanup["invalid"], 3, "{doc:#}");
    assert_eq!(cleanup["deactivated"], 0, "{doc:#}");
    let store = Store::open(&state).unwrap();
    let outcomes: Vec<AuthorizationOutcome> = store
        .all_authorizations()
        .unwrap()
        .iter()
        .map(|a| a.outcome)
        .collect();
    assert_eq!(outcomes.len(), 4);
    assert!(
        outcomes.iter().all(|o| matches!(
            o,
            AuthorizationOutcome::Valid | AuthorizationOutcome::Invalid
        )),
        "{outcomes:?}"
    );
    drop(store);
    assert_none_pending(&lab, &directory, &state).await;
    eprintln!("trial of 4 names took {:?}", started.elapsed());
    web.abort();
    stuck.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_production_directory_is_refused_before_any_request() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.sqlite");
    let args: Vec<String> = [
        "www.example.com",
        "--directory",
        "https://acme-v02.api.letsencrypt.org/directory",
        "--state",
        &state.display().to_string(),
    ]
    .map(str::to_owned)
    .to_vec();
    // Were anything sent, it would go to a closed loopback port, never off this machine.
    let proxy = [
        ("HTTPS_PROXY", "http://127.0.0.1:9"),
        ("https_proxy", "http://127.0.0.1:9"),
        ("ALL_PROXY", "http://127.0.0.1:9"),
    ];
    let (code, doc, _) = trial_binary(&args, &proxy).await;
    assert_eq!(code, 2, "{doc:#}");
    let message = doc["error"]["message"].as_str().unwrap();
    assert!(message.contains("production ACME directory"), "{message}");
    assert!(message.contains("failed-validation limit"), "{message}");
    assert!(
        message.contains("https://acme-staging-v02.api.letsencrypt.org/directory"),
        "{message}"
    );
    assert!(
        !state.exists(),
        "refused before anything: not even the state store was opened"
    );

    // The same through the library: refused before the store, the lock or the network.
    let mut req = TrialRequest::new(
        vec!["www.example.com".into()],
        "https://dv.acme-v02.api.pki.goog/directory",
    );
    req.state_path = state.clone();
    let (events, _rx) = tokio::sync::mpsc::unbounded_channel();
    let err = run_trial(req, events).await.unwrap_err();
    assert!(matches!(err, TrialError::Production { .. }), "{err}");
    assert!(
        err.to_string()
            .contains("https://dv.acme-v02.test-api.pki.goog/directory"),
        "{err}"
    );
    assert!(!state.exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dns01_answered_through_rfc2136_on_knot_is_validated() {
    let key = keymgr_key("certdx-trial");
    let primary = KnotPrimary::start_on(
        Ipv4Addr::new(127, 0, 11, 1),
        &key,
        &[ZoneSpec {
            name: "rfc.example.com",
            updatable: true,
        }],
    )
    .await;
    let mut b = LabBuilder::new(&SLOTS);
    let ns = b.knot("a");
    b.zone(
        "example.com",
        &[("ns1", ns)],
        &format!(
            "rfc NS ns1.rfc.example.com.\nns1.rfc A {}\n",
            primary.addr.ip()
        ),
    );
    let dns = b.start().await;
    let lab = PebbleLab::start_with(PebbleOptions {
        dns_server: Some(dns.resolver),
        ..PebbleOptions::default()
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.sqlite");
    let mut req = TrialRequest::new(
        vec!["a.rfc.example.com".into(), "*.rfc.example.com".into()],
        lab.directory_url(),
    );
    req.ca_cert_pem = Some(lab.root_pem().to_owned());
    req.method = TrialMethod::Dns01;
    req.state_path = state.clone();
    req.solver = Some(SolverConfig::Dns01Rfc2136 {
        server: primary.addr,
        key: TsigKey::parse(&key.keymgr_output).unwrap(),
    });
    // certdx waits to see each TXT on every authoritative server of the zone before the CA
    // looks (the lab's knotd primary is the zone's only server).
    req.checks = Some(CheckConfig {
        dns: dns.dns(Duration::from_secs(2)),
        http: Default::default(),
        concurrency: 4,
        ca_domain: None,
        self_check_timeout: Duration::from_secs(20),
    });
    let (events, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let report = tokio::time::timeout(RUN_LIMIT, run_trial(req, events))
        .await
        .expect("in time")
        .unwrap_or_else(|e| panic!("trial failed: {e}\n{}", lab.pebble_log(30)));
    assert!(report.all_valid(), "{:#?}", report.names);
    assert_eq!(report.names.len(), 2);
    for v in &report.names {
        assert_eq!(v.status, VerdictStatus::Valid, "{v:#?}");
        assert!(v.answered);
        let check = v.self_check.as_ref().expect("certdx checked its own TXT");
        assert!(check.passed, "{v:#?}");
    }
    assert_eq!(report.cleanup.valid, 2);
    let mut seen = Vec::new();
    while let Ok(e) = rx.try_recv() {
        seen.push(match e {
            TrialEvent::AccountReady { .. } => "account",
            TrialEvent::LeftoversCleaned { .. } => "leftovers",
            TrialEvent::OrderCreated { .. } => "order",
            TrialEvent::SelfChecked { .. } => "self-checked",
            TrialEvent::ChallengeTriggered { .. } => "triggered",
            TrialEvent::NameDecided(_) => "decided",
            TrialEvent::CleanupDone(_) => "cleanup",
        });
    }
    assert_eq!(
        seen,
        [
            "account",
            "order",
            "self-checked",
            "triggered",
            "self-checked",
            "triggered",
            "decided",
            "decided",
            "cleanup"
        ]
    );
    assert_none_pending(&lab, &lab.directory_url(), &state).await;
    drop(lab);
    drop(dns);
    drop(primary);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_trial_deactivates_its_pending_authorization() {
    let lab = PebbleLab::start().await;
    let block = SLOTS.take();
    let silent = SocketAddr::from((block.ip(1), lab.http01_port()));
    let stuck = never_answer(silent).await;
    lab.add_a("hang.certdx.example", &[&silent.ip().to_string()])
        .await;
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.sqlite");
    let (stop, cancel) = tokio::sync::watch::channel(false);
    let mut req = TrialRequest::new(vec!["hang.certdx.example".into()], lab.directory_url());
    req.ca_cert_pem = Some(lab.root_pem().to_owned());
    req.state_path = state.clone();
    req.cancel = Some(cancel);
    let (events, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let run = tokio::spawn(run_trial(req, events));
    // Stop as soon as the challenge is triggered: Pebble is still waiting on the silent server.
    tokio::time::timeout(Duration::from_secs(60), async {
        while let Some(e) = rx.recv().await {
            if matches!(e, TrialEvent::ChallengeTriggered { .. }) {
                return;
            }
        }
        panic!("the trial ended before triggering");
    })
    .await
    .expect("triggered in time");
    stop.send(true).unwrap();
    let err = tokio::time::timeout(Duration::from_secs(60), run)
        .await
        .expect("stopped in time")
        .unwrap()
        .unwrap_err();
    assert!(matches!(err, TrialError::Cancelled), "{err}");
    let mut cleanup = None;
    while let Ok(e) = rx.try_recv() {
        if let TrialEvent::CleanupDone(c) = e {
            cleanup = Some(c);
        }
    }
    let cleanup = cleanup.expect("the cleanup ran after the stop");
    assert_eq!(cleanup.deactivated, 1, "{cleanup:?}");
    let store = Store::open(&state).unwrap();
    let authz = store.all_authorizations().unwrap();
    assert_eq!(authz.len(), 1);
    assert_eq!(authz[0].outcome, AuthorizationOutcome::Deactivated);
    drop(store);
    assert_none_pending(&lab, &lab.directory_url(), &state).await;
    stuck.abort();
}

/// A CA that requires External Account Binding (Google's and ZeroSSL's staging CAs do): the
/// trial's account is registered with `--eab-kid` and the HMAC key from the environment, the
/// key never shows, and the next trial reuses the stored account without it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ca_that_requires_eab_gets_it_and_the_key_never_shows() {
    let lab = PebbleLab::start_with(PebbleOptions {
        eab: true,
        ..PebbleOptions::default()
    })
    .await;
    let port = lab.http01_port();
    let block = SLOTS.take();
    let answered = SocketAddr::from((block.ip(1), port));
    lab.add_a("eab.certdx.example", &[&answered.ip().to_string()])
        .await;
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root.pem");
    std::fs::write(&root, lab.root_pem()).unwrap();
    let state = dir.path().join("state.sqlite");
    let directory = lab.directory_url();
    let base: Vec<String> = [
        "eab.certdx.example",
        "--directory",
        &directory,
        "--ca-cert",
        &root.display().to_string(),
        "--state",
        &state.display().to_string(),
        "--http01-listen",
        &answered.to_string(),
    ]
    .map(str::to_owned)
    .to_vec();

    // Without EAB the CA refuses the account: a usage error naming why, nothing ordered.
    let (code, doc, stderr) = trial_binary(&base, &[]).await;
    assert_eq!(code, 2, "{doc:#}\n{stderr}");
    let message = doc["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("externalAccountRequired"), "{message}");
    assert!(
        message.contains("--eab-kid K and CERTDX_EAB_HMAC_KEY"),
        "{message}"
    );

    let mut with_eab = base.clone();
    with_eab.extend(["--eab-kid".to_owned(), pebble_lab::EAB_KID.to_owned()]);
    let (code, doc, stderr) = trial_binary(
        &with_eab,
        &[("CERTDX_EAB_HMAC_KEY", pebble_lab::EAB_HMAC_KEY)],
    )
    .await;
    assert_eq!(code, 0, "{doc:#}\n{stderr}");
    assert_eq!(verdict(&doc, "eab.certdx.example")["status"], "valid");
    for text in [doc.to_string(), stderr] {
        assert!(!text.contains(pebble_lab::EAB_HMAC_KEY), "{text}");
    }
    let account = doc["account"].as_str().unwrap().to_owned();

    // The stored account needs no EAB again.
    let (code, doc, stderr) = trial_binary(&base, &[]).await;
    assert_eq!(code, 0, "{doc:#}\n{stderr}");
    assert_eq!(
        doc["account"],
        account.as_str(),
        "the stored account, reused"
    );
    assert_none_pending(&lab, &directory, &state).await;
}
