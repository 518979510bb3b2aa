//! Findings drawn from one object: its reasons, condition messages and Events run through
//! `explain`, plus what its state alone implies (backoff, scheduler waits, stuck self-checks).

use std::cell::RefCell;
use std::collections::HashMap;

use jiff::{SignedDuration, Timestamp};
use kube::{Resource, ResourceExt};

use crate::checks::explain::explain;
use crate::model::scheduler::Wait;
use crate::model::state::{challenge_is_final, human_duration, one_line, stuck_after};
use crate::model::{
    Certificate, CertificateRequest, ChainIndex, Challenge, Code, Condition, Evidence, Finding,
    Inventory, Kind, ObjectRef, Order, event_time,
};

/// Longest excerpt of an object's text kept as evidence.
const MAX_EVIDENCE_CHARS: usize = 2000;

/// Collects findings about one object.
pub(crate) struct Collector<'a> {
    pub inv: &'a Inventory,
    pub index: &'a ChainIndex,
    pub now: Timestamp,
    pub out: Vec<Finding>,
    /// `explain` results by text for this pass: at scale the same messages repeat thousands
    /// of times.
    pub explained: &'a RefCell<HashMap<String, Vec<Finding>>>,
}

impl Collector<'_> {
    /// Runs `explain` on a text and records what it finds against `subject`.
    fn explain_text(
        &mut self,
        subject: &ObjectRef,
        field: &str,
        text: &str,
        at: Option<Timestamp>,
    ) {
        if text.trim().is_empty() {
            return;
        }
        let found = {
            let mut cache = self.explained.borrow_mut();
            match cache.get(text) {
                Some(found) => found.clone(),
                None => {
                    let found = explain(text);
                    cache.insert(text.to_owned(), found.clone());
                    found
                }
            }
        };
        for mut f in found {
            let source = format!("{subject} {field}");
            f.evidence = vec![Evidence::Text {
                source,
                text: excerpt(text),
                at,
            }];
            f.subject = Some(subject.clone());
            self.push(f);
        }
    }

    fn conditions(&mut self, subject: &ObjectRef, conditions: &[Condition]) {
        for c in conditions
            .iter()
            .filter(|c| !c.is_true() || c.type_ == "Issuing")
        {
            if let Some(m) = c.message.as_deref() {
                self.explain_text(
                    subject,
                    &format!("condition {}", c.type_),
                    m,
                    c.last_transition_time,
                );
            }
        }
    }

    fn events(
        &mut self,
        subject: &ObjectRef,
        meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
    ) {
        for i in self.index.events_for(subject.kind, meta) {
            let ev = &self.inv.events[i];
            let Some(message) = ev.message.as_deref() else {
                continue;
            };
            let field = format!("event {}", ev.reason.as_deref().unwrap_or("(no reason)"));
            self.explain_text(subject, &field, message, event_time(ev));
        }
    }

    /// Adds a finding, merging it into an equal one (same code, subject, summary) if present:
    /// the same reason repeated by a condition and an Event is one finding with two pieces of
    /// evidence.
    pub fn push(&mut self, mut f: Finding) {
        if let Some(at) = f
            .rate_limit
            .as_ref()
            .and_then(|rl| rl.retry_after)
            .filter(|&t| t <= self.now)
        {
            // The window has passed, but the limit still explains the failure it caused:
            // it keeps its severity, and the Certificate adds when cert-manager retries.
            f.summary = format!("{} {}", f.summary, super::expired_limit::expired_mark(at));
            f.severity = f.severity.min(crate::model::Severity::Error);
        }
        if let Some(existing) = self
            .out
            .iter_mut()
            .find(|e| e.code == f.code && e.subject == f.subject && e.summary == f.summary)
        {
            for ev in f.evidence {
                if !existing.evidence.contains(&ev) {
                    existing.evidence.push(ev);
                }
            }
            return;
        }
        self.out.push(f);
    }

    /// Findings about a Certificate itself.
    pub fn certificate(&mut self, cert: &Certificate) {
        let subject = ObjectRef::of(Kind::Certificate, cert);
        let status = cert.status.clone().unwrap_or_default();
        self.conditions(&subject, &status.conditions);
        self.events(&subject, cert.meta());
        if let (Some(failed_at), Some(attempts)) =
            (status.last_failure_time, status.failed_issuance_attempts)
        {
            let retry = failed_at + issuance_backoff(attempts);
            if retry > self.now {
                let mut f = Finding::new(
                    Code::IssuanceBackoff,
                    format!(
                        "cert-manager waits until {retry} ({} from now) before retrying after {attempts} failed attempt(s)",
                        human_duration(retry.duration_since(self.now))
                    ),
                )
                .with_subject(subject.clone())
                .with_detail(format!("last failure at {failed_at}; the backoff doubles from 1h up to 32h"));
                f.rate_limit = Some(crate::model::RateLimit {
                    retry_after: Some(retry),
                    ..Default::default()
                });
                self.push(f);
            }
        }
    }

    /// Findings about a CertificateRequest.
    pub fn request(&mut self, req: &CertificateRequest) {
        let subject = ObjectRef::of(Kind::CertificateRequest, req);
        let conditions = req
            .status
            .as_ref()
            .map(|s| s.conditions.clone())
            .unwrap_or_default();
        self.conditions(&subject, &conditions);
        self.events(&subject, req.meta());
        let status = crate::model::state::request_status(req);
        if status.state == crate::model::State::Failed
            && !self
                .out
                .iter()
                .any(|f| f.subject.as_ref() == Some(&subject))
        {
            self.push(
                Finding::new(Code::RequestFailed, format!("{subject}: {}", status.reason))
                    .with_subject(subject.clone()),
            );
        }
    }

    /// Findings about an Order.
    pub fn order(&mut self, order: &Order) {
        let subject = ObjectRef::of(Kind::Order, order);
        let status = order.status.clone().unwrap_or_default();
        let reason = status.reason.as_deref().unwrap_or("").trim();
        self.explain_text(&subject, "status.reason", reason, status.failure_time);
        self.events(&subject, order.meta());
        match status.state.as_deref() {
            Some("invalid" | "errored") if reason.is_empty() => self.push(
                Finding::new(
                    Code::OrderFailedNoReason,
                    format!(
                        "{subject} is {} with no reason: the cause is on its Challenges",
                        status.state.as_deref().unwrap_or_default()
                    ),
                )
                .with_subject(subject.clone()),
            ),
            Some("expired") => self.push(
                Finding::new(
                    Code::ExpiredOrder,
                    format!("{subject} expired before it completed"),
                )
                .with_subject(subject.clone())
                .with_detail(reason.to_owned()),
            ),
            _ => {}
        }
    }

    /// Findings about a Challenge, given where it waits in the scheduler.
    pub fn challenge(&mut self, ch: &Challenge, wait: &Wait) {
        let subject = ObjectRef::of(Kind::Challenge, ch);
        let status = ch.status.clone().unwrap_or_default();
        let reason = status.reason.as_deref().unwrap_or("");
        self.explain_text(&subject, "status.reason", reason, None);
        self.events(&subject, ch.meta());
        let name = display_name(ch);
        if ch.spec.wildcard && !ch.is_dns01() {
            self.push(
                Finding::new(
                    Code::WildcardNeedsDns01,
                    format!(
                        "{name} is a wildcard but is validated with {}",
                        ch.spec.type_
                    ),
                )
                .with_subject(subject.clone()),
            );
        }
        match wait {
            Wait::BlockedBy(other) => {
                let other = ObjectRef::of(Kind::Challenge, &self.inv.challenges[*other]);
                self.push(
                    Finding::new(
                        Code::ChallengeBlockedDuplicate,
                        format!("{name} ({}) waits for {other}, which is for the same name and type", ch.spec.type_),
                    )
                    .with_subject(subject.clone())
                    .with_evidence(Evidence::Fact { subject: other.to_string(), detail: "processing the same DNS name and challenge type".into() }),
                );
            }
            Wait::NoSlot { processing, max } => self.push(
                Finding::new(
                    Code::ChallengeNotScheduled,
                    format!("{name} waits for a scheduler slot: {processing} Challenges are processing (limit {max})"),
                )
                .with_subject(subject.clone())
                .with_evidence(Evidence::Fact {
                    subject: "cluster".into(),
                    detail: format!("{processing} Challenges with status.processing=true"),
                }),
            ),
            Wait::None | Wait::Next => {}
        }
        if status.processing
            && status.presented
            && !challenge_is_final(ch)
            && let Some(created) = ch.creation_timestamp()
        {
            let age = self.now.duration_since(created.0);
            {
                if age > stuck_after(ch) {
                    let last = if reason.is_empty() {
                        String::new()
                    } else {
                        format!(": {}", short(reason, 140))
                    };
                    self.push(
                        Finding::new(
                            Code::ChallengeStuck,
                            format!(
                                "{name} ({}) has been self-checking for {}{last}",
                                ch.spec.type_,
                                human_duration(age)
                            ),
                        )
                        .with_subject(subject.clone())
                        .with_detail(format!(
                            "presented and processing since {}; last reason: {}",
                            created.0,
                            if reason.is_empty() { "none" } else { reason }
                        )),
                    );
                }
            }
        }
    }
}

