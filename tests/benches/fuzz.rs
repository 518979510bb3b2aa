//! Benchmark-time fuzzing: every parser target of `tests/fuzz/` for a million inputs
//! (structure-aware proptest generators plus mutations and raw bytes), each input under
//! `catch_unwind` and timed.
//!
//! `cargo bench --bench fuzz` prints, per target, the inputs run, wall time, inputs per second,
//! the slowest input, crashes and slow inputs (0 of both expected), and writes each crashing or
//! slow input to `target/fuzz-findings/` (`CERTDX_FUZZ_OUT` elsewhere). Settings:
//! `CERTDX_FUZZ_INPUTS` (inputs per target, default 1,000,000), `CERTDX_FUZZ_SEED`,
//! `CERTDX_FUZZ_TARGETS` (comma-separated names). Under `cargo test` it runs 200 inputs each.
//! The process exits 1 when any input crashed. `CERTDX_FUZZ_REPLAY=FILE` (or a directory of
//! findings) with the targets in `CERTDX_FUZZ_TARGETS` runs each input three times and prints each time (the first run of a
//! target also pays for its one-time setup, such as compiling the classifiers' patterns).

#[path = "../fuzz/mod.rs"]
mod fuzz;

use std::path::PathBuf;
use std::time::Duration;

use fuzz::harness::{Limits, run};

fn env<T: std::str::FromStr>(name: &str) -> Option<T> {
    std::env::var(name)
        .ok()
        .and_then(|v| v.trim().replace('_', "").parse().ok())
}

fn main() {
    let bench = std::env::args().any(|a| a == "--bench");
    let inputs = env("CERTDX_FUZZ_INPUTS").unwrap_or(if bench { 1_000_000 } else { 200 });
    let seed = env("CERTDX_FUZZ_SEED").unwrap_or(0x00c3_7d0c_u64);
    let only: Option<Vec<String>> = std::env::var("CERTDX_FUZZ_TARGETS")
        .ok()
        .map(|v| v.split(',').map(|s| s.trim().to_owned()).collect());
    let out_dir = std::env::var_os("CERTDX_FUZZ_OUT")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/fuzz-findings"));
    let limits = Limits {
        inputs,
        seed,
        slow: Duration::from_millis(250),
        hang: Duration::from_secs(30),
        out_dir: Some(out_dir.clone()),
    };
    println!(
        "fuzz: {inputs} inputs per target, seed {seed}, findings to {}",
        out_dir.display()
    );
    println!(
        "{:<14} {:>10} {:>9} {:>10} {:>9} {:>8} {:>5}",
        "target", "inputs", "wall s", "inputs/s", "max ms", "crashes", "slow"
    );
    if let Some(path) = std::env::var_os("CERTDX_FUZZ_REPLAY") {
        replay(&PathBuf::from(path), only.as_deref().unwrap_or_default());
        return;
    }
    let mut crashed = false;
    for target in fuzz::targets() {
        if only
            .as_ref()
            .is_some_and(|o| !o.iter().any(|n| n == target.name()))
        {
            continue;
        }
        let o = run(target.as_ref(), &limits);
        println!(
            "{:<14} {:>10} {:>9.1} {:>10.0} {:>9.1} {:>8} {:>5}",
            o.name,
            o.inputs,
            o.wall.as_secs_f64(),
            o.rate(),
            o.slowest.as_secs_f64() * 1000.0,
            o.crashes.len(),
            o.slow.len()
        );
        for f in o.crashes.iter().chain(&o.slow).take(5) {
            println!(
                "  {}: {} ({})",
                f.file
                    .as_ref()
                    .map_or_else(|| "-".to_owned(), |p| p.display().to_string()),
                f.what.lines().next().unwrap_or_default(),
                String::from_utf8_lossy(&f.input[..f.input.len().min(80)]).escape_debug()
            );
        }
        crashed |= !o.crashes.is_empty();
    }
    if crashed {
        std::process::exit(1);
    }
}

/// Runs saved inputs (a file, or every `TARGET-*` file of a directory) through the named
/// targets, timing each of three runs.
fn replay(path: &std::path::Path, names: &[String]) {
    let files: Vec<PathBuf> = if path.is_dir() {
        let mut files: Vec<PathBuf> = std::fs::read_dir(path)
            .expect("read the replay directory")
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect();
        files.sort();
        files
    } else {
        vec![path.to_owned()]
    };
    for target in fuzz::targets() {
        if !names.iter().any(|n| n == target.name()) {
            continue;
        }
        for file in &files {
            let is_dir_entry = path.is_dir();
            let name = file
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default();
            if is_dir_entry && !name.starts_with(&format!("{}-", target.name())) {
                continue;
            }
            let input = std::fs::read(file).expect("read the input to replay");
            let times: Vec<String> = (0..3)
                .map(|_| {
                    let started = std::time::Instant::now();
                    target.run(&input);
                    format!("{:.1}", started.elapsed().as_secs_f64() * 1000.0)
                })
                .collect();
            println!("{} {name}: {} ms", target.name(), times.join(" / "));
        }
    }
}
