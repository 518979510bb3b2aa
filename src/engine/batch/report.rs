//! What a batch reports: one result per certificate requested, and a summary. Serialisable as
//! the `certdx issue --format json` document.

use std::path::PathBuf;

use jiff::Timestamp;
use serde::Serialize;

use crate::model::{Code, Finding};

pub use super::reconcile::InterruptedOrders;

/// How a certificate request ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CertStatus {
    /// Issued in this run; the files are written.
    Issued,
    /// The state store says an earlier run issued exactly this set of names: not ordered again.
    AlreadyIssued,
    /// Not issued; `finding` says why.
    Failed,
}

impl CertStatus {
    /// The kebab-case name, as in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            CertStatus::Issued => "issued",
            CertStatus::AlreadyIssued => "already-issued",
            CertStatus::Failed => "failed",
        }
    }
}

/// Where a failure happened, so an operator knows whether the CA saw anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Stage {
    /// Certdx's own checks before any order: nothing was sent to the CA for these names.
    Preflight,
    /// Creating or resuming the order.
    Order,
    /// Answering challenges and waiting for the CA to validate them (certdx's self-check
    /// failing locally is reported here too: the challenge was then never answered).
    Validation,
    /// Finalizing, waiting for issuance, downloading, writing the files.
    Finalize,
    /// Never got its turn before the batch's time ran out (rate-limit pause, backoff, queue).
    Waiting,
}

impl Stage {
    /// The kebab-case name, as in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Preflight => "preflight",
            Stage::Order => "order",
            Stage::Validation => "validation",
            Stage::Finalize => "finalize",
            Stage::Waiting => "waiting",
        }
    }
}

/// The result for one certificate request.
#[derive(Debug, Clone, Serialize)]
pub struct CertResult {
    /// The first name: what the files are named after.
    pub name: String,
    /// Every name of the certificate, first one first.
    pub names: Vec<String>,
    /// How it ended.
    pub status: CertStatus,
    /// Where it failed, if it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stage: Option<Stage>,
    /// The finding code of the failure (also inside `finding`), for scripts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<Code>,
    /// The failure in full: summary, advice, evidence, rate-limit details.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finding: Option<Finding>,
    /// The certificate chain file (PEM, leaf first).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub certificate: Option<PathBuf>,
    /// The private key file (mode 0600).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<PathBuf>,
    /// The order URL at the CA, if one was created or resumed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub order_url: Option<String>,
    /// Whether this run continued an order an earlier (interrupted) run had created.
    pub resumed: bool,
    /// How many attempts the scheduler admitted.
    pub attempts: u32,
    /// How many times the request was listed (identical lines are one certificate).
    pub requested: usize,
    /// When its first attempt started, if it ever started.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub started_at: Option<Timestamp>,
    /// From its first attempt's start to its end, in milliseconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u64>,
    /// Where the request came from (`--domain`, `FILE:LINE`).
    pub origin: String,
    /// When the certificate expires (issued or already issued).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub not_after: Option<Timestamp>,
    /// For a certificate kept from an earlier run: from when a run orders it again (the
    /// renewal window's start, or the CA's ARI point when sooner).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub renew_from: Option<Timestamp>,
    /// Why an earlier run's certificate was ordered again (expiring, file gone, `--force`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub renewed: Option<String>,
    /// The ARI identifier of the earlier certificate this renewal replaces (RFC 9773).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replaces: Option<String>,
    /// Why the renewal was ordered without `replaces` after the CA refused it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replaces_dropped: Option<String>,
    /// Installed in this worker's `--out` by this run from the copy the issuing worker kept in
    /// the shared store (the deploy hook runs for it here too).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub copied: bool,
}

impl CertResult {
    /// Whether the request needs attention (exit code 1).
    pub fn failed(&self) -> bool {
        self.status == CertStatus::Failed
    }
}

/// What the engine decided about the authorizations it touched in this run: the proof that
/// none was left pending without a decision.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct AuthorizationTally {
    /// Validated.
    pub valid: usize,
    /// Failed validation at the CA.
    pub invalid: usize,
    /// Answered; the CA's verdict was not seen before the run ended.
    pub answered: usize,
    /// Knowingly never answered: they expire at the CA without counting as failures.
    pub left_to_expire: usize,
    /// Deactivated.
    pub deactivated: usize,
    /// Pending at the CA with no decision recorded. Always 0 at the end of a run that
    /// finished its cleanup; anything else is a bug worth reporting.
    pub pending_unknown: usize,
}

/// Totals for the whole run.
#[derive(Debug, Clone, Default, Serialize)]
pub struct BatchSummary {
    /// Certificates requested (identical lines counted once).
    pub certificates: usize,
    /// Issued in this run.
    pub issued: usize,
    /// Already issued by an earlier run.
    pub already_issued: usize,
    /// Failed.
    pub failed: usize,
    /// Of the failed, how many were never ordered (stopped by the preflight checks).
    pub not_ordered: usize,
    /// Orders an earlier run left unfinished that this run continued.
    pub resumed_orders: usize,
    /// Orders an earlier run left unfinished that nothing asks for any more: their
    /// authorizations were recorded and settled, and the orders closed.
    pub settled_orders: usize,
    /// Orders whose newOrder answer was never recorded (a kill or a lost response), as
    /// reconciled with the CA's orders list, or what may remain where there is none.
    pub interrupted_orders: InterruptedOrders,
    /// The whole run, in milliseconds.
    pub duration_ms: u64,
    /// The preflight checks, in milliseconds.
    pub preflight_ms: u64,
    /// Certificates issued per second of the run.
    pub certificates_per_second: f64,
    /// The authorizations of this run's orders, by decision.
    pub authorizations: AuthorizationTally,
}

impl BatchSummary {
    /// The totals of `certificates` for a run that took `duration` (orders settled and the
    /// preflight's time are the caller's to fill in).
    pub(super) fn of(
        certificates: &[CertResult],
        duration: std::time::Duration,
        authorizations: AuthorizationTally,
    ) -> BatchSummary {
        let count =
            |keep: &dyn Fn(&CertResult) -> bool| certificates.iter().filter(|c| keep(c)).count();
        let issued = count(&|c| c.status == CertStatus::Issued);
        BatchSummary {
            certificates: certificates.len(),
            issued,
            already_issued: count(&|c| c.status == CertStatus::AlreadyIssued),
            failed: count(&CertResult::failed),
            not_ordered: count(&|c| c.stage == Some(Stage::Preflight)),
            resumed_orders: count(&|c| c.resumed),
            settled_orders: 0,
            interrupted_orders: InterruptedOrders::default(),
            duration_ms: u64::try_from(duration.as_millis()).unwrap_or(u64::MAX),
            preflight_ms: 0,
            certificates_per_second: issued as f64 / duration.as_secs_f64().max(1e-3),
            authorizations,
        }
    }
}

/// Everything a batch reports.
#[derive(Debug, Clone, Serialize)]
pub struct BatchReport {
    /// The ACME directory.
    pub directory_url: String,
    /// The account used.
    pub account_url: String,
    /// Whether the account was created by this run (else reused from the state store).
    pub account_created: bool,
    /// The state store.
    pub state: PathBuf,
    /// Where certificates are written.
    pub out_dir: PathBuf,
    /// One result per certificate request, in input order.
    pub certificates: Vec<CertResult>,
    /// Totals.
    pub summary: BatchSummary,
}

impl BatchReport {
    /// Whether any request failed.
    pub fn any_failed(&self) -> bool {
        self.certificates.iter().any(CertResult::failed)
    }
}
