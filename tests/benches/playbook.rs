//! Benchmark: `certdx report` running the playbook on 1,000 failing Challenges (half HTTP-01,
//! half DNS-01) whose names point at local servers, some of which never answer, against the
//! same playbook done by hand: a shell loop of `dig` and `curl` per Challenge.
//!
//! The lab is real: knot serving the zones (one nameserver lags behind, one zone has a
//! nameserver that never answers), unbound resolving, HTTP listeners answering 404 (one of them
//! never answers). Needs the test packages (tests/lab/packages.txt) plus `bind9-dnsutils` and
//! `curl` for the shell side. `cargo bench --bench playbook`; under `cargo test` it only
//! checks that it would run.

#[path = "../common/dns_lab.rs"]
mod dns_lab;
#[path = "../common/http_lab.rs"]
mod http_lab;

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::process::Command;
use std::time::Instant;

use dns_lab::{LabBuilder, Slots};
use http_lab::{Lab, Reply};

static SLOTS: Slots = Slots::new(&[8]);
const HTTP_SERVERS: u8 = 10;
/// Seconds per HTTP request; DNS questions get a third (certdx's --timeout rule), and the
/// shell loop gets the same budgets.
const TIMEOUT_SECS: u64 = 3;

fn main() {
    let bench = std::env::args().any(|a| a == "--bench");
    if !bench {
        // Under `cargo test` this binary only has to build: the lab takes minutes.
        return;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(run());
}

async fn run() {
    let (http_n, dns_n) = (500usize, 500usize);
    let slow_n = dns_n / 10;
    let mut b = LabBuilder::new(&SLOTS);
    let ns1 = b.knot("ns1");
    let ns2 = b.knot("ns2");
    let silent = b.silent("ns3");
    let mut records = String::new();
    let mut lagging = String::new();
    for i in 0..http_n {
        let line = format!("h{i} A 127.0.10.{}\n", 1 + (i % usize::from(HTTP_SERVERS)));
        records.push_str(&line);
        lagging.push_str(&line);
    }
    for i in 0..dns_n - slow_n {
        let line = format!("_acme-challenge.d{i} TXT \"val{i}\"\n");
        records.push_str(&line);
        if i % 5 != 0 {
            lagging.push_str(&line);
        }
    }
    let slow: String = (0..slow_n)
        .map(|i| format!("_acme-challenge.s{i} TXT \"sval{i}\"\n"))
        .collect();
    b.zone("bench.test", &[("ns1", ns1), ("ns2", ns2)], &records)
        .variant("bench.test", ns2, 0, &lagging);
    b.zone("slow.test", &[("ns1", ns1), ("ns3", silent)], &slow);
    let lab = b.start().await;
    let mut servers = Vec::new();
    for s in 1..=HTTP_SERVERS {
        let addr = SocketAddr::from(([127, 0, 10, s], 80));
        let reply = if s == HTTP_SERVERS {
            Reply::Hang
        } else {
            Reply::status(404, "default backend - 404")
        };
        servers.push(Lab::http(addr, move |_| reply.clone()).await);
    }

    // The snapshot: one Certificate chain per Challenge.
    let mut targets: Vec<(String, String, String)> = Vec::new(); // (method, name, key/token)
    for i in 0..http_n {
        targets.push((
            "HTTP-01".into(),
            format!("h{i}.bench.test"),
            format!("tok{i}"),
        ));
    }
    for i in 0..dns_n - slow_n {
        targets.push((
            "DNS-01".into(),
            format!("d{i}.bench.test"),
            format!("val{i}"),
        ));
    }
    for i in 0..slow_n {
        targets.push((
            "DNS-01".into(),
            format!("s{i}.slow.test"),
            format!("sval{i}"),
        ));
    }
    let dir = tempfile::tempdir().unwrap();
    let snap = dir.path().join("estate.yaml");
    std::fs::write(&snap, snapshot(&targets)).unwrap();
    let resolver = lab.resolver.to_string();
    println!(
        "lab: {} Challenges ({http_n} HTTP-01: 1 in {HTTP_SERVERS} on a server that never answers; {dns_n} DNS-01: ns2 lacks 1 in 5 TXT, {slow_n} in a zone with a silent nameserver); timeouts {TIMEOUT_SECS} s HTTP, 1 s DNS",
        targets.len()
    );

    println!(
        "floor: {TIMEOUT_SECS} s (one HTTP timeout: every wait overlaps, the hanging listener's cannot be shorter)"
    );
    for concurrency in [None, Some(1024usize)] {
        let snap = snap.clone();
        let resolver = resolver.clone();
        let flags: Vec<String> = concurrency
            .map(|c| vec!["--concurrency".to_owned(), c.to_string()])
            .unwrap_or_default();
        let (wall, out) = tokio::task::spawn_blocking(move || {
            let start = Instant::now();
            let out = Command::new(env!("CARGO_BIN_EXE_certdx"))
                .args([
                    "report",
                    "--format",
                    "json",
                    "--allow-loopback",
                    "--now",
                    "2026-01-15T12:00:00Z",
                ])
                .args(["--timeout", &TIMEOUT_SECS.to_string()])
                .args(&flags)
                .args(["--resolver", &resolver, "--snapshot"])
                .arg(&snap)
                .output()
                .expect("certdx runs");
            (start.elapsed(), out)
        })
        .await
        .unwrap();
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON document");
        let mut counts = std::collections::BTreeMap::<String, usize>::new();
        let (mut right, mut total) = (0usize, 0usize);
        let mut wrong = Vec::new();
        for d in v["diagnoses"].as_array().unwrap() {
            if let Some(c) = d["root_cause"]["code"].as_str() {
                *counts.entry(c.to_owned()).or_default() += 1;
            }
            let Some(i) = d["subject"]["name"]
                .as_str()
                .and_then(|n| n.strip_prefix('c'))
                .and_then(|n| n.parse::<usize>().ok())
            else {
                continue;
            };
            total += 1;
            let codes: Vec<&str> = d["findings"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|f| f["code"].as_str())
                .collect();
            if verdict_right(&targets[i], i, &codes) {
                right += 1;
            } else if wrong.len() < 5 {
                wrong.push(format!("{}: {codes:?}", targets[i].1));
            }
        }
        let label =
            concurrency.map_or("default flags".to_owned(), |c| format!("--concurrency {c}"));
        println!(
            "certdx report ({label}): {:>6.1} s = {:.1}x the floor   verdicts right: {right}/{total}   root causes: {counts:?}",
            wall.as_secs_f64(),
            wall.as_secs_f64() / TIMEOUT_SECS as f64
        );
        for w in wrong {
            println!("  wrong: {w}");
        }
    }

    let script = dir.path().join("playbook.sh");
    std::fs::write(&script, shell_playbook(&targets, &resolver)).unwrap();
    let has_tools = ["dig", "curl"].iter().all(|t| {
        Command::new("sh")
            .args(["-c", &format!("command -v {t}")])
            .output()
            .is_ok_and(|o| o.status.success())
    });
    if !has_tools {
        println!(
            "dig or curl missing: shell comparison skipped (apt-get install bind9-dnsutils curl)"
        );
        return;
    }
    let (wall, lines) = tokio::task::spawn_blocking(move || {
        let start = Instant::now();
        let out = Command::new("bash").arg(&script).output().expect("bash");
        (
            start.elapsed(),
            String::from_utf8_lossy(&out.stdout).lines().count(),
        )
    })
    .await
    .unwrap();
    println!(
        "shell loop of dig + curl:             {:>6.1} s   ({lines} result lines)",
        wall.as_secs_f64()
    );
    drop(servers);
    drop(lab);
}

/// Whether the findings of Challenge `i` say what the lab built: the hanging listener's names
/// unreachable, the others a wrong status; ns2's missing TXT missing; the silent ns3 a
/// nameserver error; and nowhere a lookup failure or an inconclusive check (every name exists
/// and the resolver answers).
fn verdict_right(target: &(String, String, String), i: usize, codes: &[&str]) -> bool {
    let has = |c: &str| codes.contains(&c);
    if [
        "dns-lookup-failed",
        "caa-lookup-failed",
        "check-inconclusive",
    ]
    .iter()
    .any(|c| has(c))
    {
        return false;
    }
    let (method, name, _) = target;
    if method == "HTTP-01" {
        let hangs = i % usize::from(HTTP_SERVERS) == usize::from(HTTP_SERVERS) - 1;
        return if hangs {
            has("http01-unreachable") && !has("http01-wrong-status")
        } else {
            has("http01-wrong-status") && !has("http01-unreachable")
        };
    }
    if name.ends_with(".slow.test") {
        return has("dns01-ns-error") && !has("dns01-txt-missing");
    }
    let d: usize = name
        .trim_start_matches('d')
        .split('.')
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or(usize::MAX);
    has("dns01-txt-missing") == d.is_multiple_of(5) && !has("dns01-ns-error")
}

fn snapshot(targets: &[(String, String, String)]) -> String {
    let mut s = String::from(
        "apiVersion: v1\nkind: List\nitems:\n- apiVersion: cert-manager.io/v1\n  kind: ClusterIssuer\n  metadata: {name: le}\n  spec: {acme: {server: \"https://acme-v02.api.letsencrypt.org/directory\"}}\n  status: {conditions: [{type: Ready, status: \"True\"}]}\n",
    );
    for (i, (method, name, value)) in targets.iter().enumerate() {
        let (token, key, reason) = if method == "HTTP-01" {
            (
                value.clone(),
                format!("{value}.thumb"),
                "Waiting for HTTP-01 challenge propagation: wrong status code '404', expected '200'",
            )
        } else {
            (
                "dnstok".to_owned(),
                value.clone(),
                "Waiting for DNS-01 challenge propagation: DNS record not yet propagated",
            )
        };
        let _ = write!(
            s,
            r#"- apiVersion: cert-manager.io/v1
  kind: Certificate
  metadata: {{name: c{i}, namespace: bench, uid: c-{i}}}
  spec: {{secretName: c{i}, dnsNames: [{name}], issuerRef: {{name: le, kind: ClusterIssuer}}}}
  status: {{conditions: [{{type: Ready, status: "False", reason: DoesNotExist, message: Issuing}}, {{type: Issuing, status: "True", reason: DoesNotExist}}]}}
- apiVersion: cert-manager.io/v1
  kind: CertificateRequest
  metadata: {{name: c{i}-1, namespace: bench, uid: r-{i}, annotations: {{cert-manager.io/certificate-revision: "1"}}, ownerReferences: [{{kind: Certificate, name: c{i}, uid: c-{i}}}]}}
  spec: {{issuerRef: {{name: le, kind: ClusterIssuer}}}}
  status: {{conditions: [{{type: Ready, status: "False", reason: Pending}}]}}
- apiVersion: acme.cert-manager.io/v1
  kind: Order
  metadata: {{name: c{i}-1-1, namespace: bench, uid: o-{i}, ownerReferences: [{{kind: CertificateRequest, name: c{i}-1, uid: r-{i}}}]}}
  spec: {{issuerRef: {{name: le, kind: ClusterIssuer}}, dnsNames: [{name}]}}
  status: {{state: pending}}
- apiVersion: acme.cert-manager.io/v1
  kind: Challenge
  metadata: {{name: c{i}-1-1-1, namespace: bench, uid: ch-{i}, creationTimestamp: "2026-01-15T11:59:00Z", ownerReferences: [{{kind: Order, name: c{i}-1-1, uid: o-{i}}}]}}
  spec: {{dnsName: {name}, type: {method}, token: {token}, key: {key}, url: u, authorizationURL: a, issuerRef: {{name: le, kind: ClusterIssuer}}}}
  status: {{processing: true, presented: true, state: pending, reason: "{reason}"}}
"#
        );
    }
    s
}

/// The playbook an engineer would type per Challenge: resolve, curl the token or ask every
/// nameserver for the TXT, and look at CAA, one command after another.
fn shell_playbook(targets: &[(String, String, String)], resolver: &str) -> String {
    let (host, port) = resolver.rsplit_once(':').unwrap();
    let dig = format!("dig -p {port} @{host} +time=1 +tries=1 +short");
    let mut s = format!("#!/bin/bash\nDIG=\"{dig}\"\n");
    s.push_str(&format!(
        r#"http() {{ ip=$($DIG "$1" A | tail -1); code=$(curl -s -o /dev/null -w '%{{http_code}}' -m {TIMEOUT_SECS} --resolve "$1:80:$ip" "http://$1/.well-known/acme-challenge/$2"); caa=$($DIG "$1" CAA); echo "$1 $ip $code $caa"; }}
dns() {{ zone=${{1#*.}}; for ns in $($DIG "$zone" NS); do ip=$($DIG "$ns" A | tail -1); v=$(dig -p 53 @"$ip" +norec +time=1 +tries=1 +short TXT "_acme-challenge.$1"); echo "$1 $ns $v"; done; caa=$($DIG "$1" CAA); }}
"#
    ));
    for (method, name, value) in targets {
        if method == "HTTP-01" {
            let _ = writeln!(s, "http {name} {value}");
        } else {
            let _ = writeln!(s, "dns {name} {value}");
        }
    }
    s
}
