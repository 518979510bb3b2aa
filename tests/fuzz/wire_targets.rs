//! The targets that read bytes off the network: CAA records, DNS answers fed into the checks
//! (through a hostile server on loopback), and the ACME engine's reading of a CA's responses.

use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use proptest::prelude::*;
use proptest::strategy::BoxedStrategy;
use serde_json::{Value, json};

use super::harness::Target;
use super::mutate::{mutated, raw_bytes};
use super::text_targets::problem;
use super::wire::answer;

// ---------------------------------------------------------------------------------------
// CAA.

/// The CAA reader and policy: records out of a raw answer, each issue value parsed, the set
/// evaluated for a name, as a CA would.
pub struct Caa;

impl Target for Caa {
    fn name(&self) -> &'static str {
        "caa"
    }

    fn strategy(&self) -> BoxedStrategy<Vec<u8>> {
        prop_oneof![
            6 => mutated(answer(&[257, 257, 257, 5, 1]), 4),
            1 => raw_bytes(512),
        ]
        .boxed()
    }

    fn run(&self, input: &[u8]) {
        use certdx::checks::caa::{Request, caa_records, evaluate, parse_issue_value};
        use certdx::checks::name::Method;
        let Ok(records) = caa_records(input) else {
            return;
        };
        for r in &records {
            let _ = (r.tag_problem(), r.is_critical(), r.to_string());
            let _ = parse_issue_value(&r.value);
        }
        for (wildcard, account_uri, method) in [
            (false, None, None),
            (
                true,
                Some("https://acme-v02.api.letsencrypt.org/acme/acct/1"),
                Some(Method::Dns01),
            ),
            (false, Some(""), Some(Method::Http01)),
        ] {
            let req = Request {
                wildcard,
                ca_domain: "letsencrypt.org",
                account_uri,
                method,
            };
            let _ = evaluate(&records, "www.example.com", &req);
        }
    }
}

// ---------------------------------------------------------------------------------------
// DNS answers through the checks.

/// A DNS server on loopback (UDP and TCP on one port) that answers every question with the
/// current input, its id and QR bit set so the client takes it as the answer. Stopped when
/// dropped.
struct HostileDns {
    addr: SocketAddr,
    answer: Arc<Mutex<Vec<u8>>>,
    stop: Arc<AtomicBool>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

/// UDP and TCP on one free port of 127.0.0.1: the UDP port the kernel picks may be taken
/// for TCP by another test running at the same time, so a few ports are tried.
fn bind_udp_and_tcp() -> (UdpSocket, TcpListener) {
    for _ in 0..32 {
        let udp = UdpSocket::bind("127.0.0.1:0").expect("bind UDP on loopback");
        let addr = udp.local_addr().expect("local address");
        if let Ok(tcp) = TcpListener::bind(addr) {
            return (udp, tcp);
        }
    }
    panic!("no port free for both UDP and TCP on 127.0.0.1");
}

impl HostileDns {
    fn start() -> HostileDns {
        let (udp, tcp) = bind_udp_and_tcp();
        let addr = udp.local_addr().expect("local address");
        udp.set_read_timeout(Some(Duration::from_millis(50)))
            .expect("read timeout");
        let answer = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let reply = {
            let answer = answer.clone();
            move |query: &[u8]| {
                let mut out = answer.lock().unwrap_or_else(|e| e.into_inner()).clone();
                if out.len() < 12 {
                    out.resize(12, 0);
                }
                if query.len() >= 2 {
                    out[0] = query[0];
                    out[1] = query[1];
                }
                out[2] |= 0x80;
                out
            }
        };
        let udp_thread = {
            let stop = stop.clone();
            let reply = reply.clone();
            std::thread::spawn(move || {
                let mut buf = [0u8; 2048];
                while !stop.load(Ordering::Relaxed) {
                    if let Ok((n, from)) = udp.recv_from(&mut buf) {
                        let _ = udp.send_to(&reply(&buf[..n]), from);
                    }
                }
            })
        };
        let tcp_thread = {
            let stop = stop.clone();
            std::thread::spawn(move || {
                use std::io::{Read, Write};
                while !stop.load(Ordering::Relaxed) {
                    // Blocking: Drop wakes it with a connection of its own.
                    let Ok((mut conn, _)) = tcp.accept() else {
                        continue;
                    };
                    let _ = conn.set_read_timeout(Some(Duration::from_millis(500)));
                    let mut len = [0u8; 2];
                    if conn.read_exact(&mut len).is_err() {
                        continue;
                    }
                    let mut query = vec![0u8; usize::from(u16::from_be_bytes(len))];
                    if conn.read_exact(&mut query).is_err() {
                        continue;
                    }
                    let out = reply(&query);
                    let n = u16::try_from(out.len()).unwrap_or(u16::MAX);
                    let _ = conn.write_all(&n.to_be_bytes());
                    let _ = conn.write_all(&out[..usize::from(n)]);
                }
            })
        };
        HostileDns {
            addr,
            answer,
            stop,
            threads: vec![udp_thread, tcp_thread],
        }
    }
}

impl Drop for HostileDns {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = std::net::TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

/// DNS answers from a hostile server, read by the checks: the answer's accessors, the name
/// check and the CAA check (both ask only the resolver, which is the hostile server; no check
/// that follows addresses from the answers is run, so nothing leaves loopback).
pub struct DnsAnswers {
    server: HostileDns,
    runtime: tokio::runtime::Runtime,
    dns: certdx::checks::dns::Dns,
}

impl DnsAnswers {
    /// Starts the server and the client's runtime.
    pub fn new() -> DnsAnswers {
        use certdx::checks::dns::{Dns, DnsOptions};
        let server = HostileDns::start();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let dns = Dns::new(DnsOptions {
            resolver: Some(server.addr),
            timeout: Duration::from_millis(500),
            authoritative_port: server.addr.port(),
        })
        .expect("a resolver given");
        DnsAnswers {
            server,
            runtime,
            dns,
        }
    }
}

impl Target for DnsAnswers {
    fn name(&self) -> &'static str {
        "dns-answers"
    }

