//! The `Challenge` resource (acme.cert-manager.io/v1).

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::IssuerRef;

/// One ACME challenge cert-manager is solving.
#[derive(CustomResource, Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "acme.cert-manager.io",
    version = "v1",
    kind = "Challenge",
    namespaced,
    status = "ChallengeStatus"
)]
#[serde(rename_all = "camelCase", default)]
pub struct ChallengeSpec {
    /// Challenge URL at the ACME server.
    pub url: String,
    /// Authorization URL.
    #[serde(rename = "authorizationURL")]
    pub authorization_url: String,
    /// The name being validated (without `*.`).
    pub dns_name: String,
    /// Whether the authorization is for a wildcard.
    pub wildcard: bool,
    /// `HTTP-01` or `DNS-01`.
    #[serde(rename = "type")]
    pub type_: String,
    /// The challenge token (the HTTP-01 path segment).
    pub token: String,
    /// The key authorization (HTTP-01 body) or its digest (DNS-01 TXT value). Public by design:
    /// it is what the challenge serves to the world.
    pub key: String,
    /// The solver configuration chosen for this challenge, kept as-is.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<serde_json::Map<String, serde_json::Value>>")]
    pub solver: Option<serde_json::Value>,
    /// The issuer.
    pub issuer_ref: IssuerRef,
}

/// The solving progress of a Challenge.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", default)]
pub struct ChallengeStatus {
    /// Whether cert-manager's scheduler has picked it (it then counts against the limit).
    pub processing: bool,
    /// Whether the solver has presented the record / token.
    pub presented: bool,
    /// The last reason: the self-check error or the ACME error.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// ACME state: pending, processing, valid, invalid, expired, errored.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
}

impl Challenge {
    /// Whether this is a DNS-01 challenge.
    pub fn is_dns01(&self) -> bool {
        self.spec.type_.eq_ignore_ascii_case("dns-01")
    }

    /// Whether this is an HTTP-01 challenge.
    pub fn is_http01(&self) -> bool {
        self.spec.type_.eq_ignore_ascii_case("http-01")
    }
}
