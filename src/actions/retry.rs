//! Retry by intent: "make cert-manager try again now", whatever the chain is stuck on.
//!
//! The engineer names any object of a chain (Certificate, CertificateRequest, Order or
//! Challenge); [`decide_retry`] walks to the chain and picks the one write that makes
//! cert-manager issue again, from the objects' state alone (so the view can decide
//! synchronously from what it shows, and the command line from a fresh list):
//!
//! - a Challenge stuck in deletion behind cert-manager's finalizer: release it (its cleanup
//!   keeps failing, and while it exists it blocks every new Challenge for its name);
//! - the current CertificateRequest failed (or was denied, or is invalid): renew the
//!   Certificate: cert-manager makes no new Order for a failed request, and Issuing=True makes
//!   it replace the request now, skipping its failed-issuance backoff;
//! - the Certificate waits in that backoff: renew, naming the time it skips;
//! - the request is still open but its Order failed, waits on a Challenge in a final failed
//!   state, or outlived its authorizations: delete the Order, and the request gets a new one;
//! - a Ready Certificate whose renewal never started: renew;
//! - otherwise refuse, saying what cert-manager is doing or waiting for.
//!
//! The facts about cert-manager this rests on (its controllers' source, 1.12 to 1.19): the
//! requests controller deletes a failed request of the current revision once Issuing turns
//! True again and creates a new one; the ACME request controller creates an Order for an open
//! request that has none; the orders controller never leaves a failed state and a Challenge
//! in a final state is never retried; the challenges controller removes its finalizer only
//! after its solver's cleanup succeeds.

use jiff::{SignedDuration, Timestamp};
use kube::ResourceExt;

use super::Action;
use crate::diagnose::{Diagnosis, issuance_backoff};
use crate::model::profile::known_pending_authz;
use crate::model::state::human_duration;
use crate::model::{
    AcmeIssuer, Certificate, CertificateChain, CertificateRequest, ChainIndex, Challenge, Code,
    Inventory, Kind, ObjectRef, Order, Severity, condition,
};

/// cert-manager's finalizers on a Challenge (the legacy name, and the domain-qualified one
/// since 1.17).
pub const CHALLENGE_FINALIZERS: [&str; 2] = [
    "finalizer.acme.cert-manager.io",
    "acme.cert-manager.io/finalizer",
];

/// How long cert-manager may take to clean up a deleted Challenge before certdx calls it
/// stuck: cleanup is one solver call, retried with backoff.
pub const CLEANUP_GRACE: SignedDuration = SignedDuration::from_mins(10);

/// How long a pending ACME authorization lives at the classic profile of Let's Encrypt (and
/// most CAs): an Order pending longer cannot be completed any more.
pub const PENDING_AUTHZ_LIFETIME: SignedDuration = SignedDuration::from_hours(7 * 24);

/// How long after its renewal time a Ready Certificate may go without an issuance before
/// certdx renews it instead of waiting for cert-manager.
pub const RENEWAL_GRACE: SignedDuration = SignedDuration::from_mins(10);

/// The objects a retry is decided on.
#[derive(Debug, Clone, Copy)]
pub struct RetryContext<'a> {
    /// Every object read.
    pub inventory: &'a Inventory,
    /// Their links.
    pub index: &'a ChainIndex,
    /// Their diagnoses (rate limits, root causes): the warnings come from here.
    pub diagnoses: &'a [Diagnosis],
    /// The time to judge ages and backoffs at.
    pub now: Timestamp,
}

/// What retry on an object comes to.
#[derive(Debug, Clone, PartialEq)]
pub enum RetryDecision {
    /// Make this write.
    Write(RetryWrite),
    /// Nothing to write; the reason, in one or two sentences.
    Refuse(String),
}

/// The one write a retry makes, and what the engineer must know before it is made.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryWrite {
    /// The write.
    pub action: Action,
    /// One sentence: what is written, to which object, and why that object.
    pub why: String,
    /// Why the new attempt will probably fail the same way (the cause is still there).
    pub warnings: Vec<String>,
    /// A CA rate limit or a paused account in force: retrying now only adds a failure, so
    /// the write is refused unless forced.
    pub blocker: Option<String>,
    /// The Certificate whose new attempt to follow, when the chain has one.
    pub certificate: Option<ObjectRef>,
}

