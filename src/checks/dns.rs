//! Shared DNS plumbing for the name, DNS-01 and CAA checks.
//!
//! certdx asks its questions itself, one server at a time, instead of through a caching stub
//! resolver: a diagnosis needs the response code, the AA and TC bits, the SOA serial and the
//! raw bytes of each answer, from the server that gave it, as it is *now* (a client-side cache
//! would hide exactly the staleness the DNS-01 check looks for). Two kinds of server are asked:
//! the recursive resolver (`--resolver HOST:PORT`, or the system's `/etc/resolv.conf`) with
//! recursion desired, and authoritative servers directly with recursion off.

mod cache;
mod transport;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::FutureExt;
use futures::future::BoxFuture;
use hickory_proto::op::{Edns, Message, Query, ResponseCode};
use hickory_proto::rr::{Name, RData, Record, RecordType};

pub use transport::Transport;

use cache::{Asked, Questions};

use super::limit::{Destination, LimitConfig, Limits};
use super::{AddressLookup, LookupError};
use crate::model::{Code, DnsEvidence, Evidence, Finding};

/// How certdx talks to DNS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsOptions {
    /// The recursive resolver to use; `None` reads the system configuration.
    pub resolver: Option<SocketAddr>,
    /// The deadline for one question to one server (TCP fallback gets its own).
    pub timeout: Duration,
    /// The port authoritative servers are asked on: 53, except in demos and labs.
    pub authoritative_port: u16,
}

impl Default for DnsOptions {
    fn default() -> Self {
        DnsOptions {
            resolver: None,
            timeout: Duration::from_secs(3),
            authoritative_port: 53,
        }
    }
}

/// Why a [`Dns`] could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DnsError {
    /// `/etc/resolv.conf` (or the platform's equivalent) could not be read or lists no server.
    #[error("cannot read the system resolver configuration ({0}); pass --resolver HOST:PORT")]
    SystemConfig(String),
}

/// certdx's handle on DNS: the recursive resolver(s) plus the options. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Dns {
    inner: Arc<Inner>,
    /// The run's answers, when this handle is one run's ([`Dns::for_run`]).
    run: Option<Arc<Questions>>,
}

#[derive(Debug)]
struct Inner {
    options: DnsOptions,
    resolvers: Vec<SocketAddr>,
    /// Questions in flight per server, shared by every clone of the handle.
    limits: Limits,
}

/// How a question that goes unanswered is asked again: UDP (with its own resend half-way),
/// then TCP (a lost datagram, or a server shedding UDP under load, still takes connections),
/// then UDP once more, as long as the budget lasts.
const RETRY_PLAN: [Transport; 3] = [Transport::Udp, Transport::TcpAfterTimeout, Transport::Udp];

/// A question's budget in per-question timeouts (`--timeout` / 3 each): a silent server costs
/// two timeouts, not one, before a check reports it.
const BUDGET_TIMEOUTS: u32 = 2;

/// The server label used in evidence for answers from the recursive resolver.
pub const RECURSIVE: &str = "recursive";

impl Dns {
    /// Builds the handle; without `options.resolver` the system configuration is read.
    pub fn new(options: DnsOptions) -> Result<Dns, DnsError> {
        let resolvers = match options.resolver {
            Some(addr) => vec![addr],
            None => system_resolvers()?,
        };
        Ok(Dns {
            inner: Arc::new(Inner {
                options,
                resolvers,
                limits: Limits::new(LimitConfig::default()),
            }),
            run: None,
        })
    }

    /// A handle for one run of checks: each distinct question (per server for authoritative
    /// ones) is asked once and its answer shared by every check of the run, also with checks
    /// asking while it is in flight. Per-server windows stay shared with `self`. Answers are
    /// not kept beyond the run: a re-check must see DNS as it is then.
    pub fn for_run(&self) -> Dns {
        Dns {
            inner: self.inner.clone(),
            run: Some(Arc::new(Questions::default())),
        }
    }

