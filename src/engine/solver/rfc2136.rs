//! The RFC 2136 DNS-01 solver: TXT records added and deleted by dynamic updates signed with
//! TSIG (RFC 8945), sent to the zone's primary server (BIND, Knot, PowerDNS, ...).
//!
//! - [`TsigKey`]: the key, read from a BIND or Knot key file. A file that group or others
//!   may read or write is refused, not merely warned about (as ssh refuses such a private
//!   key): a TSIG secret lets its reader rewrite the zone, and a warning scrolls away in a
//!   batch's output. `TsigKey::parse` takes key text from elsewhere without that check.
//! - [`Rfc2136Solver`]: `present` adds one TXT RR, `cleanup` deletes exactly that RR (other
//!   values at the same name, such as a wildcard's and its base name's, stay).
//!
//! Signing and verification are hickory-proto's TSIG (its `dnssec-ring` feature: HMAC on
//! ring, like the rest of certdx's crypto). Every answer is judged before it is believed: a
//! NOERROR counts only with a TSIG that verifies, and BADKEY, BADSIG, BADTIME, REFUSED and
//! NOTAUTH each get their own error saying what to fix. (Knot answers BADKEY both for a key
//! it does not know and for a known key no acl of the zone allows, so that error names both.)

mod error;
mod key;
mod keyfile;
mod update;
mod wire;
mod zone;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::Duration;

use hickory_proto::rr::Name;

pub use error::Rfc2136Error;
pub use key::{FUDGE_SECS, TsigAlgorithm, TsigKey, TsigKeyError};

use update::{Change, Context, signed_update};
use wire::exchange;
use zone::find_zone;

/// How long one question to the server may take, unless [`Rfc2136Solver::with_timeout`].
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);
/// The longest value one TXT character-string holds.
const MAX_TXT_LEN: usize = 255;

/// Publishes and withdraws DNS-01 TXT records on one server with one key.
#[derive(Debug)]
pub struct Rfc2136Solver {
    server: SocketAddr,
    key: TsigKey,
    timeout: Duration,
    /// Record name -> zone, so `cleanup` and repeated names cost no SOA walk.
    zones: Mutex<HashMap<Name, Name>>,
}

impl Rfc2136Solver {
    /// A solver sending updates to `server` (the zone's primary, usually port 53) signed
    /// with `key`.
    pub fn new(server: SocketAddr, key: TsigKey) -> Rfc2136Solver {
        Rfc2136Solver {
            server,
            key,
            timeout: DEFAULT_TIMEOUT,
            zones: Mutex::new(HashMap::new()),
        }
    }

    /// Bounds every question (SOA walk steps and updates alike) by `timeout`.
    pub fn with_timeout(mut self, timeout: Duration) -> Rfc2136Solver {
        self.timeout = timeout;
        self
    }

    /// The server updates go to.
    pub fn server(&self) -> SocketAddr {
        self.server
    }

    /// The key updates are signed with.
    pub fn key(&self) -> &TsigKey {
        &self.key
    }

    /// The zone holding `fqdn` on the server (SOA questions from `fqdn` up, remembered).
    pub async fn zone_of(&self, fqdn: &str) -> Result<Name, Rfc2136Error> {
        let name = parse_name(fqdn)?;
        self.zone_for(&name).await
    }

    /// Adds the TXT RR `value` at `fqdn` with `ttl` seconds. Adding a value already there
    /// succeeds and changes nothing (RFC 2136 ignores duplicates).
    pub async fn present(&self, fqdn: &str, value: &str, ttl: u32) -> Result<(), Rfc2136Error> {
        self.update(fqdn, value, Change::Add(ttl)).await
    }

    /// Deletes the TXT RR `value` at `fqdn`, leaving other values. Deleting a value that is
    /// not there succeeds (RFC 2136 ignores it), so cleanup can always be retried.
    pub async fn cleanup(&self, fqdn: &str, value: &str) -> Result<(), Rfc2136Error> {
        self.update(fqdn, value, Change::Delete).await
    }

    async fn update(&self, fqdn: &str, value: &str, change: Change) -> Result<(), Rfc2136Error> {
        if value.len() > MAX_TXT_LEN {
            return Err(Rfc2136Error::ValueTooLong { len: value.len() });
        }
        let name = parse_name(fqdn)?;
        let zone = self.zone_for(&name).await?;
        let update = signed_update(self.server, &self.key, &zone, &name, value, change)?;
        let raw = exchange(self.server, &update.bytes, update.id, self.timeout).await?;
        let cx = Context {
            server: self.server,
            key: &self.key,
            zone: &zone,
            name: &name,
        };
        let result = update.check_answer(&cx, &raw);
        match &result {
            Ok(()) => {
                tracing::debug!(%name, %zone, ?change, server = %self.server, "RFC 2136 update applied")
            }
            Err(e) => tracing::debug!(%name, %zone, ?change, error = %e, "RFC 2136 update failed"),
        }
        result
    }

    async fn zone_for(&self, name: &Name) -> Result<Name, Rfc2136Error> {
        if let Some(zone) = self.cache().get(name) {
            return Ok(zone.clone());
        }
        let zone = find_zone(self.server, name, self.timeout).await?;
        self.cache().insert(name.clone(), zone.clone());
        Ok(zone)
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, HashMap<Name, Name>> {
        // The map only ever holds complete entries, so a poisoned one is still right.
        self.zones
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// `fqdn` as an absolute, lower-case name (a missing trailing dot is implied).
fn parse_name(fqdn: &str) -> Result<Name, Rfc2136Error> {
    let invalid = |reason: String| Rfc2136Error::InvalidName {
        name: fqdn.to_owned(),
        reason,
    };
    let trimmed = fqdn.trim();
    if trimmed.is_empty() || trimmed == "." {
        return Err(invalid("empty".to_owned()));
    }
    let mut name = Name::from_ascii(trimmed).map_err(|e| invalid(e.to_string()))?;
    name.set_fqdn(true);
    Ok(name.to_lowercase())
}
