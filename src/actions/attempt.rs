//! Following the attempt a retry started, to its end: the view's `retrying: attempt N` header
//! and `certdx retry --wait` both ask [`Attempt::outcome`] on each fresh read of the objects.
//!
//! An attempt ends well when the Certificate is Ready at a newer revision than when it began
//! (a renewal of a Ready Certificate never leaves Ready, so Ready alone proves nothing), and
//! badly when a CertificateRequest of the chain fails that had not failed when it began, or
//! when cert-manager records a failed issuance after it began.

use jiff::Timestamp;
use kube::ResourceExt;

use crate::diagnose::Diagnosis;
use crate::model::{ChainIndex, Inventory, Kind, ObjectRef, condition};

/// One retry being followed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    /// The Certificate whose issuance was started again.
    pub certificate: ObjectRef,
    /// When the write was made.
    pub since: Timestamp,
    /// Which attempt this is: the failed attempts before it, plus one.
    pub number: u32,
    /// The Certificate's revision when it began.
    revision: Option<u32>,
    /// The uids of the chain's requests that had already failed when it began.
    failed_before: Vec<String>,
}

/// Where a followed attempt stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttemptOutcome {
    /// Still going; what the chain shows now, in one line.
    Running(String),
    /// The Certificate is Ready with a new certificate.
    Ready,
    /// The attempt failed; the new root cause, in one line.
    Failed(String),
}

impl Attempt {
    /// Starts following `certificate` from the objects as they were when the write was made.
    pub fn begin(
        certificate: ObjectRef,
        inv: &Inventory,
        index: &ChainIndex,
        since: Timestamp,
    ) -> Attempt {
        let cert = find_cert(inv, &certificate);
        let status = cert.and_then(|c| c.status.clone()).unwrap_or_default();
        let failed_before = requests_of(inv, index, &certificate)
            .filter(|r| super::retry::request_failure(r).is_some())
            .filter_map(|r| r.uid())
            .collect();
        Attempt {
            number: status.failed_issuance_attempts.unwrap_or(0) + 1,
            revision: status.revision,
            failed_before,
            certificate,
            since,
        }
    }

    /// `retrying: attempt N since HH:MM:SS` (UTC), for headers.
    pub fn label(&self) -> String {
        format!(
            "retrying: attempt {} since {}",
            self.number,
            self.since.strftime("%H:%M:%S")
        )
    }

    /// Where the attempt stands in `inv` (read after the write), with `diagnoses` of it.
    pub fn outcome(
        &self,
        inv: &Inventory,
        index: &ChainIndex,
        diagnoses: &[Diagnosis],
    ) -> AttemptOutcome {
        let Some(cert) = find_cert(inv, &self.certificate) else {
            return AttemptOutcome::Failed(format!("{} was deleted", self.certificate));
        };
        let status = cert.status.clone().unwrap_or_default();
        let ready = condition(&status.conditions, "Ready").is_some_and(|c| c.is_true());
        let newer = match (status.revision, self.revision) {
            (Some(now), Some(before)) => now > before,
            (Some(_), None) => true,
            (None, _) => false,
        };
        if ready && newer {
            return AttemptOutcome::Ready;
        }
        let diagnosis = diagnoses.iter().find(|d| d.subject == self.certificate);
        let cause = || match diagnosis.and_then(|d| d.root_cause.as_ref()) {
            Some(rc) => format!("{} ({})", rc.summary, rc.code),
            None => diagnosis
                .map(|d| d.status.reason.clone())
                .unwrap_or_else(|| "no cause found".to_owned()),
        };
        let newly_failed = requests_of(inv, index, &self.certificate).any(|r| {
            super::retry::request_failure(r).is_some()
                && r.uid().is_none_or(|uid| !self.failed_before.contains(&uid))
        });
        let failure_recorded = status.last_failure_time.is_some_and(|t| t >= self.since);
        if newly_failed || failure_recorded {
            return AttemptOutcome::Failed(cause());
        }
        AttemptOutcome::Running(match diagnosis {
            Some(d) => d.status.reason.clone(),
            None => "waiting for cert-manager".to_owned(),
        })
    }
}

impl Attempt {
    /// The Challenges of the attempt's current request that cert-manager has presented and
    /// not finished: the ones whose checks say whether this attempt will pass.
    pub fn presented_challenges(&self, inv: &Inventory, index: &ChainIndex) -> Vec<ObjectRef> {
        super::retry::current_challenges(inv, index, &self.certificate)
            .into_iter()
            .filter(|ch| {
                ch.status.as_ref().is_some_and(|s| s.presented)
                    && !crate::model::state::challenge_is_final(ch)
            })
            .map(|ch| ObjectRef::of(Kind::Challenge, ch))
            .collect()
    }
}

fn find_cert<'a>(inv: &'a Inventory, c: &ObjectRef) -> Option<&'a crate::model::Certificate> {
    inv.certificates
        .iter()
        .find(|o| o.namespace().as_deref() == Some(c.namespace.as_str()) && o.name_any() == c.name)
}

fn requests_of<'a>(
    inv: &'a Inventory,
    index: &'a ChainIndex,
    c: &'a ObjectRef,
) -> impl Iterator<Item = &'a crate::model::CertificateRequest> {
    index
        .certificates
        .iter()
        .filter(move |chain| {
            ObjectRef::of(Kind::Certificate, &inv.certificates[chain.certificate]) == *c
        })
        .flat_map(|chain| chain.requests.iter())
        .map(|r| &inv.requests[r.request])
}