/// The Challenges of `certificate`'s current attempt (its current request's Orders) that
/// are not valid yet: the ones whose checks say whether a retry can pass.
pub fn current_challenges<'a>(
    inv: &'a Inventory,
    index: &ChainIndex,
    certificate: &ObjectRef,
) -> Vec<&'a Challenge> {
    index
        .certificates
        .iter()
        .filter(|chain| {
            ObjectRef::of(Kind::Certificate, &inv.certificates[chain.certificate]) == *certificate
        })
        .filter_map(|chain| chain.current())
        .flat_map(|r| r.orders.iter())
        .flat_map(|o| o.challenges.iter())
        .map(|&i| &inv.challenges[i])
        .filter(|ch| ch.status.as_ref().and_then(|s| s.state.as_deref()) != Some("valid"))
        .collect()
}

/// Decides what retrying `target` means (see the module documentation).
pub fn decide_retry(cx: &RetryContext<'_>, target: &ObjectRef) -> RetryDecision {
    let inv = cx.inventory;
    if target.kind == Kind::Challenge
        && let Some(ch) = find(&inv.challenges, target)
    {
        if let Some(write) = release(ch, cx.now, None) {
            return RetryDecision::Write(write);
        }
        if ch.metadata.deletion_timestamp.is_some() {
            return RetryDecision::Refuse(format!(
                "{target} is being deleted and cert-manager is cleaning it up (for less than {}, without an error so far): wait for it to go",
                human_duration(CLEANUP_GRACE)
            ));
        }
    }
    let Some(chain) = chain_of(cx, target) else {
        return orphan(cx, target);
    };
    let cert = &inv.certificates[chain.certificate];
    let cert_ref = ObjectRef::of(Kind::Certificate, cert);
    let diagnosis = cx.diagnoses.iter().find(|d| d.subject == cert_ref);
    let mut decision = decide_chain(cx, chain, cert, &cert_ref);
    if let RetryDecision::Write(w) = &mut decision {
        w.certificate = Some(cert_ref.clone());
        if let Some(d) = diagnosis {
            warn(w, d, cx.now);
        }
    }
    decision
}

