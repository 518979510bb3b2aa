//! Is the name one a CA can issue for, and does it resolve? The first check run for every
//! identifier: its A/AAAA addresses feed the HTTP-01 check.

use std::net::IpAddr;
use std::time::Instant;

use super::CheckReport;
use super::dns::{Dns, DnsAnswer, fqdn};
use crate::model::{Code, Evidence, Finding, Severity};

/// The ACME validation method a name is being checked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Method {
    /// HTTP-01: the CA fetches a token over HTTP from the name's addresses.
    Http01,
    /// DNS-01: the CA reads a TXT record at `_acme-challenge.<name>`.
    Dns01,
}

impl Method {
    /// The ACME name of the method, as CAA `validationmethods` spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Http01 => "http-01",
            Method::Dns01 => "dns-01",
        }
    }
}

impl std::fmt::Display for Method {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The longest name, without the trailing dot, that fits in 255 wire octets.
const MAX_NAME: usize = 253;
/// The longest label.
const MAX_LABEL: usize = 63;

/// Checks that `name` is a DNS identifier an ACME CA accepts, syntax only (no lookups).
///
/// The rules are the ones Let's Encrypt's policy applies: LDH labels of 1 to 63 characters
/// with no hyphen at either end, no reserved `??--` form other than `xn--`, at least two
/// labels, at most 253 characters, no trailing dot, no IP address, a TLD that is not all
/// digits, and `*` only as the whole leftmost label when `wildcard_allowed`. Upper case is
/// accepted (DNS is case-insensitive and clients lower-case it). Special-use TLDs such as
/// `.local` are *not* rejected: private ACME CAs issue for them.
pub fn validate_identifier(name: &str, wildcard_allowed: bool) -> Result<(), String> {
    if name.is_empty() {
        return Err("the name is empty".to_owned());
    }
    if let Some(c) = name
        .chars()
        .find(|c| !c.is_ascii() || c.is_ascii_whitespace())
    {
        return Err(if c.is_ascii() {
            "the name contains whitespace".to_owned()
        } else {
            format!("the name contains the non-ASCII character {c:?}: use its punycode (xn--) form")
        });
    }
    let bare = name.trim_start_matches('[').trim_end_matches(']');
    if bare.parse::<IpAddr>().is_ok() {
        return Err(format!(
            "{name} is an IP address; a DNS name is required here"
        ));
    }
    if name.ends_with('.') {
        return Err("the name ends with a dot: drop the trailing dot".to_owned());
    }
    if name.len() > MAX_NAME {
        return Err(format!(
            "the name is {} characters long; at most {MAX_NAME} are allowed",
            name.len()
        ));
    }
    let base = match name.strip_prefix("*.") {
        Some(rest) if wildcard_allowed => rest,
        Some(_) => return Err("a wildcard is not allowed here".to_owned()),
        None => name,
    };
    if base.contains('*') {
        return Err("'*' is only allowed as the whole leftmost label (*.example.com)".to_owned());
    }
    let labels: Vec<&str> = base.split('.').collect();
    if labels.len() < 2 {
        return Err(format!(
            "{name} has a single label; a fully qualified name with a dot is required"
        ));
    }
    for label in &labels {
        validate_label(label)?;
    }
    let tld = labels[labels.len() - 1];
    if tld.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("the top-level label {tld:?} is all digits"));
    }
    Ok(())
}

fn validate_label(label: &str) -> Result<(), String> {
    if label.is_empty() {
        return Err("the name has an empty label (two dots in a row, or a leading dot)".to_owned());
    }
    if label.len() > MAX_LABEL {
        return Err(format!(
            "the label {label:?} is {} characters long; at most {MAX_LABEL} are allowed",
            label.len()
        ));
    }
    if let Some(c) = label
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '-'))
    {
        return Err(if c == '_' {
            format!("the label {label:?} contains '_': underscores are not allowed in host names")
        } else {
            format!("the label {label:?} contains the invalid character {c:?}")
        });
    }
    if label.starts_with('-') || label.ends_with('-') {
        return Err(format!("the label {label:?} starts or ends with a hyphen"));
    }
    if label.len() >= 4 && &label[2..4] == "--" && !label[..2].eq_ignore_ascii_case("xn") {
        return Err(format!(
            "the label {label:?} has hyphens in the 3rd and 4th positions, a form reserved for xn-- labels"
        ));
    }
    Ok(())
}

