//! Every name is checked before any order is created, so a name that cannot validate costs no
//! failed authorization: the same playbook as `certdx check` (name sanity, HTTP-01 reachability
//! or the DNS-01 zone and its nameservers, CAA for the CA in use), through the same resolver
//! settings, plus the solver's own condition (the embedded zone's CNAME).

use std::collections::BTreeMap;

use futures::StreamExt;

use crate::checks::caa::ca_domain_for_server;
use crate::diagnose::playbook::{DEFAULT_CA_DOMAIN, PlaybookOptions, Target, run_playbook};
use crate::model::{Code, Finding, Severity};

use super::config::CheckConfig;
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