    /// This handle if it is already one run's, else [`Dns::for_run`].
    pub fn in_run(&self) -> Dns {
        match self.run {
            Some(_) => self.clone(),
            None => self.for_run(),
        }
    }

    /// How many distinct questions this run has asked (0 outside a run).
    pub fn questions_asked(&self) -> usize {
        self.run.as_ref().map_or(0, |q| q.len())
    }

    /// The options this handle was built with.
    pub fn options(&self) -> &DnsOptions {
        &self.inner.options
    }

    /// The recursive resolvers asked, in order.
    pub fn resolvers(&self) -> &[SocketAddr] {
        &self.inner.resolvers
    }

    /// Asks one authoritative server directly, recursion off.
    ///
    /// `server_name` only labels the evidence (e.g. `ns1.example.com.`).
    pub async fn query_authoritative(
        &self,
        server_name: &str,
        addr: SocketAddr,
        name: &Name,
        rtype: RecordType,
    ) -> DnsAnswer {
        let Some(run) = &self.run else {
            return self.query(server_name, addr, name, rtype, false).await;
        };
        let asked = Asked::Authoritative(server_name.to_owned(), addr);
        let ask = || {
            let (dns, label, name) = (self.clone(), server_name.to_owned(), name.clone());
            async move { dns.query(&label, addr, &name, rtype, false).await }.boxed()
        };
        run.get_or_ask(asked, name, rtype, ask).await
    }

    /// Asks the recursive resolver, recursion desired.
    ///
    /// With several configured resolvers the next one is tried when one fails to answer or
    /// answers SERVFAIL/REFUSED, as a stub resolver would; the last answer is returned.
    pub async fn query_recursive(&self, name: &Name, rtype: RecordType) -> DnsAnswer {
        let Some(run) = &self.run else {
            return self.ask_recursive(name, rtype).await;
        };
        let ask = || {
            let (dns, name) = (self.clone(), name.clone());
            async move { dns.ask_recursive(&name, rtype).await }.boxed()
        };
        run.get_or_ask(Asked::Recursive, name, rtype, ask).await
    }

    /// [`Dns::query_recursive`] without the run's answers.
    async fn ask_recursive(&self, name: &Name, rtype: RecordType) -> DnsAnswer {
        let mut last = None;
        for addr in self.resolvers() {
            let answer = self.query(RECURSIVE, *addr, name, rtype, true).await;
            if answer.failure().is_none() {
                return answer;
            }
            last = Some(answer);
        }
        last.unwrap_or_else(|| DnsAnswer::failed(RECURSIVE, None, name, rtype, "no resolver"))
    }

