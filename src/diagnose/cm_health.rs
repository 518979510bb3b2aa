//! Judges cert-manager's own health from what `source::cluster::health` read: are the
//! controller, webhook and cainjector ready, is the controller's leader Lease renewed, can the
//! API server trust and reach the webhook. A broken installation is the root cause of every
//! Certificate it leaves stuck ([`attribute`]); a Certificate with its own specific failure
//! keeps it.
//!
//! Only what was read is claimed: what could not be read (forbidden, absent where absence
//! proves nothing) is a note, never a finding.

use jiff::{SignedDuration, Timestamp};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Pod;
use kube::ResourceExt;
use serde::{Deserialize, Serialize};

use super::{Diagnosis, pick_root_cause, rank};

mod webhook;
use crate::model::state::human_duration;
use crate::model::{Code, Evidence, Finding, Severity, State};
use crate::source::cluster::health::{
    Component, DeploymentRead, HealthObjects, LeaseRead, Read, ServiceRead,
};
use webhook::judge_webhook_configs;

/// How far past its duration a Lease's last renewal may be before it counts as stale: the
/// leader renews every few seconds, so a full minute more (clock skew included) is no hiccup.
pub const LEASE_MARGIN: SignedDuration = SignedDuration::from_secs(60);
/// client-go's default lease duration, cert-manager's too.
pub const DEFAULT_LEASE_SECONDS: i32 = 60;

/// What certdx found about cert-manager's installation. Every field is always present in
/// JSON (`null` or empty when unknown), so scripts can rely on the shape.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CertManagerHealth {
    /// `healthy`, `unhealthy` (a problem finding), or `unknown` (not found or not readable).
    pub state: HealthState,
    /// The controller's namespace (where the installation lives).
    pub namespace: Option<String>,
    /// The controller's version, from its image tag (or its version label).
    pub version: Option<String>,
    /// The three Deployments, in the order controller, webhook, cainjector.
    pub components: Vec<ComponentHealth>,
    /// The leader-election Leases looked at.
    pub leases: Vec<LeaseHealth>,
    /// The webhook's Validating- and MutatingWebhookConfigurations.
    pub webhook_configurations: Vec<WebhookConfigHealth>,
    /// The Service the webhook configurations call.
    pub webhook_service: Option<ServiceHealth>,
    /// How many Certificates have cert-manager's health as their root cause.
    pub blocked_certificates: usize,
    /// `cert-manager-unhealthy` findings, worst first.
    pub findings: Vec<Finding>,
    /// What could not be read or checked, one sentence each.
    pub notes: Vec<String>,
    /// The failed-issuance backoff the controller's flags configure, when it sets them
    /// (the readiness findings use it); not part of the JSON document.
    #[serde(skip)]
    pub issuance_backoff: Option<super::readiness::Backoff>,
}

/// The verdict on the installation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HealthState {
    /// Found, and nothing wrong in what could be read.
    Healthy,
    /// At least one problem finding.
    Unhealthy,
    /// Not found, or not readable.
    #[default]
    Unknown,
}

/// One Deployment of cert-manager.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ComponentHealth {
    /// `controller`, `webhook` or `cainjector`.
    pub component: String,
    /// Whether its Deployment was found.
    pub found: bool,
    /// The Deployment's namespace.
    pub namespace: Option<String>,
    /// The Deployment's name.
    pub name: Option<String>,
    /// Replicas asked for.
    pub desired: Option<i32>,
    /// Replicas ready.
    pub ready: Option<i32>,
    /// The first container's image.
    pub image: Option<String>,
    /// Its Pods (empty when they could not be listed: see the notes).
    pub pods: Vec<PodHealth>,
}

/// One Pod of a cert-manager Deployment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PodHealth {
    /// Its name.
    pub name: String,
    /// Its phase (`Running`, `Pending`, ...).
    pub phase: Option<String>,
    /// Whether its Ready condition is True.
    pub ready: bool,
    /// Container restarts, summed.
    pub restarts: i32,
    /// Why a container waits (`CrashLoopBackOff`, `ImagePullBackOff`, ...).
    pub waiting: Option<String>,
    /// Why a container last terminated (`Error`, `OOMKilled`, ...), with its exit code.
    pub last_termination: Option<String>,
}

