//! What the batch loop keeps per certificate and the results it reports: issued, already
//! issued (here or by another worker), failed, or why it never ran.

use std::path::{Path, PathBuf};
use std::time::Duration;

use instant_acme::CertificateIdentifier;
use jiff::Timestamp;
use tokio::time::Instant;

use crate::engine::scheduler::Waiting;
use crate::engine::store::OrderId;
use crate::model::{Code, Finding};

use super::copies::LocalCopy;
use super::input::CertRequest;
use super::progress::{BatchProgress, ItemProgress, ItemState};
use super::renewal;
use super::report::{CertResult, CertStatus, Stage};

/// What the loop keeps per certificate request.
#[derive(Debug, Default)]
pub(super) struct Tracked {
    pub(super) attempts: u32,
    pub(super) started: Option<(Timestamp, Instant)>,
    pub(super) last: Option<(Stage, Finding)>,
    pub(super) order: Option<OrderId>,
    pub(super) order_url: Option<String>,
    pub(super) resumed: bool,
    /// Why an earlier run's certificate is ordered again.
    pub(super) renewing: Option<String>,
    /// The earlier certificate a renewal replaces (RFC 9773 `replaces`).
    pub(super) replaces: Option<CertificateIdentifier<'static>>,
    /// Why the CA made the renewal go without `replaces`.
    pub(super) replaces_dropped: Option<String>,
    pub(super) result: Option<CertResult>,
}

/// Why an item that never ran waited.
pub(super) fn waited(request: &CertRequest, waiting: Option<&Waiting>) -> Finding {
    match waiting {
        Some(Waiting::Backoff { identifier, until }) => {
            let until = until.map_or("its other attempts end".to_owned(), |t| t.to_string());
            Finding::new(
                Code::IssuanceBackoff,
                format!(
                    "{identifier} failed validation recently and is backed off until {until} \
                     (the CA allows 5 failed validations per name per hour)"
                ),
            )
        }
        _ => Finding::new(
            Code::ChallengeNotScheduled,
            format!(
                "{} never got its turn before the run's time ran out (--batch-timeout)",
                request.first_name()
            ),
        ),
    }
}

pub(super) fn base(request: &CertRequest, t: &Tracked, status: CertStatus) -> CertResult {
    CertResult {
        name: request.first_name().to_owned(),
        names: request.names.clone(),
        status,
        stage: None,
        code: None,
        finding: None,
        certificate: None,
        key: None,
        order_url: t.order_url.clone(),
        resumed: t.resumed,
        attempts: t.attempts,
        requested: request.requested,
        started_at: t.started.map(|(at, _)| at),
        duration_ms: t.started.map(|(_, at)| millis(at.elapsed())),
        origin: request.origin.clone(),
        not_after: None,
        renew_from: None,
        renewed: t.renewing.clone(),
        replaces: t.replaces.as_ref().map(ToString::to_string),
        replaces_dropped: t.replaces_dropped.clone(),
        copied: false,
    }
}

pub(super) fn issued(
    request: &CertRequest,
    t: &Tracked,
    cert: PathBuf,
    key: PathBuf,
) -> CertResult {
    CertResult {
        not_after: installed_not_after(&cert),
        certificate: Some(cert),
        key: Some(key),
        ..base(request, t, CertStatus::Issued)
    }
}

pub(super) fn already_issued(
    request: &CertRequest,
    cert: PathBuf,
    not_after: Timestamp,
    copied: bool,
) -> CertResult {
    let key = cert.with_extension("key");
    CertResult {
        copied,
        not_after: Some(not_after),
        certificate: Some(cert),
        key: Some(key),
        ..base(request, &Tracked::default(), CertStatus::AlreadyIssued)
    }
}

/// A certificate another worker of a shared batch issued: reported as already issued, with
/// this worker's copy (`copied`: installed just now), else the file that worker installed.
pub(super) fn done_elsewhere(request: &CertRequest, copy: LocalCopy) -> CertResult {
    let cert = copy.cert;
    CertResult {
        not_after: installed_not_after(&cert),
        key: Some(cert.with_extension("key")),
        certificate: Some(cert),
        copied: copy.installed,
        ..base(request, &Tracked::default(), CertStatus::AlreadyIssued)
    }
}

pub(super) fn failed(
    request: &CertRequest,
    t: &Tracked,
    stage: Stage,
    finding: Finding,
) -> CertResult {
    CertResult {
        stage: Some(stage),
        code: Some(finding.code),
        finding: Some(finding),
        ..base(request, t, CertStatus::Failed)
    }
}

pub(super) fn join_detail(detail: &str, more: &str) -> String {
    if detail.is_empty() {
        more.to_owned()
    } else {
        format!("{detail}; {more}")
    }
}

/// The expiry of an installed certificate file, for the report only (`None` if unreadable).
fn installed_not_after(cert: &Path) -> Option<Timestamp> {
    std::fs::read(cert)
        .ok()
        .and_then(|pem| renewal::not_after(&pem).ok())
}

pub(super) fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// A finished certificate's row.
pub(super) fn show_result(item: &mut ItemProgress, result: &CertResult) {
    let state = match result.status {
        CertStatus::Issued => ItemState::Issued,
        CertStatus::AlreadyIssued => ItemState::AlreadyIssued,
        CertStatus::Failed => ItemState::Failed,
    };
    if item.state != state {
        item.state = state;
        item.since = Some(Timestamp::now());
    }
    item.retry_at = None;
    item.certificate = result.certificate.clone();
    // An issued certificate's row shows no failure of an earlier attempt.
    item.last = result.finding.clone();
}

pub(super) fn count(p: &mut BatchProgress, tracked: &[Tracked]) {
    let status = |s: CertStatus| {
        tracked
            .iter()
            .filter(|t| t.result.as_ref().is_some_and(|r| r.status == s))
            .count()
    };
    p.issued = status(CertStatus::Issued);
    p.already_issued = status(CertStatus::AlreadyIssued);
    p.failed = status(CertStatus::Failed);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_item_that_never_ran_says_why_it_waited() {
        let request = CertRequest {
            names: vec!["a.test".into()],
            origin: "--domain".into(),
            requested: 1,
        };
        let backoff = Waiting::Backoff {
            identifier: "a.test".into(),
            until: None,
        };
        assert_eq!(waited(&request, Some(&backoff)).code, Code::IssuanceBackoff);
        assert_eq!(waited(&request, None).code, Code::ChallengeNotScheduled);
    }
}
