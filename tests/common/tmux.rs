//! A real terminal for end-to-end tests of the interactive view: a tmux session on its own
//! server socket, driven with send-keys and read with capture-pane, killed on drop (also
//! when the test fails).

use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Sessions started by this process, for unique socket names.
static SESSIONS: AtomicUsize = AtomicUsize::new(0);

/// One tmux server with one session running a command.
pub struct Tmux {
    socket: String,
}

#[allow(dead_code)] // Each test binary uses a different part.
impl Tmux {
    /// Runs `cmd` (a shell command line) in `dir` on a 120x40 terminal.
    pub fn start(cmd: &str, dir: &Path) -> Tmux {
        let socket = format!(
            "certdx-e2e-{}-{}",
            std::process::id(),
            SESSIONS.fetch_add(1, Ordering::SeqCst)
        );
        let t = Tmux { socket };
        let status = Command::new("tmux")
            .args([
                "-L",
                &t.socket,
                "new-session",
                "-d",
                "-x",
                "120",
                "-y",
                "40",
                "-c",
            ])
            .arg(dir)
            .arg(cmd)
            .env_remove("NO_COLOR")
            .status()
            .expect("tmux runs (apt-get install tmux)");
        assert!(status.success());
        t
    }

    /// Sends keys (tmux key names, or `-l` then literal text).
    pub fn keys(&self, keys: &[&str]) {
        let status = Command::new("tmux")
            .args(["-L", &self.socket, "send-keys", "-t", "0"])
            .args(keys)
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Runs a tmux command on this server (e.g. `set -g set-clipboard on`); its stdout.
    pub fn command(&self, args: &[&str]) -> String {
        let out = Command::new("tmux")
            .args(["-L", &self.socket])
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "tmux {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The screen as text.
    pub fn screen(&self) -> String {
        let out = Command::new("tmux")
            .args(["-L", &self.socket, "capture-pane", "-p", "-t", "0"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Waits (at most `limit`) until the screen contains `text`, and returns the screen.
    pub fn wait_for(&self, text: &str, limit: Duration) -> String {
        self.wait_until(text, limit, |s| s.contains(text))
    }

    /// Waits (at most `limit`) until the screen no longer contains `text`.
    pub fn wait_gone(&self, text: &str, limit: Duration) -> String {
        self.wait_until(&format!("{text} to go"), limit, |s| !s.contains(text))
    }

    fn wait_until(&self, what: &str, limit: Duration, done: impl Fn(&str) -> bool) -> String {
        let start = Instant::now();
        loop {
            let screen = self.screen();
            if done(&screen) {
                return screen;
            }
            assert!(
                start.elapsed() < limit,
                "waited {limit:?} for {what:?}; screen:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["-L", &self.socket, "kill-server"])
            .status();
    }
}
