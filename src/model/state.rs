//! Classifies every object as ready / in progress / failed / unknown, with the reason that
//! explains it in one line.

use jiff::{SignedDuration, Timestamp};
use kube::ResourceExt;
use serde::{Deserialize, Serialize};

use super::{Certificate, CertificateRequest, Challenge, Condition, Order, condition};

/// Where an object stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum State {
    /// Failed: needs a human (or a retry after the cause is fixed).
    Failed,
    /// Still working: issuing, pending, waiting.
    InProgress,
    /// Nothing says how it is (no status yet, unknown values).
    Unknown,
    /// Done and good.
    Ready,
}

impl State {
    /// The kebab-case name used in JSON and text.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Failed => "failed",
            State::InProgress => "in-progress",
            State::Unknown => "unknown",
            State::Ready => "ready",
        }
    }
}

impl std::fmt::Display for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A state with the one-line reason for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Status {
    /// The state.
    pub state: State,
    /// Why, in one line.
    pub reason: String,
}

impl Status {
    fn new(state: State, reason: impl Into<String>) -> Status {
        Status {
            state,
            reason: one_line(&reason.into()),
        }
    }
}

/// Collapses whitespace so a multi-line message fits one line.
pub fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn describe(c: &Condition) -> String {
    match (c.reason.as_deref(), c.message.as_deref()) {
        (Some(r), Some(m)) if !m.is_empty() => format!("{r}: {m}"),
        (Some(r), _) => r.to_owned(),
        (None, Some(m)) => m.to_owned(),
        (None, None) => format!("{}={}", c.type_, c.status),
    }
}

/// Classifies a Certificate from its Ready and Issuing conditions.
pub fn certificate_status(cert: &Certificate) -> Status {
    let conditions = cert
        .status
        .as_ref()
        .map(|s| s.conditions.as_slice())
        .unwrap_or_default();
    let ready = condition(conditions, "Ready");
    let issuing = condition(conditions, "Issuing");
    match (ready, issuing) {
        (Some(r), Some(i)) if r.is_true() && i.is_true() => {
            Status::new(State::InProgress, format!("renewing: {}", describe(i)))
        }
        (Some(r), _) if r.is_true() => Status::new(State::Ready, describe(r)),
        (_, Some(i)) if i.is_true() => {
            Status::new(State::InProgress, format!("issuing: {}", describe(i)))
        }
        (_, Some(i)) if i.is_false() && i.reason.as_deref() == Some("Failed") => {
            Status::new(State::Failed, describe(i))
        }
        (Some(r), _) if r.is_false() => Status::new(State::Failed, describe(r)),
        _ if cert.status.is_none() => Status::new(State::Unknown, "no status yet"),
        _ => Status::new(State::Unknown, "no Ready condition"),
    }
}

/// Classifies a CertificateRequest from its Ready, Approved, Denied and InvalidRequest conditions.
pub fn request_status(req: &CertificateRequest) -> Status {
    let conditions = req
        .status
        .as_ref()
        .map(|s| s.conditions.as_slice())
        .unwrap_or_default();
    if let Some(d) = condition(conditions, "Denied").filter(|c| c.is_true()) {
        return Status::new(State::Failed, format!("denied: {}", describe(d)));
    }
    if let Some(c) = condition(conditions, "InvalidRequest").filter(|c| c.is_true()) {
        return Status::new(State::Failed, format!("invalid: {}", describe(c)));
    }
    match condition(conditions, "Ready") {
        Some(r) if r.is_true() => Status::new(State::Ready, describe(r)),
        Some(r) if r.is_false() && matches!(r.reason.as_deref(), Some("Failed" | "Denied")) => {
            Status::new(State::Failed, describe(r))
        }
        Some(r) if r.is_false() => Status::new(State::InProgress, describe(r)),
        Some(r) => Status::new(State::Unknown, describe(r)),
        None if condition(conditions, "Approved").is_some_and(|c| c.is_true()) => {
            Status::new(State::InProgress, "approved, waiting for the issuer")
        }
        None if req.status.is_none() => Status::new(State::Unknown, "no status yet"),
        None => Status::new(State::InProgress, "waiting for approval"),
    }
}