fn decide_chain(
    cx: &RetryContext<'_>,
    chain: &CertificateChain,
    cert: &Certificate,
    cert_ref: &ObjectRef,
) -> RetryDecision {
    let inv = cx.inventory;
    let now = cx.now;
    // A Challenge cert-manager cannot finish deleting holds back every new one for its name.
    let names = cert_names(cert);
    if let Some(ch) = inv.challenges.iter().find(|ch| {
        ch.namespace() == cert.namespace()
            && names.contains(&ch.spec.dns_name.to_ascii_lowercase())
            && stuck_deleting(ch, now).is_some()
    }) && let Some(w) = release(ch, now, Some(cert_ref))
    {
        return RetryDecision::Write(w);
    }
    let status = cert.status.clone().unwrap_or_default();
    let backoff = backoff_until(cert, now);
    let skipping = match backoff {
        Some(until) => format!(
            ", skipping its {} backoff (cert-manager would retry at {until})",
            human_duration(issuance_backoff(
                status.failed_issuance_attempts.unwrap_or(1)
            ))
        ),
        None => String::new(),
    };
    let renew = |why: String| {
        RetryDecision::Write(RetryWrite {
            action: Action::RenewCertificate {
                namespace: cert_ref.namespace.clone(),
                name: cert_ref.name.clone(),
            },
            why,
            warnings: Vec::new(),
            blocker: None,
            certificate: None,
        })
    };
    let issuing = condition(&status.conditions, "Issuing");
    let current = chain.current().map(|r| (r, &inv.requests[r.request]));
    if let Some((_, req)) = current
        && let Some(failure) = request_failure(req)
    {
        // The verb only: the message is the root cause, shown beside the dialog and in the
        // warnings; repeated here it would bury the sentence.
        let failure = failure.split(':').next().unwrap_or_default();
        let req_ref = ObjectRef::of(Kind::CertificateRequest, req);
        if issuing.is_some_and(|c| c.is_true()) {
            return RetryDecision::Refuse(format!(
                "{req_ref} {failure}, and {cert_ref} is already marked Issuing=True: cert-manager should replace the request now; if nothing changes for minutes, cert-manager itself is not working (look at its controller)"
            ));
        }
        return renew(format!(
            "{req_ref} {failure}, so deleting its Order would change nothing; renewing {cert_ref} (Issuing=True) makes cert-manager replace it with a new request now{skipping}."
        ));
    }
    if let Some(until) = backoff
        && !issuing.is_some_and(|c| c.is_true())
    {
        return renew(format!(
            "{cert_ref} waits in cert-manager's backoff until {until} ({} from now) after {} failed attempt(s); renewing it (Issuing=True) starts a new attempt now{skipping}.",
            human_duration(until.duration_since(now)),
            status.failed_issuance_attempts.unwrap_or(1)
        ));
    }
    if let Some((link, req)) = current {
        let req_ref = ObjectRef::of(Kind::CertificateRequest, req);
        if let Some(order_link) = link.orders.first() {
            let order = &inv.orders[order_link.order];
            let challenges: Vec<&Challenge> = order_link
                .challenges
                .iter()
                .map(|&i| &inv.challenges[i])
                .collect();
            let pending = PendingLifetime::of(
                inv.acme_issuer(&order.spec.issuer_ref, &cert_ref.namespace)
                    .map(|(acme, _)| acme),
            );
            if let Some(why) = order_stuck(order, &challenges, now, &pending) {
                return delete_order(order, &req_ref, why);
            }
        }
    }
    let ready = condition(&status.conditions, "Ready").is_some_and(|c| c.is_true());
    if ready && !issuing.is_some_and(|c| c.is_true()) {
        if let Some(renewal) = status.renewal_time
            && now.duration_since(renewal) > RENEWAL_GRACE
        {
            return renew(format!(
                "{cert_ref} is Ready but its renewal time passed {} ago and cert-manager has not started renewing it; renewing it (Issuing=True) starts the renewal now.",
                human_duration(now.duration_since(renewal))
            ));
        }
        let until = status
            .not_after
            .map(|t| format!(" (valid until {t})"))
            .unwrap_or_default();
        return RetryDecision::Refuse(format!(
            "{cert_ref} is Ready{until} and nothing failed: there is nothing to retry; renew it for a new certificate anyway (N, or `certdx renew {} -n {}`)",
            cert_ref.name, cert_ref.namespace
        ));
    }
    // Not Ready, not issuing, and no backoff left to wait for: cert-manager's trigger should
    // have started a new attempt by now.
    if !ready
        && !issuing.is_some_and(|c| c.is_true())
        && let Some(ready_cond) = condition(&status.conditions, "Ready")
    {
        let idle_since = status
            .last_failure_time
            .map(|t| t + issuance_backoff(status.failed_issuance_attempts.unwrap_or(1)))
            .or(ready_cond.last_transition_time);
        if let Some(since) = idle_since
            && now.duration_since(since) > RENEWAL_GRACE
        {
            let issuing_words = match issuing {
                Some(c) => format!(
                    "Issuing={}{}",
                    c.status,
                    c.reason
                        .as_deref()
                        .map(|r| format!(", reason {r}"))
                        .unwrap_or_default()
                ),
                None => "no Issuing condition".to_owned(),
            };
            return renew(format!(
                "{cert_ref} is not Ready and cert-manager is not issuing it ({issuing_words}), although nothing has held it back for {}; renewing it (Issuing=True) starts a new attempt now.",
                human_duration(now.duration_since(since))
            ));
        }
    }
    if cert.status.is_none() {
        return RetryDecision::Refuse(format!(
            "cert-manager has not acted on {cert_ref} (it has no status): a write would not be read either; check that cert-manager runs and watches namespace {}",
            cert_ref.namespace
        ));
    }
    RetryDecision::Refuse(format!(
        "nothing failed: cert-manager is still working on {cert_ref} ({}); retry once something fails, or fix what it waits for",
        waiting_for(cx, chain, cert_ref)
    ))
}

/// What a chain that has not failed waits for, in words.
fn waiting_for(cx: &RetryContext<'_>, chain: &CertificateChain, cert_ref: &ObjectRef) -> String {
    if let Some(d) = cx.diagnoses.iter().find(|d| &d.subject == cert_ref)
        && let Some(rc) = &d.root_cause
    {
        return format!("it waits on: {} ({})", rc.summary, rc.code);
    }
    let inv = cx.inventory;
    let Some(link) = chain.current() else {
        return "no CertificateRequest yet: cert-manager is about to create one".to_owned();
    };
    let req = &inv.requests[link.request];
    let Some(order) = link.orders.first() else {
        return format!(
            "{} has no Order yet",
            ObjectRef::of(Kind::CertificateRequest, req)
        );
    };
    let o = &inv.orders[order.order];
    let state = o
        .status
        .as_ref()
        .and_then(|s| s.state.clone())
        .unwrap_or_else(|| "not set".to_owned());
    format!(
        "{} is {state}, with {} Challenge(s)",
        ObjectRef::of(Kind::Order, o),
        order.challenges.len()
    )
}

