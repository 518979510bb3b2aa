//! The demo's DNS data: three delegated zones, each with two nameservers, plus empty
//! stand-ins for the root and the TLDs so every climb to the top ends in a sane answer.
//!
//! What is planted here: `promo.example.com` carries a CAA set that only allows DigiCert
//! (the parent `example.com` allows Let's Encrypt, so only promo is hit), and the secondary
//! `ns2.example.net` is one serial behind the primary and lacks the DNS-01 TXT record.

use std::net::Ipv4Addr;

use hickory_proto::rr::rdata::{A, CAA, CNAME, NS, SOA, TXT};
use hickory_proto::rr::{Name, RData, Record};

use super::lab::DemoLabError;
use super::scenario::{
    self, API_GATEWAY, BLOG_INGRESS, INTERNAL_INGRESS, MARKETING_INGRESS, NS_COM, NS_NET, NS_ORG,
    SHOP_INGRESS, Scenario,
};

/// The TTL of every record: long enough to look real, irrelevant to a lab nobody caches.
const TTL: u32 = 300;
/// The SOA MINIMUM, the negative-caching TTL certdx reports.
const NEGATIVE_TTL: u32 = 60;

/// One zone as each of its servers holds it.
#[derive(Debug, Clone)]
pub struct Zone {
    /// The apex.
    pub origin: Name,
    /// The nameservers, by name and address; empty for the root and TLD stand-ins, which
    /// only the resolver knows.
    pub servers: Vec<(Name, Ipv4Addr)>,
    /// The zone's content on `servers[i]`; `views[0]` is the primary's, the one the resolver
    /// answers from.
    pub views: Vec<Vec<Record>>,
}

impl Zone {
    /// The content the resolver answers from.
    pub fn primary(&self) -> &[Record] {
        self.views.first().map_or(&[], Vec::as_slice)
    }
}

/// Every zone of the demo.
pub fn demo_zones(s: &Scenario) -> Result<Vec<Zone>, DemoLabError> {
    let mut zones = vec![stand_in(".")?, stand_in("com.")?, stand_in("org.")?];
    zones.push(stand_in("net.")?);
    zones.push(example_com()?);
    zones.push(example_org()?);
    zones.push(example_net(s)?);
    Ok(zones)
}

fn example_com() -> Result<Zone, DemoLabError> {
    let mut b = Builder::apex("example.com.", NS_COM, 2026011501)?;
    // The organisation-wide policy allows Let's Encrypt...
    b.caa_issue("@", "letsencrypt.org")?;
    b.a("shop", SHOP_INGRESS)?;
    b.a("www.shop", SHOP_INGRESS)?;
    b.a("promo", MARKETING_INGRESS)?;
    // ...but an agency left promo with its own set, which wins for promo (RFC 8659 climbs
    // only until the first non-empty set).
    b.caa_issue("promo", "digicert.com")?;
    b.cname("landing", "marketing-lb")?;
    b.a("marketing-lb", MARKETING_INGRESS)?;
    b.a("portal", INTERNAL_INGRESS)?;
    Ok(b.zone_same_everywhere())
}

fn example_org() -> Result<Zone, DemoLabError> {
    let mut b = Builder::apex("example.org.", NS_ORG, 2026010801)?;
    b.a("blog", BLOG_INGRESS)?;
    b.a("www", BLOG_INGRESS)?;
    Ok(b.zone_same_everywhere())
}

/// The primary has the challenge TXT; the secondary is one serial behind without it (its
/// zone transfer never happened), which is what cert-manager's self-check keeps waiting for.
fn example_net(s: &Scenario) -> Result<Zone, DemoLabError> {
    let build = |serial: u32, with_txt: bool| -> Result<Vec<Record>, DemoLabError> {
        let mut b = Builder::apex("example.net.", NS_NET, serial)?;
        b.a("api", API_GATEWAY)?;
        if with_txt {
            let owner = format!("_acme-challenge.{}.", scenario::DNS01_NAME);
            b.txt(&owner, &s.dns01_txt)?;
        }
        Ok(b.records)
    };
    let origin = name("example.net.")?;
    Ok(Zone {
        servers: nameservers(&origin, NS_NET)?,
        origin,
        views: vec![build(2026011502, true)?, build(2026011501, false)?],
    })
}

/// A zone only the resolver knows, with nothing but its SOA: names under it that no demo
/// zone holds are NXDOMAIN, with the SOA saying who said so.
fn stand_in(origin: &str) -> Result<Zone, DemoLabError> {
    let origin = name(origin)?;
    let mname = if origin.is_root() {
        name("a.root-servers.net.")?
    } else {
        name("a.gtld-servers.net.")?
    };
    let soa = SOA::new(
        mname,
        name("nstld.verisign-grs.com.")?,
        2026011500,
        1800,
        900,
        604800,
        86400,
    );
    Ok(Zone {
        views: vec![vec![Record::from_rdata(
            origin.clone(),
            86400,
            RData::SOA(soa),
        )]],
        origin,
        servers: Vec::new(),
    })
}

/// `ns1.<zone>` and `ns2.<zone>` at the given addresses.
fn nameservers(origin: &Name, ips: [Ipv4Addr; 2]) -> Result<Vec<(Name, Ipv4Addr)>, DemoLabError> {
    ["ns1", "ns2"]
        .iter()
        .zip(ips)
        .map(|(label, ip)| Ok((relative(origin, label)?, ip)))
        .collect()
}

