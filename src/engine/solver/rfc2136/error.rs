//! [`Rfc2136Error`]: why a dynamic update did not happen, worded for the operator who must
//! fix the server's configuration. No variant carries the TSIG secret.

use std::net::SocketAddr;
use std::time::Duration;

/// Why `present`, `cleanup` or the zone lookup failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Rfc2136Error {
    /// The record name is not a DNS name.
    #[error("{name:?} is not a DNS name: {reason}")]
    InvalidName {
        /// The name as given.
        name: String,
        /// Why.
        reason: String,
    },
    /// A TXT value longer than one DNS character-string (255 bytes); ACME values are 43.
    #[error("TXT value of {len} bytes is longer than the 255 a DNS character-string holds")]
    ValueTooLong {
        /// Its length.
        len: usize,
    },
    /// The server could not be reached or the connection broke.
    #[error("talking to {server} over TCP: {source}")]
    Io {
        /// The server.
        server: SocketAddr,
        /// The operating system's reason.
        #[source]
        source: std::io::Error,
    },
    /// The server did not answer in time.
    #[error("{server} did not answer within {after:?}")]
    Timeout {
        /// The server.
        server: SocketAddr,
        /// The time allowed.
        after: Duration,
    },
    /// The answer was not a DNS message answering our question.
    #[error("{server} sent an answer certdx cannot use: {reason}")]
    Malformed {
        /// The server.
        server: SocketAddr,
        /// What was wrong.
        reason: String,
    },
    /// The server is authoritative for no zone holding the name.
    #[error(
        "{server} serves no zone containing {name} (asked for the SOA of every parent; last \
         answer {last_rcode}): point certdx at the zone's primary server"
    )]
    ZoneNotFound {
        /// The record name.
        name: String,
        /// The server.
        server: SocketAddr,
        /// The last response code seen, as dig prints it.
        last_rcode: String,
    },
    /// BADKEY: the server does not accept this key for this zone.
    #[error(
        "{server} does not accept TSIG key {key} ({algorithm}) for zone {zone} (NOTAUTH/BADKEY): \
         either it knows no key of that name and algorithm, or (knot) no acl of the zone lets \
         this key update it (`acl: [{{ key: {key}, action: update }}]`)"
    )]
    BadKey {
        /// The server.
        server: SocketAddr,
        /// The key's name.
        key: String,
        /// Its algorithm.
        algorithm: String,
        /// The zone.
        zone: String,
    },
    /// BADSIG: the server knows the key by name but the signature does not verify.
    #[error(
        "{server} rejected the update's TSIG signature (NOTAUTH/BADSIG): it knows key {key} but \
         with another secret than certdx's key file"
    )]
    BadSig {
        /// The server.
        server: SocketAddr,
        /// The key's name.
        key: String,
    },
    /// BADTIME: the clocks are too far apart.
    #[error(
        "{server} rejected the update's TSIG time (NOTAUTH/BADTIME): its clock says {server_time}, \
         ours {our_time} (Unix seconds), more than the {fudge} s allowed apart: fix the clocks (NTP)"
    )]
    BadTime {
        /// The server.
        server: SocketAddr,
        /// Our time when signing.
        our_time: u64,
        /// The server's time, from the response.
        server_time: u64,
        /// The allowed difference.
        fudge: u16,
    },
    /// Another TSIG error code.
    #[error("{server} rejected the update's TSIG record with error {code}")]
    TsigRejected {
        /// The server.
        server: SocketAddr,
        /// The TSIG error code.
        code: u16,
    },
    /// The server's answer carries a TSIG record that does not verify with our key: it may
    /// not be from the server at all.
    #[error("{server}'s answer has a TSIG signature that does not verify with key {key}: {reason}")]
    ResponseSignature {
        /// The server.
        server: SocketAddr,
        /// The key's name.
        key: String,
        /// hickory's reason.
        reason: String,
    },
    /// The server claimed success without signing: nothing proves the update happened.
    #[error(
        "{server} answered the signed update with an unsigned {rcode}: the answer cannot be trusted"
    )]
    UnsignedResponse {
        /// The server.
        server: SocketAddr,
        /// The response code.
        rcode: String,
    },
    /// REFUSED: the key is valid but the server's policy does not allow this update.
    #[error(
        "{server} refused the update of {name} in zone {zone} (REFUSED): its policy does not let \
         key {key} update it (knot: an acl with `action: update` and this key on the zone; \
         BIND: allow-update or update-policy)"
    )]
    Refused {
        /// The server.
        server: SocketAddr,
        /// The zone.
        zone: String,
        /// The record name.
        name: String,
        /// The key's name.
        key: String,
    },
    /// NOTAUTH without a TSIG error: the server is not the zone's primary.
    #[error(
        "{server} is not authoritative for zone {zone} (NOTAUTH): send updates to the zone's primary"
    )]
    NotAuth {
        /// The server.
        server: SocketAddr,
        /// The zone.
        zone: String,
    },
    /// Any other response code (SERVFAIL, NOTZONE, YXRRSET, ...).
    #[error("{server} answered {rcode} to the update of {name} in zone {zone}")]
    Rcode {
        /// The server.
        server: SocketAddr,
        /// The zone.
        zone: String,
        /// The record name.
        name: String,
        /// The response code, as dig prints it.
        rcode: String,
    },
}

impl Rfc2136Error {
    /// Whether the key or its use was rejected (BADKEY, BADSIG, BADTIME, another TSIG error,
    /// or REFUSED by policy): retrying changes nothing until the configuration is fixed.
    pub fn is_auth_failure(&self) -> bool {
        matches!(
            self,
            Rfc2136Error::BadKey { .. }
                | Rfc2136Error::BadSig { .. }
                | Rfc2136Error::BadTime { .. }
                | Rfc2136Error::TsigRejected { .. }
                | Rfc2136Error::Refused { .. }
        )
    }

    /// Whether trying again later may succeed (no answer, a broken connection, SERVFAIL).
    pub fn is_transient(&self) -> bool {
        match self {
            Rfc2136Error::Io { .. } | Rfc2136Error::Timeout { .. } => true,
            Rfc2136Error::Rcode { rcode, .. } => rcode == "SERVFAIL",
            _ => false,
        }
    }
}
