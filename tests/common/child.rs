//! Child processes of the test labs (etcd, kube-apiserver, pebble, ...): started so they die
//! with the test binary, stopped and reaped within a bound, their logs readable.

#![allow(dead_code)] // Each lab uses a different part.

use std::fs;
use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command};
use std::sync::{Mutex, OnceLock, mpsc};
use std::time::{Duration, Instant};

/// Spawns `cmd` (with [`die_with_parent`] applied) from one thread that lives as long as the
/// test binary. `PR_SET_PDEATHSIG` fires when the *thread* that forked the child exits, and a
/// test runtime's threads (or a blocking pool's) come and go: a child forked from one of them
/// would be killed mid-test.
pub fn spawn(mut cmd: Command) -> std::io::Result<Child> {
    type Request = (Command, mpsc::Sender<std::io::Result<Child>>);
    static SPAWNER: OnceLock<Mutex<mpsc::Sender<Request>>> = OnceLock::new();
    die_with_parent(&mut cmd);
    let spawner = SPAWNER.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<Request>();
        std::thread::Builder::new()
            .name("lab-spawner".to_owned())
            .spawn(move || {
                for (mut cmd, reply) in rx {
                    let _ = reply.send(cmd.spawn());
                }
            })
            .expect("starting the labs' spawner thread");
        Mutex::new(tx)
    });
    let (reply, answer) = mpsc::channel();
    spawner
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .send((cmd, reply))
        .expect("the labs' spawner thread is alive");
    answer
        .recv_timeout(Duration::from_secs(30))
        .expect("the labs' spawner thread answered")
}

/// Sets `PR_SET_PDEATHSIG` so the child is SIGKILLed when the test process dies.
fn die_with_parent(cmd: &mut Command) {
    // SAFETY: prctl is async-signal-safe and touches only the child's own state.
    unsafe {
        cmd.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

/// SIGKILL and reap, waiting at most `limit`.
pub fn kill(mut child: Child, limit: Duration) {
    let _ = child.kill();
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The last `lines` lines of a log file (empty if it cannot be read).
pub fn tail(path: &Path, lines: usize) -> String {
    let mut text = String::new();
    if let Ok(mut f) = fs::File::open(path) {
        let _ = f.read_to_string(&mut text);
    }
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}
