//! Benchmark: `certdx issue` against a local Pebble (`PEBBLE_VA_NOSLEEP=1`), 500 single-name
//! certificates over HTTP-01, next to Pebble's own ceiling (the same batch with
//! `PEBBLE_VA_ALWAYS_VALID=1`: no validation requests at all) and, on a sample of 50 names, the
//! clients people use instead, each against a fresh Pebble when it is installed: Debian's
//! certbot standalone (`apt-get install certbot`), uacme and dehydrated over a webroot
//! (`apt-get install uacme dehydrated`; see issue_clients.rs for how each runs). Certificates
//! per second, wall time and peak memory.
//!
//! `cargo bench --bench issue`. Under `cargo test` it issues 5 certificates with certdx and one
//! with each installed client, as a smoke test.

#[path = "../common/pebble_lab.rs"]
mod pebble_lab;

#[path = "measure.rs"]
mod measure;

#[path = "issue_clients.rs"]
mod clients;

use std::path::Path;
use std::time::{Duration, Instant};

use clients::{bounded, installed, run_ok};

use measure::{Run, measure};

use pebble_lab::{PebbleLab, PebbleOptions};

fn names(n: usize) -> Vec<String> {
    (0..n)
        .map(|i| format!("n{i:04}.bench.certdx.test"))
        .collect()
}

/// `certdx issue` for `names` against `lab`, with a fresh state in `dir`.
fn certdx(lab: &PebbleLab, dir: &Path, names: &[String]) -> Run {
    let domains = dir.join("domains.txt");
    std::fs::write(&domains, names.join("\n")).unwrap();
    let run = measure(
        bounded(env!("CARGO_BIN_EXE_certdx"), Duration::from_secs(900))
            .stderr(std::process::Stdio::null())
            .arg("issue")
            .args(lab.issue_flags(&lab.directory_url(), dir))
            .arg("--domains-file")
            .arg(&domains)
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

/// certbot standalone, one run per name as people run it, into its own directories. `Err` says
/// why it did not run.
fn certbot(lab: &PebbleLab, dir: &Path, names: &[String]) -> Result<Run, String> {
    if !installed("certbot", "--version") {
        return Err("not installed (apt-get install certbot)".to_owned());
    }
    let root = dir.join("root.pem");
    std::fs::write(&root, lab.root_pem()).unwrap();
    let start = Instant::now();
    let mut peak = 0;
    for name in names {
        let run = run_ok(
            bounded("certbot", Duration::from_secs(120))
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
            &format!("certbot for {name}"),
            dir,
        );
        peak = peak.max(run.max_rss_kib);
    }
    Ok(Run {
        wall: start.elapsed(),
        max_rss_kib: peak,
        code: 0,
    })
}

fn line(label: &str, n: usize, run: &Result<Run, String>) {
    match run {
        Ok(run) => println!(
            "| {label} | {n} | {:.1} s | {:.1} | {} MiB |",
            run.wall.as_secs_f64(),
            n as f64 / run.wall.as_secs_f64(),
            run.max_rss_kib / 1024
        ),
        Err(why) => println!("| {label} | {why} | | | |"),
    }
}

fn main() {
    measure::serve_helper();
    let bench = std::env::args().any(|a| a == "--bench");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let (n, sample) = if bench { (500, 50) } else { (5, 1) };
    let all = names(n);
    let sample = &names(sample);

    println!("| client | certificates | wall | certificates/s | peak memory |");
    println!("|---|---|---|---|---|");
    let lab = rt.block_on(PebbleLab::start());
    let dir = tempfile::tempdir().unwrap();
    let run = certdx(&lab, dir.path(), &all);
    line("certdx issue (PEBBLE_VA_NOSLEEP=1)", n, &Ok(run));
    drop(lab);

    let mut ran = 1;
    if bench {
        let ceiling = rt.block_on(PebbleLab::start_with(PebbleOptions {
            always_valid: true,
            ..PebbleOptions::default()
        }));
        let dir = tempfile::tempdir().unwrap();
        let run = certdx(&ceiling, dir.path(), &all);
        line(
            "certdx issue, Pebble ceiling (PEBBLE_VA_ALWAYS_VALID=1)",
            n,
            &Ok(run),
        );
    }

    // Each client against a fresh Pebble, in its own directory.
    type Client<'a> = Box<dyn Fn(&PebbleLab, &Path) -> Result<Run, String> + 'a>;
    let rt = &rt;
    let clients: [(&str, Client); 4] = [
        (
            "certbot certonly --standalone, one run per name",
            Box::new(|lab, dir| certbot(lab, dir, sample)),
        ),
        (
            "uacme issue (webroot), one run per name",
            Box::new(|lab, dir| clients::uacme(rt, lab, dir, sample)),
        ),
        (
            "dehydrated -c (webroot), one run over domains.txt",
            Box::new(|lab, dir| clients::dehydrated(rt, lab, dir, sample, false)),
        ),
        (
            "dehydrated -c -d NAME (webroot), one run per name",
            Box::new(|lab, dir| clients::dehydrated(rt, lab, dir, sample, true)),
        ),
    ];
    let mut skipped = 0;
    for (label, client) in clients {
        let lab = rt.block_on(PebbleLab::start());
        let dir = tempfile::tempdir().unwrap();
        let run = client(&lab, dir.path());
        match run {
            Ok(_) => ran += 1,
            Err(_) => skipped += 1,
        }
        line(label, sample.len(), &run);
    }
    if !bench {
        println!("issue benchmark smoke: {ran} passed, 0 failed, {skipped} skipped");
    }
}
