//! The `CertificateRequest` resource (cert-manager.io/v1).

use jiff::Timestamp;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{Condition, IssuerRef};

/// Annotation naming the Certificate a request belongs to.
pub const CERTIFICATE_NAME_ANNOTATION: &str = "cert-manager.io/certificate-name";
/// Annotation carrying the Certificate revision a request was made for.
pub const REVISION_ANNOTATION: &str = "cert-manager.io/certificate-revision";

/// What a CertificateRequest asks for. The CSR itself is public but large and never needed
/// for a diagnosis, so it is not kept.
#[derive(CustomResource, Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "cert-manager.io",
    version = "v1",
    kind = "CertificateRequest",
    namespaced,
    status = "CertificateRequestStatus",
    shortname = "cr"
)]
#[serde(rename_all = "camelCase", default)]
pub struct CertificateRequestSpec {
    /// The issuer asked to sign.
    pub issuer_ref: IssuerRef,
    /// Requested lifetime.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration: Option<String>,
    /// Who created the request.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
}

/// What happened to a CertificateRequest. The signed certificate is not kept (see the spec).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", default)]
pub struct CertificateRequestStatus {
    /// `Ready`, `Approved`, `Denied`, `InvalidRequest`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// When the request failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure_time: Option<Timestamp>,
}
