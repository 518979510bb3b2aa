//! [`Dns01Zone`]: the delegated zone's fixed parts (apex, nameservers, TTL), set before the
//! server starts.

use std::net::IpAddr;

use hickory_proto::rr::Name;

use super::error::Dns01Error;

/// The TTL of every record served, and the negative-caching time: short, so that a value
/// published a moment after a resolver asked is seen at the CA's next try.
pub const DEFAULT_TTL: u32 = 10;

/// The zone certdx serves: `acme.example.net` in the acme-dns setup where the parent zone
/// says `acme.example.net. NS ns.acme.example.net.` (with glue) and users CNAME
/// `_acme-challenge.NAME` into it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dns01Zone {
    origin: Name,
    nameservers: Vec<(Name, Vec<IpAddr>)>,
    hostmaster: Name,
    ttl: u32,
}

impl Dns01Zone {
    /// A zone at `origin` (trailing dot optional) with the default TTL and no nameserver yet:
    /// without [`Dns01Zone::with_nameserver`], the server names itself `ns.<origin>` at the
    /// address it is bound to (unless that is a wildcard address).
    pub fn new(origin: &str) -> Result<Dns01Zone, Dns01Error> {
        let origin = parse_name(origin)?;
        if origin.is_root() {
            return Err(Dns01Error::InvalidName {
                name: ".".to_owned(),
                reason: "certdx will not serve the root zone".to_owned(),
            });
        }
        let hostmaster = in_zone("hostmaster", &origin)?;
        Ok(Dns01Zone {
            origin,
            nameservers: Vec::new(),
            hostmaster,
            ttl: DEFAULT_TTL,
        })
    }

    /// Adds a nameserver to the apex NS set. Its `addresses` are served as A/AAAA records when
    /// the name is inside the zone, so they must match the glue in the parent zone: resolvers
    /// ask the child for its nameservers' addresses too.
    pub fn with_nameserver(mut self, name: &str, addresses: &[IpAddr]) -> Result<Self, Dns01Error> {
        let name = parse_name(name)?;
        self.nameservers.push((name, addresses.to_vec()));
        Ok(self)
    }

    /// Serves every record, positive and negative, with `ttl` seconds (at least 1).
    pub fn with_ttl(mut self, ttl: u32) -> Self {
        self.ttl = ttl.max(1);
        self
    }

    /// The zone apex, lower case, fully qualified.
    pub fn origin(&self) -> &Name {
        &self.origin
    }

    /// The apex NS set with each nameserver's addresses.
    pub fn nameservers(&self) -> &[(Name, Vec<IpAddr>)] {
        &self.nameservers
    }

    /// The SOA RNAME (`hostmaster.<origin>`).
    pub fn hostmaster(&self) -> &Name {
        &self.hostmaster
    }

    /// The TTL of every record.
    pub fn ttl(&self) -> u32 {
        self.ttl
    }

    /// Fills in the default nameserver `ns.<origin>` when none was given; `bound` is the
    /// listener's address, published for it unless it is a wildcard address.
    pub(super) fn with_default_nameserver(mut self, bound: IpAddr) -> Result<Self, Dns01Error> {
        if self.nameservers.is_empty() {
            let ns = in_zone("ns", &self.origin)?;
            let addresses = if bound.is_unspecified() {
                Vec::new()
            } else {
                vec![bound]
            };
            self.nameservers.push((ns, addresses));
        }
        Ok(self)
    }

    /// Parses `name` as an absolute name inside the zone.
    pub(super) fn name_inside(&self, name: &str) -> Result<Name, Dns01Error> {
        let parsed = parse_name(name)?;
        if !self.origin.zone_of(&parsed) {
            return Err(Dns01Error::OutsideZone {
                name: parsed.to_string(),
                zone: self.origin.to_string(),
            });
        }
        Ok(parsed)
    }
}

/// `name` as an absolute, lower-case name (a missing trailing dot is implied).
pub(super) fn parse_name(name: &str) -> Result<Name, Dns01Error> {
    let invalid = |reason: String| Dns01Error::InvalidName {
        name: name.to_owned(),
        reason,
    };
    let trimmed = name.trim();
    if trimmed.is_empty() {
        return Err(invalid("empty".to_owned()));
    }
    let mut parsed = Name::from_ascii(trimmed).map_err(|e| invalid(e.to_string()))?;
    parsed.set_fqdn(true);
    Ok(parsed.to_lowercase())
}

fn in_zone(label: &str, origin: &Name) -> Result<Name, Dns01Error> {
    Name::from_ascii(label)
        .and_then(|l| l.append_domain(origin))
        .map_err(|e| Dns01Error::InvalidName {
            name: format!("{label}.{origin}"),
            reason: e.to_string(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_absolute_and_lower_case() {
        let z = Dns01Zone::new("ACME.Example.NET").unwrap();
        assert_eq!(z.origin().to_string(), "acme.example.net.");
        assert_eq!(z.hostmaster().to_string(), "hostmaster.acme.example.net.");
        assert!(z.name_inside("x.acme.example.net").is_ok());
        assert!(matches!(
            z.name_inside("acme.example.org."),
            Err(Dns01Error::OutsideZone { .. })
        ));
        assert!(Dns01Zone::new(".").is_err());
        assert!(Dns01Zone::new("").is_err());
    }

    #[test]
    fn the_default_nameserver_uses_a_specific_bound_address_only() {
        let z = Dns01Zone::new("acme.test").unwrap();
        let specific = z
            .clone()
            .with_default_nameserver("127.0.0.9".parse().unwrap())
            .unwrap();
        assert_eq!(specific.nameservers()[0].0.to_string(), "ns.acme.test.");
        assert_eq!(specific.nameservers()[0].1.len(), 1);
        let wildcard = z
            .with_default_nameserver("0.0.0.0".parse().unwrap())
            .unwrap();
        assert!(wildcard.nameservers()[0].1.is_empty());
    }
}
