//! Wall time and peak memory of one child process, for the benchmarks.

use std::process::Command;
use std::time::{Duration, Instant};

/// A finished command: wall time, peak resident memory, exit code (-1 if killed by a signal).
pub struct Run {
    /// From spawn to exit.
    pub wall: Duration,
    /// Peak RSS in KiB, as wait4 reports it.
    pub max_rss_kib: i64,
    /// The exit code.
    pub code: i32,
}

/// Runs `cmd` (stdout discarded) and measures it through wait4, so each child's own peak is
/// seen, not the maximum over all children. A child starts with the peak of the process that
/// forked it, so the measuring process should itself be small when this is called.
pub fn measure(cmd: &mut Command) -> Run {
    let start = Instant::now();
    let child = cmd
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("spawn");
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: rusage is plain data, zero is a valid initial value; pid is our own child.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(rc, pid, "wait4 failed");
    std::mem::forget(child); // already reaped by wait4
    Run {
        wall: start.elapsed(),
        max_rss_kib: usage.ru_maxrss,
        code: if libc::WIFEXITED(status) {
            libc::WEXITSTATUS(status)
        } else {
            -1
        },
    }
}

/// The median run by wall time, with the largest peak memory of all runs.
#[allow(dead_code)] // each bench includes this file; not every one takes a median
pub fn median(mut runs: Vec<Run>) -> Run {
    runs.sort_by_key(|r| r.wall);
    let max_rss = runs.iter().map(|r| r.max_rss_kib).max().unwrap_or(0);
    let mid = runs.swap_remove(runs.len() / 2);
    Run {
        max_rss_kib: max_rss,
        ..mid
    }
}
