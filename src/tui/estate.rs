//! The estate as the interactive view needs it, computed once: the chain index, every
//! diagnosis, one precomputed overview row per diagnosis and lookup tables. Rendering only
//! reads this; it is rebuilt piecewise when a check result arrives, never per frame.

use std::collections::HashMap;
use std::sync::Arc;

use jiff::Timestamp;
use kube::{Resource, ResourceExt};

use crate::diagnose::cm_health::CertManagerHealth;
use crate::diagnose::playbook::PlaybookResult;
use crate::diagnose::{
    ChainNode, DiagnoseOptions, Diagnosis, diagnose_estate, pick_root_cause, rank,
};
use crate::model::profile::Directories;
use crate::model::{
    Certificate, CertificateRequest, ChainIndex, Challenge, ClusterIssuer, Code, Finding,
    Inventory, Issuer, Kind, ObjectRef, Order, Severity, State, condition,
};

/// Counts shown in the header.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Certificates failed.
    pub failed: usize,
    /// Certificates issuing or renewing.
    pub in_progress: usize,
    /// Certificates of unknown state.
    pub unknown: usize,
    /// Certificates Ready.
    pub ready: usize,
    /// Ready Certificates failing silently (renewal overdue, expiring, not reconciled): also
    /// counted in `ready`.
    pub silent: usize,
    /// Orphan CertificateRequests, Orders and Challenges.
    pub orphans: usize,
}

impl Counts {
    /// Certificates in total.
    pub fn certificates(&self) -> usize {
        self.failed + self.in_progress + self.unknown + self.ready
    }
}

/// One overview line: a Certificate (or an orphan), with everything the table shows.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// Index into [`Estate::diagnoses`].
    pub diagnosis: usize,
    /// Certificate for Certificates; the orphan's kind otherwise.
    pub kind: Kind,
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// State.
    pub state: State,
    /// Whether the Issuing condition is True.
    pub issuing: bool,
    /// `status.notAfter`.
    pub not_after: Option<Timestamp>,
    /// `status.renewalTime`.
    pub renewal: Option<Timestamp>,
    /// The issuer, as `ClusterIssuer name` / `Issuer ns/name`.
    pub issuer: String,
    /// The root cause's code and severity.
    pub root: Option<(Code, Severity)>,
    /// The root cause's retry-after time, for rate limits.
    pub retry_after: Option<Timestamp>,
    /// Lowercase `namespace/name` and DNS names, what the filter matches.
    pub search: String,
}

/// The widest text of the overview's content-sized columns, in characters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TextWidths {
    /// The widest namespace.
    pub namespace: usize,
    /// The widest [`Row::label`].
    pub name: usize,
    /// The widest issuer.
    pub issuer: usize,
}

impl TextWidths {
    /// The widest of each column over `rows`: every row, not only those on screen, so the
    /// columns do not move while scrolling or filtering.
    pub fn of<'a>(rows: impl IntoIterator<Item = &'a Row>) -> TextWidths {
        let mut w = TextWidths::default();
        for r in rows {
            w.namespace = w.namespace.max(r.namespace.chars().count());
            w.name = w.name.max(r.label().chars().count());
            w.issuer = w.issuer.max(r.issuer.chars().count());
        }
        w
    }
}

impl Row {
    /// The NAME column: the name, with the kind in front for an orphan.
    pub fn label(&self) -> String {
        if self.kind == Kind::Certificate {
            self.name.clone()
        } else {
            format!("{} {}", self.kind, self.name)
        }
    }

    /// Whether the row counts as failing for `f`/`Tab`: failed, or a root cause that will
    /// stop issuance.
    pub fn is_failing(&self) -> bool {
        self.state == State::Failed
            || self
                .root
                .is_some_and(|(_, sev)| sev >= Severity::Error && self.state != State::Ready)
    }
}

