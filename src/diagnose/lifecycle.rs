//! What fails silently: a Ready Certificate nobody renews, a certificate running out of life,
//! a Certificate cert-manager never acted on. Nothing is red in the cluster until the
//! certificate expires in production; these findings make it red before.

use crate::model::state::human_duration;
use crate::model::{Certificate, Code, Finding, Kind, ObjectRef, Severity, condition};
use jiff::{SignedDuration, Timestamp};

/// How long cert-manager may take to act on a change before its silence is a finding.
pub const RECONCILE_GRACE: SignedDuration = SignedDuration::from_mins(10);

/// The lifecycle findings of one Certificate at `now`.
pub fn lifecycle(cert: &Certificate, now: Timestamp) -> Vec<Finding> {
    let subject = ObjectRef::of(Kind::Certificate, cert);
    let mut out = Vec::new();
    let Some(status) = cert.status.as_ref() else {
        let created = cert.metadata.creation_timestamp.as_ref().map(|t| t.0);
        if let Some(at) = created.filter(|&t| now.duration_since(t) > RECONCILE_GRACE) {
            out.push(
                Finding::new(
                    Code::NotReconciled,
                    format!(
                        "{subject} has no status {} after it was created: cert-manager has not acted on it",
                        human_duration(now.duration_since(at))
                    ),
                )
                .with_subject(subject),
            );
        }
        return out;
    };
    let generation = cert.metadata.generation;
    if let (Some(generation), Some(ready)) = (generation, condition(&status.conditions, "Ready"))
        && let Some(observed) = ready.observed_generation
        && observed < generation
        && ready
            .last_transition_time
            .is_none_or(|t| now.duration_since(t) > RECONCILE_GRACE)
    {
        out.push(
            Finding::new(
                Code::NotReconciled,
                format!(
                    "{subject}'s status is for generation {observed}, its spec is at {generation}: cert-manager has not acted on the change"
                ),
            )
            .with_subject(subject.clone()),
        );
    }
    let ready = condition(&status.conditions, "Ready").is_some_and(|c| c.is_true());
    let issuing = condition(&status.conditions, "Issuing").is_some_and(|c| c.is_true());
    if ready
        && !issuing
        && let Some(renew_at) = status.renewal_time
        && now.duration_since(renew_at) > RECONCILE_GRACE
    {
        let mut f = Finding::new(
            Code::RenewalOverdue,
            format!(
                "{subject} should have been renewed at {renew_at} ({} ago) and no issuance started{}",
                human_duration(now.duration_since(renew_at)),
                status
                    .not_after
                    .map(|t| format!("; it expires at {t}, in {}", human_duration(t.duration_since(now))))
                    .unwrap_or_default()
            ),
        )
        .with_subject(subject.clone());
        if status
            .not_before
            .zip(status.not_after)
            .is_some_and(|(from, to)| last_tenth(from, to, now))
        {
            f.severity = Severity::Error;
        }
        out.push(f);
    }
    if let Some(not_after) = status.not_after {
        let lifetime = status.not_before.map(|from| (from, not_after));
        let renewal_passed = status
            .renewal_time
            .map(|t| now >= t)
            .or_else(|| lifetime.map(|(from, to)| fraction_passed(from, to, now) >= 2.0 / 3.0));
        let severity = if now >= not_after {
            Some(Severity::Fatal)
        } else if lifetime.is_some_and(|(from, to)| last_tenth(from, to, now)) {
            Some(Severity::Error)
        } else if renewal_passed == Some(true) {
            Some(Severity::Warning)
        } else {
            None
        };
        if let Some(severity) = severity {
            let summary = if now >= not_after {
                format!(
                    "the certificate of {subject} expired at {not_after}, {} ago",
                    human_duration(now.duration_since(not_after))
                )
            } else {
                format!(
                    "the certificate of {subject} expires at {not_after}, in {}",
                    human_duration(not_after.duration_since(now))
                )
            };
            let mut f = Finding::new(Code::CertificateExpiring, summary).with_subject(subject);
            f.severity = severity;
            out.push(f);
        }
    }
    out
}

/// Which part of the lifetime from `from` to `to` has passed at `now` (0 to 1 and beyond).
fn fraction_passed(from: Timestamp, to: Timestamp, now: Timestamp) -> f64 {
    let total = to.duration_since(from).as_secs_f64();
    if total <= 0.0 {
        return 1.0;
    }
    now.duration_since(from).as_secs_f64() / total
}

/// Whether `now` is in the last tenth of the lifetime.
fn last_tenth(from: Timestamp, to: Timestamp, now: Timestamp) -> bool {
    fraction_passed(from, to, now) >= 0.9
}