    fn strategy(&self) -> BoxedStrategy<Vec<u8>> {
        prop_oneof![
            6 => mutated(answer(&[1, 28, 5, 2, 6, 16, 257]), 4),
            1 => raw_bytes(512),
        ]
        .boxed()
    }

    fn run(&self, input: &[u8]) {
        use certdx::checks::caa::check_caa;
        use certdx::checks::dns::{format_record, fqdn};
        use certdx::checks::name::{Method, check_name};
        use hickory_proto::rr::RecordType;
        *self.server.answer.lock().unwrap_or_else(|e| e.into_inner()) = input.to_vec();
        let dns = &self.dns;
        self.runtime.block_on(async {
            let name = fqdn("www.example.com").expect("a valid name");
            // At once: the server answers one after another, the waits overlap.
            let (a, _, _) = futures::join!(
                dns.query_authoritative("ns.test.", self.server.addr, &name, RecordType::TXT),
                check_name(dns, "www.example.com", Method::Http01),
                check_caa(dns, "www.example.com", false, "letsencrypt.org", None, None),
            );
            let _ = (
                a.failure(),
                a.is_nxdomain(),
                a.is_authoritative(),
                a.ttl(),
                a.soa_serial(),
                a.negative_soa_owner().map(ToString::to_string),
                a.has_soa_at(&name),
                a.txt_values(&name),
                a.cname_of(&name).map(ToString::to_string),
                a.ns_names(),
                a.addresses(),
            );
            for r in a.answers().iter().chain(a.authorities()) {
                let _ = format_record(r);
            }
        });
    }
}

// ---------------------------------------------------------------------------------------
// The ACME engine's reading of responses.

const STATUSES: &[&str] = &[
    "pending",
    "ready",
    "processing",
    "valid",
    "invalid",
    "deactivated",
    "paused",
    "",
];

/// An order, authorization (the CA's and the store's form), directory or problem document,
/// with members sometimes of the wrong JSON type.
fn document() -> BoxedStrategy<Value> {
    (
        0u8..5,
        prop::sample::select(STATUSES),
        problem(),
        any::<(bool, u8)>(),
    )
        .prop_map(|(which, status, problem, (with_error, confuse))| {
            let url = "https://ca.test/acme/x/1";
            let mut v = match which {
                0 => json!({
                    "status": status,
                    "expires": "2026-01-15T10:00:00Z",
                    "identifiers": [{"type": "dns", "value": "a.example.com"}, {"type": "ip", "value": "::1"}],
                    "authorizations": [url],
                    "finalize": url,
                    "certificate": url,
                }),
                1 => json!({
                    "status": status,
                    "identifier": {"type": "dns", "value": "*.example.com"},
                    "wildcard": true,
                    "challenges": [
                        {"type": "http-01", "url": url, "token": "tok", "status": status},
                        {"type": "dns-01", "url": url, "token": "", "status": status, "error": problem.clone()},
                        {"type": "device-attest-01", "url": url, "token": "t", "status": "valid"},
                    ],
                }),
                2 => json!({
                    "url": url, "identifier": "example.com", "wildcard": false, "status": status,
                    "challenges": [{"kind": "dns-01", "url": url, "token": "t", "status": status,
                        "key_authorization": "t.x", "error": problem.clone()}],
                }),
                3 => json!({
                    "newNonce": url, "newAccount": url, "newOrder": url, "revokeCert": url,
                    "keyChange": url, "renewalInfo": url,
                    "meta": {"termsOfService": url, "caaIdentities": ["letsencrypt.org"],
                        "externalAccountRequired": with_error, "profiles": {"classic": "x"}},
                }),
                _ => problem.clone(),
            };
            if with_error && which == 0 {
                v["error"] = problem;
            }
            if let Some(object) = v.as_object_mut() {
                // Type confusion: one member replaced by a value of another JSON type.
                let keys: Vec<String> = object.keys().cloned().collect();
                if confuse % 3 == 0 && !keys.is_empty() {
                    let key = &keys[usize::from(confuse) % keys.len()];
                    let other = [json!(null), json!(-1), json!(1e300), json!([]), json!({}), json!("")]
                        [usize::from(confuse / 3) % 6]
                        .clone();
                    object.insert(key.clone(), other);
                }
            }
            v
        })
        .boxed()
}

/// The engine reading one response: operation, HTTP status, `Retry-After` and body. The input
/// is `[operation][status: 2 bytes][Retry-After length][Retry-After][body]`.
pub struct AcmeResponses;

const RETRY_AFTERS: &[&str] = &[
    "",
    "0",
    "120",
    "99999999999999999999999",
    "Wed, 21 Oct 2015 07:28:00 GMT",
    "Fri, 31 Dec 9999 23:59:59 GMT",
    "-1",
    "1e300",
    "soon",
];

impl Target for AcmeResponses {
    fn name(&self) -> &'static str {
        "acme-engine"
    }

