//! Benchmark: the interactive view's memory and time to its first full screen, measured on
//! the real binary in a real terminal (tmux): `certdx --snapshot estate.yaml` on the synthetic
//! estate of 5,000 Certificates (20,001 objects, the dump of `cargo bench --bench report`),
//! from launch until the overview's header counts every Certificate, with the process's peak
//! RSS (VmHWM) at that moment. Next to it, in the same run, what a user would otherwise open
//! the dump with: `less` (and `vim -R` when installed), until their first screen shows.
//!
//! `cargo bench --bench view` (median of 3 wall times, largest peak). Under `cargo test` it
//! runs once on 50 Certificates as a smoke test.

#[path = "../common/synthetic.rs"]
mod synthetic;
#[path = "terminal.rs"]
mod terminal;

use std::path::Path;
use std::time::Duration;

use terminal::Run;

fn main() {
    let bench = std::env::args().any(|a| a == "--bench");
    let (certificates, repeats) = if bench { (5000, 3) } else { (50, 1) };
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("estate.yaml");
    std::fs::write(&path, synthetic::estate_yaml(certificates)).expect("writing the estate");
    let certdx = env!("CARGO_BIN_EXE_certdx");
    let file = path.display().to_string();
    for p in [certdx, file.as_str()] {
        assert!(
            !p.contains(|c: char| c.is_whitespace() || "'\"\\$`".contains(c)),
            "path needs shell quoting: {p}"
        );
    }
    let header = format!("· {certificates} Certificates: ");
    let mut tools: Vec<(String, String, &str, &str, &[&str])> = vec![(
        "`certdx --snapshot estate.yaml`, until the full overview is on screen".to_owned(),
        format!("exec {certdx} --snapshot {file}"),
        "certdx",
        header.as_str(),
        &["q"],
    )];
    if bench {
        tools.push((
            "`less estate.yaml`, until its first screen".to_owned(),
            format!("exec less {file}"),
            "less",
            "apiVersion",
            &["q"],
        ));
        if std::process::Command::new("vim")
            .arg("--version")
            .output()
            .is_ok()
        {
            tools.push((
                "`vim -R estate.yaml`, until its first screen".to_owned(),
                format!("exec vim -R -u NONE {file}"),
                "vim",
                "apiVersion",
                &[":q!", "Enter"],
            ));
        }
    }
    let mut runs: Vec<Vec<Run>> = tools.iter().map(|_| Vec::new()).collect();
    for _ in 0..repeats {
        // Interleaved, so a slow moment of the machine hits every tool alike.
        for (i, (_, shell, name, ready, quit)) in tools.iter().enumerate() {
            runs[i].push(terminal::view_until(shell, name, ready, quit));
        }
    }
    if !bench {
        assert!(runs[0][0].peak_kib > 0);
        println!("view benchmark smoke: 1 passed, 0 failed");
        return;
    }
    let size = std::fs::metadata(Path::new(&path)).map_or(0, |m| m.len());
    println!(
        "estate: {certificates} Certificates, {} objects, {:.1} MiB of YAML",
        certificates * 4 + 1,
        size as f64 / (1024.0 * 1024.0)
    );
    println!("| command | wall time | peak memory |\n|---|---|---|");
    for ((what, ..), runs) in tools.iter().zip(&runs) {
        let mut walls: Vec<Duration> = runs.iter().map(|r| r.wall).collect();
        walls.sort();
        let peak = runs.iter().map(|r| r.peak_kib).max().unwrap_or(0);
        println!(
            "| {what} | {:.2} s | {:.0} MiB |",
            walls[walls.len() / 2].as_secs_f64(),
            peak as f64 / 1024.0
        );
    }
}