/// Adds what the diagnosis says about the cause still being there.
fn warn(w: &mut RetryWrite, d: &Diagnosis, now: Timestamp) {
    let limit = d.findings.iter().find(|f| {
        f.code == Code::RatelimitAccountPaused
            || (f.code.as_str().starts_with("ratelimit-")
                && f.rate_limit
                    .as_ref()
                    .and_then(|r| r.retry_after)
                    .is_some_and(|t| t > now))
    });
    if let Some(f) = limit {
        let until = f
            .rate_limit
            .as_ref()
            .and_then(|r| r.retry_after)
            .map(|t| {
                format!(
                    " until {t} ({} from now)",
                    human_duration(t.duration_since(now))
                )
            })
            .unwrap_or_default();
        w.blocker = Some(format!(
            "the CA refuses{until}: {} ({}); a retry now fails the same way and counts as one more failure",
            f.summary, f.code
        ));
    }
    if let Some(rc) = &d.root_cause
        && rc.severity >= Severity::Error
        && is_validation_cause(rc.code)
    {
        w.warnings.push(format!(
            "the last attempt failed on: {} ({}); unless that is fixed, the retry fails the same way, and every failed validation counts against the ACME account (Let's Encrypt pauses an account that keeps failing for a name)",
            rc.summary, rc.code
        ));
    }
}

/// Causes on the CA's or the network's side that a new attempt runs into again.
fn is_validation_cause(code: Code) -> bool {
    let c = code.as_str();
    ["acme-", "caa-", "dns-", "http01-", "dns01-", "selfcheck-"]
        .iter()
        .any(|p| c.starts_with(p))
}

/// Why the current request counts as failed for cert-manager, or `None` while it is open.
pub(crate) fn request_failure(req: &CertificateRequest) -> Option<String> {
    let conditions = &req.status.as_ref()?.conditions;
    let message = |c: &crate::model::Condition| {
        c.message
            .as_deref()
            .map(|m| format!(": {}", crate::model::state::one_line(m)))
            .unwrap_or_default()
    };
    if let Some(c) = condition(conditions, "Denied").filter(|c| c.is_true()) {
        return Some(format!("was denied{}", message(c)));
    }
    if let Some(c) = condition(conditions, "InvalidRequest").filter(|c| c.is_true()) {
        return Some(format!("is invalid{}", message(c)));
    }
    let ready = condition(conditions, "Ready")?;
    (!ready.is_true() && ready.reason.as_deref() == Some("Failed"))
        .then(|| format!("failed{}", message(ready)))
}

/// When the Certificate's failed-issuance backoff ends, if it is still running.
fn backoff_until(cert: &Certificate, now: Timestamp) -> Option<Timestamp> {
    let status = cert.status.as_ref()?;
    let failed_at = status.last_failure_time?;
    let until = failed_at + issuance_backoff(status.failed_issuance_attempts.unwrap_or(1));
    (until > now).then_some(until)
}

/// Why an Order of an open request cannot complete any more, or `None`.
pub(crate) fn order_stuck(
    order: &Order,
    challenges: &[&Challenge],
    now: Timestamp,
    pending: &PendingLifetime,
) -> Option<String> {
    let order_ref = ObjectRef::of(Kind::Order, order);
    let status = order.status.clone().unwrap_or_default();
    let state = status.state.as_deref().unwrap_or("");
    if matches!(state, "invalid" | "errored" | "expired") {
        let reason = status
            .reason
            .as_deref()
            .filter(|r| !r.trim().is_empty())
            .map(|r| format!(" ({})", crate::model::state::one_line(r)))
            .unwrap_or_default();
        return Some(format!(
            "{order_ref} is {state}{reason}, a state cert-manager never leaves"
        ));
    }
    if !matches!(state, "" | "pending") {
        return None;
    }
    if let Some(ch) = challenges.iter().find(|ch| {
        matches!(
            ch.status.as_ref().and_then(|s| s.state.as_deref()),
            Some("invalid" | "errored" | "expired")
        )
    }) {
        let st = ch.status.clone().unwrap_or_default();
        let reason = st
            .reason
            .as_deref()
            .map(|r| format!(" ({})", crate::model::state::one_line(r)))
            .unwrap_or_default();
        return Some(format!(
            "{order_ref} is still {} but waits on {}, which is {}{reason}: cert-manager never retries a Challenge in that state",
            if state.is_empty() { "unset" } else { "pending" },
            ObjectRef::of(Kind::Challenge, *ch),
            st.state.unwrap_or_default()
        ));
    }
    let created = order.metadata.creation_timestamp.as_ref()?.0;
    let age = now.duration_since(created);
    (state == "pending" && age > pending.lifetime).then(|| {
        format!(
            "{order_ref} has been pending for {}, longer than the CA keeps pending authorizations ({}, {}): they have expired and it cannot complete",
            human_duration(age),
            human_duration(pending.lifetime),
            pending.source
        )
    })
}

