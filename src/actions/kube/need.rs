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
}

impl Need {
    pub(super) const ALL: [Need; 2] = [Need::DeleteOrders, Need::UpdateCertificateStatus];

    pub(super) fn of(action: &Action) -> (Need, &str) {
        match action {
            Action::RetryOrder { namespace, .. } => (Need::DeleteOrders, namespace),
            Action::RenewCertificate { namespace, .. } => {
                (Need::UpdateCertificateStatus, namespace)
            }
        }
    }

    pub(super) fn verb(self) -> &'static str {
        match self {
            Need::DeleteOrders => "delete",
            Need::UpdateCertificateStatus => "update",
        }
    }

    pub(super) fn resource(self) -> Resource {
        match self {
            Need::DeleteOrders => Resource::Orders,
            Need::UpdateCertificateStatus => Resource::Certificates,
        }
    }

    pub(super) fn subresource(self) -> Option<&'static str> {
        match self {
            Need::DeleteOrders => None,
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
