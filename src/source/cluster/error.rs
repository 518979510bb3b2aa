//! Why talking to the cluster failed, in words an on-call engineer can act on.

/// A failure reaching or reading the cluster.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClusterError {
    /// The kubeconfig could not be read or has no usable context.
    #[error("kubeconfig: {0}")]
    Kubeconfig(String),
    /// The API server did not answer.
    #[error("cannot reach the API server {server}: {reason}")]
    Unreachable {
        /// The server URL from the kubeconfig.
        server: String,
        /// What the connection attempt said.
        reason: String,
    },
    /// The API server rejected the credentials (HTTP 401).
    #[error(
        "the API server {server} rejected the credentials of context {context} (401 Unauthorized): the token or client certificate is wrong or expired"
    )]
    Unauthorized {
        /// The server URL.
        server: String,
        /// The kubeconfig context.
        context: String,
    },
    /// A request was denied (HTTP 403).
    #[error("forbidden: cannot {verb} {resource}{}: {message}", scope_words(.namespace))]
    Forbidden {
        /// The verb, e.g. `list`.
        verb: String,
        /// The resource, e.g. `orders.acme.cert-manager.io`.
        resource: String,
        /// The namespace, if the request was namespaced.
        namespace: Option<String>,
        /// The server's message.
        message: String,
    },
    /// cert-manager's CustomResourceDefinitions are not installed.
    #[error(
        "cert-manager is not installed in this cluster (or this context points at the wrong cluster): the API has no {0}"
    )]
    CrdsMissing(String),
    /// The object does not exist.
    #[error("{kind} {namespace}/{name} not found")]
    NotFound {
        /// The kind.
        kind: String,
        /// The namespace.
        namespace: String,
        /// The name.
        name: String,
    },
    /// Any other API failure.
    #[error("{context}: {}", kube_words(.source))]
    Api {
        /// What certdx was doing.
        context: String,
        /// The client's error.
        #[source]
        source: kube::Error,
    },
}

/// A client error in one line: the server's message and code rather than the whole Status.
fn kube_words(err: &kube::Error) -> String {
    match err {
        kube::Error::Api(s) => format!("{} ({} {})", s.message, s.code, s.reason),
        other => super::preflight::root_cause(other),
    }
}

fn scope_words(namespace: &Option<String>) -> String {
    match namespace {
        Some(ns) => format!(" in namespace {ns}"),
        None => " (cluster-wide)".to_owned(),
    }
}

impl ClusterError {
    /// Wraps a client error with what certdx was doing, turning 403 into `Forbidden` with the
    /// verb and resource named.
    pub fn from_kube(
        err: kube::Error,
        verb: &str,
        resource: &str,
        namespace: Option<&str>,
    ) -> ClusterError {
        match &err {
            kube::Error::Api(status) if status.code == 403 => ClusterError::Forbidden {
                verb: verb.to_owned(),
                resource: resource.to_owned(),
                namespace: namespace.map(str::to_owned),
                message: status.message.clone(),
            },
            _ => ClusterError::Api {
                context: format!(
                    "{verb} {resource}{}",
                    namespace.map(|n| format!(" in {n}")).unwrap_or_default()
                ),
                source: err,
            },
        }
    }

    /// The HTTP status the API answered with, if it answered.
    pub fn status_code(&self) -> Option<u16> {
        match self {
            ClusterError::Unauthorized { .. } => Some(401),
            ClusterError::Forbidden { .. } => Some(403),
            ClusterError::NotFound { .. } => Some(404),
            ClusterError::Api {
                source: kube::Error::Api(s),
                ..
            } => Some(s.code),
            _ => None,
        }
    }
}