/// How long the CA keeps an order's pending authorizations, and where that figure comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PendingLifetime {
    /// The lifetime.
    pub lifetime: SignedDuration,
    /// Whose figure it is, in words.
    pub source: String,
}

impl PendingLifetime {
    /// The lifetime under the issuer's CA and profile: Let's Encrypt's known profiles (1 hour
    /// under `tlsserver` and `shortlived`, 7 days under `classic`), else the classic 7 days,
    /// said to be assumed.
    pub(crate) fn of(acme: Option<&AcmeIssuer>) -> PendingLifetime {
        let known = acme
            .and_then(known_pending_authz)
            .map(|(lifetime, source)| PendingLifetime { lifetime, source });
        known.unwrap_or(PendingLifetime {
            lifetime: PENDING_AUTHZ_LIFETIME,
            source: "the classic lifetime, assumed for this CA".to_owned(),
        })
    }
}

fn delete_order(order: &Order, req_ref: &ObjectRef, stuck: String) -> RetryDecision {
    let order_ref = ObjectRef::of(Kind::Order, order);
    RetryDecision::Write(RetryWrite {
        action: Action::RetryOrder {
            namespace: order_ref.namespace.clone(),
            name: order_ref.name.clone(),
        },
        why: format!(
            "{stuck}; {req_ref} has not failed, so deleting {order_ref} makes cert-manager create a new Order (and new Challenges) for it."
        ),
        warnings: Vec::new(),
        blocker: None,
        certificate: None,
    })
}

/// How long `ch` has been stuck in deletion behind cert-manager's finalizer, if it is: longer
/// than [`CLEANUP_GRACE`], or with cert-manager's own word that its cleanup failed
/// ("Error cleaning up challenge: ...", written to the status by the challenges controller).
pub fn stuck_deleting(ch: &Challenge, now: Timestamp) -> Option<SignedDuration> {
    let since = ch.metadata.deletion_timestamp.as_ref()?.0;
    let held = ch
        .finalizers()
        .iter()
        .any(|f| CHALLENGE_FINALIZERS.contains(&f.as_str()));
    let age = now.duration_since(since);
    let cleanup_failed = ch
        .status
        .as_ref()
        .and_then(|s| s.reason.as_deref())
        .is_some_and(|r| r.starts_with(CLEANUP_ERROR));
    (held && (age > CLEANUP_GRACE || cleanup_failed)).then_some(age)
}

/// How cert-manager's challenges controller starts the reason of a failed solver cleanup.
const CLEANUP_ERROR: &str = "Error cleaning up challenge";

/// The release of a Challenge stuck in deletion; `blocking` is the Certificate it holds back.
fn release(ch: &Challenge, now: Timestamp, blocking: Option<&ObjectRef>) -> Option<RetryWrite> {
    let age = stuck_deleting(ch, now)?;
    let ch_ref = ObjectRef::of(Kind::Challenge, ch);
    let last_error = ch
        .status
        .as_ref()
        .and_then(|s| s.reason.as_deref())
        .filter(|r| !r.trim().is_empty())
        .map(|r| format!(" (its last error: {})", crate::model::state::one_line(r)))
        .unwrap_or_default();
    let blocks = match blocking {
        Some(cert) => format!(
            ", and it blocks every new Challenge for {} and so {cert}",
            ch.spec.dns_name
        ),
        None => format!(
            ", and it blocks every new Challenge for {}",
            ch.spec.dns_name
        ),
    };
    let leftover = if ch.is_dns01() {
        format!(
            "cert-manager will not clean up what it presented: delete the TXT record _acme-challenge.{} with the value {} at your DNS provider by hand",
            ch.spec.dns_name.trim_start_matches("*."),
            ch.spec.key
        )
    } else {
        "the HTTP-01 solver's Pod, Service and Ingress are owned by the Challenge and go with it"
            .to_owned()
    };
    Some(RetryWrite {
        action: Action::ReleaseChallenge {
            namespace: ch_ref.namespace.clone(),
            name: ch_ref.name.clone(),
        },
        why: format!(
            "{ch_ref} has been deleting for {} because cert-manager cannot clean it up{last_error} and keeps its finalizer{blocks}; removing cert-manager's finalizer lets the API server delete it ({leftover}).",
            human_duration(age)
        ),
        warnings: Vec::new(),
        blocker: None,
        certificate: blocking.cloned(),
    })
}

