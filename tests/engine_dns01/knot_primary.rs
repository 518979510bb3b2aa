//! A real knotd primary on its own loopback address that accepts RFC 2136 updates signed
//! with one TSIG key, for the RFC 2136 solver's tests.
//!
//! Addresses: 127.0.13.0/24, one per primary (`.1`, `.2`, ... in creation order), port 53;
//! no other test uses this block. Stopping: knotd runs in the foreground with
//! `PR_SET_PDEATHSIG` = SIGKILL and is killed and reaped by pid on drop. Every wait is bounded.

use std::fs;
use std::net::{Ipv4Addr, SocketAddr};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::{Duration, Instant};

use certdx::checks::dns::{Dns, DnsAnswer, DnsOptions};
use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{Name, RecordType};

/// How long knotd may take to answer after start.
const START_DEADLINE: Duration = Duration::from_secs(10);

static NEXT: AtomicU8 = AtomicU8::new(1);

/// A TSIG key as knot's `keymgr -t` makes it: the key file text, knot's own format.
pub struct GeneratedKey {
    /// The key's name.
    pub name: String,
    /// `keymgr -t NAME hmac-sha256` output (a comment line and a `key:` section).
    pub keymgr_output: String,
    /// The base64 secret.
    pub secret: String,
}

/// Makes a key with knot's own tool, so the tests read exactly what operators have.
pub fn keymgr_key(name: &str) -> GeneratedKey {
    let out = Command::new("keymgr")
        .args(["-t", name, "hmac-sha256"])
        .output()
        .expect("run keymgr (package knot)");
    assert!(out.status.success(), "keymgr failed: {out:?}");
    let text = String::from_utf8(out.stdout).expect("utf-8");
    let secret = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("secret:"))
        .expect("keymgr printed a secret")
        .trim()
        .to_owned();
    GeneratedKey {
        name: name.to_owned(),
        keymgr_output: text,
        secret,
    }
}

/// One zone the primary serves.
pub struct ZoneSpec {
    /// The zone name without a trailing dot.
    pub name: &'static str,
    /// Whether the key may update it (an `acl` with `action: update`); without, knot refuses.
    pub updatable: bool,
}

/// A running knotd. Dropping it kills it.
pub struct KnotPrimary {
    /// `ip:53`.
    pub addr: SocketAddr,
    dir: tempfile::TempDir,
    child: Option<Child>,
}

impl KnotPrimary {
    /// Starts knotd on the next 127.0.13.x with `zones`, trusting `key` for updates.
    pub async fn start(key: &GeneratedKey, zones: &[ZoneSpec]) -> KnotPrimary {
        let n = NEXT.fetch_add(1, Ordering::SeqCst);
        assert!(n < 255, "out of 127.0.13.x addresses");
        KnotPrimary::start_on(Ipv4Addr::new(127, 0, 13, n), key, zones).await
    }

    /// Starts knotd on `ip` (a test binary that owns another address block).
    pub async fn start_on(ip: Ipv4Addr, key: &GeneratedKey, zones: &[ZoneSpec]) -> KnotPrimary {
        if let Err(e) = std::net::UdpSocket::bind((ip, 53)) {
            panic!("{ip}:53 is already in use ({e}); is a knotd from an earlier run still alive?");
        }
        let dir = tempfile::Builder::new()
            .prefix("certdx-rfc2136-")
            .tempdir()
            .expect("temp dir");
        let conf = write_config(dir.path(), ip, key, zones);
        let log = fs::File::create(dir.path().join("log")).expect("log file");
        let mut cmd = Command::new("knotd");
        cmd.arg("-c")
            .arg(&conf)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log);
        // SAFETY: prctl is async-signal-safe; nothing else runs between fork and exec.
        unsafe {
            cmd.pre_exec(|| {
                // knotd dies with the test thread that started it, so a killed test binary
                // leaves nothing holding the address.
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = cmd
            .spawn()
            .expect("start knotd (install tests/lab/packages.txt)");
        let primary = KnotPrimary {
            addr: SocketAddr::from((ip, 53)),
            dir,
            child: Some(child),
        };
        primary.wait_ready(zones).await;
        primary
    }

    async fn wait_ready(&self, zones: &[ZoneSpec]) {
        let deadline = Instant::now() + START_DEADLINE;
        for zone in zones {
            let apex = Name::from_ascii(format!("{}.", zone.name)).unwrap();
            loop {
                let a = self.ask(&apex, RecordType::SOA).await;
                if a.rcode == Some(ResponseCode::NoError) && a.soa_serial().is_some() {
                    break;
                }
                assert!(
                    Instant::now() < deadline,
                    "knotd on {} did not serve {} within {START_DEADLINE:?}; log:\n{}",
                    self.addr,
                    zone.name,
                    self.log()
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }

    /// Asks knotd directly, recursion off.
    pub async fn ask(&self, name: &Name, rtype: RecordType) -> DnsAnswer {
        direct(self.addr)
            .query_authoritative("knotd", self.addr, name, rtype)
            .await
    }

    /// knotd's log, for failure messages.
    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.path().join("log")).unwrap_or_default()
    }
}

impl Drop for KnotPrimary {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A certdx DNS handle for asking one server directly (its resolver is never used).
pub fn direct(addr: SocketAddr) -> Dns {
    Dns::new(DnsOptions {
        resolver: Some(addr),
        timeout: Duration::from_secs(2),
        authoritative_port: addr.port(),
    })
    .expect("dns handle")
}

fn write_config(dir: &Path, ip: Ipv4Addr, key: &GeneratedKey, zones: &[ZoneSpec]) -> PathBuf {
    for sub in ["run", "storage", "zones"] {
        fs::create_dir_all(dir.join(sub)).expect("mkdir");
    }
    let d = dir.display();
    let mut conf = format!(
        "server:\n    rundir: \"{d}/run\"\n    pidfile: \"{d}/run/knot.pid\"\n    listen: {ip}@53\n\
         \x20   udp-workers: 1\n    tcp-workers: 1\n    background-workers: 1\n\
         database:\n    storage: \"{d}/storage\"\n\
         control:\n    listen: \"{d}/run/knot.sock\"\n\
         log:\n  - target: stderr\n    any: info\n\
         key:\n  - id: {name}\n    algorithm: hmac-sha256\n    secret: {secret}\n\
         acl:\n  - id: certdx-update\n    key: {name}\n    action: update\n\
         template:\n  - id: default\n    storage: \"{d}/zones\"\n    zonefile-sync: -1\n\
         \x20   zonefile-load: whole\n\
         zone:\n",
        name = key.name,
        secret = key.secret,
    );
    for zone in zones {
        let file = format!("{}.zone", zone.name);
        fs::write(
            dir.join("zones").join(&file),
            format!(
                "$ORIGIN {z}.\n$TTL 60\n@ SOA ns1.{z}. hostmaster.{z}. 1 60 60 600 1\n\
                 @ NS ns1.{z}.\nns1 A {ip}\nwww A 192.0.2.1\n",
                z = zone.name
            ),
        )
        .expect("write zone");
        conf.push_str(&format!(
            "  - domain: \"{}.\"\n    file: \"{file}\"\n",
            zone.name
        ));
        if zone.updatable {
            conf.push_str("    acl: certdx-update\n");
        }
    }
    let path = dir.join("knot.conf");
    fs::write(&path, conf).expect("write knot.conf");
    path
}
