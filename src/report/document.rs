//! The report document: what every exporter renders, and the JSON schema itself.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::diagnose::Diagnosis;
use crate::diagnose::cm_health::CertManagerHealth;
use crate::model::{Code, Finding, Severity, State};

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
    /// `report --readiness`: the readiness findings of the whole estate, grouped by what to
    /// change (the same findings are in `diagnoses`); absent from other reports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub readiness: Option<Vec<ReadinessGroup>>,
}

/// The readiness findings that ask for the same change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReadinessGroup {
    /// The finding code.
    pub code: Code,
    /// What to change, in one sentence.
    pub change: String,
    /// Every finding of the group, worst first: its `subject` is the object to change.
    pub findings: Vec<Finding>,
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
        // A Ready Certificate is kept for a problem of its own, not for a readiness warning:
        // those are `--readiness`'s.
        Report::build(source, generated_at, all, load_problems, |d| {
            d.subject.kind != crate::model::Kind::Certificate
                || d.status.state != State::Ready
                || d.findings
                    .iter()
                    .any(|f| f.severity.is_problem() && !f.code.is_readiness())
        })
    }

    /// `report --readiness`: every Certificate with a readiness finding, failing or healthy,
    /// and those findings grouped by what to change.
    pub fn readiness(
        source: impl Into<String>,
        generated_at: Timestamp,
        all: Vec<Diagnosis>,
        load_problems: Vec<String>,
    ) -> Report {
        let mut r = Report::build(source, generated_at, all, load_problems, |d| {
            d.findings.iter().any(|f| f.code.is_readiness())
        });
        let mut groups: Vec<ReadinessGroup> = Vec::new();
        for f in r.diagnoses.iter().flat_map(|d| &d.findings) {
            if !f.code.is_readiness() {
                continue;
            }
            match groups.iter_mut().find(|g| g.code == f.code) {
                // An issuer's finding comes once per Certificate using it: one is enough, with
                // every user as evidence.
                Some(g) => match g
                    .findings
                    .iter_mut()
                    .find(|e| e.subject == f.subject && e.summary == f.summary)
                {
                    Some(e) => {
                        for ev in &f.evidence {
                            if !e.evidence.contains(ev) {
                                e.evidence.push(ev.clone());
                            }
                        }
                    }
                    None => g.findings.push(f.clone()),
                },
                None => groups.push(ReadinessGroup {
                    code: f.code,
                    change: f.code.advice().to_owned(),
                    findings: vec![f.clone()],
                }),
            }
        }
        for g in &mut groups {
            g.findings
                .sort_by(|a, b| b.severity.cmp(&a.severity).then(a.subject.cmp(&b.subject)));
        }
        groups.sort_by_key(|g| {
            (
                std::cmp::Reverse(g.findings.first().map(|f| f.severity)),
                Code::ALL.iter().position(|c| *c == g.code),
            )
        });
        r.readiness = Some(groups);
        r
    }

    fn build(
        source: impl Into<String>,
        generated_at: Timestamp,
        all: Vec<Diagnosis>,
        load_problems: Vec<String>,
        keep: impl Fn(&Diagnosis) -> bool,
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
            if keep(&d) {
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
            readiness: None,
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
