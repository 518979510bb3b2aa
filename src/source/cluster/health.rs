//! Reads cert-manager's own installation from a live cluster: its three Deployments and their
//! Pods, the leader-election Leases, the webhook's configurations and its Service's
//! endpoints. Reading only: `diagnose::cm_health` judges what was read.
//!
//! The Deployments are found by the Helm chart's (and static manifests') labels,
//! `app.kubernetes.io/name` + `app.kubernetes.io/component`, in any namespace; when the user may
//! not list cluster-wide, in `cert-manager` by label, then by the default names. Every read is
//! bounded in time, and what could not be read (forbidden, absent, timed out) is a [`Read`]
//! variant or a note, never an error: absence proves something only where the list succeeded.

use std::time::Duration;

use k8s_openapi::api::admissionregistration::v1::{
    MutatingWebhookConfiguration, ValidatingWebhookConfiguration,
};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Endpoints, Pod, Service};
use kube::api::ListParams;
use kube::{Api, ResourceExt};

use super::logs::{CERT_MANAGER_NAMESPACE, CONTROLLER_SELECTOR};

/// Labels of the webhook's Deployment and Pods in the Helm chart and the static manifests.
pub const WEBHOOK_SELECTOR: &str =
    "app.kubernetes.io/name=webhook,app.kubernetes.io/component=webhook";
/// Labels of the cainjector's Deployment and Pods.
pub const CAINJECTOR_SELECTOR: &str =
    "app.kubernetes.io/name=cainjector,app.kubernetes.io/component=cainjector";
/// Where cert-manager keeps its leader-election Leases unless `--leader-election-namespace`
/// says otherwise.
pub const LEADER_ELECTION_NAMESPACE: &str = "kube-system";
/// The controller's leader-election Lease.
pub const CONTROLLER_LEASE: &str = "cert-manager-controller";
/// The cainjector's leader-election Lease.
pub const CAINJECTOR_LEASE: &str = "cert-manager-cainjector-leader-election";
/// Budget for each API request.
pub const READ_TIMEOUT: Duration = Duration::from_secs(10);

/// One of cert-manager's three Deployments.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Component {
    /// The controller: issues and renews.
    Controller,
    /// The admission webhook: every cert-manager object is validated by it.
    Webhook,
    /// The CA injector: writes the webhook's CA bundle into its configurations.
    Cainjector,
}

impl Component {
    /// All three, in the order they are reported.
    pub const ALL: [Component; 3] = [
        Component::Controller,
        Component::Webhook,
        Component::Cainjector,
    ];

    /// `controller`, `webhook`, `cainjector` (the `app.kubernetes.io/component` label).
    pub fn as_str(self) -> &'static str {
        match self {
            Component::Controller => "controller",
            Component::Webhook => "webhook",
            Component::Cainjector => "cainjector",
        }
    }

    /// The label selector of its Deployment.
    pub fn selector(self) -> &'static str {
        match self {
            Component::Controller => CONTROLLER_SELECTOR,
            Component::Webhook => WEBHOOK_SELECTOR,
            Component::Cainjector => CAINJECTOR_SELECTOR,
        }
    }

    /// Its Deployment's name in a default install (release `cert-manager`).
    pub fn default_name(self) -> &'static str {
        match self {
            Component::Controller => "cert-manager",
            Component::Webhook => "cert-manager-webhook",
            Component::Cainjector => "cert-manager-cainjector",
        }
    }

    /// Its leader-election Lease, if it elects a leader.
    pub fn lease(self) -> Option<&'static str> {
        match self {
            Component::Controller => Some(CONTROLLER_LEASE),
            Component::Cainjector => Some(CAINJECTOR_LEASE),
            Component::Webhook => None,
        }
    }

    fn matches(self, d: &Deployment) -> bool {
        let labels = d.labels();
        self.selector().split(',').all(|pair| {
            pair.split_once('=')
                .is_some_and(|(k, v)| labels.get(k).map(String::as_str) == Some(v))
        })
    }
}

