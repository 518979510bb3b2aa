//! [`delegated_name`]: where an identifier's DNS-01 TXT lives inside certdx's zone, and the
//! CNAME that sends the CA there.

use std::fmt;

use hickory_proto::rr::Name;

use super::error::Dns01Error;
use super::zone::parse_name;

/// The label a CA prefixes to the identifier (RFC 8555 section 8.4).
const CHALLENGE_LABEL: &str = "_acme-challenge";
/// The longest name in wire format (RFC 1035 section 3.1).
const MAX_NAME_OCTETS: usize = 255;

/// One identifier's place in the delegated zone.
///
/// The user creates, once per identifier, the record [`Delegation::cname_record`] prints:
/// `_acme-challenge.www.example.com. CNAME www.example.com.acme.example.net.`; certdx then
/// publishes the TXT at [`Delegation::target`] for every issuance, without write access to
/// `example.com`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delegation {
    /// The identifier, lower case, without a wildcard's `*.` (`www.example.com.`).
    pub identifier: Name,
    /// Where the CA looks, and the owner of the user's CNAME (`_acme-challenge.www.example.com.`).
    pub challenge: Name,
    /// Where certdx publishes the TXT (`www.example.com.acme.example.net.`).
    pub target: Name,
}

impl Delegation {
    /// The CNAME the user must create, in zone-file syntax.
    pub fn cname_record(&self) -> String {
        format!("{} CNAME {}", self.challenge, self.target)
    }
}

impl fmt::Display for Delegation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.cname_record())
    }
}

/// Where the TXT for `identifier` goes inside `zone`: the identifier's own labels followed by
/// the zone (`www.example.com` in `acme.example.net` -> `www.example.com.acme.example.net.`).
///
/// Deterministic and readable, so the CNAME can be created before certdx ever runs and an
/// operator can tell whose record is whose. A wildcard maps to its base name, as ACME
/// validates `*.example.com` at `_acme-challenge.example.com`; both then share one name and
/// the server holds both values at once. Case is folded. Fails when the result would exceed
/// 255 octets (a long identifier under a long zone).
pub fn delegated_name(identifier: &str, zone: &Name) -> Result<Delegation, Dns01Error> {
    let raw = identifier.trim();
    let base = raw.strip_prefix("*.").unwrap_or(raw);
    let invalid = |reason: &str| Dns01Error::InvalidName {
        name: identifier.to_owned(),
        reason: reason.to_owned(),
    };
    let name = parse_name(base)?;
    if name.is_root() {
        return Err(invalid("an identifier needs at least one label"));
    }
    if name.iter().any(|label| label == b"*") {
        return Err(invalid("a wildcard may only be the first label"));
    }
    let challenge = Name::from_ascii(CHALLENGE_LABEL)
        .and_then(|l| l.append_domain(&name))
        .map_err(|e| invalid(&e.to_string()))?;
    if wire_len(&challenge) > MAX_NAME_OCTETS {
        return Err(invalid(
            "its _acme-challenge name exceeds 255 octets: DNS-01 cannot validate it",
        ));
    }
    let mut relative = name.clone();
    relative.set_fqdn(false);
    let too_long = || Dns01Error::NameTooLong {
        identifier: name.to_string(),
        zone: zone.to_string(),
    };
    let target = relative
        .append_domain(&zone.to_lowercase())
        .map_err(|_| too_long())?;
    // hickory's append does not enforce the limit, so it is checked here.
    if wire_len(&target) > MAX_NAME_OCTETS {
        return Err(too_long());
    }
    Ok(Delegation {
        identifier: name,
        challenge,
        target,
    })
}

/// An absolute name's wire length: a length octet per label, the labels, the root octet.
fn wire_len(name: &Name) -> usize {
    name.iter().map(|label| label.len() + 1).sum::<usize>() + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zone() -> Name {
        Name::from_ascii("acme.example.net.").unwrap()
    }

    #[test]
    fn the_identifier_is_prefixed_to_the_zone() {
        let d = delegated_name("WWW.Example.com", &zone()).unwrap();
        assert_eq!(d.identifier.to_string(), "www.example.com.");
        assert_eq!(d.challenge.to_string(), "_acme-challenge.www.example.com.");
        assert_eq!(d.target.to_string(), "www.example.com.acme.example.net.");
        assert_eq!(
            d.cname_record(),
            "_acme-challenge.www.example.com. CNAME www.example.com.acme.example.net."
        );
        assert_eq!(d.to_string(), d.cname_record());
    }

    #[test]
    fn a_wildcard_shares_its_base_names_target() {
        let w = delegated_name("*.example.com.", &zone()).unwrap();
        let b = delegated_name("example.com", &zone()).unwrap();
        assert_eq!(w, b);
    }

    #[test]
    fn bad_and_overlong_names_are_errors() {
        assert!(delegated_name("", &zone()).is_err());
        assert!(delegated_name("a.*.example.com", &zone()).is_err());
        let label = "a".repeat(63);
        // 239 octets: its challenge name is exactly 255, but 17 octets of zone are too many.
        let long = format!("{label}.{label}.{label}.{}.example.com", "b".repeat(33));
        assert_eq!(wire_len(&Name::from_ascii(&long).unwrap()), 239);
        assert!(matches!(
            delegated_name(&format!("x{long}"), &zone()),
            Err(Dns01Error::InvalidName { .. })
        ));
        assert!(matches!(
            delegated_name(&long, &zone()),
            Err(Dns01Error::NameTooLong { .. })
        ));
    }
}
