//! Benchmark: `certdx trial` of 10 names in one order against a local Pebble
//! (`PEBBLE_VA_NOSLEEP=1`), answered by certdx over HTTP-01, next to `certdx issue` of the same
//! 10 names (one certificate each) on a fresh Pebble, both checking their own answers first:
//! the trial stops at the CA's verdicts, the issue goes on to finalize and download. Pebble reports no validation durations (its objects
//! carry only a `validated` instant to the second, its log one-second timestamps), so the CA's
//! side is bounded from above by the trial's own `duration_ms` (account, order, triggers,
//! verdicts and cleanup, measured inside certdx).
//!
//! `cargo bench --bench trial`. Under `cargo test` it tries 2 names, as a smoke test.

#[path = "../common/pebble_lab.rs"]
mod pebble_lab;

#[path = "measure.rs"]
mod measure;

use std::path::Path;
use std::process::{Command, Stdio};

use measure::{Run, measure};
use pebble_lab::PebbleLab;

fn names(n: usize) -> Vec<String> {
    (0..n)
        .map(|i| format!("t{i:02}.bench.certdx.test"))
        .collect()
}

/// The `certdx trial` command line for `names` (one order), answered on the lab's HTTP-01
/// address, state in `state`.
fn trial_command(lab: &PebbleLab, dir: &Path, state: &str, names: &[String]) -> Command {
    let root = dir.join("root.pem");
    std::fs::write(&root, lab.root_pem()).unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_certdx"));
    cmd.arg("trial")
        .args(names)
        .args(["--directory", &lab.directory_url()])
        .arg("--ca-cert")
        .arg(&root)
        .arg("--state")
        .arg(dir.join(state))
        .args(["--http01-listen", &lab.http01_addr().to_string()])
        // certdx's self-check of each answer, through the lab's DNS, as a user's would run.
        .args([
            "--resolver",
            &lab.dns_addr().to_string(),
            "--allow-loopback",
        ])
        .args(["--http-port", &lab.http01_port().to_string()])
        .args(["--format", "json"])
        .stderr(Stdio::null());
    cmd
}

/// A measured `certdx trial` (the helper discards its stdout; every authorization valid is read
/// from its state store), then an unmeasured one on a fresh state for the trial's own
/// `duration_ms` from its JSON.
fn trial(lab: &PebbleLab, dir: &Path, names: &[String]) -> (Run, u64) {
    let run = measure(&mut trial_command(lab, dir, "measured.sqlite", names));
    assert_eq!(run.code, 0, "certdx trial: every name validated");
    let store = certdx::engine::store::Store::open(dir.join("measured.sqlite")).unwrap();
    let valid = store
        .all_authorizations()
        .unwrap()
        .iter()
        .filter(|a| a.status == certdx::engine::store::AuthorizationStatus::Valid)
        .count();
    assert_eq!(valid, names.len(), "every authorization valid");
    let out = trial_command(lab, dir, "second.sqlite", names)
        .output()
        .expect("certdx trial");
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON document");
    assert_eq!(out.status.code(), Some(0), "{doc:#}");
    (run, doc["duration_ms"].as_u64().unwrap_or_default())
}

/// `certdx issue` of the same names, one certificate each.
fn issue(lab: &PebbleLab, dir: &Path, names: &[String]) -> Run {
    let domains = dir.join("domains.txt");
    std::fs::write(&domains, names.join("\n")).unwrap();
    let run = measure(
        Command::new(env!("CARGO_BIN_EXE_certdx"))
            .stderr(Stdio::null())
            .stdout(Stdio::null())
            .arg("issue")
            .args(lab.issue_flags(&lab.directory_url(), dir))
            .arg("--domains-file")
            .arg(&domains),
    );
    assert_eq!(run.code, 0, "certdx issue failed");
    run
}

fn main() {
    measure::serve_helper();
    let bench = std::env::args().any(|a| a == "--bench");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let n = if bench { 10 } else { 2 };
    let names = names(n);
    println!("| command | names | wall | inside certdx | peak memory |");
    println!("|---|---|---|---|---|");
    let lab = rt.block_on(PebbleLab::start());
    let dir = tempfile::tempdir().unwrap();
    let (run, inside_ms) = trial(&lab, dir.path(), &names);
    println!(
        "| certdx trial (one order, answered) | {n} | {:.2} s | {:.2} s (second run) | {} MiB |",
        run.wall.as_secs_f64(),
        inside_ms as f64 / 1000.0,
        run.max_rss_kib / 1024
    );
    drop(lab);
    let lab = rt.block_on(PebbleLab::start());
    let dir = tempfile::tempdir().unwrap();
    let run = issue(&lab, dir.path(), &names);
    println!(
        "| certdx issue (one certificate per name) | {n} | {:.2} s | | {} MiB |",
        run.wall.as_secs_f64(),
        run.max_rss_kib / 1024
    );
}
