//! Benchmark: `certdx issue` against a local Pebble (`PEBBLE_VA_NOSLEEP=1`), 500 single-name
//! certificates over HTTP-01, next to Pebble's own ceiling (the same batch with
//! `PEBBLE_VA_ALWAYS_VALID=1`: no validation requests at all) and, when Debian's certbot is
//! installed (`apt-get install certbot`), certbot standalone on a sample of 50 names, one
//! certificate per run as it is used. Certificates per second, wall time and peak memory.
//!
//! `cargo bench --bench issue`. Under `cargo test` it issues 5 certificates with certdx only,
//! as a smoke test.

#[path = "../common/pebble_lab.rs"]
mod pebble_lab;

#[path = "measure.rs"]
mod measure;

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use measure::{Run, measure};

use pebble_lab::{PebbleLab, PebbleOptions};

fn names(n: usize) -> Vec<String> {
    (0..n)
        .map(|i| format!("n{i:04}.bench.certdx.test"))
        .collect()
}

/// `certdx issue` for `names` against `lab`, with a fresh state in `dir`.
fn certdx(lab: &PebbleLab, dir: &Path, names: &[String]) -> Run {
    let root = dir.join("root.pem");
    std::fs::write(&root, lab.root_pem()).unwrap();
    let domains = dir.join("domains.txt");
    std::fs::write(&domains, names.join("\n")).unwrap();
    let run = measure(
        Command::new(env!("CARGO_BIN_EXE_certdx"))
            .stderr(std::process::Stdio::null())
            .arg("issue")
            .args(["--directory", &lab.directory_url()])
            .arg("--ca-cert")
            .arg(&root)
            .args(["--resolver", &lab.dns_addr().to_string()])
            .arg("--allow-loopback")
            .args(["--http-port", &lab.http01_port().to_string()])
            .args(["--http01-listen", &lab.http01_addr().to_string()])
            .arg("--state")
            .arg(dir.join("state.sqlite"))
            .arg("--out")
            .arg(dir.join("certs"))
            .arg("--domains-file")
            .arg(&domains)
            // Pebble 2.4.0 can deadlock under concurrent newOrders (see tests/engine_batch.rs).
            .args(["--new-order-concurrency", "1"])
            .args(["--batch-timeout", "600"]),
    );
    assert_eq!(run.code, 0, "certdx issue failed");
    let issued = std::fs::read_dir(dir.join("certs"))
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .is_ok_and(|e| e.path().extension().is_some_and(|x| x == "crt"))
        })
        .count();
    assert_eq!(issued, names.len(), "every certificate written");
    run
}

/// certbot standalone, one run per name as people run it, into its own directories.
fn certbot(lab: &PebbleLab, dir: &Path, names: &[String]) -> Option<Run> {
    if Command::new("certbot").arg("--version").output().is_err() {
        return None;
    }
    let root = dir.join("root.pem");
    std::fs::write(&root, lab.root_pem()).unwrap();
    let start = Instant::now();
    let mut peak = 0;
    for name in names {
        let run = measure(
            Command::new("certbot")
                .args([
                    "certonly",
                    "--standalone",
                    "--non-interactive",
                    "--agree-tos",
                ])
                .arg("--register-unsafely-without-email")
                .args(["--server", &lab.directory_url()])
                .args(["--http-01-address", "127.0.0.1"])
                .args(["--http-01-port", &lab.http01_port().to_string()])
                .args(["-d", name])
                .arg("--config-dir")
                .arg(dir.join("config"))
                .arg("--work-dir")
                .arg(dir.join("work"))
                .arg("--logs-dir")
                .arg(dir.join("logs"))
                .env("REQUESTS_CA_BUNDLE", &root),
        );
        assert_eq!(
            run.code,
            0,
            "certbot failed for {name}: see {}",
            dir.display()
        );
        peak = peak.max(run.max_rss_kib);
    }
    Some(Run {
        wall: start.elapsed(),
        max_rss_kib: peak,
        code: 0,
    })
}

fn line(label: &str, n: usize, run: &Run) {
    println!(
        "| {label} | {n} | {:.1} s | {:.1} | {} MiB |",
        run.wall.as_secs_f64(),
        n as f64 / run.wall.as_secs_f64(),
        run.max_rss_kib / 1024
    );
}

fn main() {
    let bench = std::env::args().any(|a| a == "--bench");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let n = if bench { 500 } else { 5 };
    let all = names(n);

    let lab = rt.block_on(PebbleLab::start());
    let dir = tempfile::tempdir().unwrap();
    let run = certdx(&lab, dir.path(), &all);
    if !bench {
        println!("issue benchmark smoke: 1 passed, 0 failed");
        return;
    }
    println!("| client | certificates | wall | certificates/s | peak memory |");
    println!("|---|---|---|---|---|");
    line("certdx issue (PEBBLE_VA_NOSLEEP=1)", n, &run);
    drop(lab);

    let ceiling = rt.block_on(PebbleLab::start_with(PebbleOptions {
        always_valid: true,
        ..PebbleOptions::default()
    }));
    let dir = tempfile::tempdir().unwrap();
    line(
        "certdx issue, Pebble ceiling (PEBBLE_VA_ALWAYS_VALID=1)",
        n,
        &certdx(&ceiling, dir.path(), &all),
    );
    drop(ceiling);

    let lab = rt.block_on(PebbleLab::start());
    let dir = tempfile::tempdir().unwrap();
    let sample = &names(50);
    match certbot(&lab, dir.path(), sample) {
        Some(run) => line("certbot certonly --standalone, one run per name", 50, &run),
        None => println!("| certbot | not installed (apt-get install certbot) | | | |"),
    }
}
