//! A hermetic DNS tree on loopback for the name, DNS-01 and CAA tests.
//!
//! One [`DnsLab`] per test: a knotd serving a fake root `.` and the TLDs the test's zones sit
//! under (with delegations and glue), one knotd per authoritative server address, optional
//! in-process hickory-server instances that misbehave precisely (REFUSED, SERVFAIL for one
//! type, truncated UDP), silent addresses (a bound UDP socket that never answers), and an
//! `unbound` recursive resolver whose root hints point at the fake root.
//!
//! Addresses: every test binary owns whole /24s inside 127.0.2.0/24 - 127.0.9.0/24 (another
//! lab uses 127.0.1.0/24) and hands each lab 16 addresses of them ([`Slots`]): `.1` root,
//! `.2` unbound, `.3` onwards the servers in declaration order. All on port 53.
//!
//! Stopping: processes run in the foreground with `PR_SET_PDEATHSIG` = SIGKILL (they die if
//! the test binary is killed) and are SIGKILLed and reaped by pid when the lab is dropped,
//! which also happens when a test panics. In-process servers are aborted on drop. Every wait
//! is bounded.

#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::str::FromStr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use certdx::checks::dns::{Dns, DnsOptions};
use hickory_net::runtime::Time;
use hickory_net::xfer::Protocol;
use hickory_proto::op::{Header, HeaderCounts, Message, Metadata, Query, ResponseCode};
use hickory_proto::rr::rdata::{A, AAAA, CNAME, NS, SOA, TXT};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use hickory_server::server::{Request, RequestHandler, ResponseHandler, ResponseInfo};
use hickory_server::zone_handler::MessageResponseBuilder;
use tokio::task::JoinHandle;

/// How long a server may take to start answering.
const START_DEADLINE: Duration = Duration::from_secs(10);
/// Addresses per lab.
const SLOT: u8 = 16;

/// The address blocks one test binary owns, handed out 16 addresses per lab.
pub struct Slots {
    octets: &'static [u8],
    next: AtomicUsize,
}

impl Slots {
    /// A test binary's blocks: third octets of 127.0.X.0/24, each in 2..=11.
    pub const fn new(octets: &'static [u8]) -> Slots {
        Slots {
            octets,
            next: AtomicUsize::new(0),
        }
    }

    /// The next unused 16 addresses.
    pub fn take(&self) -> Addrs {
        let n = self.next.fetch_add(1, Ordering::SeqCst);
        let per_octet = usize::from(256 / u16::from(SLOT)) - 1;
        let octet = *self
            .octets
            .get(n / per_octet)
            .expect("this test binary ran out of lab addresses: give it another /24");
        assert!(
            (2..=11).contains(&octet),
            "lab addresses must be in 127.0.2-11.0/24"
        );
        Addrs {
            octet,
            base: (n % per_octet) as u8 * SLOT,
        }
    }
}

/// Sixteen loopback addresses of one lab.
#[derive(Debug, Clone, Copy)]
pub struct Addrs {
    octet: u8,
    base: u8,
}

impl Addrs {
    /// Address `i` (1..=15) of the block.
    pub fn ip(&self, i: u8) -> Ipv4Addr {
        assert!((1..SLOT).contains(&i), "address index {i} out of range");
        Ipv4Addr::new(127, 0, self.octet, self.base + i)
    }
}

/// A server of the lab, by declaration order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ServerId(usize);

/// How an in-process server misbehaves.
#[derive(Debug, Clone, Default)]
pub struct Misbehaviour {
    /// Answer REFUSED to everything.
    pub refuse: bool,
    /// Answer SERVFAIL to these types (old servers that choke on CAA).
    pub servfail: Vec<RecordType>,
    /// Over UDP, answer with TC set and no records, so clients must retry over TCP.
    pub truncate_udp: bool,
}

#[derive(Debug, Clone)]
enum Kind {
    Knot,
    Refused,
    Silent,
    Mini(Misbehaviour),
    Filtering,
}

#[derive(Debug, Clone)]
struct ServerSpec {
    label: String,
    kind: Kind,
    ip: Ipv4Addr,
}

#[derive(Debug, Clone)]
struct ZoneSpec {
    name: String,
    ns: Vec<(String, ServerId)>,
    serial: u32,
    records: String,
    variants: BTreeMap<ServerId, (u32, String)>,
}

