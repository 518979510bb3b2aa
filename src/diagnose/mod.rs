//! Turns objects into diagnoses: the chain with each link's state, every finding, and the one
//! root cause with advice.

pub mod advice;
pub mod cluster;
pub mod cm_health;
mod estate;
mod expired_limit;
mod findings;
mod incomplete;
mod lifecycle;
mod live;
mod local_view;
pub mod playbook;
pub mod readiness;
mod root_cause;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::model::{Code, Finding, ObjectRef, Severity, Status};

pub use estate::{DiagnoseOptions, diagnose_estate};
pub use findings::issuance_backoff;
pub use live::{add_cluster_checks, add_live_checks};
pub use root_cause::{pick_root_cause, rank};

/// Everything certdx concluded about one Certificate (or one orphan object).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Diagnosis {
    /// The Certificate (or orphan) diagnosed.
    pub subject: ObjectRef,
    /// Its state.
    pub status: Status,
    /// The names it covers.
    #[serde(default)]
    pub dns_names: Vec<String>,
    /// The issuer it uses, as `Issuer ns/name` or `ClusterIssuer name`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    /// The issuer's ACME server, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acme_server: Option<String>,
    /// The chain below it, current revision first.
    pub chain: ChainNode,
    /// The root cause, if anything is wrong.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub root_cause: Option<RootCause>,
    /// Every finding, most important first.
    pub findings: Vec<Finding>,
}

/// One object in the chain and the objects below it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChainNode {
    /// The object.
    pub object: ObjectRef,
    /// Its state and why.
    pub status: Status,
    /// For a CertificateRequest: its revision.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision: Option<u32>,
    /// Whether this is an older revision (history), not the current attempt.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub history: bool,
    /// A few facts worth seeing at a glance (DNS name, type, ACME URL, ...).
    #[serde(default)]
    pub facts: Vec<(String, String)>,
    /// The objects below it.
    #[serde(default)]
    pub children: Vec<ChainNode>,
}

/// The one thing to fix first, with advice.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RootCause {
    /// The finding code.
    pub code: Code,
    /// Its severity.
    pub severity: Severity,
    /// One line: what is wrong, where.
    pub summary: String,
    /// What to do.
    pub advice: String,
    /// The object where the cause was found.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<ObjectRef>,
    /// For rate limits: when the CA accepts requests again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<Timestamp>,
    /// For a paused ACME account: the CA's unpause page (the finding's `paused.unpause_url`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unpause_url: Option<String>,
    /// The one command to run next, with the real names (filled in by reports).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
}