/// An object outside any Certificate's chain: only its own state can be judged.
fn orphan(cx: &RetryContext<'_>, target: &ObjectRef) -> RetryDecision {
    let inv = cx.inventory;
    if target.kind == Kind::Order
        && let Some(order) = find(&inv.orders, target)
    {
        let request = order
            .owner_references()
            .iter()
            .find(|r| r.kind == "CertificateRequest")
            .and_then(|r| {
                inv.requests
                    .iter()
                    .find(|q| q.namespace() == order.namespace() && q.name_any() == r.name)
            });
        return match request {
            Some(req) if request_failure(req).is_none() => match order_stuck(
                order,
                &[],
                cx.now,
                &PendingLifetime::of(
                    inv.acme_issuer(&order.spec.issuer_ref, &target.namespace)
                        .map(|(acme, _)| acme),
                ),
            ) {
                Some(why) => {
                    delete_order(order, &ObjectRef::of(Kind::CertificateRequest, req), why)
                }
                None => RetryDecision::Refuse(format!(
                    "{target} has not failed: cert-manager is still working on it"
                )),
            },
            Some(req) => RetryDecision::Refuse(format!(
                "{} {}, and no Certificate in the source owns it: cert-manager makes no new Order for a failed request, and there is no Certificate to renew",
                ObjectRef::of(Kind::CertificateRequest, req),
                request_failure(req).unwrap_or_default()
            )),
            None => RetryDecision::Refuse(format!(
                "{target} belongs to no CertificateRequest in the source: nothing would create a new Order after deleting it"
            )),
        };
    }
    if find_any(inv, target) {
        RetryDecision::Refuse(format!(
            "{target} belongs to no Certificate in the source, so there is no issuance to start again"
        ))
    } else {
        RetryDecision::Refuse(format!("{target} is not in the source"))
    }
}

fn find<'a, K: ResourceExt>(list: &'a [K], target: &ObjectRef) -> Option<&'a K> {
    list.iter().find(|o| {
        o.namespace().as_deref() == Some(target.namespace.as_str()) && o.name_any() == target.name
    })
}

fn find_any(inv: &Inventory, t: &ObjectRef) -> bool {
    match t.kind {
        Kind::Certificate => find(&inv.certificates, t).is_some(),
        Kind::CertificateRequest => find(&inv.requests, t).is_some(),
        Kind::Order => find(&inv.orders, t).is_some(),
        Kind::Challenge => find(&inv.challenges, t).is_some(),
        Kind::Issuer | Kind::ClusterIssuer => false,
    }
}

/// The chain `target` belongs to, in any revision.
fn chain_of<'a>(cx: &RetryContext<'a>, target: &ObjectRef) -> Option<&'a CertificateChain> {
    let inv = cx.inventory;
    let is = |kind: Kind, meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta| {
        kind == target.kind
            && meta.namespace.as_deref() == Some(target.namespace.as_str())
            && meta.name.as_deref() == Some(target.name.as_str())
    };
    cx.index.certificates.iter().find(|chain| {
        is(
            Kind::Certificate,
            &inv.certificates[chain.certificate].metadata,
        ) || chain.requests.iter().any(|r| {
            is(Kind::CertificateRequest, &inv.requests[r.request].metadata)
                || r.orders.iter().any(|o| {
                    is(Kind::Order, &inv.orders[o.order].metadata)
                        || o.challenges
                            .iter()
                            .any(|&c| is(Kind::Challenge, &inv.challenges[c].metadata))
                })
        })
    })
}

/// The Certificate's DNS names, lower case, wildcards as their Challenges name them.
fn cert_names(cert: &Certificate) -> Vec<String> {
    cert.spec
        .dns_names
        .iter()
        .chain(cert.spec.common_name.iter())
        .map(|n| n.trim_start_matches("*.").to_ascii_lowercase())
        .collect()
}
