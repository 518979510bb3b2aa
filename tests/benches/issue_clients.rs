//! The ACME clients `cargo bench --bench issue` compares `certdx issue` with, besides certbot:
//! uacme (C) and dehydrated (bash), both from Debian (`apt-get install uacme dehydrated`), both
//! answering HTTP-01 by writing key authorizations into a webroot that [`Webroot`] serves on
//! Pebble's HTTP-01 port, as a web server would in front of them.
//!
//! How each is run, and how it trusts the lab's TLS root (real trust in both cases, no
//! verification turned off):
//! - uacme 1.7: `uacme -y -c CONF -a DIR -t EC new`, then `uacme -c CONF -a DIR -t EC -h HOOK
//!   issue NAME`, one run per certificate: it has no batch mode, a run issues one certificate
//!   (with its alternative names), so a run per name is how it is used. It has no option for a CA
//!   file nor one to skip verification (`-n` is `--never-create`), and its libcurl (GnuTLS)
//!   reads only the system store, so it runs in a private mount namespace where a directory
//!   holding only the lab root is bind-mounted over /etc/ssl/certs ([`trust_only`]; needs
//!   root).
//! - dehydrated 0.7: `dehydrated --register --accept-terms -f CONFIG`, then either one
//!   `dehydrated -c -f CONFIG` over a domains.txt with one certificate per line (how it is
//!   meant to run, from cron), or `dehydrated -c -d NAME -f CONFIG` per name. Its curl trusts
//!   the lab root through `CURL_OPTS="--cacert ROOT"` in the config.
//!
//! Keys are ECDSA P-256 everywhere, like certdx's and certbot 2's defaults. Every client process
//! runs under coreutils' `timeout` (which signals the client's whole process group) and dies
//! with the benchmark (`PR_SET_PDEATHSIG`); the server stops when dropped.

use std::ffi::CString;
use std::net::SocketAddr;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::runtime::Runtime;
use tokio::task::JoinHandle;

use super::measure::{Run, measure_with};
use super::pebble_lab::PebbleLab;

/// How long one uacme or dehydrated run may take for one certificate.
const PER_CERT: Duration = Duration::from_secs(120);

