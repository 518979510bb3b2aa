//! The `Order` resource (acme.cert-manager.io/v1).

use jiff::Timestamp;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::IssuerRef;

/// What an Order asks the ACME server for.
#[derive(CustomResource, Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "acme.cert-manager.io",
    version = "v1",
    kind = "Order",
    namespaced,
    status = "OrderStatus"
)]
#[serde(rename_all = "camelCase", default)]
pub struct OrderSpec {
    /// The ACME issuer.
    pub issuer_ref: IssuerRef,
    /// Common name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub common_name: Option<String>,
    /// DNS names in the order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub dns_names: Vec<String>,
    /// IP addresses in the order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ip_addresses: Vec<String>,
}

/// The ACME side of an Order, as cert-manager last saw it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", default)]
pub struct OrderStatus {
    /// The order URL at the ACME server.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// The finalize URL.
    #[serde(rename = "finalizeURL", skip_serializing_if = "Option::is_none")]
    pub finalize_url: Option<String>,
    /// ACME state: pending, ready, processing, valid, invalid, expired, errored.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    /// Why the order is in its state: often the ACME error text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The authorizations of the order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub authorizations: Vec<Authorization>,
    /// When the order failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure_time: Option<Timestamp>,
}

/// One authorization of an Order.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", default)]
pub struct Authorization {
    /// The authorization URL.
    pub url: String,
    /// The DNS name it authorises.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub identifier: Option<String>,
    /// Whether it is for a wildcard.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wildcard: Option<bool>,
    /// The state when the order was created.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub initial_state: Option<String>,
    /// The challenges the server offered.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub challenges: Vec<AcmeChallenge>,
}

/// A challenge offered in an authorization.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", default)]
pub struct AcmeChallenge {
    /// Challenge URL.
    pub url: String,
    /// Token.
    pub token: String,
    /// `http-01`, `dns-01`, `tls-alpn-01`.
    #[serde(rename = "type")]
    pub type_: String,
}
