//! Picks the one finding to fix first.
//!
//! The most specific cause wins over its consequences: a rate limit or a CAA refusal explains
//! a failed Order, which explains a not-Ready Certificate. Severity breaks ties.

use super::RootCause;
use crate::model::{Code, Finding};

/// How much a code explains, higher first. Consequences (an Order failed, a Certificate is not
/// Ready, cert-manager backs off) rank below the causes that produce them.
pub fn rank(code: Code) -> u8 {
    use Code::*;
    match code {
        RatelimitAccountPaused => 100,
        // Only given to Certificates with no cause of their own (`cm_health::attribute`).
        CertManagerUnhealthy => 99,
        RatelimitDuplicateCertificate
        | RatelimitCertificatesPerDomain
        | RatelimitFailedAuthorizations
        | RatelimitNewOrders
        | RatelimitPendingAuthorizations
        | RatelimitNewRegistrations
        | RatelimitOther => 98,
        // A missing issuer explains why cert-manager calls it not Ready.
        CertManagerWebhookUnavailable | IssuerNotFound => 97,
        IssuerNotReady | AcmeAccount | AcmeDirectoryUnreachable => 96,
        SolverCredentialsMissing => 93,
        AcmeProfile | AcmeBadCsr => 95,
        InvalidIdentifier | WildcardNeedsDns01 | AcmeRejectedIdentifier => 95,
        CaaForbidsIssuance
        | CaaAccounturiMismatch
        | CaaValidationmethodsExcludes
        | CaaCriticalUnknown
        | CaaLookupFailed
        | CaaMalformed
        | AcmeCaa => 94,
        SolverNoMatch => 92,
        DnsNxdomain | DnsLookupFailed => 90,
        // Below the cluster's evidence, which they say nothing against.
        LocalResolverUnreliable | LocalViewDiffers | CheckInconclusive => 10,
        Dns01ZoneNotFound | Dns01TxtMissing | Dns01TxtWrongValue | Dns01NsError => 88,
        Http01NoAddress
        | Http01ReservedAddress
        | Http01Unreachable
        | Http01WrongStatus
        | Http01WrongBody
        | Http01BadRedirect
        | Http01AddressMismatch
        | Http01NotPointingToIngress
        | Http01SolverBlocked => 88,
        SolverPresentFailed | Http01SolverRejected => 86,
        SelfcheckDns01NsError | SelfcheckDns01ZoneNotFound => 84,
        SelfcheckHttp01WrongStatus | SelfcheckHttp01WrongBody | SelfcheckHttp01RequestFailed => 84,
        AcmeUnauthorized | AcmeDns | AcmeConnection => 82,
        SelfcheckFailed => 81,
        AcmeSecondaryValidation => 79,
        SelfcheckDns01NotPropagated => 80,
        Dns01NsInconsistent | Dns01RecursiveStale => 78,
        ChallengeStuck => 70,
        ChallengeBlockedDuplicate | ChallengeNotScheduled => 66,
        AcmeOrderNotReady | AcmeAlreadyReplaced => 62,
        AcmeOther => 60,
        AcmeServerError => 50,
        // A renewal nobody started explains the expiry it leads to.
        RenewalOverdue | NotReconciled => 50,
        CertificateExpiring => 48,
        // Above the chain's states: when only they are known, what is missing says more.
        SourceIncomplete => 45,
        RequestFailed => 40,
        ExpiredOrder => 35,
        IssuanceBackoff => 30,
        OrderFailedNoReason => 25,
        CertificateNotReady => 20,
        AcmeBadNonce | Dns01Cname | Http01Redirect | IssuerNotInSource => 5,
        // Never a root cause (`pick_root_cause` leaves them out): what will fail, not what did.
        ProfileLimit | BackoffExceedsLifetime | ClientAuthUsage | AuthzLifetimeShort => 0,
    }
}

/// The finding that best explains the problem: highest severity, then highest rank, among the
/// findings that are problems (warning or worse). `None` when nothing is wrong. Readiness
/// findings are never picked: they say what a CA change will break, and a Certificate that
/// fails today fails for another reason.
pub fn pick_root_cause(findings: &[Finding]) -> Option<RootCause> {
    let best = findings
        .iter()
        .filter(|f| f.severity.is_problem() && !f.code.is_readiness())
        .max_by_key(|f| (f.severity, rank(f.code)))?;
    Some(RootCause {
        code: best.code,
        severity: best.severity,
        summary: best.summary.clone(),
        advice: best.advice.clone(),
        subject: best.subject.clone(),
        retry_after: best.rate_limit.as_ref().and_then(|r| r.retry_after),
        unpause_url: best.paused.as_ref().and_then(|p| p.unpause_url.clone()),
        next: None,
    })
}
