//! What can go wrong with the embedded DNS-01 server and its names.

use std::io;
use std::net::SocketAddr;

/// Why a zone could not be configured, a name could not be placed in it, or the server could
/// not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Dns01Error {
    /// A name (zone, nameserver, record owner or identifier) is not a valid DNS name.
    #[error("{name:?} is not a valid DNS name: {reason}")]
    InvalidName {
        /// The name as given.
        name: String,
        /// Why it was rejected.
        reason: String,
    },
    /// A record was asked for outside the zone the server is authoritative for: nobody would
    /// ever be sent there to look for it.
    #[error("{name} is outside the zone {zone} served by certdx")]
    OutsideZone {
        /// The record's owner.
        name: String,
        /// The served zone.
        zone: String,
    },
    /// A TXT value longer than one DNS character-string (255 bytes); ACME values are 43.
    #[error("TXT value of {len} bytes is longer than the 255 a DNS character-string holds")]
    ValueTooLong {
        /// Its length in bytes.
        len: usize,
    },
    /// The identifier's name inside the zone would exceed DNS's 255-octet limit.
    #[error(
        "{identifier} placed under {zone} would exceed the 255-octet limit of a DNS name; \
         use a shorter zone"
    )]
    NameTooLong {
        /// The identifier.
        identifier: String,
        /// The zone.
        zone: String,
    },
    /// The UDP or TCP listener could not be bound (in use, no permission for port 53, not a
    /// local address).
    #[error("cannot listen for DNS on {addr} ({protocol}): {source}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// `UDP` or `TCP`.
        protocol: &'static str,
        /// The operating system's reason.
        #[source]
        source: io::Error,
    },
}

impl Dns01Error {
    /// Whether the listener could not be bound (as opposed to a configuration mistake).
    pub fn is_bind(&self) -> bool {
        matches!(self, Dns01Error::Bind { .. })
    }
}
