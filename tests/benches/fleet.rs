//! Benchmark: one batch of single-name certificates on a PostgreSQL state, issued by one
//! `certdx issue` worker and then by three sharing it (behind a round-robin balancer on the
//! HTTP-01 port, each on a fresh database and a fresh Pebble with `PEBBLE_VA_NOSLEEP=1`), next
//! to one worker on the default SQLite state. For each: wall time, certificates per second,
//! each worker's peak memory, and where the CPU went (Pebble, PostgreSQL, certdx) out of what
//! the machine had, to show which one is the limit.
//!
//! `cargo bench --bench fleet` (500 names). Under `cargo test` it runs 12 names, as a smoke
//! test.

#[path = "../common/balancer.rs"]
mod balancer;
#[path = "../common/pebble_lab.rs"]
mod pebble_lab;
#[path = "../common/pg_issue.rs"]
mod pg_issue;
#[allow(clippy::duplicate_mod)]
#[path = "../common/pg_lab.rs"]
mod pg_lab;

#[path = "measure.rs"]
mod measure;

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use balancer::Balancer;
use measure::{Run, measure_with};
use pebble_lab::PebbleLab;
use pg_issue::{free_loopback, pg_issue_at};
use pg_lab::PgLab;

/// Clock ticks per second for /proc's CPU times (USER_HZ, 100 on Linux).
const TICKS: f64 = 100.0;

/// CPU seconds so far: the whole machine, Pebble, and the PostgreSQL server (its postmaster,
/// live backends, and the backends it already reaped).
#[derive(Clone, Copy, Default)]
struct Cpu {
    machine: f64,
    pebble: f64,
    postgres: f64,
}

impl std::ops::Sub for Cpu {
    type Output = Cpu;
    fn sub(self, o: Cpu) -> Cpu {
        Cpu {
            machine: self.machine - o.machine,
            pebble: self.pebble - o.pebble,
            postgres: self.postgres - o.postgres,
        }
    }
}

/// `/proc/PID/stat` fields after the command name: (ppid, utime+stime, cutime+cstime) in s.
fn stat(pid: u32) -> Option<(u32, f64, f64)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &text[text.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let n = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    let ppid = f.get(1)?.parse().ok()?;
    Some((ppid, (n(11) + n(12)) / TICKS, (n(13) + n(14)) / TICKS))
}