impl std::fmt::Display for Component {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The outcome of reading one thing.
#[derive(Debug, Clone, PartialEq)]
pub enum Read<T> {
    /// It was read.
    Found(T),
    /// The server says it does not exist (or a full list did not contain it).
    Absent,
    /// It could not be read; the sentence says why (RBAC, timeout, ...).
    Unreadable(String),
}

impl<T> Read<T> {
    /// The object, when read.
    pub fn found(&self) -> Option<&T> {
        match self {
            Read::Found(t) => Some(t),
            _ => None,
        }
    }
}

/// A Deployment of cert-manager and its Pods.
#[derive(Debug, Clone, PartialEq)]
pub struct DeploymentRead {
    /// The Deployment.
    pub deployment: Deployment,
    /// Its Pods (by its selector), or why they could not be listed.
    pub pods: Read<Vec<Pod>>,
}

/// A leader-election Lease where cert-manager keeps it.
#[derive(Debug, Clone, PartialEq)]
pub struct LeaseRead {
    /// Whose Lease it is.
    pub component: Component,
    /// Its namespace.
    pub namespace: String,
    /// Its name.
    pub name: String,
    /// The Lease.
    pub lease: Read<Lease>,
}

/// The webhook's Service and its Endpoints.
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceRead {
    /// Its namespace.
    pub namespace: String,
    /// Its name.
    pub name: String,
    /// The Service.
    pub service: Read<Service>,
    /// Its Endpoints (same name).
    pub endpoints: Read<Endpoints>,
}

/// Everything read about cert-manager's installation.
#[derive(Debug, Clone, PartialEq)]
pub struct HealthObjects {
    /// Each component's Deployment; `Absent` when the search could see everywhere it looked
    /// and found none.
    pub deployments: Vec<(Component, Read<DeploymentRead>)>,
    /// The Leases of the components that elect a leader (and do, per their arguments).
    pub leases: Vec<LeaseRead>,
    /// The webhook's ValidatingWebhookConfigurations.
    pub validating: Read<Vec<ValidatingWebhookConfiguration>>,
    /// The webhook's MutatingWebhookConfigurations.
    pub mutating: Read<Vec<MutatingWebhookConfiguration>>,
    /// The Service the webhook configurations call.
    pub webhook_service: Option<ServiceRead>,
    /// What limited the search, one sentence each.
    pub notes: Vec<String>,
}

impl HealthObjects {
    /// The Deployment of `c`, when found.
    pub fn deployment(&self, c: Component) -> Option<&DeploymentRead> {
        self.deployments
            .iter()
            .find(|(k, _)| *k == c)
            .and_then(|(_, r)| r.found())
    }
}

/// Reads cert-manager's installation. Never fails: what could not be read is said.
pub async fn read_health_objects(client: &kube::Client) -> HealthObjects {
    let mut notes = Vec::new();
    let found = find_deployments(client, &mut notes).await;
    let mut deployments = Vec::new();
    for (component, read) in found {
        let read = match read {
            Read::Found(d) => {
                let pods = pods_of(client, &d).await;
                Read::Found(DeploymentRead {
                    deployment: d,
                    pods,
                })
            }
            Read::Absent => Read::Absent,
            Read::Unreadable(why) => Read::Unreadable(why),
        };
        deployments.push((component, read));
    }
    let mut leases = Vec::new();
    for (component, read) in &deployments {
        let (Some(name), Read::Found(d)) = (component.lease(), read) else {
            continue;
        };
        let args = container_args(&d.deployment);
        if flag(&args, "leader-elect").is_some_and(|v| v == "false") {
            notes.push(format!(
                "the {component} runs with --leader-elect=false: it has no leader Lease"
            ));
            continue;
        }
        let namespace = flag(&args, "leader-election-namespace")
            .unwrap_or_else(|| LEADER_ELECTION_NAMESPACE.to_owned());
        let api: Api<Lease> = Api::namespaced(client.clone(), &namespace);
        let lease = get_opt(&api, name, "leases.coordination.k8s.io", Some(&namespace)).await;
        leases.push(LeaseRead {
            component: *component,
            namespace,
            name: name.to_owned(),
            lease,
        });
    }
    let webhook_name = deployments
        .iter()
        .find(|(c, _)| *c == Component::Webhook)
        .and_then(|(_, r)| r.found())
        .map(|d| {
            (
                d.deployment.namespace().unwrap_or_default(),
                d.deployment.name_any(),
            )
        });
    let (ns, name) = webhook_name.clone().unwrap_or_else(|| {
        (
            CERT_MANAGER_NAMESPACE.to_owned(),
            Component::Webhook.default_name().to_owned(),
        )
    });
    let validating = webhook_configurations::<ValidatingWebhookConfiguration>(
        client,
        "validatingwebhookconfigurations.admissionregistration.k8s.io",
        |c| {
            c.webhooks
                .iter()
                .flatten()
                .filter_map(|w| w.client_config.service.as_ref())
                .map(|s| (s.namespace.clone(), s.name.clone()))
                .collect()
        },
        &ns,
        &name,
    )
    .await;
    let mutating = webhook_configurations::<MutatingWebhookConfiguration>(
        client,
        "mutatingwebhookconfigurations.admissionregistration.k8s.io",
        |c| {
            c.webhooks
                .iter()
                .flatten()
                .filter_map(|w| w.client_config.service.as_ref())
                .map(|s| (s.namespace.clone(), s.name.clone()))
                .collect()
        },
        &ns,
        &name,
    )
    .await;
    // The Service the configurations call; without them, the chart's: named like the webhook.
    let called = validating
        .found()
        .into_iter()
        .flatten()
        .flat_map(|c| c.webhooks.iter().flatten())
        .filter_map(|w| w.client_config.service.as_ref())
        .map(|s| (s.namespace.clone(), s.name.clone()))
        .next();
    let webhook_service = match called.or(webhook_name) {
        Some((namespace, name)) => {
            let services: Api<Service> = Api::namespaced(client.clone(), &namespace);
            let endpoints: Api<Endpoints> = Api::namespaced(client.clone(), &namespace);
            Some(ServiceRead {
                service: get_opt(&services, &name, "services", Some(&namespace)).await,
                endpoints: get_opt(&endpoints, &name, "endpoints", Some(&namespace)).await,
                namespace,
                name,
            })
        }
        None => None,
    };
    HealthObjects {
        deployments,
        leases,
        validating,
        mutating,
        webhook_service,
        notes,
    }
}

/// Each component's Deployment: by label in every namespace; where that is forbidden, by
/// label in `cert-manager`, then by the default name there.
async fn find_deployments(
    client: &kube::Client,
    notes: &mut Vec<String>,
) -> Vec<(Component, Read<Deployment>)> {
    let selector = "app.kubernetes.io/component in (controller,webhook,cainjector)";
    let lp = ListParams::default().labels(selector);
    let all: Api<Deployment> = Api::all(client.clone());
    let (listed, everywhere) = match bounded(all.list(&lp)).await {
        Ok(list) => (Some(list.items), true),
        Err(e) => {
            notes.push(note(
                e,
                "list",
                "deployments.apps",
                None,
                "searched namespace cert-manager instead",
            ));
            let local: Api<Deployment> = Api::namespaced(client.clone(), CERT_MANAGER_NAMESPACE);
            match bounded(local.list(&lp)).await {
                Ok(list) => (Some(list.items), false),
                Err(e) => {
                    notes.push(note(
                        e,
                        "list",
                        "deployments.apps",
                        Some(CERT_MANAGER_NAMESPACE),
                        "looked for the default names",
                    ));
                    (None, false)
                }
            }
        }
    };
    let mut out = Vec::new();
    for c in Component::ALL {
        let mut mine: Vec<Deployment> = listed
            .iter()
            .flatten()
            .filter(|d| c.matches(d))
            .cloned()
            .collect();
        // Several installs (one per tenant, a leftover): the one in `cert-manager` first, then
        // by namespace, so the answer does not depend on the server's order.
        mine.sort_by_key(|d| {
            let ns = d.namespace().unwrap_or_default();
            (ns != CERT_MANAGER_NAMESPACE, ns, d.name_any())
        });
        if mine.len() > 1 {
            notes.push(format!(
                "{} cert-manager {c} Deployments found ({}): reporting {}",
                mine.len(),
                mine.iter()
                    .map(|d| format!("{}/{}", d.namespace().unwrap_or_default(), d.name_any()))
                    .collect::<Vec<_>>()
                    .join(", "),
                format_args!(
                    "{}/{}",
                    mine[0].namespace().unwrap_or_default(),
                    mine[0].name_any()
                )
            ));
        }
        if let Some(d) = mine.into_iter().next() {
            out.push((c, Read::Found(d)));
            continue;
        }
        if everywhere {
            out.push((c, Read::Absent));
            continue;
        }
        // Labels changed by hand, or only `get` allowed: the default name.
        let api: Api<Deployment> = Api::namespaced(client.clone(), CERT_MANAGER_NAMESPACE);
        let read = get_opt(
            &api,
            c.default_name(),
            "deployments.apps",
            Some(CERT_MANAGER_NAMESPACE),
        )
        .await;
        out.push((c, read));
    }
    out
}

/// The Pods a Deployment selects (its `matchLabels`).
async fn pods_of(client: &kube::Client, d: &Deployment) -> Read<Vec<Pod>> {
    let ns = d.namespace().unwrap_or_default();
    let selector: Vec<String> = d
        .spec
        .selector
        .match_labels
        .iter()
        .flatten()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    if selector.is_empty() {
        return Read::Unreadable(format!(
            "Deployment {ns}/{} has no matchLabels to find its Pods by",
            d.name_any()
        ));
    }
    let api: Api<Pod> = Api::namespaced(client.clone(), &ns);
    match bounded(api.list(&ListParams::default().labels(&selector.join(",")))).await {
        Ok(list) => Read::Found(list.items),
        Err(e) => Read::Unreadable(note(e, "list", "pods", Some(&ns), "")),
    }
}

/// The webhook configurations that call the webhook's Service `ns/name`, or carry its name.
async fn webhook_configurations<K>(
    client: &kube::Client,
    resource: &str,
    services: impl Fn(&K) -> Vec<(String, String)>,
    ns: &str,
    name: &str,
) -> Read<Vec<K>>
where
    K: kube::Resource<Scope = k8s_openapi::ClusterResourceScope>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug,
    <K as kube::Resource>::DynamicType: Default,
{
    let api: Api<K> = Api::all(client.clone());
    match bounded(api.list(&ListParams::default())).await {
        Ok(list) => {
            let mine: Vec<K> = list
                .items
                .into_iter()
                .filter(|c| {
                    c.name_any() == name || services(c).iter().any(|(n, s)| n == ns && s == name)
                })
                .collect();
            if mine.is_empty() {
                Read::Absent
            } else {
                Read::Found(mine)
            }
        }
        Err(e) => Read::Unreadable(note(e, "list", resource, None, "")),
    }
}

/// `get`, with 404 as [`Read::Absent`].
async fn get_opt<K>(api: &Api<K>, name: &str, resource: &str, ns: Option<&str>) -> Read<K>
where
    K: Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    match bounded(api.get_opt(name)).await {
        Ok(Some(o)) => Read::Found(o),
        Ok(None) => Read::Absent,
        Err(e) => Read::Unreadable(note(e, "get", resource, ns, "")),
    }
}