    fn strategy(&self) -> BoxedStrategy<Vec<u8>> {
        let framed = (
            any::<u8>(),
            prop::sample::select(vec![
                200u16, 201, 204, 400, 403, 404, 429, 500, 503, 0, 65535,
            ]),
            prop::sample::select(RETRY_AFTERS),
            document(),
        )
            .prop_map(|(op, status, retry, doc)| {
                let mut out = vec![op];
                out.extend_from_slice(&status.to_be_bytes());
                out.push(retry.len() as u8);
                out.extend_from_slice(retry.as_bytes());
                out.extend(doc.to_string().into_bytes());
                out
            })
            .boxed();
        prop_oneof![6 => mutated(framed, 5), 1 => raw_bytes(256)].boxed()
    }

    fn run(&self, input: &[u8]) {
        let (head, rest) = input.split_at(input.len().min(4));
        let op = head.first().copied().unwrap_or(0);
        let status = match head {
            [_, hi, lo, ..] => u16::from_be_bytes([*hi, *lo]),
            _ => 200,
        };
        let retry_len = head.get(3).map_or(0, |&n| usize::from(n)).min(rest.len());
        let (retry, body) = rest.split_at(retry_len);
        let _ = certdx::engine::acme::fuzz::read_response(
            op,
            status,
            &String::from_utf8_lossy(retry),
            body,
        );
    }
}