    /// Asks `addr` one question and records what came back. Never fails: transport errors
    /// and undecodable answers are reported inside the [`DnsAnswer`].
    pub async fn query(
        &self,
        server_name: &str,
        addr: SocketAddr,
        name: &Name,
        rtype: RecordType,
        recursion_desired: bool,
    ) -> DnsAnswer {
        let mut message = Message::query();
        message.add_query(Query::query(name.clone(), rtype));
        message.metadata.recursion_desired = recursion_desired;
        let mut edns = Edns::new();
        // 1232 bytes: the DNS flag day 2020 size that avoids IP fragmentation.
        edns.set_max_payload(1232);
        message.set_edns(edns);
        let id = message.metadata.id;
        let bytes = match message.to_vec() {
            Ok(b) => b,
            Err(e) => {
                let reason = format!("cannot encode the question: {e}");
                return DnsAnswer::failed(server_name, Some(addr), name, rtype, &reason);
            }
        };
        let destination = if recursion_desired {
            Destination::Recursive(addr)
        } else {
            Destination::Authoritative(addr)
        };
        let timeout = self.options().timeout;
        // The question's budget starts once it may first go: waiting for the server's window
        // is not the server being slow.
        let mut first: Option<Instant> = None;
        let mut missed: Vec<String> = Vec::new();
        for via in RETRY_PLAN {
            let permit = self.inner.limits.acquire(destination).await;
            let now = Instant::now();
            let began = *first.get_or_insert(now);
            let left = (began + timeout * BUDGET_TIMEOUTS).saturating_duration_since(now);
            if !missed.is_empty() && left < timeout / 4 {
                break;
            }
            let deadline = timeout.min(left);
            let result = match via {
                Transport::Udp => transport::exchange(addr, &bytes, id, deadline).await,
                _ => transport::exchange_tcp(addr, &bytes, id, deadline)
                    .await
                    .map(|raw| (raw, Transport::TcpAfterTimeout)),
            };
            match &result {
                Ok(_) => permit.answered(),
                Err(e) if transport::is_timeout(e) => permit.timed_out(),
                Err(_) => {}
            }
            drop(permit);
            let elapsed = began.elapsed();
            match result {
                Ok((raw, carried)) => {
                    return DnsAnswer::from_raw(
                        server_name,
                        addr,
                        name,
                        rtype,
                        raw,
                        carried,
                        elapsed,
                    );
                }
                // A server that refuses UDP outright, or answers garbage, is not asked again;
                // a TCP attempt that fails is no reason to stop asking over UDP.
                Err(e) if via == Transport::Udp && !transport::is_timeout(&e) => {
                    missed.push(e);
                    break;
                }
                Err(e) => {
                    let kind = if via == Transport::Udp { "UDP" } else { "TCP" };
                    missed.push(if missed.is_empty() {
                        e
                    } else {
                        format!("{kind}: {e}")
                    });
                }
            }
        }
        let reason = match missed.split_first() {
            Some((only, [])) => only.clone(),
            Some((head, rest)) => format!("{head}; asked again: {}", rest.join("; ")),
            None => "not asked".to_owned(),
        };
        let mut answer = DnsAnswer::failed(server_name, Some(addr), name, rtype, &reason);
        answer.evidence.elapsed_ms = first.map_or(0, |f| f.elapsed().as_millis() as u64);
        answer
    }

    /// The A and AAAA records of `name` through the recursive resolver, asked in parallel.
    pub async fn resolve_addresses(&self, name: &Name) -> AddressAnswers {
        let (v4, v6) = futures::join!(
            self.query_recursive(name, RecordType::A),
            self.query_recursive(name, RecordType::AAAA)
        );
        AddressAnswers { v4, v6 }
    }
}

/// The resolvers from `/etc/resolv.conf` (or the platform's equivalent), on port 53.
fn system_resolvers() -> Result<Vec<SocketAddr>, DnsError> {
    let (config, _) = hickory_resolver::system_conf::read_system_conf()
        .map_err(|e| DnsError::SystemConfig(e.to_string()))?;
    let servers: Vec<SocketAddr> = config
        .name_servers()
        .iter()
        .map(|ns| SocketAddr::new(ns.ip, 53))
        .collect();
    if servers.is_empty() {
        return Err(DnsError::SystemConfig("no nameserver listed".to_owned()));
    }
    Ok(servers)
}

/// One question to one server and what came back.
#[derive(Debug, Clone)]
pub struct DnsAnswer {
    /// The name asked.
    pub name: Name,
    /// The type asked.
    pub rtype: RecordType,
    /// The evidence line (server, question, rcode, answers, TTL, serial, timing).
    pub evidence: DnsEvidence,
    /// The decoded answer, when it decoded.
    pub response: Option<Message>,
    /// The raw answer bytes, when an answer came (also when it did not decode).
    pub raw: Option<Vec<u8>>,
    /// The response code, when an answer came (read from the header even if the rest is bad).
    pub rcode: Option<ResponseCode>,
    /// Why there is no usable answer: timeout, refused connection, undecodable bytes.
    pub error: Option<String>,
    /// Which transport carried the answer.
    pub transport: Option<Transport>,
}

