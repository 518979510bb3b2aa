//! The API resources certdx reads or writes, and asking the server what the user may do with
//! them (SelfSubjectAccessReview, as `kubectl auth can-i` does).

use k8s_openapi::api::authorization::v1::{
    ResourceAttributes, SelfSubjectAccessReview, SelfSubjectAccessReviewSpec,
};
use kube::Api;
use kube::api::PostParams;

use super::ClusterError;

/// An API resource certdx touches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Resource {
    /// certificates.cert-manager.io
    Certificates,
    /// certificaterequests.cert-manager.io
    CertificateRequests,
    /// orders.acme.cert-manager.io
    Orders,
    /// challenges.acme.cert-manager.io
    Challenges,
    /// issuers.cert-manager.io
    Issuers,
    /// clusterissuers.cert-manager.io (cluster-scoped)
    ClusterIssuers,
    /// core events
    Events,
    /// core pods (the HTTP-01 solver, the cert-manager controller)
    Pods,
    /// core services (the HTTP-01 solver's)
    Services,
    /// ingresses.networking.k8s.io (the HTTP-01 solver's)
    Ingresses,
    /// networkpolicies.networking.k8s.io (what may block the solver)
    NetworkPolicies,
}

impl Resource {
    /// The cert-manager kinds and their Events: what the chain needs, in listing order.
    pub const CHAIN: [Resource; 7] = [
        Resource::Certificates,
        Resource::CertificateRequests,
        Resource::Orders,
        Resource::Challenges,
        Resource::Issuers,
        Resource::ClusterIssuers,
        Resource::Events,
    ];

    /// The API group (`""` for core).
    pub fn group(self) -> &'static str {
        match self {
            Resource::Certificates
            | Resource::CertificateRequests
            | Resource::Issuers
            | Resource::ClusterIssuers => "cert-manager.io",
            Resource::Orders | Resource::Challenges => "acme.cert-manager.io",
            Resource::Events | Resource::Pods | Resource::Services => "",
            Resource::Ingresses | Resource::NetworkPolicies => "networking.k8s.io",
        }
    }

    /// The plural resource name.
    pub fn plural(self) -> &'static str {
        match self {
            Resource::Certificates => "certificates",
            Resource::CertificateRequests => "certificaterequests",
            Resource::Orders => "orders",
            Resource::Challenges => "challenges",
            Resource::Issuers => "issuers",
            Resource::ClusterIssuers => "clusterissuers",
            Resource::Events => "events",
            Resource::Pods => "pods",
            Resource::Services => "services",
            Resource::Ingresses => "ingresses",
            Resource::NetworkPolicies => "networkpolicies",
        }
    }

    /// Whether objects of this resource live in a namespace.
    pub fn namespaced(self) -> bool {
        self != Resource::ClusterIssuers
    }

    /// `plural.group` as kubectl names it (`orders.acme.cert-manager.io`, `events`).
    pub fn qualified(self) -> String {
        if self.group().is_empty() {
            self.plural().to_owned()
        } else {
            format!("{}.{}", self.plural(), self.group())
        }
    }
}

impl std::fmt::Display for Resource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.qualified())
    }
}

/// Asks the server whether the current user may `verb` `resource` (optionally its
/// `subresource`) in `namespace` (`None`: all namespaces, or cluster-scoped). `Ok(Err(reason))`
/// carries the server's reason for a denial when it gives one.
pub async fn can_i(
    client: &kube::Client,
    verb: &str,
    resource: Resource,
    subresource: Option<&str>,
    namespace: Option<&str>,
) -> Result<Result<(), String>, ClusterError> {
    let review = SelfSubjectAccessReview {
        spec: SelfSubjectAccessReviewSpec {
            resource_attributes: Some(ResourceAttributes {
                group: Some(resource.group().to_owned()),
                resource: Some(resource.plural().to_owned()),
                subresource: subresource.map(str::to_owned),
                verb: Some(verb.to_owned()),
                namespace: namespace
                    .filter(|_| resource.namespaced())
                    .map(str::to_owned),
                ..ResourceAttributes::default()
            }),
            ..SelfSubjectAccessReviewSpec::default()
        },
        ..SelfSubjectAccessReview::default()
    };
    let api: Api<SelfSubjectAccessReview> = Api::all(client.clone());
    let answer = api
        .create(&PostParams::default(), &review)
        .await
        .map_err(|e| {
            ClusterError::from_kube(
                e,
                "create",
                "selfsubjectaccessreviews.authorization.k8s.io",
                None,
            )
        })?;
    let status = answer.status.unwrap_or_default();
    if status.allowed {
        Ok(Ok(()))
    } else {
        let what = format!(
            "{verb} {}{}",
            resource.qualified(),
            subresource.map(|s| format!("/{s}")).unwrap_or_default()
        );
        let place = match namespace.filter(|_| resource.namespaced()) {
            Some(ns) => format!(" in namespace {ns}"),
            None if resource.namespaced() => " in all namespaces".to_owned(),
            None => String::new(),
        };
        let why = status
            .reason
            .filter(|r| !r.is_empty())
            .map(|r| format!(": {r}"))
            .unwrap_or_default();
        Ok(Err(format!("RBAC does not allow {what}{place}{why}")))
    }
}
