//! Every name is checked before any order is created, so a name that cannot validate costs no
//! failed authorization: the same playbook as `certdx check` (name sanity, HTTP-01 reachability
//! or the DNS-01 zone and its nameservers, CAA for the CA in use), through the same resolver
//! settings, plus the solver's own condition (the embedded zone's CNAME).

use std::collections::BTreeMap;

use futures::StreamExt;

use crate::checks::caa::ca_domain_for_server;
use crate::diagnose::playbook::{DEFAULT_CA_DOMAIN, PlaybookOptions, Target, run_playbook};
use crate::model::profile::ProfileLimits;
use crate::model::{Code, Finding, Severity};

use super::config::CheckConfig;
use super::error::BatchError;
use super::responder::Publisher;

/// The CAA issuer domain the preflight checks against, and whether it is known or a guess.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct CaDomain {
    pub domain: String,
    pub known: bool,
}

impl CaDomain {
    /// From the flag, else the directory URL's well-known CA, else Let's Encrypt's as a guess.
    pub(super) fn resolve(flag: Option<&str>, directory_url: &str) -> CaDomain {
        if let Some(domain) = flag {
            return CaDomain {
                domain: domain.to_owned(),
                known: true,
            };
        }
        match ca_domain_for_server(directory_url) {
            Some(domain) => CaDomain {
                domain: domain.to_owned(),
                known: true,
            },
            None => CaDomain {
                domain: DEFAULT_CA_DOMAIN.to_owned(),
                known: false,
            },
        }
    }
}

/// Checks every name in `names` (at most `checks.concurrency` at once) and returns, for each
/// name that must not be ordered, the finding that says why (the most severe one).
/// `on_done` is called after each name, for progress.
pub(super) async fn preflight(
    names: &[String],
    checks: &CheckConfig,
    publisher: &Publisher,
    ca: &CaDomain,
    mut on_done: impl FnMut(),
) -> BTreeMap<String, Finding> {
    let opts = PlaybookOptions {
        http: checks.http.clone(),
        concurrency: checks.concurrency.max(1),
    };
    let targets: Vec<Target> = names
        .iter()
        .map(|name| Target {
            name: name.clone(),
            method: publisher.method(),
            // No token yet: HTTP-01 asks for a made-up one, so reachability and redirects are
            // judged and a 404 from the (already listening) solver is what is expected; DNS-01
            // judges the zone and its nameservers without a value.
            token: None,
            key: None,
            ca_domain: ca.domain.clone(),
            account_uri: None,
            challenge: None,
            authz_lifetime: None,
        })
        .collect();
    let mut results = futures::stream::iter(&targets)
        .map(|t| {
            let opts = &opts;
            async move {
                let result = run_playbook(&checks.dns, t, opts).await;
                let own = match blocking(result.findings, ca.known) {
                    Some(finding) => Some(finding),
                    None => publisher.preflight(&checks.dns, &t.name).await,
                };
                (t, own)
            }
        })
        .buffer_unordered(opts.concurrency);
    let mut blocked = BTreeMap::new();
    while let Some((target, finding)) = results.next().await {
        on_done();
        if let Some(finding) = finding {
            blocked.insert(target.name.clone(), finding);
        }
    }
    blocked
}