impl DnsAnswer {
    fn failed(
        server: &str,
        addr: Option<SocketAddr>,
        name: &Name,
        rtype: RecordType,
        reason: &str,
    ) -> DnsAnswer {
        DnsAnswer {
            name: name.clone(),
            rtype,
            evidence: DnsEvidence {
                server: server.to_owned(),
                address: addr,
                question: format!("{name} {rtype}"),
                error: Some(reason.to_owned()),
                ..DnsEvidence::default()
            },
            response: None,
            raw: None,
            rcode: None,
            error: Some(reason.to_owned()),
            transport: None,
        }
    }

    fn from_raw(
        server: &str,
        addr: SocketAddr,
        name: &Name,
        rtype: RecordType,
        raw: Vec<u8>,
        transport: Transport,
        elapsed: Duration,
    ) -> DnsAnswer {
        // The low four bits of byte 3 are the rcode; EDNS extended codes need the decoded OPT.
        let header_rcode = ResponseCode::from(0, raw[3] & 0x0f);
        let (response, error) = match Message::from_vec(&raw) {
            Ok(m) => (Some(m), None),
            Err(e) => (None, Some(format!("undecodable answer: {e}"))),
        };
        let rcode = response
            .as_ref()
            .map_or(header_rcode, |m| m.metadata.response_code);
        let mut answer = DnsAnswer {
            name: name.clone(),
            rtype,
            evidence: DnsEvidence {
                server: server.to_owned(),
                address: Some(addr),
                question: format!("{name} {rtype}"),
                rcode: Some(rcode_name(rcode)),
                error: error.clone(),
                elapsed_ms: elapsed.as_millis() as u64,
                ..DnsEvidence::default()
            },
            response,
            raw: Some(raw),
            rcode: Some(rcode),
            error,
            transport: Some(transport),
        };
        answer.evidence.answers = answer.answers().iter().map(format_record).collect();
        answer.evidence.ttl = answer.ttl();
        answer.evidence.soa_serial = answer.soa_serial();
        match transport {
            Transport::Tcp => answer
                .evidence
                .question
                .push_str(" (TCP after truncated UDP)"),
            Transport::TcpAfterTimeout => answer
                .evidence
                .question
                .push_str(" (TCP after UDP went unanswered)"),
            Transport::Udp => {}
        }
        answer
    }

    /// Why this answer cannot be used, if it cannot: no answer, an undecodable one, or an
    /// rcode other than NOERROR/NXDOMAIN.
    pub fn failure(&self) -> Option<String> {
        if let Some(e) = &self.error {
            let rcode = self.rcode.map(|r| format!("{} ", rcode_name(r)));
            return Some(format!("{}{e}", rcode.unwrap_or_default()));
        }
        match self.rcode {
            Some(ResponseCode::NoError | ResponseCode::NXDomain) => None,
            Some(r) => Some(rcode_name(r)),
            None => Some("no answer".to_owned()),
        }
    }

    /// Whether the server let the question's whole budget pass without answering, asked
    /// again included: that says something about the server or the path to it, nothing
    /// about the name. (A refused connection is an answer of sorts, and stays a failure.)
    pub fn no_answer(&self) -> bool {
        self.raw.is_none()
            && self.rcode.is_none()
            && self.error.as_deref().is_some_and(transport::is_timeout)
    }

    /// Who was asked, in words: `the recursive resolver 127.0.0.53:53`, `ns1.example.com.
    /// (192.0.2.1:53)`.
    pub fn server_label(&self) -> String {
        let addr = self
            .evidence
            .address
            .map(|a| format!(" {a}"))
            .unwrap_or_default();
        if self.evidence.server == RECURSIVE {
            format!("the recursive resolver{addr}")
        } else {
            format!("nameserver {}{addr}", self.evidence.server)
        }
    }

