//! From every authoritative server's answer to findings: errors, missing or wrong values,
//! disagreement, and a resolver that lags behind the servers.

use std::collections::{BTreeMap, BTreeSet};

use hickory_proto::rr::Name;

use super::zone::Server;
use crate::checks::dns::{DnsAnswer, rcode_name};
use crate::model::{Code, DnsEvidence, Evidence, Finding};

/// What one authoritative server said about the challenge name.
#[derive(Debug)]
pub struct ServerAnswer {
    /// Who was asked.
    pub server: Server,
    /// The TXT question.
    pub txt: DnsAnswer,
    /// The SOA question for the zone, asked at the same time.
    pub soa: DnsAnswer,
}

impl ServerAnswer {
    /// Why this server's answer cannot be used, if it cannot.
    pub fn problem(&self) -> Option<String> {
        if let Some(f) = self.txt.failure() {
            return Some(f);
        }
        if !self.txt.is_authoritative() {
            return Some(
                "answered without the AA bit: not authoritative for the zone (lame delegation)"
                    .to_owned(),
            );
        }
        None
    }

    /// The zone's serial as this server reports it.
    pub fn serial(&self) -> Option<u32> {
        self.soa
            .answers()
            .iter()
            .find_map(|r| match &r.data {
                hickory_proto::rr::RData::SOA(soa) => Some(soa.serial),
                _ => None,
            })
            .or_else(|| self.txt.soa_serial())
    }

    /// The zone's SOA refresh interval as this server reports it: how often a secondary polls
    /// its primary for a new serial when no NOTIFY reaches it.
    pub fn refresh(&self) -> Option<u32> {
        self.soa.answers().iter().find_map(|r| match &r.data {
            hickory_proto::rr::RData::SOA(soa) => u32::try_from(soa.refresh).ok(),
            _ => None,
        })
    }

    /// The TXT evidence line, labelled with the NS name and carrying the zone serial.
    pub fn evidence(&self) -> DnsEvidence {
        let mut e = self.txt.evidence.clone();
        e.server = self.server.name.to_string();
        e.soa_serial = self.serial().or(e.soa_serial);
        e
    }

    /// One line: `ns1.example.com. (192.0.2.1:53)`.
    pub fn label(&self) -> String {
        format!("{} ({})", self.server.name, self.server.addr)
    }

    /// What the server holds at `target`, comparable across servers.
    fn view(&self, target: &Name) -> View {
        View {
            rcode: self.txt.rcode.map(rcode_name).unwrap_or_default(),
            values: self.txt.txt_values(target),
            cname: self.txt.cname_of(target).map(|n| n.to_string()),
        }
    }
}

/// A server's answer reduced to what must agree between servers.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct View {
    rcode: String,
    values: Vec<String>,
    cname: Option<String>,
}

impl View {
    fn describe(&self) -> String {
        if let Some(c) = &self.cname {
            return format!("CNAME to {c}");
        }
        if self.values.is_empty() {
            return if self.rcode == "NXDOMAIN" {
                "NXDOMAIN".to_owned()
            } else {
                format!("{} with no TXT", self.rcode)
            };
        }
        let quoted: Vec<String> = self.values.iter().map(|v| format!("{v:?}")).collect();
        quoted.join(", ")
    }
}

/// All findings about the servers' answers for `target`.
pub fn analyse(
    target: &Name,
    answers: &[ServerAnswer],
    expected: Option<&str>,
    recursive: &DnsAnswer,
) -> Vec<Finding> {
    let mut findings = Vec::new();
    let (broken, good): (Vec<&ServerAnswer>, Vec<&ServerAnswer>) =
        answers.iter().partition(|a| a.problem().is_some());

    for a in &broken {
        let problem = a.problem().unwrap_or_default();
        findings.push(
            Finding::new(
                Code::Dns01NsError,
                format!(
                    "nameserver {} failed for {target} TXT: {problem}",
                    a.label()
                ),
            )
            .with_detail(
                "CAs pick any of the zone's nameservers; one that fails can fail the validation.",
            )
            .with_evidence(Evidence::Dns(a.evidence())),
        );
    }

    if let Some(expected) = expected {
        findings.extend(value_findings(target, &good, expected));
    }
    findings.extend(inconsistency(target, &good));
    if let Some(expected) = expected {
        findings.extend(stale(target, &good, expected, recursive));
    }
    findings
}

fn value_findings(target: &Name, good: &[&ServerAnswer], expected: &str) -> Vec<Finding> {
    let mut findings = Vec::new();
    let missing: Vec<&&ServerAnswer> = good
        .iter()
        .filter(|a| a.txt.txt_values(target).is_empty())
        .collect();
    if !missing.is_empty() {
        let names: Vec<String> = missing.iter().map(|a| a.label()).collect();
        let detail: Vec<String> = missing
            .iter()
            .map(|a| format!("{}: {}", a.label(), a.view(target).describe()))
            .collect();
        let mut finding = Finding::new(
            Code::Dns01TxtMissing,
            format!(
                "{} of {} nameservers {} no TXT at {target}: {}",
                missing.len(),
                good.len(),
                if missing.len() == 1 { "has" } else { "have" },
                names.join(", ")
            ),
        )
        .with_detail(format!("expected {expected:?}; {}", detail.join("; ")));
        finding.evidence = missing
            .iter()
            .map(|a| Evidence::Dns(a.evidence()))
            .collect();
        findings.push(finding);
    }
    let wrong: Vec<&&ServerAnswer> = good
        .iter()
        .filter(|a| {
            let values = a.txt.txt_values(target);
            !values.is_empty() && !values.iter().any(|v| v == expected)
        })
        .collect();
    if !wrong.is_empty() {
        let found: BTreeSet<String> = wrong
            .iter()
            .flat_map(|a| a.txt.txt_values(target))
            .map(|v| format!("{v:?}"))
            .collect();
        let names: Vec<String> = wrong.iter().map(|a| a.label()).collect();
        let mut finding = Finding::new(
            Code::Dns01TxtWrongValue,
            format!(
                "TXT at {target} is {} instead of {expected:?} on {}",
                found.into_iter().collect::<Vec<_>>().join(", "),
                names.join(", ")
            ),
        )
        .with_detail(format!(
            "expected {expected:?}; a stale record from an earlier attempt or another tool is \
             published instead"
        ));
        finding.evidence = wrong.iter().map(|a| Evidence::Dns(a.evidence())).collect();
        findings.push(finding);
    }
    findings
}