/// A leader-election Lease.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LeaseHealth {
    /// Whose: `controller` or `cainjector`.
    pub component: String,
    /// Its namespace.
    pub namespace: String,
    /// Its name.
    pub name: String,
    /// Whether it was read.
    pub found: bool,
    /// Who holds it.
    pub holder: Option<String>,
    /// When it was last renewed.
    pub renewed_at: Option<Timestamp>,
    /// Its duration in seconds.
    pub duration_seconds: Option<i32>,
    /// Whether its last renewal is older than its duration by more than [`LEASE_MARGIN`].
    pub stale: bool,
}

/// One webhook configuration of cert-manager's webhook.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WebhookConfigHealth {
    /// `ValidatingWebhookConfiguration` or `MutatingWebhookConfiguration`.
    pub kind: String,
    /// Its name.
    pub name: String,
    /// Whether every webhook in it carries a CA bundle.
    pub ca_bundle_present: bool,
    /// When the CA bundle's first certificate expires, if it parses.
    pub ca_not_after: Option<Timestamp>,
    /// Whether the CA bundle is that of the webhook's serving certificate: `null`, not
    /// checked (that CA lives in a Secret, which certdx does not read).
    pub ca_matches_serving_certificate: Option<bool>,
    /// Where cainjector takes the bundle from (`cert-manager.io/inject-ca-from-secret`, ...).
    pub injected_from: Option<String>,
}

/// The webhook's Service.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServiceHealth {
    /// Its namespace.
    pub namespace: String,
    /// Its name.
    pub name: String,
    /// Whether it exists (`null`: could not be read).
    pub found: Option<bool>,
    /// Ready endpoint addresses (`null`: could not be read).
    pub ready_endpoints: Option<usize>,
}

impl CertManagerHealth {
    /// The finding that names the installation's problem (the worst), if any.
    pub fn headline(&self) -> Option<&Finding> {
        self.findings.iter().find(|f| f.severity.is_problem())
    }

    /// One line for a report's or the view's header: the verdict, said once.
    pub fn verdict(&self) -> String {
        let which = match (&self.version, &self.namespace) {
            (Some(v), Some(ns)) => format!("cert-manager {v} (namespace {ns})"),
            (None, Some(ns)) => format!("cert-manager (namespace {ns})"),
            (Some(v), None) => format!("cert-manager {v}"),
            (None, None) => "cert-manager".to_owned(),
        };
        match (self.state, self.headline()) {
            (HealthState::Unhealthy, Some(f)) => {
                let blocked = match self.blocked_certificates {
                    0 => String::new(),
                    1 => "; it is the root cause of 1 Certificate".to_owned(),
                    n => format!("; it is the root cause of {n} Certificates"),
                };
                format!("{which} is unhealthy: {}{blocked}", f.summary)
            }
            (HealthState::Healthy, _) => {
                let found: Vec<&str> = self
                    .components
                    .iter()
                    .filter(|c| c.found)
                    .map(|c| c.component.as_str())
                    .collect();
                format!("{which} is healthy: {} ready", found.join(", "))
            }
            _ => format!(
                "{which}: health unknown{}",
                self.notes
                    .first()
                    .map(|n| format!(" ({n})"))
                    .unwrap_or_default()
            ),
        }
    }

    /// Whether the installation is broken enough to stop issuance (error or fatal).
    pub fn blocks_issuance(&self) -> bool {
        self.headline()
            .is_some_and(|f| f.severity >= Severity::Error)
    }
}

/// Reads cert-manager's installation from the cluster and judges it at `now`.
pub async fn cert_manager_health(client: &kube::Client, now: Timestamp) -> CertManagerHealth {
    let objects = crate::source::cluster::health::read_health_objects(client).await;
    judge(&objects, now)
}