    /// The `check-inconclusive` finding for an answer that never came: `what` (e.g. `the
    /// CAA check of www.example.com`) could not finish, and the server that did not answer
    /// is named, instead of a verdict about the name nobody gave.
    pub fn inconclusive(&self, what: &str) -> Finding {
        let why = self.failure().unwrap_or_else(|| "no answer".to_owned());
        Finding::new(
            Code::CheckInconclusive,
            format!(
                "{what} is inconclusive: {} did not answer {} {} ({why})",
                self.server_label(),
                self.name,
                self.rtype
            ),
        )
        .with_detail(
            "No answer is not a verdict about the name: the question was asked again (TCP after \
             UDP) within its time budget and still went unanswered.",
        )
        .with_evidence(Evidence::Dns(self.evidence.clone()))
    }

    /// Whether the server said the name does not exist.
    pub fn is_nxdomain(&self) -> bool {
        self.rcode == Some(ResponseCode::NXDomain)
    }

    /// Whether the AA bit is set.
    pub fn is_authoritative(&self) -> bool {
        self.response
            .as_ref()
            .is_some_and(|m| m.metadata.authoritative)
    }

    /// The answer section (empty without a decoded answer).
    pub fn answers(&self) -> &[Record] {
        self.response.as_ref().map_or(&[], |m| &m.answers)
    }

    /// The authority section (empty without a decoded answer).
    pub fn authorities(&self) -> &[Record] {
        self.response.as_ref().map_or(&[], |m| &m.authorities)
    }

    /// The smallest TTL of the answer section, or for a negative answer the negative-caching
    /// TTL the SOA in the authority section gives (min of its TTL and MINIMUM, RFC 2308).
    pub fn ttl(&self) -> Option<u32> {
        if let Some(min) = self.answers().iter().map(|r| r.ttl).min() {
            return Some(min);
        }
        self.authorities().iter().find_map(|r| match &r.data {
            RData::SOA(soa) => Some(r.ttl.min(soa.minimum)),
            _ => None,
        })
    }

    /// The SOA serial in the answer or authority section.
    pub fn soa_serial(&self) -> Option<u32> {
        self.answers()
            .iter()
            .chain(self.authorities())
            .find_map(|r| match &r.data {
                RData::SOA(soa) => Some(soa.serial),
                _ => None,
            })
    }

    /// The owner of the SOA in the authority section of a negative answer: the zone that
    /// says the name does not exist.
    pub fn negative_soa_owner(&self) -> Option<&Name> {
        self.authorities()
            .iter()
            .find(|r| matches!(r.data, RData::SOA(_)))
            .map(|r| &r.name)
    }

    /// Whether the answer section holds an SOA owned by exactly `name`: `name` is a zone apex.
    pub fn has_soa_at(&self, name: &Name) -> bool {
        self.answers()
            .iter()
            .any(|r| matches!(r.data, RData::SOA(_)) && &r.name == name)
    }

    /// The TXT values owned by `owner`, each record's strings joined as CAs join them.
    pub fn txt_values(&self, owner: &Name) -> Vec<String> {
        let mut values: Vec<String> = self
            .answers()
            .iter()
            .filter(|r| &r.name == owner)
            .filter_map(|r| match &r.data {
                RData::TXT(txt) => Some(
                    txt.txt_data
                        .iter()
                        .map(|s| String::from_utf8_lossy(s))
                        .collect::<String>(),
                ),
                _ => None,
            })
            .collect();
        values.sort();
        values
    }

    /// The CNAME target of `owner`, if the answer holds one.
    pub fn cname_of(&self, owner: &Name) -> Option<&Name> {
        self.answers().iter().find_map(|r| match &r.data {
            RData::CNAME(target) if &r.name == owner => Some(&target.0),
            _ => None,
        })
    }

    /// The NS names in the answer section.
    pub fn ns_names(&self) -> Vec<Name> {
        let mut names: Vec<Name> = self
            .answers()
            .iter()
            .filter_map(|r| match &r.data {
                RData::NS(ns) => Some(ns.0.clone()),
                _ => None,
            })
            .collect();
        names.sort();
        names.dedup();
        names
    }

