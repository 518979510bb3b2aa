//! A real PostgreSQL server on loopback for the shared-state tests: Debian's `postgresql`
//! (15 on Debian 12; any major under /usr/lib/postgresql works), one cluster per [`PgLab`] in
//! a temporary directory, listening on 127.0.0.1 and a free port, trust authentication for
//! user `certdx`.
//!
//! PostgreSQL refuses to run as root: when the tests run as root, the directory is given to
//! the `postgres` user and `initdb` / `pg_ctl` run through `runuser -u postgres --`; as any
//! other user they run directly. Every wait is bounded. Dropping the lab stops the server
//! (`pg_ctl stop -m fast`, then SIGKILL of the postmaster if that did not work), also when a
//! test panics. A test binary killed with SIGKILL leaves its server running: pg_ctl detaches
//! the postmaster, so no parent-death signal reaches it.
//!
//! Each test asks for its own database ([`PgLab::database`]), so tests sharing nothing but the
//! server never see each other's rows.
//!
//! Include it with `#[path = "common/pg_lab.rs"] mod pg_lab;`.

#![allow(dead_code)]

#[path = "ports.rs"]
mod ports;

use std::ffi::CString;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use ports::free_port;

/// How long initdb may take (a few seconds on a loaded 2-core machine).
const INITDB_DEADLINE: Duration = Duration::from_secs(120);
/// How long the server may take to accept connections (`pg_ctl -w -t`).
const START_SECS: u64 = 60;
/// How long a fast shutdown may take before the postmaster is killed.
const STOP_SECS: u64 = 20;

/// The Debian package that provides the server binaries.
pub const PACKAGE: &str = "postgresql";

/// One running PostgreSQL cluster. See the module documentation.
pub struct PgLab {
    dir: tempfile::TempDir,
    bin: PathBuf,
    port: u16,
    as_postgres: bool,
    stopped: bool,
}

/// The newest `/usr/lib/postgresql/<major>/bin` holding `initdb` and `pg_ctl`.
pub fn find_bin_dir() -> Option<PathBuf> {
    let mut found: Vec<(u32, PathBuf)> = fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let major: u32 = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            (bin.join("initdb").is_file() && bin.join("pg_ctl").is_file()).then_some((major, bin))
        })
        .collect();
    found.sort();
    found.pop().map(|(_, bin)| bin)
}

/// The uid and gid of the `postgres` user.
fn postgres_ids() -> Option<(u32, u32)> {
    let name = CString::new("postgres").ok()?;
    // SAFETY: getpwnam is given a valid C string; the returned record is read at once, before
    // any other call could overwrite its static storage (tests do not call getpwnam elsewhere).
    unsafe {
        let pw = libc::getpwnam(name.as_ptr());
        if pw.is_null() {
            return None;
        }
        Some(((*pw).pw_uid, (*pw).pw_gid))
    }
}

/// Runs `cmd` to its end, killing it at `deadline`.
fn run_bounded(mut cmd: Command, deadline: Duration, what: &str) -> Output {
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{what}: cannot start: {e}"));
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(deadline) {
        Ok(out) => out.unwrap_or_else(|e| panic!("{what}: {e}")),
        Err(_) => {
            // SAFETY: kill has no memory-safety preconditions; the pid is our unreaped child.
            unsafe {
                libc::kill(pid as i32, libc::SIGKILL);
            }
            panic!("{what}: still running after {deadline:?}, killed");
        }
    }
}

static NEXT_DB: AtomicU32 = AtomicU32::new(0);

impl PgLab {
    /// Creates and starts a cluster. Panics, naming the package to install, when the server
    /// binaries are missing: a missing PostgreSQL is a failed test, never a skipped one.
    pub fn start() -> PgLab {
        PgLab::start_with(None)
    }

    /// [`PgLab::start`] with TLS on (`ssl=on`): `tls` is the server's certificate chain and
    /// its key, in PEM. Plain-text connections are still accepted.
    pub fn start_with_tls(cert_pem: &str, key_pem: &str) -> PgLab {
        PgLab::start_with(Some((cert_pem, key_pem)))
    }

