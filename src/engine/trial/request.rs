//! What a trial asks for, and which ACME directories are safe to try on: a known staging CA,
//! or a CA on a loopback or private address (a local Pebble). Anything else is production.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;

use crate::engine::acme::{AccountOptions, ChallengeKind};
use crate::engine::batch::{CheckConfig, SolverConfig};

use super::TrialError;

/// Let's Encrypt's staging directory: the default of `certdx trial`.
pub const LETS_ENCRYPT_STAGING: &str = "https://acme-staging-v02.api.letsencrypt.org/directory";

/// A public CA's production directory and its staging counterpart, if it has one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct KnownCa {
    /// The CA's name.
    pub name: &'static str,
    /// Its production directory.
    pub production: &'static str,
    /// Its staging (test) directory, when it runs one.
    pub staging: Option<&'static str>,
}

const KNOWN: &[KnownCa] = &[
    KnownCa {
        name: "Let's Encrypt",
        production: "https://acme-v02.api.letsencrypt.org/directory",
        staging: Some(LETS_ENCRYPT_STAGING),
    },
    KnownCa {
        name: "Google Trust Services",
        production: "https://dv.acme-v02.api.pki.goog/directory",
        staging: Some("https://dv.acme-v02.test-api.pki.goog/directory"),
    },
    KnownCa {
        name: "ZeroSSL",
        production: "https://acme.zerossl.com/v2/DV90",
        staging: None,
    },
    KnownCa {
        name: "SSL.com",
        production: "https://acme.ssl.com/sslcom-dv-ecc",
        staging: None,
    },
    KnownCa {
        name: "SSL.com",
        production: "https://acme.ssl.com/sslcom-dv-rsa",
        staging: None,
    },
];

/// The public CAs certdx knows, with their staging directories.
pub fn known_cas() -> &'static [KnownCa] {
    KNOWN
}

/// What a directory URL is, for deciding whether a trial may run there without `--production`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum DirectoryKind {
    /// A known public CA's staging directory.
    Staging {
        /// The CA.
        ca: &'static str,
    },
    /// A CA on a loopback or private address, or a name that cannot be public (a local Pebble,
    /// a test CA inside a cluster).
    Test,
    /// Anything else: a known production CA, or an unknown one (treated as production).
    Production {
        /// The CA, when known.
        ca: Option<&'static str>,
        /// Its staging directory, when it has one.
        staging: Option<&'static str>,
    },
}

impl DirectoryKind {
    /// Whether failed validations there cost nothing that matters.
    pub fn is_test(&self) -> bool {
        !matches!(self, DirectoryKind::Production { .. })
    }
}

/// Compares directory URLs the way they are written by hand: scheme and host case-insensitive,
/// a trailing slash ignored.
fn same_url(a: &str, b: &str) -> bool {
    a.trim()
        .trim_end_matches('/')
        .eq_ignore_ascii_case(b.trim().trim_end_matches('/'))
}

/// The staging directory to try instead of `url`, when `url` is a known production CA that has
/// one (Let's Encrypt, Google Trust Services). `None` for a staging or test directory, for a CA
/// without staging (ZeroSSL) and for an unknown one.
pub fn staging_counterpart(url: &str) -> Option<&'static str> {
    KNOWN
        .iter()
        .find(|ca| same_url(ca.production, url))
        .and_then(|ca| ca.staging)
}

/// Host suffixes that never name a public CA: reserved (RFC 6761, RFC 8375) or cluster-local.
const LOCAL_SUFFIXES: &[&str] = &[
    ".localhost",
    ".local",
    ".internal",
    ".test",
    ".invalid",
    ".home.arpa",
    ".lan",
    ".svc",
    ".cluster.local",
];