/// A loaded object, whatever its kind.
#[derive(Debug, Clone, Copy)]
pub enum Object<'a> {
    /// A Certificate.
    Certificate(&'a Certificate),
    /// A CertificateRequest.
    Request(&'a CertificateRequest),
    /// An Order.
    Order(&'a Order),
    /// A Challenge.
    Challenge(&'a Challenge),
    /// An Issuer.
    Issuer(&'a Issuer),
    /// A ClusterIssuer.
    ClusterIssuer(&'a ClusterIssuer),
}

impl Object<'_> {
    /// The object's metadata.
    pub fn meta(&self) -> &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
        match self {
            Object::Certificate(o) => o.meta(),
            Object::Request(o) => o.meta(),
            Object::Order(o) => o.meta(),
            Object::Challenge(o) => o.meta(),
            Object::Issuer(o) => o.meta(),
            Object::ClusterIssuer(o) => o.meta(),
        }
    }

    /// Whether a raw form of the object may be shown (false when its redaction failed).
    pub fn showable(&self) -> bool {
        let annotations = self.meta().annotations.as_ref();
        annotations.is_none_or(|a| !a.contains_key(crate::model::redact::WITHHELD))
    }

    /// The typed object as YAML. Fields certdx does not model were dropped at load time.
    pub fn to_yaml(&self) -> String {
        let r = match self {
            Object::Certificate(o) => serde_norway::to_string(o),
            Object::Request(o) => serde_norway::to_string(o),
            Object::Order(o) => serde_norway::to_string(o),
            Object::Challenge(o) => serde_norway::to_string(o),
            Object::Issuer(o) => serde_norway::to_string(o),
            Object::ClusterIssuer(o) => serde_norway::to_string(o),
        };
        r.unwrap_or_else(|e| format!("# cannot serialise: {e}"))
    }
}

/// Everything derived from the inventory, computed once.
#[derive(Debug, Clone, Default)]
pub struct Estate {
    /// The objects.
    pub inventory: Arc<Inventory>,
    /// The links between them.
    pub index: ChainIndex,
    /// One diagnosis per Certificate, then one per orphan (`diagnose_estate` order), with
    /// the findings of finished checks merged in.
    pub diagnoses: Vec<Diagnosis>,
    /// One row per diagnosis, same order.
    pub rows: Vec<Row>,
    /// Every namespace with a row, sorted.
    pub namespaces: Vec<String>,
    /// Counts by state.
    pub counts: Counts,
    /// The widest namespace, name and issuer among the Certificates' rows, to size the
    /// table's columns.
    pub widths: TextWidths,
    /// The same over every row, orphans included (when they are listed).
    pub widths_with_orphans: TextWidths,
    /// The findings drawn from objects alone, per diagnosis: check results are merged on top
    /// of these, so re-running a check replaces its findings instead of piling them up.
    base_findings: Vec<Vec<Finding>>,
    /// cert-manager's own health, on a live cluster.
    pub cert_manager: Option<CertManagerHealth>,
    /// Where each object is in the inventory (index into the vector of its kind).
    objects: HashMap<ObjectRef, usize>,
    /// Which diagnoses show a Challenge in their current revision, by `Challenge ns/name`.
    challenge_diagnoses: HashMap<String, Vec<usize>>,
    /// Findings from outside the objects and the checks, per diagnosis: the CA's own verdict
    /// from a trial (`T`). Merged like check results.
    extra_findings: HashMap<usize, Vec<Finding>>,
}

impl Estate {
    /// Links and diagnoses `inventory` as of `now`. This is the expensive step; the runtime
    /// runs it off the UI thread.
    pub fn build(inventory: Arc<Inventory>, now: Timestamp) -> Estate {
        Estate::build_with_health(inventory, now, None)
    }

    /// Like [`Estate::build`], with cert-manager's health read from the cluster: it becomes
    /// the root cause of the Certificates it leaves stuck.
    pub fn build_with_health(
        inventory: Arc<Inventory>,
        now: Timestamp,
        cert_manager: Option<CertManagerHealth>,
    ) -> Estate {
        Estate::build_with(inventory, now, cert_manager, Directories::default())
    }

    /// Like [`Estate::build_with_health`], with the CA directories read this run: the
    /// readiness findings then judge each issuer's profile by what its CA advertises instead
    /// of what certdx knows of it.
    pub fn build_with(
        inventory: Arc<Inventory>,
        now: Timestamp,
        mut cert_manager: Option<CertManagerHealth>,
        directories: Directories,
    ) -> Estate {
        let index = ChainIndex::build(&inventory);
        let opts = DiagnoseOptions {
            now,
            backoff: cert_manager
                .as_ref()
                .and_then(|h| h.issuance_backoff.clone())
                .unwrap_or_default(),
            directories,
            ..Default::default()
        };
        let mut diagnoses = diagnose_estate(&inventory, &index, &opts);
        if let Some(h) = cert_manager.as_mut() {
            crate::diagnose::cm_health::attribute(&mut diagnoses, h);
        }
        let base_findings = diagnoses.iter().map(|d| d.findings.clone()).collect();

        let mut objects = HashMap::with_capacity(inventory.len());
        fn add<K: ResourceExt>(map: &mut HashMap<ObjectRef, usize>, kind: Kind, list: &[K]) {
            for (i, o) in list.iter().enumerate() {
                map.insert(ObjectRef::of(kind, o), i);
            }
        }
        add(&mut objects, Kind::Certificate, &inventory.certificates);
        add(&mut objects, Kind::CertificateRequest, &inventory.requests);
        add(&mut objects, Kind::Order, &inventory.orders);
        add(&mut objects, Kind::Challenge, &inventory.challenges);
        add(&mut objects, Kind::Issuer, &inventory.issuers);
        add(
            &mut objects,
            Kind::ClusterIssuer,
            &inventory.cluster_issuers,
        );

        let mut challenge_diagnoses: HashMap<String, Vec<usize>> = HashMap::new();
        let mut counts = Counts::default();
        let mut rows = Vec::with_capacity(diagnoses.len());
        let mut namespaces: Vec<String> = Vec::new();
        for (i, d) in diagnoses.iter().enumerate() {
            let mut chs = Vec::new();
            current_challenges(&d.chain, &mut chs);
            for c in chs {
                challenge_diagnoses
                    .entry(c.to_string())
                    .or_default()
                    .push(i);
            }
            if d.subject.kind == Kind::Certificate {
                match d.status.state {
                    State::Failed => counts.failed += 1,
                    State::InProgress => counts.in_progress += 1,
                    State::Unknown => counts.unknown += 1,
                    State::Ready => counts.ready += 1,
                }
                if d.status.state == State::Ready && d.root_cause.is_some() {
                    counts.silent += 1;
                }
            } else {
                counts.orphans += 1;
            }
            let cert = objects
                .get(&d.subject)
                .filter(|_| d.subject.kind == Kind::Certificate)
                .map(|&c| &inventory.certificates[c]);
            rows.push(row(i, d, cert));
            namespaces.push(d.subject.namespace.clone());
        }
        namespaces.sort_unstable();
        namespaces.dedup();
        namespaces.retain(|n| !n.is_empty());
        let widths = TextWidths::of(rows.iter().filter(|r| r.kind == Kind::Certificate));
        let widths_with_orphans = TextWidths::of(&rows);
        Estate {
            inventory,
            index,
            diagnoses,
            rows,
            namespaces,
            counts,
            widths,
            widths_with_orphans,
            base_findings,
            cert_manager,
            objects,
            challenge_diagnoses,
            extra_findings: HashMap::new(),
        }
    }

    /// The object a chain node names, if it was loaded.
    pub fn object(&self, r: &ObjectRef) -> Option<Object<'_>> {
        let &i = self.objects.get(r)?;
        let inv = &self.inventory;
        Some(match r.kind {
            Kind::Certificate => Object::Certificate(&inv.certificates[i]),
            Kind::CertificateRequest => Object::Request(&inv.requests[i]),
            Kind::Order => Object::Order(&inv.orders[i]),
            Kind::Challenge => Object::Challenge(&inv.challenges[i]),
            Kind::Issuer => Object::Issuer(&inv.issuers[i]),
            Kind::ClusterIssuer => Object::ClusterIssuer(&inv.cluster_issuers[i]),
        })
    }

    /// The Challenge a reference names, if loaded.
    pub fn challenge(&self, r: &ObjectRef) -> Option<&Challenge> {
        match self.object(r)? {
            Object::Challenge(c) => Some(c),
            _ => None,
        }
    }

    /// Merges finished check results into every diagnosis that shows one of `challenges`
    /// (keys `Challenge ns/name`), re-sorts their findings and picks the root cause again.
    /// `result_of` gives the latest finished result of a key; the base findings never change.
    pub fn apply_checks<'r>(
        &mut self,
        challenges: &[String],
        result_of: impl Fn(&str) -> Option<&'r PlaybookResult>,
    ) {
        let mut touched: Vec<usize> = challenges
            .iter()
            .filter_map(|c| self.challenge_diagnoses.get(c))
            .flatten()
            .copied()
            .collect();
        touched.sort_unstable();
        touched.dedup();
        for i in touched {
            self.merge(i, &result_of);
        }
    }

    /// Sets the findings a trial at the CA gave for the diagnosis of `subject` (replacing its
    /// earlier trial's) and merges them like check results; `result_of` as for
    /// [`Estate::apply_checks`]. Returns whether `subject` is diagnosed here.
    pub fn apply_trial<'r>(
        &mut self,
        subject: &ObjectRef,
        findings: Vec<Finding>,
        result_of: impl Fn(&str) -> Option<&'r PlaybookResult>,
    ) -> bool {
        let Some(i) = self.diagnoses.iter().position(|d| &d.subject == subject) else {
            return false;
        };
        self.extra_findings.insert(i, findings);
        self.merge(i, &result_of);
        true
    }

    /// Recomputes diagnosis `i`: its findings from the objects, then its current
    /// Challenges' latest check results, then its trial's; sorted, and the root cause again.
    fn merge<'r>(&mut self, i: usize, result_of: &impl Fn(&str) -> Option<&'r PlaybookResult>) {
        let d = &mut self.diagnoses[i];
        let mut findings = self.base_findings[i].clone();
        let mut mine = Vec::new();
        current_challenges(&d.chain, &mut mine);
        for challenge in &mine {
            if let Some(r) = result_of(&challenge.to_string()) {
                findings.extend(r.findings.iter().cloned().map(|mut f| {
                    f.subject.get_or_insert_with(|| challenge.clone());
                    f
                }));
            }
        }
        if let Some(extra) = self.extra_findings.get(&i) {
            findings.extend(extra.iter().cloned());
        }
        findings.sort_by_key(|f| std::cmp::Reverse((f.severity, rank(f.code))));
        for f in &mut findings {
            crate::diagnose::advice::name_commands(&d.subject, f);
        }
        d.root_cause = if d.status.state == State::Ready {
            None
        } else {
            pick_root_cause(&findings)
        };
        d.findings = findings;
        let root = d.root_cause.as_ref();
        self.rows[i].root = root.map(|r| (r.code, r.severity));
        self.rows[i].retry_after = root.and_then(|r| r.retry_after);
    }
}