/// `program` under `timeout`: SIGTERM to its process group after `limit`, SIGKILL 10 s later;
/// SIGKILLed if the benchmark dies first. Add the program's arguments to the result.
pub fn bounded(program: impl AsRef<std::ffi::OsStr>, limit: Duration) -> Command {
    let mut cmd = Command::new("timeout");
    cmd.arg("--kill-after=10")
        .arg(limit.as_secs().max(1).to_string())
        .arg(program);
    // SAFETY: prctl is async-signal-safe and changes only the child.
    unsafe {
        cmd.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    cmd
}

/// Whether `program` can be started at all.
pub fn installed(program: &str, version_flag: &str) -> bool {
    Command::new(program)
        .arg(version_flag)
        .stdin(std::process::Stdio::null())
        .output()
        .is_ok()
}

/// Makes `cmd` run in a private mount namespace in which `certs` is bind-mounted over
/// /etc/ssl/certs: what uacme's GnuTLS libcurl trusts, as file and as directory, is then the
/// lab root alone. Needs CAP_SYS_ADMIN (the benchmark runs as root on the lab machines).
fn trust_only(cmd: &mut Command, certs: &Path) {
    let source = CString::new(certs.as_os_str().as_bytes()).expect("path without NUL");
    // SAFETY: unshare and mount are plain system calls; nothing is allocated after the fork.
    unsafe {
        cmd.pre_exec(move || {
            let null = std::ptr::null();
            if libc::unshare(libc::CLONE_NEWNS) != 0
                || libc::mount(
                    c"none".as_ptr(),
                    c"/".as_ptr(),
                    null,
                    libc::MS_REC | libc::MS_PRIVATE,
                    null.cast(),
                ) != 0
                || libc::mount(
                    source.as_ptr(),
                    c"/etc/ssl/certs".as_ptr(),
                    null,
                    libc::MS_BIND,
                    null.cast(),
                ) != 0
            {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

/// Serves `GET /.well-known/acme-challenge/TOKEN` from files named TOKEN in a directory, one
/// request per connection. Dropping it stops it.
pub struct Webroot {
    task: JoinHandle<()>,
}

impl Drop for Webroot {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Webroot {
    /// Serves `dir` on `addr`.
    pub fn serve(rt: &Runtime, addr: SocketAddr, dir: PathBuf) -> Webroot {
        let listener = rt
            .block_on(TcpListener::bind(addr))
            .unwrap_or_else(|e| panic!("binding the webroot server on {addr}: {e}"));
        let task = rt.spawn(async move {
            let mut connections = tokio::task::JoinSet::new();
            loop {
                tokio::select! {
                    accepted = listener.accept() => match accepted {
                        Ok((stream, _)) => {
                            let dir = dir.clone();
                            connections.spawn(async move {
                                let limit = Duration::from_secs(10);
                                let _ = tokio::time::timeout(limit, answer(stream, &dir)).await;
                            });
                        }
                        Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
                    },
                    Some(_) = connections.join_next(), if !connections.is_empty() => {}
                }
            }
        });
        Webroot { task }
    }
}

async fn answer(mut stream: TcpStream, dir: &Path) -> std::io::Result<()> {
    let mut head = Vec::new();
    let mut buf = [0u8; 2048];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream.read(&mut buf).await?;
        if n == 0 || head.len() > 16 * 1024 {
            return Ok(());
        }
        head.extend_from_slice(&buf[..n]);
    }
    let head = String::from_utf8_lossy(&head);
    let token = head
        .split(' ')
        .nth(1)
        .and_then(|path| path.strip_prefix("/.well-known/acme-challenge/"))
        .filter(|t| {
            !t.is_empty()
                && t.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        });
    let body = match token {
        Some(token) => tokio::fs::read(dir.join(token)).await.ok(),
        None => None,
    };
    let (status, body) = match body {
        Some(body) => ("200 OK", body),
        None => ("404 Not Found", b"not found".to_vec()),
    };
    let mut out = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(&body);
    stream.write_all(&out).await?;
    stream.shutdown().await
}

/// Runs `cmd` with its stderr appended to `dir`/client.log, and panics with the log's tail
/// unless it exits 0.
pub fn run_ok(cmd: &mut Command, what: &str, dir: &Path) -> Run {
    let log = dir.join("client.log");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log)
        .unwrap();
    let run = measure_with(cmd, None, Some(file));
    if run.code != 0 {
        let mut text = std::fs::read_to_string(&log).unwrap_or_default();
        let keep = text.len().saturating_sub(4000);
        let keep = (keep..text.len())
            .find(|&i| text.is_char_boundary(i))
            .unwrap_or(0);
        text.drain(..keep);
        panic!(
            "{what} failed (exit {}; 124 is a timeout):\n{text}",
            run.code
        );
    }
    run
}

/// Totals of several runs: wall time from `start`, the highest peak.
fn total(start: Instant, runs: &[Run]) -> Run {
    Run {
        wall: start.elapsed(),
        max_rss_kib: runs.iter().map(|r| r.max_rss_kib).max().unwrap_or(0),
        code: 0,
    }
}

/// Asserts that `path(name)` exists for every name.
fn all_issued(names: &[String], path: impl Fn(&str) -> PathBuf, client: &str) {
    let missing: Vec<&String> = names.iter().filter(|n| !path(n).is_file()).collect();
    assert!(
        missing.is_empty(),
        "{client} wrote no certificate for {missing:?}"
    );
}

/// uacme, one run per name (account creation included in the time), with its challenges in a
/// webroot served on Pebble's HTTP-01 port. `Err` says why it did not run.
pub fn uacme(rt: &Runtime, lab: &PebbleLab, dir: &Path, names: &[String]) -> Result<Run, String> {
    if !installed("uacme", "-V") {
        return Err("not installed (apt-get install uacme)".to_owned());
    }
    let certs = dir.join("trusted");
    let webroot = dir.join("webroot");
    let conf = dir.join("conf");
    for d in [&certs, &webroot, &conf] {
        std::fs::create_dir_all(d).unwrap();
    }
    std::fs::write(certs.join("ca-certificates.crt"), lab.root_pem()).unwrap();
    let hook = dir.join("hook.sh");
    // uacme.sh from the package, with the webroot here: METHOD TYPE IDENT TOKEN AUTH.
    std::fs::write(
        &hook,
        format!(
            "#!/bin/sh\ncase \"$1:$2\" in\n\
             begin:http-01) printf '%s' \"$5\" > '{w}/'\"$4\" ;;\n\
             done:http-01|failed:http-01) rm -f '{w}/'\"$4\" ;;\n\
             *) exit 1 ;;\nesac\n",
            w = webroot.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&hook, std::fs::Permissions::from_mode(0o755)).unwrap();
    let uacme = |limit: Duration| {
        let mut cmd = bounded("uacme", limit);
        trust_only(&mut cmd, &certs);
        cmd.arg("-c")
            .arg(&conf)
            .args(["-a", &lab.directory_url(), "-t", "EC"]);
        cmd
    };
    if let Err(e) = uacme(PER_CERT).arg("-V").output() {
        return Err(format!(
            "cannot make it trust the lab root (a private mount namespace needs root): {e}"
        ));
    }
    let _server = Webroot::serve(rt, lab.http01_addr(), webroot);
    let start = Instant::now();
    let mut runs = vec![run_ok(
        uacme(PER_CERT).args(["-y", "new"]),
        "uacme new",
        dir,
    )];
    for name in names {
        let mut cmd = uacme(PER_CERT);
        cmd.arg("-h").arg(&hook).args(["issue", name]);
        runs.push(run_ok(&mut cmd, &format!("uacme issue {name}"), dir));
    }
    let run = total(start, &runs);
    all_issued(names, |n| conf.join(n).join("cert.pem"), "uacme");
    Ok(run)
}

/// dehydrated (registration included in the time), with its challenges in a webroot served on
/// Pebble's HTTP-01 port: one run over a domains.txt, or with `per_name` one run per name.
/// `Err` says why it did not run.
pub fn dehydrated(
    rt: &Runtime,
    lab: &PebbleLab,
    dir: &Path,
    names: &[String],
    per_name: bool,
) -> Result<Run, String> {
    if !installed("dehydrated", "--version") {
        return Err("not installed (apt-get install dehydrated)".to_owned());
    }
    let webroot = dir.join("webroot");
    std::fs::create_dir_all(&webroot).unwrap();
    let root = dir.join("root.pem");
    std::fs::write(&root, lab.root_pem()).unwrap();
    let domains = dir.join("domains.txt");
    std::fs::write(&domains, names.join("\n") + "\n").unwrap();
    let config = dir.join("config");
    std::fs::write(
        &config,
        format!(
            "CA='{ca}'\nCHALLENGETYPE=http-01\nBASEDIR='{base}'\nWELLKNOWN='{webroot}'\n\
             DOMAINS_TXT='{domains}'\nKEY_ALGO=prime256v1\nCURL_OPTS='--cacert {root}'\n",
            ca = lab.directory_url(),
            base = dir.display(),
            webroot = webroot.display(),
            domains = domains.display(),
            root = root.display(),
        ),
    )
    .unwrap();
    let dehydrated = |limit: Duration| {
        let mut cmd = bounded("dehydrated", limit);
        cmd.arg("-f").arg(&config);
        cmd
    };
    let _server = Webroot::serve(rt, lab.http01_addr(), webroot);
    let start = Instant::now();
    let mut runs = vec![run_ok(
        dehydrated(PER_CERT).args(["--register", "--accept-terms"]),
        "dehydrated --register",
        dir,
    )];
    if per_name {
        for name in names {
            runs.push(run_ok(
                dehydrated(PER_CERT).args(["-c", "-d", name]),
                &format!("dehydrated -c -d {name}"),
                dir,
            ));
        }
    } else {
        let limit = PER_CERT * u32::try_from(names.len()).unwrap_or(u32::MAX);
        runs.push(run_ok(dehydrated(limit).arg("-c"), "dehydrated -c", dir));
    }
    let run = total(start, &runs);
    all_issued(
        names,
        |n| dir.join("certs").join(n).join("cert.pem"),
        "dehydrated",
    );
    Ok(run)
}