/// Classifies an Order from its ACME state.
pub fn order_status(order: &Order) -> Status {
    let st = order.status.as_ref();
    let state = st.and_then(|s| s.state.as_deref()).unwrap_or("");
    let reason = st
        .and_then(|s| s.reason.as_deref())
        .filter(|r| !r.trim().is_empty());
    let with_reason = |what: &str| match reason {
        Some(r) => format!("{what}: {r}"),
        None => what.to_owned(),
    };
    match state {
        "valid" => Status::new(State::Ready, "valid: certificate issued"),
        "invalid" | "errored" => Status::new(
            State::Failed,
            reason
                .map(str::to_owned)
                .unwrap_or_else(|| format!("{state}, no reason given: see its Challenges")),
        ),
        "expired" => Status::new(State::Failed, with_reason("expired")),
        "pending" => Status::new(
            State::InProgress,
            with_reason("pending: waiting for challenges"),
        ),
        "ready" => Status::new(State::InProgress, "ready: waiting for finalization"),
        "processing" => Status::new(State::InProgress, "processing: the CA is issuing"),
        "" if reason.is_some() => Status::new(State::Failed, with_reason("not accepted by the CA")),
        "" => Status::new(State::Unknown, "not yet submitted to the ACME server"),
        other => Status::new(State::Unknown, format!("unknown state {other:?}")),
    }
}

/// How long a presented Challenge may self-check before certdx calls it stuck. HTTP-01 should
/// pass within seconds once the route works; DNS-01 may wait for TTLs and zone transfers.
pub fn stuck_after(ch: &Challenge) -> SignedDuration {
    if ch.is_dns01() {
        SignedDuration::from_mins(30)
    } else {
        SignedDuration::from_mins(10)
    }
}

/// Whether a Challenge is in a final ACME state.
pub fn challenge_is_final(ch: &Challenge) -> bool {
    matches!(
        ch.status.as_ref().and_then(|s| s.state.as_deref()),
        Some("valid" | "invalid" | "expired" | "errored")
    )
}

/// Classifies a Challenge from its status alone. Scheduler waits need the whole estate: see
/// [`super::scheduler`].
pub fn challenge_status(ch: &Challenge, now: Timestamp) -> Status {
    let st = ch.status.clone().unwrap_or_default();
    let reason = st.reason.as_deref().filter(|r| !r.trim().is_empty());
    let with_reason = |what: &str| match reason {
        Some(r) => format!("{what}: {r}"),
        None => what.to_owned(),
    };
    match st.state.as_deref().unwrap_or("") {
        "valid" => Status::new(State::Ready, "valid"),
        "invalid" | "errored" | "expired" => Status::new(
            State::Failed,
            with_reason(st.state.as_deref().unwrap_or("invalid")),
        ),
        _ if st.processing && st.presented => {
            let age = ch.creation_timestamp().map(|t| now.duration_since(t.0));
            match age {
                Some(age) if age > stuck_after(ch) => Status::new(
                    State::Failed,
                    format!(
                        "stuck self-checking for {}: {}",
                        human_duration(age),
                        reason.unwrap_or("no reason given")
                    ),
                ),
                _ => Status::new(State::InProgress, with_reason("presented, self-checking")),
            }
        }
        _ if st.processing => Status::new(State::InProgress, with_reason("processing, presenting")),
        _ => Status::new(State::InProgress, with_reason("waiting to be scheduled")),
    }
}

/// Formats a duration the way an engineer says it: `3d4h`, `2h5m`, `40s`.
pub fn human_duration(d: SignedDuration) -> String {
    let secs = d.as_secs().unsigned_abs();
    let (days, hours, mins) = (secs / 86_400, (secs % 86_400) / 3600, (secs % 3600) / 60);
    let s = if days > 0 {
        format!("{days}d{hours}h")
    } else if hours > 0 {
        format!("{hours}h{mins}m")
    } else if mins > 0 {
        format!("{mins}m{}s", secs % 60)
    } else {
        format!("{secs}s")
    };
    if d.is_negative() { format!("-{s}") } else { s }
}