/// The Challenges of a chain's current revision (history skipped), in tree order.
pub fn current_challenges(node: &ChainNode, out: &mut Vec<ObjectRef>) {
    if node.history {
        return;
    }
    if node.object.kind == Kind::Challenge {
        out.push(node.object.clone());
    }
    for c in &node.children {
        current_challenges(c, out);
    }
}

fn row(i: usize, d: &Diagnosis, cert: Option<&Certificate>) -> Row {
    let status = cert.and_then(|c| c.status.as_ref());
    let issuing = status
        .and_then(|s| condition(&s.conditions, "Issuing"))
        .is_some_and(|c| c.is_true());
    let mut search = format!("{}/{}", d.subject.namespace, d.subject.name);
    for n in &d.dns_names {
        search.push(' ');
        search.push_str(n);
    }
    // `is:readiness` (and `is:<code>`) in the filter lists what the CA changes will break.
    let mut readiness: Vec<&str> = d
        .findings
        .iter()
        .filter(|f| f.code.is_readiness())
        .map(|f| f.code.as_str())
        .collect();
    readiness.dedup();
    if !readiness.is_empty() {
        search.push_str(" is:readiness");
        for c in readiness {
            search.push_str(" is:");
            search.push_str(c);
        }
    }
    let root = d.root_cause.as_ref();
    Row {
        diagnosis: i,
        kind: d.subject.kind,
        namespace: d.subject.namespace.clone(),
        name: d.subject.name.clone(),
        state: d.status.state,
        issuing,
        not_after: status.and_then(|s| s.not_after),
        renewal: status.and_then(|s| s.renewal_time),
        issuer: d.issuer.clone().unwrap_or_default(),
        root: root.map(|r| (r.code, r.severity)),
        retry_after: root.and_then(|r| r.retry_after),
        search: search.to_lowercase(),
    }
}
