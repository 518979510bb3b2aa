//! The DNS-01 check: is the challenge TXT at `_acme-challenge.<name>` published, with the
//! right value, on every authoritative server, and does the recursive resolver see it?
//!
//! The playbook step it replaces is `dig +norec @each-ns _acme-challenge.<name> TXT`: the
//! zone is found by an SOA walk (CNAMEs followed, acme-dns style), each nameserver's IPv4 and
//! IPv6 addresses are asked directly and in parallel, so the check takes as long as the
//! slowest server, not the sum.

mod analyse;
mod zone;

use std::time::Instant;

use futures::future::join_all;
use hickory_proto::rr::{Name, RecordType};

pub use analyse::{Propagation, ServerAnswer};
pub use zone::{Followed, Hop, MAX_HOPS, Server, Zone, follow_cnames};

use super::CheckReport;
use super::dns::{Dns, fqdn};
use super::name::validate_identifier;
use crate::model::{Code, DnsEvidence, Evidence, Finding};

/// Checks the DNS-01 challenge record of `name` (a wildcard's `*.` is dropped, as ACME does).
///
/// With `expected` (the key authorization digest) it reports `dns01-txt-missing`,
/// `dns01-txt-wrong-value` and `dns01-recursive-stale`; without it only what needs no
/// value: `dns01-ns-error`, `dns01-ns-inconsistent`, `dns01-zone-not-found`, `dns01-cname`.
pub async fn check_dns01(dns: &Dns, name: &str, expected: Option<&str>) -> CheckReport {
    check_dns01_detailed(dns, name, expected).await.0
}

/// What the DNS-01 check saw, findings or not: for a per-server table in the CLI and TUI.
#[derive(Debug, Clone, Default)]
pub struct Dns01Details {
    /// The name whose TXT was checked, after CNAMEs (`_acme-challenge.<name>.` without any).
    pub checked_name: Option<String>,
    /// The zone the SOA walk found.
    pub zone: Option<String>,
    /// The CNAME hops followed.
    pub chain: Vec<Hop>,
    /// Each authoritative server address's TXT answer (with the zone serial it reported).
    pub servers: Vec<DnsEvidence>,
    /// The recursive resolver's TXT answer.
    pub recursive: Option<DnsEvidence>,
    /// How long the expected value may still take to reach every server and the resolver,
    /// when the check saw it on its way.
    pub propagation: Option<Propagation>,
}

/// [`check_dns01`], also returning every answer it saw.
pub async fn check_dns01_detailed(
    dns: &Dns,
    name: &str,
    expected: Option<&str>,
) -> (CheckReport, Dns01Details) {
    let started = Instant::now();
    let mut details = Dns01Details::default();
    let findings = dns01_findings(dns, name, expected, &mut details).await;
    let report = CheckReport::from_findings("dns01", name, started.elapsed(), findings);
    (report, details)
}

async fn dns01_findings(
    dns: &Dns,
    name: &str,
    expected: Option<&str>,
    details: &mut Dns01Details,
) -> Vec<Finding> {
    if let Err(reason) = validate_identifier(name, true) {
        return vec![
            Finding::new(
                Code::InvalidIdentifier,
                format!("{name:?} is not a valid DNS identifier: {reason}"),
            )
            .with_detail(reason),
        ];
    }
    let base = name.strip_prefix("*.").unwrap_or(name);
    let challenge = match fqdn(&format!("_acme-challenge.{base}")) {
        Ok(n) => n,
        Err(e) => return vec![Finding::new(Code::InvalidIdentifier, e)],
    };

    let followed = zone::follow_cnames(dns, &challenge).await;
    let mut chain = followed.chain;
    let mut target = followed.target;
    let mut recursive = followed.recursive;
    let mut findings: Vec<Finding> = followed.problem.into_iter().collect();

    // An authoritative CNAME the resolver has not seen yet (it cached the old answer) is
    // followed too: the CA, asking later, will follow it.
    for _ in 0..MAX_HOPS {
        let zone = match zone::find_zone(dns, &target).await {
            Ok(z) => z,
            Err(f) => {
                findings.push(f);
                break;
            }
        };
        let (servers, ns_findings) = zone::list_servers(dns, &zone).await;
        findings.extend(ns_findings);
        if servers.is_empty() {
            break;
        }
        let answers = ask_all(dns, &servers, &target, &zone.name).await;
        details.zone = Some(zone.name.to_string());
        details.servers = answers.iter().map(ServerAnswer::evidence).collect();
        if let Some(next) = unanimous_cname(&answers, &target)
            && next != challenge
            && !chain.iter().any(|h| h.to == next)
        {
            let evidence = answers
                .iter()
                .find(|a| a.problem().is_none())
                .map(ServerAnswer::evidence)
                .unwrap_or_default();
            chain.push(Hop {
                from: target.clone(),
                to: next.clone(),
                evidence,
            });
            target = next;
            recursive = dns.query_recursive(&target, RecordType::TXT).await;
            continue;
        }
        findings.extend(analyse::analyse(&target, &answers, expected, &recursive));
        details.propagation =
            expected.and_then(|e| analyse::propagation(&target, &answers, e, &recursive));
        break;
    }

    details.checked_name = Some(target.to_string());
    details.recursive = Some(recursive.evidence.clone());
    details.chain = chain.clone();
    if !chain.is_empty() {
        let path: Vec<String> = std::iter::once(challenge.to_string())
            .chain(chain.iter().map(|h| h.to.to_string()))
            .collect();
        let mut info = Finding::new(
            Code::Dns01Cname,
            format!("{challenge} is a CNAME to {target}; the TXT was checked there"),
        )
        .with_detail(format!("CNAME chain: {}", path.join(" -> ")));
        info.evidence = chain
            .iter()
            .map(|h| Evidence::Dns(h.evidence.clone()))
            .collect();
        findings.insert(0, info);
    }
    findings
}

/// Asks every server for the TXT and the zone's SOA, all at once.
async fn ask_all(dns: &Dns, servers: &[Server], target: &Name, zone: &Name) -> Vec<ServerAnswer> {
    join_all(servers.iter().map(|server| async move {
        let label = server.name.to_string();
        let (txt, soa) = futures::join!(
            dns.query_authoritative(&label, server.addr, target, RecordType::TXT),
            dns.query_authoritative(&label, server.addr, zone, RecordType::SOA)
        );
        ServerAnswer {
            server: server.clone(),
            txt,
            soa,
        }
    }))
    .await
}

/// The CNAME target every answering server gives for `target`, if they all give the same one.
fn unanimous_cname(answers: &[ServerAnswer], target: &Name) -> Option<Name> {
    let mut good = answers.iter().filter(|a| a.problem().is_none());
    let first = good.next()?.txt.cname_of(target)?.clone();
    good.all(|a| a.txt.cname_of(target) == Some(&first))
        .then_some(first)
}
