//! RFC 8659 / RFC 8657 evaluation of one relevant CAA set, the way Let's Encrypt's Boulder
//! does it (`va/caa.go`): pure, so every rule is unit-tested without DNS.

use std::collections::BTreeMap;

use super::wire::RawCaa;
use crate::checks::name::Method;
use crate::model::{Code, Finding, Severity};

/// What the CA is asking about.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// Whether the identifier is a wildcard (`issuewild` applies).
    pub wildcard: bool,
    /// The CA's issuer domain, e.g. `letsencrypt.org`.
    pub ca_domain: &'a str,
    /// The ACME account URI, if known.
    pub account_uri: Option<&'a str>,
    /// The validation method, if known.
    pub method: Option<Method>,
}

/// The tags a CA understands; a critical record with any other tag forbids issuance.
const KNOWN_TAGS: &[&str] = &["issue", "issuewild", "iodef", "issuemail"];

/// The methods cert-manager can solve, for when the method is not known.
const CERT_MANAGER_METHODS: &[&str] = &["http-01", "dns-01"];

/// An `issue`/`issuewild` value split per RFC 8659 section 4.2.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssueValue {
    /// The issuer domain; empty for `;` (no CA may issue).
    pub domain: String,
    /// The parameters, tag to value.
    pub params: BTreeMap<String, String>,
}

/// Parses an issue value exactly as Boulder does: split on `;`, trim spaces and tabs,
/// parameters `tag=value` with an LDH tag and a value of visible ASCII without `;`.
pub fn parse_issue_value(raw: &[u8]) -> Result<IssueValue, String> {
    let text = std::str::from_utf8(raw).map_err(|_| "the value is not UTF-8".to_owned())?;
    let wsp = |c: char| c == ' ' || c == '\t';
    let mut parts = text.split(';');
    let domain = parts
        .next()
        .unwrap_or_default()
        .trim_matches(wsp)
        .to_owned();
    let rest: Vec<&str> = parts.collect();
    let mut params = BTreeMap::new();
    if rest.len() == 1 && rest[0].trim_matches(wsp).is_empty() {
        return Ok(IssueValue { domain, params });
    }
    for param in rest {
        let Some((tag, value)) = param.split_once('=') else {
            return Err(format!(
                "the parameter {:?} is not tag=value",
                param.trim_matches(wsp)
            ));
        };
        let tag = tag.trim_matches(wsp);
        if !tag.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(format!(
                "the parameter tag {tag:?} has characters other than letters and digits"
            ));
        }
        let value = value.trim_matches(wsp);
        if !value
            .bytes()
            .all(|b| (0x21..=0x7e).contains(&b) && b != b';')
        {
            return Err(format!(
                "the parameter value {value:?} has spaces or control characters"
            ));
        }
        params.insert(tag.to_owned(), value.to_owned());
    }
    Ok(IssueValue { domain, params })
}

/// The verdict on one relevant CAA set.
#[derive(Debug, Default)]
pub struct Verdict {
    /// Whether the CA may issue.
    pub authorised: bool,
    /// Findings, without evidence (the caller adds where the set was found).
    pub findings: Vec<Finding>,
}

