//! Which permission each write needs, and how it is named in messages.

use super::Action;
use crate::source::cluster::Resource;

/// Which permission an action needs, per namespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) enum Need {
    /// `delete orders.acme.cert-manager.io`.
    DeleteOrders,
    /// `update certificates.cert-manager.io/status`.
    UpdateCertificateStatus,
    /// `patch challenges.acme.cert-manager.io` (to remove cert-manager's finalizer).
    PatchChallenges,
}

impl Need {
    pub(super) const ALL: [Need; 3] = [
        Need::DeleteOrders,
        Need::UpdateCertificateStatus,
        Need::PatchChallenges,
    ];

    pub(super) fn of(action: &Action) -> (Need, &str) {
        match action {
            Action::RetryOrder { namespace, .. } => (Need::DeleteOrders, namespace),
            Action::RenewCertificate { namespace, .. } => {
                (Need::UpdateCertificateStatus, namespace)
            }
            Action::ReleaseChallenge { namespace, .. } => (Need::PatchChallenges, namespace),
        }
    }

    pub(super) fn verb(self) -> &'static str {
        match self {
            Need::DeleteOrders => "delete",
            Need::UpdateCertificateStatus => "update",
            Need::PatchChallenges => "patch",
        }
    }

    pub(super) fn resource(self) -> Resource {
        match self {
            Need::DeleteOrders => Resource::Orders,
            Need::UpdateCertificateStatus => Resource::Certificates,
            Need::PatchChallenges => Resource::Challenges,
        }
    }

    pub(super) fn subresource(self) -> Option<&'static str> {
        match self {
            Need::DeleteOrders | Need::PatchChallenges => None,
            Need::UpdateCertificateStatus => Some("status"),
        }
    }

    /// `delete orders.acme.cert-manager.io`, for messages.
    pub(super) fn words(self) -> String {
        format!(
            "{} {}{}",
            self.verb(),
            self.resource().qualified(),
            self.subresource()
                .map(|s| format!("/{s}"))
                .unwrap_or_default()
        )
    }
}
