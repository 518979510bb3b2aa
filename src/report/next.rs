//! The one command to run next for a diagnosis, with the real names filled in: what a report's
//! summary table shows beside each root cause.

use jiff::Timestamp;

use crate::diagnose::Diagnosis;
use crate::model::{Code, Kind, ObjectRef};

/// The next command for `d` read at `now`, if the root cause suggests one.
pub fn next_command(d: &Diagnosis, now: Timestamp) -> Option<String> {
    let rc = d.root_cause.as_ref()?;
    let ns = &d.subject.namespace;
    let renew = (d.subject.kind == Kind::Certificate)
        .then(|| format!("certdx renew {} -n {ns}", d.subject.name));
    let id = rc.code.as_str();
    // Retrying into a pause only adds failures: the unpause page comes first.
    if let (Code::RatelimitAccountPaused, Some(url), Some(r)) =
        (rc.code, rc.unpause_url.as_deref(), renew.as_deref())
    {
        return Some(format!("unpause at {url}, then: {r}"));
    }
    if id.starts_with("ratelimit-") {
        return match (rc.retry_after, renew) {
            (Some(at), Some(r)) if at > now => Some(format!("after {at}: {r}")),
            (_, r) => r,
        };
    }
    // A cause found on a Challenge is checked on that Challenge.
    if let Some(ch) = rc.subject.as_ref().filter(|s| s.kind == Kind::Challenge) {
        return Some(format!("certdx check {}/{}", ch.namespace, ch.name));
    }
    let described = |s: &ObjectRef| match s.kind {
        Kind::ClusterIssuer => Some(format!("kubectl describe clusterissuer {}", s.name)),
        Kind::Issuer => Some(format!(
            "kubectl describe issuer {} -n {}",
            s.name, s.namespace
        )),
        _ => None,
    };
    let labelled = |label: &str| {
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
            .as_ref()
            .and_then(described)
            .or_else(|| d.issuer.as_deref().and_then(labelled)),
        Code::SourceIncomplete | Code::IssuerNotInSource => None,
        _ => renew,
    }
}

/// One row of a report's answer table, before a format escapes it.
pub(super) struct AnswerRow<'a> {
    /// The diagnosed object, as `Kind ns/name`.
    pub subject: String,
    /// Its state.
    pub state: crate::model::State,
    /// The root cause's code and summary, if any.
    pub cause: Option<(Code, &'a str)>,
    /// The retry-after instant, or empty.
    pub retry: String,
    /// The next command, if any.
    pub next: Option<&'a str>,
}

/// The answer table's rows, one per diagnosis, in report order.
pub(super) fn answer_rows(r: &super::Report) -> impl Iterator<Item = AnswerRow<'_>> {
    r.diagnoses.iter().map(|d| {
        let rc = d.root_cause.as_ref();
        AnswerRow {
            subject: d.subject.to_string(),
            state: d.status.state,
            cause: rc.map(|rc| (rc.code, rc.summary.as_str())),
            retry: rc
                .and_then(|rc| rc.retry_after)
                .map(|t| t.to_string())
                .unwrap_or_default(),
            next: rc.and_then(|rc| rc.next.as_deref()),
        }
    })
}