impl ZoneSpec {
    fn content_for(&self, server: ServerId) -> (u32, &str) {
        match self.variants.get(&server) {
            Some((serial, records)) => (*serial, records),
            None => (self.serial, &self.records),
        }
    }

    /// The NS names, fully qualified.
    fn ns_fqdn(&self) -> Vec<(String, ServerId)> {
        self.ns
            .iter()
            .map(|(n, id)| (format!("{n}.{}.", self.name), *id))
            .collect()
    }
}

/// Describes a lab before starting it.
pub struct LabBuilder {
    addrs: Addrs,
    servers: Vec<ServerSpec>,
    zones: Vec<ZoneSpec>,
    negative_ttl: u32,
    soa_refresh: u32,
}

impl LabBuilder {
    /// A lab on the next free addresses of `slots`.
    pub fn new(slots: &Slots) -> LabBuilder {
        LabBuilder {
            addrs: slots.take(),
            servers: Vec::new(),
            zones: Vec::new(),
            negative_ttl: 1,
            soa_refresh: 60,
        }
    }

    fn add(&mut self, label: &str, kind: Kind) -> ServerId {
        let index = self.servers.len();
        let ip = self
            .addrs
            .ip(3 + u8::try_from(index).expect("too many servers"));
        self.servers.push(ServerSpec {
            label: label.to_owned(),
            kind,
            ip,
        });
        ServerId(index)
    }

    /// A knotd on its own address, serving the zones that list it. Listed by no zone, it
    /// answers REFUSED to everything.
    pub fn knot(&mut self, label: &str) -> ServerId {
        self.add(label, Kind::Knot)
    }

    /// A knotd without zones: REFUSED for every question.
    pub fn refused(&mut self, label: &str) -> ServerId {
        self.add(label, Kind::Refused)
    }

    /// An address with a UDP socket that never answers (TCP: nothing listens).
    pub fn silent(&mut self, label: &str) -> ServerId {
        self.add(label, Kind::Silent)
    }

    /// An unbound that answers NXDOMAIN for every name, the root zone included: the resolver
    /// of an offline laptop or a filtering network. Give its address as `--resolver`.
    pub fn filtering_resolver(&mut self, label: &str) -> ServerId {
        self.add(label, Kind::Filtering)
    }

    /// An in-process hickory-server serving the zones that list it (records limited to A,
    /// AAAA, TXT, CNAME and NS), misbehaving as told.
    pub fn mini(&mut self, label: &str, misbehaviour: Misbehaviour) -> ServerId {
        self.add(label, Kind::Mini(misbehaviour))
    }

    /// A zone delegated (NS + glue in its parent) to `ns` = (label inside the zone, server);
    /// `records` are zone-file lines relative to the zone. SOA serial 1.
    pub fn zone(&mut self, name: &str, ns: &[(&str, ServerId)], records: &str) -> &mut Self {
        self.zones.push(ZoneSpec {
            name: name.trim_end_matches('.').to_owned(),
            ns: ns.iter().map(|(n, id)| ((*n).to_owned(), *id)).collect(),
            serial: 1,
            records: records.to_owned(),
            variants: BTreeMap::new(),
        });
        self
    }

    /// Different content for one server of a zone: a lagging or diverging secondary.
    pub fn variant(
        &mut self,
        zone: &str,
        server: ServerId,
        serial: u32,
        records: &str,
    ) -> &mut Self {
        let z = self
            .zones
            .iter_mut()
            .find(|z| z.name == zone.trim_end_matches('.'))
            .expect("variant of an undeclared zone");
        z.variants.insert(server, (serial, records.to_owned()));
        self
    }

    /// The negative-caching TTL: SOA MINIMUM (and at least the SOA's TTL) of every zone, and
    /// unbound's cache-max-negative-ttl and cache-max-ttl (default 1 s, so nothing lingers
    /// between steps of a test).
    pub fn negative_ttl(&mut self, secs: u32) -> &mut Self {
        self.negative_ttl = secs;
        self
    }

    /// The SOA refresh of every zone (default 60 s): how often a secondary without NOTIFY
    /// polls its primary, which bounds how long a change may take to reach it.
    pub fn soa_refresh(&mut self, secs: u32) -> &mut Self {
        self.soa_refresh = secs;
        self
    }

