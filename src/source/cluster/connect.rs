//! Kubeconfig handling like kubectl: `--kubeconfig` or `KUBECONFIG` (several files merged) or
//! `~/.kube/config`, `--context`, and the namespace scope from `-n`, `-A` or the context.

use std::path::PathBuf;

use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};

use super::ClusterError;

/// Which cluster and namespaces the user asked for, as on kubectl's command line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClusterTarget {
    /// `--kubeconfig`; `None` reads `KUBECONFIG` or `~/.kube/config` as kubectl does.
    pub kubeconfig: Option<PathBuf>,
    /// `--context`; `None` uses the kubeconfig's current context.
    pub context: Option<String>,
    /// `-n`.
    pub namespace: Option<String>,
    /// `-A`.
    pub all_namespaces: bool,
}

/// Which namespaces are read.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Scope {
    /// Every namespace (`-A`).
    All,
    /// One namespace.
    Namespace(String),
}

impl Scope {
    /// The namespace, or `None` for all.
    pub fn namespace(&self) -> Option<&str> {
        match self {
            Scope::All => None,
            Scope::Namespace(ns) => Some(ns),
        }
    }
}

impl std::fmt::Display for Scope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Scope::All => f.write_str("all namespaces"),
            Scope::Namespace(ns) => write!(f, "namespace {ns}"),
        }
    }
}

/// A client for the chosen context, with what it points at.
#[derive(Clone)]
pub struct Connection {
    /// The client (cheap to clone).
    pub client: Client,
    /// The context's name, for labels and messages.
    pub context: String,
    /// The API server URL.
    pub server: String,
    /// The namespaces read.
    pub scope: Scope,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("context", &self.context)
            .field("server", &self.server)
            .field("scope", &self.scope)
            .finish_non_exhaustive()
    }
}

impl Connection {
    /// `context (server), scope`, for the view's title and report headers.
    pub fn label(&self) -> String {
        format!("{} ({}), {}", self.context, self.server, self.scope)
    }
}

/// Builds a client for `target`. Nothing is sent to the server yet: the preflight does that.
pub async fn connect(target: &ClusterTarget) -> Result<Connection, ClusterError> {
    let kubeconfig = match &target.kubeconfig {
        Some(path) => Kubeconfig::read_from(path)
            .map_err(|e| ClusterError::Kubeconfig(format!("{}: {e}", path.display())))?,
        None => Kubeconfig::read().map_err(|e| {
            ClusterError::Kubeconfig(format!(
                "{e} (set KUBECONFIG, pass --kubeconfig, or use --snapshot PATH / certdx demo)"
            ))
        })?,
    };
    let context = match &target.context {
        Some(c) => c.clone(),
        None => kubeconfig.current_context.clone().ok_or_else(|| {
            ClusterError::Kubeconfig("no current-context is set: pass --context".to_owned())
        })?,
    };
    let Some(named) = kubeconfig.contexts.iter().find(|c| c.name == context) else {
        let known: Vec<&str> = kubeconfig
            .contexts
            .iter()
            .map(|c| c.name.as_str())
            .collect();
        return Err(ClusterError::Kubeconfig(format!(
            "no context named {context:?} (known: {})",
            if known.is_empty() {
                "none".to_owned()
            } else {
                known.join(", ")
            }
        )));
    };
    let context_namespace = named.context.as_ref().and_then(|c| c.namespace.clone());
    let options = KubeConfigOptions {
        context: Some(context.clone()),
        ..KubeConfigOptions::default()
    };
    let config = Config::from_custom_kubeconfig(kubeconfig, &options)
        .await
        .map_err(|e| ClusterError::Kubeconfig(format!("context {context}: {e}")))?;
    let server = config.cluster_url.to_string();
    let client = Client::try_from(config)
        .map_err(|e| ClusterError::Kubeconfig(format!("context {context}: {e}")))?;
    let scope = if target.all_namespaces {
        Scope::All
    } else {
        Scope::Namespace(
            target
                .namespace
                .clone()
                .or(context_namespace)
                .unwrap_or_else(|| "default".to_owned()),
        )
    };
    Ok(Connection {
        client,
        context,
        server,
        scope,
    })
}
