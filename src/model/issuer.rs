//! The `Issuer` and `ClusterIssuer` resources (cert-manager.io/v1).

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::Condition;

/// An Issuer's spec: the shared [`IssuerConfig`].
#[derive(CustomResource, Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "cert-manager.io",
    version = "v1",
    kind = "Issuer",
    namespaced,
    status = "IssuerStatus"
)]
pub struct IssuerSpec {
    /// The configuration.
    #[serde(flatten)]
    pub config: IssuerConfig,
}

/// A ClusterIssuer's spec: the same [`IssuerConfig`], cluster-scoped.
#[derive(CustomResource, Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "cert-manager.io",
    version = "v1",
    kind = "ClusterIssuer",
    status = "IssuerStatus"
)]
pub struct ClusterIssuerSpec {
    /// The configuration.
    #[serde(flatten)]
    pub config: IssuerConfig,
}

/// An issuer's configuration. Only the ACME part is typed; other issuer types are kept opaque.
/// Secret references are names only: certdx never reads Secret data.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", default)]
pub struct IssuerConfig {
    /// ACME configuration, if this is an ACME issuer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub acme: Option<AcmeIssuer>,
    /// Present for CA issuers.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<serde_json::Map<String, serde_json::Value>>")]
    pub ca: Option<serde_json::Value>,
    /// Present for self-signed issuers.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<serde_json::Map<String, serde_json::Value>>")]
    pub self_signed: Option<serde_json::Value>,
    /// Present for Vault issuers.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<serde_json::Map<String, serde_json::Value>>")]
    pub vault: Option<serde_json::Value>,
}

/// An ACME issuer's settings.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", default)]
pub struct AcmeIssuer {
    /// The ACME directory URL.
    pub server: String,
    /// Account email.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Whether TLS verification of the ACME server is skipped.
    #[serde(skip_serializing_if = "Option::is_none", rename = "skipTLSVerify")]
    pub skip_tls_verify: Option<bool>,
    /// The preferred chain.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preferred_chain: Option<String>,
    /// The certificate profile asked of the CA in newOrder (cert-manager 1.18+, draft
    /// `acme-profiles`); `None` takes the CA's default profile.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    /// External account binding: only the key id and the Secret's name are kept.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external_account_binding: Option<ExternalAccountBinding>,
    /// Solvers, kept as-is (they hold references, never secret values).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    #[schemars(with = "Vec<serde_json::Map<String, serde_json::Value>>")]
    pub solvers: Vec<serde_json::Value>,
}

/// EAB settings; the HMAC key itself lives in a Secret certdx never reads.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", default)]
pub struct ExternalAccountBinding {
    /// The key id.
    #[serde(rename = "keyID")]
    pub key_id: String,
}

/// What cert-manager knows about an issuer.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", default)]
pub struct IssuerStatus {
    /// `Ready`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// ACME account details.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub acme: Option<AcmeIssuerStatus>,
}

/// The ACME account an issuer registered.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", default)]
pub struct AcmeIssuerStatus {
    /// The account URI (what CAA `accounturi` must name).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uri: Option<String>,
    /// The email last registered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_registered_email: Option<String>,
}