/// Classifies `url` (see [`DirectoryKind`]). A URL that does not parse is production: refusing
/// is the safe mistake.
pub fn classify_directory(url: &str) -> DirectoryKind {
    if let Some(ca) = KNOWN
        .iter()
        .find(|ca| ca.staging.is_some_and(|s| same_url(s, url)))
    {
        return DirectoryKind::Staging { ca: ca.name };
    }
    if let Some(ca) = KNOWN.iter().find(|ca| same_url(ca.production, url)) {
        return DirectoryKind::Production {
            ca: Some(ca.name),
            staging: ca.staging,
        };
    }
    let unknown = DirectoryKind::Production {
        ca: None,
        staging: None,
    };
    let Ok(parsed) = reqwest::Url::parse(url.trim()) else {
        return unknown;
    };
    let Some(host) = parsed.host_str() else {
        return unknown;
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let local = match host.parse::<IpAddr>() {
        Ok(ip) => is_local_ip(ip),
        Err(_) => {
            let name = host.trim_end_matches('.').to_ascii_lowercase();
            name == "localhost"
                || !name.contains('.')
                || LOCAL_SUFFIXES.iter().any(|s| name.ends_with(s))
        }
    };
    if local { DirectoryKind::Test } else { unknown }
}

fn is_local_ip(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_loopback() || v4.is_private() || v4.is_link_local(),
        IpAddr::V6(v6) => {
            v6.is_loopback()
                || (v6.segments()[0] & 0xfe00) == 0xfc00
                || (v6.segments()[0] & 0xffc0) == 0xfe80
                || v6
                    .to_ipv4_mapped()
                    .is_some_and(|v4| is_local_ip(IpAddr::V4(v4)))
        }
    }
}

/// The validation method a trial triggers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum TrialMethod {
    /// HTTP-01.
    #[serde(rename = "http-01")]
    Http01,
    /// DNS-01.
    #[serde(rename = "dns-01")]
    Dns01,
}

impl TrialMethod {
    /// The challenge kind the CA offers for it.
    pub fn kind(self) -> ChallengeKind {
        match self {
            TrialMethod::Http01 => ChallengeKind::Http01,
            TrialMethod::Dns01 => ChallengeKind::Dns01,
        }
    }

    /// As ACME spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            TrialMethod::Http01 => "http-01",
            TrialMethod::Dns01 => "dns-01",
        }
    }
}

/// How long a trial waits for the CA's verdicts by default: Boulder's validation of one
/// challenge (several perspectives, each with its own timeouts) ends well within it.
pub const DEFAULT_WAIT: Duration = Duration::from_secs(90);

/// What to try.
#[derive(Debug, Clone)]
pub struct TrialRequest {
    /// The names (one order).
    pub names: Vec<String>,
    /// The ACME directory URL.
    pub directory: String,
    /// A PEM root (or bundle) trusted for the CA's HTTPS instead of the system's (`--ca-cert`).
    pub ca_cert_pem: Option<String>,
    /// The method whose challenges are triggered.
    pub method: TrialMethod,
    /// How certdx answers, when it can from where it runs; `None`: triggered, never answered.
    pub solver: Option<SolverConfig>,
    /// How certdx checks its own answer (HTTP-01 token served on every address, TXT on every
    /// authoritative server) before telling the CA to look, so the verdict is about the CA's
    /// path and not a record still propagating; `None`: triggered as soon as published.
    pub checks: Option<CheckConfig>,
    /// Contact and EAB for a new account (the store's account for the directory is reused).
    pub account: AccountOptions,
    /// The state store (the same file and rules as `certdx issue --state`).
    pub state_path: PathBuf,
    /// The caller accepts a production directory (`--production`).
    pub production: bool,
    /// How long to wait for the CA's verdicts before deactivating what is still pending.
    pub wait: Duration,
    /// Set to `true` to stop early (Ctrl-C, a key in the view): the cleanup still runs.
    pub cancel: Option<tokio::sync::watch::Receiver<bool>>,
}

impl TrialRequest {
    /// A trial of `names` on `directory` by HTTP-01, not answered, with the defaults.
    pub fn new(names: Vec<String>, directory: impl Into<String>) -> TrialRequest {
        TrialRequest {
            names,
            directory: directory.into(),
            ca_cert_pem: None,
            method: TrialMethod::Http01,
            solver: None,
            checks: None,
            account: AccountOptions::default(),
            state_path: PathBuf::from("certdx-state.sqlite"),
            production: false,
            wait: DEFAULT_WAIT,
            cancel: None,
        }
    }

