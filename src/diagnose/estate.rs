//! Diagnoses every Certificate of an inventory, and every orphan.

use jiff::Timestamp;
use kube::ResourceExt;

use super::findings::{Collector, display_name};
use super::{ChainNode, Diagnosis, pick_root_cause, rank};
use crate::model::scheduler::{DEFAULT_MAX_CONCURRENT_CHALLENGES, Wait, scheduler_waits};
use crate::model::state::{certificate_status, challenge_status, order_status, request_status};
use crate::model::{
    ChainIndex, Code, Finding, Inventory, IssuerRef, Kind, ObjectRef, OrderLink, RequestLink,
    State, condition,
};

/// Settings for a diagnosis run.
#[derive(Debug, Clone)]
pub struct DiagnoseOptions {
    /// The instant ages and retry-after times are measured against.
    pub now: Timestamp,
    /// cert-manager's `--max-concurrent-challenges` in the cluster.
    pub max_concurrent_challenges: usize,
    /// The ACME directories fetched this run (live checks); empty offline.
    pub directories: super::readiness::Directories,
    /// cert-manager's failed-issuance backoff.
    pub backoff: super::readiness::Backoff,
}

impl Default for DiagnoseOptions {
    fn default() -> Self {
        DiagnoseOptions {
            now: Timestamp::now(),
            max_concurrent_challenges: DEFAULT_MAX_CONCURRENT_CHALLENGES,
            directories: Default::default(),
            backoff: Default::default(),
        }
    }
}

/// What the diagnosis learnt about a Certificate's issuer.
struct IssuerSeen {
    /// `Issuer ns/name` or `ClusterIssuer name`.
    label: Option<String>,
    /// Its ACME server, when known.
    server: Option<String>,
    /// Whether it is an ACME issuer; `None` when the source does not hold it.
    acme: Option<bool>,
}

/// Everything a diagnosis pass shares.
struct Pass<'a> {
    inv: &'a Inventory,
    index: &'a ChainIndex,
    waits: Vec<Wait>,
    now: Timestamp,
    explained: std::cell::RefCell<std::collections::HashMap<String, Vec<Finding>>>,
    directories: &'a super::readiness::Directories,
    backoff: &'a super::readiness::Backoff,
}

/// Diagnoses every Certificate (in inventory order) and then every orphan request, order and
/// challenge.
pub fn diagnose_estate(
    inv: &Inventory,
    index: &ChainIndex,
    opts: &DiagnoseOptions,
) -> Vec<Diagnosis> {
    let pass = Pass {
        inv,
        index,
        waits: scheduler_waits(inv, opts.max_concurrent_challenges),
        now: opts.now,
        explained: Default::default(),
        directories: &opts.directories,
        backoff: &opts.backoff,
    };
    let mut out: Vec<Diagnosis> = index
        .certificates
        .iter()
        .map(|c| pass.certificate(c))
        .collect();
    for r in &index.orphan_requests {
        let mut findings = Vec::new();
        let node = pass.request_node(r, false, &mut findings);
        out.push(orphan(node, findings));
    }
    for o in &index.orphan_orders {
        let mut findings = Vec::new();
        let node = pass.order_node(o, false, &mut findings);
        out.push(orphan(node, findings));
    }
    for &c in &index.orphan_challenges {
        let mut findings = Vec::new();
        let node = pass.challenge_node(c, false, &mut findings);
        out.push(orphan(node, findings));
    }
    out
}