/// Judges what was read at `now`.
pub fn judge(objects: &HealthObjects, now: Timestamp) -> CertManagerHealth {
    let mut h = CertManagerHealth {
        notes: objects.notes.clone(),
        ..CertManagerHealth::default()
    };
    for (component, read) in &objects.deployments {
        if let (Component::Controller, Read::Found(d)) = (component, read) {
            let args = crate::source::cluster::health::container_args(&d.deployment);
            h.issuance_backoff = super::readiness::Backoff::from_flags(&args);
        }
        match read {
            Read::Found(d) => {
                let (c, findings) = judge_deployment(*component, d);
                h.components.push(c);
                h.findings.extend(findings);
                if let Read::Unreadable(why) = &d.pods {
                    h.notes.push(why.clone());
                }
            }
            other => {
                if let Read::Unreadable(why) = other {
                    h.notes.push(why.clone());
                } else {
                    h.notes.push(format!(
                        "no cert-manager {component} Deployment found (labels {}, or the name {})",
                        component.selector(),
                        component.default_name()
                    ));
                }
                h.components.push(ComponentHealth {
                    component: component.as_str().to_owned(),
                    found: false,
                    namespace: None,
                    name: None,
                    desired: None,
                    ready: None,
                    image: None,
                    pods: Vec::new(),
                });
            }
        }
    }
    if let Some(d) = objects.deployment(Component::Controller) {
        h.namespace = d.deployment.namespace();
        h.version = version(&d.deployment);
    }
    for l in &objects.leases {
        let (lease, finding, note) = judge_lease(l, now);
        h.leases.push(lease);
        h.findings.extend(finding);
        h.notes.extend(note);
    }
    judge_webhook_configs(objects, now, &mut h);
    if let Some(s) = &objects.webhook_service {
        let (svc, finding, notes) = judge_service(s);
        h.webhook_service = Some(svc);
        h.findings.extend(finding);
        h.notes.extend(notes);
    }
    if h.components.iter().all(|c| c.found) {
        // Only said when everything else was readable: the match is the one thing certdx
        // cannot check without Secrets.
        h.notes.push(
            "the webhook's CA bundle is not compared with its serving certificate: that CA is in a Secret, which certdx does not read".to_owned(),
        );
    }
    h.findings.sort_by_key(|f| std::cmp::Reverse(f.severity));
    h.state = if h.findings.iter().any(|f| f.severity.is_problem()) {
        HealthState::Unhealthy
    } else if h.components.iter().any(|c| c.found) {
        HealthState::Healthy
    } else {
        HealthState::Unknown
    };
    h
}

fn unhealthy(severity: Severity, summary: String) -> Finding {
    let mut f = Finding::new(Code::CertManagerUnhealthy, summary);
    f.severity = severity;
    f
}

fn fact(subject: &str, detail: String) -> Evidence {
    Evidence::Fact {
        subject: subject.to_owned(),
        detail,
    }
}

/// A Deployment's readiness and its Pods' trouble.
fn judge_deployment(component: Component, d: &DeploymentRead) -> (ComponentHealth, Vec<Finding>) {
    let dep = &d.deployment;
    let where_ = format!(
        "Deployment {}/{}",
        dep.namespace().unwrap_or_default(),
        dep.name_any()
    );
    let desired = dep.spec.replicas.unwrap_or(1);
    let ready = dep
        .status
        .as_ref()
        .and_then(|s| s.ready_replicas)
        .unwrap_or(0);
    let pods: Vec<PodHealth> = d
        .pods
        .found()
        .into_iter()
        .flatten()
        .map(pod_health)
        .collect();
    let mut findings = Vec::new();
    // What stops when each is down: the controller issues, the webhook admits every
    // cert-manager object; the cainjector only refreshes CA bundles that are already there.
    let down = match component {
        Component::Controller | Component::Webhook => Severity::Fatal,
        Component::Cainjector => Severity::Warning,
    };
    let effect = match component {
        Component::Controller => "nothing is issued or renewed",
        Component::Webhook => "the API server cannot admit cert-manager objects",
        Component::Cainjector => "CA bundles are not kept up to date",
    };
    let trouble: Vec<String> = pods.iter().filter_map(pod_trouble).collect();
    let mut f = if desired == 0 {
        Some(unhealthy(
            down,
            format!("cert-manager's {component} is scaled to 0 replicas ({where_}): {effect}"),
        ))
    } else if ready == 0 {
        Some(unhealthy(
            down,
            format!(
                "cert-manager's {component} is not ready: 0 of {desired} replicas ({where_}){}: {effect}",
                trouble
                    .first()
                    .map(|t| format!("; {t}"))
                    .unwrap_or_default()
            ),
        ))
    } else if ready < desired {
        Some(unhealthy(
            Severity::Warning,
            format!(
                "cert-manager's {component} has {ready} of {desired} replicas ready ({where_})"
            ),
        ))
    } else {
        None
    };
    if f.is_none()
        && let Some(t) = trouble.iter().find(|t| t.contains("CrashLoopBackOff"))
    {
        f = Some(unhealthy(
            Severity::Warning,
            format!("a Pod of cert-manager's {component} is crash-looping ({where_}): {t}"),
        ));
    }
    if let Some(mut f) = f {
        f.evidence.push(fact(
            &where_,
            format!("{ready} of {desired} replicas ready"),
        ));
        for t in &trouble {
            f.evidence.push(fact(&where_, t.clone()));
        }
        findings.push(f);
    }
    let image = first_image(dep);
    (
        ComponentHealth {
            component: component.as_str().to_owned(),
            found: true,
            namespace: dep.namespace(),
            name: Some(dep.name_any()),
            desired: Some(desired),
            ready: Some(ready),
            image,
            pods,
        },
        findings,
    )
}

