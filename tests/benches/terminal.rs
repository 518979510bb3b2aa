//! The interactive programs the benchmarks compare, run in a real terminal (tmux) the way a
//! person runs them: time until a given text is on screen, and peak memory at that moment.

use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Bounds each run until its screen is ready.
const RUN_LIMIT: Duration = Duration::from_secs(180);
/// Bounds the exit after `q`.
const QUIT_LIMIT: Duration = Duration::from_secs(20);
/// Bounds each short tool call (tmux).
const TOOL_LIMIT: Duration = Duration::from_secs(20);
/// How often the screen is read.
const POLL: Duration = Duration::from_millis(20);

/// One measured run: wall time and peak resident memory.
pub struct Run {
    /// From launch until the screen was ready.
    pub wall: Duration,
    /// VmHWM at that moment, KiB.
    pub peak_kib: u64,
}

/// `program` under coreutils' `timeout`: a hung tmux server or command cannot stall the
/// benchmark.
pub fn bounded(limit: Duration, program: &str) -> Command {
    let mut c = Command::new("timeout");
    c.args(["--kill-after=5", &format!("{}", limit.as_secs()), program]);
    c
}

/// A tmux server on its own socket, killed on drop (also when the benchmark panics).
struct Tmux {
    socket: String,
}

impl Tmux {
    fn command(&self) -> Command {
        let mut c = bounded(TOOL_LIMIT, "tmux");
        c.args(["-L", &self.socket]);
        c
    }

    /// `tmux display -p FORMAT` for the pane, or None once the server is gone.
    fn display(&self, format: &str) -> Option<String> {
        let out = self
            .command()
            .args(["display", "-p", "-t", "bench", format])
            .stderr(Stdio::null())
            .output()
            .ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
    }

    fn screen(&self) -> String {
        let out = self
            .command()
            .args(["capture-pane", "-p", "-t", "bench"])
            .stderr(Stdio::null())
            .output()
            .expect("tmux capture-pane");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self
            .command()
            .arg("kill-server")
            .stderr(Stdio::null())
            .status();
    }
}

/// Runs `shell` (a command line starting with `exec`, so the pane's process is the program
/// itself) in a 200x50 tmux pane and measures the time from launch until the screen shows
/// `ready`, and the process's peak RSS at that moment (named `name` in /proc); then quits it
/// with the tmux keys `quit` (`["q"]` for certdx and less) and checks it exited 0.
pub fn view_until(shell: &str, name: &str, ready: &str, quit: &[&str]) -> Run {
    static RUNS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let run = RUNS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = tempfile::tempdir().expect("tmux config dir");
    // Its own config: no user settings, and a dead pane stays, so the screen of a crash can
    // still be read.
    let conf = dir.path().join("tmux.conf");
    fs::write(&conf, "set -g remain-on-exit on\n").expect("writing tmux.conf");
    assert!(
        shell.starts_with("exec "),
        "{shell}: pane_pid must be the program"
    );
    let tmux = Tmux {
        socket: format!("certdx-bench-{}-{run}", std::process::id()),
    };

    let start = Instant::now();
    let out = tmux
        .command()
        .arg("-f")
        .arg(&conf)
        .args(["new-session", "-d", "-s", "bench", "-x", "200", "-y", "50"])
        .args(["-P", "-F", "#{pane_pid}"])
        .arg(shell)
        .env_remove("KUBECONFIG")
        .env_remove("CERTDX_LOG")
        .output()
        .expect("tmux runs (apt-get install tmux)");
    assert!(
        out.status.success(),
        "tmux new-session: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let pid: u32 = String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .expect("tmux printed the pane's pid");
    let wall = loop {
        let screen = tmux.screen();
        if screen.contains(ready) {
            break start.elapsed();
        }
        if tmux.display("#{pane_dead}").as_deref() != Some("0") {
            panic!("{name} left before showing {ready:?}; screen:\n{screen}");
        }
        assert!(
            start.elapsed() < RUN_LIMIT,
            "no {ready:?} after {RUN_LIMIT:?}; screen:\n{screen}"
        );
        std::thread::sleep(POLL);
    };
    let peak_kib = vm_hwm_kib(pid, name);

    let sent = tmux
        .command()
        .args(["send-keys", "-t", "bench"])
        .args(quit)
        .status()
        .expect("tmux send-keys");
    assert!(sent.success(), "tmux send-keys failed");
    let quit = Instant::now();
    loop {
        match fate(pid) {
            Fate::Running => {}
            Fate::Ended(status) => {
                assert!(
                    libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
                    "{name} ended with wait status {status:#x} after quitting; screen:\n{}",
                    tmux.screen()
                );
                break;
            }
            Fate::Reaped => {
                let code = tmux.display("#{pane_dead_status}");
                assert_eq!(
                    code.as_deref(),
                    Some("0"),
                    "{name} exit status after quitting; screen:\n{}",
                    tmux.screen()
                );
                break;
            }
        }
        assert!(
            quit.elapsed() < QUIT_LIMIT,
            "{name} still running {QUIT_LIMIT:?} after quitting; screen:\n{}",
            tmux.screen()
        );
        std::thread::sleep(POLL);
    }
    Run { wall, peak_kib }
}

/// The peak resident set of a running process (VmHWM in /proc/PID/status).
fn vm_hwm_kib(pid: u32, name: &str) -> u64 {
    let status = fs::read_to_string(Path::new("/proc").join(pid.to_string()).join("status"))
        .unwrap_or_else(|e| panic!("reading /proc/{pid}/status: {e}"));
    assert!(
        status
            .lines()
            .any(|l| l.starts_with("Name:") && l.contains(name)),
        "pid {pid} is not {name}:\n{status}"
    );
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no VmHWM in /proc/{pid}/status"))
}

/// Where a process of the pane is in its life.
enum Fate {
    Running,
    /// Exited, not yet reaped: its wait status.
    Ended(i32),
    /// Exited and reaped: only its parent knows how it ended.
    Reaped,
}

/// Reads `pid`'s fate from /proc. The view's exit is judged here rather than through tmux's
/// `pane_dead_status`: on this machine tmux 3.3a sometimes leaves its pane's process a zombie
/// for good (its SIGCHLD seemingly lost), and then never learns the status.
fn fate(pid: u32) -> Fate {
    let Ok(stat) = fs::read_to_string(Path::new("/proc").join(pid.to_string()).join("stat")) else {
        return Fate::Reaped;
    };
    // The fields after the command name, which may itself hold spaces and parentheses.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    match fields.first() {
        // Field 52, exit_code (the wait status), is the 50th after the name.
        Some(&"Z") | Some(&"X") => {
            Fate::Ended(fields.get(49).and_then(|c| c.parse().ok()).unwrap_or(-1))
        }
        _ => Fate::Running,
    }
}
