//! Where the challenge TXT lives: CNAMEs followed, the zone found by an SOA walk, its
//! nameservers listed and resolved. All through the recursive resolver, as cert-manager's
//! self-check and the CA do.

use std::net::SocketAddr;

use futures::future::join_all;
use hickory_proto::rr::{Name, RecordType};

use crate::checks::dns::{Dns, DnsAnswer};
use crate::model::{Code, Evidence, Finding, Severity};

/// CNAME hops followed before giving up (cert-manager and resolvers stop around here too).
pub const MAX_HOPS: usize = 8;

/// One CNAME hop of the challenge name.
#[derive(Debug, Clone)]
pub struct Hop {
    /// The alias.
    pub from: Name,
    /// Its target.
    pub to: Name,
    /// The answer that showed the hop.
    pub evidence: crate::model::DnsEvidence,
}

/// The challenge name after following CNAMEs through the recursive resolver, with the
/// resolver's own TXT answer for it (what `dns01-recursive-stale` compares against).
#[derive(Debug)]
pub struct Followed {
    /// The name the chain ends at.
    pub target: Name,
    /// The hops, in order.
    pub chain: Vec<Hop>,
    /// The resolver's TXT answer covering `target`.
    pub recursive: DnsAnswer,
    /// A finding when the chain loops or is too long.
    pub problem: Option<Finding>,
}

/// Follows the CNAME chain of `name` as the resolver sees it.
///
/// The TXT answer usually carries the whole chain; when it does not (the resolver answers
/// SERVFAIL because a target's zone is broken) each hop is asked as a CNAME question.
pub async fn follow_cnames(dns: &Dns, name: &Name) -> Followed {
    let mut target = name.clone();
    let mut chain: Vec<Hop> = Vec::new();
    let mut recursive = dns.query_recursive(&target, RecordType::TXT).await;
    let mut problem = None;
    loop {
        let (next, evidence) = match recursive.cname_of(&target) {
            Some(t) => (Some(t.clone()), recursive.evidence.clone()),
            // Only an answer with an error rcode is worth a second question; a resolver
            // that did not answer at all would only cost another timeout.
            None if recursive.failure().is_some() && recursive.rcode.is_some() => {
                let cname = dns.query_recursive(&target, RecordType::CNAME).await;
                (cname.cname_of(&target).cloned(), cname.evidence)
            }
            None => (None, recursive.evidence.clone()),
        };
        let Some(next) = next else { break };
        if &next == name || chain.iter().any(|h| h.to == next) {
            problem = Some(chain_problem(name, &next, &chain, "loops back to"));
            break;
        }
        if chain.len() >= MAX_HOPS {
            problem = Some(chain_problem(
                name,
                &next,
                &chain,
                "is longer than 8 hops, at",
            ));
            break;
        }
        chain.push(Hop {
            from: target.clone(),
            to: next.clone(),
            evidence,
        });
        target = next;
        if recursive.failure().is_some() {
            recursive = dns.query_recursive(&target, RecordType::TXT).await;
        }
    }
    Followed {
        target,
        chain,
        recursive,
        problem,
    }
}

fn chain_problem(name: &Name, next: &Name, chain: &[Hop], what: &str) -> Finding {
    let mut finding = Finding::new(
        Code::Dns01Cname,
        format!("the CNAME chain of {name} {what} {next}"),
    )
    .with_severity(Severity::Error)
    .with_detail("CAs and cert-manager give up on CNAME loops and overly long chains.");
    for hop in chain {
        finding = finding.with_evidence(Evidence::Dns(hop.evidence.clone()));
    }
    finding
}

/// The zone that holds a name, as the SOA walk found it.
#[derive(Debug)]
pub struct Zone {
    /// The zone apex.
    pub name: Name,
    /// The SOA answer at the apex.
    pub soa: DnsAnswer,
}

