//! The `Certificate` resource (cert-manager.io/v1).

use jiff::Timestamp;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{Condition, IssuerRef};

/// What a Certificate asks for: the fields a diagnosis needs; unknown fields are ignored.
#[derive(CustomResource, Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "cert-manager.io",
    version = "v1",
    kind = "Certificate",
    namespaced,
    status = "CertificateStatus",
    shortname = "cert"
)]
#[serde(rename_all = "camelCase", default)]
pub struct CertificateSpec {
    /// The Secret the signed certificate is written to.
    pub secret_name: String,
    /// Common name, if set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub common_name: Option<String>,
    /// DNS names the certificate covers.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub dns_names: Vec<String>,
    /// IP addresses the certificate covers.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ip_addresses: Vec<String>,
    /// The issuer that signs it.
    pub issuer_ref: IssuerRef,
    /// Requested lifetime, e.g. `2160h`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration: Option<String>,
    /// How long before expiry to renew.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub renew_before: Option<String>,
    /// How long before expiry to renew, as a percentage of the lifetime (cert-manager 1.15+;
    /// `renewBefore` wins when both are set).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub renew_before_percentage: Option<i32>,
    /// Key usages asked for (`server auth`, `client auth`, `digital signature`, ...); empty
    /// means cert-manager's default (digital signature, key encipherment, server auth).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub usages: Vec<String>,
    /// How many old CertificateRequests cert-manager keeps.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revision_history_limit: Option<i32>,
}

/// What cert-manager last observed about a Certificate.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", default)]
pub struct CertificateStatus {
    /// `Ready` and `Issuing`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// When the last issuance failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_failure_time: Option<Timestamp>,
    /// Consecutive failed issuance attempts (drives the backoff).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failed_issuance_attempts: Option<u32>,
    /// Start of the current certificate's validity.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub not_before: Option<Timestamp>,
    /// End of the current certificate's validity.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub not_after: Option<Timestamp>,
    /// When cert-manager will renew.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub renewal_time: Option<Timestamp>,
    /// The revision of the current certificate (matches CertificateRequests' revision annotation).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revision: Option<u32>,
    /// The Secret holding the next private key while issuing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_private_key_secret_name: Option<String>,
}
