//! What the engine knows about an order, its authorizations and their challenges: plain data,
//! serialisable, so the state store can persist it and a later run can compare.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::error::AcmeProblem;

/// Defines a status enum serialised as the lowercase string RFC 8555 uses, with a catch-all
/// for statuses a server invents (Pebble's "deactivated" order is one; the next may be another).
macro_rules! status_enum {
    ($(#[$meta:meta])* $name:ident { $( $(#[$vmeta:meta])* $variant:ident = $text:literal, )* }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(from = "String", into = "String")]
        pub enum $name {
            $( $(#[$vmeta])* $variant, )*
            /// A status this client does not know, as the server spelt it.
            Other(String),
        }

        impl $name {
            /// The status as the server spells it.
            pub fn as_str(&self) -> &str {
                match self {
                    $( $name::$variant => $text, )*
                    $name::Other(s) => s,
                }
            }
        }

        impl From<String> for $name {
            fn from(s: String) -> $name {
                match s.as_str() {
                    $( $text => $name::$variant, )*
                    _ => $name::Other(s),
                }
            }
        }

        impl From<$name> for String {
            fn from(s: $name) -> String {
                s.as_str().to_owned()
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

status_enum! {
    /// An order's status (RFC 8555 section 7.1.6), plus Pebble 2.4.0's "deactivated".
    OrderStatus {
        /// Some authorization is still pending.
        Pending = "pending",
        /// Every authorization is valid: the order may be finalized.
        Ready = "ready",
        /// Finalized; the CA is issuing. Poll (honouring Retry-After) until valid.
        Processing = "processing",
        /// Issued: the certificate URL is set.
        Valid = "valid",
        /// Failed (an authorization failed, the order expired, or finalization failed).
        Invalid = "invalid",
        /// Pebble 2.4.0's status for an order one of whose authorizations was deactivated;
        /// as final as `invalid`.
        Deactivated = "deactivated",
    }
}

status_enum! {
    /// An authorization's status (RFC 8555 section 7.1.6).
    AuthzStatus {
        /// Waiting for a challenge to be answered and validated.
        Pending = "pending",
        /// Validated: the account may issue for the identifier.
        Valid = "valid",
        /// Validation failed.
        Invalid = "invalid",
        /// The client deactivated it.
        Deactivated = "deactivated",
        /// It expired before being validated, or its validity ran out.
        Expired = "expired",
        /// The server revoked it.
        Revoked = "revoked",
    }
}

status_enum! {
    /// A challenge's status (RFC 8555 section 7.1.6).
    ChallengeStatus {
        /// Not yet answered.
        Pending = "pending",
        /// The client said "ready"; the CA is validating.
        Processing = "processing",
        /// The CA validated it.
        Valid = "valid",
        /// The CA's validation failed; the challenge's error says why.
        Invalid = "invalid",
    }
}

status_enum! {
    /// A challenge type.
    ChallengeKind {
        /// HTTP-01: the key authorization at `/.well-known/acme-challenge/<token>` on port 80.
        Http01 = "http-01",
        /// DNS-01: the key authorization's digest in a TXT record at `_acme-challenge.<name>`.
        Dns01 = "dns-01",
        /// TLS-ALPN-01.
        TlsAlpn01 = "tls-alpn-01",
    }
}

impl OrderStatus {
    /// Whether the order can no longer change (issued, failed or deactivated).
    pub fn is_final(&self) -> bool {
        !matches!(
            self,
            OrderStatus::Pending | OrderStatus::Ready | OrderStatus::Processing
        )
    }
}

impl AuthzStatus {
    /// Whether the authorization can no longer change status except by expiring or revocation.
    pub fn is_final(&self) -> bool {
        !matches!(self, AuthzStatus::Pending)
    }
}

/// An order as the server last described it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderInfo {
    /// The order URL (its identity; what the store keeps to resume).
    pub url: String,
    /// The status the server reported.
    pub status: OrderStatus,
    /// The identifiers (`*.` prefix for wildcards), as the server lists them.
    pub identifiers: Vec<String>,
    /// The authorization URLs, one per identifier.
    pub authorizations: Vec<String>,
    /// The finalize URL.
    pub finalize: String,
    /// The certificate URL, once valid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate: Option<String>,
    /// When the order expires, if the server said.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<Timestamp>,
    /// The problem that made the order invalid, if the server gave one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<AcmeProblem>,
    /// The `Retry-After` of the response that described it: when to poll next.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<Timestamp>,
}

/// An authorization and its challenges.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthzInfo {
    /// The authorization URL.
    pub url: String,
    /// The identifier (without the `*.` of a wildcard: see `wildcard`).
    pub identifier: String,
    /// Whether the order asked for `*.identifier`.
    pub wildcard: bool,
    /// The status the server reported.
    pub status: AuthzStatus,
    /// The challenges offered.
    pub challenges: Vec<ChallengeInfo>,
}

impl AuthzInfo {
    /// The challenge of the given type, if the server offers it.
    pub fn challenge(&self, kind: &ChallengeKind) -> Option<&ChallengeInfo> {
        self.challenges.iter().find(|c| &c.kind == kind)
    }

    /// The validation error of the first challenge that has one.
    pub fn problem(&self) -> Option<&AcmeProblem> {
        self.challenges.iter().find_map(|c| c.error.as_ref())
    }

    /// The identifier as it appears in the order (`*.name` for a wildcard).
    pub fn ordered_name(&self) -> String {
        if self.wildcard {
            format!("*.{}", self.identifier)
        } else {
            self.identifier.clone()
        }
    }
}

/// One challenge, with the responses a solver publishes for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChallengeInfo {
    /// The challenge type.
    pub kind: ChallengeKind,
    /// The challenge URL (what "ready" is posted to).
    pub url: String,
    /// The token.
    pub token: String,
    /// The status the server reported.
    pub status: ChallengeStatus,
    /// Why validation failed, if it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<AcmeProblem>,
    /// The key authorization (`token.thumbprint`): the HTTP-01 response body. Not secret: the
    /// token and the account key's thumbprint are both public.
    pub key_authorization: String,
    /// The DNS-01 TXT value (base64url of the key authorization's SHA-256), for dns-01.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dns_txt_value: Option<String>,
}

impl ChallengeInfo {
    /// The HTTP-01 path: `/.well-known/acme-challenge/<token>`.
    pub fn http01_path(&self) -> String {
        format!("/.well-known/acme-challenge/{}", self.token)
    }

    /// The DNS-01 record name for `identifier`: `_acme-challenge.<identifier>`.
    pub fn dns01_name(identifier: &str) -> String {
        format!(
            "_acme-challenge.{}",
            identifier.trim_start_matches("*.").trim_end_matches('.')
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_round_trip_including_unknown_ones() {
        let s: OrderStatus = serde_json::from_str("\"deactivated\"").unwrap();
        assert_eq!(s, OrderStatus::Deactivated);
        assert!(s.is_final());
        let s: OrderStatus = serde_json::from_str("\"paused\"").unwrap();
        assert_eq!(s, OrderStatus::Other("paused".into()));
        assert_eq!(serde_json::to_string(&s).unwrap(), "\"paused\"");
        assert!(!OrderStatus::Processing.is_final());
        let k: ChallengeKind = serde_json::from_str("\"dns-01\"").unwrap();
        assert_eq!(k, ChallengeKind::Dns01);
        assert_eq!(k.to_string(), "dns-01");
    }

    #[test]
    fn names() {
        assert_eq!(
            ChallengeInfo::dns01_name("*.example.com."),
            "_acme-challenge.example.com"
        );
    }
}