/// Validates the identifier and resolves its addresses through the recursive resolver.
///
/// Findings: `invalid-identifier`; `wildcard-needs-dns01` (a wildcard with HTTP-01, which is
/// not resolved further); `dns-nxdomain` (for DNS-01 only when the registered domain itself is
/// missing: a DNS-01-only name legitimately has no records of its own);
/// `dns-lookup-failed` (SERVFAIL, REFUSED, an undecodable answer; a warning when the other
/// address family still answered or the method is DNS-01, which does not need addresses);
/// `check-inconclusive` when the resolver did not answer at all, even asked again;
/// `http01-no-address`. Returns the addresses found, for the HTTP-01 check.
pub async fn check_name(dns: &Dns, name: &str, method: Method) -> (CheckReport, Vec<IpAddr>) {
    let started = Instant::now();
    let (findings, addresses) = name_findings(dns, name, method).await;
    let report = CheckReport::from_findings("name", name, started.elapsed(), findings);
    (report, addresses)
}

/// The address an IP identifier (RFC 8738) names: `192.0.2.7`, `2001:db8::7` or
/// `[2001:db8::7]`; `None` for a DNS name.
pub fn ip_identifier(name: &str) -> Option<IpAddr> {
    name.trim()
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse()
        .ok()
}

/// The findings for an IP address identifier: validated over HTTP-01 at the address itself
/// (RFC 8738 section 3), never over DNS-01; a public CA refuses addresses that are not
/// globally routable, which only a private CA issues for (a warning: labs and private CAs).
fn ip_findings(ip: IpAddr, method: Method) -> (Vec<Finding>, Vec<IpAddr>) {
    if method == Method::Dns01 {
        let finding = Finding::new(
            Code::InvalidIdentifier,
            format!("{ip} is an IP address: it can be validated with HTTP-01 (or TLS-ALPN-01), never DNS-01"),
        )
        .with_detail("RFC 8738 section 7: DNS-01 does not apply to IP identifiers.");
        return (vec![finding], Vec::new());
    }
    let reserved = match ip {
        IpAddr::V4(v4) => {
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_documentation()
                || v4.is_multicast()
                || v4.is_broadcast()
        }
        IpAddr::V6(v6) => {
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || v6.is_unique_local()
                || v6.is_unicast_link_local()
        }
    };
    let findings = if reserved {
        vec![
            Finding::new(
                Code::InvalidIdentifier,
                format!("{ip} is not a public address: public CAs refuse it, only a private CA issues for it"),
            )
            .with_severity(Severity::Warning),
        ]
    } else {
        Vec::new()
    };
    (findings, vec![ip])
}

