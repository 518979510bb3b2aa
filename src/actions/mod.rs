//! Guarded cluster writes: retry by intent ([`retry`] picks the write), renew a Certificate.
//!
//! This module holds the interface the interactive view and the CLI use. Every write is
//! described before it is made, so the engineer confirms exactly what will change, and every
//! source that cannot write (a snapshot, the demo) says why instead of failing late.
//!
//! [`kube`] is the implementation on a live cluster ([`kube::KubeActions`]).

pub mod attempt;
pub mod kube;
pub mod retry;
pub mod target;

use futures::future::BoxFuture;

/// A write certdx can make to the cluster.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Action {
    /// Delete a failed Order so cert-manager creates a new one.
    RetryOrder {
        /// The Order's namespace.
        namespace: String,
        /// The Order's name.
        name: String,
    },
    /// Remove cert-manager's finalizer from a Challenge stuck in deletion, so the API server
    /// deletes it and it stops blocking new Challenges for its name.
    ReleaseChallenge {
        /// The Challenge's namespace.
        namespace: String,
        /// The Challenge's name.
        name: String,
    },
    /// Trigger re-issuance of a Certificate (Issuing=True, reason ManuallyTriggered).
    RenewCertificate {
        /// The Certificate's namespace.
        namespace: String,
        /// The Certificate's name.
        name: String,
    },
}

impl Action {
    /// A short imperative label, e.g. `retry Order shop/www-1-123`.
    pub fn label(&self) -> String {
        match self {
            Action::RetryOrder { namespace, name } => format!("retry Order {namespace}/{name}"),
            Action::ReleaseChallenge { namespace, name } => {
                format!("release Challenge {namespace}/{name}")
            }
            Action::RenewCertificate { namespace, name } => {
                format!("renew Certificate {namespace}/{name}")
            }
        }
    }
}

impl std::fmt::Display for Action {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.label())
    }
}

/// Performs [`Action`]s. Implementations must be cheap to query: `availability` and
/// `describe` are called from the interactive view's update step, which must not block.
pub trait Actions: Send + Sync {
    /// Whether `action` can be performed now; `Err` carries the reason shown to the user.
    fn availability(&self, action: &Action) -> Result<(), String>;

    /// Exactly what performing `action` will change, in words for a confirmation dialog.
    fn describe(&self, action: &Action) -> String;

    /// Performs `action`; `Ok` is a one-line outcome, `Err` a one-line reason it failed.
    fn perform(&self, action: Action) -> BoxFuture<'static, Result<String, String>>;

    /// Learns in the background what `availability` needs for `namespaces` (e.g. the user's
    /// permissions), so it can answer without blocking. The view spawns it at start; sources
    /// with nothing to learn keep this default, which does nothing.
    fn prefetch(&self, _namespaces: Vec<String>) -> BoxFuture<'static, ()> {
        Box::pin(async {})
    }
}

/// Actions for a source that cannot write: every action is disabled with the same reason
/// (e.g. `snapshot: read-only source`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unavailable(pub String);

impl Actions for Unavailable {
    fn availability(&self, _action: &Action) -> Result<(), String> {
        Err(self.0.clone())
    }

    fn describe(&self, action: &Action) -> String {
        match action {
            Action::RetryOrder { namespace, name } => format!(
                "Delete Order {namespace}/{name}; cert-manager then creates a new Order for the same CertificateRequest."
            ),
            Action::RenewCertificate { namespace, name } => format!(
                "Set condition Issuing=True (reason ManuallyTriggered) on Certificate {namespace}/{name}; cert-manager then issues a new revision."
            ),
            Action::ReleaseChallenge { namespace, name } => format!(
                "Remove cert-manager's finalizer from Challenge {namespace}/{name}; the API server then deletes it."
            ),
        }
    }

    fn perform(&self, _action: Action) -> BoxFuture<'static, Result<String, String>> {
        // Refuse even when called directly: the reason is the same as availability's.
        let reason = self.0.clone();
        Box::pin(async move { Err(reason) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unavailable_refuses_everything_with_its_reason() {
        let a = Unavailable("snapshot: read-only source".to_owned());
        let act = Action::RetryOrder {
            namespace: "shop".into(),
            name: "www-1".into(),
        };
        assert_eq!(
            a.availability(&act),
            Err("snapshot: read-only source".to_owned())
        );
        assert!(a.describe(&act).contains("Delete Order shop/www-1"));
        let out = futures::executor::block_on(a.perform(act));
        assert_eq!(out, Err("snapshot: read-only source".to_owned()));
    }
}
