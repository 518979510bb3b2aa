//! The playbook checks. Each module looks at one thing and returns [`crate::model::Finding`]s;
//! none of them knows about the terminal.

pub mod acme_problem;
pub mod ca_reach;
pub mod caa;
pub mod cm_reason;
pub mod directory;
pub mod dns;
pub mod dns01;
pub mod explain;
pub mod http01;
pub mod k8s_reason;
pub mod limit;
pub mod name;
pub mod ratelimit;
pub mod resolver;
pub mod solver;
pub mod text;

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::model::{Finding, Severity};

/// How a check ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CheckStatus {
    /// Nothing wrong found.
    Passed,
    /// Only warnings.
    Warning,
    /// At least one error or fatal finding.
    Failed,
    /// Not applicable (e.g. no key to compare, wrong method).
    Skipped,
    /// The name answered, but nothing was compared with what the CA expects (HTTP-01 without
    /// a token and key): not a pass.
    Reachable,
}

impl CheckStatus {
    /// How a person reads it.
    pub fn label(self) -> &'static str {
        match self {
            CheckStatus::Passed => "passed",
            CheckStatus::Warning => "warning",
            CheckStatus::Failed => "failed",
            CheckStatus::Skipped => "skipped",
            CheckStatus::Reachable => "reachable, token not compared",
        }
    }
}

/// The outcome of one check (e.g. `http01 www.example.com`): what `certdx check --format json`
/// lists under `checks[]`, with the findings that go under `findings[]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckReport {
    /// Which check, e.g. `http01`, `dns01`, `caa`, `name`.
    pub name: String,
    /// The identifier checked.
    pub target: String,
    /// How it ended.
    pub status: CheckStatus,
    /// How long it took, in milliseconds.
    pub duration_ms: u64,
    /// What it found.
    #[serde(skip)]
    pub findings: Vec<Finding>,
}

impl CheckReport {
    /// A report whose status follows from the worst finding.
    pub fn from_findings(
        name: &str,
        target: &str,
        duration: Duration,
        findings: Vec<Finding>,
    ) -> CheckReport {
        let worst = findings.iter().map(|f| f.severity).max();
        let status = match worst {
            Some(Severity::Fatal | Severity::Error) => CheckStatus::Failed,
            Some(Severity::Warning) => CheckStatus::Warning,
            _ => CheckStatus::Passed,
        };
        CheckReport {
            name: name.to_owned(),
            target: target.to_owned(),
            status,
            duration_ms: duration.as_millis() as u64,
            findings,
        }
    }
}

/// Finds the IPv4 and IPv6 addresses of a name: how the HTTP-01 check resolves redirect
/// targets. Implemented over certdx's recursive resolver (`--resolver`); tests may use a fixed
/// table.
pub trait AddressLookup: Send + Sync {
    /// The A and AAAA addresses of `name`, or why there are none.
    fn addresses<'a>(
        &'a self,
        name: &'a str,
    ) -> futures::future::BoxFuture<'a, Result<Vec<std::net::IpAddr>, LookupError>>;
}

/// Why a name has no addresses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LookupError {
    /// The name does not exist.
    #[error("{0}: NXDOMAIN")]
    NxDomain(String),
    /// The name exists but has no A or AAAA record.
    #[error("{0}: no A or AAAA record")]
    NoAddress(String),
    /// SERVFAIL, REFUSED, timeout or another failure.
    #[error("{name}: {reason}")]
    Failed {
        /// The name.
        name: String,
        /// What went wrong.
        reason: String,
    },
}