/// Builds one zone's records from names relative to its apex.
struct Builder {
    origin: Name,
    records: Vec<Record>,
}

impl Builder {
    /// SOA, the two NS records and their glue (the NS names are in-zone).
    fn apex(origin: &str, ns: [Ipv4Addr; 2], serial: u32) -> Result<Builder, DemoLabError> {
        let origin = name(origin)?;
        let servers = nameservers(&origin, ns)?;
        let mut b = Builder {
            origin: origin.clone(),
            records: Vec::new(),
        };
        let soa = SOA::new(
            servers[0].0.clone(),
            relative(&origin, "hostmaster")?,
            serial,
            3600,
            600,
            1209600,
            NEGATIVE_TTL,
        );
        b.push("@", RData::SOA(soa))?;
        for (ns_name, _) in &servers {
            b.push("@", RData::NS(NS(ns_name.clone())))?;
        }
        for (ns_name, ip) in &servers {
            b.records
                .push(Record::from_rdata(ns_name.clone(), TTL, RData::A(A(*ip))));
        }
        Ok(b)
    }

    fn push(&mut self, owner: &str, data: RData) -> Result<(), DemoLabError> {
        let owner = relative(&self.origin, owner)?;
        self.records.push(Record::from_rdata(owner, TTL, data));
        Ok(())
    }

    fn a(&mut self, owner: &str, ip: Ipv4Addr) -> Result<(), DemoLabError> {
        self.push(owner, RData::A(A(ip)))
    }

    fn cname(&mut self, owner: &str, target: &str) -> Result<(), DemoLabError> {
        let target = relative(&self.origin, target)?;
        self.push(owner, RData::CNAME(CNAME(target)))
    }

    fn txt(&mut self, owner: &str, value: &str) -> Result<(), DemoLabError> {
        self.push(owner, RData::TXT(TXT::new(vec![value.to_owned()])))
    }

    fn caa_issue(&mut self, owner: &str, ca: &str) -> Result<(), DemoLabError> {
        let caa = CAA::new_issue(false, Some(name(ca)?), Vec::new());
        self.push(owner, RData::CAA(caa))
    }

    /// The zone with the same content on both of its servers.
    fn zone_same_everywhere(self) -> Zone {
        let soa_owner = self.origin.clone();
        let servers: Vec<(Name, Ipv4Addr)> = self
            .records
            .iter()
            .filter(|r| r.name == soa_owner)
            .filter_map(|r| match &r.data {
                RData::NS(ns) => Some(ns.0.clone()),
                _ => None,
            })
            .filter_map(|ns| {
                self.records.iter().find_map(|r| match &r.data {
                    RData::A(a) if r.name == ns => Some((ns.clone(), a.0)),
                    _ => None,
                })
            })
            .collect();
        Zone {
            views: vec![self.records.clone(); servers.len()],
            origin: self.origin,
            servers,
        }
    }
}

/// `@` is the apex, a name ending in a dot is absolute, anything else is under the apex.
fn relative(origin: &Name, owner: &str) -> Result<Name, DemoLabError> {
    if owner == "@" {
        return Ok(origin.clone());
    }
    if owner.ends_with('.') {
        return name(owner);
    }
    name(&format!("{owner}.{origin}"))
}

fn name(text: &str) -> Result<Name, DemoLabError> {
    Name::from_ascii(text)
        .map_err(|e| DemoLabError::Scenario(format!("{text:?} is not a DNS name: {e}")))
}

#[cfg(test)]
mod tests {
    use hickory_proto::rr::RecordType;

    use super::*;

    /// The records of `zone` owned by exactly `owner` and of type `rtype`.
    fn find<'a>(zone: &'a [Record], owner: &str, rtype: RecordType) -> Vec<&'a Record> {
        let owner = name(owner).unwrap();
        zone.iter()
            .filter(|r| r.name == owner && r.record_type() == rtype)
            .collect()
    }

    fn zones() -> Vec<Zone> {
        demo_zones(&Scenario::from_estate().unwrap()).unwrap()
    }

    #[test]
    fn every_real_zone_has_two_servers_with_glue() {
        for z in zones().iter().filter(|z| !z.servers.is_empty()) {
            assert_eq!(z.servers.len(), 2, "{}", z.origin);
            assert_eq!(z.views.len(), 2, "{}", z.origin);
            for (ns, ip) in &z.servers {
                let glue = find(z.primary(), &ns.to_string(), RecordType::A);
                assert_eq!(glue.len(), 1, "{ns}");
                assert_eq!(glue[0].data, RData::A(A(*ip)));
            }
        }
    }

    #[test]
    fn the_secondary_of_example_net_lags_without_the_txt() {
        let all = zones();
        let net = all
            .iter()
            .find(|z| z.origin == name("example.net.").unwrap())
            .unwrap();
        let owner = "_acme-challenge.api.example.net.";
        assert_eq!(find(&net.views[0], owner, RecordType::TXT).len(), 1);
        assert!(find(&net.views[1], owner, RecordType::TXT).is_empty());
        let serial = |v: &[Record]| {
            v.iter().find_map(|r| match &r.data {
                RData::SOA(soa) => Some(soa.serial),
                _ => None,
            })
        };
        assert!(serial(&net.views[1]) < serial(&net.views[0]));
    }
}
