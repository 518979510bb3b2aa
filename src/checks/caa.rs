//! The CAA check: would the CA's CAA lookup allow it to issue for this name?
//!
//! It follows RFC 8659 the way Let's Encrypt's Boulder does: every level from the name up to
//! the TLD is asked at once through the recursive resolver (which chases CNAMEs); the nearest
//! level with a non-empty CAA set is the relevant set; a failed lookup at or below that level
//! makes the CA refuse. RFC 8657's `accounturi` and `validationmethods` are honoured.

mod policy;
mod wire;

use std::time::Instant;

use futures::future::join_all;
use hickory_proto::rr::{Name, RecordType};

pub use policy::{IssueValue, Request, Verdict, evaluate, parse_issue_value};
pub use wire::{RawCaa, caa_records};

use super::CheckReport;
use super::dns::{Dns, DnsAnswer, fqdn};
use super::name::{Method, validate_identifier};
use crate::model::{Code, DnsEvidence, Evidence, Finding, Severity};

/// Checks whether CAA lets `ca_domain` issue for `name`.
///
/// `wildcard` (or a `*.` prefix on `name`) selects `issuewild`. Without `account_uri` an
/// `accounturi` restriction is reported as a warning it cannot verify; without `method` a
/// `validationmethods` restriction must allow http-01 or dns-01 (what cert-manager solves).
pub async fn check_caa(
    dns: &Dns,
    name: &str,
    wildcard: bool,
    ca_domain: &str,
    account_uri: Option<&str>,
    method: Option<Method>,
) -> CheckReport {
    let started = Instant::now();
    let req = Request {
        wildcard: wildcard || name.starts_with("*."),
        ca_domain,
        account_uri,
        method,
    };
    let findings = caa_findings(dns, name, &req).await;
    CheckReport::from_findings("caa", name, started.elapsed(), findings)
}

/// One level of the climb and what the resolver said.
struct Level {
    name: Name,
    answer: DnsAnswer,
    records: Result<Vec<RawCaa>, String>,
}

impl Level {
    /// Why the CA would count this level as a failed lookup.
    fn failure(&self) -> Option<String> {
        if self.answer.raw.is_none() {
            return self.answer.failure();
        }
        match self.answer.rcode {
            Some(r) if u16::from(r) == 0 || u16::from(r) == 3 => None,
            Some(r) => Some(crate::checks::dns::rcode_name(r)),
            None => Some("no answer".to_owned()),
        }
    }

    /// The evidence line, with the records read from the wire when hickory could not.
    fn evidence(&self) -> DnsEvidence {
        let mut e = self.answer.evidence.clone();
        if let (Ok(records), None, Some(_)) =
            (&self.records, &self.answer.response, &self.answer.raw)
        {
            e.answers = records
                .iter()
                .map(|r| format!("{} CAA {r}", r.owner))
                .collect();
            e.error = None;
        }
        e
    }
}