impl Pass<'_> {
    fn collector(&self) -> Collector<'_> {
        Collector {
            inv: self.inv,
            index: self.index,
            now: self.now,
            out: Vec::new(),
            explained: &self.explained,
        }
    }

    fn certificate(&self, chain: &crate::model::CertificateChain) -> Diagnosis {
        let cert = &self.inv.certificates[chain.certificate];
        let subject = ObjectRef::of(Kind::Certificate, cert);
        let mut findings = Vec::new();
        let mut c = self.collector();
        c.certificate(cert);
        findings.append(&mut c.out);
        let mut children = Vec::new();
        for (i, link) in chain.requests.iter().enumerate() {
            let history = i > 0;
            // Older revisions are history: shown, but their findings do not name today's cause.
            let mut sink = Vec::new();
            let node = self.request_node(
                link,
                history,
                if history { &mut sink } else { &mut findings },
            );
            children.push(node);
        }
        super::expired_limit::note_expired_limits(&mut findings, cert, self.now);
        findings.extend(super::lifecycle::lifecycle(cert, self.now));
        let namespace = cert.namespace().unwrap_or_default();
        let seen = self.issuer(&cert.spec.issuer_ref, &namespace, &subject, &mut findings);
        let status = certificate_status(cert);
        if status.state != State::Ready {
            findings.extend(super::incomplete::missing_links(
                self.inv, chain, seen.acme, &findings,
            ));
        }
        if status.state == State::Failed && findings.iter().all(|f| !f.severity.is_problem()) {
            findings.push(
                Finding::new(
                    Code::CertificateNotReady,
                    format!("{subject} is not Ready: {}", status.reason),
                )
                .with_subject(subject.clone()),
            );
        }
        // Added last: the checks above must not count a readiness warning as a cause.
        findings.extend(self.readiness(cert, chain, &namespace, seen.label.as_deref()));
        let mut names = cert.spec.dns_names.clone();
        if let Some(cn) = &cert.spec.common_name
            && !names.contains(cn)
        {
            names.insert(0, cn.clone());
        }
        finish(Diagnosis {
            chain: ChainNode {
                object: subject.clone(),
                status: status.clone(),
                revision: cert.status.as_ref().and_then(|s| s.revision),
                history: false,
                facts: Vec::new(),
                children,
            },
            subject,
            status,
            dns_names: names,
            issuer: seen.label,
            acme_server: seen.server,
            root_cause: None,
            findings,
        })
    }

    /// The readiness findings of a Certificate (`diagnose::readiness`), for ACME issuers the
    /// source holds.
    fn readiness(
        &self,
        cert: &crate::model::Certificate,
        chain: &crate::model::CertificateChain,
        namespace: &str,
        label: Option<&str>,
    ) -> Vec<Finding> {
        let r = &cert.spec.issuer_ref;
        if r.name.is_empty() || !r.is_cert_manager() {
            return Vec::new();
        }
        let found = self.inv.acme_issuer(r, namespace);
        let issuer = found.map(|(acme, object)| super::readiness::IssuerFacts {
            label: label.unwrap_or_default(),
            object,
            acme,
        });
        let challenges: Vec<&crate::model::Challenge> = chain
            .current()
            .into_iter()
            .flat_map(|r| &r.orders)
            .flat_map(|o| &o.challenges)
            .map(|&i| &self.inv.challenges[i])
            .collect();
        super::readiness::readiness(
            cert,
            issuer,
            &challenges,
            self.directories,
            self.backoff,
            self.now,
        )
    }

    /// Looks the issuer up: its name, ACME server, and a finding if it is not Ready.
    fn issuer(
        &self,
        r: &IssuerRef,
        namespace: &str,
        user: &ObjectRef,
        findings: &mut Vec<Finding>,
    ) -> IssuerSeen {
        if r.name.is_empty() || !r.is_cert_manager() {
            let label = format!("{} {}", r.kind.as_deref().unwrap_or("Issuer"), r.name);
            // An external issuer signs requests itself: no Orders or Challenges follow.
            return IssuerSeen {
                label: Some(label),
                server: None,
                acme: (!r.name.is_empty()).then_some(false),
            };
        }
        let (label, found, coverage) = if r.is_cluster() {
            let found = self
                .inv
                .cluster_issuers
                .iter()
                .find(|i| i.name_any() == r.name);
            (
                format!("ClusterIssuer {}", r.name),
                found.map(|i| {
                    (
                        i.spec.config.clone(),
                        i.status.clone(),
                        ObjectRef::of(Kind::ClusterIssuer, i),
                    )
                }),
                &self.inv.listed.cluster_issuers,
            )
        } else {
            let found =
                self.inv.issuers.iter().find(|i| {
                    i.name_any() == r.name && i.namespace().as_deref() == Some(namespace)
                });
            (
                format!("Issuer {namespace}/{}", r.name),
                found.map(|i| {
                    (
                        i.spec.config.clone(),
                        i.status.clone(),
                        ObjectRef::of(Kind::Issuer, i),
                    )
                }),
                &self.inv.listed.issuers,
            )
        };
        let Some((config, status, obj)) = found else {
            let listed = coverage.covers(if r.is_cluster() { "" } else { namespace });
            findings.push(self.missing_issuer(r, namespace, &label, user, listed, findings));
            return IssuerSeen {
                label: Some(label),
                server: None,
                acme: None,
            };
        };
        let acme = Some(config.acme.is_some());
        let server = config
            .acme
            .as_ref()
            .map(|a| a.server.clone())
            .filter(|s| !s.is_empty());
        let conditions = status.map(|s| s.conditions).unwrap_or_default();
        if let Some(ready) = condition(&conditions, "Ready").filter(|c| !c.is_true()) {
            let why = ready
                .message
                .clone()
                .or(ready.reason.clone())
                .unwrap_or_default();
            let mut c = self.collector();
            c.push(
                Finding::new(
                    Code::IssuerNotReady,
                    format!(
                        "{obj} is not Ready: {}",
                        crate::model::state::one_line(&why)
                    ),
                )
                .with_subject(obj.clone()),
            );
            findings.append(&mut c.out);
        }
        IssuerSeen {
            label: Some(label),
            server,
            acme,
        }
    }

    /// The finding for an issuer the inventory lacks. Only a source that listed the kind in
    /// full proves it does not exist; anything else is "not in this source", and Orders or
    /// Challenges made for it prove it existed when they were made. A claim from absence
    /// never outranks a cause found further down the chain.
    fn missing_issuer(
        &self,
        r: &IssuerRef,
        namespace: &str,
        label: &str,
        user: &ObjectRef,
        listed: bool,
        findings: &[Finding],
    ) -> Finding {
        let missing = ObjectRef {
            kind: if r.is_cluster() {
                Kind::ClusterIssuer
            } else {
                Kind::Issuer
            },
            namespace: if r.is_cluster() {
                String::new()
            } else {
                namespace.to_owned()
            },
            name: r.name.clone(),
        };
        let made_for = self.newest_made_for(r, namespace);
        let existed = made_for
            .as_ref()
            .map(|(obj, at)| format!("{obj} was made for it at {at}, so it existed then"));
        if !listed {
            let how = if r.is_cluster() {
                "add `kubectl get clusterissuers -o yaml` to the dump, or grant list on clusterissuers"
            } else {
                "add `kubectl get issuers -A -o yaml` to the dump, or grant list on issuers in this namespace"
            };
            let detail = match existed {
                Some(e) => format!("{e}; certdx cannot check it: {how}"),
                None => format!("certdx cannot check it: {how}"),
            };
            return Finding::new(
                Code::IssuerNotInSource,
                format!("{label}, used by {user}, is not in this source"),
            )
            .with_subject(missing.clone())
            .with_detail(detail);
        }
        let downstream = findings
            .iter()
            .any(|f| f.severity.is_problem() && !is_chain_state(f.code));
        let mut detail = String::from("certdx listed every object of this kind it could see");
        if let Some(e) = existed {
            detail.push_str(&format!("; {e} and has been deleted since"));
        }
        detail.push_str(
            ": check issuerRef for a typo, the kind (Issuer or ClusterIssuer) and the namespace",
        );
        let mut f = Finding::new(
            Code::IssuerNotFound,
            format!("{label}, used by {user}, does not exist"),
        )
        .with_subject(missing.clone());
        if downstream {
            // The failure below stopped this attempt; the missing issuer stops the next one.
            f.severity = crate::model::Severity::Warning;
            detail.push_str("; the failure found further down the chain is what stopped the last attempt, the missing issuer will stop the next one");
        }
        f.with_detail(detail)
    }

    /// The newest Order or Challenge in `namespace` made for the issuer `r`, with its creation
    /// time: proof that the issuer existed then.
    fn newest_made_for(&self, r: &IssuerRef, namespace: &str) -> Option<(ObjectRef, Timestamp)> {
        let same = |o: &IssuerRef| o.name == r.name && o.is_cluster() == r.is_cluster();
        let created = |m: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta| {
            m.creation_timestamp.as_ref().map(|t| t.0)
        };
        let orders = self.inv.orders.iter().filter_map(|o| {
            (o.namespace().as_deref() == Some(namespace) && same(&o.spec.issuer_ref))
                .then(|| created(&o.metadata).map(|t| (ObjectRef::of(Kind::Order, o), t)))
                .flatten()
        });
        let challenges = self.inv.challenges.iter().filter_map(|c| {
            (c.namespace().as_deref() == Some(namespace) && same(&c.spec.issuer_ref))
                .then(|| created(&c.metadata).map(|t| (ObjectRef::of(Kind::Challenge, c), t)))
                .flatten()
        });
        orders.chain(challenges).max_by_key(|(_, t)| *t)
    }

    fn request_node(
        &self,
        link: &RequestLink,
        history: bool,
        findings: &mut Vec<Finding>,
    ) -> ChainNode {
        let req = &self.inv.requests[link.request];
        let mut c = self.collector();
        c.request(req);
        findings.append(&mut c.out);
        let children = link
            .orders
            .iter()
            .map(|o| self.order_node(o, history, findings))
            .collect();
        ChainNode {
            object: ObjectRef::of(Kind::CertificateRequest, req),
            status: request_status(req),
            revision: link.revision,
            history,
            facts: Vec::new(),
            children,
        }
    }

    fn order_node(
        &self,
        link: &OrderLink,
        history: bool,
        findings: &mut Vec<Finding>,
    ) -> ChainNode {
        let order = &self.inv.orders[link.order];
        let mut c = self.collector();
        c.order(order);
        findings.append(&mut c.out);
        let children = link
            .challenges
            .iter()
            .map(|&i| self.challenge_node(i, history, findings))
            .collect();
        let mut facts = Vec::new();
        if let Some(url) = order.status.as_ref().and_then(|s| s.url.clone()) {
            facts.push(("url".to_owned(), url));
        }
        ChainNode {
            object: ObjectRef::of(Kind::Order, order),
            status: order_status(order),
            revision: None,
            history,
            facts,
            children,
        }
    }

    fn challenge_node(&self, i: usize, history: bool, findings: &mut Vec<Finding>) -> ChainNode {
        let ch = &self.inv.challenges[i];
        let mut c = self.collector();
        c.challenge(ch, &self.waits[i]);
        findings.append(&mut c.out);
        let mut status = challenge_status(ch, self.now);
        match &self.waits[i] {
            Wait::BlockedBy(other) => {
                status.reason = format!(
                    "waiting: {} holds the same name and type",
                    self.inv.challenges[*other].name_any()
                );
            }
            Wait::NoSlot { processing, max } => {
                status.reason =
                    format!("waiting for a scheduler slot ({processing}/{max} processing)");
            }
            _ => {}
        }
        let facts = vec![
            ("type".to_owned(), ch.spec.type_.clone()),
            ("dnsName".to_owned(), display_name(ch)),
        ];
        ChainNode {
            object: ObjectRef::of(Kind::Challenge, ch),
            status,
            revision: None,
            history,
            facts,
            children: Vec::new(),
        }
    }
}

