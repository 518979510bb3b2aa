//! Benchmark: `certdx explain -` on a 10 MiB cert-manager controller log excerpt, against what
//! an engineer would otherwise run on the same file: `grep` for error lines, folded with
//! `sort | uniq -c` so repeats count once.
//!
//! The log is built from the real messages of the explain corpus (tests/data/explain-corpus),
//! one line in twenty, between the info lines a controller writes, in the three log formats
//! cert-manager has used (klog text, klog with logr pairs, JSON).
//!
//! `cargo bench --bench explain` prints wall time and peak memory (median of 5) and
//! how much each leaves to read. Under `cargo test` it runs once on 200 KiB.

#[path = "../common/corpus.rs"]
mod corpus;
#[path = "measure.rs"]
mod measure;

use corpus::corpus_texts;

use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;

use measure::{measure_with, median};

/// The info lines a busy controller writes between errors (shapes from cert-manager's logs).
const INFO: [&str; 4] = [
    r#"I0501 09:45:14.706320       1 controller.go:162] cert-manager/certificates-trigger "msg"="re-queuing item due to optimistic locking on resource" "key"="shop/web""#,
    r#"I0501 09:45:15.101203       1 sync.go:66] cert-manager/challenges "msg"="found applicable solver" "dnsName"="shop.example.com" "resource_kind"="Challenge""#,
    r#"{"level":"info","ts":1714556715.2,"logger":"cert-manager.controller","msg":"certificate does not need re-issuance","resource_name":"web","resource_namespace":"shop"}"#,
    r#"I0501 09:45:16.000007       1 acme.go:233] cert-manager/certificaterequests-issuer-acme/sign "msg"="certificate issued" "related_resource_kind"="Order""#,
];

/// A log of at least `bytes` bytes: nineteen info lines, then one corpus message, in turn in
/// klog text, klog with logr pairs, and JSON.
fn log(bytes: usize, texts: &[String]) -> String {
    let mut out = String::with_capacity(bytes + 4096);
    let mut i = 0usize;
    while out.len() < bytes {
        if i % 20 == 19 {
            let text = &texts[(i / 20) % texts.len()];
            let _ = match (i / 20) % 3 {
                0 => writeln!(
                    out,
                    "E0501 09:46:{:02}.000000       1 sync.go:173] {text}",
                    i % 60
                ),
                1 => writeln!(
                    out,
                    r#"E0501 09:46:{:02}.000000       1 controller.go:167] cert-manager/orders "msg"="re-queuing item due to error processing" "error"={:?} "key"="shop/web-1""#,
                    i % 60,
                    text
                ),
                _ => writeln!(
                    out,
                    r#"{{"level":"error","ts":1714556775.5,"logger":"cert-manager.controller","msg":"re-queuing item due to error processing","error":{}}}"#,
                    serde_json::Value::String(text.clone())
                ),
            };
        } else {
            out.push_str(INFO[i % INFO.len()]);
            out.push('\n');
        }
        i += 1;
    }
    out
}

/// What `cmd` prints, fed `path` on standard input.
fn stdout_of(cmd: &mut Command, path: &Path) -> String {
    let out = cmd
        .stdin(std::fs::File::open(path).expect("open log"))
        .output()
        .expect("run");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// How many findings `certdx explain --format json` reports for the log.
fn findings(certdx: &str, path: &Path) -> usize {
    let text = stdout_of(
        Command::new(certdx).args(["explain", "--format", "json", "-"]),
        path,
    );
    let v: serde_json::Value = serde_json::from_str(&text).expect("one JSON document");
    v["findings"].as_array().map_or(0, Vec::len)
}

fn main() {
    measure::serve_helper();
    let bench = std::env::args().any(|a| a == "--bench");
    let (bytes, repeats) = if bench {
        (10 * 1024 * 1024, 5)
    } else {
        (200 * 1024, 1)
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("controller.log");
    let text = log(bytes, &corpus_texts());
    std::fs::write(&path, &text).expect("write log");
    let certdx = env!("CARGO_BIN_EXE_certdx");
    let ours = || {
        let mut c = Command::new(certdx);
        c.args(["explain", "-"]);
        c
    };
    let grep = || {
        let mut c = Command::new("sh");
        c.args([
            "-c",
            "grep -iE 'error|fail|invalid|denied|refused|timeout' | sort | uniq -c | sort -rn",
        ]);
        c
    };
    if !bench {
        // Under `cargo test`: one silent run that must find messages.
        let run = measure_with(&ours(), Some(&path), None);
        assert!(run.code <= 1, "certdx explain failed on the generated log");
        assert!(findings(certdx, &path) > 10, "explain found nothing");
        println!("explain benchmark smoke: 1 passed, 0 failed");
        return;
    }
    println!(
        "log: {:.1} MiB, {} lines",
        text.len() as f64 / (1024.0 * 1024.0),
        text.lines().count()
    );
    let run = median(
        (0..repeats)
            .map(|_| measure_with(&ours(), Some(&path), None))
            .collect(),
    );
    println!(
        "certdx explain -          {:>7.0} ms wall, {:>5} MiB peak RSS, {} distinct findings, each with its code",
        run.wall.as_secs_f64() * 1000.0,
        run.max_rss_kib / 1024,
        findings(certdx, &path)
    );
    let run = median(
        (0..repeats)
            .map(|_| measure_with(&grep(), Some(&path), None))
            .collect(),
    );
    println!(
        "grep | sort | uniq -c     {:>7.0} ms wall, {:>5} MiB peak RSS, {} distinct lines, unclassified",
        run.wall.as_secs_f64() * 1000.0,
        run.max_rss_kib / 1024,
        stdout_of(&mut grep(), &path).lines().count()
    );
    typical_messages();
}

/// The classifier alone on the messages users paste most, in this process: what one message
/// costs (target < 50 µs in a release build).
fn typical_messages() {
    let texts = [
        "429 urn:ietf:params:acme:error:rateLimited: too many certificates (5) already issued for this exact set of identifiers in the last 168h0m0s, retry after 2025-12-31 04:04:56 UTC: see https://letsencrypt.org/docs/rate-limits/#new-certificates-per-exact-set-of-identifiers",
        "Waiting for HTTP-01 challenge propagation: wrong status code '404', expected '200'",
        "Error accepting authorization: acme: authorization error for example.com: 400 urn:ietf:params:acme:error:dns: DNS problem: SERVFAIL looking up CAA for example.com - the domain's nameservers may be malfunctioning",
        "Issuing certificate as Secret does not exist",
    ];
    for t in texts {
        let _ = certdx::checks::explain::explain(t); // regexes compiled outside the timing
    }
    let rounds: u32 = 2000;
    let start = std::time::Instant::now();
    for _ in 0..rounds {
        for t in texts {
            std::hint::black_box(certdx::checks::explain::explain(std::hint::black_box(t)));
        }
    }
    let per_message = start.elapsed() / (rounds * texts.len() as u32);
    println!(
        "one typical message        {:>7.1} µs (classifier alone, {} messages)",
        per_message.as_secs_f64() * 1e6,
        rounds as usize * texts.len()
    );
}