/// Why a request failed, bounded in time.
enum Failure {
    Api(kube::Error),
    Timeout,
}

async fn bounded<T>(
    f: impl std::future::Future<Output = Result<T, kube::Error>>,
) -> Result<T, Failure> {
    match tokio::time::timeout(READ_TIMEOUT, f).await {
        Ok(Ok(t)) => Ok(t),
        Ok(Err(e)) => Err(Failure::Api(e)),
        Err(_) => Err(Failure::Timeout),
    }
}

/// One sentence: what could not be read, where, and why (`then`: what was done instead).
fn note(e: Failure, verb: &str, resource: &str, ns: Option<&str>, then: &str) -> String {
    let place = match ns {
        Some(ns) => format!(" in {ns}"),
        None => String::new(),
    };
    let why = match e {
        Failure::Api(kube::Error::Api(s)) if s.code == 403 => "forbidden".to_owned(),
        Failure::Api(kube::Error::Api(s)) => format!("{} ({})", s.message, s.code),
        Failure::Api(e) => e.to_string(),
        Failure::Timeout => format!("no answer within {} s", READ_TIMEOUT.as_secs()),
    };
    let then = if then.is_empty() {
        String::new()
    } else {
        format!("; {then}")
    };
    format!("could not {verb} {resource}{place}: {why}{then}")
}