/// A diagnosis for an object no Certificate owns.
fn orphan(node: ChainNode, findings: Vec<Finding>) -> Diagnosis {
    finish(Diagnosis {
        subject: node.object.clone(),
        status: node.status.clone(),
        dns_names: Vec::new(),
        issuer: None,
        acme_server: None,
        chain: node,
        root_cause: None,
        findings,
    })
}

fn finish(mut d: Diagnosis) -> Diagnosis {
    settle(&mut d);
    d
}

/// Merges copies, sorts findings by importance and picks the root cause.
pub(super) fn settle(d: &mut Diagnosis) {
    d.findings = merge_propagated(std::mem::take(&mut d.findings));
    d.findings
        .sort_by_key(|f| std::cmp::Reverse((f.severity, rank(f.code))));
    for f in &mut d.findings {
        super::advice::name_commands(&d.subject, f);
    }
    d.root_cause = if d.status.state == State::Ready {
        // A Ready Certificate's problem is one that fails silently: a renewal nobody started,
        // a certificate running out, cert-manager not acting on it.
        let silent: Vec<Finding> = d
            .findings
            .iter()
            .filter(|f| {
                matches!(
                    f.code,
                    Code::RenewalOverdue
                        | Code::CertificateExpiring
                        | Code::NotReconciled
                        | Code::CertManagerUnhealthy
                )
            })
            .cloned()
            .collect();
        pick_root_cause(&silent)
    } else {
        pick_root_cause(&d.findings)
    };
}