fn pod_health(p: &Pod) -> PodHealth {
    let status = p.status.as_ref();
    let containers = status
        .and_then(|s| s.container_statuses.as_deref())
        .unwrap_or_default();
    let waiting = containers
        .iter()
        .filter_map(|c| c.state.as_ref()?.waiting.as_ref()?.reason.clone())
        .next();
    let last_termination = containers
        .iter()
        .filter_map(|c| {
            let t = c.last_state.as_ref()?.terminated.as_ref()?;
            Some(format!(
                "{} (exit code {})",
                t.reason.as_deref().unwrap_or("terminated"),
                t.exit_code
            ))
        })
        .next();
    PodHealth {
        name: p.name_any(),
        phase: status.and_then(|s| s.phase.clone()),
        ready: status
            .and_then(|s| s.conditions.as_ref())
            .into_iter()
            .flatten()
            .any(|c| c.type_ == "Ready" && c.status == "True"),
        restarts: containers.iter().map(|c| c.restart_count).sum(),
        waiting,
        last_termination,
    }
}

/// One line about a Pod that is not well, or `None`.
fn pod_trouble(p: &PodHealth) -> Option<String> {
    if p.ready && p.waiting.is_none() {
        return None;
    }
    let mut parts = vec![format!(
        "Pod {} {}",
        p.name,
        p.waiting
            .clone()
            .or(p.phase.clone())
            .unwrap_or_else(|| "not ready".to_owned())
    )];
    if p.restarts > 0 {
        parts.push(format!("{} restarts", p.restarts));
    }
    if let Some(t) = &p.last_termination {
        parts.push(format!("last terminated: {t}"));
    }
    Some(parts.join(", "))
}

fn first_image(d: &Deployment) -> Option<String> {
    d.spec
        .template
        .spec
        .as_ref()?
        .containers
        .first()?
        .image
        .clone()
}

/// The version from the image tag (`quay.io/jetstack/cert-manager-controller:v1.16.2`), else
/// from the `app.kubernetes.io/version` label.
pub fn version(d: &Deployment) -> Option<String> {
    let from_image = first_image(d).and_then(|image| {
        let image = image.split('@').next().unwrap_or_default().to_owned();
        let last = image.rsplit('/').next().unwrap_or_default();
        last.split_once(':').map(|(_, tag)| tag.to_owned())
    });
    from_image.or_else(|| d.labels().get("app.kubernetes.io/version").cloned())
}

/// Whether a Lease is renewed.
fn judge_lease(l: &LeaseRead, now: Timestamp) -> (LeaseHealth, Option<Finding>, Option<String>) {
    let mut out = LeaseHealth {
        component: l.component.as_str().to_owned(),
        namespace: l.namespace.clone(),
        name: l.name.clone(),
        found: false,
        holder: None,
        renewed_at: None,
        duration_seconds: None,
        stale: false,
    };
    let lease = match &l.lease {
        Read::Found(lease) => lease,
        Read::Absent => {
            // A custom --leader-election-namespace set through a config file, say: no claim.
            let note = format!(
                "the {}'s leader Lease {}/{} does not exist: certdx cannot tell whether a leader is elected",
                l.component, l.namespace, l.name
            );
            return (out, None, Some(note));
        }
        Read::Unreadable(why) => return (out, None, Some(why.clone())),
    };
    out.found = true;
    let spec = lease.spec.clone().unwrap_or_default();
    out.holder = spec.holder_identity.filter(|h| !h.is_empty());
    out.renewed_at = spec.renew_time.map(|t| t.0);
    out.duration_seconds = spec.lease_duration_seconds;
    let duration = SignedDuration::from_secs(i64::from(
        spec.lease_duration_seconds.unwrap_or(DEFAULT_LEASE_SECONDS),
    ));
    let age = out.renewed_at.map(|t| now.duration_since(t));
    let stale = match age {
        Some(age) => age > duration + LEASE_MARGIN,
        // Released, or never held.
        None => true,
    };
    out.stale = stale;
    if !stale {
        return (out, None, None);
    }
    let severity = match l.component {
        Component::Controller => Severity::Fatal,
        _ => Severity::Warning,
    };
    let when = match (out.renewed_at, age) {
        (Some(at), Some(age)) => format!("last renewed at {at}, {} ago", human_duration(age)),
        _ => "never renewed".to_owned(),
    };
    let mut f = unhealthy(
        severity,
        format!(
            "cert-manager's {} holds no live leader Lease: {}/{} {when} (lease duration {} s){}",
            l.component,
            l.namespace,
            l.name,
            duration.as_secs(),
            match l.component {
                Component::Controller => ": no controller is acting",
                _ => "",
            }
        ),
    );
    f.evidence.push(fact(
        &format!("Lease {}/{}", l.namespace, l.name),
        format!(
            "holder {}, renewTime {}",
            out.holder.as_deref().unwrap_or("none"),
            out.renewed_at
                .map_or_else(|| "none".to_owned(), |t| t.to_string())
        ),
    ));
    (out, Some(f), None)
}