/// The name a Challenge validates, with `*.` for wildcards.
pub fn display_name(ch: &Challenge) -> String {
    if ch.spec.wildcard {
        format!("*.{}", ch.spec.dns_name)
    } else {
        ch.spec.dns_name.clone()
    }
}

/// cert-manager's failed-issuance backoff after `attempts` consecutive failures: 1 h,
/// doubling up to 32 h.
pub fn issuance_backoff(attempts: u32) -> SignedDuration {
    let hours = 1i64 << attempts.saturating_sub(1).min(5);
    SignedDuration::from_hours(hours)
}

/// The first `max` characters of a one-line version of `text`, with an ellipsis if cut.
fn short(text: &str, max: usize) -> String {
    let line = one_line(text);
    if line.chars().count() <= max {
        return line;
    }
    let cut: String = line.chars().take(max).collect();
    format!("{cut}…")
}

/// Cuts a text to at most [`MAX_EVIDENCE_CHARS`] characters on one line, redacting secrets.
pub fn excerpt(text: &str) -> String {
    let text = crate::model::redact::redact(&one_line(text));
    if text.chars().count() <= MAX_EVIDENCE_CHARS {
        return text;
    }
    let cut: String = text.chars().take(MAX_EVIDENCE_CHARS).collect();
    format!("{cut}…")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_to_32h() {
        assert_eq!(issuance_backoff(1), SignedDuration::from_hours(1));
        assert_eq!(issuance_backoff(2), SignedDuration::from_hours(2));
        assert_eq!(issuance_backoff(6), SignedDuration::from_hours(32));
        assert_eq!(issuance_backoff(60), SignedDuration::from_hours(32));
        assert_eq!(issuance_backoff(0), SignedDuration::from_hours(1));
    }
}