/// cert-manager copies an ACME error up the chain (Challenge -> Order -> CertificateRequest
/// condition -> Certificate condition). Those copies are one finding: keep the deepest object
/// as its subject (where the error happened) and every copy as evidence.
fn merge_propagated(findings: Vec<Finding>) -> Vec<Finding> {
    let depth = |f: &Finding| {
        // Issuers first: an issuer's own condition says more than the requests that wait for it.
        f.subject.as_ref().map_or(0, |s| match s.kind {
            Kind::Issuer => 6,
            Kind::ClusterIssuer => 5,
            Kind::Challenge => 4,
            Kind::Order => 3,
            Kind::CertificateRequest => 2,
            Kind::Certificate => 1,
        })
    };
    let mut out: Vec<Finding> = Vec::with_capacity(findings.len());
    for f in findings {
        let same = |e: &Finding| {
            e.code == f.code
                && (is_chain_state(f.code) || (e.summary == f.summary && e.detail == f.detail))
        };
        match out.iter_mut().find(|e| same(e)) {
            Some(e) => {
                if depth(&f) > depth(e) {
                    e.subject = f.subject.clone();
                    e.summary = f.summary.clone();
                }
                for ev in f.evidence {
                    if !e.evidence.contains(&ev) {
                        e.evidence.push(ev);
                    }
                }
            }
            None => out.push(f),
        }
    }
    out
}

/// Codes that describe the state of the chain as a whole: one per diagnosis is enough.
fn is_chain_state(code: Code) -> bool {
    matches!(
        code,
        Code::OrderFailedNoReason
            | Code::IssuanceBackoff
            | Code::CertificateNotReady
            | Code::RequestFailed
            | Code::ExpiredOrder
            | Code::IssuerNotReady
    )
}
