//! The report document: what every exporter renders, and the JSON schema itself.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::diagnose::Diagnosis;
use crate::diagnose::cm_health::CertManagerHealth;
use crate::model::{Severity, State};

/// Version of the JSON document's shape. Bumped on any incompatible change; additions of
/// optional fields keep it.
pub const SCHEMA_VERSION: u32 = 2;

/// A diagnosis report: the problems in an estate, for humans and machines.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// `certdx <version>`.
    pub generator: String,
    /// When the report was made (the instant ages were measured against).
    pub generated_at: Timestamp,
    /// Where the objects came from (a path, a kube context, `demo`).
    pub source: String,
    /// How `generated_at` was chosen when it is not the clock: `--now`, or a snapshot's
    /// newest timestamp.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clock: Option<String>,
    /// Where the live checks ran from (host and resolver), or that none ran (`--offline`);
    /// `None` when the maker of the report does not say.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checked_from: Option<String>,
    /// Counts over the whole estate.
    pub summary: Summary,
    /// One diagnosis per Certificate that is not Ready and per orphan, most urgent first.
    pub diagnoses: Vec<Diagnosis>,
    /// Documents or files that could not be loaded.
    #[serde(default)]
    pub load_problems: Vec<String>,
    /// cert-manager's own installation, on a live cluster; `null` for a snapshot or the demo.
    #[serde(default)]
    pub cert_manager: Option<CertManagerHealth>,
}

/// Counts over the whole estate, not only the problems.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    /// Certificates in total.
    pub certificates: usize,
    /// Certificates Ready.
    pub ready: usize,
    /// Certificates failed.
    pub failed: usize,
    /// Certificates issuing / renewing.
    pub in_progress: usize,
    /// Certificates without a known state.
    pub unknown: usize,
    /// Orphan CertificateRequests, Orders and Challenges.
    pub orphans: usize,
    /// Findings of severity fatal or error across the reported diagnoses.
    pub errors: usize,
    /// Findings of severity warning across the reported diagnoses.
    pub warnings: usize,
}

impl Report {
    /// Builds a report from all diagnoses of an estate: counts everything, keeps the
    /// Certificates that are not Ready and the orphans, most urgent first.
    pub fn new(
        source: impl Into<String>,
        generated_at: Timestamp,
        all: Vec<Diagnosis>,
        load_problems: Vec<String>,
    ) -> Report {
        let mut summary = Summary::default();
        let mut kept = Vec::new();
        for d in all {
            let is_cert = d.subject.kind == crate::model::Kind::Certificate;
            if is_cert {
                summary.certificates += 1;
                match d.status.state {
                    State::Ready => summary.ready += 1,
                    State::Failed => summary.failed += 1,
                    State::InProgress => summary.in_progress += 1,
                    State::Unknown => summary.unknown += 1,
                }
            } else {
                summary.orphans += 1;
            }
            if !is_cert
                || d.status.state != State::Ready
                || d.findings.iter().any(|f| f.severity.is_problem())
            {
                for f in &d.findings {
                    match f.severity {
                        Severity::Fatal | Severity::Error => summary.errors += 1,
                        Severity::Warning => summary.warnings += 1,
                        Severity::Info => {}
                    }
                }
                let mut d = d;
                let next = super::next_command(&d, generated_at);
                if let Some(rc) = d.root_cause.as_mut() {
                    rc.next = next;
                }
                kept.push(d);
            }
        }
        kept.sort_by(|a, b| {
            let sev = |d: &Diagnosis| std::cmp::Reverse(d.root_cause.as_ref().map(|r| r.severity));
            (a.status.state, sev(a), &a.subject).cmp(&(b.status.state, sev(b), &b.subject))
        });
        Report {
            schema_version: SCHEMA_VERSION,
            generator: format!("certdx {}", env!("CARGO_PKG_VERSION")),
            generated_at,
            source: source.into(),
            clock: None,
            checked_from: None,
            summary,
            diagnoses: kept,
            load_problems,
            cert_manager: None,
        }
    }

    /// Whether anything in the report is a problem (drives exit code 1).
    pub fn has_problems(&self) -> bool {
        let cert_manager = self
            .cert_manager
            .as_ref()
            .is_some_and(|h| h.headline().is_some());
        cert_manager
            || self.diagnoses.iter().any(|d| {
                d.status.state == State::Failed
                    || d.findings.iter().any(|f| f.severity.is_problem())
            })
    }
}
