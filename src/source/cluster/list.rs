//! A one-shot, paginated, concurrent read of every cert-manager kind the user may read: what
//! `report` and `check` work from. Pages keep memory flat on large clusters; the kinds are
//! listed at once, so the whole read takes about as long as the largest kind.

use futures::future::try_join_all;
use k8s_openapi::api::core::v1::Event;
use kube::api::{ListParams, ObjectList};
use kube::{Api, Resource as KubeResource};
use serde::de::DeserializeOwned;

use super::preflight::Preflight;
use super::{ClusterError, Connection, Resource, Scope};
use crate::model::Inventory;

/// Objects per page: kubectl's default chunk size.
pub const PAGE_SIZE: u32 = 500;

/// How often a list restarts when its continue token expires (410 Gone) mid-way.
const GONE_RESTARTS: usize = 3;

/// The kinds Events are read for: only Events about cert-manager objects matter, and a
/// cluster may hold far more Events than cert-manager objects.
pub const EVENT_KINDS: [&str; 6] = [
    "Certificate",
    "CertificateRequest",
    "Order",
    "Challenge",
    "Issuer",
    "ClusterIssuer",
];

/// An `Api` for `K` in the connection's scope.
pub fn scoped_api<K>(conn: &Connection) -> Api<K>
where
    K: KubeResource<Scope = k8s_openapi::NamespaceResourceScope>,
    K::DynamicType: Default,
{
    match &conn.scope {
        Scope::All => Api::all(conn.client.clone()),
        Scope::Namespace(ns) => Api::namespaced(conn.client.clone(), ns),
    }
}

/// The field selector that picks Events about one cert-manager kind.
pub fn event_selector(kind: &str) -> String {
    format!("involvedObject.kind={kind}")
}

/// Lists everything `preflight` says is readable.
pub async fn list_inventory(
    conn: &Connection,
    preflight: &Preflight,
) -> Result<Inventory, ClusterError> {
    let ns = conn.scope.namespace();
    let certificates = list_readable(preflight, scoped_api(conn), Resource::Certificates, ns);
    let requests = list_readable(
        preflight,
        scoped_api(conn),
        Resource::CertificateRequests,
        ns,
    );
    let orders = list_readable(preflight, scoped_api(conn), Resource::Orders, ns);
    let challenges = list_readable(preflight, scoped_api(conn), Resource::Challenges, ns);
    let issuers = list_readable(preflight, scoped_api(conn), Resource::Issuers, ns);
    let all = Api::all(conn.client.clone());
    let cluster_issuers = list_readable(preflight, all, Resource::ClusterIssuers, None);
    let events = async {
        if !preflight.can_read(Resource::Events) {
            return Ok(Vec::new());
        }
        let per_kind = EVENT_KINDS.map(|kind| {
            let lp = ListParams::default().fields(&event_selector(kind));
            list_all::<Event>(scoped_api(conn), lp, Resource::Events, ns)
        });
        Ok::<_, ClusterError>(
            try_join_all(per_kind)
                .await?
                .into_iter()
                .flatten()
                .collect(),
        )
    };
    let (certificates, requests, orders, challenges, issuers, cluster_issuers, events) = tokio::try_join!(
        certificates,
        requests,
        orders,
        challenges,
        issuers,
        cluster_issuers,
        events
    )?;
    let mut inventory = Inventory {
        certificates,
        requests,
        orders,
        challenges,
        issuers,
        cluster_issuers,
        events,
        listed: preflight.listing(&conn.scope),
    };
    crate::model::redact::redact_inventory(&mut inventory);
    Ok(inventory)
}

/// Lists `resource` if the preflight found it readable; a kind the user may not read lists as
/// empty (the preflight already said so).
async fn list_readable<K>(
    preflight: &Preflight,
    api: Api<K>,
    resource: Resource,
    namespace: Option<&str>,
) -> Result<Vec<K>, ClusterError>
where
    K: KubeResource + Clone + DeserializeOwned + std::fmt::Debug,
{
    if !preflight.can_read(resource) {
        return Ok(Vec::new());
    }
    list_all(api, ListParams::default(), resource, namespace).await
}

/// Lists every object of `api` matching `params`, page by page, restarting when the
/// continue token expires. Objects are slimmed page by page, so memory stays flat.
pub async fn list_all<K>(
    api: Api<K>,
    params: ListParams,
    resource: Resource,
    namespace: Option<&str>,
) -> Result<Vec<K>, ClusterError>
where
    K: KubeResource + Clone + DeserializeOwned + std::fmt::Debug,
{
    let mut restarts = 0;
    'restart: loop {
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut page_params = params.clone().limit(PAGE_SIZE);
            if let Some(t) = &token {
                page_params = page_params.continue_token(t);
            }
            let page: ObjectList<K> = match api.list(&page_params).await {
                Ok(p) => p,
                Err(kube::Error::Api(s)) if s.code == 410 && restarts < GONE_RESTARTS => {
                    restarts += 1;
                    continue 'restart;
                }
                Err(e) => {
                    return Err(ClusterError::from_kube(
                        e,
                        "list",
                        &resource.qualified(),
                        namespace,
                    ));
                }
            };
            token = page.metadata.continue_.filter(|t| !t.is_empty());
            out.extend(page.items.into_iter().map(|mut o| {
                crate::model::inventory::slim_object(&mut o);
                o
            }));
            if token.is_none() {
                return Ok(out);
            }
        }
    }
}

/// Reads one Challenge and the Issuer or ClusterIssuer it names (for `certdx check NS/NAME`):
/// an inventory just big enough to build the playbook's target.
pub async fn fetch_challenge(
    conn: &Connection,
    namespace: &str,
    name: &str,
) -> Result<Inventory, ClusterError> {
    use crate::model::{Challenge, ClusterIssuer, Issuer};
    let api: Api<Challenge> = Api::namespaced(conn.client.clone(), namespace);
    let challenge = api
        .get_opt(name)
        .await
        .map_err(|e| {
            ClusterError::from_kube(e, "get", &Resource::Challenges.qualified(), Some(namespace))
        })?
        .ok_or_else(|| ClusterError::NotFound {
            kind: "Challenge".to_owned(),
            namespace: namespace.to_owned(),
            name: name.to_owned(),
        })?;
    let mut inventory = Inventory::default();
    let issuer_ref = &challenge.spec.issuer_ref;
    // The issuer only refines the CA's CAA domain and account URI: a missing or unreadable
    // one leaves the defaults, it does not stop the check.
    if issuer_ref.is_cluster() {
        let api: Api<ClusterIssuer> = Api::all(conn.client.clone());
        match api.get_opt(&issuer_ref.name).await {
            Ok(Some(i)) => inventory.cluster_issuers.push(i),
            Ok(None) => {}
            Err(e) => tracing::warn!("cannot read ClusterIssuer {}: {e}", issuer_ref.name),
        }
    } else {
        let api: Api<Issuer> = Api::namespaced(conn.client.clone(), namespace);
        match api.get_opt(&issuer_ref.name).await {
            Ok(Some(i)) => inventory.issuers.push(i),
            Ok(None) => {}
            Err(e) => tracing::warn!("cannot read Issuer {namespace}/{}: {e}", issuer_ref.name),
        }
    }
    inventory.challenges.push(challenge);
    inventory.slim();
    crate::model::redact::redact_inventory(&mut inventory);
    Ok(inventory)
}