async fn name_findings(dns: &Dns, name: &str, method: Method) -> (Vec<Finding>, Vec<IpAddr>) {
    if let Some(ip) = ip_identifier(name) {
        return ip_findings(ip, method);
    }
    if let Err(reason) = validate_identifier(name, true) {
        let finding = Finding::new(
            Code::InvalidIdentifier,
            format!("{name:?} is not a valid DNS identifier: {reason}"),
        )
        .with_detail(reason);
        return (vec![finding], Vec::new());
    }
    let base = name.strip_prefix("*.").unwrap_or(name);
    if base.len() != name.len() && method == Method::Http01 {
        let finding = Finding::new(
            Code::WildcardNeedsDns01,
            format!("{name} is a wildcard name and cannot be validated with HTTP-01"),
        )
        .with_detail(
            "RFC 8555 section 7.1.3: authorizations for wildcard names can only be fulfilled by DNS-01.",
        );
        return (vec![finding], Vec::new());
    }
    let Ok(fq) = fqdn(base) else {
        // validate_identifier accepted it, so hickory should too; report rather than panic.
        let finding = Finding::new(
            Code::InvalidIdentifier,
            format!("{name:?} cannot be parsed"),
        );
        return (vec![finding], Vec::new());
    };
    let answers = dns.resolve_addresses(&fq).await;
    let addresses = answers.addresses();
    let evidence = [
        Evidence::Dns(answers.v4.evidence.clone()),
        Evidence::Dns(answers.v6.evidence.clone()),
    ];
    let failures: Vec<String> = [&answers.v4, &answers.v6]
        .iter()
        .filter_map(|a| a.failure().map(|f| format!("{} {}: {f}", a.name, a.rtype)))
        .collect();
    let mut findings = Vec::new();

    let unanswered: Vec<&DnsAnswer> = [&answers.v4, &answers.v6]
        .into_iter()
        .filter(|a| a.failure().is_some())
        .collect();
    if !unanswered.is_empty() && unanswered.iter().all(|a| a.no_answer()) {
        // The resolver said nothing, even asked again: that is about it, not the name.
        let mut finding = unanswered[0].inconclusive(&format!("resolving {base}"));
        finding.evidence = evidence.to_vec();
        findings.push(finding);
        return (findings, addresses);
    }

    if !failures.is_empty() {
        let resolvers = dns
            .resolvers()
            .iter()
            .map(|r| r.to_string())
            .collect::<Vec<_>>()
            .join(", ");
        let severity = if !addresses.is_empty() || method == Method::Dns01 {
            Severity::Warning
        } else {
            Severity::Error
        };
        let mut finding = Finding::new(
            Code::DnsLookupFailed,
            format!("resolving {base} failed: {}", failures.join("; ")),
        )
        .with_severity(severity)
        .with_detail(format!(
            "asked the recursive resolver {resolvers}; a CA's resolver that meets the same \
             failure refuses to validate"
        ));
        finding.evidence.extend(evidence.iter().cloned());
        findings.push(finding);
        return (findings, addresses);
    }

    if addresses.is_empty() && (answers.v4.is_nxdomain() || answers.v6.is_nxdomain()) {
        let zone = answers
            .v4
            .negative_soa_owner()
            .or(answers.v6.negative_soa_owner())
            .cloned();
        let registered_missing = zone.as_ref().is_none_or(|z| z.num_labels() <= 1);
        if method == Method::Http01 || registered_missing {
            let detail = match &zone {
                Some(z) if z.num_labels() <= 1 => format!(
                    "the {z} zone answered NXDOMAIN: the registered domain does not exist either \
                     (typo, expired or never registered)"
                ),
                Some(z) => format!(
                    "the zone {z} exists but has no {base}: add the records (or fix the name)"
                ),
                None => "the resolver gave no SOA saying which zone answered".to_owned(),
            };
            let mut finding = Finding::new(
                Code::DnsNxdomain,
                format!("{base} does not exist in DNS (NXDOMAIN)"),
            )
            .with_detail(detail);
            finding.evidence.extend(evidence.iter().cloned());
            findings.push(finding);
        }
        return (findings, addresses);
    }

    if addresses.is_empty() && method == Method::Http01 {
        let mut finding = Finding::new(
            Code::Http01NoAddress,
            format!("{base} has no A and no AAAA record"),
        )
        .with_detail("the name exists, but HTTP-01 has no address to connect to");
        finding.evidence.extend(evidence.iter().cloned());
        findings.push(finding);
    }
    (findings, addresses)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ip_identifiers_take_http01_only_and_warn_when_not_public() {
        let v4: IpAddr = "192.0.2.7".parse().unwrap();
        assert_eq!(ip_identifier("192.0.2.7"), Some(v4));
        assert_eq!(ip_identifier("[2001:db8::7]"), "2001:db8::7".parse().ok());
        assert_eq!(ip_identifier("www.example.com"), None);
        let (f, addrs) = ip_findings(v4, Method::Dns01);
        assert_eq!(f[0].code, Code::InvalidIdentifier);
        assert!(f[0].summary.contains("never DNS-01"), "{}", f[0].summary);
        assert!(addrs.is_empty());
        // A documentation address is not public: a warning, and still probed.
        let (f, addrs) = ip_findings(v4, Method::Http01);
        assert_eq!(f[0].severity, Severity::Warning);
        assert_eq!(addrs, [v4]);
        let public: IpAddr = "8.8.8.8".parse().unwrap();
        assert_eq!(
            ip_findings(public, Method::Http01),
            (Vec::new(), vec![public])
        );
    }

    #[test]
    fn method_names_match_acme() {
        assert_eq!(Method::Http01.as_str(), "http-01");
        assert_eq!(Method::Dns01.to_string(), "dns-01");
    }

    #[test]
    fn accepts_ordinary_names() {
        for ok in [
            "example.com",
            "a.b.example.co.uk",
            "xn--bcher-kva.example",
            "A-1.Example.COM",
        ] {
            assert_eq!(validate_identifier(ok, false), Ok(()), "{ok}");
        }
        assert_eq!(validate_identifier("*.example.com", true), Ok(()));
    }
}
