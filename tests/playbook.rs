//! End to end: `certdx report` and `certdx check` against a real DNS tree (knot + unbound)
//! and real HTTP listeners, combining cert-manager's own reasons with what the servers say.

#[path = "common/dns_lab.rs"]
mod dns_lab;
#[path = "common/http_lab.rs"]
mod http_lab;

use std::net::SocketAddr;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use dns_lab::{LabBuilder, Slots};
use http_lab::{Lab, Reply};
use serde_json::Value;

/// This binary's DNS labs live in 127.0.6.0/24; its HTTP servers on 127.0.7.0/24 (the playbook
/// benchmark uses 127.0.8.0/24 and 127.0.10.0/24, so both can run at once).
static SLOTS: Slots = Slots::new(&[6]);
const NOW: &str = "2026-01-15T12:00:00Z";
const TXT: &str = "p9Fz0Yv1cE3mQ7sW2kX8aLr5tN4uH6jB0dG1iO3qT7w";

fn challenge_yaml(name: &str, kind: &str, token: &str, key: &str, reason: &str) -> String {
    format!(
        r#"apiVersion: v1
kind: List
items:
- apiVersion: cert-manager.io/v1
  kind: Certificate
  metadata: {{name: site, namespace: web, uid: c-1}}
  spec: {{secretName: site-tls, dnsNames: [{name}], issuerRef: {{name: le, kind: ClusterIssuer}}}}
  status:
    conditions:
    - {{type: Ready, status: "False", reason: DoesNotExist, message: Issuing certificate as Secret does not exist}}
    - {{type: Issuing, status: "True", reason: DoesNotExist, message: Issuing certificate as Secret does not exist}}
- apiVersion: cert-manager.io/v1
  kind: CertificateRequest
  metadata:
    name: site-1
    namespace: web
    uid: r-1
    annotations: {{cert-manager.io/certificate-revision: "1"}}
    ownerReferences: [{{apiVersion: cert-manager.io/v1, kind: Certificate, name: site, uid: c-1}}]
  spec: {{issuerRef: {{name: le, kind: ClusterIssuer}}}}
  status:
    conditions:
    - {{type: Ready, status: "False", reason: Pending, message: "Waiting on certificate issuance from order web/site-1-1: \"pending\""}}
- apiVersion: acme.cert-manager.io/v1
  kind: Order
  metadata:
    name: site-1-1
    namespace: web
    uid: o-1
    ownerReferences: [{{apiVersion: cert-manager.io/v1, kind: CertificateRequest, name: site-1, uid: r-1}}]
  spec: {{issuerRef: {{name: le, kind: ClusterIssuer}}, dnsNames: [{name}]}}
  status: {{state: pending}}
- apiVersion: acme.cert-manager.io/v1
  kind: Challenge
  metadata:
    name: site-1-1-1
    namespace: web
    uid: ch-1
    creationTimestamp: "2026-01-15T11:58:00Z"
    ownerReferences: [{{apiVersion: acme.cert-manager.io/v1, kind: Order, name: site-1-1, uid: o-1}}]
  spec:
    dnsName: {name}
    type: {kind}
    token: {token}
    key: {key}
    url: https://acme.test/chall/1
    authorizationURL: https://acme.test/authz/1
    issuerRef: {{name: le, kind: ClusterIssuer}}
  status: {{processing: true, presented: true, state: pending, reason: {reason:?}}}
- apiVersion: cert-manager.io/v1
  kind: ClusterIssuer
  metadata: {{name: le}}
  spec: {{acme: {{server: "https://acme-v02.api.letsencrypt.org/directory"}}}}
  status: {{conditions: [{{type: Ready, status: "True"}}]}}
"#
    )
}