    /// The address of a declared server.
    pub fn ip(&self, id: ServerId) -> Ipv4Addr {
        self.servers[id.0].ip
    }

    /// Starts everything and waits (bounded) until every server answers.
    pub async fn start(&self) -> DnsLab {
        let dir = tempfile::Builder::new()
            .prefix("certdx-dns-lab-")
            .tempdir()
            .expect("temp dir");
        let mut lab = DnsLab {
            dir,
            root: self.addrs.ip(1),
            resolver: SocketAddr::new(IpAddr::V4(self.addrs.ip(2)), 53),
            servers: self.servers.clone(),
            zones: self.zones.clone(),
            negative_ttl: self.negative_ttl,
            soa_refresh: self.soa_refresh,
            children: Vec::new(),
            tasks: Vec::new(),
            silent: Vec::new(),
        };
        lab.start_all().await;
        lab
    }
}

/// A running lab. Dropping it stops everything.
pub struct DnsLab {
    dir: tempfile::TempDir,
    root: Ipv4Addr,
    /// unbound's address.
    pub resolver: SocketAddr,
    servers: Vec<ServerSpec>,
    zones: Vec<ZoneSpec>,
    negative_ttl: u32,
    soa_refresh: u32,
    children: Vec<(String, Child)>,
    tasks: Vec<JoinHandle<()>>,
    silent: Vec<std::net::UdpSocket>,
}

impl DnsLab {
    /// A certdx DNS handle using the lab's resolver.
    pub fn dns(&self, timeout: Duration) -> Dns {
        Dns::new(DnsOptions {
            resolver: Some(self.resolver),
            timeout,
            authoritative_port: 53,
        })
        .expect("dns handle")
    }

    /// The address of a server.
    pub fn ip(&self, id: ServerId) -> Ipv4Addr {
        self.servers[id.0].ip
    }

    /// `ip:53` of a server.
    pub fn addr(&self, id: ServerId) -> SocketAddr {
        SocketAddr::new(IpAddr::V4(self.ip(id)), 53)
    }