    /// The A and AAAA addresses in the answer section (CNAME chains included).
    pub fn addresses(&self) -> Vec<IpAddr> {
        self.answers()
            .iter()
            .filter_map(|r| match &r.data {
                RData::A(a) => Some(IpAddr::V4(a.0)),
                RData::AAAA(a) => Some(IpAddr::V6(a.0)),
                _ => None,
            })
            .collect()
    }
}

/// The A and AAAA answers for one name.
#[derive(Debug, Clone)]
pub struct AddressAnswers {
    /// The A question.
    pub v4: DnsAnswer,
    /// The AAAA question.
    pub v6: DnsAnswer,
}

impl AddressAnswers {
    /// Every address found, IPv4 first.
    pub fn addresses(&self) -> Vec<IpAddr> {
        let mut all = self.v4.addresses();
        all.extend(self.v6.addresses());
        all.dedup();
        all
    }

    /// What [`AddressLookup`] reports: addresses when any family has some, NXDOMAIN when
    /// the name does not exist, a failure when both questions failed or one failed and the
    /// other found nothing.
    pub fn result(&self, name: &str) -> Result<Vec<IpAddr>, LookupError> {
        let all = self.addresses();
        if !all.is_empty() {
            return Ok(all);
        }
        let failures: Vec<String> = [&self.v4, &self.v6]
            .iter()
            .filter_map(|a| a.failure().map(|f| format!("{}: {f}", a.rtype)))
            .collect();
        if !failures.is_empty() {
            return Err(LookupError::Failed {
                name: name.to_owned(),
                reason: failures.join("; "),
            });
        }
        if self.v4.is_nxdomain() || self.v6.is_nxdomain() {
            return Err(LookupError::NxDomain(name.to_owned()));
        }
        Err(LookupError::NoAddress(name.to_owned()))
    }
}

impl AddressLookup for Dns {
    fn addresses<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<Vec<IpAddr>, LookupError>> {
        Box::pin(async move {
            let fq = fqdn(name).map_err(|reason| LookupError::Failed {
                name: name.to_owned(),
                reason,
            })?;
            self.resolve_addresses(&fq).await.result(name)
        })
    }
}

/// Parses a host name as a fully qualified DNS name (a trailing dot is optional).
pub fn fqdn(name: &str) -> Result<Name, String> {
    let trimmed = name.trim_end_matches('.');
    if trimmed.is_empty() {
        return Err("empty name".to_owned());
    }
    Name::from_ascii(format!("{trimmed}.")).map_err(|e| format!("{name:?} is not a DNS name: {e}"))
}

/// The mnemonic dig prints for a response code (`NOERROR`, `NXDOMAIN`, `REFUSED`, ..., and
/// the dynamic-update codes of RFC 2136).
pub fn rcode_name(rcode: ResponseCode) -> String {
    match u16::from(rcode) {
        0 => "NOERROR".to_owned(),
        1 => "FORMERR".to_owned(),
        2 => "SERVFAIL".to_owned(),
        3 => "NXDOMAIN".to_owned(),
        4 => "NOTIMP".to_owned(),
        5 => "REFUSED".to_owned(),
        6 => "YXDOMAIN".to_owned(),
        7 => "YXRRSET".to_owned(),
        8 => "NXRRSET".to_owned(),
        9 => "NOTAUTH".to_owned(),
        10 => "NOTZONE".to_owned(),
        n => format!("RCODE{n}"),
    }
}

/// A record as evidence text: `owner TTL TYPE data`, TXT strings quoted.
pub fn format_record(record: &Record) -> String {
    let data = match &record.data {
        RData::TXT(txt) => txt
            .txt_data
            .iter()
            .map(|s| format!("{:?}", String::from_utf8_lossy(s)))
            .collect::<Vec<_>>()
            .join(" "),
        other => other.to_string(),
    };
    format!(
        "{} {} {} {}",
        record.name,
        record.ttl,
        record.record_type(),
        data
    )
}

#[cfg(test)]
mod tests;