/// Walks from `name` up to (not including) the root asking for SOA at every level in
/// parallel; the deepest level that answers with its own SOA is the zone.
///
/// A level below the zone that fails (SERVFAIL, timeout) hides the real zone: a delegated
/// zone whose servers are all broken. That is reported instead of the parent's zone.
pub async fn find_zone(dns: &Dns, name: &Name) -> Result<Zone, Finding> {
    let levels: Vec<Name> = (1..=name.num_labels())
        .rev()
        .map(|n| name.trim_to(usize::from(n)))
        .collect();
    let answers: Vec<DnsAnswer> = join_all(
        levels
            .iter()
            .map(|level| dns.query_recursive(level, RecordType::SOA)),
    )
    .await;
    let found = answers.iter().position(|a| a.has_soa_at(&a.name));
    let deeper = &answers[..found.unwrap_or(answers.len())];
    if let Some(failed) = deeper.iter().find(|a| a.failure().is_some()) {
        if failed.no_answer() {
            let mut finding = failed.inconclusive(&format!("finding the zone of {name}"));
            finding.evidence = answers
                .iter()
                .map(|a| Evidence::Dns(a.evidence.clone()))
                .collect();
            return Err(finding);
        }
        let reason = failed.failure().unwrap_or_default();
        let all_failed = answers.iter().all(|a| a.failure().is_some());
        let summary = if all_failed {
            format!(
                "could not look up the zone of {name}: the recursive resolver failed ({reason})"
            )
        } else {
            format!(
                "looking up the zone of {name} failed at {}: {reason}",
                failed.name
            )
        };
        let mut finding = Finding::new(Code::DnsLookupFailed, summary).with_detail(
            "The SOA walk that finds the zone (as cert-manager's self-check does) hit a failing \
             lookup: the zone's nameservers are broken or unreachable, or the resolver is.",
        );
        finding.evidence = answers
            .iter()
            .map(|a| Evidence::Dns(a.evidence.clone()))
            .collect();
        return Err(finding);
    }
    match found {
        Some(i) => Ok(Zone {
            name: levels[i].clone(),
            soa: answers[i].clone(),
        }),
        None => {
            let mut finding = Finding::new(
                Code::Dns01ZoneNotFound,
                format!("no zone found for {name}: no level up to the TLD has an SOA record"),
            );
            finding.evidence = answers
                .iter()
                .map(|a| Evidence::Dns(a.evidence.clone()))
                .collect();
            Err(finding)
        }
    }
}

/// One address of one authoritative nameserver.
#[derive(Debug, Clone)]
pub struct Server {
    /// The NS name.
    pub name: Name,
    /// Its address and the authoritative port.
    pub addr: SocketAddr,
}

/// Lists the zone's NS records and resolves every nameserver's IPv4 and IPv6 addresses in
/// parallel. Nameservers that cannot be resolved come back as `dns01-ns-error` findings.
pub async fn list_servers(dns: &Dns, zone: &Zone) -> (Vec<Server>, Vec<Finding>) {
    let ns = dns.query_recursive(&zone.name, RecordType::NS).await;
    let names = ns.ns_names();
    if names.is_empty() && ns.no_answer() {
        let finding = ns.inconclusive(&format!("listing the nameservers of {}", zone.name));
        return (Vec::new(), vec![finding]);
    }
    if names.is_empty() {
        let why = ns
            .failure()
            .unwrap_or_else(|| "the answer has no NS records".to_owned());
        let finding = Finding::new(
            Code::Dns01NsError,
            format!("cannot list the nameservers of {}: {why}", zone.name),
        )
        .with_evidence(Evidence::Dns(ns.evidence.clone()));
        return (Vec::new(), vec![finding]);
    }
    let resolved = join_all(names.iter().map(|n| dns.resolve_addresses(n))).await;
    let port = dns.options().authoritative_port;
    let mut servers = Vec::new();
    let mut findings = Vec::new();
    for (name, answers) in names.iter().zip(resolved) {
        let addresses = answers.addresses();
        let unanswered = [&answers.v4, &answers.v6]
            .into_iter()
            .find(|a| a.no_answer());
        if let Some(unanswered) = unanswered.filter(|_| addresses.is_empty()) {
            findings.push(
                unanswered.inconclusive(&format!("resolving nameserver {name} of {}", zone.name)),
            );
        } else if addresses.is_empty() {
            let why = answers
                .v4
                .failure()
                .or(answers.v6.failure())
                .unwrap_or_else(|| "no A or AAAA record".to_owned());
            let finding = Finding::new(
                Code::Dns01NsError,
                format!(
                    "nameserver {name} of {} has no usable address: {why}",
                    zone.name
                ),
            )
            .with_detail("A CA that picks this nameserver cannot ask it for the challenge TXT.")
            .with_evidence(Evidence::Dns(answers.v4.evidence.clone()))
            .with_evidence(Evidence::Dns(answers.v6.evidence.clone()));
            findings.push(finding);
        }
        servers.extend(addresses.into_iter().map(|ip| Server {
            name: name.clone(),
            addr: SocketAddr::new(ip, port),
        }));
    }
    (servers, findings)
}