/// Refuses a profile the CA's directory does not advertise, before any order: an order for it
/// would only come back as Boulder's `invalidProfile`.
pub(super) fn check_profile(asked: &str, offered: &[(String, String)]) -> Result<(), BatchError> {
    if offered.iter().any(|(name, _)| name == asked) {
        return Ok(());
    }
    let why = if offered.is_empty() {
        "the CA's directory advertises no profiles (meta.profiles): it cannot honour one".to_owned()
    } else {
        format!(
            "the CA's directory advertises {}",
            offered
                .iter()
                .map(|(name, description)| format!("{name} ({description})"))
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    Err(BatchError::Profile {
        asked: asked.to_owned(),
        why,
    })
}

/// Why a certificate of `names` cannot be ordered under `limits` (a profile whose limits are
/// known: Let's Encrypt's), before it costs an order: too many names, or an IP address where
/// the profile allows none.
pub(super) fn profile_refusal(names: &[String], limits: &ProfileLimits) -> Option<Finding> {
    let profile = &limits.name;
    if names.len() > limits.max_identifiers {
        return Some(Finding::new(
            Code::ProfileLimit,
            format!(
                "{} names in one certificate, but the {profile} profile allows at most {} per order: split them",
                names.len(),
                limits.max_identifiers
            ),
        ));
    }
    let ip = names.iter().find(|n| {
        n.trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok()
    });
    match ip {
        Some(ip) if !limits.ip_addresses => Some(Finding::new(
            Code::ProfileLimit,
            format!("{ip} is an IP address, and the {profile} profile issues for DNS names only"),
        )),
        _ => None,
    }
}

/// The finding that stops a name from being ordered: the first (findings come most severe
/// first) of error or fatal severity. When the CA's CAA domain is only a guess, a CAA set that
/// does not name it is no reason to stop (the CA's own check decides); a failed CAA lookup
/// still is, since every CA refuses then.
fn blocking(findings: Vec<Finding>, ca_known: bool) -> Option<Finding> {
    findings.into_iter().find(|f| {
        let guessed = !ca_known
            && matches!(
                f.code,
                Code::CaaForbidsIssuance | Code::CaaAccounturiMismatch
            );
        f.severity >= Severity::Error && !guessed
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_known_profile_refuses_too_many_names_and_ip_addresses_before_ordering() {
        let names = |n: usize| (0..n).map(|i| format!("n{i}.example")).collect::<Vec<_>>();
        let tlsserver = crate::model::profile::lets_encrypt_limits("tlsserver").unwrap();
        assert!(profile_refusal(&names(25), &tlsserver).is_none());
        let f = profile_refusal(&names(26), &tlsserver).expect("26 names");
        assert_eq!(f.code, Code::ProfileLimit);
        assert!(f.summary.contains("at most 25"), "{}", f.summary);
        let ip = vec!["a.example".to_owned(), "192.0.2.7".to_owned()];
        let f = profile_refusal(&ip, &tlsserver).expect("an IP under tlsserver");
        assert!(f.summary.contains("192.0.2.7"), "{}", f.summary);
        let shortlived = crate::model::profile::lets_encrypt_limits("shortlived").unwrap();
        assert!(profile_refusal(&ip, &shortlived).is_none());
    }

    #[test]
    fn the_ca_domain_comes_from_the_flag_then_the_directory() {
        let le = CaDomain::resolve(None, "https://acme-v02.api.letsencrypt.org/directory");
        assert_eq!(le.domain, "letsencrypt.org");
        assert!(le.known);
        let lab = CaDomain::resolve(None, "https://127.0.0.1:14000/dir");
        assert!(!lab.known);
        let flag = CaDomain::resolve(Some("pki.goog"), "https://127.0.0.1:14000/dir");
        assert_eq!((flag.domain.as_str(), flag.known), ("pki.goog", true));
    }

    #[test]
    fn warnings_and_guessed_caa_verdicts_do_not_block() {
        let warn =
            Finding::new(Code::DnsLookupFailed, "AAAA timed out").with_severity(Severity::Warning);
        let caa = Finding::new(Code::CaaForbidsIssuance, "CAA names another CA");
        assert_eq!(blocking(vec![warn.clone(), caa.clone()], false), None);
        assert_eq!(
            blocking(vec![caa.clone(), warn], true).map(|f| f.code),
            Some(Code::CaaForbidsIssuance)
        );
        let lookup = Finding::new(Code::CaaLookupFailed, "SERVFAIL");
        assert_eq!(
            blocking(vec![lookup], false).map(|f| f.code),
            Some(Code::CaaLookupFailed)
        );
    }
}
