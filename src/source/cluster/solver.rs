//! Reads the objects around one Challenge's HTTP-01 solver: the Pods, Services and Ingresses
//! (or, for Gateway API solvers, HTTPRoutes) cert-manager labelled for it (plus the Ingress
//! the solver config names), the Endpoints of those Services, the namespace's
//! NetworkPolicies and the cluster's IngressClasses.
//!
//! Each kind is read on its own: a 403 (or a kind the API does not serve) leaves that kind out
//! with a "not readable" note and the checks that need it are skipped, so a user who may read
//! Pods but not NetworkPolicies still gets every other answer. Any other failure (API gone,
//! 5xx) is an error for the whole read.

use std::fmt::Debug;

use k8s_openapi::api::core::v1::{Endpoints, Pod, Service};
use k8s_openapi::api::networking::v1::{Ingress, IngressClass, NetworkPolicy};
use kube::api::{ApiResource, DynamicObject, GroupVersionKind, ListParams};
use kube::{Api, ResourceExt};
use serde::de::DeserializeOwned;

use super::{ClusterError, Resource};
use crate::checks::solver::{SolverConfig, SolverKind, SolverObjects, solver_selector};
use crate::model::Challenge;

/// Qualified resource names for the kinds `Resource` does not list.
const ENDPOINTS: &str = "endpoints";
const INGRESS_CLASSES: &str = "ingressclasses.networking.k8s.io";
const HTTP_ROUTES: &str = "httproutes.gateway.networking.k8s.io";

/// A read that is either done, or not allowed / not served (with the note to show).
type Read<T> = Result<Result<T, String>, ClusterError>;

/// Reads the solver objects of `challenge` in its namespace. RBAC denials are recorded in
/// `not_readable` and leave that kind `None`; other API failures are returned.
pub async fn fetch_solver_objects(
    client: &kube::Client,
    challenge: &Challenge,
) -> Result<SolverObjects, ClusterError> {
    let ns = challenge
        .namespace()
        .unwrap_or_else(|| "default".to_owned());
    let labelled = ListParams::default().labels(&solver_selector(challenge));
    let everything = ListParams::default();
    let pods_api: Api<Pod> = Api::namespaced(client.clone(), &ns);
    let services_api: Api<Service> = Api::namespaced(client.clone(), &ns);
    let ingress_api: Api<Ingress> = Api::namespaced(client.clone(), &ns);
    let policy_api: Api<NetworkPolicy> = Api::namespaced(client.clone(), &ns);
    let class_api: Api<IngressClass> = Api::all(client.clone());
    let (pod_res, svc_res, ing_res, pol_res) = (
        Resource::Pods.qualified(),
        Resource::Services.qualified(),
        Resource::Ingresses.qualified(),
        Resource::NetworkPolicies.qualified(),
    );
    let (pods, services, ingresses, policies, classes) = futures::join!(
        list(&pods_api, &labelled, &pod_res, Some(&ns)),
        list(&services_api, &labelled, &svc_res, Some(&ns)),
        list(&ingress_api, &labelled, &ing_res, Some(&ns)),
        list(&policy_api, &everything, &pol_res, Some(&ns)),
        list(&class_api, &everything, INGRESS_CLASSES, None),
    );
    let mut notes = Vec::new();
    let pods = keep(pods, &mut notes)?;
    let services = keep(services, &mut notes)?;
    let mut ingresses = keep(ingresses, &mut notes)?;
    let network_policies = keep(policies, &mut notes)?;
    let ingress_classes = keep(classes, &mut notes)?;

    // Edit-in-place: the Ingress the config names carries no solver labels.
    if let Some(name) = SolverConfig::from_challenge(challenge).ingress_name
        && let Some(found) = ingresses.as_mut()
        && !found.iter().any(|i| i.name_any() == name)
    {
        match get(&ingress_api, &name, &ing_res, &ns).await? {
            Ok(Some(ing)) => found.push(ing),
            Ok(None) => {}
            Err(note) => notes.push(note),
        }
    }

    // Endpoints share their Service's name; reading them by name avoids listing the
    // namespace's (possibly many) Endpoints.
    let endpoints = match &services {
        None => None,
        Some(services) => {
            let api: Api<Endpoints> = Api::namespaced(client.clone(), &ns);
            let mut found = Some(Vec::new());
            for svc in services {
                match get(&api, &svc.name_any(), ENDPOINTS, &ns).await? {
                    Ok(Some(eps)) => found.iter_mut().for_each(|f| f.push(eps.clone())),
                    Ok(None) => {}
                    Err(note) => {
                        notes.push(note);
                        found = None;
                        break;
                    }
                }
            }
            found
        }
    };

    let http_routes = match SolverConfig::from_challenge(challenge).kind {
        SolverKind::GatewayHttpRoute => {
            keep(http_routes(client, &ns, &labelled).await, &mut notes)?
        }
        _ => None,
    };

    Ok(SolverObjects {
        pods,
        services,
        endpoints,
        ingresses,
        network_policies,
        ingress_classes,
        http_routes,
        not_readable: notes,
    })
}

/// The solver's HTTPRoutes, from Gateway API v1, else v1beta1 (older Gateway API installs).
async fn http_routes(
    client: &kube::Client,
    ns: &str,
    labelled: &ListParams,
) -> Read<Vec<DynamicObject>> {
    let mut last = Ok(Err(String::new()));
    for version in ["v1", "v1beta1"] {
        let gvk = GroupVersionKind::gvk("gateway.networking.k8s.io", version, "HTTPRoute");
        let resource = ApiResource::from_gvk_with_plural(&gvk, "httproutes");
        let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), ns, &resource);
        last = list(&api, labelled, HTTP_ROUTES, Some(ns)).await;
        match &last {
            Ok(Err(note)) if note.contains("does not serve") => continue,
            _ => return last,
        }
    }
    last
}

/// The items of a read, or `None` with its note recorded.
fn keep<T>(read: Read<T>, notes: &mut Vec<String>) -> Result<Option<T>, ClusterError> {
    Ok(match read? {
        Ok(items) => Some(items),
        Err(note) => {
            notes.push(note);
            None
        }
    })
}

async fn list<K>(
    api: &Api<K>,
    lp: &ListParams,
    resource: &str,
    namespace: Option<&str>,
) -> Read<Vec<K>>
where
    K: Clone + DeserializeOwned + Debug,
{
    match api.list(lp).await {
        Ok(list) => Ok(Ok(list.items)),
        Err(e) => unreadable(e, "list", resource, namespace).map(Err),
    }
}

async fn get<K>(api: &Api<K>, name: &str, resource: &str, namespace: &str) -> Read<Option<K>>
where
    K: Clone + DeserializeOwned + Debug,
{
    match api.get_opt(name).await {
        Ok(found) => Ok(Ok(found)),
        Err(e) => unreadable(e, "get", resource, Some(namespace)).map(Err),
    }
}

/// The note for a kind the user may not read (403) or the API does not serve (404); any
/// other failure stays an error.
fn unreadable(
    err: kube::Error,
    verb: &str,
    resource: &str,
    namespace: Option<&str>,
) -> Result<String, ClusterError> {
    let place = namespace.map_or_else(
        || " (cluster-wide)".to_owned(),
        |ns| format!(" in namespace {ns}"),
    );
    match ClusterError::from_kube(err, verb, resource, namespace) {
        ClusterError::Forbidden { .. } => Ok(format!(
            "not readable: RBAC does not allow {verb} {resource}{place}"
        )),
        e if e.status_code() == Some(404) => Ok(format!(
            "not readable: the API server does not serve {resource}"
        )),
        e => Err(e),
    }
}
