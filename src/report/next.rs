//! The one command to run next for a diagnosis, with the real names filled in: what a report's
//! summary table shows beside each root cause.

use jiff::Timestamp;

use crate::diagnose::Diagnosis;
use crate::model::{Code, Kind};

/// The next command for `d` read at `now`, if the root cause suggests one.
pub fn next_command(d: &Diagnosis, now: Timestamp) -> Option<String> {
    let rc = d.root_cause.as_ref()?;
    let ns = &d.subject.namespace;
    let renew = (d.subject.kind == Kind::Certificate)
        .then(|| format!("certdx renew {} -n {ns}", d.subject.name));
    let id = rc.code.as_str();
    if id.starts_with("ratelimit-") {
        return match (rc.retry_after, renew) {
            (Some(at), Some(r)) if at > now => Some(format!("after {at}: {r}")),
            (_, r) => r,
        };
    }
    // A cause found on a Challenge is checked on that Challenge.
    if let Some(ch) = rc
        .subject
        .as_deref()
        .and_then(|s| s.strip_prefix("Challenge "))
    {
        return Some(format!("certdx check {ch}"));
    }
    let issuer = |label: &str| {
        if let Some(name) = label.strip_prefix("ClusterIssuer ") {
            Some(format!("kubectl describe clusterissuer {name}"))
        } else {
            label
                .strip_prefix("Issuer ")
                .and_then(|n| n.split_once('/'))
                .map(|(ns, name)| format!("kubectl describe issuer {name} -n {ns}"))
        }
    };
    match rc.code {
        Code::IssuerNotReady | Code::IssuerNotFound | Code::AcmeAccount => rc
            .subject
            .as_deref()
            .and_then(issuer)
            .or_else(|| d.issuer.as_deref().and_then(issuer)),
        Code::SourceIncomplete | Code::IssuerNotInSource => None,
        _ => renew,
    }
}