    /// Replaces a zone's content on one knot server and reloads it with `knotc`, waiting
    /// (bounded) until the server reports the new serial.
    pub async fn update_zone(&self, zone: &str, server: ServerId, serial: u32, records: &str) {
        let zone = zone.trim_end_matches('.');
        let spec = self
            .zones
            .iter()
            .find(|z| z.name == zone)
            .expect("update of an undeclared zone");
        let mut spec = spec.clone();
        spec.variants.insert(server, (serial, records.to_owned()));
        let dir = self.server_dir(server);
        fs::write(
            dir.join("zones").join(format!("{zone}.zone")),
            self.zone_file(&spec, server),
        )
        .expect("write zone");
        let out = Command::new("knotc")
            .arg("-c")
            .arg(dir.join("knot.conf"))
            .arg("-t")
            .arg("5")
            .arg("zone-reload")
            .arg(format!("{zone}."))
            .output()
            .expect("run knotc");
        assert!(
            out.status.success(),
            "knotc zone-reload failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let name = Name::from_str(&format!("{zone}.")).unwrap();
        let deadline = Instant::now() + START_DEADLINE;
        loop {
            let got = probe(self.addr(server), &name, RecordType::SOA, false).await;
            let current = got.as_ref().and_then(|m| {
                m.answers.iter().find_map(|r| match &r.data {
                    RData::SOA(soa) => Some(soa.serial),
                    _ => None,
                })
            });
            if current == Some(serial) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{zone} did not reach serial {serial} (at {current:?})"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Asks the lab's resolver a question (to prime its cache), returning the answer.
    pub async fn ask_resolver(&self, name: &str, rtype: RecordType) -> Option<Message> {
        let name = Name::from_str(&format!("{}.", name.trim_end_matches('.'))).unwrap();
        probe_within(self.resolver, &name, rtype, true, Duration::from_secs(5)).await
    }

    /// Asks the resolver each question until it answers promptly twice in a row (bounded):
    /// afterwards unbound has learnt which of a zone's servers never answer and avoids them,
    /// so a test can time certdx rather than unbound's retries.
    pub async fn warm(&self, questions: &[(&str, RecordType)]) {
        let deadline = Instant::now() + Duration::from_secs(30);
        for (name, rtype) in questions {
            let mut quick = 0;
            while quick < 2 {
                assert!(
                    Instant::now() < deadline,
                    "unbound did not settle on {name} {rtype}"
                );
                let started = Instant::now();
                let answered = self.ask_resolver(name, *rtype).await.is_some();
                quick = if answered && started.elapsed() < Duration::from_millis(50) {
                    quick + 1
                } else {
                    0
                };
            }
        }
    }

    fn server_dir(&self, id: ServerId) -> PathBuf {
        self.dir
            .path()
            .join(format!("srv{}-{}", id.0, self.servers[id.0].label))
    }

    /// The zones a server serves.
    fn zones_of(&self, id: ServerId) -> Vec<&ZoneSpec> {
        self.zones
            .iter()
            .filter(|z| z.ns.iter().any(|(_, s)| *s == id))
            .collect()
    }

    /// The zone that delegates `zone`: the longest other lab zone it sits under, else its TLD
    /// (served by the root server).
    fn parent_of(&self, zone: &str) -> String {
        self.zones
            .iter()
            .map(|z| z.name.as_str())
            .filter(|p| *p != zone && zone.ends_with(&format!(".{p}")))
            .max_by_key(|p| p.len())
            .map(str::to_owned)
            .unwrap_or_else(|| zone.rsplit('.').next().unwrap_or_default().to_owned())
    }

    fn tlds(&self) -> BTreeSet<String> {
        self.zones
            .iter()
            .map(|z| z.name.rsplit('.').next().unwrap_or_default().to_owned())
            .collect()
    }

    /// NS and glue lines delegating every child zone of `parent`.
    fn delegations(&self, parent: &str) -> String {
        let mut out = String::new();
        for child in self
            .zones
            .iter()
            .filter(|z| self.parent_of(&z.name) == parent)
        {
            for (ns, id) in child.ns_fqdn() {
                out.push_str(&format!(
                    "{}. NS {ns}\n{ns} A {}\n",
                    child.name,
                    self.ip(id)
                ));
            }
        }
        out
    }

    /// The SOA line of `zone` (`""` for the root).
    fn soa_line(&self, zone: &str, mname: &str, serial: u32) -> String {
        let (apex, rname) = if zone.is_empty() {
            (".".to_owned(), "hostmaster.root.".to_owned())
        } else {
            (format!("{zone}."), format!("hostmaster.{zone}."))
        };
        // The SOA's own TTL bounds negative caching too (RFC 2308), so it follows MINIMUM.
        let ttl = self.negative_ttl.max(60);
        format!(
            "{apex} {ttl} SOA {mname} {rname} {serial} {} 60 600 {}\n",
            self.soa_refresh, self.negative_ttl
        )
    }

    fn zone_file(&self, spec: &ZoneSpec, server: ServerId) -> String {
        let (serial, records) = spec.content_for(server);
        let ns = spec.ns_fqdn();
        let mname = ns
            .first()
            .map(|(n, _)| n.clone())
            .unwrap_or_else(|| format!("{}.", spec.name));
        let mut out = format!("$ORIGIN {}.\n$TTL 60\n", spec.name);
        out.push_str(&self.soa_line(&spec.name, &mname, serial));
        for (n, id) in &ns {
            out.push_str(&format!("{}. NS {n}\n{n} A {}\n", spec.name, self.ip(*id)));
        }
        out.push_str(&self.delegations(&spec.name));
        out.push_str(&format!("$ORIGIN {}.\n", spec.name));
        out.push_str(records);
        out.push('\n');
        out
    }

    async fn start_all(&mut self) {
        for spec in self.servers.clone() {
            ensure_free(spec.ip);
        }
        ensure_free(self.root);
        ensure_free(match self.resolver.ip() {
            IpAddr::V4(ip) => ip,
            IpAddr::V6(_) => unreachable!(),
        });

        // The fake root: `.` plus every TLD, on its own knotd.
        let root_dir = self.dir.path().join("root");
        let mut files = vec![(
            ".".to_owned(),
            format!(
                "$TTL 60\n{}. NS a.root.\na.root. A {}\n{}",
                self.soa_line("", "a.root.", 1),
                self.root,
                self.tlds()
                    .iter()
                    .map(|t| format!("{t}. NS a.root.\n"))
                    .collect::<String>()
            ),
        )];
        for tld in self.tlds() {
            files.push((
                tld.clone(),
                format!(
                    "$TTL 60\n{}{tld}. NS a.root.\n{}",
                    self.soa_line(&tld, "a.root.", 1),
                    self.delegations(&tld)
                ),
            ));
        }
        self.spawn_knot("root", &root_dir, self.root, &files);

        for (index, spec) in self.servers.clone().iter().enumerate() {
            let id = ServerId(index);
            match &spec.kind {
                Kind::Knot => {
                    let files: Vec<(String, String)> = self
                        .zones_of(id)
                        .into_iter()
                        .map(|z| (z.name.clone(), self.zone_file(z, id)))
                        .collect();
                    self.spawn_knot(&spec.label, &self.server_dir(id), spec.ip, &files);
                }
                Kind::Refused => {
                    self.spawn_knot(&spec.label, &self.server_dir(id), spec.ip, &[]);
                }
                Kind::Silent => {
                    let socket = std::net::UdpSocket::bind((spec.ip, 53)).expect("bind silent");
                    self.silent.push(socket);
                }
                Kind::Mini(misbehaviour) => {
                    let zones = self
                        .zones_of(id)
                        .into_iter()
                        .map(|z| self.mini_zone(z, id))
                        .collect();
                    let handler = MiniHandler {
                        zones,
                        misbehaviour: misbehaviour.clone(),
                    };
                    self.tasks.push(spawn_mini(spec.ip, handler).await);
                }
                Kind::Filtering => self.spawn_filtering(&spec.label, spec.ip, id),
            }
        }
        self.spawn_unbound();

        // Bounded readiness: every knotd and unbound answers something.
        let mut waits = vec![(
            "root".to_owned(),
            SocketAddr::new(IpAddr::V4(self.root), 53),
            Name::root(),
            false,
        )];
        for (index, spec) in self.servers.iter().enumerate() {
            if matches!(spec.kind, Kind::Knot | Kind::Refused) {
                let zone = match spec.kind {
                    Kind::Knot => self
                        .zones_of(ServerId(index))
                        .first()
                        .map(|z| Name::from_str(&format!("{}.", z.name)).unwrap()),
                    _ => None,
                }
                .unwrap_or_else(Name::root);
                waits.push((
                    spec.label.clone(),
                    SocketAddr::new(IpAddr::V4(spec.ip), 53),
                    zone,
                    false,
                ));
            }
        }
        for spec in self
            .servers
            .iter()
            .filter(|s| matches!(s.kind, Kind::Filtering))
        {
            waits.push((
                spec.label.clone(),
                SocketAddr::new(IpAddr::V4(spec.ip), 53),
                Name::root(),
                true,
            ));
        }
        waits.push(("unbound".to_owned(), self.resolver, Name::root(), true));
        for (label, addr, zone, rd) in waits {
            let deadline = Instant::now() + START_DEADLINE;
            while probe(addr, &zone, RecordType::SOA, rd).await.is_none() {
                if Instant::now() > deadline {
                    panic!(
                        "{label} on {addr} did not answer within {START_DEADLINE:?}; logs:\n{}",
                        self.logs()
                    );
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }

    fn spawn_knot(&mut self, label: &str, dir: &Path, ip: Ipv4Addr, zones: &[(String, String)]) {
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
             template:\n  - id: default\n    storage: \"{d}/zones\"\n    semantic-checks: off\n\
             \x20   zonefile-sync: -1\n    zonefile-load: whole\n    journal-content: none\n"
        );
        if !zones.is_empty() {
            conf.push_str("zone:\n");
        }
        for (zone, text) in zones {
            let file = if zone == "." {
                "root.zone".to_owned()
            } else {
                format!("{zone}.zone")
            };
            fs::write(dir.join("zones").join(&file), text).expect("write zone");
            let domain = if zone == "." {
                ".".to_owned()
            } else {
                format!("{zone}.")
            };
            conf.push_str(&format!("  - domain: \"{domain}\"\n    file: \"{file}\"\n"));
        }
        let conf_path = dir.join("knot.conf");
        fs::write(&conf_path, conf).expect("write knot.conf");
        let mut cmd = Command::new("knotd");
        cmd.arg("-c").arg(&conf_path);
        self.spawn(&format!("knotd {label} {ip}"), cmd, &dir.join("log"));
    }

    /// An unbound whose only zone is a local "." that answers NXDOMAIN for everything.
    fn spawn_filtering(&mut self, label: &str, ip: Ipv4Addr, id: ServerId) {
        let dir = self.server_dir(id);
        fs::create_dir_all(&dir).expect("mkdir");
        let d = dir.display();
        let conf = format!(
            "server:\n    interface: {ip}\n    port: 53\n    do-daemonize: no\n    use-syslog: no\n\
             \x20   logfile: \"\"\n    verbosity: 1\n    username: \"\"\n    chroot: \"\"\n\
             \x20   directory: \"{d}\"\n    pidfile: \"{d}/unbound.pid\"\n\
             \x20   module-config: \"iterator\"\n    access-control: 127.0.0.0/8 allow\n\
             \x20   do-ip6: no\n    num-threads: 1\n    so-reuseport: no\n    outgoing-range: 64\n\
             \x20   local-zone: \".\" always_nxdomain\n\
             remote-control:\n    control-enable: no\n"
        );
        let conf_path = dir.join("unbound.conf");
        fs::write(&conf_path, conf).expect("write unbound.conf");
        let mut cmd = Command::new("unbound");
        cmd.arg("-d").arg("-c").arg(&conf_path);
        self.spawn(
            &format!("unbound (filtering) {label} {ip}"),
            cmd,
            &dir.join("log"),
        );
    }

    fn spawn_unbound(&mut self) {
        let dir = self.dir.path().join("unbound");
        fs::create_dir_all(&dir).expect("mkdir");
        fs::write(
            dir.join("root.hints"),
            format!(
                ". 3600000 IN NS a.root.\na.root. 3600000 IN A {}\n",
                self.root
            ),
        )
        .expect("write hints");
        let d = dir.display();
        let ip = self.resolver.ip();
        let local_zones: String = self
            .tlds()
            .iter()
            .map(|t| format!("    local-zone: \"{t}.\" nodefault\n"))
            .collect();
        let conf = format!(
            "server:\n    interface: {ip}\n    port: 53\n    do-daemonize: no\n    use-syslog: no\n\
             \x20   logfile: \"\"\n    verbosity: 1\n    username: \"\"\n    chroot: \"\"\n\
             \x20   directory: \"{d}\"\n    pidfile: \"{d}/unbound.pid\"\n\
             \x20   root-hints: \"{d}/root.hints\"\n    do-not-query-localhost: no\n\
             \x20   module-config: \"iterator\"\n    access-control: 127.0.0.0/8 allow\n\
             \x20   do-ip6: no\n    num-threads: 1\n    so-reuseport: no\n    outgoing-range: 64\n\
             \x20   num-queries-per-thread: 32\n    qname-minimisation: no\n\
             \x20   cache-max-ttl: {max}\n    cache-max-negative-ttl: {neg}\n\
             {local_zones}\
             remote-control:\n    control-enable: no\n",
            neg = self.negative_ttl,
            // unbound keeps a negative answer only as long as the SOA rrset it carries, which
            // cache-max-ttl caps: long negative caching needs a long cap.
            max = self.negative_ttl,
        );
        let conf_path = dir.join("unbound.conf");
        fs::write(&conf_path, conf).expect("write unbound.conf");
        let mut cmd = Command::new("unbound");
        cmd.arg("-d").arg("-c").arg(&conf_path);
        self.spawn(&format!("unbound {ip}"), cmd, &dir.join("log"));
    }

    fn spawn(&mut self, label: &str, mut cmd: Command, log: &Path) {
        let out = fs::File::create(log).expect("log file");
        let err = out.try_clone().expect("log file");
        cmd.stdin(Stdio::null()).stdout(out).stderr(err);
        // SAFETY: prctl is async-signal-safe; nothing else runs between fork and exec.
        unsafe {
            cmd.pre_exec(|| {
                // The child dies with the thread that spawned it, so a killed test binary
                // leaves no server holding a lab address.
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        match cmd.spawn() {
            Ok(child) => self.children.push((label.to_owned(), child)),
            Err(e) => {
                panic!("cannot start {label}: {e} (install the packages in tests/lab/packages.txt)")
            }
        }
    }

    fn logs(&self) -> String {
        let mut out = String::new();
        for entry in walk(self.dir.path()) {
            if entry.file_name().is_some_and(|n| n == "log") {
                out.push_str(&format!("--- {}\n", entry.display()));
                out.push_str(&fs::read_to_string(&entry).unwrap_or_default());
            }
        }
        out
    }

    fn mini_zone(&self, spec: &ZoneSpec, id: ServerId) -> MiniZone {
        let origin = Name::from_str(&format!("{}.", spec.name)).unwrap();
        let (serial, text) = spec.content_for(id);
        let ns = spec.ns_fqdn();
        let mname = Name::from_str(&ns[0].0).unwrap();
        let soa = Record::from_rdata(
            origin.clone(),
            60,
            RData::SOA(SOA::new(
                mname,
                Name::from_str(&format!("hostmaster.{}.", spec.name)).unwrap(),
                serial,
                60,
                60,
                600,
                self.negative_ttl,
            )),
        );
        let mut records = vec![soa.clone()];
        for (n, sid) in &ns {
            let n = Name::from_str(n).unwrap();
            records.push(Record::from_rdata(
                origin.clone(),
                60,
                RData::NS(NS(n.clone())),
            ));
            records.push(Record::from_rdata(n, 60, RData::A(A(self.ip(*sid)))));
        }
        records.extend(parse_records(&origin, text));
        MiniZone {
            origin,
            soa,
            records,
        }
    }
}

impl Drop for DnsLab {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
        // unbound first (it was started last), then the authoritative servers.
        for (_, child) in self.children.iter_mut().rev() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Fails loudly when something already holds `ip:53` (a leftover from an aborted run):
/// knotd binds with SO_REUSEPORT and would silently share the address with it.
fn ensure_free(ip: Ipv4Addr) {
    if let Err(e) = std::net::UdpSocket::bind((ip, 53)) {
        panic!(
            "{ip}:53 is already in use ({e}); is a process from an earlier test run still alive?"
        );
    }
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}

/// One UDP question with a 300 ms deadline, independent of the code under test.
pub async fn probe(addr: SocketAddr, name: &Name, rtype: RecordType, rd: bool) -> Option<Message> {
    probe_within(addr, name, rtype, rd, Duration::from_millis(300)).await
}

/// One UDP question with the given deadline.
pub async fn probe_within(
    addr: SocketAddr,
    name: &Name,
    rtype: RecordType,
    rd: bool,
    within: Duration,
) -> Option<Message> {
    let mut msg = Message::query();
    msg.add_query(Query::query(name.clone(), rtype));
    msg.metadata.recursion_desired = rd;
    let id = msg.metadata.id;
    let bytes = msg.to_vec().ok()?;
    let socket = tokio::net::UdpSocket::bind("0.0.0.0:0").await.ok()?;
    socket.connect(addr).await.ok()?;
    socket.send(&bytes).await.ok()?;
    let mut buf = vec![0u8; 65535];
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let n = tokio::time::timeout_at(deadline, socket.recv(&mut buf))
            .await
            .ok()?
            .ok()?;
        if let Ok(m) = Message::from_vec(&buf[..n])
            && m.metadata.id == id
        {
            return Some(m);
        }
    }
}

/// Zone-file-like lines `owner TYPE data` (A, AAAA, TXT, CNAME, NS) for in-process servers.
fn parse_records(origin: &Name, text: &str) -> Vec<Record> {
    let mut out = Vec::new();
    for line in text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with(';'))
    {
        let mut parts = line.splitn(3, char::is_whitespace);
        let owner = parts.next().unwrap();
        let rtype = parts.next().expect("record type");
        let data = parts.next().expect("record data").trim();
        let owner = absolute(origin, owner);
        let rdata = match rtype {
            "A" => RData::A(A(data.parse().unwrap())),
            "AAAA" => RData::AAAA(AAAA(data.parse().unwrap())),
            "TXT" => RData::TXT(TXT::new(vec![data.trim_matches('"').to_owned()])),
            "CNAME" => RData::CNAME(CNAME(absolute(origin, data))),
            "NS" => RData::NS(NS(absolute(origin, data))),
            other => panic!("the in-process server does not support {other} records"),
        };
        out.push(Record::from_rdata(owner, 60, rdata));
    }
    out
}

fn absolute(origin: &Name, name: &str) -> Name {
    if name == "@" {
        origin.clone()
    } else if name.ends_with('.') {
        Name::from_str(name).unwrap()
    } else {
        Name::from_str(&format!("{name}.{origin}")).unwrap()
    }
}

struct MiniZone {
    origin: Name,
    soa: Record,
    records: Vec<Record>,
}

struct MiniHandler {
    zones: Vec<MiniZone>,
    misbehaviour: Misbehaviour,
}

impl MiniHandler {
    /// (rcode, answers, authorities) for one question, before any misbehaviour.
    fn lookup(&self, qname: &Name, qtype: RecordType) -> (ResponseCode, Vec<Record>, Vec<Record>) {
        let Some(zone) = self
            .zones
            .iter()
            .filter(|z| z.origin.zone_of(qname))
            .max_by_key(|z| z.origin.num_labels())
        else {
            return (ResponseCode::Refused, Vec::new(), Vec::new());
        };
        let at_name: Vec<&Record> = zone.records.iter().filter(|r| &r.name == qname).collect();
        let answers: Vec<Record> = at_name
            .iter()
            .filter(|r| r.record_type() == qtype || r.record_type() == RecordType::CNAME)
            .map(|r| (*r).clone())
            .collect();
        if !answers.is_empty() {
            return (ResponseCode::NoError, answers, Vec::new());
        }
        let exists = zone.records.iter().any(|r| qname.zone_of(&r.name));
        let rcode = if exists {
            ResponseCode::NoError
        } else {
            ResponseCode::NXDomain
        };
        (rcode, Vec::new(), vec![zone.soa.clone()])
    }
}

#[async_trait::async_trait]
impl RequestHandler for MiniHandler {
    async fn handle_request<R: ResponseHandler, T: Time>(
        &self,
        request: &Request,
        mut response_handle: R,
    ) -> ResponseInfo {
        let mut metadata = Metadata::response_from_request(&request.metadata);
        metadata.authoritative = true;
        let (rcode, mut answers, mut authorities) = match request.queries.queries().first() {
            Some(q) => {
                let qname: Name = q.name().clone().into();
                let qtype = q.query_type();
                if self.misbehaviour.refuse {
                    (ResponseCode::Refused, Vec::new(), Vec::new())
                } else if self.misbehaviour.servfail.contains(&qtype) {
                    (ResponseCode::ServFail, Vec::new(), Vec::new())
                } else {
                    self.lookup(&qname, qtype)
                }
            }
            None => (ResponseCode::FormErr, Vec::new(), Vec::new()),
        };
        if self.misbehaviour.truncate_udp && request.protocol() == Protocol::Udp {
            metadata.truncation = true;
            answers.clear();
            authorities.clear();
        }
        metadata.response_code = rcode;
        if rcode != ResponseCode::NoError && rcode != ResponseCode::NXDomain {
            metadata.authoritative = false;
        }
        let response = MessageResponseBuilder::from_message_request(request).build(
            metadata,
            answers.iter(),
            authorities.iter(),
            std::iter::empty(),
            std::iter::empty(),
        );
        match response_handle.send_response(response).await {
            Ok(info) => info,
            Err(_) => ResponseInfo::from(Header {
                metadata,
                counts: HeaderCounts::default(),
            }),
        }
    }
}

async fn spawn_mini(ip: Ipv4Addr, handler: MiniHandler) -> JoinHandle<()> {
    let udp = tokio::net::UdpSocket::bind((ip, 53))
        .await
        .expect("bind mini UDP");
    let tcp = tokio::net::TcpListener::bind((ip, 53))
        .await
        .expect("bind mini TCP");
    let mut server = hickory_server::Server::new(handler);
    server.register_socket(udp);
    server.register_listener(tcp, Duration::from_secs(5), 65_535);
    tokio::spawn(async move {
        let _ = server.block_until_done().await;
    })
}
