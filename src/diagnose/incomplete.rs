//! What a source lacks below a Certificate that is not Ready. A dump made with only
//! `kubectl get certificates` shows a Certificate "issuing" with nothing to say why; the
//! useful answer is which objects are missing and the command that adds them.

use kube::ResourceExt;

use crate::model::state::request_status;
use crate::model::{CertificateChain, Code, Finding, Inventory, Kind, ObjectRef, State};

/// The finding naming the missing links of `chain`, unless the source listed them (a live
/// cluster) or something found already explains the Certificate's state. `acme` says whether
/// the issuer is an ACME issuer (`None`: not known), which decides whether Orders and
/// Challenges are expected at all.
pub(super) fn missing_links(
    inv: &Inventory,
    chain: &CertificateChain,
    acme: Option<bool>,
    findings: &[Finding],
) -> Option<Finding> {
    let cert = &inv.certificates[chain.certificate];
    let ns = cert.namespace().unwrap_or_default();
    if inv.listed.chain.covers(&ns) || findings.iter().any(explains) {
        return None;
    }
    let acme_possible = acme != Some(false);
    let (missing, below): (&[Kind], ObjectRef) = match chain.current() {
        None if acme_possible => (
            &[Kind::CertificateRequest, Kind::Order, Kind::Challenge],
            ObjectRef::of(Kind::Certificate, cert),
        ),
        None => (
            &[Kind::CertificateRequest],
            ObjectRef::of(Kind::Certificate, cert),
        ),
        Some(link) => {
            let req = &inv.requests[link.request];
            let pending = matches!(
                request_status(req).state,
                State::InProgress | State::Unknown
            );
            match link.orders.first() {
                None if pending && acme_possible => (
                    &[Kind::Order, Kind::Challenge],
                    ObjectRef::of(Kind::CertificateRequest, req),
                ),
                Some(o) if o.challenges.is_empty() => {
                    let order = &inv.orders[o.order];
                    let st = order.status.as_ref();
                    let open = matches!(
                        st.and_then(|s| s.state.as_deref()),
                        None | Some("pending" | "ready" | "processing")
                    );
                    // Submitted to the CA: cert-manager makes a Challenge per authorization.
                    let submitted =
                        st.is_some_and(|s| !s.authorizations.is_empty() || s.url.is_some());
                    if !(open && submitted) {
                        return None;
                    }
                    (&[Kind::Challenge], ObjectRef::of(Kind::Order, order))
                }
                _ => return None,
            }
        }
    };
    let names: Vec<String> = missing.iter().map(|k| plural(*k)).collect();
    let none_at_all = missing.iter().all(|k| count(inv, *k) == 0);
    let summary = if none_at_all {
        format!(
            "This source has no {} at all: nothing in it says why {below} is not done",
            list(&names)
        )
    } else {
        format!(
            "This source lacks the {} below {below}: nothing in it says why it is not done",
            list(&names)
        )
    };
    let resources: Vec<&str> = missing
        .iter()
        .map(|k| resource(*k))
        .chain(inv.events.is_empty().then_some("events"))
        .collect();
    let command = format!(
        "kubectl get {} -n {ns} -o yaml > {ns}-more.yaml",
        resources.join(",")
    );
    let mut f = Finding::new(Code::SourceIncomplete, summary).with_subject(below);
    f.advice = format!(
        "Add them: `{command}`, put that file in one directory with the dump, and read the directory: `certdx report --snapshot DIR`."
    );
    Some(f)
}

/// "a, b or c".
fn list(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} or {last}", rest.join(", ")),
    }
}

fn plural(kind: Kind) -> String {
    format!("{kind}s")
}

/// Whether a finding explains a chain's state by itself: anything but the states of the
/// chain's links and what a source does not hold.
fn explains(f: &Finding) -> bool {
    f.severity.is_problem()
        && !matches!(
            f.code,
            Code::CertificateNotReady
                | Code::RequestFailed
                | Code::IssuanceBackoff
                | Code::OrderFailedNoReason
                | Code::ExpiredOrder
                | Code::IssuerNotInSource
        )
}

fn count(inv: &Inventory, kind: Kind) -> usize {
    match kind {
        Kind::CertificateRequest => inv.requests.len(),
        Kind::Order => inv.orders.len(),
        Kind::Challenge => inv.challenges.len(),
        _ => 1,
    }
}

/// The fully qualified resource name kubectl takes (`orders` alone can mean another CRD).
fn resource(kind: Kind) -> &'static str {
    match kind {
        Kind::CertificateRequest => "certificaterequests.cert-manager.io",
        Kind::Order => "orders.acme.cert-manager.io",
        Kind::Challenge => "challenges.acme.cert-manager.io",
        Kind::Certificate => "certificates.cert-manager.io",
        Kind::Issuer => "issuers.cert-manager.io",
        Kind::ClusterIssuer => "clusterissuers.cert-manager.io",
    }
}
