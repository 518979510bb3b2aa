//! What the embedded server says to one question: the zone's records, or a negative answer
//! with the SOA, or REFUSED outside the zone.

use std::net::IpAddr;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::rdata::{A, AAAA, NS, SOA, TXT};
use hickory_proto::rr::{Name, RData, Record, RecordType};

use super::records::Records;
use super::zone::Dns01Zone;

/// SOA timers. Nothing transfers this zone (it lives in one process), so they only need to
/// be sane for tools that lint SOAs.
const REFRESH: i32 = 3600;
const RETRY: i32 = 600;
const EXPIRE: i32 = 86_400;

/// One response's content.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Answer {
    /// The response code.
    pub(super) rcode: ResponseCode,
    /// Whether the server speaks with authority (AA): every answer about the zone.
    pub(super) authoritative: bool,
    /// The answer section.
    pub(super) answers: Vec<Record>,
    /// The authority section: the SOA on negative answers (RFC 2308).
    pub(super) authorities: Vec<Record>,
    /// The additional section: nameserver addresses with an NS answer.
    pub(super) additionals: Vec<Record>,
}

impl Answer {
    pub(super) fn error(rcode: ResponseCode) -> Answer {
        Answer {
            rcode,
            authoritative: false,
            answers: Vec::new(),
            authorities: Vec::new(),
            additionals: Vec::new(),
        }
    }
}

/// The answer to `qname`/`qtype` from `zone` holding `records`.
pub(super) fn answer(
    zone: &Dns01Zone,
    records: &Records,
    qname: &Name,
    qtype: RecordType,
) -> Answer {
    let origin = zone.origin();
    if !origin.zone_of(qname) {
        return Answer::error(ResponseCode::Refused);
    }
    let ttl = zone.ttl();
    let soa = soa(zone, records.serial);
    let wants = |t: RecordType| qtype == t || qtype == RecordType::ANY;

    let mut answers = Vec::new();
    let mut additionals = Vec::new();
    if qname == origin {
        if wants(RecordType::SOA) {
            answers.push(soa.clone());
        }
        if wants(RecordType::NS) {
            for (ns, _) in zone.nameservers() {
                answers.push(Record::from_rdata(
                    origin.clone(),
                    ttl,
                    RData::NS(NS(ns.clone())),
                ));
            }
            // Glue-like addresses, so a resolver that asked for the NS set can use it at once.
            if qtype == RecordType::NS {
                for (ns, addrs) in zone.nameservers() {
                    additionals.extend(address_records(ns, addrs, ttl, RecordType::ANY));
                }
            }
        }
    }
    for (ns, addrs) in zone.nameservers() {
        if ns == qname && origin.zone_of(ns) {
            answers.extend(address_records(ns, addrs, ttl, qtype));
        }
    }
    if wants(RecordType::TXT)
        && let Some(values) = records.txt.get(qname)
    {
        // One RR per value: a resolver then returns the whole set and the CA finds its value
        // among them, as with any multi-valued TXT RRset.
        for value in values {
            answers.push(Record::from_rdata(
                qname.clone(),
                ttl,
                RData::TXT(TXT::new(vec![value.clone()])),
            ));
        }
    }

    if !answers.is_empty() {
        return Answer {
            rcode: ResponseCode::NoError,
            authoritative: true,
            answers,
            authorities: Vec::new(),
            additionals,
        };
    }
    // NODATA for a name that exists, including an empty non-terminal (a name with names below
    // it), as RFC 8020 requires: an NXDOMAIN there would tell a resolver that does QNAME
    // minimisation that the TXT below does not exist either.
    let exists = qname == origin
        || records.txt.keys().any(|owner| qname.zone_of(owner))
        || zone
            .nameservers()
            .iter()
            .any(|(ns, _)| origin.zone_of(ns) && qname.zone_of(ns));
    Answer {
        rcode: if exists {
            ResponseCode::NoError
        } else {
            ResponseCode::NXDomain
        },
        authoritative: true,
        answers: Vec::new(),
        authorities: vec![soa],
        additionals: Vec::new(),
    }
}

