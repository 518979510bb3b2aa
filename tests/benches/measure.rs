//! Wall time and peak memory of one child process, for the benchmarks.
//!
//! A child's `ru_maxrss` starts at its parent's resident size at fork time: the kernel keeps
//! the forked copy's high-water mark across exec. A benchmark holds its generated estate or
//! log in memory, so a command it forked itself would seem to use at least that much. Each
//! command is therefore started by a fresh copy of the benchmark binary (the helper: it has
//! touched almost no memory), which forks the command, reads its own child's peak with wait4
//! and prints it. Every benchmark's `main` calls [`serve_helper`] first.

use std::fs::File;
use std::io::{Read as _, Seek as _};
use std::os::unix::process::CommandExt as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The first argument of a benchmark binary started as the helper.
const HELPER_ARG: &str = "--certdx-bench-measure";
/// Bounds every measured command: a hung command fails the benchmark, not the machine.
const RUN_LIMIT: Duration = Duration::from_secs(30 * 60);

/// A finished command: wall time, peak resident memory, exit code (-1 if killed by a signal).
pub struct Run {
    /// From spawn to exit.
    pub wall: Duration,
    /// Peak RSS in KiB, as wait4 reports it for the command alone.
    pub max_rss_kib: i64,
    /// The exit code.
    pub code: i32,
}

/// When this binary was started as the helper, runs the command it was given and exits;
/// otherwise returns at once. Call it first in `main`.
pub fn serve_helper() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some(HELPER_ARG) {
        helper(&args[2..]);
    }
}

/// Runs `cmd` (stdout discarded) and measures it; see the module comment.
#[allow(dead_code)] // each bench includes this file; not every one uses both forms
pub fn measure(cmd: &mut Command) -> Run {
    measure_with(cmd, None, None)
}

/// [`measure`], with the command's standard input read from `stdin` and its standard error
/// written to `stderr` (inherited otherwise).
pub fn measure_with(cmd: &Command, stdin: Option<&Path>, stderr: Option<File>) -> Run {
    let mut helper = Command::new(std::env::current_exe().expect("the benchmark's own path"));
    helper
        .arg(HELPER_ARG)
        .arg(stdin.map_or_else(|| "-".to_owned(), |p| p.display().to_string()))
        .arg(cmd.get_program())
        .args(cmd.get_args());
    if let Some(dir) = cmd.get_current_dir() {
        helper.current_dir(dir);
    }
    for (key, value) in cmd.get_envs() {
        match value {
            Some(v) => helper.env(key, v),
            None => helper.env_remove(key),
        };
    }
    // A file, not a pipe: nothing can block on it.
    let mut report = tempfile::tempfile().expect("helper output file");
    helper
        .stdin(Stdio::null())
        .stdout(report.try_clone().expect("helper output handle"));
    if let Some(file) = stderr {
        helper.stderr(file);
    }
    let start = Instant::now();
    let mut child = helper.spawn().expect("starting the measuring helper");
    let status = loop {
        if let Some(status) = child.try_wait().expect("waiting for the helper") {
            break status;
        }
        if start.elapsed() > RUN_LIMIT {
            // The helper's death kills the command (PR_SET_PDEATHSIG).
            let _ = child.kill();
            let _ = child.wait();
            panic!("{:?} still running after {RUN_LIMIT:?}", cmd.get_program());
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let mut line = String::new();
    let _ = report.rewind();
    let _ = report.read_to_string(&mut line);
    let fields: Vec<i64> = line
        .split_whitespace()
        .filter_map(|f| f.parse().ok())
        .collect();
    let [wall_ns, peak_kib, code] = fields[..] else {
        panic!("the measuring helper failed ({status}): {line:?}");
    };
    Run {
        wall: Duration::from_nanos(wall_ns as u64),
        max_rss_kib: peak_kib,
        code: code as i32,
    }
}

/// The helper: `STDIN_PATH|- PROGRAM ARGS...`. Runs the command with stdout to /dev/null,
/// waits for it with wait4 and prints `WALL_NS PEAK_KIB EXIT_CODE` (-1 for a signal).
fn helper(argv: &[String]) -> ! {
    let [stdin, program, args @ ..] = argv else {
        eprintln!("usage: {HELPER_ARG} STDIN|- PROGRAM [ARGS...]");
        std::process::exit(2);
    };
    let mut cmd = Command::new(program);
    cmd.args(args).stdout(Stdio::null());
    if stdin == "-" {
        cmd.stdin(Stdio::null());
    } else {
        cmd.stdin(File::open(stdin).expect("the command's standard input"));
    }
    // SAFETY: prctl is async-signal-safe and touches only the child's own state. The helper
    // is single-threaded, so the signal fires when the helper dies (killed on overrun).
    unsafe {
        cmd.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let start = Instant::now();
    let child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("starting {program}: {e}"));
    let pid = child.id() as libc::pid_t;
    std::mem::forget(child); // reaped by wait4 below
    let mut status = 0;
    // SAFETY: rusage is plain data, zero is a valid initial value; pid is our own child.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(rc, pid, "wait4: {}", std::io::Error::last_os_error());
    let code = if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        -1
    };
    println!("{} {} {code}", start.elapsed().as_nanos(), usage.ru_maxrss);
    std::process::exit(0);
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