fn inconsistency(target: &Name, good: &[&ServerAnswer]) -> Option<Finding> {
    let mut views: BTreeMap<View, Vec<String>> = BTreeMap::new();
    let mut serials: BTreeMap<u32, Vec<String>> = BTreeMap::new();
    for a in good {
        views.entry(a.view(target)).or_default().push(a.label());
        if let Some(s) = a.serial() {
            serials.entry(s).or_default().push(a.label());
        }
    }
    if views.len() <= 1 && serials.len() <= 1 {
        return None;
    }
    let mut parts = Vec::new();
    if views.len() > 1 {
        let groups: Vec<String> = views
            .iter()
            .map(|(v, servers)| format!("{} say {}", servers.join(", "), v.describe()))
            .collect();
        parts.push(format!("answers differ: {}", groups.join("; ")));
    }
    if serials.len() > 1 {
        let groups: Vec<String> = serials
            .iter()
            .map(|(s, servers)| format!("serial {s} on {}", servers.join(", ")))
            .collect();
        parts.push(format!("SOA serials differ: {}", groups.join("; ")));
    }
    let what = match (views.len() > 1, serials.len() > 1) {
        (true, true) => "answers and SOA serials",
        (true, false) => "answers",
        _ => "SOA serials",
    };
    let mut finding = Finding::new(
        Code::Dns01NsInconsistent,
        format!("the nameservers disagree on {target}: different {what}"),
    )
    .with_detail(parts.join(". "));
    finding.evidence = good.iter().map(|a| Evidence::Dns(a.evidence())).collect();
    Some(finding)
}

fn stale(
    target: &Name,
    good: &[&ServerAnswer],
    expected: &str,
    recursive: &DnsAnswer,
) -> Option<Finding> {
    let everywhere = !good.is_empty()
        && good
            .iter()
            .all(|a| a.txt.txt_values(target).iter().any(|v| v == expected));
    if !everywhere || recursive.failure().is_some() {
        return None;
    }
    let seen = recursive.txt_values(target);
    if seen.iter().any(|v| v == expected) {
        return None;
    }
    let what = if seen.is_empty() {
        if recursive.is_nxdomain() {
            "NXDOMAIN".to_owned()
        } else {
            "no TXT".to_owned()
        }
    } else {
        seen.iter()
            .map(|v| format!("{v:?}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let ttl = recursive
        .ttl()
        .map(|t| format!(" for up to {t} s more (the TTL it reports)"))
        .unwrap_or_default();
    Some(
        Finding::new(
            Code::Dns01RecursiveStale,
            format!(
                "every authoritative server has {expected:?} at {target}, but the recursive \
                 resolver still answers {what}"
            ),
        )
        .with_detail(format!(
            "the resolver cached an older answer and will serve it{ttl}; cert-manager's \
             self-check asks recursive resolvers and waits until it expires"
        ))
        .with_evidence(Evidence::Dns(recursive.evidence.clone())),
    )
}

/// How long the challenge record may still take to reach every server and the resolvers, as
/// this check measured it: only when it saw the record still on its way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Propagation {
    /// The longest it may still take, in seconds.
    pub bound_secs: u32,
    /// Why, in words, with the measured figures.
    pub why: String,
}

/// The propagation the answers show, when the expected value is on its way: on some
/// authoritative servers and not yet on others (a secondary without NOTIFY picks it up within
/// the zone's SOA refresh), or on every server but not yet at the resolver (which serves what
/// it cached for the TTL it reports).
pub fn propagation(
    target: &Name,
    answers: &[ServerAnswer],
    expected: &str,
    recursive: &DnsAnswer,
) -> Option<Propagation> {
    let good: Vec<&ServerAnswer> = answers.iter().filter(|a| a.problem().is_none()).collect();
    let has = |a: &&&ServerAnswer| a.txt.txt_values(target).iter().any(|v| v == expected);
    let with = good.iter().filter(has).count();
    if with == 0 {
        // Not published anywhere: nothing is propagating.
        return None;
    }
    if with < good.len() {
        let refresh = good.iter().filter_map(|a| a.refresh()).max()?;
        return Some(Propagation {
            bound_secs: refresh,
            why: format!(
                "{} of {} nameservers do not have the TXT at {target} yet; a secondary that \
                 misses the NOTIFY picks it up within the zone's SOA refresh, {refresh} s",
                good.len() - with,
                good.len()
            ),
        });
    }
    if recursive.failure().is_some() || recursive.txt_values(target).iter().any(|v| v == expected) {
        return None;
    }
    let ttl = recursive.ttl()?;
    Some(Propagation {
        bound_secs: ttl,
        why: format!(
            "every nameserver has the TXT at {target}, but the recursive resolver still serves \
             what it cached, for up to {ttl} s more"
        ),
    })
}