async fn certdx(args: Vec<String>) -> (Value, i32) {
    let out = tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_certdx"))
            .args(&args)
            .output()
            .expect("certdx runs")
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let v: Value = serde_json::from_str(&stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {stdout}\nstderr: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (v, out.status.code().unwrap())
}

fn s(v: &[&str]) -> Vec<String> {
    v.iter().map(|x| (*x).to_owned()).collect()
}

/// `certdx report` on a snapshot with the live checks through `resolver`, as JSON.
async fn report_through(snap: &std::path::Path, resolver: &str) -> (Value, i32) {
    certdx(s(&[
        "report",
        "--snapshot",
        snap.to_str().unwrap(),
        "--format",
        "json",
        "--now",
        NOW,
        "--resolver",
        resolver,
        "--timeout",
        "3",
    ]))
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn report_names_the_nameserver_that_lacks_the_txt() {
    let mut b = LabBuilder::new(&SLOTS);
    let ns1 = b.knot("ns1");
    let ns2 = b.knot("ns2");
    b.zone(
        "example.test",
        &[("ns1", ns1), ("ns2", ns2)],
        &format!("www A 127.0.7.9\n_acme-challenge.www TXT \"{TXT}\"\n"),
    )
    .variant("example.test", ns2, 0, "www A 127.0.7.9\n");
    let lab = b.start().await;
    let dir = tempfile::tempdir().unwrap();
    let snap = dir.path().join("s.yaml");
    let reason = "Waiting for DNS-01 challenge propagation: DNS record for \"www.example.test\" not yet propagated";
    std::fs::write(
        &snap,
        challenge_yaml("www.example.test", "DNS-01", "tok", TXT, reason),
    )
    .unwrap();

    let resolver = lab.resolver.to_string();
    let (report, exit) = report_through(&snap, &resolver).await;
    assert_eq!(exit, 1);
    let d = &report["diagnoses"][0];
    let rc = &d["root_cause"];
    assert_eq!(rc["code"], "dns01-txt-missing", "{d:#}");
    let ns2_addr = lab.addr(ns2).to_string();
    assert!(
        rc["summary"].as_str().unwrap().contains(&ns2_addr),
        "the root cause names ns2: {rc:#}"
    );
    assert_eq!(
        rc["subject"],
        serde_json::json!({"kind": "Challenge", "namespace": "web", "name": "site-1-1-1"})
    );
    // cert-manager's own reason is still there, below the live finding.
    let codes: Vec<&str> = d["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["code"].as_str().unwrap())
        .collect();
    assert!(
        codes.contains(&"selfcheck-dns01-not-propagated"),
        "{codes:?}"
    );
    // Offline, the same snapshot can only repeat cert-manager's reason.
    let (offline, _) = certdx(s(&[
        "report",
        "--snapshot",
        snap.to_str().unwrap(),
        "--format",
        "json",
        "--now",
        NOW,
        "--offline",
    ]))
    .await;
    assert_eq!(
        offline["diagnoses"][0]["root_cause"]["code"],
        "selfcheck-dns01-not-propagated"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn report_and_check_see_the_404_on_the_challenge_path() {
    let mut b = LabBuilder::new(&SLOTS);
    let ns1 = b.knot("ns1");
    b.zone("shop.test", &[("ns1", ns1)], "www A 127.0.7.1\n");
    let lab = b.start().await;
    let fixed = Arc::new(AtomicBool::new(false));
    let serving_key = fixed.clone();
    let web = Lab::http(SocketAddr::from(([127, 0, 7, 1], 80)), move |req| {
        if serving_key.load(Ordering::SeqCst) {
            Reply::ok("tok404.thumb")
        } else if req.path.starts_with("/.well-known/acme-challenge/") {
            Reply::status(404, "default backend - 404").header("Server", "nginx")
        } else {
            Reply::ok("shop")
        }
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let snap = dir.path().join("s.yaml");
    let reason =
        "Waiting for HTTP-01 challenge propagation: wrong status code '404', expected '200'";
    std::fs::write(
        &snap,
        challenge_yaml("www.shop.test", "HTTP-01", "tok404", "tok404.thumb", reason),
    )
    .unwrap();
    let resolver = lab.resolver.to_string();

    let (report, exit) = certdx(s(&[
        "report",
        "--snapshot",
        snap.to_str().unwrap(),
        "--format",
        "json",
        "--now",
        NOW,
        "--resolver",
        &resolver,
        "--allow-loopback",
        "--timeout",
        "3",
    ]))
    .await;
    assert_eq!(exit, 1);
    let rc = &report["diagnoses"][0]["root_cause"];
    assert_eq!(rc["code"], "http01-wrong-status", "{report:#}");
    assert!(
        rc["summary"].as_str().unwrap().contains("127.0.7.1"),
        "{rc:#}"
    );
    assert!(
        web.requests()
            .iter()
            .any(|r| r.path == "/.well-known/acme-challenge/tok404" && r.host == "www.shop.test")
    );

    // The same through `check`, by Challenge name: findings[] and checks[] in one document.
    let (check, exit) = certdx(s(&[
        "check",
        "--snapshot",
        snap.to_str().unwrap(),
        "web/site-1-1-1",
        "--format",
        "json",
        "--resolver",
        &resolver,
        "--allow-loopback",
        "--timeout",
        "3",
    ]))
    .await;
    assert_eq!(exit, 1);
    let names: Vec<&str> = check["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["name", "http01", "caa"]);
    for c in check["checks"].as_array().unwrap() {
        assert!(
            c["status"].is_string() && c["duration_ms"].is_u64(),
            "{c:#}"
        );
    }
    let f = check["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["code"] == "http01-wrong-status")
        .unwrap();
    for field in ["severity", "summary", "detail", "advice", "evidence"] {
        assert!(f.get(field).is_some(), "{field} missing: {f:#}");
    }
    assert_eq!(f["evidence"][0]["kind"], "http");
    assert_eq!(f["evidence"][0]["status"], 404);
    assert_eq!(f["evidence"][0]["server"], "nginx");
    assert_eq!(check["targets"][0]["token"], "tok404");

    // Serving the key fixes it: check by name with --token/--key passes.
    fixed.store(true, Ordering::SeqCst);
    let (check, exit) = certdx(s(&[
        "check",
        "www.shop.test",
        "--token",
        "tok404",
        "--key",
        "tok404.thumb",
        "--format",
        "json",
        "--resolver",
        &resolver,
        "--allow-loopback",
        "--timeout",
        "3",
    ]))
    .await;
    assert_eq!(exit, 0, "{check:#}");
    assert!(
        check["findings"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["severity"] == "info"),
        "{check:#}"
    );
}

/// The codes of a diagnosis's findings.
fn codes(d: &Value) -> Vec<String> {
    d["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["code"].as_str().unwrap().to_owned())
        .collect()
}

/// On a machine whose resolver answers NXDOMAIN for everything (an offline laptop, a
/// filtering network), the checks do not run: nothing here would be what the CA sees.
/// cert-manager's own 404 stays the root cause, the report says where the checks ran from,
/// and `check` says why it checked nothing instead of "create the DNS records".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resolver_that_filters_everything_does_not_outrank_the_cluster() {
    let mut b = LabBuilder::new(&SLOTS);
    let ns1 = b.knot("ns1");
    let filter = b.filtering_resolver("filter");
    b.zone("shop.test", &[("ns1", ns1)], "www A 127.0.7.30\n");
    let lab = b.start().await;
    let filter = format!("{}:53", lab.ip(filter));
    let dir = tempfile::tempdir().unwrap();
    let snap = dir.path().join("s.yaml");
    let reason =
        "Waiting for HTTP-01 challenge propagation: wrong status code '404', expected '200'";
    std::fs::write(
        &snap,
        challenge_yaml("www.shop.test", "HTTP-01", "tok", "tok.thumb", reason),
    )
    .unwrap();

    let (report, exit) = report_through(&snap, &filter).await;
    assert_eq!(exit, 1);
    let d = &report["diagnoses"][0];
    assert_eq!(
        d["root_cause"]["code"], "selfcheck-http01-wrong-status",
        "{d:#}"
    );
    let found = codes(d);
    assert!(
        found.contains(&"local-resolver-unreliable".to_owned()),
        "{found:?}"
    );
    assert!(!found.contains(&"dns-nxdomain".to_owned()), "{found:?}");
    let from = report["checked_from"].as_str().unwrap();
    assert!(from.contains(&filter), "{from}");

    let (check, exit) = certdx(s(&[
        "check",
        "www.shop.test",
        "--format",
        "json",
        "--resolver",
        &filter,
        "--timeout",
        "3",
    ]))
    .await;
    assert_eq!(exit, 1, "{check:#}");
    let found: Vec<&str> = check["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["code"].as_str().unwrap())
        .collect();
    assert_eq!(found, ["local-resolver-unreliable"], "{check:#}");
    assert_eq!(check["findings"][0]["target"], "www.shop.test", "{check:#}");
    // The working resolver of the same lab sees the name.
    let (check, _) = certdx(s(&[
        "check",
        "www.shop.test",
        "--format",
        "json",
        "--resolver",
        &lab.resolver.to_string(),
        "--timeout",
        "3",
    ]))
    .await;
    assert!(
        !check.to_string().contains("local-resolver-unreliable"),
        "{check:#}"
    );
}

/// Split DNS: this machine's resolver works but does not know the name, while
/// cert-manager's self-check got a 404 from it. The local "does not exist" becomes "this
/// machine sees it differently" and cert-manager's evidence stays the root cause.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_name_cert_manager_reached_is_not_called_nonexistent_from_here() {
    let mut b = LabBuilder::new(&SLOTS);
    let ns1 = b.knot("ns1");
    b.zone("shop.test", &[("ns1", ns1)], "www A 127.0.7.31\n");
    let lab = b.start().await;
    let dir = tempfile::tempdir().unwrap();
    let snap = dir.path().join("s.yaml");
    let reason =
        "Waiting for HTTP-01 challenge propagation: wrong status code '404', expected '200'";
    std::fs::write(
        &snap,
        challenge_yaml(
            "www.intranet.shop.test",
            "HTTP-01",
            "tok",
            "tok.thumb",
            reason,
        ),
    )
    .unwrap();
    let (report, exit) = report_through(&snap, &lab.resolver.to_string()).await;
    assert_eq!(exit, 1);
    let d = &report["diagnoses"][0];
    assert_eq!(
        d["root_cause"]["code"], "selfcheck-http01-wrong-status",
        "{d:#}"
    );
    let found = codes(d);
    assert!(
        found.contains(&"local-view-differs".to_owned()),
        "{found:?}"
    );
    assert!(!found.contains(&"dns-nxdomain".to_owned()), "{found:?}");
    let differs = d["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["code"] == "local-view-differs")
        .unwrap();
    assert!(
        differs["summary"]
            .as_str()
            .unwrap()
            .contains("www.intranet.shop.test"),
        "{differs:#}"
    );
}

/// `check` takes what an engineer pastes: a Certificate's bare name (its open Challenge is
/// checked), KIND/NAME with -n, a bare Challenge name, and a challenge URL (host and token).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_takes_what_an_engineer_pastes() {
    let mut b = LabBuilder::new(&SLOTS);
    let ns1 = b.knot("ns1");
    b.zone("paste.test", &[("ns1", ns1)], "www A 127.0.7.40\n");
    let lab = b.start().await;
    let _web = Lab::http(SocketAddr::from(([127, 0, 7, 40], 80)), |req| {
        if req.path == "/.well-known/acme-challenge/tok40" {
            Reply::ok("tok40.thumb")
        } else {
            Reply::status(404, "not here")
        }
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let snap = dir.path().join("s.yaml");
    let reason =
        "Waiting for HTTP-01 challenge propagation: wrong status code '404', expected '200'";
    std::fs::write(
        &snap,
        challenge_yaml("www.paste.test", "HTTP-01", "tok40", "tok40.thumb", reason),
    )
    .unwrap();
    let resolver = lab.resolver.to_string();
    let run = |target: Vec<&str>| {
        let mut args = vec!["check", "--snapshot", snap.to_str().unwrap()];
        args.extend(target);
        args.extend([
            "-o",
            "json",
            "--resolver",
            &resolver,
            "--timeout",
            "3",
            "--allow-loopback",
        ]);
        certdx(s(&args))
    };
    for target in [
        vec!["site"],
        vec!["certificate/site", "-n", "web"],
        vec!["site-1-1-1"],
        vec!["web/site-1-1-1"],
    ] {
        let (v, exit) = run(target.clone()).await;
        assert_eq!(exit, 0, "{target:?}: {v:#}");
        assert_eq!(v["targets"][0]["name"], "www.paste.test", "{target:?}");
        assert_eq!(
            v["targets"][0]["challenge"],
            serde_json::json!({"kind": "Challenge", "namespace": "web", "name": "site-1-1-1"}),
            "{target:?}"
        );
        let http01 = v["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == "http01")
            .unwrap();
        assert_eq!(
            http01["status"], "passed",
            "{target:?}: compared with the key"
        );
    }
    let (v, exit) = run(vec![
        "http://www.paste.test/.well-known/acme-challenge/tok40",
        "--key",
        "tok40.thumb",
    ])
    .await;
    assert_eq!(exit, 0, "{v:#}");
    assert_eq!(v["targets"][0]["name"], "www.paste.test");
    assert_eq!(v["targets"][0]["token"], "tok40");
}