/// Whether the webhook's Service exists and has ready endpoints.
fn judge_service(s: &ServiceRead) -> (ServiceHealth, Option<Finding>, Vec<String>) {
    let label = format!("Service {}/{}", s.namespace, s.name);
    let mut notes = Vec::new();
    let mut out = ServiceHealth {
        namespace: s.namespace.clone(),
        name: s.name.clone(),
        found: None,
        ready_endpoints: None,
    };
    match &s.service {
        Read::Found(_) => out.found = Some(true),
        Read::Absent => {
            out.found = Some(false);
            let f = unhealthy(
                Severity::Fatal,
                format!(
                    "cert-manager's webhook {label} does not exist: the API server cannot reach the webhook"
                ),
            );
            return (out, Some(f), notes);
        }
        Read::Unreadable(why) => notes.push(why.clone()),
    }
    let ready = match &s.endpoints {
        Read::Found(e) => e
            .subsets
            .iter()
            .flatten()
            .map(|s| s.addresses.as_ref().map_or(0, Vec::len))
            .sum(),
        Read::Absent => 0,
        Read::Unreadable(why) => {
            notes.push(why.clone());
            return (out, None, notes);
        }
    };
    out.ready_endpoints = Some(ready);
    if ready > 0 || out.found != Some(true) {
        return (out, None, notes);
    }
    let mut f = unhealthy(
        Severity::Fatal,
        format!(
            "cert-manager's webhook {label} has no ready endpoints: the API server cannot reach the webhook"
        ),
    );
    f.evidence
        .push(fact(&label, "Endpoints with no ready address".to_owned()));
    (out, Some(f), notes)
}

/// Codes that say a Certificate is stuck without naming why: cert-manager's own health
/// explains them when it is broken.
fn is_unexplained(code: Code) -> bool {
    matches!(
        code,
        Code::CertificateNotReady
            | Code::NotReconciled
            | Code::RenewalOverdue
            | Code::CertManagerWebhookUnavailable
    )
}

/// Makes cert-manager's health the root cause of every Certificate it leaves stuck (not Ready
/// with no cause or only an unexplained one, renewal overdue, not reconciled), when the
/// installation is broken enough to stop issuance. A Certificate with its own specific cause
/// keeps it. Counts them in `health.blocked_certificates` and returns the count.
pub fn attribute(diagnoses: &mut [Diagnosis], health: &mut CertManagerHealth) -> usize {
    let Some(headline) = health.headline().cloned() else {
        return 0;
    };
    if !health.blocks_issuance() {
        return 0;
    }
    let mut blocked = 0;
    for d in diagnoses
        .iter_mut()
        .filter(|d| d.subject.kind == crate::model::Kind::Certificate)
    {
        let stuck = match &d.root_cause {
            Some(rc) => is_unexplained(rc.code),
            None => d.status.state != State::Ready,
        };
        if !stuck {
            continue;
        }
        let mut f = headline.clone();
        for other in health
            .findings
            .iter()
            .skip(1)
            .filter(|f| f.severity.is_problem())
        {
            f.evidence.push(fact("cert-manager", other.summary.clone()));
        }
        super::advice::name_commands(&d.subject, &mut f);
        d.findings.push(f);
        d.findings
            .sort_by_key(|f| std::cmp::Reverse((f.severity, rank(f.code))));
        d.root_cause = pick_root_cause(
            &d.findings
                .iter()
                .filter(|f| f.code == Code::CertManagerUnhealthy)
                .cloned()
                .collect::<Vec<_>>(),
        );
        blocked += 1;
    }
    health.blocked_certificates = blocked;
    blocked
}

#[cfg(test)]
mod tests;