/// Evaluates the relevant CAA set `set` found at `at` for `req`.
pub fn evaluate(set: &[RawCaa], at: &str, req: &Request<'_>) -> Verdict {
    let mut findings = Vec::new();
    let record_list = set
        .iter()
        .map(|r| r.to_string())
        .collect::<Vec<_>>()
        .join(", ");

    for r in set.iter().filter(|r| r.tag_problem().is_some()) {
        let problem = r.tag_problem().unwrap_or_default();
        findings.push(
            Finding::new(
                Code::CaaMalformed,
                format!("the CAA record {r} at {at} is malformed: {problem}"),
            )
            .with_detail(
                "CAs treat a record with an unknown tag as irrelevant unless it is critical.",
            ),
        );
    }
    let critical: Vec<&RawCaa> = set
        .iter()
        .filter(|r| r.is_critical())
        .filter(|r| {
            !KNOWN_TAGS
                .iter()
                .any(|k| r.tag_text().eq_ignore_ascii_case(k))
        })
        .collect();
    if !critical.is_empty() {
        let list = critical
            .iter()
            .map(|r| r.to_string())
            .collect::<Vec<_>>()
            .join(", ");
        let flag_one = critical.iter().any(|r| r.flags & 128 == 0);
        let detail = if flag_one {
            "RFC 8659: a CA must not issue when the relevant set has a critical property it does not \
             understand. Flag 1 counts as critical too: Let's Encrypt treats it as the critical bit \
             because so many zones set it by mistake."
        } else {
            "RFC 8659: a CA must not issue when the relevant set has a critical property it does not understand."
        };
        findings.push(
            Finding::new(
                Code::CaaCriticalUnknown,
                format!("CAA at {at} has a critical record with a tag CAs do not know: {list}"),
            )
            .with_detail(detail),
        );
        return Verdict {
            authorised: false,
            findings,
        };
    }

    let tagged = |tag: &str| -> Vec<&RawCaa> {
        set.iter()
            .filter(|r| r.tag_text().eq_ignore_ascii_case(tag))
            .collect()
    };
    let issue = tagged("issue");
    let issuewild = tagged("issuewild");
    let (records, tag) = if req.wildcard && !issuewild.is_empty() {
        (issuewild, "issuewild")
    } else {
        (issue, "issue")
    };
    if records.is_empty() && !req.wildcard {
        // Only iodef, issuewild or unknown non-critical records: nothing restricts issuance.
        return Verdict {
            authorised: true,
            findings,
        };
    }

    let ca = req
        .ca_domain
        .trim()
        .trim_end_matches('.')
        .to_ascii_lowercase();
    let mut near_misses = Vec::new();
    let mut account_mismatch = Vec::new();
    let mut method_excluded = Vec::new();
    let mut unverified_account = Vec::new();
    let mut authorised = false;
    let mut malformed_values = Vec::new();
    for r in &records {
        let value = match parse_issue_value(&r.value) {
            Ok(v) => v,
            Err(reason) => {
                malformed_values.push((r.to_string(), reason));
                continue;
            }
        };
        if value.domain != ca {
            if value.domain.trim_end_matches('.').eq_ignore_ascii_case(&ca) {
                near_misses.push(r.to_string());
            }
            continue;
        }
        if let Some(uri) = value.params.get("accounturi") {
            match req.account_uri {
                Some(ours) if ours == uri => {}
                Some(ours) => {
                    account_mismatch.push((r.to_string(), uri.clone(), ours.to_owned()));
                    continue;
                }
                None => unverified_account.push((r.to_string(), uri.clone())),
            }
        }
        if let Some(methods) = value.params.get("validationmethods") {
            let listed: Vec<&str> = methods.split(',').collect();
            let well_formed = listed
                .iter()
                .all(|m| !m.is_empty() && m.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'));
            let usable: Vec<&str> = match req.method {
                Some(m) => vec![m.as_str()],
                None => CERT_MANAGER_METHODS.to_vec(),
            };
            if !well_formed || !listed.iter().any(|m| usable.contains(m)) {
                method_excluded.push((r.to_string(), methods.clone()));
                continue;
            }
        }
        authorised = true;
    }

    let severity = if authorised {
        Severity::Warning
    } else {
        Severity::Error
    };
    for (record, reason) in &malformed_values {
        findings.push(
            Finding::new(
                Code::CaaMalformed,
                format!("the CAA record {record} at {at} does not parse: {reason}"),
            )
            .with_severity(severity)
            .with_detail("CAs ignore an issue record they cannot parse: it authorises no one."),
        );
    }
    if authorised {
        // A broken record next to one that authorises the CA is worth fixing, not fatal.
        for f in findings.iter_mut().filter(|f| f.code == Code::CaaMalformed) {
            f.severity = Severity::Warning;
        }
        for (record, uri) in unverified_account {
            findings.push(
                Finding::new(
                    Code::CaaAccounturiMismatch,
                    format!("CAA at {at} lets {ca} issue only for the ACME account {uri}"),
                )
                .with_severity(Severity::Warning)
                .with_detail(format!(
                    "{record}: certdx does not know the Issuer's account URI, so it cannot tell \
                     whether it matches; pass --account-uri (the Issuer's status.acme.uri) to check"
                )),
            );
        }
        return Verdict {
            authorised,
            findings,
        };
    }

    let method_text = req.method.map_or_else(
        || "http-01 or dns-01 (the methods cert-manager solves)".to_owned(),
        |m| m.as_str().to_owned(),
    );
    for (record, uri, ours) in &account_mismatch {
        findings.push(
            Finding::new(
                Code::CaaAccounturiMismatch,
                format!("CAA at {at} lets {ca} issue only for account {uri}, not {ours}"),
            )
            .with_detail(format!(
                "{record}: RFC 8657 accounturi must equal the ACME account URI exactly"
            )),
        );
    }
    for (record, methods) in &method_excluded {
        findings.push(
            Finding::new(
                Code::CaaValidationmethodsExcludes,
                format!("CAA at {at} lets {ca} validate only with {methods}, not {method_text}"),
            )
            .with_detail(format!(
                "{record}: RFC 8657 validationmethods lists the ACME methods allowed"
            )),
        );
    }
    if account_mismatch.is_empty() && method_excluded.is_empty() {
        let mut detail = format!(
            "the relevant set ({record_list}) is checked with its {tag} records{}; none names {ca}",
            if req.wildcard { " (wildcard name)" } else { "" }
        );
        if !near_misses.is_empty() {
            detail.push_str(&format!(
                ". Almost: {} (CAs compare the issuer domain exactly: lower case, no trailing dot)",
                near_misses.join(", ")
            ));
        }
        findings.push(
            Finding::new(
                Code::CaaForbidsIssuance,
                format!(
                    "CAA at {at} does not authorise {ca} to issue{}",
                    if req.wildcard { " wildcards" } else { "" }
                ),
            )
            .with_detail(detail),
        );
    }
    Verdict {
        authorised,
        findings,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caa(flags: u8, tag: &str, value: &str) -> RawCaa {
        RawCaa {
            owner: "example.com.".to_owned(),
            flags,
            tag: tag.as_bytes().to_vec(),
            value: value.as_bytes().to_vec(),
        }
    }

    fn req(
        wildcard: bool,
        method: Option<Method>,
        account: Option<&'static str>,
    ) -> Request<'static> {
        Request {
            wildcard,
            ca_domain: "letsencrypt.org",
            account_uri: account,
            method,
        }
    }

    fn codes(v: &Verdict) -> Vec<Code> {
        v.findings.iter().map(|f| f.code).collect()
    }

    #[test]
    fn parses_issue_values_like_boulder() {
        let v = parse_issue_value(
            b" letsencrypt.org ; accounturi=https://a/1 ;validationmethods=dns-01",
        )
        .unwrap();
        assert_eq!(v.domain, "letsencrypt.org");
        assert_eq!(v.params["accounturi"], "https://a/1");
        assert_eq!(v.params["validationmethods"], "dns-01");
        assert_eq!(parse_issue_value(b";").unwrap().domain, "");
        assert!(
            parse_issue_value(b"letsencrypt.org;")
                .unwrap()
                .params
                .is_empty()
        );
        assert!(parse_issue_value(b"letsencrypt.org; accounturi").is_err());
        assert!(parse_issue_value(b"letsencrypt.org; a-b=c").is_err());
    }

    #[test]
    fn issue_authorises_and_semicolon_forbids() {
        let ok = evaluate(
            &[caa(0, "issue", "letsencrypt.org")],
            "x.",
            &req(false, None, None),
        );
        assert!(ok.authorised && ok.findings.is_empty());
        let no = evaluate(&[caa(0, "issue", ";")], "x.", &req(false, None, None));
        assert!(!no.authorised);
        assert_eq!(codes(&no), [Code::CaaForbidsIssuance]);
    }

    #[test]
    fn issuewild_rules() {
        let set = [caa(0, "issue", "letsencrypt.org"), caa(0, "issuewild", ";")];
        assert!(!evaluate(&set, "x.", &req(true, None, None)).authorised);
        assert!(evaluate(&set, "x.", &req(false, None, None)).authorised);
        // Without issuewild, issue governs wildcards too.
        let set = [caa(0, "issue", "other.ca")];
        assert!(!evaluate(&set, "x.", &req(true, None, None)).authorised);
        // Only iodef: nothing restricts.
        assert!(
            evaluate(
                &[caa(0, "iodef", "mailto:a@b")],
                "x.",
                &req(false, None, None)
            )
            .authorised
        );
    }

    #[test]
    fn near_miss_is_named() {
        let v = evaluate(
            &[caa(0, "issue", "LetsEncrypt.org.")],
            "x.",
            &req(false, None, None),
        );
        assert!(!v.authorised);
        assert!(
            v.findings[0].detail.contains("Almost"),
            "{}",
            v.findings[0].detail
        );
    }

    #[test]
    fn rfc8657_parameters() {
        let set = [caa(
            0,
            "issue",
            "letsencrypt.org; accounturi=https://acme/acct/1; validationmethods=dns-01",
        )];
        let ours = Some("https://acme/acct/1");
        assert!(evaluate(&set, "x.", &req(false, Some(Method::Dns01), ours)).authorised);
        let v = evaluate(
            &set,
            "x.",
            &req(false, Some(Method::Dns01), Some("https://acme/acct/2")),
        );
        assert_eq!(codes(&v), [Code::CaaAccounturiMismatch]);
        let v = evaluate(&set, "x.", &req(false, Some(Method::Http01), ours));
        assert_eq!(codes(&v), [Code::CaaValidationmethodsExcludes]);
        let v = evaluate(&set, "x.", &req(false, Some(Method::Dns01), None));
        assert!(v.authorised);
        assert_eq!(codes(&v), [Code::CaaAccounturiMismatch]);
        assert_eq!(v.findings[0].severity, Severity::Warning);
        let alpn = [caa(
            0,
            "issue",
            "letsencrypt.org; validationmethods=tls-alpn-01",
        )];
        assert_eq!(
            codes(&evaluate(&alpn, "x.", &req(false, None, None))),
            [Code::CaaValidationmethodsExcludes]
        );
    }

    #[test]
    fn critical_unknown_and_malformed() {
        let set = [
            caa(0, "issue", "letsencrypt.org"),
            caa(128, "tbs", "Unknown"),
        ];
        let v = evaluate(&set, "x.", &req(false, None, None));
        assert!(!v.authorised);
        assert_eq!(codes(&v), [Code::CaaCriticalUnknown]);
        let flag_one = [caa(0, "issue", "letsencrypt.org"), caa(1, "tbs", "Unknown")];
        assert!(!evaluate(&flag_one, "x.", &req(false, None, None)).authorised);
        let crit_known = [caa(128, "issue", "letsencrypt.org")];
        assert!(evaluate(&crit_known, "x.", &req(false, None, None)).authorised);

        let bad = [
            caa(0, "issue", "letsencrypt.org; accounturi"),
            caa(0, "issue-x", "abc"),
        ];
        let v = evaluate(&bad, "x.", &req(false, None, None));
        assert!(!v.authorised);
        assert_eq!(
            codes(&v),
            [
                Code::CaaMalformed,
                Code::CaaMalformed,
                Code::CaaForbidsIssuance
            ]
        );
    }
}
