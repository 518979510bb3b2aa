//! Benchmark: `certdx report --snapshot` on a synthetic estate of 20,001 objects (5,000
//! Certificates with their CertificateRequests, Orders and Challenges), against what a user
//! would otherwise run on the same dump: a Python script that only parses it (PyYAML with
//! libyaml, the fastest common way), before doing any analysis at all.
//!
//! `cargo bench --bench report` prints wall time and peak memory (max RSS) of each, median of
//! several runs. Under `cargo test` it runs once on a small estate, as a smoke test.

#[path = "measure.rs"]
mod measure;
#[path = "../common/synthetic.rs"]
mod synthetic;

use std::process::Command;

use measure::{Run, measure, median};

fn main() {
    measure::serve_helper();
    let bench = std::env::args().any(|a| a == "--bench");
    let (certificates, repeats) = if bench { (5000, 5) } else { (50, 1) };
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("estate.yaml");
    let yaml = synthetic::estate_yaml(certificates);
    std::fs::write(&path, &yaml).expect("write estate");
    if let Some(keep) = std::env::var_os("CERTDX_BENCH_KEEP") {
        std::fs::write(keep, &yaml).expect("keep estate");
    }
    let certdx = env!("CARGO_BIN_EXE_certdx");
    if !bench {
        // Under `cargo test`: a silent smoke run, so the suite's last lines stay the test
        // runner's own.
        let run = measure(
            Command::new(certdx)
                .args(["report", "--offline", "--format", "json", "--snapshot"])
                .arg(&path),
        );
        assert!(
            run.code <= 1,
            "certdx report failed on the synthetic estate"
        );
        println!("report benchmark smoke: 1 passed, 0 failed");
        return;
    }
    let objects = certificates * 4 + 1;
    println!(
        "estate: {certificates} Certificates, {objects} objects, {:.1} MiB of YAML",
        yaml.len() as f64 / (1024.0 * 1024.0)
    );

    // CERTDX_BENCH_BASELINE names another build of certdx (an older commit) to time in the
    // same run, alternating with this one so both see the same machine.
    let baseline = std::env::var_os("CERTDX_BENCH_BASELINE");
    let report = |bin: &std::ffi::OsStr| {
        measure(
            Command::new(bin)
                .args([
                    "report",
                    "--offline",
                    "--format",
                    "json",
                    "--now",
                    "2026-01-15T12:00:00Z",
                    "--snapshot",
                ])
                .arg(&path),
        )
    };
    let mut runs = Vec::new();
    let mut base_runs = Vec::new();
    for _ in 0..repeats {
        runs.push(report(certdx.as_ref()));
        if let Some(b) = &baseline {
            base_runs.push(report(b));
        }
    }
    let ours = median(runs);
    assert!(ours.code <= 1, "certdx report failed");
    println!(
        "certdx report --snapshot (json):   {:>7.0} ms wall, {:>5} MiB peak RSS",
        ours.wall.as_secs_f64() * 1000.0,
        ours.max_rss_kib / 1024
    );
    if let Some(b) = &baseline {
        let base = median(base_runs);
        println!(
            "baseline {} : {:>7.0} ms wall, {:>5} MiB peak RSS",
            b.to_string_lossy(),
            base.wall.as_secs_f64() * 1000.0,
            base.max_rss_kib / 1024
        );
    }

    let python = "import sys, yaml; yaml.load(open(sys.argv[1]), Loader=yaml.CSafeLoader)";
    let has_pyyaml = Command::new("python3")
        .args(["-c", "import yaml; yaml.CSafeLoader"])
        .output()
        .is_ok_and(|o| o.status.success());
    if has_pyyaml {
        let runs: Vec<Run> = (0..repeats)
            .map(|_| measure(Command::new("python3").args(["-c", python]).arg(&path)))
            .collect();
        let theirs = median(runs);
        println!(
            "python3 + PyYAML CSafeLoader parse: {:>7.0} ms wall, {:>5} MiB peak RSS (parse only, no analysis)",
            theirs.wall.as_secs_f64() * 1000.0,
            theirs.max_rss_kib / 1024
        );
        println!(
            "ratio: certdx takes {:.2}x the time of the parse alone",
            ours.wall.as_secs_f64() / theirs.wall.as_secs_f64()
        );
    } else {
        println!(
            "python3 with PyYAML not found: comparison skipped (apt-get install python3-yaml)"
        );
    }
}
