//! Pieces shared by every cert-manager resource: conditions and issuer references.

use jiff::Timestamp;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A status condition (`Ready`, `Issuing`, `Approved`, `Denied`, `InvalidRequest`, ...).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", default)]
pub struct Condition {
    /// Condition type, e.g. `Ready`.
    #[serde(rename = "type")]
    pub type_: String,
    /// `True`, `False` or `Unknown`.
    pub status: String,
    /// Machine-readable reason, e.g. `Failed`, `Pending`, `ManuallyTriggered`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Human-readable message: what `explain` reads.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// When the status last changed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_transition_time: Option<Timestamp>,
    /// The generation the condition was computed for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
}

impl Condition {
    /// Whether the condition's status is `True`.
    pub fn is_true(&self) -> bool {
        self.status.eq_ignore_ascii_case("true")
    }

    /// Whether the condition's status is `False`.
    pub fn is_false(&self) -> bool {
        self.status.eq_ignore_ascii_case("false")
    }
}

/// Finds a condition by type in a list of conditions.
pub fn condition<'a>(conditions: &'a [Condition], type_: &str) -> Option<&'a Condition> {
    conditions.iter().find(|c| c.type_ == type_)
}

/// A reference to the Issuer or ClusterIssuer that signs a request.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", default)]
pub struct IssuerRef {
    /// Name of the issuer.
    pub name: String,
    /// `Issuer` (the default) or `ClusterIssuer`, or an external issuer's kind.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// API group; empty or `cert-manager.io` for cert-manager's own issuers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
}

impl IssuerRef {
    /// Whether this points at a ClusterIssuer rather than a namespaced Issuer.
    pub fn is_cluster(&self) -> bool {
        self.kind.as_deref() == Some("ClusterIssuer")
    }

    /// Whether the issuer is one of cert-manager's own kinds (not an external issuer).
    pub fn is_cert_manager(&self) -> bool {
        matches!(
            self.group.as_deref(),
            None | Some("") | Some("cert-manager.io")
        ) && matches!(
            self.kind.as_deref(),
            None | Some("") | Some("Issuer") | Some("ClusterIssuer")
        )
    }
}