fn pids() -> Vec<u32> {
    std::fs::read_dir("/proc")
        .map(|d| {
            d.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

fn cmdline(pid: u32) -> String {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|b| String::from_utf8_lossy(&b).replace('\0', " "))
        .unwrap_or_default()
}

fn cpu(lab: &PebbleLab, pg: &PgLab) -> Cpu {
    let machine = std::fs::read_to_string("/proc/stat")
        .ok()
        .and_then(|s| {
            let line = s.lines().next()?.to_string();
            let v: Vec<f64> = line
                .split_whitespace()
                .skip(1)
                .filter_map(|x| x.parse().ok())
                .collect();
            // user nice system (idle iowait) irq softirq steal
            Some((v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) / TICKS)
        })
        .unwrap_or(0.0);
    let lab_dir = lab.dir().display().to_string();
    let port = format!("-p {}", pg.port());
    let all = pids();
    let pebble = all
        .iter()
        .filter(|p| {
            let c = cmdline(**p);
            c.starts_with("pebble ") && c.contains(&lab_dir)
        })
        .filter_map(|p| stat(*p))
        .map(|(_, own, _)| own)
        .sum();
    let postmaster = all
        .iter()
        .copied()
        .find(|p| cmdline(*p).contains("postgres") && cmdline(*p).contains(&port));
    let postgres = postmaster.map_or(0.0, |pm| {
        let (_, own, reaped) = stat(pm).unwrap_or_default();
        let children: f64 = all
            .iter()
            .filter_map(|p| stat(*p))
            .filter(|(ppid, _, _)| *ppid == pm)
            .map(|(_, own, _)| own)
            .sum();
        own + reaped + children
    });
    Cpu {
        machine,
        pebble,
        postgres,
    }
}

fn names(n: usize) -> Vec<String> {
    (0..n)
        .map(|i| format!("b{i:03}.fleet.bench.test"))
        .collect()
}

/// What one configuration did.
struct Outcome {
    wall: Duration,
    peaks_mib: Vec<i64>,
    cpu: Cpu,
}

/// `workers` workers on one batch of `names` against a fresh Pebble, state `state` (a
/// PostgreSQL URL, or `None` for SQLite), measured together.
fn run(
    rt: &tokio::runtime::Runtime,
    pg: &PgLab,
    state: Option<String>,
    workers: usize,
    names: &[String],
) -> Outcome {
    let lab = rt.block_on(PebbleLab::start());
    let dir = tempfile::tempdir().unwrap();
    let domains = dir.path().join("domains.txt");
    std::fs::write(&domains, names.join("\n")).unwrap();
    let directory = lab.directory_url();
    let listens: Vec<_> = (0..workers).map(|_| free_loopback()).collect();
    let _balancer =
        (workers > 1).then(|| rt.block_on(Balancer::start(lab.http01_addr(), listens.clone())));
    let commands: Vec<std::process::Command> = listens
        .iter()
        .map(|listen| {
            let mut cmd = match &state {
                Some(url) => {
                    let at = (workers > 1).then_some(*listen);
                    pg_issue_at(&lab, &directory, dir.path(), &domains, url, at)
                }
                None => {
                    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_certdx"));
                    cmd.arg("issue")
                        .args(lab.issue_flags(&directory, dir.path()))
                        .arg("--domains-file")
                        .arg(&domains);
                    cmd
                }
            };
            cmd.stdout(Stdio::null());
            let mut std = std::process::Command::new(cmd.as_std().get_program());
            std.args(cmd.as_std().get_args());
            for (k, v) in cmd.as_std().get_envs() {
                match v {
                    Some(v) => std.env(k, v),
                    None => std.env_remove(k),
                };
            }
            std
        })
        .collect();
    let before = cpu(&lab, pg);
    let started = Instant::now();
    let runs: Vec<Run> = std::thread::scope(|s| {
        let handles: Vec<_> = commands
            .iter()
            .map(|c| s.spawn(move || measure_with(c, None, Some(devnull()))))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let wall = started.elapsed();
    let used = cpu(&lab, pg) - before;
    for r in &runs {
        assert_eq!(r.code, 0, "a worker failed");
    }
    assert_all_issued(dir.path(), names.len());
    Outcome {
        wall,
        peaks_mib: runs.iter().map(|r| r.max_rss_kib / 1024).collect(),
        cpu: used,
    }
}

fn devnull() -> std::fs::File {
    std::fs::File::create("/dev/null").unwrap()
}

/// Every certificate is on disk.
fn assert_all_issued(dir: &Path, n: usize) {
    let certs = std::fs::read_dir(dir.join("certs"))
        .map(|d| {
            d.filter_map(|e| e.ok())
                .filter(|e| e.path().extension().is_some_and(|x| x == "crt"))
                .count()
        })
        .unwrap_or(0);
    assert!(certs >= n, "{certs} certificate files for {n} names");
}

fn main() {
    measure::serve_helper();
    let bench = std::env::args().any(|a| a == "--bench");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let n = if bench { 500 } else { 12 };
    let names = names(n);
    let pg = PgLab::start();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
    println!(
        "| workers | state | certificates | wall | certificates/s | peak memory per worker | CPU: certdx / PostgreSQL / Pebble | machine busy |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for (workers, state) in [
        (1, None),
        (1, Some(pg.database())),
        (3, Some(pg.database())),
    ] {
        let label = if state.is_some() {
            "PostgreSQL"
        } else {
            "SQLite"
        };
        let o = run(&rt, &pg, state, workers, &names);
        let certdx = (o.cpu.machine - o.cpu.postgres - o.cpu.pebble).max(0.0);
        let peaks: Vec<String> = o.peaks_mib.iter().map(|m| format!("{m} MiB")).collect();
        println!(
            "| {workers} | {label} | {n} | {:.1} s | {:.1} | {} | {:.1} s / {:.1} s / {:.1} s | {:.0} % |",
            o.wall.as_secs_f64(),
            n as f64 / o.wall.as_secs_f64(),
            peaks.join(", "),
            certdx,
            o.cpu.postgres,
            o.cpu.pebble,
            100.0 * o.cpu.machine / (o.wall.as_secs_f64() * cores)
        );
    }
}