/// The arguments of the Deployment's first container (cert-manager's images have one).
pub fn container_args(d: &Deployment) -> Vec<String> {
    d.spec
        .template
        .spec
        .as_ref()
        .and_then(|s| s.containers.first())
        .and_then(|c| c.args.clone())
        .unwrap_or_default()
}

/// The value of `--name=value` (or `--name value`) among `args`.
pub fn flag(args: &[String], name: &str) -> Option<String> {
    let long = format!("--{name}");
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if let Some(v) = a.strip_prefix(&long) {
            if let Some(v) = v.strip_prefix('=') {
                return Some(v.to_owned());
            }
            if v.is_empty() {
                return Some(
                    it.next()
                        .filter(|n| !n.starts_with("--"))
                        .cloned()
                        .unwrap_or_else(|| "true".to_owned()),
                );
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_in_both_forms() {
        let args: Vec<String> = [
            "--v=2",
            "--leader-election-namespace=cm-system",
            "--leader-elect",
            "false",
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
        assert_eq!(
            flag(&args, "leader-election-namespace").as_deref(),
            Some("cm-system")
        );
        assert_eq!(flag(&args, "leader-elect").as_deref(), Some("false"));
        assert_eq!(flag(&args, "cluster-resource-namespace"), None);
    }

    #[test]
    fn components_match_their_chart_labels_only() {
        let d: Deployment = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "cm-webhook", "labels": {
                "app.kubernetes.io/name": "webhook", "app.kubernetes.io/component": "webhook",
                "app.kubernetes.io/instance": "cm"}}
        }))
        .expect("deployment");
        assert!(Component::Webhook.matches(&d));
        assert!(!Component::Controller.matches(&d));
        assert!(!Component::Cainjector.matches(&d));
    }
}
