//! A rate limit whose retry-after has passed still explains the failure it caused. What the
//! engineer needs then is when cert-manager tries again by itself (its backoff from the last
//! failure) and that a renew tries now.

use jiff::Timestamp;
use kube::ResourceExt;

use super::findings::issuance_backoff as backoff;
use crate::model::state::human_duration;
use crate::model::{Certificate, Finding};

/// How a rate-limit finding's summary says its window has passed.
pub(super) fn expired_mark(at: Timestamp) -> String {
    format!("(expired at {at})")
}

/// Adds to every rate-limit finding whose retry-after is before `now` when cert-manager
/// retries the Certificate on its own, and the renew that retries now.
pub(super) fn note_expired_limits(findings: &mut [Finding], cert: &Certificate, now: Timestamp) {
    let status = cert.status.clone().unwrap_or_default();
    let retry = status.last_failure_time.map(|failed| {
        (
            failed,
            failed + backoff(status.failed_issuance_attempts.unwrap_or(1)),
        )
    });
    let renew = format!(
        "`certdx renew {} -n {}` (or `cmctl renew`)",
        cert.name_any(),
        cert.namespace().unwrap_or_default()
    );
    for f in findings.iter_mut() {
        let Some(expired) = f
            .rate_limit
            .as_ref()
            .and_then(|rl| rl.retry_after)
            .filter(|&t| t <= now)
        else {
            continue;
        };
        let (when, detail) = match retry {
            Some((failed, at)) if at > now => (
                format!("cert-manager retries at {at}"),
                format!(
                    "cert-manager retries on its own at {at} (in {}): its backoff after the failure at {failed}",
                    human_duration(at.duration_since(now))
                ),
            ),
            Some((failed, at)) => (
                "cert-manager's backoff has ended".to_owned(),
                format!(
                    "cert-manager's backoff after the failure at {failed} ended at {at}: it should be issuing again; if nothing has moved, renew"
                ),
            ),
            None => (
                "cert-manager retries after its backoff".to_owned(),
                "the Certificate records no failure time: cert-manager retries after its backoff (1h, doubling up to 32h, from the last failure)".to_owned(),
            ),
        };
        f.summary = f.summary.replace(
            &expired_mark(expired),
            &format!("(expired at {expired}; {when})"),
        );
        f.detail = if f.detail.is_empty() {
            detail
        } else {
            format!("{detail}. {}", f.detail)
        };
        f.advice = format!(
            "The limit expired at {expired}: {renew} retries now instead of waiting for cert-manager's backoff."
        );
    }
}