    /// Everything that can be refused before any request: no names, a directory that is not a
    /// URL, a production directory without [`TrialRequest::production`], a solver for the
    /// other method. Called by [`super::run_trial`] first; nothing is sent when it fails.
    pub fn check(&self) -> Result<DirectoryKind, TrialError> {
        if self.names.iter().all(|n| n.trim().is_empty()) {
            return Err(TrialError::NoNames);
        }
        let parsed = reqwest::Url::parse(self.directory.trim())
            .map_err(|_| TrialError::BadDirectory(self.directory.clone()))?;
        if !matches!(parsed.scheme(), "https" | "http") || parsed.host_str().is_none() {
            return Err(TrialError::BadDirectory(self.directory.clone()));
        }
        let kind = classify_directory(&self.directory);
        if let DirectoryKind::Production { ca, staging } = &kind
            && !self.production
        {
            let instead = match (ca, staging) {
                (Some(ca), Some(staging)) => format!("try {ca}'s staging CA, {staging}"),
                (Some(ca), None) => format!(
                    "{ca} runs no staging CA: try Let's Encrypt's staging CA, {LETS_ENCRYPT_STAGING}, which sees your names the same way"
                ),
                (None, _) => format!(
                    "certdx does not know it as a staging CA: try Let's Encrypt's staging CA, {LETS_ENCRYPT_STAGING}"
                ),
            };
            return Err(TrialError::Production {
                directory: self.directory.clone(),
                instead,
            });
        }
        if let Some(solver) = &self.solver {
            let answers = match solver {
                SolverConfig::Http01 { .. } => TrialMethod::Http01,
                _ => TrialMethod::Dns01,
            };
            if answers != self.method {
                return Err(TrialError::SolverMismatch(format!(
                    "the solver answers {} but the trial is for {}: give --method {}",
                    answers.as_str(),
                    self.method.as_str(),
                    answers.as_str()
                )));
            }
        }
        Ok(kind)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn production_cas_map_to_their_staging_counterparts() {
        assert_eq!(
            staging_counterpart("https://acme-v02.api.letsencrypt.org/directory"),
            Some(LETS_ENCRYPT_STAGING)
        );
        assert_eq!(
            staging_counterpart("https://dv.acme-v02.api.pki.goog/directory/"),
            Some("https://dv.acme-v02.test-api.pki.goog/directory")
        );
        assert_eq!(
            staging_counterpart("https://acme.zerossl.com/v2/DV90"),
            None
        );
        assert_eq!(staging_counterpart(LETS_ENCRYPT_STAGING), None);
    }

    #[test]
    fn directories_are_staging_test_or_production() {
        assert_eq!(
            classify_directory(LETS_ENCRYPT_STAGING),
            DirectoryKind::Staging {
                ca: "Let's Encrypt"
            }
        );
        for test in [
            "https://127.0.0.1:14000/dir",
            "https://[::1]:14000/dir",
            "https://10.1.2.3/dir",
            "https://192.168.1.9/dir",
            "https://localhost:14000/dir",
            "https://pebble:14000/dir",
            "https://pebble.pebble.svc.cluster.local/dir",
            "https://acme.internal/directory",
        ] {
            assert_eq!(classify_directory(test), DirectoryKind::Test, "{test}");
        }
        assert_eq!(
            classify_directory("https://acme-v02.api.letsencrypt.org/directory"),
            DirectoryKind::Production {
                ca: Some("Let's Encrypt"),
                staging: Some(LETS_ENCRYPT_STAGING)
            }
        );
        for production in [
            "https://acme.zerossl.com/v2/DV90",
            "https://acme.example.com/directory",
            "https://203.0.113.7/dir",
            "not a url",
        ] {
            assert!(!classify_directory(production).is_test(), "{production}");
        }
    }

    #[test]
    fn a_production_directory_is_refused_without_the_flag_with_the_reason() {
        let mut req = TrialRequest::new(
            vec!["www.example.com".into()],
            "https://acme-v02.api.letsencrypt.org/directory",
        );
        let err = req.check().unwrap_err().to_string();
        assert!(err.contains("failed-validation limit"), "{err}");
        assert!(err.contains(LETS_ENCRYPT_STAGING), "{err}");
        assert!(err.contains("--production"), "{err}");
        req.production = true;
        assert!(req.check().is_ok());
        req.names.clear();
        assert!(matches!(req.check(), Err(TrialError::NoNames)));
    }
}
