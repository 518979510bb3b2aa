//! What `cmctl check api` does and a little more: is the API reachable, are the credentials
//! accepted, is cert-manager installed, and which kinds may this user read. Each failure is a
//! specific sentence; whatever can still be read is read.

use futures::future::join_all;

use super::resource::can_i;
use super::{ClusterError, Connection, Resource};

/// What the preflight found.
#[derive(Debug, Clone, Default)]
pub struct Preflight {
    /// The API server's version, e.g. `v1.20.2`.
    pub server_version: String,
    /// The kinds the user may list and watch in the scope, in [`Resource::CHAIN`] order.
    pub readable: Vec<Resource>,
    /// Everything that limits what can be shown, one sentence each.
    pub problems: Vec<String>,
}

impl Preflight {
    /// Whether `resource` may be listed and watched.
    pub fn can_read(&self, resource: Resource) -> bool {
        self.readable.contains(&resource)
    }

    /// What a full read in `scope` covers: a kind the user may list is read in full, so an
    /// issuer missing from it does not exist; a kind they may not list proves nothing.
    pub fn listing(&self, scope: &super::Scope) -> crate::model::Listing {
        use crate::model::Coverage;
        let in_scope = |readable: bool| match (readable, scope) {
            (false, _) => Coverage::Unknown,
            (true, super::Scope::All) => Coverage::All,
            (true, super::Scope::Namespace(ns)) => Coverage::Namespace(ns.clone()),
        };
        let issuers = in_scope(self.can_read(Resource::Issuers));
        let chain = in_scope(
            [
                Resource::CertificateRequests,
                Resource::Orders,
                Resource::Challenges,
            ]
            .into_iter()
            .all(|r| self.can_read(r)),
        );
        let cluster_issuers = if self.can_read(Resource::ClusterIssuers) {
            Coverage::All
        } else {
            Coverage::Unknown
        };
        crate::model::Listing {
            issuers,
            cluster_issuers,
            chain,
        }
    }
}

/// The cert-manager API groups and the kinds each must serve.
const GROUPS: [(&str, &[&str]); 2] = [
    (
        "cert-manager.io/v1",
        &[
            "certificates",
            "certificaterequests",
            "issuers",
            "clusterissuers",
        ],
    ),
    ("acme.cert-manager.io/v1", &["orders", "challenges"]),
];

/// Runs the preflight. `Err` when nothing useful can be shown: the API is unreachable, the
/// credentials are rejected, cert-manager is not installed, or no cert-manager kind may be
/// read; otherwise the problems are listed in the result.
pub async fn preflight(conn: &Connection) -> Result<Preflight, ClusterError> {
    let client = &conn.client;
    let version = client
        .apiserver_version()
        .await
        .map_err(|e| reach_error(conn, e))?;
    let mut problems = Vec::new();
    let mut missing = Vec::new();
    for (group_version, kinds) in GROUPS {
        match client.list_api_group_resources(group_version).await {
            Ok(list) => {
                let absent: Vec<&str> = kinds
                    .iter()
                    .filter(|k| !list.resources.iter().any(|r| r.name == **k))
                    .copied()
                    .collect();
                if !absent.is_empty() {
                    problems.push(format!(
                        "the API group {group_version} does not serve {} (cert-manager's CRDs are incomplete)",
                        absent.join(", ")
                    ));
                }
            }
            Err(kube::Error::Api(s)) if s.code == 404 => missing.push(group_version),
            Err(e) => return Err(reach_error(conn, e)),
        }
    }
    if missing.len() == GROUPS.len() {
        return Err(ClusterError::CrdsMissing(format!(
            "{} (context {}, server {})",
            missing.join(" or "),
            conn.context,
            conn.server
        )));
    }
    for group_version in &missing {
        problems.push(format!(
            "the API has no {group_version}: cert-manager's CRDs are only partly installed"
        ));
    }
    let namespace = conn.scope.namespace();
    let reviews = Resource::CHAIN.map(|r| async move {
        let list = can_i(client, "list", r, None, namespace).await;
        let watch = can_i(client, "watch", r, None, namespace).await;
        (r, list, watch)
    });
    let mut readable = Vec::new();
    for (resource, list, watch) in join_all(reviews).await {
        let group_missing = missing
            .iter()
            .any(|g| g.split('/').next() == Some(resource.group()));
        if group_missing {
            continue;
        }
        match (list?, watch?) {
            (Ok(()), Ok(())) => readable.push(resource),
            (Err(why), _) | (_, Err(why)) => problems.push(why),
        }
    }
    let chain_readable = [
        Resource::Certificates,
        Resource::CertificateRequests,
        Resource::Orders,
        Resource::Challenges,
    ]
    .iter()
    .any(|r| readable.contains(r));
    if !chain_readable {
        return Err(ClusterError::Forbidden {
            verb: "list".to_owned(),
            resource: "certificates.cert-manager.io (and every other cert-manager kind)".to_owned(),
            namespace: namespace.map(str::to_owned),
            message: format!(
                "the credentials of context {} may not read cert-manager objects: see the README's RBAC section",
                conn.context
            ),
        });
    }
    Ok(Preflight {
        server_version: version.git_version,
        readable,
        problems,
    })
}

/// Turns the first request's failure into "unreachable" or "credentials rejected".
fn reach_error(conn: &Connection, err: kube::Error) -> ClusterError {
    match err {
        kube::Error::Api(s) if s.code == 401 => ClusterError::Unauthorized {
            server: conn.server.clone(),
            context: conn.context.clone(),
        },
        kube::Error::Api(s) => ClusterError::Api {
            context: format!("asking {} for its version", conn.server),
            source: kube::Error::Api(s),
        },
        other => ClusterError::Unreachable {
            server: conn.server.clone(),
            reason: root_cause(&other),
        },
    }
}

/// The innermost cause of a client error: "connection refused" rather than a wrapper chain.
pub(crate) fn root_cause(err: &(dyn std::error::Error + 'static)) -> String {
    let mut cause: &(dyn std::error::Error + 'static) = err;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}