async fn caa_findings(dns: &Dns, name: &str, req: &Request<'_>) -> Vec<Finding> {
    // CAA is a DNS record: it does not apply to IP address identifiers (RFC 8738 section 7).
    if super::name::ip_identifier(name).is_some() {
        return Vec::new();
    }
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
    let fq = match fqdn(base) {
        Ok(n) => n,
        Err(e) => return vec![Finding::new(Code::InvalidIdentifier, e)],
    };
    let names: Vec<Name> = (1..=fq.num_labels())
        .rev()
        .map(|n| fq.trim_to(usize::from(n)))
        .collect();
    let answers = join_all(
        names
            .iter()
            .map(|n| dns.query_recursive(n, RecordType::CAA)),
    )
    .await;
    let levels: Vec<Level> = names
        .into_iter()
        .zip(answers)
        .map(|(name, answer)| {
            let records = match &answer.raw {
                Some(raw) => caa_records(raw),
                None => Ok(Vec::new()),
            };
            Level {
                name,
                answer,
                records,
            }
        })
        .collect();

    for level in &levels {
        if level.answer.no_answer() {
            let what = format!("the CAA check of {base}");
            return vec![level.answer.inconclusive(&what)];
        }
        if let Some(reason) = level.failure() {
            return vec![
                Finding::new(
                    Code::CaaLookupFailed,
                    format!("the CAA lookup for {} failed: {reason}", level.name),
                )
                .with_detail(
                    "A CA that cannot complete the CAA lookup for a name or a parent below the \
                     nearest CAA set must refuse to issue (Let's Encrypt does).",
                )
                .with_evidence(Evidence::Dns(level.evidence())),
            ];
        }
        let records = match &level.records {
            Ok(r) => r,
            Err(reason) => {
                return vec![
                    Finding::new(
                        Code::CaaMalformed,
                        format!("the CAA answer for {} cannot be read: {reason}", level.name),
                    )
                    .with_severity(Severity::Fatal)
                    .with_detail(
                        "A CA that cannot parse the CAA answer treats it as a failed lookup.",
                    )
                    .with_evidence(Evidence::Dns(level.evidence())),
                ];
            }
        };
        if records.is_empty() {
            continue;
        }
        let at = level.name.to_string();
        let verdict = evaluate(records, &at, req);
        let owners: Vec<&str> = records.iter().map(|r| r.owner.as_str()).collect();
        let via = if owners.iter().all(|o| o.eq_ignore_ascii_case(&at)) {
            String::new()
        } else {
            format!(" (via CNAME, records owned by {})", owners[0])
        };
        let fact = Evidence::Fact {
            subject: format!("CAA for {name}"),
            detail: format!(
                "relevant CAA set found at {at}{via}: {}",
                records
                    .iter()
                    .map(|r| r.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        return verdict
            .findings
            .into_iter()
            .map(|f| {
                f.with_evidence(fact.clone())
                    .with_evidence(Evidence::Dns(level.evidence()))
            })
            .collect();
    }
    Vec::new()
}

/// The CAA issuer domain of a public ACME CA, from its directory URL.
///
/// Known: Let's Encrypt (production and staging) `letsencrypt.org`; ZeroSSL `sectigo.com`
/// (ZeroSSL issues through Sectigo); Sectigo `sectigo.com`; Google Trust Services (production
/// and staging) `pki.goog`; Buypass (production and test) `buypass.com`; SSL.com (production
/// and acme-try) `ssl.com`; DigiCert `digicert.com`. `None` for anything else (private CAs,
/// Pebble, step-ca): pass `--ca-domain` then.
pub fn ca_domain_for_server(acme_directory_url: &str) -> Option<&'static str> {
    let rest = acme_directory_url
        .split_once("://")
        .map_or(acme_directory_url, |(_, r)| r);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host_port = authority.rsplit('@').next().unwrap_or_default();
    let host = host_port
        .split(':')
        .next()
        .unwrap_or_default()
        .trim_end_matches('.')
        .to_ascii_lowercase();
    const TABLE: &[(&str, &str)] = &[
        ("api.letsencrypt.org", "letsencrypt.org"),
        ("acme.zerossl.com", "sectigo.com"),
        ("acme.sectigo.com", "sectigo.com"),
        ("api.pki.goog", "pki.goog"),
        ("test-api.pki.goog", "pki.goog"),
        ("api.buypass.com", "buypass.com"),
        ("api.test4.buypass.no", "buypass.com"),
        ("acme.ssl.com", "ssl.com"),
        ("acme-try.ssl.com", "ssl.com"),
        ("acme.digicert.com", "digicert.com"),
    ];
    TABLE
        .iter()
        .find(|(suffix, _)| host == *suffix || host.ends_with(&format!(".{suffix}")))
        .map(|(_, ca)| *ca)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ca_domains_of_public_acme_servers() {
        let cases = [
            (
                "https://acme-v02.api.letsencrypt.org/directory",
                Some("letsencrypt.org"),
            ),
            (
                "https://acme-staging-v02.api.letsencrypt.org/directory",
                Some("letsencrypt.org"),
            ),
            ("https://acme.zerossl.com/v2/DV90", Some("sectigo.com")),
            (
                "https://dv.acme-v02.api.pki.goog/directory",
                Some("pki.goog"),
            ),
            (
                "https://dv.acme-v02.test-api.pki.goog/directory",
                Some("pki.goog"),
            ),
            (
                "https://api.buypass.com/acme/directory",
                Some("buypass.com"),
            ),
            (
                "https://api.test4.buypass.no/acme/directory",
                Some("buypass.com"),
            ),
            ("https://acme.ssl.com/sslcom-dv-ecc", Some("ssl.com")),
            (
                "https://acme.digicert.com/v2/acme/directory/",
                Some("digicert.com"),
            ),
            (
                "https://ACME-V02.API.LETSENCRYPT.ORG:443/directory",
                Some("letsencrypt.org"),
            ),
            ("https://localhost:14000/dir", None),
            (
                "https://evil-api.letsencrypt.org.example.com/directory",
                None,
            ),
            ("not a url", None),
        ];
        for (url, want) in cases {
            assert_eq!(ca_domain_for_server(url), want, "{url}");
        }
    }
}