/// The zone's SOA at `serial`; its TTL and MINIMUM are the zone TTL, so negative answers are
/// cached no longer than positive ones.
fn soa(zone: &Dns01Zone, serial: u32) -> Record {
    let mname = zone
        .nameservers()
        .first()
        .map(|(ns, _)| ns.clone())
        .unwrap_or_else(|| zone.origin().clone());
    Record::from_rdata(
        zone.origin().clone(),
        zone.ttl(),
        RData::SOA(SOA::new(
            mname,
            zone.hostmaster().clone(),
            serial,
            REFRESH,
            RETRY,
            EXPIRE,
            zone.ttl(),
        )),
    )
}

/// `name`'s A and AAAA records among `addrs`, filtered by `qtype` (ANY: both).
fn address_records(name: &Name, addrs: &[IpAddr], ttl: u32, qtype: RecordType) -> Vec<Record> {
    addrs
        .iter()
        .filter_map(|addr| match addr {
            IpAddr::V4(v4) if matches!(qtype, RecordType::A | RecordType::ANY) => {
                Some(RData::A(A(*v4)))
            }
            IpAddr::V6(v6) if matches!(qtype, RecordType::AAAA | RecordType::ANY) => {
                Some(RData::AAAA(AAAA(*v6)))
            }
            _ => None,
        })
        .map(|rdata| Record::from_rdata(name.clone(), ttl, rdata))
        .collect()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn zone() -> Dns01Zone {
        Dns01Zone::new("acme.test")
            .unwrap()
            .with_default_nameserver("192.0.2.53".parse().unwrap())
            .unwrap()
    }

    fn records(txt: &[(&str, &str)]) -> Records {
        let mut map: BTreeMap<Name, Vec<String>> = BTreeMap::new();
        for (name, value) in txt {
            map.entry(Name::from_ascii(name).unwrap())
                .or_default()
                .push((*value).to_owned());
        }
        Records {
            txt: map,
            serial: 7,
        }
    }

    fn ask(r: &Records, name: &str, t: RecordType) -> Answer {
        answer(&zone(), r, &Name::from_ascii(name).unwrap(), t)
    }

    #[test]
    fn apex_nameserver_and_txt_answers() {
        let r = records(&[("www.example.com.acme.test.", "v1")]);
        let soa = ask(&r, "acme.test.", RecordType::SOA);
        assert_eq!(soa.rcode, ResponseCode::NoError);
        assert!(soa.authoritative);
        match &soa.answers[0].data {
            RData::SOA(s) => {
                assert_eq!(s.serial, 7);
                assert_eq!(s.mname.to_string(), "ns.acme.test.");
            }
            other => panic!("{other:?}"),
        }
        let ns = ask(&r, "acme.test.", RecordType::NS);
        assert_eq!(ns.answers.len(), 1);
        assert_eq!(ns.additionals.len(), 1);
        let a = ask(&r, "ns.acme.test.", RecordType::A);
        assert_eq!(a.answers.len(), 1);
        let txt = ask(&r, "WWW.example.com.acme.test.", RecordType::TXT);
        assert_eq!(txt.answers.len(), 1);
        assert_eq!(txt.answers[0].ttl, 10);
    }

    #[test]
    fn negative_answers_carry_the_soa_and_empty_non_terminals_are_nodata() {
        let r = records(&[("_x.www.example.com.acme.test.", "v1")]);
        let nodata = ask(&r, "_x.www.example.com.acme.test.", RecordType::A);
        assert_eq!(nodata.rcode, ResponseCode::NoError);
        assert!(nodata.answers.is_empty());
        assert_eq!(nodata.authorities[0].record_type(), RecordType::SOA);
        let ent = ask(&r, "example.com.acme.test.", RecordType::TXT);
        assert_eq!(ent.rcode, ResponseCode::NoError);
        let nx = ask(&r, "nothing.acme.test.", RecordType::TXT);
        assert_eq!(nx.rcode, ResponseCode::NXDomain);
        assert!(nx.authoritative);
        assert_eq!(nx.authorities.len(), 1);
        let apex_a = ask(&r, "acme.test.", RecordType::A);
        assert_eq!(apex_a.rcode, ResponseCode::NoError);
        assert!(apex_a.answers.is_empty());
    }

    #[test]
    fn outside_the_zone_is_refused() {
        let r = records(&[]);
        for name in ["example.com.", "test.", ".", "xacme.test."] {
            let a = ask(&r, name, RecordType::SOA);
            assert_eq!(a.rcode, ResponseCode::Refused, "{name}");
            assert!(!a.authoritative);
        }
    }
}