    fn start_with(tls: Option<(&str, &str)>) -> PgLab {
        let bin = find_bin_dir().unwrap_or_else(|| {
            panic!(
                "PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin: install \
                 Debian's `{PACKAGE}` package (tests/lab/install-packages.sh does)"
            )
        });
        // SAFETY: geteuid has no preconditions.
        let as_postgres = unsafe { libc::geteuid() } == 0;
        let dir = tempfile::Builder::new()
            .prefix("certdx-pg-")
            .tempdir()
            .expect("temporary directory");
        if as_postgres {
            let (uid, gid) = postgres_ids().unwrap_or_else(|| {
                panic!("no `postgres` user: install Debian's `{PACKAGE}` package")
            });
            std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid)).expect("chown lab dir");
            fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o700))
                .expect("chmod lab dir");
        }
        let port = free_port();
        let mut lab = PgLab {
            dir,
            bin,
            port,
            as_postgres,
            stopped: true,
        };
        let data = lab.data_dir();
        let out = run_bounded(
            lab.command(
                "initdb",
                &[
                    "-D",
                    data.to_str().unwrap(),
                    "-A",
                    "trust",
                    "-U",
                    "certdx",
                    "--no-sync",
                ],
            ),
            INITDB_DEADLINE,
            "initdb",
        );
        assert!(out.status.success(), "initdb failed: {}", describe(&out));
        let mut options = format!(
            "-c listen_addresses=127.0.0.1 -p {port} -k {} -c fsync=off",
            lab.dir.path().display()
        );
        if let Some((cert, key)) = tls {
            // The server reads them from its data directory, as its own user, and refuses a
            // key others may read.
            for (name, pem) in [("server.crt", cert), ("server.key", key)] {
                let path = data.join(name);
                fs::write(&path, pem).expect("writing the server's TLS files");
                fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).expect("chmod");
                if as_postgres {
                    let (uid, gid) = postgres_ids().expect("postgres user");
                    std::os::unix::fs::chown(&path, Some(uid), Some(gid)).expect("chown");
                }
            }
            options.push_str(" -c ssl=on -c ssl_cert_file=server.crt -c ssl_key_file=server.key");
        }
        let log = lab.dir.path().join("log");
        let out = run_bounded(
            lab.command(
                "pg_ctl",
                &[
                    "-D",
                    data.to_str().unwrap(),
                    "-o",
                    &options,
                    "-l",
                    log.to_str().unwrap(),
                    "-w",
                    "-t",
                    &START_SECS.to_string(),
                    "start",
                ],
            ),
            Duration::from_secs(START_SECS + 10),
            "pg_ctl start",
        );
        lab.stopped = false;
        assert!(
            out.status.success(),
            "pg_ctl start failed: {}\nserver log:\n{}",
            describe(&out),
            fs::read_to_string(&log).unwrap_or_default()
        );
        lab
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// A command running one of the server's binaries as the right user.
    fn command(&self, tool: &str, args: &[&str]) -> Command {
        let exe = self.bin.join(tool);
        let mut cmd = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(exe);
            c
        } else {
            Command::new(exe)
        };
        cmd.args(args);
        cmd
    }

    /// The port the server listens on (127.0.0.1).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The URL of database `db` for user certdx.
    pub fn url(&self, db: &str) -> String {
        format!("postgres://certdx@127.0.0.1:{}/{db}", self.port)
    }

    /// Creates a fresh, empty database and returns its URL.
    pub fn database(&self) -> String {
        let name = format!(
            "t{}_{}",
            std::process::id(),
            NEXT_DB.fetch_add(1, Ordering::SeqCst)
        );
        let admin = self.url("postgres");
        let sql = format!("CREATE DATABASE {name}");
        // The synchronous client runs its own runtime: keep it off any tokio thread.
        std::thread::spawn(move || {
            let mut client = postgres::Client::connect(&admin, postgres::NoTls)
                .unwrap_or_else(|e| panic!("connect to {admin}: {e}"));
            client
                .batch_execute(&sql)
                .unwrap_or_else(|e| panic!("{sql}: {e}"));
        })
        .join()
        .expect("create database");
        self.url(&name)
    }

    /// Runs `sql` on database URL `url` (for tests that reach past the store's API).
    pub fn execute(&self, url: &str, sql: &str) {
        let (url, sql) = (url.to_string(), sql.to_string());
        std::thread::spawn(move || {
            let mut client = postgres::Client::connect(&url, postgres::NoTls).expect("connect");
            client
                .batch_execute(&sql)
                .unwrap_or_else(|e| panic!("{sql}: {e}"));
        })
        .join()
        .expect("execute");
    }

    /// The server's log so far (for failure messages).
    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.path().join("log")).unwrap_or_default()
    }

    /// Stops the server; a second call does nothing.
    pub fn stop(&mut self) {
        if self.stopped {
            return;
        }
        self.stopped = true;
        let data = self.data_dir();
        let mut cmd = self.command(
            "pg_ctl",
            &[
                "-D",
                data.to_str().unwrap(),
                "-m",
                "fast",
                "-w",
                "-t",
                &STOP_SECS.to_string(),
                "stop",
            ],
        );
        let stopped = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        if !stopped {
            self.kill_postmaster();
        }
    }

    /// SIGKILLs the postmaster named in its pid file (its backends exit when it is gone).
    fn kill_postmaster(&self) {
        let pid_file = self.data_dir().join("postmaster.pid");
        let Some(pid) = fs::read_to_string(&pid_file)
            .ok()
            .and_then(|t| t.lines().next()?.trim().parse::<i32>().ok())
        else {
            return;
        };
        if pid > 1 {
            // SAFETY: kill has no memory-safety preconditions; the pid is this lab's postmaster.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
            }
        }
    }
}

impl Drop for PgLab {
    fn drop(&mut self) {
        self.stop();
    }
}

fn describe(out: &Output) -> String {
    format!(
        "{:?}\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}
